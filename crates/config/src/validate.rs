//! The rules on the values: each section checks its own keys; the rules that
//! join two sections (the square-off within market hours, goals against the
//! capital, LIVE's credentials) are checked by the section they are about.
//! The first value that breaks a rule is reported, with its key, where it
//! came from and what is allowed.

use std::fmt;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use xcoin_model::charges::ChargeRates;
use xcoin_model::strategy::TradingMode;

use crate::*;

type Rule = Result<(), ConfigError>;

/// Names a value that breaks a rule, with the source the configuration read
/// it from.
pub(crate) struct Check<'a>(&'a Config);

impl Check<'_> {
    fn invalid(&self, key: &str, value: impl fmt::Display, expected: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.to_string(),
            value: value.to_string(),
            origin: self.0.source_of(key),
            expected: expected.into(),
        }
    }

    /// Fails unless `ok`.
    fn require(&self, ok: bool, key: &str, value: impl fmt::Display, expected: impl Into<String>) -> Rule {
        if ok { Ok(()) } else { Err(self.invalid(key, value, expected)) }
    }

    fn percent(&self, key: &str, v: Decimal) -> Rule {
        self.require(v > Decimal::ZERO && v <= dec!(100), key, v, "a percentage greater than 0 and at most 100")
    }
}

impl Config {
    /// Every section's rules, in the order of `config/default.toml`.
    pub(crate) fn validate(&self) -> Rule {
        let c = Check(self);
        let s = &self.settings;
        s.app.validate(&c)?;
        s.database.validate(&c)?;
        s.goals.validate(&c, s.account.capital)?;
        s.zerodha.validate(&c, s.app.mode)?;
        s.account.validate(&c)?;
        s.risk.validate(&c)?;
        s.market.validate(&c, &s.risk)?;
        s.reconciliation.validate(&c)?;
        s.paper.validate(&c)?;
        charges(&c, &s.charges)?;
        s.alerts.validate(&c)?;
        s.dashboard.validate(&c)?;
        s.commands.validate(&c)
    }
}

impl AppSettings {
    fn validate(&self, c: &Check) -> Rule {
        let levels = ["trace", "debug", "info", "warn", "error"];
        c.require(
            levels.contains(&self.log_level.to_ascii_lowercase().as_str()),
            "app.log_level",
            &self.log_level,
            "one of trace, debug, info, warn, error",
        )
    }
}

impl DatabaseSettings {
    fn validate(&self, c: &Check) -> Rule {
        if let Some(url) = &self.url {
            // The database must be named: `postgres://` alone would connect to
            // whatever database the server picks and fail later, far from here.
            c.require(
                database_url_problem(url).is_none(),
                "database.url",
                redacted_url(url),
                "a PostgreSQL URL naming its database, such as postgres://user@host:5432/xcoin, or empty for the \
                 managed local database",
            )?;
        }
        if let Some(mode) = &self.sslmode {
            c.require(
                SSL_MODES.contains(&mode.as_str()),
                "database.sslmode",
                mode,
                format!("one of {}", SSL_MODES.join(", ")),
            )?;
        }
        for (key, file) in [
            ("database.ssl_root_cert", &self.ssl_root_cert),
            ("database.ssl_client_cert", &self.ssl_client_cert),
            ("database.ssl_client_key", &self.ssl_client_key),
        ] {
            if let Some(path) = file {
                c.require(std::path::Path::new(path).is_file(), key, path, "a readable PEM file")?;
            }
        }
        c.require(
            self.ssl_client_cert.is_some() == self.ssl_client_key.is_some(),
            "database.ssl_client_key",
            self.ssl_client_key.as_deref().unwrap_or("(empty)"),
            "set together with database.ssl_client_cert: a client certificate needs its key",
        )?;
        c.require(
            (1..=100).contains(&self.pool_min),
            "database.pool_min",
            self.pool_min,
            "a whole number from 1 to 100",
        )?;
        c.require(
            self.pool_max >= self.pool_min && self.pool_max <= 100,
            "database.pool_max",
            self.pool_max,
            format!("a whole number from database.pool_min ({}) to 100", self.pool_min),
        )?;
        c.require(
            (1..=300).contains(&self.connect_timeout_secs),
            "database.connect_timeout_secs",
            self.connect_timeout_secs,
            "1 to 300 seconds",
        )?;
        c.require(
            (100..=3_600_000).contains(&self.statement_timeout_ms),
            "database.statement_timeout_ms",
            self.statement_timeout_ms,
            "100 to 3600000 milliseconds",
        )
    }
}

