//! The engine on the paper exchange, against real PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use xcoin::alerts::{Alerter, Alerts, Policy, SendFuture};
use xcoin::broker::paper::{PaperBroker, PaperConfig};
use xcoin::broker::{Broker, BrokerError, BrokerEvent, BrokerFill, BrokerOrder, PlaceRequest};
use xcoin::config::Settings;
use xcoin::db::orders::OrderModification;
use xcoin::domain::command::{CommandStatus, KillSwitchTrigger, OperatorCommand};
use xcoin::domain::instrument;
use xcoin::domain::order::{BrokerKind, Exchange, OrderRequest, OrderStatus, OrderType, Product, Side, Validity};
use xcoin::domain::reconciliation::{IssueType, Resolution};
use xcoin::domain::strategy::TradingMode;
use xcoin::engine::{Engine, EngineConfig, EngineError};

pub fn paper(liquidity: i64) -> PaperBroker {
    PaperBroker::new(&instrument::built_in(), PaperConfig { liquidity_per_tick: liquidity, ..Default::default() })
        .unwrap()
}

pub fn config() -> EngineConfig {
    EngineConfig::from_settings(&Settings::default())
}

pub async fn engine_on(t: &TestDb, broker: PaperBroker) -> Engine<PaperBroker> {
    let mut e = Engine::start(t.db.clone(), broker, config()).await.unwrap();
    // Prices known to the engine, as the feed would deliver them.
    for symbol in ["INFY", "SBIN", "TCS", "ITC"] {
        let p = e.broker.last_price(symbol, Exchange::Nse).unwrap();
        e.broker.set_price(symbol, Exchange::Nse, p).unwrap();
    }
    e.drain_events().await.unwrap();
    e
}

/// A BUY with a stop 1 % under the last price and a 2:1 target, on tick.
pub fn buy(e: &Engine<PaperBroker>, symbol: &str, quantity: i64, order_type: OrderType) -> OrderRequest {
    buy_at(e.last_price(symbol, Exchange::Nse).unwrap(), symbol, quantity, order_type)
}

pub fn buy_at(last: Decimal, symbol: &str, quantity: i64, order_type: OrderType) -> OrderRequest {
    let tick = dec!(0.05);
    let on_tick = |v: Decimal| (v / tick).floor() * tick;
    let stop = on_tick(last * dec!(0.99));
    OrderRequest {
        strategy_id: 1,
        symbol: symbol.into(),
        exchange: Exchange::Nse,
        side: Side::Buy,
        order_type,
        product: Product::Mis,
        validity: Validity::Day,
        quantity,
        price: matches!(order_type, OrderType::Limit | OrderType::StopLoss).then_some(last),
        trigger_price: None,
        stop_loss: Some(stop),
        take_profit: Some(on_tick(last + (last - stop) * dec!(2)) + tick),
        parent_order_id: None,
        placed_by: "test".into(),
    }
}

/// Drains the engine's events until `done` holds (10 s at most).
pub async fn until<B: Broker>(e: &mut Engine<B>, what: &str, mut done: impl AsyncFnMut(&Engine<B>) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done(e).await {
        assert!(tokio::time::Instant::now() < deadline, "{what} within 10 s");
        e.drain_events().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn tick(e: &mut Engine<PaperBroker>, symbol: &str, price: Decimal) {
    e.broker.set_price(symbol, Exchange::Nse, price).unwrap();
    e.drain_events().await.unwrap();
}

#[tokio::test]
async fn the_engine_knows_every_price_from_the_start() {
    let t = test_db().await;
    let e = Engine::start(t.db.clone(), paper(500), config()).await.unwrap();
    for i in instrument::built_in() {
        assert_eq!(e.last_price(&i.symbol, i.exchange), Some(i.reference_price), "{}", i.symbol);
    }
}

#[tokio::test]
async fn a_market_order_lives_pending_submitted_open_filled() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    let req = buy(&e, "INFY", 10, OrderType::Market);
    let o = e.place_order(&req).await.unwrap();
    assert_eq!(o.status, OrderStatus::Submitted);
    assert!(o.broker_order_id.as_deref().unwrap().starts_with("PO"));
    assert!(o.risk_amount.unwrap() > Decimal::ZERO);
    e.drain_events().await.unwrap();
    assert_eq!(t.get_order(o.id).await.unwrap().status, OrderStatus::Open);

    tick(&mut e, "INFY", dec!(1512.30)).await;
    let filled = t.get_order(o.id).await.unwrap();
    assert_eq!(
        (filled.status, filled.filled_quantity, filled.average_price),
        (OrderStatus::Filled, 10, Some(dec!(1512.35)))
    );
    let history: Vec<_> = t.order_history(o.id).await.unwrap().iter().map(|h| h.status).collect();
    assert_eq!(history, vec![OrderStatus::Pending, OrderStatus::Submitted, OrderStatus::Open, OrderStatus::Filled]);
    let trades = t.trades_for_order(o.id).await.unwrap();
    assert_eq!(trades.len(), 1);
    assert_eq!(trades[0].charges.stamp_duty, dec!(0.453705), "0.003 % of 15,123.50");
    let p = &t.open_positions().await.unwrap()[0];
    assert_eq!((p.quantity(), p.average_price(), p.stop_loss), (10, dec!(1512.35), req.stop_loss));
}

#[tokio::test]
async fn limit_orders_fill_in_parts_and_sl_orders_trigger() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(100)).await;
    let mut req = buy(&e, "SBIN", 250, OrderType::Limit);
    req.price = Some(dec!(810.00));
    req.stop_loss = Some(dec!(805.00));
    req.take_profit = Some(dec!(820.00));
    let o = e.place_order(&req).await.unwrap();
    e.drain_events().await.unwrap();
    tick(&mut e, "SBIN", dec!(810.05)).await;
    assert_eq!(t.get_order(o.id).await.unwrap().filled_quantity, 0, "not through the limit yet");
    tick(&mut e, "SBIN", dec!(809.95)).await;
    let part = t.get_order(o.id).await.unwrap();
    assert_eq!((part.status, part.filled_quantity), (OrderStatus::PartiallyFilled, 100));
    tick(&mut e, "SBIN", dec!(809.90)).await;
    tick(&mut e, "SBIN", dec!(809.85)).await;
    let done = t.get_order(o.id).await.unwrap();
    assert_eq!((done.status, done.filled_quantity, done.average_price), (OrderStatus::Filled, 250, Some(dec!(810))));
    assert_eq!(t.trades_for_order(o.id).await.unwrap().len(), 3);
    let brokerage: Decimal = t.trades_for_order(o.id).await.unwrap().iter().map(|t| t.charges.brokerage).sum();
    assert_eq!(brokerage, dec!(20), "₹20 cap across the three fills of one order");

    // SL-M sell to exit part, and an SL buy to add, both trigger then fill.
    let mut slm = req.clone();
    slm.side = Side::Sell;
    slm.order_type = OrderType::StopLossMarket;
    slm.price = None;
    slm.trigger_price = Some(dec!(806.00));
    slm.quantity = 50;
    slm.stop_loss = None;
    slm.take_profit = None;
    let exit = e.place_order(&slm).await.unwrap();
    assert_eq!(exit.status, OrderStatus::Submitted, "an exit needs no stop of its own");
    tick(&mut e, "SBIN", dec!(807.00)).await;
    assert_eq!(t.get_order(exit.id).await.unwrap().status, OrderStatus::Open);
    tick(&mut e, "SBIN", dec!(805.95)).await;
    let exit = t.get_order(exit.id).await.unwrap();
    assert_eq!((exit.status, exit.average_price), (OrderStatus::Filled, Some(dec!(805.9))));
    assert_eq!(t.open_positions().await.unwrap()[0].quantity(), 200);
}

#[tokio::test]
async fn cancel_modify_and_the_cancel_after_fill_race() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    let mut req = buy(&e, "TCS", 5, OrderType::Limit);
    let last = e.last_price("TCS", Exchange::Nse).unwrap();
    req.price = Some(last - dec!(5));
    let o = e.place_order(&req).await.unwrap();
    e.drain_events().await.unwrap();

    let m = e
        .modify_order(o.id, OrderModification { quantity: Some(7), price: Some(last - dec!(6)), trigger_price: None })
        .await
        .unwrap();
    assert_eq!((m.quantity, m.price), (7, Some(last - dec!(6))));
    let err = e
        .modify_order(o.id, OrderModification { price: Some(last - dec!(6.02)), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), format!("price: {} is not on the 0.05 tick", last - dec!(6.02)));
    let broker_side = e
        .broker
        .orders()
        .await
        .unwrap()
        .into_iter()
        .find(|b| Some(&b.broker_order_id) == o.broker_order_id.as_ref())
        .unwrap();
    assert_eq!(broker_side.quantity, 7, "a refused change never reached the broker");

    let c = e.cancel_order(o.id).await.unwrap();
    assert_eq!(c.status, OrderStatus::Cancelled);
    assert_eq!(c.status_reason.as_deref(), Some("broker: cancelled on request"));

    // Filled at the exchange before the cancel arrives: the cancel fails, the fill stands.
    let f = e.place_order(&buy(&e, "TCS", 3, OrderType::Market)).await.unwrap();
    e.broker.step(); // the fill happens at the exchange ...
    let err = e.cancel_order(f.id).await.unwrap_err(); // ... before our cancel is processed
    assert_eq!(
        err.to_string(),
        format!("the broker rejected it: order {} is already FILLED", f.broker_order_id.unwrap())
    );
    e.drain_events().await.unwrap();
    assert_eq!(t.get_order(f.id).await.unwrap().status, OrderStatus::Filled);
    assert_eq!(e.cancel_order(f.id).await.unwrap_err().to_string(), format!("order {} is already FILLED", f.id));
}

#[tokio::test]
async fn a_fill_delivered_twice_changes_nothing() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    let mut rx = e.broker.subscribe();
    let o = e.place_order(&buy(&e, "ITC", 20, OrderType::Market)).await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    let fill = std::iter::from_fn(|| rx.try_recv().ok())
        .find_map(|ev| if let BrokerEvent::Fill(f) = ev { Some(f) } else { None })
        .unwrap();
    let before =
        (t.open_positions().await.unwrap(), t.trades_for_order(o.id).await.unwrap(), t.get_order(o.id).await.unwrap());
    assert!(!e.apply_fill(&fill).await.unwrap(), "the second delivery is a duplicate");
    e.catch_up().await.unwrap();
    let after =
        (t.open_positions().await.unwrap(), t.trades_for_order(o.id).await.unwrap(), t.get_order(o.id).await.unwrap());
    assert_eq!(before, after);
}

