//! PAPER strategies on a LIVE desk: the paper book beside the real one.
//!
//! A strategy registered PAPER on a desk that trades LIVE runs beside the
//! live ones, on the paper exchange fed by the live market's ticks, so a new
//! strategy can shadow the market before it risks money. Its orders, fills
//! and positions are kept apart from the desk's, in a database of their own
//! on the same server (the desk's name with `_paper` after it, created and
//! migrated on first use) by an engine of its own over the paper exchange:
//!
//! * the real book keeps one position per instrument as the broker nets it,
//!   and a paper order can never net against a real position;
//! * the desk's loss limits, drawdown and kill-switch triggers count only
//!   real money, and reconciliation with the broker sees only real orders;
//! * the paper book has the desk's validator and limits of its own, and its
//!   own journal, reports and console (`DATABASE_URL=…/<desk>_paper xcoin
//!   --read-only`);
//! * its orders and positions are numbered from 900000001, so an id of one
//!   book given to the other names nothing rather than another.
//!
//! The desk's operators still rule it: pausing it at the desk (by key, by
//! command, by a goal, or the kill switch pausing every strategy) pauses it
//! in the paper book, and while the desk's kill switch is active or the desk
//! does not trade, it places nothing. Its last decision is copied to its row
//! at the desk, marked `paper book:`.
//!
//! The paper exchange lists the instruments of `assets/instruments.csv`; a
//! live tick of any other instrument is not heard by the paper book.

use std::collections::HashMap;

use super::{Engine, EngineConfig, Result};
use xcoin_broker::Tick;
use xcoin_broker::paper::{PaperBroker, PaperConfig};
use xcoin_db::{Db, PoolConfig};
use xcoin_model::instrument;
use xcoin_model::strategy::{Registration, Strategy as StrategyRow, TradingMode};

/// The paper book's first order and position id: its ids never name one of
/// the desk's, so `xcoin order cancel 900000001` at the desk answers that the
/// order does not exist, never acts on another.
pub const FIRST_ID: i64 = 900_000_001;

/// Who a pause the desk asked for is by, in the paper book.
const PAUSED_BY: &str = "desk";

/// What a decision copied to the desk starts with.
pub const DECISION_MARK: &str = "paper book: ";

/// The paper book's engine and exchange, and which of its strategies is
/// which of the desk's.
pub struct Shadow {
    pub engine: Engine<PaperBroker>,
    broker: PaperBroker,
    /// The desk's strategy id → the paper book's.
    ids: HashMap<i64, i64>,
    /// The decision last copied to the desk, per desk strategy id.
    copied: HashMap<i64, String>,
}

/// The paper book's database name for a desk's.
pub fn database_name(desk: &str) -> String {
    format!("{desk}_paper")
}

impl Shadow {
    /// Creates (if missing), migrates and opens the paper book beside the
    /// desk's database, and starts its engine over a paper exchange.
    pub async fn start(desk: &Db, cfg: &EngineConfig) -> Result<Shadow> {
        let desk_options = desk.connect_options();
        let name = database_name(desk_options.get_database().unwrap_or("xcoin"));
        let options = desk_options.database(&name);
        xcoin_db::schema::create_database_if_missing(&options).await?;
        let db = Db::connect(options, PoolConfig { min: 1, max: 6, ..PoolConfig::default() }).await?;
        db.migrate().await?;
        if !db.number_from(FIRST_ID).await? {
            return Err(super::EngineError::Refused(format!(
                "database {name} holds orders or positions numbered below {FIRST_ID}, as a desk's are: it is not a \
                 paper book; move it aside, and the paper book is made anew"
            )));
        }
        // Its exchange keeps its book in the data directory, named by the
        // paper book's database, so a restart finds what was working there.
        let state_file = match &cfg.data_dir {
            Some(dir) => Some(crate::paper_book(dir, &db).await?),
            None => None,
        };
        let paper = PaperConfig { state_file, ..cfg.paper_book.clone() };
        let broker = PaperBroker::new(&instrument::built_in(), paper)?;
        let mut cfg = cfg.clone();
        // The paper exchange does not keep the broker's count of orders per
        // second: the desk's rule guards the real broker.
        cfg.limits.max_orders_per_second = u32::MAX;
        let mut engine = Box::pin(Engine::start(db, broker.clone(), cfg)).await?;
        engine.actor = "engine (paper book)".into();
        tracing::info!(database = %name, "paper book started beside the live desk");
        Ok(Shadow { engine, broker, ids: HashMap::new(), copied: HashMap::new() })
    }

