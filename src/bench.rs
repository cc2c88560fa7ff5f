//! `xcoin bench`: measures this build against the configured database
//! server. It writes only to a scratch database of its own
//! (`xcoin_bench_<pid>`, dropped afterwards), never to the desk's.
//!
//! Measured now: pre-trade validation time per order, and the engine end to
//! end on the paper exchange — place (validate, persist PENDING, send,
//! SUBMITTED) and the fills applied to orders and positions.

use std::io::Write;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::Serialize;
use sqlx::{ConnectOptions, Connection};

use crate::broker::paper::{PaperBroker, PaperConfig};
use crate::config::Config;
use crate::db::schema::create_database_if_missing;
use crate::db::{Db, PoolConfig};
use crate::domain::calendar::MarketState;
use crate::domain::instrument;
use crate::domain::order::{Exchange, OrderRequest, OrderType, Product, Side, Validity};
use crate::domain::risk::{RiskSnapshot, validate};
use crate::engine::{Engine, EngineConfig, EngineError};
use crate::setup::Target;

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
async fn engine_run(db: Db, cfg: EngineConfig, orders: usize) -> Result<(Vec<Duration>, Duration), EngineError> {
    let broker = PaperBroker::new(
        &instrument::built_in(),
        PaperConfig { liquidity_per_tick: 1_000_000, slippage_ticks: 0, ..Default::default() },
    )?;
    let mut cfg = cfg;
    // The engine's own capacity is measured, not the configured order-rate rule.
    cfg.limits.max_orders_per_second = u32::MAX;
    cfg.limits.max_open_positions = 100;
    let mut engine = Engine::start(db, broker.clone(), cfg).await?;
    let symbols = ["INFY", "SBIN", "TCS", "ITC", "RELIANCE", "HDFCBANK"];
    for s in symbols {
        let p = broker.last_price(s, Exchange::Nse).expect("built-in instrument");
        broker.set_price(s, Exchange::Nse, p)?;
    }
    engine.drain_events().await?;

    let mut latencies = Vec::with_capacity(orders);
    let started = Instant::now();
    for i in 0..orders {
        let symbol = symbols[i % symbols.len()];
        let side = if (i / symbols.len()) % 2 == 0 { Side::Buy } else { Side::Sell };
        let last = engine.last_price(symbol, Exchange::Nse).expect("priced");
        let req = bench_request(symbol, side, last);
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
    Ok((latencies, elapsed))
}

/// Runs every measurement and prints a table (or JSON).
pub async fn run<W: Write>(
    config: &Config,
    json: bool,
    engine_orders: usize,
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
    db.close().await;
    let mut admin = options.clone().database("postgres").connect().await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{scratch}\" WITH (FORCE)")).execute(&mut admin).await?;
    let _ = admin.close().await;
    let (latencies, elapsed) = measured?;

    let report = BenchReport {
        database: target.describe(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        validation_ns_per_order: validation,
        validations,
        place_p50_ms: percentile(&latencies, 0.50),
        place_p99_ms: percentile(&latencies, 0.99),
        engine_orders,
        engine_orders_per_second: engine_orders as f64 / elapsed.as_secs_f64(),
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
        writeln!(
            out,
            "  engine end to end, paper         {:>10.0} orders/s ({} orders placed, filled, positions updated)",
            report.engine_orders_per_second, report.engine_orders
        )
        .ok();
    }
    Ok(report)
}
