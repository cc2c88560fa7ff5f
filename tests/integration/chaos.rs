//! Faults while the desk runs: the console's listener killed again and again
//! under a steady writer; the engine process killed at random points; the
//! database server restarted under a running engine and console.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::procs::*;
use crate::support::*;
use rust_decimal_macros::dec;
use tokio::sync::mpsc;
use xcoin::broker::Broker;
use xcoin::broker::paper::{PaperBroker, PaperConfig};
use xcoin::config::Settings;
use xcoin::console::app::App;
use xcoin::console::store::{self, Health, LoaderMsg};
use xcoin::db::Db;
use xcoin::db::local::LocalDb;
use xcoin::db::lock::EngineWatch;
use xcoin::domain::command::CommandStatus;
use xcoin::domain::command::OperatorCommand;
use xcoin::domain::instrument;
use xcoin::domain::order::{BrokerKind, OrderStatus, Side};
use xcoin::domain::reconciliation::{Holding, compare};
use xcoin::engine::paper_book;
use xcoin::engine::{Engine, EngineConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_model_equals_the_database_after_repeated_listener_kills() {
    let t = test_db().await;
    let s = Settings::default();
    let mut app = App::new(s.app.mode, s.calendar(), EngineConfig::from_settings(&s).limits, "chaos".into(), true);
    let (tx, mut rx) = mpsc::channel(256);
    let loader = tokio::spawn(store::run_loader(t.db.clone(), tx, mpsc::channel(1).1));

    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let (db, writing) = (t.another_pool().await, writing.clone());
        tokio::spawn(async move {
            let mut n = 0u32;
            while writing.load(Ordering::SeqCst) {
                db.create_order(&limit_buy("INFY", 1 + i64::from(n % 50), dec!(1500)), BrokerKind::Paper, TICK, None)
                    .await
                    .unwrap();
                n += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            n
        })
    };

    let killer = t.another_pool().await;
    let mut resyncs = 0;
    for round in 0..5 {
        // Let changes flow, then cut the listener.
        let until = tokio::time::Instant::now() + Duration::from_millis(300);
        while let Ok(Some(msg)) = tokio::time::timeout_at(until, rx.recv()).await {
            if let LoaderMsg::Update(u) = msg {
                app.apply(*u);
            }
        }
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .fetch_all(killer.pool())
        .await
        .unwrap();
        assert!(!killed.is_empty(), "round {round}: a listener to kill");
        // The next resync reloads everything.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await.expect("a resync within 15 s").unwrap() {
                LoaderMsg::Update(u) => app.apply(*u),
                LoaderMsg::Health(Health::Resynced { .. }) => break,
                LoaderMsg::Health(h) => app.health(h),
                LoaderMsg::Answer(a) => panic!("nothing was asked: {a:?}"),
            }
        }
        resyncs += 1;
    }
    writing.store(false, Ordering::SeqCst);
    let written = writer.await.unwrap();
    assert!(written > 100, "the writer kept writing through the faults ({written} orders)");

    // Once the writer stops, the model converges on exactly the database.
    let in_db: BTreeSet<i64> =
        sqlx::query_scalar("SELECT id FROM orders").fetch_all(t.pool()).await.unwrap().into_iter().collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while app.store.orders.keys().copied().collect::<BTreeSet<_>>() != in_db {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(LoaderMsg::Update(u))) => app.apply(*u),
            Ok(Some(_)) => {}
            _ => panic!("the model has {} orders, the database {}", app.store.orders.len(), in_db.len()),
        }
    }
    assert_eq!(resyncs, 5);
    let quantities: i64 = app.store.orders.values().map(|o| o.quantity).sum();
    let db_quantities: i64 =
        sqlx::query_scalar("SELECT sum(quantity)::bigint FROM orders").fetch_one(t.pool()).await.unwrap();
    assert_eq!(quantities, db_quantities, "row contents match too, not just ids");
    loader.abort();
}

/// A desk of the test's own, set up by `xcoin setup`: its directory, its
/// database (removed with the guard), the engine's log and a pool on it.
struct Desk {
    dir: tempfile::TempDir,
    url: UnusedDb,
    log: std::path::PathBuf,
    db: Db,
}

