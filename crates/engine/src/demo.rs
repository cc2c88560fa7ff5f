//! The demo strategy: a small momentum scalper on the simulated feed, so a
//! new desk sees orders, fills, positions and P&L move within seconds.
//!
//! When the last four prices of an instrument move the same way (three steps
//! up, or three down) it enters in that direction with a stop 0.05 % away (at
//! least two ticks) and a target 2.2 times as far, sized to risk a quarter of
//! the per-trade limit and to hold no more than the account's capital. It
//! holds at most three positions, one per instrument, and every order goes
//! through the same pre-trade validator as any other.
//! Exits come from the risk monitor when the stop or the target is reached.

use std::collections::{HashMap, VecDeque};

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use xcoin_model::order::{Exchange, OrderRequest, OrderType, Product, Side, Validity};
use xcoin_model::risk::RiskLimits;

pub const STRATEGY_NAME: &str = "Demo Scalper";

/// The demo's parameters (its row's `parameters`; each absent one keeps its default).
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoParameters {
    /// Prices in a row that must move the same way (2–20; default 4).
    pub lookback: usize,
    /// Positions it holds at most (1–20; default 3).
    pub max_positions: usize,
    /// The target's distance over the stop's (1–10; default 2.2).
    pub reward_risk: Decimal,
}

impl Default for DemoParameters {
    fn default() -> Self {
        DemoParameters { lookback: 4, max_positions: 3, reward_risk: dec!(2.2) }
    }
}

impl DemoParameters {
    fn validate(self) -> Result<DemoParameters, String> {
        if !(2..=20).contains(&self.lookback) {
            return Err(format!("parameters: lookback: 2 to 20 prices, got {}", self.lookback));
        }
        if !(1..=20).contains(&self.max_positions) {
            return Err(format!("parameters: max_positions: 1 to 20, got {}", self.max_positions));
        }
        if self.reward_risk < Decimal::ONE || self.reward_risk > Decimal::TEN {
            return Err(format!("parameters: reward_risk: 1 to 10, got {}", self.reward_risk));
        }
        Ok(self)
    }
}

pub struct Demo {
    pub strategy_id: i64,
    history: HashMap<(String, Exchange), VecDeque<Decimal>>,
    params: DemoParameters,
}

fn floor_to_tick(v: Decimal, tick: Decimal) -> Decimal {
    (v / tick).floor() * tick
}

impl Demo {
    pub fn new(strategy_id: i64) -> Demo {
        Demo { strategy_id, history: HashMap::new(), params: DemoParameters::default() }
    }

    pub fn on_price(&mut self, symbol: &str, exchange: Exchange, price: Decimal) {
        let h = self.history.entry((symbol.to_string(), exchange)).or_default();
        if h.back() != Some(&price) {
            h.push_back(price);
            if h.len() > self.params.lookback {
                h.pop_front();
            }
        }
    }

    /// The next entry, if any: `held` lists the instruments with open positions
    /// or working orders.
    pub fn signal(&mut self, held: &[(String, Exchange)], limits: &RiskLimits) -> Option<OrderRequest> {
        if held.len() >= self.params.max_positions {
            return None;
        }
        let mut candidates: Vec<(&(String, Exchange), Side, Decimal)> = self
            .history
            .iter()
            .filter(|(k, h)| h.len() == self.params.lookback && !held.contains(k))
            .filter_map(|(k, h)| {
                let rising = h.iter().zip(h.iter().skip(1)).all(|(a, b)| b > a);
                let falling = h.iter().zip(h.iter().skip(1)).all(|(a, b)| b < a);
                let last = *h.back()?;
                match (rising, falling) {
                    (true, _) => Some((k, Side::Buy, last)),
                    (_, true) => Some((k, Side::Sell, last)),
                    _ => None,
                }
            })
            .collect();
        candidates.sort_by(|a, b| a.0.cmp(b.0));
        let ((symbol, exchange), side, last) = candidates.into_iter().next().map(|(k, s, p)| (k.clone(), s, p))?;
        self.history.remove(&(symbol.clone(), exchange));
        let tick = limits.ticks.of(&symbol, exchange);

        let distance = floor_to_tick(last * dec!(0.0005), tick).max(tick * dec!(2));
        let reward = floor_to_tick(distance * self.params.reward_risk, tick) + tick;
        let budget = limits.max_risk_per_trade() / dec!(4);
        let by_risk = (budget / distance).floor();
        let by_capital = (limits.capital / last).floor();
        let quantity = i64::try_from(by_risk.min(by_capital)).ok()?.clamp(1, i64::from(limits.max_position_size));
        let (stop, target) = match side {
            Side::Buy => (last - distance, last + reward),
            Side::Sell => (last + distance, last - reward),
        };
        if stop <= Decimal::ZERO || target <= Decimal::ZERO {
            return None;
        }
        Some(OrderRequest {
            strategy_id: self.strategy_id,
            symbol,
            exchange,
            side,
            order_type: OrderType::Market,
            product: Product::Mis,
            validity: Validity::Day,
            quantity,
            price: None,
            trigger_price: None,
            stop_loss: Some(stop),
            take_profit: Some(target),
            parent_order_id: None,
            placed_by: STRATEGY_NAME.into(),
        })
    }
}

