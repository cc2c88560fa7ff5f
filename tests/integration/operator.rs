//! The console under an operator's hands: the selection is a row (by id)
//! while the engine adds rows, dialogs name and follow their row, filters
//! belong to their tab, Ctrl-C asks to quit, and the modify form and the
//! strategies list check as the engine will. Rows come from the real engine
//! on the paper exchange and a real PostgreSQL.

use crate::support::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use xcoin::broker::paper::{PaperBroker, PaperConfig};
use xcoin::config::Settings;
use xcoin::console::app::{App, Effect, Popup, Tab};
use xcoin::console::store;
use xcoin::domain::command::OperatorCommand;
use xcoin::domain::instrument;
use xcoin::domain::order::{OrderRequest, OrderType};
use xcoin::engine::{Engine, EngineConfig};

/// An operator's BUY 5 INFY LIMIT at `price`, stop ₹10 under.
fn limit(price: Decimal) -> OrderRequest {
    OrderRequest { stop_loss: Some(price - dec!(10)), placed_by: "asha".into(), ..limit_buy("INFY", 5, price) }
}

async fn engine(t: &TestDb) -> Engine<PaperBroker> {
    let broker = PaperBroker::new(&instrument::built_in(), PaperConfig::default()).unwrap();
    Engine::start(t.db.clone(), broker, EngineConfig::from_settings(&Settings::default())).await.unwrap()
}

fn console() -> App {
    let s = Settings::default();
    let mut app = App::new(s.app.mode, s.calendar(), EngineConfig::from_settings(&s).limits, "asha".into(), false);
    app.status.engine_in_process = true;
    app
}

/// What the console's loader would deliver after the engine wrote.
async fn reload(t: &TestDb, e: &mut Engine<PaperBroker>, app: &mut App) {
    e.drain_events().await.unwrap();
    app.apply(store::snapshot(&t.db).await.unwrap());
    app.refresh_views();
}

fn confirm_body(app: &App) -> String {
    match &app.popup {
        Some(Popup::Confirm { title, body, .. }) => format!("{title}\n{}", body.join("\n")),
        other => panic!("no confirmation open: {other:?}"),
    }
}

fn flash(app: &App) -> String {
    app.flash.as_ref().map(|(text, _, _)| text.clone()).unwrap_or_default()
}

#[tokio::test]
async fn the_selection_stays_on_its_order_while_rows_arrive_and_a_dialog_follows_its_row() {
    let t = test_db().await;
    let mut e = engine(&t).await;
    let mut app = console();
    for p in [dec!(1490), dec!(1491), dec!(1492)] {
        e.place_order(&limit(p)).await.unwrap();
    }
    reload(&t, &mut e, &mut app).await;
    assert_eq!(app.tables[Tab::Orders].rows, vec![3, 2, 1]);
    press(&mut app, KeyCode::Down);
    assert_eq!(app.selected_order().unwrap().id, 2);

    // The demo (or anyone) places orders: newest first, above the selection.
    for p in [dec!(1493), dec!(1494)] {
        e.place_order(&limit(p)).await.unwrap();
    }
    reload(&t, &mut e, &mut app).await;
    assert_eq!(app.tables[Tab::Orders].rows, vec![5, 4, 3, 2, 1]);
    assert_eq!(app.selected_order().unwrap().id, 2, "the selection is the order, not the line");
    assert_eq!(app.tables[Tab::Orders].selected, 3);

    // The cancel dialog names its order fully and carries its id.
    press(&mut app, KeyCode::Char('c'));
    let body = confirm_body(&app);
    assert!(body.contains("Order 2: BUY 5 INFY LIMIT MIS @ 1491.00"), "{body}");
    assert!(body.contains("OPEN, 0 of 5 filled"), "{body}");
    match &app.popup {
        Some(Popup::Confirm { effect, .. }) => {
            assert_eq!(**effect, Effect::Send(OperatorCommand::CancelOrder { order_id: 2 }, "cancel order 2".into()))
        }
        _ => unreachable!(),
    }

    // The order is cancelled elsewhere while the dialog is open: it closes, nothing is sent.
    e.cancel_order(2).await.unwrap();
    reload(&t, &mut e, &mut app).await;
    assert!(app.popup.is_none());
    assert_eq!(flash(&app), "order 2 is CANCELLED now: its dialog was closed and nothing was sent");
    assert_eq!(app.selected_order().unwrap().id, 2, "a finished order stays in the list and selected");

    // Filtered out, the selection moves to the row in its place and says so.
    press(&mut app, KeyCode::Char('/'));
    typed(&mut app, "1494");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.tables[Tab::Orders].rows, vec![5]);
    assert_eq!(app.selected_order().unwrap().id, 5);
    // (After the earlier message, which is still showing.)
    assert!(flash(&app).ends_with(" · order 2 left the list; selected order 5"), "{}", flash(&app));
    assert_eq!(app.filter_note(Tab::Orders).as_deref(), Some("filter \"1494\": 1 of 5"));
    // The kept filter is in the table's title; the status line shows the
    // result (it used to show `filter: 1494` and hide it).
    let screen = crate::console::text(&crate::console::draw(&mut app, 80, 24));
    assert!(screen[3].contains("filter \"1494\": 1 of 5"), "{}", screen[3]);
    assert!(screen[22].contains("selected order 5") && !screen[22].contains("filter:"), "{}", screen[22]);
}

