//! Faults while the desk runs: the console's listener killed again and again
//! under a steady writer.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::support::*;
use rust_decimal_macros::dec;
use tokio::sync::mpsc;
use xcoin::config::Settings;
use xcoin::console::app::App;
use xcoin::console::store::{self, Health, LoaderMsg};
use xcoin::domain::order::BrokerKind;
use xcoin::engine::EngineConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_model_equals_the_database_after_repeated_listener_kills() {
    let t = test_db().await;
    let s = Settings::default();
    let mut app = App::new(s.app.mode, s.calendar(), EngineConfig::from_settings(&s).limits, "chaos".into(), true);
    let (tx, mut rx) = mpsc::channel(256);
    let loader = tokio::spawn(store::run_loader(t.db.clone(), tx));

    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let (db, writing) = (t.another_pool().await, writing.clone());
        tokio::spawn(async move {
            let mut n = 0u32;
            while writing.load(Ordering::SeqCst) {
                db.create_order(&limit_buy("INFY", 1 + i64::from(n % 50), dec!(1500)), BrokerKind::Paper, TICK, None)
                    .await
                    .unwrap();
                n += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            n
        })
    };

    let killer = t.another_pool().await;
    let mut resyncs = 0;
    for round in 0..5 {
        // Let changes flow, then cut the listener.
        let until = tokio::time::Instant::now() + Duration::from_millis(300);
        while let Ok(Some(msg)) = tokio::time::timeout_at(until, rx.recv()).await {
            if let LoaderMsg::Update(u) = msg {
                app.apply(*u);
            }
        }
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .fetch_all(killer.pool())
        .await
        .unwrap();
        assert!(!killed.is_empty(), "round {round}: a listener to kill");
        // The next resync reloads everything.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await.expect("a resync within 15 s").unwrap() {
                LoaderMsg::Update(u) => app.apply(*u),
                LoaderMsg::Health(Health::Resynced { .. }) => break,
                LoaderMsg::Health(h) => app.health(h),
            }
        }
        resyncs += 1;
    }
    writing.store(false, Ordering::SeqCst);
    let written = writer.await.unwrap();
    assert!(written > 100, "the writer kept writing through the faults ({written} orders)");

    // Once the writer stops, the model converges on exactly the database.
    let in_db: BTreeSet<i64> =
        sqlx::query_scalar("SELECT id FROM orders").fetch_all(t.pool()).await.unwrap().into_iter().collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while app.store.orders.keys().copied().collect::<BTreeSet<_>>() != in_db {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(LoaderMsg::Update(u))) => app.apply(*u),
            Ok(Some(_)) => {}
            _ => panic!("the model has {} orders, the database {}", app.store.orders.len(), in_db.len()),
        }
    }
    assert_eq!(resyncs, 5);
    let quantities: i64 = app.store.orders.values().map(|o| o.quantity).sum();
    let db_quantities: i64 =
        sqlx::query_scalar("SELECT sum(quantity)::bigint FROM orders").fetch_one(t.pool()).await.unwrap();
    assert_eq!(quantities, db_quantities, "row contents match too, not just ids");
    loader.abort();
}
