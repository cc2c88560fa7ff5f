//! Reconciliation: comparing the broker's positions with ours.
//!
//! Positions are compared per (symbol, exchange, product). Each instrument
//! yields at most one mismatch: a side that is missing, else a quantity that
//! differs, else an average price further apart than the tolerance.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::enums::string_enum;
use super::order::{Exchange, Product};

string_enum!(
    /// The kinds of disagreement between the broker and the local book.
    IssueType, "issue_type" {
        QuantityMismatch => "QUANTITY_MISMATCH",
        MissingLocal => "MISSING_LOCAL",
        MissingAtBroker => "MISSING_AT_BROKER",
        PriceMismatch => "PRICE_MISMATCH",
        /// A working order of ours that the broker's book does not show.
        OrderMissingAtBroker => "ORDER_MISSING_AT_BROKER",
        /// An open position with a stop loss whose stop does not rest at the broker.
        StopNotResting => "STOP_NOT_RESTING",
        /// A stop resting at the broker whose position is closed.
        StopWithoutPosition => "STOP_WITHOUT_POSITION",
    }
);

string_enum!(
    /// How an operator settled an issue.
    Resolution, "resolution" {
        /// Adjust the local position to the broker's (the broker holds the money).
        AcceptBroker => "ACCEPT_BROKER",
        /// The local book is right; acknowledged, nothing changed.
        KeepLocal => "KEEP_LOCAL",
        /// Not worth acting on; acknowledged, nothing changed.
        Ignore => "IGNORE",
    }
);

string_enum!(
    IssueStatus, "status" { Open => "OPEN", Resolved => "RESOLVED" }
);

/// One side's holding of an instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub symbol: String,
    pub exchange: Exchange,
    pub product: Product,
    /// Signed: long > 0, short < 0.
    pub quantity: i64,
    pub average_price: Decimal,
}

impl From<&super::position::Position> for Holding {
    /// Our side of a position, as compared with the broker's.
    fn from(p: &super::position::Position) -> Self {
        Holding {
            symbol: p.symbol.clone(),
            exchange: p.exchange,
            product: p.product,
            quantity: p.quantity(),
            average_price: p.average_price(),
        }
    }
}

/// A disagreement found by [`compare`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub issue_type: IssueType,
    pub symbol: String,
    pub exchange: Exchange,
    pub product: Product,
    pub local_quantity: Option<i64>,
    pub broker_quantity: Option<i64>,
    pub local_avg_price: Option<Decimal>,
    pub broker_avg_price: Option<Decimal>,
    pub details: String,
    /// The order an order issue is about.
    pub order_id: Option<i64>,
}

/// A reconciliation issue as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub id: i64,
    pub issue_type: IssueType,
    pub symbol: String,
    pub exchange: Exchange,
    pub product: Product,
    pub position_id: Option<i64>,
    pub local_quantity: Option<i64>,
    pub broker_quantity: Option<i64>,
    pub local_avg_price: Option<Decimal>,
    pub broker_avg_price: Option<Decimal>,
    pub details: String,
    pub status: IssueStatus,
    pub resolution: Option<Resolution>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution_note: Option<String>,
    /// What accepting the broker's side changed locally.
    pub adjustment: Option<serde_json::Value>,
    pub seen_count: i64,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// The order an order issue is about.
    pub order_id: Option<i64>,
}

type Key = (String, Exchange, Product);

fn index(holdings: &[Holding]) -> BTreeMap<Key, &Holding> {
    holdings.iter().filter(|h| h.quantity != 0).map(|h| ((h.symbol.clone(), h.exchange, h.product), h)).collect()
}

