//! Orders through the database layer.

use crate::support::*;
use rust_decimal_macros::dec;
use xcoin::db::DbError;
use xcoin::db::orders::OrderModification;
use xcoin::domain::order::{BrokerKind, Exchange, OrderStatus, OrderType, Product, Side};

#[tokio::test]
async fn create_persists_pending_with_the_risk_amount() {
    let t = test_db().await;
    let mut req = limit_buy("RELIANCE", 40, dec!(2500.05));
    req.stop_loss = Some(dec!(2490.00));
    req.take_profit = Some(dec!(2520.15));
    let o = t.create_order(&req, BrokerKind::Paper, TICK, None).await.unwrap();
    assert_eq!(o.status, OrderStatus::Pending);
    assert_eq!(o.risk_amount, Some(dec!(402.00)));
    assert_eq!((o.quantity, o.filled_quantity, o.price), (40, 0, Some(dec!(2500.05))));
    let history = t.order_history(o.id).await.unwrap();
    assert_eq!((history.len(), history[0].status, history[0].at), (1, OrderStatus::Pending, o.created_at));
    assert_eq!(o.client_tag(), format!("XC{}", o.id));
    assert_eq!(t.get_order(o.id).await.unwrap(), o);

    // A market order is priced at the last price for its risk.
    let mut m = market("SBIN", Side::Sell, 100);
    m.stop_loss = Some(dec!(812.50));
    let o = t.create_order(&m, BrokerKind::Paper, TICK, Some(dec!(810.00))).await.unwrap();
    assert_eq!(o.risk_amount, Some(dec!(250.00)));
    assert_eq!(o.order_type, OrderType::Market);
}

/// An order about to be sent: PENDING and the day's placement count in one
/// statement; acknowledged: SUBMITTED and its desk log line in one statement.
#[tokio::test]
async fn an_order_s_path_writes_once_before_the_wire_and_once_after() {
    let t = test_db().await;
    let req = limit_buy("INFY", 5, dec!(1500));
    let first = t.create_order_counted(&req, BrokerKind::Kite, TICK, None).await.unwrap();
    assert_eq!((first.order.status, first.placed_today), (OrderStatus::Pending, 1));
    let second = t.create_order_counted(&req, BrokerKind::Kite, TICK, None).await.unwrap();
    assert_eq!(second.placed_today, 2);
    let (first, second) = (first.order, second.order);
    assert_eq!(t.broker_writes_today().await.unwrap(), 2, "the count is today's row");
    // A field refused writes nothing: neither the order nor the count.
    let bad = t.create_order_counted(&limit_buy("INFY", 0, dec!(1500)), BrokerKind::Kite, TICK, None).await;
    assert!(bad.unwrap_err().to_string().starts_with("quantity: "));
    assert_eq!((t.broker_writes_today().await.unwrap(), t.today_orders().await.unwrap().len()), (2, 2));

    let acked = t.acknowledge_order(first.id, "250001", "order 1 placed (broker 250001)").await.unwrap();
    assert_eq!((acked.status, acked.broker_order_id.as_deref()), (OrderStatus::Submitted, Some("250001")));
    assert!(acked.submitted_at.is_some());
    let history = t.order_history(first.id).await.unwrap();
    assert_eq!(history.iter().map(|h| h.status).collect::<Vec<_>>(), [OrderStatus::Pending, OrderStatus::Submitted]);
    // An order already past PENDING (its update came first): the general path, the line once.
    t.update_order_status(second.id, OrderStatus::Submitted, None, Some("250002")).await.unwrap();
    let again = t.acknowledge_order(second.id, "250002", "order 2 placed (broker 250002)").await.unwrap();
    assert_eq!(again.status, OrderStatus::Submitted);
    let log: Vec<String> = t.recent_events(10).await.unwrap().into_iter().map(|e| e.message).collect();
    assert_eq!(log, ["order 1 placed (broker 250001)", "order 2 placed (broker 250002)"]);
    // A broker id already taken is refused by name.
    let third = t.create_order_counted(&req, BrokerKind::Kite, TICK, None).await.unwrap().order;
    let taken = t.acknowledge_order(third.id, "250001", "order 3 placed").await.unwrap_err();
    assert!(taken.to_string().contains("250001"), "{taken}");
    assert_eq!(t.get_order(third.id).await.unwrap().status, OrderStatus::Pending, "nothing half-written");
    assert_eq!(t.recent_events(10).await.unwrap().len(), 2);
}

