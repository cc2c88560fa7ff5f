//! Today's numbers: P&L net of charges, order and trade counts, the
//! order-to-trade ratio, and the daily_stats row that keeps the day's peak
//! and drawdown. "Today" is the IST trading day, computed in SQL.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::FromRow;

use super::{Db, Result};
use xcoin_model::funds::Funds;

/// Today's P&L in parts, exact (round with [`xcoin_model::to_paisa`] to show).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, FromRow)]
pub struct TodayPnl {
    /// Realised by today's fills and today's position adjustments, before charges.
    pub realized_pnl: Decimal,
    /// How far the unrealised P&L moved today: from cost for positions opened
    /// today, from the previous close for positions carried from an earlier day.
    pub unrealized_pnl: Decimal,
    /// Charges of today's fills.
    pub charges: Decimal,
    /// realised + unrealised − charges: the day's P&L, as Kite's day P&L.
    pub net_pnl: Decimal,
    /// Unrealised P&L of the open positions since each opened, whatever the day.
    pub open_unrealized_pnl: Decimal,
}

/// One trading day's summary.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DailyStats {
    pub id: i64,
    pub trading_day: NaiveDate,
    pub total_orders: i64,
    pub total_trades: i64,
    /// Round trips closed today with a profit, net of their charges: a
    /// position that went back to flat counts once, however many fills it
    /// took (per fill, 10 orders once counted as 40 wins and 26 losses).
    pub winning_trades: i64,
    /// Round trips closed today with a loss, net of their charges.
    pub losing_trades: i64,
    pub gross_pnl: Decimal,
    pub unrealized_pnl: Decimal,
    pub total_charges: Decimal,
    pub net_pnl: Decimal,
    /// The best net P&L reached today (0 at the open).
    pub peak_pnl: Decimal,
    /// The deepest fall of net P&L below its peak today.
    pub max_drawdown: Decimal,
    /// The best and the worst round trip closed today, net of charges.
    pub largest_win: Decimal,
    pub largest_loss: Decimal,
    pub order_to_trade_ratio: Option<Decimal>,
    pub updated_at: DateTime<Utc>,
    /// Write requests sent to the broker today (placements, modifications,
    /// cancellations), for its daily cap.
    pub broker_writes: i64,
}

impl DailyStats {
    /// Winning round trips over round trips closed with a profit or a loss, if any were.
    pub fn win_rate(&self) -> Option<Decimal> {
        let decided = self.winning_trades + self.losing_trades;
        (decided > 0).then(|| Decimal::from(self.winning_trades) / Decimal::from(decided))
    }
}

/// A daily goal reached.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct GoalEvent {
    pub id: i64,
    pub trading_day: NaiveDate,
    /// `desk`, or the strategy's name.
    pub scope: String,
    pub goal: xcoin_model::goals::Goal,
    pub figures: String,
    pub action: xcoin_model::goals::GoalAction,
    pub reached_at: DateTime<Utc>,
}

/// Whether a breakdown row is one strategy's or one instrument's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum BreakdownKind {
    Strategy,
    Instrument,
}

/// Today's figures of one strategy or one instrument: fills, round trips
/// (positions that went back to flat today) and how many of them won net of
/// their charges, and the day's P&L in parts as [`TodayPnl`] counts it, so
/// the rows of each kind add up to the day's totals.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Breakdown {
    pub kind: BreakdownKind,
    /// The strategy's name, or the instrument's `SYMBOL` (and `:BSE` when not NSE).
    pub name: String,
    pub trades: i64,
    pub round_trips: i64,
    pub wins: i64,
    pub realized_pnl: Decimal,
    pub unrealized_pnl: Decimal,
    pub charges: Decimal,
    pub net_pnl: Decimal,
}

impl Breakdown {
    /// Winning round trips over round trips, if any closed.
    pub fn win_rate(&self) -> Option<Decimal> {
        (self.round_trips > 0).then(|| Decimal::from(self.wins) / Decimal::from(self.round_trips))
    }
}

