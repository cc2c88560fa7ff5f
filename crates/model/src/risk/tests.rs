use super::*;
use crate::order::{Exchange, OrderType, Product, Validity};

pub(super) fn limits() -> RiskLimits {
    RiskLimits {
        capital: dec!(100000),
        max_risk_per_trade_pct: dec!(2),
        max_daily_loss_pct: dec!(6),
        max_drawdown_pct: dec!(15),
        max_open_positions: 5,
        min_risk_reward: dec!(2),
        max_position_size: 1000,
        price_sanity_pct: dec!(10),
        max_orders_per_second: 10,
        ticks: Ticks::new(&crate::instrument::built_in(), dec!(0.05)),
        enforce_market_hours: true,
        mis_leverage: dec!(5),
        default_stop_pct: dec!(0.5),
        default_target_rr: dec!(2.5),
        stop_at_exchange: true,
    }
}

fn snap() -> RiskSnapshot {
    RiskSnapshot {
        kill_switch_active: false,
        market_state: MarketState::Open,
        last_price: Some(dec!(1000)),
        position_quantity: 0,
        open_positions: 0,
        today_net_pnl: dec!(0),
        drawdown: dec!(0),
        orders_last_second: 0,
        strategy_paused: false,
        strategy: Default::default(),
        free_margin: None,
    }
}

/// BUY 100 LIMIT 1000, stop 990 (risk ₹1,000), target 1020 (2:1).
fn req() -> OrderRequest {
    OrderRequest {
        strategy_id: 1,
        symbol: "INFY".into(),
        exchange: Exchange::Nse,
        side: Side::Buy,
        order_type: OrderType::Limit,
        product: Product::Mis,
        validity: Validity::Day,
        quantity: 100,
        price: Some(dec!(1000)),
        trigger_price: None,
        stop_loss: Some(dec!(990)),
        take_profit: Some(dec!(1020)),
        parent_order_id: None,
        placed_by: "test".into(),
    }
}

/// An order that opens new risk, accepted: what it risks at its stop and
/// its reward:risk.
fn passes(risk: Decimal, reward: Decimal) -> Assessment {
    Assessment { reduces_position: false, risk_amount: Some(risk), risk_reward: Some(reward) }
}

#[test]
fn a_good_order_passes_with_its_risk() {
    let a = validate(&req(), &snap(), &limits()).unwrap();
    assert_eq!(a, Assessment { reduces_position: false, risk_amount: Some(dec!(1000)), risk_reward: Some(dec!(2)) });
}

