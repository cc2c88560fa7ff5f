//! Reconciliation issues in the database.

use crate::support::*;
use rust_decimal_macros::dec;
use xcoin::domain::order::{Exchange, Product};
use xcoin::domain::reconciliation::{Holding, IssueStatus, IssueType, Resolution, compare};

fn h(symbol: &str, quantity: i64) -> Holding {
    Holding {
        symbol: symbol.into(),
        exchange: Exchange::Nse,
        product: Product::Mis,
        quantity,
        average_price: dec!(100),
    }
}

#[tokio::test]
async fn a_persisting_mismatch_is_one_row_that_counts_up() {
    let t = test_db().await;
    let mismatches = compare(&[h("INFY", 10)], &[h("INFY", 12), h("SBIN", 5)], dec!(0.1));
    assert_eq!(mismatches.len(), 2);
    let (first, new) = t.log_reconciliation_issue(&mismatches[0], None).await.unwrap();
    assert!(new);
    assert_eq!((first.issue_type, first.seen_count, first.status), (IssueType::QuantityMismatch, 1, IssueStatus::Open));
    t.log_reconciliation_issue(&mismatches[1], None).await.unwrap();

    // Seen again with a new broker quantity: same row, count 2, values updated.
    let again = compare(&[h("INFY", 10)], &[h("INFY", 15)], dec!(0.1));
    let (second, new) = t.log_reconciliation_issue(&again[0], None).await.unwrap();
    assert!(!new);
    assert_eq!(second.id, first.id);
    assert_eq!((second.seen_count, second.broker_quantity), (2, Some(15)));
    assert!(second.last_seen_at >= first.last_seen_at);
    assert_eq!(second.first_seen_at, first.first_seen_at);

    let open = t.unresolved_issues().await.unwrap();
    assert_eq!(open.len(), 2);
    let view: i64 =
        sqlx::query_scalar("SELECT count(*) FROM v_reconciliation_issues").fetch_one(t.pool()).await.unwrap();
    assert_eq!(view, 2);
}

#[tokio::test]
async fn resolving_records_who_when_and_why_and_only_once() {
    let t = test_db().await;
    let m = compare(&[], &[h("TCS", 3)], dec!(0.1));
    let (issue, _) = t.log_reconciliation_issue(&m[0], None).await.unwrap();
    assert_eq!(issue.issue_type, IssueType::MissingLocal);
    let err = t.resolve_issue(issue.id, Resolution::Ignore, "  ", None).await.unwrap_err();
    assert_eq!(err.to_string(), "resolved_by: must name who resolved the issue");

    let r = t
        .resolve_issue(issue.id, Resolution::KeepLocal, "asha", Some(" broker shows a stale position "))
        .await
        .unwrap();
    assert_eq!(r.status, IssueStatus::Resolved);
    assert_eq!(r.resolution, Some(Resolution::KeepLocal));
    assert_eq!(r.resolved_by.as_deref(), Some("asha"));
    assert_eq!(r.resolution_note.as_deref(), Some("broker shows a stale position"));
    assert!(r.resolved_at.is_some());
    assert_eq!(t.get_issue(issue.id).await.unwrap(), r);

    let err = t.resolve_issue(issue.id, Resolution::Ignore, "ravi", None).await.unwrap_err();
    assert_eq!(err.to_string(), format!("reconciliation issue {} is already resolved (KEEP_LOCAL by asha)", issue.id));
    assert!(t.unresolved_issues().await.unwrap().is_empty());
    assert_eq!(t.resolved_issues(10).await.unwrap().len(), 1);
    assert_eq!(t.issues_by_ids(&[issue.id]).await.unwrap().len(), 1);

    // The mismatch an operator kept local is still the same: it stays
    // resolved, its row counting how often it was seen.
    for seen in 2..=4 {
        let (same, new) = t.log_reconciliation_issue(&m[0], None).await.unwrap();
        assert!(!new);
        assert_eq!((same.id, same.status, same.seen_count), (issue.id, IssueStatus::Resolved, seen));
    }
    assert!(t.unresolved_issues().await.unwrap().is_empty());

    // A different mismatch in the same instrument is a new issue.
    let other = compare(&[], &[h("TCS", 4)], dec!(0.1));
    let (fresh, new) = t.log_reconciliation_issue(&other[0], None).await.unwrap();
    assert!(new);
    assert_ne!(fresh.id, issue.id);
    assert_eq!((fresh.broker_quantity, fresh.status), (Some(4), IssueStatus::Open));
    assert_eq!(
        t.resolve_issue(4242, Resolution::Ignore, "x", None).await.unwrap_err().to_string(),
        "reconciliation issue 4242 does not exist"
    );
}
