//! `xcoin engine`: the engine alone, headless, on the configured database.
//! In PAPER mode it runs the simulated exchange (random walk or a replayed
//! tick file) whose book lives in the data directory, one book per database
//! (see [`paper_book`]), so the broker side survives restarts like a real
//! broker's. In LIVE mode it runs on Kite Connect, after Kite has accepted
//! the day's session.

use std::path::PathBuf;
use std::time::Duration;

use rust_decimal::Decimal;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{Engine, EngineConfig, EngineError};
use crate::alerts::{Alerts, Policy};
use crate::broker::kite::{KiteBroker, TickerConfig, TickerStatus, TickerStream, token_map};
use crate::broker::paper::PaperBroker;
use crate::broker::{AnyBroker, BrokerError};
use crate::config::Config;
use crate::db::Target;
use crate::db::lock::EngineLock;
use crate::db::{Db, PoolConfig};
use crate::domain::instrument;
use crate::domain::order::{Exchange, Product, Side};
use crate::domain::strategy::TradingMode;

/// How often the demo's "trade made elsewhere" lands on the paper exchange,
/// giving reconciliation something to show.
const EXTERNAL_TRADE_EVERY: Duration = Duration::from_secs(90);

/// A started engine with the tasks that feed it.
pub struct Started {
    pub engine: Engine<AnyBroker>,
    /// The Kite ticker's health (LIVE only), for the console's header.
    pub ticker: Option<watch::Receiver<TickerStatus>>,
    tasks: Vec<JoinHandle<()>>,
    /// The dashboard port, bound, when enabled.
    dashboard: Option<(tokio::net::TcpListener, crate::dashboard::Dashboard<AnyBroker>)>,
}

impl Started {
    /// Runs the engine until `shutdown` turns true, then stops its feed.
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> Result<(), EngineError> {
        let mut tasks = self.tasks;
        if let Some((listener, dashboard)) = self.dashboard {
            let stop = shutdown.clone();
            tasks.push(tokio::spawn(async move {
                if let Err(e) = crate::dashboard::serve(listener, dashboard, stop).await {
                    tracing::error!(error = %e, "the dashboard stopped");
                }
            }));
        }
        let alerts = self.engine.alerts.clone();
        let result = self.engine.run(shutdown).await;
        for t in tasks {
            t.abort();
        }
        // The stop's own alerts (what it left unwatched) go out before the process ends.
        alerts.settle(std::time::Duration::from_secs(10)).await;
        result
    }
}

/// Connects and starts the engine without running it yet: in PAPER mode on
/// the paper exchange with its feed (and the demo when asked), in LIVE mode
/// on Kite Connect with its WebSocket ticker, once Kite accepts the session.
///
/// With `lock` (a standby that took over), the engine starts on it instead
/// of taking the lock itself.
pub async fn start(config: &Config, demo: bool, lock: Option<EngineLock>) -> Result<Started, EngineError> {
    let s = &config.settings;
    let live = s.app.mode == TradingMode::Live;
    if live && demo {
        return Err(EngineError::Refused(
            "the demo strategy runs only in PAPER mode; unset app.demo (or drop --demo) to trade LIVE".into(),
        ));
    }
    let db = connect_checked(config).await?;
    let target = Target::from_config(config).map_err(|e| EngineError::Refused(e.to_string()))?;
    s.ensure_dirs().map_err(|e| EngineError::Refused(format!("cannot create {}: {e}", s.data_dir().display())))?;
    let channels = crate::alerts::configured_channels(s).map_err(|e| EngineError::Refused(e.to_string()))?;
    let alerts = Alerts::start(channels, Policy::default(), s.app.mode);
    if !alerts.is_enabled() {
        tracing::info!("no alert channel configured: alerts are logged only");
    }
    let (broker, mut tasks, ticker) = if live {
        kite_broker(s, alerts.clone()).await?
    } else {
        let book = super::paper_book(&s.data_dir(), &db).await?;
        paper_broker(s, book).map(|(b, t)| (b, t, None))?
    };
    if let Some(status) = &ticker {
        tasks.push(tokio::spawn(journal_ticker(db.clone(), status.clone())));
    }
    if let AnyBroker::Kite(kite) = &broker {
        let sent = db.broker_writes_today().await?;
        kite.client().count_earlier_writes(u32::try_from(sent).unwrap_or(u32::MAX));
    }
    let mut cfg = EngineConfig::from_settings(s);
    if let AnyBroker::Kite(kite) = &broker {
        for (symbol, exchange, tick) in kite.ticks() {
            cfg.limits.ticks.set(symbol, *exchange, *tick);
        }
    }
    let mut engine = match lock {
        Some(lock) => Engine::start_locked(db, broker.clone(), cfg, lock).await?,
        None => Engine::start(db, broker.clone(), cfg).await?,
    };
    engine.alerts = alerts;
    match &broker {
        AnyBroker::Paper(paper) => {
            if demo {
                let id = engine.enable_demo().await?;
                tracing::info!(strategy = id, "demo strategy running");
                tasks.push(tokio::spawn(external_trades(paper.clone(), s.paper.seed)));
            }
            tracing::info!(database = %target.describe(), "engine started on the paper exchange");
        }
        AnyBroker::Kite(_) => {
            tracing::warn!(database = %target.describe(), "engine started LIVE on Kite Connect: real orders, real money")
        }
    }
    let dashboard = match s.dashboard.enabled {
        false => None,
        true => Some(bind_dashboard(config, &engine, ticker.clone()).await?),
    };
    Ok(Started { engine, ticker, tasks, dashboard })
}

