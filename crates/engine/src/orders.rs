//! The order manager: validate → persist PENDING → send → SUBMITTED; cancel,
//! modify, and exits at market.

use std::time::{Duration, Instant};
use xcoin_model::event::{EventKind, EventLevel};

use rust_decimal::Decimal;

use super::{Engine, EngineError, Result};
use xcoin_alerts::Alert;
use xcoin_broker::{Broker, BrokerError, Modify, PlaceRequest};
use xcoin_db::orders::{CountedOrder, OrderModification, modified_request};
use xcoin_db::stats::RiskInputs;
use xcoin_model::command::MAX_TEXT_CHARS;
use xcoin_model::order::{Order, OrderRequest, OrderStatus, OrderType, Validity};
use xcoin_model::position::Position;
use xcoin_model::risk::{Assessment, Denial, RiskSnapshot, margin_needed, validate};

/// What the validator says of an order.
type Verdict = std::result::Result<Assessment, Denial>;

/// How long the last order placed spent in each stage of its path (for the
/// bench: each stage held against one commit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlaceStages {
    /// The pre-trade check, with the risk read if it made one.
    pub check: Duration,
    /// The PENDING write with the day's count (and a second check, if what
    /// the first checked against had changed).
    pub pending: Duration,
    /// The broker's answer.
    pub send: Duration,
    /// The SUBMITTED write with its desk log line.
    pub acknowledge: Duration,
}

/// Kite refuses the 26th modification of an order; so does XCoin, before sending.
pub const MAX_MODIFICATIONS: i32 = 25;

