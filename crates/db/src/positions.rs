//! Positions: one open row per (symbol, exchange, product). Fills change them
//! through `Db::record_fill`; this file holds the reads, explicit creation,
//! stop/target updates, marking to market and closing.

use rust_decimal::Decimal;
use sqlx::{FromRow, PgConnection};

use super::{Db, DbError, Result, stats::DailyStats};
use xcoin_model::order::{Exchange, FieldError, Product};
use xcoin_model::position::{Position, PositionBook};

/// A position to open explicitly (not through a fill), e.g. when an operator
/// accepts the broker's side of a reconciliation issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPosition {
    pub strategy_id: i64,
    pub symbol: String,
    pub exchange: Exchange,
    pub product: Product,
    /// Signed: long > 0, short < 0.
    pub quantity: i64,
    pub average_price: Decimal,
    pub stop_loss: Option<Decimal>,
    pub take_profit: Option<Decimal>,
}

/// Locks the open position in an instrument, if there is one.
pub async fn lock_open_position(
    conn: &mut PgConnection,
    symbol: &str,
    exchange: Exchange,
    product: Product,
) -> Result<Option<Position>> {
    Ok(sqlx::query_as(
        "SELECT * FROM positions WHERE symbol = $1 AND exchange = $2 AND product = $3 AND status = 'OPEN' FOR UPDATE",
    )
    .bind(symbol)
    .bind(exchange)
    .bind(product)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Inserts (`p.id == 0`) or updates a position from its full state. Status and
/// close time follow the quantity: a flat position is CLOSED.
pub async fn store_position(conn: &mut PgConnection, p: &Position) -> Result<Position> {
    let b = &p.book;
    let query = if p.id == 0 {
        "INSERT INTO positions (strategy_id, symbol, exchange, product, quantity, average_price, realized_pnl,
                                buy_quantity, sell_quantity, buy_value, sell_value, last_price, unrealized_pnl,
                                charges, stop_loss, take_profit, highest_price, lowest_price, cost_basis, status,
                                closed_at)
         VALUES ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                 CASE WHEN $6 = 0 THEN 'CLOSED' ELSE 'OPEN' END, CASE WHEN $6 = 0 THEN xcoin_now() END)
         RETURNING *"
    } else {
        "UPDATE positions SET quantity = $6, average_price = $7, realized_pnl = $8, buy_quantity = $9,
                sell_quantity = $10, buy_value = $11, sell_value = $12, last_price = $13, unrealized_pnl = $14,
                charges = $15, stop_loss = $16, take_profit = $17, highest_price = $18, lowest_price = $19,
                cost_basis = $20, status = CASE WHEN $6 = 0 THEN 'CLOSED' ELSE 'OPEN' END,
                closed_at = CASE WHEN $6 = 0 THEN xcoin_now() END, updated_at = xcoin_now()
          WHERE id = $1 RETURNING *"
    };
    Ok(sqlx::query_as(query)
        .bind(p.id)
        .bind(p.strategy_id)
        .bind(&p.symbol)
        .bind(p.exchange)
        .bind(p.product)
        .bind(b.quantity)
        .bind(b.average_price)
        .bind(b.realized_pnl)
        .bind(b.buy_quantity)
        .bind(b.sell_quantity)
        .bind(b.buy_value)
        .bind(b.sell_value)
        .bind(p.last_price)
        .bind(if b.quantity == 0 { Decimal::ZERO } else { p.unrealized_pnl })
        .bind(p.charges)
        .bind(p.stop_loss)
        .bind(p.take_profit)
        .bind(p.highest_price)
        .bind(p.lowest_price)
        .bind(b.cost)
        .fetch_one(&mut *conn)
        .await?)
}

