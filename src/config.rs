//! Configuration: typed settings from layered sources, validated at start.
//!
//! Layers, later wins:
//! 1. built-in defaults ([`Settings::default`]);
//! 2. `config/default.toml` of the checkout (every key, commented);
//! 3. the local file the wizard writes: `config/local.toml` in a checkout, else
//!    `$XDG_CONFIG_HOME/xcoin/config.toml`; `--config PATH` names another;
//! 4. `.env` in the checkout (or the working directory);
//! 5. the process environment.
//!
//! Environment variables (and `.env` lines) are `XCOIN_<SECTION>__<KEY>`, for
//! example `XCOIN_RISK__MAX_DAILY_LOSS_PCT=4`; there a percent is a plain
//! number (`0.05` is 0.05 %). The original system's names work too, from the
//! environment and from `.env` (`LEGACY_ENV` maps each to its key):
//! `DATABASE_URL`, `DB_MIN_CONNECTIONS`, `DB_MAX_CONNECTIONS`,
//! `ZERODHA_API_KEY`, `ZERODHA_API_SECRET`, `ZERODHA_ACCESS_TOKEN`, `APP_MODE`,
//! `DEBUG`, `LOG_LEVEL`, `MAX_RISK_PER_TRADE`, `MAX_DAILY_LOSS`,
//! `MAX_DRAWDOWN`, `MAX_POSITIONS`, `MIN_RISK_REWARD`, `MAX_POSITION_SIZE`,
//! `PRICE_SANITY_PCT`, `MAX_POSITION_LOSS_PCT`, `DASHBOARD_HOST`,
//! `DASHBOARD_PORT`, `TELEGRAM_BOT_TOKEN`, `TELEGRAM_CHAT_ID`, `SMTP_HOST`,
//! `SMTP_PORT`, `SMTP_USER`, `SMTP_PASSWORD`, `SMTP_FROM`, `SMTP_TO`.
//! Where the original meaning differs, the value is interpreted or refused,
//! never guessed:
//! - the risk-limit percents may be written `6`, `6%` or, where no percent
//!   below 1 is plausible for that limit, as a fraction `0.06` (see
//!   `read_percent`; `xcoin config` shows how such a value was read);
//! - `MIN_RISK_REWARD` is `2` or `2:1`;
//! - `APP_MODE` meant development or production there and PAPER or LIVE
//!   here: `production` and `development` are refused, never read as LIVE.
//!
//! An original name with a value that cannot be read is refused even when the
//! `XCOIN_` spelling is set too; otherwise the `XCOIN_` spelling wins.
//!
//! Secrets print as `[REDACTED]`. A local file or `.env` that holds a secret
//! must not be readable by group or others.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveTime;
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::calendar::MarketCalendar;
use crate::domain::charges::ChargeRates;
use crate::domain::strategy::TradingMode;

/// A secret value: prints and serialises as `[REDACTED]`.
#[derive(Clone)]
pub struct Secret(SecretString);

pub const REDACTED: &str = "[REDACTED]";

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::from(value.into()))
    }
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

/// Text that may arrive as a number from the environment (`TELEGRAM_CHAT_ID=42`).
#[derive(Deserialize)]
#[serde(untagged)]
enum TextLike {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// Optional text: absent or blank means "not set".
fn optional_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let raw = Option::<TextLike>::deserialize(d)?.map(|t| match t {
        TextLike::Text(s) => s,
        TextLike::Int(i) => i.to_string(),
        TextLike::Float(f) => f.to_string(),
        TextLike::Bool(b) => b.to_string(),
    });
    Ok(raw.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
}

/// An empty secret is no secret: `api_key = ""` means "not set".
fn optional_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    Ok(optional_text(d)?.map(Secret::new))
}

/// A wall-clock time written "HH:MM".
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime(pub NaiveTime);

impl ClockTime {
    pub fn hm(h: u32, m: u32) -> Self {
        ClockTime(NaiveTime::from_hms_opt(h, m, 0).expect("valid time"))
    }
}

impl fmt::Debug for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%H:%M"))
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        NaiveTime::parse_from_str(text.trim(), "%H:%M")
            .map(ClockTime)
            .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a time; write it as HH:MM, e.g. 15:15")))
    }
}

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

