//! Test databases: every test gets a fresh database cloned from a migrated
//! template, on the server named by DATABASE_URL, else the server at
//! 127.0.0.1:5432 when it answers, else a throwaway cluster managed by
//! XCoin's own `db::local` in the temp directory.

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::sync::OnceCell;
use xcoin::db::local::LocalDb;
use xcoin::db::schema::MIGRATOR;
use xcoin::db::{Db, PoolConfig};
use xcoin::domain::order::{Exchange, OrderRequest, OrderType, Product, Side, Validity};

#[derive(Debug, Clone)]
struct Server {
    admin: PgConnectOptions,
    /// The admin connection as a URL whose path (the database) tests replace.
    admin_url: String,
    template: String,
}

static SERVER: OnceCell<Server> = OnceCell::const_new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

pub const TICK: Decimal = dec!(0.05);

fn with_database(url: &str, database: &str) -> String {
    let mut u = url::Url::parse(url).expect("a database URL");
    u.set_path(&format!("/{database}"));
    u.to_string()
}

async fn admin_options() -> (PgConnectOptions, String) {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        let url = with_database(&url, "postgres");
        return (PgConnectOptions::from_str(&url).expect("DATABASE_URL parses"), url);
    }
    let url = "postgres://postgres@127.0.0.1:5432/postgres".to_string();
    let local = PgConnectOptions::from_str(&url).unwrap();
    let probe = tokio::time::timeout(Duration::from_secs(3), local.connect()).await;
    if let Ok(Ok(conn)) = probe {
        let _ = conn.close().await;
        return (local, url);
    }
    let dir = std::env::temp_dir().join("xcoin-test-pg");
    let cluster = LocalDb::at(dir).expect("PostgreSQL server programs for a throwaway test cluster");
    cluster.ensure_running().expect("throwaway test cluster starts");
    (cluster.connect_options().database("postgres"), with_database(&cluster.url(), "postgres"))
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn exec(conn: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::query(sql).execute(conn).await.map(|_| ())
}

fn pid_alive(pid: &str) -> bool {
    std::path::Path::new("/proc").join(pid).exists()
}

async fn prepare_server() -> Server {
    let (admin, admin_url) = admin_options().await;
    let digest = MIGRATOR.iter().fold(0u64, |acc, m| {
        m.checksum.iter().fold(acc.rotate_left(5) ^ m.version as u64, |a, b| a.rotate_left(7) ^ *b as u64)
    });
    let template = format!("xcoin_tpl_{:012x}", digest & 0xffff_ffff_ffff);
    let mut conn = admin.connect().await.expect("admin connection to the test server");
    sqlx::query("SELECT pg_advisory_lock(7316001)").execute(&mut conn).await.unwrap();

    // Databases left by earlier runs whose process is gone.
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'xcoin\\_t\\_%' OR datname LIKE 'xcoin\\_tpl\\_%'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    // Another checkout's run may be using a template of other migrations:
    // those are dropped only while no other test process is alive.
    let own = std::process::id().to_string();
    let others_running = names.iter().filter_map(|n| n.strip_prefix("xcoin_t_")).any(|rest| {
        let pid = rest.split('_').next().unwrap_or("");
        pid != own && pid_alive(pid)
    });
    for name in names {
        let stale = match name.strip_prefix("xcoin_t_") {
            Some(rest) => !pid_alive(rest.split('_').next().unwrap_or("")),
            None => name != template && !others_running,
        };
        if stale {
            let _ = exec(&mut conn, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote(&name))).await;
        }
    }

    // Each migrated database creates a reader role; roles are cluster-wide and
    // outlive the databases dropped above. A reader nothing refers to any
    // more (no grant in any database) belongs to no database: drop it. Its
    // role and grants are committed together, so a migration running now is
    // either invisible here or already refers to it.
    let orphans: Vec<String> = sqlx::query_scalar(
        "SELECT r.rolname::text FROM pg_roles r
          WHERE r.rolname LIKE 'xcoin\\_reader\\_%'
            AND NOT EXISTS (SELECT 1 FROM pg_shdepend d WHERE d.refobjid = r.oid)",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for role in orphans {
        let _ = exec(&mut conn, &format!("DROP ROLE IF EXISTS {}", quote(&role))).await;
    }

    ensure_template(&mut conn, &admin, &template).await;
    sqlx::query("SELECT pg_advisory_unlock(7316001)").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    Server { admin, admin_url, template }
}

/// Builds the migrated template unless it exists (the caller holds the lock).
async fn ensure_template(conn: &mut PgConnection, admin: &PgConnectOptions, template: &str) {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(template)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    if !exists {
        let building = format!("{template}_building");
        let _ = exec(conn, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote(&building))).await;
        exec(conn, &format!("CREATE DATABASE {}", quote(&building))).await.unwrap();
        let mut tpl = admin.clone().database(&building).connect().await.unwrap();
        MIGRATOR.run(&mut tpl).await.expect("migrations apply to the template");
        tpl.close().await.unwrap();
        exec(conn, &format!("ALTER DATABASE {} RENAME TO {}", quote(&building), quote(template))).await.unwrap();
    }
}

/// The URL of a database on the test server that does not exist yet, with a
/// name unique to this process (cleaned up by a later run like the others).
pub async fn unused_database_url() -> String {
    let server = SERVER.get_or_init(prepare_server).await;
    let name = format!("xcoin_t_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
    with_database(&server.admin_url, &name)
}

/// A fresh, migrated database of its own.
pub struct TestDb {
    pub db: Db,
    pub options: PgConnectOptions,
}

impl std::ops::Deref for TestDb {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.db
    }
}

