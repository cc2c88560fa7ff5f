//! The desk log: events the engine appends and every console reads.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{Db, Result};
use xcoin_model::event::{EventKind, EventLevel, MAX_MESSAGE_CHARS, RETENTION_DAYS};
use xcoin_model::order::FieldError;

/// One line of the desk log.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DeskEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub level: EventLevel,
    pub kind: EventKind,
    pub message: String,
}

/// A desk log line as the table takes it: 1 to [`MAX_MESSAGE_CHARS`]
/// characters, not blank.
pub fn check_message(message: &str) -> Result<()> {
    let chars = message.chars().count();
    if message.trim().is_empty() || chars > MAX_MESSAGE_CHARS {
        return Err(
            FieldError::new("message", format!("must hold 1 to {MAX_MESSAGE_CHARS} characters, got {chars}")).into()
        );
    }
    Ok(())
}

/// Appends a checked line to the desk log, on `ex` (a pool, or a
/// transaction that writes what the line tells of).
pub async fn insert_event<'e>(
    ex: impl sqlx::PgExecutor<'e>,
    level: EventLevel,
    kind: EventKind,
    message: &str,
) -> Result<DeskEvent> {
    check_message(message)?;
    Ok(sqlx::query_as("INSERT INTO desk_events (level, kind, message) VALUES ($1, $2, $3) RETURNING *")
        .bind(level)
        .bind(kind)
        .bind(message)
        .fetch_one(ex)
        .await?)
}

impl Db {
    /// Appends an event to the desk log.
    pub async fn record_event(&self, level: EventLevel, kind: EventKind, message: &str) -> Result<DeskEvent> {
        insert_event(&self.pool, level, kind, message).await
    }

    /// The newest `limit` events, oldest first.
    pub async fn recent_events(&self, limit: i64) -> Result<Vec<DeskEvent>> {
        Ok(sqlx::query_as("SELECT * FROM (SELECT * FROM desk_events ORDER BY id DESC LIMIT $1) newest ORDER BY id")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    /// The desk log of an IST trading day, oldest first.
    pub async fn events_on(&self, day: chrono::NaiveDate) -> Result<Vec<DeskEvent>> {
        Ok(sqlx::query_as(
            "SELECT * FROM desk_events WHERE at >= xcoin_day_start($1) AND at < xcoin_day_start($1 + 1) ORDER BY id",
        )
        .bind(day)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Events by id, oldest first (what a batch of notifications names).
    pub async fn events_by_ids(&self, ids: &[i64]) -> Result<Vec<DeskEvent>> {
        Ok(sqlx::query_as("SELECT * FROM desk_events WHERE id = ANY($1) ORDER BY id")
            .bind(ids)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Deletes events older than the retention; returns how many went.
    pub async fn prune_events(&self) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM desk_events WHERE at < xcoin_now() - make_interval(days => $1::int)")
            .bind(RETENTION_DAYS as i32)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