fn redact_url_password<S: Serializer>(url: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
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
        AccountSettings {
            capital: dec!(100000),
            mis_leverage: Decimal::from(crate::domain::funds::DEFAULT_MIS_LEVERAGE),
        }
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
fn port<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
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
    pub action: crate::domain::goals::GoalAction,
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
    pub fn limits(&self, capital: Decimal) -> Result<crate::domain::goals::GoalLimits, String> {
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
        Ok(crate::domain::goals::GoalLimits {
            profit_target,
            max_trades: count(self.max_trades),
            max_losing_streak: count(self.max_losing_streak),
            give_back_pct: (self.give_back_pct > Decimal::ZERO).then_some(self.give_back_pct),
            action: self.action,
        })
    }
}

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
enum Reading {
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
const LEGACY_ENV: &[(&str, &str, Reading)] = &[
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

const ENV_PREFIX: &str = "XCOIN_";

/// The log filter (`XCOIN_LOG=xcoin=debug`), read by the logger: not a config key.
pub const LOG_FILTER_VAR: &str = "XCOIN_LOG";

/// Maps an environment variable name to a dotted key, or `None` when it is not ours.
pub fn env_key(name: &str) -> Option<String> {
    if name == LOG_FILTER_VAR || name == crate::domain::clock::SHIFT_VAR {
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
fn env_value(text: &str) -> Value {
    let Ok(value) = text.parse::<Value>();
    value
}

/// A number as a value that deserialises into a [`Decimal`] exactly (no trip through f64).
fn decimal_value(n: Decimal) -> Value {
    Value::from(n.normalize().to_string())
}

/// A value written under an original name, read for its key: the value and,
/// when XCoin had to interpret the text, a note saying how. The error is the
/// problem in words, to follow "NAME=value (from ...)".
fn read_original(var: &str, key: &str, reading: Reading, text: &str) -> Result<(Value, Option<String>), String> {
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
fn read_percent(
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
const NOTE: Profile = Profile::const_new("xcoin-reading-note");

/// A configuration layer made of `NAME=value` pairs (the environment or a
/// `.env` file), whose metadata names the exact variable behind each key.
struct VarLayer {
    name: String,
    source: Option<PathBuf>,
    /// (variable, key, value, note), legacy names first so `XCOIN_` spellings win.
    vars: Vec<(String, String, Value, Option<String>)>,
}

impl VarLayer {
    /// Reads the pairs that are ours. An original name whose value cannot be
    /// read is refused here even when the `XCOIN_` spelling overrides it: it
    /// would silently take effect the day the override is removed.
    fn new(
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
fn insert_path(dict: &mut Dict, parts: &[&str], value: Value) {
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

/// Where the configuration files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigPaths {
    /// The checkout XCoin runs from, if any (holds `config/default.toml`).
    pub checkout: Option<PathBuf>,
    /// The wizard's file: `config/local.toml`, the XDG file, or `--config`.
    pub local_file: PathBuf,
    pub dotenv: PathBuf,
}

impl ConfigPaths {
    /// Finds the checkout from the working directory upwards, and the files around it.
    pub fn discover(explicit_config: Option<PathBuf>) -> Self {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let checkout = cwd
            .ancestors()
            .find(|dir| dir.join("config/default.toml").is_file() && dir.join("Cargo.toml").is_file())
            .map(Path::to_path_buf);
        Self::for_checkout(checkout, explicit_config, &cwd)
    }

    pub fn for_checkout(checkout: Option<PathBuf>, explicit_config: Option<PathBuf>, cwd: &Path) -> Self {
        let local_file = explicit_config.unwrap_or_else(|| match &checkout {
            Some(root) => root.join("config/local.toml"),
            None => xdg_dir("XDG_CONFIG_HOME", ".config").join("xcoin/config.toml"),
        });
        let dotenv = checkout.as_deref().unwrap_or(cwd).join(".env");
        ConfigPaths { checkout, local_file, dotenv }
    }

    pub fn default_file(&self) -> Option<PathBuf> {
        self.checkout.as_ref().map(|root| root.join("config/default.toml"))
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"))
}

fn xdg_dir(var: &str, fallback: &str) -> PathBuf {
    std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| home().join(fallback))
}

/// Whether this process runs as root (the managed database then runs as `postgres`).
pub fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the effective user.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A configuration that could not be loaded, in words that say what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Parse(String),
    #[error("config key `{key}` = {value} (from {origin}) is invalid: expected {expected}")]
    Invalid { key: String, value: String, origin: String, expected: String },
    #[error(
        "{path} holds secrets but is readable by other users (mode {mode:o}); run `chmod 600 {path}`",
        path = .path.display()
    )]
    InsecureFile { path: PathBuf, mode: u32 },
    #[error("cannot read {path}: {message}", path = .path.display())]
    Unreadable { path: PathBuf, message: String },
    /// A value under one of the original system's names that XCoin will not guess at.
    #[error("{var}={value} (from {origin}) {problem}")]
    Original { var: String, value: String, origin: String, problem: String },
}

/// The loaded configuration, with where every value came from.
#[derive(Debug)]
pub struct Config {
    pub settings: Settings,
    pub paths: ConfigPaths,
    figment: Figment,
}

impl Config {
    /// Loads every layer from the real files and the process environment.
    pub fn load(paths: ConfigPaths) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> =
            std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect();
        Self::load_with_env(paths, env)
    }

    /// Loads with an explicit environment (tests, and the wizard's preview).
    pub fn load_with_env(
        paths: ConfigPaths,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(default_file) = paths.default_file() {
            figment = figment.merge(Toml::file_exact(default_file));
        }
        if paths.local_file.exists() {
            // Read it once up front so an unreadable file is named as such.
            std::fs::read_to_string(&paths.local_file)
                .map_err(|e| ConfigError::Unreadable { path: paths.local_file.clone(), message: e.to_string() })?;
            check_secret_file(&paths.local_file, toml_has_secret)?;
            figment = figment.merge(Toml::file_exact(&paths.local_file));
        }
        if paths.dotenv.exists() {
            let pairs = read_dotenv(&paths.dotenv)?;
            check_secret_file(&paths.dotenv, |_| {
                pairs
                    .iter()
                    .any(|(k, v)| !v.is_empty() && env_key(k).is_some_and(|key| SECRET_KEYS.contains(&key.as_str())))
            })?;
            figment = figment.merge(VarLayer::new(".env file", Some(paths.dotenv.clone()), pairs)?);
        }
        figment = figment.merge(VarLayer::new("environment variable", None, env)?);

        let settings: Settings = figment.extract().map_err(|e| ConfigError::Parse(describe_figment_error(e)))?;
        let config = Config { settings, paths, figment };
        config.validate()?;
        Ok(config)
    }

    /// A configuration made in code (the wizard's choices before they are
    /// written): every value reports itself as a built-in default.
    pub fn with_settings(settings: Settings, paths: ConfigPaths) -> Config {
        Config { settings, paths, figment: Figment::new() }
    }

    /// Whether XCoin has been configured at all: a local file, or a database
    /// URL in the environment. Without either the console opens the wizard.
    pub fn is_configured(&self) -> bool {
        let url_in_env = ["DATABASE_URL", "XCOIN_DATABASE__URL"]
            .iter()
            .any(|v| std::env::var(v).is_ok_and(|u| !u.trim().is_empty()));
        self.paths.local_file.exists() || url_in_env
    }

    /// Where a key's effective value came from, e.g. "config/local.toml" or
    /// "environment variable XCOIN_RISK__CAPITAL".
    pub fn source_of(&self, key: &str) -> String {
        describe_source(&self.figment, key)
    }

    /// Every key with its effective value (secrets redacted) and its source.
    pub fn entries(&self) -> Vec<(String, String, String)> {
        let value = serde_json::to_value(&self.settings).expect("settings serialise");
        let mut flat = Vec::new();
        flatten("", &value, &mut flat);
        flat.into_iter()
            .map(|(key, value)| {
                let source = self.source_of(&key);
                (key, value, source)
            })
            .collect()
    }

    fn invalid(&self, key: &str, value: impl fmt::Display, expected: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.to_string(),
            value: value.to_string(),
            origin: self.source_of(key),
            expected: expected.into(),
        }
    }

    /// Every rule on the values, one after another. Long by design: it is the
    /// table of what each key allows, read top to bottom, and splitting it
    /// would scatter that table.
    fn validate(&self) -> Result<(), ConfigError> {
        let s = &self.settings;
        let hundred = dec!(100);
        let pct = |key: &str, v: Decimal| -> Result<(), ConfigError> {
            if v > Decimal::ZERO && v <= hundred {
                Ok(())
            } else {
                Err(self.invalid(key, v, "a percentage greater than 0 and at most 100"))
            }
        };

        if !["trace", "debug", "info", "warn", "error"].contains(&s.app.log_level.to_ascii_lowercase().as_str()) {
            return Err(self.invalid("app.log_level", &s.app.log_level, "one of trace, debug, info, warn, error"));
        }

        if let Some(url) = &s.database.url {
            // The database must be named: `postgres://` alone would connect to
            // whatever database the server picks and fail later, far from here.
            if database_url_problem(url).is_some() {
                return Err(self.invalid(
                    "database.url",
                    redacted_url(url),
                    "a PostgreSQL URL naming its database, such as postgres://user@host:5432/xcoin, or empty for the \
                     managed local database",
                ));
            }
        }
        if let Some(mode) = &s.database.sslmode
            && !SSL_MODES.contains(&mode.as_str())
        {
            return Err(self.invalid("database.sslmode", mode, format!("one of {}", SSL_MODES.join(", "))));
        }
        for (key, file) in [
            ("database.ssl_root_cert", &s.database.ssl_root_cert),
            ("database.ssl_client_cert", &s.database.ssl_client_cert),
            ("database.ssl_client_key", &s.database.ssl_client_key),
        ] {
            if let Some(path) = file
                && !std::path::Path::new(path).is_file()
            {
                return Err(self.invalid(key, path, "a readable PEM file"));
            }
        }
        if s.database.ssl_client_cert.is_some() != s.database.ssl_client_key.is_some() {
            return Err(self.invalid(
                "database.ssl_client_key",
                s.database.ssl_client_key.as_deref().unwrap_or("(empty)"),
                "set together with database.ssl_client_cert: a client certificate needs its key",
            ));
        }
        let goals = std::iter::once(("goals.desk".to_string(), &s.goals.desk))
            .chain(s.goals.strategy.iter().map(|(name, g)| (format!("goals.strategy.\"{name}\""), g)));
        for (key, g) in goals {
            if let Err(why) = g.limits(s.account.capital) {
                let (field, what) = why.split_once(": ").unwrap_or(("", why.as_str()));
                return Err(self.invalid(&format!("{key}.{field}"), "", what.to_string()));
            }
        }
        if !(1..=100).contains(&s.database.pool_min) {
            return Err(self.invalid("database.pool_min", s.database.pool_min, "a whole number from 1 to 100"));
        }
        if s.database.pool_max < s.database.pool_min || s.database.pool_max > 100 {
            return Err(self.invalid(
                "database.pool_max",
                s.database.pool_max,
                format!("a whole number from database.pool_min ({}) to 100", s.database.pool_min),
            ));
        }
        if !(1..=300).contains(&s.database.connect_timeout_secs) {
            return Err(self.invalid(
                "database.connect_timeout_secs",
                s.database.connect_timeout_secs,
                "1 to 300 seconds",
            ));
        }
        if !(100..=3_600_000).contains(&s.database.statement_timeout_ms) {
            return Err(self.invalid(
                "database.statement_timeout_ms",
                s.database.statement_timeout_ms,
                "100 to 3600000 milliseconds",
            ));
        }

        if s.app.mode == TradingMode::Live {
            for (key, value) in [("zerodha.api_key", &s.zerodha.api_key), ("zerodha.api_secret", &s.zerodha.api_secret)]
            {
                if value.is_none() {
                    return Err(self.invalid(
                        key,
                        "(empty)",
                        "your Kite Connect credential: LIVE mode cannot trade without it",
                    ));
                }
            }
        }

        if s.account.capital <= Decimal::ZERO {
            return Err(self.invalid("account.capital", s.account.capital, "an amount in rupees greater than 0"));
        }
        if s.account.mis_leverage < Decimal::ONE || s.account.mis_leverage > dec!(50) {
            return Err(self.invalid(
                "account.mis_leverage",
                s.account.mis_leverage,
                "a leverage from 1 to 50 (Zerodha's equity MIS is 5)",
            ));
        }
        let r = &s.risk;
        pct("risk.max_risk_per_trade_pct", r.max_risk_per_trade_pct)?;
        pct("risk.max_daily_loss_pct", r.max_daily_loss_pct)?;
        pct("risk.max_drawdown_pct", r.max_drawdown_pct)?;
        pct("risk.price_sanity_pct", r.price_sanity_pct)?;
        pct("risk.max_position_loss_pct", r.max_position_loss_pct)?;
        if r.max_open_positions == 0 {
            return Err(self.invalid("risk.max_open_positions", 0, "at least 1"));
        }
        if r.max_position_size == 0 {
            return Err(self.invalid("risk.max_position_size", 0, "at least 1 share"));
        }
        if r.min_risk_reward < Decimal::ZERO {
            return Err(self.invalid(
                "risk.min_risk_reward",
                r.min_risk_reward,
                "a reward:risk ratio of 0 or more (2 means reward:risk 2:1)",
            ));
        }
        if r.max_orders_per_second == 0 {
            return Err(self.invalid("risk.max_orders_per_second", 0, "at least 1"));
        }
        if !(Decimal::ZERO..=dec!(10)).contains(&r.default_stop_pct) {
            return Err(self.invalid(
                "risk.default_stop_pct",
                r.default_stop_pct,
                "a percent of the entry from 0 (no default stop) to 10",
            ));
        }
        if r.default_target_rr != Decimal::ZERO && r.default_target_rr < r.min_risk_reward {
            return Err(self.invalid(
                "risk.default_target_rr",
                r.default_target_rr,
                format!("0 (no default target) or at least risk.min_risk_reward ({})", r.min_risk_reward),
            ));
        }

        let m = &s.market;
        if m.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(self.invalid("market.timezone", &m.timezone, "an IANA time zone such as Asia/Kolkata"));
        }
        if !(m.pre_open <= m.open && m.open < m.close) {
            return Err(self.invalid(
                "market.close",
                m.close,
                format!(
                    "a time after market.open ({}), with market.pre_open ({}) not after the open",
                    m.open, m.pre_open
                ),
            ));
        }
        if !(m.open < r.square_off_time && r.square_off_time <= m.close) {
            return Err(self.invalid(
                "risk.square_off_time",
                r.square_off_time,
                format!("a time within market hours, after {} and not after {}", m.open, m.close),
            ));
        }
        if m.tick_size <= Decimal::ZERO {
            return Err(self.invalid("market.tick_size", m.tick_size, "a price step greater than 0, e.g. 0.05"));
        }

        if s.reconciliation.interval_secs < 5 {
            return Err(self.invalid(
                "reconciliation.interval_secs",
                s.reconciliation.interval_secs,
                "at least 5 seconds",
            ));
        }
        if s.reconciliation.price_tolerance_pct < Decimal::ZERO {
            return Err(self.invalid(
                "reconciliation.price_tolerance_pct",
                s.reconciliation.price_tolerance_pct,
                "a percentage of 0 or more",
            ));
        }

        if !(10..=60_000).contains(&s.paper.tick_interval_ms) {
            return Err(self.invalid("paper.tick_interval_ms", s.paper.tick_interval_ms, "10 to 60000 milliseconds"));
        }
        if s.paper.liquidity_per_tick < 1 {
            return Err(self.invalid("paper.liquidity_per_tick", s.paper.liquidity_per_tick, "at least 1 share"));
        }

        let charge_values = serde_json::to_value(&s.charges).expect("rates serialise");
        for (name, value) in charge_values.as_object().expect("rates are a table") {
            let rate: Decimal = value.as_str().and_then(|v| v.parse().ok()).unwrap_or(Decimal::NEGATIVE_ONE);
            if rate < Decimal::ZERO || (name.ends_with("_pct") && rate > hundred) {
                return Err(self.invalid(
                    &format!("charges.{name}"),
                    rate,
                    "a rate of 0 or more (percentages at most 100)",
                ));
            }
        }

        let tg = &s.alerts.telegram;
        if tg.bot_token.is_some() != tg.chat_id.is_some() {
            let missing = if tg.bot_token.is_none() { "alerts.telegram.bot_token" } else { "alerts.telegram.chat_id" };
            return Err(self.invalid(
                missing,
                "(empty)",
                "set when the other Telegram setting is set (both or neither)",
            ));
        }
        let smtp = &s.alerts.smtp;
        if smtp.host.is_some() {
            for (key, value) in [("alerts.smtp.from", &smtp.from), ("alerts.smtp.to", &smtp.to)] {
                match value {
                    Some(address) if address.contains('@') => {}
                    Some(address) => return Err(self.invalid(key, address, "an e-mail address")),
                    None => {
                        return Err(self.invalid(key, "(empty)", "an e-mail address when alerts.smtp.host is set"));
                    }
                }
            }
        }

        // The ports (dashboard.port, alerts.smtp.port) are checked as they are read (see `port`).
        let host = &s.dashboard.host;
        if host.trim().is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/') {
            let shown = if host.is_empty() { "(empty)" } else { host.as_str() };
            return Err(self.invalid(
                "dashboard.host",
                shown,
                "a host name or IP address to listen on, such as 127.0.0.1, without a scheme or path",
            ));
        }
        let ttl = s.commands.order_ttl_secs;
        if !(1..=3600).contains(&ttl) {
            return Err(self.invalid("commands.order_ttl_secs", ttl, "1 to 3600 seconds"));
        }
        let most = s.commands.max_pending_per_login;
        if !(1..=100_000).contains(&most) {
            return Err(self.invalid("commands.max_pending_per_login", most, "1 to 100000 commands"));
        }
        let rate = s.dashboard.signals_per_minute;
        if !(1..=600).contains(&rate) {
            return Err(self.invalid("dashboard.signals_per_minute", rate, "1 to 600 signals a minute per strategy"));
        }
        if s.dashboard.enabled && !s.dashboard.is_loopback() && s.dashboard.token.is_none() {
            return Err(self.invalid(
                "dashboard.token",
                "(empty)",
                format!(
                    "a bearer token: the dashboard listens on {host}, beyond this machine",
                    host = s.dashboard.host
                ),
            ));
        }
        // Beyond this machine a token is all that guards the desk: long enough
        // not to be guessed (its characters are never shown).
        let token_chars = s.dashboard.token.as_ref().map_or(0, |t| t.expose().chars().count());
        if s.dashboard.enabled && !s.dashboard.is_loopback() && token_chars < MIN_TOKEN_CHARS {
            return Err(self.invalid(
                "dashboard.token",
                format!("({token_chars} characters)"),
                format!(
                    "at least {MIN_TOKEN_CHARS} characters beyond this machine (the dashboard listens on {host}); \
                     `openssl rand -hex 32` makes one",
                    host = s.dashboard.host
                ),
            ));
        }
        Ok(())
    }
}

impl Settings {
    /// The pre-trade risk limits this configuration sets: the same for the
    /// engine's validator and the console's forms.
    pub fn risk_limits(&self) -> crate::domain::risk::RiskLimits {
        use crate::domain::risk::RiskLimits;
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
            ticks: crate::domain::instrument::Ticks::new(&crate::domain::instrument::built_in(), s.market.tick_size),
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
            holidays: crate::domain::calendar::exchange_holidays()
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

fn read_dotenv(path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let unreadable = |message: String| ConfigError::Unreadable { path: path.to_path_buf(), message };
    let iter = dotenvy::from_path_iter(path).map_err(|e| unreadable(e.to_string()))?;
    iter.map(|item| item.map_err(|e| unreadable(e.to_string()))).collect()
}

fn toml_has_secret(text: &str) -> bool {
    let Ok(table) = text.parse::<toml::Table>() else {
        return false;
    };
    SECRET_KEYS.iter().any(|key| {
        let mut node = Some(&toml::Value::Table(table.clone()));
        for part in key.split('.') {
            node = node.and_then(|n| n.get(part));
        }
        matches!(node, Some(toml::Value::String(s)) if !s.trim().is_empty())
    })
}

/// Writes a file that may hold secrets (the local configuration file):
/// readable and writable by its owner only (0600), its directory created if
/// missing. The text goes to a private file beside it that then replaces it
/// in one rename, so a crash leaves the old file or the new one, never half
/// of either, and the text is never readable by others.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        // A leftover from a crash keeps its old mode through `open`: set it.
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Refuses a file that holds a secret while group or others can read it.
fn check_secret_file(path: &Path, holds_secret: impl FnOnce(&str) -> bool) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let unreadable = |e: std::io::Error| ConfigError::Unreadable { path: path.to_path_buf(), message: e.to_string() };
    let mode = std::fs::metadata(path).map_err(unreadable)?.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(unreadable)?;
    if holds_secret(&text) { Err(ConfigError::InsecureFile { path: path.to_path_buf(), mode }) } else { Ok(()) }
}

fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    cwd.and_then(|c| path.strip_prefix(c).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}

fn describe_metadata(md: &Metadata, key: &str) -> String {
    let keys: Vec<&str> = key.split('.').collect();
    match (&md.source, md.name.as_ref()) {
        (Some(figment::Source::File(path)), ".env file") => {
            format!("{} in {}{}", md.interpolate(&Profile::Default, &keys), display_path(path), note(md, &keys))
        }
        (Some(figment::Source::File(path)), _) => display_path(path),
        (_, "environment variable") => {
            format!("environment variable {}{}", md.interpolate(&Profile::Default, &keys), note(md, &keys))
        }
        (Some(figment::Source::Code(_)), _) => "built-in default".into(),
        (_, name) => name.to_string(),
    }
}

/// " (0.05 read as 5 %)" when a variable's value was interpreted, else nothing.
fn note(md: &Metadata, keys: &[&str]) -> String {
    let note = md.interpolate(&NOTE, keys);
    if note.is_empty() { note } else { format!(" ({note})") }
}

fn describe_source(figment: &Figment, key: &str) -> String {
    figment.find_metadata(key).map_or_else(|| "built-in default".into(), |md| describe_metadata(md, key))
}

/// Turns figment's error into one line naming the key, its source and the problem.
fn describe_figment_error(error: figment::Error) -> String {
    let mut lines = Vec::new();
    for e in error {
        let key = e.path.join(".");
        let source = e.metadata.as_ref().map(|md| describe_metadata(md, &key));
        let what = match &e.kind {
            figment::error::Kind::UnknownField(..) => {
                let src = source.clone().unwrap_or_default();
                lines.push(format!("unknown config key `{key}` (from {src}); see config/default.toml for every key"));
                continue;
            }
            kind => kind.to_string(),
        };
        match source {
            Some(src) => lines.push(format!("config key `{key}` (from {src}) is invalid: {what}")),
            None => lines.push(format!("config key `{key}` is invalid: {what}")),
        }
    }
    lines.join("\n")
}

fn flatten(prefix: &str, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::Null => out.push((prefix.to_string(), String::new())),
        serde_json::Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(dir: &Path) -> ConfigPaths {
        ConfigPaths::for_checkout(None, Some(dir.join("local.toml")), dir)
    }

    fn load(dir: &Path, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::load_with_env(paths(dir), env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn write(path: &Path, text: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn default_toml_documents_exactly_the_built_in_defaults() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("config/default.toml")).unwrap();
        let from_file: Settings = toml::from_str(&text).expect("config/default.toml parses into Settings");
        assert_eq!(serde_json::to_value(&from_file).unwrap(), serde_json::to_value(Settings::default()).unwrap());
        // Every key is written out in the file.
        let all =
            Config::load_with_env(ConfigPaths::for_checkout(Some(root.into()), Some(root.join("none.toml")), root), [])
                .unwrap();
        for (key, _, source) in all.entries() {
            assert!(source.ends_with("config/default.toml"), "{key} comes from {source}, not config/default.toml");
        }
    }

    #[test]
    fn layers_apply_in_order_and_report_their_source() {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join("local.toml"),
            "[risk]\nmax_daily_loss_pct = 4\nmax_drawdown_pct = 12\n[account]\ncapital = 250000\n",
            0o600,
        );
        write(&dir.path().join(".env"), "XCOIN_RISK__MAX_DRAWDOWN_PCT=10\nXCOIN_ACCOUNT__CAPITAL=300000\n", 0o600);
        let cfg = load(
            dir.path(),
            &[("XCOIN_ACCOUNT__CAPITAL", "500000"), ("DATABASE_URL", "postgres://desk:hunter2@db.local:5432/xcoin")],
        )
        .unwrap();
        let s = &cfg.settings;
        assert_eq!(s.risk.max_daily_loss_pct, dec!(4));
        assert_eq!(s.risk.max_drawdown_pct, dec!(10));
        assert_eq!(s.account.capital, dec!(500000));
        assert_eq!(s.risk.max_risk_per_trade_pct, dec!(2));
        assert_eq!(s.database.pool_min, 5);
        assert_eq!(s.database.pool_max, 20);
        assert!(cfg.source_of("risk.max_daily_loss_pct").ends_with("local.toml"));
        assert!(cfg.source_of("risk.max_drawdown_pct").starts_with("XCOIN_RISK__MAX_DRAWDOWN_PCT in "));
        assert_eq!(cfg.source_of("account.capital"), "environment variable XCOIN_ACCOUNT__CAPITAL");
        assert_eq!(cfg.source_of("database.url"), "environment variable DATABASE_URL");
        assert_eq!(cfg.source_of("risk.max_open_positions"), "built-in default");
        let url = cfg.entries().into_iter().find(|(k, _, _)| k == "database.url").unwrap();
        assert_eq!(url.1, "postgres://desk:[REDACTED]@db.local:5432/xcoin");
    }

    #[test]
    fn a_url_the_parser_refuses_still_hides_its_password() {
        assert_eq!(redacted_url("postgres://desk:pw@db:99999/x"), "postgres://desk:[REDACTED]@db:99999/x");
        assert_eq!(redacted_url("postgres://desk:p@ss:w@db:99999/x?a=b"), "postgres://desk:[REDACTED]@db:99999/x?a=b");
        assert_eq!(redacted_url("postgres://desk@db:99999/x"), "postgres://desk@db:99999/x", "no password");
        assert_eq!(redacted_url("localhost/xcoin"), "localhost/xcoin");
        // A password holding `/` makes the parser read a port out of it.
        assert_eq!(redacted_url("postgres://desk:ab/cd@db:5432/x"), "postgres://desk:[REDACTED]@db:5432/x");
        let problem = database_url_problem("postgres://desk:s3cr/et@db:5432/x").unwrap();
        assert!(
            problem.starts_with("has a user or password with / ? # or @ in it") && !problem.contains("s3cr"),
            "{problem}"
        );
        assert_eq!(
            database_url_problem("postgres://desk:pw@db:99999/x").unwrap(),
            "has port 99999; a port is a whole number from 1 to 65535"
        );
        // In the loader's error too.
        let dir = tempfile::tempdir().unwrap();
        let err = error(dir.path(), "", &[("DATABASE_URL", "postgres://desk:hunter2@db:99999/x")]);
        assert!(err.contains("postgres://desk:[REDACTED]@db:99999/x") && !err.contains("hunter2"), "{err}");
    }

    #[test]
    fn xcoin_spelling_wins_over_the_legacy_name() {
        let dir = tempfile::tempdir().unwrap();
        let cfg =
            load(dir.path(), &[("DATABASE_URL", "postgres://a@h/one"), ("XCOIN_DATABASE__URL", "postgres://a@h/two")])
                .unwrap();
        assert_eq!(cfg.settings.database.url.as_deref(), Some("postgres://a@h/two"));
    }

    #[test]
    fn secrets_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = load(
            dir.path(),
            &[("ZERODHA_API_SECRET", "s3cr3t-value"), ("TELEGRAM_BOT_TOKEN", "123:abc"), ("TELEGRAM_CHAT_ID", "42")],
        )
        .unwrap();
        assert_eq!(cfg.settings.zerodha.api_secret.as_ref().unwrap().expose(), "s3cr3t-value");
        let debug = format!("{:?}", cfg.settings);
        assert!(!debug.contains("s3cr3t") && !debug.contains("123:abc"), "{debug}");
        let printed: Vec<_> = cfg.entries();
        let secret = printed.iter().find(|(k, _, _)| k == "zerodha.api_secret").unwrap();
        assert_eq!(secret.1, REDACTED);
        assert_eq!(secret.2, "environment variable ZERODHA_API_SECRET");
        assert!(printed.iter().all(|(_, v, _)| !v.contains("s3cr3t")));
    }

