//! Test databases: every test gets a fresh database cloned from a migrated
//! template, on the server named by DATABASE_URL, else the server at
//! 127.0.0.1:5432 when it answers, else a throwaway cluster managed by
//! XCoin's own `db::local` in the temp directory.

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::sync::{OnceCell, broadcast};
use xcoin::broker::paper::PaperBroker;
use xcoin::broker::{
    Broker, BrokerError, BrokerEvent, BrokerFill, BrokerOrder, MarketData, Modify, PlaceRequest, Tick,
};
use xcoin::console::app::{App, Effect};
use xcoin::db::local::LocalDb;
use xcoin::db::schema::MIGRATOR;
use xcoin::db::{Db, PoolConfig};
use xcoin::domain::order::{
    BrokerKind, Exchange, Order, OrderRequest, OrderStatus, OrderType, Product, Side, Validity,
};
use xcoin::domain::reconciliation::Holding;
use xcoin::domain::trade::Fill;

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

/// This run's id: every database the run makes is named `xcoin_t_<run>_<n>`,
/// and the run removes those and nothing else — never another run's, on
/// this machine or another sharing the server, never a desk's. (A run killed
/// before its tests end leaves its databases, named by its id, for whoever
/// killed it; a template of older migrations, `xcoin_tpl_*`, is left too.)
static RUN: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{:010x}", (nanos as u64 ^ ((std::process::id() as u64) << 40)) & 0xff_ffff_ffff)
});

/// A new database name of this run's.
fn run_database() -> String {
    format!("xcoin_t_{}_{}", *RUN, COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// Removes a database this run made (and the paper book beside it, and the
/// raw-query reader a migration of its own made for it), on a thread of its
/// own so that a test's drop can wait for it.
fn remove_run_database(name: String) {
    let Some(server) = SERVER.get().cloned() else { return };
    assert!(name.starts_with(&format!("xcoin_t_{}_", *RUN)), "{name} is not this run's");
    let removed = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let Ok(mut conn) = server.admin.connect().await else { return };
            for db in [name.clone(), format!("{name}_paper")] {
                // Its reader says which database it is for (0004_reader.sql);
                // a copy of the template shares the template's and has none.
                let readers: Vec<String> = sqlx::query_scalar(
                    "SELECT r.rolname::text FROM pg_roles r JOIN pg_shdescription d ON d.objoid = r.oid
                      WHERE r.rolname LIKE 'xcoin\\_reader\\_%'
                        AND d.description LIKE 'XCoin raw queries on database ' || $1 || ':%'",
                )
                .bind(&db)
                .fetch_all(&mut conn)
                .await
                .unwrap_or_default();
                let _ = exec(&mut conn, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote(&db))).await;
                for role in readers {
                    let _ = exec(&mut conn, &format!("DROP ROLE IF EXISTS {}", quote(&role))).await;
                }
            }
            // Logins a test made for this database are named after it (roles.rs).
            let suffix = name.trim_start_matches("xcoin_t_");
            let logins: Vec<String> = sqlx::query_scalar(
                "SELECT rolname::text FROM pg_roles WHERE right(rolname, length($1) + 1) = '_' || $1",
            )
            .bind(suffix)
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
            for role in logins {
                let _ = exec(&mut conn, &format!("DROP ROLE IF EXISTS {}", quote(&role))).await;
            }
            let _ = conn.close().await;
        })
    });
    let _ = removed.join();
}

async fn prepare_server() -> Server {
    let (admin, admin_url) = admin_options().await;
    let digest = MIGRATOR.iter().fold(0u64, |acc, m| {
        m.checksum.iter().fold(acc.rotate_left(5) ^ m.version as u64, |a, b| a.rotate_left(7) ^ *b as u64)
    });
    let template = format!("xcoin_tpl_{:012x}", digest & 0xffff_ffff_ffff);
    let mut conn = admin.connect().await.expect("admin connection to the test server");
    sqlx::query("SELECT pg_advisory_lock(7316001)").execute(&mut conn).await.unwrap();
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

/// A database of this run's that does not exist yet, for a binary to create
/// and migrate: its URL (as text through `Deref`), and its removal, with what
/// the migration made for it, when the test ends.
pub struct UnusedDb {
    url: String,
    name: String,
}

impl std::ops::Deref for UnusedDb {
    type Target = String;
    fn deref(&self) -> &String {
        &self.url
    }
}

impl std::fmt::Display for UnusedDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

impl Drop for UnusedDb {
    fn drop(&mut self) {
        remove_run_database(std::mem::take(&mut self.name));
    }
}

/// The URL of a database on the test server that does not exist yet, named
/// by this run and removed when the returned guard is dropped.
pub async fn unused_database_url() -> UnusedDb {
    let server = SERVER.get_or_init(prepare_server).await;
    let name = run_database();
    UnusedDb { url: with_database(&server.admin_url, &name), name }
}

/// A fresh, migrated database of its own.
pub struct TestDb {
    pub db: Db,
    pub options: PgConnectOptions,
    /// How far this database's clock is from the wall clock: the run's own
    /// shift ([`xcoin::domain::clock`]), or the one [`test_db_at`] pinned.
    pub shift: chrono::Duration,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.options.get_database() {
            remove_run_database(name.to_string());
        }
    }
}