#[tokio::test]
async fn filters_belong_to_their_tab_and_search_every_visible_column() {
    let t = test_db().await;
    let mut e = engine(&t).await;
    let mut app = console();
    e.place_order(&limit(dec!(1490))).await.unwrap();
    let demo = e.enable_demo().await.unwrap();
    let mut theirs = limit(dec!(1480));
    theirs.strategy_id = demo;
    e.place_order(&theirs).await.unwrap();
    reload(&t, &mut e, &mut app).await;

    press(&mut app, KeyCode::Char('/'));
    typed(&mut app, "demo scal");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.tables[Tab::Orders].rows, vec![2], "the strategy column is searched");
    press(&mut app, KeyCode::Char('2'));
    assert_eq!(app.tables[Tab::Positions].filter, "", "the Positions tab has its own (empty) filter");
    assert_eq!(app.filter_note(Tab::Positions), None);
    press(&mut app, KeyCode::Char('1'));
    assert_eq!(app.tables[Tab::Orders].filter, "demo scal");
    assert_eq!(app.tables[Tab::Orders].rows, vec![2]);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.tables[Tab::Orders].rows, vec![2, 1]);
    assert_eq!(app.filter_note(Tab::Orders), None);
}

#[tokio::test]
async fn ctrl_c_asks_to_quit_and_offers_to_exit_what_is_open() {
    let t = test_db().await;
    let mut e = engine(&t).await;
    let mut app = console();
    let mut buy = limit(dec!(1490));
    buy.order_type = OrderType::Market;
    buy.price = None;
    buy.stop_loss = Some(dec!(1480));
    e.place_order(&buy).await.unwrap();
    e.place_order(&limit(dec!(1400))).await.unwrap();
    e.broker.step();
    reload(&t, &mut e, &mut app).await;
    assert_eq!(app.store.positions.len(), 1);
    // The newest working order is selected (the position's resting stop): `c` would cancel it.
    let selected = app.selected_order().unwrap();
    assert_eq!((selected.id, selected.is_resting_stop()), (3, true));

    let ctrl_c = app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(ctrl_c, None);
    let body = confirm_body(&app);
    assert!(body.starts_with("Quit XCoin?"), "{body}");
    assert!(body.contains("1 working order will be cancelled first"), "the limit, not the resting stop: {body}");
    assert!(
        body.contains("1 open position will no longer be watched: targets not enforced; 1 stop rests at the exchange."),
        "{body}"
    );
    assert_eq!(press(&mut app, KeyCode::Char('x')), Some(Effect::ExitAllThenQuit));

    // Without an engine here, Ctrl-C quits at once.
    app.status.engine_in_process = false;
    assert_eq!(app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Effect::Quit));
}

