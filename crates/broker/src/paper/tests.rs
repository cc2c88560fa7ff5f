use super::*;
use rust_decimal_macros::dec;

fn instruments() -> Vec<Instrument> {
    vec![
        Instrument {
            symbol: "INFY".into(),
            exchange: Exchange::Nse,
            name: "Infosys".into(),
            reference_price: dec!(1500),
            tick_size: dec!(0.05),
        },
        Instrument {
            symbol: "SBIN".into(),
            exchange: Exchange::Nse,
            name: "SBI".into(),
            reference_price: dec!(800),
            tick_size: dec!(0.05),
        },
    ]
}

fn broker(config: PaperConfig) -> PaperBroker {
    PaperBroker::new(&instruments(), config).unwrap()
}

fn req(
    side: Side,
    order_type: OrderType,
    quantity: i64,
    price: Option<Decimal>,
    trigger: Option<Decimal>,
) -> PlaceRequest {
    PlaceRequest {
        tag: "XC1".into(),
        symbol: "INFY".into(),
        exchange: Exchange::Nse,
        side,
        order_type,
        product: Product::Mis,
        validity: Validity::Day,
        quantity,
        price,
        trigger_price: trigger,
        reduces_position: false,
    }
}

fn drain(rx: &mut broadcast::Receiver<BrokerEvent>) -> (Vec<BrokerFill>, Vec<BrokerOrder>) {
    let (mut fills, mut orders) = (Vec::new(), Vec::new());
    while let Ok(e) = rx.try_recv() {
        match e {
            BrokerEvent::Fill(f) => fills.push(f),
            BrokerEvent::Order(o) => orders.push(o),
            BrokerEvent::Tick(_) => {}
        }
    }
    (fills, orders)
}

async fn order(b: &PaperBroker, id: &str) -> BrokerOrder {
    b.orders().await.unwrap().into_iter().find(|o| o.broker_order_id == id).unwrap()
}

#[tokio::test]
async fn a_market_order_fills_at_the_next_tick_with_slippage() {
    let b = broker(PaperConfig::default());
    let mut rx = b.subscribe();
    let id = b.place(&req(Side::Buy, OrderType::Market, 10, None, None)).await.unwrap();
    let (fills, orders) = drain(&mut rx);
    assert!(fills.is_empty(), "nothing fills before the next tick");
    assert_eq!(orders[0].status, OrderStatus::Open);
    b.set_price("INFY", Exchange::Nse, dec!(1501)).unwrap();
    let (fills, orders) = drain(&mut rx);
    assert_eq!(fills.len(), 1);
    assert_eq!((fills[0].quantity, fills[0].price), (10, dec!(1501.05)), "one tick of slippage against a buy");
    assert_eq!(orders.last().unwrap().status, OrderStatus::Filled);
    assert_eq!(order(&b, &id).await.filled_quantity, 10);
    let pos = b.positions().await.unwrap();
    assert_eq!((pos[0].quantity, pos[0].average_price), (10, dec!(1501.05)));
}

#[tokio::test]
async fn a_limit_fills_only_when_the_price_trades_through() {
    let b = broker(PaperConfig::default());
    let mut rx = b.subscribe();
    let id = b.place(&req(Side::Buy, OrderType::Limit, 5, Some(dec!(1495)), None)).await.unwrap();
    b.set_price("INFY", Exchange::Nse, dec!(1495.05)).unwrap();
    assert!(drain(&mut rx).0.is_empty(), "resting");
    b.set_price("INFY", Exchange::Nse, dec!(1494.50)).unwrap();
    let (fills, _) = drain(&mut rx);
    assert_eq!((fills[0].price, fills[0].quantity), (dec!(1495), 5), "filled at the limit");
    assert_eq!(order(&b, &id).await.status, OrderStatus::Filled);
}

