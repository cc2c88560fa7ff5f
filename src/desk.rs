//! The desk wired in one place: the database, the engine and the console.
//!
//! The console reads the database and sends operator commands; the engine
//! is the single writer and the only part that talks to the broker. Here the
//! console is opened: the first-launch wizard if needed, the database made
//! ready, the engine started in this process unless another process already
//! trades the database (or the console is read-only), and the console handed
//! what it may know of the engine ([`console::Wiring`]).

use std::time::Duration;

use tokio::sync::watch;

use crate::config::Config;
use crate::console::{self, ConsoleError, EngineHere, Wiring};
use crate::db::lock::LockError;
use crate::db::{Db, PoolConfig, Target};
use crate::engine::{EngineError, runner};
use crate::setup::{self, Report};

#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error(transparent)]
    Console(#[from] ConsoleError),
    #[error(transparent)]
    Setup(#[from] setup::SetupError),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

/// What the configured login may do, if the database can say yet.
async fn session_role(target: &Target, s: &crate::config::Settings) -> Option<crate::db::users::SessionRole> {
    let pool = PoolConfig { min: 1, max: 1, ..PoolConfig::from(&s.database) };
    let db = Db::connect(target.connect_options(), pool).await.ok()?;
    let role = db.session_role().await.ok();
    db.close().await;
    role
}

/// How long a stopping console waits for its in-process engine.
const ENGINE_STOP: Duration = Duration::from_secs(10);

/// Opens the console on the configured desk and runs it until the operator
/// quits; the engine it started (if any) stops with it.
/// With `past_day`, the console opens that trading day read-only, with no
/// engine.
pub async fn console(
    config: Config,
    read_only: bool,
    wizard: bool,
    past_day: Option<chrono::NaiveDate>,
) -> Result<(), DeskError> {
    let read_only = read_only || past_day.is_some();
    let Some(config) = console::first_launch(config, read_only, wizard).await? else { return Ok(()) };
    let s = &config.settings;
    let target = Target::from_config(&config)?;
    // The database says what this login may do: a viewer's console is
    // read-only by itself, an operator's sends commands, and only a role
    // that may write the trading tables prepares the database and runs the
    // engine. (No answer: not set up yet, which the owner's setup does.)
    let role = session_role(&target, s).await;
    let may_trade = role.as_ref().is_none_or(|r| r.may_trade);
    let read_only = read_only || role.as_ref().is_some_and(|r| !r.may_command);
    if let Some(r) = role.as_ref().filter(|r| !r.may_trade) {
        tracing::info!(user = %r.user, may_command = r.may_command, "this login does not run the engine");
    }
    if !read_only && may_trade {
        // Make the database ready (quietly: the log pane has the steps).
        let mut out = Vec::new();
        let db = setup::setup(&config, &mut Report::new(&mut out, false)).await?;
        db.close().await;
        for line in String::from_utf8_lossy(&out).lines().filter(|l| !l.trim().is_empty()) {
            tracing::info!("{}", line.trim());
        }
    }
    let pool = PoolConfig { min: 1, max: 4, ..PoolConfig::from(&s.database) };
    let db = Db::connect(target.connect_options(), pool).await?;

    let (stop_engine, engine_stopped) = watch::channel(false);
    let mut engine_task = None;
    let engine = if read_only || !may_trade {
        EngineHere::NotStarted
    } else {
        match runner::start(&config, s.app.demo, None).await {
            Ok(mut started) => {
                let ticker = started.ticker.take();
                engine_task = Some(tokio::spawn(started.run(engine_stopped)));
                EngineHere::InProcess { ticker }
            }
            Err(EngineError::Lock(LockError::Held(holder))) => {
                tracing::info!(%holder, "another process runs the engine; this console sends it commands");
                EngineHere::Elsewhere
            }
            Err(e) => {
                tracing::error!(error = %e, "the engine did not start");
                EngineHere::Failed(e.to_string())
            }
        }
    };

    let operator = role.filter(|r| r.named_by_role).map(|r| r.user);
    let wiring = Wiring { db: db.clone(), limits: s.risk_limits(), read_only, engine, operator, past_day };
    let result = console::run(&config, wiring).await;
    if let Some(task) = engine_task {
        let _ = stop_engine.send(true);
        match tokio::time::timeout(ENGINE_STOP, task).await {
            Ok(Ok(Err(e))) => tracing::error!(error = %e, "engine stopped with an error"),
            Err(_) => tracing::error!("the engine did not stop within {} s", ENGINE_STOP.as_secs()),
            _ => {}
        }
    }
    db.close().await;
    Ok(result?)
}
