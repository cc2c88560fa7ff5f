//! The one retry pause the desk uses: it starts at a minimum and doubles
//! after each failure up to a maximum; a success starts it over. The Kite
//! client's reads, the ticker's reconnects, the change feed's reconnects
//! and the alerts' retries all pause by it.

use std::time::Duration;

/// A doubling pause between `min` and `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Backoff { min, max: max.max(min), next: min }
    }

    /// The pause to take now; the one after it is twice as long (at most
    /// `max`).
    pub fn next_pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        pause
    }

    /// After a success: the next pause is `min` again.
    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_doubles_to_its_cap_and_starts_over() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let pauses: Vec<u64> = (0..9).map(|_| b.next_pause().as_millis() as u64).collect();
        assert_eq!(pauses, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
        b.reset();
        assert_eq!(b.next_pause(), Duration::from_millis(500));
        let mut unbounded = Backoff::new(Duration::from_secs(1), Duration::MAX);
        for _ in 0..100 {
            unbounded.next_pause();
        }
        assert_eq!(unbounded.next_pause(), Duration::MAX);
    }
}