/// What the pre-trade validator reads from the database, in one round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromRow)]
pub struct RiskInputs {
    /// Signed quantity held in the instrument.
    pub held: i64,
    pub open_positions: i64,
    pub today_net_pnl: Decimal,
    /// Today's peak net P&L so far (0 before any stats are kept).
    pub peak_pnl: Decimal,
    /// The kill switch as `kill_switch_events` records it: the one source of
    /// truth, so the engine can never block (or allow) what the table does not show.
    pub kill_switch_active: bool,
    /// Whether the order's strategy is paused.
    pub strategy_paused: bool,
    /// The strategy's own limits, and its figures now.
    pub max_positions: Option<i32>,
    pub max_daily_loss: Option<Decimal>,
    pub capital_allocated: Option<Decimal>,
    pub strategy_open_positions: i64,
    pub strategy_exposure: Decimal,
    pub strategy_net_pnl: Decimal,
    /// The database's risk generation these were read at.
    #[sqlx(flatten)]
    pub generation: RiskGeneration,
}

/// Where everything the pre-trade check reads stands: the count the database
/// raises, in the same transaction, whenever positions, the day's P&L, the
/// kill switch, a strategy's pause or limits or the day's peak change
/// (migration 0026), and the IST trading day "today" means. Two reads with
/// the same generation read the same risk inputs, so the engine keeps what it
/// read and checks it against the generation its next order's write returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromRow)]
pub struct RiskGeneration {
    pub risk_generation: i64,
    pub trading_day: NaiveDate,
}

