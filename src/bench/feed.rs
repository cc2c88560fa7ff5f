//! The change feed from a commit to a console's view model.

use std::time::{Duration, Instant};

use rust_decimal_macros::dec;

use xcoin::config::Settings;
use xcoin::db::Db;
use xcoin::domain::order::{OrderRequest, OrderType, Side};
use xcoin::engine::{EngineConfig, EngineError};

use super::*;

pub(super) const FEED_WRITERS: usize = 4;

/// Writers commit orders (as the engine would, through the database layer)
/// for `seconds`, paced to `rate` per second in all or as fast as they can;
/// with `listen`, a console loader turns each notification into rows in a
/// console view model, and every order's commit-to-model time is measured.
/// Long by design: one measurement protocol, read top to bottom.
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