#[tokio::test]
async fn every_validator_rule_is_stored_on_the_rejected_order() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    let base = buy(&e, "INFY", 10, OrderType::Limit);
    let last = e.last_price("INFY", Exchange::Nse).unwrap();
    let cases: Vec<(OrderRequest, String)> = vec![
        (OrderRequest { stop_loss: None, ..base.clone() }, "stop loss: required on every position".into()),
        (OrderRequest { quantity: 1001, ..base.clone() }, "max position size: limit 1000 shares, order 1001".into()),
        (
            OrderRequest { price: Some(last + dec!(200)), ..base.clone() },
            format!("price sanity: price {} is more than 10% from the last price {last}", last + dec!(200)),
        ),
        (OrderRequest { quantity: 500, ..base.clone() }, "max risk per trade: limit ₹2000".into()),
        (
            OrderRequest { take_profit: Some(last + dec!(1)), ..base.clone() },
            "min reward:risk: limit 2:1, order ".into(),
        ),
    ];
    for (req, reason) in cases {
        let o = e.place_order(&req).await.unwrap();
        assert_eq!(o.status, OrderStatus::Rejected);
        let stored = o.status_reason.unwrap();
        assert!(stored.starts_with(&reason), "{stored} / {reason}");
        assert_eq!(o.broker_order_id, None, "a rejected order never reaches the broker");
    }
    assert!(e.broker.orders().await.unwrap().is_empty());
    // An instrument the broker does not quote.
    let unknown = e.place_order(&OrderRequest { symbol: "NOSUCH".into(), ..base.clone() }).await.unwrap();
    assert_eq!(unknown.status_reason.as_deref(), Some("unknown instrument: NSE:NOSUCH is not quoted by the broker"));
    // Bad shape: refused with the field named, nothing written.
    let err = e.place_order(&OrderRequest { symbol: "bad sym".into(), ..base }).await.unwrap_err();
    assert!(err.to_string().starts_with("symbol: `bad sym` is not a trading symbol"), "{err}");
    assert_eq!(t.today_orders().await.unwrap().len(), 6);
}

#[tokio::test]
async fn the_kill_switch_cancels_exits_blocks_and_rearms() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    let held = e.place_order(&buy(&e, "INFY", 10, OrderType::Market)).await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    let mut resting = buy(&e, "SBIN", 10, OrderType::Limit);
    resting.price = Some(resting.price.unwrap() - dec!(2));
    let resting = e.place_order(&resting).await.unwrap();
    e.drain_events().await.unwrap();

    let started = std::time::Instant::now();
    let event = e.activate_kill_switch(KillSwitchTrigger::Operator, "fat finger on TCS", "asha").await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    assert_eq!((event.orders_cancelled, event.positions_exited), (1, 1));
    assert_eq!(t.get_order(resting.id).await.unwrap().status, OrderStatus::Cancelled);
    assert!(t.kill_switch_state().await.unwrap().active);
    e.broker.step();
    e.drain_events().await.unwrap();
    assert!(t.open_positions().await.unwrap().is_empty(), "position of order {} exited", held.id);

    let blocked = e.place_order(&buy(&e, "TCS", 1, OrderType::Market)).await.unwrap();
    assert_eq!(blocked.status_reason.as_deref(), Some("kill switch: active; re-arm it before new orders"));
    assert!(
        e.activate_kill_switch(KillSwitchTrigger::Operator, "again", "ravi")
            .await
            .unwrap_err()
            .to_string()
            .starts_with("the kill switch is already active (since ")
    );

    e.rearm_kill_switch("reviewed with risk", "asha").await.unwrap();
    assert_eq!(e.place_order(&buy(&e, "TCS", 1, OrderType::Market)).await.unwrap().status, OrderStatus::Submitted);
}

#[tokio::test]
async fn stops_targets_and_the_daily_loss_limit_act_on_their_own() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(1000)).await;
    // The monitor's own stop rule, as a desk without resting stops has it
    // (and every desk while its resting stop is refused or ended).
    e.cfg.limits.stop_at_exchange = false;
    let req = buy(&e, "INFY", 100, OrderType::Market);
    e.place_order(&req).await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    assert!(t.active_orders().await.unwrap().is_empty(), "no stop rests");
    let stop = req.stop_loss.unwrap();
    tick(&mut e, "INFY", stop).await;
    e.monitor_risk().await;
    let exits: Vec<_> = t.active_orders().await.unwrap();
    assert_eq!(exits.len(), 1);
    assert_eq!((exits[0].side, exits[0].placed_by.as_str(), exits[0].quantity), (Side::Sell, "risk-monitor", 100));
    e.monitor_risk().await;
    assert_eq!(t.active_orders().await.unwrap().len(), 1, "one exit, not one per cycle");
    tick(&mut e, "INFY", stop - dec!(0.5)).await;
    assert!(t.open_positions().await.unwrap().is_empty());
    e.cfg.limits.stop_at_exchange = true;

    // A loss beyond 6 % of capital today: the kill switch trips by itself.
    let mut big = buy(&e, "TCS", 600, OrderType::Market);
    let last = e.last_price("TCS", Exchange::Nse).unwrap();
    big.stop_loss = Some(last - dec!(3));
    big.take_profit = None;
    e.place_order(&big).await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    t.update_position_levels(t.open_positions().await.unwrap()[0].id, None, None).await.unwrap();
    tick(&mut e, "TCS", last - dec!(12)).await;
    e.monitor_risk().await;
    assert!(e.kill_switch_active().await.unwrap());
    let events = t.kill_switch_events(1).await.unwrap();
    assert_eq!(events[0].trigger, KillSwitchTrigger::DailyLoss);
    assert!(events[0].reason.starts_with("daily loss ₹"), "{}", events[0].reason);
}

#[tokio::test]
async fn reconciliation_logs_each_mismatch_once_and_resolves_by_command() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    e.place_order(&buy(&e, "INFY", 10, OrderType::Market)).await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    assert!(e.reconcile_positions().await.unwrap().is_empty(), "local equals broker when nothing external happened");

    e.broker.apply_external_trade("SBIN", Exchange::Nse, Product::Mis, Side::Buy, 25, dec!(812.45)).unwrap();
    e.broker.apply_external_trade("INFY", Exchange::Nse, Product::Mis, Side::Buy, 5, dec!(1512.30)).unwrap();
    let first = e.reconcile_positions().await.unwrap();
    let kinds: Vec<_> = first.iter().map(|i| (i.symbol.as_str(), i.issue_type)).collect();
    assert_eq!(kinds, vec![("INFY", IssueType::QuantityMismatch), ("SBIN", IssueType::MissingLocal)]);
    let second = e.reconcile_positions().await.unwrap();
    assert_eq!(
        second.iter().map(|i| (i.id, i.seen_count)).collect::<Vec<_>>(),
        first.iter().map(|i| (i.id, 2)).collect::<Vec<_>>()
    );

    let accept = t
        .enqueue_command(
            &OperatorCommand::ResolveReconciliation {
                issue_id: first[1].id,
                resolution: Resolution::AcceptBroker,
                note: Some("bought on Kite web".into()),
            },
            "asha",
        )
        .await
        .unwrap();
    let keep = t
        .enqueue_command(
            &OperatorCommand::ResolveReconciliation {
                issue_id: first[0].id,
                resolution: Resolution::KeepLocal,
                note: None,
            },
            "asha",
        )
        .await
        .unwrap();
    e.process_commands().await;
    let done = t.get_command(accept.id).await.unwrap();
    assert_eq!(
        (done.status, done.result.as_deref()),
        (CommandStatus::Done, Some(format!("issue {} SBIN resolved: ACCEPT_BROKER", first[1].id).as_str()))
    );
    assert_eq!(t.get_command(keep.id).await.unwrap().status, CommandStatus::Done);
    let sbin = t.find_open_positions("SBIN", Exchange::Nse, None).await.unwrap();
    assert_eq!((sbin[0].quantity(), sbin[0].average_price()), (25, dec!(812.45)));
    let issue = t.get_issue(first[1].id).await.unwrap();
    assert_eq!(issue.adjustment.unwrap()["after"]["quantity"], 25);
    assert_eq!(issue.resolution_note.as_deref(), Some("bought on Kite web"));

    let third = e.reconcile_positions().await.unwrap();
    assert_eq!(
        third.iter().map(|i| (i.id, i.issue_type, i.status)).collect::<Vec<_>>(),
        vec![(first[0].id, IssueType::QuantityMismatch, xcoin::domain::reconciliation::IssueStatus::Resolved)],
        "SBIN now agrees; INFY was kept local and is the same mismatch, so it stays resolved"
    );
    assert!(t.unresolved_issues().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_broker_query_skips_the_cycle_instead_of_reading_flat() {
    let t = test_db().await;
    let broker = StandIn::new(paper(500), BrokerKind::Paper);
    let mut e = Engine::start(t.db.clone(), broker.clone(), config()).await.unwrap();
    t.create_position(&mis_position("INFY", 10, dec!(1500))).await.unwrap();
    broker.fail_with(Some(BrokerError::Unavailable("timed out".into())));
    let err = e.reconcile_positions().await.unwrap_err();
    assert_eq!(err.to_string(), "the broker did not answer: timed out");
    assert!(t.unresolved_issues().await.unwrap().is_empty(), "no MISSING_AT_BROKER from missing data");
    broker.fail_with(None);
    assert_eq!(e.reconcile_positions().await.unwrap()[0].issue_type, IssueType::MissingAtBroker);
}

#[tokio::test]
async fn two_engines_cannot_trade_one_database() {
    let t = test_db().await;
    let mut first = engine_on(&t, paper(500)).await;
    let err = Engine::start(t.db.clone(), paper(500), config()).await.err().unwrap();
    assert!(matches!(err, EngineError::Lock(_)));
    let text = err.to_string();
    assert!(text.starts_with("another engine is already trading this database: server pid "), "{text}");
    assert!(text.contains("(xcoin engine, from "), "{text}");

    // Losing the lock connection stops trading until the lock is held again.
    let pid = first.lock_backend_pid().await.unwrap();
    // Waits (up to 5 s) until the backend has exited and so released the lock:
    // until then nobody could take it, and the check below would race it.
    let gone: bool =
        sqlx::query_scalar("SELECT pg_terminate_backend($1, 5000)").bind(pid).fetch_one(t.pool()).await.unwrap();
    assert!(gone);
    let req = buy(&first, "INFY", 1, OrderType::Market);
    // The next check notices, and (nobody else holding it) takes the lock back.
    assert!(first.check_lock().await);
    assert_eq!(first.place_order(&req).await.unwrap().status, OrderStatus::Submitted);
}

#[tokio::test]
async fn a_crash_between_persist_and_send_leaves_no_duplicate_after_restart() {
    let t = test_db().await;
    let broker = paper(500);
    // Crash 1: persisted PENDING, never sent.
    let lost =
        t.create_order(&market("INFY", Side::Buy, 5), BrokerKind::Paper, TICK, Some(dec!(1512.30))).await.unwrap();
    // Crash 2: sent (the broker has it under our tag) and filled, but the engine
    // died before storing SUBMITTED.
    let sent =
        t.create_order(&market("SBIN", Side::Buy, 8), BrokerKind::Paper, TICK, Some(dec!(812.45))).await.unwrap();
    broker.place(&PlaceRequest::from(&sent)).await.unwrap();
    broker.step();

    let mut e = Engine::start(t.db.clone(), broker.clone(), config()).await.unwrap();
    let lost = t.get_order(lost.id).await.unwrap();
    assert_eq!(lost.status, OrderStatus::Cancelled);
    assert_eq!(lost.status_reason.as_deref(), Some("not found at the broker; cancelled rather than sent again"));
    let sent = t.get_order(sent.id).await.unwrap();
    assert_eq!((sent.status, sent.filled_quantity), (OrderStatus::Filled, 8));
    assert_eq!(broker.orders().await.unwrap().len(), 1, "nothing was sent twice");
    e.drain_events().await.unwrap();
    assert!(e.reconcile_positions().await.unwrap().is_empty(), "local equals broker after start-up");
}

#[tokio::test]
async fn commands_run_in_the_engine_loop_and_report_results() {
    let t = test_db().await;
    let e = engine_on(&t, paper(500)).await;
    let req = buy(&e, "INFY", 2, OrderType::Market);
    let broker = e.broker.clone();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(e.run(stopped));

    let place = t.enqueue_command(&OperatorCommand::PlaceOrder(req), "asha").await.unwrap();
    let cancel = t.enqueue_command(&OperatorCommand::CancelOrder { order_id: 999 }, "asha").await.unwrap();
    let wait = |id: i64| {
        let db = t.db.clone();
        async move {
            let mut feed = xcoin::db::changes::ChangeFeed::changes(&db).await.unwrap();
            loop {
                let c = db.get_command(id).await.unwrap();
                if matches!(c.status, CommandStatus::Done | CommandStatus::Failed) {
                    return c;
                }
                feed.next_timeout(Duration::from_secs(10)).await.expect("the engine answers within 10 s");
            }
        }
    };
    let placed = wait(place.id).await;
    assert_eq!(placed.status, CommandStatus::Done, "{:?}", placed.result);
    assert!(
        placed.result.as_deref().unwrap().contains(" SUBMITTED BUY 2 INFY MARKET (broker PO"),
        "{:?}",
        placed.result
    );
    let failed = wait(cancel.id).await;
    assert_eq!((failed.status, failed.result.as_deref()), (CommandStatus::Failed, Some("order 999 does not exist")));
    let placed_by = t.today_orders().await.unwrap()[0].placed_by.clone();
    assert_eq!(placed_by, "asha", "an operator's order records the operator");

    broker.step();
    let kill = t.enqueue_command(&OperatorCommand::KillSwitchOn { reason: "test".into() }, "asha").await.unwrap();
    let killed = wait(kill.id).await;
    assert!(
        killed.result.as_deref().unwrap().starts_with("kill switch ACTIVE: 0 orders cancelled, 1 position exited"),
        "{:?}",
        killed.result
    );
    stop.send(true).unwrap();
    running.await.unwrap().unwrap();
}

#[tokio::test]
async fn mis_positions_are_squared_off_once_at_the_configured_time() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    e.cfg.square_off_time = Some(chrono::NaiveTime::from_hms_opt(15, 15, 0).unwrap());
    e.place_order(&buy(&e, "INFY", 4, OrderType::Market)).await.unwrap();
    let mut cnc = buy(&e, "SBIN", 3, OrderType::Market);
    cnc.product = Product::Cnc;
    e.place_order(&cnc).await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    let mut resting = buy(&e, "TCS", 1, OrderType::Limit);
    resting.price = Some(resting.price.unwrap() - dec!(1));
    let resting = e.place_order(&resting).await.unwrap();

    let at = |hm: &str| {
        chrono::DateTime::parse_from_rfc3339(&format!("2026-11-25T{hm}:00+05:30")).unwrap().with_timezone(&chrono::Utc)
    };
    e.square_off_if_due(at("15:14")).await.unwrap();
    assert!(t.active_orders().await.unwrap().iter().all(|o| o.placed_by != "square-off"), "not before 15:15");
    e.square_off_if_due(at("15:15")).await.unwrap();
    let active = t.active_orders().await.unwrap();
    let exits: Vec<_> = active.iter().filter(|o| o.placed_by == "square-off").collect();
    assert_eq!(
        exits.iter().map(|o| (o.symbol.as_str(), o.side, o.quantity)).collect::<Vec<_>>(),
        vec![("INFY", Side::Sell, 4)],
        "MIS only; CNC stays"
    );
    assert_eq!(
        t.get_order(resting.id).await.unwrap().status,
        OrderStatus::Cancelled,
        "working MIS orders are cancelled"
    );
    e.square_off_if_due(at("15:20")).await.unwrap();
    assert_eq!(t.active_orders().await.unwrap().len(), active.len(), "once a day");
}

