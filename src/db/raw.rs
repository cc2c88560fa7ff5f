//! Read-only ad-hoc queries (an operator's `:sql`, diagnostics).
//!
//! A raw query can read but never write: it runs as ONE prepared statement
//! (so `COMMIT; DELETE …` is refused by the server, which does not prepare
//! several statements at once), inside a READ ONLY transaction that is always
//! rolled back, under a statement timeout, as the `xcoin_reader` role where it
//! exists (SELECT only; no pg_notify, no advisory locks), on a connection of
//! its own that is closed afterwards so no session state outlives the query.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use sqlx::postgres::PgRow;
use sqlx::{Column, ConnectOptions, Connection, Row, TypeInfo, ValueRef};

use super::{Db, Result};

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

impl Db {
    /// Runs one read-only statement with a timeout. See the module docs for
    /// what makes it unable to write.
    pub async fn raw_query(&self, sql: &str, timeout: Duration) -> Result<RawRows> {
        let options = self.pool.connect_options().as_ref().clone();
        let mut conn = options.connect().await?;
        let result = async {
            let mut tx = conn.begin().await?;
            sqlx::query("SET TRANSACTION READ ONLY").execute(&mut *tx).await?;
            let millis = timeout.as_millis().clamp(1, i32::MAX as u128).to_string();
            sqlx::query("SELECT set_config('statement_timeout', $1, true)").bind(&millis).execute(&mut *tx).await?;
            let reader: bool = sqlx::query_scalar(
                "SELECT pg_has_role(current_user, 'xcoin_reader', 'MEMBER')
                                                    FROM pg_roles WHERE rolname = 'xcoin_reader'",
            )
            .fetch_optional(&mut *tx)
            .await?
            .unwrap_or(false);
            if reader {
                sqlx::query("SET LOCAL ROLE xcoin_reader").execute(&mut *tx).await?;
            }
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
