//! The operator command queue. Consoles enqueue; the engine claims the oldest
//! pending command with `FOR UPDATE SKIP LOCKED` (so two claimers never take
//! the same one), executes it, and marks it DONE or FAILED with a result.
//!
//! The payload is read as text and decoded by the engine after the claim, so
//! a payload that cannot be decoded fails its own command and never the
//! claim (which would leave it RUNNING and stop the next engine's start).

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::{Db, DbError, Result};
use crate::domain::command::{CommandKind, CommandStatus, MAX_PAYLOAD_BYTES, OperatorCommand, PayloadError};
use crate::domain::order::FieldError;

/// The columns a [`CommandRecord`] is read from: the payload as text.
macro_rules! command_columns {
    () => {
        "id, command, payload::text AS payload, status, requested_by, requested_at, claimed_at, completed_at, result"
    };
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct CommandRecord {
    pub id: i64,
    pub command: CommandKind,
    /// The stored JSON, as text: decoded by [`CommandRecord::parsed`].
    pub payload: String,
    pub status: CommandStatus,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub result: Option<String>,
}

impl CommandRecord {
    /// The typed command, or why its payload does not fit.
    pub fn parsed(&self) -> Result<OperatorCommand, PayloadError> {
        OperatorCommand::from_parts(self.command, &self.payload)
    }
}

impl Db {
    /// Enqueues a command after checking what it carries: a command that
    /// could never run is refused here, with the field named, and not stored.
    pub async fn enqueue_command(&self, command: &OperatorCommand, requested_by: &str) -> Result<CommandRecord> {
        let (record, _) = self.enqueue(command, requested_by, None).await?;
        Ok(record)
    }

    /// Enqueues a command carrying its sender's own id (a webhook signal's):
    /// the same id from the same sender again is the first command, returned
    /// with `true`, and nothing new is queued.
    pub async fn enqueue_once(
        &self,
        command: &OperatorCommand,
        requested_by: &str,
        client_id: &str,
    ) -> Result<(CommandRecord, bool)> {
        if client_id.is_empty() || client_id.chars().count() > 64 {
            return Err(FieldError::new("id", "the signal's own id, 1 to 64 characters").into());
        }
        self.enqueue(command, requested_by, Some(client_id)).await
    }

    async fn enqueue(
        &self,
        command: &OperatorCommand,
        requested_by: &str,
        client_id: Option<&str>,
    ) -> Result<(CommandRecord, bool)> {
        let who = requested_by.trim();
        if who.is_empty() || who.chars().count() > 64 {
            return Err(FieldError::new("requested_by", "must name the operator in 1 to 64 characters").into());
        }
        command.check()?;
        let payload = command.payload();
        let bytes = payload.to_string().len();
        if bytes > MAX_PAYLOAD_BYTES {
            return Err(
                FieldError::new("payload", format!("{bytes} bytes, at most {MAX_PAYLOAD_BYTES} are allowed")).into()
            );
        }
        let inserted: Option<CommandRecord> = sqlx::query_as(concat!(
            // An operator's login role names itself: the database refuses any other name.
            "INSERT INTO operator_commands (command, payload, requested_by, client_id)
             VALUES ($1, $2, CASE WHEN xcoin_session_is_operator() THEN session_user ELSE $3 END, $4)
             ON CONFLICT (requested_by, client_id) WHERE client_id IS NOT NULL DO NOTHING RETURNING ",
            command_columns!()
        ))
        .bind(command.kind())
        .bind(payload)
        .bind(who)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(record) = inserted {
            return Ok((record, false));
        }
        let first = sqlx::query_as(concat!(
            "SELECT ",
            command_columns!(),
            " FROM operator_commands
             WHERE requested_by = CASE WHEN xcoin_session_is_operator() THEN session_user ELSE $1 END
               AND client_id = $2"
        ))
        .bind(who)
        .bind(client_id)
        .fetch_one(&self.pool)
        .await?;
        Ok((first, true))
    }

    /// Claims the oldest PENDING command (marks it RUNNING), if any.
    pub async fn claim_next_command(&self) -> Result<Option<CommandRecord>> {
        Ok(sqlx::query_as(concat!(
            "UPDATE operator_commands SET status = 'RUNNING', claimed_at = xcoin_now()
              WHERE id = (SELECT id FROM operator_commands WHERE status = 'PENDING'
                           ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
              RETURNING ",
            command_columns!()
        ))
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn finish_command(&self, id: i64, status: CommandStatus, result: &str) -> Result<CommandRecord> {
        let finished: Option<CommandRecord> = sqlx::query_as(concat!(
            "UPDATE operator_commands SET status = $2, result = $3, completed_at = xcoin_now()
              WHERE id = $1 AND status = 'RUNNING' RETURNING ",
            command_columns!()
        ))
        .bind(id)
        .bind(status)
        .bind(result)
        .fetch_optional(&self.pool)
        .await?;
        match finished {
            Some(c) => Ok(c),
            None => {
                let current = self.get_command(id).await?;
                Err(DbError::Conflict(format!("command {id} is {}, not RUNNING", current.status)))
            }
        }
    }

    /// Marks a RUNNING command DONE with what it did.
    pub async fn complete_command(&self, id: i64, result: &str) -> Result<CommandRecord> {
        self.finish_command(id, CommandStatus::Done, result).await
    }

    /// Marks a RUNNING command FAILED with why.
    pub async fn fail_command(&self, id: i64, reason: &str) -> Result<CommandRecord> {
        self.finish_command(id, CommandStatus::Failed, reason).await
    }

    /// The commands claimed and not finished, oldest first: under a running
    /// engine only the one it is executing; at its start, what a stopped
    /// engine left, each to be given its outcome (looked up, not guessed).
    pub async fn running_commands(&self) -> Result<Vec<CommandRecord>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            command_columns!(),
            " FROM operator_commands WHERE status = 'RUNNING' ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn get_command(&self, id: i64) -> Result<CommandRecord> {
        sqlx::query_as(concat!("SELECT ", command_columns!(), " FROM operator_commands WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| DbError::not_found("operator command", id))
    }

    /// The command once the engine has answered it (DONE or FAILED), or as
    /// it stands when `within` has passed: what a caller outside the console
    /// (`xcoin order`, a webhook signal) waits for.
    pub async fn command_result(&self, id: i64, within: std::time::Duration) -> Result<CommandRecord> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let c = self.get_command(id).await?;
            if matches!(c.status, CommandStatus::Done | CommandStatus::Failed)
                || tokio::time::Instant::now() >= deadline
            {
                return Ok(c);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub async fn commands_by_ids(&self, ids: &[i64]) -> Result<Vec<CommandRecord>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            command_columns!(),
            " FROM operator_commands WHERE id = ANY($1) ORDER BY id"
        ))
        .bind(ids)
        .fetch_all(&self.pool)
        .await?)
    }
}
