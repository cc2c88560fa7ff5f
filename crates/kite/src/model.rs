//! Kite Connect v3 JSON: the response envelope, the records Kite returns
//! (orders and order history, trades, positions, margins, quotes, postbacks),
//! their mapping onto our broker types, the form fields of order requests, and
//! Kite's errors. Nothing here does I/O: the HTTP client hands in bodies and
//! status codes and sends the forms built here.
//!
//! Money is exact. Kite sends prices as JSON numbers (`1439.9`), which
//! serde_json reads as `f64` before rust_decimal sees them. [`parse_response`]
//! and [`parse_json`] therefore first rewrite every number literal that has a
//! fraction or an exponent as a JSON string, which `Decimal` reads digit for
//! digit; integers stay numbers. Read Kite JSON through them, not through
//! `serde_json::from_str` directly.
//!
//! Times: Kite's timestamps are IST wall-clock strings (`"2021-05-31 09:18:57"`,
//! sometimes null) and become `DateTime<Utc>` as they are read.
//!
//! Records are read leniently (exchange, product, status… stay text) so that
//! one MCX order does not make the whole order book unreadable; the mapping
//! onto our types is where an unsupported value becomes a [`MapError`] naming
//! the record, the field and the value.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Asia::Kolkata;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use xcoin_broker::{BrokerError, BrokerFill, BrokerOrder, Modify, PlaceRequest, Tick};
use xcoin_model::ParseEnumError;
use xcoin_model::order::{Exchange, FieldError, OrderStatus, OrderType};
use xcoin_model::reconciliation::Holding;

// ---------------------------------------------------------------------------
// Reading JSON exactly

/// Rewrites each number literal with a fraction or an exponent as a JSON
/// string, leaving string contents and integers alone. Only ASCII positions
/// are ever sliced, so any input is safe; invalid JSON stays invalid.
fn quote_fractional_numbers(json: &str) -> Cow<'_, str> {
    let bytes = json.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            break;
                        }
                        _ => i += 1,
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len() && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                    i += 1;
                }
                let literal = &json[start..i];
                if literal.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
                    let s = out.get_or_insert_with(|| String::with_capacity(json.len() + 64));
                    s.push_str(&json[copied..start]);
                    s.push('"');
                    s.push_str(literal);
                    s.push('"');
                    copied = i;
                }
            }
            _ => i += 1,
        }
    }
    match out {
        None => Cow::Borrowed(json),
        Some(mut s) => {
            s.push_str(&json[copied.min(json.len())..]);
            Cow::Owned(s)
        }
    }
}

/// Reads a bare Kite JSON document (a postback body, a WebSocket text
/// message) with money exact. Fractional numbers arrive in `serde_json::Value`
/// fields (such as [`KiteOrder::meta`]) as strings.
pub fn parse_json<T: DeserializeOwned>(json: &str) -> serde_json::Result<T> {
    serde_json::from_str(&quote_fractional_numbers(json))
}

#[derive(Deserialize)]
struct Head {
    status: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error_type: Option<String>,
}

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

/// Reads a Kite REST response: `{"status":"success","data":…}` yields the
/// data; `{"status":"error","message":…,"error_type":…}`, a non-2xx status or
/// a body that is not Kite's JSON yields a [`KiteError`].
pub fn parse_response<T: DeserializeOwned>(http_status: u16, body: &str) -> Result<T, KiteError> {
    let text = quote_fractional_numbers(body);
    let head: Head = serde_json::from_str(&text).map_err(|e| KiteError {
        http_status,
        error_type: None,
        message: format!("the response is not Kite's JSON ({e}): {}", snippet(body)),
    })?;
    if head.status != "success" || !(200..300).contains(&http_status) {
        let message = head.message.unwrap_or_else(|| format!("status `{}` without a message", head.status));
        return Err(KiteError {
            http_status,
            error_type: head.error_type.as_deref().map(KiteErrorType::from_name),
            message,
        });
    }
    serde_json::from_str::<Data<T>>(&text).map(|d| d.data).map_err(|e| KiteError {
        http_status,
        error_type: None,
        message: format!("the response data could not be read: {e}"),
    })
}

fn snippet(body: &str) -> String {
    let mut s: String = body.chars().take(120).collect();
    if s.len() < body.len() {
        s.push('…');
    }
    s
}

