//! The console's view model, fed by the change feed.
//!
//! Notify, then pull: a loader task listens on `xcoin_changes`, takes every
//! change since its last fetch, takes the orders as their notifications
//! carried them, refetches only the other rows (`WHERE id = ANY($1)`) and
//! sends them to the UI loop as one [`Update`],
//! which the loop applies to the [`Store`]. After any reconnect of the
//! listener the loader sends a full snapshot instead. Today's P&L and counts
//! are recomputed by SQL after changes to orders, trades or positions,
//! debounced. Rendering reads the store and never touches the database.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tokio::sync::mpsc;

use xcoin_db::changes::{Change, ChangeEvent, ChangeFeed, Op, Table};
use xcoin_db::commands::CommandRecord;
use xcoin_db::events::DeskEvent;
use xcoin_db::kill_switch::KillSwitchState;
use xcoin_db::stats::{DailyStats, TodayPnl};
use xcoin_db::{Db, DbError};
use xcoin_model::command::OperatorCommand;
use xcoin_model::order::{Order, OrderStatus, StatusChange};
use xcoin_model::position::Position;
use xcoin_model::reconciliation::Issue;
use xcoin_model::strategy::Strategy;
use xcoin_model::trade::Trade;

/// Today's summary numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub pnl: Option<TodayPnl>,
    pub stats: Option<DailyStats>,
    pub trades_today: i64,
    /// Today per strategy, then per instrument.
    pub breakdown: Vec<xcoin_db::stats::Breakdown>,
    /// The broker's funds as the engine last read them, and when.
    pub funds: Option<(xcoin_model::funds::Funds, DateTime<Utc>)>,
    /// Daily goals reached today.
    pub goals: Vec<xcoin_db::stats::GoalEvent>,
    /// Of the realised P&L, what reconciliation adjustments booked (outside
    /// round trips and the win rate).
    pub adjustments: Decimal,
}

/// Rows that changed, or everything after a resync.
#[derive(Debug, Clone, Default)]
pub struct Update {
    /// A full reload: replace everything.
    pub snapshot: bool,
    pub orders: Vec<Order>,
    pub deleted_orders: Vec<i64>,
    pub trades: Vec<Trade>,
    pub positions: Vec<Position>,
    pub issues: Vec<Issue>,
    pub commands: Vec<CommandRecord>,
    pub kill_switch: Option<KillSwitchState>,
    pub summary: Option<Summary>,
    pub strategies: Vec<Strategy>,
    /// New lines of the desk log, oldest first.
    pub events: Vec<DeskEvent>,
    /// When the loader took the batch of notifications behind this update,
    /// and when its rows had been fetched (the bench's per-stage timings).
    pub stages: Option<(Instant, Instant)>,
    /// Whether today's earlier orders are still being streamed in (set by
    /// the first snapshot and by each page of them).
    pub history_loading: Option<bool>,
}

/// What the console knows of the desk's health: where the engine runs, the
/// database, the last resync and the Kite ticker.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeskStatus {
    /// This process runs the engine (quitting stops it).
    pub engine_in_process: bool,
    /// Server pid of whichever process holds the engine lock.
    pub engine_pid: Option<i32>,
    /// Standby engines waiting to take over.
    pub standbys: i64,
    /// Since when no engine holds the lock, as this console saw it (`None`
    /// while one does, or before the first look).
    pub engine_gone_since: Option<DateTime<Utc>>,
    pub db: DbState,
    pub last_resync: Option<(Duration, DateTime<Utc>)>,
    /// When the database last answered the console's health check.
    pub last_db_answer: Option<DateTime<Utc>>,
    /// The Kite ticker's health when this console runs a LIVE engine.
    pub ticker: Option<xcoin_model::feed::TickerStatus>,
}

