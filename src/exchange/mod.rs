//! `xcoin exchange`: the paper exchange as a process of its own that speaks
//! Kite Connect — its REST API and its ticker WebSocket on one port — so a
//! LIVE desk runs against it with only `zerodha.api_url` and
//! `zerodha.ws_url` pointed here, and nothing in the engine knows it is not
//! Zerodha. Zerodha has no sandbox; this is the desk's.
//!
//! The matching, the fills and the funds are the in-process paper
//! exchange's ([`PaperBroker`]); its book is kept in a file, so it outlives
//! any engine: a stop resting here fills while no engine runs, and the next
//! engine reads the fill from the book as it would from Kite.
//!
//! What it serves (Kite Connect v3, `X-Kite-Version: 3`, `Authorization:
//! token api_key:access_token` with any key and token that has not been
//! logged out):
//!
//! | route | |
//! |---|---|
//! | `POST /session/token`, `DELETE /session/token` | the day's token exchange and logout (any checksum of 64 hex digits) |
//! | `POST /orders/regular`, `PUT`/`DELETE /orders/regular/:id` | place, modify, cancel |
//! | `GET /orders`, `/orders/:id`, `/orders/:id/trades`, `/trades` | the book, an order's history, fills |
//! | `GET /portfolio/positions`, `/user/margins`, `/user/margins/equity` | positions and funds |
//! | `GET /quote/ltp?i=NSE:INFY` | last prices |
//! | `GET /instruments`, `/instruments/:exchange` | the instrument list (CSV) |
//! | `POST /sim/price` `{"symbol":"INFY","price":"1490.00"}` | loopback only: trade at that price, tick every subscriber |
//! | WebSocket `/?api_key=…&access_token=…` | binary ltp/quote/full packets, order updates as text |
//!
//! It refuses what Kite refuses, with Kite's `error_type` and HTTP status:
//! a price or trigger off the instrument's tick, NRML on equity, an SL
//! order's trigger on the wrong side of its limit (InputException, 400),
//! the 26th modification of an order (OrderException, 400), an order the
//! funds do not cover (MarginException, 400), an unknown or logged-out
//! session (TokenException, 403).

pub mod wire;
pub mod ws;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Form, Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, watch};

use crate::broker::kite::model::{Depth, DepthEntry, Ohlc};
use crate::broker::kite::ticker::{KiteTick, TickMode, encode_packet};
use crate::broker::paper::{PaperBroker, PaperConfig};
use crate::broker::{Broker, BrokerError, BrokerEvent, BrokerOrder, Modify, PlaceRequest, Tick};
use crate::domain::instrument::Instrument;
use crate::domain::is_on_tick;
use crate::domain::order::{Exchange, OrderType, Product, Side, Validity};
use wire::Listed;

/// Kite's most modifications of one order.
pub const MAX_MODIFICATIONS: u32 = 25;

/// How the exchange runs.
#[derive(Debug, Clone)]
pub struct ExchangeOptions {
    pub listen: SocketAddr,
    /// The paper exchange's settings; its `state_file` is the book on disk.
    pub paper: PaperConfig,
    /// Where prices come from besides `POST /sim/price`.
    pub feed: Feed,
    pub tick_interval: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// Prices move only when `POST /sim/price` says.
    Still,
    /// A seeded random walk, one step per tick interval.
    Walk,
    /// A recorded tick file (`symbol,price` lines or the replay format).
    Ticks(String),
}

/// An instrument's day at the exchange, for quote and full packets.
#[derive(Debug, Clone, Copy, Default)]
struct Day {
    ohlc: Ohlc,
    volume: u32,
}

#[derive(Default)]
struct Book {
    /// Every state an order has been in, oldest first.
    history: HashMap<String, Vec<BrokerOrder>>,
    /// When the exchange took each order.
    placed_at: HashMap<String, DateTime<Utc>>,
    modifications: HashMap<String, u32>,
    /// Access tokens logged out with `DELETE /session/token`.
    revoked: HashSet<String>,
    days: HashMap<u32, Day>,
}

