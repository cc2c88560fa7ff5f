//! The trading day's own events: daily goals on every fill (where each
//! scope stands, the goals it reached recorded once a day, an alert, a line
//! in the desk log, and the configured action), and the end-of-day report
//! sent once through the alert channels.

use rust_decimal::Decimal;

use super::{Engine, Result};
use xcoin_alerts::Alert;
use xcoin_broker::Broker;
use xcoin_model::event::{EventKind, EventLevel};
use xcoin_model::goals::{GoalAction, reached};

/// When the end-of-day report goes out at the latest (IST), if the desk was
/// not flat after the square-off before.
pub const REPORT_AT: (u32, u32) = (15, 35);

/// How the desk's own scope is named in `goal_events`.
pub const DESK: &str = "desk";

impl<B: Broker> Engine<B> {
    /// Checks every configured goal after a fill. A goal already recorded
    /// today does nothing again; a failure is logged and trading goes on.
    pub async fn check_goals(&mut self) {
        if let Err(e) = self.goals_cycle().await {
            tracing::warn!(error = %e, "goals not checked");
        }
    }

    async fn goals_cycle(&mut self) -> Result<()> {
        if self.cfg.goals.is_empty() {
            return Ok(());
        }
        let strategies = self.db.all_strategies().await?;
        let today = self.cfg.calendar.today();
        for (scope, limits) in self.cfg.goals.clone() {
            let strategy = match &scope {
                None => None,
                Some(name) => match strategies.iter().find(|s| &s.name == name) {
                    Some(s) => Some((s.id, s.name.as_str())),
                    None => continue, // not registered (yet): nothing traded under it
                },
            };
            let mut progress = self.db.goal_progress(strategy).await?;
            if let Some(name) = &scope {
                let peak = self.strategy_peaks.entry(name.clone()).or_insert((today, Decimal::ZERO));
                if peak.0 != today {
                    *peak = (today, Decimal::ZERO);
                }
                peak.1 = peak.1.max(progress.net);
                progress.peak = peak.1;
            }
            let name = scope.as_deref().unwrap_or(DESK);
            for (goal, figures) in reached(&limits, &progress) {
                let Some(event) = self.db.record_goal(name, goal, &figures, limits.action).await? else { continue };
                tracing::warn!(scope = name, %goal, %figures, action = %limits.action, "daily goal reached");
                self.alerts.raise(Alert::goal_reached(name, goal.as_str(), &figures, limits.action.as_str()));
                let line = format!("daily goal {goal} reached ({name}): {figures}; action {}", limits.action);
                self.journal(EventLevel::Warn, EventKind::Strategy, line);
                self.act_on_goal(strategy.map(|(id, _)| id), event.action, &format!("goal {goal}: {figures}")).await?;
            }
        }
        Ok(())
    }

    /// Pauses (and for exit_pause first exits) the scope's automated
    /// strategies: the whole desk's, or the one strategy's.
    async fn act_on_goal(&mut self, strategy: Option<i64>, action: GoalAction, why: &str) -> Result<()> {
        match (action, strategy) {
            (GoalAction::Notify, _) => {}
            (GoalAction::Pause, None) => self.pause_automated_strategies("goal", why).await?,
            (GoalAction::ExitPause, None) => {
                self.exit_all("goal", why).await?;
            }
            (action, Some(id)) => {
                // The operators' own strategy is never paused by a goal: it is told.
                if self.db.get_strategy(id).await?.strategy_type == xcoin_model::strategy::StrategyType::Manual {
                    return Ok(());
                }
                if action == GoalAction::ExitPause {
                    for p in self.db.open_positions().await?.into_iter().filter(|p| p.strategy_id == id) {
                        if let Err(e) = self.exit_position(p.id, "goal").await {
                            tracing::error!(position = p.id, error = %e, "goal: exit not placed");
                        }
                    }
                }
                let reason: String = why.chars().take(xcoin_model::command::MAX_TEXT_CHARS).collect();
                let s = self.db.pause_strategy(id, "goal", &reason).await?;
                self.strategy_changed(&s, true, "goal", &reason);
            }
        }
        Ok(())
    }

    /// Sends the day's report through the alert channels once: after the
    /// square-off once no intraday position is open, or at 15:35 IST. Once
    /// across restarts too: the desk log keeps that it went.
    pub async fn report_if_due(&mut self, now: chrono::DateTime<chrono::Utc>) -> Result<bool> {
        let calendar = self.cfg.calendar.clone();
        let day = calendar.trading_day(now);
        if self.reported == Some(day) || !calendar.is_trading_day(day) {
            return Ok(false);
        }
        let late =
            calendar.local(now).time() >= chrono::NaiveTime::from_hms_opt(REPORT_AT.0, REPORT_AT.1, 0).expect("a time");
        let flat =
            self.squared_off == Some(day) && !self.db.open_positions().await?.iter().any(|p| p.product.is_intraday());
        if !late && !flat {
            return Ok(false);
        }
        let marker = format!("end-of-day report for {day} sent");
        self.reported = Some(day);
        self.flush_journal().await;
        if self.db.recent_events(200).await?.iter().any(|e| e.message == marker) {
            return Ok(false);
        }
        let report = xcoin_db::report::day_report(&self.db, &calendar, day).await?;
        self.alerts.raise(Alert::day_report(day, &report.text()));
        self.journal(EventLevel::Info, EventKind::Engine, marker);
        self.flush_journal().await;
        Ok(true)
    }
}