impl DeskStatus {
    /// A health report from the loader.
    pub fn apply(&mut self, h: Health) {
        match h {
            Health::Db(state) => {
                if matches!(state, DbState::Live { .. }) {
                    self.last_db_answer = Some(xcoin_model::clock::now());
                }
                self.db = state;
            }
            Health::Engine(watch) => {
                self.engine_gone_since = match watch.active {
                    Some(_) => None,
                    None => self.engine_gone_since.or(Some(xcoin_model::clock::now())),
                };
                self.engine_pid = watch.active;
                self.standbys = watch.standbys;
            }
            Health::Resynced { gap, at } => self.last_resync = Some((gap, at)),
        }
    }

    /// Some engine trades this database: here, or in another process.
    pub fn engine_running(&self) -> bool {
        self.engine_in_process || self.engine_pid.is_some()
    }
}

/// How the console's database connection is doing.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum DbState {
    /// Before the first answer.
    #[default]
    Connecting,
    Live {
        round_trip: Duration,
    },
    Reconnecting {
        since: DateTime<Utc>,
    },
}

/// Loader news other than rows.
#[derive(Debug, Clone)]
pub enum Health {
    Db(DbState),
    /// The process that holds the engine lock, if any, and the standbys.
    Engine(xcoin_db::lock::EngineWatch),
    /// A resync happened after a gap.
    Resynced {
        gap: Duration,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone)]
pub enum LoaderMsg {
    Update(Box<Update>),
    Health(Health),
    /// The answer to a [`Request`].
    Answer(Answer),
}

/// What the console asks of the database. The loader answers, so the UI
/// loop itself never waits on the database (in an outage, keys and redraws
/// go on while the loader waits).
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// An order's status history, for its detail (the newest request wins).
    History { id: i64, version: OrderVersion },
    /// An operator command to enqueue; `what` names it in the answer, and
    /// `then_quit` asks the console to quit once the command is done.
    Send { command: Box<OperatorCommand>, what: String, requested_by: String, then_quit: bool },
}

/// What an order's history is read for: its status and how many times it
/// was modified (each adds a line), so the detail reads it again on either.
pub type OrderVersion = (OrderStatus, i32);

/// The loader's answer to a [`Request`].
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    History {
        id: i64,
        version: OrderVersion,
        history: Result<Vec<StatusChange>, String>,
    },
    /// The command's id once stored, or why it was not.
    Sent {
        what: String,
        then_quit: bool,
        result: Result<i64, String>,
    },
}

/// Answers one request (history requests already thinned to the newest).
async fn answer(db: &Db, request: Request) -> Answer {
    match request {
        Request::History { id, version } => {
            Answer::History { id, version, history: db.order_history(id).await.map_err(|e| e.to_string()) }
        }
        Request::Send { command, what, requested_by, then_quit } => {
            let result = db.enqueue_command(&command, &requested_by).await.map(|r| r.id).map_err(|e| e.to_string());
            Answer::Sent { what, then_quit, result }
        }
    }
}

/// Queued requests in the order to answer them: every command, in order,
/// and only the newest history request.
fn thin(requests: Vec<Request>) -> Vec<Request> {
    let newest_history = requests.iter().rposition(|r| matches!(r, Request::History { .. }));
    requests
        .into_iter()
        .enumerate()
        .filter(|(i, r)| !matches!(r, Request::History { .. }) || Some(*i) == newest_history)
        .map(|(_, r)| r)
        .collect()
}

/// How many lines of the desk log a console keeps (and loads at start).
pub const EVENTS_KEPT: usize = 1000;

/// Everything the console shows, in memory.
#[derive(Debug, Clone, Default)]
pub struct Store {
    pub orders: BTreeMap<i64, Order>,
    /// Ids of orders that were working resting stops when they arrived (a
    /// few among the day's orders, so the Positions tab need not scan them
    /// all; read back through `orders` for their status now).
    pub resting_stops: BTreeSet<i64>,
    pub trades: BTreeMap<i64, Trade>,
    /// Open positions (a position that closes moves to `closed_positions`).
    pub positions: BTreeMap<i64, Position>,
    /// Positions closed today, shown under the open ones.
    pub closed_positions: BTreeMap<i64, Position>,
    pub issues: BTreeMap<i64, Issue>,
    pub commands: BTreeMap<i64, CommandRecord>,
    pub kill_switch: Option<KillSwitchState>,
    pub summary: Summary,
    pub strategies: BTreeMap<i64, Strategy>,
    /// (time, net P&L) samples of today, for the chart.
    pub pnl_series: Vec<(DateTime<Utc>, TodayPnl)>,
    /// The newest lines of the desk log, oldest first, at most [`EVENTS_KEPT`].
    pub events: VecDeque<DeskEvent>,
    /// What changed since the views last caught up, so they can change
    /// only the rows that did (taken by the app when it refreshes them).
    pub pending: Pending,
    /// Today's earlier orders are still coming in (after the first frame).
    pub history_loading: bool,
}

