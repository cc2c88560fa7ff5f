//! The names settings go by outside the files: `XCOIN_<SECTION>__<KEY>`
//! variables, and the original system's names (`LEGACY_ENV`), each read
//! or refused, never guessed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::*;

/// Keys that hold secrets, as dotted paths.
pub const SECRET_KEYS: &[&str] = &[
    "zerodha.api_key",
    "zerodha.api_secret",
    "zerodha.access_token",
    "alerts.telegram.bot_token",
    "alerts.smtp.password",
    "dashboard.token",
];

/// How a value written under one of the original system's names is read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Reading {
    /// As written, like the `XCOIN_` spelling.
    AsIs,
    /// A risk limit in percent. The original system may hold a fraction
    /// (`0.06`) or a percent (`6`); `lo..=hi` are the percents a desk could
    /// plausibly mean for this limit, used only to tell the two apart in a
    /// plain value below 1 (see [`read_percent`]). `example` is the default.
    Percent { lo: Decimal, hi: Decimal, example: Decimal },
    /// Reward per unit of risk: `2` or `2:1`.
    Ratio,
    /// PAPER or LIVE; the original meaning, development or production, is refused.
    Mode,
}

/// The original system's environment names, the keys they set, and how they are read.
pub(crate) const LEGACY_ENV: &[(&str, &str, Reading)] = &[
    ("DATABASE_URL", "database.url", Reading::AsIs),
    ("DB_MIN_CONNECTIONS", "database.pool_min", Reading::AsIs),
    ("DB_MAX_CONNECTIONS", "database.pool_max", Reading::AsIs),
    ("ZERODHA_API_KEY", "zerodha.api_key", Reading::AsIs),
    ("ZERODHA_API_SECRET", "zerodha.api_secret", Reading::AsIs),
    ("ZERODHA_ACCESS_TOKEN", "zerodha.access_token", Reading::AsIs),
    ("APP_MODE", "app.mode", Reading::Mode),
    ("DEBUG", "app.debug", Reading::AsIs),
    ("LOG_LEVEL", "app.log_level", Reading::AsIs),
    (
        "MAX_RISK_PER_TRADE",
        "risk.max_risk_per_trade_pct",
        Reading::Percent { lo: dec!(0.05), hi: dec!(10), example: dec!(2) },
    ),
    ("MAX_DAILY_LOSS", "risk.max_daily_loss_pct", Reading::Percent { lo: dec!(0.25), hi: dec!(50), example: dec!(6) }),
    ("MAX_DRAWDOWN", "risk.max_drawdown_pct", Reading::Percent { lo: dec!(1), hi: dec!(50), example: dec!(15) }),
    ("MAX_POSITIONS", "risk.max_open_positions", Reading::AsIs),
    ("MIN_RISK_REWARD", "risk.min_risk_reward", Reading::Ratio),
    ("MAX_POSITION_SIZE", "risk.max_position_size", Reading::AsIs),
    ("PRICE_SANITY_PCT", "risk.price_sanity_pct", Reading::Percent { lo: dec!(0.5), hi: dec!(20), example: dec!(10) }),
    (
        "MAX_POSITION_LOSS_PCT",
        "risk.max_position_loss_pct",
        Reading::Percent { lo: dec!(0.1), hi: dec!(20), example: dec!(5) },
    ),
    ("DASHBOARD_HOST", "dashboard.host", Reading::AsIs),
    ("DASHBOARD_PORT", "dashboard.port", Reading::AsIs),
    ("TELEGRAM_BOT_TOKEN", "alerts.telegram.bot_token", Reading::AsIs),
    ("TELEGRAM_CHAT_ID", "alerts.telegram.chat_id", Reading::AsIs),
    ("SMTP_HOST", "alerts.smtp.host", Reading::AsIs),
    ("SMTP_PORT", "alerts.smtp.port", Reading::AsIs),
    ("SMTP_USER", "alerts.smtp.username", Reading::AsIs),
    ("SMTP_PASSWORD", "alerts.smtp.password", Reading::AsIs),
    ("SMTP_FROM", "alerts.smtp.from", Reading::AsIs),
    ("SMTP_TO", "alerts.smtp.to", Reading::AsIs),
];

pub(crate) const ENV_PREFIX: &str = "XCOIN_";

/// The log filter (`XCOIN_LOG=xcoin=debug`), read by the logger: not a config key.
pub const LOG_FILTER_VAR: &str = "XCOIN_LOG";

