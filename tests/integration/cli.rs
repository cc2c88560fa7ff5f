//! The real `xcoin` binary: setup, doctor, config, and the managed database.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::procs::*;
use crate::support::*;

/// Lines without their timing, which varies run to run.
fn steps(o: &Output) -> Vec<String> {
    stdout(o)
        .lines()
        .map(|l| match l.find(", round trip ") {
            Some(i) => l[..i].to_string(),
            None => l.to_string(),
        })
        .collect()
}

#[tokio::test]
async fn setup_creates_migrates_verifies_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let url = unused_database_url().await;
    let name = url.rsplit('/').next().unwrap().to_string();
    let env = [("DATABASE_URL", url.as_str())];

    let first = xcoin(dir.path(), &["setup"], &env);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let lines = steps(&first);
    assert_eq!(lines[0], "XCoin setup");
    assert_eq!(lines[4], format!("  ✓ database               {name} created"));
    assert!(lines[5].starts_with("  ✓ connection             PostgreSQL "), "{}", lines[5]);
    let version = xcoin::db::schema::expected_version();
    assert_eq!(lines[6], format!("  ✓ migrations             applied up to version {version}"));
    assert_eq!(
        lines[7],
        "  ✓ tables                 11/11 strategies, orders, trades, positions, reconciliation_log, kill_switch_events, daily_stats, operator_commands, position_adjustments, desk_events, goal_events"
    );
    assert_eq!(lines[8], "  ✓ views                  3/3 v_active_positions, v_reconciliation_issues, v_today_orders");
    assert_eq!(
        lines[9],
        "  ✓ functions              4/4 calculate_trade_values, get_order_to_trade_ratio, get_today_pnl, update_position_pnl"
    );
    assert_eq!(lines[10], "  ✓ table count            11 of 11");
    assert_eq!(lines[11], "  ✓ default strategy       #1 \"Manual Trading\" (manual, PAPER, active)");
    assert_eq!(
        lines[12],
        "  ✓ roles                  xcoin_engine, xcoin_operator, xcoin_viewer (`xcoin user add` makes logins)"
    );
    assert!(dir.path().join("data/logs").is_dir(), "data and log directories are created");

    let second = xcoin(dir.path(), &["setup"], &env);
    assert!(second.status.success());
    let again = steps(&second);
    assert_eq!(again[4], format!("  ✓ database               {name} exists"));
    assert_eq!(again[6], format!("  ✓ migrations             up to date (version {version})"));
    assert_eq!(again[11], lines[11]);

    let doctor = xcoin(dir.path(), &["doctor"], &env);
    assert!(doctor.status.success(), "{}", stdout(&doctor));
    let d = steps(&doctor);
    assert!(
        d.contains(&format!("  ✓ schema                 version {version}; 11 tables, 3 views, 4 functions")),
        "{d:?}"
    );
    assert!(
        d.contains(&"  ! engine                 not running (no process holds the engine lock)".to_string()),
        "{d:?}"
    );

    let status = xcoin(dir.path(), &["status"], &env);
    let text = stdout(&status);
    assert!(text.contains("Today: net P&L ₹0.00  (realised ₹0.00, unrealised ₹0.00, charges ₹0.00)"), "{text}");
    assert!(text.contains("Orders 0 (0 active), trades 0, order-to-trade —"), "{text}");
    assert!(text.contains("\nBroker requests today 0\n"), "{text}");
}

