//! The database itself refuses impossible history, whoever writes the SQL:
//! trades match their orders and are append-only, orders with trades stay,
//! finished commands are kept as they finished, and the kill switch's events
//! alternate. The application's own paths still pass.

use crate::support::*;
use rust_decimal_macros::dec;
use xcoin::domain::charges::ChargeRates;
use xcoin::domain::command::{CommandStatus, OperatorCommand};
use xcoin::domain::order::{BrokerKind, Order, OrderStatus, Side};

/// A trade row for `order` as direct SQL would write it.
fn trade_sql(order: &Order, symbol: &str, exchange: &str, side: &str, quantity: i64, trade_id: &str) -> String {
    format!(
        "INSERT INTO trades (order_id, strategy_id, symbol, exchange, side, product, quantity, price, broker,
                             broker_trade_id, broker_order_id)
         VALUES ({}, 1, '{symbol}', '{exchange}', '{side}', 'MIS', {quantity}, 1500, 'paper', '{trade_id}', {})",
        order.id,
        order.broker_order_id.as_deref().map_or("NULL".to_string(), |b| format!("'{b}'")),
    )
}

async fn trade_count(t: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM trades").fetch_one(t.pool()).await.unwrap()
}

#[tokio::test]
async fn a_trade_needs_an_order_that_was_sent() {
    let t = test_db().await;
    let pending =
        t.create_order(&market("INFY", Side::Buy, 10), BrokerKind::Paper, TICK, Some(dec!(1500))).await.unwrap();
    assert_eq!(
        t.refused(&trade_sql(&pending, "INFY", "NSE", "BUY", 10, "X1")).await,
        (
            "trades_order_sent".into(),
            format!(
                "order {} is PENDING and was never sent: only an order that reached the broker has trades",
                pending.id
            )
        )
    );
    // Cancelled before it was ever sent: no broker could have filled it either.
    let never_sent =
        t.create_order(&market("INFY", Side::Buy, 10), BrokerKind::Paper, TICK, Some(dec!(1500))).await.unwrap();
    t.update_order_status(never_sent.id, OrderStatus::Cancelled, Some("operator"), None).await.unwrap();
    assert_eq!(
        t.refused(&trade_sql(&never_sent, "INFY", "NSE", "BUY", 10, "X2")).await,
        (
            "trades_order_sent".into(),
            format!(
                "order {} is CANCELLED and was never sent: only an order that reached the broker has trades",
                never_sent.id
            )
        )
    );
    assert_eq!(trade_count(&t).await, 0);
}

#[tokio::test]
async fn a_trade_matches_its_order() {
    let t = test_db().await;
    let o = submitted(&t, &market("INFY", Side::Buy, 10), dec!(1500), "B1").await;
    let id = o.id;
    let cases = [
        (
            trade_sql(&o, "TCS", "NSE", "BUY", 5, "X1"),
            format!("trade for order {id}: symbol TCS where the order has INFY"),
        ),
        (
            trade_sql(&o, "INFY", "BSE", "BUY", 5, "X2"),
            format!("trade for order {id}: exchange BSE where the order has NSE"),
        ),
        (
            trade_sql(&o, "INFY", "NSE", "SELL", 5, "X3"),
            format!("trade for order {id}: side SELL where the order has BUY"),
        ),
        (
            trade_sql(&o, "TCS", "BSE", "SELL", 5, "X4"),
            format!(
                "trade for order {id}: symbol TCS where the order has INFY; exchange BSE where the order has NSE; side SELL where the order has BUY"
            ),
        ),
        (
            trade_sql(&o, "INFY", "NSE", "BUY", 5, "X5").replace("'MIS', 5", "'CNC', 5"),
            format!("trade for order {id}: product CNC where the order has MIS"),
        ),
        (
            trade_sql(&o, "INFY", "NSE", "BUY", 5, "X6").replace("'B1')", "'B9')"),
            format!("trade for order {id}: broker order id B9 where the order has B1"),
        ),
    ];
    for (sql, message) in cases {
        assert_eq!(t.refused(&sql).await, ("trades_match_order".into(), message), "{sql}");
    }
    assert_eq!(trade_count(&t).await, 0);
    // The matching row is accepted.
    t.sql(&trade_sql(&o, "INFY", "NSE", "BUY", 5, "X7")).await;
    assert_eq!(trade_count(&t).await, 1);
}

