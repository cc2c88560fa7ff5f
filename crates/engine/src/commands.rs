//! Operator commands: claimed one at a time (`FOR UPDATE SKIP LOCKED`),
//! executed, and marked DONE or FAILED with a result the console shows.

use super::{Engine, EngineError};
use rust_decimal::Decimal;
use xcoin_broker::Broker;
use xcoin_db::commands::CommandRecord;
use xcoin_db::orders::OrderModification;
use xcoin_model::command::{KillSwitchTrigger, OperatorCommand};
use xcoin_model::count;
use xcoin_model::event::{EventKind, EventLevel};
use xcoin_model::money::{paisa, rupees};
use xcoin_model::order::{Order, OrderRequest, OrderStatus};

fn describe(o: &Order) -> String {
    match o.status {
        OrderStatus::Rejected => {
            format!("order {} REJECTED: {}", o.id, o.status_reason.as_deref().unwrap_or("no reason given"))
        }
        _ => format!(
            "order {} {} {} {} {} {}{}",
            o.id,
            o.status,
            o.side,
            o.quantity,
            o.symbol,
            o.order_type,
            o.broker_order_id.as_deref().map(|b| format!(" (broker {b})")).unwrap_or_default()
        ),
    }
}

/// `position 7 INFY: stop 1495.00, target 1515.00; risk ₹50.00, reward:risk 2.00:1`.
fn levels_set(p: &xcoin_model::position::Position, a: &xcoin_model::risk::Assessment) -> String {
    format!(
        "position {} {}: stop {}, target {}; risk {}{}",
        p.id,
        p.symbol,
        p.stop_loss.map_or("none".into(), paisa),
        p.take_profit.map_or("none".into(), paisa),
        a.risk_amount.map_or("—".into(), rupees),
        a.risk_reward.map_or(String::new(), |r| format!(", reward:risk {r:.2}:1"))
    )
}

/// What an activation did: `kill switch ACTIVE{when}: 2 orders cancelled, …`.
fn activation_done(e: &xcoin_db::kill_switch::KillSwitchEvent, when: &str) -> String {
    format!(
        "kill switch ACTIVE{when}: {} cancelled, {} exited, today's P&L {}",
        count(e.orders_cancelled, "order", "orders"),
        count(e.positions_exited, "position", "positions"),
        rupees(e.daily_pnl.unwrap_or_default())
    )
}

/// An exit a stopped engine never made is made at the next start only this
/// soon after it was claimed; later, its moment is past.
const REDRIVE_WITHIN: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// Whether an exit a stopped engine never made may be made now: not when
/// the command is older than [`REDRIVE_WITHIN`] (its moment is past), nor
/// when an exit it made was cancelled as not found at the broker (it may
/// yet be there), nor when the broker does not hold the position as the
/// desk does (reconciliation settles that first).
struct RedriveCheck {
    /// Minutes since the command was claimed, when that is too long ago.
    too_old: Option<i64>,
    /// Orders made since the claim and cancelled as never reaching the broker.
    lost: Vec<Order>,
    /// The broker's positions.
    held: Vec<xcoin_model::reconciliation::Holding>,
}

impl RedriveCheck {
    /// Why `p` may not be exited again now; `None` when it may.
    fn refuses(&self, p: &xcoin_model::position::Position) -> Option<String> {
        if let Some(minutes) = self.too_old {
            return Some(format!(
                "the engine stopped {minutes} min ago while running it; check the position before sending it again"
            ));
        }
        let side = p.exit_side();
        if let Some(o) = self.lost.iter().find(|o| o.symbol == p.symbol && o.side == side) {
            return Some(format!(
                "its exit order {} was not found at the broker and was cancelled here; it may yet reach the broker, so check there before sending again",
                o.id
            ));
        }
        let held: i64 = self
            .held
            .iter()
            .filter(|h| h.symbol == p.symbol && h.exchange == p.exchange && h.product == p.product)
            .map(|h| h.quantity)
            .sum();
        (held != p.quantity()).then(|| {
            format!(
                "the broker holds {held} {} where the desk holds {}; reconciliation settles that first",
                p.symbol,
                p.quantity()
            )
        })
    }
}