#[tokio::test]
async fn doctor_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens at the address: said at once, with the address and
    // the reason, once — not after a pool's timeout.
    let down_env = [("DATABASE_URL", "postgres://postgres@127.0.0.1:1/xcoin")];
    let started = std::time::Instant::now();
    let down = xcoin(dir.path(), &["doctor"], &down_env);
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "refused at once, not after a timeout");
    assert_eq!(down.status.code(), Some(1));
    let text = stdout(&down);
    let refused = "cannot reach PostgreSQL at 127.0.0.1:1: connection refused: no server listens there; start it, or \
                   check database.url's host and port";
    assert!(
        text.contains(&format!("  ✗ database               postgres://postgres@127.0.0.1:1/xcoin: {refused}")),
        "{text}"
    );
    assert_eq!(text.matches("connection refused").count(), 1, "{text}");
    for args in [&["status"][..], &["setup"][..]] {
        let out = xcoin(dir.path(), args, &down_env);
        let all = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
        assert!(!out.status.success(), "{args:?}: {all}");
        assert_eq!(all.matches("connection refused").count(), 1, "{args:?}: the reason once: {all}");
        assert!(!all.contains("✓ database server"), "{args:?}: an unreachable server is never ✓: {all}");
        assert!(!all.contains("timed out"), "{args:?}: {all}");
    }
    assert!(text.contains("  ! data directory         "), "a data directory that can be made is only a note: {text}");

    // A data directory that cannot be made is a failure, whatever the permission bits say.
    let proc = xcoin(dir.path(), &["doctor"], &[("XCOIN_APP__DATA_DIR", "/proc/xcoin")]);
    let text = stdout(&proc);
    assert_eq!(proc.status.code(), Some(1), "{text}");
    assert!(text.contains("  ✗ data directory         /proc/xcoin cannot be created (/proc: "), "{text}");
    assert!(text.contains("set app.data_dir to a directory you can write"), "{text}");

    // An empty database: reachable, but the schema is missing.
    let t = test_db().await;
    let empty = unused_database_url().await;
    sqlx::query(&format!("CREATE DATABASE \"{}\"", empty.rsplit('/').next().unwrap())).execute(t.pool()).await.unwrap();
    let bare = xcoin(dir.path(), &["doctor"], &[("DATABASE_URL", empty.as_str())]);
    assert_eq!(bare.status.code(), Some(1));
    let text = stdout(&bare);
    assert!(text.contains("  ✗ schema                 missing strategies, orders, trades, positions, reconciliation_log, kill_switch_events, daily_stats, operator_commands, position_adjustments, desk_events, goal_events, v_active_positions, v_reconciliation_issues, v_today_orders, calculate_trade_values, get_order_to_trade_ratio, get_today_pnl, update_position_pnl; run `xcoin setup`"), "{text}");
}

#[test]
fn config_prints_sources_and_hides_secrets_and_bad_values_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = xcoin(
        dir.path(),
        &["config"],
        &[
            ("ZERODHA_API_SECRET", "topsecret"),
            ("DATABASE_URL", "postgres://desk:pw123@db:5432/xcoin"),
            ("XCOIN_RISK__MAX_OPEN_POSITIONS", "3"),
        ],
    );
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(!text.contains("topsecret") && !text.contains("pw123"), "{text}");
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("{key} in {text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(line("zerodha.api_secret"), "zerodha.api_secret = [REDACTED] # environment variable ZERODHA_API_SECRET");
    assert_eq!(
        line("database.url"),
        "database.url = postgres://desk:[REDACTED]@db:5432/xcoin # environment variable DATABASE_URL"
    );
    assert_eq!(
        line("risk.max_open_positions"),
        "risk.max_open_positions = 3 # environment variable XCOIN_RISK__MAX_OPEN_POSITIONS"
    );
    assert_eq!(line("risk.max_daily_loss_pct"), "risk.max_daily_loss_pct = 6 # built-in default");

    let bad = xcoin(dir.path(), &["setup"], &[("XCOIN_RISK__MAX_DAILY_LOSS_PCT", "-6")]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("config key `risk.max_daily_loss_pct` = -6 (from environment variable XCOIN_RISK__MAX_DAILY_LOSS_PCT) is invalid: expected a percentage greater than 0 and at most 100"), "{err}");
    assert!(stdout(&bad).is_empty(), "nothing is done with a bad configuration");
}

