use super::*;
use crossterm::event::KeyModifiers;

fn wizard() -> Wizard {
    let dir = std::env::temp_dir();
    Wizard::new(ConfigPaths::for_checkout(None, Some(dir.join("xcoin-wizard-test.toml")), &dir))
}

fn press(w: &mut Wizard, code: KeyCode) -> Option<WizardEffect> {
    w.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn typed(w: &mut Wizard, text: &str) {
    for c in text.chars() {
        press(w, KeyCode::Char(c));
    }
}

/// Past the database step, as after a successful preparation.
fn prepared() -> Wizard {
    let mut w = wizard();
    assert_eq!(press(&mut w, KeyCode::Enter), Some(WizardEffect::PrepareDatabase));
    w.database_prepared(true, vec!["✓ database xcoin created".into()]);
    assert_eq!(press(&mut w, KeyCode::Enter), None);
    assert_eq!(w.step, Step::Mode);
    w
}

#[test]
fn the_paper_path_walks_every_step_and_writes_last() {
    let mut w = prepared();
    for step in [Step::Risk, Step::Alerts, Step::Demo, Step::Review] {
        assert_eq!(press(&mut w, KeyCode::Enter), None);
        assert_eq!(w.step, step);
    }
    assert_eq!(press(&mut w, KeyCode::Enter), Some(WizardEffect::Write));
    let toml = w.config_toml();
    assert!(toml.contains("mode = \"PAPER\"") && toml.contains("demo = true"), "{toml}");
    assert!(toml.contains("capital = 100000") && toml.contains("max_open_positions = 5"), "{toml}");
    assert!(!toml.contains("zerodha"), "PAPER writes no Kite keys: {toml}");
}

#[test]
fn a_failed_or_changed_database_is_prepared_again() {
    let mut w = wizard();
    press(&mut w, KeyCode::Right); // a URL instead of the managed server
    assert!(w.use_url);
    typed(&mut w, "postgres://desk@db/xcoin");
    assert_eq!(w.database_url().as_deref(), Some("postgres://desk@db/xcoin"));
    press(&mut w, KeyCode::Enter);
    w.database_prepared(false, vec!["✗ connection refused".into()]);
    assert_eq!(press(&mut w, KeyCode::Enter), Some(WizardEffect::PrepareDatabase), "a failure is tried again");
    w.database_prepared(true, vec![]);
    press(&mut w, KeyCode::Backspace);
    assert_eq!(w.prepared, None, "editing the URL drops the earlier result");
    assert_eq!(w.step, Step::Database);
}

#[test]
fn live_needs_the_kite_keys_and_the_typed_word() {
    let mut w = prepared();
    press(&mut w, KeyCode::Right);
    assert!(w.live);
    press(&mut w, KeyCode::Enter);
    assert_eq!(w.step, Step::Live);
    press(&mut w, KeyCode::Enter);
    assert_eq!(w.error.as_deref(), Some("Kite API key is needed for LIVE trading"));
    typed(&mut w, "kitekey");
    press(&mut w, KeyCode::Down);
    typed(&mut w, "kitesecret");
    press(&mut w, KeyCode::Enter);
    assert_eq!(w.error.as_deref(), Some("type LIVE to confirm that real orders will be sent"));
    press(&mut w, KeyCode::Down);
    press(&mut w, KeyCode::Down);
    typed(&mut w, "LIVE");
    press(&mut w, KeyCode::Enter);
    assert_eq!((w.step, w.error.as_deref()), (Step::Risk, None));
    press(&mut w, KeyCode::Enter);
    press(&mut w, KeyCode::Enter);
    assert_eq!(w.step, Step::Review, "LIVE has no demo step");
    let toml = w.config_toml();
    assert!(toml.contains("mode = \"LIVE\"") && toml.contains("demo = false"), "{toml}");
    assert!(toml.contains("api_key = \"kitekey\""), "{toml}");
    // Esc goes back step by step, to the mode and past it.
    for step in [Step::Alerts, Step::Risk, Step::Live, Step::Mode, Step::Database] {
        assert_eq!(press(&mut w, KeyCode::Esc), None);
        assert_eq!(w.step, step);
    }
    assert_eq!(press(&mut w, KeyCode::Esc), None, "the first step asks before quitting");
    assert!(w.quit_asked);
    press(&mut w, KeyCode::Char('x'));
    assert!(!w.quit_asked && w.step == Step::Database, "any other key stays, and is not typed");
    press(&mut w, KeyCode::Esc);
    assert_eq!(press(&mut w, KeyCode::Esc), Some(WizardEffect::Quit));
}

#[test]
fn a_fixed_value_drops_its_error() {
    let mut w = prepared();
    press(&mut w, KeyCode::Enter);
    for _ in 0..6 {
        press(&mut w, KeyCode::Backspace);
    }
    typed(&mut w, "x");
    press(&mut w, KeyCode::Enter);
    assert_eq!(
        w.error.as_deref(),
        Some("capital: `x` must be an amount in rupees greater than 0, such as 100000, 1,00,000 or 100,000")
    );
    press(&mut w, KeyCode::Backspace);
    typed(&mut w, "250000");
    assert_eq!(w.error, None, "the refusal was about the old value");
    let text = rendered(&w);
    assert!(!text.contains('✗'), "no error left on screen: {text}");
    assert!(text.contains("↑/↓ field") && !text.contains("choose"), "a text step has no choice: {text}");
    press(&mut w, KeyCode::Enter);
    press(&mut w, KeyCode::Enter);
    press(&mut w, KeyCode::Enter);
    assert_eq!(w.step, Step::Review);
    assert!(rendered(&w).contains("Capital ₹2,50,000,"), "{}", rendered(&w));
}

fn rendered(w: &Wizard) -> String {
    let area = Rect::new(0, 0, 100, 30);
    let mut buf = Buffer::empty(area);
    w.render(area, &mut buf);
    (0..area.height)
        .map(|y| (0..area.width).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>() + "\n")
        .collect()
}

#[test]
fn smtp_asks_port_user_and_password() {
    let mut w = prepared();
    press(&mut w, KeyCode::Enter);
    press(&mut w, KeyCode::Enter);
    assert_eq!(w.step, Step::Alerts);
    for _ in 0..2 {
        press(&mut w, KeyCode::Down);
    }
    typed(&mut w, "smtp.example.in");
    press(&mut w, KeyCode::Down);
    press(&mut w, KeyCode::Backspace);
    press(&mut w, KeyCode::Backspace);
    press(&mut w, KeyCode::Backspace);
    typed(&mut w, "465x");
    press(&mut w, KeyCode::Enter);
    assert_eq!(w.error.as_deref(), Some("SMTP port: `465x` must be a whole number from 1 to 65535 (587 for STARTTLS)"));
    press(&mut w, KeyCode::Backspace);
    press(&mut w, KeyCode::Down);
    typed(&mut w, "desk");
    press(&mut w, KeyCode::Enter);
    assert_eq!(
        w.error.as_deref(),
        Some("SMTP needs both the user and the password, or neither (a relay without login)")
    );
    press(&mut w, KeyCode::Down);
    typed(&mut w, "s3cret");
    assert!(rendered(&w).contains("SMTP password          ••••••"), "{}", rendered(&w));
    press(&mut w, KeyCode::Down);
    typed(&mut w, "desk@example.in");
    press(&mut w, KeyCode::Down);
    typed(&mut w, "ops@example.in");
    press(&mut w, KeyCode::Enter);
    assert_eq!((w.step, w.error.as_deref()), (Step::Demo, None));
    let toml = w.config_toml();
    for key in ["port = 465", "username = \"desk\"", "password = \"s3cret\"", "to = \"ops@example.in\""] {
        assert!(toml.contains(key), "{key} in {toml}");
    }
}

#[test]
fn the_database_password_is_masked_as_typed() {
    assert_eq!(masked_url("postgres://desk:s3cret@db:5432/xcoin"), "postgres://desk:••••••@db:5432/xcoin");
    assert_eq!(masked_url("postgres://desk:s3c"), "postgres://desk:•••", "before the @ it may be a password");
    assert_eq!(masked_url("postgres://db:5432/xcoin"), "postgres://db:5432/xcoin", "a port stays");
    assert_eq!(masked_url("postgres://desk@db/xcoin"), "postgres://desk@db/xcoin");
    assert_eq!(masked_url("postgres://a:p@ss@db/x"), "postgres://a:••••@db/x", "the last @ ends it");
}

#[test]
fn risk_and_alerts_are_checked_before_moving_on() {
    let mut w = prepared();
    press(&mut w, KeyCode::Enter);
    assert_eq!(w.step, Step::Risk);
    press(&mut w, KeyCode::Down);
    press(&mut w, KeyCode::Backspace);
    typed(&mut w, "200");
    press(&mut w, KeyCode::Enter);
    assert_eq!(
        w.error.as_deref(),
        Some("max risk per trade %: `200` must be a percentage greater than 0 and at most 100")
    );
    assert_eq!(w.step, Step::Risk);
    for _ in 0..3 {
        press(&mut w, KeyCode::Backspace);
    }
    typed(&mut w, "1.5");
    press(&mut w, KeyCode::Enter);
    assert_eq!((w.step, w.error.as_deref()), (Step::Alerts, None));
    typed(&mut w, "123:bot");
    press(&mut w, KeyCode::Enter);
    assert_eq!(w.error.as_deref(), Some("Telegram needs both the bot token and the chat id, or neither"));
    press(&mut w, KeyCode::Down);
    typed(&mut w, "42");
    press(&mut w, KeyCode::Enter);
    assert_eq!(w.step, Step::Demo);
    assert!(w.config_toml().contains("max_risk_per_trade_pct = 1.5"));
}

fn erase(w: &mut Wizard, n: usize) {
    for _ in 0..n {
        press(w, KeyCode::Backspace);
    }
}

#[test]
fn a_database_url_that_cannot_work_is_refused_before_it_is_tried() {
    let mut w = wizard();
    press(&mut w, KeyCode::Right); // a URL instead of the managed server
    assert_eq!(press(&mut w, KeyCode::Enter), None, "an empty URL is not tried");
    assert_eq!(
        w.error.as_deref(),
        Some("database URL: empty; expected postgres://user@host:port/database, or choose the private PostgreSQL")
    );
    let expected = "expected postgres://user@host:port/database (postgresql:// also works)";
    for (url, why) in [
        (
            "postgress://desk:s3cret@db/xcoin",
            format!("`postgress://desk:••••••@db/xcoin` starts with postgress://, not postgres://; {expected}"),
        ),
        ("localhost/xcoin", format!("`localhost/xcoin` has no scheme; {expected}")),
        ("postgres://desk@db", format!("`postgres://desk@db` names no database; {expected}")),
        (
            "postgres://desk@db:65536/xcoin",
            "`postgres://desk@db:65536/xcoin` has port 65536; a port is a whole number from 1 to 65535".into(),
        ),
    ] {
        erase(&mut w, 64);
        typed(&mut w, url);
        assert_eq!(press(&mut w, KeyCode::Enter), None, "{url} is not tried");
        assert_eq!(w.error, Some(format!("database URL: {why}")), "{url}");
        assert_eq!((w.step, &w.prepared), (Step::Database, &None));
        assert!(rendered(&w).contains("✗ database URL: "), "{}", rendered(&w));
    }
    for url in ["postgresql://desk@db:5432/xcoin", "postgres://desk:s3cret@db/xcoin"] {
        erase(&mut w, 64);
        typed(&mut w, url);
        assert_eq!(press(&mut w, KeyCode::Enter), Some(WizardEffect::PrepareDatabase), "{url}");
        assert_eq!(w.error, None);
    }
}

#[test]
fn capital_is_read_with_the_grouping_the_wizard_prints() {
    for (typed_capital, toml, shown) in [
        ("1,00,000", "capital = 100000", "Capital ₹1,00,000,"),
        ("100,000", "capital = 100000", "Capital ₹1,00,000,"),
        ("100000", "capital = 100000", "Capital ₹1,00,000,"),
        ("₹2,50,000", "capital = 250000", "Capital ₹2,50,000,"),
        ("12,34,567.50", "capital = 1234567.5", "Capital ₹12,34,567.50,"),
    ] {
        let mut w = prepared();
        press(&mut w, KeyCode::Enter);
        erase(&mut w, 6);
        typed(&mut w, typed_capital);
        assert_eq!(w.risk_error(), None, "{typed_capital}");
        for step in [Step::Alerts, Step::Demo, Step::Review] {
            press(&mut w, KeyCode::Enter);
            assert_eq!((w.step, w.error.as_deref()), (step, None), "{typed_capital}");
        }
        assert!(w.config_toml().contains(toml), "{typed_capital}: {}", w.config_toml());
        assert!(rendered(&w).contains(shown), "{typed_capital}: {}", rendered(&w));
    }
    let mut w = prepared();
    press(&mut w, KeyCode::Enter);
    erase(&mut w, 6);
    typed(&mut w, "1,0000");
    press(&mut w, KeyCode::Enter);
    assert_eq!(
        (w.step, w.error.as_deref()),
        (
            Step::Risk,
            Some("capital: `1,0000` must be an amount in rupees greater than 0, such as 100000, 1,00,000 or 100,000")
        )
    );
}

#[test]
fn the_smtp_port_is_checked_even_before_a_host_is_given() {
    let mut w = prepared();
    press(&mut w, KeyCode::Enter);
    press(&mut w, KeyCode::Enter);
    assert_eq!(w.step, Step::Alerts);
    for _ in 0..3 {
        press(&mut w, KeyCode::Down);
    }
    erase(&mut w, 3);
    for port in ["0", "65536", "x"] {
        typed(&mut w, port);
        press(&mut w, KeyCode::Enter);
        assert_eq!(
            (w.step, w.error.clone()),
            (
                Step::Alerts,
                Some(format!("SMTP port: `{port}` must be a whole number from 1 to 65535 (587 for STARTTLS)"))
            )
        );
        erase(&mut w, port.len());
    }
    // Empty with no host: no e-mail, nothing to check.
    press(&mut w, KeyCode::Enter);
    assert_eq!((w.step, w.error.as_deref()), (Step::Demo, None));
    assert!(!w.config_toml().contains("smtp"), "{}", w.config_toml());
}
