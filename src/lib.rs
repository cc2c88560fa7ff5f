//! XCoin: order management and operator console for an intraday NSE desk.
//!
//! PostgreSQL is the single source of truth. This is the binary's library:
//! the wiring of the desk (`desk`, `engine::runner`, `broker::AnyBroker`,
//! `setup`, `replay`, `export`, `exchange`), and the workspace's crates under
//! the names the desk has always used for them: `domain` is `xcoin-model`,
//! `db` is `xcoin-db`, `config` is `xcoin-config`, and so on.

pub use xcoin_alerts as alerts;
pub use xcoin_config as config;
pub use xcoin_config::files;
pub use xcoin_console as console;
pub use xcoin_console::signals;
pub use xcoin_db as db;
pub use xcoin_db::report;
pub use xcoin_model as domain;
pub use xcoin_web::{dashboard, webhook};

pub mod broker;
pub mod desk;
pub mod engine;
pub mod exchange;
pub mod export;
pub mod replay;
pub mod setup;
#[cfg(feature = "test-support")]
pub use xcoin_testkit as testkit;