#[test]
fn config_reads_an_original_dotenv_and_refuses_what_it_would_have_to_guess() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "MAX_DAILY_LOSS=0.05\nMAX_RISK_PER_TRADE=2\nMAX_POSITIONS=3\nPRICE_SANITY_PCT=10%\nDB_MIN_CONNECTIONS=5\n\
         DB_MAX_CONNECTIONS=15\nMIN_RISK_REWARD=2:1\nDASHBOARD_PORT=8050\nMAX_DRAWDOWN=0.15\n",
    )
    .unwrap();
    let out = xcoin(dir.path(), &["config"], &[("MAX_POSITION_LOSS_PCT", "4"), ("MAX_POSITION_SIZE", "500")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    let line = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("{key} in {text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    for (key, expected) in [
        ("risk.max_daily_loss_pct", "5 # MAX_DAILY_LOSS in .env (0.05 read as 5 %)"),
        ("risk.max_risk_per_trade_pct", "2 # MAX_RISK_PER_TRADE in .env"),
        ("risk.max_open_positions", "3 # MAX_POSITIONS in .env"),
        ("risk.price_sanity_pct", "10 # PRICE_SANITY_PCT in .env"),
        ("risk.max_drawdown_pct", "15 # MAX_DRAWDOWN in .env (0.15 read as 15 %)"),
        ("risk.min_risk_reward", "2 # MIN_RISK_REWARD in .env (2:1 read as 2)"),
        ("database.pool_min", "5 # DB_MIN_CONNECTIONS in .env"),
        ("database.pool_max", "15 # DB_MAX_CONNECTIONS in .env"),
        ("dashboard.port", "8050 # DASHBOARD_PORT in .env"),
        ("dashboard.host", "127.0.0.1 # built-in default"),
        ("risk.max_position_loss_pct", "4 # environment variable MAX_POSITION_LOSS_PCT"),
        ("risk.max_position_size", "500 # environment variable MAX_POSITION_SIZE"),
    ] {
        assert_eq!(line(key), format!("{key} = {expected}"));
    }

    let refused = |env: &[(&str, &str)]| {
        let out = xcoin(dir.path(), &["config"], env);
        assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
        assert!(stdout(&out).is_empty(), "nothing is printed from a refused configuration");
        String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or_default().to_string()
    };
    assert_eq!(
        refused(&[("APP_MODE", "production")]),
        "error: APP_MODE=production (from the environment) is the original system's APP_MODE, which meant \
         development or production; XCoin uses APP_MODE for the trading mode, PAPER or LIVE, and will not guess \
         one from it. Set the trading mode with app.mode (XCOIN_APP__MODE=PAPER or XCOIN_APP__MODE=LIVE) and \
         remove APP_MODE=production"
    );
    assert!(refused(&[("APP_MODE", "Development")]).starts_with("error: APP_MODE=Development (from the environment)"));
    assert_eq!(
        refused(&[("MAX_DAILY_LOSS", "0.5")]),
        "error: MAX_DAILY_LOSS=0.5 (from the environment) is ambiguous: it could be 0.5 % or, as a fraction, 50 %, \
         and both are plausible (0.25 % to 50 %); write 0.5% or 50%. MAX_DAILY_LOSS sets risk.max_daily_loss_pct \
         and takes a percent (6 or 6%) or a fraction below 0.25 (0.06 for 6 %)"
    );
}

#[test]
fn the_managed_database_starts_serves_and_stops() {
    let dir = public_dir();
    let status = |d: &Path| stdout(&xcoin(d, &["db", "status"], &[]));
    assert!(status(dir.path()).starts_with("not created yet: "), "{}", status(dir.path()));

    let start = xcoin(dir.path(), &["db", "start"], &[]);
    assert!(start.status.success(), "{}{}", stdout(&start), String::from_utf8_lossy(&start.stderr));
    let text = stdout(&start);
    assert!(text.contains("created a PostgreSQL cluster in "), "{text}");
    // The data directory is XCoin's alone; as root, the server's group may only pass through it.
    let data = std::fs::metadata(dir.path().join("data")).unwrap();
    let expected = match xcoin::files::primary_group("postgres").filter(|_| xcoin::config::running_as_root()) {
        Some(gid) => (0o710, gid),
        None => (0o700, data.gid()),
    };
    assert_eq!((data.mode() & 0o777, data.gid()), expected);
    assert!(text.contains("started PostgreSQL (socket in "), "{text}");
    assert!(status(dir.path()).starts_with("running (pid "), "{}", status(dir.path()));

    let setup = xcoin(dir.path(), &["setup"], &[]);
    assert!(setup.status.success(), "{}{}", stdout(&setup), String::from_utf8_lossy(&setup.stderr));
    let lines = steps(&setup);
    assert!(lines[3].ends_with("(already running)"), "{}", lines[3]);
    assert_eq!(lines[4], "  ✓ database               xcoin created");
    assert_eq!(lines[11], "  ✓ default strategy       #1 \"Manual Trading\" (manual, PAPER, active)");
    assert_eq!(
        lines[12],
        "  ✓ roles                  xcoin_engine, xcoin_operator, xcoin_viewer (`xcoin user add` makes logins)"
    );
    // Unix socket only: the configuration turns TCP off.
    let conf = std::fs::read_to_string(dir.path().join("data/postgres/postgresql.auto.conf")).unwrap();
    assert!(conf.contains("listen_addresses = ''"), "{conf}");

    let stop = xcoin(dir.path(), &["db", "stop"], &[]);
    assert!(stdout(&stop).starts_with("stopped the database in "), "{}", stdout(&stop));
    assert!(status(dir.path()).starts_with("stopped: "), "{}", status(dir.path()));
    let url_set = xcoin(dir.path(), &["db", "start"], &[("DATABASE_URL", "postgres://u@h/d")]);
    assert_eq!(url_set.status.code(), Some(1));
    assert!(
        stdout(&url_set)
            .starts_with("database.url is set (postgres://u@h/d); XCoin manages only its own local server.")
    );
}

#[tokio::test]
async fn the_engine_binary_trades_the_demo_and_refuses_a_second_engine() {
    let dir = tempfile::tempdir().unwrap();
    let url = unused_database_url().await;
    let env = [("DATABASE_URL", url.as_str()), ("XCOIN_PAPER__TICK_INTERVAL_MS", "50")];
    let not_set_up = xcoin(dir.path(), &["engine"], &env);
    assert_eq!(not_set_up.status.code(), Some(1));
    let err = String::from_utf8_lossy(&not_set_up.stderr).to_string();
    assert!(err.contains("run `xcoin setup`"), "{err}");
    // `setup` also creates the missing database.
    assert!(xcoin(dir.path(), &["setup"], &env).status.success());

    let engine = spawn_xcoin(dir.path(), &["engine", "--demo"], &env);
    let db = xcoin::db::Db::connect(url.parse().unwrap(), small_pool()).await.unwrap();
    let mut feed = xcoin::db::changes::ChangeFeed::changes(&db).await.unwrap();
    // Wait for the demo's first fill, event by event.
    let filled = loop {
        let trades = db.today_trades().await.unwrap();
        if let Some(t) = trades.first() {
            break t.clone();
        }
        feed.next_timeout(std::time::Duration::from_secs(20)).await.expect("the demo trades within 20 s");
    };
    let order = db.get_order(filled.order_id).await.unwrap();
    assert_eq!(order.placed_by, "Demo Scalper");
    assert!(order.stop_loss.is_some() && order.take_profit.is_some());
    assert_eq!(db.get_strategy(order.strategy_id).await.unwrap().name, "Demo Scalper");

    let second = xcoin(dir.path(), &["engine"], &env);
    assert_eq!(second.status.code(), Some(1));
    let err = String::from_utf8_lossy(&second.stderr).to_string();
    assert!(err.contains("another engine is already trading this database: server pid "), "{err}");

    let pid = engine.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let out = engine.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("engine stopped"));
    let book = xcoin::engine::paper_book(&dir.path().join("data"), &db).await.unwrap();
    assert!(book.is_file(), "the paper exchange keeps its book in {}", book.display());
}

