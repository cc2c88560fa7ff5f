//! The engine's figures: validation, placement and fills on the paper
//! exchange, the commits they cost, and the demo replayed.

use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use xcoin::broker::paper::{PaperBroker, PaperConfig};
use xcoin::db::Target;
use xcoin::db::{Db, PoolConfig};
use xcoin::domain::calendar::MarketState;
use xcoin::domain::instrument;
use xcoin::domain::order::{Exchange, OrderRequest, OrderType, Product, Side, Validity};
use xcoin::domain::risk::{RiskSnapshot, validate};
use xcoin::engine::{Engine, EngineConfig, EngineError};

use super::*;

pub(super) fn bench_request(symbol: &str, side: Side, last: Decimal) -> OrderRequest {
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
pub(super) async fn engine_run(db: Db, cfg: EngineConfig, orders: usize) -> Result<EngineRun, EngineError> {
    let (mut engine, broker) = bench_engine(db.clone(), cfg).await?;
    let mut latencies = Vec::with_capacity(orders);
    let mut stages: [Vec<Duration>; 4] = Default::default();
    let mut risk_reads = 0;
    let started = Instant::now();
    for i in 0..orders {
        let req = bench_order(&engine, i);
        let (t, reads) = (Instant::now(), engine.risk_reads());
        engine.place_order(&req).await?;
        latencies.push(t.elapsed());
        risk_reads += engine.risk_reads() - reads;
        let s = engine.place_stages();
        for (all, one) in stages.iter_mut().zip([s.check, s.pending, s.send, s.acknowledge]) {
            all.push(one);
        }
        if (i + 1) % 50 == 0 {
            broker.step();
            engine.drain_events().await?;
        }
    }
    broker.step();
    engine.drain_events().await?;
    let elapsed = started.elapsed();
    latencies.sort();
    let commits = Commits { risk_reads, ..engine_commits(&db, &mut engine, &broker, orders, 60).await? };
    for s in &mut stages {
        s.sort();
    }
    Ok(EngineRun { latencies, stages, elapsed, commits })
}

/// What [`engine_run`] measured: each placement's time, sorted, and each of
/// its stages' (check, PENDING, send, SUBMITTED), each sorted.
pub(super) struct EngineRun {
    pub(super) latencies: Vec<Duration>,
    pub(super) stages: [Vec<Duration>; 4],
    pub(super) elapsed: Duration,
    pub(super) commits: Commits,
}

/// The instruments the engine runs rotate over.
pub(super) const BENCH_SYMBOLS: [&str; 6] = ["INFY", "SBIN", "TCS", "ITC", "RELIANCE", "HDFCBANK"];

/// The engine on a paper exchange that fills everything at once, every
/// instrument priced; its own capacity measured, not the configured
/// order-rate rule.
pub(super) async fn bench_engine(db: Db, cfg: EngineConfig) -> Result<(Engine<PaperBroker>, PaperBroker), EngineError> {
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
pub(super) fn bench_order(engine: &Engine<PaperBroker>, i: usize) -> OrderRequest {
    let symbol = BENCH_SYMBOLS[i % BENCH_SYMBOLS.len()];
    let side = if (i / BENCH_SYMBOLS.len()) % 2 == 0 { Side::Buy } else { Side::Sell };
    bench_request(symbol, side, engine.last_price(symbol, Exchange::Nse).expect("priced"))
}

/// What the server commits per order and per fill: its transaction ids
/// taken over each placement (on the order's path, then with the desk
/// log's writer caught up) and over each batch of fills. A pass of its own
/// after the timed one (`from` orders placed), as reading the counter
/// between orders would slow the timed run.
pub(super) async fn engine_commits(
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
pub(super) struct Commits {
    pub(super) orders: usize,
    pub(super) on_path: i64,
    pub(super) per_order_all: i64,
    pub(super) fills: i64,
    pub(super) fill_commits: i64,
    /// Risk reads on the timed run's orders' own paths (the rest were
    /// checked against kept inputs; the resting stops the fills place read
    /// on theirs, outside the timed placements).
    pub(super) risk_reads: u64,
}

/// The demo replayed on a synthetic recording (a seeded random walk of every
/// built-in instrument, ten ticks a second for five recorded minutes), in a
/// scratch database dropped after.
pub(super) async fn replay_run(
    target: &Target,
    settings: &xcoin::config::Settings,
) -> Result<ReplayBench, EngineError> {
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
