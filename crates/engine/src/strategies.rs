//! The engine's side of strategies: registering one under its row, telling
//! it of its instruments' ticks and its own fills, asking it on the timer and
//! turning its intents into orders through the one validator.

use super::strategy::{Intent, Strategy, View};
use super::{Engine, Result};
use xcoin_broker::{Broker, Tick};
use xcoin_model::order::{Exchange, Order, OrderRequest};
use xcoin_model::position::Position;
use xcoin_model::strategy::{Strategy as StrategyRow, TradingMode};
use xcoin_model::trade::Trade;

/// What a cycle's risk half read of the desk, for its strategies' half: no
/// fill is applied between the two, so the open positions are the same.
pub(super) struct Seen {
    pub positions: Vec<Position>,
    pub kill_switch_active: bool,
    /// The working orders and the active strategies, read with the
    /// positions when the risk half placed and cancelled nothing after.
    pub working: Option<(Vec<Order>, Vec<xcoin_model::strategy::Strategy>)>,
}

/// A strategy the engine runs, with its row's id and instruments.
pub(super) struct Running {
    pub id: i64,
    pub strategy: Box<dyn Strategy>,
    /// The instruments it is told of; empty: all.
    pub instruments: Vec<(String, Exchange)>,
}

/// What a strategy asked for, as the console shows it.
fn describe(intents: &[Intent]) -> String {
    let parts: Vec<String> = intents
        .iter()
        .map(|i| match i {
            Intent::Place(r) => {
                let price = r.price.map_or(String::new(), |p| format!(" @ {}", xcoin_model::money::paisa(p)));
                format!("{} {} {} {}{price}", r.side, r.quantity, r.symbol, r.order_type)
            }
            Intent::Modify { order_id, .. } => format!("modify order {order_id}"),
            Intent::Cancel { order_id } => format!("cancel order {order_id}"),
            Intent::Exit { position_id } => format!("exit position {position_id}"),
        })
        .collect();
    parts.join("; ")
}

impl<B: Broker> Engine<B> {
    /// Runs a strategy from now on under its row in `strategies` (made,
    /// in the desk's mode, if new): its parameters are checked on load, it
    /// is told only of its instruments, and its orders meet its own limits
    /// beside the desk's. A strategy registered PAPER on a LIVE desk runs
    /// in the paper book ([`super::shadow`]); one registered LIVE on a PAPER
    /// desk is refused. Returns its id (the desk's row).
    pub async fn add_strategy(&mut self, mut strategy: Box<dyn Strategy>) -> Result<i64> {
        let mode = match self.broker.kind() {
            xcoin_model::order::BrokerKind::Paper => TradingMode::Paper,
            xcoin_model::order::BrokerKind::Kite => TradingMode::Live,
        };
        let row = self.db.ensure_strategy(strategy.name(), strategy.strategy_type(), mode).await?;
        if row.mode == TradingMode::Paper && mode == TradingMode::Live && row.is_automated() {
            return self.add_paper_strategy(&row, strategy).await;
        }
        if row.mode != mode {
            return Err(super::EngineError::Refused(format!(
                "strategy \"{}\" is registered {} but this desk trades {mode}; change its mode with `xcoin strategy set`",
                row.name, row.mode
            )));
        }
        strategy
            .configure(&row.parameters)
            .map_err(|e| super::EngineError::Refused(format!("strategy \"{}\": {e}", row.name)))?;
        let instruments = row
            .instruments
            .iter()
            .map(|i| xcoin_model::strategy::parse_instrument(i))
            .collect::<std::result::Result<Vec<_>, String>>()
            .map_err(|e| super::EngineError::Refused(format!("strategy \"{}\": instruments: {e}", row.name)))?;
        self.strategies.retain(|r| r.id != row.id);
        self.strategies.push(Running { id: row.id, strategy, instruments });
        Ok(row.id)
    }

    /// A PAPER strategy on a LIVE desk: checked as any other, then run in
    /// the paper book beside the desk (see [`super::shadow`]).
    async fn add_paper_strategy(&mut self, row: &StrategyRow, mut strategy: Box<dyn Strategy>) -> Result<i64> {
        strategy
            .configure(&row.parameters)
            .map_err(|e| super::EngineError::Refused(format!("strategy \"{}\": {e}", row.name)))?;
        let id = self.paper_book().await?.add(row, strategy).await?;
        tracing::info!(strategy = row.id, paper_book_strategy = id, name = %row.name, "PAPER strategy runs in the paper book");
        Ok(row.id)
    }

