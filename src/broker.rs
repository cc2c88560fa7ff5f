//! The brokers the desk runs on: the trait and the paper exchange
//! (`xcoin-broker`), Kite Connect (`xcoin-kite`), and the one type the
//! configuration chooses between them, [`AnyBroker`]. The choice is made here,
//! where the desk is wired, so neither broker crate knows the other.

use tokio::sync::broadcast;

pub use xcoin_broker::*;
pub use xcoin_kite as kite;
use xcoin_model::order::BrokerKind;
use xcoin_model::reconciliation::Holding;

/// The broker the configuration chose: the paper exchange (PAPER) or Kite
/// Connect (LIVE). The engine runs on either through this one type.
#[derive(Clone)]
pub enum AnyBroker {
    Paper(paper::PaperBroker),
    Kite(kite::KiteBroker),
}

impl MarketData for AnyBroker {
    async fn last_prices(&self) -> Result<Vec<Tick>, BrokerError> {
        match self {
            AnyBroker::Paper(b) => b.last_prices().await,
            AnyBroker::Kite(b) => b.last_prices().await,
        }
    }
}

impl Broker for AnyBroker {
    fn kind(&self) -> BrokerKind {
        match self {
            AnyBroker::Paper(b) => b.kind(),
            AnyBroker::Kite(b) => b.kind(),
        }
    }
    async fn place(&self, req: &PlaceRequest) -> Result<String, BrokerError> {
        match self {
            AnyBroker::Paper(b) => b.place(req).await,
            AnyBroker::Kite(b) => b.place(req).await,
        }
    }
    async fn modify(&self, broker_order_id: &str, change: Modify) -> Result<(), BrokerError> {
        match self {
            AnyBroker::Paper(b) => b.modify(broker_order_id, change).await,
            AnyBroker::Kite(b) => b.modify(broker_order_id, change).await,
        }
    }
    async fn cancel(&self, broker_order_id: &str) -> Result<(), BrokerError> {
        match self {
            AnyBroker::Paper(b) => b.cancel(broker_order_id).await,
            AnyBroker::Kite(b) => b.cancel(broker_order_id).await,
        }
    }
    async fn orders(&self) -> Result<Vec<BrokerOrder>, BrokerError> {
        match self {
            AnyBroker::Paper(b) => b.orders().await,
            AnyBroker::Kite(b) => b.orders().await,
        }
    }
    async fn trades(&self) -> Result<Vec<BrokerFill>, BrokerError> {
        match self {
            AnyBroker::Paper(b) => b.trades().await,
            AnyBroker::Kite(b) => b.trades().await,
        }
    }
    async fn positions(&self) -> Result<Vec<Holding>, BrokerError> {
        match self {
            AnyBroker::Paper(b) => b.positions().await,
            AnyBroker::Kite(b) => b.positions().await,
        }
    }
    fn subscribe(&self) -> broadcast::Receiver<BrokerEvent> {
        match self {
            AnyBroker::Paper(b) => b.subscribe(),
            AnyBroker::Kite(b) => b.subscribe(),
        }
    }
    async fn funds(&self) -> Result<xcoin_model::funds::Funds, BrokerError> {
        match self {
            AnyBroker::Paper(b) => b.funds().await,
            AnyBroker::Kite(b) => b.funds().await,
        }
    }
}
