//! LIVE on Kite Connect end to end, against stand-ins on this machine for
//! Kite's REST API and its WebSocket ticker (the one place a mock is fair:
//! the broker is remote). The session is checked, the instruments looked up,
//! an order goes out over REST with the exact form, ticks arrive as binary
//! frames, and the order's updates and fill arrive on the stream and are
//! stored.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rust_decimal_macros::dec;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::console::{draw, text};
use crate::engine::{buy_at, until};
use crate::support::*;
use xcoin::alerts::Alerts;
use xcoin::config::{Secret, Settings};
use xcoin::console::app::App;
use xcoin::domain::order::{BrokerKind, Exchange, OrderStatus, OrderType};
use xcoin::domain::strategy::TradingMode;
use xcoin::engine::{Engine, EngineConfig, runner};
use xcoin::testkit::http::{Reply, Server, fixture, ok};

const ORDER: &str = "251127000000001";

/// Kite's ticker: takes one connection, passes on what the client sends,
/// sends what the test gives it and a heartbeat every second.
async fn ticker() -> (String, mpsc::Sender<Message>, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let (to_client, mut outgoing) = mpsc::channel::<Message>(8);
    let (heard, from_client) = mpsc::channel::<String>(8);
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
        // Kite's heartbeat: one byte a second, so a slow run is not taken for silence.
        let mut heartbeat = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = heartbeat.tick() => {
                    if ws.send(Message::Binary(vec![0u8].into())).await.is_err() {
                        break;
                    }
                }
                m = ws.next() => match m {
                    Some(Ok(Message::Text(text))) => { let _ = heard.send(text.to_string()).await; }
                    Some(Ok(_)) => {}
                    _ => break,
                },
                out = outgoing.recv() => match out {
                    Some(m) => ws.send(m).await.unwrap(),
                    None => break,
                },
            }
        }
    });
    (url, to_client, from_client)
}

/// One LTP packet: token and price in paise, big-endian, as Kite frames it.
fn ltp_frame(token: i32, paise: i32) -> Message {
    let mut frame = vec![0, 1, 0, 8];
    frame.extend(token.to_be_bytes());
    frame.extend(paise.to_be_bytes());
    Message::Binary(frame.into())
}

