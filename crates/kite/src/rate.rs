//! Client-side rate limits, so Kite never has to answer 429.
//!
//! [`RateLimiter`] keeps a sliding window per limit: the send times of the
//! last `limit` requests. A request may go when, in every window, fewer than
//! `limit` requests went within the last `period`; otherwise it sleeps until
//! the oldest of them leaves that window. Waiters queue on a fair lock, so
//! requests go out in the order they asked, and nobody polls.
//!
//! [`DailyCap`] counts order placements per IST trading day. Waiting for the
//! next day is no use to an intraday desk, so a placement past the cap is
//! refused at once instead of queued.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::NaiveDate;
use tokio::sync::Mutex;
use tokio::time::{Instant, sleep_until};

/// Kite's order limits (placements, modifications and cancellations together).
pub const ORDER_LIMITS: &[(usize, Duration)] = &[(10, Duration::from_secs(1)), (400, Duration::from_secs(60))];
/// Kite's limit on quote requests (`/quote`, `/quote/ltp`, `/quote/ohlc`).
pub const QUOTE_LIMITS: &[(usize, Duration)] = &[(1, Duration::from_secs(1))];
/// Kite's limit on every other request.
pub const OTHER_LIMITS: &[(usize, Duration)] = &[(10, Duration::from_secs(1))];
pub use xcoin_model::order::KITE_ORDERS_PER_DAY as ORDERS_PER_DAY;

#[derive(Debug)]
struct Window {
    limit: usize,
    period: Duration,
    /// Send times of at most the last `limit` requests, oldest first.
    sent: VecDeque<Instant>,
}

impl Window {
    /// `None` when a request may go at `now`, else the instant it may.
    fn ready_at(&mut self, now: Instant) -> Option<Instant> {
        while self.sent.front().is_some_and(|&t| t + self.period <= now) {
            self.sent.pop_front();
        }
        if self.sent.len() < self.limit { None } else { self.sent.front().map(|&t| t + self.period) }
    }
}

/// At most `limit` requests in any `period`, for each `(limit, period)` given.
#[derive(Debug)]
pub struct RateLimiter {
    windows: Mutex<Vec<Window>>,
}

impl RateLimiter {
    /// # Panics
    /// When a limit is zero: nothing could ever be sent.
    pub fn new(limits: &[(usize, Duration)]) -> Self {
        assert!(limits.iter().all(|&(limit, _)| limit > 0), "a rate limit of zero requests");
        let windows = limits
            .iter()
            .map(|&(limit, period)| Window { limit, period, sent: VecDeque::with_capacity(limit) })
            .collect();
        RateLimiter { windows: Mutex::new(windows) }
    }

    /// Waits until one more request fits every window, then counts it as sent.
    /// The lock is held while sleeping: later callers queue behind this one
    /// (tokio's mutex is first come, first served), and a caller that gives
    /// up while waiting leaves no trace.
    pub async fn acquire(&self) {
        let mut windows = self.windows.lock().await;
        loop {
            let now = Instant::now();
            // Every window must be asked, so each drops what has left it.
            let ready_at = windows.iter_mut().filter_map(|w| w.ready_at(now)).max();
            match ready_at {
                None => {
                    for w in windows.iter_mut() {
                        w.sent.push_back(now);
                    }
                    return;
                }
                Some(at) => sleep_until(at).await,
            }
        }
    }
}

/// At most `limit` order placements per trading day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyCap {
    limit: u32,
    day: Option<NaiveDate>,
    used: u32,
}

impl DailyCap {
    pub fn new(limit: u32) -> Self {
        DailyCap { limit, day: None, used: 0 }
    }

    /// Counts one placement on `today`; `false` (counting nothing) when the
    /// day's cap is already reached. A new day starts from zero.
    pub fn take(&mut self, today: NaiveDate) -> bool {
        if self.day != Some(today) {
            self.day = Some(today);
            self.used = 0;
        }
        if self.used >= self.limit {
            return false;
        }
        self.used += 1;
        true
    }