/// Random sequences of orders, partial fills, cancels and price moves: the
/// positions always equal a recomputation from the trades, and with nothing
/// done outside XCoin the local book equals the broker's.
#[tokio::test]
async fn random_sessions_keep_positions_equal_to_trades_and_local_equal_to_broker() {
    for seed in [3u64, 11, 29] {
        let t = test_db().await;
        let mut e = engine_on(&t, paper(40)).await;
        // Faster than any desk: the order-rate rule is tested on its own.
        e.cfg.limits.max_orders_per_second = 10_000;
        let mut rng = Lcg(seed);
        let symbols = ["INFY", "SBIN", "ITC"];
        for _ in 0..80 {
            let symbol = symbols[rng.below(3) as usize];
            match rng.below(10) {
                0..=3 => {
                    let mut req = buy(
                        &e,
                        symbol,
                        1 + rng.below(60) as i64,
                        if rng.below(2) == 0 { OrderType::Market } else { OrderType::Limit },
                    );
                    if rng.below(2) == 0 {
                        // The mirror image: a sell with its stop above and target below.
                        let last = e.last_price(symbol, Exchange::Nse).unwrap();
                        req.side = Side::Sell;
                        req.stop_loss = Some(last + (last - req.stop_loss.unwrap()));
                        req.take_profit = Some(last - (req.take_profit.unwrap() - last));
                    }
                    e.place_order(&req).await.unwrap();
                }
                4 => {
                    let active = t.active_orders().await.unwrap();
                    if !active.is_empty() {
                        let o = &active[rng.below(active.len() as u64) as usize];
                        let _ = e.cancel_order(o.id).await; // may lose the race to a fill
                    }
                }
                5 => {
                    let last = e.last_price(symbol, Exchange::Nse).unwrap();
                    let moved = last + Decimal::from(rng.below(41) as i64 - 20) * dec!(0.05);
                    tick(&mut e, symbol, moved).await;
                }
                _ => {
                    e.broker.step();
                    e.drain_events().await.unwrap();
                }
            }
        }
        for _ in 0..30 {
            e.broker.step();
        }
        e.drain_events().await.unwrap();

        for symbol in symbols {
            let (net, realized): (Option<Decimal>, Option<Decimal>) = sqlx::query_as(
                "SELECT sum(CASE WHEN side = 'BUY' THEN quantity ELSE -quantity END)::numeric, sum(realized_pnl) FROM trades WHERE symbol = $1",
            )
            .bind(symbol)
            .fetch_one(t.pool())
            .await
            .unwrap();
            let positions: Vec<(i64, Decimal)> =
                sqlx::query_as("SELECT quantity, realized_pnl FROM positions WHERE symbol = $1")
                    .bind(symbol)
                    .fetch_all(t.pool())
                    .await
                    .unwrap();
            let qty: i64 = positions.iter().map(|p| p.0).sum();
            let pos_realized: Decimal = positions.iter().map(|p| p.1).sum();
            assert_eq!(Decimal::from(qty), net.unwrap_or_default(), "seed {seed} {symbol}: quantity");
            assert_eq!(pos_realized, realized.unwrap_or_default(), "seed {seed} {symbol}: realised P&L");
        }
        let (trades, cancelled, partial): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM trades), (SELECT count(*) FROM orders WHERE status = 'CANCELLED'),
                    (SELECT count(*) FROM orders WHERE id IN (SELECT order_id FROM trades GROUP BY order_id HAVING count(*) > 1))",
        )
        .fetch_one(t.pool())
        .await
        .unwrap();
        eprintln!("seed {seed}: {trades} trades, {cancelled} cancelled orders, {partial} orders filled in parts");
        assert!(
            trades >= 10 && cancelled >= 1 && partial >= 1,
            "seed {seed}: the session exercised fills, cancels and partial fills"
        );
        assert!(e.reconcile_positions().await.unwrap().is_empty(), "seed {seed}: local equals broker");
        // The acknowledgements of the stops the reconciliation rested.
        e.drain_events().await.unwrap();
        let book = e.broker.orders().await.unwrap();
        for local in t.today_orders().await.unwrap() {
            let Some(id) = &local.broker_order_id else {
                assert_eq!(
                    local.status,
                    OrderStatus::Rejected,
                    "seed {seed}: only rejected orders never reach the broker"
                );
                continue;
            };
            let remote = book.iter().find(|b| &b.broker_order_id == id).unwrap();
            assert_eq!(
                (local.status, local.filled_quantity),
                (remote.status, remote.filled_quantity),
                "seed {seed}: order {}",
                local.id
            );
        }
    }
}

#[tokio::test]
async fn the_order_rate_limit_rejects_the_eleventh_order_in_a_second() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    let req = buy(&e, "ITC", 1, OrderType::Limit);
    let started = std::time::Instant::now();
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(e.place_order(&req).await.unwrap());
    }
    assert!(started.elapsed() < Duration::from_secs(1), "the eleven orders went out within a second");
    assert!(statuses[..10].iter().all(|o| o.status == OrderStatus::Submitted));
    assert_eq!(statuses[10].status_reason.as_deref(), Some("order rate: limit 10 per second, 10 in the last second"));
}

#[tokio::test]
async fn price_mismatches_and_positions_missing_at_the_broker_resolve_by_accepting_the_broker() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    e.place_order(&buy(&e, "INFY", 10, OrderType::Market)).await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    let infy = t.open_positions().await.unwrap()[0].clone();
    // A local average that drifted from the broker's by more than 0.1 %.
    t.sql(&format!("UPDATE positions SET average_price = average_price + 5 WHERE id = {}", infy.id)).await;
    // A local position the broker never had.
    let ghost = t.create_position(&mis_position("ITC", -40, dec!(412.85))).await.unwrap();
    let found = e.reconcile_positions().await.unwrap();
    assert_eq!(
        found.iter().map(|i| (i.symbol.as_str(), i.issue_type)).collect::<Vec<_>>(),
        vec![("INFY", IssueType::PriceMismatch), ("ITC", IssueType::MissingAtBroker)]
    );
    assert_eq!(found[1].position_id, Some(ghost.id));

    for issue in &found {
        e.resolve_issue(issue.id, Resolution::AcceptBroker, "ravi", None).await.unwrap();
    }
    assert_eq!(
        t.get_position(infy.id).await.unwrap().average_price(),
        infy.average_price(),
        "the broker's average is taken"
    );
    let ghost = t.get_position(ghost.id).await.unwrap();
    assert_eq!((ghost.quantity(), ghost.status), (0, xcoin::domain::position::PositionStatus::Closed));
    let adjustment = t.get_issue(found[1].id).await.unwrap().adjustment.unwrap();
    assert_eq!(
        adjustment,
        serde_json::json!({ "before": { "quantity": -40, "average_price": "412.85" }, "after": null })
    );
    assert!(e.reconcile_positions().await.unwrap().is_empty());
    assert_eq!(
        e.resolve_issue(found[0].id, Resolution::Ignore, "ravi", None).await.unwrap_err().to_string(),
        format!("reconciliation issue {} is already resolved (ACCEPT_BROKER by ravi)", found[0].id)
    );
}

#[tokio::test]
async fn cancelling_a_pending_order_looks_for_it_at_the_broker_first() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    let never_sent = t.create_order(&market("INFY", Side::Buy, 1), BrokerKind::Paper, TICK, None).await.unwrap();
    let c = e.cancel_order(never_sent.id).await.unwrap();
    assert_eq!(
        (c.status, c.status_reason.as_deref()),
        (OrderStatus::Cancelled, Some("not found at the broker; cancelled rather than sent again"))
    );

    // Sent, but the acknowledgement was never stored: found by its tag and cancelled there.
    let mut resting = buy(&e, "SBIN", 1, OrderType::Limit);
    resting.price = Some(resting.price.unwrap() - dec!(3));
    let sent = t.create_order(&resting, BrokerKind::Paper, TICK, None).await.unwrap();
    let broker_id = e.broker.place(&PlaceRequest::from(&sent)).await.unwrap();
    let c = e.cancel_order(sent.id).await.unwrap();
    assert_eq!((c.status, c.broker_order_id.as_deref()), (OrderStatus::Cancelled, Some(broker_id.as_str())));
    let at_broker = e.broker.orders().await.unwrap().into_iter().find(|o| o.broker_order_id == broker_id).unwrap();
    assert_eq!(at_broker.status, OrderStatus::Cancelled, "cancelled at the broker, not just locally");
}