/// Maps an environment variable name to a dotted key, or `None` when it is not ours.
pub fn env_key(name: &str) -> Option<String> {
    if name == LOG_FILTER_VAR || name == xcoin_model::clock::SHIFT_VAR {
        return None;
    }
    if let Some(rest) = name.strip_prefix(ENV_PREFIX) {
        let parts: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
        if parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        return Some(parts.join("."));
    }
    LEGACY_ENV.iter().find(|(var, _, _)| *var == name).map(|(_, key, _)| key.to_string())
}

/// A value as figment reads one from the environment: a number, a boolean or text.
pub(crate) fn env_value(text: &str) -> Value {
    let Ok(value) = text.parse::<Value>();
    value
}

/// A number as a value that deserialises into a [`Decimal`] exactly (no trip through f64).
pub(crate) fn decimal_value(n: Decimal) -> Value {
    Value::from(n.normalize().to_string())
}

/// A value written under an original name, read for its key: the value and,
/// when XCoin had to interpret the text, a note saying how. The error is the
/// problem in words, to follow "NAME=value (from ...)".
pub(crate) fn read_original(
    var: &str,
    key: &str,
    reading: Reading,
    text: &str,
) -> Result<(Value, Option<String>), String> {
    let t = text.trim();
    match reading {
        Reading::AsIs => Ok((env_value(text), None)),
        Reading::Mode => {
            if ["production", "development", "prod", "dev"].iter().any(|m| t.eq_ignore_ascii_case(m)) {
                return Err(format!(
                    "is the original system's APP_MODE, which meant development or production; XCoin uses \
                     APP_MODE for the trading mode, PAPER or LIVE, and will not guess one from it. Set the \
                     trading mode with app.mode (XCOIN_APP__MODE=PAPER or XCOIN_APP__MODE=LIVE) and remove \
                     APP_MODE={t}"
                ));
            }
            Ok((env_value(text), None))
        }
        Reading::Ratio => {
            let forms = format!("{var} sets {key}, the reward per 1 of risk: write it as 2 or 2:1");
            let number = |s: &str| s.trim().parse::<Decimal>().ok();
            match t.split_once(':') {
                None => number(t).map(|n| (decimal_value(n), None)).ok_or_else(|| format!("is not a number; {forms}")),
                Some((reward, risk)) => match (number(reward), number(risk)) {
                    (Some(n), Some(one)) if one == Decimal::ONE => {
                        Ok((decimal_value(n), Some(format!("{t} read as {}", n.normalize()))))
                    }
                    (Some(_), Some(_)) => {
                        Err(format!("is not read: {t} could be reward:risk or risk:reward, which differ; {forms}"))
                    }
                    _ => Err(format!("is not a ratio; {forms}")),
                },
            }
        }
        Reading::Percent { lo, hi, example } => read_percent(var, key, lo, hi, example, t),
    }
}

/// Reads a risk limit written under an original name, as a percent:
/// - with a `%` sign it is a percent (`6%` is 6 %);
/// - a plain number of 1 or more is a percent (`6` is 6 %);
/// - a plain number below 1 may be a percent (`0.75`) or a fraction (`0.06`):
///   it is read the one way whose result lies in the limit's plausible
///   `lo..=hi`; when both do it is ambiguous and when neither does it is out
///   of range, and either is refused rather than guessed.
///
/// The result still passes the percentage check every risk limit passes.
pub(crate) fn read_percent(
    var: &str,
    key: &str,
    lo: Decimal,
    hi: Decimal,
    example: Decimal,
    t: &str,
) -> Result<(Value, Option<String>), String> {
    let hundred = dec!(100);
    let fraction_zone = if lo <= hi / hundred {
        format!("below {}", lo.normalize())
    } else {
        format!("up to {}", (hi / hundred).normalize())
    };
    let forms = format!(
        "{var} sets {key} and takes a percent ({example} or {example}%) or a fraction {fraction_zone} ({} for {example} %)",
        (example / hundred).normalize()
    );
    let number =
        |s: &str| s.trim().parse::<Decimal>().map(|n| n.normalize()).map_err(|_| format!("is not a number; {forms}"));
    if let Some(percent) = t.strip_suffix('%') {
        return Ok((decimal_value(number(percent)?), None));
    }
    let n = number(t)?;
    if n >= Decimal::ONE {
        return Ok((decimal_value(n), None));
    }
    if n <= Decimal::ZERO {
        return Err(format!("is not a limit: it must be greater than 0; {forms}"));
    }
    let fraction = (n * hundred).normalize();
    let plausible = |p: Decimal| lo <= p && p <= hi;
    let range = format!("{} % to {} %", lo.normalize(), hi.normalize());
    match (plausible(n), plausible(fraction)) {
        (true, false) => Ok((decimal_value(n), Some(format!("{t} read as {n} %")))),
        (false, true) => Ok((decimal_value(fraction), Some(format!("{t} read as {fraction} %")))),
        (true, true) => Err(format!(
            "is ambiguous: it could be {n} % or, as a fraction, {fraction} %, and both are plausible ({range}); \
             write {n}% or {fraction}%. {forms}"
        )),
        (false, false) => Err(format!(
            "is out of range: neither {n} % nor, as a fraction, {fraction} % lies in the plausible {range}; \
             write the percent you mean with a % sign. {forms}"
        )),
    }
}

