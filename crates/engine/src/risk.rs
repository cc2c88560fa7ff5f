//! The real-time risk monitor and the kill switch.
//!
//! On a timer (and only when prices moved or fills landed) the monitor marks
//! open positions to their last price and writes today's P&L — one call per
//! cycle, not one per tick — then:
//! * exits a position whose stop loss or target the price reached, or whose
//!   unrealised loss passed the per-position limit;
//! * activates the kill switch when today's net loss or the drawdown from
//!   today's peak passes its limit;
//! * squares off MIS positions at the configured time (default 15:15 IST),
//!   before the broker's own auto square-off.
//!
//! Targets are the engine's: it exits at market when the price reaches
//! them. A stop rests at the broker as an SL-M order (see
//! [`super::stops`]); the monitor exits at the stop itself only while none
//! rests (`risk.stop_at_exchange` off, or the broker refused or ended it).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::{Engine, Result};
use xcoin_alerts::Alert;
use xcoin_broker::Broker;
use xcoin_db::kill_switch::{Activation, KillSwitchEvent};
use xcoin_model::command::KillSwitchTrigger;
use xcoin_model::event::{EventKind, EventLevel};
use xcoin_model::money::paisa;
use xcoin_model::order::Exchange;
use xcoin_model::position::Position;

/// How often the day's counts are recounted when no fill asks sooner.
pub const STATS_RECOUNT: std::time::Duration = std::time::Duration::from_secs(1);

/// Why the monitor exits a position, if it does. A stop that rests at the
/// exchange (`stop_rests`) is the exchange's to fill, not the monitor's.
pub fn exit_reason(p: &Position, max_loss: Decimal, stop_rests: bool) -> Option<String> {
    let last = p.last_price?;
    let long = p.quantity() > 0;
    if let Some(stop) = p.stop_loss
        && !stop_rests
        && ((long && last <= stop) || (!long && last >= stop))
    {
        return Some(format!("stop loss {} reached at {}", paisa(stop), paisa(last)));
    }
    if let Some(target) = p.take_profit
        && ((long && last >= target) || (!long && last <= target))
    {
        return Some(format!("target {} reached at {}", paisa(target), paisa(last)));
    }
    if p.unrealized_pnl <= -max_loss {
        return Some(format!(
            "position loss {} reached the limit {}",
            xcoin_model::to_paisa(-p.unrealized_pnl),
            xcoin_model::to_paisa(max_loss)
        ));
    }
    None
}

/// Marks each position to its instrument's price in `prices` (sorted by
/// instrument, as [`Engine::mark_positions`] sends them), by the database
/// mark's rule; a position whose instrument is not there keeps its mark.
pub fn mark_all(positions: &mut [Position], prices: &[(String, Exchange, Decimal)]) {
    for p in positions {
        let found = prices.binary_search_by(|(s, e, _)| (s.as_str(), *e).cmp(&(p.symbol.as_str(), p.exchange)));
        if let Ok(i) = found {
            p.mark(prices[i].2);
        }
    }
}

impl<B: Broker> Engine<B> {
    /// One risk cycle. Errors are logged; the next cycle tries again.
    pub async fn monitor_risk(&mut self) {
        self.trading_cycle().await;
        if let Err(e) = self.report_if_due(xcoin_model::clock::now()).await {
            tracing::warn!(error = %e, "end-of-day report not sent");
        }
    }

    /// Marks positions, exits what reached its stop or target, checks the
    /// loss limits, then asks the strategies (the clock-free part of a
    /// cycle, which a replay drives on recorded time).
    pub async fn trading_cycle(&mut self) {
        self.write_funds().await;
        let seen = match self.risk_cycle().await {
            Ok(seen) => Some(seen),
            Err(e) => {
                tracing::error!(error = %e, "risk cycle failed");
                None
            }
        };
        let killed = seen.as_ref().map(|s| s.kill_switch_active);
        if let Err(e) = self.run_strategies_seen(seen).await {
            tracing::warn!(error = %e, "strategies");
        }
        if let Err(e) = self.paper_book_cycle(killed).await {
            tracing::warn!(error = %e, "paper book");
        }
    }

