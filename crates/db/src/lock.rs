//! One engine per database: the engine holds a PostgreSQL advisory lock on a
//! connection of its own for as long as it trades. If that connection is lost
//! the lock is gone too, so the engine stops placing orders until it holds
//! the lock again (fail closed).

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

/// Who holds the engine lock, for the message to a second engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub pid: i32,
    pub application: String,
    pub client: String,
    pub since: Option<chrono::DateTime<chrono::Utc>>,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "server pid {} ({}, from {}", self.pid, self.application, self.client)?;
        if let Some(since) = self.since {
            write!(f, ", connected since {}", since.format("%Y-%m-%d %H:%M:%S UTC"))?;
        }
        write!(f, ")")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another engine is already trading this database: {0}. Stop it first; only one engine may trade a database."
    )]
    Held(LockHolder),
    #[error("cannot take the engine lock: {0}")]
    Db(#[from] sqlx::Error),
}

pub struct EngineLock {
    options: PgConnectOptions,
    conn: Option<PgConnection>,
}

/// The advisory lock key the trading engine holds while it runs (one engine
/// per database). "XCOINENG" in ASCII.
pub const ENGINE_LOCK_KEY: i64 = 0x58434F494E454E47;

type HolderRow = (i32, String, Option<String>, Option<chrono::DateTime<chrono::Utc>>);

/// The engine lock's entries in `pg_locks` (`l`) on this database: the
/// active engine's, granted, and each standby's, waiting. `$1` is the key.
macro_rules! engine_locks {
    () => {
        "l.locktype = 'advisory' AND l.objsubid = 1
            AND ((l.classid::bigint << 32) | l.objid::bigint) = $1
            AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    };
}

/// Who holds the engine lock on this database, if anyone. The one query
/// behind the engine's refusal, `xcoin doctor` and the console's header.
pub async fn holder<'e>(ex: impl sqlx::PgExecutor<'e>) -> Result<Option<LockHolder>, sqlx::Error> {
    let row: Option<HolderRow> = sqlx::query_as(concat!(
        "SELECT a.pid, a.application_name, host(a.client_addr), a.backend_start
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.granted AND ",
        engine_locks!(),
        " LIMIT 1"
    ))
    .bind(ENGINE_LOCK_KEY)
    .fetch_optional(ex)
    .await?;
    Ok(row.map(|(pid, application, client, since)| LockHolder {
        pid,
        application: if application.is_empty() { "unnamed client".into() } else { application },
        client: client.unwrap_or_else(|| "local socket".into()),
        since,
    }))
}

/// Who trades this database and who stands by, as the console's header
/// shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineWatch {
    /// The server pid of the active engine's lock connection.
    pub active: Option<i32>,
    /// Standby engines waiting to take over: a standby's
    /// `pg_advisory_lock` shows in `pg_locks` as not yet granted.
    pub standbys: i64,
}

/// The active engine and the standbys, in one query.
pub async fn watch<'e>(ex: impl sqlx::PgExecutor<'e>) -> Result<EngineWatch, sqlx::Error> {
    let (active, standbys): (Option<i32>, i64) = sqlx::query_as(concat!(
        "SELECT max(l.pid) FILTER (WHERE l.granted), count(*) FILTER (WHERE NOT l.granted) FROM pg_locks l WHERE ",
        engine_locks!()
    ))
    .bind(ENGINE_LOCK_KEY)
    .fetch_one(ex)
    .await?;
    Ok(EngineWatch { active, standbys })
}

impl super::Db {
    /// Who holds the engine lock on this database, if anyone.
    pub async fn engine_lock_holder(&self) -> super::Result<Option<LockHolder>> {
        Ok(holder(&self.pool).await?)
    }

    /// The active engine and the standbys waiting to take over.
    pub async fn engine_watch(&self) -> super::Result<EngineWatch> {
        Ok(watch(&self.pool).await?)
    }
}

/// The lock connection's TCP keepalives: if the active engine's machine is
/// lost without closing its socket, the server ends its session (and so
/// releases the lock to a standby) after about 2 + 3 × 1 seconds of silence
/// instead of the operating system's default two hours. A Unix-socket
/// connection ignores them; its peer's death is seen at once.
const KEEPALIVES: &str = "SELECT set_config('tcp_keepalives_idle', '2', false), \
     set_config('tcp_keepalives_interval', '1', false), set_config('tcp_keepalives_count', '3', false)";

/// The application name an engine's lock connection carries while it trades.
const ACTIVE_NAME: &str = "xcoin engine";

