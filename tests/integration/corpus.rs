//! Bad input: a corpus of invalid configuration files, one failure each, with
//! the exact error expected in the file's first line (`# expect: …`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use xcoin::config::{Config, ConfigPaths};

#[test]
fn every_invalid_configuration_gives_its_exact_named_error() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/config");
    let mut files: Vec<_> = std::fs::read_dir(&corpus).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 12, "the corpus has {} files", files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let expect =
            text.lines().next().and_then(|l| l.strip_prefix("# expect: ")).expect("a first line `# expect: …`");
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("local.toml");
        std::fs::write(&local, &text).unwrap();
        // Private as the wizard writes it, except the case about exactly that.
        let readable = file.file_name().unwrap().to_string_lossy().contains("readable_by_others");
        std::fs::set_permissions(&local, std::fs::Permissions::from_mode(if readable { 0o644 } else { 0o600 }))
            .unwrap();
        let before: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
        let paths = ConfigPaths::for_checkout(None, Some(local.clone()), dir.path());
        let err = Config::load_with_env(paths, []).expect_err(&file.display().to_string()).to_string();
        let err = err.replace(&format!("{}/", dir.path().display()), "");
        assert!(err.contains(expect), "{}:\n  got:      {err}\n  expected: {expect}", file.display());
        let after: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(before, after, "{}: nothing is written", file.display());
    }
}

#[test]
fn an_unreadable_configuration_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be: unreadable whoever runs the test.
    let local = dir.path().join("local.toml");
    std::fs::create_dir(&local).unwrap();
    std::fs::set_permissions(&local, std::fs::Permissions::from_mode(0o700)).unwrap();
    let paths = ConfigPaths::for_checkout(None, Some(local.clone()), dir.path());
    let err = Config::load_with_env(paths, []).unwrap_err().to_string();
    assert_eq!(err, format!("cannot read {}: Is a directory (os error 21)", local.display()));
}
