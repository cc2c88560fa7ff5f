//! Strategies: who trades, in which mode.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::enums::string_enum;

string_enum!(
    /// PAPER trades on the simulated exchange; LIVE sends real orders to the broker.
    TradingMode, "mode" { Paper => "PAPER", Live => "LIVE" }
);

impl TradingMode {
    /// The broker orders go to in this mode.
    pub fn broker(self) -> super::order::BrokerKind {
        match self {
            TradingMode::Paper => super::order::BrokerKind::Paper,
            TradingMode::Live => super::order::BrokerKind::Kite,
        }
    }
}

string_enum!(
    /// What kind of strategy places the orders.
    StrategyType, "strategy_type" {
        Manual => "manual",
        Scalping => "scalping",
        Momentum => "momentum",
        MeanReversion => "mean_reversion",
        Breakout => "breakout",
        Custom => "custom",
    }
);

/// The strategy every operator order belongs to, seeded by the first migration.
pub const MANUAL_STRATEGY_ID: i64 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strategy {
    pub id: i64,
    pub name: String,
    pub strategy_type: StrategyType,
    pub mode: TradingMode,
    /// Active strategies may place orders; a paused one may only exit.
    pub is_active: bool,
    pub capital_allocated: Option<Decimal>,
    pub parameters: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When, by whom and why the strategy was paused (all `None` while active).
    pub paused_at: Option<DateTime<Utc>>,
    pub paused_by: Option<String>,
    pub paused_reason: Option<String>,
}

impl Strategy {
    /// Whether the strategy trades by itself (everything but Manual Trading):
    /// these are what the kill switch and exit-all pause.
    pub fn is_automated(&self) -> bool {
        self.strategy_type != StrategyType::Manual
    }
}
