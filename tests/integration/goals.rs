//! Daily goals on every fill: each fires once, at the fill that crosses it,
//! and acts as configured; a strategy's goals count its own fills only.

use crate::engine::{buy, paper};
use crate::support::*;
use rust_decimal_macros::dec;
use xcoin::broker::paper::PaperBroker;
use xcoin::config::Settings;
use xcoin::domain::goals::{Goal, GoalAction, GoalLimits};
use xcoin::domain::order::{Exchange, OrderType, Side};
use xcoin::domain::strategy::{StrategyType, TradingMode};
use xcoin::engine::{Engine, EngineConfig};

fn none() -> GoalLimits {
    GoalLimits {
        profit_target: None,
        max_trades: None,
        max_losing_streak: None,
        give_back_pct: None,
        action: GoalAction::Notify,
    }
}

async fn engine(t: &TestDb, goals: Vec<(Option<String>, GoalLimits)>) -> Engine<PaperBroker> {
    let mut cfg = EngineConfig::from_settings(&Settings::default());
    cfg.goals = goals;
    let mut e = Engine::start(t.db.clone(), paper(1000), cfg).await.unwrap();
    e.drain_events().await.unwrap();
    e
}

/// A market order of `qty` (`side`) for `strategy`, filled at once.
async fn fill(e: &mut Engine<PaperBroker>, strategy: i64, side: Side, qty: i64) {
    let mut req = buy(e, "INFY", qty, OrderType::Market);
    (req.strategy_id, req.side) = (strategy, side);
    if side == Side::Sell {
        (req.stop_loss, req.take_profit) = (None, None);
    }
    let o = e.place_order(&req).await.unwrap();
    assert!(o.status.is_active(), "{o:?}");
    e.broker.step();
    e.drain_events().await.unwrap();
}

/// The IST trading day of the newest fill.
async fn fills_day(t: &TestDb) -> chrono::NaiveDate {
    let trades = t.trades_between("2000-01-01".parse().unwrap(), "2100-01-01".parse().unwrap()).await.unwrap();
    let newest = trades.iter().map(|t| t.traded_at).max().expect("a fill");
    Settings::default().calendar().trading_day(newest)
}

#[tokio::test]
async fn the_desks_trade_limit_fires_once_at_its_fill_and_pauses_the_automated_strategies() {
    let t = test_db().await;
    let scalper = t.ensure_strategy("Scalper", StrategyType::Scalping, TradingMode::Paper).await.unwrap().id;
    let desk = GoalLimits { max_trades: Some(3), action: GoalAction::Pause, ..none() };
    let mut e = engine(&t, vec![(None, desk)]).await;
    fill(&mut e, 1, Side::Buy, 10).await;
    fill(&mut e, 1, Side::Buy, 10).await;
    // "Today" is the day of the fills (the IST trading day, not the UTC date).
    let today = fills_day(&t).await;
    assert_eq!(t.goals_on(today).await.unwrap().len(), 0, "2 of 3");
    fill(&mut e, 1, Side::Sell, 20).await;
    let goals = t.goals_on(today).await.unwrap();
    assert_eq!(goals.len(), 1);
    assert_eq!((goals[0].scope.as_str(), goals[0].goal, goals[0].action), ("desk", Goal::MaxTrades, GoalAction::Pause));
    assert_eq!(goals[0].figures, "3 trades, the most for the day is 3");
    let s = t.get_strategy(scalper).await.unwrap();
    assert!(!s.is_active && s.paused_by.as_deref() == Some("goal"), "{s:?}");
    assert!(t.get_strategy(1).await.unwrap().is_active, "the operators' strategy goes on");
    // More fills: recorded once a day, not again.
    fill(&mut e, 1, Side::Buy, 5).await;
    assert_eq!(t.goals_on(today).await.unwrap().len(), 1);
    e.flush_journal().await;
    let log = t.recent_events(50).await.unwrap();
    assert!(log.iter().any(
        |l| l.message == "daily goal MAX_TRADES reached (desk): 3 trades, the most for the day is 3; action pause"
    ));
}

#[tokio::test]
async fn a_strategys_profit_target_and_losing_streak_count_its_own_fills_and_exit_and_pause_it() {
    let t = test_db().await;
    let scalper = t.ensure_strategy("Scalper", StrategyType::Scalping, TradingMode::Paper).await.unwrap().id;
    let mine = GoalLimits {
        profit_target: Some(dec!(50)),
        max_losing_streak: Some(2),
        action: GoalAction::ExitPause,
        ..none()
    };
    let mut e = engine(&t, vec![(Some("Scalper".into()), mine)]).await;
    // Two losing round trips of the operators' own: not the Scalper's.
    for _ in 0..2 {
        fill(&mut e, 1, Side::Buy, 10).await;
        fill(&mut e, 1, Side::Sell, 10).await;
    }
    let today = fills_day(&t).await;
    assert_eq!(t.goals_on(today).await.unwrap().len(), 0, "manual fills do not count for the Scalper");
    // The Scalper buys 100 and the price runs up: its net passes ₹50 at the sale.
    fill(&mut e, scalper, Side::Buy, 100).await;
    let last = e.last_price("INFY", Exchange::Nse).unwrap();
    e.broker.set_price("INFY", Exchange::Nse, last + dec!(2)).unwrap();
    e.drain_events().await.unwrap();
    fill(&mut e, scalper, Side::Sell, 50).await;
    let goals = t.goals_on(today).await.unwrap();
    assert_eq!(goals.iter().map(|g| (g.scope.as_str(), g.goal)).collect::<Vec<_>>(), [("Scalper", Goal::ProfitTarget)]);
    assert!(goals[0].figures.starts_with("net ₹") && goals[0].figures.ends_with(" reached the target ₹50.00"));
    // Exit and pause: its remaining 50 are sold by the goal, and it may place nothing new.
    let exits = t.active_orders().await.unwrap();
    assert_eq!((exits.len(), exits[0].placed_by.as_str(), exits[0].quantity), (1, "goal", 50));
    assert!(!t.get_strategy(scalper).await.unwrap().is_active);
}