impl std::ops::Deref for TestDb {
    type Target = Db;
    fn deref(&self) -> &Db {
        &self.db
    }
}

impl TestDb {
    /// Now, on this database's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + self.shift
    }

    /// The environment that sets a binary's clock to this database's.
    pub fn clock_env(&self) -> (&'static str, String) {
        (xcoin::domain::clock::SHIFT_VAR, self.shift.num_milliseconds().to_string())
    }

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
        let (_, constraint, message) = refusal(&self.db, sql).await;
        (constraint, message)
    }
}

pub fn small_pool() -> PoolConfig {
    PoolConfig { min: 1, max: 5, connect_timeout: Duration::from_secs(10), statement_timeout: Duration::from_secs(30) }
}

pub async fn test_db() -> TestDb {
    let options = new_database().await;
    let db = Db::connect(options.clone(), small_pool()).await.unwrap();
    TestDb { db, options, shift: xcoin::domain::clock::shift() }
}

/// A fresh database whose clock reads `at` now and runs on from there, for a
/// test that needs a known day whatever the day of the run: its rows are
/// stamped and its "today" is read on that clock, and [`TestDb::clock_env`]
/// gives binaries the same clock.
///
/// The test's own thread runs on that clock too (and with it the tasks of a
/// current-thread `#[tokio::test]`: an in-process engine, its paper exchange).
pub async fn test_db_at(at: chrono::DateTime<chrono::Utc>) -> TestDb {
    let shift = at - chrono::Utc::now();
    xcoin::domain::clock::pin_this_thread(shift);
    let options =
        new_database().await.options([("xcoin.clock_shift_ms", shift.num_milliseconds().to_string().as_str())]);
    let db = Db::connect(options.clone(), small_pool()).await.unwrap();
    TestDb { db, options, shift }
}

/// A known trading day for day-sensitive tests: the last one up to today on
/// the run's clock (a Saturday's run takes Friday), at 11:00 IST — so a test
/// pinned to it never meets a weekend, a holiday or IST midnight.
pub fn a_trading_morning() -> chrono::DateTime<chrono::Utc> {
    let calendar = xcoin::config::Settings::default().calendar();
    let day = calendar.last_trading_day(calendar.today());
    calendar.instant(day, chrono::NaiveTime::from_hms_opt(11, 0, 0).unwrap())
}

/// Creates a database from the template; its connect options.
async fn new_database() -> PgConnectOptions {
    let server = SERVER.get_or_init(prepare_server).await.clone();
    let name = run_database();
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
    server.admin.clone().database(&name)
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

/// An NSE MIS position of the manual strategy, without a stop or target.
pub fn mis_position(symbol: &str, quantity: i64, average_price: Decimal) -> xcoin::db::positions::NewPosition {
    xcoin::db::positions::NewPosition {
        strategy_id: 1,
        symbol: symbol.into(),
        exchange: Exchange::Nse,
        product: Product::Mis,
        quantity,
        average_price,
        stop_loss: None,
        take_profit: None,
    }
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
    let req = OrderRequest { strategy_id, ..market(symbol, side, qty) };
    let o = submitted(t, &req, price, &format!("B-{trade_id}")).await;
    let f = Fill { traded_at, ..fill(&o, trade_id, qty, price) };
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

/// The database's refusal of `sql` run as `db`'s login: (SQLSTATE,
/// constraint, message). A statement that succeeds fails the test.
pub async fn refusal(db: &Db, sql: &str) -> (String, String, String) {
    let err = sqlx::raw_sql(sql).execute(db.pool()).await.expect_err(sql);
    let e = err.as_database_error().unwrap_or_else(|| panic!("{sql}: {err}"));
    (e.code().unwrap_or_default().to_string(), e.constraint().unwrap_or_default().to_string(), e.message().to_string())
}

/// `req` stored (with `last` as the instrument's last price) and sent: SUBMITTED
/// as broker order `broker_id`.
pub async fn submitted(db: &Db, req: &OrderRequest, last: Decimal, broker_id: &str) -> Order {
    let o = db.create_order(req, BrokerKind::Paper, TICK, Some(last)).await.unwrap();
    db.update_order_status(o.id, OrderStatus::Submitted, None, Some(broker_id)).await.unwrap()
}

/// A fill of `quantity` of `order` at `price` as paper trade `trade_id`, now
/// (on the desk's clock).
pub fn fill(order: &Order, trade_id: &str, quantity: i64, price: Decimal) -> Fill {
    Fill {
        order_id: order.id,
        broker: BrokerKind::Paper,
        broker_trade_id: trade_id.into(),
        quantity,
        price,
        traded_at: xcoin::domain::clock::now(),
    }
}

/// A key as a terminal sends it: an upper-case letter comes with Shift.
pub fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), if c.is_ascii_uppercase() { KeyModifiers::SHIFT } else { KeyModifiers::NONE })
}