/// The rows changed since the views last caught up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pending {
    /// Everything was reloaded: the views are rebuilt.
    pub snapshot: bool,
    pub orders: BTreeSet<i64>,
    pub trades: BTreeSet<i64>,
    pub positions: bool,
    pub issues: bool,
    /// Strategy names are in the rows' filter text.
    pub strategies: bool,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        *self == Pending::default()
    }
}

impl Store {
    /// The stops resting at the exchange now: working SL-M orders placed for
    /// a position's stop (read through the kept ids, not the day's orders).
    pub fn working_resting_stops(&self) -> impl Iterator<Item = &Order> {
        self.resting_stops
            .iter()
            .filter_map(|id| self.orders.get(id))
            .filter(|o| o.status.is_active() && o.is_resting_stop())
    }

    /// Applies an update; returns the commands whose status changed.
    pub fn apply(&mut self, u: Update) -> Vec<CommandRecord> {
        if u.snapshot {
            let series = std::mem::take(&mut self.pnl_series);
            *self = Store { pnl_series: series, ..Store::default() };
            self.pending.snapshot = true;
        }
        if let Some(loading) = u.history_loading {
            self.history_loading = loading;
        }
        let p = &mut self.pending;
        p.positions |= !u.positions.is_empty();
        p.issues |= !u.issues.is_empty();
        p.strategies |= !u.strategies.is_empty();
        for o in u.orders {
            p.orders.insert(o.id);
            if o.status.is_active() && o.is_resting_stop() {
                self.resting_stops.insert(o.id);
            } else {
                self.resting_stops.remove(&o.id);
            }
            self.orders.insert(o.id, o);
        }
        for id in u.deleted_orders {
            p.orders.insert(id);
            self.orders.remove(&id);
            self.resting_stops.remove(&id);
        }
        for t in u.trades {
            p.trades.insert(t.id);
            self.trades.insert(t.id, t);
        }
        for p in u.positions {
            if p.quantity() == 0 {
                self.positions.remove(&p.id);
                self.closed_positions.insert(p.id, p);
            } else {
                self.positions.insert(p.id, p);
            }
        }
        for i in u.issues {
            self.issues.insert(i.id, i);
        }
        let mut finished = Vec::new();
        for c in u.commands {
            let was = self.commands.get(&c.id).map(|old| old.status);
            if was != Some(c.status) {
                finished.push(c.clone());
            }
            self.commands.insert(c.id, c);
        }
        if let Some(k) = u.kill_switch {
            self.kill_switch = Some(k);
        }
        if let Some(s) = u.summary {
            if let Some(p) = s.pnl {
                let now = xcoin_model::clock::now();
                if self.pnl_series.last().map(|(_, v)| *v) != Some(p) {
                    self.pnl_series.push((now, p));
                }
            }
            self.summary = s;
        }
        for s in u.strategies {
            self.strategies.insert(s.id, s);
        }
        for e in u.events {
            // Ids only grow: a line already here (a snapshot racing a
            // notification) is not shown twice.
            if self.events.back().is_none_or(|last| e.id > last.id) {
                self.events.push_back(e);
            }
        }
        while self.events.len() > EVENTS_KEPT {
            self.events.pop_front();
        }
        finished
    }

    pub fn kill_switch_active(&self) -> bool {
        self.kill_switch.as_ref().is_some_and(|k| k.active)
    }

