//! The console: the real App drawn on ratatui's TestBackend with data from a
//! real database, key handling, live refresh over LISTEN/NOTIFY, and the real
//! binary driven in tmux.
//!
//! Every test here reads "today" (the day's orders, P&L, the desk log), so
//! each pins its database and thread to a trading morning (`test_db_at`):
//! none straddles IST midnight or meets a weekend, whatever the run's clock.

use std::time::Duration;

use crate::support::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use rust_decimal_macros::dec;
use tokio::sync::mpsc;
use xcoin::broker::paper::{PaperBroker, PaperConfig};
use xcoin::config::Settings;
use xcoin::console::app::{App, Effect, Popup, Tab};
use xcoin::console::store::{self, LoaderMsg};
use xcoin::db::lock::EngineWatch;
use xcoin::domain::command::OperatorCommand;
use xcoin::domain::instrument;
use xcoin::domain::order::{BrokerKind, Exchange, OrderRequest, OrderStatus, OrderType, Product, Side};
use xcoin::domain::reconciliation::Resolution;
use xcoin::engine::{Engine, EngineConfig};

pub fn new_app(read_only: bool) -> App {
    let s = Settings::default();
    let cfg = EngineConfig::from_settings(&s);
    let mut app = App::new(s.app.mode, s.calendar(), cfg.limits, "asha".into(), read_only);
    app.show_log = false;
    app
}

/// Draws as the runtime does: the tables refreshed, then the frame.
pub fn draw(app: &mut App, w: u16, h: u16) -> Buffer {
    app.refresh_views();
    app.screen = ratatui::layout::Size::new(w, h);
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| f.render_widget(&*app, f.area())).unwrap();
    t.backend().buffer().clone()
}

pub fn text(buf: &Buffer) -> Vec<String> {
    (0..buf.area.height)
        .map(|y| (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>())
        .collect()
}

/// The first cell where `needle` starts on screen.
fn cell_of<'a>(buf: &'a Buffer, needle: &str) -> &'a ratatui::buffer::Cell {
    for (y, line) in text(buf).iter().enumerate() {
        if let Some(byte) = line.find(needle) {
            let x = line[..byte].chars().count() as u16;
            return &buf[(x, y as u16)];
        }
    }
    panic!("{needle} not on screen:\n{}", text(buf).join("\n"));
}

/// The colour of the first cell where `needle` starts on screen.
fn fg_of(buf: &Buffer, needle: &str) -> Color {
    cell_of(buf, needle).fg
}

/// The background of the first cell where `needle` starts on screen.
fn bg_of(buf: &Buffer, needle: &str) -> Color {
    cell_of(buf, needle).bg
}

/// An operator's MIS order on NSE.
fn order(
    symbol: &str,
    side: Side,
    quantity: i64,
    order_type: OrderType,
    price: Option<rust_decimal::Decimal>,
    stop_loss: Option<rust_decimal::Decimal>,
) -> OrderRequest {
    OrderRequest {
        side,
        order_type,
        price,
        stop_loss,
        placed_by: "asha".into(),
        ..limit_buy(symbol, quantity, dec!(1))
    }
}

/// A desk with a filled long at a loss, a working order, a rejected order
/// and an open reconciliation issue — made by the real engine.
async fn desk(t: &TestDb) -> App {
    let broker = PaperBroker::new(&instrument::built_in(), PaperConfig::default()).unwrap();
    let mut e = Engine::start(t.db.clone(), broker, EngineConfig::from_settings(&Settings::default())).await.unwrap();
    let req = |side: Side, qty: i64, order_type: OrderType, price: Option<rust_decimal::Decimal>, stop| {
        order("INFY", side, qty, order_type, price, stop)
    };
    e.place_order(&req(Side::Buy, 10, OrderType::Market, None, Some(dec!(1500)))).await.unwrap();
    e.broker.set_price("INFY", Exchange::Nse, dec!(1512.30)).unwrap();
    e.drain_events().await.unwrap();
    e.broker.set_price("INFY", Exchange::Nse, dec!(1505.00)).unwrap();
    e.drain_events().await.unwrap();
    e.mark_positions().await.unwrap();
    e.place_order(&req(Side::Buy, 5, OrderType::Limit, Some(dec!(1490)), Some(dec!(1480)))).await.unwrap();
    e.place_order(&req(Side::Buy, 5, OrderType::Market, None, None)).await.unwrap(); // no stop: REJECTED
    e.broker.apply_external_trade("SBIN", Exchange::Nse, Product::Mis, Side::Buy, 3, dec!(812.45)).unwrap();
    e.reconcile_positions().await.unwrap();
    e.drain_events().await.unwrap();
    t.update_daily_stats().await.unwrap();

    let mut app = new_app(false);
    app.status.engine_in_process = true;
    app.apply(store::snapshot(&t.db).await.unwrap());
    app.refresh_views();
    app
}

#[tokio::test]
async fn every_tab_renders_the_desk_with_meaningful_colours() {
    let t = test_db_at(a_trading_morning()).await;
    let mut app = desk(&t).await;

    let buf = draw(&mut app, 150, 30);
    let screen = text(&buf).join("\n");
    assert!(screen.contains("XCoin  PAPER"), "{screen}");
    assert!(screen.contains("engine: in this console"));
    assert!(screen.contains("kill switch: armed"));
    assert!(
        screen.contains("1 Orders (2·4) │ 2 Positions (1) │ 3 Trades (1) │ 4 Reconciliation (1) │ 5 Stats"),
        "{screen}"
    );
    // The position's stop rests at the exchange: a working SL-M of its own.
    assert!(screen.contains("Orders — working 2 · 4 today"), "{screen}");
    let rows: Vec<&str> = screen.lines().filter(|l| l.contains("INFY")).collect();
    assert_eq!(rows.len(), 4, "{screen}");
    assert!(
        rows[0].contains("BUY     5       0            LIMIT   1490.00             7450.00  OPEN"),
        "working orders first: {}",
        rows[0]
    );
    assert!(
        rows[1].contains("SELL   10       0            SL-M             1500.00   15000.00  TRIGGER PENDING"),
        "the position's stop, resting at the exchange: {}",
        rows[1]
    );
    assert!(rows[2].contains("REJECTED"), "{}", rows[2]);
    assert!(
        rows[3].contains("BUY    10      10   1512.35  MARKET                     15123.50  FILLED")
            && rows[3].contains("Manual Trading")
            && rows[3].contains("PO00000001"),
        "{}",
        rows[3]
    );
    assert_eq!(fg_of(&buf, "REJECTED"), Color::Red);
    assert_eq!(fg_of(&buf, "FILLED"), Color::Green);
    assert!(screen.contains(" c cancel "), "the hint bar comes from the keymap");

    app.on_key(key('2'));
    let buf = draw(&mut app, 150, 30);
    let screen = text(&buf).join("\n");
    let row = screen.lines().find(|l| l.contains("INFY")).unwrap();
    // Bought 10 at 1512.35 (one tick of slippage), marked at 1505.00: −73.50;
    // the buy's charges 6.36.
    assert!(row.contains("MIS       10  1512.35  1505.00      -73.50      0.00     6.36  1500.00"), "{row}");
    // Today's totals sit on the table's bottom border, as the header has them.
    let pnl = app.store.summary.pnl.unwrap();
    assert!(
        screen.contains(&format!(
            "today: realised ₹0.00 · unrealised -₹73.50 · charges ₹6.36 · net {}",
            xcoin::domain::money::rupees(pnl.net_pnl)
        )),
        "{screen}"
    );
    assert_eq!(fg_of(&buf, "-73.50"), Color::Red);
    assert_eq!(fg_of(&buf, "INFY"), Color::Reset, "a position with a stop is not marked");
    assert_eq!(fg_of(&buf, "1500.00 ✓"), Color::Green, "its stop rests at the exchange: {row}");
    // Its resting stop gone (cancelled at the broker): the stop is marked red until it rests again.
    let stop_order = app.store.orders.values().find(|o| o.is_resting_stop()).unwrap().id;
    app.store.orders.get_mut(&stop_order).unwrap().status = OrderStatus::Cancelled;
    app.store.pending.positions = true;
    let buf = draw(&mut app, 150, 30);
    assert_eq!(fg_of(&buf, "1500.00 !"), Color::Red);
    // Without a stop (as one taken over from the broker starts), it is marked red.
    let id = *app.store.positions.keys().next().unwrap();
    app.store.positions.get_mut(&id).unwrap().stop_loss = None;
    app.store.pending.positions = true;
    let buf = draw(&mut app, 150, 30);
    assert_eq!((fg_of(&buf, "INFY"), fg_of(&buf, "NONE")), (Color::Red, Color::Red));

    app.on_key(key('3'));
    let screen = text(&draw(&mut app, 150, 30)).join("\n");
    let row = screen.lines().find(|l| l.contains("INFY")).unwrap();
    // 15,123.50 turnover: brokerage 4.53705, exchange 0.44916795, SEBI 0.0151235,
    // GST 0.9002412..., stamp 0.453705: 6.3552877... in all, exact, shown to the paisa.
    assert!(row.contains("BUY    10  1512.35       4.54  0.00  0.45  0.02  0.90   0.45     6.36  -15129.86"), "{row}");

    app.on_key(key('4'));
    let screen = text(&draw(&mut app, 150, 30)).join("\n");
    assert!(screen.contains("MISSING_LOCAL") && screen.contains("SBIN"), "{screen}");

    app.on_key(key('5'));
    let buf = draw(&mut app, 150, 30);
    let screen = text(&buf).join("\n");
    // A figure of the Today pane: the value after its label on the same row.
    let figure = |label: &str| {
        let row = screen
            .lines()
            .find(|l| l.starts_with(&format!("│{label} ")))
            .unwrap_or_else(|| panic!("{label}: {screen}"));
        row.trim_start_matches('│').strip_prefix(label).unwrap().split('│').next().unwrap().trim().to_string()
    };
    assert_eq!(figure("Net P&L"), "-₹79.86", "{screen}");
    assert_eq!(figure("Charges paid"), "₹6.36", "{screen}");
    assert_eq!(figure("Orders"), "4", "{screen}");
    assert_eq!(
        figure("Broker requests"),
        "3",
        "three placements reached the paper exchange, the position's resting stop one of them: {screen}"
    );
    assert!(screen.contains("₹79.86 of ₹6,000"), "daily loss gauge: {screen}");
    // The day per strategy, then per instrument: fills, round trips, win
    // rate, realised, charges, net.
    for row in [
        "Manual Trading          1      0     —      0.00     6.36    -79.86",
        "INFY                    1      0     —      0.00     6.36    -79.86",
    ] {
        assert!(screen.contains(row), "{row}: {screen}");
    }
    assert!(screen.contains("1 of 5"), "open positions gauge");

    // Closed (the broker already flat): the position stays on the tab, under
    // the open ones, dimmed, with what it realised and what it cost.
    let infy = *app.store.positions.keys().next().unwrap();
    t.close_position(infy, dec!(1505), "asha", "flat at the broker").await.unwrap();
    app.apply(store::snapshot(&t.db).await.unwrap());
    app.on_key(key('2'));
    let buf = draw(&mut app, 150, 30);
    let screen = text(&buf).join("\n");
    let row = screen.lines().find(|l| l.contains("INFY")).unwrap();
    assert!(
        row.contains("INFY        MIS        0           1505.00                -73.50     6.36     closed"),
        "{row}"
    );
    assert_eq!(fg_of(&buf, "INFY"), Color::DarkGray);
    assert!(screen.contains("2 Positions (0)") && screen.contains("Positions — 0 open"), "{screen}");
    assert!(screen.contains("today: realised -₹73.50 · unrealised ₹0.00 · charges ₹6.36 · net -₹79.86"), "{screen}");
}