/// Stops that should rest at the broker and do not, and resting stops
/// whose position is gone: `positions` are the open positions, `working`
/// the desk's working orders, `in_book` the broker ids its book shows
/// working. A stop sent after `sent_before` counts as resting (the book may
/// not list it yet).
pub fn resting_stop_mismatches(
    positions: &[super::position::Position],
    working: &[super::order::Order],
    in_book: &std::collections::HashSet<&str>,
    sent_before: DateTime<Utc>,
) -> Vec<Mismatch> {
    let same = |o: &super::order::Order, symbol: &str, exchange: Exchange, product: Product| {
        o.is_resting_stop() && o.symbol == symbol && o.exchange == exchange && o.product == product
    };
    let resting = |o: &super::order::Order| {
        o.broker_order_id.as_deref().is_some_and(|id| in_book.contains(id))
            || o.submitted_at.is_none_or(|at| at >= sent_before)
    };
    let mut found = Vec::new();
    for p in positions {
        let Some((side, quantity, stop)) = p.resting_stop() else { continue };
        let stops: Vec<_> = working
            .iter()
            .filter(|o| same(o, &p.symbol, p.exchange, p.product) && o.side == side && resting(o))
            .collect();
        let held =
            format!("position {} ({} {quantity} {})", p.id, if p.quantity() > 0 { "long" } else { "short" }, p.symbol);
        let details = match stops.first() {
            Some(o) if o.trigger_price == Some(stop) => continue,
            Some(o) => format!(
                "{held} has its stop at {stop} but the SL-M resting at the broker (order {}) triggers at {}: \
                 the engine could not move it",
                o.id,
                o.trigger_price.unwrap_or_default()
            ),
            None => format!(
                "{held} has its stop at {stop} but no SL-M {side} rests at the broker: only a running engine watches it"
            ),
        };
        found.push(Mismatch {
            issue_type: IssueType::StopNotResting,
            symbol: p.symbol.clone(),
            exchange: p.exchange,
            product: p.product,
            local_quantity: Some(p.quantity()),
            broker_quantity: stops.first().map(|o| o.pending_quantity()),
            local_avg_price: None,
            broker_avg_price: None,
            details,
            order_id: None,
        });
    }
    for o in working.iter().filter(|o| o.is_resting_stop() && resting(o)) {
        if positions.iter().any(|p| p.quantity() != 0 && same(o, &p.symbol, p.exchange, p.product)) {
            continue;
        }
        found.push(Mismatch {
            issue_type: IssueType::StopWithoutPosition,
            symbol: o.symbol.clone(),
            exchange: o.exchange,
            product: o.product,
            local_quantity: None,
            broker_quantity: Some(o.pending_quantity()),
            local_avg_price: None,
            broker_avg_price: None,
            details: format!(
                "resting stop order {} (SL-M {} {} {}) works at the broker, but no position in {} is open: \
                 filled, it would open one",
                o.id,
                o.side,
                o.pending_quantity(),
                o.symbol,
                o.symbol
            ),
            order_id: Some(o.id),
        });
    }
    found
}

/// Working orders the broker's book does not show: each order (id, and
/// broker id) of `working` whose broker id is not among `in_book`. The broker
/// may not list an order it has only just accepted, so only orders sent
/// before `sent_before` count.
pub fn orders_missing_at_broker<'a>(
    working: impl IntoIterator<Item = &'a super::order::Order>,
    in_book: &std::collections::HashSet<&str>,
    sent_before: DateTime<Utc>,
) -> Vec<Mismatch> {
    working
        .into_iter()
        .filter(|o| o.status.is_active() && o.submitted_at.is_some_and(|at| at < sent_before))
        .filter_map(|o| {
            let broker_id = o.broker_order_id.as_deref()?;
            (!in_book.contains(broker_id)).then(|| Mismatch {
                issue_type: IssueType::OrderMissingAtBroker,
                symbol: o.symbol.clone(),
                exchange: o.exchange,
                product: o.product,
                local_quantity: Some(o.pending_quantity()),
                broker_quantity: None,
                local_avg_price: None,
                broker_avg_price: None,
                details: format!(
                    "order {} ({} {} {} {}, broker id {broker_id}) is {} here but not in the broker's book as XCoin \
                     reads it: gone at the broker, or in a state XCoin does not know",
                    o.id, o.side, o.quantity, o.symbol, o.order_type, o.status
                ),
                order_id: Some(o.id),
            })
        })
        .collect()
}

