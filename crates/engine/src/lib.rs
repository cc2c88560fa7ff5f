//! The engine: the single writer of trading state.
//!
//! One task owns everything that changes orders, fills and positions: it
//! applies broker events (status changes, fills, ticks), executes operator
//! commands, runs the risk monitor and the kill switch, and reconciles with
//! the broker. Running it as one task means a broker event can never overtake
//! the write it depends on (an order's SUBMITTED row exists before its fills
//! are applied), with no locks in between.
//!
//! Files: `orders` (place, cancel, modify,
//! exit), `monitor` (broker events and catch-up), `risk` (marking to market,
//! stops, loss limits, kill switch, square-off), `reconciler`, `commands`.

pub mod commands;
pub mod demo;
pub mod goals;
pub mod journal;
mod memo;
pub mod monitor;
pub mod orders;
pub mod reconciler;
pub mod registry;
pub mod risk;
pub mod shadow;
pub mod stops;
pub mod strategies;
pub mod strategy;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use xcoin_model::event::{EventKind, EventLevel};

use chrono::{NaiveDate, NaiveTime};
use rust_decimal::Decimal;
use tokio::sync::{broadcast, watch};

use xcoin_alerts::{Alert, Alerts};
use xcoin_broker::{Broker, BrokerError, BrokerEvent};
use xcoin_config::Settings;
use xcoin_db::changes::{COMMANDS_CHANNEL, ChangeFeed};
use xcoin_db::lock::{EngineLock, LockError};
use xcoin_db::{Db, DbError};
use xcoin_model::calendar::MarketCalendar;
use xcoin_model::charges::ChargeRates;
use xcoin_model::order::Exchange;
use xcoin_model::risk::RiskLimits;
use xcoin_model::strategy::TradingMode;

/// The configured goals that set anything (validated with the configuration).
fn goals_of(s: &Settings) -> Vec<(Option<String>, xcoin_model::goals::GoalLimits)> {
    let desk = std::iter::once((None, &s.goals.desk));
    let strategies = s.goals.strategy.iter().map(|(name, g)| (Some(name.clone()), g));
    desk.chain(strategies)
        .filter_map(|(scope, g)| g.limits(s.account.capital).ok().map(|l| (scope, l)))
        .filter(|(_, l)| !l.is_empty())
        .collect()
}

/// What the engine knows of its own health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineHealth {
    pub lock_held: bool,
    pub broker_reachable: bool,
    pub session_expired: bool,
}

impl Default for EngineHealth {
    fn default() -> Self {
        EngineHealth { lock_held: true, broker_reachable: true, session_expired: false }
    }
}

/// How often the engine reads the broker's funds besides after each fill.
pub const FUNDS_EVERY: Duration = Duration::from_secs(30);

/// The engine's settings, taken from the configuration once at start.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub limits: RiskLimits,
    pub rates: ChargeRates,
    pub calendar: MarketCalendar,
    /// Rupees one position may lose before it is exited.
    pub max_position_loss: Decimal,
    /// When MIS positions are squared off. `None` in PAPER mode, which trades
    /// at any hour: practice positions are not closed by the clock.
    pub square_off_time: Option<NaiveTime>,
    pub exit_positions_on_kill: bool,
    pub reconcile_every: Duration,
    pub price_tolerance_pct: Decimal,
    /// How often commands are polled when no notification arrives, and the lock checked.
    pub poll_every: Duration,
    /// How often changed prices are written to positions and risk is checked.
    pub mark_every: Duration,
    /// Daily goals: the desk's (scope `None`) and each strategy's by name.
    pub goals: Vec<(Option<String>, xcoin_model::goals::GoalLimits)>,
    /// The paper exchange a LIVE desk's paper book trades on (its PAPER
    /// strategies), as `paper.*` and `account.*` configure it.
    pub paper_book: xcoin_broker::paper::PaperConfig,
    /// Where the paper book's exchange keeps its book between runs
    /// (`app.data_dir`); `None` keeps it in memory.
    pub data_dir: Option<std::path::PathBuf>,
    /// The command queue's deadline and per-login limit, written to the
    /// database at start, where every sender meets them.
    pub commands: xcoin_config::CommandSettings,
    /// A graceful stop cancels the working orders first.
    pub cancel_orders_on_stop: bool,
}