#[tokio::test]
async fn dangerous_keys_ask_first_with_cancel_focused() {
    let t = test_db_at(a_trading_morning()).await;
    let mut app = desk(&t).await;
    let working = app.selected_order().unwrap().id;

    assert_eq!(app.on_key(key('c')), None);
    assert!(matches!(app.popup, Some(Popup::Confirm { focus_ok: false, .. })));
    let screen = text(&draw(&mut app, 150, 30)).join("\n");
    assert!(
        screen.contains("Cancel order?") && screen.contains(&format!("Order {working}: BUY 5 INFY LIMIT")),
        "{screen}"
    );
    assert_eq!(press(&mut app, KeyCode::Enter), None, "Enter on the default, Cancel, does nothing");
    assert!(app.popup.is_none());
    app.on_key(key('c'));
    press(&mut app, KeyCode::Right);
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        Some(Effect::Send(OperatorCommand::CancelOrder { order_id: working }, format!("cancel order {working}")))
    );

    // The kill switch wants the word typed.
    app.on_key(key('K'));
    for c in "kil".chars() {
        app.on_key(key(c));
    }
    assert_eq!(press(&mut app, KeyCode::Enter), None);
    assert!(text(&draw(&mut app, 150, 30)).join("\n").contains(" > KIL"));
    app.on_key(key('l'));
    assert!(matches!(press(&mut app, KeyCode::Enter), Some(Effect::Send(OperatorCommand::KillSwitchOn { .. }, _))));

    // Reconciliation: a note, then a confirmation.
    app.on_key(key('4'));
    let issue = app.selected_issue().unwrap().id;
    app.on_key(key('a'));
    for c in "bought on Kite web".chars() {
        app.on_key(key(c));
    }
    press(&mut app, KeyCode::Enter);
    let screen = text(&draw(&mut app, 150, 30)).join("\n");
    assert!(screen.contains("Resolve the issue?") && screen.contains("Note: bought on Kite web"), "{screen}");
    press(&mut app, KeyCode::Left);
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        Some(Effect::Send(
            OperatorCommand::ResolveReconciliation {
                issue_id: issue,
                resolution: Resolution::AcceptBroker,
                note: Some("bought on Kite web".into())
            },
            format!("resolve issue {issue}")
        ))
    );

    // Quit asks while the engine runs here.
    assert_eq!(app.on_key(key('q')), None);
    press(&mut app, KeyCode::Tab);
    assert_eq!(press(&mut app, KeyCode::Enter), Some(Effect::Quit));
}

#[tokio::test]
async fn read_only_has_no_writing_keys_and_help_lists_what_it_has() {
    let t = test_db_at(a_trading_morning()).await;
    let mut app = desk(&t).await;
    app.read_only = true;
    assert_eq!(app.on_key(key('c')), None);
    assert!(app.popup.is_none(), "no cancel in a read-only console");
    app.on_key(key('K'));
    assert!(app.popup.is_none(), "no kill switch either");
    let screen = text(&draw(&mut app, 150, 30)).join("\n");
    assert!(screen.contains("READ-ONLY") && !screen.contains(" c cancel "), "{screen}");

    app.on_key(key('?'));
    let screen = text(&draw(&mut app, 150, 40)).join("\n");
    assert!(screen.contains("help: every key") && screen.contains("filter the table"), "{screen}");
    assert!(!screen.contains("KILL SWITCH: cancel all"), "help lists only the keys this console has");
    press(&mut app, KeyCode::Esc);
    assert!(app.popup.is_none());

    // Filter: only matching rows remain; Esc clears it.
    app.on_key(key('/'));
    for c in "rejected".chars() {
        app.on_key(key(c));
    }
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.tables[Tab::Orders].rows.len(), 1);
    assert_eq!(app.store.orders[&app.tables[Tab::Orders].rows[0]].status, OrderStatus::Rejected);
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.tables[Tab::Orders].rows.len(), 4);

    // Detail of an order: its status history and fills.
    app.on_key(key('G')); // not bound: nothing happens
    press(&mut app, KeyCode::End);
    press(&mut app, KeyCode::Enter);
    let screen = text(&draw(&mut app, 150, 40)).join("\n");
    assert!(screen.contains("│  reading…"), "{screen}");
    let (id, version) = app.history_needed().expect("the detail asks for the history");
    app.history_loaded(id, version, t.order_history(id).await.map_err(|e| e.to_string()));
    assert_eq!(app.history_needed(), None, "read once while the order stays as it is");
    let screen = text(&draw(&mut app, 150, 40)).join("\n");
    assert!(
        screen.contains("Status history:") && screen.contains("SUBMITTED") && screen.contains("10 @ 1512.35"),
        "{screen}"
    );
}

#[test]
fn any_size_renders_and_small_ones_say_so() {
    let mut app = new_app(false);
    for w in [1u16, 2, 10, 39, 40, 59, 60, 80, 200] {
        for h in [1u16, 2, 5, 11, 12, 24, 60] {
            let buf = draw(&mut app, w, h);
            let screen = text(&buf).join(" ");
            if w < 40 || h < 12 {
                // The notice wraps: what shows is its beginning, nothing cut out of it.
                let bare = |s: &str| s.split_whitespace().collect::<String>();
                let notice = format!("terminal too small: {w}×{h}, XCoin needs 40×12");
                assert!(!bare(&screen).is_empty() && bare(&notice).starts_with(&bare(&screen)), "{w}×{h}: {screen}");
            } else {
                assert!(screen.contains("PAPER"), "{w}×{h}: the desk, not the notice");
            }
        }
    }
}

/// Applies loader messages until `done` holds (10 s at most).
async fn until(app: &mut App, rx: &mut mpsc::Receiver<LoaderMsg>, done: impl Fn(&App) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done(app) {
        match tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("the view model catches up within 10 s")
            .unwrap()
        {
            LoaderMsg::Update(u) => app.apply(*u),
            LoaderMsg::Health(h) => app.health(h),
            LoaderMsg::Answer(a) => {
                app.answer(a);
            }
        }
        app.refresh_views();
    }
}

async fn next_update(rx: &mut mpsc::Receiver<LoaderMsg>) -> store::Update {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("an update within 10 s").unwrap() {
            LoaderMsg::Update(u) => return *u,
            LoaderMsg::Health(_) | LoaderMsg::Answer(_) => {}
        }
    }
}

#[tokio::test]
async fn changes_by_another_connection_reach_the_view_model_and_a_killed_listener_resyncs() {
    let t = test_db_at(a_trading_morning()).await;
    let (tx, mut rx) = mpsc::channel(64);
    let loader = tokio::spawn(store::run_loader(t.db.clone(), tx, mpsc::channel(1).1));
    let mut app = new_app(true);
    let first = next_update(&mut rx).await;
    assert!(first.snapshot);
    app.apply(first);

    let writer = t.another_pool().await;
    let o = writer
        .create_order(&limit_buy("TCS", 3, dec!(3100)), xcoin::domain::order::BrokerKind::Paper, TICK, None)
        .await
        .unwrap();
    // Today's numbers come in updates of their own (from the summary task).
    let mut u = next_update(&mut rx).await;
    while u.orders.is_empty() && u.summary.is_some() {
        app.apply(u);
        u = next_update(&mut rx).await;
    }
    assert_eq!(u.orders.iter().map(|x| x.id).collect::<Vec<_>>(), vec![o.id], "only the changed row is fetched");
    assert!(u.summary.is_none(), "the refetch does not wait for the summary");
    app.apply(u);
    app.refresh_views();
    assert_eq!(app.tables[Tab::Orders].rows, vec![o.id]);

    writer.update_order_status(o.id, OrderStatus::Rejected, Some("test"), None).await.unwrap();
    until(&mut app, &mut rx, |a| a.store.orders.get(&o.id).is_some_and(|x| x.status == OrderStatus::Rejected)).await;

    sqlx::query("DELETE FROM orders WHERE id = $1").bind(o.id).execute(writer.pool()).await.unwrap();
    until(&mut app, &mut rx, |a| a.tables[Tab::Orders].rows.is_empty()).await;

    // Kill the listener's backend; a change made in the gap shows after the resync.
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_all(writer.pool())
    .await
    .unwrap();
    assert!(!killed.is_empty());
    let gap = writer
        .create_order(&limit_buy("ITC", 1, dec!(410)), xcoin::domain::order::BrokerKind::Paper, TICK, None)
        .await
        .unwrap();
    let mut resynced = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !(resynced && app.store.orders.contains_key(&gap.id)) {
        let msg = tokio::time::timeout_at(deadline, rx.recv()).await.expect("resync within 15 s").unwrap();
        match msg {
            LoaderMsg::Update(u) => app.apply(*u),
            LoaderMsg::Health(store::Health::Resynced { .. }) => resynced = true,
            LoaderMsg::Health(h) => app.health(h),
            LoaderMsg::Answer(a) => panic!("nothing was asked: {a:?}"),
        }
    }
    assert!(resynced, "the header learns of the gap");
    loader.abort();
}