impl Book {
    /// When the exchange took an order (its state's own time for one taken
    /// before this process started) and whether it has been modified.
    fn stamps(&self, o: &BrokerOrder) -> (DateTime<Utc>, bool) {
        let placed = self.placed_at.get(&o.broker_order_id).copied().unwrap_or(o.updated_at);
        (placed, self.modifications.get(&o.broker_order_id).is_some_and(|&n| n > 0))
    }
}

/// The exchange's state, shared by the HTTP handlers and the WebSocket sessions.
pub struct Venue {
    broker: PaperBroker,
    listed: Vec<Listed>,
    book: Mutex<Book>,
    /// Ticks as the ticker sends them, by instrument token.
    ticks: broadcast::Sender<TokenTick>,
    /// Order updates, as text frames.
    order_updates: broadcast::Sender<String>,
}

/// A trade price for a token.
#[derive(Debug, Clone)]
pub struct TokenTick {
    pub instrument_token: u32,
    pub last_price: Decimal,
    pub at: DateTime<Utc>,
}

/// Kite's segment codes in the token's low byte.
fn segment(exchange: Exchange) -> u32 {
    match exchange {
        Exchange::Nse => 1,
        Exchange::Bse => 4,
    }
}

impl Venue {
    pub fn new(instruments: &[Instrument], paper: PaperConfig) -> Result<Arc<Venue>, BrokerError> {
        let broker = PaperBroker::new(instruments, paper)?;
        let listed = instruments
            .iter()
            .enumerate()
            .map(|(n, i)| {
                let exchange_token = 1000 + u32::try_from(n).unwrap_or(0);
                Listed {
                    token: (exchange_token << 8) | segment(i.exchange),
                    exchange_token,
                    symbol: i.symbol.clone(),
                    name: i.name.clone(),
                    exchange: i.exchange,
                    tick: i.tick_size,
                }
            })
            .collect();
        let (ticks, _) = broadcast::channel(4096);
        let (order_updates, _) = broadcast::channel(4096);
        Ok(Arc::new(Venue { broker, listed, book: Mutex::default(), ticks, order_updates }))
    }