impl EngineConfig {
    pub fn from_settings(s: &Settings) -> EngineConfig {
        let r = &s.risk;
        EngineConfig {
            limits: s.risk_limits(),
            rates: s.charges.clone(),
            calendar: s.calendar(),
            max_position_loss: s.account.capital * r.max_position_loss_pct / Decimal::ONE_HUNDRED,
            square_off_time: (s.app.mode == TradingMode::Live).then_some(r.square_off_time.0),
            exit_positions_on_kill: r.exit_positions_on_kill,
            reconcile_every: Duration::from_secs(s.reconciliation.interval_secs),
            price_tolerance_pct: s.reconciliation.price_tolerance_pct,
            poll_every: Duration::from_secs(1),
            mark_every: Duration::from_millis(500),
            goals: goals_of(s),
            paper_book: paper_config(s, None),
            data_dir: Some(s.data_dir()),
            commands: s.commands.clone(),
            cancel_orders_on_stop: s.engine.cancel_orders_on_stop,
        }
    }
}

/// The paper exchange as `paper.*` and `account.*` configure it, keeping
/// its book in `state_file` (`None`: in memory).
pub fn paper_config(s: &Settings, state_file: Option<std::path::PathBuf>) -> xcoin_broker::paper::PaperConfig {
    xcoin_broker::paper::PaperConfig {
        seed: s.paper.seed,
        slippage_ticks: s.paper.slippage_ticks,
        liquidity_per_tick: s.paper.liquidity_per_tick,
        state_file,
        capital: Some(s.account.capital),
        mis_leverage: s.account.mis_leverage,
    }
}

/// Why the engine could not do something.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("{0}")]
    Refused(String),
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

type Instrument = (String, Exchange);

/// The engine. Build it with [`Engine::start`], drive it with [`Engine::run`]
/// (or call its methods directly, as tests do).
pub struct Engine<B: Broker> {
    pub db: Db,
    pub broker: B,
    pub cfg: EngineConfig,
    /// Who the engine records as the actor of its own decisions.
    pub actor: String,
    events: Option<broadcast::Receiver<BrokerEvent>>,
    lock: EngineLock,
    trading_enabled: bool,
    /// Broker events were lost to a database outage: the engine reads the
    /// broker's book again before it trades.
    behind: bool,
    /// The broker refused the session (Kite's TokenException): no trading
    /// until an operator logs in again and restarts the engine.
    session_expired: bool,
    /// Whether the last broker call went through (an alert on each loss).
    broker_reachable: bool,
    /// The highest daily-loss alert threshold (percent) raised, and its day.
    loss_alerted: Option<(chrono::NaiveDate, u8)>,
    /// Where the engine's alerts go (Telegram, e-mail); disabled by default.
    pub alerts: Alerts,
    last_prices: HashMap<Instrument, Decimal>,
    /// Instruments whose price moved since positions were last marked.
    dirty: HashSet<Instrument>,
    /// Positions with an exit order working, so one is not sent twice.
    exiting: HashSet<i64>,
    /// Positions whose stop rests at the broker → the resting stop's order
    /// (see [`stops`]): the monitor leaves their stop rule to the exchange.
    resting: HashMap<i64, i64>,
    recent_orders: VecDeque<Instant>,
    squared_off: Option<NaiveDate>,
    /// The desk log's writer.
    journal: journal::Journal,
    /// The engine's health as it changes, for the dashboard's `/healthz`.
    pub health: watch::Sender<EngineHealth>,
    /// The day whose end-of-day report went out.
    reported: Option<NaiveDate>,
    /// Each strategy's best net P&L today, for its give-back goal.
    strategy_peaks: HashMap<String, (NaiveDate, Decimal)>,
    risk_check_due: bool,
    /// When the day's counts in `daily_stats` were last recounted.
    stats_counted: Option<std::time::Instant>,
    /// The strategies the engine runs (the demo is one).
    strategies: Vec<strategies::Running>,
    /// On a LIVE desk, the paper book its PAPER strategies trade in.
    shadow: Option<Box<shadow::Shadow>>,
    /// Command outcomes the database did not take (it went away): written
    /// again before the queue does anything else.
    unwritten: Vec<(xcoin_db::commands::CommandRecord, std::result::Result<String, String>)>,
    /// The broker's daily order limit: the last warning level given (80 or 90 %) and its day.
    cap_warned: Option<(chrono::NaiveDate, u8)>,
    /// The margin free as the broker last reported it, and the margin the
    /// orders placed since then block: the validator's free margin is the
    /// difference, so a burst of orders between two reports cannot each
    /// spend the same rupees.
    margin: Option<(Decimal, Decimal)>,
    /// The broker's funds as read after a fill, not yet written for the
    /// consoles: written by the next risk cycle, so a fill's path makes no
    /// commit of its own for them.
    funds_unwritten: Option<xcoin_model::funds::Funds>,
    /// The risk check's reads, kept while the database's risk generation
    /// says they still hold (see [`memo`]).
    risk_memo: memo::RiskMemo,
    /// The last acknowledged placement's stages.
    place_stages: orders::PlaceStages,
}

