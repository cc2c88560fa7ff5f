//! Fills: recorded with their charges and applied to the order and the
//! position in one transaction, at most once per broker trade id.

use rust_decimal::Decimal;
use sqlx::PgConnection;

use super::orders::lock_order;
use super::positions::{empty_position, lock_open_position, store_position};
use super::{Db, DbError, Result};
use xcoin_model::charges::{ChargeInput, ChargeRates, Charges};
use xcoin_model::order::{FieldError, Order, OrderStatus};
use xcoin_model::position::{AVERAGE_PRICE_SCALE, Position};
use xcoin_model::trade::{Fill, Trade};

/// What recording a fill did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillOutcome {
    pub trade: Trade,
    pub order: Order,
    /// The position the fill changed (CLOSED if it went flat); after a fill
    /// that crossed zero, the new row it opened on the other side.
    pub position: Position,
    /// The row a fill that crossed zero closed (one round trip ended there).
    pub closed: Option<Position>,
    /// True when this broker trade id had been recorded before: nothing changed.
    pub duplicate: bool,
}

async fn latest_position(conn: &mut PgConnection, order: &Order) -> Result<Position> {
    sqlx::query_as(
        "SELECT * FROM positions WHERE symbol = $1 AND exchange = $2 AND product = $3 ORDER BY id DESC LIMIT 1",
    )
    .bind(&order.symbol)
    .bind(order.exchange)
    .bind(order.product)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| DbError::not_found("position for order", order.id))
}

/// Records one fill inside the caller's transaction. See [`Db::record_fill`].
pub async fn record_fill_in(conn: &mut PgConnection, fill: &Fill, rates: &ChargeRates) -> Result<FillOutcome> {
    check_shape(fill)?;
    // The order lock serialises every fill of this order, so the duplicate
    // check cannot race with a second delivery of the same fill.
    let order = lock_order(conn, fill.order_id).await?;
    if let Some(seen) = already_recorded(conn, fill, &order).await? {
        return Ok(seen);
    }
    check_fits(fill, &order)?;
    let charges = charges_of(conn, fill, &order, rates).await?;
    let (position, realized_pnl, closed) = apply_to_position(conn, fill, &order, &charges).await?;
    let trade = insert_trade(conn, fill, &order, &charges, realized_pnl).await?;
    let order = apply_to_order(conn, fill, order).await?;
    Ok(FillOutcome { trade, order, position, closed, duplicate: false })
}

/// A fill has a positive quantity and price and the broker's trade id.
fn check_shape(fill: &Fill) -> Result<()> {
    if fill.quantity <= 0 {
        return Err(
            FieldError::new("quantity", format!("a fill has a positive quantity, got {}", fill.quantity)).into()
        );
    }
    if fill.price <= Decimal::ZERO {
        return Err(FieldError::new("price", format!("a fill has a positive price, got {}", fill.price)).into());
    }
    if fill.broker_trade_id.trim().is_empty() {
        return Err(FieldError::new("broker_trade_id", "a fill needs the broker's trade id").into());
    }
    Ok(())
}