#[tokio::test]
async fn the_new_order_form_checks_as_typed_and_shows_the_verdict_before_sending() {
    let t = test_db_at(a_trading_morning()).await;
    let mut app = desk(&t).await;
    app.on_key(key('n'));
    for c in "tc".chars() {
        app.on_key(key(c));
    }
    let screen = text(&draw(&mut app, 150, 40)).join("\n");
    assert!(screen.contains("New order — Manual Trading") && screen.contains("Tab: TCS"), "{screen}");
    press(&mut app, KeyCode::Tab); // completes TCS
    press(&mut app, KeyCode::Down); // side stays BUY
    press(&mut app, KeyCode::Down);
    for c in "4".chars() {
        app.on_key(key(c));
    }
    press(&mut app, KeyCode::Down); // LIMIT
    press(&mut app, KeyCode::Down); // MIS
    press(&mut app, KeyCode::Down);
    assert!(text(&draw(&mut app, 150, 40)).join("\n").contains("✗ price: a LIMIT order needs a limit price"));
    for c in "3120.75".chars() {
        app.on_key(key(c));
    }
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Down);
    let screen = text(&draw(&mut app, 150, 40)).join("\n");
    assert!(screen.contains("✗ stop loss: required on every position"), "the validator's verdict as typed: {screen}");
    for c in "3100.75".chars() {
        app.on_key(key(c));
    }
    press(&mut app, KeyCode::Down);
    for c in "3165.00".chars() {
        app.on_key(key(c));
    }
    let screen = text(&draw(&mut app, 150, 40)).join("\n");
    assert!(screen.contains("✓ passes pre-trade checks: risk ₹80.00, reward:risk 2.21:1"), "{screen}");
    assert_eq!(press(&mut app, KeyCode::Enter), None);
    let screen = text(&draw(&mut app, 150, 40)).join("\n");
    assert!(
        screen.contains("Place order?") && screen.contains("BUY 4 TCS LIMIT MIS @ 3120.75 stop 3100.75 target 3165.00"),
        "{screen}"
    );
    // The review is the confirmation: it starts on Place, a second Enter sends.
    let Some(Effect::Send(OperatorCommand::PlaceOrder(req), what)) = press(&mut app, KeyCode::Enter) else {
        panic!("an order to send")
    };
    assert_eq!(what, "place BUY 4 TCS LIMIT");
    assert_eq!(
        (req.symbol.as_str(), req.quantity, req.price, req.placed_by.as_str()),
        ("TCS", 4, Some(dec!(3120.75)), "asha")
    );
}

/// From a selected row an order is a few keys: `b` opens the form with the
/// row's symbol, product and size, a LIMIT at the last price and the desk's
/// default stop (0.5 %) and target (2.5 × the stop's distance); `m` makes
/// it MARKET; Enter reviews; Enter sends. Four keys in all (`n` and typing
/// every field took about fifteen).
#[tokio::test]
async fn a_market_order_with_stop_and_target_from_a_row_takes_four_keys() {
    let t = test_db_at(a_trading_morning()).await;
    let mut app = desk(&t).await;
    app.on_key(key('2'));
    let p = app.selected_position().unwrap().clone();
    assert_eq!((p.symbol.as_str(), p.quantity(), p.last_price), ("INFY", 10, Some(dec!(1505.00))));
    let mut keys = 0;
    let mut hit = |app: &mut App, k: KeyEvent| {
        keys += 1;
        app.on_key(k)
    };
    assert_eq!(hit(&mut app, key('b')), None);
    let Some(Popup::NewOrder(form)) = &app.popup else { panic!("{:?}", app.popup) };
    // 0.5 % of 1505.00 is 7.525: the stop 1497.45 on the tick below, the
    // target 2.5 × 7.55 = 18.875 above, 1523.90 on the tick above.
    let filled = ["INFY", "BUY", "10", "LIMIT", "MIS", "1505.00", "", "1497.45", "1523.90"];
    assert_eq!(form.values.iter().map(String::as_str).collect::<Vec<_>>(), filled);
    let screen = text(&draw(&mut app, 80, 24)).join("\n");
    assert!(screen.contains("▶ type       ‹ LIMIT ›   l m s S (SL-M)"), "the type's letters shown: {screen}");
    assert!(screen.contains("✓ passes pre-trade checks: risk ₹75.50, reward:risk 2.50:1"), "{screen}");
    hit(&mut app, key('m'));
    let Some(Popup::NewOrder(form)) = &app.popup else { panic!() };
    assert_eq!((form.values[3].as_str(), form.values[5].as_str()), ("MARKET", ""), "a MARKET order has no price");
    hit(&mut app, KeyEvent::from(KeyCode::Enter));
    let screen = text(&draw(&mut app, 80, 24)).join("\n");
    assert!(
        screen.contains("Place order?") && screen.contains("BUY 10 INFY MARKET MIS stop 1497.45 target 1523.90"),
        "{screen}"
    );
    let Some(Effect::Send(OperatorCommand::PlaceOrder(req), what)) = hit(&mut app, KeyEvent::from(KeyCode::Enter))
    else {
        panic!("an order to send")
    };
    assert_eq!(keys, 4);
    assert_eq!(what, "place BUY 10 INFY MARKET");
    assert_eq!(
        (req.order_type, req.quantity, req.price, req.stop_loss, req.take_profit, req.product),
        (OrderType::Market, 10, None, Some(dec!(1497.45)), Some(dec!(1523.90)), Product::Mis)
    );

    // Add to the long: as much again; reverse it: twice its size the other
    // way, the stop above and the target below.
    app.popup = None;
    app.on_key(key('a'));
    let Some(Popup::NewOrder(form)) = &app.popup else { panic!() };
    assert_eq!((form.values[1].as_str(), form.values[2].as_str()), ("BUY", "10"));
    app.popup = None;
    app.on_key(key('r'));
    let Some(Popup::NewOrder(form)) = &app.popup else { panic!() };
    let reverse = ["SELL", "20", "1505.00", "1512.55", "1486.10"];
    assert_eq!([1, 2, 5, 7, 8].map(|i| form.values[i].as_str()), reverse);
    app.popup = None;

    // From the Orders and Trades tabs too: the row's own size.
    app.on_key(key('1'));
    let o = app.selected_order().unwrap().clone();
    app.on_key(key('s'));
    let Some(Popup::NewOrder(form)) = &app.popup else { panic!() };
    assert_eq!([0, 1, 2].map(|i| form.values[i].clone()), [o.symbol.clone(), "SELL".into(), o.quantity.to_string()]);
    app.popup = None;
    // A symbol the market has not priced today (only the instrument list's
    // reference price): no price, stop or target is proposed from it.
    let unpriced = submitted(&t, &market("WIPRO", Side::Buy, 7), dec!(250), "W1").await;
    app.apply(store::snapshot(&t.db).await.unwrap());
    app.refresh_views();
    let row = app.view(Tab::Orders).iter().position(|id| *id == unpriced.id).unwrap();
    app.select_index(Tab::Orders, row);
    app.on_key(key('b'));
    let Some(Popup::NewOrder(form)) = &app.popup else { panic!() };
    assert_eq!([0, 2, 5, 7, 8].map(|i| form.values[i].as_str()), ["WIPRO", "7", "", "", ""]);
    app.popup = None;
    app.on_key(key('5'));
    app.on_key(key('b'));
    assert!(app.popup.is_none(), "Stats has no row to trade from");
    assert_eq!(app.flash.as_ref().unwrap().0, "select an order, position or trade to trade from it (n: a new order)");
}

/// Margin short is a refusal in the form's verdict, before anything is sent.
#[tokio::test]
async fn the_forms_verdict_refuses_an_order_the_free_margin_does_not_cover() {
    let t = test_db_at(a_trading_morning()).await;
    let mut app = desk(&t).await;
    let funds = xcoin::domain::funds::Funds { available_margin: dec!(3009.95), ..Default::default() };
    t.record_funds(&funds).await.unwrap();
    app.apply(store::snapshot(&t.db).await.unwrap());
    app.on_key(key('2'));
    app.on_key(key('b'));
    // 10 INFY intraday at 1505.00 block a fifth: ₹3,010.00.
    let screen = text(&draw(&mut app, 80, 24)).join("\n");
    assert!(screen.contains("✗ margin: the order needs ₹3010, ₹3009.95 is free"), "{screen}");
    press(&mut app, KeyCode::Enter);
    let Some(Popup::Confirm { focus_ok, body, .. }) = &app.popup else { panic!("{:?}", app.popup) };
    assert!(!focus_ok, "an order that would be refused starts on Cancel");
    assert!(body.iter().any(|l| l.contains("margin: the order needs ₹3010")), "{body:?}");
}

/// A filter's counts are of the same set as its title: every row the tab
/// lists (open and closed positions; today's trades), not the rows shown.
#[tokio::test]
async fn filter_counts_are_of_the_rows_the_tab_lists() {
    let t = test_db_at(a_trading_morning()).await;
    let mut app = desk(&t).await;
    let now = t.now();
    filled_at(&t, "TCS", Side::Buy, 5, dec!(3120), "C1", now).await;
    filled_at(&t, "TCS", Side::Sell, 5, dec!(3125), "C2", now).await;
    app.apply(store::snapshot(&t.db).await.unwrap());
    let (open, closed, trades) = (app.store.positions.len(), app.store.closed_positions.len(), app.store.trades.len());
    assert_eq!((closed, trades), (1, 3), "TCS closed today; INFY's fill and TCS's two");
    for (tab, filter, title) in [
        ('2', "tcs", format!("Positions — {open} open, 1 closed today · filter \"tcs\": 1 of {}", open + 1)),
        ('3', "tcs", format!("Trades — {trades} today · filter \"tcs\": 2 of {trades}")),
    ] {
        app.on_key(key(tab));
        app.on_key(key('/'));
        for c in filter.chars() {
            app.on_key(key(c));
        }
        press(&mut app, KeyCode::Enter);
        let screen = text(&draw(&mut app, 120, 40));
        assert!(screen[3].contains(&title), "{}", screen[3]);
    }
}