    pub fn broker(&self) -> &PaperBroker {
        &self.broker
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn listing(&self, symbol: &str, exchange: Exchange) -> Option<&Listed> {
        self.listed.iter().find(|l| l.symbol == symbol && l.exchange == exchange)
    }

    fn token(&self, symbol: &str, exchange: Exchange) -> u32 {
        self.listing(symbol, exchange).map_or(0, |l| l.token)
    }

    /// Why a session is refused, in Kite's words; `None` when it is taken.
    pub fn session_refused(&self, api_key: &str, access_token: &str) -> Option<String> {
        if api_key.is_empty() || access_token.is_empty() || self.lock().revoked.contains(access_token) {
            return Some("Incorrect `api_key` or `access_token`.".into());
        }
        None
    }

    /// Follows the paper exchange's events: each order state goes into its
    /// history and out to every WebSocket client; each price to the ticker.
    fn follow(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let venue = self.clone();
        let mut events = self.broker.subscribe();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(BrokerEvent::Order(o)) => venue.order_event(o),
                    Ok(BrokerEvent::Tick(t)) => venue.tick_event(&t),
                    Ok(BrokerEvent::Fill(_)) => {}
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "the exchange fell behind its own book's events")
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        })
    }

    fn order_event(&self, o: BrokerOrder) {
        let token = self.token(&o.symbol, o.exchange);
        let text = {
            let mut book = self.lock();
            book.placed_at.entry(o.broker_order_id.clone()).or_insert(o.updated_at);
            let (placed, modified) = book.stamps(&o);
            book.history.entry(o.broker_order_id.clone()).or_default().push(o.clone());
            wire::order_update(&o, token, placed, modified)
        };
        let _ = self.order_updates.send(text);
    }

    fn tick_event(&self, t: &Tick) {
        let token = self.token(&t.symbol, t.exchange);
        {
            let mut book = self.lock();
            let day = book.days.entry(token).or_default();
            let p = t.last_price;
            if day.ohlc.open.is_zero() {
                day.ohlc = Ohlc { open: p, high: p, low: p, close: p };
            }
            day.ohlc.high = day.ohlc.high.max(p);
            day.ohlc.low = day.ohlc.low.min(p);
            day.volume = day.volume.saturating_add(1);
        }
        let _ = self.ticks.send(TokenTick { instrument_token: token, last_price: t.last_price, at: t.at });
    }

    /// A packet for `tick` in `mode`: quote and full carry the day's OHLC
    /// (the close is the day's first price: the exchange keeps no previous
    /// session) and full carries five levels a side one tick apart.
    pub fn packet(&self, tick: &TokenTick, mode: TickMode) -> Option<Vec<u8>> {
        let mut t = KiteTick::new(tick.instrument_token, mode, false, tick.last_price);
        if mode != TickMode::Ltp {
            let day = self.lock().days.get(&tick.instrument_token).copied().unwrap_or_default();
            t.ohlc = Some(day.ohlc);
            t.last_quantity = Some(1);
            t.average_price = Some(tick.last_price);
            t.volume = Some(day.volume);
            t.buy_quantity = Some(0);
            t.sell_quantity = Some(0);
        }
        if mode == TickMode::Full {
            let step = self.listed.iter().find(|l| l.token == tick.instrument_token).map_or(Decimal::ZERO, |l| l.tick);
            let level = |n: i64, sign: i64| DepthEntry {
                price: tick.last_price + step * Decimal::from(sign * n),
                quantity: 100 * n,
                orders: n,
            };
            t.last_trade_time = Some(tick.at);
            t.exchange_timestamp = Some(tick.at);
            t.open_interest = Some(0);
            t.oi_day_high = Some(0);
            t.oi_day_low = Some(0);
            t.depth = Some(Depth {
                buy: (1..=5).map(|n| level(n, -1)).collect(),
                sell: (1..=5).map(|n| level(n, 1)).collect(),
            });
        }
        encode_packet(&t)
    }

    fn order_json(&self, o: &BrokerOrder) -> Value {
        let (placed, modified) = self.lock().stamps(o);
        wire::order(o, self.token(&o.symbol, o.exchange), placed, modified)
    }
}

/// Runs the exchange until `stop` turns true.
pub async fn run(
    options: ExchangeOptions,
    instruments: &[Instrument],
    stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let venue = Venue::new(instruments, options.paper.clone()).map_err(|e| e.to_string())?;
    let listener =
        TcpListener::bind(options.listen).await.map_err(|e| format!("cannot listen on {}: {e}", options.listen))?;
    let book = options.paper.state_file.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "memory".into());
    tracing::info!(listen = %options.listen, %book, "Kite-compatible exchange: REST and ticker WebSocket");
    let feed = match &options.feed {
        Feed::Still => None,
        Feed::Walk => Some(venue.broker.run_feed(options.tick_interval)),
        Feed::Ticks(text) => Some(venue.broker.replay(text, options.tick_interval).map_err(|e| e.to_string())?),
    };
    let result = serve(listener, venue, stop).await;
    if let Some(feed) = feed {
        feed.abort();
    }
    result
}

