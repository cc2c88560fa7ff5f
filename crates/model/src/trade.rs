//! Trades: executed fills, each with its charges.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::charges::Charges;
use super::order::{BrokerKind, Exchange, Product, Side};

/// A fill reported by the broker for one of our orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    pub order_id: i64,
    pub broker: BrokerKind,
    /// The broker's trade id; a fill is applied at most once per (broker, id).
    pub broker_trade_id: String,
    pub quantity: i64,
    pub price: Decimal,
    pub traded_at: DateTime<Utc>,
}

/// A fill as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trade {
    pub id: i64,
    pub order_id: i64,
    pub strategy_id: i64,
    pub symbol: String,
    pub exchange: Exchange,
    pub side: Side,
    pub product: Product,
    pub quantity: i64,
    pub price: Decimal,
    pub broker: BrokerKind,
    pub broker_trade_id: String,
    pub broker_order_id: Option<String>,
    pub charges: Charges,
    pub turnover: Decimal,
    pub total_charges: Decimal,
    /// Signed cash flow: a buy is −(turnover + charges), a sell turnover − charges.
    pub net_value: Decimal,
    /// P&L this fill realised on its position, before charges.
    pub realized_pnl: Decimal,
    pub traded_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}
