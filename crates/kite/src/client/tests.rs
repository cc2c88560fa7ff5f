use rust_decimal_macros::dec;

use super::*;
use xcoin_model::order::{Exchange, OrderStatus, OrderType, Product, Side, Validity};
use xcoin_testkit::http::{Reply, Server, fixture, kite_error, ok};

const API_KEY: &str = "kitekey";
const TOKEN: &str = "kitetoken";

fn config(server: &Server) -> KiteClientConfig {
    KiteClientConfig {
        base_url: server.base_url.clone(),
        connect_timeout: Duration::from_millis(500),
        timeout: Duration::from_millis(400),
        get_attempts: 3,
        retry_backoff: Duration::from_millis(10),
    }
}

async fn client(routes: Vec<(&str, Vec<Reply>)>) -> (KiteClient, Server) {
    let server = Server::start(routes).await;
    let client = KiteClient::new(config(&server), API_KEY, Some(Secret::new(TOKEN))).unwrap();
    (client, server)
}

fn limit_buy(tag: &str) -> PlaceRequest {
    PlaceRequest {
        tag: tag.into(),
        symbol: "INFY".into(),
        exchange: Exchange::Nse,
        side: Side::Buy,
        order_type: OrderType::Limit,
        product: Product::Mis,
        validity: Validity::Day,
        quantity: 10,
        price: Some(dec!(1500.50)),
        trigger_price: None,
        reduces_position: false,
    }
}