/// The risk generation moves, in the writing transaction, with everything
/// the pre-trade check reads — and with nothing else an order's path writes.
#[tokio::test]
async fn the_risk_generation_moves_with_what_the_risk_check_reads_and_nothing_else() {
    let t = test_db().await;
    let generation = async || t.risk_inputs("INFY", Exchange::Nse, Product::Mis, 1).await.unwrap().generation;
    let start = generation().await;
    assert_eq!(start.trading_day, xcoin::domain::calendar::MarketCalendar::default().today());
    // Placing, counting, acknowledging, a strategy's last decision, the desk log: no move.
    let placed = t.create_order_counted(&limit_buy("INFY", 5, dec!(1500)), BrokerKind::Kite, TICK, None).await.unwrap();
    assert_eq!(placed.generation, start, "the write returns the generation it saw");
    t.acknowledge_order(placed.order.id, "250001", "order placed").await.unwrap();
    t.record_decision(1, "waiting").await.unwrap();
    t.update_daily_stats().await.unwrap();
    assert_eq!(generation().await, start);
    // Each change the check would read moves it once, at commit.
    let mut seen = start.risk_generation;
    for (what, sql) in [
        (
            "the kill switch",
            "INSERT INTO kill_switch_events (action, trigger, reason, actor) VALUES ('ACTIVATED', 'OPERATOR', 'test', 'asha')",
        ),
        (
            "a strategy's pause",
            "UPDATE strategies SET is_active = false, paused_at = now(), paused_by = 'asha', paused_reason = 'test' WHERE id = 1",
        ),
        ("a strategy's limit", "UPDATE strategies SET max_positions = 3 WHERE id = 1"),
        (
            "a position",
            "INSERT INTO positions (symbol, exchange, product, quantity, average_price, cost_basis, strategy_id) VALUES ('INFY', 'NSE', 'MIS', 5, 1500, 7500, 1)",
        ),
        ("the day's P&L", "INSERT INTO pnl_by_day (trading_day, strategy_id, realized) VALUES (xcoin_today(), 1, 10)"),
        ("the day's peak", "UPDATE daily_stats SET peak_pnl = 10 WHERE trading_day = xcoin_today()"),
        (
            "two positions in one transaction",
            "BEGIN; UPDATE positions SET unrealized_pnl = 1; INSERT INTO positions (symbol, exchange, product, quantity, average_price, cost_basis, strategy_id) VALUES ('TCS', 'NSE', 'MIS', 1, 3500, 3500, 1); COMMIT",
        ),
    ] {
        t.sql(sql).await;
        let now = generation().await.risk_generation;
        assert_eq!(now, seen + 1, "{what} moves the generation once");
        seen = now;
    }
    let inputs = t.risk_inputs("INFY", Exchange::Nse, Product::Mis, 1).await.unwrap();
    assert_eq!((inputs.held, inputs.kill_switch_active, inputs.strategy_paused), (5, true, true));
    // A change rolled back moves nothing.
    t.sql("BEGIN; UPDATE positions SET quantity = 7 WHERE symbol = 'INFY'; ROLLBACK").await;
    assert_eq!(generation().await.risk_generation, seen);
}

#[tokio::test]
async fn bad_requests_name_the_field_and_write_nothing() {
    let t = test_db().await;
    let cases = [
        (limit_buy("INFY", 0, dec!(1500)), "quantity: must be a whole number from 1 to 1000000, got 0"),
        (limit_buy("INFY", 5, dec!(1500.03)), "price: 1500.03 is not on the 0.05 tick"),
        (
            limit_buy("in fy", 5, dec!(1500)),
            "symbol: `in fy` is not a trading symbol; use 1–32 capital letters, digits or & _ . -",
        ),
        (
            {
                let mut r = limit_buy("INFY", 5, dec!(1500));
                r.strategy_id = 42;
                r
            },
            "strategy_id: no strategy has id 42",
        ),
        (
            {
                let mut r = limit_buy("INFY", 5, dec!(1500));
                r.parent_order_id = Some(999);
                r
            },
            "parent_order_id: no order has id 999",
        ),
    ];
    for (req, message) in cases {
        let err = t.create_order(&req, BrokerKind::Paper, TICK, None).await.unwrap_err();
        assert!(matches!(err, DbError::Invalid(_)), "{err:?}");
        assert_eq!(err.to_string(), message);
    }
    assert!(t.today_orders().await.unwrap().is_empty());
}