/// Compares local open positions with the broker's. Flat entries (quantity 0)
/// count as absent. `price_tolerance_pct` is how far, in percent of the
/// broker's average price, the averages may differ before it is an issue.
/// The result is sorted by instrument.
pub fn compare(local: &[Holding], broker: &[Holding], price_tolerance_pct: Decimal) -> Vec<Mismatch> {
    let local = index(local);
    let broker = index(broker);
    let mut keys: Vec<&Key> = local.keys().chain(broker.keys()).collect();
    keys.sort();
    keys.dedup();

    let mut out = Vec::new();
    for key in keys {
        let (l, b) = (local.get(key), broker.get(key));
        let issue = match (l, b) {
            (Some(l), None) => Some((
                IssueType::MissingAtBroker,
                format!("local holds {} at {}, the broker holds nothing", l.quantity, l.average_price),
            )),
            (None, Some(b)) => Some((
                IssueType::MissingLocal,
                format!("the broker holds {} at {}, local holds nothing", b.quantity, b.average_price),
            )),
            (Some(l), Some(b)) if l.quantity != b.quantity => {
                Some((IssueType::QuantityMismatch, format!("local quantity {} vs broker {}", l.quantity, b.quantity)))
            }
            (Some(l), Some(b)) => {
                let gap = (l.average_price - b.average_price).abs();
                let allowed = b.average_price.abs() * price_tolerance_pct / dec!(100);
                (gap > allowed).then(|| {
                    (
                        IssueType::PriceMismatch,
                        format!(
                            "local average {} vs broker {} (apart {}, tolerance {}%)",
                            l.average_price, b.average_price, gap, price_tolerance_pct
                        ),
                    )
                })
            }
            (None, None) => None,
        };
        if let Some((issue_type, details)) = issue {
            out.push(Mismatch {
                issue_type,
                symbol: key.0.clone(),
                exchange: key.1,
                product: key.2,
                local_quantity: l.map(|h| h.quantity),
                broker_quantity: b.map(|h| h.quantity),
                local_avg_price: l.map(|h| h.average_price),
                broker_avg_price: b.map(|h| h.average_price),
                details,
                order_id: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(symbol: &str, quantity: i64, avg: Decimal) -> Holding {
        Holding { symbol: symbol.into(), exchange: Exchange::Nse, product: Product::Mis, quantity, average_price: avg }
    }

    #[test]
    fn finds_each_kind_once() {
        let local =
            vec![h("INFY", 10, dec!(1500)), h("TCS", 5, dec!(3500)), h("SBIN", 20, dec!(800)), h("ITC", 7, dec!(450))];
        let broker = vec![
            h("INFY", 12, dec!(1500)),
            h("SBIN", 20, dec!(801)),
            h("ITC", 7, dec!(450.10)),
            h("HDFCBANK", -3, dec!(1600)),
            h("WIPRO", 0, dec!(0)),
        ];
        let found = compare(&local, &broker, dec!(0.1));
        let kinds: Vec<(&str, IssueType)> = found.iter().map(|m| (m.symbol.as_str(), m.issue_type)).collect();
        assert_eq!(
            kinds,
            vec![
                ("HDFCBANK", IssueType::MissingLocal),
                ("INFY", IssueType::QuantityMismatch),
                ("SBIN", IssueType::PriceMismatch),
                ("TCS", IssueType::MissingAtBroker),
            ]
        );
        assert_eq!(found[1].local_quantity, Some(10));
        assert_eq!(found[1].broker_quantity, Some(12));
        assert_eq!(found[0].details, "the broker holds -3 at 1600, local holds nothing");
        assert_eq!(found[2].details, "local average 800 vs broker 801 (apart 1, tolerance 0.1%)");
    }

    #[test]
    fn products_are_separate_instruments() {
        let local = vec![h("INFY", 10, dec!(1500))];
        let mut cnc = h("INFY", 10, dec!(1500));
        cnc.product = Product::Cnc;
        let found = compare(&local, &[cnc], dec!(0.1));
        assert_eq!(found.len(), 2);
        assert!(compare(&local, &local, dec!(0)).is_empty());
    }
}
