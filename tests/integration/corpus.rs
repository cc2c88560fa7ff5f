//! Bad input: a corpus of invalid configuration files, one failure each, with
//! the exact error expected in the file's first line (`# expect: …`), and a
//! corpus of invalid order requests (tests/corpus/orders.toml).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::*;
use rust_decimal_macros::dec;
use xcoin::broker::Broker;
use xcoin::broker::paper::{PaperBroker, PaperConfig};
use xcoin::config::{Config, ConfigPaths, Settings};
use xcoin::domain::instrument;
use xcoin::domain::order::{Exchange, OrderRequest, OrderStatus};
use xcoin::domain::strategy::TradingMode;
use xcoin::engine::{Engine, EngineConfig};

#[test]
fn every_invalid_configuration_gives_its_exact_named_error() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/config");
    let mut files: Vec<_> = std::fs::read_dir(&corpus).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 12, "the corpus has {} files", files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let expect =
            text.lines().next().and_then(|l| l.strip_prefix("# expect: ")).expect("a first line `# expect: …`");
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("local.toml");
        std::fs::write(&local, &text).unwrap();
        // Private as the wizard writes it, except the case about exactly that.
        let readable = file.file_name().unwrap().to_string_lossy().contains("readable_by_others");
        std::fs::set_permissions(&local, std::fs::Permissions::from_mode(if readable { 0o644 } else { 0o600 }))
            .unwrap();
        let before: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
        let paths = ConfigPaths::for_checkout(None, Some(local.clone()), dir.path());
        let err = Config::load_with_env(paths, []).expect_err(&file.display().to_string()).to_string();
        let err = err.replace(&format!("{}/", dir.path().display()), "");
        assert!(err.contains(expect), "{}:\n  got:      {err}\n  expected: {expect}", file.display());
        let after: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(before, after, "{}: nothing is written", file.display());
    }
}

#[test]
fn an_unreadable_configuration_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be: unreadable whoever runs the test.
    let local = dir.path().join("local.toml");
    std::fs::create_dir(&local).unwrap();
    std::fs::set_permissions(&local, std::fs::Permissions::from_mode(0o700)).unwrap();
    let paths = ConfigPaths::for_checkout(None, Some(local.clone()), dir.path());
    let err = Config::load_with_env(paths, []).unwrap_err().to_string();
    assert_eq!(err, format!("cannot read {}: Is a directory (os error 21)", local.display()));
}

#[derive(serde::Deserialize)]
struct OrderCorpus {
    case: Vec<OrderCase>,
}

#[derive(serde::Deserialize)]
struct OrderCase {
    name: String,
    stage: String,
    expect: String,
    #[serde(default)]
    live: bool,
    request: toml::Table,
}

/// The corpus's base request with a case's changes ("" removes a field).
fn corpus_request(changes: &toml::Table) -> OrderRequest {
    let mut req = serde_json::to_value(OrderRequest {
        price: Some(dec!(1500.00)),
        stop_loss: Some(dec!(1485.00)),
        take_profit: Some(dec!(1530.00)),
        ..limit_buy("INFY", 10, dec!(1500.00))
    })
    .unwrap();
    for (field, value) in changes {
        let value = match value {
            toml::Value::String(s) if s.is_empty() => serde_json::Value::Null,
            other => serde_json::to_value(other).unwrap(),
        };
        assert!(req.get(field).is_some(), "the corpus names a field requests do not have: {field}");
        req[field] = value;
    }
    serde_json::from_value(req).unwrap()
}

#[tokio::test]
async fn every_invalid_order_request_gives_its_exact_named_error_and_sends_nothing() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/orders.toml")).unwrap();
    let corpus: OrderCorpus = toml::from_str(&text).unwrap();
    assert!(corpus.case.len() >= 10, "the corpus has {} cases", corpus.case.len());
    for case in corpus.case {
        let t = test_db().await;
        let mut settings = Settings::default();
        if case.live {
            settings.app.mode = TradingMode::Live;
            settings.market.holidays.push(settings.calendar().today());
        }
        let broker = PaperBroker::new(&instrument::built_in(), PaperConfig::default()).unwrap();
        let mut e = Engine::start(t.db.clone(), broker, EngineConfig::from_settings(&settings)).await.unwrap();
        e.broker.set_price("INFY", Exchange::Nse, dec!(1500.00)).unwrap();
        e.drain_events().await.unwrap();

        let outcome = e.place_order(&corpus_request(&case.request)).await;
        let stored = t.today_orders().await.unwrap();
        match (case.stage.as_str(), outcome) {
            ("shape", Err(err)) => {
                assert_eq!(err.to_string(), case.expect, "{}", case.name);
                assert!(stored.is_empty(), "{}: nothing is written", case.name);
            }
            ("risk", Ok(order)) => {
                assert_eq!(
                    (order.status, order.status_reason.as_deref()),
                    (OrderStatus::Rejected, Some(case.expect.as_str())),
                    "{}",
                    case.name
                );
                assert_eq!(stored.len(), 1, "{}: the refusal is the one row written", case.name);
            }
            (stage, outcome) => panic!("{}: expected a {stage} refusal, got {outcome:?}", case.name),
        }
        assert!(e.broker.orders().await.unwrap().is_empty(), "{}: nothing reaches the broker", case.name);
        assert!(t.today_trades().await.unwrap().is_empty() && t.open_positions().await.unwrap().is_empty());
    }
}
