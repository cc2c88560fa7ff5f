//! The operator console: a full-screen ratatui desk over the database's
//! change feed. It reads the database and sends operator commands; it never
//! talks to the engine or the broker, and this crate depends on neither: it
//! uses the model, the configuration and the database layer. The binary's
//! `desk` wires it: it starts the engine in-process when no other process
//! trades the database, and hands the console what it may know of it
//! ([`Wiring`]).
//!
//! Files: `action` (the keymap), `app` (state and key handling), `store`
//! (view model and the loader that feeds it), `views/` (drawing), `wizard`
//! (the first launch), `signals` (the stop signals the desk's processes
//! share).

pub mod action;
pub mod app;
pub mod form;
pub mod signals;
pub mod store;
pub mod tab;
pub mod tables;
pub mod views;
pub mod wizard;

use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyEventKind};
use tokio::sync::{mpsc, watch};
use tokio_stream::StreamExt;

use app::{App, Effect, FlashKind};
use store::{LoaderMsg, Request};
use xcoin_config::Config;
use xcoin_db::Db;
use xcoin_db::provision::{self as setup, Report};
use xcoin_model::command::OperatorCommand;
use xcoin_model::feed::TickerStatus;
use xcoin_model::risk::RiskLimits;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Setup(#[from] setup::SetupError),
    #[error("terminal: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Config(String),
}

/// Runs the wizard; `true` when it wrote the configuration.
async fn run_wizard(terminal: &mut ratatui::DefaultTerminal, config: &Config) -> Result<bool, ConsoleError> {
    let mut w = wizard::Wizard::new(config.paths.clone());
    let mut keys = EventStream::new();
    loop {
        terminal.draw(|f| f.render_widget(&w, f.area()))?;
        let Some(event) = keys.next().await else { return Ok(false) };
        let Event::Key(key) = event? else { continue };
        if key.kind != KeyEventKind::Press {
            continue;
        }
        match w.on_key(key) {
            None => {}
            Some(wizard::WizardEffect::Quit) => return Ok(false),
            Some(wizard::WizardEffect::Write) => {
                w.write()?;
                return Ok(true);
            }
            Some(wizard::WizardEffect::PrepareDatabase) => {
                let (ok, lines) = prepare_database(config, w.database_url()).await;
                w.database_prepared(ok, lines);
            }
        }
    }
}

/// Makes the wizard's chosen database ready; the steps as lines.
pub async fn prepare_database(config: &Config, url: Option<String>) -> (bool, Vec<String>) {
    let mut settings = config.settings.clone();
    settings.database.url = url;
    let candidate = Config::with_settings(settings, config.paths.clone());
    let mut sink = std::io::sink();
    let mut report = Report::new(&mut sink, false);
    let result = tokio::time::timeout(Duration::from_secs(60), setup::setup(&candidate, &mut report)).await;
    let mut lines: Vec<String> = report.steps().iter().map(ToString::to_string).collect();
    match result {
        Ok(Ok(db)) => {
            db.close().await;
            (true, lines)
        }
        Ok(Err(e)) => {
            lines.push(format!("✗ {e}"));
            lines
                .push("Check the host, port, user, password and database name, and that the server is running.".into());
            (false, lines)
        }
        Err(_) => {
            lines.push("✗ no answer within 60 s".into());
            (false, lines)
        }
    }
}

/// The frame interval: the console redraws at most this often, and only
/// when something changed.
const FRAME: Duration = Duration::from_millis(50);

/// Sends console logs to the log pane and to `<log dir>/xcoin.log`.
pub fn init_logging(config: &Config) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let level = if config.settings.app.debug { "debug" } else { config.settings.app.log_level.as_str() };
    let filter = tracing_subscriber::EnvFilter::try_from_env(xcoin_config::LOG_FILTER_VAR)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("xcoin={level},warn")));
    let _ = config.settings.ensure_dirs();
    let file = xcoin_config::files::append_private(&config.settings.log_dir().join("xcoin.log"));
    let file_layer =
        file.ok().map(|f| tracing_subscriber::fmt::layer().with_ansi(false).with_writer(std::sync::Mutex::new(f)));
    let _ = tui_logger::init_logger(tui_logger::LevelFilter::Trace);
    tui_logger::set_default_level(tui_logger::LevelFilter::Trace);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(tui_logger::TuiTracingSubscriberLayer)
        .with(file_layer)
        .try_init();
}