impl GoalsSettings {
    fn validate(&self, c: &Check, capital: Decimal) -> Rule {
        let goals = std::iter::once(("goals.desk".to_string(), &self.desk))
            .chain(self.strategy.iter().map(|(name, g)| (format!("goals.strategy.\"{name}\""), g)));
        for (key, g) in goals {
            if let Err(why) = g.limits(capital) {
                let (field, what) = why.split_once(": ").unwrap_or(("", why.as_str()));
                return Err(c.invalid(&format!("{key}.{field}"), "", what.to_string()));
            }
        }
        Ok(())
    }
}

impl ZerodhaSettings {
    fn validate(&self, c: &Check, mode: TradingMode) -> Rule {
        if mode != TradingMode::Live {
            return Ok(());
        }
        for (key, value) in [("zerodha.api_key", &self.api_key), ("zerodha.api_secret", &self.api_secret)] {
            c.require(
                value.is_some(),
                key,
                "(empty)",
                "your Kite Connect credential: LIVE mode cannot trade without it",
            )?;
        }
        Ok(())
    }
}

impl AccountSettings {
    fn validate(&self, c: &Check) -> Rule {
        c.require(self.capital > Decimal::ZERO, "account.capital", self.capital, "an amount in rupees greater than 0")?;
        c.require(
            self.mis_leverage >= Decimal::ONE && self.mis_leverage <= dec!(50),
            "account.mis_leverage",
            self.mis_leverage,
            "a leverage from 1 to 50 (Zerodha's equity MIS is 5)",
        )
    }
}

impl RiskSettings {
    fn validate(&self, c: &Check) -> Rule {
        c.percent("risk.max_risk_per_trade_pct", self.max_risk_per_trade_pct)?;
        c.percent("risk.max_daily_loss_pct", self.max_daily_loss_pct)?;
        c.percent("risk.max_drawdown_pct", self.max_drawdown_pct)?;
        c.percent("risk.price_sanity_pct", self.price_sanity_pct)?;
        c.percent("risk.max_position_loss_pct", self.max_position_loss_pct)?;
        c.require(self.max_open_positions != 0, "risk.max_open_positions", 0, "at least 1")?;
        c.require(self.max_position_size != 0, "risk.max_position_size", 0, "at least 1 share")?;
        c.require(
            self.min_risk_reward >= Decimal::ZERO,
            "risk.min_risk_reward",
            self.min_risk_reward,
            "a reward:risk ratio of 0 or more (2 means reward:risk 2:1)",
        )?;
        c.require(self.max_orders_per_second != 0, "risk.max_orders_per_second", 0, "at least 1")?;
        c.require(
            (Decimal::ZERO..=dec!(10)).contains(&self.default_stop_pct),
            "risk.default_stop_pct",
            self.default_stop_pct,
            "a percent of the entry from 0 (no default stop) to 10",
        )?;
        c.require(
            self.default_target_rr == Decimal::ZERO || self.default_target_rr >= self.min_risk_reward,
            "risk.default_target_rr",
            self.default_target_rr,
            format!("0 (no default target) or at least risk.min_risk_reward ({})", self.min_risk_reward),
        )
    }
}

impl MarketSettings {
    /// With the square-off time, which must fall within these hours.
    fn validate(&self, c: &Check, risk: &RiskSettings) -> Rule {
        c.require(
            self.timezone.parse::<chrono_tz::Tz>().is_ok(),
            "market.timezone",
            &self.timezone,
            "an IANA time zone such as Asia/Kolkata",
        )?;
        c.require(
            self.pre_open <= self.open && self.open < self.close,
            "market.close",
            self.close,
            format!(
                "a time after market.open ({}), with market.pre_open ({}) not after the open",
                self.open, self.pre_open
            ),
        )?;
        c.require(
            self.open < risk.square_off_time && risk.square_off_time <= self.close,
            "risk.square_off_time",
            risk.square_off_time,
            format!("a time within market hours, after {} and not after {}", self.open, self.close),
        )?;
        c.require(
            self.tick_size > Decimal::ZERO,
            "market.tick_size",
            self.tick_size,
            "a price step greater than 0, e.g. 0.05",
        )
    }
}

