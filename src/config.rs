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
//! example `XCOIN_RISK__MAX_DAILY_LOSS_PCT=4`. The original system's names are
//! accepted too for the keys whose meaning is unambiguous: `DATABASE_URL`,
//! `ZERODHA_API_KEY`, `ZERODHA_API_SECRET`, `ZERODHA_ACCESS_TOKEN`, `APP_MODE`,
//! `DEBUG`, `LOG_LEVEL`, `TELEGRAM_BOT_TOKEN`, `TELEGRAM_CHAT_ID`, `SMTP_HOST`,
//! `SMTP_PORT`, `SMTP_USER`, `SMTP_PASSWORD`, `SMTP_FROM`, `SMTP_TO`. Risk
//! limits are percentages here (`2` means 2 %), so they take only the
//! `XCOIN_` spelling: an old fraction such as `0.02` must not be read as 0.02 %.
//! When both spellings are set, the `XCOIN_` one wins.
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
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings { url: None, pool_min: 5, pool_max: 20, connect_timeout_secs: 5, statement_timeout_ms: 30_000 }
    }
}

/// A database URL with its password replaced by `[REDACTED]`.
pub fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some(REDACTED));
            u.to_string().replace("%5BREDACTED%5D", REDACTED)
        }
        _ => url.to_string(),
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
}