    /// The risk half of a cycle; returns what it read of the desk (the open
    /// positions, marked, the kill switch and, unless this half acted, the
    /// working orders and active strategies) for the strategies' half. Long
    /// by design: the cycle's steps in the order they must run (mark and
    /// read, stops, loss limits, kill switch, square-off), each a call;
    /// splitting it would hide that order.
    async fn risk_cycle(&mut self) -> Result<super::strategies::Seen> {
        // The loss limits need only the day's P&L, written each cycle a
        // position moved; the counts (orders, trades, wins, order-to-trade)
        // are for the screen, recounted after a fill and otherwise once a
        // second, so a busy day's counting never runs twice a second.
        let filled = self.risk_check_due;
        let recount = filled || self.stats_counted.is_none_or(|at| at.elapsed() >= STATS_RECOUNT);
        let prices = self.moved_prices();
        let writes = filled || !prices.is_empty();
        // One round trip: the marks and today's row in one call (one
        // commit), and beside it, each on a connection of its own, the reads
        // the cycle decides on. A read may run before the mark commits or
        // after; the positions take this cycle's prices below by the mark's
        // own rule, so they are the same either way.
        let db = &self.db;
        let asks = !self.strategies.is_empty();
        let joined = tokio::try_join!(
            async { if writes { db.mark_and_total(&prices, filled, recount).await } else { Ok(None) } },
            db.open_positions(),
            db.kill_switch_state(),
            async {
                if asks { Ok(Some(tokio::try_join!(db.active_orders(), db.active_strategies())?)) } else { Ok(None) }
            },
        );
        let (stats, mut positions, kill_switch, for_strategies) = match joined {
            Ok(joined) => joined,
            Err(e) => {
                // Marked again by the next cycle, not only when they move again.
                self.dirty.extend(prices.into_iter().map(|(symbol, exchange, _)| (symbol, exchange)));
                return Err(e.into());
            }
        };
        mark_all(&mut positions, &prices);
        // Asked again by every cycle until one has written and read what the fill changed.
        self.risk_check_due = false;
        if recount && stats.is_some() {
            self.stats_counted = Some(std::time::Instant::now());
        }
        let mut acted = false;
        // An activation this engine could not finish (the database went away
        // mid-way) is finished before the cycle acts on anything else.
        if kill_switch.flattening() {
            self.finish_kill_switch().await?;
            acted = true;
        }
        let mut kill_switch_active = kill_switch.active;
        // Nothing moved and no fill: the stops, targets and limits stand as
        // the last cycle checked them.
        if let Some(stats) = stats {
            acted |= self.exit_what_reached(&positions).await;
            let loss = -stats.net_pnl;
            self.alert_daily_loss(loss);
            if !kill_switch_active {
                kill_switch_active = self.check_loss_limits(loss, &stats).await?;
            }
        }
        let squared_off = self.squared_off;
        self.square_off_if_due(xcoin_model::clock::now()).await?;
        acted |= self.squared_off != squared_off;
        // What the orders and strategies were before this half acted is not
        // what the strategies decide on: they read them again.
        let working = if acted { None } else { for_strategies };
        Ok(super::strategies::Seen { positions, kill_switch_active, working })
    }

    /// Exits every position whose stop, target or loss limit the price
    /// reached (but not one already exiting); returns whether it placed any.
    async fn exit_what_reached(&mut self, positions: &[Position]) -> bool {
        let mut acted = false;
        for p in positions {
            if let Some(reason) = exit_reason(p, self.cfg.max_position_loss, self.resting.contains_key(&p.id)) {
                if self.exiting.contains(&p.id) {
                    continue;
                }
                acted = true;
                tracing::warn!(position = p.id, symbol = %p.symbol, %reason, "exiting position");
                let line = match self.exit_position(p.id, "risk-monitor").await {
                    Ok(order) => {
                        tracing::info!(position = p.id, order = order.id, status = %order.status, "exit placed");
                        (
                            EventLevel::Warn,
                            format!("exit of position {} {}: {reason}; order {}", p.id, p.symbol, order.id),
                        )
                    }
                    Err(e) => {
                        tracing::error!(position = p.id, error = %e, "exit not placed");
                        (
                            EventLevel::Error,
                            format!("exit of position {} {} NOT placed ({reason}): {e}", p.id, p.symbol),
                        )
                    }
                };
                self.journal(line.0, EventKind::Exit, line.1);
            }
        }
        acted
    }