#[tokio::test]
async fn bench_measures_in_a_scratch_database_and_drops_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = unused_database_url().await;
    let env = [("DATABASE_URL", url.as_str())];
    let out = xcoin(dir.path(), &["bench", "--json", "--orders", "120", "--feed-seconds", "1"], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["engine_orders"], 120);
    assert!(report["engine_orders_per_second"].as_f64().unwrap() > 0.0);
    assert!(report["place_p99_ms"].as_f64().unwrap() >= report["place_p50_ms"].as_f64().unwrap());
    assert!(report["validation_ns_per_order"].as_f64().unwrap() > 0.0);
    // The limits, measured in the same run, and each figure as a ratio to its own.
    let l = &report["limits"];
    let f = |k: &str| l[k].as_f64().unwrap_or_else(|| panic!("limits.{k}: {report}"));
    assert!(f("commit_p50_ms") > 0.0 && f("commit_p99_ms") >= f("commit_p50_ms"), "{l}");
    assert!(f("notify_p99_ms") > 0.0 && f("raw_active_ms") > 0.0, "{l}");
    // Placing writes at least the order and its acknowledgement; a fill at least its trade.
    assert!(f("commits_per_order") >= 2.0 && f("commits_per_order_all") >= f("commits_per_order"), "{l}");
    assert!(f("commits_per_fill") >= 1.0, "{l}");
    // The path by stage: both writes take time on the server; no stage is longer than the whole.
    let stages: Vec<f64> =
        report["place_stages_p50_ms"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(stages.len(), 4, "{report}");
    assert!(stages[1] > 0.0 && stages[3] > 0.0, "{report}");
    assert!(stages.iter().all(|s| *s <= report["place_p99_ms"].as_f64().unwrap()), "{report}");
    // Between two batches of fills the check reads each instrument once, not each order.
    assert!(f("risk_reads_per_order") > 0.0 && f("risk_reads_per_order") < 0.5, "{l}");
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    assert!(close(f("place_ratio"), report["place_p50_ms"].as_f64().unwrap() / f("commit_p50_ms")), "{l}");
    assert!(close(f("feed_ratio"), report["feed"]["p99_ms"].as_f64().unwrap() / f("notify_p99_ms")), "{l}");
    assert!(close(f("active_ratio"), report["active_orders_p50_ms"].as_f64().unwrap() / f("raw_active_ms")), "{l}");
    assert!(report["feed"]["committed"].as_u64().unwrap() > 100, "{report}");
    assert_eq!(report["feed"]["received"], report["feed"]["committed"], "every change reached the model: {report}");
    let rows: Vec<&str> = report["render_ms"].as_array().unwrap().iter().map(|r| r[0].as_str().unwrap()).collect();
    assert_eq!(
        rows,
        [
            "update tables (1 order)",
            "rebuild tables",
            "draw Orders",
            "draw Positions",
            "draw Trades",
            "draw Reconciliation",
            "draw Stats"
        ],
        "one changed order, a rebuild, and the five tabs"
    );
    assert_eq!(report["loaded_orders"], 100_000);
    assert!(report["resident_mb"].as_f64().unwrap() > 0.0);
    let t = test_db().await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname LIKE 'xcoin\\_bench\\_%'")
        .fetch_one(t.pool())
        .await
        .unwrap();
    assert_eq!(left, 0, "the scratch database is dropped");
    let never: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(url.rsplit('/').next().unwrap())
        .fetch_one(t.pool())
        .await
        .unwrap();
    assert!(!never, "the configured database is not written by a benchmark");
}

