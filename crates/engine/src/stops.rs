//! Stops that rest at the exchange (`risk.stop_at_exchange`, on by default).
//!
//! Once a position opens with a stop loss, the stop rests at the broker as
//! an SL-M order on the closing side for the whole position (tagged like
//! every order of ours, with Kite's market protection), placed by
//! [`RESTING_STOP`] through the same validator as every order (an exit, so
//! no limit of ours blocks it). It follows the position: moved when the
//! stop moves, resized when the position grows or shrinks, cancelled when
//! the position closes any other way or flips. Its fill is the position's
//! exit, recorded like any fill — by this engine, or by the next one from
//! the broker's book when none was running.
//!
//! The target stays with the engine (Kite has no OCO for intraday orders):
//! before the engine exits a position (target, loss limit, an operator, the
//! square-off) it cancels the resting stop, and if the stop filled first the
//! exit is not sent. While a stop rests, the risk monitor leaves the stop
//! rule to the exchange (two exits would flip the position); if the broker
//! cancels or rejects the resting stop, the monitor's rule applies again
//! until the stop rests once more.
//!
//! The engine brings every position's resting stop to what it should be at
//! start, after every fill, when levels are set and on each reconciliation
//! cycle; what it cannot repair there is a reconciliation issue: a position
//! without its resting stop (`STOP_NOT_RESTING`), a resting stop without its
//! position (`STOP_WITHOUT_POSITION`).

use super::{Engine, EngineError, Result};
use xcoin_broker::Broker;
use xcoin_db::orders::OrderModification;
use xcoin_model::event::{EventKind, EventLevel};
use xcoin_model::money::paisa;
use xcoin_model::order::{Exchange, Order, OrderRequest, OrderStatus, OrderType, Product, Validity};
use xcoin_model::position::Position;
use xcoin_model::reconciliation::Holding;

pub use xcoin_model::order::RESTING_STOP;

/// The working resting stops of an instrument, from the desk's working orders.
fn stops_of(active: &[Order], symbol: &str, exchange: Exchange, product: Product) -> Vec<Order> {
    active
        .iter()
        .filter(|o| o.is_resting_stop() && o.symbol == symbol && o.exchange == exchange && o.product == product)
        .cloned()
        .collect()
}

impl<B: Broker> Engine<B> {
    /// Brings every open position's resting stop to what it should be, and
    /// cancels resting stops whose position is gone. A stop rests for no
    /// more than the broker holds on the same side: where the desk and the
    /// broker disagree (a reconciliation issue), a stop sized on the desk's
    /// side alone could open a position at the broker when it fills.
    pub async fn sync_resting_stops(&mut self) -> Result<()> {
        let held = self.broker.positions().await?;
        let positions = self.db.open_positions().await?;
        let active = self.db.active_orders().await?;
        self.sync_resting_stops_with(&held, &positions, &active).await
    }

    /// [`Engine::sync_resting_stops`] on what the caller has just read: the
    /// broker's positions, the desk's open positions and working orders.
    pub(super) async fn sync_resting_stops_with(
        &mut self,
        held: &[Holding],
        positions: &[Position],
        active: &[Order],
    ) -> Result<()> {
        self.resting.clear();
        let mut seen = std::collections::HashSet::new();
        for p in positions {
            seen.insert((p.symbol.clone(), p.exchange, p.product));
            let at_broker = held
                .iter()
                .find(|h| h.symbol == p.symbol && h.exchange == p.exchange && h.product == p.product)
                .map_or(0, |h| h.quantity);
            let cap = if at_broker.signum() == p.quantity().signum() { at_broker.abs() } else { 0 };
            let stops = stops_of(active, &p.symbol, p.exchange, p.product);
            if let Err(e) = self.sync_stop(Some(p), stops, cap).await {
                tracing::error!(position = p.id, error = %e, "resting stop not brought up to date");
            }
        }
        for o in active.iter().filter(|o| o.is_resting_stop()) {
            if !seen.contains(&(o.symbol.clone(), o.exchange, o.product)) {
                self.sync_stop(None, vec![o.clone()], 0).await?;
            }
        }
        Ok(())
    }

    /// [`Engine::sync_resting_stops`] for one instrument: its open position
    /// as a fill left it (`None`: flat). Right after the broker's own fill,
    /// the desk holds what the broker does.
    pub async fn sync_resting_stop_of(
        &mut self,
        position: Option<&Position>,
        key: (&str, Exchange, Product),
    ) -> Result<()> {
        let (symbol, exchange, product) = key;
        let stops = self.db.working_resting_stops(symbol, exchange, product).await?;
        self.sync_stop(position.filter(|p| p.quantity() != 0), stops, i64::MAX).await
    }

