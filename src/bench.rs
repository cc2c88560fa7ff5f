//! `xcoin bench`: measures this build against the configured database
//! server. It writes only to a scratch database of its own
//! (`xcoin_bench_<pid>`, dropped afterwards), never to the desk's.
//!
//! Measured: pre-trade validation time per order; the engine end to end on
//! the paper exchange (place: validate, persist PENDING, send, SUBMITTED; and
//! the fills applied to orders and positions); the change feed from a commit
//! to the console's view model under a paced and an unpaced writer, next to
//! the rate the database reaches with nobody listening; the time to draw each
//! console tab and the resident memory with 100,000 orders and 10,000 trades
//! loaded.

use std::io::Write;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::Serialize;

use xcoin::broker::paper::{PaperBroker, PaperConfig};
use xcoin::config::Config;
use xcoin::config::Settings;
use xcoin::db::Target;
use xcoin::db::schema::create_database_if_missing;
use xcoin::db::{Db, PoolConfig};
use xcoin::domain::calendar::MarketState;
use xcoin::domain::instrument;
use xcoin::domain::order::{Exchange, OrderRequest, OrderType, Product, Side, Validity};
use xcoin::domain::risk::{RiskSnapshot, validate};
use xcoin::engine::{Engine, EngineConfig, EngineError};

/// One measurement run's figures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub database: String,
    pub cpus: usize,
    pub validation_ns_per_order: f64,
    pub validations: u64,
    pub place_p50_ms: f64,
    pub place_p99_ms: f64,
    pub engine_orders: usize,
    pub engine_orders_per_second: f64,
    /// The limits the figures are held against, measured in the same run.
    pub limits: Limits,
    /// Commit to console view model at a paced rate.
    pub feed: FeedReport,
    /// The same writers unpaced, with the console listening.
    pub feed_unpaced: FeedReport,
    /// The unpaced writers' rate with nobody listening.
    pub database_writes_per_second: f64,
    /// Milliseconds to draw each tab (p50, p99) with the large store loaded.
    pub render_ms: Vec<(String, f64, f64)>,
    /// A console process's resident memory with the large store loaded and
    /// drawn (measured in a process of its own), and with nothing loaded.
    pub resident_mb: f64,
    pub resident_empty_mb: f64,
    /// What 100,000 orders (and 10,000 trades) add.
    pub mb_per_100k_orders: f64,
    pub loaded_orders: usize,
    pub loaded_trades: usize,
    /// (writers, through the database layer per second, plain SQL per second).
    pub create_order: Vec<(usize, f64, f64)>,
    /// With 100,000 orders in the day, 1,000 of them working: p50 ms.
    pub active_orders_p50_ms: f64,
    pub today_orders_p50_ms: f64,
    /// With those 100,000 orders: a console's loader started → its first
    /// frame drawn, and → every order of the day in.
    pub first_frame_ms: f64,
    pub all_orders_ms: f64,
    /// `xcoin replay` at full speed on a synthetic recording.
    pub replay: ReplayBench,
}

/// This server's own limits, measured in the same run, and each figure as a
/// ratio to its limit (so a slow day on a shared machine reads the same).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Limits {
    /// A one-row INSERT + COMMIT through the same pool.
    pub commit_p50_ms: f64,
    pub commit_p99_ms: f64,
    /// A trigger's NOTIFY to the listening loader (commit → notified, the
    /// paced feed's first stage, no fetch).
    pub notify_p99_ms: f64,
    /// The working orders' rows fetched by the same driver, undecoded.
    pub raw_active_ms: f64,
    /// Writing transactions per order placed: on its path (place →
    /// SUBMITTED), and with the desk log's writer caught up.
    pub commits_per_order: f64,
    pub commits_per_order_all: f64,
    /// Writing transactions per fill applied.
    pub commits_per_fill: f64,
    /// place → SUBMITTED p50 ÷ commit p50.
    pub place_ratio: f64,
    /// commit → console p99 ÷ notify p99.
    pub feed_ratio: f64,
    /// active orders decoded ÷ undecoded.
    pub active_ratio: f64,
}

/// A replay of the demo at full speed: every built-in instrument ticking
/// ten times a second of recorded time.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplayBench {
    pub ticks: usize,
    pub instruments: usize,
    pub recorded_seconds: u32,
    /// Engine cycles (every 500 ms of recorded time).
    pub cycles: usize,
    pub fills: i64,
    pub seconds: f64,
    pub ticks_per_second: f64,
}

/// The change feed under one writer load.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FeedReport {
    pub target_per_second: Option<u32>,
    pub seconds: f64,
    pub committed: usize,
    pub committed_per_second: f64,
    pub received: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Changes committed but not yet in the model one second after the writers stopped.
    pub backlog: usize,
    /// Each stage of the trip: commit → the loader takes the notification →
    /// rows fetched → applied to the view model → drawn (the next frame).
    pub stages: Vec<Figures>,
    /// Commit → applied, per 10 s of the run (by commit time).
    pub windows: Vec<Figures>,
}

