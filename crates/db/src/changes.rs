//! The change feed: LISTEN on `xcoin_changes` (and `xcoin_commands` for the
//! engine), yielding typed change events.
//!
//! Notifications carry keys (`{"table","op","id"}`); an order's also carries
//! the order as committed (`"row"`, migration 0029), which [`Change::order`]
//! hands over decoded, so a consumer applies it without reading it back. For
//! every other table, and an order whose notification could not carry it,
//! consumers refetch the rows. Notifications arrive in commit order, so the
//! newest one of an order carries what the table holds. PostgreSQL drops notifications sent while a listener is
//! disconnected, so after any reconnect the feed yields [`ChangeEvent::Resync`]
//! once it is listening again: the consumer must reload everything. The
//! listener is re-created from the pool's options, retrying with backoff
//! while the database is down.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::value::RawValue;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use xcoin_model::order::{BrokerKind, Exchange, Order, OrderStatus, OrderType, Product, Side, Validity};

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub table: Table,
    pub op: Op,
    pub id: i64,
    /// The order as its transaction committed it, when the notification
    /// carried it; `None`: read the row.
    pub order: Option<Box<Order>>,
}

impl Change {
    /// A change that carries its keys only.
    pub fn key(table: Table, op: Op, id: i64) -> Change {
        Change { table, op, id, order: None }
    }
}

/// What the feed yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeEvent {
    Change(Change),
    /// The listener reconnected; notifications may have been lost. Reload.
    Resync,
}

/// A notification as the triggers write it.
#[derive(serde::Deserialize)]
struct Payload<'a> {
    table: Table,
    op: Op,
    id: i64,
    #[serde(borrow, default)]
    row: Option<&'a RawValue>,
}

/// Parses a notification payload; `None` (and a warning) for anything else.
/// An order it carries but that does not decode is left to be read back
/// (with a warning): the change itself is never lost.
pub fn parse_payload(payload: &str) -> Option<Change> {
    let p: Payload = match serde_json::from_str(payload) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(payload, error = %e, "skipping malformed change notification");
            return None;
        }
    };
    let order = match (p.table, p.op, p.row) {
        (Table::Orders, Op::Insert | Op::Update, Some(row)) => match carried_order(row.get()) {
            Ok(o) if o.id == p.id => Some(Box::new(o)),
            Ok(o) => {
                tracing::warn!(
                    id = p.id,
                    row_id = o.id,
                    "an order's notification carried another order; reading it back"
                );
                None
            }
            Err(e) => {
                tracing::warn!(id = p.id, error = %e, "an order's notification did not decode; reading it back");
                None
            }
        },
        _ => None,
    };
    Some(Change { table: p.table, op: p.op, id: p.id, order })
}

/// An order's columns as `to_jsonb` writes them. Numerics stay as the
/// server printed them until [`exact`] reads them: a JSON number read as a
/// float would not keep an average price's ten decimals.
#[derive(serde::Deserialize)]
struct OrderRow<'a> {
    id: i64,
    strategy_id: i64,
    parent_order_id: Option<i64>,
    symbol: String,
    exchange: Exchange,
    side: Side,
    order_type: OrderType,
    product: Product,
    validity: Validity,
    quantity: i64,
    filled_quantity: i64,
    #[serde(borrow)]
    price: Option<&'a RawValue>,
    #[serde(borrow)]
    trigger_price: Option<&'a RawValue>,
    #[serde(borrow)]
    average_price: Option<&'a RawValue>,
    #[serde(borrow)]
    stop_loss: Option<&'a RawValue>,
    #[serde(borrow)]
    take_profit: Option<&'a RawValue>,
    #[serde(borrow)]
    risk_amount: Option<&'a RawValue>,
    status: OrderStatus,
    status_reason: Option<String>,
    broker: BrokerKind,
    broker_order_id: Option<String>,
    placed_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    submitted_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    modifications: i32,
    trigger_pending: bool,
}

/// A numeric as the server printed it, read exactly.
fn exact(raw: Option<&RawValue>) -> std::result::Result<Option<Decimal>, rust_decimal::Error> {
    raw.map(|r| r.get().parse::<Decimal>()).transpose()
}