    /// The paper book, started on first use.
    async fn paper_book(&mut self) -> Result<&mut super::shadow::Shadow> {
        if self.shadow.is_none() {
            self.shadow = Some(Box::new(super::shadow::Shadow::start(&self.db, &self.cfg).await?));
        }
        Ok(self.shadow.as_mut().expect("the paper book was just started"))
    }

    /// On a LIVE desk with automated PAPER strategies registered, opens the
    /// paper book at start, so what it holds is marked, stopped and squared
    /// off, and what works there is filled, before any of them runs again.
    pub(super) async fn open_paper_book(&mut self) -> Result<()> {
        if self.broker.kind() != xcoin_model::order::BrokerKind::Kite {
            return Ok(());
        }
        let rows = self.db.all_strategies().await?;
        let paper: Vec<&StrategyRow> =
            rows.iter().filter(|r| r.mode == TradingMode::Paper && r.is_automated()).collect();
        if paper.is_empty() {
            return Ok(());
        }
        let shadow = self.paper_book().await?;
        for row in paper {
            shadow.register(row).await?;
        }
        Ok(())
    }

    /// An order for a PAPER strategy on a LIVE desk (a command, the webhook,
    /// `xcoin order place`) goes to the paper book, never to the broker:
    /// `None` when the order is the desk's own. The desk's kill switch stops
    /// it as it stops the desk's orders; the paper book's validator judges it.
    pub(super) async fn place_in_paper_book(&mut self, req: &OrderRequest) -> Result<Option<Order>> {
        if self.broker.kind() != xcoin_model::order::BrokerKind::Kite {
            return Ok(None);
        }
        let row = self.db.get_strategy(req.strategy_id).await?;
        // Manual Trading is the operators' own: its orders are the desk's,
        // in the desk's mode, whatever its row says.
        if row.mode != TradingMode::Paper || !row.is_automated() {
            return Ok(None);
        }
        let stopped = if !self.trading_enabled() {
            Some("the desk is not trading")
        } else if self.kill_switch_active().await? {
            Some("kill switch is active")
        } else {
            None
        };
        if let Some(why) = stopped {
            return Err(super::EngineError::Refused(format!(
                "{why}: no order for strategy \"{}\" (PAPER), even in the paper book",
                row.name
            )));
        }
        let shadow = self.paper_book().await?;
        let id = shadow.register(&row).await?;
        let paper = OrderRequest { strategy_id: id, ..req.clone() };
        Ok(Some(Box::pin(shadow.engine.place_order(&paper)).await?))
    }

    /// The paper book's cycle, after the desk's: its strategies run as the
    /// desk allows (active at the desk, the desk trading, no kill switch).
    pub(super) async fn paper_book_cycle(&mut self, kill_switch_active: Option<bool>) -> Result<()> {
        if self.shadow.is_none() {
            return Ok(());
        }
        let killed = match kill_switch_active {
            Some(k) => k,
            None => self.kill_switch_active().await?,
        };
        let (active, why_not) = if killed {
            (Vec::new(), "the desk's kill switch is active")
        } else if !self.trading_enabled() {
            (Vec::new(), "the desk is not trading")
        } else {
            (self.db.active_strategies().await?.into_iter().map(|s| s.id).collect(), "paused at the desk")
        };
        let Some(shadow) = self.shadow.as_mut() else { return Ok(()) };
        for (desk_id, decision) in shadow.cycle(&active, why_not).await? {
            let marked = format!("{}{decision}", super::shadow::DECISION_MARK);
            self.db.record_decision(desk_id, &marked).await?;
            shadow.copied(desk_id, decision);
        }
        Ok(())
    }

    /// Tells every strategy of a price of its instruments.
    pub(super) fn strategies_on_tick(&mut self, tick: &Tick) {
        for r in &mut self.strategies {
            if r.instruments.is_empty() || r.instruments.iter().any(|(s, e)| *s == tick.symbol && *e == tick.exchange) {
                r.strategy.on_tick(tick);
            }
        }
    }

    /// Tells a strategy of its own order's fill or status.
    pub(super) fn strategies_on_order(&mut self, order: &Order, fill: Option<&Trade>) {
        for r in self.strategies.iter_mut().filter(|r| r.id == order.strategy_id) {
            match fill {
                Some(t) => r.strategy.on_fill(order, t),
                None => r.strategy.on_order(order),
            }
        }
    }

    /// Asks each active strategy what it wants, and carries it out through
    /// the validator. Nothing is asked while trading is stopped or the kill
    /// switch is active; a paused strategy is not asked at all.
    pub async fn run_strategies(&mut self) -> Result<()> {
        self.run_strategies_seen(None).await
    }

