//! The kill switch record.

use crate::support::*;
use rust_decimal_macros::dec;
use xcoin::db::DbError;
use xcoin::db::kill_switch::Activation;
use xcoin::domain::command::{KillSwitchAction, KillSwitchTrigger};

#[tokio::test]
async fn activate_once_rearm_once_and_state_follows() {
    let t = test_db().await;
    assert!(!t.kill_switch_state().await.unwrap().active);
    let a = Activation {
        trigger: KillSwitchTrigger::DailyLoss,
        reason: "daily loss 6,120.50 ≥ limit 6,000.00",
        actor: "risk-monitor",
        orders_cancelled: 3,
        positions_exited: 2,
        daily_pnl: Some(dec!(-6120.50)),
    };
    let e = t.activate_kill_switch(&a).await.unwrap();
    assert_eq!(
        (e.action, e.trigger, e.orders_cancelled, e.positions_exited),
        (KillSwitchAction::Activated, KillSwitchTrigger::DailyLoss, 3, 2)
    );
    let state = t.kill_switch_state().await.unwrap();
    assert!(state.active);
    assert_eq!(state.last_event.unwrap().id, e.id);

    let err = t
        .activate_kill_switch(&Activation {
            trigger: KillSwitchTrigger::Operator,
            actor: "asha",
            reason: "again",
            ..a.clone()
        })
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("the kill switch is already active (since "), "{err}");
    assert!(err.to_string().ends_with(" by risk-monitor: daily loss 6,120.50 ≥ limit 6,000.00)"), "{err}");

    assert_eq!(t.deactivate_kill_switch("", "asha").await.unwrap_err().to_string(), "reason: must not be empty");
    let r = t.deactivate_kill_switch("limits reviewed", "asha").await.unwrap();
    assert_eq!((r.action, r.actor.as_str()), (KillSwitchAction::Deactivated, "asha"));
    assert!(!t.kill_switch_state().await.unwrap().active);
    assert_eq!(
        t.deactivate_kill_switch("again", "asha").await.unwrap_err().to_string(),
        "the kill switch is not active"
    );
    assert_eq!(t.kill_switch_events(10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn two_simultaneous_activations_record_one_event() {
    let t = test_db().await;
    let other = t.another_pool().await;
    let (asha, ravi) = (operator_activation("panic", "asha"), operator_activation("fat finger", "ravi"));
    let (x, y) = tokio::join!(t.activate_kill_switch(&asha), other.activate_kill_switch(&ravi));
    // One wins; the other is refused because the winner's switch is active.
    let (won, lost) = match (x, y) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
        (x, y) => panic!("exactly one activation wins: {x:?} / {y:?}"),
    };
    let since = won.created_at.with_timezone(&chrono_tz::Asia::Kolkata).format("%Y-%m-%d %H:%M:%S");
    assert!(matches!(lost, DbError::Conflict(_)), "{lost:?}");
    assert_eq!(
        lost.to_string(),
        format!("the kill switch is already active (since {since} IST by {}: {})", won.actor, won.reason)
    );
    assert_eq!(t.kill_switch_events(10).await.unwrap(), vec![won]);
}

/// An activation is "flattening" until its cancels and exits are recorded
/// done: `xcoin status` and the console's header say so, then plain ACTIVE.
#[tokio::test]
async fn an_activation_is_flattening_until_its_work_is_recorded_done() {
    let t = test_db().await;
    let e = t.activate_kill_switch(&operator_activation("drill", "asha")).await.unwrap();
    assert_eq!(e.flattened_at, None);
    let state = t.kill_switch_state().await.unwrap();
    assert!(state.active && state.flattening());
    let dir = tempfile::tempdir().unwrap();
    let url = t.url();
    let env = [("DATABASE_URL", url.as_str())];
    let status = |t: &str| t.lines().next().unwrap().rsplit("kill switch ").next().unwrap().to_string();
    let text = crate::procs::stdout(&crate::procs::xcoin(dir.path(), &["status"], &env));
    assert_eq!(status(&text), "ACTIVE — flattening", "{text}");
    let mut app = crate::console::new_app(false);
    app.apply(xcoin::console::store::snapshot(&t.db).await.unwrap());
    let header = crate::console::text(&crate::console::draw(&mut app, 120, 20))[1].clone();
    assert!(header.contains(" KILL SWITCH ACTIVE — flattening "), "{header}");
    // At 80 columns it stays whole (its short form when the line is full), beside the P&L.
    let narrow = crate::console::text(&crate::console::draw(&mut app, 80, 24))[1].clone();
    assert!(
        (narrow.contains(" KILL SWITCH ACTIVE — flattening ") || narrow.contains(" KILL SWITCH · FLATTENING "))
            && narrow.contains("P&L ₹0.00"),
        "{narrow}"
    );

    let done = t.record_kill_switch_effect(e.id, 2, 3, dec!(-812.40)).await.unwrap();
    assert!(done.flattened_at.is_some_and(|at| at >= e.created_at), "{done:?}");
    assert_eq!((done.orders_cancelled, done.positions_exited, done.daily_pnl), (2, 3, Some(dec!(-812.40))));
    assert!(!t.kill_switch_state().await.unwrap().flattening());
    let text = crate::procs::stdout(&crate::procs::xcoin(dir.path(), &["status"], &env));
    assert_eq!(status(&text), "ACTIVE", "{text}");
    app.apply(xcoin::console::store::snapshot(&t.db).await.unwrap());
    let header = crate::console::text(&crate::console::draw(&mut app, 120, 20))[1].clone();
    assert!(header.contains(" KILL SWITCH ACTIVE ") && !header.contains("flattening"), "{header}");
    // Once written, the time it was done stays.
    let (_, message) =
        t.refused(&format!("UPDATE kill_switch_events SET flattened_at = now() WHERE id = {}", e.id)).await;
    assert!(message.ends_with("and (once) flattened_at can be written after it"), "{message}");
}