async fn desk() -> Desk {
    let dir = tempfile::tempdir().unwrap();
    let url = unused_database_url().await;
    let log = dir.path().join("engine.log");
    assert!(xcoin(dir.path(), &["setup"], &[("DATABASE_URL", url.as_str())]).status.success());
    let db = Db::connect(url.parse().unwrap(), small_pool()).await.unwrap();
    Desk { dir, url, log, db }
}

/// Waits until no engine holds the database's engine lock (a killed
/// engine's session ends when the server notices its socket closed).
async fn engine_lock_released(db: &Db) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while db.engine_lock_holder().await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "the killed engine's lock is released within 20 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Local orders, fills and positions against the paper exchange's own book
/// (read back from its state file): every order the
/// broker has is ours with the same status and fill; an order the broker
/// never got is finished; the fills and net positions are the same.
async fn assert_local_equals_broker(db: &Db, broker: &PaperBroker) -> (usize, usize) {
    let book = broker.orders().await.unwrap();
    let local = db.today_orders().await.unwrap();
    for o in &local {
        match &o.broker_order_id {
            Some(id) => {
                let remote = book.iter().find(|b| &b.broker_order_id == id).expect("the broker knows the order");
                assert_eq!(
                    (o.status, o.filled_quantity, Some(o.client_tag())),
                    (remote.status, remote.filled_quantity, remote.tag.clone()),
                    "order {} against broker order {id}",
                    o.id
                );
            }
            None => assert!(
                matches!(o.status, OrderStatus::Rejected | OrderStatus::Cancelled),
                "order {} never reached the broker, so it must be finished, not {}",
                o.id,
                o.status
            ),
        }
    }
    let ours = local.iter().filter(|o| o.broker_order_id.is_some()).count();
    assert_eq!(ours, book.len(), "every broker order is one of ours, once");

    let fills: BTreeSet<(String, String)> =
        broker.trades().await.unwrap().into_iter().map(|f| (f.broker_order_id, f.trade_id)).collect();
    let trades = db.today_trades().await.unwrap();
    let recorded: BTreeSet<(String, String)> = trades
        .iter()
        .map(|t| {
            let order = local.iter().find(|o| o.id == t.order_id).unwrap();
            (order.broker_order_id.clone().unwrap(), t.broker_trade_id.clone())
        })
        .collect();
    assert_eq!(recorded.len(), trades.len(), "no fill recorded twice");
    assert_eq!(recorded, fills, "the same fills on both sides");

    let positions: Vec<Holding> = db.open_positions().await.unwrap().iter().map(Holding::from).collect();
    let differences = compare(&positions, &broker.positions().await.unwrap(), dec!(0.1));
    assert!(differences.is_empty(), "positions differ from the broker's: {differences:?}");
    (local.len(), trades.len())
}

/// Once no engine runs: an engine started in-process on the paper
/// exchange's book as the last process left it (with no feed, so nothing
/// moves while the books are compared) catches up, and local equals broker.
async fn restarted_equals_broker(dir: &std::path::Path, db: &Db) -> (usize, usize) {
    engine_lock_released(db).await;
    let broker = PaperBroker::new(
        &instrument::built_in(),
        PaperConfig { state_file: Some(paper_book(&dir.join("data"), db).await.unwrap()), ..Default::default() },
    )
    .unwrap();
    let engine =
        Engine::start(db.clone(), broker.clone(), EngineConfig::from_settings(&Settings::default())).await.unwrap();
    let counts = assert_local_equals_broker(db, &broker).await;
    drop(engine);
    counts
}

