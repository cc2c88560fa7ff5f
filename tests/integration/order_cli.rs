//! `xcoin order …` from a shell: the console's commands through the same
//! queue, validation and audit, with the engine's result and exit code.

use crate::procs::{stdout, xcoin};
use crate::support::*;
use rust_decimal::Decimal;
use tokio::sync::watch;
use xcoin::config::{Config, ConfigPaths, Settings};
use xcoin::db::DbError;
use xcoin::domain::order::{Exchange, OrderStatus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_verb_goes_through_the_engine_with_its_result_and_exit_code() {
    let t = test_db().await;
    let mut s = Settings::default();
    s.database.url = Some(t.url());
    s.paper.tick_interval_ms = 50;
    let config = Config::with_settings(s, ConfigPaths::for_checkout(None, None, std::path::Path::new(".")));
    let started = xcoin::engine::runner::start(&config, false, None).await.unwrap();
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
    // Nothing was enqueued: the two commands above are the only ones.
    let none = t.get_command(3).await.unwrap_err();
    assert!(matches!(none, DbError::NotFound { entity: "operator command", .. }), "{none:?}");
    assert_eq!(none.to_string(), "operator command 3 does not exist");

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

#[tokio::test]
async fn strategies_are_registered_listed_and_given_a_token_from_the_shell() {
    let t = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let url = t.url();
    let env = [("DATABASE_URL", url.as_str()), ("XCOIN_APP__DATA_DIR", dir.path().to_str().unwrap())];
    let run = |args: &[&str]| {
        let out = xcoin(dir.path(), args, &env);
        (out.status.code(), stdout(&out), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (code, out, err) = run(&[
        "strategy",
        "set",
        "Breakout 15m",
        "--type",
        "breakout",
        "--instruments",
        "infy, BSE:TCS",
        "--params",
        r#"{"bars": 3}"#,
        "--capital",
        "250000",
        "--max-positions",
        "2",
        "--max-loss",
        "5000",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.starts_with(
            "strategy 2 \"Breakout 15m\" registered: PAPER breakout, INFY,BSE:TCS, capital ₹2,50,000.00, \
             max positions 2, max daily loss ₹5,000.00, parameters {\"bars\":3}"
        ),
        "{out}"
    );
    // A change keeps what it does not name; 0 removes a limit.
    let (code, out, _) = run(&["strategy", "set", "Breakout 15m", "--max-positions", "0"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("max positions —, max daily loss ₹5,000.00"), "{out}");
    // A wrong field is named, nothing written.
    let (code, _, err) = run(&["strategy", "set", "Breakout 15m", "--mode", "real"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("mode: `REAL` is not allowed; expected one of PAPER, LIVE"), "{err}");
    let (code, _, err) = run(&["strategy", "set", "Breakout 15m", "--params", "{bars: 3}"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("parameters: not JSON"), "{err}");
    let s = t.strategy_named("Breakout 15m").await.unwrap().unwrap();
    assert_eq!((s.max_positions, s.max_daily_loss, s.instruments.len()), (None, Some(Decimal::from(5000)), 2));

    let (code, out, _) = run(&["strategy", "list", "--json"]);
    assert_eq!(code, Some(0));
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows[1]["name"], "Breakout 15m");
    assert_eq!(rows[1]["instruments"], serde_json::json!(["INFY", "BSE:TCS"]));
    assert_eq!(rows[1]["active"], true);

    // The token is shown once; only the current one is accepted.
    let (_, first, _) = run(&["strategy", "token", "Breakout 15m"]);
    let first = first.trim().rsplit(' ').next().unwrap().to_string();
    assert_eq!(first.len(), 64);
    assert_eq!(t.strategy_by_token("Breakout 15m", &first).await.unwrap().unwrap().id, 2);
    let (_, second, _) = run(&["strategy", "token", "Breakout 15m"]);
    let second = second.trim().rsplit(' ').next().unwrap().to_string();
    assert!(t.strategy_by_token("Breakout 15m", &first).await.unwrap().is_none());
    assert!(t.strategy_by_token("Breakout 15m", &second).await.unwrap().is_some());
    let (code, _, err) = run(&["strategy", "token", "Nobody"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("strategy Nobody does not exist"), "{err}");
}

/// With no engine running, `xcoin order place --wait 1` exits 3 saying the
/// order will not be sent after its deadline; an engine that starts later
/// ends it EXPIRED and sends nothing. A cancel sent the same way stays
/// queued (it never expires) and runs when the engine starts.
#[tokio::test]
async fn a_placement_whose_sender_gave_up_is_never_sent() {
    use xcoin::domain::command::CommandStatus;
    let t = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let url = t.url();
    let env = [("DATABASE_URL", url.as_str()), ("XCOIN_APP__OPERATOR", "ravi")];
    let out = xcoin(
        dir.path(),
        &["order", "place", "INFY", "--side", "buy", "--qty", "5", "--type", "MARKET", "--stop", "1400", "--wait", "1"],
        &env,
    );
    let text = stdout(&out);
    let placed = t.get_command(1).await.unwrap();
    let deadline = placed.expires_at.expect("a placement has a deadline");
    assert_eq!((deadline - placed.requested_at).num_milliseconds(), 1000, "the sender's own wait is its deadline");
    let ist = deadline.with_timezone(&chrono_tz::Asia::Kolkata).format("%H:%M:%S");
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert_eq!(
        text.trim(),
        format!(
            "command 1 is PENDING after 1 s: is the engine running? (`xcoin doctor`); it will not be sent: its deadline was {ist} IST"
        )
    );
    // A cancel never expires: it is still queued.
    let out = xcoin(dir.path(), &["order", "cancel", "1", "--wait", "1"], &env);
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout(&out).trim().ends_with("; it stays queued until an engine runs it"), "{}", stdout(&out));
    assert_eq!(t.get_command(2).await.unwrap().expires_at, None);

    // The engine that starts later: nothing is sent for the placement.
    let mut e = crate::engine::engine_on(&t, crate::engine::paper(500)).await;
    e.process_commands().await;
    let expired = t.get_command(1).await.unwrap();
    assert_eq!(
        (expired.status, expired.claimed_at, expired.result.unwrap()),
        (CommandStatus::Expired, None, format!("expired at {ist} IST before an engine took it: nothing was sent"))
    );
    assert_eq!(t.today_orders().await.unwrap().len(), 0, "no order was made, none sent");
    let cancel = t.get_command(2).await.unwrap();
    assert_eq!(
        (cancel.status, cancel.result.as_deref()),
        (CommandStatus::Failed, Some("order 1 does not exist")),
        "the cancel ran (there was nothing to cancel)"
    );
    let log = {
        e.flush_journal().await;
        t.recent_events(20).await.unwrap()
    };
    assert!(
        log.iter().any(|l| l.message
            == format!("ravi: PLACE_ORDER expired at {ist} IST before an engine took it: nothing was sent"))
    );
}

/// A price or stop the database could not hold is a field error naming the
/// field and the range, before anything is sent; a long symbol is quoted by
/// its start only; NRML is refused on equity.
#[tokio::test]
async fn out_of_range_inputs_are_refused_by_field_before_anything_is_stored() {
    let t = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let url = t.url();
    let env = [("DATABASE_URL", url.as_str())];
    let refused = |args: &[&str]| {
        let out = xcoin(dir.path(), args, &env);
        (out.status.code(), String::from_utf8_lossy(&out.stderr).trim().to_string())
    };
    let huge = "99999999999999999";
    assert_eq!(
        refused(&["order", "place", "INFY", "--side", "buy", "--qty", "1", "--price", huge, "--stop", "1400"]),
        (Some(1), format!("error: price: must be greater than 0 and at most 10000000, got {huge}"))
    );
    assert_eq!(
        refused(&["order", "place", "INFY", "--side", "buy", "--qty", "1", "--type", "MARKET", "--stop", huge]),
        (Some(1), format!("error: stop_loss: must be greater than 0 and at most 10000000, got {huge}"))
    );
    let long = "A".repeat(5000);
    let (code, err) = refused(&["order", "place", &long, "--side", "buy", "--qty", "1", "--type", "MARKET"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        err,
        "error: symbol: `AAAAAAAAAAAAAAAAAAAAAAAA…` (5000 characters) is not a trading symbol; use 1–32 capital letters, digits or & _ . -"
    );
    assert_eq!(
        refused(&["order", "place", "INFY", "--side", "buy", "--qty", "1", "--type", "MARKET", "--product", "NRML"]),
        (Some(1), "error: product: NRML is for futures and options; an NSE equity order takes MIS or CNC".into())
    );
    assert_eq!(t.claim_next_command().await.unwrap(), None, "nothing was enqueued");
}

/// `xcoin order list` is a table under a header, every column aligned:
/// filled quantity, average fill and trigger to the paisa, times in IST, the
/// refusal's reason last; `--json` carries the levels, product, time and
/// reason too.
#[tokio::test]
async fn the_order_list_shows_fills_triggers_and_reasons_under_a_header() {
    use rust_decimal_macros::dec;
    use xcoin::domain::order::{BrokerKind, OrderRequest, OrderType, Side};
    let t = test_db_at(a_trading_morning()).await;
    // Filled in two parts: 2 at 1500.05 and 1 at 1500.00, an average of 1500.0333…
    let infy = submitted(&t, &market("INFY", Side::Buy, 3), dec!(1500), "PO1").await;
    let rates = xcoin::domain::charges::ChargeRates::default();
    t.record_fill(&fill(&infy, "PT1", 2, dec!(1500.05)), &rates).await.unwrap();
    t.record_fill(&fill(&infy, "PT2", 1, dec!(1500.00)), &rates).await.unwrap();
    let stop = OrderRequest {
        order_type: OrderType::StopLoss,
        trigger_price: Some(dec!(812)),
        stop_loss: Some(dec!(800)),
        take_profit: Some(dec!(840)),
        ..limit_buy("SBIN", 5, dec!(812.5))
    };
    let held = submitted(&t, &stop, dec!(811), "PO2").await;
    // The exchange holds it untriggered: Kite's TRIGGER PENDING.
    t.update_order_status(held.id, OrderStatus::Open, None, None).await.unwrap();
    t.set_trigger_pending(held.id, true).await.unwrap();
    let refused = OrderRequest { placed_by: "asha".into(), ..limit_buy("TCS", 2, dec!(3120.75)) };
    t.record_rejected_order(
        &refused,
        BrokerKind::Paper,
        TICK,
        Some(dec!(3120)),
        "stop loss: required on every position",
    )
    .await
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let url = t.url();
    let clock = t.clock_env();
    let env = [("DATABASE_URL", url.as_str()), (clock.0, clock.1.as_str())];
    let calendar = xcoin::config::Settings::default().calendar();
    let mut at = Vec::new();
    for id in 1..=3 {
        at.push(calendar.local(t.get_order(id).await.unwrap().created_at));
    }
    let hms = |i: usize| at[i].format("%H:%M:%S").to_string();

    let out = xcoin(dir.path(), &["order", "list"], &env);
    assert_eq!(out.status.code(), Some(0));
    let expected = [
        "id time     symbol side qty filled avg fill type     price trigger status          placed by reason"
            .to_string(),
        format!(" 1 {} INFY   BUY    3      3  1500.03 MARKET       —       — FILLED          test", hms(0)),
        format!(" 2 {} SBIN   BUY    5      0        — SL      812.50  812.00 TRIGGER PENDING test", hms(1)),
        format!(
            " 3 {} TCS    BUY    2      0        — LIMIT  3120.75       — REJECTED        asha      stop loss: required on every position",
            hms(2)
        ),
    ];
    assert_eq!(stdout(&out).lines().collect::<Vec<_>>(), expected, "{}", stdout(&out));

    let out = xcoin(dir.path(), &["order", "list", "--json"], &env);
    let rows: Vec<serde_json::Value> = serde_json::from_str(stdout(&out).trim()).unwrap();
    let ist = |i: usize| at[i].format("%Y-%m-%dT%H:%M:%S+05:30").to_string();
    assert_eq!(
        rows[1],
        serde_json::json!({
            "id": 2, "time": ist(1), "symbol": "SBIN", "exchange": "NSE", "side": "BUY", "quantity": 5,
            "order_type": "SL", "product": "MIS", "price": "812.50", "trigger_price": "812.00",
            "stop_loss": "800.00", "target": "840.00", "status": "OPEN", "trigger_pending": true, "reason": null,
            "filled_quantity": 0, "average_price": null, "placed_by": "test",
        })
    );
    assert_eq!((rows[0]["filled_quantity"].as_i64(), rows[0]["time"].as_str()), (Some(3), Some(ist(0).as_str())));
    assert_eq!(
        rows[0]["average_price"].as_str().map(|p| p.parse::<Decimal>().unwrap().round_dp(4)),
        Some(dec!(1500.0333))
    );
    assert_eq!(
        (rows[2]["status"].as_str(), rows[2]["reason"].as_str()),
        (Some("REJECTED"), Some("stop loss: required on every position"))
    );
}