/// An IST wall-clock time as Kite writes it (`2021-05-31 09:18:57`), in UTC.
/// RFC 3339 with an offset is accepted too.
pub fn parse_ist(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S") {
        return Kolkata.from_local_datetime(&naive).single().map(|t| t.with_timezone(&Utc));
    }
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// A UTC time as Kite writes it: IST wall clock, to the second.
pub fn format_ist(at: DateTime<Utc>) -> String {
    at.with_timezone(&Kolkata).format("%Y-%m-%d %H:%M:%S").to_string()
}

fn ist_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(t) if t.trim().is_empty() => Ok(None),
        Some(t) => parse_ist(&t).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!("`{t}` is not a Kite timestamp (YYYY-MM-DD HH:MM:SS, IST)"))
        }),
    }
}

/// Null reads as the default, as a missing field does.
fn null_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
#[serde(untagged)]
enum IdRepr {
    Text(String),
    Number(u64),
}

impl From<IdRepr> for String {
    fn from(id: IdRepr) -> String {
        match id {
            IdRepr::Text(s) => s,
            IdRepr::Number(n) => n.to_string(),
        }
    }
}

/// Ids are strings in Kite's documentation; a number is accepted as its digits.
fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    IdRepr::deserialize(d).map(String::from)
}

fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<IdRepr>::deserialize(d)?.map(String::from))
}

// ---------------------------------------------------------------------------
// Records

/// An order in Kite's book (`GET /orders`), one state of its history
/// (`GET /orders/:id`), a postback, or the `data` of a WebSocket order update:
/// all share this shape; the postback adds `user_id`, `app_id`, `checksum` and
/// `unfilled_quantity`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct KiteOrder {
    #[serde(deserialize_with = "id")]
    pub order_id: String,
    #[serde(default, deserialize_with = "opt_id")]
    pub exchange_order_id: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    pub parent_order_id: Option<String>,
    #[serde(default)]
    pub placed_by: Option<String>,
    pub status: String,
    #[serde(default)]
    pub status_message: Option<String>,
    #[serde(default)]
    pub status_message_raw: Option<String>,
    /// When the API registered the order (or, in a history, this state).
    #[serde(default, deserialize_with = "ist_opt")]
    pub order_timestamp: Option<DateTime<Utc>>,
    /// When the exchange registered the order; null until it reaches it.
    #[serde(default, deserialize_with = "ist_opt")]
    pub exchange_timestamp: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "ist_opt")]
    pub exchange_update_timestamp: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "null_default")]
    pub variety: String,
    #[serde(default, deserialize_with = "null_default")]
    pub modified: bool,
    pub exchange: String,
    pub tradingsymbol: String,
    #[serde(default, deserialize_with = "null_default")]
    pub instrument_token: u32,
    pub order_type: String,
    pub transaction_type: String,
    #[serde(default, deserialize_with = "null_default")]
    pub validity: String,
    #[serde(default)]
    pub validity_ttl: Option<i64>,
    pub product: String,
    pub quantity: i64,
    #[serde(default, deserialize_with = "null_default")]
    pub disclosed_quantity: i64,
    #[serde(default, deserialize_with = "null_default")]
    pub filled_quantity: i64,
    #[serde(default, deserialize_with = "null_default")]
    pub pending_quantity: i64,
    #[serde(default, deserialize_with = "null_default")]
    pub cancelled_quantity: i64,
    /// Zero for orders without a limit price.
    #[serde(default, deserialize_with = "null_default")]
    pub price: Decimal,
    /// Zero for orders without a trigger.
    #[serde(default, deserialize_with = "null_default")]
    pub trigger_price: Decimal,
    /// Zero until something fills.
    #[serde(default, deserialize_with = "null_default")]
    pub average_price: Decimal,
    #[serde(default, deserialize_with = "null_default")]
    pub market_protection: Decimal,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<String>,
    #[serde(default)]
    pub guid: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub meta: serde_json::Value,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub app_id: Option<u64>,
    #[serde(default)]
    pub checksum: Option<String>,
    #[serde(default)]
    pub unfilled_quantity: Option<i64>,
}