/// Broker events that cannot be true — a fill for an order that is not ours,
/// a fill of nothing, more filled than ordered, a status going backwards —
/// are logged and skipped: nothing is written and the engine goes on.
#[tokio::test]
async fn malformed_broker_events_are_skipped_and_the_engine_goes_on() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    let o = e.place_order(&buy(&e, "INFY", 10, OrderType::Limit)).await.unwrap();
    e.drain_events().await.unwrap();
    let o = t.get_order(o.id).await.unwrap();
    assert_eq!(o.status, OrderStatus::Open);
    let id = o.broker_order_id.clone().unwrap();
    let fill = |broker_order_id: &str, trade_id: &str, quantity: i64| BrokerFill {
        broker_order_id: broker_order_id.into(),
        trade_id: trade_id.into(),
        symbol: "INFY".into(),
        exchange: Exchange::Nse,
        side: Side::Buy,
        product: Product::Mis,
        quantity,
        price: o.price.unwrap(),
        at: xcoin::domain::clock::now(),
    };
    let backwards = BrokerOrder {
        broker_order_id: id.clone(),
        tag: Some(o.client_tag()),
        symbol: "INFY".into(),
        exchange: Exchange::Nse,
        side: Side::Buy,
        order_type: OrderType::Limit,
        product: Product::Mis,
        validity: Validity::Day,
        quantity: 10,
        filled_quantity: 0,
        average_price: None,
        price: o.price,
        trigger_price: None,
        status: OrderStatus::Submitted,
        trigger_pending: Some(false),
        message: None,
        updated_at: xcoin::domain::clock::now(),
    };
    for event in [
        BrokerEvent::Fill(fill("NOT-OURS-1", "T-1", 5)),
        BrokerEvent::Fill(fill(&id, "T-2", 0)),
        BrokerEvent::Fill(fill(&id, "T-3", -4)),
        BrokerEvent::Fill(fill(&id, "T-4", 11)),
        BrokerEvent::Order(backwards),
    ] {
        e.handle_event(event).await;
    }
    assert_eq!(t.get_order(o.id).await.unwrap(), o, "the order is as it was");
    assert!(t.today_trades().await.unwrap().is_empty() && t.open_positions().await.unwrap().is_empty());
    assert!(e.trading_enabled(), "nothing here stops trading");

    // A true fill afterwards is recorded as usual.
    e.handle_event(BrokerEvent::Fill(fill(&id, "T-5", 4))).await;
    let after = t.get_order(o.id).await.unwrap();
    assert_eq!((after.status, after.filled_quantity), (OrderStatus::PartiallyFilled, 4));
    assert_eq!(t.open_positions().await.unwrap()[0].quantity(), 4);
}

/// A channel that keeps what it is asked to send.
#[derive(Default)]
struct Inbox(std::sync::Mutex<Vec<String>>);

impl Alerter for Inbox {
    fn name(&self) -> &'static str {
        "inbox"
    }
    fn destination(&self) -> String {
        "this test".into()
    }
    fn send<'a>(&'a self, _subject: &'a str, text: &'a str) -> SendFuture<'a> {
        Box::pin(async move {
            self.0.lock().unwrap().push(text.to_string());
            Ok(())
        })
    }
}

impl Inbox {
    /// The messages once `n` have arrived (10 s at most), and a moment
    /// more so that one too many would show.
    async fn read(&self, n: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.0.lock().unwrap().len() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.0.lock().unwrap().clone()
    }
}

/// The desk hears of what the engine does on its own: the kill switch, a
/// broker refusal, a reconciliation issue, the day's loss nearing its limit,
/// the broker going away and the session expiring (which stops trading).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_raises_an_alert_for_each_thing_the_desk_must_hear() {
    let t = test_db().await;
    let broker = StandIn::new(paper(500), BrokerKind::Paper);
    let mut e = Engine::start(t.db.clone(), broker.clone(), config()).await.unwrap();
    let inbox = Arc::new(Inbox::default());
    e.alerts = Alerts::start(vec![inbox.clone()], Policy::default(), TradingMode::Paper);
    let last = e.broker.inner.last_price("INFY", Exchange::Nse).unwrap();
    e.broker.inner.set_price("INFY", Exchange::Nse, last).unwrap();
    e.drain_events().await.unwrap();

    let req = buy_at(last, "INFY", 10, OrderType::Limit);
    broker.fail_with(Some(BrokerError::Rejected("RMS: margin exceeds the available ₹0.00".into())));
    let rejected = e.place_order(&req).await.unwrap();
    assert_eq!(rejected.status, OrderStatus::Rejected);
    broker.fail_with(None);

    e.activate_kill_switch(KillSwitchTrigger::Operator, "desk check", "asha").await.unwrap();
    e.rearm_kill_switch("all clear", "asha").await.unwrap();

    e.broker.inner.apply_external_trade("SBIN", Exchange::Nse, Product::Cnc, Side::Buy, 7, dec!(800)).unwrap();
    let issues = e.reconcile_positions().await.unwrap();

    let limit = e.cfg.limits.max_daily_loss();
    for loss in [limit * dec!(0.3), limit * dec!(0.5), limit * dec!(0.6), limit * dec!(0.85), limit * dec!(0.9)] {
        e.alert_daily_loss(loss);
    }

    broker.fail_with(Some(BrokerError::Unavailable("connect timeout".into())));
    let unavailable = |r: Result<_, EngineError>| {
        assert!(matches!(&r, Err(EngineError::Broker(BrokerError::Unavailable(w))) if w == "connect timeout"), "{r:?}")
    };
    unavailable(e.reconcile_positions().await);
    unavailable(e.reconcile_positions().await); // said once, not on every cycle (the inbox below)
    broker.fail_with(Some(BrokerError::Session("Incorrect `api_key` or `access_token`.".into())));
    let expired = e.reconcile_positions().await;
    assert!(matches!(&expired, Err(EngineError::Broker(BrokerError::Session(_)))), "{expired:?}");
    assert!(e.session_expired() && !e.trading_enabled(), "an expired session stops trading");
    let refused = e.place_order(&req).await.unwrap_err();
    assert!(refused.to_string().contains("no orders"), "{refused}");

    let got = inbox.read(8).await;
    let limit = xcoin::domain::money::rupees(limit);
    assert_eq!(
        got,
        vec![
            format!("XCoin PAPER: Order {} rejected by the broker\n{}: the broker rejected it: RMS: margin exceeds the available ₹0.00", rejected.id, rejected.describe()),
            "XCoin PAPER: KILL SWITCH ACTIVATED\ndesk check (OPERATOR, by asha). New orders are blocked; working orders were cancelled.".to_string(),
            "XCoin PAPER: Kill switch re-armed\nTrading is allowed again: all clear (by asha).".to_string(),
            format!(
                "XCoin PAPER: Reconciliation: MISSING_LOCAL NSE:SBIN CNC\nIssue {}: {}. Resolve it in the console's Reconciliation tab.",
                issues[0].id, issues[0].details
            ),
            format!("XCoin PAPER: Daily loss at 50 % of the limit\nToday's loss is {} of the {limit} limit; the kill switch trips at 100 %.", xcoin::domain::money::rupees(e.cfg.limits.max_daily_loss() * dec!(0.5))),
            format!("XCoin PAPER: Daily loss at 80 % of the limit\nToday's loss is {} of the {limit} limit; the kill switch trips at 100 %.", xcoin::domain::money::rupees(e.cfg.limits.max_daily_loss() * dec!(0.85))),
            "XCoin PAPER: Engine lost the broker\nthe broker did not answer: connect timeout".to_string(),
            "XCoin PAPER: Kite session expired: trading stopped\nIncorrect `api_key` or `access_token`. Log in again with `xcoin kite login`, then restart the engine.".to_string(),
        ]
    );
}

#[tokio::test]
async fn prices_are_checked_and_filled_on_each_instruments_own_tick() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    // WIPRO trades below ₹250: its tick is ₹0.01, as NSE's and the instrument list say.
    let mut req = buy_at(dec!(248.65), "WIPRO", 10, OrderType::Limit);
    req.price = Some(dec!(248.63));
    req.stop_loss = Some(dec!(246.17));
    req.take_profit = Some(dec!(253.57));
    let o = e.place_order(&req).await.unwrap();
    assert_eq!(o.status, OrderStatus::Submitted, "{:?}", o.status_reason);
    e.drain_events().await.unwrap();
    let moved = e.modify_order(o.id, OrderModification { price: Some(dec!(248.61)), ..Default::default() });
    assert_eq!(moved.await.unwrap().price, Some(dec!(248.61)));
    // INFY stays on ₹0.05.
    let mut infy = buy(&e, "INFY", 1, OrderType::Limit);
    infy.price = infy.price.map(|p| p - dec!(0.02));
    let refused = e.place_order(&infy).await.unwrap_err();
    assert!(refused.to_string().ends_with("is not on the 0.05 tick"), "{refused}");
}

/// BUY 2 TCS LIMIT ₹5 under the market: OPEN, resting.
async fn resting_tcs(e: &mut Engine<PaperBroker>) -> xcoin::domain::order::Order {
    let o = e.place_order(&resting_tcs_request(e, 2)).await.unwrap();
    e.drain_events().await.unwrap();
    o
}

/// BUY `quantity` TCS LIMIT ₹5 under the market.
fn resting_tcs_request(e: &Engine<PaperBroker>, quantity: i64) -> OrderRequest {
    let mut req = buy(e, "TCS", quantity, OrderType::Limit);
    req.price = req.price.map(|p| p - dec!(5));
    req
}

#[tokio::test]
async fn every_placement_sent_to_the_broker_is_counted_for_the_day() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    let o = resting_tcs(&mut e).await;
    e.modify_order(o.id, OrderModification { quantity: Some(3), ..Default::default() }).await.unwrap();
    e.cancel_order(o.id).await.unwrap();
    // A modification the validator refuses never reaches the broker: not counted.
    let refused = e.place_order(&buy(&e, "TCS", 1, OrderType::Limit)).await.unwrap();
    e.drain_events().await.unwrap();
    let _ = e.modify_order(refused.id, OrderModification { quantity: Some(1_000_000), ..Default::default() }).await;
    // Kite counts placements toward its daily limit, not modifications or cancellations.
    assert_eq!(t.broker_writes_today().await.unwrap(), 2, "place, place");
    let stats = t.daily_stats(xcoin::domain::calendar::MarketCalendar::default().today()).await.unwrap().unwrap();
    assert_eq!(stats.broker_writes, 2);
    // The day's figures are recomputed without losing the count.
    assert_eq!(t.update_daily_stats().await.unwrap().broker_writes, 2);
}