/// The engine process killed (SIGKILL) at random points while the demo and
/// an operator place orders, six times over; after the next start-up, local
/// equals broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_killed_at_random_points_recovers_to_equal_the_broker() {
    let Desk { dir, url, log, db } = desk().await;
    let env = [("DATABASE_URL", url.as_str()), ("XCOIN_PAPER__TICK_INTERVAL_MS", "20")];
    let seed = std::env::var("XCOIN_CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(17);
    let mut rng = Lcg(seed);
    let instruments: Vec<_> = instrument::built_in()
        .into_iter()
        .filter(|i| ["INFY", "SBIN", "ITC", "TCS"].contains(&i.symbol.as_str()))
        .collect();
    let rounds = 6;
    for round in 0..rounds {
        engine_lock_released(&db).await;
        let mut engine = spawn_xcoin_logged(dir.path(), &["engine", "--demo"], &env, &log);
        // Kill anywhere from before the engine is up to deep into trading.
        let until = tokio::time::Instant::now() + Duration::from_millis(200 + rng.below(2500));
        while tokio::time::Instant::now() < until {
            let i = &instruments[rng.below(instruments.len() as u64) as usize];
            let side = if rng.below(2) == 0 { Side::Buy } else { Side::Sell };
            db.enqueue_command(&chaos_order(i, side, 1 + rng.below(5) as i64), "chaos").await.unwrap();
            tokio::time::sleep(Duration::from_millis(50 + rng.below(150))).await;
        }
        engine.kill().unwrap();
        assert!(!engine.wait().unwrap().success(), "round {round}: the engine was killed");
    }

    // The next start-up catches up with the broker: the engine's own start
    // on the exchange's book as the killed process left it, with no feed, so
    // nothing moves while the books are compared.
    let (orders, trades) = restarted_equals_broker(dir.path(), &db).await;
    let stuck: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE status IN ('PENDING', 'SUBMITTED')")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(stuck, 0, "no order is left between persisted and acknowledged");
    eprintln!("seed {seed}: {rounds} kills, {orders} orders, {trades} fills");
    let by_operator: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM trades t JOIN orders o ON o.id = t.order_id WHERE o.placed_by = 'chaos'",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert!(
        orders >= 20 && trades >= 10 && by_operator >= 5,
        "orders flowed through the kills: {orders} orders, {trades} fills ({by_operator} the operator's)"
    );
}

