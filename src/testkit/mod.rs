//! Stand-ins for the remote services XCoin talks to, for unit tests: an
//! HTTP server (Kite, Telegram) and a mail server, both on this machine.

pub mod http;
pub mod mail;
