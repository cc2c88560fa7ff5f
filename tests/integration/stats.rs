//! Today's numbers, with "today" the IST trading day.

use crate::support::*;
use chrono::Utc;
use rust_decimal_macros::dec;
use xcoin::domain::calendar::MarketCalendar;
use xcoin::domain::charges::ChargeRates;
use xcoin::domain::order::{BrokerKind, OrderStatus, Side};
use xcoin::domain::trade::Fill;

async fn filled(
    t: &TestDb,
    side: Side,
    qty: i64,
    price: rust_decimal::Decimal,
    trade_id: &str,
    traded_at: chrono::DateTime<Utc>,
) -> i64 {
    filled_at(t, "INFY", side, qty, price, trade_id, traded_at).await.trade.id
}

#[tokio::test]
async fn views_and_functions_cut_the_day_at_ist_midnight_not_utc() {
    let t = test_db_at(a_trading_morning()).await;
    // 30 s after and 30 s before IST midnight: the same UTC date (18:30 UTC is
    // IST midnight), different trading days. Trades are append-only, so each
    // fill carries its time from the start.
    let midnight: chrono::DateTime<Utc> =
        sqlx::query_scalar("SELECT xcoin_day_start(xcoin_today())").fetch_one(t.pool()).await.unwrap();
    let half_minute = chrono::Duration::seconds(30);
    let today = filled(&t, Side::Buy, 10, dec!(1500), "T1", midnight + half_minute).await;
    let yesterday = filled(&t, Side::Sell, 10, dec!(1510), "T2", midnight - half_minute).await;
    t.sql(&format!(
        "UPDATE orders SET created_at = xcoin_day_start(xcoin_today()) + interval '30 seconds' WHERE id = (SELECT order_id FROM trades WHERE id = {today});
         UPDATE orders SET created_at = xcoin_day_start(xcoin_today()) - interval '30 seconds' WHERE id = (SELECT order_id FROM trades WHERE id = {yesterday});"
    ))
    .await;
    let (a, b): (chrono::NaiveDate, chrono::NaiveDate) = sqlx::query_as(
        "SELECT ((xcoin_day_start(xcoin_today()) + interval '30 seconds') AT TIME ZONE 'UTC')::date,
                ((xcoin_day_start(xcoin_today()) - interval '30 seconds') AT TIME ZONE 'UTC')::date",
    )
    .fetch_one(t.pool())
    .await
    .unwrap();
    assert_eq!(a, b, "both instants fall on one UTC date");

    let today_orders = t.today_orders().await.unwrap();
    assert_eq!(today_orders.len(), 1);
    assert_eq!(today_orders[0].side, Side::Buy);
    let today_trades = t.today_trades().await.unwrap();
    assert_eq!(today_trades.iter().map(|t| t.id).collect::<Vec<_>>(), vec![today]);
    assert_eq!(t.today_order_count().await.unwrap(), 1);
    assert_eq!(t.today_trade_count().await.unwrap(), 1);
    let pnl = t.today_pnl().await.unwrap();
    assert_eq!(pnl.realized_pnl, dec!(0), "yesterday's closing sell does not count today");
    assert_eq!(pnl.charges, today_trades[0].total_charges);

    let db_today: chrono::NaiveDate = sqlx::query_scalar("SELECT xcoin_today()").fetch_one(t.pool()).await.unwrap();
    assert_eq!(db_today, MarketCalendar::default().trading_day(t.now()), "SQL and Rust agree on today");
    let yesterday_day = db_today.pred_opt().unwrap();
    assert_eq!(t.order_to_trade_ratio(Some(yesterday_day)).await.unwrap(), Some(dec!(1)));
}

/// On the run's own clock (a Saturday, a holiday, IST midnight in the CI's
/// shifted passes): the database's today is the calendar's.
#[tokio::test]
async fn sql_and_rust_agree_on_today_on_the_runs_clock() {
    let t = test_db().await;
    let calendar = MarketCalendar::default();
    let (rust, sql) = loop {
        let before = calendar.today();
        let sql: chrono::NaiveDate = sqlx::query_scalar("SELECT xcoin_today()").fetch_one(t.pool()).await.unwrap();
        // (Read again if IST midnight passed between the two reads.)
        if calendar.today() == before {
            break (before, sql);
        }
    };
    assert_eq!(sql, rust);
    let stamped: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT xcoin_now()").fetch_one(t.pool()).await.unwrap();
    let drift = (stamped - xcoin::domain::clock::now()).num_milliseconds().abs();
    assert!(drift < 5_000, "the database's clock is the desk's (off by {drift} ms)");
}

