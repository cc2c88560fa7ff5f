use std::collections::BTreeMap;

use std::borrow::Cow;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal_macros::dec;
use serde::Deserialize;

use super::*;
use rust_decimal::Decimal;
use xcoin_broker::{BrokerError, BrokerFill, BrokerOrder, Modify, PlaceRequest, Tick};
use xcoin_model::order::{Exchange, OrderStatus, OrderType, Product, Side, Validity};
use xcoin_model::reconciliation::Holding;

use xcoin_testkit::http::fixture;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn unsupported(record: &'static str, id: &str, field: &'static str, value: &str) -> MapError {
    MapError::Unsupported { record, id: id.into(), field, value: value.into() }
}

#[test]
fn fractional_numbers_are_read_digit_for_digit() {
    #[derive(Deserialize)]
    struct P {
        a: Decimal,
        b: Decimal,
        c: Decimal,
        d: Decimal,
        e: i64,
        s: String,
    }
    let p: P = parse_json(
        r#"{"a": 1439.9, "b": 0.1, "c": 12345678901234567.89012, "d": -2.5e-3, "e": 72, "s": "1.5 \"2.5\" x"}"#,
    )
    .unwrap();
    assert_eq!(p.a, dec!(1439.9));
    assert_eq!(p.a.to_string(), "1439.9");
    assert_eq!(p.b, dec!(0.1));
    assert_eq!(p.c, dec!(12345678901234567.89012));
    assert_eq!(p.d, dec!(-0.0025));
    assert_eq!(p.e, 72);
    assert_eq!(p.s, r#"1.5 "2.5" x"#);
    // Nothing fractional: the text is used as it is.
    assert!(matches!(quote_fractional_numbers(r#"{"a":[1,-2,"3.5"],"b":true}"#), Cow::Borrowed(_)));
}

#[test]
fn ist_timestamps_become_utc() {
    assert_eq!(parse_ist("2021-05-31 09:18:57"), Some(utc(2021, 5, 31, 3, 48, 57)));
    // 00:30 IST is still the previous day in UTC.
    assert_eq!(parse_ist("2021-06-01 00:30:00"), Some(utc(2021, 5, 31, 19, 0, 0)));
    assert_eq!(parse_ist("2021-07-05T10:41:27+05:30"), Some(utc(2021, 7, 5, 5, 11, 27)));
    assert_eq!(parse_ist("09:16:39"), None);
    assert_eq!(format_ist(utc(2022, 3, 3, 3, 54, 25)), "2022-03-03 09:24:25");
}

#[test]
fn the_order_book_fixture_maps_what_the_desk_trades_and_names_what_it_does_not() {
    let orders: Vec<KiteOrder> = parse_response(200, &fixture("orders.json")).unwrap();
    assert_eq!(orders.len(), 10);

    let mapped: Vec<_> = orders.iter().map(BrokerOrder::try_from).collect();
    assert_eq!(mapped[0], Err(unsupported("order", "100000000000000", "exchange", "CDS")));
    assert_eq!(
        mapped[1],
        Ok(BrokerOrder {
            broker_order_id: "300000000000000".into(),
            tag: None,
            symbol: "IOC".into(),
            exchange: Exchange::Nse,
            side: Side::Buy,
            order_type: OrderType::Limit,
            product: Product::Cnc,
            validity: Validity::Day,
            quantity: 1,
            filled_quantity: 1,
            average_price: Some(dec!(109.4)),
            price: Some(dec!(109.4)),
            trigger_price: None,
            status: OrderStatus::Filled,
            trigger_pending: Some(false),
            message: None,
            // 15:20:28 IST.
            updated_at: utc(2021, 5, 31, 9, 50, 28),
        })
    );
    let market_sell = mapped[2].as_ref().unwrap();
    assert_eq!((market_sell.side, market_sell.order_type), (Side::Sell, OrderType::Market));
    assert_eq!((market_sell.price, market_sell.average_price), (None, Some(dec!(109.35))));
    // The latest of 15:20:51 (API) and 15:20:52 (exchange).
    assert_eq!(market_sell.updated_at, utc(2021, 5, 31, 9, 50, 52));

    // The rejected iceberg order: its TTL validity is not ours, but the raw record is readable.
    assert_eq!(mapped[3], Err(unsupported("order", "220524001859672", "validity", "TTL")));
    let iceberg = &orders[3];
    assert_eq!(iceberg.status, "REJECTED");
    assert_eq!(iceberg.lifecycle_status(), Ok(OrderStatus::Rejected));
    assert!(iceberg.status_message.as_deref().unwrap().starts_with("Insufficient funds. Required margin is 95417.84"));
    assert_eq!((iceberg.exchange_order_id.as_deref(), iceberg.exchange_timestamp), (None, None));
    assert_eq!(iceberg.meta["iceberg"]["legs"], 5);
    assert_eq!(iceberg.tags, ["icebergord"]);
    assert_eq!(iceberg.validity_ttl, Some(2));

    assert_eq!(mapped[4], Err(unsupported("order", "700000000000000", "exchange", "MCX")));
    assert_eq!(orders[4].tag.as_deref(), Some("connect test order1"));
    assert_eq!(mapped[5], Err(unsupported("order", "9000000000000000", "exchange", "MCX")));

    let auction = mapped[6].as_ref().unwrap();
    assert_eq!((auction.symbol.as_str(), auction.side, auction.quantity), ("BHEL", Side::Sell, 60));
    assert_eq!((auction.status, auction.filled_quantity, auction.price), (OrderStatus::Cancelled, 0, Some(dec!(85))));

    assert_eq!(mapped[7], Err(unsupported("order", "250117800776785", "product", "MTF")));

    let tata = mapped[8].as_ref().unwrap();
    assert_eq!(tata.broker_order_id, "1953341975595868160");
    assert_eq!((tata.price, tata.average_price), (Some(dec!(159.82)), Some(dec!(156.7))));
    assert_eq!(tata.status, OrderStatus::Filled);
    assert_eq!(tata.updated_at, utc(2025, 8, 7, 6, 26, 33));

    assert_eq!(mapped[9], Err(unsupported("order", "1953367517686685697", "exchange", "NFO")));
    assert_eq!(orders[9].average_price, dec!(12.3));
}

#[test]
fn an_order_history_walks_our_lifecycle_forward() {
    let history: Vec<KiteOrder> = parse_response(200, &fixture("order_info.json")).unwrap();
    let mapped: Vec<BrokerOrder> = history.iter().map(|o| BrokerOrder::try_from(o).unwrap()).collect();
    let statuses: Vec<_> = mapped.iter().map(|o| o.status).collect();
    use OrderStatus::*;
    assert_eq!(statuses, [Submitted, Submitted, Submitted, Open, Open, Open, Open, Open]);
    assert_eq!(
        history.iter().map(|o| o.status.as_str()).collect::<Vec<_>>(),
        [
            "PUT ORDER REQ RECEIVED",
            "VALIDATION PENDING",
            "OPEN PENDING",
            "OPEN",
            "MODIFY VALIDATION PENDING",
            "MODIFY PENDING",
            "MODIFIED",
            "OPEN"
        ]
    );
    for pair in statuses.windows(2) {
        assert!(pair[0] == pair[1] || pair[0].can_transition_to(pair[1]), "{} -> {}", pair[0], pair[1]);
    }
    let last = mapped.last().unwrap();
    assert_eq!(last.price, Some(dec!(300.1)));
    assert_eq!(last.updated_at, utc(2017, 12, 29, 5, 38, 16));
    assert_eq!(history[3].exchange_order_id.as_deref(), Some("1300000001887410"));
    assert_eq!(history[0].exchange_timestamp, None);
}

#[test]
fn statuses_map_onto_the_lifecycle() {
    use OrderStatus::*;
    let cases = [
        ("PUT ORDER REQ RECEIVED", 0, Submitted),
        ("VALIDATION PENDING", 0, Submitted),
        ("OPEN PENDING", 0, Submitted),
        ("AMO REQ RECEIVED", 0, Submitted),
        ("OPEN", 0, Open),
        ("OPEN", 3, PartiallyFilled),
        ("TRIGGER PENDING", 0, Open),
        ("MODIFY VALIDATION PENDING", 0, Open),
        ("MODIFY PENDING", 2, PartiallyFilled),
        ("MODIFIED", 0, Open),
        ("NOT MODIFIED", 0, Open),
        ("CANCEL PENDING", 0, Open),
        ("CANCEL PENDING", 4, PartiallyFilled),
        ("UPDATE", 5, PartiallyFilled),
        ("COMPLETE", 10, Filled),
        ("CANCELLED", 0, Cancelled),
        ("CANCELLED", 4, Cancelled),
        ("CANCELLED AMO", 0, Cancelled),
        ("LAPSED", 0, Cancelled),
        ("LAPSED", 2, Cancelled),
        ("REJECTED", 0, Rejected),
        ("open", 0, Open),
    ];
    for (kite, filled, ours) in cases {
        assert_eq!(map_status(kite, filled), Some(ours), "{kite} with {filled} filled");
    }
    assert_eq!(map_status("SOMETHING NEW", 0), None);
    // An order Kite let lapse leaves the working set instead of staying OPEN here for ever.
    assert_eq!(inline_order("LAPSED", 0).lifecycle_status().unwrap(), Cancelled);
    // TRIGGER PENDING is OPEN with the stop held untriggered; OPEN is triggered.
    let held = BrokerOrder::try_from(&inline_order("TRIGGER PENDING", 0)).unwrap();
    assert_eq!((held.status, held.trigger_pending), (Open, Some(true)));
    let open = BrokerOrder::try_from(&inline_order("OPEN", 0)).unwrap();
    assert_eq!((open.status, open.trigger_pending), (Open, Some(false)));
    // A modification in flight says neither: the flag stays as it was.
    let moving = BrokerOrder::try_from(&inline_order("MODIFY VALIDATION PENDING", 0)).unwrap();
    assert_eq!((moving.status, moving.trigger_pending), (Open, None));
}

fn inline_order(status: &str, filled: i64) -> KiteOrder {
    parse_json(&format!(
        r#"{{"order_id": "1", "status": "{status}", "order_timestamp": "2024-01-02 09:15:00",
            "exchange_timestamp": null, "exchange": "NSE", "tradingsymbol": "INFY",
            "order_type": "SL", "transaction_type": "SELL", "validity": "IOC", "product": "MIS",
            "quantity": 10, "filled_quantity": {filled}, "price": 1500.05, "trigger_price": 1500.1,
            "average_price": 1500.07, "tag": "XC42", "tags": null, "meta": ""}}"#
    ))
    .unwrap()
}

#[test]
fn a_cancelled_partial_fill_is_cancelled_and_keeps_its_fill() {
    let o = BrokerOrder::try_from(&inline_order("CANCELLED", 4)).unwrap();
    assert_eq!((o.status, o.quantity, o.filled_quantity), (OrderStatus::Cancelled, 10, 4));
    assert_eq!(
        (o.order_type, o.side, o.product, o.validity),
        (OrderType::StopLoss, Side::Sell, Product::Mis, Validity::Ioc)
    );
    assert_eq!(
        (o.price, o.trigger_price, o.average_price),
        (Some(dec!(1500.05)), Some(dec!(1500.1)), Some(dec!(1500.07)))
    );
    assert_eq!(o.tag.as_deref(), Some("XC42"));
    assert_eq!(o.updated_at, utc(2024, 1, 2, 3, 45, 0));
    assert!(OrderStatus::PartiallyFilled.can_transition_to(o.status));
}

#[test]
fn an_unknown_status_is_an_error_naming_it() {
    let err = BrokerOrder::try_from(&inline_order("SOMETHING NEW", 0)).unwrap_err();
    assert_eq!(err, unsupported("order", "1", "status", "SOMETHING NEW"));
    assert_eq!(err.to_string(), "Kite order 1: status `SOMETHING NEW` is not one this desk handles");
}

#[test]
fn an_order_without_any_timestamp_is_an_error() {
    let mut o = inline_order("OPEN", 0);
    o.order_timestamp = None;
    assert_eq!(
        BrokerOrder::try_from(&o),
        Err(MapError::Missing { record: "order", id: "1".into(), field: "order_timestamp" })
    );
}

#[test]
fn trades_map_to_fills() {
    let trades: Vec<KiteTrade> = parse_response(200, &fixture("trades.json")).unwrap();
    assert_eq!(trades.len(), 4);
    assert_eq!(
        BrokerFill::try_from(&trades[0]),
        Ok(BrokerFill {
            broker_order_id: "200000000000000".into(),
            trade_id: "10000000".into(),
            symbol: "SBIN".into(),
            exchange: Exchange::Nse,
            side: Side::Buy,
            product: Product::Cnc,
            quantity: 1,
            price: dec!(420.65),
            // 09:16:39 IST.
            at: utc(2021, 5, 31, 3, 46, 39),
        })
    );
    assert_eq!(trades[0].order_timestamp.as_deref(), Some("09:16:39"));
    assert_eq!(trades[1].average_price, dec!(72.755));
    assert_eq!(BrokerFill::try_from(&trades[1]), Err(unsupported("trade", "40000000", "exchange", "CDS")));
    assert_eq!(BrokerFill::try_from(&trades[3]), Err(unsupported("trade", "90000000", "exchange", "MCX")));

    let order_trades: Vec<KiteTrade> = parse_response(200, &fixture("order_trades.json")).unwrap();
    assert_eq!(order_trades.len(), 1);
    let t = &order_trades[0];
    assert_eq!((t.trade_id.as_str(), t.order_id.as_str()), ("10000000", "200000000000000"));
    assert_eq!((t.average_price, t.quantity), (dec!(4852), 1));
    assert_eq!(t.fill_timestamp, Some(utc(2021, 5, 31, 10, 30, 36)));
    assert_eq!(BrokerFill::try_from(t), Err(unsupported("trade", "10000000", "exchange", "MCX")));
}

#[test]
fn positions_fixture_reads_and_names_unsupported_holdings() {
    let p: KitePositions = parse_response(200, &fixture("positions.json")).unwrap();
    assert_eq!((p.net.len(), p.day.len()), (3, 3));
    let gold = &p.net[1];
    assert_eq!((gold.tradingsymbol.as_str(), gold.quantity, gold.overnight_quantity), ("GOLDGUINEA17DECFUT", 0, 3));
    assert_eq!((gold.buy_price, gold.sell_value, gold.m2m), (dec!(23139.75), dec!(93360), dec!(276)));
    assert_eq!(p.net[0].average_price, dec!(161.05));
    assert_eq!(p.net[0].multiplier, dec!(1000));
    assert_eq!(p.day[0].quantity, -3);
    assert_eq!(p.net[2].last_price, dec!(308.4));

    assert_eq!(Holding::try_from(&p.net[0]), Err(unsupported("position", "LEADMINI17DECFUT", "exchange", "MCX")));
    assert_eq!(Holding::try_from(&p.net[2]), Err(unsupported("position", "SBIN", "product", "CO")));
}

#[test]
fn an_intraday_short_maps_to_a_signed_holding() {
    let p: KitePositions = parse_response(
        200,
        r#"{"status":"success","data":{"net":[{"tradingsymbol":"RELIANCE","exchange":"NSE",
            "product":"MIS","quantity":-25,"average_price":2931.45,"last_price":2925.1}],"day":[]}}"#,
    )
    .unwrap();
    assert_eq!(
        Holding::try_from(&p.net[0]),
        Ok(Holding {
            symbol: "RELIANCE".into(),
            exchange: Exchange::Nse,
            product: Product::Mis,
            quantity: -25,
            average_price: dec!(2931.45),
        })
    );
}

