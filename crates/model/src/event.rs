//! The desk's log: one line per thing the engine did or saw, kept in the
//! database (`desk_events`) so every console shows the same log.

use super::enums::string_enum;

string_enum!(
    /// How much an event matters: ERROR needs someone now, WARN soon.
    EventLevel, "level" { Info => "INFO", Warn => "WARN", Error => "ERROR" }
);

string_enum!(
    /// What an event is about.
    EventKind, "kind" {
        Engine => "ENGINE",
        Order => "ORDER",
        Fill => "FILL",
        Exit => "EXIT",
        KillSwitch => "KILL_SWITCH",
        Reconciliation => "RECONCILIATION",
        Strategy => "STRATEGY",
        Command => "COMMAND",
        Broker => "BROKER",
    }
);

/// How many days the desk log keeps (the schema refuses to delete younger).
pub const RETENTION_DAYS: i64 = 30;

/// The longest message an event may carry (a CHECK in the schema too).
pub const MAX_MESSAGE_CHARS: usize = 2000;