impl Db {
    /// The desk's state for one order's risk check, in a single statement.
    pub async fn risk_inputs(
        &self,
        symbol: &str,
        exchange: xcoin_model::order::Exchange,
        product: xcoin_model::order::Product,
        strategy_id: i64,
    ) -> Result<RiskInputs> {
        Ok(sqlx::query_as(
            "SELECT (SELECT coalesce(sum(quantity), 0)::bigint FROM positions
                      WHERE symbol = $1 AND exchange = $2 AND product = $3 AND status = 'OPEN') AS held,
                    (SELECT count(*) FROM positions WHERE status = 'OPEN') AS open_positions,
                    (SELECT net_pnl FROM get_today_pnl()) AS today_net_pnl,
                    coalesce((SELECT peak_pnl FROM daily_stats WHERE trading_day = xcoin_today()), 0) AS peak_pnl,
                    coalesce((SELECT action = 'ACTIVATED' FROM kill_switch_events ORDER BY id DESC LIMIT 1), false)
                        AS kill_switch_active,
                    coalesce(NOT s.is_active, false) AS strategy_paused,
                    s.max_positions, s.max_daily_loss, s.capital_allocated,
                    (SELECT count(*) FROM positions WHERE status = 'OPEN' AND strategy_id = $4)
                        AS strategy_open_positions,
                    (SELECT coalesce(sum(abs(quantity) * average_price), 0) FROM positions
                      WHERE status = 'OPEN' AND strategy_id = $4) AS strategy_exposure,
                    (SELECT coalesce(sum(realized - charges + adjusted), 0) FROM pnl_by_day
                      WHERE strategy_id = $4 AND trading_day >= xcoin_today())
                    + (SELECT coalesce(sum(unrealized_pnl - day_ref_unrealized), 0) FROM positions
                        WHERE strategy_id = $4 AND day_ref_day = xcoin_today()
                          AND unrealized_pnl IS DISTINCT FROM day_ref_unrealized) AS strategy_net_pnl,
                    (SELECT n FROM risk_generation) AS risk_generation, xcoin_today() AS trading_day
               FROM (SELECT 1) one LEFT JOIN strategies s ON s.id = $4",
        )
        .bind(symbol)
        .bind(exchange)
        .bind(product)
        .bind(strategy_id)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn today_pnl(&self) -> Result<TodayPnl> {
        Ok(sqlx::query_as("SELECT * FROM get_today_pnl()").fetch_one(&self.pool).await?)
    }

    pub async fn today_order_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM orders
              WHERE created_at >= xcoin_day_start(xcoin_today()) AND created_at < xcoin_day_start(xcoin_today() + 1)",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn today_trade_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM trades
              WHERE traded_at >= xcoin_day_start(xcoin_today()) AND traded_at < xcoin_day_start(xcoin_today() + 1)",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Orders per trade on a trading day (today when `None`); `None` if nothing traded.
    pub async fn order_to_trade_ratio(&self, day: Option<NaiveDate>) -> Result<Option<Decimal>> {
        Ok(sqlx::query_scalar("SELECT get_order_to_trade_ratio($1)").bind(day).fetch_one(&self.pool).await?)
    }

    /// Recomputes today's daily_stats row from orders, trades and positions,
    /// keeping the day's peak net P&L and its deepest drawdown from that peak.
    pub async fn update_daily_stats(&self) -> Result<DailyStats> {
        Ok(sqlx::query_as("SELECT * FROM xcoin_update_daily_stats()").fetch_one(&self.pool).await?)
    }

    /// Today's P&L, peak and drawdown on today's row, its counts left as
    /// [`update_daily_stats`](Self::update_daily_stats) last set them: what
    /// the loss limits need, without counting the day's orders.
    pub async fn update_daily_pnl(&self) -> Result<DailyStats> {
        Ok(sqlx::query_as("SELECT * FROM xcoin_update_daily_pnl()").fetch_one(&self.pool).await?)
    }

    /// Today's figures per strategy and per instrument; see [`day_breakdown`](Self::day_breakdown).
    pub async fn today_breakdown(&self) -> Result<Vec<Breakdown>> {
        self.day_breakdown(None).await
    }

    /// A trading day's figures per strategy and per instrument (today when
    /// `None`), each kind ordered by net P&L, best first. Parts are counted
    /// as `get_today_pnl()` counts them: the day's fills, the day's
    /// adjustments, and — today only — the day's move of every position the
    /// day touched (a past day's positions have moved on since).
    pub async fn day_breakdown(&self, day: Option<NaiveDate>) -> Result<Vec<Breakdown>> {
        Ok(sqlx::query_as(
            "WITH d AS (SELECT coalesce($1, xcoin_today()) AS day, xcoin_day_start(coalesce($1, xcoin_today())) AS s,
                               xcoin_day_start(coalesce($1, xcoin_today()) + 1) AS e),
                  parts AS (
                    SELECT t.strategy_id, t.symbol, t.exchange, 1 AS fills, 0 AS trips, 0 AS wins,
                           t.realized_pnl AS realised, 0 AS unrealised, t.total_charges AS charges
                      FROM trades t, d WHERE t.traded_at >= d.s AND t.traded_at < d.e
                    UNION ALL
                    SELECT p.strategy_id, a.symbol, a.exchange, 0, 0, 0, a.realized_pnl, 0, 0
                      FROM position_adjustments a JOIN positions p ON p.id = a.position_id, d
                     WHERE a.created_at >= d.s AND a.created_at < d.e
                    UNION ALL
                    SELECT p.strategy_id, p.symbol, p.exchange, 0,
                           CASE WHEN p.status = 'CLOSED' AND p.closed_at >= d.s AND p.closed_at < d.e
                                     AND NOT xcoin_closed_by_adjustment(p.id) THEN 1 ELSE 0 END,
                           CASE WHEN p.status = 'CLOSED' AND p.closed_at >= d.s AND p.closed_at < d.e
                                     AND NOT xcoin_closed_by_adjustment(p.id)
                                     AND p.realized_pnl - p.charges > 0 THEN 1 ELSE 0 END,
                           0,
                           CASE WHEN p.day_ref_day = d.day AND d.day = xcoin_today()
                                THEN p.unrealized_pnl - p.day_ref_unrealized ELSE 0 END,
                           0
                      FROM positions p, d
                     WHERE p.day_ref_day = d.day OR (p.closed_at >= d.s AND p.closed_at < d.e)),
                  sums AS (
                    SELECT CASE WHEN GROUPING(s.name) = 0 THEN 'strategy' ELSE 'instrument' END AS kind,
                           coalesce(s.name, parts.symbol || CASE WHEN parts.exchange = 'NSE' THEN ''
                                                                 ELSE ':' || parts.exchange END) AS name,
                           sum(fills)::bigint AS trades, sum(trips)::bigint AS round_trips, sum(wins)::bigint AS wins,
                           sum(realised) AS realized_pnl, sum(unrealised) AS unrealized_pnl,
                           sum(charges) AS charges
                      FROM parts JOIN strategies s ON s.id = parts.strategy_id
                     GROUP BY GROUPING SETS ((s.name), (parts.symbol, parts.exchange)))
             SELECT kind, name, trades, round_trips, wins, realized_pnl, unrealized_pnl, charges,
                    realized_pnl + unrealized_pnl - charges AS net_pnl
               FROM sums ORDER BY kind DESC, net_pnl DESC, name",
        )
        .bind(day)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A trading day's round trips (positions that went back to flat that
    /// day), each net of its charges, in the order they closed.
    pub async fn round_trips(&self, day: NaiveDate) -> Result<Vec<Decimal>> {
        Ok(sqlx::query_scalar(
            "SELECT realized_pnl - charges FROM positions
              WHERE status = 'CLOSED' AND closed_at >= xcoin_day_start($1) AND closed_at < xcoin_day_start($1 + 1)
                AND NOT xcoin_closed_by_adjustment(id)
              ORDER BY closed_at, id",
        )
        .bind(day)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Realised P&L of a day's position adjustments (changes without a fill).
    pub async fn adjustments_realised(&self, day: NaiveDate) -> Result<Decimal> {
        Ok(sqlx::query_scalar(
            "SELECT coalesce(sum(realized_pnl), 0) FROM position_adjustments
              WHERE created_at >= xcoin_day_start($1) AND created_at < xcoin_day_start($1 + 1)",
        )
        .bind(day)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Records a goal reached today, once: `None` when it already was.
    pub async fn record_goal(
        &self,
        scope: &str,
        goal: xcoin_model::goals::Goal,
        figures: &str,
        action: xcoin_model::goals::GoalAction,
    ) -> Result<Option<GoalEvent>> {
        Ok(sqlx::query_as(
            "INSERT INTO goal_events (trading_day, scope, goal, figures, action) VALUES (xcoin_today(), $1, $2, $3, $4)
             ON CONFLICT ON CONSTRAINT goal_events_once_a_day DO NOTHING RETURNING *",
        )
        .bind(scope)
        .bind(goal)
        .bind(figures)
        .bind(action)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Goals reached on a trading day, in order.
    pub async fn goals_on(&self, day: NaiveDate) -> Result<Vec<GoalEvent>> {
        Ok(sqlx::query_as("SELECT * FROM goal_events WHERE trading_day = $1 ORDER BY id")
            .bind(day)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Where today's goals stand for the whole desk (`None`) or one
    /// strategy: its fills, its net P&L (as [`day_breakdown`](Self::day_breakdown)
    /// counts it) and its losing round trips in a row. `peak` is the desk's
    /// recorded peak; a strategy's peak is kept by the caller (0 here).
    pub async fn goal_progress(&self, strategy: Option<(i64, &str)>) -> Result<xcoin_model::goals::Progress> {
        let trips: Vec<Decimal> = sqlx::query_scalar(
            "SELECT realized_pnl - charges FROM positions
              WHERE status = 'CLOSED' AND closed_at >= xcoin_day_start(xcoin_today())
                AND closed_at < xcoin_day_start(xcoin_today() + 1) AND ($1::bigint IS NULL OR strategy_id = $1)
                AND NOT xcoin_closed_by_adjustment(id)
              ORDER BY closed_at, id",
        )
        .bind(strategy.map(|(id, _)| id))
        .fetch_all(&self.pool)
        .await?;
        let losing_streak = xcoin_model::goals::losing_streak(&trips);
        match strategy {
            None => {
                let net = self.today_pnl().await?.net_pnl;
                let peak = self.daily_stats(xcoin_model::calendar::MarketCalendar::default().today()).await?;
                Ok(xcoin_model::goals::Progress {
                    net,
                    peak: peak.map_or(Decimal::ZERO, |s| s.peak_pnl).max(net),
                    trades: self.today_trade_count().await?,
                    losing_streak,
                })
            }
            Some((_, name)) => {
                let row = self
                    .today_breakdown()
                    .await?
                    .into_iter()
                    .find(|b| b.kind == BreakdownKind::Strategy && b.name == name);
                Ok(xcoin_model::goals::Progress {
                    net: row.as_ref().map_or(Decimal::ZERO, |b| b.net_pnl),
                    peak: Decimal::ZERO,
                    trades: row.map_or(0, |b| b.trades),
                    losing_streak,
                })
            }
        }
    }

    /// Keeps the broker's latest funds on today's row.
    pub async fn record_funds(&self, f: &Funds) -> Result<()> {
        sqlx::query(
            "INSERT INTO daily_stats (trading_day, funds_opening_balance, funds_cash, funds_used_margin,
                                      funds_m2m_realised, funds_m2m_unrealised, funds_available, funds_at)
             VALUES (xcoin_today(), $1, $2, $3, $4, $5, $6, xcoin_now())
             ON CONFLICT (trading_day) DO UPDATE SET
                    funds_opening_balance = EXCLUDED.funds_opening_balance, funds_cash = EXCLUDED.funds_cash,
                    funds_used_margin = EXCLUDED.funds_used_margin, funds_m2m_realised = EXCLUDED.funds_m2m_realised,
                    funds_m2m_unrealised = EXCLUDED.funds_m2m_unrealised, funds_available = EXCLUDED.funds_available,
                    funds_at = EXCLUDED.funds_at",
        )
        .bind(f.opening_balance)
        .bind(f.cash)
        .bind(f.used_margin)
        .bind(f.m2m_realised)
        .bind(f.m2m_unrealised)
        .bind(f.available_margin)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Today's funds as last reported, and when; `None` before any report.
    pub async fn today_funds(&self) -> Result<Option<(Funds, DateTime<Utc>)>> {
        type Row = (Decimal, Decimal, Decimal, Decimal, Decimal, Decimal, DateTime<Utc>);
        let row: Option<Row> = sqlx::query_as(
            "SELECT funds_opening_balance, funds_cash, funds_used_margin, funds_m2m_realised, funds_m2m_unrealised,
                    funds_available, funds_at
               FROM daily_stats WHERE trading_day = xcoin_today() AND funds_at IS NOT NULL",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(opening_balance, cash, used_margin, m2m_realised, m2m_unrealised, available_margin, at)| {
            (Funds { opening_balance, cash, used_margin, m2m_realised, m2m_unrealised, available_margin }, at)
        }))
    }

    /// Write requests sent to the broker today.
    pub async fn broker_writes_today(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT coalesce((SELECT broker_writes FROM daily_stats WHERE trading_day = xcoin_today()), 0)",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn daily_stats(&self, day: NaiveDate) -> Result<Option<DailyStats>> {
        Ok(sqlx::query_as("SELECT * FROM daily_stats WHERE trading_day = $1")
            .bind(day)
            .fetch_optional(&self.pool)
            .await?)
    }
}