/// At 80×24 a stop order still shows the price it waits for: the type, the
/// price and the trigger are essential columns (an SL-M row read
/// `8 TCS SELL 5 0 SL-M OPEN`, neither price nor trigger).
#[tokio::test]
async fn a_stop_order_shows_its_trigger_at_80_columns() {
    let t = test_db_at(a_trading_morning()).await;
    let mut app = desk(&t).await;
    let stop = OrderRequest {
        order_type: OrderType::StopLossMarket,
        trigger_price: Some(dec!(3100.50)),
        ..market("TCS", Side::Sell, 5)
    };
    let o = submitted(&t, &stop, dec!(3120), "SLM1").await;
    t.update_order_status(o.id, OrderStatus::Open, None, None).await.unwrap();
    t.set_trigger_pending(o.id, true).await.unwrap();
    app.apply(store::snapshot(&t.db).await.unwrap());
    let screen = text(&draw(&mut app, 80, 24));
    let row = screen.iter().find(|l| l.contains(" TCS ")).unwrap_or_else(|| panic!("{}", screen.join("\n")));
    assert!(row.contains(&format!("{} TCS", o.id)) && row.contains("SL-M") && row.contains("3100.50"), "{row}");
    // Held untriggered at the exchange, it reads as on Kite.
    assert!(row.contains("TRIGGER PENDING"), "{row}");
    // Wide enough for the value: an SL-M's at its trigger.
    let wide = text(&draw(&mut app, 160, 40));
    let row = wide.iter().find(|l| l.contains(" TCS ")).unwrap();
    assert!(row.contains("15502.50"), "5 × 3100.50: {row}");
}

/// Stats on a short terminal says how many of today's numbers it shows and
/// scrolls to the rest (the largest win and loss, funds free, margin used
/// and the opening balance dropped without a word at 80×24).
#[tokio::test]
async fn stats_on_a_short_terminal_says_what_is_below_and_scrolls_to_it() {
    let t = test_db_at(a_trading_morning()).await;
    let mut app = desk(&t).await;
    app.show_log = true; // as a console starts: the log pane takes its share
    app.on_key(key('5'));
    let top = text(&draw(&mut app, 80, 24)).join("\n");
    let total = xcoin::console::views::stats_rows(&app);
    assert!(top.contains("Today 1–") && top.contains(&format!(" of {total} ↓ more")), "{top}");
    assert!(!top.contains("Opening balance"), "{top}");
    for _ in 0..total {
        press(&mut app, KeyCode::Down);
    }
    let end = text(&draw(&mut app, 80, 24)).join("\n");
    assert!(end.contains(&format!("–{total} of {total} ↑ more")), "{end}");
    // Past the end, one ↑ moves at once.
    press(&mut app, KeyCode::Up);
    let up = text(&draw(&mut app, 80, 24)).join("\n");
    assert!(up.contains("↑↓ more"), "{up}");
    press(&mut app, KeyCode::Down);
    for row in ["Largest loss", "Funds free", "Margin used", "Opening balance"] {
        assert!(end.contains(row), "{row}: {end}");
    }
    // Tall enough, nothing is hidden and the title says nothing more.
    app.show_log = false;
    let tall = text(&draw(&mut app, 120, 40)).join("\n");
    assert!(tall.contains("┌Today─") && tall.contains("Opening balance"), "{tall}");
    // A past day (`xcoin --date`) is named by its date, not "Today".
    app.past_day = Some(chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap());
    let past = text(&draw(&mut app, 120, 40)).join("\n");
    assert!(past.contains("┌Fri 04 Dec 2026─") && !past.contains("┌Today"), "{past}");
}

/// The order detail lists every modification (what changed, who asked,
/// when) and reads the history again after one.
#[tokio::test]
async fn the_order_detail_lists_every_modification() {
    use xcoin::db::orders::OrderModification;
    let t = test_db_at(a_trading_morning()).await;
    let mut app = desk(&t).await;
    let o = app.selected_order().unwrap().clone();
    assert_eq!((o.status, o.price), (OrderStatus::Open, Some(dec!(1490))));
    press(&mut app, KeyCode::Enter);
    let (id, version) = app.history_needed().expect("the detail asks for the history");
    app.history_loaded(id, version, t.order_history(id).await.map_err(|e| e.to_string()));
    assert_eq!(app.history_needed(), None);
    let change = OrderModification { price: Some(dec!(1491.50)), ..Default::default() };
    t.modify_order(o.id, change, dec!(0.05), "asha").await.unwrap();
    app.apply(store::snapshot(&t.db).await.unwrap());
    let (id, version) = app.history_needed().expect("a modification is read again, the status unchanged");
    app.history_loaded(id, version, t.order_history(id).await.map_err(|e| e.to_string()));
    let screen = text(&draw(&mut app, 120, 40)).join("\n");
    assert!(screen.contains("OPEN  (modified by asha: price 1490.00 → 1491.50)"), "{screen}");
}

/// `x` and `t` on a closed position say why they do nothing.
#[tokio::test]
async fn actions_on_a_closed_position_say_it_is_closed() {
    let t = test_db_at(a_trading_morning()).await;
    let mut app = desk(&t).await;
    let now = t.now();
    filled_at(&t, "TCS", Side::Buy, 5, dec!(3120), "C1", now).await;
    let closed = filled_at(&t, "TCS", Side::Sell, 5, dec!(3125), "C2", now).await.position;
    app.apply(store::snapshot(&t.db).await.unwrap());
    app.on_key(key('2'));
    let row = app.view(Tab::Positions).iter().position(|id| *id == closed.id).expect("closed today, listed");
    app.select_index(Tab::Positions, row);
    for (k, says) in
        [('x', "nothing to exit"), ('t', "it has no stop or target to set"), ('a', "nothing to add to or reverse")]
    {
        app.flash = None;
        app.on_key(key(k));
        assert!(app.popup.is_none(), "{k}");
        let flash = &app.flash.as_ref().unwrap().0;
        assert!(flash.contains("closed") && flash.contains(says), "{k}: {flash}");
    }
    // Buying from it offers the size it traded.
    app.on_key(key('b'));
    let Some(Popup::NewOrder(form)) = &app.popup else { panic!() };
    assert_eq!([0, 2].map(|i| form.values[i].as_str()), ["TCS", "5"]);
}

#[tokio::test]
async fn modify_sends_only_the_fields_that_changed() {
    let t = test_db_at(a_trading_morning()).await;
    let mut app = desk(&t).await;
    let working = app.selected_order().unwrap().clone();
    assert_eq!(working.status, OrderStatus::Open);
    app.on_key(key('m'));
    press(&mut app, KeyCode::Down);
    for _ in 0..7 {
        press(&mut app, KeyCode::Backspace);
    }
    for c in "1491.5".chars() {
        app.on_key(key(c));
    }
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Right);
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        Some(Effect::Send(
            OperatorCommand::ModifyOrder {
                order_id: working.id,
                quantity: None,
                price: Some(dec!(1491.5)),
                trigger_price: None
            },
            format!("modify order {}", working.id)
        ))
    );
    // A finished order cannot be modified.
    press(&mut app, KeyCode::End);
    app.on_key(key('m'));
    assert!(app.popup.is_none());
    assert!(app.flash.as_ref().unwrap().0.contains("only OPEN or PARTIALLY_FILLED orders can be modified"));
}

#[tokio::test]
async fn stop_and_target_are_set_on_the_picked_position_after_the_risk_checks() {
    let t = test_db_at(a_trading_morning()).await;
    let mut app = desk(&t).await;
    app.on_key(key('2'));
    let p = app.selected_position().unwrap().clone();
    assert_eq!((p.symbol.as_str(), p.stop_loss, p.take_profit), ("INFY", Some(dec!(1500)), None));
    app.on_key(key('t'));
    let Some(Popup::Levels(form)) = &app.popup else { panic!("{:?}", app.popup) };
    assert_eq!(form.values, ["1500.00".to_string(), String::new()], "the levels as they are");
    let screen = text(&draw(&mut app, 100, 30)).join("\n");
    for line in [
        &format!("Stop and target — position {}", p.id),
        &format!("Position {}: INFY NSE MIS 10 long @ 1512.35, last 1505.00", p.id),
        "last 1505.00 · stop now 1500.00 · target now none",
        "✓ passes risk checks: risk at the stop ₹50.00, reward:risk —",
    ] {
        assert!(screen.contains(line), "{line}:\n{screen}");
    }
    // A stop above the last price of a long would fire at once.
    for _ in 0..5 {
        press(&mut app, KeyCode::Backspace);
    }
    typed(&mut app, "10.00");
    let screen = text(&draw(&mut app, 100, 30)).join("\n");
    assert!(
        screen.contains("stop loss: a long position's stop loss must be below the last price 1505, got 1510"),
        "{screen}"
    );
    for _ in 0..5 {
        press(&mut app, KeyCode::Backspace);
    }
    typed(&mut app, "01.00");
    press(&mut app, KeyCode::Down);
    typed(&mut app, "1513.00");
    let Some(Popup::Levels(form)) = &app.popup else { panic!() };
    assert_eq!(form.verdict[1], "✓ passes risk checks: risk at the stop ₹40.00, reward:risk 2.00:1");
    press(&mut app, KeyCode::Enter);
    let screen = text(&draw(&mut app, 100, 30)).join("\n");
    assert!(
        screen.contains("Set stop and target?") && screen.contains("stop 1500.00 → 1501.00, target none → 1513.00"),
        "{screen}"
    );
    assert!(screen.contains(&format!("Position {}: INFY NSE MIS 10 long", p.id)), "the dialog names the position");
    press(&mut app, KeyCode::Right);
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        Some(Effect::Send(
            OperatorCommand::SetPositionLevels {
                position_id: p.id,
                stop_loss: dec!(1501.00),
                take_profit: Some(dec!(1513.00))
            },
            format!("set the levels of position {}", p.id)
        ))
    );
    // A read-only console has no such key.
    let mut viewer = new_app(true);
    viewer.apply(store::snapshot(&t.db).await.unwrap());
    viewer.refresh_views();
    viewer.on_key(key('2'));
    viewer.on_key(key('t'));
    assert!(viewer.popup.is_none());
}

fn draw_wizard(w: &xcoin::console::wizard::Wizard) -> String {
    let mut t = Terminal::new(TestBackend::new(110, 32)).unwrap();
    t.draw(|f| f.render_widget(w, f.area())).unwrap();
    text(t.backend().buffer()).join("\n")
}

fn type_into(w: &mut xcoin::console::wizard::Wizard, s: &str) {
    for c in s.chars() {
        w.on_key(key(c));
    }
}