/// Serves Kite's REST API and its WebSocket on `listener` until `stop`.
pub async fn serve(listener: TcpListener, venue: Arc<Venue>, mut stop: watch::Receiver<bool>) -> Result<(), String> {
    let follower = venue.follow();
    let incoming = Incoming::start(listener, venue.clone());
    let app = router(venue).into_make_service_with_connect_info::<Peer>();
    let result = axum::serve(incoming, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
        .map_err(|e| e.to_string());
    follower.abort();
    result
}

fn router(venue: Arc<Venue>) -> Router {
    Router::new()
        .route("/session/token", post(session_token).delete(logout))
        .route("/orders/regular", post(place))
        .route("/orders/regular/{id}", put(modify).delete(cancel))
        .route("/orders", get(orders))
        .route("/orders/{id}", get(order_history))
        .route("/orders/{id}/trades", get(order_trades))
        .route("/trades", get(trades))
        .route("/portfolio/positions", get(positions))
        .route("/user/margins", get(margins))
        .route("/user/margins/equity", get(equity_margins))
        .route("/quote/ltp", get(ltp))
        .route("/instruments", get(instruments))
        .route("/instruments/{exchange}", get(instruments_of))
        .route("/sim/price", post(sim_price))
        .with_state(venue)
}

// ---------------------------------------------------------------------------
// Connections: HTTP to axum, WebSocket upgrades to the ticker.

/// The peer's address, for `POST /sim/price`'s loopback rule.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl Connected<axum::serve::IncomingStream<'_, Incoming>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, Incoming>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// The exchange's accepted connections that are HTTP: a WebSocket upgrade
/// (read ahead without consuming it) goes to the ticker instead.
pub struct Incoming {
    local: SocketAddr,
    http: mpsc::Receiver<(TcpStream, SocketAddr)>,
}

impl Incoming {
    fn start(listener: TcpListener, venue: Arc<Venue>) -> Incoming {
        let local = listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let (tx, http) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let (tx, venue) = (tx.clone(), venue.clone());
                tokio::spawn(async move {
                    if is_upgrade(&stream).await {
                        ws::serve(stream, venue).await;
                    } else {
                        let _ = tx.send((stream, peer)).await;
                    }
                });
            }
        });
        Incoming { local, http }
    }
}

impl axum::serve::Listener for Incoming {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        match self.http.recv().await {
            Some(next) => next,
            // The acceptor never ends while the listener lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// Whether a connection's request head (read ahead, up to 8 KiB or 5 s)
/// asks for a WebSocket.
async fn is_upgrade(stream: &TcpStream) -> bool {
    let mut buf = vec![0u8; 8192];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => return false,
        };
        let head = &buf[..n];
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
            return head.lines().any(|l| l.starts_with("upgrade:") && l.contains("websocket"));
        }
        if n == buf.len() || tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

// ---------------------------------------------------------------------------
// REST handlers

type Reply = Response;

/// A request the exchange refuses, as Kite answers it: the HTTP status and
/// the error JSON with its `error_type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub error_type: &'static str,
    pub message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = wire::error(self.error_type, &self.message);
        (self.status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

type Answer = Result<Reply, Refusal>;

fn ok(data: Value) -> Answer {
    Ok(([(header::CONTENT_TYPE, "application/json")], wire::success(data)).into_response())
}

fn refuse(status: StatusCode, error_type: &'static str, message: &str) -> Refusal {
    Refusal { status, error_type, message: message.to_string() }
}

fn input(message: &str) -> Refusal {
    refuse(StatusCode::BAD_REQUEST, "InputException", message)
}

/// The session from `Authorization: token api_key:access_token`.
fn authorized(venue: &Venue, headers: &HeaderMap) -> Result<(), Refusal> {
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let (key, token) = value.strip_prefix("token ").and_then(|c| c.split_once(':')).unwrap_or_default();
    match venue.session_refused(key, token) {
        None => Ok(()),
        Some(why) => Err(refuse(StatusCode::FORBIDDEN, "TokenException", &why)),
    }
}

/// A paper exchange refusal as Kite says it.
fn broker_refusal(e: BrokerError) -> Refusal {
    match e {
        BrokerError::Rejected(m) if m.starts_with("Insufficient funds") => {
            refuse(StatusCode::BAD_REQUEST, "MarginException", &m)
        }
        BrokerError::Rejected(m) => refuse(StatusCode::BAD_REQUEST, "OrderException", &m),
        BrokerError::UnknownOrder(_) => input("Invalid `order_id`."),
        BrokerError::Session(m) => refuse(StatusCode::FORBIDDEN, "TokenException", &m),
        BrokerError::Unavailable(m) => refuse(StatusCode::SERVICE_UNAVAILABLE, "NetworkException", &m),
    }
}

type FormFields = HashMap<String, String>;

fn field<T: std::str::FromStr>(form: &FormFields, name: &str) -> Result<Option<T>, Refusal> {
    match form.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| input(&format!("Invalid `{name}`."))),
    }
}

