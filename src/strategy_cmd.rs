//! `xcoin strategy list|set|token`: the desk's strategies as registered in
//! `strategies` — mode, instruments, parameters and their own limits — and
//! the secret each one's webhook signals carry.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;
use color_eyre::eyre::{Result, eyre};
use rust_decimal::Decimal;
use xcoin::db::Db;
use xcoin::domain::money::rupees;
use xcoin::domain::strategy::{Registration, StrategyType, TradingMode};

#[derive(Subcommand)]
pub enum StrategyAction {
    /// Every strategy: state, mode, instruments, limits and last decision.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Register a strategy, or change what is given of one (the rest stays).
    Set {
        name: String,
        /// manual, scalping, momentum, mean_reversion, breakout or custom (new: custom).
        #[arg(long = "type")]
        strategy_type: Option<String>,
        /// PAPER or LIVE (new: PAPER).
        #[arg(long)]
        mode: Option<String>,
        /// Comma-separated: SYMBOL (NSE) or BSE:SYMBOL; empty for any.
        #[arg(long)]
        instruments: Option<String>,
        /// Its parameters, a JSON object; checked by the strategy when the engine loads it.
        #[arg(long)]
        params: Option<String>,
        /// Rupees of value it may hold open; 0 removes the limit.
        #[arg(long)]
        capital: Option<Decimal>,
        /// Open positions it may hold; 0 removes the limit.
        #[arg(long)]
        max_positions: Option<i32>,
        /// Rupees of today's net loss after which it opens nothing more; 0 removes the limit.
        #[arg(long)]
        max_loss: Option<Decimal>,
    },
    /// A new webhook token for the strategy (shown once; the last one stops working).
    Token { name: String },
}

fn parse<T: std::str::FromStr<Err = xcoin::domain::ParseEnumError>>(text: &str) -> Result<T> {
    text.parse::<T>().map_err(|e| eyre!("{e}"))
}

/// 0 means "no limit of its own".
fn limit<T: PartialEq + Default>(v: T) -> Option<T> {
    (v != T::default()).then_some(v)
}

pub async fn run(db: &Db, action: StrategyAction, out: &mut impl Write) -> Result<ExitCode> {
    match action {
        StrategyAction::List { json } => list(db, json, out).await,
        StrategyAction::Token { name } => {
            let token = db.new_webhook_token(&name).await.map_err(|e| eyre!("{e}"))?;
            writeln!(out, "webhook token of {} (shown this once): {token}", name.trim())?;
            Ok(ExitCode::SUCCESS)
        }
        StrategyAction::Set { name, strategy_type, mode, instruments, params, capital, max_positions, max_loss } => {
            let before = db.strategy_named(&name).await.map_err(|e| eyre!("{e}"))?;
            let mut r = match &before {
                Some(s) => Registration::of(s),
                None => Registration::new(&name, StrategyType::Custom),
            };
            if let Some(t) = strategy_type {
                r.strategy_type = parse(&t)?;
            }
            if let Some(m) = mode {
                r.mode = parse::<TradingMode>(&m.to_ascii_uppercase())?;
            }
            if let Some(list) = instruments {
                r.instruments =
                    list.split(',').map(|i| i.trim().to_ascii_uppercase()).filter(|i| !i.is_empty()).collect();
            }
            if let Some(p) = params {
                r.parameters =
                    serde_json::from_str(&p).map_err(|e| eyre!("parameters: not JSON ({e}); a JSON object"))?;
            }
            if let Some(c) = capital {
                r.capital_allocated = limit(c);
            }
            if let Some(n) = max_positions {
                r.max_positions = limit(n);
            }
            if let Some(l) = max_loss {
                r.max_daily_loss = limit(l);
            }
            let s = db.register_strategy(&r).await.map_err(|e| eyre!("{e}"))?;
            let verb = if before.is_some() { "changed" } else { "registered" };
            writeln!(out, "strategy {} \"{}\" {verb}: {}", s.id, s.name, summary(&Registration::of(&s)))?;
            writeln!(out, "a running engine takes the change when it next starts")?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Mode, instruments and limits in one line.
fn summary(r: &Registration) -> String {
    let instruments = if r.instruments.is_empty() { "any instrument".to_string() } else { r.instruments.join(",") };
    let capital = r.capital_allocated.map_or("—".into(), rupees);
    let positions = r.max_positions.map_or("—".into(), |n| n.to_string());
    let loss = r.max_daily_loss.map_or("—".into(), rupees);
    format!(
        "{} {}, {instruments}, capital {capital}, max positions {positions}, max daily loss {loss}, parameters {}",
        r.mode, r.strategy_type, r.parameters
    )
}

async fn list(db: &Db, json: bool, out: &mut impl Write) -> Result<ExitCode> {
    let all = db.all_strategies().await.map_err(|e| eyre!("{e}"))?;
    if json {
        let rows: Vec<serde_json::Value> = all
            .iter()
            .map(|s| {
                serde_json::json!({
                    "id": s.id, "name": s.name, "type": s.strategy_type.as_str(), "mode": s.mode.as_str(),
                    "active": s.is_active, "instruments": s.instruments, "parameters": s.parameters,
                    "capital": s.capital_allocated, "max_positions": s.max_positions,
                    "max_daily_loss": s.max_daily_loss, "last_decision": s.last_decision,
                    "last_decision_at": s.last_decision_at,
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::Value::Array(rows))?;
        return Ok(ExitCode::SUCCESS);
    }
    for s in &all {
        let state = if s.is_active { "active" } else { "paused" };
        writeln!(out, "{:>4} {:<24} {state:<6} {}", s.id, s.name, summary(&Registration::of(s)))?;
    }
    Ok(ExitCode::SUCCESS)
}
