//! `xcoin setup`, `xcoin doctor`, `xcoin config`, `xcoin db …` and the desk
//! status report: the installer-style commands, printed step by step.
//!
//! Each command writes to any `Write` so tests can read exactly what a user
//! sees; colour is used only on a terminal and never when `NO_COLOR` is set.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::config::Config;
use crate::db::local::LocalStatus;
use crate::db::schema::{FUNCTIONS, TABLES, VIEWS, create_database_if_missing};
use crate::db::{Db, PoolConfig, Target};
use crate::domain::money::rupees;
use crate::domain::strategy::{MANUAL_STRATEGY_ID, TradingMode};

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    #[error(transparent)]
    Local(#[from] crate::db::local::LocalDbError),
    #[error("{0}")]
    Failed(String),
    #[error("cannot write the report: {0}")]
    Io(#[from] std::io::Error),
}

/// Step-by-step report styling.
pub struct Report<'a, W: Write> {
    out: &'a mut W,
    color: bool,
    failures: usize,
}

impl<'a, W: Write> Report<'a, W> {
    pub fn new(out: &'a mut W, color: bool) -> Self {
        Report { out, color, failures: 0 }
    }

    /// Colour for a terminal that did not ask for none.
    pub fn wants_color() -> bool {
        std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }

    pub fn title(&mut self, text: &str) -> std::io::Result<()> {
        let t = self.paint("1", text);
        writeln!(self.out, "{t}")
    }

    pub fn ok(&mut self, label: &str, detail: impl AsRef<str>) -> std::io::Result<()> {
        let mark = self.paint("32", "✓");
        writeln!(self.out, "  {mark} {label:<22} {}", detail.as_ref())
    }

    pub fn warn(&mut self, label: &str, detail: impl AsRef<str>) -> std::io::Result<()> {
        let mark = self.paint("33", "!");
        writeln!(self.out, "  {mark} {label:<22} {}", detail.as_ref())
    }

    pub fn fail(&mut self, label: &str, detail: impl AsRef<str>) -> std::io::Result<()> {
        self.failures += 1;
        let mark = self.paint("31", "✗");
        writeln!(self.out, "  {mark} {label:<22} {}", detail.as_ref())
    }

    pub fn line(&mut self, text: impl AsRef<str>) -> std::io::Result<()> {
        writeln!(self.out, "{}", text.as_ref())
    }