fn required<T: std::str::FromStr>(form: &FormFields, name: &str) -> Result<T, Refusal> {
    field(form, name)?.ok_or_else(|| input(&format!("Missing or empty field `{name}`.")))
}

/// A price on the instrument's tick, as Kite checks it.
fn on_tick(listing: &Listed, price: Option<Decimal>) -> Result<(), Refusal> {
    match price {
        Some(p) if p <= Decimal::ZERO || !is_on_tick(p, listing.tick) => Err(input(&format!(
            "Tick size for this script is {}. Kindly enter price in the multiple of tick size for this script",
            listing.tick.normalize()
        ))),
        _ => Ok(()),
    }
}

/// An SL order's trigger on the right side of its limit: a buy triggers at
/// or below its limit, a sell at or above.
fn trigger_side(
    side: Side,
    order_type: OrderType,
    price: Option<Decimal>,
    trigger: Option<Decimal>,
) -> Result<(), Refusal> {
    let (OrderType::StopLoss, Some(price), Some(trigger)) = (order_type, price, trigger) else { return Ok(()) };
    match side {
        Side::Buy if trigger > price => {
            Err(input("Trigger price for stoploss buy orders should be less than limit price."))
        }
        Side::Sell if trigger < price => {
            Err(input("Trigger price for stoploss sell orders should be greater than limit price."))
        }
        _ => Ok(()),
    }
}

async fn session_token(State(venue): State<Arc<Venue>>, Form(form): Form<FormFields>) -> Answer {
    let request_token: String = required(&form, "request_token")?;
    let api_key: String = required(&form, "api_key")?;
    let checksum = form.get("checksum").map(String::as_str).unwrap_or_default();
    if checksum.len() != 64 || !checksum.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(refuse(StatusCode::FORBIDDEN, "TokenException", "Invalid checksum"));
    }
    let access_token =
        crate::broker::kite::session_checksum(&api_key, &request_token, "xcoin-exchange")[..32].to_string();
    venue.lock().revoked.remove(&access_token);
    ok(json!({
        "user_id": "XC0001",
        "user_name": "XCoin Exchange",
        "user_shortname": "XCoin",
        "email": "desk@xcoin.local",
        "user_type": "individual",
        "broker": "ZERODHA",
        "exchanges": ["NSE", "BSE"],
        "products": ["CNC", "MIS"],
        "order_types": ["MARKET", "LIMIT", "SL", "SL-M"],
        "api_key": api_key,
        "access_token": access_token,
        "public_token": &access_token[..16],
        "refresh_token": "",
    }))
}

async fn logout(State(venue): State<Arc<Venue>>, Query(query): Query<FormFields>) -> Answer {
    let token = query.get("access_token").filter(|t| !t.is_empty());
    let token = token.ok_or_else(|| input("Missing or empty field `access_token`."))?;
    venue.lock().revoked.insert(token.clone());
    ok(json!(true))
}

async fn place(State(venue): State<Arc<Venue>>, headers: HeaderMap, Form(form): Form<FormFields>) -> Answer {
    authorized(&venue, &headers)?;
    let symbol: String = required(&form, "tradingsymbol")?;
    let exchange: Exchange = required(&form, "exchange")?;
    let listing = venue.listing(&symbol, exchange).ok_or_else(|| input("Invalid `tradingsymbol`."))?;
    let product: Product = required(&form, "product")?;
    if product == Product::Nrml {
        return Err(input("NRML is not allowed for equity. Use MIS for intraday or CNC for delivery."));
    }
    let req = PlaceRequest {
        tag: field(&form, "tag")?.unwrap_or_default(),
        symbol,
        exchange,
        side: required(&form, "transaction_type")?,
        order_type: required(&form, "order_type")?,
        product,
        validity: field(&form, "validity")?.unwrap_or(Validity::Day),
        quantity: required(&form, "quantity")?,
        price: field(&form, "price")?.filter(|p: &Decimal| !p.is_zero()),
        trigger_price: field(&form, "trigger_price")?.filter(|p: &Decimal| !p.is_zero()),
        reduces_position: false,
    };
    if req.quantity < 1 {
        return Err(input("Invalid `quantity`."));
    }
    on_tick(listing, req.price)?;
    on_tick(listing, req.trigger_price)?;
    trigger_side(req.side, req.order_type, req.price, req.trigger_price)?;
    let id = venue.broker.place(&req).await.map_err(broker_refusal)?;
    ok(json!({ "order_id": id }))
}

