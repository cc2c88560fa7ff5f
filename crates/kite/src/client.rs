//! The Kite Connect v3 REST client, and [`KiteBroker`]: the [`Broker`] and
//! [`MarketData`] the engine trades through in LIVE mode.
//!
//! Every request carries `X-Kite-Version: 3` and, once logged in,
//! `Authorization: token api_key:access_token`; every request has a connect
//! and a total timeout; every request waits for its turn under Kite's rate
//! limits ([`super::rate`]), so the client itself never provokes a 429.
//!
//! What is sent again, and what is not:
//!
//! * Reads (GET) are retried after no answer, a timeout, a 429 or a 5xx,
//!   with exponential backoff, a bounded number of times: reading twice
//!   changes nothing.
//! * A placement is never sent twice. When its outcome is unknown (no
//!   answer, a timeout, a 429 or 5xx, an answer without an order id) Kite may
//!   hold the order, so the client looks for it in the order book by its tag
//!   before anything else: found, its id is the answer; not found, the error
//!   is [`BrokerError::Unavailable`], and the engine keeps the order PENDING
//!   and looks it up by its tag again later. A second POST could open a
//!   second position.
//! * Modifications and cancellations are not retried either: after an
//!   unknown outcome the order may have been changed, filled or cancelled in
//!   the meantime, and a blind repeat can act on a state nobody has seen
//!   (reduce a quantity already reduced, count against Kite's limit of
//!   modifications per order). The error goes back to the engine, which reads
//!   the order's state from the broker before it decides again.
//! * The login exchange is not retried: a request token works only once.

use std::collections::BTreeMap;
use std::error::Error as _;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono_tz::Asia::Kolkata;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast;

use super::instruments::{KiteInstrument, parse_instruments};
use super::model::{
    KiteError, KiteErrorType, KiteLtp, KiteMargins, KiteOrder, KiteOrderId, KitePositions, KiteQuote, KiteTrade,
    MapError, checksum_input, modify_form, parse_response, place_form,
};
use super::rate::{DailyCap, ORDER_LIMITS, ORDERS_PER_DAY, OTHER_LIMITS, QUOTE_LIMITS, RateLimiter};
use xcoin_broker::{Broker, BrokerError, BrokerEvent, BrokerFill, BrokerOrder, MarketData, Modify, PlaceRequest, Tick};
use xcoin_config::{Secret, ZerodhaSettings};
use xcoin_model::backoff::Backoff;
use xcoin_model::order::{BrokerKind, Exchange};
use xcoin_model::reconciliation::Holding;

/// Kite Connect's API server.
pub const DEFAULT_BASE_URL: &str = "https://api.kite.trade";
/// Where regular orders are placed, modified and cancelled.
const ORDERS_PATH: &str = "/orders/regular";
/// Most instruments one quote request may name.
const QUOTE_BATCH: usize = 1000;
/// The longest pause between two attempts of a read.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// How the client reaches Kite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KiteClientConfig {
    /// Scheme and host, without a trailing path (tests point it at a local server).
    pub base_url: String,
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// Longest wait for a whole request, connection to last byte.
    pub timeout: Duration,
    /// Attempts a read gets in all (1 means no retry).
    pub get_attempts: u32,
    /// Pause before the second attempt of a read; it doubles after each
    /// further attempt, up to two seconds.
    pub retry_backoff: Duration,
}

impl Default for KiteClientConfig {
    fn default() -> Self {
        KiteClientConfig {
            base_url: DEFAULT_BASE_URL.into(),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            get_attempts: 3,
            retry_backoff: Duration::from_millis(250),
        }
    }
}

impl KiteClientConfig {
    /// The configured address (`zerodha.api_url`) with the default timings:
    /// every command that talks to Kite builds its client from this, so none
    /// can reach another host than the one configured.
    pub fn for_settings(s: &xcoin_config::ZerodhaSettings) -> KiteClientConfig {
        KiteClientConfig { base_url: s.api_url.clone(), ..KiteClientConfig::default() }
    }
}

/// A Kite request that did not give an answer we can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// Kite answered with an error, or with something that is not its JSON.
    #[error("{0}")]
    Kite(#[from] KiteError),
    /// No answer: the connection failed, dropped, or timed out.
    #[error("Kite did not answer {request}: {reason}")]
    NoAnswer { request: String, reason: String },
    /// A placement whose outcome is unknown and that the order book does not
    /// (yet) show.
    #[error("{0}")]
    OutcomeUnknown(String),
    /// Not sent: Kite would refuse it (a field, the day's order cap).
    #[error("not sent to Kite: {0}")]
    Refused(String),
    /// Not sent: not an id Kite could have issued.
    #[error("`{0}` is not a Kite order id")]
    BadOrderId(String),
    /// The client cannot be built from the settings given.
    #[error("{0}")]
    Setup(String),
}