impl<B: Broker> Engine<B> {
    fn orders_last_second(&mut self) -> u32 {
        let now = Instant::now();
        while self.recent_orders.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1)) {
            self.recent_orders.pop_front();
        }
        self.recent_orders.len() as u32
    }

    /// What the validator needs, read fresh from the database (and kept for
    /// the orders after it; see [`crate::memo`]).
    pub async fn risk_snapshot(&mut self, req: &OrderRequest) -> Result<RiskSnapshot> {
        let inputs = self.read_risk_inputs(req).await?;
        Ok(self.snapshot_of(req, &inputs))
    }

    async fn read_risk_inputs(&mut self, req: &OrderRequest) -> Result<RiskInputs> {
        let inputs = self.db.risk_inputs(&req.symbol, req.exchange, req.product, req.strategy_id).await?;
        self.risk_memo.keep(req, inputs);
        Ok(inputs)
    }

    /// How many times the risk check has read the database: an order checked
    /// against kept inputs that still held reads nothing.
    pub fn risk_reads(&self) -> u64 {
        self.risk_memo.reads()
    }

    /// The stages of the last order placed and acknowledged.
    pub fn place_stages(&self) -> PlaceStages {
        self.place_stages
    }

    fn snapshot_of(&mut self, req: &OrderRequest, inputs: &RiskInputs) -> RiskSnapshot {
        let peak = inputs.peak_pnl.max(Decimal::ZERO);
        RiskSnapshot {
            kill_switch_active: inputs.kill_switch_active,
            strategy_paused: inputs.strategy_paused,
            market_state: self.cfg.calendar.state(xcoin_model::clock::now()),
            last_price: self.last_price(&req.symbol, req.exchange),
            position_quantity: inputs.held,
            open_positions: u32::try_from(inputs.open_positions).unwrap_or(u32::MAX),
            today_net_pnl: inputs.today_net_pnl,
            drawdown: (peak.max(inputs.today_net_pnl) - inputs.today_net_pnl).max(Decimal::ZERO),
            orders_last_second: self.orders_last_second(),
            strategy: xcoin_model::risk::StrategyBudget {
                max_positions: inputs.max_positions.and_then(|n| u32::try_from(n).ok()),
                open_positions: u32::try_from(inputs.strategy_open_positions).unwrap_or(u32::MAX),
                max_daily_loss: inputs.max_daily_loss,
                today_net_pnl: inputs.strategy_net_pnl,
                capital: inputs.capital_allocated,
                exposure: inputs.strategy_exposure,
            },
            free_margin: self.margin.map(|(free, placed)| free - placed),
        }
    }

    /// The pre-trade check of a new order: against the inputs kept for its
    /// instrument and strategy when there are any, else a fresh read. A
    /// refusal is always decided on a fresh read.
    async fn check_new(&mut self, req: &OrderRequest) -> Result<(RiskInputs, RiskSnapshot, Verdict)> {
        if let Some(kept) = self.risk_memo.get(req) {
            let checked = self.check_with(req, kept);
            if checked.2.is_ok() {
                return Ok(checked);
            }
        }
        self.check_fresh(req).await
    }

    async fn check_fresh(&mut self, req: &OrderRequest) -> Result<(RiskInputs, RiskSnapshot, Verdict)> {
        let inputs = self.read_risk_inputs(req).await?;
        Ok(self.check_with(req, inputs))
    }

    fn check_with(&mut self, req: &OrderRequest, inputs: RiskInputs) -> (RiskInputs, RiskSnapshot, Verdict) {
        let snapshot = self.snapshot_of(req, &inputs);
        let verdict = validate(req, &snapshot, &self.cfg.limits);
        (inputs, snapshot, verdict)
    }

    /// Why an order was refused, as the order and the desk log say it.
    fn refusal(req: &OrderRequest, denial: &Denial) -> String {
        // No price because the broker has never quoted the instrument: say so.
        if *denial == Denial::NoLastPrice {
            format!("unknown instrument: {}:{} is not quoted by the broker", req.exchange, req.symbol)
        } else {
            denial.to_string()
        }
    }

    fn journal_refusal(&self, order: &Order, reason: &str) {
        tracing::info!(order = order.id, %reason, "order rejected by pre-trade risk");
        // The rule refused it; who asked for it comes last, so the line
        // never reads as if that person refused it.
        let line =
            format!("order {} {} refused: {reason}, requested by {}", order.id, order.describe(), order.placed_by);
        self.journal(EventLevel::Warn, EventKind::Order, line);
    }

    /// Places an order. A risk denial is stored as a REJECTED order with the
    /// reason; a broker refusal likewise. When the broker does not answer the
    /// order stays PENDING and is looked up by its tag before anything is sent
    /// again. Refused outright (nothing written) when the engine does not hold
    /// its lock or the request is malformed.
    ///
    /// Two commits on the order's path: PENDING with the day's count before
    /// the wire, SUBMITTED with its desk log line after. The check before the
    /// first uses the risk inputs kept from an earlier read when there are
    /// any; the PENDING write returns the database's risk generation, and if
    /// the inputs changed since they were read they are read again and the
    /// order checked again before it is sent — refused then, it is REJECTED
    /// and uncounted, and never reaches the broker.
    pub async fn place_order(&mut self, req: &OrderRequest) -> Result<Order> {
        if !self.trading_enabled() {
            return Err(EngineError::Refused(if self.behind && self.lock.is_held() {
                "the engine is catching up with the broker after a database outage; no orders until it has".into()
            } else {
                "the engine lost its database lock; no orders until it holds it again".into()
            }));
        }
        let started = Instant::now();
        let (inputs, mut snapshot, mut verdict) = self.check_new(req).await?;
        let checked = Instant::now();
        let last = snapshot.last_price;
        let tick = self.cfg.limits.ticks.of(&req.symbol, req.exchange);
        let kind = self.broker.kind();
        if let Err(denial) = verdict {
            let reason = Self::refusal(req, &denial);
            let order = self.db.record_rejected_order(req, kind, tick, last, &reason).await?;
            self.journal_refusal(&order, &reason);
            return Ok(order);
        }
        // One commit before the wire: the order PENDING and the day's count
        // of placements, where both outlive the engine.
        let CountedOrder { order, placed_today, generation } =
            self.db.create_order_counted(req, kind, tick, last).await?;
        self.risk_memo.saw(generation);
        if generation != inputs.generation {
            // What it was checked against changed before it was written.
            // Should the database go away before the order is checked again
            // or refused, it stays PENDING and unsent: trading stops until the
            // engine has caught up with the broker's book, which cancels an
            // order the broker never saw.
            (_, snapshot, verdict) = self.check_fresh(req).await.inspect_err(|_| self.behind = true)?;
            if let Err(denial) = verdict {
                let reason = Self::refusal(req, &denial);
                let order = self.db.refuse_pending(order.id, &reason).await.inspect_err(|_| self.behind = true)?;
                self.journal_refusal(&order, &reason);
                return Ok(order);
            }
        }
        let written = Instant::now();
        self.recent_orders.push_back(written);
        let reduces_position = verdict.is_ok_and(|a| a.reduces_position);
        let sent = self.broker.place(&PlaceRequest { reduces_position, ..PlaceRequest::from(&order) }).await;
        let answered = Instant::now();
        self.warn_of_the_cap(placed_today);
        if let Err(e) = &sent {
            self.note_failure(&EngineError::Broker(e.clone()));
        } else {
            self.broker_answered();
        }
        match sent {
            Ok(broker_id) => {
                if let Some((_, placed)) = &mut self.margin
                    && !reduces_position
                {
                    *placed += margin_needed(req, snapshot.position_quantity, last, self.cfg.limits.mis_leverage);
                }
                let line = format!(
                    "order {} {} placed by {} (broker {broker_id})",
                    order.id,
                    order.describe(),
                    order.placed_by
                );
                // One commit after the wire: SUBMITTED and its desk log line.
                let acknowledged = self.db.acknowledge_order(order.id, &broker_id, &line).await?;
                self.place_stages = PlaceStages {
                    check: checked - started,
                    pending: written - checked,
                    send: answered - written,
                    acknowledge: answered.elapsed(),
                };
                Ok(acknowledged)
            }
            Err(BrokerError::Unavailable(why)) => {
                tracing::error!(order = order.id, error = %why, "the broker did not answer; the order stays PENDING until found by its tag");
                let line = format!(
                    "order {} {}: the broker did not answer ({why}); PENDING until found",
                    order.id,
                    order.describe()
                );
                self.journal(EventLevel::Error, EventKind::Order, line);
                Ok(order)
            }
            Err(e) => {
                let reason = e.to_string();
                tracing::warn!(order = order.id, %reason, "order rejected by the broker");
                let line = format!("order {} {} rejected by the broker: {reason}", order.id, order.describe());
                self.journal(EventLevel::Warn, EventKind::Order, line);
                self.alerts.raise(Alert::order_rejected(order.id, &order.describe(), &reason));
                Ok(self.db.update_order_status(order.id, OrderStatus::Rejected, Some(&reason), None).await?)
            }
        }
    }

    /// Cancels a working order at the broker; it becomes CANCELLED when the
    /// broker confirms (applied before this returns). A PENDING order is first
    /// looked for in the broker's book by its tag: found, it is cancelled
    /// there; not found, it is cancelled locally.
    pub async fn cancel_order(&mut self, order_id: i64) -> Result<Order> {
        let order = self.db.get_order(order_id).await?;
        if order.status.is_terminal() {
            return Err(EngineError::Refused(format!("order {order_id} is already {}", order.status)));
        }
        // A PENDING order may have reached a broker that did not answer in
        // time: look for it by its tag before deciding it never left.
        let order = if order.broker_order_id.is_none() { self.sync_order(order_id).await? } else { order };
        // Not at the broker under its tag either: sync cancelled it locally.
        let Some(broker_id) = order.broker_order_id.clone() else { return Ok(order) };
        let cancelled = self.broker.cancel(&broker_id).await;
        cancelled?;
        // Apply the broker's confirmation (and any fill that beat it) now.
        self.sync_order(order_id).await
    }

    /// Changes quantity, price or trigger of an OPEN or PARTIALLY_FILLED order,
    /// at the broker first, then locally.
    ///
    /// The order as it would be after the change passes the same pre-trade
    /// validator as a new order (quantity and position size, tick, price band,
    /// risk per trade with its stop, reward:risk with its target, kill switch,
    /// paused strategy, open positions, order rate); a refusal names the rule,
    /// its limit and the value, and the broker is never called.
    pub async fn modify_order(&mut self, order_id: i64, change: OrderModification) -> Result<Order> {
        let by = self.actor.clone();
        self.modify_order_by(order_id, change, &by).await
    }

    /// [`modify_order`](Self::modify_order) asked for by `by` (an operator,
    /// a strategy), as the order's history records it.
    pub async fn modify_order_by(&mut self, order_id: i64, change: OrderModification, by: &str) -> Result<Order> {
        let order = self.db.get_order(order_id).await?;
        if !order.status.can_be_modified() {
            return Err(EngineError::Refused(format!(
                "order {order_id} is {}; only OPEN or PARTIALLY_FILLED orders can be modified",
                order.status
            )));
        }
        if order.modifications >= MAX_MODIFICATIONS {
            return Err(EngineError::Refused(format!(
                "order {order_id} was modified {} times, the broker's limit per order; cancel it and place a new one",
                order.modifications
            )));
        }
        let tick = self.cfg.limits.ticks.of(&order.symbol, order.exchange);
        // The change is checked (tick, quantity above filled, fields the type
        // has) before the broker sees it; the local row follows the broker.
        let modified = modified_request(&order, change, tick)?;
        // The order's own fills are already in the position.
        let own = order.side.sign() * order.filled_quantity;
        let snapshot = self.risk_snapshot(&modified).await?.without_own_fills(own);
        let (last, original) = (snapshot.last_price, order.as_request());
        let snapshot = snapshot.with_own_margin(&original, last, self.cfg.limits.mis_leverage);
        if let Err(denial) = validate(&modified, &snapshot, &self.cfg.limits) {
            tracing::info!(order = order_id, reason = %denial, "modification refused by pre-trade risk");
            return Err(EngineError::Refused(format!("order {order_id} not modified: {denial}")));
        }
        self.recent_orders.push_back(Instant::now());
        let broker_id = order.broker_order_id.clone().expect("an OPEN order has a broker id");
        let sent = self
            .broker
            .modify(
                &broker_id,
                Modify {
                    quantity: change.quantity,
                    price: change.price,
                    trigger_price: change.trigger_price,
                    at_market: matches!(order.order_type, OrderType::Market | OrderType::StopLossMarket),
                },
            )
            .await;
        sent?;
        // The margin a larger or dearer order blocks is spent like a new order's.
        if let Some((_, placed)) = &mut self.margin {
            let (lev, held) = (self.cfg.limits.mis_leverage, snapshot.position_quantity);
            let added = margin_needed(&modified, held, last, lev) - margin_needed(&original, held, last, lev);
            *placed += added.max(rust_decimal::Decimal::ZERO);
        }
        let modified = self.db.modify_order(order_id, change, tick, by).await?;
        Ok(modified)
    }

    /// Pauses every active automated strategy (kill switch, exit-all), the
    /// reason cut to what the row keeps.
    pub(super) async fn pause_automated_strategies(&self, by: &str, why: &str) -> Result<()> {
        let reason: String = why.chars().take(MAX_TEXT_CHARS).collect();
        for s in self.db.pause_automated_strategies(by, &reason).await? {
            self.strategy_changed(&s, true, by, &reason);
        }
        Ok(())
    }

    /// Says a strategy was paused or resumed, by whom and why: in the
    /// process's log and in the desk log.
    pub(super) fn strategy_changed(&self, s: &xcoin_model::strategy::Strategy, paused: bool, by: &str, reason: &str) {
        let (done, level) = if paused { ("paused", EventLevel::Warn) } else { ("resumed", EventLevel::Info) };
        tracing::warn!(strategy = s.id, name = %s.name, %by, %reason, "strategy {done}");
        let line = format!("strategy {} \"{}\" {done} by {by}: {reason}", s.id, s.name);
        self.journal(level, EventKind::Strategy, line);
    }

    /// Warns at 80 % and at 90 % of the broker's daily order limit, once
    /// each (desk log and alert), from today's count of placements
    /// (`placed`, counted with the order itself: Kite limits orders a day;
    /// modifications and cancellations do not count there).
    fn warn_of_the_cap(&mut self, placed: i64) {
        let Some(cap) = self.broker.kind().daily_write_cap().map(i64::from) else { return };
        let Some(level) = xcoin_model::order::cap_warning(placed, cap) else { return };
        let today = self.cfg.calendar.today();
        if self.cap_warned.is_some_and(|(day, warned)| day == today && warned >= level) {
            return;
        }
        self.cap_warned = Some((today, level));
        let line = format!(
            "{placed} of the broker's {cap} orders a day placed ({level} %): at the limit new entries are refused; \
             exits, cancels and the kill switch still go"
        );
        tracing::warn!(%placed, %cap, "{line}");
        self.journal(EventLevel::Warn, EventKind::Engine, line.clone());
        self.alerts.raise(xcoin_alerts::Alert::order_limit_near(level, &line));
    }

    /// Exits a position at market: an opposite MARKET order for its whole
    /// quantity, in its product, IOC-free (DAY) so it keeps working.
    /// Sets or moves an open position's stop loss and target, after the
    /// levels rules of the risk validator, judged from the freshest last
    /// price the engine has. Nothing is written when they refuse.
    pub async fn set_position_levels(
        &mut self,
        position_id: i64,
        stop_loss: Decimal,
        take_profit: Option<Decimal>,
    ) -> Result<(Position, xcoin_model::risk::Assessment)> {
        let p = self.db.get_position(position_id).await?;
        if p.quantity() == 0 {
            return Err(EngineError::Refused(format!("position {position_id} is closed: nothing to protect")));
        }
        let levels = xcoin_model::risk::Levels {
            symbol: &p.symbol,
            exchange: p.exchange,
            quantity: p.quantity(),
            last_price: self.last_price(&p.symbol, p.exchange).or(p.last_price),
            stop_loss: Some(stop_loss),
            take_profit,
            current_stop: p.stop_loss,
        };
        let assessment = xcoin_model::risk::validate_levels(&levels, &self.cfg.limits)
            .map_err(|d| EngineError::Refused(format!("levels of position {position_id} refused: {d}")))?;
        let updated = self.db.update_position_levels(position_id, Some(stop_loss), take_profit).await?;
        // The stop resting at the exchange moves with it.
        if let Err(e) = self.sync_resting_stop_of(Some(&updated), (&p.symbol, p.exchange, p.product)).await {
            tracing::error!(position = position_id, error = %e, "resting stop not moved");
        }
        Ok((updated, assessment))
    }

    pub async fn exit_position(&mut self, position_id: i64, placed_by: &str) -> Result<Order> {
        let position = self.db.get_position(position_id).await?;
        if position.quantity() == 0 {
            return Err(EngineError::Refused(format!("position {position_id} is already closed")));
        }
        if self.exiting.contains(&position_id) && self.working_exit(&position, None).await?.is_some() {
            return Err(EngineError::Refused(format!("position {position_id} already has an exit order working")));
        }
        // The stop resting at the exchange goes first, so both cannot fill;
        // while the exit works no stop is rested again.
        self.exiting.insert(position_id);
        if let Err(e) = self.lift_resting_stop(&position).await {
            self.exiting.remove(&position_id);
            return Err(e);
        }
        let req = OrderRequest {
            strategy_id: position.strategy_id,
            symbol: position.symbol.clone(),
            exchange: position.exchange,
            side: position.exit_side(),
            order_type: OrderType::Market,
            product: position.product,
            validity: Validity::Day,
            quantity: position.quantity().abs(),
            price: None,
            trigger_price: None,
            stop_loss: None,
            take_profit: None,
            parent_order_id: None,
            placed_by: placed_by.to_string(),
        };
        let order = match self.place_order(&req).await {
            Ok(order) => order,
            Err(e) => {
                self.exiting.remove(&position_id);
                return Err(e);
            }
        };
        self.resting.remove(&position_id);
        if !order.status.is_active() {
            self.exiting.remove(&position_id);
        }
        Ok(order)
    }

    /// A working order on `position`'s closing side (made since `since`,
    /// when given): its exit, as an exit command or the kill switch left it.
    pub(super) async fn working_exit(
        &self,
        position: &Position,
        since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Option<Order>> {
        let exit_side = position.exit_side();
        Ok(self.db.active_orders().await?.into_iter().find(|o| {
            !o.is_resting_stop()
                && o.symbol == position.symbol
                && o.exchange == position.exchange
                && o.product == position.product
                && o.side == exit_side
                && since.is_none_or(|at| o.created_at >= at)
        }))
    }

    /// Pauses every automated strategy, then exits every open position;
    /// returns the exit orders placed. Pausing comes first so no strategy
    /// opens a new position while the desk is being flattened; nothing
    /// resumes them but an operator.
    pub async fn exit_all(&mut self, placed_by: &str, why: &str) -> Result<Vec<Order>> {
        self.pause_automated_strategies(placed_by, why).await?;
        let mut placed = Vec::new();
        for p in self.db.open_positions().await? {
            match self.exit_position(p.id, placed_by).await {
                Ok(order) => placed.push(order),
                Err(e) => tracing::warn!(position = p.id, error = %e, "exit not placed"),
            }
        }
        Ok(placed)
    }
}