fn wkey(w: &mut xcoin::console::wizard::Wizard, code: KeyCode) -> Option<xcoin::console::wizard::WizardEffect> {
    w.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

#[tokio::test]
async fn the_wizard_prepares_the_database_validates_and_writes_a_private_file_last() {
    use xcoin::config::{Config, ConfigPaths};
    use xcoin::console::wizard::{Step, Wizard, WizardEffect};
    let dir = tempfile::tempdir().unwrap();
    let paths = ConfigPaths::for_checkout(None, Some(dir.path().join("config/local.toml")), dir.path());
    let mut settings = Settings::default();
    settings.app.data_dir = Some(dir.path().join("data").display().to_string());
    let base = Config::with_settings(settings, paths.clone());
    let mut w = Wizard::new(paths.clone());
    assert!(draw_wizard(&w).contains("● a private PostgreSQL XCoin runs itself (recommended)"));

    // A URL that cannot work: the error in plain words, and the step stays.
    wkey(&mut w, KeyCode::Right);
    type_into(&mut w, "postgres://postgres@127.0.0.1:1/nowhere");
    assert_eq!(wkey(&mut w, KeyCode::Enter), Some(WizardEffect::PrepareDatabase));
    let (ok, lines) = xcoin::console::prepare_database(&base, w.database_url()).await;
    w.database_prepared(ok, lines);
    let screen = draw_wizard(&w);
    assert!(screen.contains("Check the host, port, user, password and database name"), "{screen}");
    assert_eq!(wkey(&mut w, KeyCode::Enter), Some(WizardEffect::PrepareDatabase), "still on the database step");

    for _ in 0.."postgres://postgres@127.0.0.1:1/nowhere".len() {
        wkey(&mut w, KeyCode::Backspace);
    }
    let url = unused_database_url().await;
    type_into(&mut w, &url);
    wkey(&mut w, KeyCode::Enter);
    let (ok, lines) = xcoin::console::prepare_database(&base, w.database_url()).await;
    assert!(ok, "{lines:?}");
    w.database_prepared(ok, lines);
    let screen = draw_wizard(&w);
    assert!(
        screen.contains(" created")
            && screen.contains("✓ tables                 11/11")
            && screen.contains("The database is ready"),
        "{screen}"
    );
    assert_eq!(wkey(&mut w, KeyCode::Enter), None);
    assert_eq!(w.step, Step::Mode);

    wkey(&mut w, KeyCode::Enter); // PAPER
    assert_eq!(w.step, Step::Risk);
    for _ in 0..6 {
        wkey(&mut w, KeyCode::Backspace);
    }
    type_into(&mut w, "-5");
    assert!(draw_wizard(&w).contains("✗ capital: `-5` must be an amount in rupees greater than 0"));
    wkey(&mut w, KeyCode::Enter);
    assert_eq!(w.step, Step::Risk, "invalid limits do not pass");
    wkey(&mut w, KeyCode::Backspace);
    wkey(&mut w, KeyCode::Backspace);
    // Grouped as the wizard itself prints it.
    type_into(&mut w, "2,50,000");
    wkey(&mut w, KeyCode::Down);
    wkey(&mut w, KeyCode::Backspace);
    type_into(&mut w, "1.5");
    wkey(&mut w, KeyCode::Enter);
    assert_eq!(w.step, Step::Alerts);
    type_into(&mut w, "123:abc");
    wkey(&mut w, KeyCode::Enter);
    assert_eq!(w.error.as_deref(), Some("Telegram needs both the bot token and the chat id, or neither"));
    assert!(!draw_wizard(&w).contains("123:abc"), "the token is masked");
    wkey(&mut w, KeyCode::Down);
    type_into(&mut w, "42");
    wkey(&mut w, KeyCode::Enter);
    assert_eq!(w.step, Step::Demo);
    wkey(&mut w, KeyCode::Enter);
    assert_eq!(w.step, Step::Review);
    assert_eq!(wkey(&mut w, KeyCode::Esc), None);
    assert_eq!(w.step, Step::Demo, "Esc goes back a step");
    assert!(!paths.local_file.exists(), "nothing is written before the last step");
    wkey(&mut w, KeyCode::Enter);
    assert_eq!(wkey(&mut w, KeyCode::Enter), Some(WizardEffect::Write));
    w.write().unwrap();

    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&paths.local_file).unwrap().permissions().mode() & 0o777, 0o600);
    let loaded = Config::load_with_env(paths.clone(), []).unwrap();
    assert_eq!(loaded.settings.account.capital, dec!(250000));
    assert_eq!(loaded.settings.risk.max_risk_per_trade_pct, dec!(1.5));
    assert_eq!(loaded.settings.database.url.as_deref(), Some(url.as_str()));
    assert!(loaded.settings.app.demo);
    assert_eq!(loaded.settings.alerts.telegram.chat_id.as_deref(), Some("42"));
    assert_eq!(loaded.settings.alerts.telegram.bot_token.as_ref().unwrap().expose(), "123:abc");
    assert!(loaded.is_configured());
}

#[test]
fn live_mode_needs_credentials_and_an_explicit_confirmation() {
    use xcoin::config::ConfigPaths;
    use xcoin::console::wizard::{Step, Wizard};
    let dir = tempfile::tempdir().unwrap();
    let mut w = Wizard::new(ConfigPaths::for_checkout(None, Some(dir.path().join("local.toml")), dir.path()));
    w.step = Step::Mode;
    wkey(&mut w, KeyCode::Right);
    wkey(&mut w, KeyCode::Enter);
    assert_eq!(w.step, Step::Live);
    wkey(&mut w, KeyCode::Enter);
    assert_eq!(w.error.as_deref(), Some("Kite API key is needed for LIVE trading"));
    assert!(draw_wizard(&w).contains("leave it empty and run `xcoin kite login` each morning"));
    for (i, v) in ["kitekey", "kitesecret", "tok3n"].iter().enumerate() {
        w.focus = i;
        type_into(&mut w, v);
    }
    wkey(&mut w, KeyCode::Enter);
    assert_eq!(w.error.as_deref(), Some("type LIVE to confirm that real orders will be sent"));
    let screen = draw_wizard(&w);
    assert!(
        !screen.contains("kitesecret") && !screen.contains("tok3n") && screen.contains("•••••"),
        "secrets are masked: {screen}"
    );
    w.focus = 3;
    type_into(&mut w, "LIVE");
    wkey(&mut w, KeyCode::Enter);
    assert_eq!(w.step, Step::Risk);
    wkey(&mut w, KeyCode::Enter);
    wkey(&mut w, KeyCode::Enter);
    assert_eq!(w.step, Step::Review, "no demo in LIVE mode");
    assert!(draw_wizard(&w).contains("LIVE: real orders, real money."));
    let toml = w.config_toml();
    assert!(
        toml.contains("mode = \"LIVE\"")
            && toml.contains("demo = false")
            && toml.contains("api_secret = \"kitesecret\""),
        "{toml}"
    );
}

/// Too small for the desk: the notice wraps rather than losing its numbers.
#[test]
fn too_small_says_so_in_whole_words() {
    let mut app = new_app(false);
    insta::assert_snapshot!("too_small", text(&draw(&mut app, 30, 6)).join("\n"));
}

#[test]
fn the_header_tells_live_from_stale_and_reconnecting() {
    use xcoin::console::store::{DbState, Health};
    let mut app = new_app(true);
    let header = |app: &mut App| text(&draw(app, 120, 20))[0].clone();
    assert!(header(&mut app).contains("db: connecting…"));
    app.health(Health::Db(DbState::Live { round_trip: Duration::from_micros(1400) }));
    app.now = xcoin::domain::clock::now();
    assert!(header(&mut app).contains("db: live 1.4 ms"), "{}", header(&mut app));
    app.now = xcoin::domain::clock::now() + chrono::Duration::seconds(9);
    assert!(header(&mut app).contains("db: STALE, no answer for 9s"), "{}", header(&mut app));
    let since = app.now - chrono::Duration::seconds(4);
    app.health(Health::Db(DbState::Reconnecting { since }));
    assert!(header(&mut app).contains("db: RECONNECTING 4s"), "{}", header(&mut app));
    assert_eq!(fg_of(&draw(&mut app, 120, 20), "db: RECONNECTING"), Color::Red);

    // At 80 columns, with every alarm up, the alarms and the clock stay whole.
    app.health(Health::Resynced { gap: Duration::from_millis(3200), at: app.now });
    let clock = app.calendar.local(app.now).format("%H:%M:%S IST").to_string();
    let screen = text(&draw(&mut app, 80, 20));
    for whole in ["engine: ABSENT", "db: RECONNECTING 4s", &clock] {
        assert!(screen[0].contains(whole), "{whole}: {}", screen[0]);
    }
    assert!(screen[1].contains("resynced") && screen[1].contains("3.2 s gap"), "{}", screen[1]);
}

/// The limits of a desk big enough for the longest plausible rows.
fn big_settings() -> Settings {
    let mut s = Settings::default();
    s.account.capital = dec!(100000000);
    s.risk.max_position_size = 10000;
    s
}

/// A fixed instant on a trading day (10:30 IST), so the header's market
/// state and clock, and with them its layout, are the same on every run.
fn fixed_now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2025-01-07T05:00:00Z").unwrap().to_utc()
}