/// p50 / p99 / max of one stage or window, in ms.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Figures {
    pub name: String,
    pub changes: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Figures {
    fn of(name: String, mut d: Vec<Duration>) -> Figures {
        d.sort();
        Figures {
            name,
            changes: d.len(),
            p50_ms: percentile(&d, 0.50),
            p99_ms: percentile(&d, 0.99),
            max_ms: d.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        }
    }
}

/// When one change passed each stage on its way to the screen.
#[derive(Debug, Clone, Copy, Default)]
struct Stamps {
    notified: Option<Instant>,
    fetched: Option<Instant>,
    applied: Option<Instant>,
    drawn: Option<Instant>,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn bench_request(symbol: &str, side: Side, last: Decimal) -> OrderRequest {
    let (stop, target) = match side {
        Side::Buy => (last - dec!(1), last + dec!(2.05)),
        Side::Sell => (last + dec!(1), last - dec!(2.05)),
    };
    OrderRequest {
        strategy_id: 1,
        symbol: symbol.into(),
        exchange: Exchange::Nse,
        side,
        order_type: OrderType::Market,
        product: Product::Mis,
        validity: Validity::Day,
        quantity: 1,
        price: None,
        trigger_price: None,
        stop_loss: Some(stop),
        take_profit: Some(target),
        parent_order_id: None,
        placed_by: "bench".into(),
    }
}

/// Pre-trade validation, pure: nanoseconds per order over `n` orders.
pub fn validation_ns(cfg: &EngineConfig, n: u64) -> f64 {
    let req = bench_request("INFY", Side::Buy, dec!(1512.30));
    let snap = RiskSnapshot {
        kill_switch_active: false,
        market_state: MarketState::Open,
        last_price: Some(dec!(1512.30)),
        position_quantity: 0,
        open_positions: 2,
        today_net_pnl: dec!(-1200),
        drawdown: dec!(300),
        orders_last_second: 3,
        strategy_paused: false,
        strategy: Default::default(),
        free_margin: Some(dec!(50000)),
    };
    let started = Instant::now();
    for _ in 0..n {
        let verdict = validate(std::hint::black_box(&req), std::hint::black_box(&snap), &cfg.limits);
        std::hint::black_box(verdict.is_ok());
    }
    started.elapsed().as_nanos() as f64 / n as f64
}

/// The engine on the paper exchange over a scratch database: `orders` market
/// orders (entries and their exits, rotating over six instruments), with the
/// exchange ticking every 50 orders and fills applied as they come.
async fn engine_run(
    db: Db,
    cfg: EngineConfig,
    orders: usize,
) -> Result<(Vec<Duration>, Duration, Commits), EngineError> {
    let (mut engine, broker) = bench_engine(db.clone(), cfg).await?;
    let mut latencies = Vec::with_capacity(orders);
    let started = Instant::now();
    for i in 0..orders {
        let req = bench_order(&engine, i);
        let t = Instant::now();
        engine.place_order(&req).await?;
        latencies.push(t.elapsed());
        if (i + 1) % 50 == 0 {
            broker.step();
            engine.drain_events().await?;
        }
    }
    broker.step();
    engine.drain_events().await?;
    let elapsed = started.elapsed();
    latencies.sort();
    let commits = engine_commits(&db, &mut engine, &broker, orders, 60).await?;
    Ok((latencies, elapsed, commits))
}

/// The instruments the engine runs rotate over.
const BENCH_SYMBOLS: [&str; 6] = ["INFY", "SBIN", "TCS", "ITC", "RELIANCE", "HDFCBANK"];

/// The engine on a paper exchange that fills everything at once, every
/// instrument priced; its own capacity measured, not the configured
/// order-rate rule.
async fn bench_engine(db: Db, cfg: EngineConfig) -> Result<(Engine<PaperBroker>, PaperBroker), EngineError> {
    let broker = PaperBroker::new(
        &instrument::built_in(),
        PaperConfig { liquidity_per_tick: 1_000_000, slippage_ticks: 0, ..Default::default() },
    )?;
    let mut cfg = cfg;
    cfg.limits.max_orders_per_second = u32::MAX;
    cfg.limits.max_open_positions = 100;
    let mut engine = Engine::start(db, broker.clone(), cfg).await?;
    for s in BENCH_SYMBOLS {
        let p = broker.last_price(s, Exchange::Nse).expect("built-in instrument");
        broker.set_price(s, Exchange::Nse, p)?;
    }
    engine.drain_events().await?;
    Ok((engine, broker))
}

/// The `i`th order of a run: entries and their exits in turn, rotating over
/// the instruments.
fn bench_order(engine: &Engine<PaperBroker>, i: usize) -> OrderRequest {
    let symbol = BENCH_SYMBOLS[i % BENCH_SYMBOLS.len()];
    let side = if (i / BENCH_SYMBOLS.len()) % 2 == 0 { Side::Buy } else { Side::Sell };
    bench_request(symbol, side, engine.last_price(symbol, Exchange::Nse).expect("priced"))
}

/// What the server commits per order and per fill: its transaction ids
/// taken over each placement (on the order's path, then with the desk
/// log's writer caught up) and over each batch of fills. A pass of its own
/// after the timed one (`from` orders placed), as reading the counter
/// between orders would slow the timed run.
async fn engine_commits(
    db: &Db,
    engine: &mut Engine<PaperBroker>,
    broker: &PaperBroker,
    from: usize,
    orders: usize,
) -> Result<Commits, EngineError> {
    let mut c = Commits::default();
    for i in from..from + orders {
        let req = bench_order(engine, i);
        engine.flush_journal().await;
        let before = db.bench_next_xid().await?;
        engine.place_order(&req).await?;
        let placed = db.bench_next_xid().await?;
        engine.flush_journal().await;
        c.on_path += placed - before;
        c.per_order_all += db.bench_next_xid().await? - before;
        if (i + 1) % 10 == 0 {
            let (trades, before) = (db.today_trade_count().await?, db.bench_next_xid().await?);
            broker.step();
            engine.drain_events().await?;
            engine.flush_journal().await;
            c.fill_commits += db.bench_next_xid().await? - before;
            c.fills += db.today_trade_count().await? - trades;
        }
    }
    c.orders = orders;
    Ok(c)
}

/// Commits counted by [`engine_commits`].
#[derive(Debug, Clone, Copy, Default)]
struct Commits {
    orders: usize,
    on_path: i64,
    per_order_all: i64,
    fills: i64,
    fill_commits: i64,
}

/// The demo replayed on a synthetic recording (a seeded random walk of every
/// built-in instrument, ten ticks a second for five recorded minutes), in a
/// scratch database dropped after.
async fn replay_run(target: &Target, settings: &xcoin::config::Settings) -> Result<ReplayBench, EngineError> {
    use xcoin::replay::{Options, RecordedTick, Speed};
    let instruments = instrument::built_in();
    let recorded_seconds = 300u32;
    let start =
        chrono::NaiveDate::from_ymd_opt(2026, 11, 27).and_then(|d| d.and_hms_opt(9, 15, 0)).expect("a valid time");
    let mut prices: Vec<Decimal> = instruments.iter().map(|i| i.reference_price).collect();
    let mut rng: u64 = 0x5eed;
    let mut ticks = Vec::with_capacity(instruments.len() * recorded_seconds as usize * 10);
    for step in 0..recorded_seconds * 10 {
        for (n, i) in instruments.iter().enumerate() {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let moves = [-1i64, 0, 0, 1][(rng >> 62) as usize];
            prices[n] = (prices[n] + i.tick_size * Decimal::from(moves)).max(i.tick_size);
            let at = start + chrono::Duration::milliseconds(i64::from(step) * 100 + n as i64);
            ticks.push(RecordedTick { at, symbol: i.symbol.clone(), exchange: i.exchange, price: prices[n] });
        }
    }
    let options = target.connect_options().database(&xcoin::replay::scratch_name());
    let opts = Options { from: None, to: None, speed: Speed::Max, seed: 1, parameters: serde_json::json!({}) };
    let strategy = xcoin::engine::registry::built_in("demo").map_err(EngineError::Refused)?;
    let outcome = xcoin::replay::run(options.clone(), settings, &ticks, strategy, &opts).await;
    let fills = match &outcome {
        Ok(_) => {
            let db = Db::connect(options.clone(), PoolConfig { min: 1, max: 1, ..Default::default() }).await?;
            let n = db.today_trade_count().await;
            db.close().await;
            n?
        }
        Err(_) => 0,
    };
    xcoin::db::bench::drop_database(&options).await?;
    let outcome = outcome?;
    Ok(ReplayBench {
        ticks: outcome.ticks,
        instruments: instruments.len(),
        recorded_seconds,
        cycles: outcome.cycles,
        fills,
        seconds: outcome.elapsed.as_secs_f64(),
        ticks_per_second: outcome.ticks_per_second(),
    })
}

const FEED_WRITERS: usize = 4;

/// Writers commit orders (as the engine would, through the database layer)
/// for `seconds`, paced to `rate` per second in all or as fast as they can;
/// with `listen`, a console loader turns each notification into rows in a
/// console view model, and every order's commit-to-model time is measured.
/// (Measurement code: each function is one protocol, read top to bottom.)
pub async fn feed_run(db: &Db, rate: Option<u32>, seconds: f64, listen: bool) -> Result<FeedReport, EngineError> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    let committed: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let received: Arc<Mutex<HashMap<i64, Stamps>>> = Arc::default();
    let mut consumer = None;
    if listen {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        let loader = tokio::spawn(xcoin::console::store::run_loader(db.clone(), tx, tokio::sync::mpsc::channel(1).1));
        // The snapshot, then the day's earlier orders: from then on the
        // console listens, in its steady state.
        while let Some(msg) = rx.recv().await {
            if let xcoin::console::store::LoaderMsg::Update(u) = msg
                && u.history_loading == Some(false)
            {
                break;
            }
        }
        let seen = received.clone();
        let s = Settings::default();
        let limits = EngineConfig::from_settings(&s).limits;
        let mut app = xcoin::console::app::App::new(s.app.mode, s.calendar(), limits, "bench".into(), true);
        consumer = Some((
            loader,
            tokio::spawn(async move {
                // The console's frame: what was applied is drawn at the next one.
                let mut frame = tokio::time::interval(Duration::from_millis(16));
                let mut terminal =
                    ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 45)).expect("a test terminal");
                let mut undrawn: Vec<i64> = Vec::new();
                loop {
                    tokio::select! {
                        msg = rx.recv() => {
                            let Some(msg) = msg else { break };
                            if let xcoin::console::store::LoaderMsg::Update(u) = msg {
                                let ids: Vec<i64> = u.orders.iter().map(|o| o.id).collect();
                                let stages = u.stages;
                                app.apply(*u);
                                let now = Instant::now();
                                let mut seen = seen.lock().expect("not poisoned");
                                for id in ids {
                                    let st = seen.entry(id).or_default();
                                    if st.applied.is_none() {
                                        st.notified = stages.map(|s| s.0);
                                        st.fetched = stages.map(|s| s.1);
                                        st.applied = Some(now);
                                        undrawn.push(id);
                                    }
                                }
                            }
                        }
                        _ = frame.tick(), if !undrawn.is_empty() => {
                            app.refresh_views();
                            terminal.draw(|f| f.render_widget(&app, f.area())).expect("draws");
                            let now = Instant::now();
                            let mut seen = seen.lock().expect("not poisoned");
                            for id in undrawn.drain(..) {
                                if let Some(st) = seen.get_mut(&id) {
                                    st.drawn = Some(now);
                                }
                            }
                        }
                    }
                }
            }),
        ));
    }

    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let mut writers = Vec::new();
    for w in 0..FEED_WRITERS {
        let db = db.clone();
        let committed = committed.clone();
        let every = rate.map(|r| Duration::from_secs_f64(FEED_WRITERS as f64 / f64::from(r.max(1))));
        writers.push(tokio::spawn(async move {
            let base = bench_request(["INFY", "SBIN", "TCS", "ITC"][w % 4], Side::Buy, dec!(1000));
            let req = OrderRequest { order_type: OrderType::Limit, price: Some(dec!(1000)), ..base };
            let mut tick = every.map(tokio::time::interval);
            while Instant::now() < until {
                if let Some(t) = tick.as_mut() {
                    t.tick().await;
                }
                if let Ok(o) = db.create_order(&req, xcoin::domain::order::BrokerKind::Paper, dec!(0.05), None).await {
                    committed.lock().expect("not poisoned").insert(o.id, Instant::now());
                }
            }
        }));
    }
    for w in writers {
        let _ = w.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    if listen {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    if let Some((loader, consumer)) = consumer {
        loader.abort();
        consumer.abort();
    }
    let committed = committed.lock().expect("not poisoned").clone();
    let received = received.lock().expect("not poisoned").clone();
    let mut latencies: Vec<Duration> = Vec::new();
    let mut stages: [Vec<Duration>; 4] = Default::default();
    let mut windows: Vec<Vec<Duration>> = Vec::new();
    for (id, at) in &committed {
        let Some(st) = received.get(id) else { continue };
        let Some(applied) = st.applied else { continue };
        let total = applied.saturating_duration_since(*at);
        latencies.push(total);
        let window = (at.saturating_duration_since(started).as_secs() / 10) as usize;
        if windows.len() <= window {
            windows.resize(window + 1, Vec::new());
        }
        windows[window].push(total);
        if let (Some(n), Some(f)) = (st.notified, st.fetched) {
            stages[0].push(n.saturating_duration_since(*at));
            stages[1].push(f.saturating_duration_since(n));
            stages[2].push(applied.saturating_duration_since(f));
        }
        if let Some(d) = st.drawn {
            stages[3].push(d.saturating_duration_since(applied));
        }
    }
    latencies.sort();
    let names = ["commit → notified", "notified → fetched", "fetched → applied", "applied → drawn"];
    let stages = names.iter().zip(stages).map(|(n, d)| Figures::of(n.to_string(), d)).collect();
    let windows =
        windows.into_iter().enumerate().map(|(i, d)| Figures::of(format!("{}–{} s", i * 10, i * 10 + 10), d)).collect();
    Ok(FeedReport {
        target_per_second: rate,
        seconds: elapsed,
        committed: committed.len(),
        committed_per_second: committed.len() as f64 / elapsed,
        received: latencies.len(),
        p50_ms: percentile(&latencies, 0.50),
        p95_ms: percentile(&latencies, 0.95),
        p99_ms: percentile(&latencies, 0.99),
        max_ms: latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        backlog: if listen { committed.len() - latencies.len() } else { 0 },
        stages,
        windows,
    })
}

/// A console's memory with `orders` orders (and a tenth as many trades)
/// loaded and one frame drawn: run in a process of its own (`xcoin bench
/// --memory-probe N`), so what the bench itself holds is not counted.
fn probe(orders: usize) -> Result<f64, EngineError> {
    let exe = std::env::current_exe().map_err(|e| EngineError::Refused(format!("the bench's own binary: {e}")))?;
    let out = std::process::Command::new(exe)
        .args(["bench", "--memory-probe", &orders.to_string()])
        .output()
        .map_err(|e| EngineError::Refused(format!("the memory probe did not run: {e}")))?;
    String::from_utf8_lossy(&out.stdout).trim().parse().map_err(|_| {
        EngineError::Refused(format!("the memory probe said: {}", String::from_utf8_lossy(&out.stderr).trim()))
    })
}

/// The probe itself: the store loaded, its tables built, one frame drawn.
pub fn memory_probe(orders: usize) -> f64 {
    let mut app = large_app(orders, orders / 10);
    app.refresh_views();
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 45)).expect("a test terminal");
    terminal.draw(|f| f.render_widget(&app, f.area())).expect("draws");
    resident_mb()
}