#[tokio::test]
async fn counts_ratio_and_daily_stats_with_peak_and_drawdown() {
    let t = test_db_at(a_trading_morning()).await;
    assert_eq!(t.order_to_trade_ratio(None).await.unwrap(), None, "no trades: no ratio");
    filled(&t, Side::Buy, 10, dec!(100), "T1", t.now()).await;
    filled(&t, Side::Sell, 10, dec!(110), "T2", t.now()).await; // +100
    // Two orders resting at the broker: messages without trades.
    for n in 0..2 {
        let o = t.create_order(&limit_buy("SBIN", 1, dec!(800)), BrokerKind::Paper, TICK, None).await.unwrap();
        t.update_order_status(o.id, OrderStatus::Submitted, None, Some(&format!("B-R{n}"))).await.unwrap();
    }
    assert_eq!(t.today_order_count().await.unwrap(), 4);
    assert_eq!(t.today_trade_count().await.unwrap(), 2);
    assert_eq!(t.order_to_trade_ratio(None).await.unwrap(), Some(dec!(2)));

    let s1 = t.update_daily_stats().await.unwrap();
    let charges = t.today_pnl().await.unwrap().charges;
    assert_eq!((s1.total_orders, s1.total_trades, s1.winning_trades, s1.losing_trades), (4, 2, 1, 0));
    assert_eq!(s1.gross_pnl, dec!(100));
    assert_eq!(s1.total_charges, charges);
    assert_eq!(s1.net_pnl, dec!(100) - charges);
    assert_eq!(s1.peak_pnl, s1.net_pnl);
    assert_eq!(s1.max_drawdown, dec!(0));
    assert_eq!(s1.largest_win, dec!(100) - charges, "a round trip, net of its charges");
    assert_eq!(s1.order_to_trade_ratio, Some(dec!(2)));
    assert_eq!(s1.win_rate(), Some(dec!(1)));

    // A losing round trip: net falls below the peak, drawdown is the fall.
    filled(&t, Side::Buy, 10, dec!(110), "T3", t.now()).await;
    filled(&t, Side::Sell, 10, dec!(90), "T4", t.now()).await; // −200
    let s2 = t.update_daily_stats().await.unwrap();
    let second_charges = t.today_pnl().await.unwrap().charges - charges;
    assert_eq!(s2.id, s1.id, "one row per day");
    assert_eq!((s2.winning_trades, s2.losing_trades, s2.largest_loss), (1, 1, dec!(-200) - second_charges));
    assert_eq!(s2.peak_pnl, s1.net_pnl);
    assert_eq!(s2.max_drawdown, s1.net_pnl - s2.net_pnl);
    assert_eq!(s2.win_rate(), Some(dec!(0.5)));
    assert_eq!(t.daily_stats(s2.trading_day).await.unwrap().unwrap(), s2);
}

#[tokio::test]
async fn wins_and_losses_count_round_trips_not_fills() {
    let t = test_db_at(a_trading_morning()).await;
    // One round trip in five fills: bought in three parts, sold in two, at a profit.
    let part = |order_id: i64, quantity: i64, price, id: &str| Fill {
        order_id,
        broker: BrokerKind::Paper,
        broker_trade_id: id.into(),
        quantity,
        price,
        traded_at: t.now(),
    };
    let buy = t.create_order(&market("INFY", Side::Buy, 10), BrokerKind::Paper, TICK, Some(dec!(100))).await.unwrap();
    t.update_order_status(buy.id, OrderStatus::Submitted, None, Some("B-1")).await.unwrap();
    for (q, id) in [(3, "F1"), (3, "F2"), (4, "F3")] {
        t.record_fill(&part(buy.id, q, dec!(100), id), &ChargeRates::default()).await.unwrap();
    }
    let sell = t.create_order(&market("INFY", Side::Sell, 10), BrokerKind::Paper, TICK, Some(dec!(110))).await.unwrap();
    t.update_order_status(sell.id, OrderStatus::Submitted, None, Some("B-2")).await.unwrap();
    for (q, id) in [(5, "F4"), (5, "F5")] {
        t.record_fill(&part(sell.id, q, dec!(110), id), &ChargeRates::default()).await.unwrap();
    }
    let s = t.update_daily_stats().await.unwrap();
    let charges = t.today_pnl().await.unwrap().charges;
    assert_eq!((s.total_trades, s.winning_trades, s.losing_trades), (5, 1, 0), "five fills, one winning round trip");
    assert_eq!(s.largest_win, dec!(100) - charges);
    assert_eq!(s.win_rate(), Some(dec!(1)));

    // A position still open is not a round trip yet.
    filled(&t, Side::Buy, 2, dec!(100), "F6", t.now()).await;
    let s = t.update_daily_stats().await.unwrap();
    assert_eq!((s.winning_trades, s.losing_trades), (1, 0));
}