/// One execution (`GET /trades`, `GET /orders/:id/trades`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct KiteTrade {
    #[serde(deserialize_with = "id")]
    pub trade_id: String,
    #[serde(deserialize_with = "id")]
    pub order_id: String,
    #[serde(default, deserialize_with = "opt_id")]
    pub exchange_order_id: Option<String>,
    pub exchange: String,
    pub tradingsymbol: String,
    #[serde(default, deserialize_with = "null_default")]
    pub instrument_token: u32,
    pub product: String,
    pub transaction_type: String,
    /// The price of this execution.
    pub average_price: Decimal,
    /// The documentation's attribute table calls it `filled`; responses say `quantity`.
    #[serde(alias = "filled")]
    pub quantity: i64,
    #[serde(default, deserialize_with = "ist_opt")]
    pub fill_timestamp: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "ist_opt")]
    pub exchange_timestamp: Option<DateTime<Utc>>,
    /// A time of day only (`"09:16:39"`), so kept as Kite wrote it.
    #[serde(default)]
    pub order_timestamp: Option<String>,
}

/// `GET /portfolio/positions`: `net` is the position carried into and built
/// during the day; `day` is the day's trading alone.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct KitePositions {
    #[serde(default, deserialize_with = "null_default")]
    pub net: Vec<KitePosition>,
    #[serde(default, deserialize_with = "null_default")]
    pub day: Vec<KitePosition>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct KitePosition {
    pub tradingsymbol: String,
    pub exchange: String,
    pub instrument_token: u32,
    pub product: String,
    /// Signed: long > 0, short < 0.
    pub quantity: i64,
    pub overnight_quantity: i64,
    pub multiplier: Decimal,
    pub average_price: Decimal,
    pub close_price: Decimal,
    pub last_price: Decimal,
    pub value: Decimal,
    pub pnl: Decimal,
    pub m2m: Decimal,
    pub unrealised: Decimal,
    pub realised: Decimal,
    pub buy_quantity: i64,
    pub buy_price: Decimal,
    pub buy_value: Decimal,
    pub buy_m2m: Decimal,
    pub sell_quantity: i64,
    pub sell_price: Decimal,
    pub sell_value: Decimal,
    pub sell_m2m: Decimal,
    pub day_buy_quantity: i64,
    pub day_buy_price: Decimal,
    pub day_buy_value: Decimal,
    pub day_sell_quantity: i64,
    pub day_sell_price: Decimal,
    pub day_sell_value: Decimal,
}

/// `GET /user/margins`: one entry per segment.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct KiteMargins {
    pub equity: Option<KiteSegmentMargin>,
    pub commodity: Option<KiteSegmentMargin>,
}

/// One segment's funds (`GET /user/margins/equity` returns this alone).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct KiteSegmentMargin {
    pub enabled: bool,
    /// What can still be used to trade.
    pub net: Decimal,
    pub available: KiteAvailableMargin,
    pub utilised: KiteUtilisedMargin,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct KiteAvailableMargin {
    pub adhoc_margin: Decimal,
    /// Cash at the start of the day plus today's pay-ins.
    pub cash: Decimal,
    pub opening_balance: Decimal,
    pub live_balance: Decimal,
    pub collateral: Decimal,
    pub intraday_payin: Decimal,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct KiteUtilisedMargin {
    /// Everything blocked or spent today.
    pub debits: Decimal,
    pub exposure: Decimal,
    pub m2m_realised: Decimal,
    pub m2m_unrealised: Decimal,
    pub option_premium: Decimal,
    pub payout: Decimal,
    pub span: Decimal,
    pub holding_sales: Decimal,
    pub turnover: Decimal,
    pub liquid_collateral: Decimal,
    pub stock_collateral: Decimal,
    pub delivery: Decimal,
}

/// `POST`/`PUT`/`DELETE /orders/:variety[/:order_id]` all answer with the id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KiteOrderId {
    #[serde(deserialize_with = "id")]
    pub order_id: String,
}

/// Open, high, low and close of the day (close is the previous session's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct Ohlc {
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
}

/// One level of the order book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct DepthEntry {
    pub price: Decimal,
    pub quantity: i64,
    pub orders: i64,
}

