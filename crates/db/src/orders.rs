//! Orders: create (persisted PENDING before anything is sent), read, status
//! changes through the lifecycle, modification, and the lists the desk reads.

use rust_decimal::Decimal;
use sqlx::PgConnection;
use sqlx::types::Json;

use super::{Db, DbError, Result};
use xcoin_model::order::{
    BrokerKind, FieldError, Order, OrderRequest, OrderStatus, OrderType, StatusChange, check_transition,
};

/// The change a modification asks for; `None` leaves a field as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderModification {
    pub quantity: Option<i64>,
    pub price: Option<Decimal>,
    pub trigger_price: Option<Decimal>,
}

/// Inserts a PENDING order. `last_price` prices a market order's risk.
pub async fn insert_order(
    conn: &mut PgConnection,
    req: &OrderRequest,
    broker: BrokerKind,
    tick: Decimal,
    last_price: Option<Decimal>,
) -> Result<Order> {
    insert_order_with(conn, INSERT_ORDER, req, broker, tick, last_price).await
}

/// An order row with the placement count after it.
/// A new order written PENDING with the day's placements counted: the
/// order, the count (this one included) and the risk generation its write
/// saw, which tells the engine whether the risk inputs it checked the order
/// against were still the database's.
#[derive(Debug, Clone)]
pub struct CountedOrder {
    pub order: Order,
    pub placed_today: i64,
    pub generation: crate::stats::RiskGeneration,
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for CountedOrder {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> std::result::Result<Self, sqlx::Error> {
        use sqlx::Row;
        Ok(CountedOrder {
            order: Order::from_row(row)?,
            placed_today: row.try_get("broker_writes")?,
            generation: crate::stats::RiskGeneration::from_row(row)?,
        })
    }
}

/// The INSERT of a new order, PENDING.
const INSERT_ORDER: &str = concat!(
    "INSERT INTO orders (strategy_id, parent_order_id, symbol, exchange, side, order_type, product, validity,
                         quantity, price, trigger_price, stop_loss, take_profit, risk_amount, broker, placed_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
     RETURNING ",
    xcoin_model::order_columns!()
);

/// The same INSERT with today's count of placements sent to the broker
/// raised in the same statement (one commit), the count returned as the
/// last column.
const INSERT_ORDER_COUNTED: &str = concat!(
    "WITH counted AS (
        INSERT INTO daily_stats (trading_day, broker_writes) VALUES (xcoin_today(), 1)
        ON CONFLICT (trading_day) DO UPDATE SET broker_writes = daily_stats.broker_writes + 1
        RETURNING broker_writes)
     INSERT INTO orders (strategy_id, parent_order_id, symbol, exchange, side, order_type, product, validity,
                         quantity, price, trigger_price, stop_loss, take_profit, risk_amount, broker, placed_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
     RETURNING ",
    xcoin_model::order_columns!(),
    ", (SELECT broker_writes FROM counted) AS broker_writes,
       (SELECT n FROM risk_generation) AS risk_generation, xcoin_today() AS trading_day"
);

async fn insert_order_with<T>(
    conn: &mut PgConnection,
    sql: &'static str,
    req: &OrderRequest,
    broker: BrokerKind,
    tick: Decimal,
    last_price: Option<Decimal>,
) -> Result<T>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    req.validate(tick)?;
    let risk = req.risk_amount(last_price).map(|r| r.round_dp(2));
    let order = sqlx::query_as(sql)
        .bind(req.strategy_id)
        .bind(req.parent_order_id)
        .bind(&req.symbol)
        .bind(req.exchange)
        .bind(req.side)
        .bind(req.order_type)
        .bind(req.product)
        .bind(req.validity)
        .bind(req.quantity)
        .bind(req.price)
        .bind(req.trigger_price)
        .bind(req.stop_loss)
        .bind(req.take_profit)
        .bind(risk)
        .bind(broker)
        .bind(req.placed_by.trim())
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| missing_reference(e, req))?;
    Ok(order)
}

