//! The managed local PostgreSQL: with no `database.url`, XCoin runs its own
//! cluster in `<data dir>/postgres`, listening only on a Unix socket in that
//! directory (no TCP port), with the single role `xcoin` trusted over the
//! socket. `initdb` and `pg_ctl` come from `PATH` or the newest
//! `/usr/lib/postgresql/<version>/bin`. Started on demand, reused across runs,
//! stopped by `xcoin db stop`.
//!
//! PostgreSQL refuses to run as root, so as root the cluster belongs to the
//! `postgres` system user and every server command runs as that user (via
//! `runuser`). The data directory must then be reachable by `postgres`; the
//! default for root is `/var/lib/xcoin`.

use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::postgres::PgConnectOptions;

/// The role and database of a managed cluster.
pub const ROLE: &str = "xcoin";
pub const DATABASE: &str = "xcoin";
/// The socket's port number (only names the socket file: no TCP listener).
pub const PORT: u16 = 5432;

/// Why the managed cluster could not be used, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum LocalDbError {
    #[error(
        "PostgreSQL server programs (initdb, pg_ctl) were not found in PATH or /usr/lib/postgresql/*/bin.\nInstall them with:\n    {install}\nor set database.url (DATABASE_URL) to a server you already have."
    )]
    MissingBinaries { install: String },
    #[error(
        "running as root, the database must run as the `postgres` system user, which does not exist.\nCreate it with:\n    useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres\nor run XCoin as an ordinary user."
    )]
    NoPostgresUser,
    #[error("the `postgres` user cannot reach {dir}, where the database would live.\nChoose a data directory it can reach, e.g. set XCOIN_APP__DATA_DIR=/var/lib/xcoin, or run XCoin as an ordinary user.", dir = .dir.display())]
    Unreachable { dir: PathBuf },
    #[error("`{command}` failed: {output}")]
    Command { command: String, output: String },
    #[error("cannot prepare {path}: {source}", path = .path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// Where the server programs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    pub initdb: PathBuf,
    pub pg_ctl: PathBuf,
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| Path::new(dir).join(name)).find(|p| p.is_file())
}

/// Finds `initdb` and `pg_ctl`: on `PATH`, else in the newest
/// `/usr/lib/postgresql/<version>/bin`.
pub fn find_binaries() -> Result<Binaries, LocalDbError> {
    if let (Some(initdb), Some(pg_ctl)) = (on_path("initdb"), on_path("pg_ctl")) {
        return Ok(Binaries { initdb, pg_ctl });
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.split('.').next()?.parse().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok(Binaries { initdb: bin.join("initdb"), pg_ctl: bin.join("pg_ctl") }),
        None => Err(LocalDbError::MissingBinaries { install: install_command() }),
    }
}

/// The one command that installs the server on this system.
pub fn install_command() -> String {
    let has = |p: &str| Path::new(p).exists();
    let sudo = if xcoin_config::running_as_root() { "" } else { "sudo " };
    if has("/etc/debian_version") {
        format!("{sudo}apt-get install -y postgresql")
    } else if has("/etc/fedora-release") || has("/etc/redhat-release") {
        format!("{sudo}dnf install -y postgresql-server")
    } else if has("/etc/arch-release") {
        format!("{sudo}pacman -S --noconfirm postgresql")
    } else if has("/etc/alpine-release") {
        format!("{sudo}apk add postgresql")
    } else if cfg!(target_os = "macos") {
        "brew install postgresql@16".into()
    } else {
        "install PostgreSQL 13 or newer with your system's package manager".into()
    }
}

/// The state of the managed cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalStatus {
    /// No cluster has been created in this directory yet.
    NotInitialised,
    Stopped,
    Running {
        pid: Option<u32>,
    },
}

/// A managed cluster in one directory.
#[derive(Debug, Clone)]
pub struct LocalDb {
    pub dir: PathBuf,
    binaries: Binaries,
    as_postgres: bool,
}

impl LocalDb {
    /// The cluster of a data directory (`<data_dir>/postgres`).
    pub fn for_data_dir(data_dir: &Path) -> Result<LocalDb, LocalDbError> {
        Self::at(data_dir.join("postgres"))
    }

    /// A cluster in exactly `dir`.
    pub fn at(dir: PathBuf) -> Result<LocalDb, LocalDbError> {
        let binaries = find_binaries()?;
        let dir = if dir.is_absolute() { dir } else { std::env::current_dir().unwrap_or_default().join(dir) };
        Ok(LocalDb { dir, binaries, as_postgres: xcoin_config::running_as_root() })
    }

    /// Connect options for the cluster's socket.
    pub fn connect_options(&self) -> PgConnectOptions {
        PgConnectOptions::new().socket(&self.dir).port(PORT).username(ROLE).database(DATABASE).application_name("xcoin")
    }

    /// The URL form of [`connect_options`](Self::connect_options), for display.
    pub fn url(&self) -> String {
        format!("postgres:///{DATABASE}?host={}&user={ROLE}", self.dir.display())
    }