/// Five levels a side, best first.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct Depth {
    pub buy: Vec<DepthEntry>,
    pub sell: Vec<DepthEntry>,
}

/// `GET /quote`: keyed by `EXCHANGE:SYMBOL`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct KiteQuote {
    pub instrument_token: u32,
    #[serde(deserialize_with = "ist_opt")]
    pub timestamp: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "ist_opt")]
    pub last_trade_time: Option<DateTime<Utc>>,
    pub last_price: Decimal,
    pub last_quantity: i64,
    pub buy_quantity: i64,
    pub sell_quantity: i64,
    pub volume: i64,
    pub average_price: Decimal,
    pub oi: i64,
    pub oi_day_high: i64,
    pub oi_day_low: i64,
    pub net_change: Decimal,
    pub lower_circuit_limit: Decimal,
    pub upper_circuit_limit: Decimal,
    pub ohlc: Ohlc,
    pub depth: Depth,
}

/// `GET /quote/ltp`: keyed by `EXCHANGE:SYMBOL`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KiteLtp {
    #[serde(default)]
    pub instrument_token: u32,
    pub last_price: Decimal,
}

// ---------------------------------------------------------------------------
// Mapping onto our types

/// A Kite record our domain cannot represent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// A value with no counterpart here: an exchange other than NSE and BSE
    /// (MCX, NFO, CDS), a product other than MIS, CNC and NRML (CO, MTF), a
    /// TTL validity, an order status this mapping does not know.
    #[error("Kite {record} {id}: {field} `{value}` is not one this desk handles")]
    Unsupported { record: &'static str, id: String, field: &'static str, value: String },
    /// A field the mapping needs is empty.
    #[error("Kite {record} {id}: {field} is missing")]
    Missing { record: &'static str, id: String, field: &'static str },
}

fn parse_field<T: FromStr<Err = ParseEnumError>>(
    record: &'static str,
    id: &str,
    field: &'static str,
    value: &str,
) -> Result<T, MapError> {
    value.parse().map_err(|_| MapError::Unsupported { record, id: id.to_string(), field, value: value.to_string() })
}

fn non_zero(v: Decimal) -> Option<Decimal> {
    if v.is_zero() { None } else { Some(v) }
}

/// Kite's order status on our lifecycle (`None` for a status not listed here).
///
/// * PUT ORDER REQ RECEIVED, VALIDATION PENDING, OPEN PENDING, AMO REQ
///   RECEIVED → SUBMITTED: Kite has the order, the exchange does not yet.
/// * OPEN, TRIGGER PENDING → OPEN, or PARTIALLY_FILLED once anything filled.
/// * MODIFY VALIDATION PENDING, MODIFY PENDING, MODIFIED, NOT MODIFIED, CANCEL
///   PENDING, UPDATE → the same: the order is still working at the exchange
///   while a modification or cancellation is in flight (or was refused), and
///   a pending cancel may yet fill. UPDATE is the postback for a modification
///   or a partial fill.
/// * COMPLETE → FILLED.
/// * CANCELLED, CANCELLED AMO, LAPSED → CANCELLED. LAPSED is Kite's word for
///   an order the exchange let expire unexecuted (an AMO or a DAY order at
///   the close): terminal, nothing more will trade, whatever filled stands.
/// * REJECTED → REJECTED.
///
/// A CANCELLED order with a partial fill stays CANCELLED: our lifecycle allows
/// PARTIALLY_FILLED → CANCELLED, the terminal state says no more will trade,
/// and the [`BrokerOrder::filled_quantity`] (with the fills, which arrive as
/// trades) records what did. An OPEN order whose filled quantity already
/// equals its quantity shows PARTIALLY_FILLED until Kite says COMPLETE: only
/// the broker declares an order done.
pub fn map_status(status: &str, filled_quantity: i64) -> Option<OrderStatus> {
    let working = if filled_quantity > 0 { OrderStatus::PartiallyFilled } else { OrderStatus::Open };
    let status = status.trim().to_ascii_uppercase();
    Some(match status.as_str() {
        "PUT ORDER REQ RECEIVED" | "VALIDATION PENDING" | "OPEN PENDING" | "AMO REQ RECEIVED" => OrderStatus::Submitted,
        "OPEN"
        | "TRIGGER PENDING"
        | "MODIFY VALIDATION PENDING"
        | "MODIFY PENDING"
        | "MODIFIED"
        | "NOT MODIFIED"
        | "CANCEL PENDING"
        | "UPDATE" => working,
        "COMPLETE" => OrderStatus::Filled,
        "CANCELLED" | "CANCELLED AMO" | "LAPSED" => OrderStatus::Cancelled,
        "REJECTED" => OrderStatus::Rejected,
        _ => return None,
    })
}

