//! Provisioning: makes the configured database ready (the managed server
//! started, the database created, migrations applied, every object verified)
//! and says so step by step. `xcoin setup` prints the steps; the first-launch
//! wizard shows the same steps from [`Report::steps`], never by reading the
//! printed text back.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use xcoin_config::Config;
use xcoin_model::strategy::MANUAL_STRATEGY_ID;

use crate::schema::{TABLES, create_database_if_missing};
use crate::{Db, PoolConfig, Target};

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Db(#[from] crate::DbError),
    #[error(transparent)]
    Local(#[from] crate::local::LocalDbError),
    #[error("{0}")]
    Failed(String),
    #[error("cannot write the report: {0}")]
    Io(#[from] std::io::Error),
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Done,
    Warning,
    Failed,
}

impl Mark {
    pub const fn symbol(self) -> &'static str {
        match self {
            Mark::Done => "✓",
            Mark::Warning => "!",
            Mark::Failed => "✗",
        }
    }

    const fn color(self) -> &'static str {
        match self {
            Mark::Done => "32",
            Mark::Warning => "33",
            Mark::Failed => "31",
        }
    }
}

/// One step: what was checked or done, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub mark: Mark,
    pub label: String,
    pub detail: String,
}

/// As printed, without colour: `✓ database               xcoin exists`.
impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:<22} {}", self.mark.symbol(), self.label, self.detail)
    }
}

/// A step-by-step report: printed as it goes (in colour on a terminal), and
/// kept as [`Step`]s for a caller that shows them its own way.
pub struct Report<'a, W: Write> {
    out: &'a mut W,
    color: bool,
    steps: Vec<Step>,
}

impl<'a, W: Write> Report<'a, W> {
    pub fn new(out: &'a mut W, color: bool) -> Self {
        Report { out, color, steps: Vec::new() }
    }

    /// The steps so far.
    pub fn steps(&self) -> &[Step] {
        &self.steps
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

    fn step(&mut self, mark: Mark, label: &str, detail: &str) -> std::io::Result<()> {
        let painted = self.paint(mark.color(), mark.symbol());
        self.steps.push(Step { mark, label: label.to_string(), detail: detail.to_string() });
        writeln!(self.out, "  {painted} {label:<22} {detail}")
    }

    pub fn ok(&mut self, label: &str, detail: impl AsRef<str>) -> std::io::Result<()> {
        self.step(Mark::Done, label, detail.as_ref())
    }

    pub fn warn(&mut self, label: &str, detail: impl AsRef<str>) -> std::io::Result<()> {
        self.step(Mark::Warning, label, detail.as_ref())
    }

    pub fn fail(&mut self, label: &str, detail: impl AsRef<str>) -> std::io::Result<()> {
        self.step(Mark::Failed, label, detail.as_ref())
    }

    pub fn line(&mut self, text: impl AsRef<str>) -> std::io::Result<()> {
        writeln!(self.out, "{}", text.as_ref())
    }

    pub fn failures(&self) -> usize {
        self.steps.iter().filter(|s| s.mark == Mark::Failed).count()
    }
}

pub fn millis(d: Duration) -> String {
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
    if let Err(e) = crate::probe(&admin, PoolConfig::from(&s.database).connect_timeout).await {
        report.fail("database server", format!("{}: {e}", target.describe()))?;
        // The reason is on the line above; the error only says where it stopped.
        return Err(SetupError::Failed(format!(
            "setup stopped: the database server at {} cannot be reached",
            crate::address(&admin)
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