    /// Active with its cancels and exits not yet recorded done.
    pub fn kill_switch_flattening(&self) -> bool {
        self.kill_switch.as_ref().is_some_and(|k| k.flattening())
    }
}

/// A past trading day as the console shows it, read-only: its orders,
/// trades, the positions it held (as they stand now: closed ones as they
/// closed), its reconciliation issues, its desk log and its figures.
pub async fn past_day(db: &Db, day: chrono::NaiveDate) -> Result<Update, DbError> {
    let calendar = xcoin_model::calendar::MarketCalendar::default();
    let report = xcoin_db::report::day_report(db, &calendar, day).await?;
    let pnl = TodayPnl {
        realized_pnl: report.realised,
        unrealized_pnl: report.unrealised,
        charges: report.charges.total,
        net_pnl: report.net,
        open_unrealized_pnl: Decimal::ZERO,
    };
    Ok(Update {
        snapshot: true,
        orders: db.orders_between(day, day).await?,
        trades: db.trades_between(day, day).await?,
        positions: db.positions_on(day).await?,
        issues: db.issues_on(day).await?,
        strategies: db.all_strategies().await?,
        events: db.events_on(day).await?,
        summary: Some(Summary {
            pnl: Some(pnl),
            stats: db.daily_stats(day).await?,
            trades_today: report.trades,
            breakdown: db.day_breakdown(Some(day)).await?,
            funds: None,
            goals: db.goals_on(day).await?,
            adjustments: report.adjustments,
        }),
        ..Update::default()
    })
}

/// The loader of a past day: one snapshot, then order histories on request
/// (a past day changes no more; nothing is sent from it).
pub async fn run_past_loader(
    db: Db,
    day: chrono::NaiveDate,
    tx: mpsc::Sender<LoaderMsg>,
    mut requests: mpsc::Receiver<Request>,
) {
    let started = Instant::now();
    match past_day(&db, day).await {
        Ok(u) => {
            let live = LoaderMsg::Health(Health::Db(DbState::Live { round_trip: started.elapsed() }));
            if tx.send(LoaderMsg::Update(Box::new(u))).await.is_err() || tx.send(live).await.is_err() {
                return;
            }
        }
        Err(e) => tracing::error!(error = %e, %day, "the past day could not be read"),
    }
    while let Some(r) = requests.recv().await {
        if let Request::History { .. } = r
            && tx.send(LoaderMsg::Answer(answer(&db, r).await)).await.is_err()
        {
            return;
        }
    }
}

/// Today's orders are streamed after the first frame in pages of this many.
pub const HISTORY_PAGE: i64 = 5_000;

/// Reads everything the console shows.
pub async fn snapshot(db: &Db) -> Result<Update, DbError> {
    let (mut u, mut before) = first_snapshot(db).await?;
    while let Some(id) = before {
        let (page, next) = history_page(db, id).await?;
        u.orders.extend(page.orders);
        before = next;
    }
    u.history_loading = Some(false);
    Ok(u)
}

/// What the first frame needs: everything but today's earlier orders (the
/// newest page of them is in it), and where the rest begins, if there is
/// more. Working orders from any day are always in it.
pub async fn first_snapshot(db: &Db) -> Result<(Update, Option<i64>), DbError> {
    let mut orders = db.today_orders_before(None, HISTORY_PAGE).await?;
    let before = page_end(&orders);
    for o in db.active_orders().await? {
        if !orders.iter().any(|x| x.id == o.id) {
            orders.push(o);
        }
    }
    let mut issues = db.unresolved_issues().await?;
    issues.extend(db.resolved_issues(200).await?);
    let u = Update {
        snapshot: true,
        orders,
        trades: db.today_trades().await?,
        positions: [db.open_positions().await?, db.today_closed_positions().await?].concat(),
        issues,
        kill_switch: Some(db.kill_switch_state().await?),
        summary: Some(summary(db).await?),
        strategies: db.all_strategies().await?,
        events: db.recent_events(EVENTS_KEPT as i64).await?,
        history_loading: Some(before.is_some()),
        ..Update::default()
    };
    Ok((u, before))
}