/// The order an order's notification carries, exactly as the database layer
/// reads the row (the average price without trailing zeros, as there).
fn carried_order(row: &str) -> std::result::Result<Order, Box<dyn std::error::Error>> {
    let r: OrderRow = serde_json::from_str(row)?;
    Ok(Order {
        id: r.id,
        strategy_id: r.strategy_id,
        parent_order_id: r.parent_order_id,
        symbol: r.symbol,
        exchange: r.exchange,
        side: r.side,
        order_type: r.order_type,
        product: r.product,
        validity: r.validity,
        quantity: r.quantity,
        filled_quantity: r.filled_quantity,
        price: exact(r.price)?,
        trigger_price: exact(r.trigger_price)?,
        average_price: exact(r.average_price)?.map(|d| d.normalize()),
        stop_loss: exact(r.stop_loss)?,
        take_profit: exact(r.take_profit)?,
        risk_amount: exact(r.risk_amount)?,
        status: r.status,
        status_reason: r.status_reason,
        broker: r.broker,
        broker_order_id: r.broker_order_id,
        placed_by: r.placed_by,
        created_at: r.created_at,
        updated_at: r.updated_at,
        submitted_at: r.submitted_at,
        completed_at: r.completed_at,
        modifications: r.modifications,
        trigger_pending: r.trigger_pending,
    })
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
            Some(Change::key(Table::ReconciliationLog, Op::Delete, 42))
        );
        assert_eq!(parse_payload("not json"), None);
        assert_eq!(parse_payload(r#"{"table":"users","op":"INSERT","id":1}"#), None);
        assert_eq!(parse_payload(r#"{"table":"orders","op":"INSERT"}"#), None);
    }

    const ROW: &str = r#"{"id": 7, "side": "SELL", "price": 1000.05, "broker": "kite", "status": "PARTIALLY_FILLED",
        "symbol": "M&M", "product": "MIS", "exchange": "NSE", "quantity": 10, "stop_loss": null, "validity": "DAY",
        "placed_by": "asha \"desk\"", "created_at": "2026-12-08T09:15:00.123456+05:30", "order_type": "LIMIT",
        "updated_at": "2026-12-08T03:46:00.5+00:00", "risk_amount": 12.50, "strategy_id": 1, "take_profit": null,
        "completed_at": null, "submitted_at": "2026-12-08T09:15:00.2+05:30", "average_price": 12345678901234.1234567890,
        "modifications": 2, "status_reason": null, "trigger_price": null, "broker_order_id": "2512080001",
        "filled_quantity": 3, "parent_order_id": null, "trigger_pending": false, "status_history": []}"#;

    #[test]
    fn an_orders_row_decodes_exactly_and_a_bad_one_is_read_back() {
        use rust_decimal_macros::dec;
        let c = parse_payload(&format!(r#"{{"table":"orders","op":"UPDATE","id":7,"row":{ROW}}}"#)).unwrap();
        assert_eq!((c.table, c.op, c.id), (Table::Orders, Op::Update, 7));
        let o = c.order.expect("carried");
        // Beyond what a float keeps; trailing zeros dropped as the row reader does.
        assert_eq!(o.average_price.unwrap().to_string(), "12345678901234.123456789");
        assert_eq!((o.price, o.risk_amount), (Some(dec!(1000.05)), Some(dec!(12.50))));
        assert_eq!(o.risk_amount.unwrap().to_string(), "12.50");
        assert_eq!((o.symbol.as_str(), o.placed_by.as_str()), ("M&M", "asha \"desk\""));
        assert_eq!((o.side, o.status, o.broker), (Side::Sell, OrderStatus::PartiallyFilled, BrokerKind::Kite));
        assert_eq!(o.created_at.to_rfc3339(), "2026-12-08T03:45:00.123456+00:00");
        assert_eq!((o.filled_quantity, o.modifications, o.stop_loss, o.submitted_at.is_some()), (3, 2, None, true));

        // A row that does not decode, or names another order, is read back;
        // the change itself still arrives. Other tables' rows are ignored.
        let bad = ROW.replace(r#""side": "SELL""#, r#""side": "SIDEWAYS""#);
        let c = parse_payload(&format!(r#"{{"table":"orders","op":"INSERT","id":7,"row":{bad}}}"#)).unwrap();
        assert_eq!(c, Change::key(Table::Orders, Op::Insert, 7));
        let c = parse_payload(&format!(r#"{{"table":"orders","op":"INSERT","id":8,"row":{ROW}}}"#)).unwrap();
        assert_eq!(c, Change::key(Table::Orders, Op::Insert, 8));
        let c = parse_payload(&format!(r#"{{"table":"trades","op":"INSERT","id":7,"row":{ROW}}}"#)).unwrap();
        assert_eq!(c, Change::key(Table::Trades, Op::Insert, 7));
    }
}
