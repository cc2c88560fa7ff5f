use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rust_decimal_macros::dec;
use xcoin_config::Settings;
use xcoin_model::order::{BrokerKind, Exchange, Order, OrderStatus, OrderType, Product, Side, Validity};

use super::*;

fn app(read_only: bool) -> App {
    let s = Settings::default();
    let mut app = App::new(s.app.mode, s.calendar(), s.risk_limits(), "asha".into(), read_only);
    app.status.engine_in_process = true;
    app
}

fn order(id: i64, symbol: &str, status: OrderStatus) -> Order {
    let now = Utc::now();
    Order {
        id,
        strategy_id: 1,
        parent_order_id: None,
        symbol: symbol.into(),
        exchange: Exchange::Nse,
        side: Side::Buy,
        order_type: OrderType::Limit,
        product: Product::Mis,
        validity: Validity::Day,
        quantity: 5,
        filled_quantity: 0,
        price: Some(dec!(1400)),
        trigger_price: None,
        average_price: None,
        stop_loss: None,
        take_profit: None,
        risk_amount: None,
        status,
        status_reason: None,
        broker: BrokerKind::Paper,
        broker_order_id: Some(format!("P{id}")),
        placed_by: "asha".into(),
        created_at: now,
        updated_at: now,
        submitted_at: Some(now),
        completed_at: None,
        modifications: 0,
        trigger_pending: false,
    }
}

fn with_orders(mut app: App, orders: Vec<Order>) -> App {
    app.apply(Update { snapshot: true, orders, ..Default::default() });
    app.refresh_views();
    app
}

fn key(app: &mut App, code: KeyCode) -> Option<Effect> {
    let modifiers = if matches!(code, KeyCode::Char(c) if c.is_ascii_uppercase()) {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    app.on_key(KeyEvent::new(code, modifiers))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

#[test]
fn cancel_asks_first_names_the_order_and_sends_it_by_id() {
    let mut a = with_orders(app(false), vec![order(7, "INFY", OrderStatus::Open), order(8, "TCS", OrderStatus::Open)]);
    // Newest first: order 8, then 7. Down selects 7.
    key(&mut a, KeyCode::Down);
    assert_eq!(key(&mut a, KeyCode::Char('c')), None);
    let Some(Popup::Confirm { title, body, focus_ok: false, .. }) = &a.popup else { panic!("{:?}", a.popup) };
    assert_eq!((title.as_str(), body[0].as_str()), ("Cancel order?", "Order 7: BUY 5 INFY LIMIT MIS @ 1400.00"));
    // Enter on the focused Cancel button sends nothing and closes.
    assert_eq!(key(&mut a, KeyCode::Enter), None);
    assert!(a.popup.is_none());
    key(&mut a, KeyCode::Char('c'));
    key(&mut a, KeyCode::Right);
    assert_eq!(
        key(&mut a, KeyCode::Enter),
        Some(Effect::Send(OperatorCommand::CancelOrder { order_id: 7 }, "cancel order 7".into()))
    );
}

#[test]
fn a_read_only_console_has_no_keys_that_write() {
    let mut a = with_orders(app(true), vec![order(7, "INFY", OrderStatus::Open)]);
    for c in ['c', 'm', 'n', 'K'] {
        a.flash = None;
        assert_eq!(key(&mut a, KeyCode::Char(c)), None);
        assert!(a.popup.is_none(), "{c} opened {:?}", a.popup);
        // Said, not ignored.
        assert_eq!(a.flash.as_ref().map(|f| (f.0.as_str(), f.1)), Some((READ_ONLY_KEY, FlashKind::Info)), "{c}");
    }
    // A key that only reads says nothing of the kind.
    a.flash = None;
    key(&mut a, KeyCode::Char('2'));
    assert_eq!(a.flash, None);
}

#[test]
fn each_tab_keeps_its_own_filter_and_esc_clears_it() {
    let mut a = with_orders(app(false), vec![order(7, "INFY", OrderStatus::Open), order(8, "TCS", OrderStatus::Open)]);
    key(&mut a, KeyCode::Char('/'));
    assert_eq!(a.key_scope(), Scope::Filter);
    typed(&mut a, "tcs");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.tables[Tab::Orders].rows, vec![8]);
    assert_eq!(a.filter_note(Tab::Orders).as_deref(), Some("filter \"tcs\": 1 of 2"));
    key(&mut a, KeyCode::Char('2'));
    assert_eq!((a.tab, a.tables[Tab::Positions].filter.as_str()), (Tab::Positions, ""));
    key(&mut a, KeyCode::Char('1'));
    assert_eq!(a.tables[Tab::Orders].filter, "tcs", "the orders tab kept its filter");
    key(&mut a, KeyCode::Esc);
    assert_eq!(a.tables[Tab::Orders].rows, vec![8, 7]);
}

#[test]
fn the_kill_switch_needs_its_word() {
    let mut a = app(false);
    key(&mut a, KeyCode::Char('K'));
    assert_eq!(a.key_scope(), Scope::TextEntry);
    typed(&mut a, "kil");
    assert_eq!(key(&mut a, KeyCode::Enter), None, "KIL is not the word");
    assert!(matches!(&a.popup, Some(Popup::KillSwitch { input }) if input == "KIL"));
    typed(&mut a, "l");
    let Some(Effect::Send(OperatorCommand::KillSwitchOn { reason }, what)) = key(&mut a, KeyCode::Enter) else {
        panic!("the kill switch is sent")
    };
    assert_eq!((reason.as_str(), what.as_str()), ("kill switch from the console by asha", "kill switch"));
}

#[test]
fn the_order_form_keeps_a_verdict_that_follows_the_keys() {
    let mut a = app(false);
    key(&mut a, KeyCode::Char('n'));
    let verdict = |a: &App| match &a.popup {
        Some(Popup::NewOrder(f)) => f.verdict.clone(),
        other => panic!("{other:?}"),
    };
    assert!(verdict(&a).starts_with("✗ "), "an empty form is refused: {}", verdict(&a));
    // K types into the symbol; it is not the kill switch here.
    typed(&mut a, "INFY");
    assert!(matches!(&a.popup, Some(Popup::NewOrder(f)) if f.values[0] == "INFY"));
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Down);
    typed(&mut a, "1000000");
    assert!(verdict(&a).contains("needs a limit price"), "{}", verdict(&a));
    for _ in 0..3 {
        key(&mut a, KeyCode::Down);
    }
    typed(&mut a, "1500");
    assert!(verdict(&a).starts_with("✗ max position size"), "{}", verdict(&a));
    let Some(Popup::NewOrder(f)) = &a.popup else { panic!() };
    let last = a.last_price_of("INFY").expect("INFY has a reference price");
    // MIS at 5×: a fifth of the value; no funds reported yet, so no "free".
    assert_eq!(f.context, format!("last {last:.2} · order value ₹1,50,00,00,000.00 · margin ₹30,00,00,000.00"));
}