/// Every rule: one case that passes at the edge, one that fails with its exact reason.
#[test]
fn every_rule_passes_at_its_edge_and_fails_past_it() {
    type Case = (
        &'static str,
        Box<dyn Fn(&mut OrderRequest, &mut RiskSnapshot)>,
        Assessment,
        Box<dyn Fn(&mut OrderRequest, &mut RiskSnapshot)>,
        &'static str,
    );
    // What the base order risks, and its reward:risk.
    let base = passes(dec!(1000), dec!(2));
    let cases: Vec<Case> = vec![
        (
            "kill switch",
            Box::new(|_, _| {}),
            base,
            Box::new(|_, s| s.kill_switch_active = true),
            "kill switch: active; re-arm it before new orders",
        ),
        (
            "paused",
            Box::new(|_, _| {}),
            base,
            Box::new(|_, s| s.strategy_paused = true),
            "strategy paused: resume it before new orders",
        ),
        (
            "position size",
            Box::new(|r, s| {
                s.position_quantity = 900;
                r.stop_loss = Some(dec!(999));
                r.take_profit = Some(dec!(1002))
            }),
            passes(dec!(100), dec!(2)),
            Box::new(|_, s| s.position_quantity = 901),
            "max position size: limit 1000 shares, position would be 1001 (holds 901)",
        ),
        (
            "market hours",
            Box::new(|_, _| {}),
            base,
            Box::new(|_, s| s.market_state = MarketState::PreOpen),
            "market hours: the market is pre-open",
        ),
        (
            "quantity",
            Box::new(|r, _| {
                r.quantity = 1000;
                r.stop_loss = Some(dec!(999));
                r.take_profit = Some(dec!(1002))
            }),
            passes(dec!(1000), dec!(2)),
            Box::new(|r, _| r.quantity = 1001),
            "max position size: limit 1000 shares, order 1001",
        ),
        (
            "tick",
            Box::new(|r, _| r.price = Some(dec!(999.95))),
            passes(dec!(995), dec!(20.05) / dec!(9.95)),
            Box::new(|r, _| r.stop_loss = Some(dec!(990.02))),
            "tick size: stop loss 990.02 is not on the 0.05 tick",
        ),
        (
            "band",
            Box::new(|r, _| {
                r.price = Some(dec!(1100));
                r.stop_loss = Some(dec!(1095));
                r.take_profit = Some(dec!(1110))
            }),
            passes(dec!(500), dec!(2)),
            Box::new(|r, _| r.price = Some(dec!(1100.05))),
            "price sanity: price 1100.05 is more than 10% from the last price 1000",
        ),
        (
            "last price",
            Box::new(|_, _| {}),
            base,
            Box::new(|_, s| s.last_price = None),
            "price sanity: no last traded price for the instrument yet",
        ),
        (
            "rate",
            Box::new(|_, s| s.orders_last_second = 9),
            base,
            Box::new(|_, s| s.orders_last_second = 10),
            "order rate: limit 10 per second, 10 in the last second",
        ),
        (
            "stop missing",
            Box::new(|_, _| {}),
            base,
            Box::new(|r, _| r.stop_loss = None),
            "stop loss: required on every position",
        ),
        (
            "stop side",
            Box::new(|r, _| r.stop_loss = Some(dec!(999.95))),
            passes(dec!(5), dec!(400)),
            Box::new(|r, _| r.stop_loss = Some(dec!(1000))),
            "stop loss: a BUY stop must be below the entry 1000, got 1000",
        ),
        (
            "risk",
            Box::new(|r, _| {
                r.quantity = 400;
                r.stop_loss = Some(dec!(995));
            }),
            passes(dec!(2000), dec!(4)),
            Box::new(|r, _| r.quantity = 401),
            "max risk per trade: limit ₹2000, order risks ₹2005",
        ),
        (
            "reward",
            Box::new(|_, _| {}),
            base,
            Box::new(|r, _| r.take_profit = Some(dec!(1019.50))),
            "min reward:risk: limit 2:1, order 1.95:1",
        ),
        (
            "positions",
            Box::new(|_, s| s.open_positions = 4),
            base,
            Box::new(|_, s| s.open_positions = 5),
            "max open positions: limit 5, open 5",
        ),
        (
            "daily loss",
            Box::new(|_, s| s.today_net_pnl = dec!(-5999.99)),
            base,
            Box::new(|_, s| s.today_net_pnl = dec!(-6000)),
            "max daily loss: limit ₹6000, today ₹6000",
        ),
        (
            "drawdown",
            Box::new(|_, s| s.drawdown = dec!(14999.99)),
            base,
            Box::new(|_, s| s.drawdown = dec!(15000)),
            "max drawdown: limit ₹15000, now ₹15000",
        ),
        (
            // 100 × ₹1,000 intraday at 5×: ₹20,000 of margin.
            "margin",
            Box::new(|_, s| s.free_margin = Some(dec!(20000))),
            base,
            Box::new(|_, s| s.free_margin = Some(dec!(19999.99))),
            "margin: the order needs ₹20000, ₹19999.99 is free",
        ),
    ];
    for (rule, pass, assessed, fail, reason) in cases {
        let (mut r, mut s) = (req(), snap());
        pass(&mut r, &mut s);
        assert_eq!(validate(&r, &s, &limits()), Ok(assessed), "{rule} should pass");
        fail(&mut r, &mut s);
        let denial = validate(&r, &s, &limits()).expect_err(rule);
        assert_eq!(denial.to_string(), reason, "{rule}");
    }
}

