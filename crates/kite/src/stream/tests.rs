use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{TimeZone, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http;

use super::*;
use crate::client::KiteClientConfig;
use crate::model::Ohlc;
use crate::ticker::testing::{encode, frame, tick};
use xcoin_config::Secret;
use xcoin_model::order::{OrderStatus, Product, Side};
use xcoin_testkit::http::{Reply, Server, fixture, ok};

/// Longest wait for anything the test expects.
const WAIT: Duration = Duration::from_secs(3);
const INFY: u32 = 408065;
/// SBIN on BSE (segment 4).
const SBIN_BSE: u32 = 128083204;
const ORDER_ID: &str = "220303000308932";

/// One connection the test server accepted.
struct Conn {
    ws: WebSocketStream<TcpStream>,
    /// The handshake's path and query.
    target: String,
    kite_version: Option<String>,
}

impl Conn {
    /// The next text the client sent.
    async fn text(&mut self) -> String {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await.expect("a message in time") {
                Some(Ok(Message::Text(text))) => return text.to_string(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("expected a text from the client, got {other:?}"),
            }
        }
    }

    /// The subscription requests after a connection.
    async fn requests(&mut self) -> [String; 2] {
        [self.text().await, self.text().await]
    }

    async fn send(&mut self, message: Message) {
        self.ws.send(message).await.unwrap();
    }

    async fn binary(&mut self, bytes: Vec<u8>) {
        self.send(Message::binary(bytes)).await;
    }
}

/// A WebSocket server on this machine (plain ws://). It hands each
/// connection to the test, or refuses the handshake with the HTTP
/// statuses in `refusals`, in turn, the last repeating.
struct WsServer {
    url: String,
    /// Handshakes received, refused ones included.
    handshakes: Arc<AtomicUsize>,
    conns: mpsc::UnboundedReceiver<Conn>,
}

impl WsServer {
    async fn start(refusals: Vec<u16>) -> WsServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let handshakes = Arc::new(AtomicUsize::new(0));
        let (to_test, conns) = mpsc::unbounded_channel();
        let counter = handshakes.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (to_test, counter, refusals) = (to_test.clone(), counter.clone(), refusals.clone());
                tokio::spawn(async move {
                    let (mut target, mut kite_version) = (String::new(), None);
                    // The signature is tungstenite's `Callback`.
                    #[allow(clippy::result_large_err)]
                    let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
                        let n = counter.fetch_add(1, Ordering::SeqCst);
                        target = req.uri().to_string();
                        kite_version =
                            req.headers().get("X-Kite-Version").and_then(|v| v.to_str().ok()).map(String::from);
                        match refusals.get(n).or(refusals.last()) {
                            None => Ok(resp),
                            Some(&status) => {
                                let body = json!({"status": "error", "message": format!("Refused with {status} in this test"), "data": null, "error_type": "TokenException"});
                                Err(http::Response::builder().status(status).body(Some(body.to_string())).unwrap())
                            }
                        }
                    };
                    if let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await {
                        let _ = to_test.send(Conn { ws, target, kite_version });
                    }
                });
            }
        });
        WsServer { url, handshakes, conns }
    }

    async fn next(&mut self) -> Conn {
        tokio::time::timeout(WAIT, self.conns.recv()).await.expect("a connection in time").unwrap()
    }

    fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}

fn config(server: &WsServer) -> TickerConfig {
    TickerConfig {
        url: server.url.clone(),
        mode: TickMode::Ltp,
        silence: Duration::from_millis(300),
        connect_timeout: Duration::from_secs(1),
        min_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        healthy_after: Duration::from_secs(10),
        trade_reads: 3,
        trade_read_pause: Duration::from_millis(30),
    }
}

fn instruments() -> HashMap<u32, (String, Exchange)> {
    HashMap::from([(INFY, ("INFY".to_string(), Exchange::Nse)), (SBIN_BSE, ("SBIN".to_string(), Exchange::Bse))])
}

/// A stream running against `server`, with Kite's REST API at `http`.
struct Running {
    events: broadcast::Receiver<BrokerEvent>,
    status: watch::Receiver<TickerStatus>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), BrokerError>>,
    http: Server,
}