impl ClientError {
    /// Whether Kite may have acted on the request even though it failed.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            ClientError::NoAnswer { .. } | ClientError::OutcomeUnknown(_) => true,
            ClientError::Kite(e) => matches!(BrokerError::from(e.clone()), BrokerError::Unavailable(_)),
            ClientError::Refused(_) | ClientError::BadOrderId(_) | ClientError::Setup(_) => false,
        }
    }

    /// Whether a read is worth sending again: no answer, throttled, or Kite
    /// failing on its side. A session error stays one however often it is asked.
    fn worth_retrying(&self) -> bool {
        match self {
            ClientError::NoAnswer { .. } => true,
            ClientError::Kite(e) => {
                (e.http_status == 429 || e.http_status >= 500) && e.error_type != Some(KiteErrorType::Token)
            }
            _ => false,
        }
    }
}

impl From<ClientError> for BrokerError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Kite(e) => e.into(),
            ClientError::Refused(why) => BrokerError::Rejected(why),
            ClientError::BadOrderId(id) => BrokerError::UnknownOrder(id),
            other => BrokerError::Unavailable(other.to_string()),
        }
    }
}

/// What `POST /session/token` answers: the user and today's access token.
#[derive(Debug, Clone, Deserialize)]
pub struct KiteSession {
    pub user_id: String,
    #[serde(default)]
    pub user_name: String,
    #[serde(default)]
    pub user_shortname: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub broker: String,
    #[serde(default)]
    pub exchanges: Vec<String>,
    #[serde(default)]
    pub products: Vec<String>,
    #[serde(default)]
    pub order_types: Vec<String>,
    /// IST wall clock, as Kite wrote it.
    #[serde(default)]
    pub login_time: Option<String>,
    /// Signs every request until Kite expires it (about 06:00 IST the next day).
    #[serde(deserialize_with = "secret")]
    pub access_token: Secret,
}

fn secret<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
    String::deserialize(d).map(Secret::new)
}

/// The login checksum: SHA-256 of `api_key + request_token + api_secret`, in
/// lower-case hex.
pub fn session_checksum(api_key: &str, request_token: &str, api_secret: &str) -> String {
    use std::fmt::Write;
    let digest = Sha256::digest(checksum_input(api_key, request_token, api_secret).as_bytes());
    let mut hex = String::with_capacity(2 * digest.len());
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Order ids are digits; anything else would change the request path.
fn check_order_id(id: &str) -> Result<(), ClientError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ClientError::BadOrderId(id.to_string()));
    }
    Ok(())
}

/// A transport error in words: reqwest's own message says little without
/// its causes. The URL is left out (a logout carries the token in its query).
fn no_answer(request: &str, e: reqwest::Error) -> ClientError {
    let e = e.without_url();
    let mut reason = if e.is_timeout() { format!("timed out ({e})") } else { e.to_string() };
    let mut source = e.source();
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    ClientError::NoAnswer { request: request.to_string(), reason }
}

struct Inner {
    http: reqwest::Client,
    config: KiteClientConfig,
    base_url: String,
    api_key: String,
    access_token: Option<Secret>,
    /// `token api_key:access_token`, marked sensitive so it never prints.
    authorization: Option<HeaderValue>,
    order_limit: RateLimiter,
    quote_limit: RateLimiter,
    other_limit: RateLimiter,
    daily_orders: Mutex<DailyCap>,
}

/// A Kite Connect client. Clones share one connection pool and one set of
/// rate limits, as Kite counts them per user.
#[derive(Clone)]
pub struct KiteClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for KiteClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KiteClient")
            .field("base_url", &self.inner.base_url)
            .field("logged_in", &self.inner.access_token.is_some())
            .finish_non_exhaustive()
    }
}