impl KiteOrder {
    /// This order's status on our lifecycle; see [`map_status`].
    pub fn lifecycle_status(&self) -> Result<OrderStatus, MapError> {
        map_status(&self.status, self.filled_quantity).ok_or_else(|| MapError::Unsupported {
            record: "order",
            id: self.order_id.clone(),
            field: "status",
            value: self.status.clone(),
        })
    }

    /// The latest of its timestamps: the API's, the exchange's, the
    /// exchange's last update (Kite's history entries move them separately).
    pub fn last_event_at(&self) -> Option<DateTime<Utc>> {
        [self.order_timestamp, self.exchange_timestamp, self.exchange_update_timestamp].into_iter().flatten().max()
    }
}

/// Whether Kite's status says a stop is held untriggered (TRIGGER PENDING),
/// or that it is not (OPEN, or finished); `None` for the statuses in
/// between (MODIFY PENDING, CANCEL PENDING, …), which say neither.
fn trigger_pending(status: &str) -> Option<bool> {
    match status.trim().to_ascii_uppercase().as_str() {
        "TRIGGER PENDING" => Some(true),
        "OPEN" | "COMPLETE" | "CANCELLED" | "CANCELLED AMO" | "LAPSED" | "REJECTED" => Some(false),
        _ => None,
    }
}

impl TryFrom<&KiteOrder> for BrokerOrder {
    type Error = MapError;

    /// Zero prices (a market order's price, an absent trigger, no fill yet)
    /// become `None`. The message is Kite's human one, else the raw OMS text.
    fn try_from(o: &KiteOrder) -> Result<Self, MapError> {
        let id = o.order_id.as_str();
        Ok(BrokerOrder {
            broker_order_id: o.order_id.clone(),
            tag: o.tag.clone().filter(|t| !t.is_empty()),
            symbol: o.tradingsymbol.clone(),
            exchange: parse_field("order", id, "exchange", &o.exchange)?,
            side: parse_field("order", id, "transaction_type", &o.transaction_type)?,
            order_type: parse_field("order", id, "order_type", &o.order_type)?,
            product: parse_field("order", id, "product", &o.product)?,
            validity: parse_field("order", id, "validity", &o.validity)?,
            quantity: o.quantity,
            filled_quantity: o.filled_quantity,
            average_price: non_zero(o.average_price),
            price: non_zero(o.price),
            trigger_price: non_zero(o.trigger_price),
            status: o.lifecycle_status()?,
            trigger_pending: trigger_pending(&o.status),
            message: o.status_message.clone().or_else(|| o.status_message_raw.clone()).filter(|m| !m.is_empty()),
            updated_at: o.last_event_at().ok_or_else(|| MapError::Missing {
                record: "order",
                id: id.to_string(),
                field: "order_timestamp",
            })?,
        })
    }
}

impl TryFrom<&KiteTrade> for BrokerFill {
    type Error = MapError;

    /// The fill's time is the exchange's fill timestamp, else the exchange timestamp.
    fn try_from(t: &KiteTrade) -> Result<Self, MapError> {
        let id = t.trade_id.as_str();
        Ok(BrokerFill {
            broker_order_id: t.order_id.clone(),
            trade_id: t.trade_id.clone(),
            symbol: t.tradingsymbol.clone(),
            exchange: parse_field("trade", id, "exchange", &t.exchange)?,
            side: parse_field("trade", id, "transaction_type", &t.transaction_type)?,
            product: parse_field("trade", id, "product", &t.product)?,
            quantity: t.quantity,
            price: t.average_price,
            at: t.fill_timestamp.or(t.exchange_timestamp).ok_or_else(|| MapError::Missing {
                record: "trade",
                id: id.to_string(),
                field: "fill_timestamp",
            })?,
        })
    }
}