/// A foreign key that points nowhere, as the field the operator typed.
/// (The single INSERT checks the references itself: no extra round trip.)
fn missing_reference(e: sqlx::Error, req: &OrderRequest) -> DbError {
    match &e {
        sqlx::Error::Database(d) if d.constraint() == Some("orders_strategy_id_fkey") => {
            FieldError::new("strategy_id", format!("no strategy has id {}", req.strategy_id)).into()
        }
        sqlx::Error::Database(d) if d.constraint() == Some("orders_parent_order_id_fkey") => {
            FieldError::new("parent_order_id", format!("no order has id {}", req.parent_order_id.unwrap_or_default()))
                .into()
        }
        _ => e.into(),
    }
}

/// Locks an order row for the rest of the transaction.
pub async fn lock_order(conn: &mut PgConnection, id: i64) -> Result<Order> {
    sqlx::query_as(concat!("SELECT ", xcoin_model::order_columns!(), " FROM orders WHERE id = $1 FOR UPDATE"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| DbError::not_found("order", id))
}

/// Moves an order to `to`, checked against the lifecycle. `broker_order_id`
/// is recorded when given (it arrives with SUBMITTED).
pub async fn set_order_status(
    conn: &mut PgConnection,
    id: i64,
    to: OrderStatus,
    reason: Option<&str>,
    broker_order_id: Option<&str>,
) -> Result<Order> {
    let current = lock_order(conn, id).await?;
    check_transition(current.status, to).map_err(|e| DbError::transition(id, e))?;
    if to == OrderStatus::Submitted && broker_order_id.or(current.broker_order_id.as_deref()).is_none() {
        return Err(FieldError::new("broker_order_id", "a SUBMITTED order needs the broker's order id").into());
    }
    if matches!(to, OrderStatus::PartiallyFilled | OrderStatus::Filled) {
        return Err(DbError::Conflict(format!(
            "order {id} becomes {to} only by recording its fills (Db::record_fill)"
        )));
    }
    let updated = sqlx::query_as(concat!(
        "UPDATE orders SET status = $2, status_reason = coalesce($3, status_reason),
                broker_order_id = coalesce($4, broker_order_id)
          WHERE id = $1 RETURNING ",
        xcoin_model::order_columns!()
    ))
    .bind(id)
    .bind(to)
    .bind(reason)
    .bind(broker_order_id)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| unique_broker_id(e, broker_order_id))?;
    Ok(updated)
}

/// The order as it would be after `change`, checked: quantity above what has
/// filled, a price or trigger only where the type has one, on the tick.
pub fn modified_request(order: &Order, change: OrderModification, tick: Decimal) -> Result<OrderRequest> {
    let quantity = change.quantity.unwrap_or(order.quantity);
    if quantity <= order.filled_quantity {
        return Err(FieldError::new(
            "quantity",
            format!("must be more than the {} already filled, got {quantity}", order.filled_quantity),
        )
        .into());
    }
    if change.price.is_some() && !order.order_type.needs_price() {
        return Err(FieldError::new("price", format!("a {} order has no limit price", order.order_type)).into());
    }
    if change.trigger_price.is_some() && !order.order_type.needs_trigger() {
        return Err(FieldError::new("trigger_price", format!("a {} order has no trigger", order.order_type)).into());
    }
    let base = order.as_request();
    let modified = OrderRequest {
        quantity,
        price: change.price.or(order.price),
        trigger_price: change.trigger_price.or(order.trigger_price),
        ..base
    };
    modified.validate(tick)?;
    Ok(modified)
}

fn unique_broker_id(e: sqlx::Error, broker_order_id: Option<&str>) -> DbError {
    match &e {
        sqlx::Error::Database(db) if db.constraint() == Some("orders_broker_order_id_key") => DbError::Conflict(
            format!("broker order id {} already belongs to another order", broker_order_id.unwrap_or("?")),
        ),
        _ => e.into(),
    }
}

