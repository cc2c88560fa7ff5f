//! Operator safety on the engine: every change passes the risk validator,
//! nothing a command carries can wedge the engine or leave a state the
//! database does not show, resolutions stick, and stopping pauses strategies.

use crate::engine::{buy, config, engine_on, paper, tick};
use crate::support::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use xcoin::broker::Broker;
use xcoin::broker::paper::PaperBroker;
use xcoin::db::orders::OrderModification;
use xcoin::domain::command::{CommandStatus, KillSwitchTrigger, OperatorCommand};
use xcoin::domain::order::{Exchange, OrderStatus, OrderType, Product, Side};
use xcoin::domain::reconciliation::{IssueStatus, Resolution};
use xcoin::domain::strategy::MANUAL_STRATEGY_ID;
use xcoin::engine::Engine;

/// The broker's own record of an order: (quantity, price).
async fn at_broker(e: &Engine<PaperBroker>, broker_order_id: &str) -> (i64, Option<Decimal>) {
    let b = e.broker.orders().await.unwrap().into_iter().find(|b| b.broker_order_id == broker_order_id).unwrap();
    (b.quantity, b.price)
}

/// Inserts a command row as a console (or anything else) could, bypassing
/// the client-side checks, and lets the engine run it.
async fn run_raw(t: &TestDb, e: &mut Engine<PaperBroker>, kind: &str, payload: &str) -> (CommandStatus, String) {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO operator_commands (command, payload, requested_by) VALUES ($1, $2::jsonb, 'asha') RETURNING id",
    )
    .bind(kind)
    .bind(payload)
    .fetch_one(t.pool())
    .await
    .unwrap();
    e.process_commands().await;
    let c = t.get_command(id).await.unwrap();
    (c.status, c.result.unwrap_or_default())
}

#[tokio::test]
async fn a_modification_passes_the_same_validator_as_a_new_order() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    let last = e.last_price("INFY", Exchange::Nse).unwrap();
    let mut req = buy(&e, "INFY", 10, OrderType::Limit);
    req.price = Some(last - dec!(5));
    let o = e.place_order(&req).await.unwrap();
    e.drain_events().await.unwrap();
    let broker_id = o.broker_order_id.clone().unwrap();
    assert_eq!(t.get_order(o.id).await.unwrap().status, OrderStatus::Open);

    let refused = |change: OrderModification| {
        let id = o.id;
        async move { (id, change) }
    };
    let cases = [
        (
            OrderModification { quantity: Some(1_000_000), ..Default::default() },
            "max position size: limit 1000 shares, order 1000000".to_string(),
        ),
        (
            OrderModification { price: Some(dec!(100)), ..Default::default() },
            format!("price sanity: price 100 is more than 10% from the last price {last}"),
        ),
        (
            OrderModification { quantity: Some(600), ..Default::default() },
            "max risk per trade: limit ₹2000, order risks ₹".to_string(),
        ),
    ];
    for (change, reason) in cases {
        let (id, change) = refused(change).await;
        let err = e.modify_order(id, change).await.unwrap_err().to_string();
        assert!(err.starts_with(&format!("order {id} not modified: {reason}")), "{err}");
        assert_eq!(at_broker(&e, &broker_id).await, (10, Some(last - dec!(5))), "the broker never saw {change:?}");
    }

    // Through the command an operator sends: FAILED with the rule, broker untouched.
    let cmd =
        OperatorCommand::ModifyOrder { order_id: o.id, quantity: Some(1_000_000), price: None, trigger_price: None };
    let c = t.enqueue_command(&cmd, "asha").await.unwrap();
    e.process_commands().await;
    let c = t.get_command(c.id).await.unwrap();
    assert_eq!(c.status, CommandStatus::Failed);
    assert_eq!(
        c.result.as_deref(),
        Some(format!("order {} not modified: max position size: limit 1000 shares, order 1000000", o.id).as_str())
    );
    assert_eq!(at_broker(&e, &broker_id).await.0, 10);

    // Within the limits it goes through, and is counted.
    let m = e.modify_order(o.id, OrderModification { quantity: Some(12), ..Default::default() }).await.unwrap();
    assert_eq!((m.quantity, m.modifications), (12, 1));
    assert_eq!(at_broker(&e, &broker_id).await.0, 12);

    // The broker allows 25 modifications; the 26th is refused before sending.
    sqlx::query("UPDATE orders SET modifications = 25 WHERE id = $1").bind(o.id).execute(t.pool()).await.unwrap();
    let err = e.modify_order(o.id, OrderModification { quantity: Some(11), ..Default::default() }).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("order {} was modified 25 times, the broker's limit per order; cancel it and place a new one", o.id)
    );
    assert_eq!(at_broker(&e, &broker_id).await.0, 12);
    assert_eq!(t.get_order(o.id).await.unwrap().quantity, 12);
}