impl<B: Broker> Engine<B> {
    /// Takes the engine lock, subscribes to the broker, fails commands an
    /// earlier engine left running, and reconciles orders and positions with
    /// the broker — all before any new order is accepted.
    pub async fn start(db: Db, broker: B, cfg: EngineConfig) -> Result<Engine<B>> {
        let lock = EngineLock::acquire(db.connect_options()).await?;
        Self::start_locked(db, broker, cfg, lock).await
    }

    /// [`Engine::start`] with the engine lock already held (a standby's,
    /// taken over from an engine that ended).
    pub async fn start_locked(db: Db, broker: B, cfg: EngineConfig, lock: EngineLock) -> Result<Engine<B>> {
        let events = broker.subscribe();
        db.set_command_limits(cfg.commands.max_pending_per_login, cfg.commands.order_ttl_secs).await?;
        let journal = journal::Journal::start(db.clone());
        let mut engine = Engine {
            db,
            broker,
            cfg,
            actor: "engine".into(),
            events: Some(events),
            lock,
            trading_enabled: true,
            behind: false,
            session_expired: false,
            broker_reachable: true,
            loss_alerted: None,
            alerts: Alerts::disabled(),
            last_prices: HashMap::new(),
            dirty: HashSet::new(),
            exiting: HashSet::new(),
            resting: HashMap::new(),
            recent_orders: VecDeque::new(),
            squared_off: None,
            strategy_peaks: HashMap::new(),
            reported: None,
            health: watch::Sender::new(EngineHealth::default()),
            journal,
            risk_check_due: true,
            stats_counted: None,
            strategies: Vec::new(),
            shadow: None,
            unwritten: Vec::new(),
            cap_warned: None,
            margin: None,
            funds_unwritten: None,
            risk_memo: memo::RiskMemo::default(),
            place_stages: orders::PlaceStages::default(),
        };
        engine.catch_up().await?;
        for tick in engine.broker.last_prices().await? {
            engine.last_prices.insert((tick.symbol, tick.exchange), tick.last_price);
        }
        // Before anything else: a kill switch whose flattening a stopped
        // engine left unfinished, and the commands it left RUNNING.
        engine.finish_in_flight().await?;
        // The reconciliation first brings every position's resting stop up
        // to date (an orphaned stop is cancelled), then compares.
        match engine.reconcile_positions().await {
            Ok(found) if !found.is_empty() => {
                tracing::warn!(issues = found.len(), "positions differ from the broker's at start")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "start-up position reconciliation skipped"),
        }
        // What the broker has said already of what the start sent.
        engine.drain_events().await?;
        // The paper book's trouble is not the desk's: it is opened again on
        // first use.
        if let Err(e) = engine.open_paper_book().await {
            tracing::error!(error = %e, "the paper book did not open");
        }
        Ok(engine)
    }

