//! The trading calendar. "Today" is the trading day in the market's time zone
//! (Asia/Kolkata for NSE and BSE), never the UTC date: 00:30 IST is 19:00 UTC
//! the day before.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// Where the market is at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarketState {
    /// The pre-open call auction, 09:00–09:15 IST.
    PreOpen,
    /// Continuous trading, 09:15–15:30 IST.
    Open,
    /// Before the pre-open, after the close, weekends and holidays.
    Closed,
}

impl fmt::Display for MarketState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            MarketState::PreOpen => "pre-open",
            MarketState::Open => "open",
            MarketState::Closed => "closed",
        })
    }
}

/// Market hours and holidays in the market's time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketCalendar {
    pub timezone: Tz,
    pub pre_open: NaiveTime,
    pub open: NaiveTime,
    pub close: NaiveTime,
    pub holidays: BTreeSet<NaiveDate>,
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
}

/// NSE's trading holidays on weekdays (the exchange's circular), shipped in
/// `assets/holidays.csv`: `date,weekday,holiday`.
pub const HOLIDAYS_CSV: &str = include_str!("../../../assets/holidays.csv");

/// The exchange's holidays from [`HOLIDAYS_CSV`].
pub fn exchange_holidays() -> BTreeSet<NaiveDate> {
    HOLIDAYS_CSV.lines().skip(1).filter_map(|l| l.split(',').next()?.parse().ok()).collect()
}

impl Default for MarketCalendar {
    /// NSE cash market: pre-open 09:00, open 09:15, close 15:30 Asia/Kolkata,
    /// closed on the exchange's holidays.
    fn default() -> Self {
        MarketCalendar {
            timezone: chrono_tz::Asia::Kolkata,
            pre_open: hm(9, 0),
            open: hm(9, 15),
            close: hm(15, 30),
            holidays: exchange_holidays(),
        }
    }
}

impl MarketCalendar {
    /// The trading day an instant belongs to.
    pub fn trading_day(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.timezone).date_naive()
    }

    /// Today's trading day.
    pub fn today(&self) -> NaiveDate {
        self.trading_day(crate::clock::now())
    }

    /// The instant a local wall-clock time on `day` happens.
    pub fn instant(&self, day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        self.timezone
            .from_local_datetime(&day.and_time(time))
            .earliest()
            .expect("market time zones used here have no gaps at market times")
            .with_timezone(&Utc)
    }

    /// `[start, end)` of a trading day as UTC instants.
    pub fn day_bounds(&self, day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
        let midnight = NaiveTime::MIN;
        (self.instant(day, midnight), self.instant(day.succ_opt().expect("date in range"), midnight))
    }

    /// Weekdays that are not holidays.
    pub fn is_trading_day(&self, day: NaiveDate) -> bool {
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&day)
    }

    /// The last trading day on or before `day`: `day` itself when the market
    /// trades on it, else the trading day before the weekend or holiday.
    pub fn last_trading_day(&self, day: NaiveDate) -> NaiveDate {
        let mut d = day;
        while !self.is_trading_day(d) {
            d = d.pred_opt().expect("date in range");
        }
        d
    }

    pub fn state(&self, at: DateTime<Utc>) -> MarketState {
        let local = at.with_timezone(&self.timezone);
        if !self.is_trading_day(local.date_naive()) {
            return MarketState::Closed;
        }
        let t = local.time();
        if t >= self.open && t < self.close {
            MarketState::Open
        } else if t >= self.pre_open && t < self.open {
            MarketState::PreOpen
        } else {
            MarketState::Closed
        }
    }

    /// The local wall-clock time, for the console's clock.
    pub fn local(&self, at: DateTime<Utc>) -> DateTime<Tz> {
        at.with_timezone(&self.timezone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_exchanges_holidays_are_shipped() {
        let h = exchange_holidays();
        assert_eq!(h.len(), 16, "every line of assets/holidays.csv is read");
        let cal = MarketCalendar::default();
        assert!(!cal.is_trading_day(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()), "Guru Nanak Jayanti");
        assert!(cal.is_trading_day(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()));
    }

    #[test]
    fn the_last_trading_day_skips_weekends_and_holidays() {
        let cal = MarketCalendar::default();
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(cal.last_trading_day(d("2026-12-04")), d("2026-12-04"), "a Friday is its own");
        assert_eq!(cal.last_trading_day(d("2026-12-05")), d("2026-12-04"), "Saturday: Friday");
        assert_eq!(cal.last_trading_day(d("2026-12-06")), d("2026-12-04"), "Sunday: Friday");
        // Guru Nanak Jayanti (Tuesday 2026-11-24): the Monday before.
        assert_eq!(cal.last_trading_day(d("2026-11-24")), d("2026-11-23"));
    }

    #[test]
    fn today_is_the_ist_date_not_the_utc_date() {
        let cal = MarketCalendar::default();
        // 18:29 UTC on the 24th is 23:59 IST on the 24th; 18:31 UTC is 00:01 IST on the 25th.
        assert_eq!(cal.trading_day(utc("2026-11-24T18:29:00Z")), NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
        assert_eq!(cal.trading_day(utc("2026-11-24T18:31:00Z")), NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
        let (start, end) = cal.day_bounds(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
        assert_eq!((start, end), (utc("2026-11-24T18:30:00Z"), utc("2026-11-25T18:30:00Z")));
    }

    #[test]
    fn market_states_through_a_day() {
        let mut cal = MarketCalendar::default();
        // Wednesday 25 Nov 2026, times in IST.
        let at = |t: &str| utc(&format!("2026-11-25T{t}+05:30"));
        assert_eq!(cal.state(at("08:59:59")), MarketState::Closed);
        assert_eq!(cal.state(at("09:00:00")), MarketState::PreOpen);
        assert_eq!(cal.state(at("09:15:00")), MarketState::Open);
        assert_eq!(cal.state(at("15:29:59")), MarketState::Open);
        assert_eq!(cal.state(at("15:30:00")), MarketState::Closed);
        // Saturday.
        assert_eq!(cal.state(utc("2026-11-28T10:00:00+05:30")), MarketState::Closed);
        cal.holidays.insert(NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
        assert_eq!(cal.state(at("10:00:00")), MarketState::Closed);
        assert_eq!(MarketState::PreOpen.to_string(), "pre-open");
    }
}
