//! Stop signals. SIGTERM (a service manager), SIGINT (Ctrl-C in a shell) and
//! SIGHUP (the terminal went away) all mean one thing: stop cleanly. The
//! headless engine stops taking commands, finishes the one it is running,
//! releases its lock and exits 0; the console restores the terminal first.

use tokio::signal::unix::{Signal, SignalKind, signal};

/// The three stop signals, registered once (so none is lost between polls).
pub struct StopSignals {
    term: Signal,
    int: Signal,
    hup: Signal,
}

impl StopSignals {
    pub fn new() -> std::io::Result<StopSignals> {
        Ok(StopSignals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    /// Waits for the next stop signal and names it.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
            _ = self.hup.recv() => "SIGHUP",
        }
    }
}