/// A marketable limit fills at the market on every part while the market
/// stays through its limit; once the market leaves it, it rests and a
/// later part fills at the limit.
#[tokio::test]
async fn a_marketable_limit_fills_at_the_market_part_after_part() {
    let b = broker(PaperConfig { liquidity_per_tick: 5, slippage_ticks: 0, ..Default::default() });
    b.set_price("INFY", Exchange::Nse, dec!(1512.45)).unwrap();
    let id = b.place(&req(Side::Buy, OrderType::Limit, 30, Some(dec!(1558.00)), None)).await.unwrap();
    for _ in 0..4 {
        b.set_price("INFY", Exchange::Nse, dec!(1512.45)).unwrap();
    }
    let trades: Vec<(i64, Decimal)> = b
        .trades()
        .await
        .unwrap()
        .into_iter()
        .filter(|f| f.broker_order_id == id)
        .map(|f| (f.quantity, f.price))
        .collect();
    assert_eq!(trades, [(5, dec!(1512.45)); 4], "every part at the market, not the 1558.00 limit");
    // The market moves above the limit: the rest rests, then fills at its limit.
    b.set_price("INFY", Exchange::Nse, dec!(1560.00)).unwrap();
    b.set_price("INFY", Exchange::Nse, dec!(1550.00)).unwrap();
    let o = order(&b, &id).await;
    assert_eq!(o.filled_quantity, 25);
    let last = b.trades().await.unwrap().last().unwrap().clone();
    assert_eq!((last.quantity, last.price), (5, dec!(1558.00)), "a resting order fills at its limit");
}

#[tokio::test]
async fn stop_orders_trigger_then_fill() {
    let b = broker(PaperConfig { slippage_ticks: 0, ..Default::default() });
    let mut rx = b.subscribe();
    // A protective sell stop-market under a long.
    let slm = b.place(&req(Side::Sell, OrderType::StopLossMarket, 3, None, Some(dec!(1490)))).await.unwrap();
    // A buy stop-limit: triggers at 1505, buys up to 1506.
    let sl = b.place(&req(Side::Buy, OrderType::StopLoss, 4, Some(dec!(1506)), Some(dec!(1505)))).await.unwrap();
    b.set_price("INFY", Exchange::Nse, dec!(1504.95)).unwrap();
    assert!(drain(&mut rx).0.is_empty(), "neither trigger reached");
    b.set_price("INFY", Exchange::Nse, dec!(1506.50)).unwrap();
    assert!(drain(&mut rx).0.is_empty(), "triggered, but 1506.50 is above the 1506 limit");
    b.set_price("INFY", Exchange::Nse, dec!(1505.50)).unwrap();
    let (fills, _) = drain(&mut rx);
    assert_eq!((fills[0].broker_order_id.as_str(), fills[0].price), (sl.as_str(), dec!(1506)));
    b.set_price("INFY", Exchange::Nse, dec!(1489.95)).unwrap();
    let (fills, _) = drain(&mut rx);
    assert_eq!(
        (fills[0].broker_order_id.as_str(), fills[0].price, fills[0].quantity),
        (slm.as_str(), dec!(1489.95), 3)
    );
}

#[tokio::test]
async fn large_orders_fill_in_parts_and_ioc_cancels_the_rest() {
    let b = broker(PaperConfig { liquidity_per_tick: 100, ..Default::default() });
    let mut rx = b.subscribe();
    let id = b.place(&req(Side::Buy, OrderType::Market, 250, None, None)).await.unwrap();
    for expected in
        [(100, OrderStatus::PartiallyFilled), (200, OrderStatus::PartiallyFilled), (250, OrderStatus::Filled)]
    {
        b.step();
        let o = order(&b, &id).await;
        assert_eq!((o.filled_quantity, o.status), expected);
    }
    assert_eq!(drain(&mut rx).0.len(), 3);

    let mut ioc = req(Side::Sell, OrderType::Limit, 250, Some(dec!(1)), None);
    ioc.validity = Validity::Ioc;
    let id = b.place(&ioc).await.unwrap();
    b.step();
    let o = order(&b, &id).await;
    assert_eq!((o.filled_quantity, o.status), (100, OrderStatus::Cancelled));
    let ltp = b.last_price("INFY", Exchange::Nse).unwrap();
    assert_eq!(o.average_price, Some(ltp), "a marketable limit fills at the market, not at its limit");
    assert_eq!(o.message.as_deref(), Some("IOC: the unfilled quantity was cancelled"));
    assert_eq!(b.positions().await.unwrap()[0].quantity, 150);
}

