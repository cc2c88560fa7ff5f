//! The risk check's reads, kept between placements.
//!
//! A burst of orders between two fills reads the same positions, P&L, kill
//! switch and strategy limits each time; each read is a round trip on the
//! order's path. The engine keeps what it read with the database's risk
//! generation (see [`RiskGeneration`]) and checks an order against it. The
//! order's own PENDING write returns the generation it saw: equal, the kept
//! inputs were the database's at the write, exactly as a fresh read would
//! have been; different, the engine reads again and checks again before
//! anything is sent (see `Engine::place_order`). A refusal is never decided
//! on kept inputs: they are read again first.

use std::collections::HashMap;

use xcoin_db::stats::{RiskGeneration, RiskInputs};
use xcoin_model::order::{Exchange, OrderRequest, Product};

/// What one read answers for: the instrument, its product and the strategy.
type Key = (String, Exchange, Product, i64);

fn key(req: &OrderRequest) -> Key {
    (req.symbol.clone(), req.exchange, req.product, req.strategy_id)
}

/// The inputs read at one generation, by what they answer for.
#[derive(Debug, Default)]
pub(crate) struct RiskMemo {
    generation: Option<RiskGeneration>,
    kept: HashMap<Key, RiskInputs>,
    /// Reads from the database so far (for the bench and the tests).
    reads: u64,
}

impl RiskMemo {
    /// The inputs kept for `req`'s instrument and strategy at the newest
    /// generation seen, if any.
    pub(crate) fn get(&self, req: &OrderRequest) -> Option<RiskInputs> {
        self.kept.get(&key(req)).copied()
    }

    /// Keeps a fresh read; a read at a newer generation forgets the rest.
    pub(crate) fn keep(&mut self, req: &OrderRequest, inputs: RiskInputs) {
        self.reads += 1;
        self.saw(inputs.generation);
        self.kept.insert(key(req), inputs);
    }

    /// The database is at `generation`: what was read at another is forgotten.
    pub(crate) fn saw(&mut self, generation: RiskGeneration) {
        if self.generation != Some(generation) {
            self.kept.clear();
            self.generation = Some(generation);
        }
    }

    pub(crate) fn reads(&self) -> u64 {
        self.reads
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use rust_decimal::Decimal;
    use xcoin_model::order::{OrderType, Side, Validity};

    fn req(symbol: &str, strategy_id: i64) -> OrderRequest {
        OrderRequest {
            strategy_id,
            symbol: symbol.into(),
            exchange: Exchange::Nse,
            side: Side::Buy,
            order_type: OrderType::Market,
            product: Product::Mis,
            validity: Validity::Day,
            quantity: 1,
            price: None,
            trigger_price: None,
            stop_loss: None,
            take_profit: None,
            parent_order_id: None,
            placed_by: "test".into(),
        }
    }

    fn inputs(held: i64, n: i64, day: u32) -> RiskInputs {
        RiskInputs {
            held,
            open_positions: 0,
            today_net_pnl: Decimal::ZERO,
            peak_pnl: Decimal::ZERO,
            kill_switch_active: false,
            strategy_paused: false,
            max_positions: None,
            max_daily_loss: None,
            capital_allocated: None,
            strategy_open_positions: 0,
            strategy_exposure: Decimal::ZERO,
            strategy_net_pnl: Decimal::ZERO,
            generation: RiskGeneration {
                risk_generation: n,
                trading_day: NaiveDate::from_ymd_opt(2026, 12, day).unwrap(),
            },
        }
    }

    #[test]
    fn reads_are_kept_per_instrument_and_strategy_until_the_generation_or_the_day_moves() {
        let mut m = RiskMemo::default();
        m.keep(&req("INFY", 1), inputs(5, 7, 7));
        m.keep(&req("TCS", 1), inputs(-2, 7, 7));
        assert_eq!(m.get(&req("INFY", 1)).map(|i| i.held), Some(5));
        assert_eq!(m.get(&req("TCS", 1)).map(|i| i.held), Some(-2));
        assert_eq!(m.get(&req("INFY", 2)), None, "another strategy's limits are its own read");
        m.saw(inputs(0, 7, 7).generation);
        assert_eq!(m.get(&req("TCS", 1)).map(|i| i.held), Some(-2), "the same generation keeps everything");
        m.saw(inputs(0, 7, 8).generation);
        assert_eq!(m.get(&req("INFY", 1)), None, "a new trading day forgets yesterday's reads");
        m.keep(&req("INFY", 1), inputs(5, 7, 8));
        m.keep(&req("SBIN", 1), inputs(1, 8, 8));
        assert_eq!(m.get(&req("INFY", 1)), None, "a read at a newer generation forgets the older ones");
        assert_eq!(m.get(&req("SBIN", 1)).map(|i| i.held), Some(1));
        assert_eq!(m.reads(), 4);
    }
}