impl Running {
    async fn start(config: TickerConfig, routes: Vec<(&str, Vec<Reply>)>, token: Option<&str>) -> Running {
        let http = Server::start(routes).await;
        let rest = KiteClientConfig {
            base_url: http.base_url.clone(),
            connect_timeout: Duration::from_millis(500),
            timeout: Duration::from_millis(500),
            get_attempts: 1,
            retry_backoff: Duration::from_millis(10),
        };
        let client = KiteClient::new(rest, "kitekey", token.map(Secret::new)).unwrap();
        let broker = KiteBroker::new(client, vec![]);
        let stream = TickerStream::new(&broker, instruments(), config);
        let (events, status) = (xcoin_broker::Broker::subscribe(&broker), stream.status());
        let (stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(stream.run(shutdown));
        Running { events, status, stop, task, http }
    }

    async fn next_event(&mut self) -> BrokerEvent {
        tokio::time::timeout(WAIT, self.events.recv()).await.expect("an event in time").unwrap()
    }

    async fn next_tick(&mut self) -> (String, Exchange, Decimal) {
        match self.next_event().await {
            BrokerEvent::Tick(t) => (t.symbol, t.exchange, t.last_price),
            other => panic!("expected a tick, got {other:?}"),
        }
    }

    /// Nothing is published for `quiet`.
    async fn assert_quiet(&mut self, quiet: Duration) {
        if let Ok(event) = tokio::time::timeout(quiet, self.events.recv()).await {
            panic!("expected nothing, got {event:?}");
        }
    }

    async fn finish(self) -> Result<(), BrokerError> {
        let _ = self.stop.send(true);
        tokio::time::timeout(WAIT, self.task).await.expect("the stream ends in time").unwrap()
    }
}

fn ltp(token: u32, price: Decimal) -> Vec<u8> {
    encode(&tick(token, TickMode::Ltp, false, price))
}

#[tokio::test]
async fn it_subscribes_as_configured_and_publishes_ticks_to_the_paisa() {
    let mut server = WsServer::start(vec![]).await;
    let mut run =
        Running::start(TickerConfig { mode: TickMode::Full, ..config(&server) }, vec![], Some("kitetoken")).await;
    let mut conn = server.next().await;
    assert_eq!(conn.target, "/?api_key=kitekey&access_token=kitetoken");
    assert_eq!(conn.kite_version.as_deref(), Some("3"));
    assert_eq!(
        conn.requests().await,
        [r#"{"a":"subscribe","v":[408065,128083204]}"#, r#"{"a":"mode","v":["full",[408065,128083204]]}"#]
    );

    // A heartbeat publishes nothing: the next event is the tick sent after it.
    conn.binary(vec![0]).await;

    // An LTP packet, a quote packet, and a token nobody asked for.
    let mut quote = tick(SBIN_BSE, TickMode::Quote, false, dec!(470.05));
    quote.last_quantity = Some(10);
    quote.average_price = Some(dec!(469.95));
    (quote.volume, quote.buy_quantity, quote.sell_quantity) = (Some(1_000_000), Some(5), Some(7));
    quote.ohlc = Some(Ohlc { open: dec!(468), high: dec!(471.10), low: dec!(467.55), close: dec!(466.20) });
    let before = xcoin_model::clock::now();
    conn.binary(frame(&[ltp(INFY, dec!(1573.15)), encode(&quote), ltp(738561, dec!(2931.45))])).await;
    let BrokerEvent::Tick(infy) = run.next_event().await else { panic!("a tick") };
    assert_eq!((infy.symbol.as_str(), infy.exchange, infy.last_price), ("INFY", Exchange::Nse, dec!(1573.15)));
    assert!(infy.at >= before && infy.at <= xcoin_model::clock::now(), "an LTP packet is stamped when it arrives");
    assert_eq!(run.next_tick().await, ("SBIN".into(), Exchange::Bse, dec!(470.05)));
    // Nothing for the token nobody asked for: the next event is the next frame's.
    conn.binary(frame(&[ltp(INFY, dec!(1573.20))])).await;
    assert_eq!(run.next_tick().await, ("INFY".into(), Exchange::Nse, dec!(1573.20)));

    let status = run.status.borrow().clone();
    assert_eq!((status.state, status.connections, status.last_error), (TickerState::Connected, 1, None));
    assert!(status.last_message_at.is_some_and(|at| at >= before));

    let status = run.status.clone();
    assert_eq!(run.finish().await, Ok(()));
    assert_eq!(status.borrow().state, TickerState::Stopped);
    // The stream said goodbye.
    let closing = tokio::time::timeout(WAIT, conn.ws.next()).await.unwrap();
    assert!(matches!(closing, Some(Ok(Message::Close(_))) | None), "{closing:?}");
    assert_eq!(server.handshakes(), 1);
}

#[tokio::test]
async fn heartbeats_keep_the_connection_and_silence_ends_it() {
    let mut server = WsServer::start(vec![]).await;
    let mut run = Running::start(config(&server), vec![], Some("kitetoken")).await;
    let mut first = server.next().await;
    let subscribed = first.requests().await;
    assert_eq!(subscribed[1], r#"{"a":"mode","v":["ltp",[408065,128083204]]}"#, "LTP is the default mode");

    // Heartbeats for 800 ms, past the 300 ms silence: one connection, nothing published.
    for _ in 0..8 {
        first.binary(vec![0]).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(server.handshakes(), 1);
    run.assert_quiet(Duration::ZERO).await;

    // Then silence: a new connection, subscribed again.
    let quiet_from = Instant::now();
    let mut second = server.next().await;
    assert!(quiet_from.elapsed() >= Duration::from_millis(200), "{:?}", quiet_from.elapsed());
    assert_eq!(second.requests().await, subscribed);
    let status = run.status.borrow().clone();
    assert_eq!((status.state, status.connections), (TickerState::Connected, 2));
    assert_eq!(status.last_error.as_deref(), Some("nothing from Kite for 300ms"));

    second.binary(frame(&[ltp(INFY, dec!(1574.00))])).await;
    assert_eq!(run.next_tick().await, ("INFY".into(), Exchange::Nse, dec!(1574)));
    assert_eq!(run.finish().await, Ok(()));
    assert_eq!(server.handshakes(), 2);
}

#[tokio::test]
async fn a_malformed_frame_is_skipped_and_the_next_one_arrives() {
    let mut server = WsServer::start(vec![]).await;
    let mut run = Running::start(config(&server), vec![], Some("kitetoken")).await;
    let mut conn = server.next().await;
    conn.requests().await;

    let good = frame(&[ltp(INFY, dec!(1573.15))]);
    let mut trailing = good.clone();
    trailing.extend([1, 2, 3]);
    for bad in [good[..7].to_vec(), frame(&[vec![0; 12]]), trailing, vec![0xff, 0xff]] {
        conn.binary(bad).await;
    }
    conn.send(Message::text(r#"{"type":"order","data":{"order_id":"1"}}"#)).await;
    conn.send(Message::text("not json")).await;
    conn.binary(good).await;
    // The first event is the good frame's, and the one after is the next frame's.
    assert_eq!(run.next_tick().await, ("INFY".into(), Exchange::Nse, dec!(1573.15)));
    conn.binary(frame(&[ltp(INFY, dec!(1573.20))])).await;
    assert_eq!(run.next_tick().await, ("INFY".into(), Exchange::Nse, dec!(1573.20)));
    assert_eq!((server.handshakes(), run.status.borrow().state), (1, TickerState::Connected));
    assert_eq!(run.finish().await, Ok(()));
}

/// The postback fixture as an order update, filled `filled` of 2.
fn order_update(filled: i64) -> Message {
    let mut order: serde_json::Value = serde_json::from_str(&fixture("postback.json")).unwrap();
    order["quantity"] = json!(2);
    order["filled_quantity"] = json!(filled);
    order["pending_quantity"] = json!(2 - filled);
    order["status"] = json!(if filled == 2 { "COMPLETE" } else { "UPDATE" });
    Message::text(json!({"type": "order", "data": order}).to_string())
}

/// The order-trades fixture, made into trades of the update's NSE order.
fn trades(list: &[(&str, i64, f64)]) -> Reply {
    let mut doc: serde_json::Value = serde_json::from_str(&fixture("order_trades.json")).unwrap();
    let template = doc["data"][0].clone();
    let data: Vec<serde_json::Value> = list
        .iter()
        .map(|&(trade_id, quantity, price)| {
            let mut t = template.clone();
            t["trade_id"] = json!(trade_id);
            t["order_id"] = json!(ORDER_ID);
            (t["exchange"], t["tradingsymbol"], t["product"]) = (json!("NSE"), json!("SBIN"), json!("CNC"));
            (t["quantity"], t["average_price"]) = (json!(quantity), json!(price));
            t
        })
        .collect();
    doc["data"] = json!(data);
    ok(doc.to_string())
}

fn fill_of(event: BrokerEvent) -> (String, String, i64, Decimal) {
    match event {
        BrokerEvent::Fill(f) => (f.broker_order_id, f.trade_id, f.quantity, f.price),
        other => panic!("expected a fill, got {other:?}"),
    }
}

fn order_of(event: BrokerEvent) -> (String, OrderStatus, i64) {
    match event {
        BrokerEvent::Order(o) => (o.broker_order_id, o.status, o.filled_quantity),
        other => panic!("expected an order, got {other:?}"),
    }
}

#[tokio::test]
async fn order_updates_publish_the_order_and_each_trade_once() {
    let route = "GET /orders/220303000308932/trades";
    // The trade book lags the first update by one read.
    let replies = vec![trades(&[]), trades(&[("T1", 1, 470.0)]), trades(&[("T1", 1, 470.0), ("T2", 1, 470.05)])];
    let mut server = WsServer::start(vec![]).await;
    let mut run = Running::start(config(&server), vec![(route, replies)], Some("kitetoken")).await;
    let mut conn = server.next().await;
    conn.requests().await;

    conn.send(order_update(1)).await;
    assert_eq!(order_of(run.next_event().await), (ORDER_ID.into(), OrderStatus::PartiallyFilled, 1));
    let BrokerEvent::Fill(first) = run.next_event().await else { panic!("a fill") };
    assert_eq!(
        first,
        BrokerFill {
            broker_order_id: ORDER_ID.into(),
            trade_id: "T1".into(),
            symbol: "SBIN".into(),
            exchange: Exchange::Nse,
            side: Side::Buy,
            product: Product::Cnc,
            quantity: 1,
            price: dec!(470),
            // The fixture's fill_timestamp, 2021-05-31 16:00:36 IST.
            at: Utc.with_ymd_and_hms(2021, 5, 31, 10, 30, 36).unwrap(),
        }
    );
    assert_eq!(run.http.count(route), 2, "read again while the trades fell short");

    // The same update again: the order, and no read, no fill. (A quiet
    // window: that nothing happens has no event to wait for.)
    conn.send(order_update(1)).await;
    assert_eq!(order_of(run.next_event().await), (ORDER_ID.into(), OrderStatus::PartiallyFilled, 1));
    run.assert_quiet(Duration::from_millis(150)).await;
    assert_eq!(run.http.count(route), 2);

    // Filled: only the new trade.
    conn.send(order_update(2)).await;
    assert_eq!(order_of(run.next_event().await), (ORDER_ID.into(), OrderStatus::Filled, 2));
    assert_eq!(fill_of(run.next_event().await), (ORDER_ID.into(), "T2".into(), 1, dec!(470.05)));
    // (A quiet window: T1 is not published again, nor anything else.)
    run.assert_quiet(Duration::from_millis(150)).await;
    assert_eq!(run.http.count(route), 3);

    assert_eq!(run.finish().await, Ok(()));
}

#[tokio::test]
async fn trades_still_missing_after_the_reads_are_read_again_on_the_next_update() {
    let route = "GET /orders/220303000308932/trades";
    let replies = vec![trades(&[]), trades(&[]), trades(&[("T1", 1, 470.0)])];
    let mut server = WsServer::start(vec![]).await;
    let config = TickerConfig { trade_reads: 2, ..config(&server) };
    let mut run = Running::start(config, vec![(route, replies)], Some("kitetoken")).await;
    let mut conn = server.next().await;
    conn.requests().await;

    conn.send(order_update(1)).await;
    assert_eq!(order_of(run.next_event().await), (ORDER_ID.into(), OrderStatus::PartiallyFilled, 1));
    let deadline = Instant::now() + WAIT;
    while run.http.count(route) < 2 {
        assert!(Instant::now() < deadline, "two reads in time");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Then it gives up: no third read, no fill. (A quiet window: that
    // nothing more happens has no event to wait for.)
    run.assert_quiet(Duration::from_millis(100)).await;
    assert_eq!(run.http.count(route), 2, "two reads, then it gives up");

    conn.send(order_update(1)).await;
    assert_eq!(order_of(run.next_event().await), (ORDER_ID.into(), OrderStatus::PartiallyFilled, 1));
    assert_eq!(fill_of(run.next_event().await), (ORDER_ID.into(), "T1".into(), 1, dec!(470)));
    assert_eq!(run.http.count(route), 3);
    assert_eq!(run.finish().await, Ok(()));
}

#[tokio::test]
async fn a_closed_connection_is_connected_and_subscribed_again() {
    let mut server = WsServer::start(vec![]).await;
    let mut run = Running::start(config(&server), vec![], Some("kitetoken")).await;
    let mut subscriptions = Vec::new();

    // Kite closes with a close frame…
    let mut first = server.next().await;
    subscriptions.push(first.requests().await);
    first.send(Message::Close(None)).await;
    // …or the connection just drops.
    let mut second = server.next().await;
    subscriptions.push(second.requests().await);
    drop(second);
    let mut third = server.next().await;
    subscriptions.push(third.requests().await);

    assert_eq!(subscriptions.len(), 3);
    assert!(subscriptions.iter().all(|s| s == &subscriptions[0]), "{subscriptions:?}");
    assert_eq!(subscriptions[0][0], r#"{"a":"subscribe","v":[408065,128083204]}"#);
    third.binary(frame(&[ltp(SBIN_BSE, dec!(470.10))])).await;
    assert_eq!(run.next_tick().await, ("SBIN".into(), Exchange::Bse, dec!(470.1)));
    let status = run.status.borrow().clone();
    assert_eq!((status.state, status.connections), (TickerState::Connected, 3));
    assert_eq!(server.handshakes(), 3);
    assert_eq!(run.finish().await, Ok(()));
}

#[tokio::test]
async fn a_refused_token_is_a_session_error_and_ends_the_stream() {
    // A 503 is retried; the 403 after it is final.
    let server = WsServer::start(vec![503, 403]).await;
    let mut run = Running::start(config(&server), vec![], Some("expired")).await;
    let result = tokio::time::timeout(WAIT, &mut run.task).await.expect("the stream ends").unwrap();
    assert_eq!(
        result,
        Err(BrokerError::Session(
            "the Kite ticker refused the access token (HTTP 403): Refused with 403 in this test".into()
        ))
    );
    let status = run.status.borrow().clone();
    assert_eq!((status.state, status.connections), (TickerState::SessionExpired, 0));
    assert_eq!(
        status.last_error.as_deref(),
        Some("the Kite ticker refused the access token (HTTP 403): Refused with 403 in this test")
    );
    // No further attempts, nothing published: the stream has ended (above),
    // so there is nothing to wait for.
    assert_eq!(server.handshakes(), 2);
    use broadcast::error::TryRecvError;
    assert!(matches!(run.events.try_recv(), Err(TryRecvError::Empty | TryRecvError::Closed)));
}

#[tokio::test]
async fn without_an_access_token_it_does_not_connect() {
    let server = WsServer::start(vec![]).await;
    let run = Running::start(config(&server), vec![], None).await;
    let result = run.finish().await;
    assert!(matches!(&result, Err(BrokerError::Session(m)) if m.contains("xcoin kite login")), "{result:?}");
    assert_eq!(server.handshakes(), 0);
}

#[tokio::test]
async fn wss_goes_through_rustls_and_a_failed_tls_handshake_is_retried() {
    // A plain TCP server that hangs up: the TLS handshake fails, the
    // client is built (rustls finds its ring provider) and tries again.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("wss://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    let server = WsServer::start(vec![]).await;
    let run = Running::start(TickerConfig { url, ..config(&server) }, vec![], Some("kitetoken")).await;
    tokio::time::timeout(WAIT, async {
        while accepted.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("two attempts");
    let status = run.status.borrow().clone();
    assert_eq!((status.state, status.connections), (TickerState::Reconnecting, 0));
    assert!(status.last_error.is_some_and(|e| e.starts_with("the connection failed")));
    assert_eq!(run.finish().await, Ok(()));
}

#[test]
fn the_defaults_are_kite_s() {
    let defaults = TickerConfig::default();
    assert_eq!(
        (defaults.url.as_str(), defaults.mode, defaults.silence),
        (DEFAULT_URL, TickMode::Ltp, Duration::from_secs(5))
    );
}
