//! The settings, section by section, with their defaults, and what the
//! desk derives from them (risk limits, the calendar, its directories).

use std::path::PathBuf;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use xcoin_model::calendar::MarketCalendar;
use xcoin_model::charges::ChargeRates;
use xcoin_model::strategy::TradingMode;

use crate::*;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppSettings {
    /// PAPER (simulated exchange) or LIVE (real orders through Kite Connect).
    pub mode: TradingMode,
    pub debug: bool,
    /// trace, debug, info, warn or error.
    pub log_level: String,
    /// Where XCoin keeps its managed database and logs; empty for the default.
    #[serde(deserialize_with = "optional_text")]
    pub data_dir: Option<String>,
    /// Run the demo strategy on simulated market data (PAPER only).
    pub demo: bool,
    /// Name recorded on operator commands and resolutions; empty for the login name.
    #[serde(deserialize_with = "optional_text")]
    pub operator: Option<String>,
}

impl Default for AppSettings {
    fn default() -> Self {
        AppSettings {
            mode: TradingMode::Paper,
            debug: false,
            log_level: "info".into(),
            data_dir: None,
            demo: false,
            operator: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// A postgres:// URL; empty to let XCoin run its own local PostgreSQL.
    #[serde(deserialize_with = "optional_text", serialize_with = "redact_url_password")]
    pub url: Option<String>,
    pub pool_min: u32,
    pub pool_max: u32,
    pub connect_timeout_secs: u64,
    pub statement_timeout_ms: u64,
    /// TLS to the server: disable, prefer, require, verify-ca or verify-full
    /// (empty: the URL's `sslmode`, else prefer). Set here, it wins over the URL.
    #[serde(deserialize_with = "optional_text")]
    pub sslmode: Option<String>,
    /// A PEM file of the certificate authority that signed the server's
    /// certificate (verify-ca, verify-full); empty: the public web roots.
    #[serde(deserialize_with = "optional_text")]
    pub ssl_root_cert: Option<String>,
    /// A client certificate and its key (PEM), for servers that ask for one.
    #[serde(deserialize_with = "optional_text")]
    pub ssl_client_cert: Option<String>,
    #[serde(deserialize_with = "optional_text")]
    pub ssl_client_key: Option<String>,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: None,
            pool_min: 5,
            pool_max: 20,
            connect_timeout_secs: 5,
            statement_timeout_ms: 30_000,
            sslmode: None,
            ssl_root_cert: None,
            ssl_client_cert: None,
            ssl_client_key: None,
        }
    }
}

/// The TLS modes of `database.sslmode`, as libpq names them.
pub const SSL_MODES: [&str; 5] = ["disable", "prefer", "require", "verify-ca", "verify-full"];

/// A database URL with its password replaced by `[REDACTED]`.
/// What keeps a database URL from being used, in words, found before
/// anything tries it; `None` for a PostgreSQL URL (postgres:// or
/// postgresql://) that names its database, with a port, if any, from 1 to
/// 65535. The words follow the URL: "`localhost/xcoin` has no scheme; …".
pub fn database_url_problem(url: &str) -> Option<String> {
    const EXPECTED: &str = "expected postgres://user@host:port/database (postgresql:// also works)";
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return Some(format!("has no scheme; {EXPECTED}"));
    };
    if !matches!(scheme.to_ascii_lowercase().as_str(), "postgres" | "postgresql") {
        return Some(format!("starts with {scheme}://, not postgres://; {EXPECTED}"));
    }
    let bad_port = |port: &str| Some(format!("has port {port}; a port is a whole number from 1 to 65535"));
    match url::Url::parse(url) {
        Ok(u) if u.port() == Some(0) => bad_port("0"),
        Ok(u) if u.path().trim_matches('/').is_empty() => Some(format!("names no database; {EXPECTED}")),
        Ok(_) => None,
        Err(url::ParseError::InvalidPort) => {
            // The host comes after the last `@` (a password may hold `/`),
            // the port after the host's last colon (past an IPv6 `]`).
            let after_user = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            let host = &after_user[..after_user.find(['/', '?', '#']).unwrap_or(after_user.len())];
            let port = host.rsplit_once(']').map_or(host, |(_, p)| p).rsplit_once(':').map_or("", |(_, p)| p);
            match port.parse::<u16>() {
                // The port is fine: the parser stumbled on the user or password.
                Ok(p) if p > 0 => Some(format!(
                    "has a user or password with / ? # or @ in it; write those percent-encoded (%2F %3F %23 %40); {EXPECTED}"
                )),
                _ => bad_port(port),
            }
        }
        Err(e) => Some(format!("is not a URL ({e}); {EXPECTED}")),
    }
}

