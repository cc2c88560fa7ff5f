//! The command line: every `xcoin` command, parsed by clap, dispatched to the
//! library, with one error path (`main` prints the error once and exits 1; a
//! configuration that does not load exits 2 with what to fix).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use color_eyre::eyre::{Result, WrapErr, eyre};
use xcoin::config::{Config, ConfigPaths};
use xcoin::db::local::{LocalDb, LocalStatus};
use xcoin::setup::{self, Report};

#[derive(Parser)]
#[command(name = "xcoin", version, about = "Order management and operator console for an intraday NSE desk")]
pub struct Cli {
    /// The local configuration file (default: config/local.toml in a checkout,
    /// else $XDG_CONFIG_HOME/xcoin/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// A console without any action that writes, and without an engine.
    #[arg(long)]
    read_only: bool,
    /// Open a past trading day (YYYY-MM-DD, IST) in the console, read-only.
    #[arg(long)]
    date: Option<chrono::NaiveDate>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database if missing, apply migrations, verify every object.
    Setup {
        /// Walk through the first-launch wizard, then open the console.
        #[arg(long)]
        interactive: bool,
    },
    /// Check configuration, database, schema, engine and broker; change nothing.
    Doctor,
    /// Print the effective configuration and where each value came from.
    Config,
    /// Today's P&L, counts, positions and issues as text; `--date` a past trading day's report.
    Status {
        /// A past trading day (YYYY-MM-DD, IST): its report.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        /// Today's summary as JSON (what the dashboard's /api/today serves).
        #[arg(long, conflicts_with = "date")]
        json: bool,
    },
    /// The end-of-day report: P&L with charges by component, per strategy and
    /// instrument, round trips, order-to-trade, kill switch, reconciliation.
    Report {
        /// The trading day (YYYY-MM-DD, IST); today when absent.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        #[arg(long, default_value = "text", value_parser = ["text", "markdown", "json"])]
        format: String,
    },
    /// Trades (Zerodha's tradebook columns plus charges) or orders as CSV.
    Export {
        #[arg(value_parser = ["trades", "orders"])]
        what: String,
        /// First trading day (YYYY-MM-DD, IST); today when absent.
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// Last trading day, included; `--from` when absent.
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
        /// The file to write (mode 0600); standard output when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Measure this build against the configured database server (in a scratch database).
    Bench {
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
        /// Orders the engine run places.
        #[arg(long, default_value_t = 2000)]
        orders: usize,
        /// Seconds the change-feed writers run (paced; unpaced runs at most 5).
        #[arg(long, default_value_t = 10.0)]
        feed_seconds: f64,
        /// (The bench's own child:) load a console with this many orders,
        /// draw a frame, print the resident memory in MB.
        #[arg(long, hide = true)]
        memory_probe: Option<usize>,
    },
    /// Run the trading engine alone (headless) until Ctrl-C.
    Engine {
        /// Run the demo scalping strategy on the simulated feed (PAPER only).
        #[arg(long)]
        demo: bool,
        /// Wait as a standby while another engine trades this database, and
        /// take over the moment it ends (a stop, a crash, a lost machine).
        #[arg(long)]
        standby: bool,
    },
    /// The paper exchange as a process of its own that speaks Kite
    /// Connect (REST and the ticker WebSocket on one port): point
    /// `zerodha.api_url` and `zerodha.ws_url` at it and run a LIVE desk.
    Exchange {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:8550")]
        listen: std::net::SocketAddr,
        /// Replay recorded ticks (`time,symbol,exchange,price` lines).
        #[arg(long, conflicts_with = "walk")]
        ticks: Option<std::path::PathBuf>,
        /// Move prices by a seeded random walk (else only `POST /sim/price` moves them).
        #[arg(long)]
        walk: bool,
        /// The random walk's seed (default `paper.seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// The book on disk (default `<data dir>/kite-exchange-book.json`).
        #[arg(long)]
        book: Option<std::path::PathBuf>,
    },
    /// The managed local PostgreSQL.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
    /// Zerodha Kite Connect.
    Kite {
        #[command(subcommand)]
        action: KiteAction,
    },
    /// Alerts by Telegram and e-mail.
    Alert {
        #[command(subcommand)]
        action: AlertAction,
    },
    /// Orders from a shell or a script: place, modify, cancel, exit, list.
    Order {
        #[command(subcommand)]
        action: crate::order_cmd::OrderAction,
    },
    /// Run a strategy against recorded ticks on the paper exchange, in a
    /// scratch database, and print the day's report.
    Replay {
        /// The recording: `time,symbol,exchange,price` lines (IST times).
        #[arg(long)]
        ticks: PathBuf,
        /// The strategy (`demo`).
        #[arg(long)]
        strategy: String,
        /// Its parameters, a JSON object.
        #[arg(long, default_value = "{}")]
        params: String,
        /// Only ticks from this IST time (HH:MM or HH:MM:SS).
        #[arg(long, value_parser = time_of_day)]
        from: Option<chrono::NaiveTime>,
        /// Only ticks before this IST time.
        #[arg(long, value_parser = time_of_day)]
        to: Option<chrono::NaiveTime>,
        /// `max`, or times real time.
        #[arg(long, default_value = "max")]
        speed: xcoin::replay::Speed,
        /// The paper exchange's seed (`paper.seed` when absent).
        #[arg(long)]
        seed: Option<u64>,
        /// Keep the scratch database (and say how to open it in the console).
        #[arg(long)]
        keep: bool,
    },
    /// The desk's strategies: mode, instruments, parameters, limits, webhook token.
    Strategy {
        #[command(subcommand)]
        action: crate::strategy_cmd::StrategyAction,
    },
    /// The desk's users: database logins that may operate or only view.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Make a login: an operator reads everything and sends commands; a viewer only reads.
    Add {
        name: String,
        #[arg(long, value_parser = ["operator", "viewer"])]
        role: String,
        /// Read the password from standard input instead of asking (or generating one).
        #[arg(long)]
        password_stdin: bool,
    },
    /// The desk's users and their roles, and the server's raw-query readers.
    List,
    /// Drop the raw-query readers of desk databases that no longer exist
    /// (these only, when named).
    PruneReaders { names: Vec<String> },
    /// Remove a user.
    Remove { name: String },
    /// Set a user's password.
    Password {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum AlertAction {
    /// Send a test message through each configured channel and report the result.
    Test,
}

#[derive(Subcommand)]
enum KiteAction {
    /// Exchange today's request token for an access token and store it in the local config file.
    Login {
        /// The request_token from Kite's redirect, or the whole redirect URL (asked for when absent).
        #[arg(long, value_name = "TOKEN_OR_URL")]
        request_token: Option<String>,
    },
}

#[derive(Subcommand)]
enum DbAction {
    /// Create (first time) and start the managed server.
    Start,
    /// Stop the managed server.
    Stop,
    /// Say whether it runs, and where.
    Status,
}

/// The error of a library call as one message: XCoin's errors already name
/// their cause, so the chain is not printed again.
trait Flat<T> {
    fn flat(self) -> Result<T>;
}

impl<T, E: std::fmt::Display> Flat<T> for std::result::Result<T, E> {
    fn flat(self) -> Result<T> {
        self.map_err(|e| eyre!("{e}"))
    }
}

/// Parses the command line and runs it: the process's exit code.
pub fn main() -> ExitCode {
    if let Err(e) = color_eyre::install() {
        eprintln!("{e}");
    }
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(cli: &Cli) -> Result<Config> {
    let config = Config::load(ConfigPaths::discover(cli.config.clone()))?;
    if cli.command.is_none() || matches!(cli.command, Some(Command::Setup { interactive: true })) {
        // The console owns the screen: its logs go to the log pane and a file.
        xcoin::console::init_logging(&config);
        return Ok(config);
    }
    let level = if matches!(cli.command, Some(Command::Bench { .. } | Command::Replay { .. })) {
        // A benchmark prints its table and a replay its report; the engine's
        // per-order lines and each exit's warning (in the report already),
        // and the scratch database's slow DROP, would drown them.
        "error,sqlx::query=error".to_string()
    } else if config.settings.app.debug {
        "debug".to_string()
    } else {
        config.settings.app.log_level.clone()
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env(xcoin::config::LOG_FILTER_VAR)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("xcoin={level},warn")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    Ok(config)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().wrap_err("starting the async runtime")
}

/// Runs one command; the error, if any, is for `main` to print. Long by
/// design: one arm per command, each a few lines handing over to the library.
fn run(cli: Cli) -> Result<ExitCode> {
    let config = match load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            eprintln!("Fix the value named above, then run `xcoin doctor`.");
            return Ok(ExitCode::from(2));
        }
    };
    let mut stdout = std::io::stdout().lock();
    let color = Report::<std::io::StdoutLock>::wants_color();
    match cli.command {
        Some(Command::Config) => {
            setup::print_config(&config, &mut stdout)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Setup { interactive: true }) => {
            drop(stdout);
            runtime()?.block_on(xcoin::desk::console(config, false, true, None)).flat()?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Setup { interactive: false }) => {
            let mut report = Report::new(&mut stdout, color);
            runtime()?.block_on(async {
                let db = setup::setup(&config, &mut report).await.flat()?;
                db.close().await;
                Ok(ExitCode::SUCCESS)
            })
        }
        Some(Command::Doctor) => {
            let mut report = Report::new(&mut stdout, color);
            let failures = runtime()?.block_on(setup::doctor(&config, &mut report)).flat()?;
            Ok(if failures == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Some(Command::Status { date: None, json }) => runtime()?.block_on(async {
            let db = connect(&config).await?;
            if json {
                let today = setup::today_json(&config, &db).await.flat()?;
                writeln!(stdout, "{}", serde_json::to_string_pretty(&today)?)?;
            } else {
                setup::status(&config, &db, &mut stdout).await.flat()?;
            }
            db.close().await;
            Ok(ExitCode::SUCCESS)
        }),
        Some(Command::Status { date: Some(day), .. }) => {
            runtime()?.block_on(report(&config, Some(day), "text", &mut stdout))
        }
        Some(Command::Report { date, format }) => runtime()?.block_on(report(&config, date, &format, &mut stdout)),
        Some(Command::Export { what, from, to, out }) => {
            runtime()?.block_on(export(&config, (&what, from, to, out), &mut stdout))
        }
        Some(Command::Bench { memory_probe: Some(orders), .. }) => {
            writeln!(stdout, "{:.1}", crate::bench::memory_probe(orders))?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Bench { json, orders, feed_seconds, memory_probe: None }) => {
            runtime()?.block_on(crate::bench::run(&config, json, orders, feed_seconds, &mut stdout)).flat()?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Engine { demo, standby }) => {
            let demo = demo || config.settings.app.demo;
            runtime()?.block_on(async {
                // SIGTERM, SIGINT (Ctrl-C) and SIGHUP: stop taking commands,
                // finish the one running, release the lock, exit 0.
                let stopped = stop_on_signals("stopping the engine")?;
                xcoin::engine::runner::run(&config, demo, standby, stopped).await.flat()?;
                Ok(ExitCode::SUCCESS)
            })
        }
        Some(Command::Exchange { listen, ticks, walk, seed, book }) => {
            let s = &config.settings;
            let feed = match (ticks, walk) {
                (Some(path), _) => xcoin::exchange::Feed::Ticks(
                    std::fs::read_to_string(&path).map_err(|e| eyre!("cannot read {}: {e}", path.display()))?,
                ),
                (None, true) => xcoin::exchange::Feed::Walk,
                (None, false) => xcoin::exchange::Feed::Still,
            };
            s.ensure_dirs().map_err(|e| eyre!("cannot create {}: {e}", s.data_dir().display()))?;
            let book = book.unwrap_or_else(|| xcoin::exchange::default_book(&s.data_dir()));
            let mut paper = xcoin::engine::paper_config(s, Some(book));
            paper.seed = seed.unwrap_or(paper.seed);
            let options = xcoin::exchange::ExchangeOptions {
                listen,
                paper,
                feed,
                tick_interval: std::time::Duration::from_millis(s.paper.tick_interval_ms),
            };
            runtime()?.block_on(async {
                let stopped = stop_on_signals("stopping the exchange")?;
                let instruments = xcoin::domain::instrument::built_in();
                xcoin::exchange::run(options, &instruments, stopped).await.map_err(|e| eyre!(e))?;
                Ok(ExitCode::SUCCESS)
            })
        }
        Some(Command::Kite { action: KiteAction::Login { request_token } }) => {
            let mut input = std::io::stdin().lock();
            let client = xcoin::broker::kite::KiteClientConfig::for_settings(&config.settings.zerodha);
            runtime()?
                .block_on(xcoin::broker::kite::login::login(&config, client, request_token, &mut input, &mut stdout))
                .flat()?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::User { action }) => runtime()?.block_on(users(&config, action, &mut stdout)),
        Some(Command::Order { action }) => runtime()?.block_on(async {
            let db = connect(&config).await?;
            let code = crate::order_cmd::run(&config, &db, action, &mut stdout).await;
            db.close().await;
            code
        }),
        Some(Command::Replay { ticks, strategy, params, from, to, speed, seed, keep }) => {
            let text = std::fs::read_to_string(&ticks).wrap_err_with(|| format!("reading {}", ticks.display()))?;
            let recorded = xcoin::replay::read_ticks(&text, &xcoin::domain::instrument::built_in())
                .map_err(|e| eyre!("{}: {e}", ticks.display()))?;
            let strategy = xcoin::engine::registry::built_in(&strategy).flat()?;
            let parameters = serde_json::from_str(&params).map_err(|e| eyre!("parameters: not JSON ({e})"))?;
            let opts = xcoin::replay::Options {
                from,
                to,
                speed,
                seed: seed.unwrap_or(config.settings.paper.seed),
                parameters,
            };
            runtime()?.block_on(replay(&config, &recorded, strategy, &opts, keep, &mut stdout))
        }
        Some(Command::Strategy { action }) => runtime()?.block_on(async {
            let db = connect(&config).await?;
            let code = crate::strategy_cmd::run(&db, action, &mut stdout).await;
            db.close().await;
            code
        }),
        Some(Command::Alert { action: AlertAction::Test }) => runtime()?.block_on(async {
            let sent = xcoin::alerts::test_channels(&config.settings, &mut stdout).await;
            Ok(if sent { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }),
        Some(Command::Db { action }) => {
            if let Some(url) = &config.settings.database.url {
                println!(
                    "database.url is set ({}); XCoin manages only its own local server. Manage that server with its own tools.",
                    xcoin::config::redacted_url(url)
                );
                return Ok(ExitCode::FAILURE);
            }
            let local = LocalDb::for_data_dir(&config.settings.data_dir())?;
            match action {
                DbAction::Start => {
                    // The cluster lives in the data directory: make that private first.
                    config.settings.ensure_dirs()?;
                    let done = local.ensure_running()?;
                    if done.is_empty() {
                        println!("already running: {}", local.url());
                    }
                    for line in done {
                        println!("{line}");
                    }
                }
                DbAction::Stop => {
                    if local.stop()? {
                        println!("stopped the database in {}", local.dir.display());
                    } else {
                        println!("not running: {}", local.dir.display());
                    }
                }
                DbAction::Status => match local.status() {
                    LocalStatus::Running { pid } => {
                        println!("running{}: {}", pid.map(|p| format!(" (pid {p})")).unwrap_or_default(), local.url())
                    }
                    LocalStatus::Stopped => println!("stopped: {}", local.dir.display()),
                    LocalStatus::NotInitialised => {
                        println!("not created yet: {} (`xcoin setup` or `xcoin db start`)", local.dir.display())
                    }
                },
            }
            Ok(ExitCode::SUCCESS)
        }
        None => {
            drop(stdout);
            // A past day must be one the exchange traded (and not today's future).
            let past = cli.date.map(|d| trading_day(&config, Some(d))).transpose()?;
            runtime()?.block_on(xcoin::desk::console(config, cli.read_only, false, past)).flat()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn time_of_day(text: &str) -> std::result::Result<chrono::NaiveTime, String> {
    chrono::NaiveTime::parse_from_str(text, "%H:%M:%S")
        .or_else(|_| chrono::NaiveTime::parse_from_str(text, "%H:%M"))
        .map_err(|_| format!("`{text}` is not an IST time of day, HH:MM or HH:MM:SS"))
}

/// `xcoin replay`: the run, its pace, the day's report; the scratch
/// database dropped unless kept.
async fn replay(
    config: &Config,
    ticks: &[xcoin::replay::RecordedTick],
    strategy: Box<dyn xcoin::engine::strategy::Strategy>,
    opts: &xcoin::replay::Options,
    keep: bool,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let target = xcoin::db::Target::from_config(config).flat()?;
    let options = target.connect_options().database(&xcoin::replay::scratch_name());
    let name = strategy.name().to_string();
    let result = xcoin::replay::run(options.clone(), &config.settings, ticks, strategy, opts).await;
    let done = async {
        let outcome = result.flat()?;
        let db = xcoin::db::Db::connect(
            options.clone(),
            xcoin::db::PoolConfig { min: 1, max: 1, ..(&config.settings.database).into() },
        )
        .await
        .flat()?;
        let calendar = config.settings.calendar();
        let report = xcoin::report::day_report(&db, &calendar, calendar.today()).await.flat()?;
        db.close().await;
        writeln!(
            out,
            "replayed {} ticks for {name} in {:.2} s ({:.0} ticks/s, {} engine cycles)\n",
            outcome.ticks,
            outcome.elapsed.as_secs_f64(),
            outcome.ticks_per_second(),
            outcome.cycles
        )?;
        write!(out, "{}", report.text())?;
        Ok::<_, color_eyre::Report>(())
    }
    .await;
    let database = options.get_database().unwrap_or_default().to_string();
    if keep {
        let url = xcoin::replay::url_of(&options);
        writeln!(out, "\nkept the scratch database {database}; open it with: DATABASE_URL='{url}' xcoin --read-only")?;
    } else {
        xcoin::db::bench::drop_database(&options).await.flat()?;
    }
    done.map(|()| ExitCode::SUCCESS)
}

/// `xcoin user …`, as the configured login (one that may create roles).
async fn users(config: &Config, action: UserAction, out: &mut impl Write) -> Result<ExitCode> {
    use xcoin::db::users::DeskRole;
    let target = xcoin::db::Target::from_config(config).flat()?;
    let pool = xcoin::db::PoolConfig { min: 1, max: 1, ..(&config.settings.database).into() };
    let db = xcoin::db::Db::connect(target.connect_options(), pool)
        .await
        .wrap_err_with(|| format!("connecting to {}; run `xcoin doctor`", target.describe()))?;
    match action {
        UserAction::Add { name, role, password_stdin } => {
            let role: DeskRole = role.parse().flat()?;
            let (password, made) = password(password_stdin, &format!("Password for {name} (empty: make one): "))?;
            db.add_user(&name, role, &password).await.flat()?;
            writeln!(out, "user {name} added as {}", role.as_str())?;
            if made {
                writeln!(out, "password (shown this once): {password}")?;
            }
        }
        UserAction::List => {
            let users = db.users().await.flat()?;
            if users.is_empty() {
                writeln!(out, "no desk users yet; `xcoin user add NAME --role operator|viewer` makes one")?;
            }
            for (name, role) in users {
                writeln!(out, "{name:<24} {}", role.as_str())?;
            }
            // One a desk database on this server, made by its migrations.
            for r in db.readers().await.flat()? {
                let of = match (r.database, r.database_exists) {
                    (Some(d), true) => format!("reader of {d}"),
                    (Some(d), false) => format!("reader of {d} (dropped: `xcoin user prune-readers` removes it)"),
                    (None, _) => "reader (of an unknown database)".into(),
                };
                writeln!(out, "{:<24} {of}", r.name)?;
            }
        }
        UserAction::PruneReaders { names } => {
            let dropped = db.prune_readers(&names).await.flat()?;
            writeln!(out, "{} dropped", xcoin::domain::count(dropped.len() as i64, "reader", "readers"))?;
            for name in dropped {
                writeln!(out, "  {name}")?;
            }
        }
        UserAction::Remove { name } => {
            if db.remove_user(&name).await.flat()? {
                writeln!(out, "user {name} removed")?;
            } else {
                writeln!(
                    out,
                    "user {name} removed from this desk (other databases still grant it; remove it there too)"
                )?;
            }
        }
        UserAction::Password { name, password_stdin } => {
            let (password, made) = password(password_stdin, &format!("New password for {name} (empty: make one): "))?;
            db.set_password(&name, &password).await.flat()?;
            writeln!(out, "password of {name} changed")?;
            if made {
                writeln!(out, "password (shown this once): {password}")?;
            }
        }
    }
    db.close().await;
    Ok(ExitCode::SUCCESS)
}

/// A password from standard input, typed at a prompt without echo, or made
/// (24 letters and digits from the system's random source) when none is
/// typed; and whether it was made.
fn password(from_stdin: bool, prompt: &str) -> Result<(String, bool)> {
    let typed = if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        read_hidden(prompt)?
    } else {
        String::new()
    };
    if !typed.is_empty() {
        return Ok((typed, false));
    }
    let mut bytes = [0u8; 24];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut bytes)?;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    Ok((bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect(), true))
}

/// A line typed at the terminal with nothing echoed.
fn read_hidden(prompt: &str) -> Result<String> {
    use crossterm::event::{Event, KeyCode, KeyEventKind, read};
    eprint!("{prompt}");
    crossterm::terminal::enable_raw_mode()?;
    let mut text = String::new();
    let result = loop {
        match read() {
            Ok(Event::Key(k)) if k.kind == KeyEventKind::Press => match k.code {
                KeyCode::Enter => break Ok(()),
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char('c') if k.modifiers.contains(crossterm::event::KeyModifiers::CONTROL) => {
                    break Err(eyre!("cancelled"));
                }
                KeyCode::Char(c) => text.push(c),
                _ => {}
            },
            Ok(_) => {}
            Err(e) => break Err(e.into()),
        }
    };
    crossterm::terminal::disable_raw_mode()?;
    eprintln!();
    result.map(|()| text)
}

async fn connect(config: &Config) -> Result<xcoin::db::Db> {
    let target = xcoin::db::Target::from_config(config).flat()?;
    let pool = xcoin::db::PoolConfig { min: 1, max: 2, ..(&config.settings.database).into() };
    xcoin::db::Db::connect(target.connect_options(), pool)
        .await
        .wrap_err_with(|| format!("connecting to {}; run `xcoin doctor`", target.describe()))
}

/// A trading day the calendar knows: a weekend or an exchange holiday given
/// by date is refused with the reason. With no date, the last trading day up
/// to today: on a Saturday, a Sunday or a holiday "the report" is the last
/// day the market traded, and stderr says which day that is.
fn trading_day(config: &Config, day: Option<chrono::NaiveDate>) -> Result<chrono::NaiveDate> {
    let calendar = config.settings.calendar();
    let today = calendar.today();
    let Some(day) = day else {
        let last = calendar.last_trading_day(today);
        if last != today {
            eprintln!(
                "today ({}) is not a trading day: the last trading day is {}",
                today.format("%a %Y-%m-%d"),
                last.format("%a %Y-%m-%d")
            );
        }
        return Ok(last);
    };
    if !calendar.is_trading_day(day) {
        return Err(eyre!("date: {day} is not a trading day (a weekend or an exchange holiday)"));
    }
    if day > calendar.today() {
        return Err(eyre!("date: {day} has not happened yet; give today or an earlier trading day"));
    }
    Ok(day)
}

/// `xcoin report` (and `xcoin status --date`).
async fn report(
    config: &Config,
    day: Option<chrono::NaiveDate>,
    format: &str,
    out: &mut impl Write,
) -> Result<ExitCode> {
    let day = trading_day(config, day)?;
    let db = connect(config).await?;
    let r = xcoin::report::day_report(&db, &config.settings.calendar(), day).await.flat()?;
    db.close().await;
    let text = match format {
        "json" => r.json(),
        "markdown" => r.markdown(),
        _ => r.text(),
    };
    writeln!(out, "{}", text.trim_end())?;
    Ok(ExitCode::SUCCESS)
}

/// `xcoin export trades|orders`.
type ExportArgs<'a> = (&'a str, Option<chrono::NaiveDate>, Option<chrono::NaiveDate>, Option<PathBuf>);

async fn export(config: &Config, (what, from, to, out): ExportArgs<'_>, stdout: &mut impl Write) -> Result<ExitCode> {
    let calendar = config.settings.calendar();
    let from = from.unwrap_or_else(|| calendar.today());
    let to = to.unwrap_or(from);
    if to < from {
        return Err(eyre!("to: {to} is before from ({from}); give a range that runs forward"));
    }
    let db = connect(config).await?;
    let mut bytes = Vec::new();
    let rows = if what == "orders" {
        let orders = db.orders_between(from, to).await.flat()?;
        xcoin::export::orders_csv(&orders, &calendar, &mut bytes)?;
        orders.len()
    } else {
        let trades = db.trades_between(from, to).await.flat()?;
        xcoin::export::trades_csv(&trades, &calendar, &mut bytes)?;
        trades.len()
    };
    db.close().await;
    match out {
        Some(path) => {
            xcoin::files::replace_private(&path, &bytes).wrap_err_with(|| format!("writing {}", path.display()))?;
            eprintln!("{rows} {what} from {from} to {to} written to {}", path.display());
        }
        None => stdout.write_all(&bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// A stop that turns true at the first SIGTERM, SIGINT or SIGHUP, said in
/// the log as `what` (inside the runtime: the signal handlers need it).
fn stop_on_signals(what: &'static str) -> Result<tokio::sync::watch::Receiver<bool>> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut signals = xcoin::signals::StopSignals::new()?;
    tokio::spawn(async move {
        let name = signals.recv().await;
        tracing::info!(signal = name, "{what}");
        let _ = stop.send(true);
    });
    Ok(stopped)
}