#[tokio::test]
async fn a_placement_sends_kite_s_headers_and_form_and_returns_the_order_id() {
    let (client, server) = client(vec![("POST /orders/regular", vec![ok(fixture("order_response.json"))])]).await;
    assert_eq!(client.place_order(&limit_buy("XC42")).await, Ok("151220000000000".into()));

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let post = &seen[0];
    assert_eq!((post.method.as_str(), post.target.as_str()), ("POST", "/orders/regular"));
    assert_eq!(post.header("X-Kite-Version"), Some("3"));
    assert_eq!(post.header("Authorization"), Some("token kitekey:kitetoken"));
    assert_eq!(post.header("Content-Type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(
        post.body,
        "tradingsymbol=INFY&exchange=NSE&transaction_type=BUY&order_type=LIMIT&quantity=10&product=MIS\
         &validity=DAY&price=1500.5&tag=XC42"
    );
}

#[tokio::test]
async fn modify_and_cancel_address_the_order_and_send_only_the_change() {
    let (client, server) = client(vec![
        ("PUT /orders/regular/151220000000000", vec![ok(fixture("order_modify.json"))]),
        ("DELETE /orders/regular/151220000000000", vec![ok(fixture("order_cancel.json"))]),
    ])
    .await;
    let change = Modify { quantity: Some(5), price: Some(dec!(1501.10)), trigger_price: None, at_market: false };
    assert_eq!(client.modify_order("151220000000000", &change).await, Ok("151220000000000".into()));
    assert_eq!(client.cancel_order("151220000000000").await, Ok("151220000000000".into()));

    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!((seen[0].method.as_str(), seen[0].body.as_str()), ("PUT", "quantity=5&price=1501.1"));
    assert_eq!((seen[1].method.as_str(), seen[1].body.as_str()), ("DELETE", ""));
    for s in &seen {
        assert_eq!(s.target, "/orders/regular/151220000000000");
        assert_eq!(s.header("Authorization"), Some("token kitekey:kitetoken"));
        assert_eq!(s.header("X-Kite-Version"), Some("3"));
    }
}

/// Kite counts placements toward its daily limit, not modifications or
/// cancellations; at the limit only a new entry is refused here, and an
/// exit (or the kill switch's flattening) still goes.
#[tokio::test]
async fn at_the_daily_limit_only_new_entries_are_refused() {
    let (client, server) = client(vec![
        ("POST /orders/regular", vec![ok(fixture("order_response.json")), ok(fixture("order_response.json"))]),
        ("PUT /orders/regular/151220000000000", vec![ok(fixture("order_modify.json"))]),
        ("DELETE /orders/regular/151220000000000", vec![ok(fixture("order_cancel.json"))]),
    ])
    .await;
    // An earlier run of the engine placed all but one of today's orders.
    client.count_earlier_writes(ORDERS_PER_DAY - 1);
    assert_eq!(client.place_order(&limit_buy("XC1")).await, Ok("151220000000000".into()));
    assert_eq!(client.writes_today(), (ORDERS_PER_DAY, ORDERS_PER_DAY));
    let change = Modify { quantity: Some(5), ..Modify::default() };
    assert_eq!(client.modify_order("151220000000000", &change).await, Ok("151220000000000".into()));
    assert_eq!(client.cancel_order("151220000000000").await, Ok("151220000000000".into()));
    assert_eq!(client.writes_today(), (ORDERS_PER_DAY, ORDERS_PER_DAY), "neither counts toward the limit");
    assert_eq!(
        client.place_order(&limit_buy("XC2")).await.unwrap_err(),
        ClientError::Refused(
            "Kite allows 5000 orders a day and all of today's are placed; new entries can go tomorrow \
             (exits, modifications and cancellations still go)"
                .into()
        )
    );
    let exit = PlaceRequest { side: Side::Sell, reduces_position: true, ..limit_buy("XC3") };
    assert_eq!(client.place_order(&exit).await, Ok("151220000000000".into()));
    assert_eq!(client.writes_today(), (ORDERS_PER_DAY + 1, ORDERS_PER_DAY), "Kite counts the exit too");
    let sent: Vec<_> = server.seen().iter().map(|r| r.method.clone()).collect();
    assert_eq!(sent, ["POST", "PUT", "DELETE", "POST"], "the refused entry never left");
}

#[tokio::test]
async fn requests_kite_would_refuse_are_not_sent() {
    let (client, server) = client(vec![]).await;
    let mut market_with_price = limit_buy("XC42");
    market_with_price.order_type = OrderType::Market;
    let err = client.place_order(&market_with_price).await.unwrap_err();
    assert_eq!(err, ClientError::Refused("price: a MARKET order takes no limit price".into()));
    assert_eq!(BrokerError::from(err), BrokerError::Rejected("price: a MARKET order takes no limit price".into()));

    let err = client.cancel_order("../portfolio/positions").await.unwrap_err();
    assert_eq!(BrokerError::from(err), BrokerError::UnknownOrder("../portfolio/positions".into()));
    assert!(matches!(client.modify_order("1", &Modify::default()).await, Err(ClientError::Refused(_))));
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn the_broker_maps_the_book_trades_positions_and_prices_skipping_what_the_desk_does_not_trade() {
    let positions = r#"{"status":"success","data":{"net":[
        {"tradingsymbol":"RELIANCE","exchange":"NSE","product":"MIS","quantity":-25,"average_price":2931.45},
        {"tradingsymbol":"GOLDM","exchange":"MCX","product":"NRML","quantity":1,"average_price":71000}],"day":[]}}"#;
    let (client, server) = client(vec![
        ("GET /orders", vec![ok(fixture("orders.json"))]),
        ("GET /trades", vec![ok(fixture("trades.json"))]),
        ("GET /portfolio/positions", vec![ok(positions.into())]),
        ("GET /quote/ltp", vec![ok(fixture("ltp.json"))]),
    ])
    .await;
    let broker = KiteBroker::new(client, vec!["NSE:INFY".into()]);
    assert_eq!(broker.kind(), BrokerKind::Kite);

    let orders = broker.orders().await.unwrap();
    let ids: Vec<&str> = orders.iter().map(|o| o.broker_order_id.as_str()).collect();
    // CDS, TTL, MCX (twice), MTF and NFO orders are skipped.
    assert_eq!(ids, ["300000000000000", "500000000000000", "98000000000000000", "1953341975595868160"]);
    let ioc = &orders[0];
    assert_eq!((ioc.symbol.as_str(), ioc.quantity, ioc.filled_quantity), ("IOC", 1, 1));
    assert_eq!(
        (ioc.price, ioc.average_price, ioc.status),
        (Some(dec!(109.40)), Some(dec!(109.40)), OrderStatus::Filled)
    );

    let trades = broker.trades().await.unwrap();
    assert_eq!(trades.len(), 1, "three of four trades are CDS or MCX");
    assert_eq!(
        (trades[0].trade_id.as_str(), trades[0].broker_order_id.as_str(), trades[0].quantity, trades[0].price),
        ("10000000", "200000000000000", 1, dec!(420.65))
    );

    let holdings = broker.positions().await.unwrap();
    assert_eq!(holdings.len(), 1);
    assert_eq!((holdings[0].symbol.as_str(), holdings[0].quantity), ("RELIANCE", -25));
    assert_eq!(holdings[0].average_price, dec!(2931.45));

    let ticks = broker.last_prices().await.unwrap();
    assert_eq!(ticks.len(), 1);
    assert_eq!(
        (ticks[0].symbol.as_str(), ticks[0].exchange, ticks[0].last_price),
        ("INFY", Exchange::Nse, dec!(1074.35))
    );
    let ltp = server.seen().into_iter().find(|s| s.route() == "GET /quote/ltp").unwrap();
    assert_eq!(ltp.target, "/quote/ltp?i=NSE%3AINFY");
    for s in server.seen() {
        assert_eq!(
            (s.header("X-Kite-Version"), s.header("Authorization")),
            (Some("3"), Some("token kitekey:kitetoken"))
        );
    }
}

