//! Money to the exact paisa in the database: exact charges, exact cost
//! basis, adjustments for positions changed without a trade, today's P&L of
//! positions carried from an earlier day, and the order-to-trade ratio.

use crate::support::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use xcoin::db::positions::{AdjustmentReason, NewPosition};
use xcoin::db::stats::DailyStats;
use xcoin::db::trades::FillOutcome;
use xcoin::domain::charges::ChargeRates;
use xcoin::domain::order::{BrokerKind, Exchange, OrderStatus, Product, Side};
use xcoin::domain::reconciliation::{Holding, compare};
use xcoin::domain::to_paisa;
use xcoin::domain::trade::Fill;

/// A filled market order of `qty` at `price` in `symbol` (NSE MIS), now.
async fn fill(t: &TestDb, symbol: &str, side: Side, qty: i64, price: Decimal, id: &str) -> FillOutcome {
    filled_at(t, symbol, side, qty, price, id, xcoin::domain::clock::now()).await
}

#[tokio::test]
async fn charges_are_stored_exactly_and_rounded_once() {
    let t = test_db().await;
    // NSE MIS BUY 1707 @ 26.55: the charges total exactly 19.0449995121 (kept
    // to six decimals a line, they summed to 19.045000, shown as 19.05).
    let out = fill(&t, "IDEA", Side::Buy, 1707, dec!(26.55), "T1").await;
    assert_eq!(out.trade.total_charges, dec!(19.0449995121));
    assert_eq!(to_paisa(out.trade.total_charges), dec!(19.04));
    assert_eq!(out.position.charges, dec!(19.0449995121));
    let pnl = t.today_pnl().await.unwrap();
    assert_eq!(pnl.charges, dec!(19.0449995121));
    let stats = t.update_daily_stats().await.unwrap();
    assert_eq!(stats.total_charges, dec!(19.0449995121), "daily stats keep it exactly too");
}

#[tokio::test]
async fn realised_pnl_comes_from_the_exact_cost_not_the_rounded_average() {
    let t = test_db().await;
    fill(&t, "INFY", Side::Buy, 1, dec!(100), "T1").await;
    let p = fill(&t, "INFY", Side::Buy, 2, dec!(100.05), "T2").await.position;
    assert_eq!((p.average_price(), p.book.cost), (dec!(100.0333333333), dec!(300.10)));
    let out = fill(&t, "INFY", Side::Sell, 3, dec!(100.10), "T3").await;
    assert_eq!(out.trade.realized_pnl, dec!(0.20), "not 0.2000000001");
    assert_eq!(out.position.realized_pnl(), dec!(0.20));
    // The database's own replay of the trades agrees to the last digit.
    let replay: Decimal = sqlx::query_scalar(
        "SELECT sum(CASE side WHEN 'SELL' THEN turnover ELSE -turnover END) FROM trades WHERE symbol = 'INFY'",
    )
    .fetch_one(t.pool())
    .await
    .unwrap();
    assert_eq!(replay, dec!(0.20));
    assert_eq!(t.today_pnl().await.unwrap().realized_pnl, dec!(0.20));
}