/// Where the engine is, as far as the console is concerned.
pub enum EngineHere {
    /// Started by this process; with the Kite ticker's health in LIVE.
    InProcess { ticker: Option<watch::Receiver<TickerStatus>> },
    /// Another process trades this database; the console sends it commands.
    Elsewhere,
    /// It should have started here and did not: why.
    Failed(String),
    /// A read-only console starts none.
    NotStarted,
}

/// What the desk hands the console.
pub struct Wiring {
    pub db: Db,
    pub limits: RiskLimits,
    pub read_only: bool,
    pub engine: EngineHere,
    /// The operator's name when the database binds it to the login role
    /// (else the configured `app.operator`).
    pub operator: Option<String>,
    /// A past trading day to show read-only instead of today.
    pub past_day: Option<chrono::NaiveDate>,
}

/// The first-launch wizard, when XCoin is not configured (or when asked
/// for): the configuration to run with, or `None` when the operator left.
pub async fn first_launch(config: Config, read_only: bool, wizard: bool) -> Result<Option<Config>, ConsoleError> {
    let wanted = wizard || !config.is_configured();
    if read_only || !wanted {
        return Ok(Some(config));
    }
    let mut terminal = ratatui::init();
    let written = run_wizard(&mut terminal, &config).await;
    ratatui::restore();
    if !written? {
        eprintln!("Setup left: nothing was written. Run `xcoin` again to set up the desk.");
        return Ok(None);
    }
    Ok(Some(Config::load(config.paths.clone()).map_err(|e| ConsoleError::Config(e.to_string()))?))
}

/// Runs the console until the operator quits (or a stop signal).
pub async fn run(config: &Config, wiring: Wiring) -> Result<(), ConsoleError> {
    let s = &config.settings;
    let Wiring { db, limits, read_only, engine, operator, past_day } = wiring;
    let operator = operator.unwrap_or_else(|| s.operator_name());
    let mut app = App::new(s.app.mode, s.calendar(), limits, operator, read_only);
    app.cancel_orders_on_stop = s.engine.cancel_orders_on_stop;
    app.past_day = past_day;
    app.goals = s.goals.desk.limits(s.account.capital).ok().filter(|g| !g.is_empty());
    let mut ticker = None;
    match engine {
        EngineHere::InProcess { ticker: feed } => {
            app.status.engine_in_process = true;
            if let Some(feed) = &feed {
                app.status.ticker = Some(feed.borrow().clone());
            }
            ticker = feed;
        }
        EngineHere::Failed(why) => app.flash(format!("the engine did not start: {why}"), FlashKind::Failed),
        EngineHere::Elsewhere | EngineHere::NotStarted => {}
    }

    let (loader_tx, mut loader_rx) = mpsc::channel(256);
    let (requests, requests_rx) = mpsc::channel(REQUESTS);
    let loader = match past_day {
        Some(day) => tokio::spawn(store::run_past_loader(db.clone(), day, loader_tx, requests_rx)),
        None => tokio::spawn(store::run_loader(db.clone(), loader_tx, requests_rx)),
    };

    // Registered before the terminal changes, so a signal at any moment
    // after this point ends in a restored terminal.
    let mut signals = crate::signals::StopSignals::new()?;
    // ratatui::init also restores the terminal on a panic.
    let mut terminal = ratatui::init();
    let result = event_loop(&mut terminal, &mut app, &requests, &mut loader_rx, &mut signals, ticker).await;
    ratatui::restore();
    loader.abort();
    result
}