#[tokio::test]
async fn trades_never_add_up_past_their_order() {
    let t = test_db().await;
    let o = submitted(&t, &market("INFY", Side::Buy, 10), dec!(1500), "B1").await;
    assert_eq!(
        t.refused(&trade_sql(&o, "INFY", "NSE", "BUY", 11, "X1")).await,
        (
            "trades_within_order_quantity".into(),
            format!("order {} is for 10 and has 0 traded: a trade of 11 would take it past its quantity", o.id)
        )
    );
    t.record_fill(&fill(&o, "T1", 6, dec!(1500)), &ChargeRates::default()).await.unwrap();
    assert_eq!(
        t.refused(&trade_sql(&o, "INFY", "NSE", "BUY", 5, "X2")).await,
        (
            "trades_within_order_quantity".into(),
            format!("order {} is for 10 and has 6 traded: a trade of 5 would take it past its quantity", o.id)
        )
    );
    // Two rows of one statement count together.
    let two = format!(
        "{}, ({}, 1, 'INFY', 'NSE', 'BUY', 'MIS', 3, 1500, 'paper', 'X4', 'B1')",
        trade_sql(&o, "INFY", "NSE", "BUY", 3, "X3"),
        o.id
    );
    assert_eq!(
        t.refused(&two).await,
        (
            "trades_within_order_quantity".into(),
            format!("order {} is for 10 and has 9 traded: a trade of 3 would take it past its quantity", o.id)
        )
    );
    // Exactly up to the quantity is fine; the order cannot then shrink below it.
    t.sql(&trade_sql(&o, "INFY", "NSE", "BUY", 4, "X5")).await;
    assert_eq!(
        t.refused(&format!("UPDATE orders SET quantity = 9 WHERE id = {}", o.id)).await,
        ("orders_trades_kept".into(), format!("order {} has 10 traded: its quantity cannot drop to 9", o.id))
    );
    assert_eq!(trade_count(&t).await, 2);
}

#[tokio::test]
async fn trades_are_append_only_and_keep_their_orders() {
    let t = test_db().await;
    let o = submitted(&t, &market("INFY", Side::Buy, 10), dec!(1500), "B1").await;
    let trade = t.record_fill(&fill(&o, "T1", 4, dec!(1500)), &ChargeRates::default()).await.unwrap().trade;
    let id = trade.id;
    assert_eq!(
        t.refused(&format!("UPDATE trades SET quantity = 1 WHERE id = {id}")).await,
        ("trades_append_only".into(), format!("trade {id} cannot be updated: trades are append-only"))
    );
    assert_eq!(
        t.refused(&format!("UPDATE trades SET traded_at = xcoin_now() - interval '1 day' WHERE id = {id}")).await,
        ("trades_append_only".into(), format!("trade {id} cannot be updated: trades are append-only"))
    );
    assert_eq!(
        t.refused(&format!("DELETE FROM trades WHERE id = {id}")).await,
        ("trades_append_only".into(), format!("trade {id} cannot be deleted: trades are append-only"))
    );
    assert_eq!(t.trades_for_order(o.id).await.unwrap(), vec![trade]);

    assert_eq!(
        t.refused(&format!("DELETE FROM orders WHERE id = {}", o.id)).await,
        (
            "orders_trades_kept".into(),
            format!("order {} has trades: only an order without trades can be deleted", o.id)
        )
    );
    for (change, what) in [
        ("symbol = 'TCS'", "symbol"),
        ("side = 'SELL'", "side"),
        ("exchange = 'BSE'", "exchange"),
        ("product = 'CNC'", "product"),
        ("broker_order_id = 'B2'", "broker order id"),
    ] {
        assert_eq!(
            t.refused(&format!("UPDATE orders SET {change} WHERE id = {}", o.id)).await,
            (
                "orders_trades_kept".into(),
                format!(
                    "order {} has trades: its {what} cannot change (symbol, exchange, side, product, strategy, broker and broker order id are fixed once it trades)",
                    o.id
                )
            ),
            "{change}"
        );
    }
    // An order without trades can still be deleted, and one with trades can move on.
    let spare = t.create_order(&limit_buy("TCS", 1, dec!(3000)), BrokerKind::Paper, TICK, None).await.unwrap();
    t.sql(&format!("DELETE FROM orders WHERE id = {}", spare.id)).await;
    let done = t.record_fill(&fill(&o, "T2", 6, dec!(1500)), &ChargeRates::default()).await.unwrap().order;
    assert_eq!((done.status, done.filled_quantity), (OrderStatus::Filled, 10));
}