/// An order update as Kite streams it (the postback's shape).
fn order_update(tag: &str, status: &str, filled: i64, average: f64) -> Message {
    let mut data: serde_json::Value = serde_json::from_str(&fixture("postback.json")).unwrap();
    let fields = json!({
        "order_id": ORDER, "tag": tag, "status": status, "tradingsymbol": "INFY", "instrument_token": 408065,
        "order_type": "LIMIT", "product": "MIS", "quantity": 10, "price": 1075.0, "filled_quantity": filled,
        "pending_quantity": 10 - filled, "average_price": average,
    });
    for (k, v) in fields.as_object().unwrap() {
        data[k] = v.clone();
    }
    Message::Text(json!({"type": "order", "data": data}).to_string().into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_order_goes_to_kite_and_its_fill_comes_back_on_the_ticker() {
    let t = test_db().await;
    let csv = "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,\
               instrument_type,segment,exchange\n408065,1594,INFY,INFOSYS,0,,0,0.05,1,EQ,NSE,NSE\n";
    let nothing = json!({"status": "success", "data": []}).to_string();
    let trades = json!({"status": "success", "data": [{
        "trade_id": "77000001", "order_id": ORDER, "exchange": "NSE", "tradingsymbol": "INFY",
        "instrument_token": 408065, "product": "MIS", "average_price": 1074.35, "quantity": 10,
        "exchange_order_id": "1100000000000001", "transaction_type": "BUY",
        "fill_timestamp": "2026-11-27 10:15:02", "order_timestamp": "10:15:02", "exchange_timestamp": "2026-11-27 10:15:02"
    }]})
    .to_string();
    let order_trades = format!("GET /orders/{ORDER}/trades");
    let kite = Server::start(vec![
        ("GET /user/margins", vec![ok(fixture("margins.json"))]),
        ("GET /instruments/NSE", vec![Reply::Body(200, csv.into())]),
        ("GET /quote/ltp", vec![ok(fixture("ltp.json"))]),
        ("GET /orders", vec![ok(nothing.clone())]),
        ("GET /trades", vec![ok(nothing)]),
        (
            "GET /portfolio/positions",
            vec![ok(json!({"status": "success", "data": {"net": [], "day": []}}).to_string())],
        ),
        ("POST /orders/regular", vec![ok(json!({"status": "success", "data": {"order_id": ORDER}}).to_string())]),
        (order_trades.as_str(), vec![ok(trades)]),
    ])
    .await;
    let (ws_url, to_client, mut from_client) = ticker().await;

    let mut s = Settings::default();
    s.app.mode = TradingMode::Live;
    s.zerodha.api_key = Some(Secret::new("kitekey"));
    s.zerodha.access_token = Some(Secret::new("kitetoken"));
    s.zerodha.api_url = kite.base_url.clone();
    s.zerodha.ws_url = ws_url;
    let (broker, tasks, ticker) = runner::kite_broker(&s, Alerts::disabled()).await.unwrap();
    let xcoin::broker::AnyBroker::Kite(kite_broker) = &broker else { panic!("a Kite broker") };
    assert_eq!(kite_broker.ticks(), [("INFY".to_string(), Exchange::Nse, dec!(0.05))], "ticks from Kite's list");
    // The console's header shows the ticker's health under the LIVE badge,
    // beside the P&L and the kill switch (its second line).
    let mut console = App::new(s.app.mode, s.calendar(), EngineConfig::from_settings(&s).limits, "asha".into(), false);
    let ticker = ticker.expect("a LIVE broker reports its ticker");
    // The console's event loop copies each change of the ticker's health into
    // the app; the header draws from that copy.
    let header = |console: &mut App| {
        console.status.ticker = Some(ticker.borrow().clone());
        text(&draw(console, 160, 12))[..2].join("\n")
    };
    let mut cfg = EngineConfig::from_settings(&s);
    // LIVE follows the exchange's hours; this test runs on any day, weekends too.
    cfg.limits.enforce_market_hours = false;
    let mut e = Engine::start(t.db.clone(), broker, cfg).await.unwrap();
    assert_eq!(e.last_price("INFY", Exchange::Nse), Some(dec!(1074.35)), "the opening price from Kite's REST quote");

    // The ticker subscribes the desk's instruments Kite lists, then sets the mode.
    assert_eq!(from_client.recv().await.unwrap(), r#"{"a":"subscribe","v":[408065]}"#);
    assert_eq!(from_client.recv().await.unwrap(), r#"{"a":"mode","v":["ltp",[408065]]}"#);
    assert!(header(&mut console).contains("XCoin  LIVE   │"), "{}", header(&mut console));
    assert!(header(&mut console).contains("│  kite: streaming"), "{}", header(&mut console));
    to_client.send(ltp_frame(408065, 107_500)).await.unwrap();
    until(&mut e, "the tick", async |e| e.last_price("INFY", Exchange::Nse) == Some(dec!(1075.00))).await;

    let order = e.place_order(&buy_at(dec!(1075.00), "INFY", 10, OrderType::Limit)).await.unwrap();
    assert_eq!((order.status, order.broker_order_id.as_deref()), (OrderStatus::Submitted, Some(ORDER)));
    let sent = kite.seen().into_iter().find(|r| r.route() == "POST /orders/regular").unwrap();
    assert_eq!(sent.header("X-Kite-Version"), Some("3"));
    assert_eq!(sent.header("Authorization"), Some("token kitekey:kitetoken"));
    assert_eq!(
        sent.body,
        format!(
            "tradingsymbol=INFY&exchange=NSE&transaction_type=BUY&order_type=LIMIT&quantity=10&product=MIS\
             &validity=DAY&price=1075&tag={}",
            order.client_tag()
        )
    );

    assert_eq!(t.orders_sent_today(BrokerKind::Kite).await.unwrap(), 1, "counted toward Kite's daily cap");
    assert_eq!(t.orders_sent_today(BrokerKind::Paper).await.unwrap(), 0);
    assert_eq!(t.broker_writes_today().await.unwrap(), 1, "every write request is counted, persisted");
    let tag = order.client_tag();
    to_client.send(order_update(&tag, "OPEN", 0, 0.0)).await.unwrap();
    let (db, id) = (t.db.clone(), order.id);
    let status = || {
        let db = db.clone();
        async move { db.get_order(id).await.unwrap().status }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while status().await != OrderStatus::Open {
        assert!(tokio::time::Instant::now() < deadline, "OPEN from the stream within 10 s");
        e.drain_events().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    to_client.send(order_update(&tag, "COMPLETE", 10, 1074.35)).await.unwrap();
    while status().await != OrderStatus::Filled {
        assert!(tokio::time::Instant::now() < deadline, "the fill from the stream within 10 s");
        e.drain_events().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let filled = t.get_order(order.id).await.unwrap();
    assert_eq!((filled.filled_quantity, filled.average_price), (10, Some(dec!(1074.35))));
    let trades = t.trades_for_order(order.id).await.unwrap();
    assert_eq!(trades.len(), 1);
    assert_eq!(
        (trades[0].broker_trade_id.as_str(), trades[0].quantity, trades[0].price),
        ("77000001", 10, dec!(1074.35))
    );
    let positions = t.open_positions().await.unwrap();
    assert_eq!((positions[0].quantity(), positions[0].average_price()), (10, dec!(1074.35)));
    assert_eq!(kite.count(&format!("GET /orders/{ORDER}/trades")), 1, "the trades are read once, for the fill");

    // Kite goes away: the header says so until the ticker is back.
    drop(to_client);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !header(&mut console).contains(" kite: RECONNECTING ") {
        assert!(tokio::time::Instant::now() < deadline, "{}", header(&mut console));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for task in tasks {
        task.abort();
    }
}

/// `xcoin kite login` talks to the configured `zerodha.api_url`, never to
/// another host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kite_login_uses_the_configured_address() {
    let session = fixture("generate_session.json");
    let server = Server::start(vec![("POST /session/token", vec![ok(session)])]).await;
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("local.toml");
    let env = [
        ("XCOIN_ZERODHA__API_URL", server.base_url.as_str()),
        ("ZERODHA_API_KEY", "kitekey"),
        ("ZERODHA_API_SECRET", "kitesecret"),
    ];
    let args = ["--config", local.to_str().unwrap(), "kite", "login", "--request-token", "reqtoken1"];
    // The stand-in answers on another worker while this one waits.
    let out = tokio::task::block_in_place(|| crate::procs::xcoin(dir.path(), &args, &env));
    let text = format!("{}{}", crate::procs::stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    let seen = server.seen();
    assert_eq!(seen.iter().map(|s| s.route()).collect::<Vec<_>>(), vec!["POST /session/token"], "{text}");
    assert!(seen[0].body.contains("request_token=reqtoken1"), "{}", seen[0].body);
    assert!(std::fs::read_to_string(&local).unwrap().contains("access_token"));
}