/// The resident set size of this process, in MB (Linux).
pub fn resident_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A console view model holding `orders` orders and `trades` trades (one
/// fixture, built in one place).
pub fn large_app(orders: usize, trades: usize) -> xcoin::console::app::App {
    use xcoin::domain::charges::Charges;
    use xcoin::domain::order::{BrokerKind, Order, OrderStatus};
    use xcoin::domain::trade::Trade;
    let s = Settings::default();
    let limits = EngineConfig::from_settings(&s).limits;
    let mut app = xcoin::console::app::App::new(s.app.mode, s.calendar(), limits, "bench".into(), true);
    let now = xcoin::domain::clock::now();
    let symbols: Vec<String> = instrument::built_in().into_iter().map(|i| i.symbol).collect();
    let mut update = xcoin::console::store::Update { snapshot: true, ..Default::default() };
    for i in 0..orders {
        let status = match i % 100 {
            0 => OrderStatus::Open,
            1..=10 => OrderStatus::Cancelled,
            11..=13 => OrderStatus::Rejected,
            _ => OrderStatus::Filled,
        };
        let id = i as i64 + 1;
        let filled = status == OrderStatus::Filled;
        update.orders.push(Order {
            id,
            strategy_id: 1,
            parent_order_id: None,
            symbol: symbols[i % symbols.len()].clone(),
            exchange: Exchange::Nse,
            side: if i % 2 == 0 { Side::Buy } else { Side::Sell },
            order_type: OrderType::Limit,
            product: Product::Mis,
            validity: Validity::Day,
            quantity: 10,
            filled_quantity: if filled { 10 } else { 0 },
            price: Some(dec!(1000.05)),
            trigger_price: None,
            average_price: filled.then_some(dec!(1000.05)),
            stop_loss: Some(dec!(990)),
            take_profit: Some(dec!(1020)),
            risk_amount: Some(dec!(100.50)),
            status,
            status_reason: None,
            broker: BrokerKind::Paper,
            broker_order_id: Some(format!("PO{id:08}")),
            placed_by: "bench".into(),
            created_at: now,
            updated_at: now,
            submitted_at: Some(now),
            completed_at: None,
            modifications: 0,
            trigger_pending: false,
        });
    }
    for i in 0..trades {
        let id = i as i64 + 1;
        update.trades.push(Trade {
            id,
            order_id: id,
            strategy_id: 1,
            symbol: symbols[i % symbols.len()].clone(),
            exchange: Exchange::Nse,
            side: Side::Buy,
            product: Product::Mis,
            quantity: 10,
            price: dec!(1000.05),
            broker: BrokerKind::Paper,
            broker_trade_id: format!("PT{id:08}"),
            broker_order_id: Some(format!("PO{id:08}")),
            charges: Charges {
                brokerage: dec!(3),
                stt: dec!(0),
                exchange: dec!(0.297),
                sebi: dec!(0.01),
                gst: dec!(0.6),
                stamp_duty: dec!(0.3),
            },
            turnover: dec!(10000.5),
            total_charges: dec!(4.207),
            net_value: dec!(-10004.707),
            realized_pnl: dec!(0),
            traded_at: now,
            created_at: now,
        });
    }
    app.apply(update);
    app
}

/// Draw time per tab with `app` loaded: (tab, p50 ms, p99 ms).
pub fn render_times(app: &mut xcoin::console::app::App, frames: usize) -> Vec<(String, f64, f64)> {
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 50)).expect("a test terminal");
    // The tables follow the store once per frame when rows changed: one
    // changed order moves one row; a reload (or a new filter) rebuilds them.
    // Each is measured as a row of its own.
    let ids: Vec<i64> = app.store.orders.keys().copied().collect();
    let mut moves = Vec::with_capacity(frames);
    let mut rebuilds = Vec::with_capacity(frames);
    for i in 0..frames {
        let mut order = app.store.orders[&ids[(i * 7919) % ids.len()]].clone();
        order.status = if order.status.is_active() {
            xcoin::domain::order::OrderStatus::Filled
        } else {
            xcoin::domain::order::OrderStatus::Open
        };
        app.apply(xcoin::console::store::Update { orders: vec![order], ..Default::default() });
        let t = Instant::now();
        app.refresh_views();
        moves.push(t.elapsed());
        app.store.pending.snapshot = true;
        let t = Instant::now();
        app.refresh_views();
        rebuilds.push(t.elapsed());
    }
    moves.sort();
    rebuilds.sort();
    let mut out = vec![
        ("update tables (1 order)".to_string(), percentile(&moves, 0.5), percentile(&moves, 0.99)),
        ("rebuild tables".to_string(), percentile(&rebuilds, 0.5), percentile(&rebuilds, 0.99)),
    ];
    for tab in xcoin::console::tab::Tab::ALL {
        let title = tab.title();
        app.tab = tab;
        app.select_index(tab, app.rows_in_tab() / 2);
        let mut times = Vec::with_capacity(frames);
        for _ in 0..frames {
            let t = Instant::now();
            terminal.draw(|f| f.render_widget(&*app, f.area())).expect("draws");
            times.push(t.elapsed());
        }
        times.sort();
        out.push((format!("draw {title}"), percentile(&times, 0.5), percentile(&times, 0.99)));
    }
    out
}