#[tokio::test]
async fn a_working_order_the_broker_does_not_show_is_an_issue_the_operator_resolves() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    let o = resting_tcs(&mut e).await;
    assert!(e.reconcile_positions().await.unwrap().is_empty(), "just sent and in the book: nothing to say");

    // The broker's book no longer lists it (gone there, or in a status the
    // mapping cannot read), well after it was sent.
    t.sql(&format!(
        "UPDATE orders SET broker_order_id = 'PO-GONE', submitted_at = xcoin_now() - interval '1 minute' WHERE id = {}",
        o.id
    ))
    .await;
    let found = e.reconcile_positions().await.unwrap();
    assert_eq!(found.len(), 1);
    let issue = &found[0];
    assert_eq!(
        (issue.issue_type, issue.order_id, issue.local_quantity),
        (IssueType::OrderMissingAtBroker, Some(o.id), Some(2))
    );
    assert!(
        issue.details.starts_with(&format!(
            "order {} (BUY 2 TCS LIMIT, broker id PO-GONE) is OPEN here but not in the broker's book",
            o.id
        )),
        "{}",
        issue.details
    );
    assert_eq!(e.reconcile_positions().await.unwrap()[0].seen_count, 2, "the same order: the same issue, counted");

    let accepted = e.resolve_issue(issue.id, Resolution::AcceptBroker, "asha", Some("gone on Kite")).await.unwrap();
    assert_eq!(accepted.resolution, Some(Resolution::AcceptBroker));
    let cancelled = t.get_order(o.id).await.unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert_eq!(
        cancelled.status_reason.as_deref(),
        Some(format!("not in the broker's book; cancelled locally by asha (issue {})", issue.id).as_str())
    );
    assert!(e.reconcile_positions().await.unwrap().is_empty(), "a cancelled order is not working: settled");
}

#[tokio::test]
async fn the_paper_exchange_keeps_funds_and_refuses_an_order_the_free_margin_does_not_cover_as_kite_does() {
    use xcoin::domain::funds::Funds;
    let t = test_db().await;
    let broker = PaperBroker::new(
        &instrument::built_in(),
        PaperConfig { liquidity_per_tick: 1000, capital: Some(dec!(100000)), ..PaperConfig::default() },
    )
    .unwrap();
    let mut e = engine_on(&t, broker).await;
    // 100 INFY intraday: a fifth of the value is blocked.
    let mis = e.place_order(&buy(&e, "INFY", 100, OrderType::Market)).await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    let filled = t.get_order(mis.id).await.unwrap();
    assert_eq!(filled.status, OrderStatus::Filled);
    let avg = filled.average_price.unwrap();
    // The fill read the funds (the validator uses them at once); the next
    // risk cycle writes them for the consoles.
    assert_eq!(t.today_funds().await.unwrap(), None, "not written on the fill's path");
    e.monitor_risk().await;
    let (funds, _) = t.today_funds().await.unwrap().expect("the risk cycle wrote the fill's funds");
    let used = avg * dec!(100) / dec!(5);
    let unrealised = (e.last_price("INFY", Exchange::Nse).unwrap() - avg) * dec!(100);
    assert_eq!(
        funds,
        Funds {
            opening_balance: dec!(100000),
            cash: dec!(100000),
            used_margin: used,
            m2m_realised: dec!(0),
            m2m_unrealised: unrealised,
            available_margin: dec!(100000) + unrealised.min(dec!(0)) - used,
        }
    );

    // The same 100 for delivery needs their whole value: more than is free.
    // The pre-trade check refuses it with the figures, before it is sent.
    let cnc = OrderRequest { product: Product::Cnc, ..buy(&e, "INFY", 100, OrderType::Market) };
    let at_broker = e.broker.orders().await.unwrap().len();
    let refused = e.place_order(&cnc).await.unwrap();
    assert_eq!(refused.status, OrderStatus::Rejected);
    assert_eq!(refused.broker_order_id, None, "never sent");
    assert_eq!(e.broker.orders().await.unwrap().len(), at_broker);
    let now = e.last_price("INFY", Exchange::Nse).unwrap();
    let paisa = |v: Decimal| xcoin::domain::to_paisa(v).normalize();
    assert_eq!(
        refused.status_reason.as_deref().unwrap(),
        format!("margin: the order needs ₹{}, ₹{} is free", paisa(now * dec!(100)), paisa(funds.available_margin))
    );
    // Sent anyway, the exchange refuses it in Kite's words.
    let direct = xcoin::broker::PlaceRequest {
        tag: "direct".into(),
        symbol: "INFY".into(),
        exchange: Exchange::Nse,
        side: Side::Buy,
        order_type: OrderType::Market,
        product: Product::Cnc,
        validity: xcoin::domain::order::Validity::Day,
        quantity: 100,
        price: None,
        trigger_price: None,
        reduces_position: false,
    };
    let kite = xcoin::domain::funds::insufficient_funds(now * dec!(100), funds.available_margin);
    assert_eq!(e.broker.place(&direct).await.unwrap_err().to_string(), format!("the broker rejected it: {kite}"));
    // Selling what is held needs no margin at all.
    let mut sell = buy(&e, "INFY", 100, OrderType::Market);
    sell.side = Side::Sell;
    sell.stop_loss = None;
    sell.take_profit = None;
    assert_eq!(e.place_order(&sell).await.unwrap().status, OrderStatus::Submitted);
}

/// An SL order the exchange holds untriggered is TRIGGER PENDING, as Kite
/// shows it (it read OPEN); once the price reaches its trigger it is OPEN,
/// resting at its limit, and a fill clears it for good.
#[tokio::test]
async fn a_stop_order_is_trigger_pending_until_its_trigger_is_reached() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(1000)).await;
    let last = e.last_price("INFY", Exchange::Nse).unwrap();
    // A breakout BUY: triggered 5 above the market, at most 6 above.
    let req = OrderRequest {
        trigger_price: Some(last + dec!(5)),
        price: Some(last + dec!(6)),
        take_profit: None,
        ..buy(&e, "INFY", 10, OrderType::StopLoss)
    };
    let o = e.place_order(&req).await.unwrap();
    e.drain_events().await.unwrap();
    let held = t.get_order(o.id).await.unwrap();
    assert_eq!(
        (held.status, held.trigger_pending, held.shown_status().as_str()),
        (OrderStatus::Open, true, "TRIGGER PENDING")
    );
    // Above the trigger and above the limit: triggered, resting at its limit.
    tick(&mut e, "INFY", last + dec!(7)).await;
    let resting = t.get_order(o.id).await.unwrap();
    assert_eq!(
        (resting.status, resting.trigger_pending, resting.shown_status().as_str()),
        (OrderStatus::Open, false, "OPEN")
    );
    // Back to its limit: it fills.
    tick(&mut e, "INFY", last + dec!(6)).await;
    let filled = t.get_order(o.id).await.unwrap();
    assert_eq!((filled.status, filled.trigger_pending), (OrderStatus::Filled, false));
}

/// Orders placed between two funds reports cannot each spend the same free
/// margin: the engine counts what it placed since the broker last reported.
#[tokio::test]
async fn a_burst_of_orders_spends_the_free_margin_once() {
    let t = test_db().await;
    let config = PaperConfig { capital: Some(dec!(50000)), ..PaperConfig::default() };
    let broker = PaperBroker::new(&instrument::built_in(), config).unwrap();
    let mut e = engine_on(&t, broker).await;
    e.refresh_funds().await;
    // 100 INFY intraday at the last price block a fifth of their value.
    let first = e.place_order(&buy(&e, "INFY", 100, OrderType::Limit)).await.unwrap();
    assert_eq!(first.status, OrderStatus::Submitted);
    let blocked = first.price.unwrap() * dec!(100) / dec!(5);
    assert!(blocked > dec!(25000) && blocked < dec!(50000), "{blocked}");
    let second = e.place_order(&buy(&e, "INFY", 100, OrderType::Limit)).await.unwrap();
    assert_eq!(second.status, OrderStatus::Rejected, "not yet filled, but its margin is spent");
    let paisa = |v: Decimal| xcoin::domain::to_paisa(v).normalize();
    assert_eq!(
        second.status_reason.as_deref().unwrap(),
        format!("margin: the order needs ₹{}, ₹{} is free", paisa(blocked), paisa(dec!(50000) - blocked))
    );
}

/// After the square-off, once flat (or at 15:35 IST), the day's report goes
/// out through the alert channels once, across restarts too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_days_report_goes_out_once_after_the_square_off() {
    // The engine trades on a known trading day, so the day's report holds its fills.
    let t = test_db_at(a_trading_morning()).await;
    let calendar = xcoin::config::Settings::default().calendar();
    let day = calendar.trading_day(t.now());
    let mut e = engine_on(&t, paper(500)).await;
    let inbox = Arc::new(Inbox::default());
    e.alerts = Alerts::start(vec![inbox.clone()], Policy::default(), TradingMode::Paper);
    e.cfg.square_off_time = Some(chrono::NaiveTime::from_hms_opt(15, 15, 0).unwrap());
    e.place_order(&buy(&e, "INFY", 4, OrderType::Market)).await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    let at = |hm: &str| calendar.instant(day, chrono::NaiveTime::parse_from_str(hm, "%H:%M").unwrap());
    assert!(!e.report_if_due(at("15:14")).await.unwrap(), "the day is not over");
    e.square_off_if_due(at("15:15")).await.unwrap();
    assert!(!e.report_if_due(at("15:15")).await.unwrap(), "the square-off's exit has not filled yet");
    e.broker.step();
    e.drain_events().await.unwrap();
    assert!(e.report_if_due(at("15:16")).await.unwrap(), "flat after the square-off");
    assert!(!e.report_if_due(at("15:40")).await.unwrap(), "once");
    let sent = inbox.read(1).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    // The day's report: its figures are the day's own, to the paisa.
    let report = xcoin::report::day_report(&t.db, &calendar, day).await.unwrap();
    assert!(sent[0].contains(report.text().trim_end()), "{}\n---\n{}", sent[0], report.text());
    let trades = t.trades_between(day, day).await.unwrap();
    assert_eq!((report.trades, report.round_trips), (2, 1), "the buy and the square-off's sale");
    let (bought, sold) = (&trades[0], &trades[1]);
    assert_eq!((bought.quantity, sold.quantity, sold.side), (4, 4, Side::Sell));
    let charges = bought.total_charges + sold.total_charges;
    assert_eq!(report.net, xcoin::domain::to_paisa((sold.price - bought.price) * dec!(4) - charges));
    assert!(
        sent[0].contains(&format!("XCoin — the trading day {day}"))
            && sent[0].contains(&format!("  Net                 {}", xcoin::domain::money::rupees(report.net))),
        "{}",
        sent[0]
    );
    // A restarted engine knows it went (once the first one's lock is gone).
    drop(e);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut again = loop {
        match Engine::start(t.db.clone(), paper(500), config()).await {
            Ok(e) => break e,
            Err(err) if tokio::time::Instant::now() < deadline => {
                let _ = err;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("{err}"),
        }
    };
    assert!(!again.report_if_due(at("15:40")).await.unwrap());
}

#[tokio::test]
async fn a_failed_catch_up_after_dropped_events_keeps_the_event_stream() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(1000)).await;
    // More ticks than the stream holds: the engine must catch up from the book.
    for _ in 0..400 {
        e.broker.step();
    }
    // …and its catch-up cannot read the database.
    t.db.close().await;
    let failed = e.drain_events().await.unwrap_err();
    assert!(matches!(&failed, EngineError::Db(d) if d.is_unavailable()), "{failed}");
    // The stream is still the engine's: the next drain applies what is left.
    let applied = e.drain_events().await.unwrap();
    assert!(applied > 1000, "{applied} events applied after the gap");
}