/// The demo is one strategy among any: prices in, at most one entry out.
impl super::strategy::Strategy for Demo {
    fn name(&self) -> &str {
        STRATEGY_NAME
    }
    fn strategy_type(&self) -> xcoin_model::strategy::StrategyType {
        xcoin_model::strategy::StrategyType::Scalping
    }
    fn configure(&mut self, parameters: &serde_json::Value) -> Result<(), String> {
        self.params = super::strategy::parameters_of::<DemoParameters>(parameters)?.validate()?;
        Ok(())
    }
    fn on_tick(&mut self, tick: &xcoin_broker::Tick) {
        self.on_price(&tick.symbol, tick.exchange, tick.last_price);
    }
    fn decide(&mut self, view: &super::strategy::View) -> Vec<super::strategy::Intent> {
        self.signal(view.busy, view.limits).map(super::strategy::Intent::Place).into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xcoin_model::calendar::MarketState;
    use xcoin_model::risk::{RiskSnapshot, validate};

    /// The configured defaults, as the engine runs them in PAPER mode.
    fn limits() -> RiskLimits {
        crate::EngineConfig::from_settings(&xcoin_config::Settings::default()).limits
    }

    #[test]
    fn three_rising_steps_buy_with_a_stop_and_a_target_past_two_to_one() {
        let mut d = Demo::new(2);
        for p in [dec!(1500), dec!(1500.05), dec!(1500.10), dec!(1500.10), dec!(1500.20)] {
            d.on_price("INFY", Exchange::Nse, p);
        }
        let r = d.signal(&[], &limits()).unwrap();
        assert_eq!((r.side, r.stop_loss, r.take_profit), (Side::Buy, Some(dec!(1499.45)), Some(dec!(1501.90))));
        // Risk ₹0.75 a share would allow 666 shares for a quarter of ₹2,000;
        // ₹1,00,000 of capital buys 66.
        assert_eq!(r.quantity, 66);
        let snap = RiskSnapshot {
            kill_switch_active: false,
            market_state: MarketState::Closed,
            last_price: Some(dec!(1500.20)),
            position_quantity: 0,
            open_positions: 0,
            today_net_pnl: dec!(0),
            drawdown: dec!(0),
            orders_last_second: 0,
            strategy_paused: false,
            strategy: Default::default(),
            free_margin: None,
        };
        let a = validate(&r, &snap, &limits()).expect("the demo respects every rule");
        assert!(a.risk_reward.unwrap() >= dec!(2));
        assert!(d.signal(&[], &limits()).is_none(), "one entry per signal");
    }

    #[test]
    fn falling_prices_sell_and_held_instruments_are_skipped() {
        let mut d = Demo::new(2);
        for p in [dec!(800), dec!(799.95), dec!(799.90), dec!(799.85)] {
            d.on_price("SBIN", Exchange::Nse, p);
        }
        let held = vec![("SBIN".to_string(), Exchange::Nse)];
        assert!(d.signal(&held, &limits()).is_none());
        let r = d.signal(&[], &limits()).unwrap();
        assert_eq!((r.side, r.stop_loss), (Side::Sell, Some(dec!(800.20))));
    }
}
