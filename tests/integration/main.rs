//! Integration tests against a real PostgreSQL (see `support`).

mod support;

mod changes;
mod chaos;
mod cli;
mod commands;
mod console;
mod corpus;
mod dashboard;
mod engine;
mod events;
mod exchange;
mod fills;
mod goals;
mod history;
mod isolation;
mod kill_switch;
mod live;
mod money;
mod operator;
mod order_cli;
mod orders;
mod positions;
mod procs;
mod raw;
mod reconciliation;
mod replay;
mod report;
mod roles;
mod safety;
mod schema;
mod smoke;
mod stats;
mod strategies;
mod tls;