#[test]
fn only_the_shares_that_add_exposure_need_margin_and_delivery_needs_it_all() {
    // Short 40: a BUY 100 covers 40 and opens 60 long (₹12,000 at 5×).
    let s = RiskSnapshot { position_quantity: -40, free_margin: Some(dec!(12000)), ..snap() };
    assert!(validate(&req(), &s, &limits()).is_ok());
    let short = RiskSnapshot { free_margin: Some(dec!(11999.95)), ..s.clone() };
    assert_eq!(
        validate(&req(), &short, &limits()).unwrap_err(),
        Denial::Margin { required: dec!(12000), free: dec!(11999.95) }
    );
    // An exit needs none, even with nothing free.
    let exit = OrderRequest { quantity: 40, stop_loss: None, take_profit: None, ..req() };
    let broke = RiskSnapshot { free_margin: Some(dec!(0)), ..s };
    assert!(validate(&exit, &broke, &limits()).unwrap().reduces_position);
    // Delivery (CNC) blocks the whole value.
    let cnc = OrderRequest { product: Product::Cnc, ..req() };
    let s = RiskSnapshot { free_margin: Some(dec!(99999)), ..snap() };
    assert_eq!(
        validate(&cnc, &s, &limits()).unwrap_err().to_string(),
        "margin: the order needs ₹100000, ₹99999 is free"
    );
}

#[test]
fn default_levels_sit_on_the_tick_away_from_the_entry() {
    let tick = dec!(0.05);
    // 0.5 % of 1512.30 is 7.5615: the stop 1504.70 (rounded down), the
    // target 2.5 × 7.60 = 19.00 above.
    assert_eq!(
        default_levels(Side::Buy, dec!(1512.30), tick, dec!(0.5), dec!(2.5)),
        (Some(dec!(1504.70)), Some(dec!(1531.30)))
    );
    assert_eq!(
        default_levels(Side::Sell, dec!(1512.30), tick, dec!(0.5), dec!(2.5)),
        (Some(dec!(1519.90)), Some(dec!(1493.30)))
    );
    // A cheap share: at least a tick; 2.5 × 0.05 = 0.125 rounds away to 0.15.
    assert_eq!(default_levels(Side::Buy, dec!(5), tick, dec!(0.5), dec!(2.5)), (Some(dec!(4.95)), Some(dec!(5.15))));
    assert_eq!(default_levels(Side::Buy, dec!(100), tick, dec!(1), dec!(0)), (Some(dec!(99)), None));
    assert_eq!(default_levels(Side::Buy, dec!(100), tick, dec!(0), dec!(2)), (None, None));
    // What it proposes passes the validator's stop and reward:risk rules.
    let (stop, target) = default_levels(Side::Buy, dec!(1000), tick, dec!(0.5), dec!(2));
    let r = OrderRequest { quantity: 10, stop_loss: stop, take_profit: target, ..req() };
    assert!(validate(&r, &snap(), &limits()).is_ok());
}

#[test]
fn a_sell_stop_goes_above_and_a_target_on_the_wrong_side_is_named() {
    let mut r = req();
    r.side = Side::Sell;
    r.stop_loss = Some(dec!(1010));
    r.take_profit = Some(dec!(980));
    assert_eq!(validate(&r, &snap(), &limits()), Ok(passes(dec!(1000), dec!(2))));
    r.take_profit = Some(dec!(1030));
    assert_eq!(
        validate(&r, &snap(), &limits()).unwrap_err().to_string(),
        "target: a SELL target must be below the entry 1000, got 1030"
    );
    r.side = Side::Buy;
    r.stop_loss = Some(dec!(990));
    r.take_profit = Some(dec!(1000));
    assert_eq!(
        validate(&r, &snap(), &limits()).unwrap_err().to_string(),
        "target: a BUY target must be above the entry 1000, got 1000"
    );
    r.side = Side::Sell;
    r.stop_loss = Some(dec!(990));
    assert_eq!(
        validate(&r, &snap(), &limits()).unwrap_err().to_string(),
        "stop loss: a SELL stop must be above the entry 1000, got 990"
    );
}

