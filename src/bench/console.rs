//! The console's figures: memory with a large day loaded, draw time per
//! tab, and the first frame of a console starting on a large day.

use std::time::{Duration, Instant};

use rust_decimal_macros::dec;

use xcoin::config::Settings;
use xcoin::db::Db;
use xcoin::domain::instrument;
use xcoin::domain::order::{Exchange, OrderType, Product, Side, Validity};
use xcoin::engine::{EngineConfig, EngineError};

use super::*;

/// A console's memory with `orders` orders (and a tenth as many trades)
/// loaded and one frame drawn: run in a process of its own (`xcoin bench
/// --memory-probe N`), so what the bench itself holds is not counted.
pub(super) fn probe(orders: usize) -> Result<f64, EngineError> {
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
/// fixture, built in one place). Long by design: the fixture's rows are
/// written out where they are made.
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

/// A console starting on the day `query_times` left: its loader started →
/// the first frame drawn (working orders, positions, the newest page of
/// the day), and → the rest of the day's orders streamed in.
pub(super) async fn first_frame(db: &Db) -> Result<(f64, f64), EngineError> {
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