/// A modification as the order's history tells it: what changed, from
/// what to what, and who asked.
fn describe_modification(order: &Order, modified: &OrderRequest, by: &str) -> String {
    let price = |v: Option<Decimal>| v.map_or("none".to_string(), |p| format!("{p:.2}"));
    let mut parts = Vec::new();
    if modified.quantity != order.quantity {
        parts.push(format!("quantity {} → {}", order.quantity, modified.quantity));
    }
    if modified.price != order.price {
        parts.push(format!("price {} → {}", price(order.price), price(modified.price)));
    }
    if modified.trigger_price != order.trigger_price {
        parts.push(format!("trigger {} → {}", price(order.trigger_price), price(modified.trigger_price)));
    }
    if parts.is_empty() {
        parts.push("sent again unchanged".into());
    }
    format!("modified by {by}: {}", parts.join(", "))
}

impl Db {
    /// Persists a new order as PENDING with its risk amount (|entry − stop| ×
    /// quantity; a market order is priced at `last_price`).
    pub async fn create_order(
        &self,
        req: &OrderRequest,
        broker: BrokerKind,
        tick: Decimal,
        last_price: Option<Decimal>,
    ) -> Result<Order> {
        // One INSERT is one transaction: no BEGIN/COMMIT round trips around it.
        let mut conn = self.pool.acquire().await?;
        insert_order(&mut conn, req, broker, tick, last_price).await
    }

    /// [`Db::create_order`] for an order about to be sent: the order and
    /// today's count of placements sent to the broker (this one included),
    /// raised in the same statement — one commit before the wire, where the
    /// count outlives the engine. (Counted at the intent: an order whose
    /// sending fails counts too, which errs on the side of the broker's cap.)
    pub async fn create_order_counted(
        &self,
        req: &OrderRequest,
        broker: BrokerKind,
        tick: Decimal,
        last_price: Option<Decimal>,
    ) -> Result<CountedOrder> {
        let mut conn = self.pool.acquire().await?;
        insert_order_with(&mut conn, INSERT_ORDER_COUNTED, req, broker, tick, last_price).await
    }

    /// A PENDING order written by [`Db::create_order_counted`] that the
    /// pre-trade check refuses before it is sent (what it was checked
    /// against had changed): REJECTED with the reason, and the day's count of
    /// placements lowered again, in one transaction — it never reached the
    /// broker, so the broker's daily cap never saw it.
    pub async fn refuse_pending(&self, id: i64, reason: &str) -> Result<Order> {
        self.transaction(async |conn| {
            let order = set_order_status(conn, id, OrderStatus::Rejected, Some(reason), None).await?;
            sqlx::query(
                "UPDATE daily_stats SET broker_writes = broker_writes - 1
                  WHERE trading_day = xcoin_ist_day($1) AND broker_writes > 0",
            )
            .bind(order.created_at)
            .execute(&mut *conn)
            .await?;
            Ok(order)
        })
        .await
    }

