//! Read-only ad-hoc queries cannot write.

use std::time::Duration;

use crate::support::*;
use rust_decimal_macros::dec;
use xcoin::db::changes::ChangeFeed;
use xcoin::domain::order::BrokerKind;

const T: Duration = Duration::from_secs(5);

#[tokio::test]
async fn reads_work_and_render_values() {
    let t = test_db().await;
    t.create_order(&limit_buy("INFY", 7, dec!(1500.05)), BrokerKind::Paper, TICK, None).await.unwrap();
    let rows = t
        .raw_query(
            "SELECT symbol, quantity, price, created_at IS NOT NULL AS stamped, NULL::text AS nothing FROM orders",
            T,
        )
        .await
        .unwrap();
    assert_eq!(rows.columns, vec!["symbol", "quantity", "price", "stamped", "nothing"]);
    assert_eq!(rows.rows, vec![vec!["INFY", "7", "1500.05", "true", "NULL"]]);
}

#[tokio::test]
async fn writes_multi_statements_notify_and_slow_queries_all_fail() {
    let t = test_db().await;
    let mut feed = ChangeFeed::changes(t.pool()).await.unwrap();
    t.create_order(&limit_buy("INFY", 7, dec!(1500)), BrokerKind::Paper, TICK, None).await.unwrap();
    let _ = feed.next_timeout(Duration::from_secs(5)).await.expect("the insert's own notification");

    let insert = t
        .raw_query("INSERT INTO strategies (name, strategy_type) VALUES ('x', 'manual') RETURNING id", T)
        .await
        .unwrap_err();
    assert!(insert.to_string().contains("cannot execute INSERT in a read-only transaction"), "{insert}");
    let escape = t.raw_query("COMMIT; DELETE FROM orders", T).await.unwrap_err();
    assert!(escape.to_string().contains("cannot insert multiple commands into a prepared statement"), "{escape}");
    let cte = t.raw_query("WITH d AS (DELETE FROM orders RETURNING 1) SELECT count(*) FROM d", T).await.unwrap_err();
    assert!(cte.to_string().contains("read-only transaction"), "{cte}");
    let notify = t
        .raw_query("SELECT pg_notify('xcoin_changes', '{\"table\":\"orders\",\"op\":\"DELETE\",\"id\":1}')", T)
        .await
        .unwrap_err();
    assert!(notify.to_string().contains("permission denied for function pg_notify"), "{notify}");
    let lock = t.raw_query("SELECT pg_advisory_lock(1)", T).await.unwrap_err();
    assert!(lock.to_string().contains("permission denied for function pg_advisory_lock"), "{lock}");
    let slow = t.raw_query("SELECT pg_sleep(3)", Duration::from_millis(200)).await.unwrap_err();
    assert!(slow.to_string().contains("canceling statement due to statement timeout"), "{slow}");

    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(t.pool()).await.unwrap();
    let strategies: i64 = sqlx::query_scalar("SELECT count(*) FROM strategies").fetch_one(t.pool()).await.unwrap();
    assert_eq!((orders, strategies), (1, 1));
    assert_eq!(feed.next_timeout(Duration::from_millis(500)).await, None, "no notification escaped");
}
