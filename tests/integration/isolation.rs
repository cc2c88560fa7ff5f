//! What XCoin keeps on disk is its user's alone, and each database (desk)
//! keeps its own paper exchange book.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::engine::{buy, engine_on};
use crate::procs::demo_console;
use crate::support::*;
use xcoin::broker::paper::{PaperBroker, PaperConfig};
use xcoin::config::Settings;
use xcoin::domain::instrument;
use xcoin::domain::order::{OrderStatus, OrderType};
use xcoin::engine::paper_book;

/// Every directory and file under `dir`, with its mode, sorted by path.
fn modes_under(dir: &Path) -> Vec<(String, u32)> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path.clone());
            }
            found.push((path.strip_prefix(dir).unwrap().display().to_string(), mode(&path)));
        }
    }
    found.sort();
    found
}

fn book_at(path: &Path) -> PaperBroker {
    PaperBroker::new(
        &instrument::built_in(),
        PaperConfig { state_file: Some(path.to_path_buf()), liquidity_per_tick: 500, ..Default::default() },
    )
    .unwrap()
}

/// The real console and its engine, on a data directory an earlier version
/// left readable by everyone: the directory ends 0700, the log and the book
/// 0600, and nothing else is left behind for others to read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_keeps_its_data_directory_log_and_book_private() {
    let dir = tempfile::tempdir().unwrap();
    let url = unused_database_url().await;
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("logs")).unwrap();
    std::fs::write(data.join("logs/xcoin.log"), "an earlier run\n").unwrap();
    for (path, mode) in [(&data, 0o755), (&data.join("logs"), 0o755), (&data.join("logs/xcoin.log"), 0o644)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let tmux = demo_console(dir.path(), &url, &data);
    let db = xcoin::db::Db::connect(url.parse().unwrap(), small_pool()).await.unwrap();
    let book = paper_book(&data, &db).await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !book.is_file() {
        assert!(std::time::Instant::now() < deadline, "the demo trades:\n{}", tmux.screen());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let kill = std::process::Command::new("kill").args(["-s", "TERM", &tmux.xcoin_pid().to_string()]).status();
    assert!(kill.unwrap().success());
    tmux.wait_for("exit=0");

    let book_name = book.file_name().unwrap().to_str().unwrap().to_string();
    assert!(book_name.starts_with("paper-exchange-") && book_name.ends_with(".json"), "{book_name}");
    assert_eq!(mode(&data), 0o700);
    assert_eq!(
        modes_under(&data),
        vec![("logs".to_string(), 0o700), ("logs/xcoin.log".to_string(), 0o600), (book_name, 0o600)]
    );
    let log = std::fs::read_to_string(data.join("logs/xcoin.log")).unwrap();
    assert!(log.starts_with("an earlier run\n") && log.contains("engine started"), "{log}");
    db.close().await;
}

/// The data directory is 0700 — except as root on the managed cluster, whose
/// server runs as `postgres` and must pass through it to its own directory:
/// then group `postgres` may pass (0710) and no one else may even do that.
#[test]
fn the_data_directory_is_private_and_passable_only_by_the_managed_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Settings::default();
    s.app.data_dir = Some(dir.path().join("data").to_string_lossy().to_string());
    s.database.url = Some("postgres://u@h/d".into());
    s.ensure_dirs().unwrap();
    assert_eq!((mode(&s.data_dir()), mode(&s.log_dir())), (0o700, 0o700));

    s.database.url = None;
    s.ensure_dirs().unwrap();
    let postgres = xcoin::files::primary_group("postgres");
    let gid = std::fs::metadata(s.data_dir()).unwrap().gid();
    if xcoin::config::running_as_root() && postgres.is_some() {
        assert_eq!((mode(&s.data_dir()), Some(gid)), (0o710, postgres));
    } else {
        assert_eq!(mode(&s.data_dir()), 0o700);
    }
    assert_eq!(mode(&s.log_dir()), 0o700);
}

/// Two desks, two databases, one data directory: each has its own book, so
/// neither sees the other's trades as reconciliation issues.
#[tokio::test]
async fn two_desks_on_two_databases_keep_two_books() {
    let data = tempfile::tempdir().unwrap();
    let (a, b) = (test_db().await, test_db().await);
    let (book_a, book_b) = (paper_book(data.path(), &a).await.unwrap(), paper_book(data.path(), &b).await.unwrap());
    assert_ne!(book_a, book_b, "two databases cloned from one template are still two desks");
    assert_eq!(paper_book(data.path(), &a).await.unwrap(), book_a, "a database keeps its book");

    let mut desk_a = engine_on(&a, book_at(&book_a)).await;
    let order = desk_a.place_order(&buy(&desk_a, "INFY", 10, OrderType::Market)).await.unwrap();
    desk_a.broker.step();
    desk_a.drain_events().await.unwrap();
    assert_eq!(a.get_order(order.id).await.unwrap().status, OrderStatus::Filled);
    assert!(desk_a.reconcile_positions().await.unwrap().is_empty());
    drop(desk_a);

    let mut desk_b = engine_on(&b, book_at(&book_b)).await;
    let issues = desk_b.reconcile_positions().await.unwrap();
    assert!(issues.is_empty(), "desk B sees nothing of desk A's: {issues:?}");
    assert!(b.open_positions().await.unwrap().is_empty());
    // Desk A, restarted, finds its own position on its own book.
    let mut again = engine_on(&a, book_at(&book_a)).await;
    let issues = again.reconcile_positions().await.unwrap();
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(a.open_positions().await.unwrap().len(), 1);
    drop(desk_b);
}

/// Earlier versions kept one `paper-exchange.json` for every database: it
/// becomes the book of the first database to start, once.
#[tokio::test]
async fn the_shared_book_of_earlier_versions_becomes_one_databases_own() {
    let data = tempfile::tempdir().unwrap();
    let shared = data.path().join("paper-exchange.json");
    std::fs::write(&shared, "{\"the\": \"earlier book\"}").unwrap();
    let (a, b) = (test_db().await, test_db().await);
    let book_a = paper_book(data.path(), &a).await.unwrap();
    assert!(!shared.exists());
    assert_eq!(std::fs::read_to_string(&book_a).unwrap(), "{\"the\": \"earlier book\"}");
    let book_b = paper_book(data.path(), &b).await.unwrap();
    assert!(!book_b.exists(), "the second database starts a book of its own");
}
