//! The real `xcoin` binary in a terminal (tmux): the console comes up,
//! trades the demo, resolves a reconciliation issue by keys, activates and
//! re-arms the kill switch, and quits. Every step waits for text to appear.

use std::time::{Duration, Instant};

use crate::procs::Tmux;
use crate::support::*;
use rust_decimal_macros::dec;
use xcoin::domain::order::{Exchange, Product};
use xcoin::domain::reconciliation::{Holding, compare};

#[tokio::test(flavor = "multi_thread")]
async fn the_console_in_a_terminal_trades_resolves_kills_rearms_and_quits() {
    let dir = tempfile::tempdir().unwrap();
    let url = unused_database_url().await;
    let data = dir.path().join("data");
    // No configuration and no DATABASE_URL: a first launch.
    let env = [
        ("XCOIN_APP__DATA_DIR", data.to_str().unwrap()),
        ("XCOIN_APP__OPERATOR", "smoke"),
        ("XCOIN_PAPER__TICK_INTERVAL_MS", "50"),
        ("HOME", dir.path().to_str().unwrap()),
    ];
    let tmux = Tmux::start(dir.path(), &env);
    tmux.wait_for("XCoin first-launch setup — 1/6 Database");
    // Esc on the first step asks before leaving; another key stays.
    tmux.keys(&["Escape"]);
    tmux.wait_for("Leave the setup? Nothing has been written.");
    tmux.keys(&["Down"]);
    tmux.wait_gone("Leave the setup?");
    tmux.keys(&["Right"]);
    tmux.keys(&["-l", &url]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("The database is ready: Enter to continue.");
    tmux.keys(&["Enter"]);
    tmux.wait_for("2/6 Trading mode");
    tmux.keys(&["Enter"]);
    tmux.wait_for("3/6 Capital and risk");
    tmux.keys(&["Enter"]);
    tmux.wait_for("4/6 Alerts");
    tmux.keys(&["Enter"]);
    tmux.wait_for("5/6 Demo");
    tmux.keys(&["Enter"]);
    tmux.wait_for("6/6 Review");
    tmux.keys(&["Enter"]);
    tmux.wait_for("engine: in this console");
    let written = dir.path().join(".config/xcoin/config.toml");
    assert!(
        std::fs::read_to_string(&written).unwrap().contains("demo = true"),
        "the wizard wrote {}",
        written.display()
    );
    tmux.wait_for("Demo Scalper");
    // An order by keys: the form, the verdict, the confirmation, the fill.
    tmux.keys(&["n"]);
    tmux.wait_for("New order — Manual Trading");
    tmux.keys(&["-l", "INFY"]);
    tmux.keys(&["Tab", "Down"]);
    tmux.keys(&["-l", "5"]);
    tmux.keys(&["Down", "Left", "Down", "Down", "Down", "Down"]);
    tmux.keys(&["-l", "1480.00"]);
    tmux.wait_for("✓ passes pre-trade checks: risk ");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Place order?");
    tmux.keys(&["Enter"]); // the review starts on Place: it passes
    tmux.wait_for("✓ order ");
    tmux.wait_for(&format!("{:<18}Manual Trading", "FILLED")); // status is 16 wide, then two spaces
    // The desk log says so, and the header shows the paper account's funds.
    tmux.wait_for("FILL           fill: BUY 5 INFY @ ");
    tmux.wait_for(" free · ₹");
    tmux.keys(&["2"]);
    tmux.wait_for("Positions —");
    // The picked position's stop and target, judged as typed.
    tmux.keys(&["t"]);
    tmux.wait_for("Stop and target — position ");
    tmux.wait_for(" · stop now ");
    tmux.keys(&["Escape"]);
    tmux.wait_gone("Stop and target — position ");
    // From the position's row, a MARKET order with the desk's default stop
    // and target in four keys: reverse it (r), MARKET (m), review, send.
    tmux.keys(&["/"]);
    tmux.keys(&["-l", "INFY"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("filter \"INFY\": 1 of");
    tmux.keys(&["r", "m", "Enter"]);
    tmux.wait_for("Place order?");
    tmux.wait_for("SELL 10 INFY MARKET MIS stop ");
    tmux.keys(&["Enter"]);
    tmux.wait_for("SELL 10 INFY MARKET placed by");
    tmux.keys(&["Escape"]);

    // An issue appears while the console watches.
    let db = xcoin::db::Db::connect(url.parse().unwrap(), small_pool()).await.unwrap();
    let broker_side = Holding {
        symbol: "WIPRO".into(),
        exchange: Exchange::Nse,
        product: Product::Cnc,
        quantity: 7,
        average_price: dec!(248.65),
    };
    let (issue, _) = db.log_reconciliation_issue(&compare(&[], &[broker_side], dec!(0.1))[0], None).await.unwrap();
    tmux.keys(&["4"]);
    tmux.wait_for("MISSING_LOCAL");
    tmux.keys(&["i"]);
    tmux.wait_for("An optional note");
    tmux.keys(&["-l", "checked with ops"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("Resolve the issue?");
    tmux.keys(&["Right", "Enter"]);
    tmux.wait_for(&format!("✓ issue {} WIPRO resolved: IGNORE", issue.id));

    tmux.keys(&["K"]);
    tmux.wait_for("Type KILL");
    tmux.keys(&["-l", "KILL"]);
    tmux.keys(&["Enter"]);
    tmux.wait_for("KILL SWITCH ACTIVE");
    tmux.wait_for("✓ kill switch ACTIVE");

    tmux.keys(&["R"]);
    tmux.wait_for("Re-arm trading?");
    tmux.keys(&["Right", "Enter"]);
    tmux.wait_for("✓ kill switch re-armed");
    tmux.wait_for("kill switch: armed");

    tmux.keys(&["q"]);
    tmux.wait_for("Quit XCoin?");
    tmux.keys(&["Right", "Enter"]);
    let deadline = Instant::now() + Duration::from_secs(15);
    while tmux.running() {
        assert!(Instant::now() < deadline, "xcoin did not exit:\n{}", tmux.screen());
        std::thread::sleep(Duration::from_millis(100));
    }

    let resolved = db.get_issue(issue.id).await.unwrap();
    assert_eq!(
        (resolved.resolved_by.as_deref(), resolved.resolution_note.as_deref()),
        (Some("smoke"), Some("checked with ops"))
    );
    let events = db.kill_switch_events(10).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].actor, "smoke");
    assert!(!db.kill_switch_state().await.unwrap().active);
    assert!(!db.today_trades().await.unwrap().is_empty(), "the demo traded");
}