/// Starts an engine on the paper exchange `broker` once the previous one's
/// lock is gone (a dropped engine's lock connection closes a moment later).
async fn restarted(t: &TestDb, broker: PaperBroker) -> Engine<PaperBroker> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match Engine::start(t.db.clone(), broker.clone(), config()).await {
            Ok(e) => return e,
            Err(err) if tokio::time::Instant::now() < deadline => {
                let _ = err;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(err) => panic!("{err}"),
        }
    }
}

/// Positions opened by market BUYs of these sizes, filled: their ids, in order.
async fn bought<const N: usize>(e: &mut Engine<PaperBroker>, t: &TestDb, buys: [(&str, i64); N]) -> [i64; N] {
    for (symbol, qty) in buys {
        e.place_order(&buy(e, symbol, qty, OrderType::Market)).await.unwrap();
    }
    e.broker.step();
    e.drain_events().await.unwrap();
    let open = t.open_positions().await.unwrap();
    buys.map(|(symbol, _)| open.iter().find(|p| p.symbol == symbol).unwrap().id)
}

/// A command enqueued and claimed, as an engine that stopped before
/// finishing it leaves it.
async fn claimed(t: &TestDb, command: &OperatorCommand, by: &str) -> xcoin::db::commands::CommandRecord {
    let c = t.enqueue_command(command, by).await.unwrap();
    t.claim_next_command().await.unwrap().unwrap();
    c
}

/// A command's status and result as stored.
async fn outcome(t: &TestDb, id: i64) -> (CommandStatus, String) {
    let c = t.get_command(id).await.unwrap();
    (c.status, c.result.unwrap_or_default())
}

/// Commands a stopped engine left RUNNING are given their outcome from what
/// happened, not guessed: a placement whose order reached the broker is DONE
/// with that order (an operator who resent it would double the position);
/// one whose order never reached it, or was never made, is FAILED "never
/// sent"; a cancel and the kill switch are run to their end.
#[tokio::test]
async fn commands_left_running_by_a_stopped_engine_are_resolved_from_the_broker() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    let broker = e.broker.clone();
    // Sent and filled, its result never written (the engine died there).
    let mut sent = buy(&e, "INFY", 4, OrderType::Market);
    sent.placed_by = "asha".into();
    let filled_cmd = claimed(&t, &OperatorCommand::PlaceOrder(sent.clone()), "asha").await;
    let order = e.place_order(&sent).await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    assert_eq!(t.get_order(order.id).await.unwrap().status, OrderStatus::Filled);
    // Made but never sent: the order row exists, the broker never heard of it.
    let mut unsent = buy(&e, "SBIN", 3, OrderType::Market);
    unsent.placed_by = "asha".into();
    let unsent_cmd = claimed(&t, &OperatorCommand::PlaceOrder(unsent.clone()), "asha").await;
    let last = e.last_price("SBIN", Exchange::Nse);
    let made = t.create_order(&unsent, BrokerKind::Paper, dec!(0.05), last).await.unwrap();
    // Claimed, and nothing made at all.
    let never = buy(&e, "TCS", 1, OrderType::Market);
    let never_cmd = claimed(&t, &OperatorCommand::PlaceOrder(never), "ravi").await;
    // A cancel of a working order and the kill switch, both claimed, neither done.
    let mut resting = buy(&e, "ITC", 5, OrderType::Limit);
    resting.price = Some(resting.price.unwrap() - dec!(2));
    let working = e.place_order(&resting).await.unwrap();
    let cancel_cmd = claimed(&t, &OperatorCommand::CancelOrder { order_id: working.id }, "asha").await;
    let kill_cmd = claimed(&t, &OperatorCommand::KillSwitchOn { reason: "drill".into() }, "asha").await;
    drop(e);

    let e = restarted(&t, broker).await;
    let t = &t;
    let (status, result) = outcome(t, filled_cmd.id).await;
    assert_eq!(status, CommandStatus::Done, "{result}");
    assert!(result.starts_with(&format!("order {} FILLED BUY 4 INFY MARKET (broker ", order.id)), "{result}");
    assert!(result.ends_with(") (found by its tag after the engine restarted)"), "{result}");
    assert_eq!(
        outcome(t, unsent_cmd.id).await,
        (
            CommandStatus::Failed,
            format!(
                "never sent: order {} ({}) is not in the broker's book under its tag XC{}; nothing was placed",
                made.id,
                made.describe(),
                made.id
            )
        )
    );
    assert_eq!(
        outcome(t, never_cmd.id).await,
        (
            CommandStatus::Failed,
            "never sent: the engine stopped before it made the order; nothing reached the broker".into()
        )
    );
    let (status, result) = outcome(t, cancel_cmd.id).await;
    assert_eq!((status, t.get_order(working.id).await.unwrap().status), (CommandStatus::Done, OrderStatus::Cancelled));
    assert!(result.starts_with(&format!("order {} CANCELLED BUY 5 ITC LIMIT", working.id)), "{result}");
    let (status, result) = outcome(t, kill_cmd.id).await;
    assert_eq!(status, CommandStatus::Done, "{result}");
    assert!(result.starts_with("kill switch ACTIVE: 0 orders cancelled, 1 position exited"), "{result}");
    assert_eq!(t.running_commands().await.unwrap(), vec![]);
    drop(e);
}

/// Exits and modifications a stopped engine left RUNNING are resolved from
/// what reached the broker, not failed as "engine stopped": an exit whose
/// order is working is DONE with it (never a second exit), one that never
/// left is run now; a modification already applied is DONE, one that was
/// not is sent again; exit-all exits only what has no exit working.
#[tokio::test]
async fn exits_and_modifications_left_running_are_finished_not_failed() {
    use xcoin::db::orders::OrderModification;
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    let broker = e.broker.clone();
    let [infy, sbin, _] = bought(&mut e, &t, [("INFY", 10), ("SBIN", 5), ("TCS", 2)]).await;
    // An exit sent (working at the broker), its result never written.
    let sent = claimed(&t, &OperatorCommand::ExitPosition { position_id: infy }, "asha").await;
    let exit = e.exit_position(infy, "asha").await.unwrap();
    assert!(exit.status.is_active());
    // An exit claimed and never made.
    let unsent = claimed(&t, &OperatorCommand::ExitPosition { position_id: sbin }, "asha").await;
    // A working order: one modification applied, one claimed and not.
    let mut resting = buy(&e, "ITC", 5, OrderType::Limit);
    resting.price = Some(resting.price.unwrap() - dec!(2));
    let working = e.place_order(&resting).await.unwrap();
    e.drain_events().await.unwrap();
    let first = resting.price.unwrap() - dec!(0.50);
    let second = resting.price.unwrap() - dec!(1);
    let change = |price| OperatorCommand::ModifyOrder {
        order_id: working.id,
        quantity: None,
        price: Some(price),
        trigger_price: None,
    };
    let applied = claimed(&t, &change(first), "asha").await;
    e.modify_order(working.id, OrderModification { price: Some(first), ..Default::default() }).await.unwrap();
    let pending = claimed(&t, &change(second), "asha").await;
    // Exit all, claimed: INFY's exit is working, SBIN's is made by then, TCS has none.
    let all = claimed(&t, &OperatorCommand::ExitAll {}, "asha").await;
    drop(e);

    let e = restarted(&t, broker).await;
    let t = &t;
    let (status, result) = outcome(t, sent.id).await;
    assert_eq!(status, CommandStatus::Done, "{result}");
    assert!(result.starts_with(&format!("exit of position {infy}: order {} ", exit.id)), "{result}");
    assert!(result.ends_with("(found after the engine restarted)"), "{result}");
    let (status, result) = outcome(t, unsent.id).await;
    assert_eq!(status, CommandStatus::Done, "{result}");
    assert!(result.starts_with(&format!("exit of position {sbin}: order ")), "run now: {result}");
    let (status, result) = outcome(t, applied.id).await;
    assert_eq!(status, CommandStatus::Done, "{result}");
    assert!(result.ends_with("(modified before the engine stopped)"), "{result}");
    let (status, _) = outcome(t, pending.id).await;
    assert_eq!((status, t.get_order(working.id).await.unwrap().price), (CommandStatus::Done, Some(second)));
    let (status, result) = outcome(t, all.id).await;
    assert_eq!(status, CommandStatus::Done, "{result}");
    assert!(result.contains("2 working from before") && result.contains("1 placed now"), "{result}");
    // One exit each, never two.
    let active = t.active_orders().await.unwrap();
    for symbol in ["INFY", "SBIN", "TCS"] {
        let exits = active.iter().filter(|o| o.symbol == symbol && o.side == Side::Sell).count();
        assert_eq!(exits, 1, "{symbol}: {active:?}");
    }
    assert_eq!(t.running_commands().await.unwrap(), vec![]);
    drop(e);
}

/// An exit a stopped engine never made is not made at the next start when
/// its moment is past (claimed over ten minutes before) or when the broker
/// does not hold the position as the desk does: FAILED, saying why.
#[tokio::test]
async fn a_stale_exit_or_one_the_broker_disagrees_with_is_not_made_after_a_restart() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    let broker = e.broker.clone();
    let [infy, sbin] = bought(&mut e, &t, [("INFY", 10), ("SBIN", 5)]).await;
    let old = claimed(&t, &OperatorCommand::ExitPosition { position_id: infy }, "asha").await;
    t.sql(&format!(
        "UPDATE operator_commands SET claimed_at = claimed_at - interval '20 minutes' WHERE id = {}",
        old.id
    ))
    .await;
    let differs = claimed(&t, &OperatorCommand::ExitPosition { position_id: sbin }, "asha").await;
    // SBIN sold at the broker by hand while the engine was down.
    e.broker.apply_external_trade("SBIN", Exchange::Nse, Product::Mis, Side::Sell, 5, dec!(812)).unwrap();
    drop(e);

    let e = restarted(&t, broker).await;
    let c = t.get_command(old.id).await.unwrap();
    assert_eq!(c.status, CommandStatus::Failed);
    assert!(c.result.as_deref().unwrap().starts_with("not exited: the engine stopped 20 min ago"), "{:?}", c.result);
    let c = t.get_command(differs.id).await.unwrap();
    assert_eq!(
        (c.status, c.result.as_deref()),
        (
            CommandStatus::Failed,
            Some("not exited: the broker holds 0 SBIN where the desk holds 5; reconciliation settles that first")
        )
    );
    // No exit sent: what works is INFY's stop, resting at the exchange for
    // the position the desk keeps; none for SBIN, which the broker does not hold.
    let working: Vec<_> = t.active_orders().await.unwrap().into_iter().map(|o| (o.symbol, o.placed_by)).collect();
    assert_eq!(working, [("INFY".to_string(), "resting-stop".to_string())], "no exit sent");
    drop(e);
}

