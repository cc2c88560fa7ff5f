//! Kite's WebSocket ticker, live: [`TickerStream`] connects to
//! `wss://ws.kite.trade?api_key=…&access_token=…`, subscribes the desk's
//! instruments, and publishes what arrives on the [`KiteBroker`]'s event
//! stream until it is told to stop. The protocol itself (frames, texts,
//! requests) is [`super::ticker`]'s.
//!
//! * Binary frames are ticks: each packet for a subscribed instrument becomes
//!   a [`BrokerEvent::Tick`]. A frame shorter than two bytes is Kite's
//!   heartbeat (one a second) and publishes nothing. A frame that does not
//!   decode is logged and skipped; the connection goes on.
//! * Text frames: an order update becomes a [`BrokerEvent::Order`]. When it
//!   shows more filled than any earlier update of that order, the order's
//!   trades are read (`GET /orders/:id/trades`, off the read loop, so ticks
//!   keep flowing) and each trade not published before becomes a
//!   [`BrokerEvent::Fill`]; if the trades do not yet add up to the filled
//!   quantity (Kite's trade book can lag its order update) they are read
//!   again a few times. Fills therefore follow the order update that
//!   announced them. Errors and messages from Kite are logged.
//! * Subscriptions: after every connection, `subscribe` and then `mode` for
//!   all the configured tokens (none are sent without tokens; order updates
//!   come either way). The default mode is [`TickMode::Ltp`]: a
//!   [`Tick`](xcoin_broker::Tick) carries only the last price, which the
//!   8-byte LTP packet has, against 44 bytes for a quote and 184 for full
//!   depth. LTP packets carry no exchange time, so such ticks are stamped
//!   when they arrive; choose [`TickMode::Full`] for the exchange's timestamp.
//! * A dead connection: nothing at all (not even a heartbeat) for
//!   [`TickerConfig::silence`], Kite closing, or a read error. The stream then
//!   connects again after a pause that starts at [`TickerConfig::min_backoff`]
//!   and doubles after each failure up to [`TickerConfig::max_backoff`]; a
//!   connection that stayed up for [`TickerConfig::healthy_after`] resets it.
//! * A handshake answered with HTTP 403 means the access token is no longer
//!   valid. Nothing will work until the operator logs in again, so the stream
//!   stops for good: [`TickerStream::run`] returns
//!   [`BrokerError::Session`], the status shows
//!   [`TickerState::SessionExpired`], and nothing more is published (reads of
//!   trades still in flight are abandoned). Any other refusal is retried.
//!
//! The status ([`TickerStream::status`]) says whether the stream is connected
//! and when Kite last sent anything. State changes notify the receivers; the
//! last-message time is updated on every frame without waking them (read it
//! with `borrow()`).
//!
//! The URL carries the access token, so it is never logged.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::client::{KiteBroker, KiteClient};
use super::ticker::{KiteText, TickMode, mode_message, parse_binary, parse_text, subscribe_message};
use xcoin_broker::{BrokerError, BrokerEvent, BrokerFill, BrokerOrder};
use xcoin_model::order::Exchange;

/// Kite's ticker.
pub const DEFAULT_URL: &str = "wss://ws.kite.trade";
/// Most instruments Kite streams on one connection.
pub const MAX_TOKENS: usize = 3000;

/// How the stream connects and when it gives a connection up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickerConfig {
    /// Without the query: the API key and access token are added to it.
    pub url: String,
    /// What to stream for the instruments; see the module documentation.
    pub mode: TickMode,
    /// Longest quiet on a connection before it counts as dead (Kite sends a
    /// heartbeat every second).
    pub silence: Duration,
    /// Longest wait for a connection and its handshake.
    pub connect_timeout: Duration,
    /// Pause before the first reconnection; it doubles after each failure.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// A connection that lasted this long resets the pause to `min_backoff`.
    pub healthy_after: Duration,
    /// Reads of an order's trades, in all, while they add up to less than
    /// the update's filled quantity.
    pub trade_reads: u32,
    /// Pause between those reads.
    pub trade_read_pause: Duration,
}

impl Default for TickerConfig {
    fn default() -> Self {
        TickerConfig {
            url: DEFAULT_URL.into(),
            mode: TickMode::Ltp,
            silence: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            healthy_after: Duration::from_secs(10),
            trade_reads: 3,
            trade_read_pause: Duration::from_secs(1),
        }
    }
}

pub use xcoin_model::feed::{TickerState, TickerStatus};

/// The pause before the next connection: doubles from `min` to `max`.
#[derive(Debug, Clone)]
struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new(min: Duration, max: Duration) -> Self {
        Backoff { min, max: max.max(min), next: min }
    }

    fn next(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(self.max);
        pause
    }

    fn reset(&mut self) {
        self.next = self.min;
    }
}