impl KiteClient {
    /// A client for `api_key`; without an access token it can only log in.
    pub fn new(config: KiteClientConfig, api_key: &str, access_token: Option<Secret>) -> Result<Self, ClientError> {
        let authorization = match &access_token {
            None => None,
            Some(token) => {
                let unfit = "zerodha.api_key or zerodha.access_token holds characters an HTTP header cannot carry";
                let mut value = HeaderValue::from_str(&format!("token {api_key}:{}", token.expose()))
                    .map_err(|_| ClientError::Setup(unfit.into()))?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        let mut headers = HeaderMap::new();
        headers.insert("X-Kite-Version", HeaderValue::from_static("3"));
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("xcoin/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .build()
            .map_err(|e| ClientError::Setup(format!("the HTTPS client could not start: {e}")))?;
        Ok(KiteClient {
            inner: Arc::new(Inner {
                http,
                base_url: config.base_url.trim_end_matches('/').to_string(),
                config,
                api_key: api_key.to_string(),
                access_token,
                authorization,
                order_limit: RateLimiter::new(ORDER_LIMITS),
                quote_limit: RateLimiter::new(QUOTE_LIMITS),
                other_limit: RateLimiter::new(OTHER_LIMITS),
                daily_orders: Mutex::new(DailyCap::new(ORDERS_PER_DAY)),
            }),
        })
    }

    /// A logged-in client from the configured credentials.
    pub fn from_settings(settings: &ZerodhaSettings, config: KiteClientConfig) -> Result<Self, ClientError> {
        let api_key = settings.api_key.as_ref().ok_or_else(|| {
            ClientError::Setup("config key `zerodha.api_key` is empty: set your Kite Connect API key".into())
        })?;
        let token = settings.access_token.clone().ok_or_else(|| {
            ClientError::Setup("config key `zerodha.access_token` is empty: run `xcoin kite login`".into())
        })?;
        Self::new(config, api_key.expose(), Some(token))
    }

    /// Counts the write requests this desk sent today before this client
    /// started, so Kite's daily cap holds across engine restarts.
    pub fn count_earlier_writes(&self, sent: u32) {
        let today = xcoin_model::clock::now().with_timezone(&Kolkata).date_naive();
        self.inner.daily_orders.lock().unwrap_or_else(|e| e.into_inner()).already_used(today, sent);
    }

    /// Write requests counted today, and the day's cap.
    pub fn writes_today(&self) -> (u32, u32) {
        let today = xcoin_model::clock::now().with_timezone(&Kolkata).date_naive();
        let cap = self.inner.daily_orders.lock().unwrap_or_else(|e| e.into_inner());
        (cap.used_on(today), cap.limit())
    }

    pub fn api_key(&self) -> &str {
        &self.inner.api_key
    }

    /// The access token, for the WebSocket ticker's URL.
    pub(crate) fn access_token(&self) -> Option<&Secret> {
        self.inner.access_token.as_ref()
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self.inner.http.request(method, format!("{}{path}", self.inner.base_url));
        match &self.inner.authorization {
            Some(auth) => builder.header(AUTHORIZATION, auth.clone()),
            None => builder,
        }
    }

    /// Sends one request and reads Kite's answer.
    async fn send<T: DeserializeOwned>(&self, what: &str, request: RequestBuilder) -> Result<T, ClientError> {
        let (status, body) = self.send_raw(what, request).await?;
        Ok(parse_response(status, &body)?)
    }

    /// Sends one request; the status and the body as text.
    async fn send_raw(&self, what: &str, request: RequestBuilder) -> Result<(u16, String), ClientError> {
        let started = tokio::time::Instant::now();
        let response = request.send().await.map_err(|e| no_answer(what, e))?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| no_answer(what, e))?;
        tracing::debug!(request = what, status, elapsed_ms = started.elapsed().as_millis() as u64, "Kite answered");
        Ok((status, body))
    }

    /// A read of Kite's JSON, under `limit`, retried while worth it.
    async fn get<T: DeserializeOwned>(
        &self,
        limit: &RateLimiter,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ClientError> {
        self.get_with(limit, path, query, |status, body| Ok(parse_response(status, body)?)).await
    }

    /// A read whose answer `read` makes sense of, under `limit`, retried while worth it.
    async fn get_with<T>(
        &self,
        limit: &RateLimiter,
        path: &str,
        query: &[(&str, &str)],
        read: impl Fn(u16, &str) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let what = format!("GET {path}");
        let attempts = self.inner.config.get_attempts.max(1);
        let mut backoff = Backoff::new(self.inner.config.retry_backoff, MAX_BACKOFF);
        let mut attempt = 1;
        loop {
            limit.acquire().await;
            let mut request = self.request(Method::GET, path);
            if !query.is_empty() {
                request = request.query(query);
            }
            match self.send_raw(&what, request).await.and_then(|(status, body)| read(status, &body)) {
                Err(e) if attempt < attempts && e.worth_retrying() => {
                    let pause = backoff.next_pause();
                    tracing::warn!(request = %what, attempt, error = %e, "Kite read failed; trying again in {pause:?}");
                    tokio::time::sleep(pause).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// An order request, under the order rate limits, sent once. A
    /// placement counts toward Kite's daily limit as Kite counts it (every
    /// call to the placement endpoint, filled, cancelled or rejected);
    /// modifications and cancellations do not count there. At the limit only
    /// a new entry is refused here: a placement that reduces a position (an
    /// exit, the kill switch's flattening), a modification and a cancellation
    /// always go, and Kite's own answer is what the desk then sees.
    async fn write(
        &self,
        method: Method,
        path: &str,
        form: &[(&str, String)],
        placement: Option<&PlaceRequest>,
    ) -> Result<String, ClientError> {
        if let Some(req) = placement {
            let today = xcoin_model::clock::now().with_timezone(&Kolkata).date_naive();
            let mut cap = self.inner.daily_orders.lock().unwrap_or_else(|e| e.into_inner());
            if !cap.take(today) {
                if req.reduces_position {
                    cap.count_past_limit();
                } else {
                    return Err(ClientError::Refused(format!(
                        "Kite allows {} orders a day and all of today's are placed; new entries can go tomorrow \
                     (exits, modifications and cancellations still go)",
                        cap.limit()
                    )));
                }
            }
        }
        self.inner.order_limit.acquire().await;
        let what = format!("{method} {path}");
        let mut request = self.request(method, path);
        if !form.is_empty() {
            request = request.form(form);
        }
        self.send::<KiteOrderId>(&what, request).await.map(|r| r.order_id)
    }

    /// Places a regular order; returns Kite's order id. See the module
    /// documentation for what happens when the outcome is unknown.
    pub async fn place_order(&self, req: &PlaceRequest) -> Result<String, ClientError> {
        let form = place_form(req).map_err(|e| ClientError::Refused(e.to_string()))?;
        match self.write(Method::POST, ORDERS_PATH, &form, Some(req)).await {
            Ok(id) => Ok(id),
            Err(e) if e.outcome_unknown() => self.find_by_tag(req, e).await,
            Err(e) => Err(e),
        }
    }

    /// After a placement with an unknown outcome: the order Kite holds under
    /// the request's tag, if any.
    async fn find_by_tag(&self, req: &PlaceRequest, failure: ClientError) -> Result<String, ClientError> {
        let tag = req.tag.as_str();
        if tag.is_empty() {
            return Err(ClientError::OutcomeUnknown(format!(
                "{failure}; the order has no tag, so Kite's order book cannot tell whether it was placed"
            )));
        }
        tracing::warn!(tag, error = %failure, "placement outcome unknown; looking for the tag in Kite's order book");
        let book = match self.orders().await {
            Ok(book) => book,
            Err(lookup) => {
                return Err(ClientError::OutcomeUnknown(format!(
                    "{failure}; looking for tag {tag} in Kite's order book failed too: {lookup}"
                )));
            }
        };
        let mut found = book.iter().filter(|o| o.tag.as_deref() == Some(tag) || o.tags.iter().any(|t| t == tag));
        match found.next() {
            Some(order) => {
                let others: Vec<&str> = found.map(|o| o.order_id.as_str()).collect();
                if !others.is_empty() {
                    tracing::warn!(tag, order_id = %order.order_id, ?others, "more than one Kite order carries this tag");
                }
                tracing::info!(tag, order_id = %order.order_id, "the order reached Kite; found by its tag");
                Ok(order.order_id.clone())
            }
            None => Err(ClientError::OutcomeUnknown(format!(
                "{failure}; no order tagged {tag} in Kite's order book yet, so it stays pending and is looked up by its tag later"
            ))),
        }
    }

    /// Changes a working order; returns its id. Not retried (see the module documentation).
    pub async fn modify_order(&self, order_id: &str, change: &Modify) -> Result<String, ClientError> {
        check_order_id(order_id)?;
        let form = modify_form(change).map_err(|e| ClientError::Refused(e.to_string()))?;
        self.write(Method::PUT, &format!("{ORDERS_PATH}/{order_id}"), &form, None).await
    }

    /// Cancels a working order; returns its id. Not retried (see the module documentation).
    pub async fn cancel_order(&self, order_id: &str) -> Result<String, ClientError> {
        check_order_id(order_id)?;
        self.write(Method::DELETE, &format!("{ORDERS_PATH}/{order_id}"), &[], None).await
    }

    /// Today's order book.
    pub async fn orders(&self) -> Result<Vec<KiteOrder>, ClientError> {
        self.get(&self.inner.other_limit, "/orders", &[]).await
    }

    /// Every state an order has been through, oldest first.
    pub async fn order_history(&self, order_id: &str) -> Result<Vec<KiteOrder>, ClientError> {
        check_order_id(order_id)?;
        self.get(&self.inner.other_limit, &format!("/orders/{order_id}"), &[]).await
    }

    /// Today's executions.
    pub async fn trades(&self) -> Result<Vec<KiteTrade>, ClientError> {
        self.get(&self.inner.other_limit, "/trades", &[]).await
    }

    /// The executions of one order.
    pub async fn order_trades(&self, order_id: &str) -> Result<Vec<KiteTrade>, ClientError> {
        check_order_id(order_id)?;
        self.get(&self.inner.other_limit, &format!("/orders/{order_id}/trades"), &[]).await
    }

    pub async fn positions(&self) -> Result<KitePositions, ClientError> {
        self.get(&self.inner.other_limit, "/portfolio/positions", &[]).await
    }

    pub async fn margins(&self) -> Result<KiteMargins, ClientError> {
        self.get(&self.inner.other_limit, "/user/margins", &[]).await
    }

    /// Last prices, keyed by `EXCHANGE:SYMBOL`, for at most 1000 instruments.
    pub async fn ltp(&self, instruments: &[String]) -> Result<BTreeMap<String, KiteLtp>, ClientError> {
        self.quotes("/quote/ltp", instruments).await
    }

    /// Full quotes, keyed by `EXCHANGE:SYMBOL`, for at most 500 instruments.
    pub async fn quote(&self, instruments: &[String]) -> Result<BTreeMap<String, KiteQuote>, ClientError> {
        self.quotes("/quote", instruments).await
    }

    /// Every instrument `exchange` lists today (`GET /instruments/:exchange`,
    /// CSV, a few megabytes): where the ticker's instrument tokens come from.
    /// Kite renews the list once a day, before the market opens. Rows that do
    /// not read are logged and left out; see [`parse_instruments`].
    pub async fn instruments(&self, exchange: Exchange) -> Result<Vec<KiteInstrument>, ClientError> {
        let path = format!("/instruments/{exchange}");
        self.get_with(&self.inner.other_limit, &path, &[], |status, body| {
            if !(200..300).contains(&status) {
                // Errors come as Kite's JSON, like any other call's: never read as data.
                parse_response::<serde::de::IgnoredAny>(status, body)?;
            }
            parse_instruments(body).map_err(|e| {
                ClientError::Kite(KiteError { http_status: status, error_type: None, message: e.to_string() })
            })
        })
        .await
    }

    async fn quotes<T: DeserializeOwned>(&self, path: &str, instruments: &[String]) -> Result<T, ClientError> {
        let query: Vec<(&str, &str)> = instruments.iter().map(|i| ("i", i.as_str())).collect();
        self.get(&self.inner.quote_limit, path, &query).await
    }

    /// Exchanges the request token from Kite's login redirect for a session.
    pub async fn generate_session(&self, request_token: &str, api_secret: &Secret) -> Result<KiteSession, ClientError> {
        let checksum = session_checksum(&self.inner.api_key, request_token, api_secret.expose());
        let form =
            [("api_key", self.inner.api_key.as_str()), ("request_token", request_token), ("checksum", &checksum)];
        self.inner.other_limit.acquire().await;
        self.send("POST /session/token", self.request(Method::POST, "/session/token").form(&form)).await
    }

    /// Ends the session: the access token stops working at once.
    pub async fn invalidate_session(&self) -> Result<bool, ClientError> {
        let token = self.inner.access_token.as_ref().ok_or_else(|| {
            ClientError::Refused("there is no access token to invalidate; this client is not logged in".into())
        })?;
        let query = [("api_key", self.inner.api_key.as_str()), ("access_token", token.expose())];
        self.inner.other_limit.acquire().await;
        self.send("DELETE /session/token", self.request(Method::DELETE, "/session/token").query(&query)).await
    }
}

/// Maps each record; one that does not map is logged and skipped, so one
/// MCX order never hides the rest of the book.
fn map_each<K, T>(records: &[K], what: &str) -> Vec<T>
where
    T: for<'a> TryFrom<&'a K, Error = MapError>,
{
    records
        .iter()
        .filter_map(|record| match T::try_from(record) {
            Ok(mapped) => Some(mapped),
            Err(e) => {
                tracing::warn!(error = %e, "skipping a Kite {what} this desk does not trade");
                None
            }
        })
        .collect()
}

/// Kite Connect as the engine's [`Broker`] and [`MarketData`].
#[derive(Clone)]
pub struct KiteBroker {
    client: KiteClient,
    /// `EXCHANGE:SYMBOL` keys whose last prices [`MarketData::last_prices`] reads.
    instruments: Arc<[String]>,
    /// Each desk instrument's tick as Kite's instrument list gives it.
    ticks: Arc<[(String, Exchange, Decimal)]>,
    events: broadcast::Sender<BrokerEvent>,
}

impl fmt::Debug for KiteBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KiteBroker")
            .field("client", &self.client)
            .field("instruments", &self.instruments.len())
            .finish_non_exhaustive()
    }
}

impl KiteBroker {
    /// `instruments` are Kite's keys, such as `NSE:INFY`.
    pub fn new(client: KiteClient, instruments: Vec<String>) -> Self {
        let (events, _) = broadcast::channel(8192);
        KiteBroker { client, instruments: instruments.into(), ticks: Arc::new([]), events }
    }

    /// Records the ticks Kite lists for the desk's instruments.
    pub fn with_ticks(mut self, ticks: Vec<(String, Exchange, Decimal)>) -> Self {
        self.ticks = ticks.into();
        self
    }

    /// The desk instruments' ticks as Kite lists them.
    pub fn ticks(&self) -> &[(String, Exchange, Decimal)] {
        &self.ticks
    }

    pub fn client(&self) -> &KiteClient {
        &self.client
    }

    /// Where order updates, fills and ticks are published (by the WebSocket
    /// ticker task) for [`Broker::subscribe`]rs.
    pub fn events(&self) -> &broadcast::Sender<BrokerEvent> {
        &self.events
    }
}

impl MarketData for KiteBroker {
    async fn last_prices(&self) -> Result<Vec<Tick>, BrokerError> {
        let mut ticks = Vec::with_capacity(self.instruments.len());
        for batch in self.instruments.chunks(QUOTE_BATCH) {
            let prices = self.client.ltp(batch).await?;
            let received = xcoin_model::clock::now();
            for (key, ltp) in &prices {
                match ltp.to_tick(key, received) {
                    Ok(tick) => ticks.push(tick),
                    Err(e) => tracing::warn!(error = %e, "skipping a Kite last price this desk does not trade"),
                }
            }
        }
        Ok(ticks)
    }
}

impl Broker for KiteBroker {
    fn kind(&self) -> BrokerKind {
        BrokerKind::Kite
    }

    async fn place(&self, req: &PlaceRequest) -> Result<String, BrokerError> {
        Ok(self.client.place_order(req).await?)
    }

    async fn modify(&self, broker_order_id: &str, change: Modify) -> Result<(), BrokerError> {
        self.client.modify_order(broker_order_id, &change).await?;
        Ok(())
    }

    async fn cancel(&self, broker_order_id: &str) -> Result<(), BrokerError> {
        self.client.cancel_order(broker_order_id).await?;
        Ok(())
    }

    async fn orders(&self) -> Result<Vec<BrokerOrder>, BrokerError> {
        Ok(map_each(&self.client.orders().await?, "order"))
    }

    async fn trades(&self) -> Result<Vec<BrokerFill>, BrokerError> {
        Ok(map_each(&self.client.trades().await?, "trade"))
    }

    async fn positions(&self) -> Result<Vec<Holding>, BrokerError> {
        Ok(map_each(&self.client.positions().await?.net, "position"))
    }

    fn subscribe(&self) -> broadcast::Receiver<BrokerEvent> {
        self.events.subscribe()
    }

    /// `GET /user/margins`, the equity segment.
    async fn funds(&self) -> Result<xcoin_model::funds::Funds, BrokerError> {
        let margins = self.client.margins().await?;
        let e = margins
            .equity
            .ok_or_else(|| BrokerError::Unavailable("Kite reported no equity segment in the margins".into()))?;
        Ok(xcoin_model::funds::Funds {
            opening_balance: e.available.opening_balance,
            cash: e.available.cash,
            used_margin: e.utilised.debits,
            m2m_realised: e.utilised.m2m_realised,
            m2m_unrealised: e.utilised.m2m_unrealised,
            available_margin: e.net,
        })
    }
}

#[cfg(test)]
mod tests;
