//! Fills: charges, positions and orders in one transaction, exactly once.

use crate::support::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use xcoin::domain::charges::ChargeRates;
use xcoin::domain::order::{BrokerKind, OrderStatus, Side};
use xcoin::domain::position::PositionStatus;

#[tokio::test]
async fn an_intraday_round_trip_to_the_paisa() {
    let t = test_db().await;
    let rates = ChargeRates::default();
    let mut buy_req = market("RELIANCE", Side::Buy, 100);
    buy_req.stop_loss = Some(dec!(2480));
    buy_req.take_profit = Some(dec!(2540));
    let buy = submitted(&t, &buy_req, dec!(100), "B1").await;

    let first = t.record_fill(&fill(&buy, "T1", 40, dec!(2500)), &rates).await.unwrap();
    assert!(!first.duplicate);
    assert_eq!(first.order.status, OrderStatus::PartiallyFilled);
    assert_eq!((first.order.filled_quantity, first.order.average_price), (40, Some(dec!(2500))));
    assert_eq!(first.position.quantity(), 40);
    assert_eq!((first.position.stop_loss, first.position.take_profit), (Some(dec!(2480)), Some(dec!(2540))));
    // 40 × 2500 = 100,000: brokerage 0.03 % = 30 → capped at 20.
    assert_eq!(first.trade.charges.brokerage, dec!(20));
    assert_eq!(first.trade.turnover, dec!(100000));

    let second = t.record_fill(&fill(&buy, "T2", 60, dec!(2500)), &rates).await.unwrap();
    assert_eq!(second.order.status, OrderStatus::Filled);
    assert_eq!(second.trade.charges.brokerage, dec!(0), "the ₹20 cap is per order, already used");
    assert_eq!((second.position.quantity(), second.position.average_price()), (100, dec!(2500)));

    let sell = submitted(&t, &market("RELIANCE", Side::Sell, 100), dec!(100), "S1").await;
    let out = t.record_fill(&fill(&sell, "T3", 100, dec!(2510)), &rates).await.unwrap();
    assert_eq!(out.trade.realized_pnl, dec!(1000));
    assert_eq!(out.position.status, PositionStatus::Closed);
    assert_eq!(out.position.quantity(), 0);
    assert!(out.position.closed_at.is_some());
    assert_eq!(out.position.realized_pnl(), dec!(1000));

    // Buy side by hand: T1 20 + 2.97 + 0.1 + GST 18 % × 23.07 = 4.1526 + stamp 3 = 30.2226;
    // T2 (150,000) 0 + 4.455 + 0.15 + GST 0.8289 + stamp 4.5 = 9.9339.
    // Sell (251,000): 20 + STT 62.75 + 7.4547 + 0.251 + GST 4.987026 = 95.442726.
    let trades = t.trades_for_order(buy.id).await.unwrap();
    assert_eq!(trades.iter().map(|t| t.total_charges).collect::<Vec<_>>(), vec![dec!(30.2226), dec!(9.9339)]);
    assert_eq!(out.trade.total_charges, dec!(95.442726));
    assert_eq!(out.trade.net_value, dec!(251000) - dec!(95.442726));
    assert_eq!(trades[0].net_value, dec!(-100030.2226));
    assert_eq!(out.position.charges, dec!(135.599226));

    let pnl = t.today_pnl().await.unwrap();
    assert_eq!(pnl.realized_pnl, dec!(1000));
    assert_eq!(pnl.charges, dec!(135.599226));
    assert_eq!(pnl.net_pnl, dec!(864.400774));
    assert_eq!(xcoin::domain::to_paisa(pnl.net_pnl), dec!(864.40));
    assert_eq!(t.today_trades().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_repeated_fill_changes_nothing() {
    let t = test_db().await;
    let rates = ChargeRates::default();
    let o = submitted(&t, &market("SBIN", Side::Buy, 10), dec!(100), "B7").await;
    let first = t.record_fill(&fill(&o, "T-9", 10, dec!(800)), &rates).await.unwrap();
    let again = t.record_fill(&fill(&o, "T-9", 10, dec!(800)), &rates).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.trade, first.trade);
    assert_eq!(again.order, first.order);
    assert_eq!(again.position.quantity(), 10);
    assert_eq!(t.trades_for_order(o.id).await.unwrap().len(), 1);
    assert_eq!(t.get_position(first.position.id).await.unwrap(), first.position);

    // Delivered concurrently from two connections: still exactly one trade.
    let other = t.another_pool().await;
    let o2 = submitted(&t, &market("SBIN", Side::Buy, 5), dec!(100), "B8").await;
    let f = fill(&o2, "T-10", 5, dec!(801));
    let (a, b) = tokio::join!(t.record_fill(&f, &rates), other.record_fill(&f, &rates));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.duplicate ^ b.duplicate, "exactly one of the two deliveries applied");
    assert_eq!(t.get_position(first.position.id).await.unwrap().quantity(), 15);
}