/// PostgreSQL stopped and started again under a running engine and console,
/// on XCoin's own managed server (the shared test server is not restarted
/// under the other tests): the console shows reconnecting, then live; the
/// engine places nothing it cannot store, catches up and trades again; no
/// order, fill or position is lost or doubled against the paper exchange.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_under_the_engine_and_console_loses_and_doubles_nothing() {
    let dir = public_dir();
    let home = dir.path().to_str().unwrap();
    let data = dir.path().join("data");
    let start = xcoin(dir.path(), &["db", "start"], &[]);
    assert!(start.status.success(), "{}", String::from_utf8_lossy(&start.stderr));
    assert!(xcoin(dir.path(), &["setup"], &[]).status.success());
    // A configuration of its own, so the console opens the desk, not the wizard.
    let config = dir.path().join(".config/xcoin/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "[app]\noperator = \"chaos\"\n").unwrap();
    let env = [("XCOIN_PAPER__TICK_INTERVAL_MS", "20")];
    let log = dir.path().join("engine.log");
    let engine = spawn_xcoin_logged(dir.path(), &["engine", "--demo"], &env, &log);
    let console = Tmux::start(
        dir.path(),
        &[("HOME", home), ("XCOIN_APP__DATA_DIR", data.to_str().unwrap()), ("XCOIN_PAPER__TICK_INTERVAL_MS", "20")],
    );
    console.wait_for("engine: active (pid ");
    console.wait_for("db: live");

    let local = LocalDb::for_data_dir(&data).unwrap();
    let db = Db::connect(local.connect_options(), small_pool()).await.unwrap();
    let count = |db: Db| async move {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM orders").fetch_one(db.pool()).await.unwrap()
    };
    // Generous: the whole suite shares two cores with this desk's start-up.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while count(db.clone()).await < 5 {
        assert!(tokio::time::Instant::now() < deadline, "the demo trades before the restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert!(stdout(&xcoin(dir.path(), &["db", "stop"], &[])).starts_with("stopped the database in "));
    console.wait_for("db: RECONNECTING");
    // Down long enough for the engine to notice: it has lost its lock and
    // raised the alert (from then on it asks the demo for nothing and
    // places nothing until it has caught up).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let noticed = ["the engine lock connection was lost", "alert title=Engine lost its database"];
    loop {
        let log_text = std::fs::read_to_string(&log).unwrap();
        if noticed.iter().all(|line| log_text.contains(line)) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the engine notices the outage:\n{log_text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let started = std::time::Instant::now();
    assert!(xcoin(dir.path(), &["db", "start"], &[]).status.success());
    console.wait_for("db: live");
    let back = started.elapsed();

    // The engine catches up, then trades again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let resumed = "caught up with the broker's book after the interruption; trading resumes";
    while !std::fs::read_to_string(&log).unwrap().contains(resumed) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the engine resumes:\n{}",
            std::fs::read_to_string(&log).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let db = Db::connect(local.connect_options(), small_pool()).await.unwrap();
    let after_restart = count(db.clone()).await;
    // (Its own deadline: on a loaded machine — the whole suite on two cores —
    // the catch-up may take most of the first, and the demo trades every few seconds.)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while count(db.clone()).await < after_restart + 5 {
        assert!(tokio::time::Instant::now() < deadline, "the demo trades again after the restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert!(std::process::Command::new("kill").args(["-INT", &engine.id().to_string()]).status().unwrap().success());
    let out = engine.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", std::fs::read_to_string(&log).unwrap());
    // The engine stopped: with the demo's positions (or an order still
    // working) left, the console's alarm says exactly what; flat, the quiet word.
    let open = db.open_positions().await.unwrap().len() as i64;
    let working = db.active_orders().await.unwrap().len() as i64;
    if open + working > 0 {
        let positions = xcoin::domain::count(open, "position", "positions");
        let orders = xcoin::domain::count(working, "working order", "working orders");
        console.wait_for(&format!(" · {positions}, {orders} unwatched "));
    } else {
        console.wait_for("engine: ABSENT");
    }
    // With no engine inside it, the console quits without asking.
    console.keys(&["q"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while console.running() {
        assert!(std::time::Instant::now() < deadline, "the console did not exit:\n{}", console.screen());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // What the exchange has against what was stored, after the next start-up.
    let broker = PaperBroker::new(
        &instrument::built_in(),
        PaperConfig { state_file: Some(paper_book(&data, &db).await.unwrap()), ..Default::default() },
    )
    .unwrap();
    let engine =
        Engine::start(db.clone(), broker.clone(), EngineConfig::from_settings(&Settings::default())).await.unwrap();
    let (orders, trades) = assert_local_equals_broker(&db, &broker).await;
    drop(engine);
    eprintln!("restart: the console was live again {back:?} after the server started; {orders} orders, {trades} fills");
    db.close().await;
    local.stop().unwrap();
}

/// The kill switch always finishes: the engine is killed (SIGKILL) 5, 10, 20
/// and 30 ms after an operator's KILL_SWITCH_ON while it holds three
/// positions and a working order. Within 10 s of the next engine running, the
/// switch is ACTIVE with nothing working and nothing open, its event records
/// the flattening done, and the command is DONE (not FAILED "engine stopped").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_switch_interrupted_by_a_crash_is_finished_by_the_next_engine() {
    use xcoin::domain::command::CommandStatus;
    use xcoin::domain::order::OrderType;
    let Desk { dir, url, log, db } = desk().await;
    let env = [("DATABASE_URL", url.as_str()), ("XCOIN_PAPER__TICK_INTERVAL_MS", "20")];
    let within = |secs| tokio::time::Instant::now() + Duration::from_secs(secs);
    for delay in [5u64, 10, 20, 30] {
        engine_lock_released(&db).await;
        let mut engine = Reaped(spawn_xcoin_logged(dir.path(), &["engine"], &env, &log));
        // Each with a stop 5 % below its reference price, on the tick.
        let reference = |symbol: &str| instrument::built_in().into_iter().find(|i| i.symbol == symbol).unwrap();
        let stopped = |symbol: &str| {
            let price = reference(symbol).reference_price;
            let stop = (price * dec!(0.95) / TICK).round() * TICK;
            xcoin::domain::order::OrderRequest { stop_loss: Some(stop), ..market(symbol, Side::Buy, 2) }
        };
        for symbol in ["INFY", "SBIN", "ITC"] {
            db.enqueue_command(&OperatorCommand::PlaceOrder(stopped(symbol)), "asha").await.unwrap();
        }
        // A BUY 7 % below the market: it rests, working, until cancelled.
        let below = (reference("TCS").reference_price * dec!(0.93) / TICK).round() * TICK;
        let resting = xcoin::domain::order::OrderRequest {
            order_type: OrderType::Limit,
            price: Some(below),
            quantity: 1,
            stop_loss: Some(below - dec!(50)),
            ..stopped("TCS")
        };
        db.enqueue_command(&OperatorCommand::PlaceOrder(resting), "asha").await.unwrap();
        let deadline = within(20);
        // Three positions, each with its stop resting at the exchange, and the TCS limit working.
        let settled = |working: Vec<xcoin::domain::order::Order>| {
            let stops = working.iter().filter(|o| o.is_resting_stop()).count();
            (stops, working.len() - stops) == (3, 1)
        };
        while db.open_positions().await.unwrap().len() < 3 || !settled(db.active_orders().await.unwrap()) {
            if tokio::time::Instant::now() >= deadline {
                let said: Vec<_> = db
                    .commands_by_ids(&(1..20).collect::<Vec<i64>>())
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|c| (c.status, c.result))
                    .collect();
                panic!("{delay} ms: three positions, their resting stops and a working order; the commands: {said:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        let kill = OperatorCommand::KillSwitchOn { reason: format!("drill {delay} ms") };
        let command = db.enqueue_command(&kill, "asha").await.unwrap();
        tokio::time::sleep(Duration::from_millis(delay)).await;
        engine.0.kill().unwrap();
        assert!(!engine.0.wait().unwrap().success(), "{delay} ms: the engine was killed");

        engine_lock_released(&db).await;
        let engine = Reaped(spawn_xcoin_logged(dir.path(), &["engine"], &env, &log));
        let deadline = within(10);
        let (state, working, open) = loop {
            let state = db.kill_switch_state().await.unwrap();
            let (working, open) = (db.active_orders().await.unwrap(), db.open_positions().await.unwrap());
            if state.active && !state.flattening() && working.is_empty() && open.is_empty() {
                break (state, working, open);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{delay} ms: kill switch ACTIVE ⇒ nothing working, nothing open within 10 s; \
                 now active {} flattening {}, {} working, {} open",
                state.active,
                state.flattening(),
                working.len(),
                open.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!((working.len(), open.len()), (0, 0));
        let event = state.last_event.unwrap();
        assert_eq!((event.reason.as_str(), event.actor.as_str()), (format!("drill {delay} ms").as_str(), "asha"));
        assert!(event.flattened_at.is_some(), "{delay} ms: the flattening is recorded done: {event:?}");
        let done = db.command_result(command.id, Duration::from_secs(10)).await.unwrap();
        assert_eq!(done.status, CommandStatus::Done, "{delay} ms: {:?}", done.result);
        assert!(done.result.as_deref().unwrap().starts_with("kill switch ACTIVE"), "{:?}", done.result);
        // A second activation is refused as already active, and says since when.
        let again = db.activate_kill_switch(&operator_activation("again", "asha")).await.unwrap_err();
        assert!(again.to_string().starts_with("the kill switch is already active (since "), "{again}");

        drop(engine);
        db.deactivate_kill_switch(&format!("drill {delay} ms over"), "asha").await.unwrap();
    }
}

/// The kill switch behind 2,000 queued commands (a login's flood, its limit
/// raised for the drill): the engine claims it next, before any command
/// queued ahead of it that it had not yet taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_overtakes_a_flood_of_queued_commands() {
    use xcoin::domain::command::CommandStatus;
    let Desk { dir, url, log, db } = desk().await;
    let env = [("DATABASE_URL", url.as_str()), ("XCOIN_COMMANDS__MAX_PENDING_PER_LOGIN", "5000")];
    let _engine = Reaped(spawn_xcoin_logged(dir.path(), &["engine"], &env, &log));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while db.engine_lock_holder().await.unwrap().is_none() {
        assert!(tokio::time::Instant::now() < deadline, "the engine starts");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // (The engine has written the raised limit by the time it holds its lock and runs.)
    tokio::time::sleep(Duration::from_millis(200)).await;
    sqlx::query(
        "INSERT INTO operator_commands (command, payload, requested_by)
         SELECT 'CANCEL_ORDER', jsonb_build_object('order_id', 100000 + n), 'mallory' FROM generate_series(1, 2000) n",
    )
    .execute(db.pool())
    .await
    .unwrap();
    // Once the engine is into the flood, the kill switch.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while db.running_commands().await.unwrap().is_empty()
        && sqlx::query_scalar::<_, i64>("SELECT count(*) FROM operator_commands WHERE status <> 'PENDING'")
            .fetch_one(db.pool())
            .await
            .unwrap()
            == 0
    {
        assert!(tokio::time::Instant::now() < deadline, "the engine takes the flood");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let kill = db.enqueue_command(&OperatorCommand::KillSwitchOn { reason: "flood".into() }, "asha").await.unwrap();
    // Committed, so visible to the engine's next claim, from here.
    let visible = xcoin::domain::clock::now();
    let done = db.command_result(kill.id, Duration::from_secs(20)).await.unwrap();
    assert_eq!(done.status, CommandStatus::Done, "{:?}", done.result);
    let claimed_between: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM operator_commands
          WHERE requested_by = 'mallory' AND claimed_at > $1 AND claimed_at < $2",
    )
    .bind(visible)
    .bind(done.claimed_at.unwrap())
    .fetch_one(db.pool())
    .await
    .unwrap();
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM operator_commands WHERE requested_by = 'mallory' AND (status = 'PENDING' OR claimed_at > $1)",
    )
    .bind(done.claimed_at.unwrap())
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert!(claimed_between <= 1, "once it was visible, at most the one in hand went before it: {claimed_between}");
    assert!(waiting > 1000, "it overtook most of the flood: {waiting} of 2,000 still after it");
    let took = done.completed_at.unwrap() - kill.requested_at;
    eprintln!("kill switch behind {waiting} queued commands: requested to done in {} ms", took.num_milliseconds());
}

/// An order with a stop 2 % away on the losing side, on the tick, as the
/// chaos tests' operator sends it.
fn chaos_order(i: &instrument::Instrument, side: Side, quantity: i64) -> OperatorCommand {
    let mut req = market(&i.symbol, side, quantity);
    let away = (i.reference_price * dec!(0.02) / TICK).round() * TICK;
    req.stop_loss = Some(if side == Side::Buy { i.reference_price - away } else { i.reference_price + away });
    req.placed_by = "chaos".into();
    OperatorCommand::PlaceOrder(req)
}

/// The engine lock's state, polled until `done` holds (10 s at most).
async fn watch_until(db: &Db, what: &str, done: impl Fn(&EngineWatch) -> bool) -> EngineWatch {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let w = db.engine_watch().await.unwrap();
        if done(&w) {
            return w;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what} within 10 s: {w:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// An active engine (the demo trading and an operator's orders every
/// 40 ms) is killed with SIGKILL while a standby waits: the standby holds
/// the lock within 2 s, finishes what the killed engine left running,
/// trades the orders sent since, and local equals broker afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_from_a_killed_engine_within_two_seconds() {
    let Desk { dir, url, log, db } = desk().await;
    let env = [("DATABASE_URL", url.as_str()), ("XCOIN_PAPER__TICK_INTERVAL_MS", "20")];
    let mut active = spawn_xcoin_logged(dir.path(), &["engine", "--demo"], &env, &log);
    let first = watch_until(&db, "the active engine holds the lock", |w| w.active.is_some()).await;
    let standby_log = dir.path().join("standby.log");
    let mut standby = spawn_xcoin_logged(dir.path(), &["engine", "--demo", "--standby"], &env, &standby_log);
    let waiting = watch_until(&db, "the standby waits", |w| w.standbys == 1).await;
    assert_eq!(waiting.active, first.active, "the standby waits; it does not take the lock");

    // A stream of orders, before, through and after the kill.
    let instruments: Vec<_> =
        instrument::built_in().into_iter().filter(|i| ["INFY", "SBIN"].contains(&i.symbol.as_str())).collect();
    let sending = Arc::new(AtomicBool::new(true));
    let sender = {
        let (db, sending) = (db.clone(), sending.clone());
        tokio::spawn(async move {
            let mut sent = Vec::new();
            for n in 0.. {
                if !sending.load(Ordering::SeqCst) {
                    break;
                }
                let side = if n % 2 == 0 { Side::Buy } else { Side::Sell };
                let command = chaos_order(&instruments[n % instruments.len()], side, 1 + (n % 3) as i64);
                sent.push(db.enqueue_command(&command, "chaos").await.unwrap());
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            sent
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    active.kill().unwrap();
    let killed = std::time::Instant::now();
    assert!(!active.wait().unwrap().success(), "the active engine was killed");
    let took_over =
        watch_until(&db, "the standby holds the lock", |w| w.active.is_some_and(|p| Some(p) != first.active)).await;
    let lock_after = killed.elapsed();
    assert_eq!(took_over.standbys, 0, "the standby is the active engine now");
    // Trading again: an order sent after the kill is done by the standby.
    let after = db.enqueue_command(&chaos_order(&instruments_named("SBIN"), Side::Buy, 1), "chaos").await.unwrap();
    let done = db.command_result(after.id, Duration::from_secs(20)).await.unwrap();
    assert_eq!(done.status, CommandStatus::Done, "{:?}", done.result);
    let trading_after = killed.elapsed();
    eprintln!(
        "standby: lock held {} ms after the kill, an order sent after the kill done {} ms after it",
        lock_after.as_millis(),
        trading_after.as_millis()
    );
    assert!(lock_after <= Duration::from_secs(2), "the standby takes over within 2 s, took {lock_after:?}");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    sending.store(false, Ordering::SeqCst);
    let sent = sender.await.unwrap();

    // Every command sent, before and after the kill, ends; none is left RUNNING or PENDING.
    for c in &sent {
        let c = db.command_result(c.id, Duration::from_secs(20)).await.unwrap();
        assert!(
            matches!(c.status, CommandStatus::Done | CommandStatus::Failed),
            "command {} ends under the standby: {:?} {:?}",
            c.id,
            c.status,
            c.result
        );
    }
    assert!(std::process::Command::new("kill").args(["-INT", &standby.id().to_string()]).status().unwrap().success());
    assert!(standby.wait().unwrap().success(), "the standby stops cleanly");
    let standby_said = std::fs::read_to_string(&standby_log).unwrap();
    assert!(standby_said.contains("standby: the engine lock is ours; taking over"), "{standby_said}");
    let (orders, trades) = restarted_equals_broker(dir.path(), &db).await;
    let placed = sent.iter().filter(|c| c.id < after.id).count();
    eprintln!("standby drill: {placed} commands sent through the kill, {orders} orders, {trades} fills");
    assert!(orders >= placed, "every command placed its order: {orders} orders for {placed} commands");
}

fn instruments_named(symbol: &str) -> instrument::Instrument {
    instrument::built_in().into_iter().find(|i| i.symbol == symbol).unwrap()
}

/// A standby whose waiting connection is cut (a database restart, a killed
/// session) waits again instead of ending, and takes over when the active
/// engine's session ends; stopped while it waits, it returns nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_whose_wait_is_cut_waits_again_and_takes_over() {
    use xcoin::db::lock::{EngineLock, STANDBY_NAME};
    let t = test_db().await;
    let active = EngineLock::acquire(t.db.connect_options()).await.unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let standby = tokio::spawn(EngineLock::wait(t.db.connect_options(), stopped));
    watch_until(&t.db, "the standby waits", |w| w.standbys == 1).await;
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = $1 AND datname = current_database()",
    )
    .bind(STANDBY_NAME)
    .fetch_all(t.pool())
    .await
    .unwrap();
    assert_eq!(cut, [true], "the standby's wait was cut");
    watch_until(&t.db, "the standby is gone for a moment", |w| w.standbys == 0).await;
    watch_until(&t.db, "the standby waits again", |w| w.standbys == 1).await;
    assert!(!standby.is_finished(), "it did not give up");

    let before = t.db.engine_watch().await.unwrap().active;
    active.release().await;
    let mut lock = standby.await.unwrap().unwrap().expect("the standby took over");
    assert!(lock.is_held());
    let now = t.db.engine_watch().await.unwrap();
    assert_eq!((now.active, now.standbys), (lock.backend_pid().await, 0));
    assert_ne!(now.active, before);

    // Stopped while it waits: nothing is taken and its session ends.
    let (stop_second, stopped) = tokio::sync::watch::channel(false);
    let second = tokio::spawn(EngineLock::wait(t.db.connect_options(), stopped));
    watch_until(&t.db, "a second standby waits", |w| w.standbys == 1).await;
    stop_second.send(true).unwrap();
    assert!(second.await.unwrap().unwrap().is_none());
    watch_until(&t.db, "the stopped standby's session ends", |w| w.standbys == 0).await;
    drop(stop);
    lock.release().await;
}
