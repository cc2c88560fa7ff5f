//! What the dashboard's `/metrics` reports, read in one place: today's
//! counts by status, rule and result, and the latencies the database keeps.

use rust_decimal::Decimal;

use super::{Db, Result};

/// Today's figures for a scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape {
    pub orders_by_status: Vec<(String, i64)>,
    /// Refusals by the rule that refused them: the reason up to its first
    /// `: ` (a rule's name may hold a colon, as `min reward:risk` does).
    pub rejections_by_rule: Vec<(String, i64)>,
    pub commands_by_status: Vec<(String, i64)>,
    pub fills: i64,
    pub net_pnl: Decimal,
    pub open_positions: i64,
    pub open_issues: i64,
    pub kill_switch_active: bool,
    pub broker_writes: i64,
    /// Seconds from an order's creation to the broker's acknowledgement.
    pub place_to_ack: Vec<f64>,
    /// Seconds from a command's insert to the engine claiming it (its
    /// notification's trip through the change feed, and the claim).
    pub command_pickup: Vec<f64>,
}

type Counts = Vec<(String, i64)>;

impl Db {
    pub async fn scrape(&self) -> Result<Scrape> {
        const TODAY: &str = "xcoin_day_start(xcoin_today())";
        let counts = |sql: String| async move { sqlx::query_as::<_, (String, i64)>(&sql).fetch_all(&self.pool).await };
        let orders: Counts =
            counts(format!("SELECT status, count(*) FROM orders WHERE created_at >= {TODAY} GROUP BY 1 ORDER BY 1"))
                .await?;
        let rejections: Counts = counts(format!(
            "SELECT split_part(coalesce(status_reason, 'no reason'), ': ', 1), count(*) FROM orders
              WHERE status = 'REJECTED' AND created_at >= {TODAY} GROUP BY 1 ORDER BY 1"
        ))
        .await?;
        let commands: Counts = counts(format!(
            "SELECT status, count(*) FROM operator_commands WHERE requested_at >= {TODAY} GROUP BY 1 ORDER BY 1"
        ))
        .await?;
        let seconds = |sql: String| async move { sqlx::query_scalar::<_, f64>(&sql).fetch_all(&self.pool).await };
        let place_to_ack = seconds(format!(
            "SELECT extract(epoch FROM submitted_at - created_at)::float8 FROM orders
              WHERE submitted_at IS NOT NULL AND created_at >= {TODAY}"
        ))
        .await?;
        let command_pickup = seconds(format!(
            "SELECT extract(epoch FROM claimed_at - requested_at)::float8 FROM operator_commands
              WHERE claimed_at IS NOT NULL AND requested_at >= {TODAY}"
        ))
        .await?;
        let (open_positions, open_issues, kill_switch_active): (i64, i64, bool) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM positions WHERE status = 'OPEN'),
                    (SELECT count(*) FROM reconciliation_log WHERE status = 'OPEN'),
                    coalesce((SELECT action = 'ACTIVATED' FROM kill_switch_events ORDER BY id DESC LIMIT 1), false)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Scrape {
            orders_by_status: orders,
            rejections_by_rule: rejections,
            commands_by_status: commands,
            fills: self.today_trade_count().await?,
            net_pnl: self.today_pnl().await?.net_pnl,
            open_positions,
            open_issues,
            kill_switch_active,
            broker_writes: self.broker_writes_today().await?,
            place_to_ack,
            command_pickup,
        })
    }
}