/// Where the page after a full one begins (its oldest id); `None` after the last.
fn page_end(page: &[Order]) -> Option<i64> {
    (page.len() as i64 == HISTORY_PAGE).then(|| page.last().map(|o| o.id)).flatten()
}

/// The next page of today's orders older than `before`, and where the one
/// after begins.
pub async fn history_page(db: &Db, before: i64) -> Result<(Update, Option<i64>), DbError> {
    let orders = db.today_orders_before(Some(before), HISTORY_PAGE).await?;
    let next = page_end(&orders);
    Ok((Update { orders, history_loading: Some(next.is_some()), ..Update::default() }, next))
}

pub async fn summary(db: &Db) -> Result<Summary, DbError> {
    let day = xcoin_model::calendar::MarketCalendar::default().today();
    Ok(Summary {
        pnl: Some(db.today_pnl().await?),
        stats: db.daily_stats(day).await?,
        trades_today: db.today_trade_count().await?,
        breakdown: db.today_breakdown().await?,
        funds: db.today_funds().await?,
        goals: db.goals_on(day).await?,
        adjustments: db.adjustments_realised(day).await?,
    })
}

/// The rows behind a batch of changes: the orders their notifications
/// carried as they are, everything else read back.
pub async fn fetch(db: &Db, mut changes: Vec<xcoin_db::changes::Change>) -> Result<Update, DbError> {
    let (carried, o) = carried_orders(&mut changes);
    let ids = |t: Table| -> Vec<i64> {
        let set: HashSet<i64> = changes.iter().filter(|c| c.table == t && c.op != Op::Delete).map(|c| c.id).collect();
        set.into_iter().collect()
    };
    let mut u = Update { orders: carried, ..Update::default() };
    let (tr, p, i, c) =
        (ids(Table::Trades), ids(Table::Positions), ids(Table::ReconciliationLog), ids(Table::OperatorCommands));
    if !o.is_empty() {
        u.orders.extend(db.orders_by_ids(&o).await?);
    }
    u.deleted_orders =
        changes.iter().filter(|c| c.table == Table::Orders && c.op == Op::Delete).map(|c| c.id).collect();
    if !tr.is_empty() {
        u.trades = db.trades_by_ids(&tr).await?;
    }
    if !p.is_empty() {
        u.positions = db.positions_by_ids(&p).await?;
    }
    if !i.is_empty() {
        u.issues = db.issues_by_ids(&i).await?;
    }
    if !c.is_empty() {
        u.commands = db.commands_by_ids(&c).await?;
    }
    if changes.iter().any(|c| c.table == Table::KillSwitchEvents) {
        u.kill_switch = Some(db.kill_switch_state().await?);
    }
    if changes.iter().any(|c| c.table == Table::Strategies) {
        u.strategies = db.all_strategies().await?;
    }
    let events = ids(Table::DeskEvents);
    if !events.is_empty() {
        u.events = db.events_by_ids(&events).await?;
    }
    Ok(u)
}

/// The orders of a batch: each one's newest notification (they arrive in
/// commit order), as it carried the order (taken out of it), and the ids of
/// those whose newest notification did not carry it, to be read back. A
/// deleted order is in neither (the delete is applied by id).
fn carried_orders(changes: &mut [xcoin_db::changes::Change]) -> (Vec<Order>, Vec<i64>) {
    let mut newest: HashMap<i64, &mut xcoin_db::changes::Change> = HashMap::new();
    for c in changes.iter_mut().filter(|c| c.table == Table::Orders) {
        newest.insert(c.id, c);
    }
    let (mut carried, mut read) = (Vec::new(), Vec::new());
    for (id, c) in newest {
        match (c.order.take(), c.op) {
            (_, Op::Delete) => {}
            (Some(o), _) => carried.push(*o),
            (None, _) => read.push(id),
        }
    }
    (carried, read)
}

async fn engine_holder(db: &Db) -> Result<xcoin_db::lock::EngineWatch, DbError> {
    db.engine_watch().await
}

