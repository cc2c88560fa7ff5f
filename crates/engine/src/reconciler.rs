//! Reconciliation: broker positions against local open positions, per
//! (symbol, exchange, product), and local working orders against the
//! broker's order book. Each mismatch is one open issue that counts up while
//! it persists. A failed broker query skips the cycle: missing data never
//! means flat.

use std::collections::HashSet;
use xcoin_model::event::{EventKind, EventLevel};

use super::{Engine, EngineError, Result};
use xcoin_alerts::Alert;
use xcoin_broker::Broker;
use xcoin_model::order::OrderStatus;
use xcoin_model::reconciliation::{
    Holding, Issue, IssueStatus, IssueType, Resolution, compare, orders_missing_at_broker, resting_stop_mismatches,
};

/// How long after sending an order the broker's book may still not list it.
const ORDER_BOOK_GRACE_SECS: i64 = 10;

impl<B: Broker> Engine<B> {
    /// One reconciliation cycle; returns the issues found (new or seen again).
    pub async fn reconcile_positions(&mut self) -> Result<Vec<Issue>> {
        let broker = match self.broker.positions().await {
            Ok(broker) => {
                self.broker_answered();
                broker
            }
            Err(e) => {
                let e = EngineError::Broker(e);
                self.note_failure(&e);
                return Err(e);
            }
        };
        let book = match self.broker.orders().await {
            Ok(book) => book,
            Err(e) => {
                let e = EngineError::Broker(e);
                self.note_failure(&e);
                return Err(e);
            }
        };
        let local_positions = self.db.open_positions().await?;
        // Resting stops brought up to date (or, with `risk.stop_at_exchange`
        // off, any left from before cancelled) on what was just read; what
        // this cannot repair is an issue below.
        let before = self.db.active_orders().await?;
        if let Err(e) = self.sync_resting_stops_with(&broker, &local_positions, &before).await {
            tracing::warn!(error = %e, "resting stops not brought up to date before reconciliation");
        }
        let local: Vec<Holding> = local_positions.iter().map(Holding::from).collect();
        let mut mismatches = compare(&local, &broker, self.cfg.price_tolerance_pct);
        // Working orders the book does not show (an order in a status the
        // broker mapping cannot read is left out of the book too): the
        // operator sees each one, never only a log line.
        let in_book: HashSet<&str> = book.iter().map(|b| b.broker_order_id.as_str()).collect();
        let settled = xcoin_model::clock::now() - chrono::Duration::seconds(ORDER_BOOK_GRACE_SECS);
        let working = self.db.active_orders().await?;
        mismatches.extend(orders_missing_at_broker(&working, &in_book, settled));
        if self.cfg.limits.stop_at_exchange {
            let live: HashSet<&str> =
                book.iter().filter(|b| !b.status.is_terminal()).map(|b| b.broker_order_id.as_str()).collect();
            mismatches.extend(resting_stop_mismatches(&local_positions, &working, &live, settled));
        }
        let mut found = Vec::new();
        for m in mismatches {
            let position_id = local_positions
                .iter()
                .filter(|_| m.order_id.is_none())
                .find(|p| p.symbol == m.symbol && p.exchange == m.exchange && p.product == m.product)
                .map(|p| p.id);
            let (issue, new) = self.db.log_reconciliation_issue(&m, position_id).await?;
            if new {
                tracing::warn!(issue = issue.id, kind = %issue.issue_type, symbol = %issue.symbol, details = %issue.details, "reconciliation issue");
                let line = format!(
                    "reconciliation issue {} {} {}: {}",
                    issue.id, issue.issue_type, issue.symbol, issue.details
                );
                self.journal(EventLevel::Warn, EventKind::Reconciliation, line);
                let instrument = format!("{}:{} {}", issue.exchange, issue.symbol, issue.product);
                self.alerts.raise(Alert::reconciliation_issue(
                    issue.id,
                    &issue.issue_type.to_string(),
                    &instrument,
                    &issue.details,
                ));
            }
            found.push(issue);
        }
        Ok(found)
    }

    /// Settles an issue as an operator asked. Accepting the broker's side
    /// reads the broker's position now (not the one seen when the issue was
    /// logged) and sets the local position to it.
    pub async fn resolve_issue(
        &mut self,
        issue_id: i64,
        resolution: Resolution,
        who: &str,
        note: Option<&str>,
    ) -> Result<Issue> {
        let issue = self.db.get_issue(issue_id).await?;
        if resolution == Resolution::AcceptBroker
            && matches!(issue.issue_type, IssueType::StopNotResting | IssueType::StopWithoutPosition)
        {
            return Err(EngineError::Refused(format!(
                "reconciliation issue {issue_id} is about a resting stop, which the engine rests or cancels itself \
                 each cycle: keep local or ignore it once it is settled, or exit the position"
            )));
        }
        if let Some(order_id) = issue.order_id {
            return self.resolve_order_issue(&issue, order_id, resolution, who, note).await;
        }
        match resolution {
            Resolution::AcceptBroker => {
                let broker = self.broker.positions().await?;
                let holding = broker.iter().find(|h| {
                    h.symbol == issue.symbol
                        && h.exchange == issue.exchange
                        && h.product == issue.product
                        && h.quantity != 0
                });
                if issue.status == xcoin_model::reconciliation::IssueStatus::Resolved {
                    return Err(EngineError::Refused(format!("reconciliation issue {issue_id} is already resolved")));
                }
                Ok(self.db.accept_broker_position(issue_id, holding, who, note).await?)
            }
            Resolution::KeepLocal | Resolution::Ignore => {
                Ok(self.db.resolve_issue(issue_id, resolution, who, note).await?)
            }
        }
    }

    /// An order the broker's book does not show. Accepting the broker's side
    /// cancels the local order (the broker has nothing working), after one
    /// more look at the book in case it came back; keeping local or ignoring
    /// changes nothing and stays resolved while the mismatch is the same.
    async fn resolve_order_issue(
        &mut self,
        issue: &Issue,
        order_id: i64,
        resolution: Resolution,
        who: &str,
        note: Option<&str>,
    ) -> Result<Issue> {
        if issue.status == IssueStatus::Resolved {
            return Err(EngineError::Refused(format!("reconciliation issue {} is already resolved", issue.id)));
        }
        if resolution == Resolution::AcceptBroker {
            let order = self.db.get_order(order_id).await?;
            let broker_id = order.broker_order_id.clone().unwrap_or_default();
            if self.broker.orders().await?.iter().any(|b| b.broker_order_id == broker_id) {
                return Err(EngineError::Refused(format!(
                    "order {order_id} is in the broker's book again; nothing to accept, the next cycle settles it"
                )));
            }
            if !order.status.is_terminal() {
                let reason = format!("not in the broker's book; cancelled locally by {who} (issue {})", issue.id);
                self.db.update_order_status(order_id, OrderStatus::Cancelled, Some(&reason), None).await?;
            }
        }
        Ok(self.db.resolve_issue(issue.id, resolution, who, note).await?)
    }
}
