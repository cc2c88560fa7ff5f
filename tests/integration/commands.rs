//! The operator command queue.

use crate::support::*;
use rust_decimal_macros::dec;
use xcoin::domain::command::{CommandKind, CommandStatus, OperatorCommand};
use xcoin::domain::reconciliation::Resolution;

#[tokio::test]
async fn enqueue_claim_complete_and_fail() {
    let t = test_db().await;
    let place = OperatorCommand::PlaceOrder(limit_buy("INFY", 5, dec!(1500)));
    let c1 = t.enqueue_command(&place, "asha").await.unwrap();
    let c2 = t.enqueue_command(&OperatorCommand::CancelOrder { order_id: 77 }, "ravi").await.unwrap();
    assert_eq!(
        (c1.status, c1.command, c1.requested_by.as_str()),
        (CommandStatus::Pending, CommandKind::PlaceOrder, "asha")
    );
    assert_eq!(c1.parsed().unwrap(), place);

    // The cancel, sent after, is more urgent than the placement: claimed first.
    let next = t.claim_next_command().await.unwrap().unwrap();
    assert_eq!(next.id, c2.id);
    let failed = t.fail_command(c2.id, "order 77 does not exist").await.unwrap();
    assert_eq!(failed.status, CommandStatus::Failed);

    let claimed = t.claim_next_command().await.unwrap().unwrap();
    assert_eq!((claimed.id, claimed.status), (c1.id, CommandStatus::Running));
    assert!(claimed.claimed_at.is_some());
    let done = t.complete_command(c1.id, "order 12 placed: SUBMITTED as P-3").await.unwrap();
    assert_eq!((done.status, done.result.as_deref()), (CommandStatus::Done, Some("order 12 placed: SUBMITTED as P-3")));
    assert!(done.completed_at.is_some());
    assert_eq!(
        t.complete_command(c1.id, "twice").await.unwrap_err().to_string(),
        format!("command {} is DONE, not RUNNING", c1.id)
    );
    assert_eq!(t.claim_next_command().await.unwrap(), None);
    assert_eq!(t.commands_by_ids(&[c1.id, c2.id]).await.unwrap().len(), 2);
    assert_eq!(
        t.enqueue_command(&OperatorCommand::ExitAll {}, " ").await.unwrap_err().to_string(),
        "requested_by: must name the operator in 1 to 64 characters"
    );
}

#[tokio::test]
async fn concurrent_claimers_never_take_the_same_command() {
    let t = test_db().await;
    let other = t.another_pool().await;
    for i in 1..=20 {
        let c = OperatorCommand::ResolveReconciliation { issue_id: i, resolution: Resolution::Ignore, note: None };
        t.enqueue_command(&c, "op").await.unwrap();
    }
    let drain = |db: xcoin::db::Db| async move {
        let mut got = Vec::new();
        while let Some(c) = db.claim_next_command().await.unwrap() {
            got.push(c.id);
        }
        got
    };
    let (a, b) = tokio::join!(drain(t.db.clone()), drain(other));
    let mut all: Vec<i64> = a.iter().chain(&b).copied().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 20);
    assert_eq!(a.len() + b.len(), 20, "no command claimed twice");
}

