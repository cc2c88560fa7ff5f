//! The kill switch's record: activations and re-arms, and the current state
//! (the latest event decides). Changes are serialised with a table lock so two
//! activations cannot both win.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sqlx::{FromRow, PgConnection};

use super::{Db, DbError, Result};
use xcoin_model::command::{KillSwitchAction, KillSwitchTrigger};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct KillSwitchEvent {
    pub id: i64,
    pub action: KillSwitchAction,
    pub trigger: KillSwitchTrigger,
    pub reason: String,
    pub actor: String,
    pub orders_cancelled: i64,
    pub positions_exited: i64,
    pub daily_pnl: Option<Decimal>,
    pub created_at: DateTime<Utc>,
    /// When an activation's flattening (cancels and exits) was done; `None`
    /// while it is not (an engine stopped or lost the database mid-way: the
    /// next engine to run finishes it first).
    pub flattened_at: Option<DateTime<Utc>>,
}

/// Whether trading is blocked, and the event that made it so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KillSwitchState {
    pub active: bool,
    pub last_event: Option<KillSwitchEvent>,
}

impl KillSwitchState {
    /// Active, and its working orders and positions not yet all cancelled
    /// and exited: "kill switch ACTIVE — flattening".
    pub fn flattening(&self) -> bool {
        self.active && self.last_event.as_ref().is_some_and(|e| e.flattened_at.is_none())
    }
}

/// What an activation records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation<'a> {
    pub trigger: KillSwitchTrigger,
    pub reason: &'a str,
    pub actor: &'a str,
    pub orders_cancelled: i64,
    pub positions_exited: i64,
    pub daily_pnl: Option<Decimal>,
}

async fn latest(conn: &mut PgConnection) -> Result<Option<KillSwitchEvent>> {
    Ok(sqlx::query_as("SELECT * FROM kill_switch_events ORDER BY id DESC LIMIT 1").fetch_optional(&mut *conn).await?)
}

impl Db {
    pub async fn kill_switch_state(&self) -> Result<KillSwitchState> {
        let mut conn = self.pool.acquire().await?;
        let last_event = latest(&mut conn).await?;
        Ok(KillSwitchState {
            active: last_event.as_ref().is_some_and(|e| e.action == KillSwitchAction::Activated),
            last_event,
        })
    }

    /// Records an activation. Refused while the switch is already active.
    pub async fn activate_kill_switch(&self, a: &Activation<'_>) -> Result<KillSwitchEvent> {
        super::required("reason", a.reason)?;
        super::required("actor", a.actor)?;
        self.transaction(async |conn| {
            sqlx::query("LOCK TABLE kill_switch_events IN SHARE ROW EXCLUSIVE MODE").execute(&mut *conn).await?;
            if let Some(e) = latest(conn).await?.filter(|e| e.action == KillSwitchAction::Activated) {
                return Err(DbError::Conflict(format!(
                    "the kill switch is already active (since {} IST by {}: {})",
                    e.created_at.with_timezone(&chrono_tz::Asia::Kolkata).format("%Y-%m-%d %H:%M:%S"),
                    e.actor,
                    e.reason
                )));
            }
            Ok(sqlx::query_as(
                "INSERT INTO kill_switch_events (action, trigger, reason, actor, orders_cancelled, positions_exited, daily_pnl)
                 VALUES ('ACTIVATED', $1, $2, $3, $4, $5, $6) RETURNING *",
            )
            .bind(a.trigger)
            .bind(a.reason.trim())
            .bind(a.actor.trim())
            .bind(a.orders_cancelled)
            .bind(a.positions_exited)
            .bind(a.daily_pnl)
            .fetch_one(&mut *conn)
            .await?)
        })
        .await
    }

    /// Writes what an activation did (orders cancelled, positions exited,
    /// the day's P&L afterwards) on its event, and that it is done.
    pub async fn record_kill_switch_effect(
        &self,
        event_id: i64,
        orders_cancelled: i64,
        positions_exited: i64,
        daily_pnl: Decimal,
    ) -> Result<KillSwitchEvent> {
        sqlx::query_as(
            "UPDATE kill_switch_events SET orders_cancelled = $2, positions_exited = $3, daily_pnl = $4,
                    flattened_at = coalesce(flattened_at, xcoin_now())
              WHERE id = $1 AND action = 'ACTIVATED' RETURNING *",
        )
        .bind(event_id)
        .bind(orders_cancelled)
        .bind(positions_exited)
        .bind(daily_pnl)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| DbError::not_found("kill switch activation", event_id))
    }

    /// Re-arms trading. Refused when the switch is not active.
    pub async fn deactivate_kill_switch(&self, reason: &str, actor: &str) -> Result<KillSwitchEvent> {
        super::required("reason", reason)?;
        super::required("actor", actor)?;
        self.transaction(async |conn| {
            sqlx::query("LOCK TABLE kill_switch_events IN SHARE ROW EXCLUSIVE MODE").execute(&mut *conn).await?;
            let active = latest(conn).await?.is_some_and(|e| e.action == KillSwitchAction::Activated);
            if !active {
                return Err(DbError::Conflict("the kill switch is not active".into()));
            }
            Ok(sqlx::query_as(
                "INSERT INTO kill_switch_events (action, trigger, reason, actor)
                 VALUES ('DEACTIVATED', 'OPERATOR', $1, $2) RETURNING *",
            )
            .bind(reason.trim())
            .bind(actor.trim())
            .fetch_one(&mut *conn)
            .await?)
        })
        .await
    }

    /// Kill switch events, newest first, at most `limit`.
    /// The kill switch's events of an IST trading day, in order.
    pub async fn kill_switch_events_on(&self, day: chrono::NaiveDate) -> Result<Vec<KillSwitchEvent>> {
        Ok(sqlx::query_as(
            "SELECT * FROM kill_switch_events
              WHERE created_at >= xcoin_day_start($1) AND created_at < xcoin_day_start($1 + 1) ORDER BY id",
        )
        .bind(day)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn kill_switch_events(&self, limit: i64) -> Result<Vec<KillSwitchEvent>> {
        Ok(sqlx::query_as("SELECT * FROM kill_switch_events ORDER BY id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }
}