    fn run(&self, program: &Path, args: &[&str]) -> Result<String, LocalDbError> {
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        cmd.args(args).env("LC_ALL", "C").env_remove("PGDATA");
        let shown = format!("{} {}", program.display(), args.join(" "));
        let out = cmd.output().map_err(|e| LocalDbError::Command { command: shown.clone(), output: e.to_string() })?;
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        if out.status.success() {
            Ok(text)
        } else {
            Err(LocalDbError::Command { command: shown, output: text.trim().to_string() })
        }
    }

    pub fn status(&self) -> LocalStatus {
        if !self.dir.join("PG_VERSION").is_file() {
            return LocalStatus::NotInitialised;
        }
        let dir = self.dir.to_string_lossy().to_string();
        match self.run(&self.binaries.pg_ctl, &["status", "-D", &dir]) {
            Ok(text) => {
                let pid = text
                    .split("PID: ")
                    .nth(1)
                    .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next().and_then(|d| d.parse().ok()));
                LocalStatus::Running { pid }
            }
            Err(_) => LocalStatus::Stopped,
        }
    }

    fn prepare_dir(&self) -> Result<(), LocalDbError> {
        let io = |e| LocalDbError::Io { path: self.dir.clone(), source: e };
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        if self.as_postgres {
            let ok = Command::new("id").arg("postgres").output().is_ok_and(|o| o.status.success());
            if !ok {
                return Err(LocalDbError::NoPostgresUser);
            }
            let out = Command::new("chown").args(["-R", "postgres:postgres"]).arg(&self.dir).output().map_err(io)?;
            if !out.status.success() {
                return Err(LocalDbError::Command {
                    command: format!("chown -R postgres:postgres {}", self.dir.display()),
                    output: String::from_utf8_lossy(&out.stderr).trim().to_string(),
                });
            }
            let reachable = Command::new("runuser")
                .args(["-u", "postgres", "--", "test", "-w"])
                .arg(&self.dir)
                .status()
                .is_ok_and(|s| s.success());
            if !reachable {
                return Err(LocalDbError::Unreachable { dir: self.dir.clone() });
            }
        }
        Ok(())
    }

    /// Creates the cluster if missing and starts it if stopped. Returns what it did.
    pub fn ensure_running(&self) -> Result<Vec<String>, LocalDbError> {
        let mut done = Vec::new();
        let dir = self.dir.to_string_lossy().to_string();
        if self.status() == LocalStatus::NotInitialised {
            self.prepare_dir()?;
            self.run(
                &self.binaries.initdb,
                &[
                    "-D",
                    &dir,
                    "-U",
                    ROLE,
                    "--auth-local=trust",
                    "--auth-host=reject",
                    "-E",
                    "UTF8",
                    "--no-instructions",
                ],
            )?;
            let conf = format!(
                "\n# Managed by XCoin: Unix socket in this directory only, no TCP.\nlisten_addresses = ''\nunix_socket_directories = '{dir}'\nport = {PORT}\nmax_connections = 100\nfsync = on\n"
            );
            let path = self.dir.join("postgresql.auto.conf");
            let mut text = std::fs::read_to_string(&path).unwrap_or_default();
            text.push_str(&conf);
            std::fs::write(&path, text).map_err(|e| LocalDbError::Io { path: path.clone(), source: e })?;
            done.push(format!("created a PostgreSQL cluster in {dir}"));
        }
        if !matches!(self.status(), LocalStatus::Running { .. }) {
            let log = self.dir.join("server.log").to_string_lossy().to_string();
            self.run(&self.binaries.pg_ctl, &["start", "-D", &dir, "-l", &log, "-w", "-t", "60"])?;
            done.push(format!("started PostgreSQL (socket in {dir}, log {log})"));
        }
        Ok(done)
    }

    /// Stops the server (fast shutdown: open transactions roll back).
    pub fn stop(&self) -> Result<bool, LocalDbError> {
        if !matches!(self.status(), LocalStatus::Running { .. }) {
            return Ok(false);
        }
        let dir = self.dir.to_string_lossy().to_string();
        self.run(&self.binaries.pg_ctl, &["stop", "-D", &dir, "-m", "fast", "-w", "-t", "60"])?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_install_command_fits_the_system() {
        let cmd = install_command();
        if Path::new("/etc/debian_version").exists() {
            let sudo = if xcoin_config::running_as_root() { "" } else { "sudo " };
            assert_eq!(cmd, format!("{sudo}apt-get install -y postgresql"));
        }
        let err = LocalDbError::MissingBinaries { install: cmd.clone() };
        assert!(err.to_string().contains(&format!("Install them with:\n    {cmd}\n")), "{err}");
    }

    #[test]
    fn binaries_are_found_on_this_machine() {
        // The machines XCoin runs its tests on carry PostgreSQL's server programs.
        let b = find_binaries().unwrap();
        assert!(b.initdb.ends_with("initdb") && b.pg_ctl.ends_with("pg_ctl"));
    }
}
