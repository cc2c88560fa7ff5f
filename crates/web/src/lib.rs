//! The desk's HTTP port: the read-only dashboard (health, Prometheus
//! metrics, today as JSON) and the signal webhook that takes orders from
//! outside through the same command queue as the console.
//!
//! It reads the database and the engine's health; it never calls the engine.
//! The binary wires it beside the engine (`engine::runner`), so the engine
//! crate knows nothing of HTTP.

pub mod dashboard;
pub mod webhook;