#[tokio::test]
async fn history_order_trades_and_margins_read_exactly() {
    let (client, server) = client(vec![
        ("GET /orders/151220000000000", vec![ok(fixture("order_info.json"))]),
        ("GET /orders/151220000000000/trades", vec![ok(fixture("order_trades.json"))]),
        ("GET /user/margins", vec![ok(fixture("margins.json")), ok(fixture("margins.json"))]),
    ])
    .await;
    let history = client.order_history("151220000000000").await.unwrap();
    assert_eq!(history.len(), 8);
    assert_eq!((history[0].status.as_str(), history[7].status.as_str()), ("PUT ORDER REQ RECEIVED", "OPEN"));
    let trades = client.order_trades("151220000000000").await.unwrap();
    assert_eq!((trades[0].trade_id.as_str(), trades[0].average_price), ("10000000", dec!(4852)));
    let margins = client.margins().await.unwrap();
    assert_eq!(margins.equity.unwrap().net, dec!(99725.05000000002));
    // The desk's funds: the equity segment, exactly.
    let funds = KiteBroker::new(client, vec![]).funds().await.unwrap();
    assert_eq!(
        funds,
        xcoin_model::funds::Funds {
            opening_balance: dec!(245431.6),
            cash: dec!(245431.6),
            used_margin: dec!(145706.55),
            m2m_realised: dec!(761.7),
            m2m_unrealised: dec!(0),
            available_margin: dec!(99725.05000000002),
        }
    );
    assert_eq!(server.seen().len(), 4);
}

#[tokio::test]
async fn kite_s_errors_arrive_typed_with_kite_s_message_and_are_not_retried() {
    let (client, server) = client(vec![
        ("GET /orders", vec![kite_error(403, "TokenException", "Incorrect `api_key` or `access_token`.")]),
        (
            "POST /orders/regular",
            vec![kite_error(400, "MarginException", "Insufficient funds. Required margin is 95417.84.")],
        ),
        ("GET /trades", vec![kite_error(400, "InputException", "Invalid `from` date.")]),
    ])
    .await;
    let broker = KiteBroker::new(client.clone(), vec![]);

    let err = client.orders().await.unwrap_err();
    assert_eq!(
        err,
        ClientError::Kite(KiteError {
            http_status: 403,
            error_type: Some(KiteErrorType::Token),
            message: "Incorrect `api_key` or `access_token`.".into()
        })
    );
    assert_eq!(broker.orders().await, Err(BrokerError::Session("Incorrect `api_key` or `access_token`.".into())));

    assert_eq!(
        broker.place(&limit_buy("XC42")).await,
        Err(BrokerError::Rejected("Insufficient funds. Required margin is 95417.84.".into()))
    );
    assert_eq!(broker.trades().await, Err(BrokerError::Rejected("Invalid `from` date.".into())));

    // Each asked once; a refused placement is final, so the book was read only by `orders` above.
    assert_eq!(
        (server.count("GET /orders"), server.count("POST /orders/regular"), server.count("GET /trades")),
        (2, 1, 1)
    );
}

#[tokio::test]
async fn reads_are_retried_after_429_and_5xx_and_timeouts() {
    let (client, server) = client(vec![
        (
            "GET /trades",
            vec![
                kite_error(429, "NetworkException", "Too many requests"),
                Reply::Body(503, "<html>503 Service Temporarily Unavailable</html>".into()),
                ok(fixture("trades.json")),
            ],
        ),
        ("GET /orders", vec![Reply::Hang, ok(fixture("orders.json"))]),
    ])
    .await;
    assert_eq!(client.trades().await.unwrap().len(), 4);
    assert_eq!(server.count("GET /trades"), 3);
    assert_eq!(client.orders().await.unwrap().len(), 10);
    assert_eq!(server.count("GET /orders"), 2);
}