/// Orders per second created by `writers` concurrent tasks: through the
/// database layer (`Db::create_order`: the request checked, its risk priced,
/// one INSERT returning the row decoded into an [`Order`]) and by the same
/// INSERT with the same values written as plain SQL over the same pool, its
/// row left undecoded. Rounds alternate and each side keeps its best, so a
/// drift of the machine does not favour one side.
pub async fn create_order_rates(db: &Db, writers: usize, total: usize) -> Result<(f64, f64), EngineError> {
    let req = OrderRequest {
        order_type: OrderType::Limit,
        price: Some(dec!(1000)),
        ..bench_request("INFY", Side::Buy, dec!(1000))
    };
    let per_writer = total / writers;
    let mut best = [0.0f64; 2];
    for round in 0..4 {
        let plain = round % 2 == 1;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..writers {
            let (db, req) = (db.clone(), req.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..per_writer {
                    if plain {
                        db.bench_plain_insert(&req).await?;
                    } else {
                        db.create_order(&req, xcoin::domain::order::BrokerKind::Paper, dec!(0.05), None).await?;
                    }
                }
                Ok::<_, xcoin::db::DbError>(())
            }));
        }
        for t in tasks {
            t.await.expect("writer task")?;
        }
        let rate = (per_writer * writers) as f64 / started.elapsed().as_secs_f64();
        best[usize::from(plain)] = best[usize::from(plain)].max(rate);
    }
    Ok((best[0], best[1]))
}