/// A command's outcome the database does not take (it went away as the
/// result was written) is kept and written when it answers again; meanwhile
/// no other command is claimed and nothing is sent twice.
#[tokio::test]
async fn an_outcome_the_database_did_not_take_is_written_when_it_answers_again() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    // The database refuses to finish commands as a server going down does (57P01).
    t.sql(
        "CREATE FUNCTION going_down() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'terminating connection due to administrator command' USING ERRCODE = 'admin_shutdown'; END $$;
         CREATE TRIGGER going_down BEFORE UPDATE ON operator_commands FOR EACH ROW
             WHEN (NEW.status IN ('DONE', 'FAILED')) EXECUTE FUNCTION going_down();",
    )
    .await;
    let mut req = buy(&e, "INFY", 4, OrderType::Market);
    req.placed_by = "asha".into();
    let first = t.enqueue_command(&OperatorCommand::PlaceOrder(req), "asha").await.unwrap();
    e.process_commands().await;
    let second = t.enqueue_command(&OperatorCommand::CancelOrder { order_id: 999 }, "asha").await.unwrap();
    e.process_commands().await;
    assert_eq!(t.get_command(first.id).await.unwrap().status, CommandStatus::Running);
    assert_eq!(t.get_command(second.id).await.unwrap().status, CommandStatus::Pending, "the queue waits");
    assert_eq!(t.today_orders().await.unwrap().len(), 1, "sent once");

    t.sql("DROP TRIGGER going_down ON operator_commands").await;
    e.process_commands().await;
    let done = t.get_command(first.id).await.unwrap();
    let order = &t.today_orders().await.unwrap()[0];
    assert_eq!(
        (done.status, done.result.as_deref().unwrap().to_string()),
        (
            CommandStatus::Done,
            format!(
                "order {} SUBMITTED BUY 4 INFY MARKET (broker {})",
                order.id,
                order.broker_order_id.clone().unwrap()
            )
        )
    );
    let failed = t.get_command(second.id).await.unwrap();
    assert_eq!((failed.status, failed.result.as_deref()), (CommandStatus::Failed, Some("order 999 does not exist")));
    assert_eq!(t.today_orders().await.unwrap().len(), 1, "still once");
}

/// The desk counts what Kite counts toward its daily order limit (placements,
/// not modifications or cancellations), warns at 80 % and 90 % once each, and
/// marks an exit so that no count of its own ever holds it back.
#[tokio::test]
async fn the_daily_order_count_is_placements_and_warns_at_80_and_90_percent() {
    let t = test_db().await;
    let broker = StandIn::new(paper(500), BrokerKind::Kite);
    let mut e = Engine::start(t.db.clone(), broker.clone(), config()).await.unwrap();
    let inbox = Arc::new(Inbox::default());
    e.alerts = Alerts::start(vec![inbox.clone()], Policy::default(), TradingMode::Live);
    for symbol in ["INFY", "SBIN"] {
        let p = e.broker.inner.last_price(symbol, Exchange::Nse).unwrap();
        e.broker.inner.set_price(symbol, Exchange::Nse, p).unwrap();
    }
    e.drain_events().await.unwrap();
    // 3,999 of Kite's 5,000 placed earlier today.
    t.sql("INSERT INTO daily_stats (trading_day, broker_writes) VALUES (xcoin_today(), 3999)").await;
    let last = e.last_price("INFY", Exchange::Nse).unwrap();
    let mut resting = buy_at(last, "INFY", 2, OrderType::Limit);
    resting.price = Some(last - dec!(5));
    let working = e.place_order(&resting).await.unwrap();
    assert_eq!(t.broker_writes_today().await.unwrap(), 4000);
    e.broker.inner.step();
    e.drain_events().await.unwrap();
    e.modify_order(working.id, OrderModification { quantity: None, price: Some(last - dec!(6)), trigger_price: None })
        .await
        .unwrap();
    e.cancel_order(working.id).await.unwrap();
    assert_eq!(t.broker_writes_today().await.unwrap(), 4000, "a modification and a cancel are not counted");
    // A second placement at 80 % says nothing new; at 90 % the next warning.
    e.place_order(&buy_at(last, "INFY", 1, OrderType::Market)).await.unwrap();
    t.sql("UPDATE daily_stats SET broker_writes = 4499 WHERE trading_day = xcoin_today()").await;
    e.broker.inner.step();
    e.drain_events().await.unwrap();
    // The exit of the position just bought is marked as one.
    let position = t.open_positions().await.unwrap().into_iter().find(|p| p.symbol == "INFY").unwrap();
    e.exit_position(position.id, "asha").await.unwrap();
    let sent = broker.placed.lock().unwrap().clone();
    // The entries, then the position's resting stop and its exit: both
    // placements count at Kite, both marked as exits.
    let kinds: Vec<_> = sent.iter().map(|p| (p.order_type, p.reduces_position)).collect();
    assert_eq!(
        kinds,
        [
            (OrderType::Limit, false),
            (OrderType::Market, false),
            (OrderType::StopLossMarket, true),
            (OrderType::Market, true)
        ]
    );
    let alerts = inbox.read(2).await;
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let said = |placed: i64, level: u8| {
        format!(
            "{placed} of the broker's 5000 orders a day placed ({level} %): at the limit new entries are refused; \
             exits, cancels and the kill switch still go"
        )
    };
    assert!(alerts[0].contains(&said(4000, 80)), "{}", alerts[0]);
    assert!(alerts[1].contains(&said(4500, 90)), "{}", alerts[1]);
    e.flush_journal().await;
    let log: Vec<String> = t.recent_events(50).await.unwrap().into_iter().map(|l| l.message).collect();
    assert_eq!(log.iter().filter(|l| l.contains("of the broker's 5000 orders a day placed")).count(), 2, "{log:?}");
    assert_eq!(
        BrokerKind::Kite.writes_text(4500),
        "4500 of 5000 (90% used) — near the limit: new entries refused at it"
    );
    assert_eq!(BrokerKind::Kite.writes_text(3999), "3999 of 5000 (79% used)");
    // The console's header says it too.
    let s = Settings::default();
    let mut app = xcoin::console::app::App::new(TradingMode::Live, s.calendar(), config().limits, "asha".into(), true);
    app.apply(xcoin::console::store::snapshot(&t.db).await.unwrap());
    let header = crate::console::text(&crate::console::draw(&mut app, 160, 20))[1].clone();
    assert!(header.contains(" orders 4501/5000 today: entries stop at 5000 "), "{header}");
}

/// A graceful stop cancels the working orders first (unless
/// `engine.cancel_orders_on_stop` is off) and says what it leaves unwatched,
/// in the desk log and as an alert.
#[tokio::test]
async fn a_graceful_stop_cancels_working_orders_and_raises_what_it_leaves_unwatched() {
    for cancel in [true, false] {
        // A trading morning: the afternoon's end-of-day report would be an alert too.
        let t = test_db_at(a_trading_morning()).await;
        let mut e = engine_on(&t, paper(500)).await;
        e.cfg.cancel_orders_on_stop = cancel;
        let inbox = Arc::new(Inbox::default());
        e.alerts = Alerts::start(vec![inbox.clone()], Policy::default(), TradingMode::Paper);
        e.place_order(&buy(&e, "INFY", 4, OrderType::Market)).await.unwrap();
        e.broker.step();
        e.drain_events().await.unwrap();
        let working = resting_tcs(&mut e).await;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let running = e.run(stopped);
        let stopper = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            stop.send(true).unwrap();
        };
        let (ran, ()) = tokio::join!(running, stopper);
        ran.unwrap();
        let status = t.get_order(working.id).await.unwrap().status;
        let log: Vec<String> = t.recent_events(50).await.unwrap().into_iter().map(|l| l.message).collect();
        let left = if cancel {
            assert_eq!(status, OrderStatus::Cancelled);
            assert!(
                log.contains(&"engine stopping: 1 working order cancelled first (engine.cancel_orders_on_stop)".into()),
                "{log:?}"
            );
            "engine stopped with 1 open position and 0 working orders unwatched: no targets or kill switch until an \
             engine runs; 1 stop rests at the exchange"
        } else {
            assert_eq!(status, OrderStatus::Open, "left working, as configured");
            "engine stopped with 1 open position and 1 working order unwatched: no targets or kill switch until an \
             engine runs; 1 stop rests at the exchange"
        };
        assert!(log.contains(&left.to_string()), "{log:?}");
        // The position's stop stays at the exchange either way: it protects the position while no engine runs.
        let stops: Vec<_> = t.active_orders().await.unwrap().into_iter().filter(|o| o.is_resting_stop()).collect();
        assert_eq!((stops.len(), stops[0].side, stops[0].quantity), (1, Side::Sell, 4), "{stops:?}");
        let alerts = inbox.read(1).await;
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert!(
            alerts[0].contains("Engine stopped with the desk exposed") && alerts[0].contains(left),
            "{}",
            alerts[0]
        );
    }
}