#[tokio::test]
async fn status_changes_follow_the_lifecycle() {
    let t = test_db().await;
    let o = t.create_order(&limit_buy("TCS", 5, dec!(3500)), BrokerKind::Paper, TICK, None).await.unwrap();

    let err = t.update_order_status(o.id, OrderStatus::Open, None, Some("P-1")).await.unwrap_err();
    assert_eq!(err.to_string(), format!("order {} cannot go from PENDING to OPEN", o.id));
    let err = t.update_order_status(o.id, OrderStatus::Submitted, None, None).await.unwrap_err();
    assert_eq!(err.to_string(), "broker_order_id: a SUBMITTED order needs the broker's order id");

    let s = t.update_order_status(o.id, OrderStatus::Submitted, None, Some("P-1")).await.unwrap();
    assert_eq!((s.status, s.broker_order_id.as_deref()), (OrderStatus::Submitted, Some("P-1")));
    assert!(s.submitted_at.is_some());
    assert_eq!(t.get_order_by_broker_id("P-1").await.unwrap().unwrap().id, o.id);
    assert!(t.get_order_by_broker_id("P-404").await.unwrap().is_none());

    t.update_order_status(o.id, OrderStatus::Open, None, None).await.unwrap();
    let err = t.update_order_status(o.id, OrderStatus::Filled, None, None).await.unwrap_err();
    assert_eq!(err.to_string(), format!("order {} becomes FILLED only by recording its fills (Db::record_fill)", o.id));
    let c = t.update_order_status(o.id, OrderStatus::Cancelled, Some("operator cancelled"), None).await.unwrap();
    assert_eq!((c.status, c.status_reason.as_deref()), (OrderStatus::Cancelled, Some("operator cancelled")));
    assert!(c.completed_at.is_some());
    let history = t.order_history(o.id).await.unwrap();
    let statuses: Vec<_> = history.iter().map(|h| h.status).collect();
    assert_eq!(statuses, vec![OrderStatus::Pending, OrderStatus::Submitted, OrderStatus::Open, OrderStatus::Cancelled]);
    assert_eq!(history[3].reason.as_deref(), Some("operator cancelled"));
    assert_eq!(t.order_history(-1).await.unwrap_err().to_string(), "order -1 does not exist");

    let err = t.update_order_status(o.id, OrderStatus::Rejected, None, None).await.unwrap_err();
    assert_eq!(err.to_string(), format!("order {} cannot go from CANCELLED to REJECTED", o.id));

    // A broker order id belongs to one order only.
    let other = t.create_order(&limit_buy("TCS", 5, dec!(3500)), BrokerKind::Paper, TICK, None).await.unwrap();
    let err = t.update_order_status(other.id, OrderStatus::Submitted, None, Some("P-1")).await.unwrap_err();
    assert_eq!(err.to_string(), "broker order id P-1 already belongs to another order");
    assert!(matches!(
        t.update_order_status(9999, OrderStatus::Cancelled, None, None).await,
        Err(DbError::NotFound { .. })
    ));
}

#[tokio::test]
async fn modify_only_live_orders_and_recompute_risk() {
    let t = test_db().await;
    let mut req = limit_buy("INFY", 10, dec!(1500));
    req.stop_loss = Some(dec!(1490));
    let o = t.create_order(&req, BrokerKind::Paper, TICK, None).await.unwrap();
    let change = OrderModification { quantity: Some(20), price: Some(dec!(1495.50)), trigger_price: None };
    let err = t.modify_order(o.id, change, TICK, "asha").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("order {} is PENDING; only OPEN or PARTIALLY_FILLED orders can be modified", o.id)
    );

    t.update_order_status(o.id, OrderStatus::Submitted, None, Some("B-9")).await.unwrap();
    t.update_order_status(o.id, OrderStatus::Open, None, None).await.unwrap();
    let m = t.modify_order(o.id, change, TICK, "asha").await.unwrap();
    assert_eq!((m.quantity, m.price, m.risk_amount), (20, Some(dec!(1495.50)), Some(dec!(110.00))));
    assert_eq!(m.status, OrderStatus::Open);

    let bad = OrderModification { trigger_price: Some(dec!(1490)), ..Default::default() };
    assert_eq!(
        t.modify_order(o.id, bad, TICK, "asha").await.unwrap_err().to_string(),
        "trigger_price: a LIMIT order has no trigger"
    );
    let bad = OrderModification { price: Some(dec!(1495.52)), ..Default::default() };
    assert_eq!(
        t.modify_order(o.id, bad, TICK, "asha").await.unwrap_err().to_string(),
        "price: 1495.52 is not on the 0.05 tick"
    );
    assert_eq!(t.get_order(o.id).await.unwrap().price, Some(dec!(1495.50)), "a refused change writes nothing");

    // Every modification is a line of the order's history: what changed,
    // from what to what, and who asked; a refused one writes none.
    let again = OrderModification { price: Some(dec!(1496)), ..Default::default() };
    t.modify_order(o.id, again, TICK, "ravi").await.unwrap();
    let lines: Vec<(OrderStatus, Option<String>)> =
        t.order_history(o.id).await.unwrap().into_iter().map(|h| (h.status, h.reason)).collect();
    assert_eq!(
        lines,
        [
            (OrderStatus::Pending, None),
            (OrderStatus::Submitted, None),
            (OrderStatus::Open, None),
            (OrderStatus::Open, Some("modified by asha: quantity 10 → 20, price 1500.00 → 1495.50".into())),
            (OrderStatus::Open, Some("modified by ravi: price 1495.50 → 1496.00".into())),
        ]
    );
}