/// Asks a [`VarLayer`]'s metadata for the note on how a key's value was read
/// instead of the variable's name.
pub(crate) const NOTE: Profile = Profile::const_new("xcoin-reading-note");

/// A configuration layer made of `NAME=value` pairs (the environment or a
/// `.env` file), whose metadata names the exact variable behind each key.
pub(crate) struct VarLayer {
    name: String,
    source: Option<PathBuf>,
    /// (variable, key, value, note), legacy names first so `XCOIN_` spellings win.
    vars: Vec<(String, String, Value, Option<String>)>,
}

impl VarLayer {
    /// Reads the pairs that are ours. An original name whose value cannot be
    /// read is refused here even when the `XCOIN_` spelling overrides it: it
    /// would silently take effect the day the override is removed.
    pub(crate) fn new(
        name: &str,
        source: Option<PathBuf>,
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let origin = source.as_deref().map_or_else(|| "the environment".to_string(), display_path);
        let mut vars = Vec::new();
        for (var, text) in pairs {
            let Some(key) = env_key(&var) else { continue };
            let reading = LEGACY_ENV.iter().find(|(v, _, _)| *v == var).map_or(Reading::AsIs, |(_, _, r)| *r);
            let (value, note) = read_original(&var, &key, reading, &text).map_err(|problem| ConfigError::Original {
                var: var.clone(),
                value: text.clone(),
                origin: origin.clone(),
                problem,
            })?;
            vars.push((var, key, value, note));
        }
        vars.sort_by_key(|(var, _, _, _)| (var.starts_with(ENV_PREFIX), var.clone()));
        Ok(VarLayer { name: name.to_string(), source, vars })
    }
}

impl Provider for VarLayer {
    fn metadata(&self) -> Metadata {
        let mut names = BTreeMap::new();
        let mut notes = BTreeMap::new();
        // In order, so the variable that wins a key (and only its note) is kept.
        for (var, key, _, note) in &self.vars {
            names.insert(key.clone(), var.clone());
            match note {
                Some(note) => notes.insert(key.clone(), note.clone()),
                None => notes.remove(key),
            };
        }
        let mut md = Metadata::named(self.name.clone()).interpolater(move |profile: &Profile, keys: &[&str]| {
            let key = keys.join(".");
            if *profile == NOTE {
                return notes.get(&key).cloned().unwrap_or_default();
            }
            // An unknown section is reported by its name alone: name the
            // variable that made it (XCOIN_FOO__BAR for `foo`), never a key.
            let section = format!("{key}.");
            names
                .get(&key)
                .or_else(|| names.iter().find(|(k, _)| k.starts_with(&section)).map(|(_, var)| var))
                .cloned()
                .unwrap_or(key)
        });
        if let Some(path) = &self.source {
            md = md.source(figment::Source::File(path.clone()));
        }
        md
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (_, key, value, _) in &self.vars {
            let parts: Vec<&str> = key.split('.').collect();
            insert_path(&mut dict, &parts, value.clone());
        }
        Ok(Profile::Default.collect(dict))
    }
}

/// Sets `parts` (a dotted key, split) to `value` inside nested dictionaries.
pub(crate) fn insert_path(dict: &mut Dict, parts: &[&str], value: Value) {
    match parts {
        [] => {}
        [last] => {
            dict.insert(last.to_string(), value);
        }
        [first, rest @ ..] => {
            let entry = dict.entry(first.to_string()).or_insert_with(|| Value::from(Dict::new()));
            if entry.as_dict().is_none() {
                *entry = Value::from(Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}