/// Fills the day to `total` orders with `working` of them still working,
/// then times the two queries the desk runs most (decoded into our types).
pub async fn query_times(db: &Db, total: i64, working: i64, runs: usize) -> Result<(f64, f64, f64), EngineError> {
    // Exactly `total` orders: what the earlier measurements wrote is cleared
    // (this is the bench's scratch database).
    db.bench_fill_day(total, working).await?;
    for _ in 0..20 {
        let warm = db.active_orders().await?;
        if warm.len() as i64 != working {
            return Err(EngineError::Refused(format!("{} working orders instead of {working}", warm.len())));
        }
    }
    let mut active = Vec::with_capacity(runs);
    let mut raw = Vec::with_capacity(runs);
    let mut today = Vec::with_capacity(runs.min(10));
    for r in 0..runs {
        let t = Instant::now();
        db.active_orders().await?;
        active.push(t.elapsed());
        let t = Instant::now();
        db.bench_raw_active_orders().await?;
        raw.push(t.elapsed());
        if r < 10 {
            let t = Instant::now();
            db.today_orders().await?;
            today.push(t.elapsed());
        }
    }
    active.sort();
    raw.sort();
    today.sort();
    Ok((percentile(&active, 0.5), percentile(&today, 0.5), percentile(&raw, 0.5)))
}