    /// Counts a placement sent past the limit (an exit, which is never held
    /// back): Kite counts it too.
    pub fn count_past_limit(&mut self) {
        self.used += 1;
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Requests counted on `today` (0 on a day not yet started).
    pub fn used_on(&self, today: NaiveDate) -> u32 {
        if self.day == Some(today) { self.used } else { 0 }
    }

    /// Starts `today` with `used` placements already made (by an earlier
    /// run of the engine), so the cap holds across restarts.
    pub fn already_used(&mut self, today: NaiveDate, used: u32) {
        if self.day != Some(today) {
            self.day = Some(today);
            self.used = 0;
        }
        self.used = self.used.max(used);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Milliseconds since `start` at which each of `n` acquisitions in a row was granted.
    async fn grants(limiter: &RateLimiter, n: usize) -> Vec<u128> {
        let start = Instant::now();
        let mut at = Vec::with_capacity(n);
        for _ in 0..n {
            limiter.acquire().await;
            at.push(start.elapsed().as_millis());
        }
        at
    }

    #[tokio::test(start_paused = true)]
    async fn ten_a_second_go_at_once_and_the_eleventh_waits_for_the_first_to_leave() {
        let limiter = RateLimiter::new(OTHER_LIMITS);
        let at = grants(&limiter, 25).await;
        assert_eq!(&at[..10], &[0; 10]);
        assert_eq!(&at[10..20], &[1000; 10]);
        assert_eq!(&at[20..], &[2000; 5]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_slides_rather_than_resetting_each_second() {
        let limiter = RateLimiter::new(&[(2, Duration::from_secs(1))]);
        let start = Instant::now();
        limiter.acquire().await;
        tokio::time::sleep(600 * MS).await;
        limiter.acquire().await;
        // Full: the third waits until the first is a second old (t = 1000),
        // the fourth until the second is (t = 1600).
        limiter.acquire().await;
        assert_eq!(start.elapsed(), 1000 * MS);
        limiter.acquire().await;
        assert_eq!(start.elapsed(), 1600 * MS);
        // Idle for long enough, both slots are free again.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let idle = Instant::now();
        limiter.acquire().await;
        limiter.acquire().await;
        assert_eq!(idle.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn the_per_minute_order_limit_holds_the_401st_order_until_the_first_is_a_minute_old() {
        let limiter = RateLimiter::new(ORDER_LIMITS);
        let at = grants(&limiter, 410).await;
        // Ten a second: the 400th goes in the 40th second (t = 39 s).
        assert_eq!(at[9], 0);
        assert_eq!(at[10], 1000);
        assert_eq!(at[399], 39_000);
        // The per-second window would allow the 401st at t = 40 s; the
        // per-minute one holds it until the first order (t = 0) is 60 s old,
        // and then the next nine, sent at t = 0 too, leave with it.
        assert_eq!(&at[400..410], &[60_000; 10]);
    }

    #[tokio::test(start_paused = true)]
    async fn quotes_go_once_a_second() {
        let limiter = RateLimiter::new(QUOTE_LIMITS);
        assert_eq!(grants(&limiter, 4).await, vec![0, 1000, 2000, 3000]);
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_are_served_in_the_order_they_asked() {
        let limiter = Arc::new(RateLimiter::new(&[(1, Duration::from_secs(1))]));
        let start = Instant::now();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for i in 0..4 {
            let (limiter, tx) = (limiter.clone(), tx.clone());
            tokio::spawn(async move {
                limiter.acquire().await;
                tx.send((i, start.elapsed().as_millis())).unwrap();
            });
            // Each task reaches the lock before the next is spawned.
            tokio::task::yield_now().await;
        }
        drop(tx);
        let mut order = Vec::new();
        while let Some(grant) = rx.recv().await {
            order.push(grant);
        }
        assert_eq!(order, vec![(0, 0), (1, 1000), (2, 2000), (3, 3000)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_that_gives_up_while_waiting_uses_no_slot() {
        let limiter = RateLimiter::new(&[(1, Duration::from_secs(1))]);
        let start = Instant::now();
        limiter.acquire().await;
        // Gives up after 300 ms of the 1000 ms wait. (A timeout's error has no
        // value to compare: that it is one, at 300 ms, is what says it was
        // still waiting.)
        assert!(tokio::time::timeout(300 * MS, limiter.acquire()).await.is_err());
        assert_eq!(start.elapsed(), 300 * MS);
        limiter.acquire().await;
        assert_eq!(start.elapsed(), 1000 * MS);
    }

    #[test]
    fn the_daily_cap_refuses_past_the_limit_and_starts_again_the_next_day() {
        let day = |d| NaiveDate::from_ymd_opt(2025, 3, d).unwrap();
        let mut cap = DailyCap::new(3);
        assert_eq!((0..4).map(|_| cap.take(day(3))).collect::<Vec<_>>(), [true, true, true, false]);
        assert!(!cap.take(day(3)));
        assert!(cap.take(day(4)));
        assert_eq!(cap, DailyCap { limit: 3, day: Some(day(4)), used: 1 });
    }

    #[test]
    fn placements_made_before_a_restart_count_toward_the_day() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let mut cap = DailyCap::new(3);
        cap.already_used(today, 2);
        assert!(cap.take(today));
        assert!(!cap.take(today), "two before the restart and one after fill the cap of three");
        assert!(cap.take(today.succ_opt().unwrap()), "the next day starts from zero");
    }
}
