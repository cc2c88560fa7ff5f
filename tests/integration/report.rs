//! The trading day, closed and kept: the end-of-day report (its figures
//! equal the database's own to the paisa), the CSV exports (parsed back) and
//! a past day's report.

use crate::procs::{stdout, xcoin};
use crate::support::*;
use chrono::{NaiveDate, NaiveTime, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use xcoin::domain::calendar::MarketCalendar;
use xcoin::domain::money::to_paisa;
use xcoin::domain::order::{Exchange, Product, Side};
use xcoin::domain::reconciliation::{Holding, Resolution, compare};
use xcoin::domain::strategy::{StrategyType, TradingMode};

/// A day of two strategies: Manual wins on INFY and holds TCS, the Scalper
/// loses on INFY; a kill switch on and off; an issue ignored with a note.
async fn a_day(t: &TestDb, at: chrono::DateTime<Utc>) -> i64 {
    let scalper = t.ensure_strategy("Scalper", StrategyType::Scalping, TradingMode::Paper).await.unwrap().id;
    filled_for(t, 1, "INFY", Side::Buy, 10, dec!(1500), "T1", at).await;
    filled_for(t, 1, "INFY", Side::Sell, 10, dec!(1512.35), "T2", at).await;
    filled_for(t, 1, "TCS", Side::Buy, 5, dec!(3120.75), "T3", at).await;
    filled_for(t, scalper, "INFY", Side::Buy, 7, dec!(1510), "T4", at).await;
    filled_for(t, scalper, "INFY", Side::Sell, 7, dec!(1504.05), "T5", at).await;
    scalper
}

/// The last trading day before the latest weekend or holiday up to today
/// (on the run's clock): the day a report asked for on that weekend or
/// holiday shows, and the first day off after it.
fn a_day_before_a_day_off(calendar: &MarketCalendar) -> (NaiveDate, NaiveDate) {
    let mut off = calendar.today();
    while calendar.is_trading_day(off) {
        off = off.pred_opt().unwrap();
    }
    let day = calendar.last_trading_day(off);
    (day, day.succ_opt().unwrap())
}

#[tokio::test]
async fn the_report_equals_the_days_pnl_and_trades_to_the_paisa() {
    let calendar = xcoin::config::Settings::default().calendar();
    let (day, off) = a_day_before_a_day_off(&calendar);
    let t = test_db_at(calendar.instant(day, NaiveTime::from_hms_opt(11, 0, 0).unwrap())).await;
    a_day(&t, t.now()).await;
    t.activate_kill_switch(&operator_activation("desk check", "asha")).await.unwrap();
    t.deactivate_kill_switch("checked", "asha").await.unwrap();
    let broker = Holding {
        symbol: "WIPRO".into(),
        exchange: Exchange::Nse,
        product: Product::Cnc,
        quantity: 7,
        average_price: dec!(248.65),
    };
    let (issue, _) = t.log_reconciliation_issue(&compare(&[], &[broker], dec!(0.1))[0], None).await.unwrap();
    t.resolve_issue(issue.id, Resolution::Ignore, "asha", Some("held at another broker")).await.unwrap();
    t.update_daily_stats().await.unwrap();

    let r = xcoin::report::day_report(&t.db, &calendar, day).await.unwrap();
    let pnl = t.today_pnl().await.unwrap();
    let trades = t.today_trades().await.unwrap();
    assert_eq!(
        (r.realised, r.unrealised, r.net),
        (to_paisa(pnl.realized_pnl), to_paisa(pnl.unrealized_pnl), to_paisa(pnl.net_pnl))
    );
    assert_eq!(r.charges.total, to_paisa(pnl.charges));
    let sum = |f: fn(&xcoin::domain::trade::Trade) -> Decimal| to_paisa(trades.iter().map(f).sum());
    assert_eq!(r.charges.lines.stt, sum(|t| t.charges.stt));
    assert_eq!(r.charges.lines.stamp_duty, sum(|t| t.charges.stamp_duty));
    assert_eq!(r.charges.lines.brokerage, sum(|t| t.charges.brokerage));
    // 123.50 won on INFY, 41.65 lost by the Scalper: each net of its own charges.
    assert_eq!(r.realised, dec!(81.85));
    assert_eq!((r.trades, r.round_trips, r.wins, r.losses, r.win_rate), (5, 2, 1, 1, Some(dec!(0.5))));
    let charges_of = |ids: &[&str]| {
        trades.iter().filter(|t| ids.contains(&t.broker_trade_id.as_str())).map(|t| t.total_charges).sum::<Decimal>()
    };
    assert_eq!(r.average_win, Some(to_paisa(dec!(123.50) - charges_of(&["T1", "T2"]))));
    assert_eq!(r.average_loss, Some(to_paisa(dec!(-41.65) - charges_of(&["T4", "T5"]))));
    assert_eq!(r.largest_loss, r.average_loss.unwrap());
    assert_eq!(r.by_strategy.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["Manual Trading", "Scalper"]);
    // Each line is rounded once on its own; unrounded, the strategies add up to the day exactly.
    let exact = t.day_breakdown(None).await.unwrap();
    let strategies = exact.iter().filter(|b| b.kind == xcoin::db::stats::BreakdownKind::Strategy);
    assert_eq!(strategies.map(|b| b.net_pnl).sum::<Decimal>(), pnl.net_pnl);
    assert_eq!(r.kill_switch.iter().map(|k| k.action.as_str()).collect::<Vec<_>>(), ["ACTIVATED", "DEACTIVATED"]);
    assert!(
        r.issues[0].outcome.starts_with("IGNORE by asha at ")
            && r.issues[0].outcome.ends_with(" (held at another broker)")
    );

    // The same through the binary, in each format.
    let dir = tempfile::tempdir().unwrap();
    let url = t.url();
    let clock = t.clock_env();
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("XCOIN_APP__DATA_DIR", dir.path().to_str().unwrap()),
        (clock.0, clock.1.as_str()),
    ];
    let json = stdout(&xcoin(dir.path(), &["report", "--format", "json"], &env));
    let parsed: serde_json::Value = serde_json::from_str(&json).expect(&json);
    assert_eq!(parsed["day"], serde_json::Value::String(day.to_string()));
    assert_eq!(parsed["net"], serde_json::Value::String(r.net.to_string()));
    assert_eq!(parsed["charges"]["stt"], serde_json::Value::String(r.charges.lines.stt.to_string()));
    let text = stdout(&xcoin(dir.path(), &["report"], &env));
    assert!(text.contains(&format!("  Net                 {}", xcoin::domain::money::rupees(r.net))), "{text}");
    assert!(text.contains("  Round trips         2 (1 won, 1 lost)"), "{text}");
    let md = stdout(&xcoin(dir.path(), &["report", "--format", "markdown"], &env));
    assert!(md.contains(&format!("| Net | {} |", xcoin::domain::money::rupees(r.net))), "{md}");

    // On the day off after it (a Saturday, a Sunday or a holiday), "the
    // report" is that trading day's, the same to the paisa, and says so.
    let noon_off = calendar.instant(off, NaiveTime::from_hms_opt(12, 0, 0).unwrap());
    // (A shift is from the wall clock, not from this thread's pinned one.)
    let shift = (noon_off - chrono::Utc::now()).num_milliseconds().to_string();
    let env_off = [env[0], env[1], (clock.0, shift.as_str())];
    let out = xcoin(dir.path(), &["report", "--format", "json"], &env_off);
    assert_eq!(stdout(&out), json, "the day off's report is the trading day's");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "today ({}) is not a trading day: the last trading day is {}\n",
            off.format("%a %Y-%m-%d"),
            day.format("%a %Y-%m-%d")
        )
    );
}