/// A fresh, empty position in an instrument (id 0: not stored yet).
pub fn empty_position(strategy_id: i64, symbol: &str, exchange: Exchange, product: Product) -> Position {
    let now = xcoin_model::clock::now();
    Position {
        id: 0,
        strategy_id,
        symbol: symbol.to_string(),
        exchange,
        product,
        book: PositionBook::default(),
        last_price: None,
        unrealized_pnl: Decimal::ZERO,
        charges: Decimal::ZERO,
        stop_loss: None,
        take_profit: None,
        highest_price: None,
        lowest_price: None,
        status: xcoin_model::position::PositionStatus::Open,
        opened_at: now,
        closed_at: None,
        updated_at: now,
    }
}

impl Db {
    /// Opens a position directly. Refused when the instrument already has an
    /// open position (change that one through fills or reconciliation).
    pub async fn create_position(&self, new: &NewPosition) -> Result<Position> {
        if new.quantity == 0 {
            return Err(FieldError::new("quantity", "a new position needs a non-zero quantity").into());
        }
        if new.average_price <= Decimal::ZERO {
            return Err(
                FieldError::new("average_price", format!("must be greater than 0, got {}", new.average_price)).into()
            );
        }
        self.transaction(async |conn| {
            if let Some(open) = lock_open_position(conn, &new.symbol, new.exchange, new.product).await? {
                return Err(DbError::Conflict(format!(
                    "{} {} {} already has open position {} ({} @ {})",
                    new.symbol,
                    new.exchange,
                    new.product,
                    open.id,
                    open.quantity(),
                    open.average_price()
                )));
            }
            let mut p = empty_position(new.strategy_id, &new.symbol, new.exchange, new.product);
            p.book = PositionBook::holding(new.quantity, new.average_price);
            p.stop_loss = new.stop_loss;
            p.take_profit = new.take_profit;
            store_position(conn, &p).await
        })
        .await
    }