#[tokio::test]
async fn active_by_strategy_and_by_ids() {
    let t = test_db().await;
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(t.create_order(&limit_buy("ITC", 1 + i, dec!(450)), BrokerKind::Paper, TICK, None).await.unwrap().id);
    }
    t.update_order_status(ids[1], OrderStatus::Rejected, Some("risk: max_position_size"), None).await.unwrap();
    t.update_order_status(ids[2], OrderStatus::Submitted, None, Some("X2")).await.unwrap();
    let active: Vec<i64> = t.active_orders().await.unwrap().iter().map(|o| o.id).collect();
    assert_eq!(active, vec![ids[0], ids[2], ids[3]]);
    let newest_two: Vec<i64> = t.orders_by_strategy(1, 2).await.unwrap().iter().map(|o| o.id).collect();
    assert_eq!(newest_two, vec![ids[3], ids[2]]);
    assert!(t.orders_by_strategy(2, 10).await.unwrap().is_empty());
    let some: Vec<i64> = t.orders_by_ids(&[ids[3], ids[0], 777]).await.unwrap().iter().map(|o| o.id).collect();
    assert_eq!(some, vec![ids[0], ids[3]]);
    assert_eq!(t.today_orders().await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_failed_business_operation_writes_nothing() {
    let t = test_db().await;
    let result: Result<(), DbError> = t
        .transaction(async |conn| {
            xcoin::db::orders::insert_order(conn, &limit_buy("INFY", 1, dec!(1500)), BrokerKind::Paper, TICK, None)
                .await?;
            Err(DbError::Conflict("the second half failed".into()))
        })
        .await;
    assert_eq!(result.unwrap_err().to_string(), "the second half failed");
    assert!(t.today_orders().await.unwrap().is_empty(), "the first half was rolled back");

    let kept = t
        .transaction(async |conn| {
            xcoin::db::orders::insert_order(conn, &limit_buy("INFY", 1, dec!(1500)), BrokerKind::Paper, TICK, None)
                .await
        })
        .await
        .unwrap();
    assert_eq!(t.today_orders().await.unwrap()[0].id, kept.id);
}

/// Orders are read from the server's binary format by a reader of their
/// own; every digit of every numeric survives it (and debug builds check it
/// against sqlx's on each read). A row in text format (the simple protocol)
/// reads the same through sqlx.
#[tokio::test]
async fn orders_read_from_the_binary_format_keep_every_digit() {
    use sqlx::FromRow;
    let t = test_db().await;
    let o = t.create_order(&limit_buy("INFY", 3, dec!(1500)), BrokerKind::Paper, TICK, None).await.unwrap();
    sqlx::query("UPDATE orders SET status = 'SUBMITTED', broker_order_id = 'B-1' WHERE id = $1")
        .bind(o.id)
        .execute(t.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE orders SET status = 'PARTIALLY_FILLED', filled_quantity = 1, average_price = 1 WHERE id = $1")
        .bind(o.id)
        .execute(t.pool())
        .await
        .unwrap();
    // Both ends of each column's range, every position of a base-10,000
    // digit, and weights below zero.
    let cases = [
        ("0.01", "0.0000000001"),
        ("9999999999.99", "99999999999999.9999999999"),
        ("1000.00", "12345678901234.1234567891"),
        ("10000.50", "0.5"),
        ("0.10", "10000"),
        ("123.45", "1000.3333333333"),
        ("7", "0.0001"),
    ];
    for (price, average) in cases {
        sqlx::query("UPDATE orders SET price = $2::numeric, average_price = $3::numeric WHERE id = $1")
            .bind(o.id)
            .bind(price)
            .bind(average)
            .execute(t.pool())
            .await
            .unwrap();
        let read = t.get_order(o.id).await.unwrap();
        let (p, a): (String, String) =
            sqlx::query_as("SELECT price::text, average_price::text FROM orders WHERE id = $1")
                .bind(o.id)
                .fetch_one(t.pool())
                .await
                .unwrap();
        assert_eq!(read.price.unwrap().to_string(), p, "price {price}");
        assert_eq!(read.average_price.unwrap(), a.parse::<rust_decimal::Decimal>().unwrap(), "average {average}");
        assert_eq!(read.average_price.unwrap(), average.parse::<rust_decimal::Decimal>().unwrap());

        let row = sqlx::raw_sql(&format!("SELECT {} FROM orders WHERE id = {}", xcoin::domain::order_columns!(), o.id))
            .fetch_one(t.pool())
            .await
            .unwrap();
        assert_eq!(xcoin::domain::order::Order::from_row(&row).unwrap(), read, "text format, {price} / {average}");
    }
}