#[tokio::test]
async fn cancel_modify_and_refusals() {
    let b = broker(PaperConfig::default());
    let id = b.place(&req(Side::Buy, OrderType::Limit, 5, Some(dec!(1400)), None)).await.unwrap();
    b.modify(&id, Modify { quantity: Some(8), price: Some(dec!(1410)), trigger_price: None, at_market: false })
        .await
        .unwrap();
    let o = order(&b, &id).await;
    assert_eq!((o.quantity, o.price), (8, Some(dec!(1410))));
    b.cancel(&id).await.unwrap();
    assert_eq!(order(&b, &id).await.status, OrderStatus::Cancelled);
    assert_eq!(
        b.cancel(&id).await.unwrap_err().to_string(),
        format!("the broker rejected it: order {id} is already CANCELLED")
    );
    assert_eq!(b.cancel("PO999").await.unwrap_err(), BrokerError::UnknownOrder("PO999".into()));
    let mut bad = req(Side::Buy, OrderType::Limit, 5, Some(dec!(1400.01)), None);
    assert_eq!(
        b.place(&bad).await.unwrap_err().to_string(),
        "the broker rejected it: price 1400.01 is not on the 0.05 tick"
    );
    bad.symbol = "NOPE".into();
    assert_eq!(
        b.place(&bad).await.unwrap_err().to_string(),
        "the broker rejected it: NSE:NOPE is not a tradable instrument"
    );
}

#[tokio::test]
async fn a_replayed_file_drives_prices_and_fills() {
    let b = broker(PaperConfig { slippage_ticks: 0, ..Default::default() });
    let err = b.replay("symbol,exchange,price\nINFY,NSE,abc\n", Duration::from_millis(1)).unwrap_err();
    assert_eq!(err.to_string(), "the broker rejected it: replay line 2: `abc` is not a price");
    let err = b.replay("symbol,exchange,price\nFOO,NSE,1\n", Duration::from_millis(1)).unwrap_err();
    assert_eq!(err.to_string(), "the broker rejected it: replay line 2: NSE:FOO is not a tradable instrument");
    let id = b.place(&req(Side::Buy, OrderType::Limit, 2, Some(dec!(1490)), None)).await.unwrap();
    let done = b
        .replay("symbol,exchange,price\nINFY,NSE,1495\nINFY,NSE,1489.50\nSBIN,NSE,801\n", Duration::from_millis(1))
        .unwrap();
    done.await.unwrap();
    assert_eq!(b.last_price("SBIN", Exchange::Nse), Some(dec!(801)));
    let o = order(&b, &id).await;
    assert_eq!((o.status, o.average_price), (OrderStatus::Filled, Some(dec!(1490))));
}

#[tokio::test]
async fn the_walk_is_deterministic_per_seed_and_stays_on_tick() {
    let (a, b, c) = (
        broker(PaperConfig::default()),
        broker(PaperConfig::default()),
        broker(PaperConfig { seed: 2, ..Default::default() }),
    );
    for _ in 0..50 {
        a.step();
        b.step();
        c.step();
    }
    assert_eq!(
        a.snapshot().iter().map(|t| t.last_price).collect::<Vec<_>>(),
        b.snapshot().iter().map(|t| t.last_price).collect::<Vec<_>>()
    );
    assert_ne!(a.last_price("INFY", Exchange::Nse), c.last_price("INFY", Exchange::Nse));
    assert!(a.snapshot().iter().all(|t| is_on_tick(t.last_price, dec!(0.05))));
}

#[tokio::test]
async fn the_book_survives_a_restart_and_external_trades_move_only_positions() {
    let dir = tempfile::tempdir().unwrap();
    let config = PaperConfig { state_file: Some(dir.path().join("paper.json")), ..Default::default() };
    let b = broker(config.clone());
    let id = b.place(&req(Side::Buy, OrderType::Market, 7, None, None)).await.unwrap();
    b.step();
    b.apply_external_trade("SBIN", Exchange::Nse, Product::Mis, Side::Sell, 3, dec!(800)).unwrap();
    drop(b);

    let again = broker(config);
    assert_eq!(order(&again, &id).await.filled_quantity, 7);
    let mut positions = again.positions().await.unwrap();
    positions.sort_by(|x, y| x.symbol.cmp(&y.symbol));
    assert_eq!(
        positions.iter().map(|p| (p.symbol.as_str(), p.quantity)).collect::<Vec<_>>(),
        vec![("INFY", 7), ("SBIN", -3)]
    );
    assert_eq!(again.trades().await.unwrap().len(), 2);
    assert_eq!(again.orders().await.unwrap().len(), 1, "an external trade has no order of ours");
    let next = again.place(&req(Side::Buy, OrderType::Market, 1, None, None)).await.unwrap();
    assert_ne!(next, id, "ids continue after a restart");
}
