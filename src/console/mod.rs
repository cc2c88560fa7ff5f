//! The operator console: a full-screen ratatui desk over the database's
//! change feed, with the engine running in-process unless another process
//! already trades this database (or the console is read-only).
//!
//! Files: `action` (the keymap), `app` (state and key handling), `store`
//! (view model and the loader that feeds it), `views/` (drawing).

pub mod action;
pub mod app;
pub mod form;
pub mod store;
pub mod views;

use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyEventKind};
use tokio::sync::{mpsc, watch};
use tokio_stream::StreamExt;

use crate::config::Config;
use crate::db::{Db, PoolConfig};
use crate::engine::lock::LockError;
use crate::engine::{EngineConfig, EngineError, runner};
use crate::setup::{self, Report, Target};
use app::{App, Effect, FlashKind};
use store::LoaderMsg;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Setup(#[from] setup::SetupError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("terminal: {0}")]
    Io(#[from] std::io::Error),
}

/// The frame interval: the console redraws at most this often, and only
/// when something changed.
const FRAME: Duration = Duration::from_millis(50);

/// Sends console logs to the log pane and to `<log dir>/xcoin.log`.
pub fn init_logging(config: &Config) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let level = if config.settings.app.debug { "debug" } else { config.settings.app.log_level.as_str() };
    let filter = tracing_subscriber::EnvFilter::try_from_env("XCOIN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("xcoin={level},warn")));
    let _ = config.settings.ensure_dirs();
    let file = std::fs::OpenOptions::new().create(true).append(true).open(config.settings.log_dir().join("xcoin.log"));
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

/// Runs the console until the operator quits.
pub async fn run(config: &Config, read_only: bool) -> Result<(), ConsoleError> {
    let s = &config.settings;
    // Make the database ready (quietly: the log pane has the steps).
    if !read_only {
        let mut out = Vec::new();
        let db = setup::setup(config, &mut Report::new(&mut out, false)).await?;
        db.close().await;
        for line in String::from_utf8_lossy(&out).lines().filter(|l| !l.trim().is_empty()) {
            tracing::info!("{}", line.trim());
        }
    }
    let target = Target::from_config(config)?;
    let pool = PoolConfig { min: 1, max: 4, ..PoolConfig::from(&s.database) };
    let db = Db::connect(target.connect_options(), pool).await.map_err(EngineError::from)?;

    let cfg = EngineConfig::from_settings(s);
    let mut app = App::new(s.app.mode, s.calendar(), cfg.limits.clone(), s.operator_name(), read_only);
    let (stop_engine, engine_stopped) = watch::channel(false);
    let mut engine_task = None;
    if !read_only {
        match runner::start(config, s.app.demo).await {
            Ok(started) => {
                app.engine_in_process = true;
                engine_task = Some(tokio::spawn(started.run(engine_stopped)));
            }
            Err(EngineError::Lock(LockError::Held(holder))) => {
                tracing::info!(%holder, "another process runs the engine; this console sends it commands");
            }
            Err(e) => {
                tracing::error!(error = %e, "the engine did not start");
                app.flash(format!("the engine did not start: {e}"), FlashKind::Failed);
            }
        }
    }

    let (loader_tx, mut loader_rx) = mpsc::channel(256);
    let loader = tokio::spawn(store::run_loader(db.clone(), loader_tx));

    let mut terminal = ratatui::init();
    let result = event_loop(&mut terminal, &mut app, &db, &mut loader_rx).await;
    ratatui::restore();

    loader.abort();
    if let Some(task) = engine_task {
        let _ = stop_engine.send(true);
        match tokio::time::timeout(Duration::from_secs(10), task).await {
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "engine stopped with an error"),
            Err(_) => tracing::error!("the engine did not stop within 10 s"),
            _ => {}
        }
    }
    db.close().await;
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    db: &Db,
    loader: &mut mpsc::Receiver<LoaderMsg>,
) -> Result<(), ConsoleError> {
    let mut keys = EventStream::new();
    let mut frame = tokio::time::interval(FRAME);
    frame.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut shown_second = 0;
    loop {
        tokio::select! {
            event = keys.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind == KeyEventKind::Press => {
                    match app.on_key(key) {
                        Some(Effect::Quit) => return Ok(()),
                        Some(Effect::Send(command, what)) => match db.enqueue_command(&command, &app.operator).await {
                            Ok(record) => app.sent(record.id, &what),
                            Err(e) => app.flash(format!("{what} not sent: {e}"), FlashKind::Failed),
                        },
                        None => {}
                    }
                }
                Some(Ok(Event::Resize(..))) => app.dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            msg = loader.recv() => match msg {
                Some(LoaderMsg::Update(u)) => app.apply(*u),
                Some(LoaderMsg::Health(h)) => app.health(h),
                None => return Ok(()),
            },
            _ = frame.tick() => {
                app.now = chrono::Utc::now();
                let second = app.now.timestamp();
                if app.expire_flash() || second != shown_second {
                    shown_second = second;
                    app.dirty = true;
                }
                if app.show_log {
                    // New log lines are a change too.
                    app.dirty = true;
                }
                if app.dirty {
                    terminal.draw(|f| f.render_widget(&*app, f.area()))?;
                    app.dirty = false;
                }
            }
        }
    }
}