#[tokio::test]
async fn two_engines_started_at_the_same_instant_exactly_one_trades() {
    let dir = tempfile::tempdir().unwrap();
    let url = unused_database_url().await;
    let env = [("DATABASE_URL", url.as_str()), ("XCOIN_PAPER__TICK_INTERVAL_MS", "50")];
    assert!(xcoin(dir.path(), &["setup"], &env).status.success());
    let a = spawn_xcoin(dir.path(), &["engine"], &env);
    let b = spawn_xcoin(dir.path(), &["engine"], &env);
    let (a_pid, b_pid) = (a.id(), b.id());
    // The loser exits on its own; the winner keeps running until told to stop.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let running = |pid: u32| {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
    };
    while running(a_pid) && running(b_pid) {
        assert!(std::time::Instant::now() < deadline, "one of the two engines gives way within 20 s");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (winner, loser) = if running(a_pid) { (a, b) } else { (b, a) };
    let lost = loser.wait_with_output().unwrap();
    assert_eq!(lost.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&lost.stderr).contains("another engine is already trading this database"));
    assert!(Command::new("kill").args(["-INT", &winner.id().to_string()]).status().unwrap().success());
    let won = winner.wait_with_output().unwrap();
    assert!(won.status.success(), "{}", String::from_utf8_lossy(&won.stderr));
}

