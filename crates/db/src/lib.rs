//! The async database layer: every operation the desk needs, over one sqlx
//! pool. Each public operation is one transaction; the `*_in` functions take a
//! connection so that larger business operations can compose them inside a
//! single transaction of their own.
//!
//! Files: `orders`, `positions`, `trades` (fills), `reconciliation`, `stats`,
//! `strategies`, `kill_switch`, `commands` (the operator command queue),
//! `changes` (the LISTEN/NOTIFY change feed), `schema` (migrations and
//! verification), `raw` (read-only ad-hoc queries), `local` (the managed local
//! PostgreSQL), `provision` (making a database ready, step by step), `report`
//! (the day's report and today's summary).
//!
//! The third layer: it uses the model and the configuration, and nothing
//! above them (the engine, the brokers, the console).

pub mod bench;
pub mod changes;
pub mod commands;
pub mod events;
pub mod kill_switch;
pub mod local;
pub mod lock;
pub mod metrics;
pub mod orders;
pub mod positions;
pub mod provision;
pub mod raw;
pub mod reconciliation;
pub mod report;
pub mod schema;
pub mod stats;
pub mod strategies;
pub mod target;
pub mod trades;
pub mod users;

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool};

pub use target::Target;

use xcoin_config::DatabaseSettings;
use xcoin_model::order::{FieldError, OrderStatus, TransitionError};

/// A database operation that did not happen, and why.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{entity} {key} does not exist")]
    NotFound { entity: &'static str, key: String },
    #[error("order {order_id} cannot go from {from} to {to}")]
    Transition { order_id: i64, from: OrderStatus, to: OrderStatus },
    #[error("{0}")]
    Invalid(#[from] FieldError),
    #[error("{0}")]
    Conflict(String),
    /// The server could not be reached at all: the address and why, once.
    #[error("cannot reach PostgreSQL at {address}: {reason}")]
    Unreachable { address: String, reason: String },
    #[error(transparent)]
    Local(#[from] local::LocalDbError),
}

/// Where a connection goes: `host:port`, or the socket directory.
pub fn address(options: &PgConnectOptions) -> String {
    match options.get_socket() {
        Some(dir) => format!("the socket in {}", dir.display()),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    }
}

/// Tries one connection, so a server that is not there is said at once
/// (a pool would retry until its timeout and then say only "timed out").
/// A server that answers and refuses (password, missing database) keeps its
/// own message.
pub async fn probe(options: &PgConnectOptions, timeout: Duration) -> Result<()> {
    use sqlx::{ConnectOptions, Connection};
    let unreachable = |reason: String| DbError::Unreachable { address: address(options), reason };
    match tokio::time::timeout(timeout, options.connect()).await {
        Err(_) => Err(unreachable(format!("no answer within {} s", timeout.as_secs_f64()))),
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(sqlx::Error::Io(e))) => Err(unreachable(match e.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused: no server listens there; start it, or \
                                                      check database.url's host and port"
                .to_string(),
            std::io::ErrorKind::NotFound => "no socket there: the server is not running".to_string(),
            _ => e.to_string(),
        })),
        Ok(Err(e)) => Err(e.into()),
    }
}

impl DbError {
    pub(crate) fn not_found(entity: &'static str, key: impl ToString) -> Self {
        DbError::NotFound { entity, key: key.to_string() }
    }

    pub(crate) fn transition(order_id: i64, e: TransitionError) -> Self {
        DbError::Transition { order_id, from: e.from, to: e.to }
    }

    /// Whether the database could not be reached or went away mid-operation
    /// (as opposed to refusing the operation): worth trying again later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Sqlx(
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Protocol(_)
                | sqlx::Error::WorkerCrashed,
            ) => true,
            DbError::Unreachable { .. } => true,
            // connection_exception (08…) and operator_intervention (57P…: shutdown, crash).
            DbError::Sqlx(sqlx::Error::Database(e)) => {
                e.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P"))
            }
            _ => false,
        }
    }

    /// The SQLSTATE of a server-side error, if this is one.
    pub fn sqlstate(&self) -> Option<String> {
        match self {
            DbError::Sqlx(sqlx::Error::Database(e)) => e.code().map(|c| c.to_string()),
            _ => None,
        }
    }
}

pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// Pool sizing and timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    pub min: u32,
    pub max: u32,
    pub connect_timeout: Duration,
    pub statement_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig::from(&DatabaseSettings::default())
    }
}