/// What the engine says of a command it cannot account for after a stop.
const UNKNOWN_AFTER_STOP: &str =
    "the engine stopped while running this command; check its effect before sending it again";

impl<B: Broker> Engine<B> {
    /// Executes every pending command, oldest first — after writing any
    /// outcome an interruption kept from the database.
    pub async fn process_commands(&mut self) {
        if !self.write_unwritten_outcomes().await {
            return;
        }
        match self.db.expire_overdue_commands().await {
            Ok(expired) => {
                for c in expired {
                    let (by, kind, why) = (&c.requested_by, c.command, c.result.as_deref().unwrap_or_default());
                    tracing::warn!(command = c.id, %kind, %by, %why, "command expired");
                    self.journal(EventLevel::Warn, EventKind::Command, format!("{by}: {kind} {why}"));
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot expire overdue commands"),
        }
        loop {
            let claimed = match self.db.claim_next_command().await {
                Ok(Some(c)) => c,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!(error = %e, "cannot claim operator commands");
                    return;
                }
            };
            let outcome = self.execute(&claimed).await;
            if !self.record_outcome(claimed, outcome).await {
                return;
            }
        }
    }

    /// Writes a command's outcome (DONE or FAILED) and says it in the desk
    /// log. When the database does not take it, the outcome is kept and
    /// written again before anything else the queue does, so no command
    /// stays RUNNING under a live engine; `false` then.
    async fn record_outcome(&mut self, c: CommandRecord, outcome: Result<String, String>) -> bool {
        let recorded = match &outcome {
            Ok(done) => self.db.complete_command(c.id, done).await,
            Err(why) => self.db.fail_command(c.id, why).await,
        };
        let (by, kind) = (&c.requested_by, c.command);
        match (recorded, &outcome) {
            (Err(e), _) if e.is_unavailable() => {
                tracing::error!(command = c.id, error = %e, "a command's outcome is not written yet; writing it again");
                self.unwritten.push((c, outcome));
                return false;
            }
            (Err(e), _) => tracing::error!(command = c.id, error = %e, "cannot record a command's result"),
            (Ok(_), Ok(done)) => {
                tracing::info!(command = c.id, %kind, %by, %done, "command done");
                let line = format!("{by}: {kind} done: {done}");
                self.journal(EventLevel::Info, EventKind::Command, line);
            }
            (Ok(_), Err(why)) => {
                tracing::warn!(command = c.id, %kind, %by, %why, "command failed");
                let line = format!("{by}: {kind} failed: {why}");
                self.journal(EventLevel::Warn, EventKind::Command, line);
            }
        }
        true
    }

    /// Writes the outcomes an interruption kept from the database, oldest
    /// first; `true` when none is left.
    async fn write_unwritten_outcomes(&mut self) -> bool {
        let mut kept = std::mem::take(&mut self.unwritten).into_iter();
        while let Some((c, outcome)) = kept.next() {
            // Not taken again: it is kept first, the rest after it, in order.
            if !self.record_outcome(c, outcome).await {
                self.unwritten.extend(kept);
                return false;
            }
        }
        true
    }

    /// Gives every command left RUNNING its outcome: those whose outcome
    /// this engine knows are written; the rest, left by a stopped engine,
    /// are looked up (the kill switch's state, the order a placement made
    /// and what the broker's book says of it by its tag), or run again where
    /// that is what the sender asked and is safe (the kill switch, a cancel).
    pub(super) async fn resolve_running_commands(&mut self) -> super::Result<()> {
        if !self.write_unwritten_outcomes().await {
            return Ok(());
        }
        for c in self.db.running_commands().await? {
            let outcome = self.outcome_after_stop(&c).await?;
            if !self.record_outcome(c, outcome).await {
                break;
            }
        }
        Ok(())
    }

    /// What a command left RUNNING by a stopped engine did, found out: one
    /// handler per command that can be found out, the rest run again or
    /// failed as unknown.
    async fn outcome_after_stop(&mut self, c: &CommandRecord) -> super::Result<Result<String, String>> {
        let Ok(command) = c.parsed() else { return Ok(self.execute(c).await) };
        Ok(match command {
            OperatorCommand::KillSwitchOn { .. } => {
                let state = self.db.kill_switch_state().await?;
                match state.last_event.filter(|_| state.active) {
                    // Activated (and its flattening finished at this start).
                    Some(e) => Ok(activation_done(&e, " (finished after the engine restarted)")),
                    None => self.execute(c).await,
                }
            }
            OperatorCommand::CancelOrder { order_id } => match self.db.get_order(order_id).await {
                Ok(o) if !o.status.is_active() => Ok(describe(&o)),
                _ => self.execute(c).await,
            },
            OperatorCommand::PlaceOrder(req) => self.placed_after_stop(c, &req).await?,
            OperatorCommand::ModifyOrder { order_id, quantity, price, trigger_price } => {
                self.modified_after_stop(c, order_id, quantity, price, trigger_price).await
            }
            OperatorCommand::ExitPosition { position_id } => self.exited_after_stop(c, position_id).await?,
            OperatorCommand::ExitAll {} => self.exited_all_after_stop(c).await?,
            _ => Err(UNKNOWN_AFTER_STOP.into()),
        })
    }

    /// A placement: the order it made, if any, found by the command's
    /// sender, time and instrument (and the broker's book by its tag, read
    /// by the start's catch-up).
    async fn placed_after_stop(
        &mut self,
        c: &CommandRecord,
        req: &OrderRequest,
    ) -> super::Result<Result<String, String>> {
        let Some(claimed_at) = c.claimed_at else { return Ok(Err(UNKNOWN_AFTER_STOP.into())) };
        let made =
            self.db.order_placed_for_command(&c.requested_by, claimed_at, &req.symbol, req.side, req.quantity).await?;
        Ok(match made {
            None => Err("never sent: the engine stopped before it made the order; nothing reached the broker".into()),
            // The start's catch-up looked for it in the broker's book by its tag.
            Some(o) if o.status == OrderStatus::Cancelled && o.broker_order_id.is_none() => Err(format!(
                "never sent: order {} ({}) is not in the broker's book under its tag {}; nothing was placed",
                o.id,
                o.describe(),
                o.client_tag()
            )),
            Some(o) if o.status == OrderStatus::Rejected => Err(describe(&o)),
            Some(o) => Ok(format!("{} (found by its tag after the engine restarted)", describe(&o))),
        })
    }

    /// A modification: done if the order shows it; sent again while it is
    /// fresh and the order can still change; else failed, with the order.
    async fn modified_after_stop(
        &mut self,
        c: &CommandRecord,
        order_id: i64,
        quantity: Option<i64>,
        price: Option<Decimal>,
        trigger_price: Option<Decimal>,
    ) -> Result<String, String> {
        // A row that cannot be read fails this command, never the start.
        let o = match self.db.get_order(order_id).await {
            Ok(o) => o,
            Err(e) => return Err(format!("not modified: {e}")),
        };
        let done = quantity.is_none_or(|q| q == o.quantity)
            && price.is_none_or(|p| Some(p) == o.price)
            && trigger_price.is_none_or(|t| Some(t) == o.trigger_price);
        if done && o.modifications > 0 {
            Ok(format!("{} (modified before the engine stopped)", describe(&o)))
        } else if o.status.can_be_modified()
            && c.claimed_at.is_some_and(|at| xcoin_model::clock::now() - at <= REDRIVE_WITHIN)
        {
            // Sent again: the same values twice leave the order as asked.
            self.execute(c).await
        } else {
            Err(format!(
                "not modified: {} (the engine stopped while running it; check the order before sending it again)",
                describe(&o)
            ))
        }
    }

    /// An exit: the position closed, its exit working, or made now when
    /// nothing reached the broker and the desk's checks allow it.
    async fn exited_after_stop(
        &mut self,
        c: &CommandRecord,
        position_id: i64,
    ) -> super::Result<Result<String, String>> {
        let Some(claimed_at) = c.claimed_at else { return Ok(Err(UNKNOWN_AFTER_STOP.into())) };
        let p = match self.db.get_position(position_id).await {
            Ok(p) => p,
            Err(e) => return Ok(Err(format!("not exited: {e}"))),
        };
        Ok(if p.quantity() == 0 {
            Ok(format!("position {position_id} ({}) is closed (found after the engine restarted)", p.symbol))
        } else if let Some(o) = self.working_exit(&p, Some(claimed_at)).await? {
            self.exiting.insert(position_id);
            Ok(format!("exit of position {position_id}: {} (found after the engine restarted)", describe(&o)))
        } else if let Some(why) = self.redrive_check(claimed_at).await?.refuses(&p) {
            Err(format!("not exited: {why}"))
        } else {
            // No exit reached the broker (the start's catch-up found none by its tag): exit now.
            self.execute(c).await
        })
    }

    /// Exit-all: each open position's exit found working or made now.
    async fn exited_all_after_stop(&mut self, c: &CommandRecord) -> super::Result<Result<String, String>> {
        let Some(claimed_at) = c.claimed_at else { return Ok(Err(UNKNOWN_AFTER_STOP.into())) };
        let who = c.requested_by.clone();
        self.pause_automated_strategies(&who, "exit all").await?;
        let check = self.redrive_check(claimed_at).await?;
        let (mut found, mut placed, mut left) = (Vec::new(), Vec::new(), Vec::new());
        for p in self.db.open_positions().await? {
            // An exit working already: this command's, or one an
            // exit resolved at this start found.
            let since = (!self.exiting.contains(&p.id)).then_some(claimed_at);
            let working = self.working_exit(&p, since).await?;
            match working {
                Some(o) => {
                    self.exiting.insert(p.id);
                    found.push(o.id.to_string());
                }
                None => match check.refuses(&p) {
                    Some(why) => left.push(format!("position {} {}: {why}", p.id, p.symbol)),
                    None => match self.exit_position(p.id, &who).await {
                        Ok(o) => placed.push(o.id.to_string()),
                        Err(e) => left.push(format!("position {} {}: {e}", p.id, p.symbol)),
                    },
                },
            }
        }
        let done = format!(
            "exit all finished after the engine restarted: {} working from before ({}), {} placed now ({})",
            found.len(),
            found.join(", "),
            placed.len(),
            placed.join(", ")
        );
        Ok(if left.is_empty() { Ok(done) } else { Err(format!("{done}; not exited: {}", left.join("; "))) })
    }

    /// What decides whether an exit a stopped engine never made may be made
    /// now, read once for the command (exit-all asks it of every position).
    async fn redrive_check(&self, claimed_at: chrono::DateTime<chrono::Utc>) -> super::Result<RedriveCheck> {
        let age = xcoin_model::clock::now() - claimed_at;
        if age > REDRIVE_WITHIN {
            return Ok(RedriveCheck { too_old: Some(age.num_minutes()), lost: Vec::new(), held: Vec::new() });
        }
        let lost = self
            .db
            .today_orders()
            .await?
            .into_iter()
            .filter(|o| o.created_at >= claimed_at && o.status == OrderStatus::Cancelled && o.broker_order_id.is_none())
            .collect();
        let held = self.broker.positions().await.map_err(EngineError::Broker)?;
        Ok(RedriveCheck { too_old: None, lost, held })
    }

    /// Runs one command; `Ok` is what it did, `Err` why it did not. The
    /// payload is decoded and checked before anything acts, so a command that
    /// cannot run fails with the reason and leaves nothing behind.
    async fn execute(&mut self, c: &CommandRecord) -> Result<String, String> {
        let command = c.parsed().map_err(|e| e.to_string())?;
        command.check().map_err(|e| format!("{} refused: {e}", c.command))?;
        let who = c.requested_by.as_str();
        let text = |e: EngineError| e.to_string();
        match command {
            OperatorCommand::PlaceOrder(mut req) => {
                req.placed_by = who.to_string();
                let (order, book) = match self.place_in_paper_book(&req).await.map_err(text)? {
                    Some(order) => (order, super::shadow::DECISION_MARK),
                    None => (self.place_order(&req).await.map_err(text)?, ""),
                };
                let line = format!("{book}{}", describe(&order));
                if order.status == OrderStatus::Rejected { Err(line) } else { Ok(line) }
            }
            OperatorCommand::CancelOrder { order_id } => {
                let order = self.cancel_order(order_id).await.map_err(text)?;
                Ok(describe(&order))
            }
            OperatorCommand::ModifyOrder { order_id, quantity, price, trigger_price } => {
                let order = self
                    .modify_order_by(order_id, OrderModification { quantity, price, trigger_price }, who)
                    .await
                    .map_err(text)?;
                Ok(format!(
                    "order {} modified: {} @ {}",
                    order.id,
                    order.quantity,
                    order.price.or(order.trigger_price).map_or("market".into(), |p| p.to_string())
                ))
            }
            OperatorCommand::ExitPosition { position_id } => {
                let order = self.exit_position(position_id, who).await.map_err(text)?;
                let line = describe(&order);
                if order.status == OrderStatus::Rejected {
                    Err(line)
                } else {
                    Ok(format!("exit of position {position_id}: {line}"))
                }
            }
            OperatorCommand::ExitAll {} => {
                let orders = self.exit_all(who, "exit all").await.map_err(text)?;
                Ok(match orders.len() {
                    0 => "no open positions; automated strategies paused".to_string(),
                    n => format!(
                        "{n} exit orders placed: {}",
                        orders.iter().map(|o| o.id.to_string()).collect::<Vec<_>>().join(", ")
                    ),
                })
            }
            OperatorCommand::KillSwitchOn { reason } => {
                let e = self.activate_kill_switch(KillSwitchTrigger::Operator, &reason, who).await.map_err(text)?;
                Ok(activation_done(&e, ""))
            }
            OperatorCommand::KillSwitchOff { reason } => {
                self.rearm_kill_switch(&reason, who).await.map_err(text)?;
                Ok("kill switch re-armed; new orders allowed; paused strategies stay paused until resumed".into())
            }
            OperatorCommand::ResolveReconciliation { issue_id, resolution, note } => {
                let issue = self.resolve_issue(issue_id, resolution, who, note.as_deref()).await.map_err(text)?;
                Ok(format!("issue {} {} resolved: {}", issue.id, issue.symbol, resolution))
            }
            OperatorCommand::PauseStrategy { strategy_id, reason } => {
                self.pause_or_resume(strategy_id, true, who, &reason).await.map_err(text)
            }
            OperatorCommand::ResumeStrategy { strategy_id, reason } => {
                self.pause_or_resume(strategy_id, false, who, &reason).await.map_err(text)
            }
            OperatorCommand::SetPositionLevels { position_id, stop_loss, take_profit } => {
                let (p, a) = self.set_position_levels(position_id, stop_loss, take_profit).await.map_err(text)?;
                Ok(levels_set(&p, &a))
            }
        }
    }

    /// An operator pauses or resumes a strategy; the desk log says who and why.
    async fn pause_or_resume(&mut self, id: i64, pause: bool, who: &str, reason: &str) -> Result<String, EngineError> {
        let s =
            if pause { self.db.pause_strategy(id, who, reason).await? } else { self.db.resume_strategy(id).await? };
        self.strategy_changed(&s, pause, who, reason);
        Ok(if pause {
            format!("strategy {} \"{}\" paused: no new orders until resumed", s.id, s.name)
        } else {
            format!("strategy {} \"{}\" resumed", s.id, s.name)
        })
    }
}