    fn error(dir: &Path, local: &str, env: &[(&str, &str)]) -> String {
        write(&dir.join("local.toml"), local, 0o600);
        load(dir, env).unwrap_err().to_string()
    }

    #[test]
    fn bad_values_name_the_key_the_source_and_what_is_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let local = display_path(&d.join("local.toml"));
        assert_eq!(
            error(d, "[risk]\nmax_daily_loss_pct = -6\n", &[]),
            format!(
                "config key `risk.max_daily_loss_pct` = -6 (from {local}) is invalid: expected a percentage greater than 0 and at most 100"
            )
        );
        assert_eq!(
            error(d, "[risk]\ndefault_target_rr = 1.5\n", &[]),
            format!(
                "config key `risk.default_target_rr` = 1.5 (from {local}) is invalid: expected 0 (no default target) or at least risk.min_risk_reward (2)"
            )
        );
        assert_eq!(
            error(d, "[risk]\ndefault_stop_pct = 12\n", &[]),
            format!(
                "config key `risk.default_stop_pct` = 12 (from {local}) is invalid: expected a percent of the entry from 0 (no default stop) to 10"
            )
        );
        assert_eq!(
            error(d, "[database]\npool_min = 10\npool_max = 4\n", &[]),
            format!(
                "config key `database.pool_max` = 4 (from {local}) is invalid: expected a whole number from database.pool_min (10) to 100"
            )
        );
        assert_eq!(
            error(d, "", &[("APP_MODE", "demo")]),
            "config key `app.mode` (from environment variable APP_MODE) is invalid: `demo` is not allowed; expected one of PAPER, LIVE"
        );
        assert_eq!(
            error(d, "", &[("XCOIN_DATABASE__URL", "mysql://root@localhost/x")]),
            "config key `database.url` = mysql://root@localhost/x (from environment variable XCOIN_DATABASE__URL) is invalid: expected a PostgreSQL URL naming its database, such as postgres://user@host:5432/xcoin, or empty for the managed local database"
        );
        assert_eq!(
            error(d, "[risk]\nmax_open_positions = \"five\"\n", &[]),
            format!(
                "config key `risk.max_open_positions` (from {local}) is invalid: invalid type: found string \"five\", expected u32"
            )
        );
        assert_eq!(
            error(d, "[risk]\nmax_daily_los_pct = 3\n", &[]),
            format!(
                "unknown config key `risk.max_daily_los_pct` (from {local}); see config/default.toml for every key"
            )
        );
        assert_eq!(
            error(d, "", &[("XCOIN_FOO__BAR", "1")]),
            "unknown config key `foo` (from environment variable XCOIN_FOO__BAR); see config/default.toml for every key"
        );
        assert_eq!(
            error(d, "", &[("DATABASE_URL", "postgres://")]),
            "config key `database.url` = postgres:// (from environment variable DATABASE_URL) is invalid: expected a PostgreSQL URL naming its database, such as postgres://user@host:5432/xcoin, or empty for the managed local database"
        );
        assert_eq!(
            error(d, "[risk]\nsquare_off_time = \"3pm\"\n", &[]),
            format!(
                "config key `risk.square_off_time` (from {local}) is invalid: `3pm` is not a time; write it as HH:MM, e.g. 15:15"
            )
        );
        assert_eq!(
            error(d, "[app]\nmode = \"LIVE\"\n", &[]),
            "config key `zerodha.api_key` = (empty) (from built-in default) is invalid: expected your Kite Connect credential: LIVE mode cannot trade without it"
        );
        assert_eq!(
            error(d, "[market]\ntimezone = \"India/Mumbai\"\n", &[]),
            format!(
                "config key `market.timezone` = India/Mumbai (from {local}) is invalid: expected an IANA time zone such as Asia/Kolkata"
            )
        );
    }