    /// Registers the desk's strategy row in the paper book (same name, type,
    /// instruments, parameters and limits; PAPER) and runs the strategy there.
    pub async fn add(&mut self, row: &StrategyRow, strategy: Box<dyn super::strategy::Strategy>) -> Result<i64> {
        self.register(row).await?;
        let id = Box::pin(self.engine.add_strategy(strategy)).await?;
        self.ids.insert(row.id, id);
        Ok(id)
    }

    /// The paper book's id of the desk's strategy row, registered there (same
    /// name, type, instruments, parameters and limits; PAPER) as it is now.
    pub async fn register(&mut self, row: &StrategyRow) -> Result<i64> {
        // Registered PAPER there, whatever it is at the desk (it is PAPER).
        let registration = Registration { mode: TradingMode::Paper, ..Registration::of(row) };
        let id = self.engine.db.register_strategy(&registration).await?.id;
        self.ids.insert(row.id, id);
        Ok(id)
    }

    /// A live tick, on the paper exchange (which fills what it crosses).
    pub async fn tick(&mut self, tick: &Tick) {
        if self.broker.set_price(&tick.symbol, tick.exchange, tick.last_price).is_ok()
            && let Err(e) = Box::pin(self.engine.drain_events()).await
        {
            tracing::warn!(error = %e, "paper book: events not applied");
        }
    }

    /// One cycle of the paper book, its strategies active as the desk says
    /// (`active`: the desk's active strategy ids, empty while the desk does
    /// not trade or its kill switch is active), then its own commands (its
    /// console's); returns the decisions not yet copied to the desk's rows,
    /// to be marked [`copied`](Self::copied) once written.
    pub async fn cycle(&mut self, active: &[i64], why_not: &str) -> Result<Vec<(i64, String)>> {
        let rows = self.engine.db.all_strategies().await?;
        for (desk_id, id) in &self.ids {
            let Some(row) = rows.iter().find(|r| r.id == *id).filter(|r| r.is_automated()) else { continue };
            // Only what the desk paused is resumed by the desk: a pause of
            // the paper book's own (a goal, its kill switch) stays.
            let wanted = active.contains(desk_id);
            let mirrored = if wanted && !row.is_active && row.paused_by.as_deref() == Some(PAUSED_BY) {
                self.engine.db.resume_strategy(*id).await.map(|_| ())
            } else if !wanted && row.is_active {
                self.engine.db.pause_strategy(*id, PAUSED_BY, why_not).await.map(|_| ())
            } else {
                Ok(())
            };
            if let Err(e) = mirrored {
                tracing::warn!(strategy = id, error = %e, "paper book: the desk's pause not mirrored");
            }
        }
        Box::pin(self.engine.trading_cycle()).await;
        Box::pin(self.engine.process_commands()).await;
        let rows = self.engine.db.all_strategies().await?;
        Ok(self
            .ids
            .iter()
            .filter_map(|(desk_id, id)| {
                let decision = rows.iter().find(|r| r.id == *id)?.last_decision.clone()?;
                (self.copied.get(desk_id) != Some(&decision)).then_some((*desk_id, decision))
            })
            .collect())
    }

    /// A decision [`cycle`](Self::cycle) returned, written to the desk.
    pub fn copied(&mut self, desk_id: i64, decision: String) {
        self.copied.insert(desk_id, decision);
    }
}
