//! `xcoin engine`: the engine alone, headless, on the configured database.
//! In PAPER mode it runs the simulated exchange (random walk or a replayed
//! tick file) whose book lives in `<data dir>/paper-exchange.json`, so the
//! broker side survives restarts like a real broker's.

use std::time::Duration;

use rust_decimal::Decimal;
use tokio::sync::watch;

use super::{Engine, EngineConfig, EngineError};
use crate::alerts::{Alerts, Policy};
use crate::broker::AnyBroker;
use crate::broker::paper::{PaperBroker, PaperConfig};
use crate::config::Config;
use crate::db::{Db, PoolConfig};
use crate::domain::instrument;
use crate::domain::order::{Product, Side};
use crate::domain::strategy::TradingMode;
use crate::setup::Target;

/// How often the demo's "trade made elsewhere" lands on the paper exchange,
/// giving reconciliation something to show.
const EXTERNAL_TRADE_EVERY: Duration = Duration::from_secs(90);

/// A started engine with the tasks that feed it.
pub struct Started {
    pub engine: Engine<AnyBroker>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Started {
    /// Runs the engine until `shutdown` turns true, then stops its feed.
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> Result<(), EngineError> {
        let result = self.engine.run(shutdown).await;
        for t in self.tasks {
            t.abort();
        }
        result
    }
}

/// Connects and starts the engine on the paper exchange with its feed (and
/// the demo when asked), without running it yet.
pub async fn start(config: &Config, demo: bool) -> Result<Started, EngineError> {
    let s = &config.settings;
    if s.app.mode == TradingMode::Live {
        return Err(EngineError::Refused(
            "LIVE mode needs the Kite Connect broker, which this build does not include; set app.mode = \"PAPER\""
                .into(),
        ));
    }
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
    s.ensure_dirs().map_err(|e| EngineError::Refused(format!("cannot create {}: {e}", s.data_dir().display())))?;
    let broker = PaperBroker::new(
        &instrument::built_in(),
        PaperConfig {
            seed: s.paper.seed,
            slippage_ticks: s.paper.slippage_ticks,
            liquidity_per_tick: s.paper.liquidity_per_tick,
            state_file: Some(s.data_dir().join("paper-exchange.json")),
        },
    )?;
    let channels = crate::alerts::configured_channels(s).map_err(|e| EngineError::Refused(e.to_string()))?;
    let mut engine = Engine::start(db, AnyBroker::Paper(broker.clone()), EngineConfig::from_settings(s)).await?;
    engine.alerts = Alerts::start(channels, Policy::default(), s.app.mode);
    if !engine.alerts.is_enabled() {
        tracing::info!("no alert channel configured: alerts are logged only");
    }
    let every = Duration::from_millis(s.paper.tick_interval_ms);
    let mut tasks = vec![match &s.paper.replay_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| EngineError::Refused(format!("cannot read paper.replay_file {path}: {e}")))?;
            broker.replay(&text, every)?
        }
        None => broker.run_feed(every),
    }];
    if demo {
        let id = engine.enable_demo().await?;
        tracing::info!(strategy = id, "demo strategy running");
        tasks.push(tokio::spawn(external_trades(broker.clone(), s.paper.seed)));
    }
    tracing::info!(database = %target.describe(), "engine started on the paper exchange");
    Ok(Started { engine, tasks })
}

/// Connects, starts the engine and runs it until `shutdown` turns true.
pub async fn run(config: &Config, demo: bool, shutdown: watch::Receiver<bool>) -> Result<(), EngineError> {
    start(config, demo).await?.run(shutdown).await
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