#[test]
fn exits_pass_the_new_risk_rules_but_not_shape_band_or_rate() {
    let mut exit = req();
    exit.side = Side::Sell;
    exit.order_type = OrderType::Market;
    exit.price = None;
    exit.stop_loss = None;
    exit.take_profit = None;
    let s = RiskSnapshot {
        kill_switch_active: true,
        strategy_paused: true,
        position_quantity: 100,
        open_positions: 5,
        today_net_pnl: dec!(-9000),
        drawdown: dec!(20000),
        ..snap()
    };
    // No stop: nothing to say about its risk, and an exit has no reward:risk.
    let exits = Assessment { reduces_position: true, risk_amount: None, risk_reward: None };
    assert_eq!(validate(&exit, &s, &limits()), Ok(exits));
    exit.quantity = 101; // more than held: it would open a short, so it is new risk
    assert_eq!(validate(&exit, &s, &limits()).unwrap_err(), Denial::KillSwitch);
    exit.quantity = 100;
    let blind = RiskSnapshot { last_price: None, ..s.clone() };
    assert_eq!(validate(&exit, &blind, &limits()), Ok(exits), "an exit at market needs no last price");
    let busy = RiskSnapshot { orders_last_second: 10, ..s.clone() };
    assert_eq!(
        validate(&exit, &busy, &limits()).unwrap_err().to_string(),
        "order rate: limit 10 per second, 10 in the last second"
    );
    assert!(reduces(-5, Side::Buy, 5) && !reduces(-5, Side::Sell, 1) && !reduces(0, Side::Sell, 1));
}

#[test]
fn prices_are_checked_on_the_instruments_own_tick() {
    // TATASTEEL trades below ₹250: its tick is ₹0.01; INFY's is ₹0.05.
    let mut r = req();
    r.symbol = "TATASTEEL".into();
    r.quantity = 10;
    r.price = Some(dec!(158.73));
    r.stop_loss = Some(dec!(157.11));
    r.take_profit = Some(dec!(162.01));
    let s = RiskSnapshot { last_price: Some(dec!(158.75)), ..snap() };
    // Risk 1.62 × 10; reward 3.28 a share.
    assert_eq!(validate(&r, &s, &limits()), Ok(passes(dec!(16.20), dec!(3.28) / dec!(1.62))));
    let mut infy = req();
    infy.price = Some(dec!(1000.03));
    assert_eq!(
        validate(&infy, &snap(), &limits()).unwrap_err().to_string(),
        "tick size: price 1000.03 is not on the 0.05 tick"
    );
    // An instrument the desk has no tick for is checked on the default.
    let mut other = req();
    other.symbol = "UNLISTED".into();
    other.price = Some(dec!(1000.01));
    assert_eq!(
        validate(&other, &snap(), &limits()).unwrap_err().to_string(),
        "tick size: price 1000.01 is not on the 0.05 tick"
    );
}

#[test]
fn a_working_orders_own_fills_are_taken_out_of_the_desk() {
    // 40 of a BUY 100 filled, and nothing else held: as before the order.
    let s = RiskSnapshot { position_quantity: 40, open_positions: 3, ..snap() }.without_own_fills(40);
    assert_eq!((s.position_quantity, s.open_positions), (0, 2));
    // The position held more than the order's fills: still open.
    let s = RiskSnapshot { position_quantity: 70, open_positions: 3, ..snap() }.without_own_fills(40);
    assert_eq!((s.position_quantity, s.open_positions), (30, 3));
    // Nothing filled: nothing changes.
    assert_eq!(snap().without_own_fills(0), snap());
}

#[test]
fn market_hours_can_be_waived() {
    let closed = RiskSnapshot { market_state: MarketState::Closed, ..snap() };
    assert_eq!(validate(&req(), &closed, &limits()), Err(Denial::MarketHours { state: MarketState::Closed }));
    let waived = RiskLimits { enforce_market_hours: false, ..limits() };
    assert_eq!(validate(&req(), &closed, &waived), Ok(passes(dec!(1000), dec!(2))));
}
