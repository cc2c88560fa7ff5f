//! `xcoin setup`, `xcoin doctor`, `xcoin config`, `xcoin db …` and the desk
//! status report: the installer-style commands, printed step by step.
//!
//! Each command writes to any `Write` so tests can read exactly what a user
//! sees; colour is used only on a terminal and never when `NO_COLOR` is set.

use std::io::Write;
use std::time::Duration;

use crate::config::Config;
use crate::db::local::LocalStatus;
use crate::db::provision::millis;
pub use crate::db::provision::{Mark, Report, SetupError, Step, setup};
pub use crate::db::report::today_json;
use crate::db::schema::{FUNCTIONS, TABLES, VIEWS};
use crate::db::{Db, PoolConfig, Target};
use crate::domain::money::rupees;
use crate::domain::strategy::TradingMode;

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
