//! A recorded day replayed: the demo on the shipped session, twice, in
//! scratch databases of its own — the same orders and fills to the paisa,
//! and the day ends flat.

use crate::support::*;
use std::str::FromStr;
use xcoin::config::Settings;
use xcoin::db::{Db, PoolConfig};
use xcoin::replay::{Options, Speed, read_ticks, run, scratch_name};

type Fill = (String, String, i64, rust_decimal::Decimal, rust_decimal::Decimal, rust_decimal::Decimal);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_recording_and_seed_give_the_same_trades_to_the_paisa() {
    let t = test_db().await;
    let recording = include_str!("../../assets/session-2026-11-27.csv");
    let ticks = read_ticks(recording, &xcoin::domain::instrument::built_in()).unwrap();
    assert_eq!(ticks.len(), 4800);
    let opts = Options {
        from: Some(chrono::NaiveTime::from_hms_opt(9, 15, 0).unwrap()),
        to: Some(chrono::NaiveTime::from_hms_opt(9, 20, 0).unwrap()),
        speed: Speed::Max,
        seed: 7,
        parameters: serde_json::json!({"lookback": 4}),
    };
    let settings = Settings::default();
    let calendar = settings.calendar();
    let mut runs: Vec<(Vec<Fill>, rust_decimal::Decimal)> = Vec::new();
    for _ in 0..2 {
        let options = sqlx::postgres::PgConnectOptions::from_str(&t.url()).unwrap().database(&scratch_name());
        let strategy = xcoin::engine::registry::built_in("demo").unwrap();
        let outcome = run(options.clone(), &settings, &ticks, strategy, &opts).await.unwrap();
        assert_eq!(outcome.ticks, 1200, "five minutes of four instruments, one tick a second each");
        assert_eq!(outcome.cycles, 600);
        let db = Db::connect(options.clone(), PoolConfig { min: 1, max: 1, ..Default::default() }).await.unwrap();
        let today = calendar.today();
        let fills: Vec<Fill> = db
            .trades_between(today, today)
            .await
            .unwrap()
            .into_iter()
            .map(|f| (f.symbol, f.side.to_string(), f.quantity, f.price, f.realized_pnl, f.total_charges))
            .collect();
        let open = db.open_positions().await.unwrap();
        assert!(open.is_empty(), "the day ends flat: {open:?} {:?}", db.today_orders().await.unwrap().last());
        assert!(db.active_orders().await.unwrap().is_empty());
        let strategy = db.get_strategy(outcome.strategy_id).await.unwrap();
        assert_eq!(strategy.name, "Demo Scalper");
        let report = xcoin::report::day_report(&db, &calendar, today).await.unwrap();
        db.close().await;
        xcoin::db::bench::drop_database(&options).await.unwrap();
        runs.push((fills, report.net));
    }
    let (first, second) = (&runs[0], &runs[1]);
    assert!(first.0.len() >= 10, "the demo trades the session: {} fills", first.0.len());
    assert_eq!(first.0.len() % 2, 0, "every entry has its exit");
    assert_eq!(first, second);
    let realised: rust_decimal::Decimal = first.0.iter().map(|f| f.4).sum();
    let charges: rust_decimal::Decimal = first.0.iter().map(|f| f.5).sum();
    assert_eq!(first.1, xcoin::domain::to_paisa(realised - charges), "the report's net is the fills' own");
}