/// A desk with the longest plausible rows, made by the real engine: a long
/// BAJAJ-AUTO marked below its entry, a short in ADANIENT, 8,567 ADANIPORTS
/// bought at 1441.00 (a ₹1,23,45,000-odd fill, charges and all as the real
/// fill path records them), a working ADANIPORTS limit
/// order, a rejected order and a quantity mismatch at the broker. Its tests
/// pin their database and thread to a trading morning (`test_db_at`), so the
/// day's rows are today's whatever the hour or the day of the run.
async fn long_desk(t: &TestDb) -> App {
    let settings = big_settings();
    let paper = PaperConfig {
        slippage_ticks: 0,
        liquidity_per_tick: 100_000,
        capital: Some(settings.account.capital),
        ..PaperConfig::default()
    };
    let broker = PaperBroker::new(&instrument::built_in(), paper).unwrap();
    let mut e = Engine::start(t.db.clone(), broker, EngineConfig::from_settings(&settings)).await.unwrap();
    let req = order;
    let fill = |e: &mut Engine<PaperBroker>, symbol: &'static str, price| {
        e.broker.set_price(symbol, Exchange::Nse, price).unwrap();
    };
    e.place_order(&req("BAJAJ-AUTO", Side::Buy, 10, OrderType::Market, None, Some(dec!(8600)))).await.unwrap();
    fill(&mut e, "BAJAJ-AUTO", dec!(8650.00));
    e.drain_events().await.unwrap();
    e.place_order(&req("ADANIENT", Side::Sell, 20, OrderType::Market, None, Some(dec!(2420)))).await.unwrap();
    fill(&mut e, "ADANIENT", dec!(2385.70));
    e.drain_events().await.unwrap();
    fill(&mut e, "ADANIPORTS", dec!(1441.00));
    e.drain_events().await.unwrap();
    e.place_order(&req("ADANIPORTS", Side::Buy, 8567, OrderType::Market, None, Some(dec!(1420)))).await.unwrap();
    fill(&mut e, "ADANIPORTS", dec!(1441.00));
    e.drain_events().await.unwrap();
    e.place_order(&req("ADANIPORTS", Side::Buy, 5, OrderType::Limit, Some(dec!(1420.50)), Some(dec!(1400))))
        .await
        .unwrap();
    e.place_order(&req("BAJAJ-AUTO", Side::Buy, 5, OrderType::Market, None, None)).await.unwrap(); // REJECTED
    fill(&mut e, "BAJAJ-AUTO", dec!(8612.35));
    fill(&mut e, "ADANIPORTS", dec!(1436.35));
    e.drain_events().await.unwrap();
    e.mark_positions().await.unwrap();
    e.broker.apply_external_trade("BAJAJ-AUTO", Exchange::Nse, Product::Mis, Side::Buy, 3, dec!(8650)).unwrap();
    e.reconcile_positions().await.unwrap();
    e.drain_events().await.unwrap();
    e.refresh_funds().await;
    t.update_daily_stats().await.unwrap();

    let cfg = EngineConfig::from_settings(&settings);
    let mut app = App::new(settings.app.mode, settings.calendar(), cfg.limits, "asha".into(), false);
    app.show_log = false;
    app.status.engine_in_process = true;
    app.now = fixed_now();
    // The desk's goals, as Stats shows them (none reached here).
    app.goals = Some(xcoin::domain::goals::GoalLimits {
        profit_target: Some(dec!(25000)),
        max_trades: Some(40),
        max_losing_streak: Some(3),
        give_back_pct: None,
        action: xcoin::domain::goals::GoalAction::Pause,
    });
    app.apply(store::snapshot(&t.db).await.unwrap());
    pin_times(&mut app);
    app.store.pending.snapshot = true;
    app.refresh_views();
    app
}

/// The open popup as its variant names it, with a confirmation's title in
/// quotes (`Confirm "Quit XCoin?"`); `None` when the table has the keys.
fn showing(app: &App) -> String {
    match &app.popup {
        None => "None".into(),
        Some(Popup::Confirm { title, .. }) => format!("Confirm {title:?}"),
        Some(p) => format!("{p:?}").split(|c: char| !c.is_alphanumeric()).next().unwrap_or_default().to_string(),
    }
}

/// Sets every time the screen shows to a fixed time of the fixed day, so
/// the snapshots do not depend on the hour the tests run (a popup over a
/// table hides part of a time, which no filter could then recognise).
fn pin_times(app: &mut App) {
    let at = |minutes: i64| fixed_now() - chrono::Duration::minutes(minutes);
    for o in app.store.orders.values_mut() {
        o.created_at = at(60 - 5 * o.id);
    }
    for t in app.store.trades.values_mut() {
        t.traded_at = at(60 - 5 * t.order_id) + chrono::Duration::seconds(2);
    }
    for p in app.store.positions.values_mut() {
        p.opened_at = at(60 - 5 * p.id);
    }
    for i in app.store.issues.values_mut() {
        (i.first_seen_at, i.last_seen_at) = (at(20), at(1));
    }
    let samples = app.store.pnl_series.len() as i64;
    for (n, (t, _)) in app.store.pnl_series.iter_mut().enumerate() {
        *t = at(samples - n as i64);
    }
}

const SIZES: [(u16, u16); 3] = [(80, 24), (100, 30), (160, 45)];

/// Every tab, every popup and the help at 80×24, 100×30 and 160×45, with
/// the longest plausible rows.
#[tokio::test]
async fn snapshots_of_every_screen_at_three_sizes() {
    let t = test_db_at(a_trading_morning()).await;
    let mut app = long_desk(&t).await;
    let order = app.tables[Tab::Orders].rows[0];
    let mut history = t.order_history(order).await.unwrap();
    for (n, h) in history.iter_mut().enumerate() {
        h.at = app.store.orders[&order].created_at + chrono::Duration::seconds(n as i64);
    }
    app.history_loaded(order, (app.store.orders[&order].status, app.store.orders[&order].modifications), Ok(history));

    for (w, h) in SIZES {
        // Each snapshot is of what it is named for: the dialog it shows is
        // asserted open (the variant, and a confirmation's title) first.
        let snap = |app: &mut App, name: &str, open: &str| {
            assert!(showing(app).starts_with(open), "{w}x{h}_{name}: expected {open}, showing {}", showing(app));
            insta::assert_snapshot!(format!("{w}x{h}_{name}"), text(&draw(app, w, h)).join("\n"));
        };
        for (tab, name) in ["orders", "positions", "trades", "reconciliation", "stats"].iter().enumerate() {
            app.on_key(key(char::from(b'1' + tab as u8)));
            press(&mut app, KeyCode::Home);
            snap(&mut app, &format!("tab_{name}"), "None");
        }

        app.on_key(key('?'));
        snap(&mut app, "help", "Help");
        press(&mut app, KeyCode::End);
        snap(&mut app, "help_end", "Help");
        press(&mut app, KeyCode::Esc);

        for (tab, name) in ["orders", "positions", "trades", "reconciliation"].iter().enumerate() {
            app.on_key(key(char::from(b'1' + tab as u8)));
            press(&mut app, KeyCode::Enter);
            snap(&mut app, &format!("detail_{name}"), "Detail");
            press(&mut app, KeyCode::Esc);
        }

        // Orders: the working ADANIPORTS limit order is first.
        app.on_key(key('1'));
        app.on_key(key('c'));
        snap(&mut app, "confirm_cancel", "Confirm \"Cancel order?");
        press(&mut app, KeyCode::Esc);
        app.on_key(key('m'));
        press(&mut app, KeyCode::Down);
        for _ in 0..7 {
            press(&mut app, KeyCode::Backspace);
        }
        typed(&mut app, "1425.5");
        snap(&mut app, "modify", "Modify");
        press(&mut app, KeyCode::Enter);
        snap(&mut app, "confirm_modify", "Confirm \"Modify order?");
        // Esc goes back to the form (values kept), a second Esc closes it.
        press(&mut app, KeyCode::Esc);
        assert!(matches!(app.popup, Some(Popup::Modify(_))), "{:?}", app.popup);
        press(&mut app, KeyCode::Esc);
        assert!(app.popup.is_none());

        // Positions: the stop and target of the first.
        app.on_key(key('2'));
        press(&mut app, KeyCode::Home);
        app.on_key(key('t'));
        snap(&mut app, "levels", "Levels");
        press(&mut app, KeyCode::Esc);
        app.on_key(key('1'));

        app.on_key(key('n'));
        typed(&mut app, "BAJ");
        snap(&mut app, "new_order_completing", "NewOrder");
        typed(&mut app, "AJ-AUTO");
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Down);
        typed(&mut app, "12");
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Down);
        typed(&mut app, "8640.50");
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Down);
        typed(&mut app, "8600.00");
        press(&mut app, KeyCode::Down);
        typed(&mut app, "8750.00");
        snap(&mut app, "new_order", "NewOrder");
        press(&mut app, KeyCode::Enter);
        snap(&mut app, "confirm_place", "Confirm \"Place order?");
        press(&mut app, KeyCode::Esc);
        press(&mut app, KeyCode::Esc);

        app.on_key(key('2'));
        app.on_key(key('x'));
        snap(&mut app, "confirm_exit", "Confirm \"Exit position?");
        press(&mut app, KeyCode::Esc);
        app.on_key(key('X'));
        snap(&mut app, "confirm_exit_all", "Confirm \"Exit ALL positions?");
        press(&mut app, KeyCode::Esc);

        app.on_key(key('4'));
        app.on_key(key('a'));
        typed(&mut app, "bought on Kite web");
        snap(&mut app, "note", "Note");
        press(&mut app, KeyCode::Enter);
        snap(&mut app, "confirm_resolve", "Confirm \"Resolve the issue?");
        // Esc goes back to the note (kept), a second Esc closes it.
        press(&mut app, KeyCode::Esc);
        assert!(
            matches!(&app.popup, Some(Popup::Note { input, .. }) if input == "bought on Kite web"),
            "{:?}",
            app.popup
        );
        press(&mut app, KeyCode::Esc);
        assert!(app.popup.is_none(), "{:?}", app.popup);

        app.on_key(key('1'));
        app.on_key(key('K'));
        typed(&mut app, "KI");
        snap(&mut app, "kill_switch", "KillSwitch");
        press(&mut app, KeyCode::Esc);
        app.on_key(key('q'));
        snap(&mut app, "confirm_quit", "Confirm \"Quit XCoin?");
        press(&mut app, KeyCode::Esc);
    }

    // With the kill switch active: the header's alarm and the re-arm question.
    // (Its cancels and exits recorded done: the switch is ACTIVE, not flattening.)
    let on = t.activate_kill_switch(&operator_activation("test", "asha")).await.unwrap();
    t.record_kill_switch_effect(on.id, 0, 0, dec!(0)).await.unwrap();
    app.apply(store::snapshot(&t.db).await.unwrap());
    pin_times(&mut app);
    app.on_key(key('1'));
    for (w, h) in SIZES {
        app.on_key(key('R'));
        assert!(showing(&app).starts_with("Confirm \"Re-arm trading?"), "{}", showing(&app));
        insta::assert_snapshot!(format!("{w}x{h}_confirm_rearm"), text(&draw(&mut app, w, h)).join("\n"));
        press(&mut app, KeyCode::Esc);
    }
}