/// A console starting on the day `query_times` left: its loader started →
/// the first frame drawn (working orders, positions, the newest page of
/// the day), and → the rest of the day's orders streamed in.
async fn first_frame(db: &Db) -> Result<(f64, f64), EngineError> {
    use xcoin::console::store::LoaderMsg;
    let s = Settings::default();
    let limits = EngineConfig::from_settings(&s).limits;
    let mut app = xcoin::console::app::App::new(s.app.mode, s.calendar(), limits, "bench".into(), true);
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 45)).expect("a test terminal");
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let loader = tokio::spawn(xcoin::console::store::run_loader(db.clone(), tx, tokio::sync::mpsc::channel(1).1));
    let mut first = None;
    let deadline = started + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await else { break };
        if let LoaderMsg::Update(u) = msg {
            app.apply(*u);
            app.refresh_views();
            if first.is_none() {
                terminal.draw(|f| f.render_widget(&app, f.area())).expect("draws");
                first = Some(started.elapsed());
            }
            if !app.store.history_loading {
                break;
            }
        }
    }
    let all = started.elapsed();
    loader.abort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    match first {
        Some(f) if !app.store.history_loading => Ok((ms(f), ms(all))),
        _ => Err(EngineError::Refused("the console did not load the day within 30 s".into())),
    }
}