#[tokio::test]
async fn closing_without_a_fill_is_an_adjustment_that_today_counts() {
    let t = test_db().await;
    let p = fill(&t, "ITC", Side::Sell, 200, dec!(450.20), "T1").await.position;
    assert_eq!(
        t.close_position(p.id, dec!(448.05), "  ", "flat at broker").await.unwrap_err().to_string(),
        "actor: must not be empty"
    );
    let closed = t.close_position(p.id, dec!(448.05), "asha", "broker shows it flat").await.unwrap();
    assert_eq!((closed.quantity(), closed.realized_pnl(), closed.book.cost), (0, dec!(430.00), dec!(0)));
    assert_eq!(closed.book.buy_quantity - closed.book.sell_quantity, closed.quantity(), "the books balance");

    let adjustments = t.today_adjustments().await.unwrap();
    assert_eq!(adjustments.len(), 1);
    let a = &adjustments[0];
    assert_eq!((a.position_id, a.reason, a.actor.as_str()), (p.id, AdjustmentReason::ClosedWithoutFill, "asha"));
    assert_eq!(
        (a.quantity_before, a.average_before, a.quantity_after, a.average_after),
        (-200, dec!(450.20), 0, dec!(0))
    );
    assert_eq!((a.price, a.realized_pnl), (dec!(448.05), dec!(430.00)));
    assert_eq!(a.note.as_deref(), Some("broker shows it flat"));

    let pnl = t.today_pnl().await.unwrap();
    assert_eq!(pnl.realized_pnl, dec!(430.00), "before, the close realised nothing today");
    assert_eq!(pnl.net_pnl, dec!(430.00) - pnl.charges);
    let stats = t.update_daily_stats().await.unwrap();
    assert_eq!(stats.gross_pnl, dec!(430.00));

    let (rule, message) =
        t.refused(&format!("UPDATE position_adjustments SET realized_pnl = 0 WHERE id = {}", a.id)).await;
    assert_eq!(rule, "position_adjustments_append_only");
    assert_eq!(message, format!("position adjustment {} cannot be updated: adjustments are append-only", a.id));
    let (rule, _) = t.refused(&format!("DELETE FROM position_adjustments WHERE id = {}", a.id)).await;
    assert_eq!(rule, "position_adjustments_append_only");
}

