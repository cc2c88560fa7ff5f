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
use xcoin_model::command::{CommandKind, CommandStatus, MAX_PAYLOAD_BYTES, OperatorCommand, PayloadError};
use xcoin_model::order::FieldError;

/// The columns a [`CommandRecord`] is read from: the payload as text.
macro_rules! command_columns {
    () => {
        "id, command, payload::text AS payload, status, requested_by, requested_at, claimed_at, completed_at, result, expires_at"
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
    /// A placement's or modification's deadline (set by the database): past
    /// it, nothing is sent and the command ends EXPIRED. `None`: a cancel, an
    /// exit, exit-all or the kill switch, which never expire.
    pub expires_at: Option<DateTime<Utc>>,
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
    /// A placement or modification gets the desk's deadline
    /// (`commands.order_ttl_secs`).
    pub async fn enqueue_command(&self, command: &OperatorCommand, requested_by: &str) -> Result<CommandRecord> {
        let (record, _) = self.enqueue(command, requested_by, None, None).await?;
        Ok(record)
    }

    /// [`Db::enqueue_command`] with the sender's own deadline for a placement
    /// or modification: it is not sent once `ttl` has passed (at most an
    /// hour; other commands never expire).
    pub async fn enqueue_command_within(
        &self,
        command: &OperatorCommand,
        requested_by: &str,
        ttl: std::time::Duration,
    ) -> Result<CommandRecord> {
        let (record, _) = self.enqueue(command, requested_by, None, Some(ttl)).await?;
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
        xcoin_model::command::no_control("id", client_id)?;
        self.enqueue(command, requested_by, Some(client_id), None).await
    }

    async fn enqueue(
        &self,
        command: &OperatorCommand,
        requested_by: &str,
        client_id: Option<&str>,
        ttl: Option<std::time::Duration>,
    ) -> Result<(CommandRecord, bool)> {
        let who = requested_by.trim();
        if who.is_empty() || who.chars().count() > 64 {
            return Err(FieldError::new("requested_by", "must name the operator in 1 to 64 characters").into());
        }
        xcoin_model::command::no_control("requested_by", who)?;
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
            "INSERT INTO operator_commands (command, payload, requested_by, client_id, expires_at)
             VALUES ($1, $2, CASE WHEN xcoin_session_is_operator() THEN session_user ELSE $3 END, $4,
                     xcoin_now() + make_interval(secs => $5::float8))
             ON CONFLICT (requested_by, client_id) WHERE client_id IS NOT NULL DO NOTHING RETURNING ",
            command_columns!()
        ))
        .bind(command.kind())
        .bind(payload)
        .bind(who)
        .bind(client_id)
        .bind(ttl.map(|t| t.as_secs_f64()))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| match e.as_database_error() {
            // Too many waiting: the database's own words name the limit.
            Some(d) if d.constraint() == Some("operator_commands_max_pending") => DbError::Conflict(d.message().into()),
            _ => e.into(),
        })?;
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

    /// Claims the most urgent PENDING command within its deadline (marks it
    /// RUNNING), if any: the kill switch, then exit-all, exits and cancels,
    /// then placements and modifications, each oldest first
    /// (`xcoin_command_urgency`), so no queue of orders delays a way out.
    pub async fn claim_next_command(&self) -> Result<Option<CommandRecord>> {
        Ok(sqlx::query_as(concat!(
            "UPDATE operator_commands SET status = 'RUNNING', claimed_at = xcoin_now()
              WHERE id = (SELECT id FROM operator_commands
                           WHERE status = 'PENDING' AND (expires_at IS NULL OR expires_at > xcoin_now())
                           ORDER BY xcoin_command_urgency(command), id FOR UPDATE SKIP LOCKED LIMIT 1)
              RETURNING ",
            command_columns!()
        ))
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Ends every PENDING command past its deadline EXPIRED, nothing sent,
    /// with the time it expired (IST) as its result.
    pub async fn expire_overdue_commands(&self) -> Result<Vec<CommandRecord>> {
        Ok(sqlx::query_as(concat!(
            "UPDATE operator_commands
                SET status = 'EXPIRED', completed_at = xcoin_now(),
                    result = 'expired at ' || to_char(expires_at AT TIME ZONE 'Asia/Kolkata', 'HH24:MI:SS')
                             || ' IST before an engine took it: nothing was sent'
              WHERE status = 'PENDING' AND expires_at <= xcoin_now() RETURNING ",
            command_columns!()
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Writes the desk's command settings where the database applies them
    /// to every sender: at most `max_pending` waiting commands a login, and
    /// a placement's deadline when its sender names none.
    pub async fn set_command_limits(&self, max_pending: u32, order_ttl_secs: u32) -> Result<()> {
        sqlx::query("SELECT xcoin_set_command_limits($1, $2)")
            .bind(i32::try_from(max_pending).unwrap_or(i32::MAX))
            .bind(i32::try_from(order_ttl_secs).unwrap_or(i32::MAX))
            .execute(&self.pool)
            .await?;
        Ok(())
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
            if matches!(c.status, CommandStatus::Done | CommandStatus::Failed | CommandStatus::Expired)
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
