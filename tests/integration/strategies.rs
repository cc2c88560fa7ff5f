//! A strategy written outside the engine plugs in through the `Strategy`
//! trait, trades on the paper exchange through the validator under its own
//! name, hears its own fills, and places nothing while paused.

use crate::engine::{engine_on, paper};
use crate::support::*;
use rust_decimal_macros::dec;
use std::sync::{Arc, Mutex};
use xcoin::domain::order::{Exchange, OrderRequest, OrderStatus, OrderType, Product, Side, Validity};
use xcoin::engine::strategy::{Intent, Strategy, View};

/// Buys 2 INFY once, with a stop a rupee under the last tick it saw; then
/// exits the position it holds when told of its fill.
struct OneShot {
    last: Option<rust_decimal::Decimal>,
    sent: bool,
    fills: Arc<Mutex<Vec<i64>>>,
}

impl Strategy for OneShot {
    fn name(&self) -> &str {
        "One Shot"
    }
    fn on_tick(&mut self, tick: &xcoin::broker::Tick) {
        if tick.symbol == "INFY" {
            self.last = Some(tick.last_price);
        }
    }
    fn on_fill(&mut self, _order: &xcoin::domain::order::Order, fill: &xcoin::domain::trade::Trade) {
        self.fills.lock().unwrap().push(fill.quantity);
    }
    fn decide(&mut self, view: &View) -> Vec<Intent> {
        if let Some(p) = view.positions.first() {
            return vec![Intent::Exit { position_id: p.id }];
        }
        let Some(last) = self.last.filter(|_| !self.sent) else { return vec![] };
        self.sent = true;
        vec![Intent::Place(OrderRequest {
            strategy_id: 999, // the engine sets its own id
            symbol: "INFY".into(),
            exchange: Exchange::Nse,
            side: Side::Buy,
            order_type: OrderType::Market,
            product: Product::Mis,
            validity: Validity::Day,
            quantity: 2,
            price: None,
            trigger_price: None,
            stop_loss: Some(last - dec!(1)),
            take_profit: None,
            parent_order_id: None,
            placed_by: "anyone".into(),
        })]
    }
}

#[tokio::test]
async fn a_strategy_from_outside_trades_through_the_validator_and_a_paused_one_places_nothing() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(1000)).await;
    let fills = Arc::new(Mutex::new(Vec::new()));
    let id = e.add_strategy(Box::new(OneShot { last: None, sent: false, fills: fills.clone() })).await.unwrap();
    assert_eq!(t.get_strategy(id).await.unwrap().name, "One Shot");

    // Paused: not asked, nothing placed.
    t.pause_strategy(id, "asha", "not today").await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    e.run_strategies().await.unwrap();
    assert!(t.today_orders().await.unwrap().is_empty());

    // Resumed: its order goes through under its own id and name, and fills.
    t.resume_strategy(id).await.unwrap();
    e.run_strategies().await.unwrap();
    let orders = t.today_orders().await.unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!((orders[0].strategy_id, orders[0].placed_by.as_str(), orders[0].quantity), (id, "One Shot", 2));
    e.broker.step();
    e.drain_events().await.unwrap();
    assert_eq!(t.get_order(orders[0].id).await.unwrap().status, OrderStatus::Filled);
    assert_eq!(*fills.lock().unwrap(), [2], "it hears its own fill");

    // Its intent to exit what it holds becomes an exit order under its name.
    e.run_strategies().await.unwrap();
    let exits = t.active_orders().await.unwrap();
    assert_eq!((exits.len(), exits[0].side, exits[0].placed_by.as_str()), (1, Side::Sell, "One Shot"));

    // The kill switch stops it too.
    t.activate_kill_switch(&operator_activation("stop", "asha")).await.unwrap();
    let before = t.today_orders().await.unwrap().len();
    e.run_strategies().await.unwrap();
    assert_eq!(t.today_orders().await.unwrap().len(), before);
}