/// The trades already published, and how far each order's trades were read.
#[derive(Debug, Default)]
struct Fills {
    /// Per order: the highest filled quantity an update showed, that a read of
    /// its trades went out for.
    wanted: HashMap<String, i64>,
    /// Per order: the quantity of its trades seen so far.
    covered: HashMap<String, i64>,
    /// (order id, trade id) of every trade seen.
    seen: HashSet<(String, String)>,
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why a connection attempt did not give a connection.
enum Refused {
    /// HTTP 403: the token is not valid.
    Session(String),
    Retry(String),
}

/// How a connection ended.
enum Ended {
    Stop,
    Lost(String),
}

/// The WebSocket task of a [`KiteBroker`]; see the module documentation.
pub struct TickerStream {
    client: KiteClient,
    events: broadcast::Sender<BrokerEvent>,
    /// Token → symbol and exchange, for the subscribed instruments.
    instruments: Arc<HashMap<u32, (String, Exchange)>>,
    tokens: Vec<u32>,
    config: TickerConfig,
    status: watch::Sender<TickerStatus>,
    fills: Arc<Mutex<Fills>>,
}

impl std::fmt::Debug for TickerStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TickerStream")
            .field("url", &self.config.url)
            .field("mode", &self.config.mode)
            .field("instruments", &self.tokens.len())
            .finish_non_exhaustive()
    }
}