#[tokio::test]
async fn accepting_the_brokers_side_balances_the_books_and_realises_the_difference() {
    let t = test_db().await;
    // Local 10 @ 100, marked at 110; the broker holds 15 @ 101.
    fill(&t, "TCS", Side::Buy, 10, dec!(100), "T1").await;
    t.mark_to_market("TCS", Exchange::Nse, dec!(110)).await.unwrap();
    let broker = Holding {
        symbol: "TCS".into(),
        exchange: Exchange::Nse,
        product: Product::Mis,
        quantity: 15,
        average_price: dec!(101),
    };
    let local = t.open_positions().await.unwrap();
    let held: Vec<Holding> = local
        .iter()
        .map(|p| Holding {
            symbol: p.symbol.clone(),
            exchange: p.exchange,
            product: p.product,
            quantity: p.quantity(),
            average_price: p.average_price(),
        })
        .collect();
    let m = compare(&held, std::slice::from_ref(&broker), dec!(0.1));
    let (issue, _) = t.log_reconciliation_issue(&m[0], Some(local[0].id)).await.unwrap();
    let before = t.today_pnl().await.unwrap();

    t.accept_broker_position(issue.id, Some(&broker), "ravi", Some("broker is right")).await.unwrap();
    let p = t.get_position(local[0].id).await.unwrap();
    assert_eq!((p.quantity(), p.average_price(), p.book.cost), (15, dec!(101), dec!(1515)));
    assert_eq!(p.book.buy_quantity - p.book.sell_quantity, 15, "buy − sell = quantity, as after fills");
    assert_eq!(p.unrealized_pnl, dec!(135), "15 × (110 − 101)");
    assert_eq!(p.realized_pnl(), dec!(-35), "the cost difference the new units at 110 do not explain");
    assert_eq!(p.realized_pnl(), p.book.sell_value - p.book.buy_value + p.book.cost);

    let a = t.today_adjustments().await.unwrap().pop().unwrap();
    assert_eq!((a.reason, a.issue_id, a.actor.as_str()), (AdjustmentReason::AcceptBroker, Some(issue.id), "ravi"));
    assert_eq!((a.quantity_before, a.quantity_after, a.price, a.realized_pnl), (10, 15, dec!(110), dec!(-35)));
    let after = t.today_pnl().await.unwrap();
    assert_eq!(after.realized_pnl, before.realized_pnl - dec!(35));
    assert_eq!(after.net_pnl, before.net_pnl, "taking the broker's side makes no P&L at the mark");

    // A refused resolution leaves no adjustment behind.
    let err = t.accept_broker_position(issue.id, Some(&broker), "ravi", None).await.unwrap_err();
    assert!(err.to_string().contains("already resolved"), "{err}");
    assert_eq!(t.today_adjustments().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_carried_position_counts_today_from_the_previous_close() {
    let t = test_db().await;
    // Bought 10 @ 100 yesterday (CNC), last price at yesterday's close 120.
    let new = NewPosition { product: Product::Cnc, ..mis_position("HDFCBANK", 10, dec!(100)) };
    let p = t.create_position(&new).await.unwrap();
    t.mark_to_market("HDFCBANK", Exchange::Nse, dec!(120)).await.unwrap();
    t.sql(&format!(
        "SET CONSTRAINTS ALL IMMEDIATE;
         ALTER TABLE positions DISABLE TRIGGER positions_day_reference;
         UPDATE positions SET day_ref_day = xcoin_today() - 1, opened_at = opened_at - interval '1 day' WHERE id = {};
         ALTER TABLE positions ENABLE TRIGGER positions_day_reference;",
        p.id
    ))
    .await;
    let pnl = t.today_pnl().await.unwrap();
    assert_eq!((pnl.unrealized_pnl, pnl.open_unrealized_pnl), (dec!(0), dec!(200)), "nothing moved today yet");

    // Today it trades at 125: the day made 50, the position 250 since bought.
    t.mark_to_market("HDFCBANK", Exchange::Nse, dec!(125)).await.unwrap();
    let pnl = t.today_pnl().await.unwrap();
    assert_eq!((pnl.unrealized_pnl, pnl.open_unrealized_pnl, pnl.net_pnl), (dec!(50), dec!(250), dec!(50)));

    // Sold today at 125 with charges: Kite's day P&L, (sells − buys today) +
    // quantity × last − carried × previous close = 1250 − 1200 = 50, less charges.
    let o = t
        .create_order(
            &xcoin::domain::order::OrderRequest { product: Product::Cnc, ..market("HDFCBANK", Side::Sell, 10) },
            BrokerKind::Paper,
            TICK,
            Some(dec!(125)),
        )
        .await
        .unwrap();
    t.update_order_status(o.id, OrderStatus::Submitted, None, Some("B-S1")).await.unwrap();
    let f = Fill {
        order_id: o.id,
        broker: BrokerKind::Paper,
        broker_trade_id: "S1".into(),
        quantity: 10,
        price: dec!(125),
        traded_at: xcoin::domain::clock::now(),
    };
    let out = t.record_fill(&f, &ChargeRates::default()).await.unwrap();
    assert_eq!(out.trade.realized_pnl, dec!(250), "realised since bought");
    let pnl = t.today_pnl().await.unwrap();
    assert_eq!((pnl.realized_pnl, pnl.unrealized_pnl), (dec!(250), dec!(-200)));
    assert_eq!(pnl.net_pnl, dec!(50) - out.trade.total_charges);
    assert_eq!(pnl.open_unrealized_pnl, dec!(0));
}

#[tokio::test]
async fn order_to_trade_counts_entries_modifications_and_cancellations() {
    let t = test_db().await;
    fill(&t, "INFY", Side::Buy, 10, dec!(1500), "T1").await;
    // A resting order modified twice and then cancelled: 4 messages, no trade.
    let o = t.create_order(&limit_buy("SBIN", 5, dec!(800)), BrokerKind::Paper, TICK, None).await.unwrap();
    t.update_order_status(o.id, OrderStatus::Submitted, None, Some("B-R1")).await.unwrap();
    t.update_order_status(o.id, OrderStatus::Open, None, None).await.unwrap();
    t.sql(&format!("UPDATE orders SET modifications = 2 WHERE id = {}", o.id)).await;
    t.update_order_status(o.id, OrderStatus::Cancelled, Some("operator"), None).await.unwrap();
    // Refused before reaching the broker: no message at the exchange.
    let r = t.create_order(&limit_buy("SBIN", 5, dec!(800)), BrokerKind::Paper, TICK, None).await.unwrap();
    t.update_order_status(r.id, OrderStatus::Rejected, Some("limit"), None).await.unwrap();
    // Was 3 orders ÷ 1 trade; the exchange counts 1 + 1 + 2 + 1 messages.
    assert_eq!(t.order_to_trade_ratio(None).await.unwrap(), Some(dec!(5)));
    assert_eq!(xcoin::domain::charges::otr_text(dec!(5)), "5 <50 nil");

    // A console counts the same from the orders it holds, loaded whole and
    // then order by order as they change.
    let s = xcoin::config::Settings::default();
    let limits = xcoin::engine::EngineConfig::from_settings(&s).limits;
    let mut app = xcoin::console::app::App::new(s.app.mode, s.calendar(), limits, "asha".into(), true);
    app.apply(xcoin::console::store::snapshot(&t.db).await.unwrap());
    app.refresh_views();
    assert_eq!(app.order_to_trade(), Some(dec!(5)));
    assert_eq!(app.order_counts().1 as i64, t.today_order_count().await.unwrap());
    let more = t.create_order(&limit_buy("TCS", 1, dec!(3100)), BrokerKind::Paper, TICK, None).await.unwrap();
    t.update_order_status(more.id, OrderStatus::Submitted, None, Some("B-R2")).await.unwrap();
    t.sql(&format!("UPDATE orders SET modifications = 1 WHERE id = {}", more.id)).await;
    let changed = t.orders_by_ids(&[more.id]).await.unwrap();
    app.apply(xcoin::console::store::Update { orders: changed, ..Default::default() });
    app.refresh_views();
    // 5 + 1 + 1 messages over 1 trade, and 4 orders today.
    assert_eq!(t.order_to_trade_ratio(None).await.unwrap(), Some(dec!(7)));
    assert_eq!(app.order_to_trade(), Some(dec!(7)));
    assert_eq!(app.order_counts().1, 4);
    // Two more fills, each its own order at the broker: 9 messages ÷ 3
    // trades in both, once the console has their rows and the new summary.
    fill(&t, "INFY", Side::Sell, 5, dec!(1501), "T2").await;
    fill(&t, "INFY", Side::Sell, 4, dec!(1502), "T3").await;
    app.apply(xcoin::console::store::Update {
        orders: t.today_orders().await.unwrap(),
        summary: Some(xcoin::console::store::summary(&t.db).await.unwrap()),
        ..Default::default()
    });
    assert_eq!(t.order_to_trade_ratio(None).await.unwrap(), Some(dec!(3)));
    assert_eq!(app.order_to_trade(), Some(dec!(3)));
    // One more modification: 10 ÷ 3 rounds to 3.3333 in both.
    t.sql(&format!("UPDATE orders SET modifications = 2 WHERE id = {}", more.id)).await;
    let changed = t.orders_by_ids(&[more.id]).await.unwrap();
    app.apply(xcoin::console::store::Update { orders: changed, ..Default::default() });
    assert_eq!(t.order_to_trade_ratio(None).await.unwrap(), Some(dec!(3.3333)));
    assert_eq!(app.order_to_trade(), Some(dec!(3.3333)));
}

#[tokio::test]
async fn the_day_per_strategy_and_per_instrument_adds_up_to_the_day() {
    use xcoin::db::stats::BreakdownKind;
    use xcoin::domain::strategy::{StrategyType, TradingMode};
    let t = test_db().await;
    let scalper = t.ensure_strategy("Scalper", StrategyType::Scalping, TradingMode::Paper).await;
    let scalper = scalper.unwrap().id;
    let now = xcoin::domain::clock::now();
    // Manual: INFY bought 10 @ 100 and sold @ 101, a won round trip; TCS
    // bought 5 @ 200 and still open.
    filled_for(&t, 1, "INFY", Side::Buy, 10, dec!(100), "T1", now).await;
    filled_for(&t, 1, "INFY", Side::Sell, 10, dec!(101), "T2", now).await;
    filled_for(&t, 1, "TCS", Side::Buy, 5, dec!(200), "T3", now).await;
    // Scalper: INFY bought 10 @ 102 and sold @ 101, a lost round trip.
    filled_for(&t, scalper, "INFY", Side::Buy, 10, dec!(102), "T4", now).await;
    filled_for(&t, scalper, "INFY", Side::Sell, 10, dec!(101), "T5", now).await;

    let rows = t.today_breakdown().await.unwrap();
    let row = |kind, name: &str| rows.iter().find(|r| r.kind == kind && r.name == name).unwrap().clone();
    let charges = |ids: &[&str]| {
        let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        sqlx::query_scalar::<_, Decimal>("SELECT sum(total_charges) FROM trades WHERE broker_trade_id = ANY($1)")
            .bind(ids)
            .fetch_one(t.pool())
    };
    let manual = row(BreakdownKind::Strategy, "Manual Trading");
    assert_eq!((manual.trades, manual.round_trips, manual.wins), (3, 1, 1));
    assert_eq!(manual.realized_pnl, dec!(10));
    assert_eq!(manual.charges, charges(&["T1", "T2", "T3"]).await.unwrap());
    assert_eq!(manual.net_pnl, dec!(10) - manual.charges);
    assert_eq!(manual.win_rate(), Some(dec!(1)));
    let scalp = row(BreakdownKind::Strategy, "Scalper");
    assert_eq!((scalp.trades, scalp.round_trips, scalp.wins, scalp.realized_pnl), (2, 1, 0, dec!(-10)));
    let infy = row(BreakdownKind::Instrument, "INFY");
    assert_eq!((infy.trades, infy.round_trips, infy.wins, infy.realized_pnl), (4, 2, 1, dec!(0)));
    assert_eq!(infy.charges, charges(&["T1", "T2", "T4", "T5"]).await.unwrap());
    let tcs = row(BreakdownKind::Instrument, "TCS");
    assert_eq!((tcs.trades, tcs.round_trips, tcs.win_rate()), (1, 0, None));
    // Strategies first, best first; each kind adds up to the day.
    assert_eq!(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["Manual Trading", "Scalper", "TCS", "INFY"]);
    let day = t.today_pnl().await.unwrap();
    for kind in [BreakdownKind::Strategy, BreakdownKind::Instrument] {
        let net: Decimal = rows.iter().filter(|r| r.kind == kind).map(|r| r.net_pnl).sum();
        assert_eq!(net, day.net_pnl, "{kind:?} rows add up to the day's net");
    }
}

#[tokio::test]
async fn the_cycles_pnl_update_keeps_the_counts_and_moves_peak_and_drawdown() {
    let t = test_db().await;
    fill(&t, "INFY", Side::Buy, 10, dec!(1500), "T1").await;
    let full = t.update_daily_stats().await.unwrap();
    assert_eq!((full.total_trades, full.total_orders), (1, 1));
    let charges = full.total_charges;

    // Up ₹5 a share: the P&L and its peak move; the counts stay.
    t.mark_many(&[("INFY".into(), xcoin::domain::order::Exchange::Nse, dec!(1505))]).await.unwrap();
    let up = t.update_daily_pnl().await.unwrap();
    assert_eq!(up.unrealized_pnl, dec!(50));
    assert_eq!(up.net_pnl, dec!(50) - charges);
    assert_eq!(up.peak_pnl, dec!(50) - charges);
    assert_eq!((up.total_trades, up.total_orders), (1, 1));
    // Down ₹3 a share from the entry: drawdown is from that peak.
    t.mark_many(&[("INFY".into(), xcoin::domain::order::Exchange::Nse, dec!(1497))]).await.unwrap();
    let down = t.update_daily_pnl().await.unwrap();
    assert_eq!(down.net_pnl, dec!(-30) - charges);
    assert_eq!(down.peak_pnl, dec!(50) - charges);
    assert_eq!(down.max_drawdown, dec!(80));
    // The full recount agrees on every figure the cycle keeps.
    let again = t.update_daily_stats().await.unwrap();
    assert_eq!((again.net_pnl, again.peak_pnl, again.max_drawdown), (down.net_pnl, down.peak_pnl, down.max_drawdown));
}

/// A risk cycle's one call marks and writes today's row as the two separate
/// statements do, writes nothing when no position moved unless asked, and
/// recounts when asked.
#[tokio::test]
async fn the_cycles_one_call_marks_and_totals_as_the_separate_statements_do() {
    let t = test_db().await;
    fill(&t, "INFY", Side::Buy, 10, dec!(1500), "T1").await;
    let full = t.update_daily_stats().await.unwrap();
    let charges = full.total_charges;
    let infy = |price| vec![("INFY".to_string(), xcoin::domain::order::Exchange::Nse, price)];
    let sbin = vec![("SBIN".to_string(), xcoin::domain::order::Exchange::Nse, dec!(810.40))];

    let up = t.mark_and_total(&infy(dec!(1505)), false, false).await.unwrap().expect("INFY moved");
    assert_eq!((up.unrealized_pnl, up.net_pnl, up.peak_pnl), (dec!(50), dec!(50) - charges, dec!(50) - charges));
    assert_eq!((up.total_trades, up.total_orders), (1, 1));
    // The same price again, or an instrument without a position: nothing written.
    assert_eq!(t.mark_and_total(&infy(dec!(1505)), false, false).await.unwrap(), None);
    assert_eq!(t.mark_and_total(&sbin, false, false).await.unwrap(), None);
    assert_eq!(t.daily_stats(full.trading_day).await.unwrap().map(|d| d.updated_at), Some(up.updated_at));
    // Asked (after a fill), today's row is written though nothing moved.
    let asked = t.mark_and_total(&[], true, false).await.unwrap().expect("asked");
    assert_eq!((asked.net_pnl, asked.peak_pnl), (up.net_pnl, up.peak_pnl));
    // A move with a recount: the drawdown from the peak, and every figure the
    // full recount alone gives.
    fill(&t, "TCS", Side::Buy, 1, dec!(3500), "T2").await;
    let down = t.mark_and_total(&infy(dec!(1497)), false, true).await.unwrap().expect("INFY moved");
    let charges = down.total_charges;
    // The peak was ₹50 less the first fill's charges; now −₹30 less both fills'.
    assert_eq!((down.net_pnl, down.max_drawdown), (dec!(-30) - charges, dec!(80) - full.total_charges + charges));
    assert_eq!((down.total_trades, down.total_orders), (2, 2));
    let again = t.update_daily_stats().await.unwrap();
    assert_eq!(DailyStats { updated_at: down.updated_at, ..again }, down);
    assert_eq!(
        t.mark_and_total(&infy(dec!(0)), true, false).await.unwrap_err().to_string(),
        "last_price: NSE:INFY must be greater than 0, got 0"
    );
}

/// A fill through zero ends one round trip and opens the next. SELL 77,
/// BUY 86, SELL 26, BUY 17 of one symbol (short, long, short, flat) is three
/// round trips — won, lost, won — each carrying its share of the crossing
/// fills' charges (one row spanning the flips counted one).
#[tokio::test]
async fn every_zero_crossing_ends_a_round_trip() {
    let t = test_db_at(a_trading_morning()).await;
    let c1 = fill(&t, "SBIN", Side::Sell, 77, dec!(100), "T1").await.trade.total_charges;
    let f2 = fill(&t, "SBIN", Side::Buy, 86, dec!(99), "T2").await;
    let f3 = fill(&t, "SBIN", Side::Sell, 26, dec!(98), "T3").await;
    let f4 = fill(&t, "SBIN", Side::Buy, 17, dec!(97.5), "T4").await;
    let (c2, c3, c4) = (f2.trade.total_charges, f3.trade.total_charges, f4.trade.total_charges);
    assert_eq!(
        (f2.position.quantity(), f3.position.quantity(), f4.position.quantity()),
        (9, -17, 0),
        "long 9 after the first flip, short 17 after the second, then flat"
    );
    assert!(f2.closed.is_some() && f3.closed.is_some() && f4.closed.is_none());

    // Each round trip's realised P&L and its charges, worked by hand.
    let share = |c: Decimal, part: i64, whole: i64| (c * Decimal::from(part) / Decimal::from(whole)).round_dp(10);
    let trips = [
        (dec!(77), c1 + share(c2, 77, 86)), // short 77 @ 100, bought back @ 99
        (dec!(-9), (c2 - share(c2, 77, 86)) + share(c3, 9, 26)), // long 9 @ 99, sold @ 98
        (dec!(8.5), (c3 - share(c3, 9, 26)) + c4), // short 17 @ 98, bought back @ 97.50
    ];
    let rows: Vec<(i64, Decimal, Decimal, String)> = sqlx::query_as(
        "SELECT quantity, realized_pnl, charges, status FROM positions WHERE symbol = 'SBIN' ORDER BY id",
    )
    .fetch_all(t.pool())
    .await
    .unwrap();
    let expected: Vec<_> = trips.iter().map(|&(pnl, charges)| (0, pnl, charges, "CLOSED".to_string())).collect();
    assert_eq!(rows, expected);
    assert_eq!(rows.iter().map(|r| r.2).sum::<Decimal>(), c1 + c2 + c3 + c4, "charges split, none lost");

    let nets: Vec<Decimal> = trips.iter().map(|(pnl, charges)| pnl - charges).collect();
    assert!(nets[0] > dec!(0) && nets[1] < dec!(0) && nets[2] > dec!(0), "won, lost, won: {nets:?}");
    let calendar = xcoin::config::Settings::default().calendar();
    let day = calendar.trading_day(t.now());
    assert_eq!(t.round_trips(day).await.unwrap(), nets);
    let r = xcoin::report::day_report(&t.db, &calendar, day).await.unwrap();
    assert_eq!((r.round_trips, r.wins, r.losses), (3, 2, 1));
    assert!(r.text().contains("Round trips         3 (2 won, 1 lost)\n"), "{}", r.text());
    assert!(r.text().contains("Win rate            66.7%\n"), "2 of 3, rounded: {}", r.text());
    let stats = t.update_daily_stats().await.unwrap();
    assert_eq!((stats.winning_trades, stats.losing_trades), (2, 1));
    assert_eq!((stats.largest_win, stats.largest_loss), (nets[0], nets[1]));
    let sbin = t.today_breakdown().await.unwrap().into_iter().find(|b| b.name == "SBIN").unwrap();
    assert_eq!((sbin.trades, sbin.round_trips, sbin.wins), (4, 3, 2));
    assert_eq!(t.goal_progress(None).await.unwrap().losing_streak, 0, "the last round trip won");
}

/// Accepting the broker's side of a position the broker never had closes it
/// without a fill: its gain is a reconciliation adjustment — in the day's
/// realised and net P&L, shown apart — not a round trip won (a day no fill
/// won used to read "Round trips 3 (2 won, 1 lost)").
#[tokio::test]
async fn a_position_closed_by_reconciliation_is_an_adjustment_not_a_round_trip() {
    let t = test_db_at(a_trading_morning()).await;
    // A real losing round trip in SBIN.
    fill(&t, "SBIN", Side::Buy, 10, dec!(800), "T1").await;
    fill(&t, "SBIN", Side::Sell, 10, dec!(795), "T2").await;
    // 10 INFY @ 100 marked at 110, which the broker never had.
    fill(&t, "INFY", Side::Buy, 10, dec!(100), "T3").await;
    t.mark_to_market("INFY", Exchange::Nse, dec!(110)).await.unwrap();
    let local = t.open_positions().await.unwrap();
    let held: Vec<Holding> = local.iter().map(Holding::from).collect();
    let m = compare(&held, &[], dec!(0.1));
    let (issue, _) = t.log_reconciliation_issue(&m[0], Some(local[0].id)).await.unwrap();
    t.accept_broker_position(issue.id, None, "ravi", Some("never bought at the broker")).await.unwrap();
    assert_eq!(t.open_positions().await.unwrap(), vec![]);

    let stats = t.update_daily_stats().await.unwrap();
    assert_eq!((stats.winning_trades, stats.losing_trades, stats.win_rate()), (0, 1, Some(dec!(0))));
    let calendar = xcoin::config::Settings::default().calendar();
    let day = calendar.trading_day(t.now());
    let r = xcoin::report::day_report(&t.db, &calendar, day).await.unwrap();
    assert_eq!((r.round_trips, r.wins, r.losses), (1, 0, 1), "the SBIN round trip only");
    assert_eq!(r.adjustments, dec!(100), "10 × (110 − 100), booked by reconciliation");
    assert_eq!(r.realised, dec!(-50) + dec!(100), "fills and adjustments both in the day's realised");
    assert!(r.text().contains("\n      adjustments     ₹100.00\n"), "{}", r.text());
    let scalp = t.day_breakdown(None).await.unwrap();
    let infy = scalp.iter().find(|b| b.name == "INFY").unwrap();
    assert_eq!((infy.round_trips, infy.wins), (0, 0), "{infy:?}");
    let progress = t.goal_progress(None).await.unwrap();
    assert_eq!(progress.losing_streak, 1, "the adjustment breaks no streak and makes none");
    // Stats shows it under the realised, on a day it booked any.
    let mut app = crate::console::new_app(true);
    app.apply(xcoin::console::store::snapshot(&t.db).await.unwrap());
    app.on_key(crossterm::event::KeyEvent::from(crossterm::event::KeyCode::Char('5')));
    let screen = crate::console::text(&crate::console::draw(&mut app, 120, 40)).join("\n");
    let row = screen.lines().find(|l| l.contains("    adjustments")).unwrap_or_else(|| panic!("{screen}"));
    assert!(row.contains("₹100.00"), "{row}");
}

/// A cycle marks every instrument that moved in one statement, by the rule
/// a single instrument's mark has: unrealised P&L = last × quantity − cost,
/// the highest and lowest since open, every product of an instrument, and
/// instruments without an open position passed over.
#[tokio::test]
async fn a_batch_of_marks_follows_the_one_instrument_rule_to_the_paisa() {
    let t = test_db().await;
    let open = async |symbol: &str, product, quantity, average_price| {
        let new = NewPosition { product, ..mis_position(symbol, quantity, average_price) };
        t.create_position(&new).await.unwrap().id
    };
    let infy_mis = open("INFY", Product::Mis, 10, dec!(1500.05)).await;
    let infy_cnc = open("INFY", Product::Cnc, -5, dec!(1510)).await;
    let tcs = open("TCS", Product::Mis, 2, dec!(3500)).await;
    let batch = |infy: Decimal, tcs: Decimal| {
        vec![
            ("INFY".to_string(), Exchange::Nse, infy),
            ("TCS".to_string(), Exchange::Nse, tcs),
            ("SBIN".to_string(), Exchange::Nse, dec!(810.40)),
        ]
    };
    // The engine marks what it read beside the mark by the same rule, in
    // memory: the rows the database marks and the ones it marks agree.
    let in_memory = async |prices: &[(String, Exchange, Decimal)]| {
        let mut read = t.open_positions().await.unwrap();
        xcoin::engine::risk::mark_all(&mut read, prices);
        read
    };
    let mut sorted = batch(dec!(1505.10), dec!(3490));
    sorted.sort();
    let expected = in_memory(&sorted).await;
    assert_eq!(t.mark_many(&batch(dec!(1505.10), dec!(3490))).await.unwrap(), 3, "SBIN has no position");
    let mark =
        |p: &xcoin::domain::position::Position| (p.id, p.last_price, p.unrealized_pnl, p.highest_price, p.lowest_price);
    let stored = t.open_positions().await.unwrap();
    assert_eq!(stored.iter().map(mark).collect::<Vec<_>>(), expected.iter().map(mark).collect::<Vec<_>>());
    assert_eq!(t.mark_many(&batch(dec!(1498.95), dec!(3490))).await.unwrap(), 2, "TCS did not move");
    let p = async |id| t.get_position(id).await.unwrap();
    let (a, b, c) = (p(infy_mis).await, p(infy_cnc).await, p(tcs).await);
    // 1498.95 × 10 − 15000.50; 1498.95 × −5 + 7550; 3490 × 2 − 7000.
    assert_eq!((a.unrealized_pnl, b.unrealized_pnl, c.unrealized_pnl), (dec!(-11.00), dec!(55.25), dec!(-20)));
    assert_eq!((a.highest_price, a.lowest_price), (Some(dec!(1505.10)), Some(dec!(1498.95))));
    assert_eq!((b.last_price, c.last_price), (Some(dec!(1498.95)), Some(dec!(3490))));
    // The one-instrument mark is the same rule: marking INFY alone to the same price moves nothing.
    assert_eq!(t.mark_to_market("INFY", Exchange::Nse, dec!(1498.95)).await.unwrap(), 0);
    assert_eq!(t.mark_to_market("INFY", Exchange::Nse, dec!(1501)).await.unwrap(), 2);
    assert_eq!(p(infy_cnc).await.unrealized_pnl, dec!(45.00));
    // The database refuses a price that is not positive, by itself too.
    let (_, message) = t.refused("SELECT xcoin_mark_positions(ARRAY['INFY'], ARRAY['NSE'], ARRAY[0])").await;
    assert_eq!(message, "last price must be positive, got 0");
}
