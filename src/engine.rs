//! The engine (`xcoin-engine`) and what runs it as a process: [`runner`]
//! builds the configured broker, the alert channels and the dashboard around
//! it. The engine crate knows none of them but the broker trait and alerts.

pub use xcoin_engine::*;

pub mod runner;
