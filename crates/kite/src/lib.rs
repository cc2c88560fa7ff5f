//! Zerodha Kite Connect v3: the pure half of the broker.
//!
//! [`model`] owns Kite's JSON — the response envelope and errors, orders,
//! trades, positions, margins, quotes and postbacks — and its mapping onto
//! [`BrokerOrder`](xcoin_broker::BrokerOrder), [`BrokerFill`](xcoin_broker::BrokerFill),
//! [`Holding`](xcoin_model::reconciliation::Holding) and
//! [`BrokerError`](xcoin_broker::BrokerError), plus the form fields of order
//! requests. [`ticker`] owns the WebSocket streaming protocol: binary
//! market-data frames, text messages and the subscription requests.
//!
//! Neither does I/O: the HTTP client and the WebSocket task feed them bytes
//! and send what they build, so every rule here is tested without a network.
//!
//! [`client`] is that HTTP client ([`KiteClient`]) and the [`KiteBroker`]
//! built on it, under the client-side rate limits of [`rate`]; [`login`] is
//! `xcoin kite login`, the daily exchange of a request token for an access
//! token. [`stream`] is the WebSocket task ([`TickerStream`]): it connects,
//! subscribes, reconnects, and publishes ticks, order updates and fills on the
//! broker's event stream. [`instruments`] reads Kite's instrument list, where
//! the ticker's instrument tokens come from.
//!
//! It implements `xcoin-broker`'s trait and uses the model and the
//! configuration; nothing above them.

pub mod client;
pub mod instruments;
pub mod live;
pub mod login;
pub mod model;
pub mod rate;
pub mod stream;
pub mod ticker;

pub use client::{ClientError, KiteBroker, KiteClient, KiteClientConfig, KiteSession, session_checksum};

pub use instruments::{InstrumentsError, KiteInstrument, parse_instruments, token_map};
pub use live::live_session;
pub use model::{
    Depth, DepthEntry, KiteAvailableMargin, KiteError, KiteErrorType, KiteLtp, KiteMargins, KiteOrder, KiteOrderId,
    KitePosition, KitePositions, KiteQuote, KiteSegmentMargin, KiteTrade, KiteUtilisedMargin, MapError, Ohlc,
    checksum_input, map_status, modify_form, parse_json, parse_response, place_form, postback_checksum_input,
};
pub use stream::{TickerConfig, TickerState, TickerStatus, TickerStream};
pub use ticker::{
    KiteText, KiteTick, TickMode, TickerError, mode_message, parse_binary, parse_text, subscribe_message,
    unsubscribe_message,
};
