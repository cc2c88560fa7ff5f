//! The records Kite returns: orders and their history, trades, positions,
//! margins, quotes.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::*;

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
