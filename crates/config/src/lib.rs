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

//!
//! Files: `values` (secret, clock time), `settings` (the sections and their
//! defaults), `names` (environment and the original system's names), `paths`,
//! `load` (the layers), `validate` (the rules), `error`, `files` (the
//! permissions of everything XCoin writes).
//!
//! The second layer: it uses the model alone.

mod error;
pub mod files;
mod load;
mod names;
mod paths;
mod settings;
#[cfg(test)]
mod tests;
mod validate;
mod values;

pub use error::*;
pub use load::*;
pub use names::*;
pub use paths::*;
pub use settings::*;
pub use values::*;
