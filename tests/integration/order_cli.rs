//! `xcoin order …` from a shell: the console's commands through the same
//! queue, validation and audit, with the engine's result and exit code.

use crate::procs::{stdout, xcoin};
use crate::support::*;
use rust_decimal::Decimal;
use tokio::sync::watch;
use xcoin::config::{Config, ConfigPaths, Settings};
use xcoin::domain::order::{Exchange, OrderStatus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_verb_goes_through_the_engine_with_its_result_and_exit_code() {
    let t = test_db().await;
    let mut s = Settings::default();
    s.database.url = Some(t.url());
    s.paper.tick_interval_ms = 50;
    let config = Config::with_settings(s, ConfigPaths::for_checkout(None, None, std::path::Path::new(".")));
    let started = xcoin::engine::runner::start(&config, false).await.unwrap();
    let last = started.engine.last_price("INFY", Exchange::Nse).unwrap();
    let (stop, stopped) = watch::channel(false);
    let engine = tokio::spawn(started.run(stopped));

    let dir = tempfile::tempdir().unwrap();
    let url = t.url();
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("XCOIN_APP__DATA_DIR", dir.path().to_str().unwrap()),
        ("XCOIN_APP__OPERATOR", "ravi"),
    ];
    let run = |args: &[&str]| {
        let out = xcoin(dir.path(), args, &env);
        (out.status.code(), stdout(&out), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let on_tick = |v: Decimal| (v / Decimal::new(5, 2)).floor() * Decimal::new(5, 2);
    let (price, stop_at, target) =
        (on_tick(last - Decimal::from(5)), on_tick(last * Decimal::new(97, 2)), on_tick(last * Decimal::new(106, 2)));

    // Place: done, the broker's id in the answer, ravi the requester.
    let (code, out, err) = run(&[
        "order",
        "place",
        "INFY",
        "--side",
        "buy",
        "--qty",
        "5",
        "--price",
        &price.to_string(),
        "--stop",
        &stop_at.to_string(),
        "--target",
        &target.to_string(),
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.starts_with("order 1 SUBMITTED BUY 5 INFY LIMIT (broker PO"), "{out}");
    let c = t.get_command(1).await.unwrap();
    assert_eq!(c.requested_by, "ravi");
    // Refused by the engine's validator: exit 1 with the rule.
    let (code, out, _) =
        run(&["order", "place", "INFY", "--side", "BUY", "--qty", "5", "--price", &price.to_string(), "--json"]);
    assert_eq!(code, Some(1), "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["status"], "FAILED");
    assert!(v["result"].as_str().unwrap().ends_with("REJECTED: stop loss: required on every position"), "{v}");
    // A field that can never be right is named before anything is sent.
    let (code, _, err) =
        run(&["order", "place", "INFY", "--side", "BUY", "--qty", "5", "--price", "1480.03", "--stop", "1470"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("price: 1480.03 is not on the 0.05 tick"), "{err}");
    assert!(t.get_command(3).await.is_err(), "nothing was enqueued");

    // Modify, list, cancel.
    let new_price = price - Decimal::from(1);
    let (code, out, _) = run(&["order", "modify", "1", "--price", &new_price.to_string()]);
    assert_eq!((code, out.trim()), (Some(0), format!("order 1 modified: 5 @ {new_price}").as_str()));
    let (code, out, _) = run(&["order", "list", "--json"]);
    assert_eq!(code, Some(0));
    let rows: Vec<serde_json::Value> = serde_json::from_str(out.trim()).unwrap();
    assert_eq!((rows[0]["id"].as_i64(), rows[0]["placed_by"].as_str()), (Some(1), Some("ravi")));
    let (code, out, _) = run(&["order", "cancel", "1"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(t.get_order(1).await.unwrap().status, OrderStatus::Cancelled);

    // A position to exit: a market buy fills on the next tick.
    let (code, out, _) = run(&[
        "order",
        "place",
        "INFY",
        "--side",
        "BUY",
        "--qty",
        "3",
        "--type",
        "market",
        "--stop",
        &stop_at.to_string(),
    ]);
    assert_eq!(code, Some(0), "{out}");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let position = loop {
        if let Some(p) = t.open_positions().await.unwrap().into_iter().next() {
            break p;
        }
        assert!(tokio::time::Instant::now() < deadline, "the market order fills");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let (code, out, _) = run(&["order", "exit", &position.id.to_string()]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with(&format!("exit of position {}: order ", position.id)), "{out}");
    stop.send_replace(true);
    engine.await.unwrap().unwrap();
}