/// Runs every measurement and prints a table (or JSON): the whole protocol
/// in order, in one place.
pub async fn run<W: Write>(
    config: &Config,
    json: bool,
    engine_orders: usize,
    feed_seconds: f64,
    out: &mut W,
) -> Result<BenchReport, EngineError> {
    let s = &config.settings;
    let target = Target::from_config(config).map_err(|e| EngineError::Refused(e.to_string()))?;
    let cfg = EngineConfig::from_settings(s);

    let validations = 1_000_000;
    let validation = validation_ns(&cfg, validations);

    let scratch = format!("xcoin_bench_{}", std::process::id());
    let options = target.connect_options().database(&scratch);
    create_database_if_missing(&options).await?;
    let db = Db::connect(options.clone(), PoolConfig::from(&s.database)).await?;
    db.migrate().await?;
    let measured = engine_run(db.clone(), cfg, engine_orders).await;
    let commit_times = db.bench_commit_times(500).await;
    let feeds = async {
        // A desk's tables are not new each morning: 5 s of the same writers,
        // unmeasured, first, so the server's first statistics runs on a
        // table growing from empty fall outside the measured run.
        feed_run(&db, Some(1000), 5.0, false).await?;
        let paced = feed_run(&db, Some(1000), feed_seconds, true).await?;
        let quiet = feed_run(&db, None, feed_seconds.min(5.0), false).await?;
        let unpaced = feed_run(&db, None, feed_seconds.min(5.0), true).await?;
        Ok::<_, EngineError>((paced, quiet, unpaced))
    }
    .await;
    let writes = async {
        let mut rows = Vec::new();
        for writers in [1, 4, 8] {
            let (layer, plain) = create_order_rates(&db, writers, 2_000).await?;
            rows.push((writers, layer, plain));
        }
        let (active, today, raw) = query_times(&db, 100_000, 1_000, 200).await?;
        let first = first_frame(&db).await?;
        Ok::<_, EngineError>((rows, active, today, raw, first))
    }
    .await;
    db.close().await;
    xcoin::db::bench::drop_database(&options).await?;
    let replay = replay_run(&target, s).await;
    let (latencies, elapsed, commits) = measured?;
    let replay = replay?;
    let (feed, quiet, feed_unpaced) = feeds?;
    let (create_order, active_orders_p50_ms, today_orders_p50_ms, raw_active_ms, (first_frame_ms, all_orders_ms)) =
        writes?;
    let mut commit_times = commit_times?;
    commit_times.sort();
    let place_p50_ms = percentile(&latencies, 0.50);
    let commit_p50_ms = percentile(&commit_times, 0.50);
    let notify_p99_ms = feed.stages.first().map_or(0.0, |s| s.p99_ms);
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let limits = Limits {
        commit_p50_ms,
        commit_p99_ms: percentile(&commit_times, 0.99),
        notify_p99_ms,
        raw_active_ms,
        commits_per_order: ratio(commits.on_path as f64, commits.orders as f64),
        commits_per_order_all: ratio(commits.per_order_all as f64, commits.orders as f64),
        commits_per_fill: ratio(commits.fill_commits as f64, commits.fills as f64),
        place_ratio: ratio(place_p50_ms, commit_p50_ms),
        feed_ratio: ratio(feed.p99_ms, notify_p99_ms),
        active_ratio: ratio(active_orders_p50_ms, raw_active_ms),
    };

    let (loaded_orders, loaded_trades) = (100_000, 10_000);
    let mut app = large_app(loaded_orders, loaded_trades);
    let render_ms = render_times(&mut app, 60);
    drop(app);
    let resident_mb = probe(loaded_orders)?;
    let resident_empty_mb = probe(0)?;

    let report = BenchReport {
        database: target.describe(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        validation_ns_per_order: validation,
        validations,
        place_p50_ms,
        place_p99_ms: percentile(&latencies, 0.99),
        engine_orders,
        engine_orders_per_second: engine_orders as f64 / elapsed.as_secs_f64(),
        limits,
        feed,
        feed_unpaced,
        database_writes_per_second: quiet.committed_per_second,
        render_ms,
        resident_mb,
        resident_empty_mb,
        mb_per_100k_orders: (resident_mb - resident_empty_mb) * 100_000.0 / loaded_orders as f64,
        loaded_orders,
        loaded_trades,
        create_order,
        active_orders_p50_ms,
        today_orders_p50_ms,
        first_frame_ms,
        all_orders_ms,
        replay,
    };
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report).expect("the report serialises")).ok();
    } else {
        writeln!(out, "XCoin bench — {} ({} CPUs)", report.database, report.cpus).ok();
        writeln!(
            out,
            "  pre-trade validation             {:>10.0} ns per order ({} orders)",
            report.validation_ns_per_order, report.validations
        )
        .ok();
        writeln!(
            out,
            "  engine place → SUBMITTED         p50 {:.2} ms, p99 {:.2} ms (validate, persist, send, acknowledge)",
            report.place_p50_ms, report.place_p99_ms
        )
        .ok();
        let l = &report.limits;
        writeln!(
            out,
            "  limits, this server now          commit p50 {:.2} ms, p99 {:.2} ms; notify p99 {:.2} ms; active orders undecoded {:.2} ms",
            l.commit_p50_ms, l.commit_p99_ms, l.notify_p99_ms, l.raw_active_ms
        )
        .ok();
        writeln!(
            out,
            "  commits                          {:.2} per order on its path ({:.2} with the desk log), {:.2} per fill",
            l.commits_per_order, l.commits_per_order_all, l.commits_per_fill
        )
        .ok();
        writeln!(
            out,
            "  ratios                           place p50 {:.1} × commit; feed p99 {:.1} × notify; active orders {:.2} × undecoded",
            l.place_ratio, l.feed_ratio, l.active_ratio
        )
        .ok();
        writeln!(
            out,
            "  engine end to end, paper         {:>10.0} orders/s ({} orders placed, filled, positions updated)",
            report.engine_orders_per_second, report.engine_orders
        )
        .ok();
        let f = &report.feed;
        writeln!(
            out,
            "  change feed, {}/s for {:.0} s      commit → console model p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} of {} changes, backlog {})",
            f.target_per_second.unwrap_or_default(),
            f.seconds,
            f.p50_ms,
            f.p95_ms,
            f.p99_ms,
            f.max_ms,
            f.received,
            f.committed,
            f.backlog
        )
        .ok();
        for g in f.stages.iter().chain(&f.windows) {
            writeln!(
                out,
                "    {:<28}   p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} changes)",
                g.name, g.p50_ms, g.p99_ms, g.max_ms, g.changes
            )
            .ok();
        }
        let u = &report.feed_unpaced;
        writeln!(
            out,
            "  change feed, unpaced             database alone {:.0} commits/s; with the console {:.0}/s, p99 {:.2} ms, backlog after 1 s {}",
            report.database_writes_per_second, u.committed_per_second, u.p99_ms, u.backlog
        )
        .ok();
        for (writers, layer, plain) in &report.create_order {
            writeln!(
                out,
                "  create order, {writers} writer{}         {layer:>6.0}/s through the database layer, {plain:>6.0}/s plain INSERT ({:.0} %)",
                if *writers == 1 { " " } else { "s" },
                layer / plain * 100.0
            )
            .ok();
        }
        writeln!(
            out,
            "  queries, 100,000 orders today    active orders (1,000) p50 {:.2} ms; today's orders p50 {:.0} ms",
            report.active_orders_p50_ms, report.today_orders_p50_ms
        )
        .ok();
        writeln!(
            out,
            "  console start, 100,000 orders    first frame {:.0} ms; every order of the day in {:.0} ms",
            report.first_frame_ms, report.all_orders_ms
        )
        .ok();
        let r = &report.replay;
        writeln!(
            out,
            "  replay at full speed             {:>10.0} ticks/s ({} ticks of {} instruments over {} recorded s, {} cycles, {} fills, {:.2} s)",
            r.ticks_per_second, r.ticks, r.instruments, r.recorded_seconds, r.cycles, r.fills, r.seconds
        )
        .ok();
        for (tab, p50, p99) in &report.render_ms {
            writeln!(
                out,
                "  {tab:<20}             p50 {p50:.2} ms, p99 {p99:.2} ms ({} orders, {} trades loaded)",
                report.loaded_orders, report.loaded_trades
            )
            .ok();
        }
        writeln!(
            out,
            "  resident memory, console         {:.0} MB with {} orders and {} trades loaded ({:.0} MB empty: {:.0} MB per 100,000 orders)",
            report.resident_mb, report.loaded_orders, report.loaded_trades, report.resident_empty_mb, report.mb_per_100k_orders
        )
        .ok();
    }
    Ok(report)
}