/// The application name of a standby's waiting connection.
pub const STANDBY_NAME: &str = "xcoin engine (standby)";

impl EngineLock {
    /// Takes the lock or says who holds it.
    pub async fn acquire(options: PgConnectOptions) -> Result<EngineLock, LockError> {
        let options = options.application_name(ACTIVE_NAME);
        let mut conn = options.connect().await?;
        sqlx::query(KEEPALIVES).execute(&mut conn).await?;
        let got: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(ENGINE_LOCK_KEY).fetch_one(&mut conn).await?;
        if !got {
            let who = holder(&mut conn).await?.unwrap_or(LockHolder {
                pid: 0,
                application: "unknown".into(),
                client: "unknown".into(),
                since: None,
            });
            let _ = conn.close().await;
            return Err(LockError::Held(who));
        }
        Ok(EngineLock { options, conn: Some(conn) })
    }

    /// A standby engine's wait: blocks on the lock until the engine that
    /// holds it ends its session (a stop, a crash, a lost machine), then
    /// holds it as the active engine. `None` when `stop` turned true first.
    /// While it waits, consoles count it as a standby
    /// ([`watch`]); the server wakes it the moment the lock is free.
    pub async fn wait(
        options: PgConnectOptions,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<Option<EngineLock>, LockError> {
        let mut first = true;
        loop {
            match Self::wait_once(&options, &mut stop, first).await {
                Ok(taken) => return Ok(taken),
                // The wait's own connection lost (a database restart, a cut
                // session): the standby waits again; it never gives up by itself.
                Err(e) => tracing::warn!(error = %e, "standby: the wait's connection was lost; waiting again in 1 s"),
            }
            first = false;
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                _ = stop.wait_for(|stopped| *stopped) => return Ok(None),
            }
        }
    }

    /// One wait on one connection (see [`EngineLock::wait`]).
    async fn wait_once(
        options: &PgConnectOptions,
        stop: &mut tokio::sync::watch::Receiver<bool>,
        say: bool,
    ) -> Result<Option<EngineLock>, sqlx::Error> {
        let mut conn = options.clone().application_name(STANDBY_NAME).connect().await?;
        // A wait whose client has gone (the standby stopped, its process
        // killed) must not linger in the server and take the lock: the server
        // checks the client every second while it waits (PostgreSQL 14 and
        // later; an older server ends it when it hands over the lock).
        let _ = sqlx::query("SELECT set_config('client_connection_check_interval', '1000', false)")
            .execute(&mut conn)
            .await;
        if say && let Some(active) = holder(&mut conn).await? {
            tracing::info!(%active, "standby: waiting to take over from the active engine");
        }
        let taken = tokio::select! {
            taken = sqlx::query("SELECT pg_advisory_lock($1)").bind(ENGINE_LOCK_KEY).execute(&mut conn) => taken,
            // The connection, dropped mid-query, ends the session and its wait.
            _ = stop.wait_for(|stopped| *stopped) => return Ok(None),
        };
        taken?;
        sqlx::query(KEEPALIVES).execute(&mut conn).await?;
        sqlx::query("SELECT set_config('application_name', $1, false)").bind(ACTIVE_NAME).execute(&mut conn).await?;
        Ok(Some(EngineLock { options: options.clone().application_name(ACTIVE_NAME), conn: Some(conn) }))
    }

    /// Whether the lock is still held; tries to take it again when its
    /// connection was lost. `false` means: do not trade.
    pub async fn check(&mut self) -> bool {
        if let Some(conn) = self.conn.as_mut() {
            if sqlx::query("SELECT 1").execute(&mut *conn).await.is_ok() {
                return true;
            }
            tracing::error!("the engine lock connection was lost; trading stops until the lock is held again");
            self.conn = None;
        }
        match self.options.connect().await {
            Ok(mut conn) => {
                let _ = sqlx::query(KEEPALIVES).execute(&mut conn).await;
                let got: Result<bool, _> = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                    .bind(ENGINE_LOCK_KEY)
                    .fetch_one(&mut conn)
                    .await;
                if matches!(got, Ok(true)) {
                    tracing::info!("engine lock held again; trading resumes");
                    self.conn = Some(conn);
                    true
                } else {
                    false
                }
            }
            Err(_) => false,
        }
    }

    pub fn is_held(&self) -> bool {
        self.conn.is_some()
    }

    /// The server pid of the lock connection (tests kill it).
    pub async fn backend_pid(&mut self) -> Option<i32> {
        let conn = self.conn.as_mut()?;
        sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(conn).await.ok()
    }

    pub async fn release(mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
    }
}