    /// [`run_strategies`](Self::run_strategies), with what the cycle's risk
    /// half already read of the desk in this cycle (read here when `None`).
    pub(super) async fn run_strategies_seen(&mut self, seen: Option<Seen>) -> Result<()> {
        if self.strategies.is_empty() || !self.trading_enabled() {
            return Ok(());
        }
        // The reads a decision needs do not wait on each other: they run at
        // once, on connections of their own.
        let db = &self.db;
        let (positions, orders, active) = match seen {
            Some(Seen { kill_switch_active: true, .. }) => return Ok(()),
            Some(Seen { positions, working: Some((orders, active)), .. }) => (positions, orders, active),
            Some(seen) => {
                let (orders, active) = tokio::try_join!(db.active_orders(), db.active_strategies())?;
                (seen.positions, orders, active)
            }
            None => {
                let (kill_switch, positions, orders, active) = tokio::try_join!(
                    db.kill_switch_state(),
                    db.open_positions(),
                    db.active_orders(),
                    db.active_strategies()
                )?;
                if kill_switch.active {
                    return Ok(());
                }
                (positions, orders, active)
            }
        };
        let mut busy: Vec<(String, Exchange)> = positions.iter().map(|p| (p.symbol.clone(), p.exchange)).collect();
        busy.extend(orders.iter().map(|o| (o.symbol.clone(), o.exchange)));
        busy.sort();
        busy.dedup();
        let limits = self.cfg.limits.clone();
        let active: Vec<i64> = active.into_iter().map(|s| s.id).collect();
        let mut running = std::mem::take(&mut self.strategies);
        let mut result = Ok(());
        for r in &mut running {
            if !active.contains(&r.id) {
                continue;
            }
            let own_positions: Vec<Position> = positions.iter().filter(|p| p.strategy_id == r.id).cloned().collect();
            let own_orders: Vec<Order> = orders.iter().filter(|o| o.strategy_id == r.id).cloned().collect();
            let view = View {
                busy: &busy,
                positions: &own_positions,
                orders: &own_orders,
                limits: &limits,
                now: xcoin_model::clock::now(),
            };
            let intents = r.strategy.decide(&view);
            if intents.is_empty() {
                continue;
            }
            let name = r.strategy.name().to_string();
            let mut outcomes = Vec::new();
            for intent in intents {
                let asked = describe(std::slice::from_ref(&intent));
                match self.carry_out(r.id, &name, intent, &own_orders, &own_positions).await {
                    Ok(done) => outcomes.push(format!("{asked}: {done}")),
                    Err(e) => {
                        tracing::warn!(strategy = r.id, error = %e, "a strategy's intent was not carried out");
                        outcomes.push(format!("{asked}: not done, {e}"));
                        result = Err(e);
                    }
                }
            }
            if let Err(e) = self.db.record_decision(r.id, &outcomes.join("; ")).await {
                tracing::warn!(strategy = r.id, error = %e, "a strategy's decision was not recorded");
            }
        }
        self.strategies = running;
        result
    }

    /// One intent, as the strategy's own: an order under its id and name; a
    /// change only to its own orders and positions.
    async fn carry_out(
        &mut self,
        id: i64,
        name: &str,
        intent: Intent,
        orders: &[Order],
        positions: &[Position],
    ) -> Result<String> {
        let foreign = |what: &str, n: i64| super::EngineError::Refused(format!("{what} {n} is not strategy {id}'s"));
        match intent {
            Intent::Place(mut req) => {
                (req.strategy_id, req.placed_by) = (id, name.to_string());
                let order = self.place_order(&req).await?;
                tracing::info!(strategy = id, order = order.id, status = %order.status, "strategy entry");
                Ok(match &order.status_reason {
                    Some(why) => format!("order {} {}: {why}", order.id, order.status),
                    None => format!("order {} {}", order.id, order.status),
                })
            }
            Intent::Modify { order_id, change } => {
                if !orders.iter().any(|o| o.id == order_id) {
                    return Err(foreign("order", order_id));
                }
                self.modify_order_by(order_id, change, name).await?;
                Ok(format!("order {order_id} modified"))
            }
            Intent::Cancel { order_id } => {
                if !orders.iter().any(|o| o.id == order_id) {
                    return Err(foreign("order", order_id));
                }
                self.cancel_order(order_id).await?;
                Ok(format!("order {order_id} cancelled"))
            }
            Intent::Exit { position_id } => {
                if !positions.iter().any(|p| p.id == position_id) {
                    return Err(foreign("position", position_id));
                }
                let order = self.exit_position(position_id, name).await?;
                Ok(format!("exit order {} {}", order.id, order.status))
            }
        }
    }
}