async fn modify(
    State(venue): State<Arc<Venue>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<FormFields>,
) -> Answer {
    authorized(&venue, &headers)?;
    let book = venue.broker.orders().await.map_err(broker_refusal)?;
    let current = book.into_iter().find(|o| o.broker_order_id == id).ok_or_else(|| input("Invalid `order_id`."))?;
    let listing = venue.listing(&current.symbol, current.exchange).ok_or_else(|| input("Invalid `tradingsymbol`."))?;
    let change = Modify {
        quantity: field(&form, "quantity")?,
        price: field(&form, "price")?.filter(|p: &Decimal| !p.is_zero()),
        trigger_price: field(&form, "trigger_price")?.filter(|p: &Decimal| !p.is_zero()),
        at_market: false,
    };
    on_tick(listing, change.price)?;
    on_tick(listing, change.trigger_price)?;
    let (price, trigger) = (change.price.or(current.price), change.trigger_price.or(current.trigger_price));
    trigger_side(current.side, current.order_type, price, trigger)?;
    {
        let mut book = venue.lock();
        let count = book.modifications.entry(id.clone()).or_default();
        if *count >= MAX_MODIFICATIONS {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "OrderException",
                "Maximum allowed order modifications exceeded.",
            ));
        }
        *count += 1;
    }
    if let Err(e) = venue.broker.modify(&id, change).await {
        // A refused change is not one of the order's modifications.
        if let Some(n) = venue.lock().modifications.get_mut(&id) {
            *n -= 1;
        }
        return Err(broker_refusal(e));
    }
    ok(json!({ "order_id": id }))
}

async fn cancel(State(venue): State<Arc<Venue>>, Path(id): Path<String>, headers: HeaderMap) -> Answer {
    authorized(&venue, &headers)?;
    venue.broker.cancel(&id).await.map_err(broker_refusal)?;
    ok(json!({ "order_id": id }))
}

async fn orders(State(venue): State<Arc<Venue>>, headers: HeaderMap) -> Answer {
    authorized(&venue, &headers)?;
    let book = venue.broker.orders().await.map_err(broker_refusal)?;
    ok(Value::Array(book.iter().map(|o| venue.order_json(o)).collect()))
}

async fn order_history(State(venue): State<Arc<Venue>>, Path(id): Path<String>, headers: HeaderMap) -> Answer {
    authorized(&venue, &headers)?;
    let mut states = venue.lock().history.get(&id).cloned().unwrap_or_default();
    if states.is_empty() {
        // Taken before this process started: its present state is all the exchange has.
        let book = venue.broker.orders().await.map_err(broker_refusal)?;
        states.push(book.into_iter().find(|o| o.broker_order_id == id).ok_or_else(|| input("Invalid `order_id`."))?);
    }
    ok(Value::Array(states.iter().map(|o| venue.order_json(o)).collect()))
}

async fn fills(venue: &Venue, headers: &HeaderMap, order: Option<&str>) -> Answer {
    authorized(venue, headers)?;
    let all = venue.broker.trades().await.map_err(broker_refusal)?;
    ok(Value::Array(
        all.iter()
            .filter(|f| order.is_none_or(|id| f.broker_order_id == id))
            .map(|f| wire::trade(f, venue.token(&f.symbol, f.exchange)))
            .collect(),
    ))
}

async fn order_trades(State(venue): State<Arc<Venue>>, Path(id): Path<String>, headers: HeaderMap) -> Answer {
    fills(&venue, &headers, Some(&id)).await
}

async fn trades(State(venue): State<Arc<Venue>>, headers: HeaderMap) -> Answer {
    fills(&venue, &headers, None).await
}