/// The stored outcome when this broker trade was recorded before (for this
/// order; for another order it is a conflict).
async fn already_recorded(conn: &mut PgConnection, fill: &Fill, order: &Order) -> Result<Option<FillOutcome>> {
    let existing: Option<Trade> = sqlx::query_as("SELECT * FROM trades WHERE broker = $1 AND broker_trade_id = $2")
        .bind(fill.broker)
        .bind(&fill.broker_trade_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(trade) = existing else { return Ok(None) };
    if trade.order_id != order.id {
        return Err(DbError::Conflict(format!(
            "{} trade {} belongs to order {}, not order {}",
            fill.broker, fill.broker_trade_id, trade.order_id, order.id
        )));
    }
    let position = latest_position(conn, order).await?;
    Ok(Some(FillOutcome { trade, order: order.clone(), position, closed: None, duplicate: true }))
}

/// The fill belongs to this order: same broker, sent, within its quantity.
fn check_fits(fill: &Fill, order: &Order) -> Result<()> {
    if fill.broker != order.broker {
        return Err(FieldError::new(
            "broker",
            format!("order {} went to {}, but the fill comes from {}", order.id, order.broker, fill.broker),
        )
        .into());
    }
    if order.status == OrderStatus::Pending {
        return Err(DbError::Conflict(format!(
            "order {} is PENDING (never sent); a fill cannot arrive before it is SUBMITTED",
            order.id
        )));
    }
    if order.filled_quantity + fill.quantity > order.quantity {
        return Err(DbError::Conflict(format!(
            "a fill of {} would take order {} past its quantity ({} of {} filled)",
            fill.quantity, order.id, order.filled_quantity, order.quantity
        )));
    }
    Ok(())
}

/// The fill's charges; brokerage is capped per order across its fills.
async fn charges_of(conn: &mut PgConnection, fill: &Fill, order: &Order, rates: &ChargeRates) -> Result<Charges> {
    let brokerage_so_far: Decimal =
        sqlx::query_scalar("SELECT coalesce(sum(brokerage), 0) FROM trades WHERE order_id = $1")
            .bind(order.id)
            .fetch_one(&mut *conn)
            .await?;
    Ok(rates.compute(&ChargeInput {
        side: order.side,
        product: order.product,
        exchange: order.exchange,
        quantity: fill.quantity,
        price: fill.price,
        order_brokerage_so_far: brokerage_so_far,
    }))
}

/// The fill applied to the open position in its instrument (opened if
/// none): stored, with the P&L the fill realised and, when the fill crossed
/// zero, the row it closed.
///
/// A fill larger than the position it reduces ("a flip") ends one round trip
/// and starts the next: the closing part closes the row (with the fill's
/// charges in proportion to the units it closed) and the rest opens a new
/// row with the remaining charges, its own strategy and the order's levels.
/// So every row is one round trip, and the win rate, averages and the losing
/// streak count each one.
async fn apply_to_position(
    conn: &mut PgConnection,
    fill: &Fill,
    order: &Order,
    charges: &Charges,
) -> Result<(Position, Decimal, Option<Position>)> {
    let mut position = match lock_open_position(conn, &order.symbol, order.exchange, order.product).await? {
        Some(p) => p,
        None => empty_position(order.strategy_id, &order.symbol, order.exchange, order.product),
    };
    let held = position.book.quantity;
    let total = charges.total();
    if held != 0 && held.signum() != order.side.sign() && fill.quantity > held.abs() {
        let closing = held.abs();
        let share = (total * Decimal::from(closing) / Decimal::from(fill.quantity)).round_dp(AVERAGE_PRICE_SCALE);
        let realized = take_part(&mut position, order, closing, fill.price, share);
        let closed = store_position(conn, &position).await?;
        let mut opened = empty_position(order.strategy_id, &order.symbol, order.exchange, order.product);
        take_part(&mut opened, order, fill.quantity - closing, fill.price, total - share);
        return Ok((store_position(conn, &opened).await?, realized, Some(closed)));
    }
    let realized = take_part(&mut position, order, fill.quantity, fill.price, total);
    Ok((store_position(conn, &position).await?, realized, None))
}

/// `quantity` units of the order's fill at `price`, carrying `charges`,
/// applied to one position row (which it never takes through zero).
/// Returns the P&L realised.
fn take_part(position: &mut Position, order: &Order, quantity: i64, price: Decimal, charges: Decimal) -> Decimal {
    if position.id == 0 {
        // A new position takes its levels from the order that opened it.
        position.stop_loss = order.stop_loss;
        position.take_profit = order.take_profit;
    }
    let effect = position.book.apply_fill(order.side, quantity, price);
    debug_assert_eq!(effect.opened_quantity * effect.closed_quantity, 0, "a part never crosses zero");
    // The fill is the latest trade we know of in this instrument: mark to it.
    position.mark(price);
    position.charges += charges;
    effect.realized_pnl
}

async fn insert_trade(
    conn: &mut PgConnection,
    fill: &Fill,
    order: &Order,
    charges: &Charges,
    realized_pnl: Decimal,
) -> Result<Trade> {
    let trade: Trade = sqlx::query_as(
        "INSERT INTO trades (order_id, strategy_id, symbol, exchange, side, product, quantity, price, broker,
                             broker_trade_id, broker_order_id, brokerage, stt, exchange_charges, sebi_charges, gst,
                             stamp_duty, realized_pnl, traded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
         RETURNING *",
    )
    .bind(order.id)
    .bind(order.strategy_id)
    .bind(&order.symbol)
    .bind(order.exchange)
    .bind(order.side)
    .bind(order.product)
    .bind(fill.quantity)
    .bind(fill.price)
    .bind(fill.broker)
    .bind(fill.broker_trade_id.trim())
    .bind(&order.broker_order_id)
    .bind(charges.brokerage)
    .bind(charges.stt)
    .bind(charges.exchange)
    .bind(charges.sebi)
    .bind(charges.gst)
    .bind(charges.stamp_duty)
    .bind(realized_pnl)
    .bind(fill.traded_at)
    .fetch_one(&mut *conn)
    .await?;
    Ok(trade)
}

/// The order's filled quantity, average fill price and status after the fill.
async fn apply_to_order(conn: &mut PgConnection, fill: &Fill, order: Order) -> Result<Order> {
    // The order: filled quantity and average fill price; an active order moves
    // to PARTIALLY_FILLED or FILLED. A fill on an order already CANCELLED (the
    // exchange filled part before the cancel landed) is real money, so it is
    // recorded and the order keeps its terminal status.
    let filled = order.filled_quantity + fill.quantity;
    let average = ((order.average_price.unwrap_or_default() * Decimal::from(order.filled_quantity)
        + fill.price * Decimal::from(fill.quantity))
        / Decimal::from(filled))
    .round_dp(AVERAGE_PRICE_SCALE);
    let status = if order.status.is_active() { OrderStatus::after_fill(filled, order.quantity) } else { order.status };
    if status != order.status && !order.status.can_transition_to(status) {
        return Err(DbError::Transition { order_id: order.id, from: order.status, to: status });
    }
    let order: Order = sqlx::query_as(concat!(
        // A fill means a stop order triggered.
        "UPDATE orders SET filled_quantity = $2, average_price = $3, status = $4, trigger_pending = false
          WHERE id = $1 RETURNING ",
        xcoin_model::order_columns!()
    ))
    .bind(order.id)
    .bind(filled)
    .bind(average)
    .bind(status)
    .fetch_one(&mut *conn)
    .await?;
    Ok(order)
}

impl Db {
    /// Records a fill: the trade with every charge, the order's filled quantity,
    /// average price and status, and the position — all in one transaction.
    /// Delivering the same broker trade id again changes nothing and returns
    /// the stored trade with `duplicate: true`.
    pub async fn record_fill(&self, fill: &Fill, rates: &ChargeRates) -> Result<FillOutcome> {
        self.transaction(async |conn| record_fill_in(conn, fill, rates).await).await
    }

    /// [`Db::record_fill`] with the desk log's line for it (`line`, from
    /// what the fill came to) written in the same transaction: one commit
    /// for a fill and its line. A duplicate writes no line; a line the desk
    /// log would refuse is left out (and said here), never the fill.
    pub async fn record_fill_logged(
        &self,
        fill: &Fill,
        rates: &ChargeRates,
        line: impl FnOnce(&FillOutcome) -> String,
    ) -> Result<FillOutcome> {
        use xcoin_model::event::{EventKind, EventLevel};
        self.transaction(async |conn| {
            let outcome = record_fill_in(conn, fill, rates).await?;
            if outcome.duplicate {
                return Ok(outcome);
            }
            let line = line(&outcome);
            match super::events::check_message(&line) {
                Ok(()) => {
                    super::events::insert_event(&mut *conn, EventLevel::Info, EventKind::Fill, &line).await?;
                }
                Err(e) => tracing::warn!(error = %e, %line, "desk log line not written"),
            }
            Ok(outcome)
        })
        .await
    }

    pub async fn trades_for_order(&self, order_id: i64) -> Result<Vec<Trade>> {
        Ok(sqlx::query_as("SELECT * FROM trades WHERE order_id = $1 ORDER BY traded_at, id")
            .bind(order_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Fills of today's IST trading day, oldest first.
    pub async fn today_trades(&self) -> Result<Vec<Trade>> {
        Ok(sqlx::query_as(
            "SELECT * FROM trades
              WHERE traded_at >= xcoin_day_start(xcoin_today()) AND traded_at < xcoin_day_start(xcoin_today() + 1)
              ORDER BY traded_at, id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Trades of the IST trading days `from` to `to`, both included, in the order they happened.
    pub async fn trades_between(&self, from: chrono::NaiveDate, to: chrono::NaiveDate) -> Result<Vec<Trade>> {
        Ok(sqlx::query_as(
            "SELECT * FROM trades WHERE traded_at >= xcoin_day_start($1) AND traded_at < xcoin_day_start($2 + 1)
              ORDER BY traded_at, id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The trades with these ids (for refreshing changed rows).
    pub async fn trades_by_ids(&self, ids: &[i64]) -> Result<Vec<Trade>> {
        Ok(sqlx::query_as("SELECT * FROM trades WHERE id = ANY($1) ORDER BY id")
            .bind(ids)
            .fetch_all(&self.pool)
            .await?)
    }
}
