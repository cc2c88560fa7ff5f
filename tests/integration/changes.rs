//! The change feed over real LISTEN/NOTIFY.

use std::time::Duration;

use crate::support::*;
use rust_decimal_macros::dec;
use xcoin::db::changes::{CHANGES_CHANNEL, COMMANDS_CHANNEL, Change, ChangeEvent, ChangeFeed, Op, Table};
use xcoin::domain::command::OperatorCommand;
use xcoin::domain::order::{BrokerKind, OrderStatus};

const WAIT: Duration = Duration::from_secs(10);

async fn next(feed: &mut ChangeFeed) -> ChangeEvent {
    feed.next_timeout(WAIT).await.expect("a change event within 10 s")
}

#[tokio::test]
async fn insert_update_delete_arrive_as_typed_keys() {
    let t = test_db().await;
    let mut feed = ChangeFeed::changes(&t).await.unwrap();
    let writer = t.another_pool().await;
    let o = writer.create_order(&limit_buy("INFY", 1, dec!(1500)), BrokerKind::Paper, TICK, None).await.unwrap();
    // An order's notification carries the order as committed.
    assert_eq!(
        next(&mut feed).await,
        ChangeEvent::Change(Change {
            order: Some(Box::new(o.clone())),
            ..Change::key(Table::Orders, Op::Insert, o.id)
        })
    );
    writer.update_order_status(o.id, OrderStatus::Rejected, Some("test"), None).await.unwrap();
    let rejected = t.get_order(o.id).await.unwrap();
    assert_eq!(rejected.status, OrderStatus::Rejected);
    assert_eq!(
        next(&mut feed).await,
        ChangeEvent::Change(Change { order: Some(Box::new(rejected)), ..Change::key(Table::Orders, Op::Update, o.id) })
    );
    sqlx::query("DELETE FROM orders WHERE id = $1").bind(o.id).execute(writer.pool()).await.unwrap();
    assert_eq!(next(&mut feed).await, ChangeEvent::Change(Change::key(Table::Orders, Op::Delete, o.id)));

    // Every table the console shows is on the feed.
    let issue = xcoin::domain::reconciliation::compare(
        &[],
        &[xcoin::domain::reconciliation::Holding {
            symbol: "TCS".into(),
            exchange: xcoin::domain::order::Exchange::Nse,
            product: xcoin::domain::order::Product::Mis,
            quantity: 1,
            average_price: dec!(3500),
        }],
        dec!(0.1),
    );
    let (i, _) = writer.log_reconciliation_issue(&issue[0], None).await.unwrap();
    assert_eq!(next(&mut feed).await, ChangeEvent::Change(Change::key(Table::ReconciliationLog, Op::Insert, i.id)));
    let s = writer.update_daily_stats().await.unwrap();
    assert_eq!(next(&mut feed).await, ChangeEvent::Change(Change::key(Table::DailyStats, Op::Insert, s.id)));

    // Other tables' payloads are keys only, far below the 8000-byte limit.
    let payload: String = sqlx::query_scalar(
        "SELECT json_build_object('table', 'reconciliation_log', 'op', 'DELETE', 'id', 9223372036854775807)::text",
    )
    .fetch_one(t.pool())
    .await
    .unwrap();
    assert!(payload.len() < 100);
}

#[tokio::test]
async fn commands_notify_the_engine_channel_and_results_reach_consoles() {
    let t = test_db().await;
    let mut engine = ChangeFeed::listen(&t, &[COMMANDS_CHANNEL]).await.unwrap();
    let mut console = ChangeFeed::listen(&t, &[CHANGES_CHANNEL]).await.unwrap();
    let c = t.enqueue_command(&OperatorCommand::ExitAll {}, "asha").await.unwrap();
    assert_eq!(next(&mut engine).await, ChangeEvent::Change(Change::key(Table::OperatorCommands, Op::Insert, c.id)));
    t.claim_next_command().await.unwrap();
    t.complete_command(c.id, "no open positions").await.unwrap();
    assert_eq!(next(&mut console).await, ChangeEvent::Change(Change::key(Table::OperatorCommands, Op::Update, c.id)));
    assert_eq!(next(&mut console).await, ChangeEvent::Change(Change::key(Table::OperatorCommands, Op::Update, c.id)));
    // The engine's own claiming and finishing do not wake it: the next thing
    // on its channel is the next command (before, the two updates of `c`).
    let second = t.enqueue_command(&OperatorCommand::ExitAll {}, "asha").await.unwrap();
    assert_eq!(
        next(&mut engine).await,
        ChangeEvent::Change(Change::key(Table::OperatorCommands, Op::Insert, second.id))
    );
}