impl TryFrom<&KitePosition> for Holding {
    type Error = MapError;

    /// For a `net` position: signed quantity and Kite's average price (zero
    /// when flat).
    fn try_from(p: &KitePosition) -> Result<Self, MapError> {
        let id = p.tradingsymbol.as_str();
        Ok(Holding {
            symbol: p.tradingsymbol.clone(),
            exchange: parse_field("position", id, "exchange", &p.exchange)?,
            product: parse_field("position", id, "product", &p.product)?,
            quantity: p.quantity,
            average_price: p.average_price,
        })
    }
}

/// Splits a quote key (`NSE:INFY`) into our exchange and the symbol.
pub fn split_instrument_key(key: &str) -> Result<(Exchange, &str), MapError> {
    let unsupported = |field, value: &str| MapError::Unsupported {
        record: "quote",
        id: key.to_string(),
        field,
        value: value.to_string(),
    };
    let (exchange, symbol) = key.split_once(':').ok_or_else(|| unsupported("instrument", key))?;
    let exchange = exchange.parse().map_err(|_| unsupported("exchange", exchange))?;
    Ok((exchange, symbol))
}

impl KiteQuote {
    /// A tick at the quote's own timestamp, else at `received_at`.
    pub fn to_tick(&self, key: &str, received_at: DateTime<Utc>) -> Result<Tick, MapError> {
        let (exchange, symbol) = split_instrument_key(key)?;
        Ok(Tick {
            symbol: symbol.to_string(),
            exchange,
            last_price: self.last_price,
            at: self.timestamp.unwrap_or(received_at),
        })
    }
}

impl KiteLtp {
    /// A tick at `received_at` (the LTP endpoint carries no time).
    pub fn to_tick(&self, key: &str, received_at: DateTime<Utc>) -> Result<Tick, MapError> {
        let (exchange, symbol) = split_instrument_key(key)?;
        Ok(Tick { symbol: symbol.to_string(), exchange, last_price: self.last_price, at: received_at })
    }
}

// ---------------------------------------------------------------------------
// Requests

/// Kite's most characters in a tag.
pub const TAG_MAX_LEN: usize = 20;

/// The market protection sent with MARKET and SL-M orders: `-1` lets Kite
/// apply the exchange's protection band. Under SEBI's retail-algo rules Kite
/// rejects API market orders without one.
pub const MARKET_PROTECTION_AUTO: &str = "-1";

/// A Kite tag is at most 20 ASCII letters and digits.
pub fn check_tag(tag: &str) -> Result<(), FieldError> {
    if tag.is_empty() || tag.len() > TAG_MAX_LEN || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(FieldError::new(
            "tag",
            format!("`{tag}` is not a Kite tag; use 1–{TAG_MAX_LEN} ASCII letters and digits"),
        ));
    }
    Ok(())
}

fn wire_price(field: &'static str, value: Decimal) -> Result<String, FieldError> {
    if value <= Decimal::ZERO {
        return Err(FieldError::new(field, format!("must be greater than 0, got {value}")));
    }
    Ok(value.normalize().to_string())
}

