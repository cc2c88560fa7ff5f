//! Stand-ins for the remote services XCoin talks to, on this machine: an
//! HTTP server (Kite, Telegram), for unit tests and, through the
//! `test-support` feature, the integration tests; and a mail server, for
//! unit tests only.

pub mod http;
#[cfg(test)]
pub mod mail;