    /// A PENDING order the broker acknowledged: SUBMITTED with the broker's
    /// id, and the desk log's line for it, in one statement — one commit
    /// after the wire. An order already carrying that broker id gets its
    /// line alone; any other is refused as [`Db::update_order_status`]
    /// refuses the change.
    pub async fn acknowledge_order(&self, id: i64, broker_order_id: &str, line: &str) -> Result<Order> {
        if let Err(e) = super::events::check_message(line) {
            // A line the desk log would refuse never holds up the order.
            tracing::warn!(error = %e, %line, "desk log line not written");
            return self.update_order_status(id, OrderStatus::Submitted, None, Some(broker_order_id)).await;
        }
        let acknowledged: Option<Order> = sqlx::query_as(concat!(
            "WITH acked AS (
                UPDATE orders SET status = 'SUBMITTED', broker_order_id = $2
                 WHERE id = $1 AND status = 'PENDING' RETURNING *),
             logged AS (
                INSERT INTO desk_events (level, kind, message) SELECT 'INFO', 'ORDER', $3 FROM acked)
             SELECT ",
            xcoin_model::order_columns!(),
            " FROM acked"
        ))
        .bind(id)
        .bind(broker_order_id)
        .bind(line)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| unique_broker_id(e, Some(broker_order_id)))?;
        match acknowledged {
            Some(order) => Ok(order),
            None => {
                // Already acknowledged with this id (its update came first): the line
                // alone. Anything else is refused as a change of status is.
                let current = self.get_order(id).await?;
                let order = if current.broker_order_id.as_deref() == Some(broker_order_id) {
                    current
                } else {
                    self.update_order_status(id, OrderStatus::Submitted, None, Some(broker_order_id)).await?
                };
                self.record_event(xcoin_model::event::EventLevel::Info, xcoin_model::event::EventKind::Order, line)
                    .await?;
                Ok(order)
            }
        }
    }

    /// Persists an order that the pre-trade validator refused: PENDING, then
    /// REJECTED with the reason, in one transaction.
    pub async fn record_rejected_order(
        &self,
        req: &OrderRequest,
        broker: BrokerKind,
        tick: Decimal,
        last_price: Option<Decimal>,
        reason: &str,
    ) -> Result<Order> {
        self.transaction(async |conn| {
            let order = insert_order(conn, req, broker, tick, last_price).await?;
            set_order_status(conn, order.id, OrderStatus::Rejected, Some(reason), None).await
        })
        .await
    }

    pub async fn get_order(&self, id: i64) -> Result<Order> {
        sqlx::query_as(concat!("SELECT ", xcoin_model::order_columns!(), " FROM orders WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| DbError::not_found("order", id))
    }

    pub async fn get_order_by_broker_id(&self, broker_order_id: &str) -> Result<Option<Order>> {
        Ok(sqlx::query_as(concat!("SELECT ", xcoin_model::order_columns!(), " FROM orders WHERE broker_order_id = $1"))
            .bind(broker_order_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Changes an order's status through the lifecycle (SUBMITTED, OPEN,
    /// CANCELLED, REJECTED; fills move orders to PARTIALLY_FILLED and FILLED).
    pub async fn update_order_status(
        &self,
        id: i64,
        to: OrderStatus,
        reason: Option<&str>,
        broker_order_id: Option<&str>,
    ) -> Result<Order> {
        self.transaction(async |conn| set_order_status(conn, id, to, reason, broker_order_id).await).await
    }

    /// Changes quantity, price or trigger of an OPEN or PARTIALLY_FILLED
    /// order, asked for by `by`; the order's history gains a line saying what
    /// changed and who asked (`modified by asha: price 1500.00 → 1502.00`).
    pub async fn modify_order(&self, id: i64, change: OrderModification, tick: Decimal, by: &str) -> Result<Order> {
        self.transaction(async |conn| {
            let order = lock_order(conn, id).await?;
            if !order.status.can_be_modified() {
                return Err(DbError::Conflict(format!(
                    "order {id} is {}; only OPEN or PARTIALLY_FILLED orders can be modified",
                    order.status
                )));
            }
            let modified = modified_request(&order, change, tick)?;
            let risk =
                if order.order_type == OrderType::Market { order.risk_amount } else { modified.risk_amount(None) };
            sqlx::query("SELECT set_config('xcoin.modification', $1, true)")
                .bind(describe_modification(&order, &modified, by))
                .execute(&mut *conn)
                .await?;
            Ok(sqlx::query_as(concat!(
                "UPDATE orders SET quantity = $2, price = $3, trigger_price = $4, risk_amount = $5,
                        modifications = modifications + 1
                  WHERE id = $1 RETURNING ",
                xcoin_model::order_columns!()
            ))
            .bind(id)
            .bind(modified.quantity)
            .bind(modified.price)
            .bind(modified.trigger_price)
            .bind(risk.map(|r| r.round_dp(2)))
            .fetch_one(&mut *conn)
            .await?)
        })
        .await
    }

    /// Whether the broker holds a working stop order untriggered (Kite's
    /// TRIGGER PENDING), as its order updates say.
    pub async fn set_trigger_pending(&self, id: i64, pending: bool) -> Result<Order> {
        sqlx::query_as(concat!(
            "UPDATE orders SET trigger_pending = $2 WHERE id = $1 RETURNING ",
            xcoin_model::order_columns!()
        ))
        .bind(id)
        .bind(pending)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| DbError::not_found("order", id))
    }

    /// PENDING, SUBMITTED, OPEN and PARTIALLY_FILLED orders, oldest first.
    pub async fn active_orders(&self) -> Result<Vec<Order>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            xcoin_model::order_columns!(),
            " FROM orders WHERE status IN ('PENDING', 'SUBMITTED', 'OPEN', 'PARTIALLY_FILLED') ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    /// The working resting stops of one instrument and product (see
    /// `engine::stops`), oldest first.
    pub async fn working_resting_stops(
        &self,
        symbol: &str,
        exchange: xcoin_model::order::Exchange,
        product: xcoin_model::order::Product,
    ) -> Result<Vec<Order>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            xcoin_model::order_columns!(),
            " FROM orders WHERE status IN ('PENDING', 'SUBMITTED', 'OPEN', 'PARTIALLY_FILLED')
                AND placed_by = $1 AND order_type = 'SL-M' AND symbol = $2 AND exchange = $3 AND product = $4
              ORDER BY id"
        ))
        .bind(xcoin_model::order::RESTING_STOP)
        .bind(symbol)
        .bind(exchange)
        .bind(product)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The order an operator's placement made once it was claimed: the
    /// first order of `placed_by` for that symbol, side and quantity created
    /// since `claimed_at` (the engine executes one command at a time and
    /// stamps the order with the command's sender). `None`: none was made.
    pub async fn order_placed_for_command(
        &self,
        placed_by: &str,
        claimed_at: chrono::DateTime<chrono::Utc>,
        symbol: &str,
        side: xcoin_model::order::Side,
        quantity: i64,
    ) -> Result<Option<Order>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            xcoin_model::order_columns!(),
            " FROM orders WHERE placed_by = $1 AND created_at >= $2 AND symbol = $3 AND side = $4 AND quantity = $5
              ORDER BY id LIMIT 1"
        ))
        .bind(placed_by)
        .bind(claimed_at)
        .bind(symbol)
        .bind(side)
        .bind(quantity)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A strategy's orders, newest first, at most `limit`.
    pub async fn orders_by_strategy(&self, strategy_id: i64, limit: i64) -> Result<Vec<Order>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            xcoin_model::order_columns!(),
            " FROM orders WHERE strategy_id = $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(strategy_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Orders created today (IST trading day), oldest first.
    pub async fn today_orders(&self) -> Result<Vec<Order>> {
        Ok(sqlx::query_as(concat!("SELECT ", xcoin_model::order_columns!(), " FROM v_today_orders ORDER BY id"))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Today's orders older than `before` (all when `None`), newest first,
    /// at most `limit`: the console streams the day in pages after its first frame.
    pub async fn today_orders_before(&self, before: Option<i64>, limit: i64) -> Result<Vec<Order>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            xcoin_model::order_columns!(),
            " FROM v_today_orders WHERE $1::bigint IS NULL OR id < $1 ORDER BY id DESC LIMIT $2"
        ))
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Orders made on the IST trading days `from` to `to`, both included, by id.
    pub async fn orders_between(&self, from: chrono::NaiveDate, to: chrono::NaiveDate) -> Result<Vec<Order>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            xcoin_model::order_columns!(),
            " FROM orders WHERE created_at >= xcoin_day_start($1) AND created_at < xcoin_day_start($2 + 1) ORDER BY id"
        ))
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Today's orders (IST trading day) that reached this broker.
    pub async fn orders_sent_today(&self, broker: BrokerKind) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM orders
              WHERE broker = $1 AND broker_order_id IS NOT NULL
                AND created_at >= xcoin_day_start(xcoin_today()) AND created_at < xcoin_day_start(xcoin_today() + 1)",
        )
        .bind(broker)
        .fetch_one(&self.pool)
        .await?)
    }

    /// An order's status changes, oldest first, each with its time and reason.
    pub async fn order_history(&self, id: i64) -> Result<Vec<StatusChange>> {
        let history: Option<Json<Vec<StatusChange>>> =
            sqlx::query_scalar("SELECT status_history FROM orders WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(history.ok_or_else(|| DbError::not_found("order", id))?.0)
    }

    /// The orders with these ids that still exist (for refreshing changed rows).
    pub async fn orders_by_ids(&self, ids: &[i64]) -> Result<Vec<Order>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            xcoin_model::order_columns!(),
            " FROM orders WHERE id = ANY($1) ORDER BY id"
        ))
        .bind(ids)
        .fetch_all(&self.pool)
        .await?)
    }
}
