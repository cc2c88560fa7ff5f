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

    let next = t.claim_next_command().await.unwrap().unwrap();
    assert_eq!(next.id, c2.id);
    let failed = t.fail_command(c2.id, "order 77 does not exist").await.unwrap();
    assert_eq!(failed.status, CommandStatus::Failed);
    assert!(t.claim_next_command().await.unwrap().is_none());
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