/// The form fields of `POST /orders/regular` for a request: the limit price
/// exactly for LIMIT and SL, the trigger exactly for SL and SL-M, automatic
/// market protection for MARKET and SL-M, and the tag unless it is empty.
/// A field that is wrong for Kite is an error naming it, never dropped.
pub fn place_form(req: &PlaceRequest) -> Result<Vec<(&'static str, String)>, FieldError> {
    if req.symbol.trim().is_empty() {
        return Err(FieldError::new("symbol", "is empty"));
    }
    if req.quantity < 1 {
        return Err(FieldError::new("quantity", format!("must be at least 1, got {}", req.quantity)));
    }
    let mut form = vec![
        ("tradingsymbol", req.symbol.clone()),
        ("exchange", req.exchange.as_str().to_string()),
        ("transaction_type", req.side.as_str().to_string()),
        ("order_type", req.order_type.as_str().to_string()),
        ("quantity", req.quantity.to_string()),
        ("product", req.product.as_str().to_string()),
        ("validity", req.validity.as_str().to_string()),
    ];
    match (req.order_type.needs_price(), req.price) {
        (true, Some(p)) => form.push(("price", wire_price("price", p)?)),
        (true, None) => {
            return Err(FieldError::new("price", format!("a {} order needs a limit price", req.order_type)));
        }
        (false, Some(_)) => {
            return Err(FieldError::new("price", format!("a {} order takes no limit price", req.order_type)));
        }
        (false, None) => {}
    }
    match (req.order_type.needs_trigger(), req.trigger_price) {
        (true, Some(p)) => form.push(("trigger_price", wire_price("trigger_price", p)?)),
        (true, None) => {
            return Err(FieldError::new("trigger_price", format!("a {} order needs a trigger price", req.order_type)));
        }
        (false, Some(_)) => {
            return Err(FieldError::new("trigger_price", format!("a {} order takes no trigger price", req.order_type)));
        }
        (false, None) => {}
    }
    if matches!(req.order_type, OrderType::Market | OrderType::StopLossMarket) {
        form.push(("market_protection", MARKET_PROTECTION_AUTO.to_string()));
    }
    if !req.tag.is_empty() {
        check_tag(&req.tag)?;
        form.push(("tag", req.tag.clone()));
    }
    Ok(form)
}

/// The form fields of `PUT /orders/regular/:order_id`: only what changes, as
/// Kite's own clients send it. A change of nothing is an error.
pub fn modify_form(change: &Modify) -> Result<Vec<(&'static str, String)>, FieldError> {
    let mut form = Vec::new();
    if let Some(q) = change.quantity {
        if q < 1 {
            return Err(FieldError::new("quantity", format!("must be at least 1, got {q}")));
        }
        form.push(("quantity", q.to_string()));
    }
    if let Some(p) = change.price {
        form.push(("price", wire_price("price", p)?));
    }
    if let Some(p) = change.trigger_price {
        form.push(("trigger_price", wire_price("trigger_price", p)?));
    }
    if form.is_empty() {
        return Err(FieldError::new("modify", "changes nothing; give a quantity, a price or a trigger price"));
    }
    // As on placement: an order that executes at market keeps Kite's
    // automatic protection when it is changed.
    if change.at_market {
        form.push(("market_protection", MARKET_PROTECTION_AUTO.to_string()));
    }
    Ok(form)
}

/// What the login checksum hashes: `api_key + request_token + api_secret`
/// (SHA-256, computed by the caller, is sent as `checksum` to `POST /session/token`).
pub fn checksum_input(api_key: &str, request_token: &str, api_secret: &str) -> String {
    format!("{api_key}{request_token}{api_secret}")
}

/// What a postback's `checksum` hashes: `order_id + order_timestamp + api_secret`,
/// the timestamp as Kite wrote it. `None` without an order timestamp.
pub fn postback_checksum_input(order: &KiteOrder, api_secret: &str) -> Option<String> {
    order.order_timestamp.map(|at| format!("{}{}{api_secret}", order.order_id, format_ist(at)))
}

// ---------------------------------------------------------------------------
// Errors

/// Kite's `error_type`: the exception its API server raised.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KiteErrorType {
    /// The session expired or was invalidated (403).
    Token,
    /// Something about the user's account.
    User,
    /// Order placement or manipulation failed.
    Order,
    /// Missing or bad parameters.
    Input,
    /// Not enough funds for the order.
    Margin,
    /// Not enough holdings to sell.
    Holding,
    /// Kite could not reach its OMS.
    Network,
    /// Kite could not understand its OMS's answer.
    Data,
    /// Unclassified.
    General,
    /// A name this mapping does not know (PermissionException…), kept as sent.
    Other(String),
}

impl KiteErrorType {
    pub fn from_name(name: &str) -> KiteErrorType {
        use KiteErrorType::*;
        match name.trim() {
            "TokenException" => Token,
            "UserException" => User,
            "OrderException" => Order,
            "InputException" => Input,
            "MarginException" => Margin,
            "HoldingException" => Holding,
            "NetworkException" => Network,
            "DataException" => Data,
            "GeneralException" => General,
            other => Other(other.to_string()),
        }
    }

    pub fn name(&self) -> &str {
        use KiteErrorType::*;
        match self {
            Token => "TokenException",
            User => "UserException",
            Order => "OrderException",
            Input => "InputException",
            Margin => "MarginException",
            Holding => "HoldingException",
            Network => "NetworkException",
            Data => "DataException",
            General => "GeneralException",
            Other(name) => name,
        }
    }
}