/// A key: what the app makes of it, handed to the loader when it is a
/// command. True when the console is to quit now.
fn on_key(app: &mut App, requests: &mpsc::Sender<Request>, key: crossterm::event::KeyEvent) -> bool {
    let operator = app.operator.clone();
    let send = |command, what: String, then_quit| Request::Send {
        command: Box::new(command),
        what,
        requested_by: operator.clone(),
        then_quit,
    };
    match app.on_key(key) {
        Some(Effect::Quit) => return true,
        Some(Effect::Send(command, what)) => {
            let request = send(command, what.clone(), false);
            ask(app, requests, request, &what);
        }
        Some(Effect::ExitAllThenQuit) => {
            let what = "exit all, then quit".to_string();
            let request = send(OperatorCommand::ExitAll {}, what.clone(), true);
            ask(app, requests, request, &what);
        }
        None => {}
    }
    false
}

/// A message of the loader applied to the app. True when the console is to
/// quit now (a command it was waiting for is done).
fn on_loader(app: &mut App, msg: LoaderMsg) -> bool {
    match msg {
        LoaderMsg::Update(u) => {
            app.apply(*u);
            app.ready_to_quit()
        }
        LoaderMsg::Health(h) => {
            app.health(h);
            false
        }
        LoaderMsg::Answer(a) => app.answer(a),
    }
}

/// Draws a frame from the app's state.
fn draw(terminal: &mut ratatui::DefaultTerminal, app: &mut App) -> Result<(), ConsoleError> {
    app.refresh_views();
    if let Ok(size) = terminal.size() {
        app.screen = size;
    }
    terminal.draw(|f| f.render_widget(&*app, f.area()))?;
    app.dirty = false;
    Ok(())
}

/// Requests the console may have on the way to the loader at once.
const REQUESTS: usize = 64;

/// Hands a request to the loader without waiting; a full queue (the
/// database is not answering) is said at once instead.
fn ask(app: &mut App, requests: &mpsc::Sender<Request>, request: Request, what: &str) {
    if requests.try_send(request).is_err() {
        app.flash(format!("{what} not sent: the database is not answering; try again"), FlashKind::Failed);
    }
}

/// The next change of the ticker's health; never, without a ticker.
async fn ticker_changed(ticker: &mut Option<watch::Receiver<TickerStatus>>) -> Option<TickerStatus> {
    match ticker {
        Some(rx) => match rx.changed().await {
            Ok(()) => Some(rx.borrow_and_update().clone()),
            Err(_) => {
                *ticker = None;
                None
            }
        },
        None => std::future::pending().await,
    }
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    requests: &mpsc::Sender<Request>,
    loader: &mut mpsc::Receiver<LoaderMsg>,
    signals: &mut crate::signals::StopSignals,
    mut ticker: Option<watch::Receiver<TickerStatus>>,
) -> Result<(), ConsoleError> {
    let mut keys = EventStream::new();
    let mut frame = tokio::time::interval(FRAME);
    frame.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut shown_second = 0;
    loop {
        if let Some((id, version)) = app.history_needed() {
            app.history_asked = Some((id, version));
            ask(app, requests, Request::History { id, version }, "the order's history");
        }
        tokio::select! {
            event = keys.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind == KeyEventKind::Press => {
                    if on_key(app, requests, key) {
                        return Ok(());
                    }
                }
                Some(Ok(Event::Resize(..))) => app.dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            status = ticker_changed(&mut ticker) => {
                if let Some(status) = status {
                    app.status.ticker = Some(status);
                    app.dirty = true;
                }
            }
            name = signals.recv() => {
                tracing::warn!(signal = name, "stopping the console");
                return Ok(());
            }
            msg = loader.recv() => match msg {
                Some(msg) => {
                    if on_loader(app, msg) {
                        return Ok(());
                    }
                }
                None => return Ok(()),
            },
            _ = frame.tick() => {
                app.now = xcoin_model::clock::now();
                let second = app.now.timestamp();
                if app.expire_flash() || second != shown_second {
                    shown_second = second;
                    app.dirty = true;
                }
                // New log lines are a change too.
                app.dirty |= app.show_log;
                if app.dirty {
                    draw(terminal, app)?;
                }
            }
        }
    }
}