async fn positions(State(venue): State<Arc<Venue>>, headers: HeaderMap) -> Answer {
    authorized(&venue, &headers)?;
    let held = venue.broker.positions().await.map_err(broker_refusal)?;
    let all = venue.broker.trades().await.map_err(broker_refusal)?;
    let net: Vec<Value> = held
        .iter()
        .map(|h| {
            let fills: Vec<_> = all
                .iter()
                .filter(|f| f.symbol == h.symbol && f.exchange == h.exchange && f.product == h.product)
                .collect();
            let last = venue.broker.last_price(&h.symbol, h.exchange).unwrap_or(h.average_price);
            wire::position(h, venue.token(&h.symbol, h.exchange), last, &fills)
        })
        .collect();
    ok(json!({ "net": net.clone(), "day": net }))
}

async fn equity(venue: &Venue, headers: &HeaderMap) -> Result<Value, Refusal> {
    authorized(venue, headers)?;
    let funds = venue.broker.funds().await.map_err(broker_refusal)?;
    Ok(wire::equity_margin(&funds))
}

async fn margins(State(venue): State<Arc<Venue>>, headers: HeaderMap) -> Answer {
    let equity = equity(&venue, &headers).await?;
    ok(json!({ "equity": equity, "commodity": {"enabled": false, "net": 0} }))
}

async fn equity_margins(State(venue): State<Arc<Venue>>, headers: HeaderMap) -> Answer {
    ok(equity(&venue, &headers).await?)
}

async fn ltp(State(venue): State<Arc<Venue>>, headers: HeaderMap, RawQuery(query): RawQuery) -> Answer {
    authorized(&venue, &headers)?;
    let mut out = serde_json::Map::new();
    for (name, key) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let Some((exchange, symbol)) = key.split_once(':').filter(|_| name == "i") else { continue };
        let Ok(exchange) = exchange.parse::<Exchange>() else { continue };
        if let (Some(l), Some(price)) = (venue.listing(symbol, exchange), venue.broker.last_price(symbol, exchange)) {
            out.insert(key.to_string(), json!({ "instrument_token": l.token, "last_price": wire::num(price) }));
        }
    }
    ok(Value::Object(out))
}

fn csv(text: String) -> Answer {
    Ok(([(header::CONTENT_TYPE, "text/csv")], text).into_response())
}

async fn instruments(State(venue): State<Arc<Venue>>, headers: HeaderMap) -> Answer {
    authorized(&venue, &headers)?;
    csv(wire::instruments_csv(venue.listed.iter()))
}

async fn instruments_of(State(venue): State<Arc<Venue>>, Path(exchange): Path<String>, headers: HeaderMap) -> Answer {
    authorized(&venue, &headers)?;
    let exchange: Exchange = exchange.parse().map_err(|_| input("Invalid `exchange`."))?;
    csv(wire::instruments_csv(venue.listed.iter().filter(|l| l.exchange == exchange)))
}

#[derive(serde::Deserialize)]
struct SimPrice {
    symbol: String,
    #[serde(default)]
    exchange: Option<Exchange>,
    price: Decimal,
}

/// `POST /sim/price`, loopback only: a trade at that price (working orders
/// match against it) and a tick to every subscriber.
async fn sim_price(
    State(venue): State<Arc<Venue>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    body: axum::body::Bytes,
) -> Answer {
    if !peer.ip().is_loopback() {
        return Err(refuse(StatusCode::FORBIDDEN, "PermissionException", "/sim/price is served to this machine only"));
    }
    let set: SimPrice = serde_json::from_slice(&body)
        .map_err(|e| input(&format!(r#"the body is not {{"symbol": "INFY", "price": "1490.00"}}: {e}"#)))?;
    let exchange = set.exchange.unwrap_or(Exchange::Nse);
    venue.broker.set_price(&set.symbol, exchange, set.price).map_err(broker_refusal)?;
    ok(json!({ "symbol": set.symbol, "exchange": exchange.as_str(), "price": wire::num(set.price) }))
}

/// The default book file of `xcoin exchange` in the desk's data directory.
pub fn default_book(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("kite-exchange-book.json")
}
