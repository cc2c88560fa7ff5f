//! The health of the broker's live feed (Kite's ticker), as the engine
//! publishes it and the console shows it.

use chrono::{DateTime, Utc};

/// Where the ticker stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickerState {
    /// The first connection is being made.
    Connecting,
    Connected,
    /// The connection was lost or could not be made; waiting or connecting again.
    Reconnecting,
    /// Told to stop.
    Stopped,
    /// Kite refused the access token: stopped until the operator logs in again.
    SessionExpired,
}

/// What the engine and the console can read about the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickerStatus {
    pub state: TickerState,
    /// When Kite last sent anything, a heartbeat included.
    pub last_message_at: Option<DateTime<Utc>>,
    /// Connections made so far (handshakes that succeeded).
    pub connections: u32,
    /// Why the last connection ended or failed.
    pub last_error: Option<String>,
}