    pub fn failures(&self) -> usize {
        self.failures
    }
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Makes the configured database ready: starts the managed server if needed,
/// creates the database, applies migrations, verifies every object, and
/// prints the default strategy. Running it again changes nothing.
pub async fn setup<W: Write>(config: &Config, report: &mut Report<'_, W>) -> Result<Db, SetupError> {
    report.title("XCoin setup")?;
    let s = &config.settings;
    let local = config.paths.local_file.exists().then(|| config.paths.local_file.display().to_string());
    report.ok(
        "configuration",
        format!(
            "{} mode, {}",
            s.app.mode,
            local.map_or("built-in defaults and environment".into(), |f| format!("local file {f}"))
        ),
    )?;
    s.ensure_dirs().map_err(|e| SetupError::Failed(format!("cannot create {}: {e}", s.data_dir().display())))?;
    report.ok("data directory", s.data_dir().display().to_string())?;

    let target = Target::from_config(config)?;
    if let Target::Managed(local) = &target {
        let done = local.ensure_running()?;
        let what = if done.is_empty() { "already running".to_string() } else { done.join("; ") };
        report.ok("database server", format!("{} ({what})", target.describe()))?;
    }
    let options = target.connect_options();
    // The server is tried before it is called ready: an address where nothing
    // listens fails here, at once, with the address.
    let admin = options.clone().database("postgres");
    if let Err(e) = crate::db::probe(&admin, PoolConfig::from(&s.database).connect_timeout).await {
        report.fail("database server", format!("{}: {e}", target.describe()))?;
        // The reason is on the line above; the error only says where it stopped.
        return Err(SetupError::Failed(format!(
            "setup stopped: the database server at {} cannot be reached",
            crate::db::address(&admin)
        )));
    }
    if !matches!(target, Target::Managed(_)) {
        report.ok("database server", target.describe())?;
    }

    let created = create_database_if_missing(&options).await?;
    let name = target.database_name();
    report.ok("database", if created { format!("{name} created") } else { format!("{name} exists") })?;

    let db = Db::connect(options, PoolConfig::from(&s.database)).await?;
    let health = db.health().await?;
    report.ok(
        "connection",
        format!(
            "PostgreSQL {}, round trip {}, pool {}–{}",
            health.server_version,
            millis(health.latency),
            s.database.pool_min,
            s.database.pool_max
        ),
    )?;

    migrate_and_verify(&db, report).await?;
    let health = db.health().await?;
    report.ok("table count", format!("{} of {}", health.table_count, TABLES.len()))?;

    let strategy = db.get_strategy(MANUAL_STRATEGY_ID).await?;
    report.ok(
        "default strategy",
        format!(
            "#{} \"{}\" ({}, {}, {})",
            strategy.id,
            strategy.name,
            strategy.strategy_type,
            strategy.mode,
            if strategy.is_active { "active" } else { "paused" }
        ),
    )?;
    match db.ensure_roles().await {
        Ok(()) => report.ok("roles", "xcoin_engine, xcoin_operator, xcoin_viewer (`xcoin user add` makes logins)")?,
        Err(e) => {
            report.warn("roles", format!("not set up ({e}); run `xcoin setup` as a role that may create roles"))?
        }
    }
    report.line("")?;
    report.line("Ready. Start the desk with `xcoin` (or `cargo run --release`).")?;
    Ok(db)
}

/// Applies the migrations and reports every table, view and function;
/// an incomplete schema stops the setup.
async fn migrate_and_verify<W: Write>(db: &Db, report: &mut Report<'_, W>) -> Result<(), SetupError> {
    let before = db.verify_schema().await?.version;
    db.migrate().await?;
    let schema = db.verify_schema().await?;
    let version = schema.version.unwrap_or(0);
    if before == schema.version {
        report.ok("migrations", format!("up to date (version {version})"))?;
    } else {
        report.ok("migrations", format!("applied up to version {version}"))?;
    }
    for (kind, items) in [("tables", &schema.tables), ("views", &schema.views), ("functions", &schema.functions)] {
        let present = items.iter().filter(|(_, p)| *p).count();
        let names: Vec<&str> = items.iter().map(|(n, _)| n.as_str()).collect();
        if present == items.len() {
            report.ok(kind, format!("{present}/{} {}", items.len(), names.join(", ")))?;
        } else {
            let missing: Vec<&str> = items.iter().filter(|(_, p)| !p).map(|(n, _)| n.as_str()).collect();
            report.fail(kind, format!("missing {}", missing.join(", ")))?;
        }
    }
    if !schema.is_complete() {
        return Err(SetupError::Failed(format!("the schema is incomplete: missing {}", schema.missing().join(", "))));
    }
    Ok(())
}

/// Whether `dir` could be created: its nearest existing ancestor is a
/// directory in which a directory can really be made (tried, then removed at
/// once), which permission bits alone cannot tell (`/proc` looks writable to
/// root and is not).
fn creatable(dir: &std::path::Path) -> Result<(), String> {
    let ancestor = dir.ancestors().skip(1).find(|a| a.exists()).ok_or("no existing parent directory")?;
    if !ancestor.is_dir() {
        return Err(format!("{} is not a directory", ancestor.display()));
    }
    let probe = ancestor.join(format!(".xcoin-probe-{}", std::process::id()));
    std::fs::create_dir(&probe).map_err(|e| format!("{}: {e}", ancestor.display()))?;
    let _ = std::fs::remove_dir(&probe);
    Ok(())
}

/// Checks configuration, data directory, database, schema, engine lock and
/// broker settings without changing anything; says what to do for each failure.
/// Returns the number of failed checks.
pub async fn doctor<W: Write>(config: &Config, report: &mut Report<'_, W>) -> Result<usize, SetupError> {
    report.title("XCoin doctor")?;
    let s = &config.settings;
    report.ok("configuration", format!("valid ({} mode)", s.app.mode))?;
    check_data_dir(&s.data_dir(), report)?;
    let target = match Target::from_config(config) {
        Ok(t) => t,
        Err(e) => {
            report.fail("database server", e.to_string())?;
            return Ok(report.failures());
        }
    };
    if !check_server(&target, report)? {
        return Ok(report.failures());
    }
    let Some(db) = connect_for_doctor(config, &target, report).await? else { return Ok(report.failures()) };
    let health = db.health().await?;
    report.ok(
        "database",
        format!("{} — PostgreSQL {}, round trip {}", target.describe(), health.server_version, millis(health.latency)),
    )?;

    check_tls(&db, &target, report).await?;
    check_schema(&db, report).await?;
    let engine = db.engine_lock_holder().await?.map(|h| h.pid);
    match engine {
        Some(pid) => report.ok("engine", format!("running (holds the engine lock, server pid {pid})"))?,
        None => report.warn("engine", "not running (no process holds the engine lock)")?,
    }

    match s.app.mode {
        TradingMode::Paper => report.ok("broker", "paper (simulated exchange)")?,
        TradingMode::Live => match crate::broker::kite::live_session(&s.zerodha).await {
            Ok((_, net)) => {
                report.ok("broker", format!("Kite Connect session valid; equity margin available {}", rupees(net)))?
            }
            Err(why) => report.fail("broker", why)?,
        },
    }
    db.close().await;
    Ok(report.failures())
}

fn check_data_dir<W: Write>(data: &std::path::Path, report: &mut Report<'_, W>) -> Result<(), SetupError> {
    if data.is_dir() {
        report.ok("data directory", data.display().to_string())?;
    } else {
        match creatable(data) {
            Ok(()) => report
                .warn("data directory", format!("{} does not exist yet; `xcoin setup` creates it", data.display()))?,
            Err(why) => report.fail(
                "data directory",
                format!("{} cannot be created ({why}); set app.data_dir to a directory you can write", data.display()),
            )?,
        }
    }
    Ok(())
}

/// The managed server runs (a URL's server is tried by connecting); false
/// when the doctor can go no further.
fn check_server<W: Write>(target: &Target, report: &mut Report<'_, W>) -> Result<bool, SetupError> {
    if let Target::Managed(local) = &target {
        match local.status() {
            LocalStatus::Running { pid } => report.ok(
                "database server",
                format!("{} (running{})", target.describe(), pid.map(|p| format!(", pid {p}")).unwrap_or_default()),
            )?,
            LocalStatus::Stopped => {
                report.fail("database server", format!("{} is stopped; run `xcoin db start`", target.describe()))?;
                return Ok(false);
            }
            LocalStatus::NotInitialised => {
                report.fail(
                    "database server",
                    format!("no database in {} yet; run `xcoin setup`", local.dir.display()),
                )?;
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// A connection, or `None` once the failure is reported.
async fn connect_for_doctor<W: Write>(
    config: &Config,
    target: &Target,
    report: &mut Report<'_, W>,
) -> Result<Option<Db>, SetupError> {
    let s = &config.settings;
    let pool = PoolConfig { min: 1, max: 2, ..PoolConfig::from(&s.database) };
    match tokio::time::timeout(
        Duration::from_secs(s.database.connect_timeout_secs + 1),
        Db::connect(target.connect_options(), pool),
    )
    .await
    {
        Ok(Ok(db)) => Ok(Some(db)),
        Ok(Err(e @ crate::db::DbError::Unreachable { .. })) => {
            report.fail("database", format!("{}: {e}", target.describe()))?;
            Ok(None)
        }
        Ok(Err(e)) => {
            report.fail(
                "database",
                format!(
                    "{}: {e}. Check database.url and that the server runs; `xcoin setup` creates a missing database",
                    target.describe()
                ),
            )?;
            Ok(None)
        }
        Err(_) => {
            report.fail(
                "database",
                format!(
                    "{}: no answer within {} s; is the server running and reachable?",
                    target.describe(),
                    s.database.connect_timeout_secs
                ),
            )?;
            Ok(None)
        }
    }
}

/// Whether the connection is encrypted, and how far the server's
/// certificate was checked (the sslmode decides: verify-full checks the
/// authority and the host name, verify-ca the authority only).
async fn check_tls<W: Write>(db: &Db, target: &Target, report: &mut Report<'_, W>) -> Result<(), SetupError> {
    use sqlx::postgres::PgSslMode;
    let options = target.connect_options();
    if options.get_socket().is_some() || matches!(target, Target::Managed(_)) {
        return Ok(report.ok("connection", "Unix socket on this machine (no network, no TLS needed)")?);
    }
    let mode = options.get_ssl_mode();
    match (db.tls().await?, mode) {
        (Some((version, cipher)), PgSslMode::VerifyFull) => report.ok(
            "connection",
            format!("encrypted ({version}, {cipher}); server certificate verified: trusted authority and host name"),
        )?,
        (Some((version, cipher)), PgSslMode::VerifyCa) => report.ok(
            "connection",
            format!("encrypted ({version}, {cipher}); server certificate verified: trusted authority (and, in this build, the host name)"),
        )?,
        (Some((version, cipher)), _) => report.warn(
            "connection",
            format!("encrypted ({version}, {cipher}) but the server's certificate is not verified; set database.sslmode = \"verify-full\" and database.ssl_root_cert"),
        )?,
        (None, _) => report.warn(
            "connection",
            "NOT encrypted: the desk's traffic and credentials cross the network in clear; set database.sslmode = \"require\" or better",
        )?,
    }
    Ok(())
}

async fn check_schema<W: Write>(db: &Db, report: &mut Report<'_, W>) -> Result<(), SetupError> {
    let schema = db.verify_schema().await?;
    match schema.version {
        Some(v) if schema.is_complete() => report.ok(
            "schema",
            format!("version {v}; {} tables, {} views, {} functions", TABLES.len(), VIEWS.len(), FUNCTIONS.len()),
        )?,
        Some(v) if v < schema.expected_version => report
            .fail("schema", format!("version {v}, this build needs {}; run `xcoin setup`", schema.expected_version))?,
        Some(v) if v > schema.expected_version => report.fail(
            "schema",
            format!("version {v} is newer than this build ({}); upgrade XCoin", schema.expected_version),
        )?,
        _ => report.fail("schema", format!("missing {}; run `xcoin setup`", schema.missing().join(", ")))?,
    }
    Ok(())
}

/// Prints every effective setting with its source; secrets as [REDACTED].
pub fn print_config<W: Write>(config: &Config, out: &mut W) -> std::io::Result<()> {
    let entries = config.entries();
    let key_width = entries.iter().map(|(k, _, _)| k.len()).max().unwrap_or(0);
    let value_width = entries.iter().map(|(_, v, _)| v.chars().count().min(48)).max().unwrap_or(0);
    for (key, value, source) in entries {
        let shown = if value.is_empty() { "\"\"".to_string() } else { value };
        writeln!(out, "{key:<key_width$} = {shown:<value_width$}  # {source}")?;
    }
    Ok(())
}

/// Today's summary as JSON (`xcoin status --json`, the dashboard's
/// `/api/today`): amounts rounded once, to the paisa, as strings.
pub async fn today_json(config: &Config, db: &Db) -> Result<serde_json::Value, SetupError> {
    use crate::domain::to_paisa;
    let s = &config.settings;
    let calendar = s.calendar();
    let now = crate::domain::clock::now();
    let pnl = db.today_pnl().await?;
    let positions = db.open_positions().await?;
    let goals = db.goals_on(calendar.today()).await?;
    Ok(serde_json::json!({
        "mode": s.app.mode.to_string(),
        "trading_day": calendar.today().to_string(),
        "market": calendar.state(now).to_string(),
        "kill_switch_active": db.kill_switch_state().await?.active,
        "pnl": {
            "realised": to_paisa(pnl.realized_pnl),
            "unrealised": to_paisa(pnl.unrealized_pnl),
            "charges": to_paisa(pnl.charges),
            "net": to_paisa(pnl.net_pnl),
            "open_since_opened": to_paisa(pnl.open_unrealized_pnl),
        },
        "orders": db.today_order_count().await?,
        "active_orders": db.active_orders().await?.len(),
        "trades": db.today_trade_count().await?,
        "order_to_trade": db.order_to_trade_ratio(None).await?,
        "broker_writes": db.broker_writes_today().await?,
        "funds": db.today_funds().await?.map(|(f, at)| serde_json::json!({
            "available": to_paisa(f.available_margin), "used": to_paisa(f.used_margin),
            "opening_balance": to_paisa(f.opening_balance), "at": at,
        })),
        "open_positions": positions.iter().map(|p| serde_json::json!({
            "id": p.id, "symbol": p.symbol, "exchange": p.exchange.to_string(), "product": p.product.to_string(),
            "quantity": p.quantity(), "average_price": to_paisa(p.average_price()),
            "last_price": p.last_price.map(to_paisa), "unrealised": to_paisa(p.unrealized_pnl),
            "stop_loss": p.stop_loss, "target": p.take_profit,
        })).collect::<Vec<_>>(),
        "open_reconciliation_issues": db.unresolved_issues().await?.len(),
        "goals_reached": goals.iter().map(|g| serde_json::json!({
            "scope": g.scope, "goal": g.goal.to_string(), "figures": g.figures, "at": g.reached_at,
        })).collect::<Vec<_>>(),
    }))
}

/// A short text picture of the desk: mode, market, kill switch, today's P&L,
/// counts, open positions and issues, the latest orders.
pub async fn status<W: Write>(config: &Config, db: &Db, out: &mut W) -> Result<(), SetupError> {
    let s = &config.settings;
    let calendar = s.calendar();
    let now = crate::domain::clock::now();
    let market = calendar.state(now);
    let ks = db.kill_switch_state().await?;
    let pnl = db.today_pnl().await?;
    let orders = db.today_order_count().await?;
    let trades = db.today_trade_count().await?;
    let ratio = db.order_to_trade_ratio(None).await?;
    let writes = db.broker_writes_today().await?;
    let positions = db.open_positions().await?;
    let issues = db.unresolved_issues().await?;
    let active = db.active_orders().await?;

    writeln!(
        out,
        "XCoin {}  market {} {} IST  kill switch {}",
        s.app.mode,
        market,
        calendar.local(now).format("%Y-%m-%d %H:%M:%S"),
        match (ks.active, ks.flattening()) {
            (true, true) => "ACTIVE — flattening",
            (true, false) => "ACTIVE",
            _ => "armed",
        }
    )?;
    writeln!(
        out,
        "Today: net P&L {}  (realised {}, unrealised {}, charges {}); open positions since opened {}",
        rupees(pnl.net_pnl),
        rupees(pnl.realized_pnl),
        rupees(pnl.unrealized_pnl),
        rupees(pnl.charges),
        rupees(pnl.open_unrealized_pnl)
    )?;
    writeln!(
        out,
        "Orders {orders} ({} active), trades {trades}, order-to-trade {}",
        active.len(),
        ratio.map_or("—".to_string(), crate::domain::charges::otr_text)
    )?;
    writeln!(out, "Broker requests today {}", s.app.mode.broker().writes_text(writes))?;
    writeln!(
        out,
        "{}, {}",
        crate::domain::count(positions.len() as i64, "open position", "open positions"),
        crate::domain::count(issues.len() as i64, "open reconciliation issue", "open reconciliation issues")
    )?;
    for g in db.goals_on(calendar.today()).await? {
        let at = calendar.local(g.reached_at).format("%H:%M:%S");
        writeln!(out, "Goal reached {at}: {} ({}): {}; action {}", g.goal, g.scope, g.figures, g.action)?;
    }
    for p in positions.iter().take(10) {
        writeln!(
            out,
            "  {:<12} {:<4} {:>6} @ {:>10}  unrealised {}",
            p.symbol,
            p.product,
            p.quantity(),
            rupees(p.average_price()),
            rupees(p.unrealized_pnl)
        )?;
    }
    Ok(())
}