#[test]
fn alert_test_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let none = xcoin(dir.path(), &["alert", "test"], &[]);
    assert_eq!(none.status.code(), Some(1));
    assert_eq!(
        stdout(&none),
        "No alert channel is configured: set alerts.telegram.bot_token and alerts.telegram.chat_id, \
         or alerts.smtp.host, alerts.smtp.from and alerts.smtp.to.\n"
    );
    let half = xcoin(dir.path(), &["alert", "test"], &[("TELEGRAM_BOT_TOKEN", "1:abc")]);
    // The configuration itself refuses half a channel, before anything is sent.
    assert_eq!(half.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&half.stderr).contains(
            "config key `alerts.telegram.chat_id` = (empty) (from built-in default) is invalid: \
             expected set when the other Telegram setting is set (both or neither)"
        ),
        "{}",
        String::from_utf8_lossy(&half.stderr)
    );
    // A channel that cannot be reached is reported, not retried for minutes.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let url = format!("http://{closed}");
    let down = xcoin(
        dir.path(),
        &["alert", "test"],
        &[("TELEGRAM_BOT_TOKEN", "1:abc"), ("TELEGRAM_CHAT_ID", "42"), ("XCOIN_ALERTS__TELEGRAM__API_URL", &url)],
    );
    assert_eq!(down.status.code(), Some(1));
    assert_eq!(stdout(&down), "✗ telegram  not sent to chat 42: could not reach Telegram: connection failed\n");
}

#[tokio::test]
async fn live_mode_starts_only_with_a_kite_session() {
    let dir = tempfile::tempdir().unwrap();
    let url = unused_database_url().await;
    let env = [("DATABASE_URL", url.as_str())];
    assert!(xcoin(dir.path(), &["setup"], &env).status.success());
    // The configuration refuses LIVE without the Kite credentials at all.
    let bare = xcoin(dir.path(), &["engine"], &[("DATABASE_URL", url.as_str()), ("APP_MODE", "LIVE")]);
    assert_eq!(bare.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bare.stderr).starts_with(
        "error: config key `zerodha.api_key` = (empty) (from built-in default) is invalid: expected your Kite Connect \
         credential: LIVE mode cannot trade without it"
    ));
    // With them but without today's token, the engine says to log in.
    let live = [
        ("DATABASE_URL", url.as_str()),
        ("APP_MODE", "LIVE"),
        ("ZERODHA_API_KEY", "kitekey"),
        ("ZERODHA_API_SECRET", "kitesecret"),
    ];
    let refused = xcoin(dir.path(), &["engine"], &live);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr).lines().last().unwrap(),
        "error: LIVE mode needs today's zerodha.access_token: run `xcoin kite login`"
    );
    let demo = xcoin(dir.path(), &["engine", "--demo"], &live);
    assert_eq!(
        String::from_utf8_lossy(&demo.stderr).lines().last().unwrap(),
        "error: the demo strategy runs only in PAPER mode; unset app.demo (or drop --demo) to trade LIVE"
    );
    let doctor = xcoin(dir.path(), &["doctor"], &live);
    assert_eq!(doctor.status.code(), Some(1));
    assert!(
        stdout(&doctor).contains("  ✗ broker                 LIVE mode needs today's zerodha.access_token"),
        "{}",
        stdout(&doctor)
    );
}
