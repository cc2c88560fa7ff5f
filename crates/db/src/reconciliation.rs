//! Reconciliation issues: logged once per open mismatch (seen again, the row
//! counts up), listed, and resolved by an operator with who, when and a note.

use sqlx::{FromRow, PgConnection, Row};

use rust_decimal::Decimal;

use super::positions::{Adjustment, AdjustmentReason, adjust_position, empty_position, lock_open_position};
use super::{Db, DbError, Result};
use xcoin_model::order::FieldError;
use xcoin_model::reconciliation::{Holding, Issue, IssueStatus, Mismatch, Resolution};
use xcoin_model::strategy::MANUAL_STRATEGY_ID;

/// Logs a mismatch inside the caller's transaction. Returns the issue and
/// whether it is new (`false`: an open issue of its kind was seen again, or
/// the very mismatch an operator resolved is still there).
///
/// A resolution of KEEP_LOCAL or IGNORE sticks while the mismatch is the same
/// (kind, instrument, both quantities and both average prices): the resolved
/// row counts it and nothing reopens. A different mismatch, or the same one
/// after the local side was set to the broker's (ACCEPT_BROKER), opens a new
/// issue.
pub async fn log_issue_in(conn: &mut PgConnection, m: &Mismatch, position_id: Option<i64>) -> Result<(Issue, bool)> {
    let still_resolved: Option<Issue> = sqlx::query_as(
        "UPDATE reconciliation_log SET seen_count = seen_count + 1, last_seen_at = xcoin_now()
          WHERE id = (SELECT id FROM reconciliation_log
                       WHERE issue_type = $1 AND symbol = $2 AND exchange = $3 AND product = $4
                         AND order_id IS NOT DISTINCT FROM $9
                       ORDER BY id DESC LIMIT 1)
            AND status = 'RESOLVED' AND resolution IN ('KEEP_LOCAL', 'IGNORE')
            AND local_quantity IS NOT DISTINCT FROM $5 AND broker_quantity IS NOT DISTINCT FROM $6
            AND local_avg_price IS NOT DISTINCT FROM $7 AND broker_avg_price IS NOT DISTINCT FROM $8
            AND order_id IS NOT DISTINCT FROM $9
          RETURNING *",
    )
    .bind(m.issue_type)
    .bind(&m.symbol)
    .bind(m.exchange)
    .bind(m.product)
    .bind(m.local_quantity)
    .bind(m.broker_quantity)
    .bind(m.local_avg_price)
    .bind(m.broker_avg_price)
    .bind(m.order_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(issue) = still_resolved {
        return Ok((issue, false));
    }
    let row = sqlx::query(
        "INSERT INTO reconciliation_log (issue_type, symbol, exchange, product, position_id, local_quantity,
                                         broker_quantity, local_avg_price, broker_avg_price, details, order_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (issue_type, symbol, exchange, product, (coalesce(order_id, 0))) WHERE status = 'OPEN'
         DO UPDATE SET seen_count = reconciliation_log.seen_count + 1,
                       last_seen_at = xcoin_now(),
                       position_id = EXCLUDED.position_id,
                       local_quantity = EXCLUDED.local_quantity,
                       broker_quantity = EXCLUDED.broker_quantity,
                       local_avg_price = EXCLUDED.local_avg_price,
                       broker_avg_price = EXCLUDED.broker_avg_price,
                       details = EXCLUDED.details
         RETURNING *, (xmax = 0) AS inserted",
    )
    .bind(m.issue_type)
    .bind(&m.symbol)
    .bind(m.exchange)
    .bind(m.product)
    .bind(position_id)
    .bind(m.local_quantity)
    .bind(m.broker_quantity)
    .bind(m.local_avg_price)
    .bind(m.broker_avg_price)
    .bind(&m.details)
    .bind(m.order_id)
    .fetch_one(&mut *conn)
    .await?;
    let inserted: bool = row.try_get("inserted")?;
    Ok((Issue::from_row(&row)?, inserted))
}

/// Who resolves an issue, trimmed: every resolution names someone, within
/// the length of every free-text field.
fn who_resolved(resolved_by: &str) -> Result<&str> {
    let who = resolved_by.trim();
    if who.is_empty() {
        return Err(FieldError::new("resolved_by", "must name who resolved the issue").into());
    }
    xcoin_model::command::check_length("resolved_by", who)?;
    Ok(who)
}

/// Resolves an open issue inside the caller's transaction.
pub async fn resolve_issue_in(
    conn: &mut PgConnection,
    id: i64,
    resolution: Resolution,
    resolved_by: &str,
    note: Option<&str>,
    adjustment: Option<&serde_json::Value>,
) -> Result<Issue> {
    let resolved_by = who_resolved(resolved_by)?;
    let issue: Issue = sqlx::query_as("SELECT * FROM reconciliation_log WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| DbError::not_found("reconciliation issue", id))?;
    if issue.status == IssueStatus::Resolved {
        return Err(DbError::Conflict(format!(
            "reconciliation issue {id} is already resolved ({} by {})",
            issue.resolution.map_or("?", |r| r.as_str()),
            issue.resolved_by.as_deref().unwrap_or("?")
        )));
    }
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    Ok(sqlx::query_as(
        "UPDATE reconciliation_log SET status = 'RESOLVED', resolution = $2, resolved_by = $3, resolved_at = xcoin_now(),
                resolution_note = $4, adjustment = $5
          WHERE id = $1 RETURNING *",
    )
    .bind(id)
    .bind(resolution)
    .bind(resolved_by)
    .bind(note)
    .bind(adjustment)
    .fetch_one(&mut *conn)
    .await?)
}

impl Db {
    /// Resolves an issue by accepting the broker's side: the local open
    /// position in the instrument is set to the broker's quantity and average
    /// price (opened if missing, closed if the broker is flat) through an
    /// adjustment row that realises the difference (see
    /// [`PositionBook::adjust_to`](xcoin_model::position::PositionBook::adjust_to)),
    /// and the before/after is stored on the issue — one transaction. The
    /// units that appear or go away change hands at the last price, or at the
    /// broker's average when no price is known.
    pub async fn accept_broker_position(
        &self,
        id: i64,
        broker: Option<&Holding>,
        resolved_by: &str,
        note: Option<&str>,
    ) -> Result<Issue> {
        let actor = who_resolved(resolved_by)?;
        self.transaction(async |conn| {
            let issue: Issue = sqlx::query_as("SELECT * FROM reconciliation_log WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| DbError::not_found("reconciliation issue", id))?;
            let local = lock_open_position(conn, &issue.symbol, issue.exchange, issue.product).await?;
            let before = local.as_ref().map(|p| (p.quantity(), p.average_price()));
            let (qty, avg) = broker.map_or((0, Decimal::ZERO), |h| (h.quantity, h.average_price));
            let position = match local {
                Some(p) => p,
                None => empty_position(MANUAL_STRATEGY_ID, &issue.symbol, issue.exchange, issue.product),
            };
            let changes = before.map_or(qty != 0, |(q, a)| q != qty || a != avg);
            if changes {
                let mark = position.last_price.or((avg > Decimal::ZERO).then_some(avg)).or(before.map(|(_, a)| a));
                let Some(mark) = mark.filter(|m| *m > Decimal::ZERO) else {
                    return Err(FieldError::new("average_price", "the broker's position needs an average price above 0")
                        .into());
                };
                let change = Adjustment {
                    reason: AdjustmentReason::AcceptBroker,
                    actor,
                    note,
                    issue_id: Some(id),
                    quantity: qty,
                    average_price: if qty == 0 { Decimal::ZERO } else { avg },
                    price: mark,
                };
                adjust_position(conn, position, &change).await?;
            }
            let adjustment = serde_json::json!({
                "before": before.map(|(q, a)| serde_json::json!({ "quantity": q, "average_price": a.normalize().to_string() })),
                "after": (qty != 0).then(|| serde_json::json!({ "quantity": qty, "average_price": avg.normalize().to_string() })),
            });
            resolve_issue_in(conn, id, Resolution::AcceptBroker, resolved_by, note, Some(&adjustment)).await
        })
        .await
    }

    /// Logs a mismatch: a new open issue, or the open identical one (same kind
    /// and instrument) seen again with its count, last-seen time and values updated.
    pub async fn log_reconciliation_issue(&self, m: &Mismatch, position_id: Option<i64>) -> Result<(Issue, bool)> {
        self.transaction(async |conn| log_issue_in(conn, m, position_id).await).await
    }

    /// Open issues, most recently seen first.
    pub async fn unresolved_issues(&self) -> Result<Vec<Issue>> {
        Ok(sqlx::query_as("SELECT * FROM reconciliation_log WHERE status = 'OPEN' ORDER BY last_seen_at DESC, id DESC")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Issues of an IST trading day: first seen, or resolved, that day; by id.
    pub async fn issues_on(&self, day: chrono::NaiveDate) -> Result<Vec<Issue>> {
        Ok(sqlx::query_as(
            "SELECT * FROM reconciliation_log
              WHERE (first_seen_at >= xcoin_day_start($1) AND first_seen_at < xcoin_day_start($1 + 1))
                 OR (resolved_at >= xcoin_day_start($1) AND resolved_at < xcoin_day_start($1 + 1))
              ORDER BY id",
        )
        .bind(day)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Resolved issues, most recently resolved first, at most `limit`.
    pub async fn resolved_issues(&self, limit: i64) -> Result<Vec<Issue>> {
        Ok(sqlx::query_as(
            "SELECT * FROM reconciliation_log WHERE status = 'RESOLVED' ORDER BY resolved_at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn get_issue(&self, id: i64) -> Result<Issue> {
        sqlx::query_as("SELECT * FROM reconciliation_log WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| DbError::not_found("reconciliation issue", id))
    }

    pub async fn issues_by_ids(&self, ids: &[i64]) -> Result<Vec<Issue>> {
        Ok(sqlx::query_as("SELECT * FROM reconciliation_log WHERE id = ANY($1) ORDER BY id")
            .bind(ids)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Resolves an open issue, recording the resolution, who, when and the note.
    pub async fn resolve_issue(
        &self,
        id: i64,
        resolution: Resolution,
        resolved_by: &str,
        note: Option<&str>,
    ) -> Result<Issue> {
        self.transaction(async |conn| resolve_issue_in(conn, id, resolution, resolved_by, note, None).await).await
    }
}
