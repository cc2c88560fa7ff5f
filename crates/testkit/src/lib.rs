//! Stand-ins for the remote services XCoin talks to, on this machine: an
//! HTTP server (Kite, Telegram) and a mail server (STARTTLS and TLS, with a
//! certificate made for the test), and the loader of Kite's response samples.
//! A dev-dependency of the crates that talk to those services, and of the
//! integration tests through the `test-support` feature; never in a release
//! build.

pub mod http;
pub mod mail;
