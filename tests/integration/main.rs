//! Integration tests against a real PostgreSQL (see `support`).

mod support;

mod changes;
mod chaos;
mod cli;
mod commands;
mod console;
mod corpus;
mod engine;
mod fills;
mod history;
mod isolation;
mod kill_switch;
// The unit tests' stand-in for Kite's REST API, which they use all of.
#[allow(dead_code)]
#[path = "../../src/testkit/http.rs"]
mod kite_http;
mod live;
mod money;
mod operator;
mod orders;
mod positions;
mod procs;
mod raw;
mod reconciliation;
mod safety;
mod schema;
mod smoke;
mod stats;