#[tokio::test]
async fn the_modify_form_checks_as_the_engine_will_and_esc_keeps_the_values() {
    let t = test_db().await;
    let mut e = engine(&t).await;
    let mut app = console();
    let o = e.place_order(&limit(dec!(1490))).await.unwrap();
    reload(&t, &mut e, &mut app).await;
    assert_eq!(app.selected_order().unwrap().id, o.id);

    press(&mut app, KeyCode::Char('m'));
    for _ in 0..4 {
        press(&mut app, KeyCode::Backspace);
    }
    typed(&mut app, "1000000");
    press(&mut app, KeyCode::Enter);
    let body = confirm_body(&app);
    assert!(body.contains(&format!("Order {}: BUY 5 INFY LIMIT MIS @ 1490.00", o.id)), "{body}");
    assert!(body.contains("quantity 5 → 1000000, price 1490.00 → 1490.00"), "{body}");
    assert!(
        body.contains("✗ max position size: limit 1000 shares, order 1000000 — the engine will refuse it"),
        "{body}"
    );
    assert!(body.contains("last 1512.30 · order value ₹1,49,00,00,000.00"), "{body}");

    press(&mut app, KeyCode::Esc);
    match &app.popup {
        Some(Popup::Modify(form)) => assert_eq!(form.values[0], "1000000", "back in the form, values kept"),
        other => panic!("Esc should return to the form: {other:?}"),
    }
    for _ in 0..7 {
        press(&mut app, KeyCode::Backspace);
    }
    typed(&mut app, "6");
    press(&mut app, KeyCode::Enter);
    let body = confirm_body(&app);
    assert!(body.contains("✓ passes pre-trade checks: risk ₹60.00"), "{body}");
}

#[tokio::test]
async fn a_strategy_is_paused_and_resumed_from_the_strategies_list() {
    let t = test_db().await;
    let mut e = engine(&t).await;
    let demo = e.enable_demo().await.unwrap();
    let mut app = console();
    reload(&t, &mut e, &mut app).await;

    press(&mut app, KeyCode::Char('S'));
    assert!(matches!(app.popup, Some(Popup::Strategies { selected: 0 })));
    press(&mut app, KeyCode::Char('p'));
    assert_eq!(flash(&app), "Manual Trading places only operators' orders: nothing to pause");
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char('p'));
    let body = confirm_body(&app);
    assert!(
        body.contains(&format!("Strategy {demo} \"Demo Scalper\" (PAPER): no new orders until resumed.")),
        "{body}"
    );
    press(&mut app, KeyCode::Right);
    let sent = press(&mut app, KeyCode::Enter);
    let Some(Effect::Send(cmd, _)) = sent else { panic!("nothing sent: {sent:?}") };
    assert_eq!(cmd, OperatorCommand::PauseStrategy { strategy_id: demo, reason: "from the console by asha".into() });

    let c = t.enqueue_command(&cmd, "asha").await.unwrap();
    e.process_commands().await;
    assert_eq!(
        t.get_command(c.id).await.unwrap().result.unwrap(),
        format!("strategy {demo} \"Demo Scalper\" paused: no new orders until resumed")
    );
    reload(&t, &mut e, &mut app).await;
    press(&mut app, KeyCode::Char('S'));
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char('p'));
    let body = confirm_body(&app);
    assert!(body.starts_with("Resume strategy?"), "{body}");
    assert!(body.contains("Paused by asha: from the console by asha"), "{body}");
}

