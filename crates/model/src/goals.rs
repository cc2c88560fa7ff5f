//! Daily goals, checked on every fill: a profit target for the day, a most
//! trades, a most losing round trips in a row, and a give-back guard (the
//! day's net fell a set share below its peak). A goal reached is recorded
//! once per day and scope, and acts as configured.

use rust_decimal::Decimal;

use super::enums::string_enum;
use super::money::rupees;

string_enum!(
    /// Which goal.
    Goal, "goal" {
        ProfitTarget => "PROFIT_TARGET",
        MaxTrades => "MAX_TRADES",
        LosingStreak => "LOSING_STREAK",
        GiveBack => "GIVE_BACK",
    }
);

string_enum!(
    /// What a goal reached does: tell the desk; also pause the automated
    /// strategies in its scope (as the kill switch does, without exiting);
    /// or exit their positions and pause them.
    GoalAction, "action" { Notify => "notify", Pause => "pause", ExitPause => "exit_pause" }
);

/// A goal that says nothing else only notifies. (Not derived: the closed
/// vocabularies come from one macro.)
#[allow(clippy::derivable_impls)]
impl Default for GoalAction {
    fn default() -> Self {
        GoalAction::Notify
    }
}

/// One scope's goals, in rupees and counts (`None`: not set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoalLimits {
    pub profit_target: Option<Decimal>,
    pub max_trades: Option<i64>,
    pub max_losing_streak: Option<i64>,
    /// Percent of the day's peak net P&L.
    pub give_back_pct: Option<Decimal>,
    pub action: GoalAction,
}

impl GoalLimits {
    pub fn is_empty(&self) -> bool {
        self.profit_target.is_none()
            && self.max_trades.is_none()
            && self.max_losing_streak.is_none()
            && self.give_back_pct.is_none()
    }
}

/// Where a scope's day stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub net: Decimal,
    /// The best net P&L of the day so far (0 at the open).
    pub peak: Decimal,
    pub trades: i64,
    /// Losing round trips in a row, the latest last.
    pub losing_streak: i64,
}

/// The goals `p` has reached, each with its figures in words.
pub fn reached(limits: &GoalLimits, p: &Progress) -> Vec<(Goal, String)> {
    let mut out = Vec::new();
    if let Some(target) = limits.profit_target
        && p.net >= target
    {
        out.push((Goal::ProfitTarget, format!("net {} reached the target {}", rupees(p.net), rupees(target))));
    }
    if let Some(max) = limits.max_trades
        && p.trades >= max
    {
        out.push((Goal::MaxTrades, format!("{} trades, the most for the day is {max}", p.trades)));
    }
    if let Some(max) = limits.max_losing_streak
        && p.losing_streak >= max
    {
        out.push((Goal::LosingStreak, format!("{} losing round trips in a row, the most is {max}", p.losing_streak)));
    }
    if let Some(pct) = limits.give_back_pct
        && p.peak > Decimal::ZERO
        && p.net <= p.peak * (Decimal::ONE_HUNDRED - pct) / Decimal::ONE_HUNDRED
    {
        out.push((
            Goal::GiveBack,
            format!("net {} gave back {pct}% or more of the day's peak {}", rupees(p.net), rupees(p.peak)),
        ));
    }
    out
}

/// Losing round trips in a row at the end of `trips` (each net of charges).
pub fn losing_streak(trips: &[Decimal]) -> i64 {
    trips.iter().rev().take_while(|n| **n < Decimal::ZERO).count() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn limits() -> GoalLimits {
        GoalLimits {
            profit_target: Some(dec!(2000)),
            max_trades: Some(40),
            max_losing_streak: Some(3),
            give_back_pct: Some(dec!(50)),
            action: GoalAction::Notify,
        }
    }

    #[test]
    fn each_goal_fires_at_its_line_and_not_before() {
        let p = Progress { net: dec!(1999.99), peak: dec!(1999.99), trades: 39, losing_streak: 2 };
        assert!(reached(&limits(), &p).is_empty());
        let p = Progress { net: dec!(2000), peak: dec!(2000), trades: 40, losing_streak: 3 };
        let goals: Vec<Goal> = reached(&limits(), &p).into_iter().map(|(g, _)| g).collect();
        assert_eq!(goals, [Goal::ProfitTarget, Goal::MaxTrades, Goal::LosingStreak]);
        let p = Progress { net: dec!(900), peak: dec!(1800), trades: 1, losing_streak: 0 };
        assert_eq!(
            reached(&limits(), &p),
            [(Goal::GiveBack, "net ₹900.00 gave back 50% or more of the day's peak ₹1,800.00".to_string())]
        );
        assert!(
            reached(&limits(), &Progress { net: dec!(-10), ..Progress::default() }).is_empty(),
            "no peak, no give-back"
        );
    }

    #[test]
    fn a_streak_counts_the_latest_losses_only() {
        assert_eq!(losing_streak(&[dec!(-1), dec!(5), dec!(-2), dec!(-3)]), 2);
        assert_eq!(losing_streak(&[dec!(-1), dec!(0.5)]), 0);
    }
}
