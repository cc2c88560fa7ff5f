//! Brokers: what the engine needs from an exchange connection, whether the
//! simulated paper exchange or Zerodha Kite Connect.
//!
//! The engine talks to a broker through [`Broker`]: place, modify and cancel
//! orders, read the order book, the day's trades and the net positions, and
//! receive a stream of [`BrokerEvent`]s (order status changes, fills, ticks).
//! Kite Connect is the `xcoin-kite` crate, built on this one.
//!
//! It uses the model and the configuration (the paper book's file).

pub mod paper;

use std::future::Future;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tokio::sync::broadcast;

use xcoin_model::order::{BrokerKind, Exchange, OrderStatus, OrderType, Product, Side, Validity};
use xcoin_model::reconciliation::Holding;

/// An order as sent to a broker. `tag` lets us find it in the broker's book
/// after a crash, before anything is sent again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceRequest {
    pub tag: String,
    pub symbol: String,
    pub exchange: Exchange,
    pub side: Side,
    pub order_type: OrderType,
    pub product: Product,
    pub validity: Validity,
    pub quantity: i64,
    pub price: Option<Decimal>,
    pub trigger_price: Option<Decimal>,
    /// The order only reduces a position (an exit, the kill switch's or the
    /// square-off's flattening): XCoin's own count of the broker's daily
    /// limit never refuses it (the broker still may, and is then quoted).
    pub reduces_position: bool,
}

impl From<&xcoin_model::order::Order> for PlaceRequest {
    /// What is sent for a stored order, tagged with its client tag.
    fn from(o: &xcoin_model::order::Order) -> Self {
        PlaceRequest {
            tag: o.client_tag(),
            symbol: o.symbol.clone(),
            exchange: o.exchange,
            side: o.side,
            order_type: o.order_type,
            product: o.product,
            validity: o.validity,
            quantity: o.quantity,
            price: o.price,
            trigger_price: o.trigger_price,
            reduces_position: false,
        }
    }
}

/// A change to a working order; `None` leaves a field as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Modify {
    pub quantity: Option<i64>,
    pub price: Option<Decimal>,
    pub trigger_price: Option<Decimal>,
    /// The order executes at market (MARKET or SL-M): Kite's market
    /// protection is asked for on the modification as on the placement.
    pub at_market: bool,
}

/// An order in the broker's book, mapped onto our lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BrokerOrder {
    pub broker_order_id: String,
    pub tag: Option<String>,
    pub symbol: String,
    pub exchange: Exchange,
    pub side: Side,
    pub order_type: OrderType,
    pub product: Product,
    pub validity: Validity,
    pub quantity: i64,
    pub filled_quantity: i64,
    pub average_price: Option<Decimal>,
    pub price: Option<Decimal>,
    pub trigger_price: Option<Decimal>,
    pub status: OrderStatus,
    /// Whether a stop-loss order is held untriggered (Kite's TRIGGER
    /// PENDING, which `status` reads as OPEN): `None` when the broker's
    /// status says neither (an in-between one such as MODIFY PENDING).
    /// Absent from a book saved before it existed.
    #[serde(default)]
    pub trigger_pending: Option<bool>,
    pub message: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// One execution.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BrokerFill {
    pub broker_order_id: String,
    pub trade_id: String,
    pub symbol: String,
    pub exchange: Exchange,
    pub side: Side,
    pub product: Product,
    pub quantity: i64,
    pub price: Decimal,
    pub at: DateTime<Utc>,
}

/// A last traded price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    pub symbol: String,
    pub exchange: Exchange,
    pub last_price: Decimal,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerEvent {
    Order(BrokerOrder),
    Fill(BrokerFill),
    Tick(Tick),
}

/// A broker call that did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// The broker refused the request; the message is the broker's.
    #[error("the broker rejected it: {0}")]
    Rejected(String),
    #[error("the broker has no order {0}")]
    UnknownOrder(String),
    /// The session is no longer valid (Kite's TokenException): log in again.
    #[error("the broker session expired: {0}")]
    Session(String),
    /// The broker could not be reached or did not answer; the outcome is unknown.
    #[error("the broker did not answer: {0}")]
    Unavailable(String),
}

/// Where last traded prices come from: a snapshot on demand here, and every
/// change afterwards as [`BrokerEvent::Tick`] on the broker's event stream
/// (the paper exchange's own feed; Kite's WebSocket ticker), so ticks, order
/// updates and fills reach the engine in one ordered stream.
pub trait MarketData: Send + Sync + 'static {
    /// The last price of every instrument the source quotes.
    fn last_prices(&self) -> impl Future<Output = Result<Vec<Tick>, BrokerError>> + Send;
}

/// An exchange connection. Implementations must be cheap to share between tasks.
pub trait Broker: MarketData {
    fn kind(&self) -> BrokerKind;
    /// Sends a new order; returns the broker's order id.
    fn place(&self, req: &PlaceRequest) -> impl Future<Output = Result<String, BrokerError>> + Send;
    fn modify(&self, broker_order_id: &str, change: Modify) -> impl Future<Output = Result<(), BrokerError>> + Send;
    fn cancel(&self, broker_order_id: &str) -> impl Future<Output = Result<(), BrokerError>> + Send;
    /// Today's order book.
    fn orders(&self) -> impl Future<Output = Result<Vec<BrokerOrder>, BrokerError>> + Send;
    /// Today's fills.
    fn trades(&self) -> impl Future<Output = Result<Vec<BrokerFill>, BrokerError>> + Send;
    /// Net positions, including flat ones the broker still lists.
    fn positions(&self) -> impl Future<Output = Result<Vec<Holding>, BrokerError>> + Send;
    /// Order updates, fills and ticks from now on.
    fn subscribe(&self) -> broadcast::Receiver<BrokerEvent>;
    /// The equity segment's funds and margin now. A broker that does not
    /// report them says so.
    fn funds(&self) -> impl Future<Output = Result<xcoin_model::funds::Funds, BrokerError>> + Send {
        async { Err(BrokerError::Unavailable("this broker does not report funds".into())) }
    }
}
