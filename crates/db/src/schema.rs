//! Migrations (embedded in the binary) and verification that every table,
//! view and function the code relies on exists.

use sqlx::migrate::Migrator;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use super::{Db, Result};

/// The migrations in `migrations/`, embedded at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

pub const TABLES: &[&str] = &[
    "strategies",
    "orders",
    "trades",
    "positions",
    "reconciliation_log",
    "kill_switch_events",
    "daily_stats",
    "operator_commands",
    "position_adjustments",
    "desk_events",
    "goal_events",
];

pub const VIEWS: &[&str] = &["v_active_positions", "v_reconciliation_issues", "v_today_orders"];

pub const FUNCTIONS: &[&str] =
    &["calculate_trade_values", "get_order_to_trade_ratio", "get_today_pnl", "update_position_pnl"];

/// What exists and what is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaReport {
    pub tables: Vec<(String, bool)>,
    pub views: Vec<(String, bool)>,
    pub functions: Vec<(String, bool)>,
    /// The newest applied migration, if any.
    pub version: Option<i64>,
    /// The newest migration this binary carries.
    pub expected_version: i64,
}

impl SchemaReport {
    pub fn missing(&self) -> Vec<&str> {
        self.tables
            .iter()
            .chain(&self.views)
            .chain(&self.functions)
            .filter(|(_, present)| !present)
            .map(|(name, _)| name.as_str())
            .collect()
    }

    pub fn is_complete(&self) -> bool {
        self.missing().is_empty() && self.version == Some(self.expected_version)
    }
}

pub fn expected_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

impl Db {
    /// Applies pending migrations. Safe to run any number of times, from any
    /// number of processes at once (sqlx takes an advisory lock).
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// Numbers this database's orders and positions from `first` while it
    /// has none (a paper book: its ids never name one of the desk's, so an
    /// id from one book given to the other is not found instead of acting on
    /// something else). Returns whether every order and position is numbered
    /// from `first` now; `false` for a database that already holds lower ids.
    pub async fn number_from(&self, first: i64) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("LOCK TABLE orders, positions IN EXCLUSIVE MODE").execute(&mut *tx).await?;
        let lowest: Option<i64> =
            sqlx::query_scalar("SELECT least((SELECT min(id) FROM orders), (SELECT min(id) FROM positions))")
                .fetch_one(&mut *tx)
                .await?;
        if lowest.is_none() {
            for table in ["orders", "positions"] {
                sqlx::query(&format!("ALTER TABLE {table} ALTER COLUMN id RESTART WITH {first}"))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(lowest.is_none_or(|id| id >= first))
    }

    /// Checks every table, view and function by name, and the migration version.
    pub async fn verify_schema(&self) -> Result<SchemaReport> {
        let present = |rows: Vec<(String,)>, wanted: &[&str]| -> Vec<(String, bool)> {
            wanted.iter().map(|w| (w.to_string(), rows.iter().any(|(n,)| n == w))).collect()
        };
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT table_name::text FROM information_schema.tables
              WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        )
        .fetch_all(&self.pool)
        .await?;
        let views: Vec<(String,)> = sqlx::query_as(
            "SELECT table_name::text FROM information_schema.views WHERE table_schema = current_schema()",
        )
        .fetch_all(&self.pool)
        .await?;
        let functions: Vec<(String,)> = sqlx::query_as(
            "SELECT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = current_schema()",
        )
        .fetch_all(&self.pool)
        .await?;
        let has_ledger = tables.iter().any(|(n,)| n == "_sqlx_migrations");
        let version: Option<i64> = if has_ledger {
            sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success").fetch_one(&self.pool).await?
        } else {
            None
        };
        Ok(SchemaReport {
            tables: present(tables, TABLES),
            views: present(views, VIEWS),
            functions: present(functions, FUNCTIONS),
            version,
            expected_version: expected_version(),
        })
    }
}

/// Creates the database `options` names when it does not exist, connecting to
/// the server's `postgres` maintenance database. Returns whether it created it.
pub async fn create_database_if_missing(options: &PgConnectOptions) -> Result<bool> {
    let name = options.get_database().unwrap_or("xcoin").to_string();
    let mut admin = options.clone().database("postgres").connect().await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&mut admin)
        .await?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        let created = sqlx::query(&format!("CREATE DATABASE {quoted}")).execute(&mut admin).await;
        // Another process may have created it between the check and here.
        if let Err(e) = created {
            let duplicate = matches!(&e, sqlx::Error::Database(d) if d.code().as_deref() == Some("42P04"));
            if !duplicate {
                return Err(e.into());
            }
        }
    }
    admin.close().await?;
    Ok(!exists)
}