/// A key without modifiers, pressed in the console.
pub fn press(app: &mut App, code: KeyCode) -> Option<Effect> {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

/// `text` typed into the console, a key a character.
pub fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        app.on_key(key(c));
    }
}

/// The permission bits of a file or directory.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A port on 127.0.0.1 that was free a moment ago. Only for a server that
/// binds its own port from an address (a test that can bind binds port 0
/// and hands the listener over): another process may take the port in
/// between, so such a server is started with [`on_a_free_port`].
fn port_free_now() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts a server that binds its own port: `start` on a port free a moment
/// before, and again on another whenever the port was taken in between (its
/// error says so: "Address already in use"). The server and its port; any
/// other error fails the test.
pub async fn on_a_free_port<T, E: std::fmt::Display, F: Future<Output = Result<T, E>>>(
    mut start: impl FnMut(u16) -> F,
) -> (T, u16) {
    const TRIES: usize = 20;
    for _ in 0..TRIES {
        let port = port_free_now();
        match start(port).await {
            Ok(server) => return (server, port),
            Err(e) if e.to_string().contains("Address already in use") => continue,
            Err(e) => panic!("starting on port {port}: {e}"),
        }
    }
    panic!("every one of {TRIES} free ports was taken before the server bound it");
}

/// The paper exchange standing in for another broker (a remote one, so a
/// stand-in is fair): it answers as `kind`, and while an error is set with
/// [`StandIn::fail_with`], placements and position queries fail with it, as
/// in a broker outage, a refusal or an expired session.
#[derive(Clone)]
pub struct StandIn {
    pub inner: PaperBroker,
    kind: BrokerKind,
    failing: Arc<Mutex<Option<BrokerError>>>,
    /// Every placement as the engine sent it.
    pub placed: Arc<Mutex<Vec<PlaceRequest>>>,
}

impl StandIn {
    pub fn new(inner: PaperBroker, kind: BrokerKind) -> StandIn {
        StandIn { inner, kind, failing: Arc::default(), placed: Arc::default() }
    }

    /// Makes placements and position queries fail with `e` (`None`: answer again).
    pub fn fail_with(&self, e: Option<BrokerError>) {
        *self.failing.lock().unwrap() = e;
    }

    fn failure(&self) -> Result<(), BrokerError> {
        self.failing.lock().unwrap().clone().map_or(Ok(()), Err)
    }
}

impl MarketData for StandIn {
    async fn last_prices(&self) -> Result<Vec<Tick>, BrokerError> {
        self.inner.last_prices().await
    }
}

impl Broker for StandIn {
    fn kind(&self) -> BrokerKind {
        self.kind
    }
    async fn place(&self, req: &PlaceRequest) -> Result<String, BrokerError> {
        self.placed.lock().unwrap().push(req.clone());
        self.failure()?;
        self.inner.place(req).await
    }
    async fn modify(&self, id: &str, change: Modify) -> Result<(), BrokerError> {
        self.inner.modify(id, change).await
    }
    async fn cancel(&self, id: &str) -> Result<(), BrokerError> {
        self.inner.cancel(id).await
    }
    async fn orders(&self) -> Result<Vec<BrokerOrder>, BrokerError> {
        self.inner.orders().await
    }
    async fn trades(&self) -> Result<Vec<BrokerFill>, BrokerError> {
        self.inner.trades().await
    }
    async fn positions(&self) -> Result<Vec<Holding>, BrokerError> {
        self.failure()?;
        self.inner.positions().await
    }
    fn subscribe(&self) -> broadcast::Receiver<BrokerEvent> {
        self.inner.subscribe()
    }
}
