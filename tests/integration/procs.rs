//! The real `xcoin` binary as a process: run to completion, spawned in the
//! background, or in a terminal (tmux) driven by keys.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static SOCKETS: AtomicU32 = AtomicU32::new(0);

/// `xcoin` in `dir` (outside any checkout) with only the given environment.
/// The run's clock shift (`XCOIN_CLOCK_SHIFT_MS` of the test process), if set.
fn run_clock() -> Option<String> {
    std::env::var(xcoin::domain::clock::SHIFT_VAR).ok()
}

fn command(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xcoin"));
    cmd.args(args).current_dir(dir).env_clear().env("PATH", std::env::var("PATH").unwrap()).env("NO_COLOR", "1");
    cmd.env("HOME", dir).env("XCOIN_APP__DATA_DIR", dir.join("data"));
    // The run's clock reaches every binary (a test pinned to a day of its own
    // passes its own shift in `env`, which comes after).
    if let Some(shift) = run_clock() {
        cmd.env(xcoin::domain::clock::SHIFT_VAR, shift);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs `xcoin` to completion.
pub fn xcoin(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(dir, args, env).output().expect("xcoin runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// Starts `xcoin` in the background with its output captured.
pub fn spawn_xcoin(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    command(dir, args, env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("xcoin starts")
}

/// Starts `xcoin` in the background with its output appended to `log`
/// (a long run would fill a pipe nobody reads).
pub fn spawn_xcoin_logged(dir: &Path, args: &[&str], env: &[(&str, &str)], log: &Path) -> std::process::Child {
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("the log file opens");
    command(dir, args, env).stdout(out.try_clone().unwrap()).stderr(out).spawn().expect("xcoin starts")
}

/// The real console, run by a shell (see [`Tmux::start_in_shell`]), on the
/// database at `url` with its data in `data`, the demo trading fast, as
/// operator `asha`; returns once its engine runs.
pub fn demo_console(dir: &Path, url: &str, data: &Path) -> Tmux {
    let env = [
        ("DATABASE_URL", url),
        ("XCOIN_APP__DATA_DIR", data.to_str().unwrap()),
        ("XCOIN_APP__OPERATOR", "asha"),
        ("XCOIN_APP__DEMO", "true"),
        ("XCOIN_PAPER__TICK_INTERVAL_MS", "50"),
        ("HOME", dir.to_str().unwrap()),
    ];
    let tmux = Tmux::start_in_shell(dir, &env);
    tmux.wait_for("engine: in this console");
    tmux
}

/// A temporary directory the managed server (user `postgres`) can reach.
pub fn public_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // The managed server runs as `postgres` when tests run as root: it must reach the directory.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

pub struct Tmux {
    socket: String,
    session: &'static str,
}

impl Tmux {
    pub fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Tmux {
        Tmux::start_with(dir, env, false, &[])
    }

    /// As [`start`](Self::start), with arguments for `xcoin`.
    pub fn start_with_args(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Tmux {
        Tmux::start_with(dir, env, false, args)
    }

    /// As [`start`](Self::start), with `xcoin` run by a shell that, after it
    /// exits, prints its exit code and the terminal's modes (`stty -a`) and
    /// stays, so a test can see how the terminal was left.
    pub fn start_in_shell(dir: &Path, env: &[(&str, &str)]) -> Tmux {
        Tmux::start_with(dir, env, true, &[])
    }

    /// The pid of the `xcoin` process the pane runs.
    pub fn xcoin_pid(&self) -> u32 {
        let pane = self.tmux().args(["display-message", "-p", "-t", self.session, "#{pane_pid}"]).output().unwrap();
        let pane = String::from_utf8_lossy(&pane.stdout).trim().to_string();
        // The pane's child (when a shell runs xcoin), else the pane itself.
        let child = std::fs::read_dir("/proc").unwrap().flatten().find_map(|entry| {
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // pid (comm) state ppid ...: the comm may hold spaces, so split after ')'.
            let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?;
            (ppid == pane).then(|| entry.file_name().to_string_lossy().to_string())
        });
        child.unwrap_or(pane).parse().expect("a pid")
    }

    fn start_with(dir: &Path, env: &[(&str, &str)], shell: bool, args: &[&str]) -> Tmux {
        let t = Tmux {
            socket: format!("xcoin-test-{}-{}", std::process::id(), SOCKETS.fetch_add(1, Ordering::SeqCst)),
            session: "desk",
        };
        let mut cmd = vec![
            "env".to_string(),
            "-i".into(),
            format!("PATH={}", std::env::var("PATH").unwrap()),
            "TERM=xterm-256color".into(),
        ];
        cmd.extend(run_clock().map(|shift| format!("{}={shift}", xcoin::domain::clock::SHIFT_VAR)));
        cmd.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
        if shell {
            cmd.extend([
                "sh".into(),
                "-c".into(),
                r#""$0"; echo "exit=$?"; stty -a; echo "stty-done"; sleep 600"#.into(),
            ]);
        }
        cmd.push(env!("CARGO_BIN_EXE_xcoin").into());
        cmd.extend(args.iter().map(|a| a.to_string()));
        let status = t
            .tmux()
            .args(["new-session", "-d", "-s", t.session, "-x", "160", "-y", "48", "-c"])
            .arg(dir)
            .args(cmd)
            .status()
            .expect("tmux is installed (.ci/run installs it)");
        assert!(status.success());
        t
    }

    pub fn screen(&self) -> String {
        let out = self.tmux().args(["capture-pane", "-p", "-t", self.session]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    pub fn keys(&self, keys: &[&str]) {
        assert!(self.tmux().args(["send-keys", "-t", self.session]).args(keys).status().unwrap().success());
    }

    /// Waits for `text` on screen (polling the pane), 20 s at most.
    pub fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(Instant::now() < deadline, "`{text}` did not appear; the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `text` is no longer on screen, 20 s at most.
    pub fn wait_gone(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.screen().contains(text) {
            assert!(Instant::now() < deadline, "`{text}` stayed; the screen:\n{}", self.screen());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn running(&self) -> bool {
        self.tmux().args(["has-session", "-t", self.session]).output().is_ok_and(|o| o.status.success())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").output();
    }
}

/// A child process killed (and reaped) when dropped, so a failing test
/// leaves no engine running behind it.
pub struct Reaped(pub std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
