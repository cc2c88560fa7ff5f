//! Strategies: who trades, in which mode.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::enums::string_enum;
use super::order::FieldError;

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
    /// The instruments it trades (`SYMBOL` on NSE, `BSE:SYMBOL`); empty: any.
    pub instruments: Vec<String>,
    /// Its own limits beside the desk's: open positions, and today's net
    /// loss in rupees. `capital_allocated` caps the value it holds open.
    pub max_positions: Option<i32>,
    pub max_daily_loss: Option<Decimal>,
    /// The last thing it decided (what it asked for, or that it wanted nothing), and when.
    pub last_decision: Option<String>,
    pub last_decision_at: Option<DateTime<Utc>>,
}

impl Strategy {
    /// Whether the strategy trades by itself (everything but Manual Trading):
    /// these are what the kill switch and exit-all pause.
    pub fn is_automated(&self) -> bool {
        self.strategy_type != StrategyType::Manual
    }
}

/// A strategy as registered (`xcoin strategy set`): everything but its
/// state. Checked whole before anything is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub name: String,
    pub strategy_type: StrategyType,
    pub mode: TradingMode,
    pub instruments: Vec<String>,
    pub parameters: serde_json::Value,
    pub capital_allocated: Option<Decimal>,
    pub max_positions: Option<i32>,
    pub max_daily_loss: Option<Decimal>,
}

impl Registration {
    /// A new strategy's registration: PAPER, no limits of its own, no parameters.
    pub fn new(name: &str, strategy_type: StrategyType) -> Registration {
        Registration {
            name: name.trim().to_string(),
            strategy_type,
            mode: TradingMode::Paper,
            instruments: Vec::new(),
            parameters: serde_json::json!({}),
            capital_allocated: None,
            max_positions: None,
            max_daily_loss: None,
        }
    }

    /// What a registered strategy is now.
    pub fn of(s: &Strategy) -> Registration {
        Registration {
            name: s.name.clone(),
            strategy_type: s.strategy_type,
            mode: s.mode,
            instruments: s.instruments.clone(),
            parameters: s.parameters.clone(),
            capital_allocated: s.capital_allocated,
            max_positions: s.max_positions,
            max_daily_loss: s.max_daily_loss,
        }
    }

    /// The first field that is wrong, named, with what is allowed.
    pub fn validate(&self) -> Result<(), FieldError> {
        let chars = self.name.chars().count();
        if !(1..=64).contains(&chars) || self.name.trim() != self.name {
            let why = format!("1 to 64 characters without leading or trailing spaces, got \"{}\"", self.name);
            return Err(FieldError::new("name", why));
        }
        for i in &self.instruments {
            parse_instrument(i).map_err(|e| FieldError::new("instruments", e))?;
        }
        if !self.parameters.is_object() {
            let why = format!("a JSON object ({{\"key\": value, …}}), got {}", self.parameters);
            return Err(FieldError::new("parameters", why));
        }
        if let Some(c) = self.capital_allocated
            && c <= Decimal::ZERO
        {
            return Err(FieldError::new("capital", format!("rupees above 0, got {c}")));
        }
        if let Some(n) = self.max_positions
            && !(1..=1000).contains(&n)
        {
            return Err(FieldError::new("max positions", format!("1 to 1000, got {n}")));
        }
        if let Some(l) = self.max_daily_loss
            && l <= Decimal::ZERO
        {
            return Err(FieldError::new("max daily loss", format!("rupees above 0, got {l}")));
        }
        Ok(())
    }
}

/// An instrument as a strategy names it: `SYMBOL` (NSE) or `BSE:SYMBOL`.
pub fn parse_instrument(text: &str) -> Result<(String, super::order::Exchange), String> {
    let (exchange, symbol) = match text.split_once(':') {
        Some((e, s)) => (e.parse().map_err(|e: super::ParseEnumError| e.to_string())?, s),
        None => (super::order::Exchange::Nse, text),
    };
    let ok = !symbol.is_empty()
        && symbol.len() <= 32
        && symbol.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || "-&_".contains(c));
    if !ok {
        return Err(format!("`{text}` is not SYMBOL or EXCHANGE:SYMBOL (capitals, digits, - & _)"));
    }
    Ok((symbol.to_string(), exchange))
}