#[test]
fn a_command_sent_then_quit_waits_for_its_result() {
    let mut a = app(false);
    let quit = a.answer(Answer::Sent { what: "exit all, then quit".into(), then_quit: true, result: Ok(41) });
    assert!(!quit, "not before the command is done");
    assert_eq!(a.quit_after, Some(41));
    assert!(a.pending.contains(&41));
}

proptest::proptest! {
    /// Moving only the changed rows gives exactly the tables a rebuild
    /// gives, whatever the changes, with or without a filter.
    #[test]
    fn changed_rows_move_to_where_a_rebuild_puts_them(
        changes in proptest::collection::vec((1i64..40, 0u8..4), 1..60),
        filtered in proptest::bool::ANY,
    ) {
        let mut a = app(false);
        if filtered {
            a.tables[Tab::Orders].filter = "infy".into();
        }
        let statuses = [OrderStatus::Open, OrderStatus::Filled, OrderStatus::Cancelled, OrderStatus::PartiallyFilled];
        for (id, s) in changes {
            let symbol = if id % 3 == 0 { "INFY" } else { "TCS" };
            a.apply(Update { orders: vec![order(id, symbol, statuses[usize::from(s)])], ..Default::default() });
            if id % 5 == 0 {
                a.apply(Update { deleted_orders: vec![id + 1], ..Default::default() });
            }
            a.refresh_views();
            let (moved, active) = (a.tables[Tab::Orders].rows.clone(), a.orders_active);
            a.store.pending.snapshot = true;
            a.refresh_views();
            proptest::prop_assert_eq!(&moved, &a.tables[Tab::Orders].rows);
            proptest::prop_assert_eq!(active, a.orders_active);
        }
    }
}