/// The kill switch, exit-all, exits and cancels are claimed before queued
/// placements and modifications, each oldest first; a placement past its
/// deadline is never claimed.
#[tokio::test]
async fn the_urgent_are_claimed_first_and_the_overdue_never() {
    let t = test_db().await;
    t.set_command_limits(100, 30).await.unwrap();
    let place = |n| OperatorCommand::PlaceOrder(limit_buy("INFY", n, dec!(1500)));
    let p1 = t.enqueue_command(&place(1), "asha").await.unwrap();
    let modify =
        OperatorCommand::ModifyOrder { order_id: 4, quantity: None, price: Some(dec!(1501)), trigger_price: None };
    let m = t.enqueue_command(&modify, "asha").await.unwrap();
    let cancel = t.enqueue_command(&OperatorCommand::CancelOrder { order_id: 4 }, "asha").await.unwrap();
    let exit = t.enqueue_command(&OperatorCommand::ExitPosition { position_id: 2 }, "asha").await.unwrap();
    let all = t.enqueue_command(&OperatorCommand::ExitAll {}, "asha").await.unwrap();
    let kill = t.enqueue_command(&OperatorCommand::KillSwitchOn { reason: "drill".into() }, "asha").await.unwrap();
    let overdue = t.enqueue_command_within(&place(2), "asha", std::time::Duration::from_millis(1)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let mut order = Vec::new();
    while let Some(c) = t.claim_next_command().await.unwrap() {
        order.push(c.id);
        t.complete_command(c.id, "done").await.unwrap();
    }
    assert_eq!(order, [kill.id, all.id, exit.id, cancel.id, p1.id, m.id]);
    let expired = t.expire_overdue_commands().await.unwrap();
    assert_eq!(expired.iter().map(|c| (c.id, c.status)).collect::<Vec<_>>(), [(overdue.id, CommandStatus::Expired)]);
    // Only placements and modifications carry a deadline, 30 s unless the sender names one.
    let deadline = |c: &xcoin::db::commands::CommandRecord| c.expires_at.map(|at| (at - c.requested_at).num_seconds());
    assert_eq!([&p1, &m, &cancel, &exit, &all, &kill].map(deadline), [Some(30), Some(30), None, None, None, None]);
}

/// One login may hold at most `commands.max_pending_per_login` commands
/// waiting; the database refuses the next at INSERT, naming the limit — a
/// flood in one statement included — and the kill switch still goes first.
#[tokio::test]
async fn a_login_cannot_flood_the_queue() {
    let t = test_db().await;
    t.set_command_limits(50, 30).await.unwrap();
    for n in 0..50 {
        t.enqueue_command(&OperatorCommand::CancelOrder { order_id: n + 1 }, "mallory").await.unwrap();
    }
    let refused = t.enqueue_command(&OperatorCommand::CancelOrder { order_id: 99 }, "mallory").await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        "mallory already has 50 commands waiting: at most 50 may wait at once (commands.max_pending_per_login)"
    );
    let (constraint, message) = t
        .refused(
            "INSERT INTO operator_commands (command, payload, requested_by)
             SELECT 'CANCEL_ORDER', jsonb_build_object('order_id', n), 'eve' FROM generate_series(1, 2000) n",
        )
        .await;
    assert_eq!(
        (constraint.as_str(), message.as_str()),
        (
            "operator_commands_max_pending",
            "eve already has 50 commands waiting: at most 50 may wait at once (commands.max_pending_per_login)"
        )
    );
    // Another login is not held back by mallory's queue, and its kill switch is next.
    let kill = t.enqueue_command(&OperatorCommand::KillSwitchOn { reason: "flood".into() }, "asha").await.unwrap();
    assert_eq!(t.claim_next_command().await.unwrap().map(|c| c.id), Some(kill.id));
}

/// Text fields refuse control characters by name, before anything is stored
/// (a NUL in a webhook signal's id used to reach the database and answer 503).
#[tokio::test]
async fn control_characters_are_refused_by_field() {
    let t = test_db().await;
    let place = OperatorCommand::PlaceOrder(limit_buy("INFY", 5, dec!(1500)));
    let err = t.enqueue_once(&place, "webhook:Breakout", "abc\u{0}def").await.unwrap_err();
    assert!(matches!(err, xcoin::db::DbError::Invalid(_)), "{err:?}");
    assert_eq!(err.to_string(), "id: must not hold control characters, found U+0000 at character 4");
    let kill = OperatorCommand::KillSwitchOn { reason: "fat\u{1b}[2Jfinger".into() };
    assert_eq!(
        t.enqueue_command(&kill, "asha").await.unwrap_err().to_string(),
        "reason: must not hold control characters, found U+001B at character 4"
    );
    assert_eq!(
        t.enqueue_command(&OperatorCommand::ExitAll {}, "as\nha").await.unwrap_err().to_string(),
        "requested_by: must not hold control characters, found U+000A at character 3"
    );
    assert_eq!(t.running_commands().await.unwrap(), vec![]);
    assert_eq!(t.claim_next_command().await.unwrap(), None, "nothing was stored");
}

/// A price or stop no desk could hold is a field error naming the field and
/// the range when the command is sent (webhook, console, CLI alike), not a
/// database overflow after it was stored.
#[tokio::test]
async fn an_amount_out_of_range_is_refused_by_field_before_anything_is_stored() {
    let t = test_db().await;
    let huge: rust_decimal::Decimal = "99999999999999999".parse().unwrap();
    let req = xcoin::domain::order::OrderRequest { stop_loss: Some(huge), ..limit_buy("INFY", 5, dec!(1500)) };
    let err = t.enqueue_once(&OperatorCommand::PlaceOrder(req), "webhook:Breakout", "sig-1").await.unwrap_err();
    assert!(matches!(err, xcoin::db::DbError::Invalid(_)), "{err:?}");
    assert_eq!(err.to_string(), "stop_loss: must be greater than 0 and at most 10000000, got 99999999999999999");
    let modify = OperatorCommand::ModifyOrder { order_id: 1, quantity: None, price: Some(huge), trigger_price: None };
    assert_eq!(
        t.enqueue_command(&modify, "asha").await.unwrap_err().to_string(),
        "price: must be greater than 0 and at most 10000000, got 99999999999999999"
    );
    assert_eq!(t.claim_next_command().await.unwrap(), None, "nothing was stored");
}