    #[test]
    fn a_secret_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("local.toml");
        write(&local, "[zerodha]\napi_secret = \"abc\"\n", 0o644);
        let err = load(dir.path(), &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} holds secrets but is readable by other users (mode 644); run `chmod 600 {}`",
                local.display(),
                local.display()
            )
        );
        // Without a secret the same mode is fine.
        write(&local, "[risk]\nmax_open_positions = 3\n", 0o644);
        assert_eq!(load(dir.path(), &[]).unwrap().settings.risk.max_open_positions, 3);
    }

    #[test]
    fn private_files_are_owner_only_whether_new_or_rewritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let fresh = dir.path().join("xcoin/config.toml");
        let secret = "[zerodha]\napi_secret = \"abc\"\n";
        write_private(&fresh, secret).unwrap();
        assert_eq!((mode(&fresh), std::fs::read_to_string(&fresh).unwrap()), (0o600, secret.into()));
        let shared = dir.path().join("local.toml");
        write(&shared, "[risk]\nmax_open_positions = 3\n", 0o644);
        write_private(&shared, "[zerodha]\n").unwrap();
        assert_eq!((mode(&shared), std::fs::read_to_string(&shared).unwrap()), (0o600, "[zerodha]\n".into()));
        let mut left: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        left.sort();
        assert_eq!(left, ["local.toml", "xcoin"], "the file is replaced whole: nothing is left beside it");
    }

    #[test]
    fn the_env_example_is_a_valid_dotenv() {
        let dir = tempfile::tempdir().unwrap();
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join(".env.example");
        std::fs::copy(example, dir.path().join(".env")).unwrap();
        let cfg = load(dir.path(), &[]).unwrap();
        assert_eq!(cfg.settings.risk.max_daily_loss_pct, dec!(6));
        assert_eq!(cfg.settings.database.url, None, "an empty DATABASE_URL means the managed database");
        assert!(cfg.source_of("account.capital").starts_with("XCOIN_ACCOUNT__CAPITAL in "));
        assert!(cfg.source_of("risk.max_daily_loss_pct").starts_with("MAX_DAILY_LOSS in "));
        assert!(cfg.source_of("dashboard.port").starts_with("DASHBOARD_PORT in "));
    }

    #[test]
    fn every_original_name_is_documented() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
        let (example, defaults, readme) =
            (read(".env.example"), read("config/default.toml"), read("docs/configuration.md"));
        for (var, key, _) in LEGACY_ENV {
            assert!(example.lines().any(|l| l.starts_with(&format!("{var}="))), "{var} is set in .env.example");
            assert!(defaults.contains(var), "{var} is named in config/default.toml");
            assert!(readme.contains(&format!("`{var}`")), "{var} is named in docs/configuration.md");
            assert!(env_key(var).as_deref() == Some(*key));
        }
    }

    /// One value under every original name, as a desk's `.env` might hold them.
    const ORIGINAL: &[(&str, &str)] = &[
        ("DB_MIN_CONNECTIONS", "3"),
        ("DB_MAX_CONNECTIONS", "15"),
        ("MAX_RISK_PER_TRADE", "0.02"),
        ("MAX_DAILY_LOSS", "0.05"),
        ("MAX_DRAWDOWN", "12"),
        ("MAX_POSITIONS", "3"),
        ("MIN_RISK_REWARD", "2.5:1"),
        ("MAX_POSITION_SIZE", "750"),
        ("PRICE_SANITY_PCT", "8%"),
        ("MAX_POSITION_LOSS_PCT", "0.75"),
        ("DASHBOARD_HOST", "0.0.0.0"),
        ("DASHBOARD_PORT", "9050"),
        ("APP_MODE", "paper"),
    ];

    /// (key, effective value, how the source ends: the variable, and the note if interpreted)
    const EXPECTED: &[(&str, &str, &str)] = &[
        ("database.pool_min", "3", "DB_MIN_CONNECTIONS"),
        ("database.pool_max", "15", "DB_MAX_CONNECTIONS"),
        ("risk.max_risk_per_trade_pct", "2", "MAX_RISK_PER_TRADE (0.02 read as 2 %)"),
        ("risk.max_daily_loss_pct", "5", "MAX_DAILY_LOSS (0.05 read as 5 %)"),
        ("risk.max_drawdown_pct", "12", "MAX_DRAWDOWN"),
        ("risk.max_open_positions", "3", "MAX_POSITIONS"),
        ("risk.min_risk_reward", "2.5", "MIN_RISK_REWARD (2.5:1 read as 2.5)"),
        ("risk.max_position_size", "750", "MAX_POSITION_SIZE"),
        ("risk.price_sanity_pct", "8", "PRICE_SANITY_PCT"),
        ("risk.max_position_loss_pct", "0.75", "MAX_POSITION_LOSS_PCT (0.75 read as 0.75 %)"),
        ("dashboard.host", "0.0.0.0", "DASHBOARD_HOST"),
        ("dashboard.port", "9050", "DASHBOARD_PORT"),
        ("app.mode", "PAPER", "APP_MODE"),
    ];

    fn entry(cfg: &Config, key: &str) -> (String, String) {
        let (_, value, source) = cfg.entries().into_iter().find(|(k, _, _)| k == key).unwrap();
        (value, source)
    }

    #[test]
    fn every_original_name_sets_its_key_from_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = load(dir.path(), ORIGINAL).unwrap();
        for (key, value, source) in EXPECTED {
            assert_eq!(entry(&cfg, key), (value.to_string(), format!("environment variable {source}")), "{key}");
        }
        let (s, r) = (&cfg.settings, &cfg.settings.risk);
        assert_eq!((s.database.pool_min, s.database.pool_max), (3, 15));
        assert_eq!(r.max_risk_per_trade_pct, dec!(2));
        assert_eq!(r.max_daily_loss_pct, dec!(5));
        assert_eq!(r.max_drawdown_pct, dec!(12));
        assert_eq!((r.max_open_positions, r.max_position_size), (3, 750));
        assert_eq!(r.min_risk_reward, dec!(2.5));
        assert_eq!(r.price_sanity_pct, dec!(8));
        assert_eq!(r.max_position_loss_pct, dec!(0.75));
        assert_eq!((s.dashboard.host.as_str(), s.dashboard.port), ("0.0.0.0", 9050));
        assert_eq!(s.app.mode, TradingMode::Paper);
    }

    #[test]
    fn every_original_name_sets_its_key_from_the_dotenv_file() {
        let dir = tempfile::tempdir().unwrap();
        let text: String = ORIGINAL.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        write(&dir.path().join(".env"), &text, 0o644);
        let cfg = load(dir.path(), &[]).unwrap();
        let dotenv = display_path(&dir.path().join(".env"));
        for (key, value, source) in EXPECTED {
            let (var, note) = source.split_once(' ').map_or((*source, String::new()), |(v, n)| (v, format!(" {n}")));
            assert_eq!(entry(&cfg, key), (value.to_string(), format!("{var} in {dotenv}{note}")), "{key}");
        }
        assert_eq!(cfg.settings.risk.max_daily_loss_pct, dec!(5));
    }

    #[test]
    fn the_environment_beats_dotenv_and_the_xcoin_spelling_beats_the_original_name() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join(".env"), "MAX_DAILY_LOSS=0.04\nMAX_DRAWDOWN=0.2\n", 0o644);
        let cfg = load(
            dir.path(),
            &[("MAX_DAILY_LOSS", "3"), ("MAX_RISK_PER_TRADE", "0.02"), ("XCOIN_RISK__MAX_RISK_PER_TRADE_PCT", "1.5")],
        )
        .unwrap();
        let r = &cfg.settings.risk;
        assert_eq!(entry(&cfg, "risk.max_daily_loss_pct"), ("3".into(), "environment variable MAX_DAILY_LOSS".into()));
        let dotenv = display_path(&dir.path().join(".env"));
        assert_eq!(r.max_drawdown_pct, dec!(20));
        assert_eq!(cfg.source_of("risk.max_drawdown_pct"), format!("MAX_DRAWDOWN in {dotenv} (0.2 read as 20 %)"));
        // The XCOIN_ spelling wins, and the note of the name it beat is not shown.
        assert_eq!(r.max_risk_per_trade_pct, dec!(1.5));
        assert_eq!(
            cfg.source_of("risk.max_risk_per_trade_pct"),
            "environment variable XCOIN_RISK__MAX_RISK_PER_TRADE_PCT"
        );
        // The XCOIN_ spelling stays a plain percent: 0.05 there is 0.05 %.
        let cfg = load(dir.path(), &[("XCOIN_RISK__MAX_DAILY_LOSS_PCT", "0.05")]).unwrap();
        assert_eq!(cfg.settings.risk.max_daily_loss_pct, dec!(0.05));
        assert_eq!(cfg.source_of("risk.max_daily_loss_pct"), "environment variable XCOIN_RISK__MAX_DAILY_LOSS_PCT");
    }

    /// The effective percent for `var=text`, or the error.
    fn percent(var: &str, text: &str) -> Result<String, String> {
        let dir = tempfile::tempdir().unwrap();
        let key = env_key(var).unwrap();
        load(dir.path(), &[(var, text)]).map(|cfg| entry(&cfg, &key).0).map_err(|e| e.to_string())
    }

    #[test]
    fn percent_limits_take_a_fraction_only_where_no_percent_is_plausible() {
        // (variable, value, the percent it is read as; None where it is refused)
        let cases: &[(&str, &str, Option<&str>)] = &[
            // Plausible 0.05 % to 10 %: plain below 0.05 a fraction, 0.05 to 0.1 refused, above a percent.
            ("MAX_RISK_PER_TRADE", "0.02", Some("2")),
            ("MAX_RISK_PER_TRADE", "0.049", Some("4.9")),
            ("MAX_RISK_PER_TRADE", "0.05", None),
            ("MAX_RISK_PER_TRADE", "0.1", None),
            ("MAX_RISK_PER_TRADE", "0.25", Some("0.25")),
            ("MAX_RISK_PER_TRADE", "2", Some("2")),
            ("MAX_RISK_PER_TRADE", "2%", Some("2")),
            ("MAX_RISK_PER_TRADE", "0.02%", Some("0.02")),
            ("MAX_RISK_PER_TRADE", "0.0001", None),
            // Plausible 0.25 % to 50 %: below 0.25 a fraction, 0.25 to 0.5 refused, above a percent.
            ("MAX_DAILY_LOSS", "0.06", Some("6")),
            ("MAX_DAILY_LOSS", "0.2", Some("20")),
            ("MAX_DAILY_LOSS", "0.25", None),
            ("MAX_DAILY_LOSS", "0.5", None),
            ("MAX_DAILY_LOSS", "0.75", Some("0.75")),
            ("MAX_DAILY_LOSS", "6", Some("6")),
            ("MAX_DAILY_LOSS", " 6 % ", Some("6")),
            // Plausible 1 % to 50 %: 0.01 to 0.5 a fraction, other values below 1 refused.
            ("MAX_DRAWDOWN", "0.15", Some("15")),
            ("MAX_DRAWDOWN", "0.5", Some("50")),
            ("MAX_DRAWDOWN", "0.6", None),
            ("MAX_DRAWDOWN", "0.005", None),
            ("MAX_DRAWDOWN", "1", Some("1")),
            ("MAX_DRAWDOWN", "60%", Some("60")),
            // Plausible 0.5 % to 20 %: up to 0.2 a fraction, 0.2 to 0.5 refused, 0.5 up a percent.
            ("PRICE_SANITY_PCT", "0.1", Some("10")),
            ("PRICE_SANITY_PCT", "0.2", Some("20")),
            ("PRICE_SANITY_PCT", "0.3", None),
            ("PRICE_SANITY_PCT", "0.5", Some("0.5")),
            ("PRICE_SANITY_PCT", "10", Some("10")),
            // Plausible 0.1 % to 20 %: below 0.1 a fraction, 0.1 to 0.2 refused, above a percent.
            ("MAX_POSITION_LOSS_PCT", "0.05", Some("5")),
            ("MAX_POSITION_LOSS_PCT", "0.1", None),
            ("MAX_POSITION_LOSS_PCT", "0.2", None),
            ("MAX_POSITION_LOSS_PCT", "0.3", Some("0.3")),
            ("MAX_POSITION_LOSS_PCT", "5%", Some("5")),
            // Never a limit, whatever the name.
            ("MAX_DAILY_LOSS", "0", None),
            ("MAX_DAILY_LOSS", "-0.05", None),
            ("MAX_DAILY_LOSS", "six", None),
            ("MAX_DAILY_LOSS", "", None),
        ];
        for (var, text, read) in cases {
            let got = percent(var, text);
            match read {
                Some(p) => assert_eq!(got.as_deref(), Ok(*p), "{var}={text}"),
                None => {
                    let err = got.expect_err(&format!("{var}={text} is refused"));
                    assert!(err.starts_with(&format!("{var}={text} (from the environment) is ")), "{err}");
                }
            }
        }
    }

    #[test]
    fn refused_percents_say_why_and_what_to_write() {
        assert_eq!(
            percent("MAX_DAILY_LOSS", "0.5").unwrap_err(),
            "MAX_DAILY_LOSS=0.5 (from the environment) is ambiguous: it could be 0.5 % or, as a fraction, 50 %, \
             and both are plausible (0.25 % to 50 %); write 0.5% or 50%. MAX_DAILY_LOSS sets risk.max_daily_loss_pct \
             and takes a percent (6 or 6%) or a fraction below 0.25 (0.06 for 6 %)"
        );
        assert_eq!(
            percent("MAX_DRAWDOWN", "0.7").unwrap_err(),
            "MAX_DRAWDOWN=0.7 (from the environment) is out of range: neither 0.7 % nor, as a fraction, 70 % lies in \
             the plausible 1 % to 50 %; write the percent you mean with a % sign. MAX_DRAWDOWN sets \
             risk.max_drawdown_pct and takes a percent (15 or 15%) or a fraction up to 0.5 (0.15 for 15 %)"
        );
        assert_eq!(
            percent("MAX_RISK_PER_TRADE", "two").unwrap_err(),
            "MAX_RISK_PER_TRADE=two (from the environment) is not a number; MAX_RISK_PER_TRADE sets \
             risk.max_risk_per_trade_pct and takes a percent (2 or 2%) or a fraction below 0.05 (0.02 for 2 %)"
        );
        assert_eq!(
            percent("PRICE_SANITY_PCT", "0").unwrap_err(),
            "PRICE_SANITY_PCT=0 (from the environment) is not a limit: it must be greater than 0; PRICE_SANITY_PCT \
             sets risk.price_sanity_pct and takes a percent (10 or 10%) or a fraction up to 0.2 (0.1 for 10 %)"
        );
        // A percent past 100 passes the reading and is refused as every risk limit is.
        assert_eq!(
            percent("MAX_POSITION_LOSS_PCT", "150%").unwrap_err(),
            "config key `risk.max_position_loss_pct` = 150 (from environment variable MAX_POSITION_LOSS_PCT) is \
             invalid: expected a percentage greater than 0 and at most 100"
        );
        // Refused in .env too, named by its file, even where the XCOIN_ spelling overrides it.
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join(".env"), "MAX_POSITION_LOSS_PCT=0.15\n", 0o644);
        let err = load(dir.path(), &[("XCOIN_RISK__MAX_POSITION_LOSS_PCT", "5")]).unwrap_err().to_string();
        let dotenv = display_path(&dir.path().join(".env"));
        assert!(
            err.starts_with(&format!(
                "MAX_POSITION_LOSS_PCT=0.15 (from {dotenv}) is ambiguous: it could be 0.15 % or, as a fraction, 15 %"
            )),
            "{err}"
        );
    }

    #[test]
    fn a_negative_minimum_is_refused_as_a_reward_risk_ratio() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            error(dir.path(), "", &[("XCOIN_RISK__MIN_RISK_REWARD", "-1.5")]),
            "config key `risk.min_risk_reward` = -1.5 (from environment variable XCOIN_RISK__MIN_RISK_REWARD) is \
             invalid: expected a reward:risk ratio of 0 or more (2 means reward:risk 2:1)"
        );
    }

    #[test]
    fn min_risk_reward_is_reward_per_one_of_risk() {
        assert_eq!(percent("MIN_RISK_REWARD", "2").as_deref(), Ok("2"));
        assert_eq!(percent("MIN_RISK_REWARD", "2:1").as_deref(), Ok("2"));
        assert_eq!(percent("MIN_RISK_REWARD", " 1.5 : 1 ").as_deref(), Ok("1.5"));
        assert_eq!(
            percent("MIN_RISK_REWARD", "1:2").unwrap_err(),
            "MIN_RISK_REWARD=1:2 (from the environment) is not read: 1:2 could be reward:risk or risk:reward, which \
             differ; MIN_RISK_REWARD sets risk.min_risk_reward, the reward per 1 of risk: write it as 2 or 2:1"
        );
        assert_eq!(
            percent("MIN_RISK_REWARD", "2:x").unwrap_err(),
            "MIN_RISK_REWARD=2:x (from the environment) is not a ratio; MIN_RISK_REWARD sets risk.min_risk_reward, \
             the reward per 1 of risk: write it as 2 or 2:1"
        );
        assert_eq!(
            percent("MIN_RISK_REWARD", "high").unwrap_err(),
            "MIN_RISK_REWARD=high (from the environment) is not a number; MIN_RISK_REWARD sets risk.min_risk_reward, \
             the reward per 1 of risk: write it as 2 or 2:1"
        );
    }

    #[test]
    fn app_mode_of_the_original_system_is_refused_never_read_as_live() {
        let dir = tempfile::tempdir().unwrap();
        for mode in ["production", "development", "PRODUCTION", "Development"] {
            let err = load(dir.path(), &[("APP_MODE", mode)]).unwrap_err().to_string();
            assert_eq!(
                err,
                format!(
                    "APP_MODE={mode} (from the environment) is the original system's APP_MODE, which meant \
                     development or production; XCoin uses APP_MODE for the trading mode, PAPER or LIVE, and will \
                     not guess one from it. Set the trading mode with app.mode (XCOIN_APP__MODE=PAPER or \
                     XCOIN_APP__MODE=LIVE) and remove APP_MODE={mode}"
                )
            );
        }
        // From .env, and even with the trading mode set the XCoin way.
        write(&dir.path().join(".env"), "APP_MODE=production\n", 0o644);
        let err = load(dir.path(), &[("XCOIN_APP__MODE", "PAPER")]).unwrap_err().to_string();
        let dotenv = display_path(&dir.path().join(".env"));
        assert!(err.starts_with(&format!("APP_MODE=production (from {dotenv}) is the original system's")), "{err}");
        std::fs::remove_file(dir.path().join(".env")).unwrap();
        // PAPER and LIVE keep their meaning.
        let cfg = load(dir.path(), &[("APP_MODE", "live"), ("ZERODHA_API_KEY", "k"), ("ZERODHA_API_SECRET", "s")]);
        assert_eq!(cfg.unwrap().settings.app.mode, TradingMode::Live);
    }

    #[test]
    fn a_database_url_is_checked_before_anything_tries_it() {
        let expected = "expected postgres://user@host:port/database (postgresql:// also works)";
        let problem = |url: &str| database_url_problem(url);
        assert_eq!(
            problem("postgress://desk@db/xcoin"),
            Some(format!("starts with postgress://, not postgres://; {expected}"))
        );
        assert_eq!(problem("localhost/xcoin"), Some(format!("has no scheme; {expected}")));
        assert_eq!(problem("postgres://db:5432"), Some(format!("names no database; {expected}")));
        for (url, port) in [
            ("postgres://db:99999/xcoin", "99999"),
            ("postgres://desk:p@ss@db:54x2/xcoin", "54x2"),
            ("postgres://db:0/x", "0"),
            ("postgres://[::1]:70000/x", "70000"),
        ] {
            assert_eq!(
                problem(url),
                Some(format!("has port {port}; a port is a whole number from 1 to 65535")),
                "{url}"
            );
        }
        for url in [
            "postgres://desk@db:5432/xcoin",
            "postgresql://desk:s3cret@db/xcoin",
            "POSTGRES://desk@db/xcoin",
            "postgres:///xcoin?host=/var/lib/xcoin/postgres&user=xcoin",
            "postgres://[::1]:5432/xcoin",
        ] {
            assert_eq!(problem(url), None, "{url}");
        }
        let dir = tempfile::tempdir().unwrap();
        assert!(
            error(dir.path(), "", &[("DATABASE_URL", "postgress://desk@db/xcoin")])
                .ends_with("is invalid: expected a PostgreSQL URL naming its database, such as postgres://user@host:5432/xcoin, or empty for the managed local database")
        );
    }

    #[test]
    fn the_smtp_port_is_checked_as_the_dashboards_is() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for port in ["0", "70000", "-1"] {
            assert_eq!(
                error(d, "", &[("SMTP_PORT", port)]),
                format!(
                    "config key `alerts.smtp.port` (from environment variable SMTP_PORT) is invalid: `{port}` is not a port; expected a whole number from 1 to 65535"
                )
            );
        }
        assert_eq!(load(d, &[("SMTP_PORT", "465")]).unwrap().settings.alerts.smtp.port, 465);
    }

    #[test]
    fn the_dashboard_address_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let defaults = load(d, &[]).unwrap().settings.dashboard;
        assert_eq!((defaults.host.as_str(), defaults.port), ("127.0.0.1", 8050));
        for port in ["0", "70000"] {
            assert_eq!(
                error(d, "", &[("DASHBOARD_PORT", port)]),
                format!(
                    "config key `dashboard.port` (from environment variable DASHBOARD_PORT) is invalid: `{port}` is not a port; expected a whole number from 1 to 65535"
                )
            );
        }
        assert_eq!(
            error(d, "", &[("DASHBOARD_HOST", "")]),
            "config key `dashboard.host` = (empty) (from environment variable DASHBOARD_HOST) is invalid: expected a host name or IP address to listen on, such as 127.0.0.1, without a scheme or path"
        );
        assert_eq!(
            error(d, "", &[("XCOIN_DASHBOARD__HOST", "http://desk:8050/")]),
            "config key `dashboard.host` = http://desk:8050/ (from environment variable XCOIN_DASHBOARD__HOST) is invalid: expected a host name or IP address to listen on, such as 127.0.0.1, without a scheme or path"
        );
    }

    #[test]
    fn env_names_map_to_keys() {
        assert_eq!(env_key("XCOIN_RISK__MAX_DAILY_LOSS_PCT").as_deref(), Some("risk.max_daily_loss_pct"));
        assert_eq!(env_key("XCOIN_ALERTS__SMTP__HOST").as_deref(), Some("alerts.smtp.host"));
        assert_eq!(env_key("SMTP_USER").as_deref(), Some("alerts.smtp.username"));
        assert_eq!(env_key("MAX_POSITIONS").as_deref(), Some("risk.max_open_positions"));
        assert_eq!(env_key("DB_MIN_CONNECTIONS").as_deref(), Some("database.pool_min"));
        assert_eq!(env_key("DASHBOARD_PORT").as_deref(), Some("dashboard.port"));
        assert_eq!(env_key("XCOIN_LOG"), None, "the log filter is the logger's");
        assert_eq!(env_key("XCOIN___X"), None);
        assert_eq!(env_key("PATH"), None);
    }
}
