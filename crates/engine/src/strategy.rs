//! Strategies as a part of the engine: a strategy sees ticks, its own fills
//! and order updates, and is asked on the engine's timer what it wants; it
//! answers with intents (place, modify, cancel, exit) and never touches the
//! broker or the database. The engine turns intents into orders through the
//! same pre-trade validator, audit and kill switch as every other order,
//! under the strategy's own row in `strategies` (its id and name are set by
//! the engine, whatever an intent says). A paused strategy is not asked.
//!
//! This file is the contract alone; the engine's side (running them) is
//! `strategies`, and the strategies this build carries are in `registry`.
//!
//! A strategy of one's own, in full:
//!
//! ```
//! use xcoin_broker::Tick;
//! use xcoin_model::order::{Exchange, OrderRequest, OrderType, Product, Side, Validity};
//! use xcoin_engine::strategy::{Intent, Strategy, View};
//! use rust_decimal::Decimal;
//!
//! /// Buys 10 INFY once its price has risen three ticks in a row.
//! struct ThreeUp {
//!     last: Vec<Decimal>,
//! }
//!
//! impl Strategy for ThreeUp {
//!     fn name(&self) -> &str {
//!         "Three Up"
//!     }
//!     fn on_tick(&mut self, tick: &Tick) {
//!         if tick.symbol == "INFY" {
//!             self.last.push(tick.last_price);
//!         }
//!     }
//!     fn decide(&mut self, view: &View) -> Vec<Intent> {
//!         let n = self.last.len();
//!         let rising = n >= 4 && self.last[n - 4..].windows(2).all(|w| w[1] > w[0]);
//!         if !rising || view.busy.iter().any(|(s, _)| s == "INFY") {
//!             return vec![];
//!         }
//!         let price = self.last[n - 1];
//!         self.last.clear();
//!         vec![Intent::Place(OrderRequest {
//!             strategy_id: 0, // the engine sets the strategy's own id and name
//!             symbol: "INFY".into(),
//!             exchange: Exchange::Nse,
//!             side: Side::Buy,
//!             order_type: OrderType::Market,
//!             product: Product::Mis,
//!             validity: Validity::Day,
//!             quantity: 10,
//!             price: None,
//!             trigger_price: None,
//!             stop_loss: Some(price - Decimal::from(2)),
//!             take_profit: Some(price + Decimal::from(5)),
//!             parent_order_id: None,
//!             placed_by: String::new(),
//!         })]
//!     }
//! }
//!
//! // Plugged in with `engine.add_strategy(Box::new(ThreeUp { last: vec![] })).await?`.
//! let mut s = ThreeUp { last: vec![] };
//! assert_eq!(s.name(), "Three Up");
//!
//! ```

use chrono::{DateTime, Utc};

use super::Result;
use xcoin_broker::Tick;
use xcoin_db::orders::OrderModification;
use xcoin_model::order::{Exchange, Order, OrderRequest};
use xcoin_model::position::Position;
use xcoin_model::risk::RiskLimits;
use xcoin_model::strategy::StrategyType;
use xcoin_model::trade::Trade;

/// What a strategy wants done.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    Place(OrderRequest),
    Modify { order_id: i64, change: OrderModification },
    Cancel { order_id: i64 },
    Exit { position_id: i64 },
}

/// The desk as a strategy sees it when asked.
pub struct View<'a> {
    /// Instruments with an open position or a working order (anyone's).
    pub busy: &'a [(String, Exchange)],
    /// The strategy's own open positions.
    pub positions: &'a [Position],
    /// The strategy's own working orders.
    pub orders: &'a [Order],
    pub limits: &'a RiskLimits,
    pub now: DateTime<Utc>,
}

/// A trading strategy. Every method but [`decide`](Strategy::decide) has a
/// default that ignores the event.
pub trait Strategy: Send + Sync {
    /// Its name: its row in `strategies`, and `placed_by` on its orders.
    fn name(&self) -> &str;
    fn strategy_type(&self) -> StrategyType {
        StrategyType::Custom
    }
    /// Takes its parameters from its row in `strategies` (a JSON object),
    /// or says which field is wrong and what is allowed: a strategy whose
    /// parameters are refused is not run. The default takes none.
    fn configure(&mut self, parameters: &serde_json::Value) -> Result<(), String> {
        parameters_of::<NoParameters>(parameters).map(|_| ())
    }
    /// Every price the engine sees of its instruments (all of them when its
    /// row lists none).
    fn on_tick(&mut self, _tick: &Tick) {}
    /// A fill of one of its own orders.
    fn on_fill(&mut self, _order: &Order, _fill: &Trade) {}
    /// A status change of one of its own orders.
    fn on_order(&mut self, _order: &Order) {}
    /// What to do now (asked on the engine's timer, while the strategy is
    /// active, trading is enabled and the kill switch armed).
    fn decide(&mut self, view: &View) -> Vec<Intent>;
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParameters {}

/// A strategy's parameters read into its own type; an unknown or mistyped
/// field is named, with the fields there are.
pub fn parameters_of<T: serde::de::DeserializeOwned>(parameters: &serde_json::Value) -> Result<T, String> {
    serde_json::from_value(parameters.clone()).map_err(|e| format!("parameters: {e}"))
}
