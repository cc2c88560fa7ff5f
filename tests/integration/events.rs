//! The desk log: what the engine writes to `desk_events`, worded for an
//! operator (amounts to the paisa), append-only and kept 30 days.

use crate::engine::{buy, engine_on, paper};
use crate::support::*;
use xcoin::db::events::DeskEvent;
use xcoin::domain::command::OperatorCommand;
use xcoin::domain::event::{EventKind, EventLevel};
use xcoin::domain::order::OrderType;

async fn log(t: &TestDb) -> Vec<DeskEvent> {
    t.recent_events(100).await.unwrap()
}

fn lines(events: &[DeskEvent]) -> Vec<(EventLevel, EventKind, String)> {
    events.iter().map(|e| (e.level, e.kind, e.message.clone())).collect()
}

#[tokio::test]
async fn the_engine_logs_orders_refusals_fills_commands_and_the_kill_switch_for_every_console() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(1000)).await;
    let ok = e.place_order(&buy(&e, "INFY", 10, OrderType::Market)).await.unwrap();
    let mut no_stop = buy(&e, "INFY", 10, OrderType::Market);
    no_stop.stop_loss = None;
    let refused = e.place_order(&no_stop).await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    let trade = t.today_trades().await.unwrap().remove(0);
    t.enqueue_command(&OperatorCommand::KillSwitchOn { reason: "desk check".into() }, "asha").await.unwrap();
    e.process_commands().await;
    e.flush_journal().await; // the log's own task writes it
    let got = lines(&log(&t).await);
    let want = [
        (
            EventLevel::Info,
            EventKind::Order,
            format!("order {} BUY 10 INFY MARKET placed by test (broker {})", ok.id, {
                t.get_order(ok.id).await.unwrap().broker_order_id.unwrap()
            }),
        ),
        (
            EventLevel::Warn,
            EventKind::Order,
            format!(
                "order {} BUY 10 INFY MARKET refused: stop loss: required on every position, requested by test",
                refused.id
            ),
        ),
        (
            EventLevel::Info,
            EventKind::Fill,
            format!(
                "fill: BUY 10 INFY @ {} (order {}, trade {}), charges {}",
                xcoin::domain::money::paisa(trade.price),
                ok.id,
                trade.broker_trade_id,
                xcoin::domain::money::rupees(trade.total_charges)
            ),
        ),
        (EventLevel::Error, EventKind::KillSwitch, "KILL SWITCH ACTIVATED (OPERATOR) by asha: desk check".to_string()),
    ];
    for w in &want {
        assert!(got.contains(w), "{w:?} in {got:#?}");
    }
    // The operator's command, with what it did, closes the story.
    let (level, kind, done) = got.last().unwrap();
    assert_eq!((*level, *kind), (EventLevel::Info, EventKind::Command));
    assert!(
        done.starts_with(
            "asha: KILL_SWITCH_ON done: kill switch ACTIVE: 0 orders cancelled, 1 position exited, today's P&L "
        ),
        "{done}"
    );
    // Prices to the paisa, never the database's ten decimals.
    let long_decimal = |m: &str| m.as_bytes().windows(4).any(|w| w[0] == b'.' && w[1..].iter().all(u8::is_ascii_digit));
    assert!(got.iter().all(|(_, _, m)| !long_decimal(m)), "{got:#?}");
}

#[tokio::test]
async fn the_desk_log_is_append_only_and_kept_thirty_days() {
    let t = test_db().await;
    let e = t.record_event(EventLevel::Info, EventKind::Engine, "engine running on the paper broker").await.unwrap();
    let (constraint, message) = t.refused(&format!("UPDATE desk_events SET message = 'x' WHERE id = {}", e.id)).await;
    assert_eq!(constraint, "desk_events_append_only");
    assert!(message.contains("the desk log is append-only and kept 30 days"), "{message}");
    let (constraint, _) = t.refused(&format!("DELETE FROM desk_events WHERE id = {}", e.id)).await;
    assert_eq!(constraint, "desk_events_append_only", "a line younger than 30 days stays");
    // A line from 31 days ago goes at the engine's next start.
    t.sql("INSERT INTO desk_events (at, level, kind, message) VALUES (xcoin_now() - interval '31 days', 'INFO', 'ENGINE', 'old')")
        .await;
    assert_eq!(t.prune_events().await.unwrap(), 1);
    assert_eq!(
        log(&t).await.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
        ["engine running on the paper broker"]
    );
    // Bad lines are refused with the field named.
    assert_eq!(
        t.record_event(EventLevel::Info, EventKind::Engine, " ").await.unwrap_err().to_string(),
        "message: must hold 1 to 2000 characters, got 1"
    );
}