/// The desk's database, connected and checked for trading: it exists, its
/// schema is complete and this role may write the trading tables.
async fn connect_checked(config: &Config) -> Result<Db, EngineError> {
    let s = &config.settings;
    let target = Target::from_config(config).map_err(|e| EngineError::Refused(e.to_string()))?;
    let db = match Db::connect(target.connect_options(), PoolConfig::from(&s.database)).await {
        Ok(db) => db,
        // invalid_catalog_name: the server is there, the database is not.
        Err(e) if e.sqlstate().as_deref() == Some("3D000") => {
            return Err(EngineError::Refused(format!(
                "the database at {} does not exist; run `xcoin setup`",
                target.describe()
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let schema = db.verify_schema().await?;
    if !schema.is_complete() {
        return Err(EngineError::Refused(format!(
            "the database at {} is not set up (missing {}); run `xcoin setup`",
            target.describe(),
            schema.missing().join(", ")
        )));
    }
    let role = db.session_role().await?;
    if !role.may_trade {
        return Err(EngineError::Refused(format!(
            "the database role {} may not write the trading tables, so it cannot run the engine; run the engine \
             with the engine's credentials (the database owner or a member of xcoin_engine)",
            role.user
        )));
    }
    Ok(db)
}

/// The dashboard port, bound (a port that cannot be had refuses the start).
async fn bind_dashboard(
    config: &Config,
    engine: &Engine<AnyBroker>,
    ticker: Option<watch::Receiver<TickerStatus>>,
) -> Result<(tokio::net::TcpListener, crate::dashboard::Dashboard<AnyBroker>), EngineError> {
    let s = &config.settings;
    let address = format!("{}:{}", s.dashboard.host, s.dashboard.port);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|e| EngineError::Refused(format!("the dashboard cannot listen on {address}: {e}")))?;
    tracing::info!(%address, "dashboard listening (/healthz, /metrics, /api/today, POST /api/signal)");
    let d = crate::dashboard::Dashboard {
        db: engine.db.clone(),
        config: Config::with_settings(s.clone(), config.paths.clone()),
        engine: engine.health.subscribe(),
        ticker,
        market: Some(engine.broker.clone()),
    };
    Ok((listener, d))
}

/// The paper exchange with its book in `book`, and the task that moves its
/// prices (a random walk or a replayed file).
fn paper_broker(s: &crate::config::Settings, book: PathBuf) -> Result<(AnyBroker, Vec<JoinHandle<()>>), EngineError> {
    let broker = PaperBroker::new(&instrument::built_in(), super::paper_config(s, Some(book)))?;
    let every = Duration::from_millis(s.paper.tick_interval_ms);
    let feed = match &s.paper.replay_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| EngineError::Refused(format!("cannot read paper.replay_file {path}: {e}")))?;
            broker.replay(&text, every)?
        }
        None => broker.run_feed(every),
    };
    Ok((AnyBroker::Paper(broker), vec![feed]))
}

/// Kite Connect: the session checked, the desk's instruments looked up in
/// Kite's instrument list, and the WebSocket ticker streaming their prices,
/// order updates and fills into the broker's events.
pub async fn kite_broker(
    s: &crate::config::Settings,
    alerts: Alerts,
) -> Result<(AnyBroker, Vec<JoinHandle<()>>, Option<watch::Receiver<TickerStatus>>), EngineError> {
    let (client, available) = crate::broker::kite::live_session(&s.zerodha).await.map_err(EngineError::Refused)?;
    tracing::info!(available = %crate::domain::money::rupees(available), "Kite Connect session valid");
    let keys: Vec<String> = instrument::built_in().iter().map(|i| format!("{}:{}", i.exchange, i.symbol)).collect();
    let mut listed = Vec::new();
    for exchange in [Exchange::Nse, Exchange::Bse] {
        if keys.iter().any(|k| k.starts_with(&format!("{exchange}:"))) {
            listed.extend(client.instruments(exchange).await.map_err(BrokerError::from)?);
        }
    }
    let (tokens, missing) = token_map(&listed, &keys);
    if !missing.is_empty() {
        tracing::warn!(missing = %missing.join(", "), "not in Kite's instrument list: no prices for these");
    }
    // Kite's list is the authority on each instrument's tick.
    let ticks = listed
        .iter()
        .filter(|i| keys.contains(&format!("{}:{}", i.exchange, i.tradingsymbol)))
        .filter_map(|i| Some((i.tradingsymbol.clone(), i.exchange.parse::<Exchange>().ok()?, i.tick_size)))
        .collect();
    let broker = KiteBroker::new(client, keys).with_ticks(ticks);
    let stream =
        TickerStream::new(&broker, tokens, TickerConfig { url: s.zerodha.ws_url.clone(), ..TickerConfig::default() });
    let status = stream.status();
    let ticker = tokio::spawn(async move {
        // The sender lives as long as the task: the stream stops when the engine aborts it.
        let (_stop, stopped) = watch::channel(false);
        match stream.run(stopped).await {
            Ok(()) => {}
            // The engine stops trading at its next call to Kite; the desk hears now.
            Err(BrokerError::Session(message)) => alerts.raise(crate::alerts::Alert::token_expired(&message)),
            Err(e) => {
                tracing::error!(error = %e, "the Kite ticker stopped: no prices or order updates until a restart")
            }
        }
    });
    Ok((AnyBroker::Kite(broker), vec![ticker], Some(status)))
}

/// Writes the Kite ticker's changes of state to the desk log, so every
/// console says when prices stop and start again.
async fn journal_ticker(db: Db, mut status: watch::Receiver<TickerStatus>) {
    use crate::domain::event::{EventKind, EventLevel};
    use crate::domain::feed::TickerState;
    let mut was = status.borrow().state;
    while status.changed().await.is_ok() {
        let now = status.borrow().clone();
        if now.state == was {
            continue;
        }
        was = now.state;
        let why = now.last_error.as_deref().map(|e| format!(": {e}")).unwrap_or_default();
        let (level, line) = match now.state {
            TickerState::Connected => {
                (EventLevel::Info, format!("Kite ticker connected (connection {})", now.connections))
            }
            TickerState::Connecting => continue,
            TickerState::Reconnecting => (EventLevel::Warn, format!("Kite ticker lost; reconnecting{why}")),
            TickerState::Stopped => (EventLevel::Info, "Kite ticker stopped".to_string()),
            TickerState::SessionExpired => {
                (EventLevel::Error, format!("Kite ticker refused the session: log in again{why}"))
            }
        };
        if let Err(e) = db.record_event(level, EventKind::Broker, &line).await {
            tracing::warn!(error = %e, %line, "desk log line not written");
        }
    }
}

/// Connects, starts the engine and runs it until `shutdown` turns true.
///
/// A `standby` engine first waits for the active engine's lock (checking
/// the configuration and the database before it waits, so a standby that
/// could not trade says so at once, not at the failover). It builds its
/// broker only once it holds the lock: the paper exchange's book is then
/// read as the ended engine left it, and Kite's session and book are
/// fresh. Its start is every engine's: catch up with the broker, finish
/// the work in flight, then trade.
pub async fn run(
    config: &Config,
    demo: bool,
    standby: bool,
    shutdown: watch::Receiver<bool>,
) -> Result<(), EngineError> {
    let lock = match standby {
        false => None,
        true => {
            let db = connect_checked(config).await?;
            let waited = std::time::Instant::now();
            match EngineLock::wait(db.connect_options(), shutdown.clone()).await? {
                Some(lock) => {
                    tracing::warn!(
                        waited_s = waited.elapsed().as_secs(),
                        "standby: the engine lock is ours; taking over"
                    );
                    Some(lock)
                }
                None => return Ok(()),
            }
        }
    };
    start(config, demo, lock).await?.run(shutdown).await
}

/// Now and then, a small trade the local book knows nothing of.
async fn external_trades(broker: PaperBroker, seed: u64) {
    let instruments = instrument::built_in();
    let mut n = seed;
    let mut interval = tokio::time::interval(EXTERNAL_TRADE_EVERY);
    interval.tick().await;
    loop {
        interval.tick().await;
        n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let i = &instruments[(n >> 33) as usize % instruments.len()];
        let price = broker.last_price(&i.symbol, i.exchange).unwrap_or(i.reference_price);
        let side = if (n >> 20) % 2 == 0 { Side::Buy } else { Side::Sell };
        let quantity = 1 + ((n >> 40) % 5) as i64;
        match broker.apply_external_trade(&i.symbol, i.exchange, Product::Mis, side, quantity, price) {
            Ok(()) => {
                tracing::info!(symbol = %i.symbol, %side, quantity, price = %price.max(Decimal::ZERO), "demo: a trade made outside XCoin")
            }
            Err(e) => tracing::warn!(error = %e, "demo external trade"),
        }
    }
}
