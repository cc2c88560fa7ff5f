//! The desk's clock: the wall clock, shifted for tests.
//!
//! Every "now" that decides a trading day, stamps a row or times a rule is
//! taken here (and, in SQL, from `xcoin_now()`, which the database layer
//! shifts the same way), so a test run can be set to a Saturday, an exchange
//! holiday or one second before IST midnight and every process of the desk —
//! the test itself, the binaries it starts and the database — agrees on the
//! time. The shift comes from the hidden environment variable
//! [`SHIFT_VAR`] (milliseconds, signed), read once; it is for tests and
//! drills only, is not a configuration key, and is absent on a desk.
//! Durations (timeouts, rates, latencies) use `Instant` and are never shifted.

use std::sync::LazyLock;

use chrono::{DateTime, Duration, Utc};

/// `XCOIN_CLOCK_SHIFT_MS=<signed milliseconds>`: added to the wall clock.
pub const SHIFT_VAR: &str = "XCOIN_CLOCK_SHIFT_MS";

static SHIFT: LazyLock<Duration> =
    LazyLock::new(|| std::env::var(SHIFT_VAR).ok().and_then(|v| parse_shift(&v)).unwrap_or_else(Duration::zero));

/// A shift as [`SHIFT_VAR`] spells it; `None` for anything else (the clock is
/// then the wall clock: a typo never moves a desk's day).
pub fn parse_shift(text: &str) -> Option<Duration> {
    text.trim().parse::<i64>().ok().and_then(Duration::try_milliseconds)
}

#[cfg(any(test, feature = "test-support"))]
thread_local! {
    static PINNED: std::cell::Cell<Option<Duration>> = const { std::cell::Cell::new(None) };
}

/// How far the desk's clock is from the wall clock (zero on a desk).
pub fn shift() -> Duration {
    #[cfg(any(test, feature = "test-support"))]
    if let Some(pinned) = PINNED.with(std::cell::Cell::get) {
        return pinned;
    }
    *SHIFT
}

/// Tests: this thread's clock runs `shift` from the wall clock — and so does
/// every task of a current-thread runtime on it (a `#[tokio::test]`'s
/// engine, paper exchange and alerts), whatever the run's own clock.
#[cfg(any(test, feature = "test-support"))]
pub fn pin_this_thread(shift: Duration) {
    PINNED.with(|p| p.set(Some(shift)));
}

/// Now, on the desk's clock.
pub fn now() -> DateTime<Utc> {
    Utc::now() + shift()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shift_is_whole_signed_milliseconds_and_nothing_else() {
        assert_eq!(parse_shift("-86400000"), Some(Duration::days(-1)));
        assert_eq!(parse_shift(" 1500 "), Some(Duration::milliseconds(1500)));
        assert_eq!(parse_shift("1.5"), None);
        assert_eq!(parse_shift("tomorrow"), None);
        assert_eq!(parse_shift(""), None);
    }
}