/// The database keeps each IST day's realised P&L, charges and adjustments
/// by strategy as fills and adjustments are written: the running totals
/// equal the sums over the rows, on both sides of IST midnight, and today's
/// P&L read from them equals the trades' own.
#[tokio::test]
async fn the_days_totals_kept_by_the_database_equal_the_sums_over_the_rows() {
    let t = test_db_at(a_trading_morning()).await;
    let calendar = xcoin::config::Settings::default().calendar();
    let today = calendar.today();
    let midnight = calendar.instant(today, chrono::NaiveTime::MIN);
    let before = midnight - chrono::Duration::seconds(1);
    // Strategy 1 trades on both days; a second strategy today only.
    let second: i64 =
        sqlx::query_scalar("INSERT INTO strategies (name, strategy_type) VALUES ('Second', 'manual') RETURNING id")
            .fetch_one(t.pool())
            .await
            .unwrap();
    filled_at(&t, "INFY", Side::Buy, 10, dec!(1500.05), "T1", before).await;
    filled_at(&t, "INFY", Side::Sell, 4, dec!(1510.35), "T2", midnight).await;
    filled_for(&t, second, "SBIN", Side::Sell, 7, dec!(812.45), "T3", midnight + chrono::Duration::hours(1)).await;
    filled_for(&t, second, "SBIN", Side::Buy, 7, dec!(809.10), "T4", midnight + chrono::Duration::hours(2)).await;
    // An adjustment today: the rest of INFY closed by hand at the broker's price.
    let infy = t.open_positions().await.unwrap().into_iter().find(|p| p.symbol == "INFY").unwrap();
    t.close_position(infy.id, dec!(1512.00), "asha", "closed at the broker").await.unwrap();

    let kept: Vec<(chrono::NaiveDate, i64, rust_decimal::Decimal, rust_decimal::Decimal, rust_decimal::Decimal)> =
        sqlx::query_as("SELECT trading_day, strategy_id, realized, charges, adjusted FROM pnl_by_day ORDER BY 1, 2")
            .fetch_all(t.pool())
            .await
            .unwrap();
    let summed: Vec<(chrono::NaiveDate, i64, rust_decimal::Decimal, rust_decimal::Decimal, rust_decimal::Decimal)> =
        sqlx::query_as(
            "SELECT day, strategy_id, sum(realized), sum(charges), sum(adjusted) FROM (
                 SELECT (traded_at AT TIME ZONE 'Asia/Kolkata')::date AS day, strategy_id,
                        realized_pnl AS realized, total_charges AS charges, 0::numeric AS adjusted FROM trades
                 UNION ALL
                 SELECT (a.created_at AT TIME ZONE 'Asia/Kolkata')::date, p.strategy_id, 0, 0, a.realized_pnl
                   FROM position_adjustments a JOIN positions p ON p.id = a.position_id) rows
              GROUP BY 1, 2 ORDER BY 1, 2",
        )
        .fetch_all(t.pool())
        .await
        .unwrap();
    assert_eq!(kept, summed);
    assert_eq!(
        kept.iter().map(|k| (k.0, k.1)).collect::<Vec<_>>(),
        [(today.pred_opt().unwrap(), 1), (today, 1), (today, second)]
    );
    assert!(kept[1].4 != rust_decimal::Decimal::ZERO, "the adjustment is today's, strategy 1's");

    // Today's P&L from the kept totals equals the sums over today's rows.
    let pnl = t.today_pnl().await.unwrap();
    let (realized, charges): (rust_decimal::Decimal, rust_decimal::Decimal) = sqlx::query_as(
        "SELECT (SELECT sum(realized_pnl) FROM trades WHERE traded_at >= $1)
                + (SELECT coalesce(sum(realized_pnl), 0) FROM position_adjustments WHERE created_at >= $1),
                (SELECT sum(total_charges) FROM trades WHERE traded_at >= $1)",
    )
    .bind(midnight)
    .fetch_one(t.pool())
    .await
    .unwrap();
    assert_eq!((pnl.realized_pnl, pnl.charges), (realized, charges));
}