#[tokio::test]
async fn killing_the_listener_backend_yields_resync_and_the_feed_continues() {
    let t = test_db().await;
    let mut feed = ChangeFeed::changes(&t).await.unwrap();
    for round in 0..3 {
        let pid = feed.backend_pid().await.unwrap();
        let killed: bool =
            sqlx::query_scalar("SELECT pg_terminate_backend($1)").bind(pid).fetch_one(t.pool()).await.unwrap();
        assert!(killed, "round {round}");
        // A change committed while the listener is down is lost by PostgreSQL...
        let lost = t.create_order(&limit_buy("SBIN", 1, dec!(800)), BrokerKind::Paper, TICK, None).await.unwrap();
        // ...so the feed says Resync, and the consumer's reload (the console
        // loader's on Resync) has `lost` as it was written...
        assert_eq!(next(&mut feed).await, ChangeEvent::Resync, "round {round}");
        let (reloaded, _) = xcoin::console::store::first_snapshot(&t).await.unwrap();
        assert!(reloaded.snapshot, "a full reload replaces everything");
        let found: Vec<_> = reloaded.orders.iter().filter(|o| o.id == lost.id).collect();
        assert_eq!(found, vec![&lost], "round {round}");
        // ...and keeps delivering changes after it.
        let after = t.create_order(&limit_buy("SBIN", 2, dec!(800)), BrokerKind::Paper, TICK, None).await.unwrap();
        let mut seen = Vec::new();
        loop {
            match next(&mut feed).await {
                ChangeEvent::Change(c) if c.id == after.id => break,
                other => seen.push(other),
            }
        }
        assert!(seen.iter().all(|e| matches!(e, ChangeEvent::Change(c) if c.id == lost.id)), "{seen:?}");
        assert_ne!(feed.backend_pid().await.unwrap(), pid);
    }
}

#[tokio::test]
async fn a_malformed_notification_is_skipped() {
    let t = test_db().await;
    let mut feed = ChangeFeed::changes(&t).await.unwrap();
    sqlx::query("SELECT pg_notify('xcoin_changes', 'garbage')").execute(t.pool()).await.unwrap();
    sqlx::query("SELECT pg_notify('xcoin_changes', '{\"table\":\"users\",\"op\":\"INSERT\",\"id\":1}')")
        .execute(t.pool())
        .await
        .unwrap();
    let o = t.create_order(&limit_buy("ITC", 1, dec!(450)), BrokerKind::Paper, TICK, None).await.unwrap();
    let ChangeEvent::Change(c) = next(&mut feed).await else { panic!("a change") };
    assert_eq!((c.table, c.op, c.id), (Table::Orders, Op::Insert, o.id));
}

/// The order a notification carries is the row the database layer reads, to
/// the last of an average price's ten decimals and through any text; the
/// console applies it without a read; one too long to carry comes as keys and
/// the console reads it back.
#[tokio::test]
async fn an_order_travels_in_its_notification_exactly_or_as_keys_when_too_long() {
    let t = test_db().await;
    let mut feed = ChangeFeed::changes(&t).await.unwrap();
    let o = t.create_order(&limit_buy("INFY", 3, dec!(1500)), BrokerKind::Paper, TICK, None).await.unwrap();
    let _ = next(&mut feed).await;
    // An average no float holds (24 significant digits) and a reason with
    // quotes, a backslash and the rupee sign, written as the table allows.
    sqlx::query("UPDATE orders SET status = 'SUBMITTED', broker_order_id = 'X-1' WHERE id = $1")
        .bind(o.id)
        .execute(t.pool())
        .await
        .unwrap();
    sqlx::query(
        "UPDATE orders SET status = 'PARTIALLY_FILLED', filled_quantity = 1,
                average_price = 12345678901234.1234567891, status_reason = $2 WHERE id = $1",
    )
    .bind(o.id)
    .bind("part \"filled\" at ₹ \\ exchange")
    .execute(t.pool())
    .await
    .unwrap();
    let ChangeEvent::Change(submitted) = next(&mut feed).await else { panic!("a change") };
    assert_eq!(submitted.order.as_ref().map(|o| o.status), Some(OrderStatus::Submitted));
    let ChangeEvent::Change(part) = next(&mut feed).await else { panic!("a change") };
    let stored = t.get_order(o.id).await.unwrap();
    assert_eq!(stored.average_price.unwrap().to_string(), "12345678901234.1234567891");
    assert_eq!(stored.status_reason.as_deref(), Some("part \"filled\" at ₹ \\ exchange"));
    assert_eq!(part.order.as_deref(), Some(&stored));

    // The console takes the carried order as it is: a closed pool shows it
    // reads nothing for it.
    let closed = t.another_pool().await;
    closed.pool().close().await;
    let u = xcoin::console::store::fetch(&closed, vec![part.clone()]).await.unwrap();
    assert_eq!(u.orders, vec![stored.clone()]);

    // A reason that would pass the server's 8,000-byte limit: keys only,
    // and the console reads the order back.
    let long = "r".repeat(9_000);
    sqlx::query("UPDATE orders SET status_reason = $2 WHERE id = $1")
        .bind(o.id)
        .bind(&long)
        .execute(t.pool())
        .await
        .unwrap();
    let ChangeEvent::Change(keys) = next(&mut feed).await else { panic!("a change") };
    assert_eq!(keys, Change::key(Table::Orders, Op::Update, o.id));
    assert!(xcoin::console::store::fetch(&closed, vec![keys.clone()]).await.is_err(), "it must read");
    let u = xcoin::console::store::fetch(&t, vec![part.clone(), keys]).await.unwrap();
    assert_eq!(u.orders.len(), 1);
    assert_eq!(u.orders[0].status_reason.as_deref(), Some(long.as_str()), "the newest notification decides");
    // The older carried order is not applied over the one read back.
    let u =
        xcoin::console::store::fetch(&closed, vec![Change::key(Table::Orders, Op::Update, o.id), part]).await.unwrap();
    assert_eq!(u.orders, vec![stored]);
}