#[tokio::test]
async fn under_the_kill_switch_an_exit_can_be_modified_and_an_entry_cannot() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    e.place_order(&buy(&e, "INFY", 10, OrderType::Market)).await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    let last = e.last_price("INFY", Exchange::Nse).unwrap();
    let mut exit = buy(&e, "INFY", 10, OrderType::Limit);
    exit.side = Side::Sell;
    exit.price = Some(last + dec!(5));
    exit.stop_loss = None;
    exit.take_profit = None;
    let exit = e.place_order(&exit).await.unwrap();
    let mut entry = buy(&e, "TCS", 2, OrderType::Limit);
    entry.price = entry.price.map(|p| p - dec!(5));
    let entry = e.place_order(&entry).await.unwrap();
    e.drain_events().await.unwrap();
    assert_eq!(t.get_order(exit.id).await.unwrap().status, OrderStatus::Open);
    assert_eq!(t.get_order(entry.id).await.unwrap().status, OrderStatus::Open);

    // Another process records an activation: the engine reads the state from
    // the table, not from a flag of its own.
    t.activate_kill_switch(&operator_activation("recorded elsewhere", "ravi")).await.unwrap();
    assert!(e.kill_switch_active().await.unwrap());

    let moved = e.modify_order(exit.id, OrderModification { price: Some(last + dec!(4)), ..Default::default() });
    assert_eq!(moved.await.unwrap().price, Some(last + dec!(4)), "an exit is never blocked by the kill switch");
    let err = e.modify_order(entry.id, OrderModification { quantity: Some(3), ..Default::default() }).await;
    assert_eq!(
        err.unwrap_err().to_string(),
        format!("order {} not modified: kill switch: active; re-arm it before new orders", entry.id)
    );
    let blocked = e.place_order(&buy(&e, "SBIN", 1, OrderType::Market)).await.unwrap();
    assert_eq!(blocked.status_reason.as_deref(), Some("kill switch: active; re-arm it before new orders"));
}

/// Engine state equals database state: the switch as `kill_switch_events`
/// says, positions as they were unless an activation was recorded.
async fn assert_armed_and_trading(t: &TestDb, e: &mut Engine<PaperBroker>, open_positions: usize) {
    assert!(!t.kill_switch_state().await.unwrap().active);
    assert!(!e.kill_switch_active().await.unwrap());
    assert_eq!(t.open_positions().await.unwrap().len(), open_positions, "no position was exited");
    let o = e.place_order(&buy(e, "SBIN", 1, OrderType::Market)).await.unwrap();
    assert_eq!(o.status, OrderStatus::Submitted, "{:?}", o.status_reason);
    e.broker.step();
    e.drain_events().await.unwrap();
}

