//! Read-only ad-hoc queries (an operator's `:sql`, diagnostics).
//!
//! A raw query runs as this database's reader: a role of its own that XCoin
//! logs in as (never `SET ROLE`, which one statement could undo), with SELECT
//! on XCoin's tables and nothing else — no superuser, no file functions, no
//! advisory locks, no signalling other sessions, no other database's data.
//! Migration 0004 creates it with a generated password that only the owner
//! can read. On top of that the query is ONE prepared statement (so
//! `COMMIT; DELETE …` is refused by the server, which does not prepare several
//! statements at once), inside a READ ONLY transaction that is always rolled
//! back, under a statement timeout, on a connection of its own that is closed
//! afterwards so no session state outlives the query.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use sqlx::postgres::{PgConnectOptions, PgRow};
use sqlx::{Column, ConnectOptions, Connection, Row, TypeInfo, ValueRef};

use super::{Db, DbError, Result};

/// Column names and rows, every value rendered as text (`NULL` for null).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

fn render(row: &PgRow, i: usize) -> String {
    let Ok(raw) = row.try_get_raw(i) else {
        return "?".into();
    };
    if raw.is_null() {
        return "NULL".into();
    }
    let type_name = raw.type_info().name().to_string();
    let text = match type_name.as_str() {
        "BOOL" => row.try_get::<bool, _>(i).map(|v| v.to_string()),
        "INT2" => row.try_get::<i16, _>(i).map(|v| v.to_string()),
        "INT4" => row.try_get::<i32, _>(i).map(|v| v.to_string()),
        "INT8" => row.try_get::<i64, _>(i).map(|v| v.to_string()),
        "FLOAT4" => row.try_get::<f32, _>(i).map(|v| v.to_string()),
        "FLOAT8" => row.try_get::<f64, _>(i).map(|v| v.to_string()),
        "NUMERIC" => row.try_get::<Decimal, _>(i).map(|v| v.to_string()),
        "TIMESTAMPTZ" => row.try_get::<DateTime<Utc>, _>(i).map(|v| v.to_rfc3339()),
        "TIMESTAMP" => row.try_get::<NaiveDateTime, _>(i).map(|v| v.to_string()),
        "DATE" => row.try_get::<NaiveDate, _>(i).map(|v| v.to_string()),
        "JSON" | "JSONB" => row.try_get::<serde_json::Value, _>(i).map(|v| v.to_string()),
        _ => row.try_get::<String, _>(i),
    };
    text.unwrap_or_else(|_| format!("<{type_name}>"))
}

/// Undefined schema or table: a database migrated before the reader existed.
fn not_migrated(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("3F000" | "42P01")))
}

impl Db {
    /// The reader's login: the owner's connection settings (server, database,
    /// TLS) with the reader's name and password.
    async fn reader_options(&self) -> Result<PgConnectOptions> {
        let login: Option<(String, String)> =
            match sqlx::query_as("SELECT role_name, password FROM xcoin_private.reader_login")
                .fetch_optional(&self.pool)
                .await
            {
                Ok(login) => login,
                Err(e) if not_migrated(&e) => {
                    return Err(DbError::Conflict(
                        "raw queries run only as this database's read-only role, which comes with its schema: \
                         run `xcoin setup`"
                            .into(),
                    ));
                }
                Err(e) => return Err(e.into()),
            };
        let Some((role, password)) = login else {
            return Err(DbError::Conflict(
                "raw queries run only as this database's read-only role, and it has none: the role that \
                 migrated the database may not create roles; have one that may (CREATEROLE) run \
                 SELECT xcoin_private.ensure_reader()"
                    .into(),
            ));
        };
        Ok(self.pool.connect_options().as_ref().clone().username(&role).password(&password))
    }

    /// Runs one read-only statement with a timeout. See the module docs for
    /// what makes it unable to write or to reach beyond XCoin's tables.
    pub async fn raw_query(&self, sql: &str, timeout: Duration) -> Result<RawRows> {
        let options = self.reader_options().await?;
        // Refused logins (28…: authentication; 42501: no CONNECT) name the
        // role; an unreachable server stays an ordinary, retryable error.
        let mut conn = options.connect().await.map_err(|e| match e {
            sqlx::Error::Database(d) if d.code().is_some_and(|c| c.starts_with("28") || c == "42501") => {
                DbError::Conflict(format!(
                    "cannot log in as the read-only role {} for raw queries: {}; the server must admit it as it \
                 admits the application's role",
                    options.get_username(),
                    d.message()
                ))
            }
            e => e.into(),
        })?;
        let result = async {
            let mut tx = conn.begin().await?;
            sqlx::query("SET TRANSACTION READ ONLY").execute(&mut *tx).await?;
            let millis = timeout.as_millis().clamp(1, i32::MAX as u128).to_string();
            sqlx::query("SELECT set_config('statement_timeout', $1, true)").bind(&millis).execute(&mut *tx).await?;
            // persistent(false): prepared unnamed, never cached on the connection.
            let rows = sqlx::query(sql).persistent(false).fetch_all(&mut *tx).await?;
            tx.rollback().await?;
            let columns =
                rows.first().map(|r| r.columns().iter().map(|c| c.name().to_string()).collect()).unwrap_or_default();
            let rows = rows.iter().map(|r| (0..r.len()).map(|i| render(r, i)).collect()).collect();
            Ok::<_, sqlx::Error>(RawRows { columns, rows })
        }
        .await;
        let _ = conn.close().await;
        Ok(result?)
    }
}