#[tokio::test]
async fn fills_that_cannot_be_are_refused_and_write_nothing() {
    let t = test_db().await;
    let rates = ChargeRates::default();
    let pending =
        t.create_order(&market("ITC", Side::Buy, 10), BrokerKind::Paper, TICK, Some(dec!(450))).await.unwrap();
    let err = t.record_fill(&fill(&pending, "T1", 10, dec!(450)), &rates).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("order {} is PENDING (never sent); a fill cannot arrive before it is SUBMITTED", pending.id)
    );

    let o = submitted(&t, &market("ITC", Side::Buy, 10), dec!(100), "B1").await;
    let err = t.record_fill(&fill(&o, "T2", 11, dec!(450)), &rates).await.unwrap_err();
    assert_eq!(err.to_string(), format!("a fill of 11 would take order {} past its quantity (0 of 10 filled)", o.id));
    let err = t.record_fill(&fill(&o, "T3", 0, dec!(450)), &rates).await.unwrap_err();
    assert_eq!(err.to_string(), "quantity: a fill has a positive quantity, got 0");
    let err = t.record_fill(&fill(&o, " ", 1, dec!(450)), &rates).await.unwrap_err();
    assert_eq!(err.to_string(), "broker_trade_id: a fill needs the broker's trade id");
    let mut kite = fill(&o, "T4", 1, dec!(450));
    kite.broker = BrokerKind::Kite;
    let err = t.record_fill(&kite, &rates).await.unwrap_err();
    assert_eq!(err.to_string(), format!("broker: order {} went to paper, but the fill comes from kite", o.id));

    assert!(t.today_trades().await.unwrap().is_empty());
    assert!(t.open_positions().await.unwrap().is_empty());
    assert_eq!(t.get_order(o.id).await.unwrap().filled_quantity, 0);
}

#[tokio::test]
async fn a_fill_after_cancel_is_recorded_and_the_order_stays_cancelled() {
    let t = test_db().await;
    let rates = ChargeRates::default();
    let o = submitted(&t, &limit_buy("WIPRO", 100, dec!(250)), dec!(100), "B1").await;
    t.update_order_status(o.id, OrderStatus::Open, None, None).await.unwrap();
    t.record_fill(&fill(&o, "T1", 30, dec!(250)), &rates).await.unwrap();
    t.update_order_status(o.id, OrderStatus::Cancelled, Some("operator"), None).await.unwrap();
    let late = t.record_fill(&fill(&o, "T2", 20, dec!(250)), &rates).await.unwrap();
    assert_eq!(late.order.status, OrderStatus::Cancelled);
    assert_eq!(late.order.filled_quantity, 50);
    assert_eq!(late.position.quantity(), 50);
}

#[tokio::test]
async fn a_short_that_flips_long_takes_the_new_orders_levels() {
    let t = test_db().await;
    let rates = ChargeRates::default();
    let mut short = market("TATAMOTORS", Side::Sell, 50);
    short.stop_loss = Some(dec!(710));
    let s = submitted(&t, &short, dec!(100), "S1").await;
    let opened = t.record_fill(&fill(&s, "T1", 50, dec!(700)), &rates).await.unwrap();
    assert_eq!((opened.position.quantity(), opened.position.stop_loss), (-50, Some(dec!(710))));

    let mut long = market("TATAMOTORS", Side::Buy, 80);
    long.stop_loss = Some(dec!(680));
    let b = submitted(&t, &long, dec!(100), "B1").await;
    let flipped = t.record_fill(&fill(&b, "T2", 80, dec!(690)), &rates).await.unwrap();
    assert_eq!(flipped.trade.realized_pnl, dec!(500));
    // The short's round trip ended at zero: its row closed with the 50 units'
    // share of the fill's charges; the 30 long are a new row.
    let closed = flipped.closed.clone().expect("the flip closed the short's row");
    assert_eq!(closed.id, opened.position.id);
    assert_eq!((closed.quantity(), closed.realized_pnl(), closed.status.as_str()), (0, dec!(500), "CLOSED"));
    let t2 = flipped.trade.total_charges;
    let share = (t2 * dec!(50) / dec!(80)).round_dp(10);
    assert_eq!(closed.charges, opened.trade.total_charges + share);
    assert_ne!(flipped.position.id, closed.id, "the long is a row of its own");
    assert_eq!((flipped.position.quantity(), flipped.position.average_price()), (30, dec!(690)));
    assert_eq!((flipped.position.stop_loss, flipped.position.realized_pnl()), (Some(dec!(680)), dec!(0)));
    assert_eq!((flipped.position.charges, flipped.position.unrealized_pnl), (t2 - share, dec!(0)));
    assert_eq!(closed.charges + flipped.position.charges, opened.trade.total_charges + t2, "no paisa lost or made");
}