#[tokio::test]
async fn every_failed_kill_switch_command_leaves_engine_and_database_equal() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    e.place_order(&buy(&e, "INFY", 10, OrderType::Market)).await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();

    // A blank reason (sent past the console's own check): refused before any effect.
    let (status, result) = run_raw(&t, &mut e, "KILL_SWITCH_ON", r#"{"reason": "  "}"#).await;
    assert_eq!(
        (status, result.as_str()),
        (CommandStatus::Failed, "KILL_SWITCH_ON refused: reason: must not be empty: say why")
    );
    assert!(t.kill_switch_events(10).await.unwrap().is_empty());
    assert_armed_and_trading(&t, &mut e, 1).await;

    // A reason too long to store, a missing one, an unknown field.
    let long = format!(r#"{{"reason": "{}"}}"#, "x".repeat(501));
    let (status, result) = run_raw(&t, &mut e, "KILL_SWITCH_ON", &long).await;
    assert_eq!(
        (status, result.as_str()),
        (CommandStatus::Failed, "KILL_SWITCH_ON refused: reason: must be at most 500 characters, got 501")
    );
    let (status, result) = run_raw(&t, &mut e, "KILL_SWITCH_ON", "{}").await;
    assert_eq!(status, CommandStatus::Failed);
    assert!(result.contains("missing field `reason`"), "{result}");
    let (status, result) = run_raw(&t, &mut e, "KILL_SWITCH_ON", r#"{"reason": "x", "exit": false}"#).await;
    assert_eq!(status, CommandStatus::Failed);
    assert!(result.contains("unknown field `exit`"), "{result}");
    assert_armed_and_trading(&t, &mut e, 2).await;

    // Re-arming what is armed fails and changes nothing.
    let (status, result) = run_raw(&t, &mut e, "KILL_SWITCH_OFF", r#"{"reason": "all clear"}"#).await;
    assert_eq!((status, result.as_str()), (CommandStatus::Failed, "the kill switch is not active"));
    assert!(t.kill_switch_events(10).await.unwrap().is_empty());

    // A good activation: recorded, and the engine blocks exactly as recorded.
    let (status, result) = run_raw(&t, &mut e, "KILL_SWITCH_ON", r#"{"reason": "fat finger"}"#).await;
    assert_eq!(status, CommandStatus::Done, "{result}");
    assert!(result.starts_with("kill switch ACTIVE: 0 orders cancelled, 2 positions exited"), "{result}");
    let events = t.kill_switch_events(10).await.unwrap();
    assert_eq!((events.len(), events[0].positions_exited, events[0].reason.as_str()), (1, 2, "fat finger"));
    assert!(e.kill_switch_active().await.unwrap());
    let again = run_raw(&t, &mut e, "KILL_SWITCH_ON", r#"{"reason": "twice"}"#).await;
    assert_eq!(again.0, CommandStatus::Failed);
    assert!(again.1.starts_with("the kill switch is already active (since "), "{}", again.1);

    // A blank re-arm is refused and the switch stays on, in both places.
    let (status, _) = run_raw(&t, &mut e, "KILL_SWITCH_OFF", r#"{"reason": ""}"#).await;
    assert_eq!(status, CommandStatus::Failed);
    assert!(t.kill_switch_state().await.unwrap().active && e.kill_switch_active().await.unwrap());
    let blocked = e.place_order(&buy(&e, "TCS", 1, OrderType::Market)).await.unwrap();
    assert_eq!(blocked.status, OrderStatus::Rejected);

    let (status, _) = run_raw(&t, &mut e, "KILL_SWITCH_OFF", r#"{"reason": "reviewed"}"#).await;
    assert_eq!(status, CommandStatus::Done);
    e.broker.step();
    e.drain_events().await.unwrap();
    assert_armed_and_trading(&t, &mut e, 0).await;
}

#[tokio::test]
async fn a_payload_that_cannot_be_decoded_fails_its_command_and_never_blocks_a_start() {
    let t = test_db().await;
    // Left RUNNING by an engine that died on it, and waiting behind it.
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    sqlx::query(
        "INSERT INTO operator_commands (command, payload, requested_by, status, claimed_at)
         VALUES ('MODIFY_ORDER', '{\"order_id\": 1, \"price\": 1e400}', 'mallory', 'RUNNING', xcoin_now())",
    )
    .execute(t.pool())
    .await
    .unwrap();
    for (kind, payload) in [
        ("MODIFY_ORDER", r#"{"order_id": 1, "price": 1e400}"#.to_string()),
        ("EXIT_ALL", deep),
        ("CANCEL_ORDER", r#"{"order_id": 1, "force": true}"#.to_string()),
    ] {
        sqlx::query("INSERT INTO operator_commands (command, payload, requested_by) VALUES ($1, $2::jsonb, 'mallory')")
            .bind(kind)
            .bind(payload)
            .execute(t.pool())
            .await
            .unwrap();
    }
    let mut e = Engine::start(t.db.clone(), paper(500), config()).await.expect("a bad payload never blocks a start");
    e.process_commands().await;
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT command, status, result FROM operator_commands ORDER BY id")
            .fetch_all(t.pool())
            .await
            .unwrap();
    // (A command left RUNNING is given its outcome; this one could never do anything.)
    assert_eq!(rows[0].1, "FAILED");
    assert!(
        rows[0].2.starts_with("payload of MODIFY_ORDER command is malformed: number out of range"),
        "{}",
        rows[0].2
    );
    assert_eq!(rows[1].1, "FAILED");
    assert!(
        rows[1].2.starts_with("payload of MODIFY_ORDER command is malformed: number out of range"),
        "{}",
        rows[1].2
    );
    assert_eq!(rows[2].1, "FAILED");
    assert!(
        rows[2].2.starts_with("payload of EXIT_ALL command is malformed: recursion limit exceeded"),
        "{}",
        rows[2].2
    );
    assert_eq!(rows[3].1, "FAILED");
    assert!(rows[3].2.contains("unknown field `force`"), "{}", rows[3].2);

    // What a command may carry is bounded by the database itself.
    let big = format!(r#"{{"reason": "{}"}}"#, "x".repeat(20_000));
    let err = sqlx::query(
        "INSERT INTO operator_commands (command, payload, requested_by) VALUES ('KILL_SWITCH_ON', $1::jsonb, 'm')",
    )
    .bind(big)
    .execute(t.pool())
    .await
    .unwrap_err();
    assert!(err.to_string().contains("operator_commands_payload_size"), "{err}");
    let err =
        t.enqueue_command(&OperatorCommand::KillSwitchOn { reason: "y".repeat(1_000_000) }, "m").await.unwrap_err();
    assert_eq!(err.to_string(), "reason: must be at most 500 characters, got 1000000");
}

#[tokio::test]
async fn a_resolution_sticks_while_the_mismatch_is_the_same() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    e.broker.apply_external_trade("SBIN", Exchange::Nse, Product::Mis, Side::Buy, 25, dec!(812.45)).unwrap();
    e.broker.apply_external_trade("ITC", Exchange::Nse, Product::Mis, Side::Buy, 10, dec!(430.10)).unwrap();
    let found = e.reconcile_positions().await.unwrap();
    assert_eq!(found.len(), 2);
    for (issue, resolution) in found.iter().zip([Resolution::KeepLocal, Resolution::Ignore]) {
        e.resolve_issue(issue.id, resolution, "asha", Some("known")).await.unwrap();
    }
    for _ in 0..3 {
        e.reconcile_positions().await.unwrap();
    }
    assert!(t.unresolved_issues().await.unwrap().is_empty(), "the same mismatches stay resolved");
    for issue in &found {
        let now = t.get_issue(issue.id).await.unwrap();
        assert_eq!((now.status, now.seen_count), (IssueStatus::Resolved, 4));
    }

    // The broker's SBIN position changes: a different mismatch, a new issue.
    e.broker.apply_external_trade("SBIN", Exchange::Nse, Product::Mis, Side::Buy, 5, dec!(812.45)).unwrap();
    e.reconcile_positions().await.unwrap();
    let open = t.unresolved_issues().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].symbol.as_str(), open[0].broker_quantity), ("SBIN", Some(30)));
}

#[tokio::test]
async fn the_kill_switch_and_exit_all_pause_strategies_and_only_an_operator_resumes_them() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    let demo = e.enable_demo().await.unwrap();
    let rising = |e: &Engine<PaperBroker>| e.last_price("INFY", Exchange::Nse).unwrap();
    let climb = async |e: &mut Engine<PaperBroker>| {
        for _ in 0..5 {
            let p = rising(e) + dec!(0.05);
            tick(e, "INFY", p).await;
        }
        e.run_strategies().await.unwrap();
    };

    let exit_all = t.enqueue_command(&OperatorCommand::ExitAll {}, "asha").await.unwrap();
    e.process_commands().await;
    let done = t.get_command(exit_all.id).await.unwrap();
    assert_eq!(done.result.as_deref(), Some("no open positions; automated strategies paused"));
    let s = t.get_strategy(demo).await.unwrap();
    assert_eq!(
        (s.is_active, s.paused_by.as_deref(), s.paused_reason.as_deref()),
        (false, Some("asha"), Some("exit all"))
    );
    assert!(t.get_strategy(MANUAL_STRATEGY_ID).await.unwrap().is_active, "operators keep their own orders");

    climb(&mut e).await;
    assert!(t.today_orders().await.unwrap().is_empty(), "a paused strategy places nothing");
    let mut own = buy(&e, "TCS", 1, OrderType::Market);
    own.strategy_id = demo;
    let refused = e.place_order(&own).await.unwrap();
    assert_eq!(refused.status_reason.as_deref(), Some("strategy paused: resume it before new orders"));

    let resume = OperatorCommand::ResumeStrategy { strategy_id: demo, reason: "checked".into() };
    let c = t.enqueue_command(&resume, "asha").await.unwrap();
    e.process_commands().await;
    assert_eq!(t.get_command(c.id).await.unwrap().result.unwrap(), format!("strategy {demo} \"Demo Scalper\" resumed"));
    climb(&mut e).await;
    let entries: Vec<_> = t.today_orders().await.unwrap().into_iter().filter(|o| o.strategy_id == demo).collect();
    assert_eq!(entries.len(), 2, "resumed, the demo enters again");

    e.activate_kill_switch(KillSwitchTrigger::Operator, "stop everything", "ravi").await.unwrap();
    let s = t.get_strategy(demo).await.unwrap();
    assert_eq!((s.is_active, s.paused_reason.as_deref()), (false, Some("kill switch: stop everything")));
    e.rearm_kill_switch("reviewed", "ravi").await.unwrap();
    assert!(!t.get_strategy(demo).await.unwrap().is_active, "re-arming does not resume strategies");

    let manual = OperatorCommand::PauseStrategy { strategy_id: MANUAL_STRATEGY_ID, reason: "lunch".into() };
    let c = t.enqueue_command(&manual, "asha").await.unwrap();
    e.process_commands().await;
    let c = t.get_command(c.id).await.unwrap();
    assert_eq!(c.status, CommandStatus::Failed);
    assert!(c.result.unwrap().contains("is manual"));
}

#[tokio::test]
async fn an_operator_sets_and_moves_a_positions_stop_and_target_through_the_validator() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(1000)).await;
    let mut req = buy(&e, "INFY", 10, OrderType::Market);
    // Adopted without levels, as after accepting the broker's side.
    (req.stop_loss, req.take_profit) = (Some(req.stop_loss.unwrap()), None);
    e.place_order(&req).await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    let p = t.open_positions().await.unwrap().remove(0);
    t.update_position_levels(p.id, None, None).await.unwrap();
    let last = e.last_price("INFY", Exchange::Nse).unwrap();
    let set = |stop: Decimal, target: Option<Decimal>| OperatorCommand::SetPositionLevels {
        position_id: p.id,
        stop_loss: stop,
        take_profit: target,
    };
    let run = |cmd: OperatorCommand| {
        let t = &t;
        async move { t.enqueue_command(&cmd, "asha").await.unwrap().id }
    };

    // Refused: each with its rule, and the position keeps no stop.
    for (cmd, why) in [
        (
            set(last + dec!(1), None),
            format!(
                "stop loss: a long position's stop loss must be below the last price {last}, got {}",
                last + dec!(1)
            ),
        ),
        (set(last - dec!(1), Some(last + dec!(1))), "min reward:risk: limit 2:1, order 1:1".to_string()),
        (set(last - dec!(300), None), "max risk per trade: limit ₹2000, order risks ₹3000".to_string()),
    ] {
        let id = run(cmd).await;
        e.process_commands().await;
        let c = t.get_command(id).await.unwrap();
        assert_eq!(c.status, CommandStatus::Failed);
        assert_eq!(c.result.unwrap(), format!("levels of position {} refused: {why}", p.id));
        let now = t.get_position(p.id).await.unwrap();
        assert_eq!((now.stop_loss, now.take_profit), (None, None), "nothing written");
    }

    // Set: stop 5 under, target 10 over (2:1); the result says what it risks.
    let id = run(set(last - dec!(5), Some(last + dec!(10)))).await;
    e.process_commands().await;
    let c = t.get_command(id).await.unwrap();
    assert_eq!(c.status, CommandStatus::Done, "{:?}", c.result);
    assert_eq!(
        c.result.unwrap(),
        format!(
            "position {} INFY: stop {:.2}, target {:.2}; risk ₹50.00, reward:risk 2.00:1",
            p.id,
            last - dec!(5),
            last + dec!(10)
        )
    );
    assert_eq!(c.requested_by, "asha");
    let now = t.get_position(p.id).await.unwrap();
    assert_eq!((now.stop_loss, now.take_profit), (Some(last - dec!(5)), Some(last + dec!(10))));

    // Moved up and the target dropped: the stop resting at the exchange moves
    // with it, and the exchange acts on the new stop.
    run(set(last - dec!(2), None)).await;
    e.process_commands().await;
    assert_eq!(t.get_position(p.id).await.unwrap().stop_loss, Some(last - dec!(2)));
    let stops = t.active_orders().await.unwrap();
    assert_eq!(
        stops.iter().map(|o| (o.side, o.placed_by.as_str(), o.trigger_price)).collect::<Vec<_>>(),
        [(Side::Sell, "resting-stop", Some(last - dec!(2)))]
    );
    tick(&mut e, "INFY", last - dec!(2)).await;
    e.monitor_risk().await;
    tick(&mut e, "INFY", last - dec!(2.05)).await;
    assert_eq!(t.get_position(p.id).await.unwrap().quantity(), 0, "closed at the new stop");
    assert_eq!(t.get_order(stops[0].id).await.unwrap().status, OrderStatus::Filled);

    // A malformed payload is refused before anything acts.
    let (status, why) = run_raw(&t, &mut e, "SET_POSITION_LEVELS", &format!(r#"{{"position_id": {}}}"#, p.id)).await;
    assert_eq!(status, CommandStatus::Failed);
    assert!(why.contains("missing field `stop_loss`"), "{why}");
}