impl TestDb {
    /// The database's URL, for running the `xcoin` binary against it.
    pub fn url(&self) -> String {
        let server = SERVER.get().expect("a test database was made");
        with_database(&server.admin_url, self.options.get_database().expect("a test database has a name"))
    }

    /// A second, independent pool on the same database (another process's view).
    pub async fn another_pool(&self) -> Db {
        Db::connect(self.options.clone(), small_pool()).await.unwrap()
    }

    /// Runs SQL as the test (outside the database layer), for setting up
    /// situations the layer would refuse to create.
    pub async fn sql(&self, sql: &str) {
        sqlx::raw_sql(sql).execute(self.db.pool()).await.unwrap();
    }

    /// The database's own refusal of `sql`: (constraint, message).
    pub async fn refused(&self, sql: &str) -> (String, String) {
        let err = sqlx::query(sql).execute(self.db.pool()).await.expect_err(sql);
        let db = err.as_database_error().unwrap_or_else(|| panic!("{sql}: {err}"));
        (db.constraint().unwrap_or_default().to_string(), db.message().to_string())
    }
}

pub fn small_pool() -> PoolConfig {
    PoolConfig { min: 1, max: 5, connect_timeout: Duration::from_secs(10), statement_timeout: Duration::from_secs(30) }
}

pub async fn test_db() -> TestDb {
    let server = SERVER.get_or_init(prepare_server).await.clone();
    let name = format!("xcoin_t_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
    let mut conn = server.admin.connect().await.unwrap();
    let mut attempts = 0;
    loop {
        let created =
            exec(&mut conn, &format!("CREATE DATABASE {} TEMPLATE {}", quote(&name), quote(&server.template))).await;
        match created {
            Ok(()) => break,
            // Another test is cloning the same template this instant.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55006") && attempts < 50 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(20 * attempts)).await;
            }
            // The template went away (a run of other migrations started
            // when this one had no database open): build it again.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") && attempts < 50 => {
                attempts += 1;
                sqlx::query("SELECT pg_advisory_lock(7316001)").execute(&mut conn).await.unwrap();
                ensure_template(&mut conn, &server.admin, &server.template).await;
                sqlx::query("SELECT pg_advisory_unlock(7316001)").execute(&mut conn).await.unwrap();
            }
            Err(e) => panic!("creating test database {name}: {e}"),
        }
    }
    conn.close().await.unwrap();
    let options = server.admin.clone().database(&name);
    let db = Db::connect(options.clone(), small_pool()).await.unwrap();
    TestDb { db, options }
}

/// A BUY LIMIT MIS request on NSE for the manual strategy.
pub fn limit_buy(symbol: &str, quantity: i64, price: Decimal) -> OrderRequest {
    OrderRequest {
        strategy_id: 1,
        symbol: symbol.to_string(),
        exchange: Exchange::Nse,
        side: Side::Buy,
        order_type: OrderType::Limit,
        product: Product::Mis,
        validity: Validity::Day,
        quantity,
        price: Some(price),
        trigger_price: None,
        stop_loss: None,
        take_profit: None,
        parent_order_id: None,
        placed_by: "test".into(),
    }
}

pub fn market(symbol: &str, side: Side, quantity: i64) -> OrderRequest {
    OrderRequest { side, order_type: OrderType::Market, price: None, ..limit_buy(symbol, quantity, dec!(1)) }
}

/// A seeded generator: random choices a failing run can repeat.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// A market order of `qty` in `symbol` (NSE MIS), sent and filled at `price`
/// as broker trade `trade_id` at `traded_at` (trades are append-only, so a
/// fill carries its time from the start).
pub async fn filled_at(
    t: &TestDb,
    symbol: &str,
    side: Side,
    qty: i64,
    price: Decimal,
    trade_id: &str,
    traded_at: chrono::DateTime<chrono::Utc>,
) -> xcoin::db::trades::FillOutcome {
    filled_for(t, 1, symbol, side, qty, price, trade_id, traded_at).await
}

/// [`filled_at`], for strategy `strategy_id`.
#[allow(clippy::too_many_arguments)]
pub async fn filled_for(
    t: &TestDb,
    strategy_id: i64,
    symbol: &str,
    side: Side,
    qty: i64,
    price: Decimal,
    trade_id: &str,
    traded_at: chrono::DateTime<chrono::Utc>,
) -> xcoin::db::trades::FillOutcome {
    use xcoin::domain::order::{BrokerKind, OrderStatus};
    let req = OrderRequest { strategy_id, ..market(symbol, side, qty) };
    let o = t.create_order(&req, BrokerKind::Paper, TICK, Some(price)).await.unwrap();
    t.update_order_status(o.id, OrderStatus::Submitted, None, Some(&format!("B-{trade_id}"))).await.unwrap();
    let f = xcoin::domain::trade::Fill {
        order_id: o.id,
        broker: BrokerKind::Paper,
        broker_trade_id: trade_id.into(),
        quantity: qty,
        price,
        traded_at,
    };
    t.record_fill(&f, &xcoin::domain::charges::ChargeRates::default()).await.unwrap()
}

/// An operator's kill-switch activation that cancelled and exited nothing.
pub fn operator_activation<'a>(reason: &'a str, actor: &'a str) -> xcoin::db::kill_switch::Activation<'a> {
    xcoin::db::kill_switch::Activation {
        trigger: xcoin::domain::command::KillSwitchTrigger::Operator,
        reason,
        actor,
        orders_cancelled: 0,
        positions_exited: 0,
        daily_pnl: None,
    }
}
