//! The mapping of Kite's records onto the broker's types; an unsupported
//! value becomes a [`MapError`] naming the record, the field and the value.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use xcoin_broker::{BrokerFill, BrokerOrder, Tick};
use xcoin_model::ParseEnumError;
use xcoin_model::order::{Exchange, OrderStatus};
use xcoin_model::reconciliation::Holding;

use super::*;

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

pub(crate) fn parse_field<T: FromStr<Err = ParseEnumError>>(
    record: &'static str,
    id: &str,
    field: &'static str,
    value: &str,
) -> Result<T, MapError> {
    value.parse().map_err(|_| MapError::Unsupported { record, id: id.to_string(), field, value: value.to_string() })
}

pub(crate) fn non_zero(v: Decimal) -> Option<Decimal> {
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
pub(crate) fn trigger_pending(status: &str) -> Option<bool> {
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
