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
    assert_eq!(next(&mut feed).await, ChangeEvent::Change(Change { table: Table::Orders, op: Op::Insert, id: o.id }));
    writer.update_order_status(o.id, OrderStatus::Rejected, Some("test"), None).await.unwrap();
    assert_eq!(next(&mut feed).await, ChangeEvent::Change(Change { table: Table::Orders, op: Op::Update, id: o.id }));
    sqlx::query("DELETE FROM orders WHERE id = $1").bind(o.id).execute(writer.pool()).await.unwrap();
    assert_eq!(next(&mut feed).await, ChangeEvent::Change(Change { table: Table::Orders, op: Op::Delete, id: o.id }));

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
    assert_eq!(
        next(&mut feed).await,
        ChangeEvent::Change(Change { table: Table::ReconciliationLog, op: Op::Insert, id: i.id })
    );
    let s = writer.update_daily_stats().await.unwrap();
    assert_eq!(
        next(&mut feed).await,
        ChangeEvent::Change(Change { table: Table::DailyStats, op: Op::Insert, id: s.id })
    );

    // Payloads are keys only, far below the 8000-byte limit.
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
    assert_eq!(
        next(&mut engine).await,
        ChangeEvent::Change(Change { table: Table::OperatorCommands, op: Op::Insert, id: c.id })
    );
    t.claim_next_command().await.unwrap();
    t.complete_command(c.id, "no open positions").await.unwrap();
    assert_eq!(
        next(&mut console).await,
        ChangeEvent::Change(Change { table: Table::OperatorCommands, op: Op::Update, id: c.id })
    );
    assert_eq!(
        next(&mut console).await,
        ChangeEvent::Change(Change { table: Table::OperatorCommands, op: Op::Update, id: c.id })
    );
    // The engine's own claiming and finishing do not wake it: the next thing
    // on its channel is the next command (before, the two updates of `c`).
    let second = t.enqueue_command(&OperatorCommand::ExitAll {}, "asha").await.unwrap();
    assert_eq!(
        next(&mut engine).await,
        ChangeEvent::Change(Change { table: Table::OperatorCommands, op: Op::Insert, id: second.id })
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
    assert_eq!(next(&mut feed).await, ChangeEvent::Change(Change { table: Table::Orders, op: Op::Insert, id: o.id }));
}