impl ReconciliationSettings {
    fn validate(&self, c: &Check) -> Rule {
        c.require(self.interval_secs >= 5, "reconciliation.interval_secs", self.interval_secs, "at least 5 seconds")?;
        c.require(
            self.price_tolerance_pct >= Decimal::ZERO,
            "reconciliation.price_tolerance_pct",
            self.price_tolerance_pct,
            "a percentage of 0 or more",
        )
    }
}

impl PaperSettings {
    fn validate(&self, c: &Check) -> Rule {
        c.require(
            (10..=60_000).contains(&self.tick_interval_ms),
            "paper.tick_interval_ms",
            self.tick_interval_ms,
            "10 to 60000 milliseconds",
        )?;
        c.require(self.liquidity_per_tick >= 1, "paper.liquidity_per_tick", self.liquidity_per_tick, "at least 1 share")
    }
}

/// Every rate 0 or more, and a percentage at most 100. (The rates are the
/// model's type, so this is a function, not a method.)
fn charges(c: &Check, rates: &ChargeRates) -> Rule {
    let values = serde_json::to_value(rates).expect("rates serialise");
    for (name, value) in values.as_object().expect("rates are a table") {
        let rate: Decimal = value.as_str().and_then(|v| v.parse().ok()).unwrap_or(Decimal::NEGATIVE_ONE);
        c.require(
            rate >= Decimal::ZERO && !(name.ends_with("_pct") && rate > dec!(100)),
            &format!("charges.{name}"),
            rate,
            "a rate of 0 or more (percentages at most 100)",
        )?;
    }
    Ok(())
}

impl AlertSettings {
    fn validate(&self, c: &Check) -> Rule {
        let tg = &self.telegram;
        if tg.bot_token.is_some() != tg.chat_id.is_some() {
            let missing = if tg.bot_token.is_none() { "alerts.telegram.bot_token" } else { "alerts.telegram.chat_id" };
            return Err(c.invalid(missing, "(empty)", "set when the other Telegram setting is set (both or neither)"));
        }
        if self.smtp.host.is_none() {
            return Ok(());
        }
        for (key, value) in [("alerts.smtp.from", &self.smtp.from), ("alerts.smtp.to", &self.smtp.to)] {
            match value {
                Some(address) => c.require(address.contains('@'), key, address, "an e-mail address")?,
                None => return Err(c.invalid(key, "(empty)", "an e-mail address when alerts.smtp.host is set")),
            }
        }
        Ok(())
    }
}

impl DashboardSettings {
    /// The port is checked as it is read (see `port`).
    fn validate(&self, c: &Check) -> Rule {
        let host = &self.host;
        let shown = if host.is_empty() { "(empty)" } else { host.as_str() };
        c.require(
            !(host.trim().is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/')),
            "dashboard.host",
            shown,
            "a host name or IP address to listen on, such as 127.0.0.1, without a scheme or path",
        )?;
        let rate = self.signals_per_minute;
        c.require(
            (1..=600).contains(&rate),
            "dashboard.signals_per_minute",
            rate,
            "1 to 600 signals a minute per strategy",
        )?;
        if !self.enabled || self.is_loopback() {
            return Ok(());
        }
        c.require(
            self.token.is_some(),
            "dashboard.token",
            "(empty)",
            format!("a bearer token: the dashboard listens on {host}, beyond this machine"),
        )?;
        // Beyond this machine a token is all that guards the desk: long enough
        // not to be guessed (its characters are never shown).
        let token_chars = self.token.as_ref().map_or(0, |t| t.expose().chars().count());
        c.require(
            token_chars >= MIN_TOKEN_CHARS,
            "dashboard.token",
            format!("({token_chars} characters)"),
            format!(
                "at least {MIN_TOKEN_CHARS} characters beyond this machine (the dashboard listens on {host}); \
                 `openssl rand -hex 32` makes one"
            ),
        )
    }
}

impl CommandSettings {
    fn validate(&self, c: &Check) -> Rule {
        let ttl = self.order_ttl_secs;
        c.require((1..=3600).contains(&ttl), "commands.order_ttl_secs", ttl, "1 to 3600 seconds")?;
        let most = self.max_pending_per_login;
        c.require((1..=100_000).contains(&most), "commands.max_pending_per_login", most, "1 to 100000 commands")
    }
}