impl From<&DatabaseSettings> for PoolConfig {
    fn from(s: &DatabaseSettings) -> Self {
        PoolConfig {
            min: s.pool_min,
            max: s.pool_max,
            connect_timeout: Duration::from_secs(s.connect_timeout_secs),
            statement_timeout: Duration::from_millis(s.statement_timeout_ms),
        }
    }
}

/// Parses a postgres:// URL into connect options, with XCoin's session defaults.
pub fn connect_options(url: &str) -> Result<PgConnectOptions> {
    Ok(PgConnectOptions::from_str(url)?.application_name("xcoin"))
}

/// The database handle: a pool plus the operations in this module's files.
#[derive(Debug, Clone)]
pub struct Db {
    pool: PgPool,
}

/// What `health` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub server_version: String,
    pub latency: Duration,
    pub table_count: i64,
    pub pool_size: u32,
    pub pool_idle: usize,
}

impl Db {
    /// Opens a pool. Fails fast (within the connect timeout) when the server
    /// cannot be reached, so a wrong URL is reported at start.
    pub async fn connect(options: PgConnectOptions, pool: PoolConfig) -> Result<Db> {
        probe(&options, pool.connect_timeout).await?;
        let statement_timeout = pool.statement_timeout.as_millis().to_string();
        let mut options = options.options([("statement_timeout", statement_timeout.as_str())]);
        // The desk's clock, shifted for a test run: xcoin_now() reads it.
        // (A test that pins a database's clock of its own has set it already.)
        let shift = xcoin_model::clock::shift();
        let pinned = options.get_options().is_some_and(|o| o.contains("xcoin.clock_shift_ms"));
        if !shift.is_zero() && !pinned {
            options = options.options([("xcoin.clock_shift_ms", shift.num_milliseconds().to_string().as_str())]);
        }
        let pool = PgPoolOptions::new()
            .min_connections(pool.min)
            .max_connections(pool.max)
            .acquire_timeout(pool.connect_timeout)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        Ok(Db { pool })
    }

    /// The pool, for SQL that is not the desk's: tests set up situations
    /// the layer refuses. Outside tests every statement lives in `db/`.
    #[cfg(any(test, feature = "test-support"))]
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// How this database is reached (for connections of one's own, such as
    /// the engine lock's).
    pub fn connect_options(&self) -> PgConnectOptions {
        self.pool.connect_options().as_ref().clone()
    }

    /// How this connection is protected: TLS version and cipher as the server
    /// sees them, or `None` when it is not encrypted.
    pub async fn tls(&self) -> Result<Option<(String, String)>> {
        Ok(sqlx::query_as("SELECT version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl")
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Closes every connection; waits for checked-out ones to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Round trip, server version and how many XCoin tables exist.
    pub async fn health(&self) -> Result<Health> {
        let started = Instant::now();
        let (version, tables): (String, i64) = sqlx::query_as(
            "SELECT current_setting('server_version'),
                    (SELECT count(*) FROM information_schema.tables
                      WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
                        AND table_name = ANY($1))",
        )
        .bind(schema::TABLES)
        .fetch_one(&self.pool)
        .await?;
        Ok(Health {
            server_version: version,
            latency: started.elapsed(),
            table_count: tables,
            pool_size: self.pool.size(),
            pool_idle: self.pool.num_idle(),
        })
    }

    /// This database's identity, a UUID of its own: stable for the life of the
    /// database, new for a copy of it (a clone or a restore). What the paper
    /// exchange keys its book by, so two desks never share one.
    pub async fn database_identity(&self) -> Result<String> {
        Ok(sqlx::query_scalar("SELECT xcoin_private.database_identity()::text").fetch_one(&self.pool).await?)
    }

    /// Runs `f` inside one transaction: committed when it returns `Ok`, rolled
    /// back when it returns `Err` (or panics, or is dropped mid-way).
    pub async fn transaction<T, F>(&self, f: F) -> Result<T>
    where
        F: AsyncFnOnce(&mut PgConnection) -> Result<T>,
    {
        let mut tx = self.pool.begin().await?;
        let value = f(&mut tx).await?;
        tx.commit().await?;
        Ok(value)
    }
}

/// A text field that must say something: trimmed, not empty, and within the
/// length every free-text field has.
pub(crate) fn required<'a>(field: &'static str, value: &'a str) -> Result<&'a str> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldError::new(field, "must not be empty").into());
    }
    xcoin_model::command::check_length(field, value)?;
    Ok(value)
}