    /// Activates the kill switch when today's net loss or the drawdown from
    /// today's peak reached its limit; returns whether it did.
    async fn check_loss_limits(&mut self, loss: Decimal, stats: &xcoin_db::stats::DailyStats) -> Result<bool> {
        let drawdown = (stats.peak_pnl.max(Decimal::ZERO) - stats.net_pnl).max(Decimal::ZERO);
        let breach = if loss >= self.cfg.limits.max_daily_loss() {
            Some((
                KillSwitchTrigger::DailyLoss,
                format!(
                    "daily loss ₹{} reached the limit ₹{}",
                    xcoin_model::to_paisa(loss),
                    xcoin_model::to_paisa(self.cfg.limits.max_daily_loss())
                ),
            ))
        } else if drawdown >= self.cfg.limits.max_drawdown() {
            Some((
                KillSwitchTrigger::Drawdown,
                format!(
                    "drawdown ₹{} from today's peak reached the limit ₹{}",
                    xcoin_model::to_paisa(drawdown),
                    xcoin_model::to_paisa(self.cfg.limits.max_drawdown())
                ),
            ))
        } else {
            None
        };
        let Some((trigger, reason)) = breach else { return Ok(false) };
        let actor = self.actor.clone();
        self.activate_kill_switch(trigger, &reason, &actor).await?;
        Ok(true)
    }

    /// Raises the daily-loss alert once per threshold (50 %, then 80 % of the
    /// limit) and trading day.
    pub fn alert_daily_loss(&mut self, loss: Decimal) {
        let limit = self.cfg.limits.max_daily_loss();
        if limit <= Decimal::ZERO {
            return;
        }
        let today = self.cfg.calendar.today();
        let raised = match self.loss_alerted {
            Some((day, percent)) if day == today => percent,
            _ => 0,
        };
        let reached = [80u8, 50].into_iter().find(|p| loss * Decimal::ONE_HUNDRED >= limit * Decimal::from(*p));
        if let Some(percent) = reached.filter(|p| *p > raised) {
            self.loss_alerted = Some((today, percent));
            self.alerts.raise(Alert::daily_loss(percent, loss, limit));
        }
    }

    /// Writes changed prices to open positions, in one statement for every
    /// instrument that moved; returns how many rows moved.
    pub async fn mark_positions(&mut self) -> Result<i64> {
        let prices = self.moved_prices();
        if prices.is_empty() {
            return Ok(0);
        }
        Ok(self.db.mark_many(&prices).await?)
    }

    /// The last price of every instrument that moved since the last mark,
    /// in a fixed order (rows are locked in the same order every time).
    fn moved_prices(&mut self) -> Vec<(String, Exchange, Decimal)> {
        let dirty = std::mem::take(&mut self.dirty);
        let mut prices: Vec<_> = dirty
            .into_iter()
            .filter_map(|(symbol, exchange)| self.last_price(&symbol, exchange).map(|p| (symbol, exchange, p)))
            .collect();
        prices.sort();
        prices
    }

    /// Squares off MIS positions and cancels working MIS orders once a trading
    /// day, at or after the square-off time (`now` is the current instant).
    pub async fn square_off_if_due(&mut self, now: DateTime<Utc>) -> Result<()> {
        let Some(at) = self.cfg.square_off_time else { return Ok(()) };
        let today = self.cfg.calendar.trading_day(now);
        let local = self.cfg.calendar.local(now).time();
        if self.squared_off == Some(today) || local < at || !self.cfg.calendar.is_trading_day(today) {
            return Ok(());
        }
        self.squared_off = Some(today);
        let mut exits = 0;
        for o in self.db.active_orders().await?.into_iter().filter(|o| o.product.is_intraday()) {
            if let Err(e) = self.cancel_order(o.id).await {
                tracing::warn!(order = o.id, error = %e, "square-off: cancel failed");
            }
        }
        for p in self.db.open_positions().await?.into_iter().filter(|p| p.product.is_intraday()) {
            match self.exit_position(p.id, "square-off").await {
                Ok(_) => exits += 1,
                Err(e) => tracing::error!(position = p.id, error = %e, "square-off: exit not placed"),
            }
        }
        tracing::warn!(exits, time = %at, "MIS square-off");
        let line = format!(
            "MIS square-off at {}: {}",
            at.format("%H:%M"),
            xcoin_model::count(exits, "position exited", "positions exited")
        );
        self.journal(EventLevel::Warn, EventKind::Exit, line);
        Ok(())
    }

