//! Kite Connect v3 JSON: the response envelope, the records Kite returns
//! (orders and order history, trades, positions, margins, quotes, postbacks),
//! their mapping onto our broker types, the form fields of order requests, and
//! Kite's errors. Nothing here does I/O: the HTTP client hands in bodies and
//! status codes and sends the forms built here.
//!
//! Money is exact. Kite sends prices as JSON numbers (`1439.9`), which
//! serde_json reads as `f64` before rust_decimal sees them. [`parse_response`]
//! and [`parse_json`] therefore first rewrite every number literal that has a
//! fraction or an exponent as a JSON string, which `Decimal` reads digit for
//! digit; integers stay numbers. Read Kite JSON through them, not through
//! `serde_json::from_str` directly.
//!
//! Times: Kite's timestamps are IST wall-clock strings (`"2021-05-31 09:18:57"`,
//! sometimes null) and become `DateTime<Utc>` as they are read.
//!
//! Records are read leniently (exchange, product, status… stay text) so that
//! one MCX order does not make the whole order book unreadable; the mapping
//! onto our types is where an unsupported value becomes a [`MapError`] naming
//! the record, the field and the value.
//!
//! Files: `envelope` (reading JSON exactly, errors), `records`, `mapping`,
//! `forms`.

mod envelope;
mod forms;
mod mapping;
mod records;

pub use envelope::*;
pub use forms::*;
pub use mapping::*;
pub use records::*;

#[cfg(test)]
mod tests;