/// A position's stop rests at the exchange as an SL-M for the whole
/// position: placed when the entry fills, resized when the position grows,
/// moved with the stop, lifted before the engine's own exit at the target,
/// and filled by the exchange when the price reaches it — the monitor adds
/// no exit of its own.
#[tokio::test]
async fn a_position_s_stop_rests_at_the_exchange_and_follows_it() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(1000)).await;
    let req = buy(&e, "INFY", 10, OrderType::Market);
    let stop = req.stop_loss.unwrap();
    e.place_order(&req).await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    let resting = |e: &Engine<PaperBroker>| {
        let book = e.broker.clone();
        async move {
            book.orders()
                .await
                .unwrap()
                .into_iter()
                .filter(|o| !o.status.is_terminal() && o.order_type == OrderType::StopLossMarket)
                .map(|o| (o.side, o.quantity - o.filled_quantity, o.trigger_price.unwrap()))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(resting(&e).await, [(Side::Sell, 10, stop)], "the stop rests at the exchange for the position");
    let ours = t.active_orders().await.unwrap();
    assert_eq!((ours.len(), ours[0].placed_by.as_str(), ours[0].is_resting_stop()), (1, "resting-stop", true));

    // The position grows: the stop covers it all.
    e.place_order(&buy(&e, "INFY", 5, OrderType::Market)).await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    assert_eq!(resting(&e).await, [(Side::Sell, 15, stop)]);
    // The stop moves: so does the resting order (through the validator).
    let p = t.open_positions().await.unwrap()[0].clone();
    let last = e.last_price("INFY", Exchange::Nse).unwrap();
    let moved = stop + dec!(1);
    e.set_position_levels(p.id, stop + dec!(0.5), Some(last + dec!(40))).await.unwrap();
    assert_eq!(resting(&e).await, [(Side::Sell, 15, stop + dec!(0.5))]);
    // At Kite's 25 modifications, the next move replaces the stop instead.
    let first = t.active_orders().await.unwrap()[0].clone();
    t.sql(&format!("UPDATE orders SET modifications = 25 WHERE id = {}", first.id)).await;
    e.set_position_levels(p.id, moved, Some(last + dec!(40))).await.unwrap();
    assert_eq!(resting(&e).await, [(Side::Sell, 15, moved)]);
    assert_eq!(t.get_order(first.id).await.unwrap().status, OrderStatus::Cancelled);
    let now = t.active_orders().await.unwrap();
    assert_eq!((now.len(), now[0].is_resting_stop(), now[0].id != first.id), (1, true, true));

    // The price reaches the stop: the exchange fills it; the monitor sends nothing.
    tick(&mut e, "INFY", moved).await;
    e.monitor_risk().await;
    tick(&mut e, "INFY", moved - dec!(0.05)).await;
    e.monitor_risk().await;
    assert!(t.open_positions().await.unwrap().is_empty(), "the resting stop closed the position");
    let orders = t.today_orders().await.unwrap();
    assert!(orders.iter().all(|o| o.placed_by != "risk-monitor"), "no second exit: {orders:?}");
    let exit = orders.iter().filter(|o| o.is_resting_stop()).max_by_key(|o| o.id).unwrap();
    assert_eq!((exit.status, exit.filled_quantity), (OrderStatus::Filled, 15));
    let trades = t.trades_for_order(exit.id).await.unwrap();
    assert!(!trades.is_empty() && trades.iter().all(|t| t.total_charges > Decimal::ZERO), "charged as any fill");
    assert!(resting(&e).await.is_empty());

    // At the target the engine exits itself: the resting stop is lifted first.
    let req = buy(&e, "SBIN", 10, OrderType::Market);
    e.place_order(&req).await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    assert_eq!(resting(&e).await, [(Side::Sell, 10, req.stop_loss.unwrap())]);
    tick(&mut e, "SBIN", req.take_profit.unwrap()).await;
    e.monitor_risk().await;
    let working = t.active_orders().await.unwrap();
    assert_eq!(
        working.iter().map(|o| (o.placed_by.as_str(), o.order_type)).collect::<Vec<_>>(),
        [("risk-monitor", OrderType::Market)],
        "the exit works alone: its stop was cancelled first"
    );
    assert!(resting(&e).await.is_empty());
    e.broker.step();
    e.drain_events().await.unwrap();
    assert!(t.open_positions().await.unwrap().is_empty());
    assert!(t.active_orders().await.unwrap().is_empty(), "no stop rests for a closed position");
}

/// The engine gone (dropped, as a killed process leaves things): the stop
/// resting at the exchange fills without it, and the next engine finds the
/// position flat, records the exit and its charges, and opens no issue.
#[tokio::test]
async fn a_resting_stop_fills_while_no_engine_runs_and_the_next_engine_records_it() {
    let t = test_db().await;
    let broker = paper(1000);
    let mut e = engine_on(&t, broker.clone()).await;
    let req = buy(&e, "INFY", 20, OrderType::Market);
    let stop = req.stop_loss.unwrap();
    e.place_order(&req).await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    drop(e);

    // No engine: the price falls through the stop at the exchange.
    broker.set_price("INFY", Exchange::Nse, stop - dec!(1)).unwrap();
    broker.step();
    assert!(broker.positions().await.unwrap().iter().all(|h| h.quantity == 0), "flat at the exchange");

    let mut e = restarted(&t, broker.clone()).await;
    assert!(t.open_positions().await.unwrap().is_empty(), "the next engine finds the position flat");
    let exit = t.today_orders().await.unwrap().into_iter().find(|o| o.is_resting_stop()).unwrap();
    assert_eq!((exit.status, exit.filled_quantity), (OrderStatus::Filled, 20));
    let fills = broker.trades().await.unwrap();
    let recorded = t.trades_for_order(exit.id).await.unwrap();
    assert_eq!(
        recorded.iter().map(|t| (t.broker_trade_id.clone(), t.price)).collect::<Vec<_>>(),
        fills
            .iter()
            .filter(|f| Some(&f.broker_order_id) == exit.broker_order_id.as_ref())
            .map(|f| (f.trade_id.clone(), f.price))
            .collect::<Vec<_>>(),
        "the exchange's fills, recorded once"
    );
    assert!(recorded.iter().all(|t| t.total_charges > Decimal::ZERO));
    assert!(e.reconcile_positions().await.unwrap().is_empty(), "no issue");
    assert!(t.unresolved_issues().await.unwrap().is_empty());
    assert!(t.active_orders().await.unwrap().is_empty());
}

/// A position whose stop cannot rest (the exchange refuses it) is watched by
/// the monitor and is a reconciliation issue; a stop working at the broker
/// for a position closed behind the desk's back is cancelled.
#[tokio::test]
async fn a_stop_that_does_not_rest_is_an_issue_and_an_orphaned_one_is_cancelled() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(1000)).await;
    e.place_order(&buy(&e, "INFY", 10, OrderType::Market)).await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    let stop_order = t.active_orders().await.unwrap()[0].clone();
    // The broker ends the resting stop on its own.
    e.broker.cancel(stop_order.broker_order_id.as_deref().unwrap()).await.unwrap();
    e.drain_events().await.unwrap();
    assert_eq!(t.get_order(stop_order.id).await.unwrap().status, OrderStatus::Cancelled);
    // The next cycle rests it anew before anything is called an issue.
    let p = t.open_positions().await.unwrap()[0].clone();
    let found = e.reconcile_positions().await.unwrap();
    assert!(found.is_empty(), "rested again before it became an issue: {found:?}");
    let again = t.active_orders().await.unwrap();
    assert_eq!((again.len(), again[0].is_resting_stop(), again[0].id != stop_order.id), (1, true, true));

    // Ended again, and resting refused (a stop beyond the price band): an
    // issue the operator sees.
    e.broker.cancel(again[0].broker_order_id.as_deref().unwrap()).await.unwrap();
    e.drain_events().await.unwrap();
    t.update_position_levels(p.id, Some(p.average_price() * dec!(0.5)), None).await.unwrap();
    let found = e.reconcile_positions().await.unwrap();
    assert_eq!(found.iter().map(|i| i.issue_type).collect::<Vec<_>>(), [IssueType::StopNotResting]);
    assert!(found[0].details.contains("no SL-M SELL rests at the broker"), "{}", found[0].details);
    assert!(t.active_orders().await.unwrap().is_empty());

    // Closed behind the desk's back, its stop still working: cancelled.
    t.update_position_levels(p.id, p.stop_loss, None).await.unwrap();
    e.sync_resting_stops().await.unwrap();
    assert_eq!(t.active_orders().await.unwrap().len(), 1);
    t.close_position(p.id, dec!(1500), "asha", "flat at the broker").await.unwrap();
    e.sync_resting_stops().await.unwrap();
    assert!(t.active_orders().await.unwrap().is_empty(), "the orphaned stop is cancelled");
}

/// A burst of orders reads the risk inputs once. A change made behind the
/// engine's back (the kill switch written straight to its table) is seen by
/// the next order's own PENDING write, and that order is refused before the
/// wire and not counted; lifted the same way, the kept refusal is read again
/// and the next order goes.
#[tokio::test]
async fn orders_are_checked_against_kept_risk_inputs_only_while_the_database_says_they_hold() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    let resting = |e: &Engine<PaperBroker>| resting_tcs_request(e, 1);
    let reads = e.risk_reads();
    for _ in 0..5 {
        assert_eq!(e.place_order(&resting(&e)).await.unwrap().status, OrderStatus::Submitted);
    }
    assert_eq!(e.risk_reads() - reads, 1, "five orders in a row, one read");
    assert_eq!(t.broker_writes_today().await.unwrap(), 5);

    t.sql(
        "INSERT INTO kill_switch_events (action, trigger, reason, actor)
         VALUES ('ACTIVATED', 'OPERATOR', 'desk check', 'asha')",
    )
    .await;
    let refused = e.place_order(&resting(&e)).await.unwrap();
    assert_eq!(refused.status, OrderStatus::Rejected);
    assert_eq!(refused.status_reason.as_deref(), Some("kill switch: active; re-arm it before new orders"));
    assert_eq!(refused.broker_order_id, None);
    assert_eq!(e.broker.orders().await.unwrap().len(), 5, "never sent");
    assert_eq!(t.broker_writes_today().await.unwrap(), 5, "refused before the wire: not counted");
    let history = t.order_history(refused.id).await.unwrap();
    assert_eq!(history.iter().map(|h| h.status).collect::<Vec<_>>(), [OrderStatus::Pending, OrderStatus::Rejected]);
    let log: Vec<String> = {
        e.flush_journal().await;
        t.recent_events(1).await.unwrap().into_iter().map(|e| e.message).collect()
    };
    assert_eq!(
        log,
        [format!(
            "order {} {} refused: kill switch: active; re-arm it before new orders, requested by test",
            refused.id,
            refused.describe()
        )]
    );

    t.sql(
        "INSERT INTO kill_switch_events (action, trigger, reason, actor)
         VALUES ('DEACTIVATED', 'OPERATOR', 'all clear', 'asha')",
    )
    .await;
    let reads = e.risk_reads();
    let placed = e.place_order(&resting(&e)).await.unwrap();
    assert_eq!(placed.status, OrderStatus::Submitted, "a kept refusal is read again before it refuses");
    assert_eq!(e.risk_reads() - reads, 1);
    assert_eq!((t.broker_writes_today().await.unwrap(), e.broker.orders().await.unwrap().len()), (6, 6));
}

/// The database goes away between an order's PENDING write and its second
/// check (what the first checked against had changed): nothing is sent, and
/// trading stops until the engine has caught up with the broker's book,
/// which cancels the order the broker never saw.
#[tokio::test]
async fn an_order_whose_second_check_fails_is_never_sent_and_is_cancelled_on_catch_up() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    let resting = |e: &Engine<PaperBroker>| resting_tcs_request(e, 1);
    e.place_order(&resting(&e)).await.unwrap();
    // The risk inputs change, and the read of them fails (today's P&L is
    // read by the check only, not by the order's write).
    t.sql(
        "INSERT INTO kill_switch_events (action, trigger, reason, actor)
         VALUES ('ACTIVATED', 'OPERATOR', 'desk check', 'asha');
         ALTER FUNCTION get_today_pnl() RENAME TO get_today_pnl_away",
    )
    .await;
    let failed = e.place_order(&resting(&e)).await;
    assert!(failed.is_err(), "{failed:?}");
    let orders = t.today_orders().await.unwrap();
    let stuck = orders.iter().max_by_key(|o| o.id).unwrap();
    assert_eq!((stuck.status, stuck.broker_order_id.as_deref()), (OrderStatus::Pending, None));
    assert_eq!(e.broker.orders().await.unwrap().len(), 1, "never sent");
    assert!(!e.trading_enabled(), "no orders until the engine has caught up");
    let refused = e.place_order(&resting(&e)).await.unwrap_err();
    assert!(refused.to_string().contains("catching up with the broker"), "{refused}");

    t.sql("ALTER FUNCTION get_today_pnl_away() RENAME TO get_today_pnl").await;
    assert!(e.check_lock().await, "caught up: trading resumes");
    let resolved = t.get_order(stuck.id).await.unwrap();
    assert_eq!(resolved.status, OrderStatus::Cancelled);
    assert_eq!(resolved.status_reason.as_deref(), Some("not found at the broker; cancelled rather than sent again"));
    assert_eq!(e.broker.orders().await.unwrap().len(), 1);
}

/// A cycle whose write fails keeps the prices it could not write: the next
/// cycle marks them, though nothing moved in between.
#[tokio::test]
async fn a_cycle_that_could_not_mark_leaves_its_prices_to_the_next() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(500)).await;
    let position = t.create_position(&mis_position("INFY", 10, dec!(1500))).await.unwrap();
    let at = e.last_price("INFY", Exchange::Nse).unwrap() + dec!(1);
    e.broker.set_price("INFY", Exchange::Nse, at).unwrap();
    e.drain_events().await.unwrap();
    e.monitor_risk().await;
    assert_eq!(t.get_position(position.id).await.unwrap().last_price, Some(at));

    t.sql("ALTER FUNCTION xcoin_mark_and_total(text[], text[], numeric[], boolean, boolean) RENAME TO away").await;
    let moved = at + dec!(2.5);
    e.broker.set_price("INFY", Exchange::Nse, moved).unwrap();
    e.drain_events().await.unwrap();
    e.monitor_risk().await;
    assert_eq!(t.get_position(position.id).await.unwrap().last_price, Some(at), "the write failed");

    t.sql("ALTER FUNCTION away(text[], text[], numeric[], boolean, boolean) RENAME TO xcoin_mark_and_total").await;
    e.monitor_risk().await;
    let marked = t.get_position(position.id).await.unwrap();
    assert_eq!((marked.last_price, marked.unrealized_pnl), (Some(moved), (moved - dec!(1500)) * dec!(10)));
    let today = t.daily_stats(e.cfg.calendar.today()).await.unwrap().unwrap();
    assert_eq!(today.net_pnl, t.today_pnl().await.unwrap().net_pnl, "today's row took the mark");
}
