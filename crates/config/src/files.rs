//! The files XCoin writes are its user's alone: directories 0700 and files
//! 0600, made so when created and tightened when they already exist (an
//! older XCoin, or a umask, left them readable). The log and the paper
//! exchange's book show the whole trading day.

use std::fs::{File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of every directory XCoin keeps.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file XCoin writes.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) and makes `dir` itself 0700. Parents
/// are left as they are: they are not XCoin's (`~/.local/share`, `/var/lib`).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))
}

/// As [`private_dir`], except that members of group `gid` may pass through
/// `dir` (0710, that group): they can reach a path inside it they know, but
/// not list or read anything. For the managed PostgreSQL, which runs as the
/// `postgres` user when XCoin runs as root and must reach its cluster in the
/// data directory.
pub fn private_dir_passable_by(dir: &Path, gid: u32) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::os::unix::fs::chown(dir, None, Some(gid))?;
    std::fs::set_permissions(dir, Permissions::from_mode(0o710))
}

/// Opens `path` for appending: created 0600, and an existing file is made
/// 0600 as well.
pub fn append_private(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new().create(true).append(true).mode(FILE_MODE).open(path)?;
    file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Replaces `path` with `bytes`: written to a 0600 file beside it that is then
/// renamed over it, so a reader sees the old content or the new, and the
/// content is never readable by others on the way.
pub fn replace_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).mode(FILE_MODE).open(&tmp)?;
        // A leftover from a crash keeps its old mode through `open`: set it.
        f.set_permissions(Permissions::from_mode(FILE_MODE))?;
        f.write_all(bytes)?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// The primary group of user `user`, when such a user exists.
pub fn primary_group(user: &str) -> Option<u32> {
    let out = std::process::Command::new("id").args(["-g", user]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_and_existing_files_and_directories_end_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let fresh = root.path().join("a/b");
        private_dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);

        let log = dir.join("xcoin.log");
        std::fs::write(&log, "earlier\n").unwrap();
        std::fs::set_permissions(&log, Permissions::from_mode(0o644)).unwrap();
        append_private(&log).unwrap().write_all(b"later\n").unwrap();
        assert_eq!((mode(&log), std::fs::read_to_string(&log).unwrap().as_str()), (0o600, "earlier\nlater\n"));
        let new_log = dir.join("new.log");
        append_private(&new_log).unwrap();
        assert_eq!(mode(&new_log), 0o600);

        let book = dir.join("book.json");
        std::fs::write(&book, "old").unwrap();
        std::fs::set_permissions(&book, Permissions::from_mode(0o644)).unwrap();
        replace_private(&book, b"new").unwrap();
        assert_eq!((mode(&book), std::fs::read_to_string(&book).unwrap().as_str()), (0o600, "new"));
        let names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    }

    #[test]
    fn a_passable_directory_lets_its_group_through_and_no_further() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("data");
        // Our own primary group: chown to it needs no privilege.
        let gid = std::fs::metadata(root.path()).unwrap().gid();
        private_dir_passable_by(&dir, gid).unwrap();
        let meta = std::fs::metadata(&dir).unwrap();
        assert_eq!((meta.permissions().mode() & 0o777, meta.gid()), (0o710, gid));
        assert_eq!(primary_group("no-such-user-xcoin"), None);
        assert_eq!(primary_group("root"), Some(0));
    }
}