#[tokio::test]
async fn random_fill_sequences_match_a_recomputation_from_the_trades() {
    let t = test_db().await;
    let rates = ChargeRates::default();
    for seed in [1u64, 7, 42] {
        let mut rng = Lcg(seed);
        let symbol = format!("SEED{seed}");
        let mut net = 0i64;
        for n in 0..30 {
            // Two orders in three go against the position, so it reduces,
            // closes and crosses zero often.
            let buy = if net == 0 { rng.below(2) == 0 } else { (net < 0) == (rng.below(3) != 0) };
            let side = if buy { Side::Buy } else { Side::Sell };
            let qty = 1 + rng.below(300) as i64;
            let o = submitted(&t, &market(&symbol, side, qty), dec!(100), &format!("{symbol}-O{n}")).await;
            net += side.sign() * qty;
            // Filled in one or two parts at prices on the tick around ₹500.
            let first = if qty > 1 && rng.below(2) == 0 { 1 + rng.below(qty as u64 - 1) as i64 } else { qty };
            for (part, q) in [(0, first), (1, qty - first)] {
                if q > 0 {
                    let price = dec!(500) + Decimal::from(rng.below(400) as i64 - 200) * dec!(0.05);
                    t.record_fill(&fill(&o, &format!("{symbol}-T{n}-{part}"), q, price), &rates).await.unwrap();
                }
            }
        }
        // Recompute from the trades table alone.
        let (net_qty, buys, sells, realized, charges): (Decimal, Decimal, Decimal, Decimal, Decimal) = sqlx::query_as(
            "SELECT sum(CASE WHEN side = 'BUY' THEN quantity ELSE -quantity END)::numeric,
                    coalesce(sum(turnover) FILTER (WHERE side = 'BUY'), 0), coalesce(sum(turnover) FILTER (WHERE side = 'SELL'), 0),
                    sum(realized_pnl), sum(total_charges)
               FROM trades WHERE symbol = $1",
        )
        .bind(&symbol)
        .fetch_one(t.pool())
        .await
        .unwrap();
        let rows: Vec<(i64, Decimal, Decimal, Decimal)> = sqlx::query_as(
            "SELECT quantity, average_price, realized_pnl, charges FROM positions WHERE symbol = $1 ORDER BY id",
        )
        .bind(&symbol)
        .fetch_all(t.pool())
        .await
        .unwrap();
        let open: Vec<_> = rows.iter().filter(|r| r.0 != 0).collect();
        assert!(open.len() <= 1, "seed {seed}: one open position per instrument");
        let (qty, avg) = open.first().map_or((0, Decimal::ZERO), |r| (r.0, r.1));
        assert_eq!(Decimal::from(qty), net_qty, "seed {seed}: quantity");
        let position_realized: Decimal = rows.iter().map(|r| r.2).sum();
        assert_eq!(position_realized, realized, "seed {seed}: realised P&L on positions equals the trades'");
        let position_charges: Decimal = rows.iter().map(|r| r.3).sum();
        assert_eq!(position_charges, charges, "seed {seed}: charges");
        // Every fill that takes the running quantity to zero or through it
        // ends a round trip: one closed row each.
        let signed: Vec<i64> = sqlx::query_scalar(
            "SELECT CASE WHEN side = 'BUY' THEN quantity ELSE -quantity END FROM trades WHERE symbol = $1 ORDER BY id",
        )
        .bind(&symbol)
        .fetch_all(t.pool())
        .await
        .unwrap();
        let (mut running, mut trips) = (0i64, 0);
        for q in signed {
            let after = running + q;
            if running != 0 && (after == 0 || after.signum() != running.signum()) {
                trips += 1;
            }
            running = after;
        }
        let closed = rows.iter().filter(|r| r.0 == 0).count();
        assert_eq!(closed, trips, "seed {seed}: a closed row per round trip");
        assert!(trips >= 3, "seed {seed}: the sequence crosses zero ({trips} round trips)");
        let identity = sells - buys + Decimal::from(qty) * avg;
        assert!((realized - identity).abs() < dec!(0.001), "seed {seed}: realised {realized} vs cash flows {identity}");
    }
}