/// At 80×24 the values the issue saw cut are whole, in the buffer itself.
#[tokio::test]
async fn at_80_by_24_numbers_symbols_the_clock_and_the_kill_key_are_whole() {
    let t = test_db_at(a_trading_morning()).await;
    let mut app = long_desk(&t).await;
    let clock = app.calendar.local(app.now).format("%H:%M:%S IST").to_string();
    // The big fill's net value as the fill path recorded it (charges and all).
    let big = app.store.trades.values().find(|t| t.symbol == "ADANIPORTS").unwrap().net_value;
    let big = format!("{:.2}", big);
    assert_eq!(big.len(), 12, "the longest plausible amount: {big}");
    app.on_key(key('3'));
    let screen = text(&draw(&mut app, 80, 24)).join("\n");
    for whole in ["ADANIPORTS", "ADANIENT", "BAJAJ-AUTO", &big, "1441.00", "K KILL", "R re-arm", &clock] {
        assert!(screen.contains(whole), "{whole} whole at 80×24:\n{screen}");
    }
    assert_eq!(
        screen.matches("ADAN").count(),
        screen.matches("ADANIPORTS").count() + screen.matches("ADANIENT").count(),
        "no cut symbol:\n{screen}"
    );
    assert!(!screen.contains("1441.0 "), "prices keep both decimals:\n{screen}");

    // Every tab keeps its essential columns whole, and the hint bar its dangerous keys.
    for (tab, needles) in [
        ('1', vec!["ADANIPORTS", "BAJAJ-AUTO", "8567", "1420.50", "OPEN", "FILLED", "REJECTED", "c cancel", "K KILL"]),
        ('2', vec!["BAJAJ-AUTO", "8650.00", "8612.35", "-376.50", "x exit", "X exit all", "K KILL"]),
        ('4', vec!["BAJAJ-AUTO", "QUANTITY_MISMATCH", "OPEN", "a accept broker", "k keep local", "i ignore", "K KILL"]),
        ('5', vec!["Net P&L", "-₹41,114.09", "Charges paid", "₹901.04", "of ₹60,00,000", "of ₹1,50,00,000", "K KILL"]),
    ] {
        app.on_key(key(tab));
        let screen = text(&draw(&mut app, 80, 24)).join("\n");
        for whole in needles {
            assert!(screen.contains(whole), "tab {tab}: {whole} whole at 80×24:\n{screen}");
        }
        assert!(screen.contains(&clock), "tab {tab}: the clock at 80×24:\n{screen}");
    }

    // A long message wraps onto a second line rather than losing its end.
    app.flash(
        "cancel order 12345: sent as command #67890, but no engine is running; it waits until one starts",
        xcoin::console::app::FlashKind::Failed,
    );
    let screen = text(&draw(&mut app, 80, 24)).join("\n");
    assert!(screen.contains("#67890,") && screen.contains("until one starts"), "{screen}");
}

/// Below the width the essential columns need, a table says how wide the
/// terminal must be instead of showing cut values.
#[tokio::test]
async fn a_table_too_narrow_for_its_essential_columns_says_how_wide_to_go() {
    let t = test_db_at(a_trading_morning()).await;
    let mut app = long_desk(&t).await;
    let big = app.store.trades.values().find(|t| t.symbol == "ADANIPORTS").unwrap().net_value;
    let big = format!("{:.2}", big);
    // Orders: id 2 ("id"), symbol 10, side 4, qty 4 ("8567"), type 6, price
    // 7, trigger 7, status 16 (PARTIALLY_FILLED, its floor), seven spaces
    // between, two borders: 65.
    let screen = text(&draw(&mut app, 65, 24)).join("\n");
    assert!(screen.contains("ADANIPORTS") && !screen.contains("widen the terminal"), "{screen}");
    let screen = text(&draw(&mut app, 64, 24)).join("\n");
    assert!(screen.contains("widen the terminal to 65 columns") && !screen.contains("ADANIPORTS"), "{screen}");
    // Trades: symbol 10, side 4, qty 4, price 7, net value 12 (the big fill's),
    // four spaces, two borders: 43.
    app.on_key(key('3'));
    let screen = text(&draw(&mut app, 43, 24)).join("\n");
    assert!(screen.contains(&big) && !screen.contains("widen the terminal"), "{screen}");
    let screen = text(&draw(&mut app, 42, 24)).join("\n");
    assert!(screen.contains("widen the terminal to 43 columns") && !screen.contains("-1234"), "{screen}");
}

/// The help is grouped by where the operator is: the tab's own keys first,
/// then the keys that work everywhere, a line each; then every other tab's
/// and dialog's keys on one line each (it listed 92 lines of every widget
/// key). It scrolls to its end and says where it is.
#[tokio::test]
async fn help_scrolls_to_every_key() {
    use xcoin::console::action::Scope;
    let t = test_db_at(a_trading_morning()).await;
    let mut app = long_desk(&t).await;
    app.on_key(key('?'));
    let first = text(&draw(&mut app, 80, 24));
    let total: usize = {
        let screen = first.join("\n");
        let at = screen.find("lines 1–").unwrap_or_else(|| panic!("{screen}"));
        let rest = &screen[at..];
        let of = rest.find(" of ").unwrap();
        rest[of + 4..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    };
    // The Orders tab's keys come first, under its name.
    assert!(first[3].contains("Orders tab") && first[4].contains(" m     modify the selected order"), "{first:?}");
    let listed: Vec<_> = xcoin::console::views::help_bindings(Scope::Orders, false).collect();
    assert!(total < listed.len() + 20, "{total} lines: one per place for the rest");
    let mut seen = first.join("\n");
    for _ in 0..total {
        press(&mut app, KeyCode::Down);
        seen.push_str(&text(&draw(&mut app, 80, 24)).join("\n"));
    }
    let last = text(&draw(&mut app, 80, 24)).join("\n");
    assert!(last.contains(&format!("–{total} of {total}")), "stops at the last line: {last}");
    for b in &listed {
        assert!(seen.contains(b.help), "{} reachable", b.help);
    }
    // Elsewhere: a line per place, with its keys.
    for line in ["Positions tab: x exit  t stop/target", "New order: ↑/↓ field", "Confirmation: ←/→ choose"] {
        assert!(seen.contains(line), "{line} listed: {seen}");
    }
    assert!(!seen.contains("[setup wizard]") && !seen.contains("Wizard"), "the wizard's keys are on its own screen");
    // On Positions, its own keys lead.
    press(&mut app, KeyCode::Esc);
    app.on_key(key('2'));
    app.on_key(key('?'));
    let positions = text(&draw(&mut app, 80, 24));
    assert!(positions[3].contains("Positions tab") && positions[4].contains(" x     exit the selected position"));
    press(&mut app, KeyCode::Esc);
    app.on_key(key('1'));
    app.on_key(key('?'));
    press(&mut app, KeyCode::End);
    // Up from the end moves at once (the scroll never runs past the last page).
    press(&mut app, KeyCode::Up);
    assert!(text(&draw(&mut app, 80, 24)).join("\n").contains(&format!("of {total}")));
    assert!(!text(&draw(&mut app, 80, 24)).join("\n").contains(&format!("–{total} of {total}")));
    press(&mut app, KeyCode::Home);
    assert!(text(&draw(&mut app, 80, 24)).join("\n").contains("lines 1–"));
    press(&mut app, KeyCode::Esc);
    assert!(app.popup.is_none());
}

/// The UI loop hands database work to the loader and goes on: commands are
/// answered in order, the order detail's history too.
#[tokio::test]
async fn the_loader_answers_the_consoles_requests() {
    use xcoin::console::store::{Answer, Request};
    let t = test_db_at(a_trading_morning()).await;
    let (tx, mut rx) = mpsc::channel(64);
    let (requests, requests_rx) = mpsc::channel(8);
    let loader = tokio::spawn(store::run_loader(t.db.clone(), tx, requests_rx));
    let mut app = new_app(false);
    app.apply(next_update(&mut rx).await);
    let o = t.create_order(&limit_buy("INFY", 1, dec!(1500)), BrokerKind::Paper, TICK, None).await.unwrap();
    let cancel = |n: i64| Request::Send {
        command: Box::new(OperatorCommand::CancelOrder { order_id: n }),
        what: format!("cancel order {n}"),
        requested_by: "asha".into(),
        then_quit: false,
    };
    requests.send(cancel(o.id)).await.unwrap();
    requests.send(Request::History { id: o.id, version: (o.status, o.modifications) }).await.unwrap();
    requests.send(cancel(4242)).await.unwrap();

    let mut answers = Vec::new();
    while answers.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("answers within 10 s").unwrap() {
            LoaderMsg::Answer(a) => answers.push(a),
            LoaderMsg::Update(u) => app.apply(*u),
            LoaderMsg::Health(h) => app.health(h),
        }
    }
    let sent: Vec<(String, i64)> = answers
        .iter()
        .filter_map(|a| match a {
            Answer::Sent { what, then_quit: false, result: Ok(id) } => Some((what.clone(), *id)),
            Answer::Sent { .. } => panic!("not stored: {a:?}"),
            Answer::History { .. } => None,
        })
        .collect();
    let whats: Vec<&str> = sent.iter().map(|(w, _)| w.as_str()).collect();
    assert_eq!(whats, [format!("cancel order {}", o.id).as_str(), "cancel order 4242"], "in the order asked");
    assert!(sent[0].1 < sent[1].1);
    let stored = t.commands_by_ids(&[sent[0].1, sent[1].1]).await.unwrap();
    assert_eq!(
        stored.iter().map(|c| (c.parsed().unwrap(), c.requested_by.as_str())).collect::<Vec<_>>(),
        [
            (OperatorCommand::CancelOrder { order_id: o.id }, "asha"),
            (OperatorCommand::CancelOrder { order_id: 4242 }, "asha")
        ]
    );
    let Some(Answer::History { id, history: Ok(history), .. }) =
        answers.iter().find(|a| matches!(a, Answer::History { .. })).cloned()
    else {
        panic!("a history answer: {answers:?}")
    };
    assert_eq!((id, history.iter().map(|h| h.status).collect::<Vec<_>>()), (o.id, vec![OrderStatus::Pending]));

    app.answer(Answer::Sent { what: sent[0].0.clone(), then_quit: false, result: Ok(sent[0].1) });
    assert!(app.pending.contains(&sent[0].1));
    app.answer(Answer::Sent { what: "cancel order 7".into(), then_quit: false, result: Err("refused".into()) });
    assert_eq!(app.flash.as_ref().map(|f| f.0.as_str()), Some("cancel order 7 not sent: refused"));
    loader.abort();
}

/// The log pane's rows of a frame: from its title to its bottom border.
use xcoin::domain::event::{EventKind, EventLevel};