impl Default for AccountSettings {
    fn default() -> Self {
        AccountSettings { capital: dec!(100000) }
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
    pub tick_size: Decimal,
    /// Exchange holidays, "YYYY-MM-DD".
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

/// The address of the desk's health and metrics endpoint (the original
/// system's dashboard: `DASHBOARD_HOST`, `DASHBOARD_PORT`). Accepted and
/// validated now so an original `.env` carries over; nothing listens on it yet
/// in this version.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardSettings {
    /// Host name or IP address to listen on; 127.0.0.1 keeps it on this machine.
    pub host: String,
    #[serde(deserialize_with = "port")]
    pub port: u16,
}

impl Default for DashboardSettings {
    fn default() -> Self {
        DashboardSettings { host: "127.0.0.1".into(), port: 8050 }
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
}

/// Keys that hold secrets, as dotted paths.
pub const SECRET_KEYS: &[&str] = &[
    "zerodha.api_key",
    "zerodha.api_secret",
    "zerodha.access_token",
    "alerts.telegram.bot_token",
    "alerts.smtp.password",
];

/// The original system's environment names and the keys they set.
pub const LEGACY_ENV: &[(&str, &str)] = &[
    ("DATABASE_URL", "database.url"),
    ("ZERODHA_API_KEY", "zerodha.api_key"),
    ("ZERODHA_API_SECRET", "zerodha.api_secret"),
    ("ZERODHA_ACCESS_TOKEN", "zerodha.access_token"),
    ("APP_MODE", "app.mode"),
    ("DEBUG", "app.debug"),
    ("LOG_LEVEL", "app.log_level"),
    ("TELEGRAM_BOT_TOKEN", "alerts.telegram.bot_token"),
    ("TELEGRAM_CHAT_ID", "alerts.telegram.chat_id"),
    ("SMTP_HOST", "alerts.smtp.host"),
    ("SMTP_PORT", "alerts.smtp.port"),
    ("SMTP_USER", "alerts.smtp.username"),
    ("SMTP_PASSWORD", "alerts.smtp.password"),
    ("SMTP_FROM", "alerts.smtp.from"),
    ("SMTP_TO", "alerts.smtp.to"),
];

const ENV_PREFIX: &str = "XCOIN_";

/// Maps an environment variable name to a dotted key, or `None` when it is not ours.
pub fn env_key(name: &str) -> Option<String> {
    if let Some(rest) = name.strip_prefix(ENV_PREFIX) {
        let parts: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
        if parts.iter().any(|p| p.is_empty()) {
            return None;
        }
        return Some(parts.join("."));
    }
    LEGACY_ENV.iter().find(|(var, _)| *var == name).map(|(_, key)| key.to_string())
}

/// A configuration layer made of `NAME=value` pairs (the environment or a
/// `.env` file), whose metadata names the exact variable behind each key.
struct VarLayer {
    name: String,
    source: Option<PathBuf>,
    /// (variable, key, value), legacy names first so `XCOIN_` spellings win.
    vars: Vec<(String, String, String)>,
}

impl VarLayer {
    fn new(name: &str, source: Option<PathBuf>, pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut vars: Vec<(String, String, String)> =
            pairs.into_iter().filter_map(|(var, value)| env_key(&var).map(|key| (var, key, value))).collect();
        vars.sort_by_key(|(var, _, _)| (var.starts_with(ENV_PREFIX), var.clone()));
        VarLayer { name: name.to_string(), source, vars }
    }
}

impl Provider for VarLayer {
    fn metadata(&self) -> Metadata {
        let names: BTreeMap<String, String> = self.vars.iter().map(|(v, k, _)| (k.clone(), v.clone())).collect();
        let mut md = Metadata::named(self.name.clone()).interpolater(move |_: &Profile, keys: &[&str]| {
            let key = keys.join(".");
            names.get(&key).cloned().unwrap_or(key)
        });
        if let Some(path) = &self.source {
            md = md.source(figment::Source::File(path.clone()));
        }
        md
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut dict = Dict::new();
        for (_, key, value) in &self.vars {
            let parsed: Value = value.parse().expect("parsing a value is infallible");
            let parts: Vec<&str> = key.split('.').collect();
            insert_path(&mut dict, &parts, parsed);
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
            figment = figment.merge(VarLayer::new(".env file", Some(paths.dotenv.clone()), pairs));
        }
        figment = figment.merge(VarLayer::new("environment variable", None, env));

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
            let ok = url::Url::parse(url).map(|u| matches!(u.scheme(), "postgres" | "postgresql")).unwrap_or(false);
            if !ok {
                return Err(self.invalid(
                    "database.url",
                    redacted_url(url),
                    "a PostgreSQL URL such as postgres://user@host:5432/xcoin, or empty for the managed local database",
                ));
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
            return Err(self.invalid("risk.min_risk_reward", r.min_risk_reward, "a ratio of 0 or more (2 means 2:1)"));
        }
        if r.max_orders_per_second == 0 {
            return Err(self.invalid("risk.max_orders_per_second", 0, "at least 1"));
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
            if smtp.port == 0 {
                return Err(self.invalid("alerts.smtp.port", 0, "a port from 1 to 65535"));
            }
        }

        // The port is checked as it is read (see `port`).
        let host = &s.dashboard.host;
        if host.trim().is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/') {
            let shown = if host.is_empty() { "(empty)" } else { host.as_str() };
            return Err(self.invalid(
                "dashboard.host",
                shown,
                "a host name or IP address to listen on, such as 127.0.0.1, without a scheme or path",
            ));
        }
        Ok(())
    }
}

impl Settings {
    /// The market calendar these settings describe.
    pub fn calendar(&self) -> MarketCalendar {
        MarketCalendar {
            timezone: self.market.timezone.parse().unwrap_or(chrono_tz::Asia::Kolkata),
            pre_open: self.market.pre_open.0,
            open: self.market.open.0,
            close: self.market.close.0,
            holidays: self.market.holidays.iter().copied().collect(),
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

    /// Creates the data and log directories when missing.
    pub fn ensure_dirs(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(self.log_dir())
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
            format!("{} in {}", md.interpolate(&Profile::Default, &keys), display_path(path))
        }
        (Some(figment::Source::File(path)), _) => display_path(path),
        (_, "environment variable") => format!("environment variable {}", md.interpolate(&Profile::Default, &keys)),
        (Some(figment::Source::Code(_)), _) => "built-in default".into(),
        (_, name) => name.to_string(),
    }
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
            "config key `database.url` = mysql://root@localhost/x (from environment variable XCOIN_DATABASE__URL) is invalid: expected a PostgreSQL URL such as postgres://user@host:5432/xcoin, or empty for the managed local database"
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
    }

    #[test]
    fn the_dashboard_address_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let defaults = load(d, &[]).unwrap().settings.dashboard;
        assert_eq!((defaults.host.as_str(), defaults.port), ("127.0.0.1", 8050));
        for port in ["0", "70000"] {
            assert_eq!(
                error(d, "", &[("XCOIN_DASHBOARD__PORT", port)]),
                format!(
                    "config key `dashboard.port` (from environment variable XCOIN_DASHBOARD__PORT) is invalid: `{port}` is not a port; expected a whole number from 1 to 65535"
                )
            );
        }
        assert_eq!(
            error(d, "", &[("XCOIN_DASHBOARD__HOST", "")]),
            "config key `dashboard.host` = (empty) (from environment variable XCOIN_DASHBOARD__HOST) is invalid: expected a host name or IP address to listen on, such as 127.0.0.1, without a scheme or path"
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
        assert_eq!(env_key("XCOIN___X"), None);
        assert_eq!(env_key("PATH"), None);
    }
}