impl fmt::Display for KiteErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Kite call that failed: the HTTP status, Kite's exception (`None` when
/// the body was not Kite's error JSON) and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KiteError {
    pub http_status: u16,
    pub error_type: Option<KiteErrorType>,
    pub message: String,
}

impl fmt::Display for KiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error_type {
            Some(t) => write!(f, "Kite HTTP {} {t}: {}", self.http_status, self.message),
            None => write!(f, "Kite HTTP {}: {}", self.http_status, self.message),
        }
    }
}

impl std::error::Error for KiteError {}

impl From<KiteError> for BrokerError {
    /// In order of precedence:
    ///
    /// * TokenException → `Session`, whatever the status: nothing works until
    ///   the operator logs in again.
    /// * HTTP 429 or 5xx → `Unavailable`, whatever the exception: Kite was
    ///   rate limiting or failed on its side, and an order call may or may not
    ///   have taken effect, so the engine must look for the order by its tag
    ///   before it trusts either outcome (a refusal read as final could leave
    ///   a live order untracked).
    /// * Input, Order, Margin, Holding, User → `Rejected` with Kite's message:
    ///   Kite refused the request and nothing happened; the message tells the
    ///   operator why (funds, holdings, a bad price).
    /// * Network, Data, General → `Unavailable`: Kite could not talk to or
    ///   understand its OMS, so the outcome is unknown.
    /// * Any other exception or an unreadable body: a 4xx is a refusal
    ///   (`Rejected`, with the status and text); anything else, including a
    ///   2xx whose data could not be read, is `Unavailable`.
    fn from(e: KiteError) -> Self {
        use KiteErrorType::*;
        let throttled_or_down = e.http_status == 429 || e.http_status >= 500;
        match e.error_type {
            Some(Token) => BrokerError::Session(e.message),
            _ if throttled_or_down => BrokerError::Unavailable(e.to_string()),
            Some(Input | Order | Margin | Holding | User) => BrokerError::Rejected(e.message),
            Some(Network | Data | General) => BrokerError::Unavailable(e.to_string()),
            Some(Other(_)) | None if (400..500).contains(&e.http_status) => BrokerError::Rejected(e.to_string()),
            Some(Other(_)) | None => BrokerError::Unavailable(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    use super::*;
    use xcoin_model::order::{Product, Side, Validity};

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
        assert!(
            iceberg.status_message.as_deref().unwrap().starts_with("Insufficient funds. Required margin is 95417.84")
        );
        assert_eq!((iceberg.exchange_order_id.as_deref(), iceberg.exchange_timestamp), (None, None));
        assert_eq!(iceberg.meta["iceberg"]["legs"], 5);
        assert_eq!(iceberg.tags, ["icebergord"]);
        assert_eq!(iceberg.validity_ttl, Some(2));

        assert_eq!(mapped[4], Err(unsupported("order", "700000000000000", "exchange", "MCX")));
        assert_eq!(orders[4].tag.as_deref(), Some("connect test order1"));
        assert_eq!(mapped[5], Err(unsupported("order", "9000000000000000", "exchange", "MCX")));

        let auction = mapped[6].as_ref().unwrap();
        assert_eq!((auction.symbol.as_str(), auction.side, auction.quantity), ("BHEL", Side::Sell, 60));
        assert_eq!(
            (auction.status, auction.filled_quantity, auction.price),
            (OrderStatus::Cancelled, 0, Some(dec!(85)))
        );

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
        let r: KiteOrderId =
            parse_response(200, r#"{"status":"success","data":{"order_id":151220000000001}}"#).unwrap();
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
            assert_eq!(
                (err.http_status, err.error_type.as_ref(), err.message.as_str()),
                (status, Some(&error_type), why)
            );
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
            modify_form(&Modify {
                quantity: Some(5),
                price: Some(dec!(1501.10)),
                trigger_price: None,
                at_market: false
            }),
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
        assert!(
            modify_form(&Modify { at_market: true, ..Modify::default() }).is_err(),
            "protection alone changes nothing"
        );
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
}