    /// Activates the kill switch. The activation is recorded first, so the
    /// database says "active" before anything else happens and the engine
    /// (which reads the state from `kill_switch_events`) blocks new orders
    /// from that moment; then every automated strategy is paused, every
    /// working order cancelled, and every position exited when configured;
    /// finally what was done is written on the same event. A request that
    /// cannot be recorded (blank reason, already active) changes nothing.
    pub async fn activate_kill_switch(
        &mut self,
        trigger: KillSwitchTrigger,
        reason: &str,
        actor: &str,
    ) -> Result<KillSwitchEvent> {
        let event = self
            .db
            .activate_kill_switch(&Activation {
                trigger,
                reason,
                actor,
                orders_cancelled: 0,
                positions_exited: 0,
                daily_pnl: None,
            })
            .await?;
        tracing::error!(%trigger, %reason, %actor, "KILL SWITCH ACTIVATED");
        self.journal(
            EventLevel::Error,
            EventKind::KillSwitch,
            format!("KILL SWITCH ACTIVATED ({trigger}) by {actor}: {reason}"),
        );
        self.alerts.raise(Alert::kill_switch_activated(&trigger.to_string(), reason, actor));
        self.flatten(&event).await
    }

    /// Finishes an activation whose flattening is not recorded done — left by
    /// an engine that stopped, or by this one when the database went away
    /// mid-way — before anything else: every working order cancelled, every
    /// position exited, the counts and the time written on the event.
    /// `None` when there is nothing to finish.
    pub async fn finish_kill_switch(&mut self) -> Result<Option<KillSwitchEvent>> {
        let state = self.db.kill_switch_state().await?;
        let flattening = state.flattening();
        let Some(event) = state.last_event.filter(|_| flattening) else { return Ok(None) };
        tracing::error!(event = event.id, "kill switch ACTIVE, its flattening unfinished: finishing it");
        self.journal(
            EventLevel::Error,
            EventKind::KillSwitch,
            format!(
                "kill switch ACTIVE since {} IST ({}: {}), its flattening unfinished: cancelling and exiting now",
                event.created_at.with_timezone(&chrono_tz::Asia::Kolkata).format("%H:%M:%S"),
                event.actor,
                event.reason
            ),
        );
        self.flatten(&event).await.map(Some)
    }

    /// An activation's work: cancel every working order, exit every position
    /// (or pause the automated strategies where exits are off), then record
    /// what was done and that it is done.
    async fn flatten(&mut self, event: &KillSwitchEvent) -> Result<KillSwitchEvent> {
        let why = format!("kill switch: {}", event.reason);
        // Act on the broker's latest word: fills it reported that are still
        // queued for the engine are applied first.
        if let Err(e) = self.catch_up().await {
            tracing::error!(error = %e, "kill switch: catch-up with the broker failed; acting on local state");
        }
        // Resting stops are exits: each goes with its position's exit (which
        // lifts it first), or stays to protect the position when the kill
        // switch does not exit positions.
        let cancelled = self.cancel_working_orders("kill switch", true).await?;
        let exited = if self.cfg.exit_positions_on_kill {
            self.exit_all("kill-switch", &why).await?.len() as i64
        } else {
            self.pause_automated_strategies("kill-switch", &why).await?;
            0
        };
        let pnl = self.db.today_pnl().await?.net_pnl;
        Ok(self.db.record_kill_switch_effect(event.id, cancelled, exited, pnl).await?)
    }

    /// Cancels every working order (but the resting stops when
    /// `keep_resting_stops`); how many were cancelled. A cancel that fails is
    /// logged (under `context`) and the rest go on.
    pub(super) async fn cancel_working_orders(&mut self, context: &str, keep_resting_stops: bool) -> Result<i64> {
        let mut cancelled = 0;
        let active = self.db.active_orders().await?;
        for o in active.into_iter().filter(|o| !(keep_resting_stops && o.is_resting_stop())) {
            match self.cancel_order(o.id).await {
                Ok(_) => cancelled += 1,
                Err(e) => tracing::error!(order = o.id, error = %e, "{context}: cancel failed"),
            }
        }
        Ok(cancelled)
    }

    /// Re-arms trading after an operator has looked. Paused strategies stay
    /// paused: each is resumed by an operator on its own.
    pub async fn rearm_kill_switch(&mut self, reason: &str, actor: &str) -> Result<KillSwitchEvent> {
        let event = self.db.deactivate_kill_switch(reason, actor).await?;
        tracing::warn!(%actor, %reason, "kill switch re-armed");
        self.journal(EventLevel::Warn, EventKind::KillSwitch, format!("kill switch re-armed by {actor}: {reason}"));
        self.alerts.raise(Alert::kill_switch_rearmed(reason, actor));
        Ok(event)
    }
}