/// What the header says of the database. `answered` is the health query's
/// round trip, `None` when it failed; `gap` is when the console lost the
/// database, while it has not yet reloaded what it missed. The database
/// answering is not enough to say `live`: until the change feed is back and
/// the console has reloaded, the screen may be missing rows.
pub fn db_state(answered: Option<Duration>, gap: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DbState {
    match (answered, gap) {
        (Some(round_trip), None) => DbState::Live { round_trip },
        (_, Some(since)) => DbState::Reconnecting { since },
        (None, None) => DbState::Reconnecting { since: now },
    }
}

/// After the database answers again, how many health checks to wait for the
/// change feed's own resync before reloading anyway (a listener that never
/// dropped sends none).
const RELOAD_AFTER_ANSWERS: u32 = 2;

/// Summary recomputation after relevant changes, at most this often.
const SUMMARY_EVERY: Duration = Duration::from_millis(250);
const HEALTH_EVERY: Duration = Duration::from_secs(2);

/// The loader: sends the initial snapshot, then updates, and answers the
/// console's requests, until the receiver is dropped. Subscribes before
/// loading, so nothing committed in between is missed.
pub async fn run_loader(db: Db, tx: mpsc::Sender<LoaderMsg>, requests: mpsc::Receiver<Request>) {
    // It runs until the console goes away.
    let Err(Gone) = serve(db, tx, requests).await;
}

async fn serve(db: Db, tx: mpsc::Sender<LoaderMsg>, mut requests: mpsc::Receiver<Request>) -> Result<Infallible, Gone> {
    let feed = loop {
        match ChangeFeed::changes(&db).await {
            Ok(feed) => break feed,
            Err(e) => {
                let _ = tx
                    .send(LoaderMsg::Health(Health::Db(DbState::Reconnecting { since: xcoin_model::clock::now() })))
                    .await;
                tracing::warn!(error = %e, "console cannot listen for changes yet");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    // The listener runs in a task of its own, so waiting for its events can
    // be abandoned safely when a timer or a request comes first.
    let mut events = feed.spawn();
    let mut requests_open = true;
    let mut health = tokio::time::interval(HEALTH_EVERY);
    // Today's numbers are recomputed by a task of their own, so their
    // queries over the growing day never hold up the next refetch.
    let summary = SummaryWanted::default();
    let _summaries = EndsWith(tokio::spawn(summarise(db.clone(), tx.clone(), summary.clone())));
    let mut l = Loader { db, tx, need_snapshot: true, gap_started: None, summary, answers_in_gap: 0, history: None };
    serve_loop(&mut l, &mut events, &mut requests, &mut requests_open, &mut health).await
}

/// A helper task that ends with the loader however the loader ends, also
/// when the loader's own task is aborted (the console quitting): otherwise
/// it would keep the loader's channel and a pool's connections open.
struct EndsWith(tokio::task::JoinHandle<()>);

impl Drop for EndsWith {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The loader's loop: snapshots when needed, changes, requests and health.
async fn serve_loop(
    l: &mut Loader,
    events: &mut xcoin_db::changes::ChangeStream,
    requests: &mut mpsc::Receiver<Request>,
    requests_open: &mut bool,
    health: &mut tokio::time::Interval,
) -> Result<Infallible, Gone> {
    loop {
        if l.need_snapshot && !l.snapshot().await? {
            continue;
        }
        tokio::select! {
            event = events.recv() => {
                let Some(first) = event else { return Err(Gone) };
                let mut batch = vec![first];
                // Everything already queued goes into this one fetch; what
                // arrives while it runs makes the next batch. No waiting: a
                // quiet desk sees a change at once, a busy one in batches.
                while let Some(e) = events.try_recv() {
                    batch.push(e);
                }
                l.on_changes(batch).await?;
            }
            request = requests.recv(), if *requests_open => {
                let Some(first) = request else {
                    *requests_open = false;
                    continue;
                };
                let mut queued = vec![first];
                while let Ok(r) = requests.try_recv() {
                    queued.push(r);
                }
                for r in thin(queued) {
                    l.send(LoaderMsg::Answer(answer(&l.db, r).await)).await?;
                }
            }
            _ = health.tick() => l.on_health().await?,
            // Taken in turn with changes (the select picks among the ready
            // branches at random), so a busy feed neither waits for the
            // history nor starves it.
            _ = std::future::ready(()), if l.history.is_some() => l.next_page().await?,
        }
    }
}

/// Asks the summary task for today's numbers again (asks while one is
/// computed make one more).
#[derive(Clone, Default)]
struct SummaryWanted(std::sync::Arc<tokio::sync::Notify>);

impl SummaryWanted {
    fn ask(&self) {
        self.0.notify_one();
    }
}

/// Sends today's numbers again each time the loader asks, at most every
/// [`SUMMARY_EVERY`]: the header is never more than that behind the last
/// change that moved money.
async fn summarise(db: Db, tx: mpsc::Sender<LoaderMsg>, wanted: SummaryWanted) {
    let mut last = Instant::now() - SUMMARY_EVERY;
    loop {
        wanted.0.notified().await;
        tokio::time::sleep_until(tokio::time::Instant::from_std(last + SUMMARY_EVERY)).await;
        last = Instant::now();
        match summary(&db).await {
            Ok(s) => {
                let update = Update { summary: Some(s), ..Update::default() };
                if tx.send(LoaderMsg::Update(Box::new(update))).await.is_err() {
                    return;
                }
            }
            // The loader notices the outage and reloads everything (with a summary).
            Err(e) => tracing::debug!(error = %e, "summary not recomputed"),
        }
    }
}

/// The console went away: the loader stops.
struct Gone;

/// The loader's state between events.
struct Loader {
    db: Db,
    tx: mpsc::Sender<LoaderMsg>,
    need_snapshot: bool,
    /// When the console lost the database (or the feed), until it reloaded.
    gap_started: Option<(Instant, DateTime<Utc>)>,
    /// Asks the summary task for today's numbers again.
    summary: SummaryWanted,
    /// Where today's earlier orders continue, while they are streamed in.
    history: Option<i64>,
    /// Health checks answered since the gap began.
    answers_in_gap: u32,
}

impl Loader {
    async fn send(&self, msg: LoaderMsg) -> Result<(), Gone> {
        self.tx.send(msg).await.map_err(|_| Gone)
    }

    fn lost(&mut self) {
        self.gap_started.get_or_insert((Instant::now(), xcoin_model::clock::now()));
    }

    /// What the console holds can no longer be trusted: everything is read again.
    fn reload(&mut self) {
        self.lost();
        self.need_snapshot = true;
    }

    /// Loads everything; `Ok(false)` when it failed and is to be tried again.
    async fn snapshot(&mut self) -> Result<bool, Gone> {
        match first_snapshot(&self.db).await {
            Ok((u, history)) => {
                self.need_snapshot = false;
                self.history = history;
                self.send(LoaderMsg::Update(Box::new(u))).await?;
                // A summary computed before this snapshot may still arrive:
                // one more, computed after, follows it.
                self.summary.ask();
                self.answers_in_gap = 0;
                if let Some((started, _)) = self.gap_started.take() {
                    self.send(LoaderMsg::Health(Health::Resynced {
                        gap: started.elapsed(),
                        at: xcoin_model::clock::now(),
                    }))
                    .await?;
                }
                Ok(true)
            }
            Err(e) => {
                tracing::warn!(error = %e, "console snapshot failed; retrying");
                // Retried before anything else runs, health checks included:
                // the header says the database is being reconnected, not
                // merely that it has not answered for a while.
                self.lost();
                self.say_db(None).await?;
                tokio::time::sleep(Duration::from_millis(500)).await;
                Ok(false)
            }
        }
    }

    /// The next page of today's earlier orders. Pages and refetches are sent
    /// in the order they were read, so a page never undoes a newer change.
    async fn next_page(&mut self) -> Result<(), Gone> {
        let Some(before) = self.history else { return Ok(()) };
        match history_page(&self.db, before).await {
            Ok((u, next)) => {
                self.history = next;
                self.send(LoaderMsg::Update(Box::new(u))).await
            }
            Err(e) => {
                tracing::warn!(error = %e, "today's earlier orders not read; reloading everything");
                self.reload();
                Ok(())
            }
        }
    }

    /// A batch of the feed's events: the changed rows (orders as carried,
    /// the rest refetched), or, after a resync, everything reloaded.
    async fn on_changes(&mut self, batch: Vec<ChangeEvent>) -> Result<(), Gone> {
        let taken = Instant::now();
        if batch.contains(&ChangeEvent::Resync) {
            self.reload();
            return Ok(());
        }
        let changes: Vec<Change> = batch
            .into_iter()
            .filter_map(|e| match e {
                ChangeEvent::Change(c) => Some(c),
                ChangeEvent::Resync => None,
            })
            .collect();
        let money = changes.iter().any(|c| {
            matches!(
                c.table,
                Table::Trades | Table::Positions | Table::DailyStats | Table::PositionAdjustments | Table::GoalEvents
            )
        });
        // An order placed moves no money, and the console counts orders
        // (and their messages) itself as they arrive.
        if money {
            self.summary.ask();
        }
        match fetch(&self.db, changes).await {
            Ok(mut u) => {
                u.stages = Some((taken, Instant::now()));
                self.send(LoaderMsg::Update(Box::new(u))).await
            }
            Err(e) => {
                tracing::warn!(error = %e, "refetch failed; reloading everything");
                self.reload();
                Ok(())
            }
        }
    }

    /// Asks the database who runs the engine, and says how the database is.
    async fn on_health(&mut self) -> Result<(), Gone> {
        let started = Instant::now();
        let answered = match engine_holder(&self.db).await {
            Ok(engine) => {
                self.send(LoaderMsg::Health(Health::Engine(engine))).await?;
                Some(started.elapsed())
            }
            Err(_) => {
                self.lost();
                self.answers_in_gap = 0;
                None
            }
        };
        if answered.is_some() && self.gap_started.is_some() {
            self.answers_in_gap += 1;
            if self.answers_in_gap >= RELOAD_AFTER_ANSWERS {
                self.need_snapshot = true;
            }
        }
        self.say_db(answered).await
    }

    /// Tells the console how the database is: `answered` is the last
    /// query's round trip, `None` when it failed.
    async fn say_db(&self, answered: Option<Duration>) -> Result<(), Gone> {
        let state = db_state(answered, self.gap_started.map(|g| g.1), xcoin_model::clock::now());
        self.send(LoaderMsg::Health(Health::Db(state))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_requests_keep_every_command_in_order_and_the_newest_history() {
        let history = |id| Request::History { id, version: (OrderStatus::Open, 0) };
        let send = |what: &str| Request::Send {
            command: Box::new(OperatorCommand::ExitAll {}),
            what: what.into(),
            requested_by: "asha".into(),
            then_quit: false,
        };
        assert_eq!(
            thin(vec![history(1), send("a"), history(2), send("b"), history(3)]),
            vec![send("a"), send("b"), history(3)]
        );
        assert_eq!(thin(vec![send("a")]), vec![send("a")]);
        assert_eq!(thin(vec![history(1), history(2)]), vec![history(2)]);
    }

    #[test]
    fn the_header_says_live_only_once_the_console_has_reloaded_what_it_missed() {
        let now = Utc::now();
        let lost = now - chrono::Duration::seconds(3);
        let rtt = Duration::from_millis(1);
        assert_eq!(db_state(Some(rtt), None, now), DbState::Live { round_trip: rtt });
        // The server answers again, but the feed has not resynced yet.
        assert_eq!(db_state(Some(rtt), Some(lost), now), DbState::Reconnecting { since: lost });
        assert_eq!(db_state(None, Some(lost), now), DbState::Reconnecting { since: lost });
        assert_eq!(db_state(None, None, now), DbState::Reconnecting { since: now });
    }
}
