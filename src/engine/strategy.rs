//! Strategies as a part of the engine: a strategy sees ticks, its own fills
//! and order updates, and is asked on the engine's timer what it wants; it
//! answers with intents (place, modify, cancel, exit) and never touches the
//! broker or the database. The engine turns intents into orders through the
//! same pre-trade validator, audit and kill switch as every other order,
//! under the strategy's own row in `strategies` (its id and name are set by
//! the engine, whatever an intent says). A paused strategy is not asked.
//!
//! A strategy of one's own, in full:
//!
//! ```
//! use xcoin::broker::Tick;
//! use xcoin::domain::order::{Exchange, OrderRequest, OrderType, Product, Side, Validity};
//! use xcoin::engine::strategy::{Intent, Strategy, View};
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

use super::{Engine, Result};
use crate::broker::{Broker, Tick};
use crate::db::orders::OrderModification;
use crate::domain::order::{Exchange, Order, OrderRequest};
use crate::domain::position::Position;
use crate::domain::risk::RiskLimits;
use crate::domain::strategy::{StrategyType, TradingMode};
use crate::domain::trade::Trade;

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
    /// Every price the engine sees.
    fn on_tick(&mut self, _tick: &Tick) {}
    /// A fill of one of its own orders.
    fn on_fill(&mut self, _order: &Order, _fill: &Trade) {}
    /// A status change of one of its own orders.
    fn on_order(&mut self, _order: &Order) {}
    /// What to do now (asked on the engine's timer, while the strategy is
    /// active, trading is enabled and the kill switch armed).
    fn decide(&mut self, view: &View) -> Vec<Intent>;
}

/// A strategy the engine runs, with its row's id.
pub(super) struct Running {
    pub id: i64,
    pub strategy: Box<dyn Strategy>,
}

impl<B: Broker> Engine<B> {
    /// Registers a strategy (its row made if new) and runs it from now on.
    /// Returns its id.
    pub async fn add_strategy(&mut self, strategy: Box<dyn Strategy>) -> Result<i64> {
        let mode = match self.broker.kind() {
            crate::domain::order::BrokerKind::Paper => TradingMode::Paper,
            crate::domain::order::BrokerKind::Kite => TradingMode::Live,
        };
        let row = self.db.ensure_strategy(strategy.name(), strategy.strategy_type(), mode).await?;
        self.strategies.retain(|r| r.id != row.id);
        self.strategies.push(Running { id: row.id, strategy });
        Ok(row.id)
    }

    /// Tells every strategy of a price.
    pub(super) fn strategies_on_tick(&mut self, tick: &Tick) {
        for r in &mut self.strategies {
            r.strategy.on_tick(tick);
        }
    }

    /// Tells a strategy of its own order's fill or status.
    pub(super) fn strategies_on_order(&mut self, order: &Order, fill: Option<&Trade>) {
        for r in self.strategies.iter_mut().filter(|r| r.id == order.strategy_id) {
            match fill {
                Some(t) => r.strategy.on_fill(order, t),
                None => r.strategy.on_order(order),
            }
        }
    }

    /// Asks each active strategy what it wants, and carries it out through
    /// the validator. Nothing is asked while trading is stopped or the kill
    /// switch is active; a paused strategy is not asked at all.
    pub async fn run_strategies(&mut self) -> Result<()> {
        if self.strategies.is_empty() || !self.trading_enabled() || self.kill_switch_active().await? {
            return Ok(());
        }
        let positions = self.db.open_positions().await?;
        let orders = self.db.active_orders().await?;
        let mut busy: Vec<(String, Exchange)> = positions.iter().map(|p| (p.symbol.clone(), p.exchange)).collect();
        busy.extend(orders.iter().map(|o| (o.symbol.clone(), o.exchange)));
        busy.sort();
        busy.dedup();
        let limits = self.cfg.limits.clone();
        let mut running = std::mem::take(&mut self.strategies);
        let mut result = Ok(());
        for r in &mut running {
            if !self.db.get_strategy(r.id).await?.is_active {
                continue;
            }
            let own_positions: Vec<Position> = positions.iter().filter(|p| p.strategy_id == r.id).cloned().collect();
            let own_orders: Vec<Order> = orders.iter().filter(|o| o.strategy_id == r.id).cloned().collect();
            let view =
                View { busy: &busy, positions: &own_positions, orders: &own_orders, limits: &limits, now: Utc::now() };
            let intents = r.strategy.decide(&view);
            let name = r.strategy.name().to_string();
            for intent in intents {
                if let Err(e) = self.carry_out(r.id, &name, intent, &own_orders, &own_positions).await {
                    tracing::warn!(strategy = r.id, error = %e, "a strategy's intent was not carried out");
                    result = Err(e);
                }
            }
        }
        self.strategies = running;
        result
    }

    /// One intent, as the strategy's own: an order under its id and name; a
    /// change only to its own orders and positions.
    async fn carry_out(
        &mut self,
        id: i64,
        name: &str,
        intent: Intent,
        orders: &[Order],
        positions: &[Position],
    ) -> Result<()> {
        let foreign = |what: &str, n: i64| super::EngineError::Refused(format!("{what} {n} is not strategy {id}'s"));
        match intent {
            Intent::Place(mut req) => {
                (req.strategy_id, req.placed_by) = (id, name.to_string());
                let order = self.place_order(&req).await?;
                tracing::info!(strategy = id, order = order.id, status = %order.status, "strategy entry");
            }
            Intent::Modify { order_id, change } => {
                if !orders.iter().any(|o| o.id == order_id) {
                    return Err(foreign("order", order_id));
                }
                self.modify_order(order_id, change).await?;
            }
            Intent::Cancel { order_id } => {
                if !orders.iter().any(|o| o.id == order_id) {
                    return Err(foreign("order", order_id));
                }
                self.cancel_order(order_id).await?;
            }
            Intent::Exit { position_id } => {
                if !positions.iter().any(|p| p.id == position_id) {
                    return Err(foreign("position", position_id));
                }
                self.exit_position(position_id, name).await?;
            }
        }
        Ok(())
    }
}