    /// Places, moves, resizes or cancels `position`'s resting stops so that
    /// exactly the one it should have works (none without a position), for
    /// at most `cap` shares. Long by design: one decision table (keep,
    /// modify, replace, cancel, place) over the stops found, in one place.
    async fn sync_stop(&mut self, position: Option<&Position>, stops: Vec<Order>, cap: i64) -> Result<()> {
        let want = position
            .filter(|p| self.cfg.limits.stop_at_exchange && !self.exiting.contains(&p.id))
            .and_then(|p| p.resting_stop().map(|(side, quantity, stop)| (p, (side, quantity.min(cap), stop))))
            .filter(|(_, (_, quantity, _))| *quantity > 0);
        let keep = want.and_then(|(_, (side, _, _))| stops.iter().find(|o| o.side == side).map(|o| o.id));
        for o in stops.iter().filter(|o| Some(o.id) != keep) {
            let why = match position {
                Some(p) if p.quantity() != 0 => format!("position {} {} changed side or lost its stop", p.id, p.symbol),
                _ => format!("its position in {} is closed", o.symbol),
            };
            self.cancel_resting_stop(o, &why).await?;
        }
        let Some((p, (side, quantity, trigger))) = want else {
            if let Some(p) = position {
                self.resting.remove(&p.id);
            }
            return Ok(());
        };
        match stops.into_iter().find(|o| Some(o.id) == keep) {
            Some(o) => {
                let rests = o.quantity - o.filled_quantity;
                let change = OrderModification {
                    quantity: (rests != quantity).then_some(o.filled_quantity + quantity),
                    price: None,
                    trigger_price: (o.trigger_price != Some(trigger)).then_some(trigger),
                };
                // A stop not yet acknowledged is brought up to date at the next sync.
                if (change.quantity.is_some() || change.trigger_price.is_some()) && o.status != OrderStatus::Pending {
                    if let Err(e) = self.modify_order_by(o.id, change, RESTING_STOP).await {
                        // Refused (Kite's 25 modifications, a partly filled
                        // stop): a new stop replaces it, with the same checks.
                        tracing::warn!(order = o.id, error = %e, "resting stop not modified: replacing it");
                        self.cancel_resting_stop(&o, &format!("replaced: {e}")).await?;
                        return Box::pin(self.sync_stop(Some(p), Vec::new(), cap)).await;
                    }
                    let line = format!(
                        "resting stop of position {} {} moved: {side} {quantity} at {} (order {})",
                        p.id,
                        p.symbol,
                        paisa(trigger),
                        o.id
                    );
                    self.journal(EventLevel::Info, EventKind::Order, line);
                }
                self.resting.insert(p.id, o.id);
            }
            None => {
                let req = OrderRequest {
                    strategy_id: p.strategy_id,
                    symbol: p.symbol.clone(),
                    exchange: p.exchange,
                    side,
                    order_type: OrderType::StopLossMarket,
                    product: p.product,
                    validity: Validity::Day,
                    quantity,
                    price: None,
                    trigger_price: Some(trigger),
                    stop_loss: None,
                    take_profit: None,
                    parent_order_id: None,
                    placed_by: RESTING_STOP.to_string(),
                };
                let order = self.place_order(&req).await?;
                if order.status.is_active() {
                    self.resting.insert(p.id, order.id);
                    let line = format!(
                        "stop of position {} {} rests at the exchange: SL-M {side} {quantity} at {} (order {})",
                        p.id,
                        p.symbol,
                        paisa(trigger),
                        order.id
                    );
                    self.journal(EventLevel::Info, EventKind::Order, line);
                } else {
                    self.resting.remove(&p.id);
                    let why = order.status_reason.clone().unwrap_or_default();
                    let line = format!(
                        "stop of position {} {} NOT resting at the exchange ({why}): the engine watches it",
                        p.id, p.symbol
                    );
                    self.journal(EventLevel::Error, EventKind::Order, line);
                }
            }
        }
        Ok(())
    }

    async fn cancel_resting_stop(&mut self, o: &Order, why: &str) -> Result<()> {
        tracing::info!(order = o.id, %why, "cancelling a resting stop");
        self.resting.retain(|_, order| *order != o.id);
        self.cancel_order(o.id).await?;
        Ok(())
    }

    /// Before an exit: the position's resting stops cancelled, so the exit
    /// and the stop cannot both fill. If a stop cannot be cancelled (it
    /// filled, or is filling), the broker's word is read and the exit is
    /// refused when the position is closed by then, or when the stop still
    /// works (sending the exit would risk a double exit).
    pub(super) async fn lift_resting_stop(&mut self, position: &Position) -> Result<()> {
        let stops = self.db.working_resting_stops(&position.symbol, position.exchange, position.product).await?;
        for o in &stops {
            if let Err(e) = self.cancel_resting_stop(o, "the position is being exited").await {
                tracing::warn!(order = o.id, error = %e, "the resting stop was not cancelled before the exit");
                if let Err(e) = self.catch_up().await {
                    tracing::warn!(error = %e, "catch-up with the broker after a failed stop cancel");
                }
                let now = self.db.get_position(position.id).await?;
                if now.quantity() == 0 {
                    return Err(EngineError::Refused(format!(
                        "position {} was closed by its resting stop (order {})",
                        position.id, o.id
                    )));
                }
                if self.db.get_order(o.id).await?.status.is_active() {
                    return Err(EngineError::Refused(format!(
                        "position {}'s resting stop (order {}) could not be cancelled ({e}); no exit sent, \
                         so the two cannot both fill",
                        position.id, o.id
                    )));
                }
            }
        }
        Ok(())
    }
}