fn log_pane(screen: &[String]) -> Vec<String> {
    let top = screen.iter().position(|l| l.contains(" Desk log")).expect("the desk log is on screen");
    screen[top..].iter().take_while(|l| !l.starts_with(" ?")).cloned().collect()
}

#[tokio::test]
async fn every_console_shows_the_same_desk_log_live_in_ist_and_scrolls_back_and_follows() {
    let t = test_db_at(a_trading_morning()).await;
    let broker = PaperBroker::new(&instrument::built_in(), PaperConfig::default()).unwrap();
    let mut e = Engine::start(t.db.clone(), broker, EngineConfig::from_settings(&Settings::default())).await.unwrap();
    // The console in the engine's process and a read-only one elsewhere.
    let mut consoles = Vec::new();
    for read_only in [false, true] {
        let (tx, rx) = mpsc::channel(64);
        let loader = tokio::spawn(store::run_loader(t.db.clone(), tx, mpsc::channel(1).1));
        let mut app = new_app(read_only);
        app.show_log = true;
        app.status.engine_in_process = !read_only;
        consoles.push((app, rx, loader));
    }
    // Nine (the order rate allows ten a second), the last without a stop.
    for i in 0..9 {
        let req =
            order("INFY", Side::Buy, 1 + i, OrderType::Market, None, if i == 8 { None } else { Some(dec!(1400)) });
        e.place_order(&req).await.unwrap();
    }
    e.flush_journal().await;
    let newest = t.recent_events(1).await.unwrap().remove(0);
    assert!(
        newest.message.ends_with("refused: stop loss: required on every position, requested by asha"),
        "{}",
        newest.message
    );
    let mut panes = Vec::new();
    for (app, rx, loader) in &mut consoles {
        until(app, rx, |a| a.store.events.back().is_some_and(|l| l.id == newest.id)).await;
        loader.abort();
        panes.push(log_pane(&text(&draw(app, 120, 30))));
    }
    assert_eq!(panes[0], panes[1], "the same log on both consoles");
    let pane = panes[0].join("\n");
    let ist = Settings::default().calendar().local(newest.at).format("%H:%M:%S").to_string();
    // (At 120 columns the refusal is longer than the pane's message column: it wraps.)
    assert!(pane.contains(&format!("{ist} WARN  ORDER ")), "{pane}");
    assert!(
        pane.contains("order 9 BUY 9 INFY MARKET refused: stop loss: required on every position, requested by asha"),
        "{pane}"
    );
    assert!(pane.contains("Desk log · 9 of 9 · following"), "{pane}");

    // Scrolled back, it stays put as lines arrive, says where it is, and End follows again.
    let app = &mut consoles[1].0;
    app.on_key(key('['));
    let pane = log_pane(&text(&draw(app, 120, 30))).join("\n");
    assert!(pane.contains("Desk log · 4 of 9 · 5 newer below · End follows"), "{pane}");
    assert!(!pane.contains("order 9 "), "{pane}");
    t.record_event(EventLevel::Info, EventKind::Engine, "engine stopped").await.unwrap();
    app.apply(store::Update { events: t.recent_events(1).await.unwrap(), ..Default::default() });
    let pane = log_pane(&text(&draw(app, 120, 30))).join("\n");
    assert!(pane.contains("Desk log · 4 of 10 · 6 newer below"), "a new line does not move it: {pane}");
    press(app, KeyCode::End);
    let pane = log_pane(&text(&draw(app, 120, 30))).join("\n");
    assert!(pane.contains("10 of 10 · following") && pane.contains("engine stopped"), "{pane}");
    // L shows this console's own diagnostics instead, and back.
    app.on_key(key('L'));
    assert!(text(&draw(app, 120, 30)).join("\n").contains("This console's diagnostics"));
    app.on_key(key('L'));
    assert!(text(&draw(app, 120, 30)).join("\n").contains(" Desk log"));
}

// (One thread, so its loader runs on the test's pinned clock.)
#[tokio::test]
async fn a_busy_day_draws_first_and_streams_the_earlier_orders_in_after() {
    let t = test_db_at(a_trading_morning()).await;
    t.bench_fill_day(12_000, 10).await.unwrap();
    let (tx, mut rx) = mpsc::channel(64);
    let loader = tokio::spawn(store::run_loader(t.db.clone(), tx, mpsc::channel(1).1));
    let mut app = new_app(true);
    let first = next_update(&mut rx).await;
    assert!(first.snapshot);
    assert_eq!(first.history_loading, Some(true));
    let newest = t.today_orders().await.unwrap().iter().map(|o| o.id).max().unwrap();
    assert!(first.orders.iter().any(|o| o.id == newest), "the newest page is in the first frame");
    assert!(first.orders.len() <= store::HISTORY_PAGE as usize + 10, "{}", first.orders.len());
    app.apply(first);
    app.refresh_views();
    let title = text(&draw(&mut app, 100, 30)).join("\n");
    assert!(title.contains("today, loading more…"), "{title}");

    // An old order changes while the day streams in: its newest state stays.
    let oldest = t.today_orders().await.unwrap().iter().map(|o| o.id).min().unwrap();
    let writer = t.another_pool().await;
    sqlx::query("UPDATE orders SET placed_by = 'changed' WHERE id = $1")
        .bind(oldest)
        .execute(writer.pool())
        .await
        .unwrap();
    until(&mut app, &mut rx, |a| !a.store.history_loading).await;
    until(&mut app, &mut rx, |a| a.store.orders.get(&oldest).is_some_and(|o| o.placed_by == "changed")).await;
    assert_eq!(app.store.orders.len(), 12_000);
    assert_eq!(app.tables[Tab::Orders].rows.len(), 12_000);
    let title = text(&draw(&mut app, 100, 30)).join("\n");
    assert!(title.contains("Orders — working 10 · 12000 today"), "{title}");
    loader.abort();
}

/// A loader stopped from outside (the console quitting, a bench ending a
/// run) takes its helper tasks with it: nothing holds its channel (or the
/// pool it reads through) afterwards.
#[tokio::test]
async fn an_aborted_loader_leaves_no_task_behind() {
    let t = test_db_at(a_trading_morning()).await;
    let (tx, mut rx) = mpsc::channel(64);
    let loader = tokio::spawn(store::run_loader(t.db.clone(), tx, mpsc::channel(1).1));
    assert!(next_update(&mut rx).await.snapshot);
    loader.abort();
    assert!(loader.await.unwrap_err().is_cancelled());
    // The channel closes once every task that could send on it has ended.
    let closed = tokio::time::timeout(Duration::from_secs(5), async { while rx.recv().await.is_some() {} }).await;
    assert!(closed.is_ok(), "a task of the aborted loader still holds its channel");
}

/// Leaving is safe and an absent engine is an alarm: the quit dialog of a
/// console running the engine lists working orders as well as positions;
/// a console that sees no engine while the desk holds positions or working
/// orders says so in red, not as a quiet "engine: ABSENT".
#[tokio::test]
async fn the_quit_dialog_counts_working_orders_and_an_absent_engine_with_exposure_is_an_alarm() {
    let t = test_db_at(a_trading_morning()).await;
    // One working order, no position.
    let o = t.create_order(&limit_buy("INFY", 5, dec!(1400)), BrokerKind::Paper, TICK, Some(dec!(1500))).await.unwrap();
    t.update_order_status(o.id, OrderStatus::Submitted, None, Some("B-1")).await.unwrap();
    let mut app = new_app(false);
    app.status.engine_in_process = true;
    app.apply(store::snapshot(&t.db).await.unwrap());
    app.on_key(key('q'));
    let Some(Popup::Confirm { body, alternative, .. }) = &app.popup else { panic!("{:?}", app.popup) };
    assert_eq!(
        body,
        &[
            "The engine runs inside this console: quitting stops trading.",
            "1 working order will be cancelled first (engine.cancel_orders_on_stop)."
        ]
    );
    assert!(alternative.is_none(), "no position to exit");
    press(&mut app, KeyCode::Esc);
    app.cancel_orders_on_stop = false;
    app.on_key(key('q'));
    let Some(Popup::Confirm { body, .. }) = &app.popup else { panic!("{:?}", app.popup) };
    assert_eq!(body[1], "1 working order will stay live at the broker, unwatched.");
    press(&mut app, KeyCode::Esc);

    // Another console, with no engine anywhere: an alarm with the time and the exposure.
    filled_at(&t, "SBIN", Side::Buy, 3, dec!(812.40), "T1", t.now()).await;
    let mut watcher = new_app(false);
    watcher.apply(store::snapshot(&t.db).await.unwrap());
    watcher.health(store::Health::Engine(EngineWatch::default()));
    let since = watcher.calendar.local(watcher.status.engine_gone_since.unwrap()).format("%H:%M:%S").to_string();
    watcher.now = watcher.status.engine_gone_since.unwrap() + chrono::Duration::seconds(5);
    let buf = draw(&mut watcher, 160, 20);
    let header = text(&buf)[0].clone();
    let alarm = format!(" ENGINE DOWN {since} · 1 position, 1 working order unwatched ");
    assert!(header.contains(&alarm), "{header}");
    assert_eq!(fg_of(&buf, "ENGINE DOWN"), Color::White);
    assert_eq!(bg_of(&buf, "ENGINE DOWN"), Color::Red);
    // At 80 columns it stays, shorter.
    let narrow = text(&draw(&mut watcher, 80, 24))[0].clone();
    assert!(narrow.contains(" ENGINE DOWN · 1 pos, 1 ord "), "{narrow}");
    // An engine back: the alarm goes.
    watcher.health(store::Health::Engine(EngineWatch { active: Some(4242), standbys: 0 }));
    assert_eq!(watcher.status.engine_gone_since, None);
    let header = text(&draw(&mut watcher, 160, 20))[0].clone();
    assert!(header.contains("engine: active (pid 4242)  │") && !header.contains("ENGINE DOWN"), "{header}");
    // A standby waiting to take over is said beside it, at 80 columns too.
    watcher.health(store::Health::Engine(EngineWatch { active: Some(4242), standbys: 1 }));
    let header = text(&draw(&mut watcher, 160, 20))[0].clone();
    assert!(header.contains("engine: active (pid 4242), 1 standby  │"), "{header}");
    let narrow = text(&draw(&mut watcher, 80, 24))[0].clone();
    assert!(narrow.contains("engine: pid 4242 +standby"), "{narrow}");
}
