//! Applying what the broker reports: order status changes, fills (recorded
//! once per trade id, with charges, into the order and the position), and
//! ticks (kept in memory; positions are marked by the risk monitor, not on
//! every tick). `catch_up` rebuilds from the broker's book whatever the event
//! stream may have missed: at start, and after dropped events.

use super::{Engine, EngineError, Result};
use xcoin_alerts::Alert;
use xcoin_broker::{Broker, BrokerEvent, BrokerFill, BrokerOrder};
use xcoin_db::DbError;
use xcoin_model::event::{EventKind, EventLevel};
use xcoin_model::money::{paisa, rupees};
use xcoin_model::order::{Order, OrderStatus};
use xcoin_model::trade::Fill;

impl<B: Broker> Engine<B> {
    /// Applies one broker event. Problems are logged, never fatal: one bad
    /// event must not stop the desk.
    pub async fn handle_event(&mut self, event: BrokerEvent) {
        let result = match event {
            BrokerEvent::Tick(t) => {
                self.strategies_on_tick(&t);
                if let Some(shadow) = self.shadow.as_mut() {
                    shadow.tick(&t).await;
                }
                let key = (t.symbol, t.exchange);
                if self.last_prices.insert(key.clone(), t.last_price) != Some(t.last_price) {
                    self.dirty.insert(key);
                }
                Ok(())
            }
            BrokerEvent::Fill(f) => self.apply_fill(&f).await.map(|_| ()),
            BrokerEvent::Order(o) => self.apply_order_update(&o).await.map(|_| ()),
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "broker event not applied");
            if matches!(&e, EngineError::Db(d) if d.is_unavailable()) {
                // The broker's book keeps what we could not store: read it
                // again once the database answers, and trade only after that.
                self.behind = true;
            }
        }
    }

    /// Finds our order for a broker order: by broker id, else by our tag (an
    /// order whose acknowledgement we never stored), recording the broker id.
    async fn our_order(&self, bo: &BrokerOrder) -> Result<Option<Order>> {
        if let Some(o) = self.db.get_order_by_broker_id(&bo.broker_order_id).await? {
            return Ok(Some(o));
        }
        let Some(id) = bo.tag.as_deref().and_then(|t| t.strip_prefix("XC")).and_then(|n| n.parse::<i64>().ok()) else {
            return Ok(None);
        };
        match self.db.get_order(id).await {
            Ok(o) if o.status == OrderStatus::Pending => Ok(Some(
                self.db.update_order_status(o.id, OrderStatus::Submitted, None, Some(&bo.broker_order_id)).await?,
            )),
            Ok(_) | Err(DbError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Applies a broker order status. Fills drive PARTIALLY_FILLED and FILLED;
    /// the broker's word decides OPEN, CANCELLED and REJECTED.
    pub async fn apply_order_update(&mut self, bo: &BrokerOrder) -> Result<Option<Order>> {
        let Some(order) = self.our_order(bo).await? else {
            tracing::debug!(broker_order = %bo.broker_order_id, "update for an order that is not ours");
            return Ok(None);
        };
        // A working stop order held untriggered, or triggered now.
        let order = if let Some(pending) = bo.trigger_pending
            && order.status.is_active()
            && pending != order.trigger_pending
        {
            self.db.set_trigger_pending(order.id, pending).await?
        } else {
            order
        };
        let target = match bo.status {
            OrderStatus::Open if order.status == OrderStatus::Submitted => Some(OrderStatus::Open),
            OrderStatus::Cancelled | OrderStatus::Rejected if order.status.is_active() => Some(bo.status),
            _ => None,
        };
        let Some(to) = target else { return Ok(Some(order)) };
        let reason = bo.message.as_deref().map(|m| format!("broker: {m}"));
        let updated = self.db.update_order_status(order.id, to, reason.as_deref(), None).await?;
        tracing::info!(order = order.id, status = %to, "order status from the broker");
        if to != OrderStatus::Open {
            let why = reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
            let level = if to == OrderStatus::Rejected { EventLevel::Warn } else { EventLevel::Info };
            self.journal(level, EventKind::Order, format!("order {} {} {to}{why}", order.id, order.describe()));
        }
        if updated.is_resting_stop() {
            // A stop the broker ended is not resting: the monitor watches the
            // position until the next sync rests it again.
            self.resting.retain(|_, order| *order != updated.id);
        }
        if to == OrderStatus::Rejected {
            let message = bo.message.as_deref().unwrap_or("no reason given");
            self.alerts.raise(Alert::order_rejected(order.id, &order.describe(), message));
        }
        self.strategies_on_order(&updated, None);
        Ok(Some(updated))
    }

    /// Records a broker fill against our order. Returns `false` for a fill
    /// already recorded or one that is not ours.
    pub async fn apply_fill(&mut self, f: &BrokerFill) -> Result<bool> {
        let Some(order) = self.db.get_order_by_broker_id(&f.broker_order_id).await? else {
            tracing::debug!(trade = %f.trade_id, "fill for an order that is not ours");
            return Ok(false);
        };
        let fill = Fill {
            order_id: order.id,
            broker: self.broker.kind(),
            broker_trade_id: f.trade_id.clone(),
            quantity: f.quantity,
            price: f.price,
            traded_at: f.at,
        };
        // One commit: the fill, its order and position, and its desk log line.
        let outcome = self.db.record_fill_logged(&fill, &self.cfg.rates, |o| fill_line(&order, o)).await?;
        if outcome.duplicate {
            return Ok(false);
        }
        tracing::info!(
            order = order.id,
            trade = %f.trade_id,
            quantity = f.quantity,
            price = %f.price,
            position = outcome.position.id,
            "fill recorded"
        );
        self.strategies_on_order(&order, Some(&outcome.trade));
        // The free margin at once; the consoles' copy with the next risk cycle.
        self.read_funds().await;
        self.check_goals().await;
        if outcome.position.quantity() == 0 {
            self.exiting.remove(&outcome.position.id);
        }
        if let Some(closed) = &outcome.closed {
            self.exiting.remove(&closed.id);
            self.resting.remove(&closed.id);
        }
        self.risk_check_due = true;
        // The position's resting stop follows its new size (or goes with it).
        let key = (order.symbol.as_str(), order.exchange, order.product);
        if let Err(e) = self.sync_resting_stop_of(Some(&outcome.position), key).await {
            tracing::error!(order = order.id, error = %e, "resting stop not brought up to date after a fill");
        }
        Ok(true)
    }

    /// Brings every local working order up to the broker's book: stores a
    /// broker id found by tag, applies fills not yet recorded and the
    /// broker's status. A PENDING order the broker never received is
    /// cancelled rather than sent again (the moment it was meant for is past).
    pub async fn catch_up(&mut self) -> Result<()> {
        let book = self.broker.orders().await?;
        let fills = self.broker.trades().await?;
        for local in self.db.active_orders().await? {
            self.sync_with(&local, &book, &fills).await?;
        }
        Ok(())
    }

    /// Brings one order up to the broker's book (after a cancel or modify,
    /// without waiting for the event stream).
    pub async fn sync_order(&mut self, order_id: i64) -> Result<Order> {
        let local = self.db.get_order(order_id).await?;
        let book = self.broker.orders().await?;
        let fills = self.broker.trades().await?;
        self.sync_with(&local, &book, &fills).await?;
        Ok(self.db.get_order(order_id).await?)
    }

    async fn sync_with(&mut self, local: &Order, book: &[BrokerOrder], fills: &[BrokerFill]) -> Result<()> {
        let found = book.iter().find(|b| {
            local.broker_order_id.as_deref() == Some(b.broker_order_id.as_str())
                || b.tag.as_deref() == Some(local.client_tag().as_str())
        });
        let Some(bo) = found else {
            if local.status == OrderStatus::Pending {
                self.db
                    .update_order_status(
                        local.id,
                        OrderStatus::Cancelled,
                        Some("not found at the broker; cancelled rather than sent again"),
                        None,
                    )
                    .await?;
                tracing::warn!(order = local.id, "PENDING order not found at the broker: cancelled");
            } else if local.status.is_active() {
                tracing::error!(order = local.id, broker_order = ?local.broker_order_id, "order missing from the broker's book");
            }
            return Ok(());
        };
        if local.broker_order_id.is_none() {
            self.db.update_order_status(local.id, OrderStatus::Submitted, None, Some(&bo.broker_order_id)).await?;
        }
        for f in fills.iter().filter(|f| f.broker_order_id == bo.broker_order_id) {
            // Boxed: applying a fill may exit or move a resting stop, which
            // may catch up with the broker again.
            Box::pin(self.apply_fill(f)).await?;
        }
        self.apply_order_update(bo).await?;
        Ok(())
    }
}

/// The desk log's line for a fill: side, quantity, price, order, trade and
/// charges; what it realised; whether the position went flat or flipped.
fn fill_line(order: &Order, outcome: &xcoin_db::trades::FillOutcome) -> String {
    let t = &outcome.trade;
    let mut line = format!(
        "fill: {} {} {} @ {} (order {}, trade {}), charges {}",
        order.side,
        t.quantity,
        t.symbol,
        paisa(t.price),
        order.id,
        t.broker_trade_id,
        rupees(t.total_charges)
    );
    if !t.realized_pnl.is_zero() {
        line.push_str(&format!(", realised {}", rupees(t.realized_pnl)));
    }
    let q = outcome.position.quantity();
    if q == 0 {
        line.push_str(&format!("; {} flat", t.symbol));
    } else if outcome.closed.is_some() {
        line.push_str(&format!("; {} flipped {} {}", t.symbol, if q > 0 { "long" } else { "short" }, q.abs()));
    }
    line
}