/// Sends `signal` (a `kill -s` name) to a process.
fn signal(pid: u32, signal: &str) {
    let sent = std::process::Command::new("kill").args(["-s", signal, &pid.to_string()]).status().unwrap();
    assert!(sent.success(), "kill -s {signal} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_headless_engine_stops_cleanly_on_term_int_and_hup() {
    use crate::procs::{spawn_xcoin_logged, xcoin};
    let dir = tempfile::tempdir().unwrap();
    let url = unused_database_url().await;
    let env = [("DATABASE_URL", url.as_str())];
    assert!(xcoin(dir.path(), &["setup"], &env).status.success());
    let db = xcoin::db::Db::connect(url.parse().unwrap(), small_pool()).await.unwrap();
    for name in ["TERM", "INT", "HUP"] {
        let log = dir.path().join(format!("engine-{name}.log"));
        let mut engine = spawn_xcoin_logged(dir.path(), &["engine", "--demo"], &env, &log);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !std::fs::read_to_string(&log).unwrap_or_default().contains("engine running") {
            assert!(
                std::time::Instant::now() < deadline,
                "the engine did not start:\n{}",
                std::fs::read_to_string(&log).unwrap()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(db.engine_lock_holder().await.unwrap().is_some());
        signal(engine.id(), name);
        let status = engine.wait().unwrap();
        let out = std::fs::read_to_string(&log).unwrap();
        assert_eq!(status.code(), Some(0), "SIG{name}: exit 0\n{out}");
        assert!(out.contains(&format!("signal=\"SIG{name}\"")) || out.contains(&format!("signal=SIG{name}")), "{out}");
        assert!(out.contains("engine stopped"), "{out}");
        // The lock's session was closed; the server ends it a moment later.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while db.engine_lock_holder().await.unwrap().is_some() {
            assert!(std::time::Instant::now() < deadline, "SIG{name}: the lock is released");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// Today's orders as the orders table's title counts them ("Orders — working
/// 2 · 17 today"), if it is on `screen`.
fn shown_today(screen: &str) -> Option<i64> {
    let title = screen.split("Orders — working ").nth(1)?;
    title.split(" · ").nth(1)?.split(" today").next()?.trim().parse().ok()
}

/// The real console in a terminal while the demo trades: the selection stays
/// on its order as rows arrive, a modification beyond the limits is refused
/// with its reason, and SIGTERM leaves a sane terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_terminal_keeps_its_row_refuses_a_bad_modify_and_restores_the_terminal_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let url = unused_database_url().await;
    let data = dir.path().join("data");
    let tmux = crate::procs::demo_console(dir.path(), &url, &data);
    tmux.wait_for("Demo Scalper");

    // A resting order of the operator's, far under the market.
    let db = xcoin::db::Db::connect(url.parse().unwrap(), small_pool()).await.unwrap();
    let mut req = limit(dec!(1400));
    req.stop_loss = Some(dec!(1390));
    db.enqueue_command(&OperatorCommand::PlaceOrder(req), "asha").await.unwrap();
    tmux.wait_for("1400.00");

    // Working orders come first: Home selects it; `c` names it.
    tmux.keys(&["Home", "c"]);
    let screen = tmux.wait_for("Cancel order?");
    let named = screen
        .lines()
        .find_map(|l| l.split("Order ").nth(1).and_then(|r| r.split(':').next()).map(str::to_string))
        .expect("the dialog names the order");
    assert!(screen.contains("BUY 5 INFY LIMIT MIS @ 1400.00"), "{screen}");
    tmux.keys(&["Escape"]);
    tmux.wait_gone("Cancel order?");
    // The demo keeps adding rows (counted in the database: a full screen
    // shows no more of them); the selection stays on the same order.
    let orders = || async { db.today_order_count().await.unwrap() };
    let before = orders().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(45);
    while orders().await <= before {
        assert!(std::time::Instant::now() < deadline, "no new rows arrived:\n{}", tmux.screen());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The console has drawn at least one of them: its orders title counts
    // more of today's orders than there were.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while shown_today(&tmux.screen()).is_none_or(|shown| shown <= before) {
        assert!(std::time::Instant::now() < deadline, "the new rows are not drawn:\n{}", tmux.screen());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tmux.keys(&["c"]);
    tmux.wait_for(&format!("Order {named}: BUY 5 INFY LIMIT MIS @ 1400.00"));
    // (Esc then a letter at once would read as Alt-letter: wait in between.)
    tmux.keys(&["Escape"]);
    tmux.wait_gone("Cancel order?");

    // Modify it to a million shares: the form says why, and so does the engine.
    tmux.keys(&["m", "BSpace", "BSpace", "BSpace"]);
    tmux.keys(&["-l", "1000000"]);
    tmux.wait_for("✗ max position size: limit 1000 shares, order 1000000 — the engine will refuse it");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Modify order?");
    tmux.keys(&["Right", "Enter"]);
    tmux.wait_for(&format!("✗ order {named} not modified: max position size: limit 1000 shares, order 1000000"));

    // SIGTERM: the console stops, restores the terminal, and exits 0.
    signal(tmux.xcoin_pid(), "TERM");
    // (The terminal's modes are printed after the exit code: wait for all of them.)
    let screen = tmux.wait_for("stty-done");
    assert!(screen.contains("exit=0"), "{screen}");
    assert!(!screen.contains("engine: in this console"), "the alternate screen is gone:\n{screen}");
    let modes: String = screen.lines().skip_while(|l| !l.contains("exit=0")).collect::<Vec<_>>().join(" ");
    for mode in [" icanon", " echo ", " isig", " icrnl"] {
        assert!(modes.contains(mode), "`{}` restored:\n{screen}", mode.trim());
    }
    assert!(!modes.contains("-icanon") && !modes.contains(" -echo "), "{screen}");
    // Its engine stopped gracefully: the working orders were cancelled first,
    // so none stays live at the broker unwatched; what stays is each open
    // position's stop, resting at the exchange to protect it.
    let positions = db.open_positions().await.unwrap();
    let live = db.active_orders().await.unwrap();
    assert!(live.iter().all(|o| o.is_resting_stop()), "only resting stops stay live: {live:?}");
    let protected: Vec<_> = live.iter().map(|o| (o.symbol.clone(), o.side, o.quantity)).collect();
    let held: Vec<_> = positions.iter().map(|p| (p.symbol.clone(), p.exit_side(), p.quantity().abs())).collect();
    assert_eq!(protected.len(), held.len(), "{protected:?} / {held:?}");
    assert!(protected.iter().all(|s| held.contains(s)), "one stop per open position: {protected:?} / {held:?}");
    let mine = db.get_order(named.parse().unwrap()).await.unwrap();
    assert_eq!(mine.status, xcoin::domain::order::OrderStatus::Cancelled);
    let log: Vec<String> = db.recent_events(100).await.unwrap().into_iter().map(|e| e.message).collect();
    assert!(
        log.iter()
            .any(|l| l.starts_with("engine stopping: ")
                && l.ends_with(" cancelled first (engine.cancel_orders_on_stop)")),
        "{log:?}"
    );
}

#[tokio::test]
async fn the_strategies_list_shows_each_ones_positions_pnl_and_last_decision() {
    let t = test_db().await;
    let mut e = engine(&t).await;
    let demo = e.enable_demo().await.unwrap();
    let price = e.broker.last_price("INFY", xcoin::domain::order::Exchange::Nse).unwrap();
    e.broker.set_price("INFY", xcoin::domain::order::Exchange::Nse, price).unwrap();
    e.drain_events().await.unwrap();
    let mut req = limit(price);
    req.order_type = OrderType::Market;
    req.price = None;
    req.strategy_id = demo;
    let order = e.place_order(&req).await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    t.record_decision(demo, &format!("BUY 5 INFY MARKET: order {} SUBMITTED", order.id)).await.unwrap();
    let mut app = console();
    reload(&t, &mut e, &mut app).await;
    // Bought 5 and not marked since (the tick came before the fill): the
    // strategy's day is exactly the buy's charges.
    let bought = t.today_trades().await.unwrap();
    assert_eq!(bought.len(), 1);
    let charges = xcoin::domain::charges::ChargeRates::default()
        .compute(&xcoin::domain::charges::ChargeInput {
            side: xcoin::domain::order::Side::Buy,
            product: xcoin::domain::order::Product::Mis,
            exchange: xcoin::domain::order::Exchange::Nse,
            quantity: 5,
            price: bought[0].price,
            order_brokerage_so_far: Decimal::ZERO,
        })
        .total();
    let demo_row = app.store.summary.breakdown.iter().find(|b| b.name == "Demo Scalper").unwrap();
    assert_eq!(
        (demo_row.realized_pnl, demo_row.unrealized_pnl, demo_row.charges, demo_row.net_pnl),
        (Decimal::ZERO, Decimal::ZERO, charges, -charges),
        "bought 5 at {}",
        bought[0].price
    );
    let net = demo_row.net_pnl;

    press(&mut app, KeyCode::Char('S'));
    let screen = crate::console::text(&crate::console::draw(&mut app, 80, 24)).join("\n");
    assert!(screen.contains("1    Manual Trading       manual   PAPER active"), "{screen}");
    assert!(screen.contains("0 positions · today ₹0.00 · nothing decided yet"), "{screen}");
    assert!(screen.contains(&format!("{demo}    Demo Scalper         scalping PAPER active")), "{screen}");
    let at = app.store.strategies[&demo].last_decision_at.unwrap();
    let line = format!(
        "1 position · today {} · last {} BUY 5 INFY MARKET: order {} SUBMITTED",
        xcoin::domain::money::rupees(net),
        app.calendar.local(at).format("%H:%M:%S"),
        order.id
    );
    assert!(screen.replace("│", " ").split_whitespace().collect::<Vec<_>>().join(" ").contains(&line), "{screen}");

    // On a LIVE desk a PAPER strategy trades in the paper book: none of the
    // desk's positions or P&L are its, and the list says where it trades.
    app.mode = xcoin::domain::strategy::TradingMode::Live;
    let screen = crate::console::text(&crate::console::draw(&mut app, 80, 24)).join("\n");
    let words = screen.replace("│", " ").split_whitespace().collect::<Vec<_>>().join(" ");
    let line = format!(
        "trades in the paper book · last {} BUY 5 INFY MARKET: order {} SUBMITTED",
        app.calendar.local(at).format("%H:%M:%S"),
        order.id
    );
    assert!(words.contains(&line), "{screen}");
    assert!(!words.contains("1 position · today"), "{screen}");
}