    pub async fn get_position(&self, id: i64) -> Result<Position> {
        sqlx::query_as("SELECT * FROM positions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| DbError::not_found("position", id))
    }

    /// Open positions in a symbol on an exchange, in one product or in all.
    pub async fn find_open_positions(
        &self,
        symbol: &str,
        exchange: Exchange,
        product: Option<Product>,
    ) -> Result<Vec<Position>> {
        Ok(sqlx::query_as(
            "SELECT * FROM positions
              WHERE symbol = $1 AND exchange = $2 AND ($3::text IS NULL OR product = $3) AND status = 'OPEN'
              ORDER BY id",
        )
        .bind(symbol)
        .bind(exchange)
        .bind(product)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn open_positions(&self) -> Result<Vec<Position>> {
        Ok(sqlx::query_as("SELECT * FROM positions WHERE status = 'OPEN' ORDER BY id").fetch_all(&self.pool).await?)
    }

    /// Positions closed today (IST trading day), most recently closed first.
    pub async fn today_closed_positions(&self) -> Result<Vec<Position>> {
        Ok(sqlx::query_as(
            "SELECT * FROM positions
              WHERE status = 'CLOSED'
                AND closed_at >= xcoin_day_start(xcoin_today()) AND closed_at < xcoin_day_start(xcoin_today() + 1)
              ORDER BY closed_at DESC, id DESC",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn open_position_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM positions WHERE status = 'OPEN'").fetch_one(&self.pool).await?)
    }

    /// The positions with these ids that still exist (for refreshing changed rows).
    pub async fn positions_by_ids(&self, ids: &[i64]) -> Result<Vec<Position>> {
        Ok(sqlx::query_as("SELECT * FROM positions WHERE id = ANY($1) ORDER BY id")
            .bind(ids)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Positions held during an IST trading day: opened before its end and
    /// not closed before its start; by id.
    pub async fn positions_on(&self, day: chrono::NaiveDate) -> Result<Vec<Position>> {
        Ok(sqlx::query_as(
            "SELECT * FROM positions WHERE opened_at < xcoin_day_start($1 + 1)
                AND (closed_at IS NULL OR closed_at >= xcoin_day_start($1)) ORDER BY id",
        )
        .bind(day)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Sets the stop loss and target of an open position (`None` clears one).
    pub async fn update_position_levels(
        &self,
        id: i64,
        stop_loss: Option<Decimal>,
        take_profit: Option<Decimal>,
    ) -> Result<Position> {
        for (field, v) in [("stop_loss", stop_loss), ("take_profit", take_profit)] {
            if v.is_some_and(|v| v <= Decimal::ZERO) {
                return Err(FieldError::new(field, "must be greater than 0 or empty").into());
            }
        }
        sqlx::query_as(
            "UPDATE positions SET stop_loss = $2, take_profit = $3, updated_at = xcoin_now()
              WHERE id = $1 AND status = 'OPEN' RETURNING *",
        )
        .bind(id)
        .bind(stop_loss)
        .bind(take_profit)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| DbError::not_found("open position", id))
    }

    /// Marks every open position in a symbol to `last_price` (unrealised P&L,
    /// highest and lowest since open). Returns how many rows changed; a price
    /// equal to the last one changes nothing and notifies nobody.
    pub async fn mark_to_market(&self, symbol: &str, exchange: Exchange, last_price: Decimal) -> Result<i64> {
        if last_price <= Decimal::ZERO {
            return Err(FieldError::new("last_price", format!("must be greater than 0, got {last_price}")).into());
        }
        Ok(sqlx::query_scalar("SELECT update_position_pnl($1, $2, $3)")
            .bind(symbol)
            .bind(exchange)
            .bind(last_price)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Marks every open position in each instrument to its new last price
    /// (the rule of `update_position_pnl`), in one statement; instruments
    /// without an open position are passed over. One price per instrument.
    /// Returns how many rows moved.
    pub async fn mark_many(&self, prices: &[(String, Exchange, Decimal)]) -> Result<i64> {
        let (symbols, exchanges, last) = mark_batch(prices)?;
        Ok(sqlx::query_scalar("SELECT xcoin_mark_positions($1::text[], $2::text[], $3::numeric[])")
            .bind(symbols)
            .bind(exchanges)
            .bind(last)
            .fetch_one(&self.pool)
            .await?)
    }

    /// A risk cycle's writes in one round trip and one commit: marks every
    /// open position of each instrument in `prices` (one price per
    /// instrument, the rule of [`mark_many`](Self::mark_many)) and, when a
    /// position moved or `always` is set, writes today's row as
    /// [`update_daily_stats`](Db::update_daily_stats) (`recount`) or
    /// [`update_daily_pnl`](Self::update_daily_pnl) do. `None` when no
    /// position moved and `always` is not set: nothing was written.
    pub async fn mark_and_total(
        &self,
        prices: &[(String, Exchange, Decimal)],
        always: bool,
        recount: bool,
    ) -> Result<Option<DailyStats>> {
        let (symbols, exchanges, last) = mark_batch(prices)?;
        Ok(sqlx::query_as("SELECT * FROM xcoin_mark_and_total($1::text[], $2::text[], $3::numeric[], $4, $5)")
            .bind(symbols)
            .bind(exchanges)
            .bind(last)
            .bind(always)
            .bind(recount)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Closes an open position at `exit_price` without a fill (the broker
    /// already shows it flat): the remaining quantity's P&L is realised, the
    /// quantity becomes 0 and the row CLOSED, and an adjustment row says who
    /// did it, why, and what it realised, so today's P&L counts it. Returns the
    /// final position.
    pub async fn close_position(&self, id: i64, exit_price: Decimal, actor: &str, note: &str) -> Result<Position> {
        if exit_price <= Decimal::ZERO {
            return Err(FieldError::new("exit_price", format!("must be greater than 0, got {exit_price}")).into());
        }
        let actor = super::required("actor", actor)?;
        self.transaction(async |conn| {
            let p: Position = sqlx::query_as("SELECT * FROM positions WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| DbError::not_found("position", id))?;
            if p.book.is_flat() {
                return Err(DbError::Conflict(format!("position {id} is already closed")));
            }
            let change = Adjustment {
                reason: AdjustmentReason::ClosedWithoutFill,
                actor,
                note: Some(note),
                issue_id: None,
                quantity: 0,
                average_price: Decimal::ZERO,
                price: exit_price,
            };
            Ok(adjust_position(conn, p, &change).await?.0)
        })
        .await
    }

    /// Adjustments of positions made today (IST trading day), oldest first.
    pub async fn today_adjustments(&self) -> Result<Vec<PositionAdjustment>> {
        Ok(sqlx::query_as(
            "SELECT * FROM position_adjustments
              WHERE created_at >= xcoin_day_start(xcoin_today()) AND created_at < xcoin_day_start(xcoin_today() + 1)
              ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Why a position changed without a trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AdjustmentReason {
    /// An operator closed it: the broker already shows it flat.
    ClosedWithoutFill,
    /// Reconciliation took the broker's side.
    AcceptBroker,
}

/// A change of a position that is not a fill, as requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adjustment<'a> {
    pub reason: AdjustmentReason,
    pub actor: &'a str,
    pub note: Option<&'a str>,
    pub issue_id: Option<i64>,
    /// The quantity and average price the position is set to.
    pub quantity: i64,
    pub average_price: Decimal,
    /// The price the units that appear or go away change hands at (notionally).
    pub price: Decimal,
}

/// A stored adjustment: the position before and after, and the P&L it realised.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct PositionAdjustment {
    pub id: i64,
    pub position_id: i64,
    pub symbol: String,
    pub exchange: Exchange,
    pub product: Product,
    pub reason: AdjustmentReason,
    pub actor: String,
    pub note: Option<String>,
    pub issue_id: Option<i64>,
    pub quantity_before: i64,
    pub average_before: Decimal,
    pub quantity_after: i64,
    pub average_after: Decimal,
    pub price: Decimal,
    pub realized_pnl: Decimal,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Sets a position (stored, or new with id 0) to the adjustment's quantity and
/// average through [`PositionBook::adjust_to`], stores it and appends the
/// adjustment row, inside the caller's transaction.
pub async fn adjust_position(
    conn: &mut PgConnection,
    mut p: Position,
    change: &Adjustment<'_>,
) -> Result<(Position, PositionAdjustment)> {
    let (quantity_before, average_before) = (p.book.quantity, p.book.average_price);
    let realized = p.book.adjust_to(change.quantity, change.average_price, change.price);
    if p.last_price.is_none() {
        p.last_price = Some(change.price);
    }
    p.unrealized_pnl = p.last_price.map_or(Decimal::ZERO, |last| p.book.unrealized_at(last));
    let p = store_position(conn, &p).await?;
    let adjustment = sqlx::query_as(
        "INSERT INTO position_adjustments (position_id, symbol, exchange, product, reason, actor, note, issue_id,
                                           quantity_before, average_before, quantity_after, average_after, price,
                                           realized_pnl)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         RETURNING *",
    )
    .bind(p.id)
    .bind(&p.symbol)
    .bind(p.exchange)
    .bind(p.product)
    .bind(change.reason)
    .bind(change.actor)
    .bind(change.note)
    .bind(change.issue_id)
    .bind(quantity_before)
    .bind(average_before)
    .bind(p.book.quantity)
    .bind(p.book.average_price)
    .bind(change.price)
    .bind(realized)
    .fetch_one(&mut *conn)
    .await?;
    Ok((p, adjustment))
}

/// A batch of marks as the database's arrays, each price checked first.
type MarkArrays<'a> = (Vec<&'a str>, Vec<&'a str>, Vec<Decimal>);

fn mark_batch(prices: &[(String, Exchange, Decimal)]) -> Result<MarkArrays<'_>> {
    if let Some((s, e, p)) = prices.iter().find(|(_, _, p)| *p <= Decimal::ZERO) {
        return Err(FieldError::new("last_price", format!("{e}:{s} must be greater than 0, got {p}")).into());
    }
    Ok((
        prices.iter().map(|(s, _, _)| s.as_str()).collect(),
        prices.iter().map(|(_, e, _)| e.as_str()).collect(),
        prices.iter().map(|(_, _, p)| *p).collect(),
    ))
}