pub fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some(REDACTED));
            u.to_string().replace("%5BREDACTED%5D", REDACTED)
        }
        Ok(_) => url.to_string(),
        // A URL the parser refuses (a port past 65535, say) may still hold a
        // password: hide whatever follows the user name up to the host.
        Err(_) => {
            let Some(start) = url.find("://").map(|i| i + 3) else { return url.to_string() };
            // The user part ends at the last `@`: a password may hold `/`, `?` or `#`.
            let Some(at) = url[start..].rfind('@').map(|i| start + i) else { return url.to_string() };
            match url[start..at].find(':').map(|i| start + i) {
                Some(colon) => format!("{}{REDACTED}{}", &url[..=colon], &url[at..]),
                None => url.to_string(),
            }
        }
    }
}

pub(crate) fn redact_url_password<S: Serializer>(url: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match url {
        Some(u) => s.serialize_str(&redacted_url(u)),
        None => s.serialize_str(""),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZerodhaSettings {
    #[serde(deserialize_with = "optional_secret")]
    pub api_key: Option<Secret>,
    #[serde(deserialize_with = "optional_secret")]
    pub api_secret: Option<Secret>,
    #[serde(deserialize_with = "optional_secret")]
    pub access_token: Option<Secret>,
    /// Kite Connect's REST address (a local stand-in in tests).
    pub api_url: String,
    /// Kite's WebSocket streaming address.
    pub ws_url: String,
}

impl Default for ZerodhaSettings {
    fn default() -> Self {
        ZerodhaSettings {
            api_key: None,
            api_secret: None,
            access_token: None,
            api_url: "https://api.kite.trade".into(),
            ws_url: "wss://ws.kite.trade".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountSettings {
    /// Trading capital in rupees; the risk percentages are of this.
    pub capital: Decimal,
    /// Intraday (MIS) leverage for margins: the paper exchange blocks the
    /// value over this, and the forms estimate an order's margin with it in
    /// LIVE too (Kite's own figure is per stock). Delivery (CNC) is at 1×.
    pub mis_leverage: Decimal,
}

impl Default for AccountSettings {
    fn default() -> Self {
        AccountSettings { capital: dec!(100000), mis_leverage: Decimal::from(xcoin_model::funds::DEFAULT_MIS_LEVERAGE) }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskSettings {
    pub max_risk_per_trade_pct: Decimal,
    pub max_daily_loss_pct: Decimal,
    pub max_drawdown_pct: Decimal,
    pub max_open_positions: u32,
    pub min_risk_reward: Decimal,
    pub max_position_size: u32,
    pub price_sanity_pct: Decimal,
    pub max_position_loss_pct: Decimal,
    pub max_orders_per_second: u32,
    /// When MIS positions are squared off, before the broker's own auto square-off.
    pub square_off_time: ClockTime,
    /// Whether activating the kill switch also exits open positions.
    pub exit_positions_on_kill: bool,
    /// The stop the order forms propose, in percent of the entry (0: none).
    pub default_stop_pct: Decimal,
    /// The target the order forms propose, as reward:risk to that stop (0: none).
    pub default_target_rr: Decimal,
    /// A position's stop loss rests at the broker as an SL-M order for the
    /// whole position, so it holds while no engine runs.
    pub stop_at_exchange: bool,
}

impl Default for RiskSettings {
    fn default() -> Self {
        RiskSettings {
            max_risk_per_trade_pct: dec!(2),
            max_daily_loss_pct: dec!(6),
            max_drawdown_pct: dec!(15),
            max_open_positions: 5,
            min_risk_reward: dec!(2),
            max_position_size: 1000,
            price_sanity_pct: dec!(10),
            max_position_loss_pct: dec!(5),
            max_orders_per_second: 10,
            square_off_time: ClockTime::hm(15, 15),
            exit_positions_on_kill: true,
            default_stop_pct: dec!(0.5),
            default_target_rr: dec!(2.5),
            stop_at_exchange: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketSettings {
    /// IANA time zone of the exchange; "today" is the date there.
    pub timezone: String,
    pub pre_open: ClockTime,
    pub open: ClockTime,
    pub close: ClockTime,
    /// The tick of an instrument without one of its own (each instrument's
    /// comes from the instrument list).
    pub tick_size: Decimal,
    /// Holidays besides the exchange's own in `assets/holidays.csv`, "YYYY-MM-DD".
    pub holidays: Vec<chrono::NaiveDate>,
}

impl Default for MarketSettings {
    fn default() -> Self {
        MarketSettings {
            timezone: "Asia/Kolkata".into(),
            pre_open: ClockTime::hm(9, 0),
            open: ClockTime::hm(9, 15),
            close: ClockTime::hm(15, 30),
            tick_size: dec!(0.05),
            holidays: Vec::new(),
        }
    }
}

/// The simulated exchange used in PAPER mode.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaperSettings {
    /// Seed of the price random walk: the same seed gives the same prices.
    pub seed: u64,
    /// Milliseconds between simulated ticks.
    pub tick_interval_ms: u64,
    /// Ticks a market order pays against itself.
    pub slippage_ticks: u32,
    /// Most shares one order fills per tick.
    pub liquidity_per_tick: i64,
    /// A CSV of ticks (symbol,exchange,price) to replay instead of the random walk.
    #[serde(deserialize_with = "optional_text")]
    pub replay_file: Option<String>,
}

impl Default for PaperSettings {
    fn default() -> Self {
        PaperSettings { seed: 1, tick_interval_ms: 250, slippage_ticks: 1, liquidity_per_tick: 500, replay_file: None }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReconciliationSettings {
    pub interval_secs: u64,
    /// How far apart, in percent, local and broker average prices may be.
    pub price_tolerance_pct: Decimal,
}

impl Default for ReconciliationSettings {
    fn default() -> Self {
        ReconciliationSettings { interval_secs: 30, price_tolerance_pct: dec!(0.1) }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelegramSettings {
    #[serde(deserialize_with = "optional_secret")]
    pub bot_token: Option<Secret>,
    #[serde(deserialize_with = "optional_text")]
    pub chat_id: Option<String>,
    /// The Bot API's address (a local stand-in in tests).
    pub api_url: String,
}

impl Default for TelegramSettings {
    fn default() -> Self {
        TelegramSettings { bot_token: None, chat_id: None, api_url: "https://api.telegram.org".into() }
    }
}

/// How the mail connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on this machine (localhost).
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    #[serde(deserialize_with = "optional_text")]
    pub host: Option<String>,
    #[serde(deserialize_with = "port")]
    pub port: u16,
    #[serde(deserialize_with = "optional_text")]
    pub username: Option<String>,
    #[serde(deserialize_with = "optional_secret")]
    pub password: Option<Secret>,
    #[serde(deserialize_with = "optional_text")]
    pub from: Option<String>,
    #[serde(deserialize_with = "optional_text")]
    pub to: Option<String>,
    pub tls: SmtpTls,
    /// A PEM file of a certificate authority to trust besides the public
    /// ones (a relay with a private certificate).
    #[serde(deserialize_with = "optional_text")]
    pub ca_file: Option<String>,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        SmtpSettings {
            host: None,
            port: 587,
            username: None,
            password: None,
            from: None,
            to: None,
            tls: SmtpTls::Starttls,
            ca_file: None,
        }
    }
}

/// The desk's health and metrics endpoint (the original system's dashboard:
/// `DASHBOARD_HOST`, `DASHBOARD_PORT`), served by the engine when enabled.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardSettings {
    /// Serve the read-only HTTP endpoint from the engine.
    pub enabled: bool,
    /// Host name or IP address to listen on; 127.0.0.1 keeps it on this machine.
    pub host: String,
    #[serde(deserialize_with = "port")]
    pub port: u16,
    /// A bearer token every request must carry; required to listen anywhere
    /// but the loopback address.
    #[serde(deserialize_with = "optional_secret")]
    pub token: Option<Secret>,
    /// Webhook signals (`POST /api/signal`) one strategy may send a minute.
    pub signals_per_minute: u32,
}

impl Default for DashboardSettings {
    fn default() -> Self {
        DashboardSettings { enabled: false, host: "127.0.0.1".into(), port: 8050, token: None, signals_per_minute: 30 }
    }
}

impl DashboardSettings {
    /// Whether the address stays on this machine.
    pub fn is_loopback(&self) -> bool {
        matches!(self.host.as_str(), "127.0.0.1" | "localhost" | "::1")
            || self.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

/// A TCP port. Read wide so that 0 or 70000 is refused in words, not as "expected u16".
pub(crate) fn port<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    let n = i64::deserialize(d)?;
    u16::try_from(n).ok().filter(|p| *p > 0).ok_or_else(|| {
        serde::de::Error::custom(format!("`{n}` is not a port; expected a whole number from 1 to 65535"))
    })
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    pub telegram: TelegramSettings,
    pub smtp: SmtpSettings,
}

/// The operator command queue (`[commands]`), applied by the database to
/// every sender (the engine writes it there at start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommandSettings {
    /// Seconds a placement or modification may wait for an engine when its
    /// sender names no deadline (the console, the webhook); past it nothing
    /// is sent and the command ends EXPIRED. Cancels, exits and the kill
    /// switch never expire.
    pub order_ttl_secs: u32,
    /// Commands one login may have waiting at once; the database refuses more.
    pub max_pending_per_login: u32,
}

impl Default for CommandSettings {
    fn default() -> Self {
        CommandSettings { order_ttl_secs: 30, max_pending_per_login: 50 }
    }
}

/// The shortest bearer token accepted for a dashboard beyond this machine.
pub const MIN_TOKEN_CHARS: usize = 32;

/// The engine's own behaviour (`[engine]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSettings {
    /// A graceful stop (Ctrl-C, SIGTERM, quitting the console that runs it)
    /// cancels the working orders first, so none stays live unwatched.
    pub cancel_orders_on_stop: bool,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings { cancel_orders_on_stop: true }
    }
}

/// Every setting, typed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub app: AppSettings,
    pub database: DatabaseSettings,
    pub zerodha: ZerodhaSettings,
    pub account: AccountSettings,
    pub risk: RiskSettings,
    pub market: MarketSettings,
    pub reconciliation: ReconciliationSettings,
    pub paper: PaperSettings,
    pub charges: ChargeRates,
    pub alerts: AlertSettings,
    pub dashboard: DashboardSettings,
    pub commands: CommandSettings,
    pub engine: EngineSettings,
    pub goals: GoalsSettings,
}

/// One scope's daily goals as written: each empty or 0 when not set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GoalSettings {
    /// The day's net P&L that ends it: rupees (`5000`) or a share of the
    /// capital (`2%`).
    #[serde(deserialize_with = "optional_text")]
    pub profit_target: Option<String>,
    pub max_trades: u32,
    pub max_losing_streak: u32,
    /// Percent of the day's peak net P&L that may be given back.
    pub give_back_pct: Decimal,
    /// notify, pause or exit_pause.
    pub action: xcoin_model::goals::GoalAction,
}

/// The desk's goals and each strategy's (by its name).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GoalsSettings {
    pub desk: GoalSettings,
    pub strategy: std::collections::BTreeMap<String, GoalSettings>,
}

impl GoalSettings {
    /// The goals in rupees and counts, or what is wrong with a value.
    pub fn limits(&self, capital: Decimal) -> Result<xcoin_model::goals::GoalLimits, String> {
        let profit_target = match self.profit_target.as_deref().map(str::trim) {
            None => None,
            Some(t) => {
                let (number, share) = match t.strip_suffix('%') {
                    Some(n) => (n.trim(), true),
                    None => (t, false),
                };
                let v: Decimal = number.parse().map_err(|_| {
                    format!("profit_target: `{t}` must be rupees (5000) or a share of the capital (2%)")
                })?;
                if v <= Decimal::ZERO || (share && v > Decimal::ONE_HUNDRED) {
                    return Err(format!("profit_target: `{t}` must be above 0 (a share at most 100%)"));
                }
                Some(if share { capital * v / Decimal::ONE_HUNDRED } else { v })
            }
        };
        if self.give_back_pct < Decimal::ZERO || self.give_back_pct > Decimal::ONE_HUNDRED {
            return Err(format!("give_back_pct: `{}` must be a percent from 0 (off) to 100", self.give_back_pct));
        }
        let count = |n: u32| (n > 0).then_some(i64::from(n));
        Ok(xcoin_model::goals::GoalLimits {
            profit_target,
            max_trades: count(self.max_trades),
            max_losing_streak: count(self.max_losing_streak),
            give_back_pct: (self.give_back_pct > Decimal::ZERO).then_some(self.give_back_pct),
            action: self.action,
        })
    }
}

impl Settings {
    /// The pre-trade risk limits this configuration sets: the same for the
    /// engine's validator and the console's forms.
    pub fn risk_limits(&self) -> xcoin_model::risk::RiskLimits {
        use xcoin_model::risk::RiskLimits;
        let s = self;
        let r = &s.risk;
        RiskLimits {
            capital: s.account.capital,
            max_risk_per_trade_pct: r.max_risk_per_trade_pct,
            max_daily_loss_pct: r.max_daily_loss_pct,
            max_drawdown_pct: r.max_drawdown_pct,
            max_open_positions: r.max_open_positions,
            min_risk_reward: r.min_risk_reward,
            max_position_size: r.max_position_size,
            price_sanity_pct: r.price_sanity_pct,
            max_orders_per_second: r.max_orders_per_second,
            ticks: xcoin_model::instrument::Ticks::new(&xcoin_model::instrument::built_in(), s.market.tick_size),
            // Paper trading is for practice at any hour; LIVE follows the exchange.
            enforce_market_hours: s.app.mode == TradingMode::Live,
            mis_leverage: s.account.mis_leverage,
            default_stop_pct: r.default_stop_pct,
            default_target_rr: r.default_target_rr,
            stop_at_exchange: r.stop_at_exchange,
        }
    }

    /// The market calendar these settings describe.
    pub fn calendar(&self) -> MarketCalendar {
        MarketCalendar {
            timezone: self.market.timezone.parse().unwrap_or(chrono_tz::Asia::Kolkata),
            pre_open: self.market.pre_open.0,
            open: self.market.open.0,
            close: self.market.close.0,
            // The exchange's own (assets/holidays.csv) and any configured.
            holidays: xcoin_model::calendar::exchange_holidays()
                .into_iter()
                .chain(self.market.holidays.iter().copied())
                .collect(),
        }
    }

    /// The data directory: configured, else `/var/lib/xcoin` for root (so the
    /// `postgres` user can reach the managed cluster), else `$XDG_DATA_HOME/xcoin`.
    pub fn data_dir(&self) -> PathBuf {
        match &self.app.data_dir {
            Some(dir) => PathBuf::from(dir),
            None if running_as_root() => PathBuf::from("/var/lib/xcoin"),
            None => xdg_dir("XDG_DATA_HOME", ".local/share").join("xcoin"),
        }
    }

    pub fn log_dir(&self) -> PathBuf {
        self.data_dir().join("logs")
    }

    /// Creates the data and log directories, private to XCoin's user (0700)
    /// however they were left. As root on the managed cluster, whose server
    /// runs as `postgres`, that group may pass through the data directory
    /// (0710) to reach the cluster inside it.
    pub fn ensure_dirs(&self) -> std::io::Result<()> {
        let data = self.data_dir();
        let server_group = (running_as_root() && self.database.url.is_none())
            .then(|| crate::files::primary_group("postgres"))
            .flatten();
        match server_group {
            Some(gid) => crate::files::private_dir_passable_by(&data, gid)?,
            None => crate::files::private_dir(&data)?,
        }
        crate::files::private_dir(&self.log_dir())
    }

    /// The operator name recorded on commands: configured, else the login name.
    pub fn operator_name(&self) -> String {
        self.app
            .operator
            .clone()
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| "operator".into())
    }
}