#[test]
fn margins_are_exact_to_the_last_digit() {
    let m: KiteMargins = parse_response(200, &fixture("margins.json")).unwrap();
    let eq = m.equity.unwrap();
    assert!(eq.enabled);
    assert_eq!(eq.net, dec!(99725.05000000002));
    assert_eq!(eq.available.cash, dec!(245431.6));
    assert_eq!(eq.available.live_balance, dec!(99725.05000000002));
    assert_eq!(eq.utilised.debits, dec!(145706.55));
    assert_eq!(eq.utilised.exposure, dec!(38981.25));
    assert_eq!(eq.utilised.m2m_realised, dec!(761.7));
    assert_eq!(eq.utilised.span, dec!(101989));
    assert_eq!(m.commodity.unwrap().net, dec!(100661.7));

    let seg: KiteSegmentMargin = parse_response(200, &fixture("margins_equity.json")).unwrap();
    assert_eq!(
        (seg.net, seg.available.opening_balance, seg.utilised.debits),
        (dec!(99725.05000000002), dec!(245431.6), dec!(145706.55))
    );
}

#[test]
fn order_calls_answer_with_the_order_id() {
    for name in ["order_response.json", "order_modify.json", "order_cancel.json"] {
        let r: KiteOrderId = parse_response(200, &fixture(name)).unwrap();
        assert_eq!(r.order_id, "151220000000000", "{name}");
    }
    // A number is read as its digits.
    let r: KiteOrderId = parse_response(200, r#"{"status":"success","data":{"order_id":151220000000001}}"#).unwrap();
    assert_eq!(r.order_id, "151220000000001");
}

#[test]
fn a_postback_maps_like_an_order() {
    let pb: KiteOrder = parse_json(&fixture("postback.json")).unwrap();
    assert_eq!((pb.user_id.as_deref(), pb.app_id, pb.unfilled_quantity), (Some("AB1234"), Some(1234), Some(0)));
    assert_eq!(pb.checksum.as_deref(), Some("2011845d9348bd6795151bf4258102a03431e3bb12a79c0df73fcb4b7fde4b5d"));
    assert_eq!(
        BrokerOrder::try_from(&pb),
        Ok(BrokerOrder {
            broker_order_id: "220303000308932".into(),
            tag: None,
            symbol: "SBIN".into(),
            exchange: Exchange::Nse,
            side: Side::Buy,
            order_type: OrderType::Market,
            product: Product::Cnc,
            validity: Validity::Day,
            quantity: 1,
            filled_quantity: 1,
            average_price: Some(dec!(470)),
            price: None,
            trigger_price: None,
            status: OrderStatus::Filled,
            trigger_pending: Some(false),
            message: None,
            updated_at: utc(2022, 3, 3, 3, 54, 25),
        })
    );
    assert_eq!(postback_checksum_input(&pb, "secret").as_deref(), Some("2203030003089322022-03-03 09:24:25secret"));
}

#[test]
fn quotes_and_last_prices_become_ticks() {
    let received = utc(2021, 6, 8, 10, 16, 0);
    let quotes: BTreeMap<String, KiteQuote> = parse_response(200, &fixture("quote.json")).unwrap();
    let infy = &quotes["NSE:INFY"];
    assert_eq!((infy.instrument_token, infy.last_price, infy.volume), (408065, dec!(1412.95), 7360198));
    assert_eq!(infy.last_trade_time, Some(utc(2021, 6, 8, 10, 15, 52)));
    assert_eq!(infy.ohlc, Ohlc { open: dec!(1396), high: dec!(1421.75), low: dec!(1395.55), close: dec!(1389.65) });
    assert_eq!((infy.lower_circuit_limit, infy.upper_circuit_limit), (dec!(1250.7), dec!(1528.6)));
    assert_eq!(infy.depth.sell[0], DepthEntry { price: dec!(1412.95), quantity: 5191, orders: 13 });
    assert_eq!((infy.depth.buy.len(), infy.depth.buy[0]), (5, DepthEntry::default()));
    assert_eq!(
        infy.to_tick("NSE:INFY", received),
        Ok(Tick {
            symbol: "INFY".into(),
            exchange: Exchange::Nse,
            last_price: dec!(1412.95),
            at: utc(2021, 6, 8, 10, 15, 56)
        })
    );

    let ltp: BTreeMap<String, KiteLtp> = parse_response(200, &fixture("ltp.json")).unwrap();
    assert_eq!(
        ltp["NSE:INFY"].to_tick("NSE:INFY", received),
        Ok(Tick { symbol: "INFY".into(), exchange: Exchange::Nse, last_price: dec!(1074.35), at: received })
    );
    assert_eq!(
        ltp["NSE:INFY"].to_tick("MCX:GOLDM", received),
        Err(unsupported("quote", "MCX:GOLDM", "exchange", "MCX"))
    );
    assert_eq!(split_instrument_key("INFY"), Err(unsupported("quote", "INFY", "instrument", "INFY")));
}

#[test]
fn each_error_type_maps_to_a_broker_error() {
    use BrokerError::{Rejected, Session, Unavailable};
    let why = "Kite's reason.";
    let unavailable = |status: u16, name: &str| Unavailable(format!("Kite HTTP {status} {name}: {why}"));
    let cases = [
        (403, "TokenException", KiteErrorType::Token, Session(why.into())),
        (400, "InputException", KiteErrorType::Input, Rejected(why.into())),
        (400, "OrderException", KiteErrorType::Order, Rejected(why.into())),
        (400, "MarginException", KiteErrorType::Margin, Rejected(why.into())),
        (400, "HoldingException", KiteErrorType::Holding, Rejected(why.into())),
        (403, "UserException", KiteErrorType::User, Rejected(why.into())),
        (400, "NetworkException", KiteErrorType::Network, unavailable(400, "NetworkException")),
        (502, "DataException", KiteErrorType::Data, unavailable(502, "DataException")),
        (500, "GeneralException", KiteErrorType::General, unavailable(500, "GeneralException")),
        // A typed refusal at 5xx or 429: whether it took effect is unknown, so not final.
        (500, "OrderException", KiteErrorType::Order, unavailable(500, "OrderException")),
        (429, "InputException", KiteErrorType::Input, unavailable(429, "InputException")),
        // A session error is a session error whatever the status.
        (503, "TokenException", KiteErrorType::Token, Session(why.into())),
        // Names Kite adds later are kept; a 4xx is still a refusal.
        (
            403,
            "PermissionException",
            KiteErrorType::Other("PermissionException".into()),
            Rejected(format!("Kite HTTP 403 PermissionException: {why}")),
        ),
        (
            503,
            "PermissionException",
            KiteErrorType::Other("PermissionException".into()),
            unavailable(503, "PermissionException"),
        ),
    ];
    for (status, name, error_type, expected) in cases {
        let body = format!(r#"{{"status":"error","message":"{why}","error_type":"{name}","data":null}}"#);
        let err = parse_response::<KiteOrderId>(status, &body).unwrap_err();
        assert_eq!((err.http_status, err.error_type.as_ref(), err.message.as_str()), (status, Some(&error_type), why));
        assert_eq!(err.error_type.as_ref().unwrap().name(), name);
        assert_eq!(BrokerError::from(err), expected, "{status} {name}");
    }
}

#[test]
fn bodies_that_are_not_kite_json_are_errors_too() {
    let html = parse_response::<KiteOrderId>(502, "<html>502 Bad Gateway</html>").unwrap_err();
    assert_eq!((html.http_status, html.error_type.clone()), (502, None));
    assert!(html.message.contains("<html>502 Bad Gateway</html>"), "{}", html.message);
    assert!(matches!(BrokerError::from(html), BrokerError::Unavailable(_)));

    let not_found = parse_response::<KiteOrderId>(404, "Not Found").unwrap_err();
    assert!(matches!(BrokerError::from(not_found), BrokerError::Rejected(m) if m.starts_with("Kite HTTP 404")));

    // Success, but no order id: the order may exist; look it up by tag.
    let odd = parse_response::<KiteOrderId>(200, r#"{"status":"success","data":{}}"#).unwrap_err();
    assert_eq!(odd.error_type, None);
    assert!(odd.message.contains("missing field `order_id`"), "{}", odd.message);
    assert!(matches!(BrokerError::from(odd), BrokerError::Unavailable(_)));
}

fn request(order_type: OrderType, price: Option<Decimal>, trigger: Option<Decimal>) -> PlaceRequest {
    PlaceRequest {
        tag: "XC42".into(),
        symbol: "INFY".into(),
        exchange: Exchange::Nse,
        side: Side::Buy,
        order_type,
        product: Product::Mis,
        validity: Validity::Day,
        quantity: 10,
        price,
        trigger_price: trigger,
        reduces_position: false,
    }
}

fn form(fields: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    fields.iter().map(|&(k, v)| (k, v.to_string())).collect()
}

#[test]
fn place_forms_carry_exactly_the_fields_kite_expects() {
    let base = [
        ("tradingsymbol", "INFY"),
        ("exchange", "NSE"),
        ("transaction_type", "BUY"),
        ("order_type", "LIMIT"),
        ("quantity", "10"),
        ("product", "MIS"),
        ("validity", "DAY"),
    ];
    let mut limit = base.to_vec();
    limit.extend([("price", "1500.5"), ("tag", "XC42")]);
    assert_eq!(place_form(&request(OrderType::Limit, Some(dec!(1500.50)), None)), Ok(form(&limit)));

    let mut market = base.to_vec();
    market[3].1 = "MARKET";
    market.extend([("market_protection", "-1"), ("tag", "XC42")]);
    assert_eq!(place_form(&request(OrderType::Market, None, None)), Ok(form(&market)));

    let mut sl = base.to_vec();
    sl[3].1 = "SL";
    sl.extend([("price", "1499.95"), ("trigger_price", "1500"), ("tag", "XC42")]);
    assert_eq!(place_form(&request(OrderType::StopLoss, Some(dec!(1499.95)), Some(dec!(1500.00)))), Ok(form(&sl)));

    let mut slm = base.to_vec();
    slm[3].1 = "SL-M";
    slm.extend([("trigger_price", "1500.05"), ("market_protection", "-1"), ("tag", "XC42")]);
    assert_eq!(place_form(&request(OrderType::StopLossMarket, None, Some(dec!(1500.05)))), Ok(form(&slm)));

    let mut untagged = request(OrderType::Market, None, None);
    untagged.tag.clear();
    assert!(place_form(&untagged).unwrap().iter().all(|(k, _)| *k != "tag"));
}

#[test]
fn place_forms_refuse_what_kite_would_and_name_the_field() {
    let field = |r: PlaceRequest| place_form(&r).unwrap_err().field;
    assert_eq!(field(request(OrderType::Limit, None, None)), "price");
    assert_eq!(field(request(OrderType::Market, Some(dec!(1)), None)), "price");
    assert_eq!(field(request(OrderType::Limit, Some(dec!(0)), None)), "price");
    assert_eq!(field(request(OrderType::StopLoss, Some(dec!(1)), None)), "trigger_price");
    assert_eq!(field(request(OrderType::Limit, Some(dec!(1)), Some(dec!(1)))), "trigger_price");
    let mut r = request(OrderType::Market, None, None);
    r.quantity = 0;
    assert_eq!(field(r), "quantity");
    for bad in ["XC-42", "connect test order1", "XC123456789012345678901", "ÄC1"] {
        let mut r = request(OrderType::Market, None, None);
        r.tag = bad.into();
        let err = place_form(&r).unwrap_err();
        assert_eq!(err.field, "tag", "{bad}");
        assert_eq!(err.message, format!("`{bad}` is not a Kite tag; use 1–20 ASCII letters and digits"));
    }
    assert_eq!(check_tag("XC12345678901234567"), Ok(()));
}

#[test]
fn modify_forms_send_only_what_changes() {
    assert_eq!(
        modify_form(&Modify { quantity: Some(5), price: Some(dec!(1501.10)), trigger_price: None, at_market: false }),
        Ok(form(&[("quantity", "5"), ("price", "1501.1")]))
    );
    assert_eq!(
        modify_form(&Modify { trigger_price: Some(dec!(99.95)), ..Modify::default() }),
        Ok(form(&[("trigger_price", "99.95")]))
    );
    assert_eq!(modify_form(&Modify::default()).unwrap_err().field, "modify");
    assert_eq!(modify_form(&Modify { quantity: Some(0), ..Modify::default() }).unwrap_err().field, "quantity");
    let slm = modify_form(&Modify { trigger_price: Some(dec!(99.95)), at_market: true, ..Modify::default() });
    assert_eq!(
        slm.unwrap(),
        vec![("trigger_price", "99.95".to_string()), ("market_protection", "-1".to_string())],
        "a MARKET or SL-M order keeps its market protection when modified"
    );
    assert!(modify_form(&Modify { at_market: true, ..Modify::default() }).is_err(), "protection alone changes nothing");
    assert_eq!(modify_form(&Modify { price: Some(dec!(-1)), ..Modify::default() }).unwrap_err().field, "price");
}

#[test]
fn login_checksum_input_is_the_concatenation() {
    assert_eq!(checksum_input("key", "req", "secret"), "keyreqsecret");
}

proptest! {
    #[test]
    fn any_decimal_literal_reads_back_exactly(mantissa in any::<i64>(), scale in 0u32..=12) {
        let value = Decimal::new(mantissa, scale);
        #[derive(Deserialize)]
        struct P { p: Decimal }
        let read: P = parse_json(&format!(r#"{{"p": {value}}}"#)).unwrap();
        prop_assert_eq!(read.p, value);
    }

    #[test]
    fn arbitrary_text_never_panics_the_number_rewrite(
        text in "\\PC{0,64}",
        bytes in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = parse_json::<serde_json::Value>(&text);
        let lossy = String::from_utf8_lossy(&bytes);
        let _ = parse_response::<KiteOrderId>(200, &lossy);
    }
}