#[tokio::test]
async fn reads_give_up_after_three_attempts() {
    let (client, server) = client(vec![(
        "GET /portfolio/positions",
        vec![kite_error(502, "NetworkException", "Kite could not reach the OMS.")],
    )])
    .await;
    let err = client.positions().await.unwrap_err();
    assert_eq!(server.count("GET /portfolio/positions"), 3);
    assert_eq!(
        BrokerError::from(err),
        BrokerError::Unavailable("Kite HTTP 502 NetworkException: Kite could not reach the OMS.".into())
    );
}

#[tokio::test]
async fn a_placement_that_times_out_is_found_by_its_tag_and_never_sent_twice() {
    let (client, server) =
        client(vec![("POST /orders/regular", vec![Reply::Hang]), ("GET /orders", vec![ok(fixture("orders.json"))])])
            .await;
    // The fixture's book holds a (rejected, TTL) order tagged `icebergord`:
    // the lookup reads raw records, so an order the desk could not map is still found.
    let broker = KiteBroker::new(client, vec![]);
    assert_eq!(broker.place(&limit_buy("icebergord")).await, Ok("220524001859672".into()));
    assert_eq!((server.count("POST /orders/regular"), server.count("GET /orders")), (1, 1));
}

#[tokio::test]
async fn a_placement_answered_with_503_is_looked_up_by_its_tag_too() {
    let (client, server) = client(vec![
        ("POST /orders/regular", vec![kite_error(503, "OrderException", "Order could not be placed.")]),
        ("GET /orders", vec![ok(fixture("orders.json"))]),
    ])
    .await;
    assert_eq!(client.place_order(&limit_buy("icebergord")).await, Ok("220524001859672".into()));
    assert_eq!((server.count("POST /orders/regular"), server.count("GET /orders")), (1, 1));
}

#[tokio::test]
async fn a_placement_throttled_with_429_is_looked_up_by_its_tag() {
    let (client, server) = client(vec![
        ("POST /orders/regular", vec![kite_error(429, "InputException", "Too many requests")]),
        ("GET /orders", vec![ok(fixture("orders.json"))]),
    ])
    .await;
    assert_eq!(client.place_order(&limit_buy("icebergord")).await, Ok("220524001859672".into()));
    assert_eq!((server.count("POST /orders/regular"), server.count("GET /orders")), (1, 1));
}

#[tokio::test]
async fn a_placement_that_times_out_and_is_not_in_the_book_is_unavailable_after_one_post() {
    let (client, server) =
        client(vec![("POST /orders/regular", vec![Reply::Hang]), ("GET /orders", vec![ok(fixture("orders.json"))])])
            .await;
    let broker = KiteBroker::new(client, vec![]);
    let err = broker.place(&limit_buy("XC42")).await.unwrap_err();
    let BrokerError::Unavailable(message) = err else { panic!("{err:?}") };
    assert!(message.starts_with("Kite did not answer POST /orders/regular: timed out"), "{message}");
    assert!(
        message.ends_with(
            "no order tagged XC42 in Kite's order book yet, so it stays pending and is looked up by its tag later"
        ),
        "{message}"
    );
    assert_eq!((server.count("POST /orders/regular"), server.count("GET /orders")), (1, 1));
}

#[tokio::test]
async fn modifications_and_cancellations_with_an_unknown_outcome_are_not_repeated() {
    let (client, server) = client(vec![
        ("PUT /orders/regular/151220000000000", vec![kite_error(503, "NetworkException", "Upstream error.")]),
        ("DELETE /orders/regular/151220000000000", vec![Reply::Hang]),
    ])
    .await;
    let broker = KiteBroker::new(client, vec![]);
    let change = Modify { price: Some(dec!(1501)), ..Modify::default() };
    assert_eq!(
        broker.modify("151220000000000", change).await,
        Err(BrokerError::Unavailable("Kite HTTP 503 NetworkException: Upstream error.".into()))
    );
    let cancel = broker.cancel("151220000000000").await;
    assert!(matches!(&cancel, Err(BrokerError::Unavailable(m)) if m.contains("timed out")), "{cancel:?}");
    assert_eq!(server.seen().len(), 2, "one PUT, one DELETE, no order book lookup");
}

#[test]
fn the_login_checksum_is_the_sha256_of_key_token_and_secret() {
    // printf %s 'kitekeyreqtoken123kitesecret' | sha256sum
    assert_eq!(
        session_checksum("kitekey", "reqtoken123", "kitesecret"),
        "b8bc16ed929a23e58718ae855a09addab42a69f1d7b5da747ee06534bcf0764e"
    );
}