    /// Finishes what a stopped engine (or an interruption of this one) left
    /// in flight: the kill switch's flattening first, then every command
    /// left RUNNING is given its outcome.
    pub async fn finish_in_flight(&mut self) -> Result<()> {
        self.finish_kill_switch().await?;
        self.resolve_running_commands().await
    }

    /// A graceful stop: the working orders cancelled first (unless
    /// `engine.cancel_orders_on_stop` is off), then whatever is left
    /// unwatched — open positions, orders still working — said in the desk
    /// log and raised as an alert.
    async fn stop_safely(&mut self) {
        if self.cfg.cancel_orders_on_stop {
            // Resting stops stay: they protect the positions while no engine runs.
            let cancelled = self.cancel_working_orders("engine stopping", true).await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "engine stopping: working orders not read, none cancelled");
                0
            });
            if cancelled > 0 {
                let line = format!(
                    "engine stopping: {} cancelled first (engine.cancel_orders_on_stop)",
                    xcoin_model::count(cancelled, "working order", "working orders")
                );
                tracing::warn!("{line}");
                self.journal(EventLevel::Warn, EventKind::Engine, line);
            }
        }
        let positions = self.db.open_positions().await.map_or(0, |p| p.len() as i64);
        let active = self.db.active_orders().await.unwrap_or_default();
        let protected = active.iter().filter(|o| o.is_resting_stop()).count() as i64;
        let working = active.len() as i64 - protected;
        if positions + working > 0 {
            let unwatched = format!(
                "engine stopped with {} and {} unwatched",
                xcoin_model::count(positions, "open position", "open positions"),
                xcoin_model::count(working, "working order", "working orders")
            );
            let line = match protected {
                0 => format!("{unwatched}: no stops, targets or kill switch until an engine runs"),
                n => format!(
                    "{unwatched}: no targets or kill switch until an engine runs; {} at the exchange",
                    xcoin_model::count(n, "stop rests", "stops rest")
                ),
            };
            tracing::error!("{line}");
            self.journal(EventLevel::Error, EventKind::Engine, line.clone());
            self.alerts.raise(Alert::engine_stopped_exposed(&line));
        }
    }

    /// Runs the demo strategy (PAPER only) under its own strategy row.
    pub async fn enable_demo(&mut self) -> Result<i64> {
        if self.broker.kind() != xcoin_model::order::BrokerKind::Paper {
            return Err(EngineError::Refused("the demo strategy runs only on the paper exchange".into()));
        }
        self.add_strategy(Box::new(demo::Demo::new(0))).await
    }

    /// The kill switch as the database records it (the one source of truth).
    pub async fn kill_switch_active(&self) -> Result<bool> {
        Ok(self.db.kill_switch_state().await?.active)
    }

    pub fn trading_enabled(&self) -> bool {
        self.trading_enabled && self.lock.is_held() && !self.behind && !self.session_expired
    }

    /// Acts on a failed operation: an expired broker session stops trading
    /// and asks for a new login; a broker that stopped answering is said
    /// once, until it answers again.
    pub fn note_failure(&mut self, e: &EngineError) {
        match e {
            EngineError::Broker(BrokerError::Session(message)) if !self.session_expired => {
                self.session_expired = true;
                tracing::error!(%message, "the broker session expired: trading stops until a new login");
                self.alerts.raise(Alert::token_expired(message));
                let line = format!("the broker session expired ({message}): trading stops until a new login");
                self.journal(EventLevel::Error, EventKind::Broker, line);
            }
            EngineError::Broker(BrokerError::Unavailable(_)) if self.broker_reachable => {
                self.broker_reachable = false;
                self.alerts.raise(Alert::broker_lost(&e.to_string()));
                self.journal(EventLevel::Error, EventKind::Broker, format!("the broker does not answer: {e}"));
            }
            _ => {}
        }
        self.publish_health();
    }

    /// A broker call went through.
    pub fn broker_answered(&mut self) {
        if !self.broker_reachable {
            tracing::info!("the broker answers again");
            self.journal(EventLevel::Info, EventKind::Broker, "the broker answers again");
        }
        self.broker_reachable = true;
        self.publish_health();
    }

    /// Publishes the health the dashboard reads (only when it changed).
    fn publish_health(&self) {
        let now = EngineHealth {
            lock_held: self.lock.is_held(),
            broker_reachable: self.broker_reachable,
            session_expired: self.session_expired,
        };
        self.health.send_if_modified(|h| std::mem::replace(h, now) != now);
    }

    pub fn session_expired(&self) -> bool {
        self.session_expired
    }

    /// Reads the broker's funds and keeps them on today's row, for every
    /// console. A broker that keeps none (the paper exchange without a
    /// capital) or does not answer is skipped: the next refresh tries again.
    pub async fn refresh_funds(&mut self) {
        self.read_funds().await;
        self.write_funds().await;
    }

    /// Reads the broker's funds: the validator's free margin at once; the
    /// consoles' copy at the next [`Engine::write_funds`].
    pub async fn read_funds(&mut self) {
        match self.broker.funds().await {
            Ok(funds) => {
                self.margin = Some((funds.available_margin, Decimal::ZERO));
                self.funds_unwritten = Some(funds);
            }
            Err(e) => tracing::debug!(error = %e, "funds not read"),
        }
    }

    /// Writes the funds read last, if not written yet, for the consoles.
    pub async fn write_funds(&mut self) {
        let Some(funds) = self.funds_unwritten.take() else { return };
        if let Err(e) = self.db.record_funds(&funds).await {
            tracing::warn!(error = %e, "funds not recorded");
            self.funds_unwritten.get_or_insert(funds);
        }
    }

    /// Appends a line to the desk log every console shows. A line that
    /// cannot be written is logged here, and trading goes on.
    /// The line is written by the journal's own task, in order: trading
    /// never waits for it ([`flush_journal`](Self::flush_journal) does).
    pub fn journal(&self, level: EventLevel, kind: EventKind, message: impl Into<String>) {
        self.journal.write(level, kind, message.into());
    }

    /// Waits until every desk-log line sent so far is in the database.
    pub async fn flush_journal(&self) {
        self.journal.flush().await;
        if let Some(shadow) = &self.shadow {
            Box::pin(shadow.engine.flush_journal()).await;
        }
    }

    pub fn last_price(&self, symbol: &str, exchange: Exchange) -> Option<Decimal> {
        self.last_prices.get(&(symbol.to_string(), exchange)).copied()
    }

    /// Checks the engine lock; trading stops while it is not held.
    pub async fn check_lock(&mut self) -> bool {
        let was_held = self.lock.is_held();
        self.trading_enabled = self.lock.check().await;
        self.publish_health();
        if was_held && !self.trading_enabled {
            self.alerts.raise(Alert::database_lost("the engine's lock connection to the database was lost"));
            // Written when the database takes it (a lost lock may be a lost database).
            let line = "the engine lost its database lock: no orders until it holds it again";
            self.journal(EventLevel::Error, EventKind::Engine, line);
        }
        if !self.trading_enabled {
            // Whatever happened while the lock was away, read the broker's book first.
            self.behind = true;
        } else if self.behind {
            match self.catch_up().await {
                Ok(()) => {
                    self.behind = false;
                    tracing::info!("caught up with the broker's book after the interruption; trading resumes");
                    let line = "caught up with the broker's book after an interruption; trading resumes";
                    self.journal(EventLevel::Info, EventKind::Engine, line);
                    // Work the interruption left half done comes first.
                    if let Err(e) = self.finish_in_flight().await {
                        tracing::error!(error = %e, "work left in flight by the interruption is not finished yet");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "catch-up after an interruption failed; trying again");
                    self.note_failure(&e);
                }
            }
        }
        self.trading_enabled()
    }

    /// The server pid of the lock connection.
    pub async fn lock_backend_pid(&mut self) -> Option<i32> {
        self.lock.backend_pid().await
    }

    /// Takes the broker's event stream (for a caller that drives the engine by hand).
    pub fn take_events(&mut self) -> Option<broadcast::Receiver<BrokerEvent>> {
        self.events.take()
    }

    /// Applies every broker event already waiting, without blocking.
    pub async fn drain_events(&mut self) -> Result<usize> {
        let mut rx = self.events.take().expect("the event stream is held by the engine");
        let mut n = 0;
        loop {
            match rx.try_recv() {
                Ok(event) => {
                    self.handle_event(event).await;
                    n += 1;
                }
                Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "broker events were dropped; catching up from the broker's book");
                    if let Err(e) = self.catch_up().await {
                        // The stream stays the engine's: the next drain goes on from here.
                        self.events = Some(rx);
                        return Err(e);
                    }
                }
                Err(_) => break,
            }
        }
        self.events = Some(rx);
        Ok(n)
    }

    /// Runs until `shutdown` turns true: broker events, operator commands
    /// (notified on `xcoin_commands`, polled as a fallback), the risk monitor,
    /// reconciliation and the lock check.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Result<()> {
        let mut events = self.events.take().expect("the event stream is held by the engine");
        let mut commands = ChangeFeed::listen(&self.db, &[COMMANDS_CHANNEL]).await?.spawn();
        let mut poll = tokio::time::interval(self.cfg.poll_every);
        let mut mark = tokio::time::interval(self.cfg.mark_every);
        let mut reconcile = tokio::time::interval(self.cfg.reconcile_every);
        reconcile.tick().await; // start-up already reconciled
        // Funds at start (the first tick), then every 30 s and after each fill.
        let mut funds = tokio::time::interval(FUNDS_EVERY);
        for t in [&mut poll, &mut mark, &mut reconcile, &mut funds] {
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        }
        tracing::info!("engine running");
        self.journal(
            EventLevel::Info,
            EventKind::Engine,
            format!("engine running on the {} broker", self.broker.kind()),
        );
        match self.db.prune_events().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "desk log lines older than the retention deleted"),
            Err(e) => tracing::warn!(error = %e, "desk log not pruned"),
        }
        self.process_commands().await;
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Ok(event) => self.handle_event(event).await,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "broker events were dropped; catching up from the broker's book");
                        if let Err(e) = self.catch_up().await {
                            tracing::error!(error = %e, "catch-up failed");
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        tracing::error!("the broker event stream closed; the engine stops");
                        break;
                    }
                },
                Some(_) = commands.recv() => {
                    // One pass serves every command already announced.
                    while commands.try_recv().is_some() {}
                    self.process_commands().await;
                }
                _ = poll.tick() => {
                    self.check_lock().await;
                    self.process_commands().await;
                }
                _ = mark.tick() => self.monitor_risk().await,
                _ = funds.tick() => self.refresh_funds().await,
                _ = reconcile.tick() => {
                    if let Err(e) = self.reconcile_positions().await {
                        tracing::warn!(error = %e, "reconciliation cycle skipped");
                    }
                }
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
        drop(commands);
        self.stop_safely().await;
        self.journal(EventLevel::Info, EventKind::Engine, "engine stopped");
        self.flush_journal().await;
        self.lock.release().await;
        tracing::info!("engine stopped");
        Ok(())
    }
}

/// Where the paper exchange keeps its book for the database `db`:
/// `<data dir>/paper-exchange-<database identity>.json`. One data directory
/// used with two databases (two desks) keeps two books, so neither sees the
/// other's trades. The single `paper-exchange.json` of earlier versions,
/// shared by every database, becomes the book of the first database to
/// start after the upgrade (the usual case: the only one).
pub async fn paper_book(data_dir: &Path, db: &Db) -> Result<PathBuf, EngineError> {
    let id = db.database_identity().await?;
    let book = data_dir.join(format!("paper-exchange-{id}.json"));
    let shared = data_dir.join("paper-exchange.json");
    if !book.exists() && shared.exists() {
        std::fs::rename(&shared, &book).map_err(|e| {
            EngineError::Refused(format!("cannot move {} to {}: {e}", shared.display(), book.display()))
        })?;
        tracing::warn!(from = %shared.display(), to = %book.display(), "the shared paper exchange book is now this database's own");
    }
    Ok(book)
}