#[tokio::test]
async fn a_fill_after_a_cancel_is_still_recorded() {
    let t = test_db().await;
    let o = submitted(&t, &market("INFY", Side::Buy, 10), dec!(1500), "B1").await;
    t.update_order_status(o.id, OrderStatus::Cancelled, Some("operator"), None).await.unwrap();
    let out = t.record_fill(&fill(&o, "T1", 3, dec!(1500)), &ChargeRates::default()).await.unwrap();
    assert_eq!((out.order.status, out.order.filled_quantity, out.trade.quantity), (OrderStatus::Cancelled, 3, 3));
    // The application's own check still speaks first for its callers.
    let pending =
        t.create_order(&market("INFY", Side::Buy, 1), BrokerKind::Paper, TICK, Some(dec!(1500))).await.unwrap();
    let err = t.record_fill(&fill(&pending, "T2", 1, dec!(1500)), &ChargeRates::default()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("order {} is PENDING (never sent); a fill cannot arrive before it is SUBMITTED", pending.id)
    );
}

#[tokio::test]
async fn finished_commands_are_kept_as_they_finished() {
    let t = test_db().await;
    let c = t.enqueue_command(&OperatorCommand::CancelOrder { order_id: 7 }, "asha").await.unwrap();
    let id = c.id;
    assert_eq!(
        t.refused(&format!("UPDATE operator_commands SET status = 'DONE', claimed_at = xcoin_now(), completed_at = xcoin_now(), result = 'x' WHERE id = {id}")).await,
        (
            "operator_commands_lifecycle".into(),
            format!("command {id} cannot go from PENDING to DONE (a command goes PENDING → RUNNING → DONE or FAILED, or PENDING → EXPIRED)")
        )
    );
    assert_eq!(
        t.refused(&format!("UPDATE operator_commands SET payload = '{{\"order_id\": 8}}' WHERE id = {id}")).await,
        (
            "operator_commands_request_kept".into(),
            format!(
                "command {id}: what was requested (command, payload, requested by, requested at, expires at) never changes"
            )
        )
    );
    // The refused UPDATE's backend may still hold the row lock for a moment
    // after its error reached us, and the claim skips locked rows: retry.
    let mut running = None;
    for _ in 0..50 {
        running = t.claim_next_command().await.unwrap();
        if running.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let running = running.expect("the command is claimed once the refused update has rolled back");
    assert_eq!((running.id, running.status), (id, CommandStatus::Running));
    assert_eq!(
        t.refused(&format!("UPDATE operator_commands SET status = 'PENDING', claimed_at = NULL WHERE id = {id}")).await,
        (
            "operator_commands_lifecycle".into(),
            format!(
                "command {id} cannot go from RUNNING to PENDING (a command goes PENDING → RUNNING → DONE or FAILED, or PENDING → EXPIRED)"
            )
        )
    );
    let done = t.complete_command(id, "order 7 cancelled").await.unwrap();
    assert_eq!(done.status, CommandStatus::Done);
    for sql in [
        format!(
            "UPDATE operator_commands SET status = 'PENDING', claimed_at = NULL, completed_at = NULL WHERE id = {id}"
        ),
        format!("UPDATE operator_commands SET result = 'nothing happened' WHERE id = {id}"),
        format!("UPDATE operator_commands SET status = 'FAILED' WHERE id = {id}"),
    ] {
        assert_eq!(
            t.refused(&sql).await,
            (
                "operator_commands_finished_kept".into(),
                format!("command {id} is DONE: a finished command cannot be updated")
            ),
            "{sql}"
        );
    }
    assert_eq!(
        t.refused(&format!("DELETE FROM operator_commands WHERE id = {id}")).await,
        (
            "operator_commands_finished_kept".into(),
            format!("command {id} is DONE: a finished command cannot be deleted")
        )
    );
    assert_eq!(t.get_command(id).await.unwrap(), done);

    // FAILED is as final; a command left RUNNING is found and given its outcome.
    let c2 = t.enqueue_command(&OperatorCommand::CancelOrder { order_id: 8 }, "asha").await.unwrap();
    t.claim_next_command().await.unwrap().unwrap();
    let running = t.running_commands().await.unwrap();
    assert_eq!(running.iter().map(|c| (c.id, c.status)).collect::<Vec<_>>(), vec![(c2.id, CommandStatus::Running)]);
    let failed = t.fail_command(c2.id, "order 8 does not exist").await.unwrap();
    assert_eq!((failed.status, failed.result.as_deref()), (CommandStatus::Failed, Some("order 8 does not exist")));
    assert_eq!(t.running_commands().await.unwrap(), vec![]);
    assert_eq!(
        t.refused(&format!(
            "UPDATE operator_commands SET status = 'RUNNING', completed_at = NULL WHERE id = {}",
            c2.id
        ))
        .await,
        (
            "operator_commands_finished_kept".into(),
            format!("command {} is FAILED: a finished command cannot be updated", c2.id)
        )
    );
    // A command nobody claimed yet may still be withdrawn.
    let c3 = t.enqueue_command(&OperatorCommand::CancelOrder { order_id: 9 }, "asha").await.unwrap();
    t.sql(&format!("DELETE FROM operator_commands WHERE id = {}", c3.id)).await;
}

#[tokio::test]
async fn kill_switch_events_alternate_and_are_kept() {
    let t = test_db().await;
    let deactivate = "INSERT INTO kill_switch_events (action, trigger, reason, actor) VALUES ('DEACTIVATED', 'OPERATOR', 're-arm', 'asha')";
    let activate = "INSERT INTO kill_switch_events (action, trigger, reason, actor) VALUES ('ACTIVATED', 'OPERATOR', 'stop', 'asha')";
    let not_active = (
        "kill_switch_events_alternate".to_string(),
        "the kill switch is not active: a DEACTIVATED event must follow an ACTIVATED one".to_string(),
    );
    assert_eq!(t.refused(deactivate).await, not_active);

    let a = t.activate_kill_switch(&operator_activation("stop", "asha")).await.unwrap();
    assert_eq!(
        t.refused(activate).await,
        (
            "kill_switch_events_alternate".into(),
            format!(
                "the kill switch is already active (event {}): an ACTIVATED event must follow a DEACTIVATED one or none",
                a.id
            )
        )
    );
    // What the activation did is written on it afterwards; nothing else changes.
    let effect = t.record_kill_switch_effect(a.id, 3, 2, dec!(-6120.5)).await.unwrap();
    assert_eq!((effect.orders_cancelled, effect.positions_exited, effect.daily_pnl), (3, 2, Some(dec!(-6120.5))));
    let only_effect = format!(
        "kill switch event {}: only an activation's orders_cancelled, positions_exited, daily_pnl and (once) flattened_at can be written after it",
        a.id
    );
    for change in [
        "reason = 'nothing'",
        "action = 'DEACTIVATED'",
        "actor = 'ravi'",
        "created_at = xcoin_now() - interval '1 hour'",
    ] {
        assert_eq!(
            t.refused(&format!("UPDATE kill_switch_events SET {change} WHERE id = {}", a.id)).await,
            ("kill_switch_events_kept".into(), only_effect.clone()),
            "{change}"
        );
    }
    assert_eq!(
        t.refused(&format!("DELETE FROM kill_switch_events WHERE id = {}", a.id)).await,
        ("kill_switch_events_kept".into(), format!("kill switch event {} cannot be deleted: the record is kept", a.id))
    );

    let d = t.deactivate_kill_switch("re-arm", "asha").await.unwrap();
    assert_eq!(t.refused(deactivate).await, not_active);
    assert_eq!(
        t.refused(&format!("UPDATE kill_switch_events SET orders_cancelled = 1 WHERE id = {}", d.id)).await,
        (
            "kill_switch_events_kept".into(),
            format!(
                "kill switch event {}: only an activation's orders_cancelled, positions_exited, daily_pnl and (once) flattened_at can be written after it",
                d.id
            )
        )
    );
    // Alternating by hand is accepted, two rows of one statement included.
    t.sql(&format!("{activate}; {deactivate}")).await;
    let both = format!("{activate}, ('ACTIVATED', 'OPERATOR', 'again', 'asha')");
    let (constraint, _) = t.refused(&both).await;
    assert_eq!(constraint, "kill_switch_events_alternate");
    assert_eq!(t.kill_switch_events(10).await.unwrap().len(), 4);
    assert!(!t.kill_switch_state().await.unwrap().active);
}
