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
use xcoin_model::backoff::Backoff;
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
            let pause = backoff.next_pause();
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
mod tests;
