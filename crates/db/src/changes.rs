//! The change feed: LISTEN on `xcoin_changes` (and `xcoin_commands` for the
//! engine), yielding typed change events.
//!
//! Notifications carry keys only (`{"table","op","id"}`); consumers refetch
//! the rows. PostgreSQL drops notifications sent while a listener is
//! disconnected, so after any reconnect the feed yields [`ChangeEvent::Resync`]
//! once it is listening again: the consumer must reload everything. The
//! listener is re-created from the pool's options, retrying with backoff
//! while the database is down.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;

use super::Result;

/// The channel every trading table notifies.
pub const CHANGES_CHANNEL: &str = "xcoin_changes";
/// The channel the engine listens on for new operator commands.
pub const COMMANDS_CHANNEL: &str = "xcoin_commands";

/// The tables the feed reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    Strategies,
    Orders,
    Trades,
    Positions,
    ReconciliationLog,
    KillSwitchEvents,
    DailyStats,
    OperatorCommands,
    /// Changes of a position without a trade (it changes `positions` too).
    PositionAdjustments,
    /// The desk log (insert only).
    DeskEvents,
    /// Daily goals reached (insert only).
    GoalEvents,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Op {
    Insert,
    Update,
    Delete,
}

/// One changed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
pub struct Change {
    pub table: Table,
    pub op: Op,
    pub id: i64,
}

/// What the feed yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeEvent {
    Change(Change),
    /// The listener reconnected; notifications may have been lost. Reload.
    Resync,
}

/// Parses a notification payload; `None` (and a warning) for anything else.
pub fn parse_payload(payload: &str) -> Option<Change> {
    match serde_json::from_str(payload) {
        Ok(change) => Some(change),
        Err(e) => {
            tracing::warn!(payload, error = %e, "skipping malformed change notification");
            None
        }
    }
}

/// A feed running in its own task ([`ChangeFeed::spawn`]); stops with it.
pub struct ChangeStream {
    rx: tokio::sync::mpsc::Receiver<ChangeEvent>,
    task: tokio::task::JoinHandle<()>,
}

impl ChangeStream {
    /// The next event; cancel-safe (nothing is lost if the wait is dropped).
    pub async fn recv(&mut self) -> Option<ChangeEvent> {
        self.rx.recv().await
    }

    /// An event already waiting, if any (for batching).
    pub fn try_recv(&mut self) -> Option<ChangeEvent> {
        self.rx.try_recv().ok()
    }
}

impl Drop for ChangeStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A LISTEN connection that survives reconnects.
pub struct ChangeFeed {
    pool: PgPool,
    channels: Vec<&'static str>,
    listener: Option<PgListener>,
    /// Emit Resync before the next change (set after a reconnect).
    resync_pending: bool,
}

const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl ChangeFeed {
    /// Starts listening. The first event is not a Resync: the caller loads its
    /// snapshot after this returns, so nothing committed afterwards is missed.
    pub async fn listen(db: &super::Db, channels: &[&'static str]) -> Result<ChangeFeed> {
        let pool = &db.pool;
        let listener = Self::connect(pool, channels).await?;
        Ok(ChangeFeed {
            pool: pool.clone(),
            channels: channels.to_vec(),
            listener: Some(listener),
            resync_pending: false,
        })
    }

    /// Listens on `xcoin_changes`.
    pub async fn changes(db: &super::Db) -> Result<ChangeFeed> {
        Self::listen(db, &[CHANGES_CHANNEL]).await
    }

    async fn connect(pool: &PgPool, channels: &[&'static str]) -> Result<PgListener> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen_all(channels.iter().copied()).await?;
        Ok(listener)
    }

    /// The server process id of the listening connection (tests kill it to
    /// prove recovery).
    pub async fn backend_pid(&mut self) -> Result<i32> {
        let listener = self.listener.as_mut().expect("listener is connected between events");
        Ok(sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(listener).await?)
    }

    /// Waits for the next event. Never returns an error: while the database is
    /// unreachable it retries with backoff, then yields `Resync`.
    pub async fn next(&mut self) -> ChangeEvent {
        loop {
            if self.resync_pending {
                self.resync_pending = false;
                return ChangeEvent::Resync;
            }
            let Some(listener) = self.listener.as_mut() else {
                self.reconnect().await;
                continue;
            };
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    if let Some(change) = parse_payload(notification.payload()) {
                        return ChangeEvent::Change(change);
                    }
                }
                Ok(None) => {
                    tracing::warn!("change feed connection lost; reconnecting");
                    self.listener = None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "change feed error; reconnecting");
                    self.listener = None;
                }
            }
        }
    }

    /// Moves the feed into a task of its own and hands its events over a
    /// channel. [`next`](Self::next) must not be abandoned midway (a select
    /// that drops it can lose a notification); [`ChangeStream::recv`] can,
    /// so this is how the engine and the console consume the feed.
    pub fn spawn(mut self) -> ChangeStream {
        let (tx, rx) = tokio::sync::mpsc::channel(4096);
        let task = tokio::spawn(async move {
            loop {
                let event = self.next().await;
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        });
        ChangeStream { rx, task }
    }

    /// Like [`next`](Self::next) but gives up after `timeout` with `None`.
    pub async fn next_timeout(&mut self, timeout: Duration) -> Option<ChangeEvent> {
        tokio::time::timeout(timeout, self.next()).await.ok()
    }

    async fn reconnect(&mut self) {
        let mut backoff = xcoin_model::backoff::Backoff::new(Duration::from_millis(50), MAX_BACKOFF);
        loop {
            match Self::connect(&self.pool, &self.channels).await {
                Ok(listener) => {
                    tracing::info!("change feed listening again; consumers resync");
                    self.listener = Some(listener);
                    self.resync_pending = true;
                    return;
                }
                Err(e) => {
                    let pause = backoff.next_pause();
                    tracing::warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "change feed reconnect failed");
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse_and_garbage_is_skipped() {
        assert_eq!(
            parse_payload(r#"{"table":"reconciliation_log","op":"DELETE","id":42}"#),
            Some(Change { table: Table::ReconciliationLog, op: Op::Delete, id: 42 })
        );
        assert_eq!(parse_payload("not json"), None);
        assert_eq!(parse_payload(r#"{"table":"users","op":"INSERT","id":1}"#), None);
        assert_eq!(parse_payload(r#"{"table":"orders","op":"INSERT"}"#), None);
    }
}
