//! Reconciliation: broker positions against local open positions, per
//! (symbol, exchange, product). Each mismatch is one open issue that counts
//! up while it persists. A failed broker query skips the cycle: missing data
//! never means flat.

use super::{Engine, EngineError, Result};
use crate::alerts::Alert;
use crate::broker::Broker;
use crate::domain::reconciliation::{Holding, Issue, Resolution, compare};

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
        let local_positions = self.db.open_positions().await?;
        let local: Vec<Holding> = local_positions.iter().map(Holding::from).collect();
        let mut found = Vec::new();
        for m in compare(&local, &broker, self.cfg.price_tolerance_pct) {
            let position_id = local_positions
                .iter()
                .find(|p| p.symbol == m.symbol && p.exchange == m.exchange && p.product == m.product)
                .map(|p| p.id);
            let (issue, new) = self.db.log_reconciliation_issue(&m, position_id).await?;
            if new {
                tracing::warn!(issue = issue.id, kind = %issue.issue_type, symbol = %issue.symbol, details = %issue.details, "reconciliation issue");
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
        match resolution {
            Resolution::AcceptBroker => {
                let broker = self.broker.positions().await?;
                let holding = broker.iter().find(|h| {
                    h.symbol == issue.symbol
                        && h.exchange == issue.exchange
                        && h.product == issue.product
                        && h.quantity != 0
                });
                if issue.status == crate::domain::reconciliation::IssueStatus::Resolved {
                    return Err(EngineError::Refused(format!("reconciliation issue {issue_id} is already resolved")));
                }
                Ok(self.db.accept_broker_position(issue_id, holding, who, note).await?)
            }
            Resolution::KeepLocal | Resolution::Ignore => {
                Ok(self.db.resolve_issue(issue_id, resolution, who, note).await?)
            }
        }
    }
}