async fn stop_requested(shutdown: &mut watch::Receiver<bool>) {
    // A dropped sender can no longer ask: that is a stop too.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

impl TickerStream {
    /// A stream publishing on `broker`'s events and reading trades through
    /// its client. `instruments` maps the tokens to subscribe to symbols
    /// (see [`super::instruments::token_map`]).
    pub fn new(broker: &KiteBroker, instruments: HashMap<u32, (String, Exchange)>, config: TickerConfig) -> Self {
        let mut tokens: Vec<u32> = instruments.keys().copied().collect();
        tokens.sort_unstable();
        if tokens.len() > MAX_TOKENS {
            tracing::warn!(
                instruments = tokens.len(),
                "Kite streams at most {MAX_TOKENS} instruments on one connection; it may refuse the rest"
            );
        }
        let (status, _) = watch::channel(TickerStatus {
            state: TickerState::Connecting,
            last_message_at: None,
            connections: 0,
            last_error: None,
        });
        TickerStream {
            client: broker.client().clone(),
            events: broker.events().clone(),
            instruments: Arc::new(instruments),
            tokens,
            config,
            status,
            fills: Arc::default(),
        }
    }

    /// The stream's status, from now until after it ends.
    pub fn status(&self) -> watch::Receiver<TickerStatus> {
        self.status.subscribe()
    }

    /// Runs until `shutdown` turns true (or its sender is dropped): `Ok`.
    /// Returns [`BrokerError::Session`] when Kite refuses the access token (or
    /// the client has none), and [`BrokerError::Unavailable`] when the
    /// configured URL is not one; every other failure is retried.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> Result<(), BrokerError> {
        let result = self.run_inner(&mut shutdown).await;
        let (state, error) = match &result {
            Ok(()) => (TickerState::Stopped, None),
            Err(BrokerError::Session(why)) => (TickerState::SessionExpired, Some(why.clone())),
            Err(other) => (TickerState::Stopped, Some(other.to_string())),
        };
        self.status.send_modify(|s| {
            s.state = state;
            if error.is_some() {
                s.last_error = error;
            }
        });
        if let Err(e) = &result {
            tracing::error!(error = %e, "Kite ticker stopped");
        } else {
            tracing::info!("Kite ticker stopped");
        }
        result
    }

    async fn run_inner(&self, shutdown: &mut watch::Receiver<bool>) -> Result<(), BrokerError> {
        let url = self.url()?;
        let mut backoff = Backoff::new(self.config.min_backoff, self.config.max_backoff);
        // Reads of trades; dropping the set when `run` ends abandons them.
        let mut reads = JoinSet::new();
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let attempt = tokio::select! {
                _ = stop_requested(shutdown) => return Ok(()),
                attempt = self.connect(&url) => attempt,
            };
            let reason = match attempt {
                Err(Refused::Session(why)) => return Err(BrokerError::Session(why)),
                Err(Refused::Retry(why)) => why,
                Ok(socket) => {
                    let connected_at = Instant::now();
                    self.status.send_modify(|s| {
                        s.state = TickerState::Connected;
                        s.connections += 1;
                    });
                    tracing::info!(instruments = self.tokens.len(), mode = %self.config.mode, "Kite ticker connected");
                    let ended = self.receive(socket, shutdown, &mut reads).await;
                    if connected_at.elapsed() >= self.config.healthy_after {
                        backoff.reset();
                    }
                    match ended {
                        Ended::Stop => return Ok(()),
                        Ended::Lost(why) => why,
                    }
                }
            };
            let pause = backoff.next();
            tracing::warn!(reason = %reason, "Kite ticker disconnected; connecting again in {pause:?}");
            self.status.send_modify(|s| {
                s.state = TickerState::Reconnecting;
                s.last_error = Some(reason);
            });
            tokio::select! {
                _ = stop_requested(shutdown) => return Ok(()),
                _ = tokio::time::sleep(pause) => {}
            }
            while reads.try_join_next().is_some() {}
        }
    }

    /// The configured URL with the API key and access token in its query.
    fn url(&self) -> Result<String, BrokerError> {
        let token = self.client.access_token().ok_or_else(|| {
            BrokerError::Session("the Kite client has no access token: run `xcoin kite login`".into())
        })?;
        let mut url = url::Url::parse(&self.config.url)
            .map_err(|e| BrokerError::Unavailable(format!("the ticker URL `{}` is not a URL: {e}", self.config.url)))?;
        url.query_pairs_mut().append_pair("api_key", self.client.api_key()).append_pair("access_token", token.expose());
        Ok(url.into())
    }

    async fn connect(&self, url: &str) -> Result<Socket, Refused> {
        let mut request = url.into_client_request().map_err(|e| Refused::Retry(e.to_string()))?;
        request.headers_mut().insert("X-Kite-Version", HeaderValue::from_static("3"));
        let handshake = tokio_tungstenite::connect_async_with_config(request, None, true);
        match tokio::time::timeout(self.config.connect_timeout, handshake).await {
            Err(_) => Err(Refused::Retry(format!("no connection within {:?}", self.config.connect_timeout))),
            Ok(Ok((socket, _))) => Ok(socket),
            Ok(Err(tungstenite::Error::Http(response))) => {
                let status = response.status().as_u16();
                let body = response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default();
                // Kite's error JSON says why; anything else is shown as it came.
                let message = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(String::from))
                    .unwrap_or_else(|| body.chars().take(200).collect::<String>().trim().to_string());
                let said = if message.is_empty() { String::new() } else { format!(": {message}") };
                if status == 403 {
                    Err(Refused::Session(format!("the Kite ticker refused the access token (HTTP 403){said}")))
                } else {
                    Err(Refused::Retry(format!("the Kite ticker answered HTTP {status}{said}")))
                }
            }
            Ok(Err(e)) => Err(Refused::Retry(format!("the connection failed: {e}"))),
        }
    }

    /// Subscribes, then reads the connection until it ends or the stream is told to stop.
    async fn receive(
        &self,
        mut socket: Socket,
        shutdown: &mut watch::Receiver<bool>,
        reads: &mut JoinSet<()>,
    ) -> Ended {
        if !self.tokens.is_empty() {
            for request in [subscribe_message(&self.tokens), mode_message(self.config.mode, &self.tokens)] {
                if let Err(e) = socket.send(Message::text(request)).await {
                    return Ended::Lost(format!("subscribing failed: {e}"));
                }
            }
        }
        let silence = self.config.silence;
        let mut last_message = Instant::now();
        loop {
            tokio::select! {
                _ = stop_requested(shutdown) => {
                    let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
                    return Ended::Stop;
                }
                Some(done) = reads.join_next(), if !reads.is_empty() => {
                    if let Err(e) = done {
                        tracing::error!(error = %e, "reading an order's trades failed");
                    }
                }
                _ = tokio::time::sleep_until(last_message + silence) => {
                    return Ended::Lost(format!("nothing from Kite for {silence:?}"));
                }
                next = socket.next() => match next {
                    None => return Ended::Lost("Kite closed the connection".into()),
                    Some(Err(e)) => return Ended::Lost(format!("the connection failed: {e}")),
                    Some(Ok(message)) => {
                        last_message = Instant::now();
                        self.status.send_if_modified(|s| {
                            s.last_message_at = Some(xcoin_model::clock::now());
                            false
                        });
                        if let Some(ended) = self.handle(message, reads) {
                            return ended;
                        }
                    }
                },
            }
        }
    }

    /// Publishes what one message carries; `Some` when it ends the connection.
    fn handle(&self, message: Message, reads: &mut JoinSet<()>) -> Option<Ended> {
        match message {
            Message::Binary(frame) if frame.len() < 2 => {} // heartbeat
            Message::Binary(frame) => match parse_binary(&frame) {
                Ok(ticks) => {
                    let received = xcoin_model::clock::now();
                    for tick in ticks {
                        match tick.to_tick(&self.instruments, received) {
                            Some(tick) => {
                                let _ = self.events.send(BrokerEvent::Tick(tick));
                            }
                            None => {
                                tracing::debug!(token = tick.instrument_token, "a tick for an instrument not asked for")
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, bytes = frame.len(), "skipping a Kite ticker frame"),
            },
            Message::Text(text) => match parse_text(&text) {
                Ok(KiteText::Order(order)) => self.order_update(*order, reads),
                Ok(KiteText::Error(e)) => tracing::warn!(error = %e, "the Kite ticker reports an error"),
                Ok(KiteText::Message(m)) => tracing::info!(message = %m, "message from Kite"),
                Err(e) => tracing::warn!(error = %e, "skipping a Kite ticker text"),
            },
            Message::Close(frame) => {
                let why = match frame {
                    Some(f) if !f.reason.is_empty() => format!("Kite closed the connection ({}: {})", f.code, f.reason),
                    Some(f) => format!("Kite closed the connection ({})", f.code),
                    None => "Kite closed the connection".into(),
                };
                return Some(Ended::Lost(why));
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
        None
    }

    /// Publishes the order, and reads its trades when it filled more.
    fn order_update(&self, order: BrokerOrder, reads: &mut JoinSet<()>) {
        let (id, filled) = (order.broker_order_id.clone(), order.filled_quantity);
        let _ = self.events.send(BrokerEvent::Order(order));
        let more = {
            let mut fills = self.fills.lock().unwrap_or_else(|e| e.into_inner());
            let wanted = fills.wanted.entry(id.clone()).or_default();
            let more = filled > *wanted;
            *wanted = (*wanted).max(filled);
            more
        };
        if more {
            let (client, events, fills) = (self.client.clone(), self.events.clone(), self.fills.clone());
            let (attempts, pause) = (self.config.trade_reads.max(1), self.config.trade_read_pause);
            reads.spawn(publish_fills(client, events, fills, id, filled, attempts, pause));
        }
    }
}

/// Reads an order's trades until they add up to `filled` (or `attempts` run
/// out) and publishes each one not seen before.
async fn publish_fills(
    client: KiteClient,
    events: broadcast::Sender<BrokerEvent>,
    fills: Arc<Mutex<Fills>>,
    order_id: String,
    filled: i64,
    attempts: u32,
    pause: Duration,
) {
    for attempt in 1..=attempts {
        match client.order_trades(&order_id).await {
            Ok(trades) => {
                let mut fills = fills.lock().unwrap_or_else(|e| e.into_inner());
                for trade in &trades {
                    if !fills.seen.insert((order_id.clone(), trade.trade_id.clone())) {
                        continue;
                    }
                    *fills.covered.entry(order_id.clone()).or_default() += trade.quantity;
                    match BrokerFill::try_from(trade) {
                        Ok(fill) => {
                            let _ = events.send(BrokerEvent::Fill(fill));
                        }
                        Err(e) => tracing::warn!(error = %e, "skipping a Kite trade this desk does not trade"),
                    }
                }
                if fills.covered.get(&order_id).is_some_and(|&covered| covered >= filled) {
                    return;
                }
            }
            Err(e) => tracing::warn!(order_id, attempt, error = %e, "reading an order's trades failed"),
        }
        if attempt < attempts {
            tokio::time::sleep(pause).await;
        }
    }
    let mut fills = fills.lock().unwrap_or_else(|e| e.into_inner());
    let covered = fills.covered.get(&order_id).copied().unwrap_or_default();
    tracing::warn!(
        order_id,
        filled,
        covered,
        "the order's trades do not add up to its filled quantity yet; the next update or reconciliation reads them again"
    );
    // Let the next update of this order read its trades again.
    if let Some(wanted) = fills.wanted.get_mut(&order_id)
        && *wanted == filled
    {
        *wanted = covered;
    }
}

#[cfg(test)]
mod tests {
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
    fn the_pause_doubles_to_its_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let pauses: Vec<u64> = (0..9).map(|_| backoff.next().as_millis() as u64).collect();
        assert_eq!(pauses, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
        backoff.reset();
        assert_eq!(backoff.next(), Duration::from_millis(500));
        let defaults = TickerConfig::default();
        assert_eq!(
            (defaults.url.as_str(), defaults.mode, defaults.silence),
            (DEFAULT_URL, TickMode::Ltp, Duration::from_secs(5))
        );
    }
}
