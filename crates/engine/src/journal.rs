//! The engine's writer of the desk log: lines go to a task of their own, in
//! order, so an order or a fill never waits for its log line. `flush` waits
//! until every line sent so far is in the database.

use tokio::sync::{mpsc, oneshot};

use xcoin_db::Db;
use xcoin_model::event::{EventKind, EventLevel};

enum Msg {
    Line(EventLevel, EventKind, String),
    Flush(oneshot::Sender<()>),
}

/// The sending side; the writer task ends when it is dropped, after writing
/// what it was sent.
pub struct Journal {
    tx: mpsc::UnboundedSender<Msg>,
}

impl Journal {
    pub fn start(db: Db) -> Journal {
        let (tx, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(msg) = rx.recv().await {
                match msg {
                    Msg::Line(level, kind, message) => {
                        if let Err(e) = db.record_event(level, kind, &message).await {
                            tracing::warn!(error = %e, %message, "desk log line not written");
                        }
                    }
                    Msg::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        Journal { tx }
    }

    pub fn write(&self, level: EventLevel, kind: EventKind, message: String) {
        if self.tx.send(Msg::Line(level, kind, message)).is_err() {
            tracing::warn!("the desk log writer has stopped");
        }
    }

    /// Waits until every line sent before is written (or failed).
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}