#[tokio::test]
async fn the_export_round_trips_every_trade_and_a_past_day_has_its_report() {
    // Today is a known trading day (its morning), so no step of the test
    // meets a weekend or IST midnight.
    let t = test_db_at(a_trading_morning()).await;
    let calendar = xcoin::config::Settings::default().calendar();
    let today = calendar.trading_day(t.now());
    // The last trading day before today, at 10:00 IST.
    let past = calendar.last_trading_day(today.pred_opt().unwrap());
    let at = calendar.instant(past, NaiveTime::from_hms_opt(10, 0, 0).unwrap());
    a_day(&t, at).await;
    filled_for(&t, 1, "ITC", Side::Buy, 3, dec!(410.25), "T6", t.now()).await;

    let dir = tempfile::tempdir().unwrap();
    let url = t.url();
    let clock = t.clock_env();
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("XCOIN_APP__DATA_DIR", dir.path().to_str().unwrap()),
        (clock.0, clock.1.as_str()),
    ];
    let file = dir.path().join("tradebook.csv");
    let from = past.to_string();
    let out = xcoin(
        dir.path(),
        &["export", "trades", "--from", &from, "--to", &today.to_string(), "--out", file.to_str().unwrap()],
        &env,
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("6 trades from "),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Read back by column name, as a spreadsheet or an import would.
    let mut reader = csv::Reader::from_path(&file).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, xcoin::export::TRADE_COLUMNS);
    let rows: Vec<std::collections::HashMap<String, String>> =
        reader.records().map(|r| header.iter().cloned().zip(r.unwrap().iter().map(str::to_string)).collect()).collect();
    let trades = t.trades_between(past, today).await.unwrap();
    assert_eq!(rows.len(), trades.len());
    let amount = |row: &std::collections::HashMap<String, String>, name: &str| row[name].parse::<Decimal>().unwrap();
    for (row, trade) in rows.iter().zip(&trades) {
        assert_eq!(row["symbol"], trade.symbol);
        assert_eq!(row["trade_date"], calendar.local(trade.traded_at).format("%Y-%m-%d").to_string());
        assert_eq!(row["trade_type"], trade.side.as_str().to_ascii_lowercase());
        assert_eq!(row["quantity"].parse::<i64>().unwrap(), trade.quantity);
        assert_eq!(amount(row, "price"), trade.price);
        assert_eq!(row["trade_id"], trade.broker_trade_id);
        // Both ids: the console's (local) and Kite's.
        assert_eq!(row["order_id"], trade.order_id.to_string());
        assert_eq!(Some(&row["broker_order_id"]), trade.broker_order_id.as_ref());
        let order = t.get_order(trade.order_id).await.unwrap();
        assert_eq!(order.broker_order_id.as_deref(), Some(format!("B-{}", trade.broker_trade_id).as_str()));
        // Shown to the paisa, kept exact.
        for (name, stored) in [
            ("total_charges", trade.total_charges),
            ("net_value", trade.net_value),
            ("stt", trade.charges.stt),
            ("realised_pnl", trade.realized_pnl),
        ] {
            assert_eq!(row[name], format!("{:.2}", to_paisa(stored)), "{name} to the paisa");
            assert_eq!(amount(row, &format!("{name}_exact")), stored, "{name} exact");
        }
    }
    assert!(
        trades.iter().any(|t| t.total_charges.scale() > 2 && t.total_charges != to_paisa(t.total_charges)),
        "some charge is finer than the paisa, so the two columns differ"
    );
    assert_eq!(rows[0]["order_execution_time"], format!("{past}T10:00:00"), "execution time in IST");
    // (The helper makes each filled order now, whatever its fill's time.)
    let orders = stdout(&xcoin(dir.path(), &["export", "orders"], &env));
    assert_eq!(orders.lines().count(), 1 + 6, "the header and today's six orders: {orders}");
    assert_eq!(orders.lines().next().unwrap().split(',').collect::<Vec<_>>(), xcoin::export::ORDER_COLUMNS);
    assert!(orders.lines().nth(1).unwrap().contains(",INFY,NSE,BUY,MARKET,MIS,DAY,10,"), "{orders}");

    // The past day, read back: its own trades only.
    let text = stdout(&xcoin(dir.path(), &["status", "--date", &from], &env));
    assert!(text.starts_with(&format!("XCoin — the trading day {past}")), "{text}");
    // (Its round trips count where positions closed when recorded: today, in this test.)
    assert!(text.contains("  Trades              5\n") && text.contains("    realised          ₹81.85\n"), "{text}");
    // The console opens the past day read-only, saying which day, with that day's trades only.
    let console_env = [env[0], env[1], env[2], ("HOME", env[1].1)];
    let tmux = crate::procs::Tmux::start_with_args(dir.path(), &console_env, &["--date", &from]);
    let screen = tmux.wait_for(&format!("PAST DAY {past} · read-only"));
    assert!(screen.contains("READ-ONLY") && !screen.contains("n new order"), "{screen}");
    tmux.wait_for(&format!("{past} net P&L ₹48.12"));
    tmux.keys(&["3"]);
    let screen = tmux.wait_for("Trades —");
    assert!(screen.contains("3 Trades (5)") && screen.contains("INFY"), "{screen}");
    assert!(!screen.contains("ITC"), "today's ITC is not that day's: {screen}");
    tmux.keys(&["q"]);
    drop(tmux);

    let mut weekend = today;
    while calendar.is_trading_day(weekend) {
        weekend = weekend.pred_opt().unwrap();
    }
    let refused = xcoin(dir.path(), &["report", "--date", &weekend.to_string()], &env);
    assert!(String::from_utf8_lossy(&refused.stderr).contains(&format!("date: {weekend} is not a trading day")));
}
