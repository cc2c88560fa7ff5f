//! The schema: what exists, what it refuses, and its agreement with the code.

use crate::support::*;
use xcoin::db::schema::{FUNCTIONS, TABLES, VIEWS, expected_version};
use xcoin::domain::order::{BrokerKind, OrderStatus};
use xcoin::domain::strategy::{MANUAL_STRATEGY_ID, StrategyType, TradingMode};

#[tokio::test]
async fn every_table_view_and_function_exists_and_migrating_again_changes_nothing() {
    let t = test_db().await;
    let report = t.verify_schema().await.unwrap();
    assert!(report.is_complete(), "missing: {:?}", report.missing());
    assert_eq!(report.tables.len(), 11);
    assert_eq!(report.views.len(), 3);
    assert_eq!(report.functions.len(), 4);
    assert_eq!(report.version, Some(expected_version()));
    assert_eq!((TABLES.len(), VIEWS.len(), FUNCTIONS.len()), (11, 3, 4));

    t.migrate().await.unwrap();
    assert_eq!(t.verify_schema().await.unwrap(), report);

    let health = t.health().await.unwrap();
    assert_eq!(health.table_count, 11);
    assert!(health.server_version.split('.').next().unwrap().parse::<u32>().unwrap() >= 13);
}

#[tokio::test]
async fn the_manual_strategy_is_seeded() {
    let t = test_db().await;
    let s = t.get_strategy(MANUAL_STRATEGY_ID).await.unwrap();
    assert_eq!(
        (s.id, s.name.as_str(), s.strategy_type, s.mode, s.is_active),
        (1, "Manual Trading", StrategyType::Manual, TradingMode::Paper, true)
    );
    assert_eq!(t.all_strategies().await.unwrap().len(), 1);
    t.sql(
        "INSERT INTO strategies (name, strategy_type, is_active, paused_at, paused_by, paused_reason)
         VALUES ('Scalper', 'scalping', false, xcoin_now(), 'asha', 'lunch')",
    )
    .await;
    let all = t.all_strategies().await.unwrap();
    assert_eq!(all.iter().map(|s| s.id).collect::<Vec<_>>(), vec![1, 2], "the identity continues after the seed");
    let active = t.active_strategies().await.unwrap();
    assert_eq!(active.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), vec!["Manual Trading"]);
    assert_eq!(t.get_strategy(9).await.unwrap_err().to_string(), "strategy 9 does not exist");
    // A paused strategy always says who paused it and why.
    let err =
        sqlx::query("INSERT INTO strategies (name, strategy_type, is_active) VALUES ('Silent', 'scalping', false)")
            .execute(t.pool())
            .await
            .unwrap_err();
    assert!(err.to_string().contains("strategies_pause_recorded"), "{err}");
}

#[tokio::test]
async fn the_sql_lifecycle_table_agrees_with_the_rust_one_on_every_pair() {
    let t = test_db().await;
    for &from in OrderStatus::ALL {
        for &to in OrderStatus::ALL {
            let sql: bool = sqlx::query_scalar("SELECT xcoin_order_transition_allowed($1, $2)")
                .bind(from.as_str())
                .bind(to.as_str())
                .fetch_one(t.pool())
                .await
                .unwrap();
            assert_eq!(sql, from.can_transition_to(to), "{from} -> {to}");
        }
    }
}

#[tokio::test]
async fn the_database_refuses_a_status_update_that_breaks_the_lifecycle() {
    let t = test_db().await;
    let order = t
        .create_order(&limit_buy("INFY", 10, rust_decimal_macros::dec!(1500)), BrokerKind::Paper, TICK, None)
        .await
        .unwrap();
    // Straight to OPEN, skipping SUBMITTED: refused by the trigger even with a broker id.
    let err = sqlx::query("UPDATE orders SET status = 'OPEN', broker_order_id = 'B1' WHERE id = $1")
        .bind(order.id)
        .execute(t.pool())
        .await
        .unwrap_err();
    assert!(err.to_string().contains(&format!("order {} cannot go from PENDING to OPEN", order.id)), "{err}");
    t.sql(&format!("UPDATE orders SET status = 'CANCELLED' WHERE id = {}", order.id)).await;
    let err = sqlx::query("UPDATE orders SET status = 'PENDING' WHERE id = $1")
        .bind(order.id)
        .execute(t.pool())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot go from CANCELLED to PENDING"), "{err}");
    let err = sqlx::query(
        "INSERT INTO orders (strategy_id, symbol, exchange, side, order_type, product, quantity, status)
                           VALUES (1, 'INFY', 'NSE', 'BUY', 'MARKET', 'MIS', 1, 'FILLED')",
    )
    .execute(t.pool())
    .await
    .unwrap_err();
    assert!(err.to_string().contains("a new order must start PENDING, not FILLED"), "{err}");
}

#[tokio::test]
async fn constraints_refuse_impossible_rows() {
    let t = test_db().await;
    let insert = |values: &str| {
        format!(
            "INSERT INTO orders (strategy_id, symbol, exchange, side, order_type, product, quantity, price, trigger_price) VALUES ({values})"
        )
    };
    let cases = [
        (insert("1, 'INFY', 'NSE', 'BUY', 'LIMIT', 'MIS', 0, 10, NULL"), "orders_quantity_check"),
        (insert("1, 'INFY', 'NSE', 'BUY', 'LIMIT', 'MIS', 5, -1, NULL"), "orders_price_check"),
        (insert("1, 'INFY', 'MCX', 'BUY', 'LIMIT', 'MIS', 5, 10, NULL"), "orders_exchange_check"),
        (insert("1, 'INFY', 'NSE', 'HOLD', 'LIMIT', 'MIS', 5, 10, NULL"), "orders_side_check"),
        (insert("1, 'INFY', 'NSE', 'BUY', 'LIMIT', 'MIS', 5, NULL, NULL"), "orders_price_matches_type"),
        (insert("1, 'INFY', 'NSE', 'BUY', 'MARKET', 'MIS', 5, NULL, 10"), "orders_trigger_matches_type"),
        (insert("1, 'infy', 'NSE', 'BUY', 'MARKET', 'MIS', 5, NULL, NULL"), "orders_symbol_check"),
        (insert("7, 'INFY', 'NSE', 'BUY', 'MARKET', 'MIS', 5, NULL, NULL"), "orders_strategy_id_fkey"),
        ("INSERT INTO positions (strategy_id, symbol, exchange, product, quantity, average_price) VALUES (1, 'INFY', 'NSE', 'MIS', 0, 10)".into(), "positions_open_means_nonzero"),
        ("INSERT INTO strategies (name, strategy_type, mode) VALUES ('x', 'manual', 'DEMO')".into(), "strategies_mode_check"),
        ("INSERT INTO operator_commands (command, requested_by) VALUES ('SELL_EVERYTHING', 'op')".into(), "operator_commands_command_check"),
        ("INSERT INTO kill_switch_events (action, trigger, reason, actor) VALUES ('ACTIVATED', 'OPERATOR', ' ', 'op')".into(), "kill_switch_events_reason_check"),
    ];
    for (sql, constraint) in cases {
        let err = sqlx::query(&sql).execute(t.pool()).await.unwrap_err();
        let db_err = err.as_database_error().unwrap_or_else(|| panic!("{sql}: {err}"));
        assert_eq!(db_err.constraint(), Some(constraint), "{sql}: {err}");
    }
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(t.pool()).await.unwrap();
    assert_eq!(orders, 0);
}