#[tokio::test]
async fn a_session_is_generated_with_the_checksum_and_without_an_authorization() {
    let server = Server::start(vec![("POST /session/token", vec![ok(fixture("generate_session.json"))])]).await;
    let client = KiteClient::new(config(&server), API_KEY, None).unwrap();
    let session = client.generate_session("reqtoken123", &Secret::new("kitesecret")).await.unwrap();
    assert_eq!((session.user_id.as_str(), session.user_name.as_str()), ("XX0000", "Kite Connect"));
    assert_eq!(session.access_token.expose(), "XXXXXX");
    assert!(format!("{session:?}").contains("access_token: [REDACTED]"), "the token never prints");

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("Authorization"), None);
    assert_eq!(seen[0].header("X-Kite-Version"), Some("3"));
    // The checksum as in `the_login_checksum_is_the_sha256_of_key_token_and_secret`.
    assert_eq!(
        seen[0].body,
        "api_key=kitekey&request_token=reqtoken123\
         &checksum=b8bc16ed929a23e58718ae855a09addab42a69f1d7b5da747ee06534bcf0764e"
    );
}

#[tokio::test]
async fn logging_out_invalidates_the_token() {
    let (client, server) = client(vec![("DELETE /session/token", vec![ok(fixture("session_logout.json"))])]).await;
    assert_eq!(client.invalidate_session().await, Ok(true));
    assert_eq!(server.seen()[0].target, "/session/token?api_key=kitekey&access_token=kitetoken");
}

#[tokio::test]
async fn the_instrument_list_is_read_from_csv_and_its_errors_from_json() {
    let csv = "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,\
               instrument_type,segment,exchange\n\
               408065,1594,INFY,\"INFOSYS\",0,,0,0.05,1,EQ,NSE,NSE\n\
               884737,3456,TATAMTRDVR,\"TATA MOTORS, DVR\",0,,0,0.05,1,EQ,NSE,NSE\n";
    let (client, server) = client(vec![
        ("GET /instruments/NSE", vec![Reply::Body(200, csv.into())]),
        ("GET /instruments/BSE", vec![kite_error(403, "TokenException", "Incorrect `api_key` or `access_token`.")]),
    ])
    .await;
    let list = client.instruments(Exchange::Nse).await.unwrap();
    assert_eq!(
        list.iter().map(|i| (i.instrument_token, i.key(), i.name.as_str())).collect::<Vec<_>>(),
        [(408065, "NSE:INFY".to_string(), "INFOSYS"), (884737, "NSE:TATAMTRDVR".to_string(), "TATA MOTORS, DVR")]
    );
    assert_eq!(list[0].tick_size, dec!(0.05));
    let seen = &server.seen()[0];
    assert_eq!(
        (seen.target.as_str(), seen.header("Authorization")),
        ("/instruments/NSE", Some("token kitekey:kitetoken"))
    );

    let err = client.instruments(Exchange::Bse).await.unwrap_err();
    assert_eq!(BrokerError::from(err), BrokerError::Session("Incorrect `api_key` or `access_token`.".into()));
    assert_eq!(server.count("GET /instruments/BSE"), 1, "a session error is not retried");
}

#[tokio::test]
async fn subscribers_receive_what_the_ticker_publishes() {
    let (client, _server) = client(vec![]).await;
    let broker = KiteBroker::new(client, vec![]);
    let mut events = broker.subscribe();
    let tick = Tick {
        symbol: "INFY".into(),
        exchange: Exchange::Nse,
        last_price: dec!(1412.95),
        at: xcoin_model::clock::now(),
    };
    broker.events().send(BrokerEvent::Tick(tick.clone())).unwrap();
    assert_eq!(events.recv().await.unwrap(), BrokerEvent::Tick(tick));
}

#[test]
fn the_client_never_prints_its_token() {
    let client = KiteClient::new(KiteClientConfig::default(), API_KEY, Some(Secret::new(TOKEN))).unwrap();
    let printed = format!("{client:?} {:?}", KiteBroker::new(client.clone(), vec![]));
    assert!(!printed.contains(TOKEN), "{printed}");
    let missing = KiteClient::from_settings(&ZerodhaSettings::default(), KiteClientConfig::default()).unwrap_err();
    assert_eq!(missing.to_string(), "config key `zerodha.api_key` is empty: set your Kite Connect API key");
}
