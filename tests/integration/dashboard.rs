//! The dashboard port: health with its status codes, a Prometheus scrape
//! read back by a Prometheus text parser, today as JSON, and the bearer token.

use crate::support::*;
use std::collections::HashMap;
use tokio::sync::watch;
use xcoin::config::{Config, ConfigPaths, Settings};
use xcoin::dashboard::{Dashboard, serve};
use xcoin::domain::command::OperatorCommand;
use xcoin::engine::EngineHealth;

fn settings(t: &TestDb, token: Option<&str>) -> Settings {
    let mut s = Settings::default();
    s.database.url = Some(t.url());
    s.dashboard.enabled = true;
    s.dashboard.token = token.map(xcoin::config::Secret::new);
    s
}

/// The engine started with its dashboard on a free port, and the port. The
/// engine binds the port itself from the configured address, so the whole
/// start is tried again on another port when one is taken in between.
async fn engine_serving(t: &TestDb, s: Settings) -> (xcoin::engine::runner::Started, u16) {
    on_a_free_port(|port| {
        let mut s = s.clone();
        s.dashboard.port = port;
        let db = t.db.clone();
        async move {
            let config = Config::with_settings(s, ConfigPaths::for_checkout(None, None, std::path::Path::new(".")));
            let started = xcoin::engine::runner::start(&config, false, None).await;
            if started.is_err() {
                // The engine of the failed start let go of its lock: the next start takes it.
                let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
                while db.engine_lock_holder().await.unwrap().is_some() {
                    assert!(tokio::time::Instant::now() < deadline, "the failed start's engine lock is released");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            }
            started
        }
    })
    .await
}

/// The samples of a scrape by name and labels, as Prometheus reads them.
fn samples(text: &str) -> HashMap<String, f64> {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("Prometheus reads the exposition");
    scrape
        .samples
        .into_iter()
        .filter_map(|s| {
            let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let value = match s.value {
                prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Untyped(v) => v,
                prometheus_parse::Value::Histogram(h) => h.iter().map(|b| b.count).fold(0.0, f64::max),
                _ => return None,
            };
            Some((format!("{}{{{}}}", s.metric, labels.join(",")), value))
        })
        .collect()
}

#[tokio::test]
async fn health_metrics_and_today_answer_with_their_codes_and_a_token_guards_them() {
    let t = test_db().await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (health, engine) = watch::channel(EngineHealth::default());
    let (stop, stopped) = watch::channel(false);
    let mut s = settings(&t, Some("s3cret-token"));
    s.dashboard.port = port;
    let config = Config::with_settings(s, ConfigPaths::for_checkout(None, None, std::path::Path::new(".")));
    let d: Dashboard<xcoin::broker::AnyBroker> =
        Dashboard { db: t.db.clone(), config, engine, ticker: None, market: None };
    let server = tokio::spawn(serve(listener, d, stopped));
    // A refused order and a command, so there is something to count.
    let mut no_stop = limit_buy("INFY", 1, rust_decimal_macros::dec!(1500));
    no_stop.stop_loss = None;
    t.record_rejected_order(
        &no_stop,
        xcoin::domain::order::BrokerKind::Paper,
        TICK,
        None,
        "stop loss: required on every position",
    )
    .await
    .unwrap();
    // A rule whose own name holds a colon, and a reason that names an instrument.
    for reason in ["min reward:risk: limit 2:1, order 1.5:1", "unknown instrument: NSE:FOO is not quoted by the broker"]
    {
        t.record_rejected_order(&no_stop, xcoin::domain::order::BrokerKind::Paper, TICK, None, reason).await.unwrap();
    }
    t.enqueue_command(&OperatorCommand::ExitAll {}, "asha").await.unwrap();
    t.claim_next_command().await.unwrap();

    let http = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut r = http.get(format!("http://127.0.0.1:{port}{path}"));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    // The token: none or a wrong one is refused, the right one passes.
    assert_eq!(get("/healthz", None).await.unwrap().status(), 401);
    assert_eq!(get("/healthz", Some("guess")).await.unwrap().status(), 401);
    let ok = get("/healthz", Some("s3cret-token")).await.unwrap();
    assert_eq!(ok.status(), 200);
    let body: serde_json::Value = ok.text().await.unwrap().parse::<serde_json::Value>().unwrap();
    assert_eq!(
        (body["status"].as_str(), body["database"]["state"].as_str(), body["lock"]["state"].as_str()),
        (Some("ok"), Some("ok"), Some("held"))
    );
    assert_eq!(body["broker"]["state"], "ok");

    let text = get("/metrics", Some("s3cret-token")).await.unwrap().text().await.unwrap();
    let m = samples(&text);
    assert_eq!(m.get("xcoin_orders{status=REJECTED}"), Some(&3.0), "{text}");
    assert_eq!(m.get("xcoin_rejections{rule=stop loss}"), Some(&1.0), "{text}");
    assert_eq!(m.get("xcoin_rejections{rule=min reward:risk}"), Some(&1.0), "{text}");
    assert_eq!(m.get("xcoin_rejections{rule=unknown instrument}"), Some(&1.0), "{text}");
    assert_eq!(m.get("xcoin_commands{status=RUNNING}"), Some(&1.0), "{text}");
    assert_eq!(m.get("xcoin_kill_switch_active{}"), Some(&0.0), "{text}");
    assert_eq!(m.get("xcoin_net_pnl_rupees{}"), Some(&0.0), "{text}");
    assert_eq!(m.get("xcoin_command_pickup_seconds{}"), Some(&1.0), "one pickup observed: {text}");

    let today: serde_json::Value = get("/api/today", Some("s3cret-token"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .parse::<serde_json::Value>()
        .unwrap();
    assert_eq!((today["orders"].as_i64(), today["kill_switch_active"].as_bool()), (Some(3), Some(false)));
    assert_eq!(today["pnl"]["net"], "0");

    // The engine loses its lock (or the broker): 503, saying which.
    health.send_replace(EngineHealth { lock_held: false, ..EngineHealth::default() });
    let down = get("/healthz", Some("s3cret-token")).await.unwrap();
    assert_eq!(down.status(), 503);
    let body: serde_json::Value = down.text().await.unwrap().parse::<serde_json::Value>().unwrap();
    assert_eq!((body["status"].as_str(), body["lock"]["state"].as_str()), (Some("degraded"), Some("lost")));
    stop.send_replace(true);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_engine_serves_the_port_when_enabled_and_beyond_loopback_only_with_a_token() {
    let t = test_db().await;
    let (started, port) = engine_serving(&t, settings(&t, None)).await;
    let (stop, stopped) = watch::channel(false);
    let engine = tokio::spawn(started.run(stopped));
    let health = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = health.text().await.unwrap().parse::<serde_json::Value>().unwrap();
    assert_eq!(body["ticker"]["state"], "none (paper exchange)");
    stop.send_replace(true);
    engine.await.unwrap().unwrap();

    // Configured to listen beyond this machine without a token: refused by name.
    let dir = tempfile::tempdir().unwrap();
    let doctor = |token: Option<&str>| {
        let mut env = vec![
            ("XCOIN_DASHBOARD__ENABLED", "true"),
            ("DASHBOARD_HOST", "0.0.0.0"),
            ("XCOIN_APP__DATA_DIR", dir.path().to_str().unwrap()),
        ];
        env.extend(token.map(|t| ("XCOIN_DASHBOARD__TOKEN", t)));
        let out = crate::procs::xcoin(dir.path(), &["doctor"], &env);
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let err = doctor(None);
    assert!(
        err.contains("config key `dashboard.token`")
            && err.contains("the dashboard listens on 0.0.0.0, beyond this machine"),
        "{err}"
    );
    // A token that could be guessed is refused there too, without showing it.
    let err = doctor(Some("short"));
    assert!(
        err.contains("config key `dashboard.token` = (5 characters)")
            && err.contains("at least 32 characters beyond this machine (the dashboard listens on 0.0.0.0)")
            && !err.contains("short"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_signal_is_placed_once_by_its_strategy_and_a_wrong_one_is_refused_by_name() {
    use xcoin::domain::order::{Exchange, OrderStatus};
    use xcoin::domain::strategy::{Registration, StrategyType};
    let t = test_db().await;
    let mut s = settings(&t, Some("dashboard-token"));
    s.dashboard.signals_per_minute = 3;
    s.paper.tick_interval_ms = 50;
    let id = t.register_strategy(&Registration::new("Breakout", StrategyType::Breakout)).await.unwrap().id;
    let token = t.new_webhook_token("Breakout").await.unwrap();
    let (started, port) = engine_serving(&t, s).await;
    let last = started.engine.last_price("INFY", Exchange::Nse).unwrap();
    let (stop, stopped) = watch::channel(false);
    let engine = tokio::spawn(started.run(stopped));

    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/api/signal");
    let send = |body: serde_json::Value| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let r =
                http.post(&url).header("content-type", "application/json").body(body.to_string()).send().await.unwrap();
            let code = r.status().as_u16();
            let retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
            (code, serde_json::from_str::<serde_json::Value>(&r.text().await.unwrap()).unwrap(), retry)
        }
    };
    let tick = rust_decimal::Decimal::new(5, 2);
    let stop_at = (last * rust_decimal::Decimal::new(99, 2) / tick).floor() * tick;
    let signal = serde_json::json!({
        "strategy": "Breakout", "token": token, "id": "alert-0931-INFY",
        "symbol": "INFY", "side": "BUY", "risk": 500, "stop": stop_at,
    });

    // Right token: placed as the strategy's, sized by risk from the last price,
    // without the dashboard's bearer token (a signal carries its own).
    let (code, first, _) = send(signal.clone()).await;
    assert_eq!(code, 200, "{first}");
    assert_eq!((first["status"].as_str(), first["repeat"].as_bool()), (Some("DONE"), Some(false)));
    assert!(first["result"].as_str().unwrap().starts_with("order 1 SUBMITTED BUY "), "{first}");
    assert_eq!(first["requested_by"], "webhook:Breakout");
    let order = t.get_order(1).await.unwrap();
    assert_eq!((order.strategy_id, order.placed_by.as_str()), (id, "webhook:Breakout"));
    let expected = (rust_decimal::Decimal::from(500) / (last - stop_at)).floor();
    assert_eq!(rust_decimal::Decimal::from(order.quantity), expected);

    // The same id again: the first result, nothing placed twice.
    let (code, again, _) = send(signal.clone()).await;
    assert_eq!(code, 200);
    assert_eq!((again["command"].clone(), again["repeat"].as_bool()), (first["command"].clone(), Some(true)));
    // (Once the entry fills, its stop rests at the exchange as an order of
    // the engine's own; the signal's orders are the strategy's.)
    let placed = t.today_orders().await.unwrap().into_iter().filter(|o| !o.is_resting_stop()).count();
    assert_eq!(placed, 1);

    // A wrong token, a body that is not the shape, an order the validator refuses.
    let mut wrong = signal.clone();
    wrong["token"] = "guess".into();
    wrong["id"] = "x1".into();
    let (code, body, _) = send(wrong).await;
    assert_eq!(
        (code, body["error"].as_str()),
        (401, Some("token: not the current webhook token of strategy \"Breakout\""))
    );
    let mut malformed = signal.clone();
    malformed["side"] = "HOLD".into();
    let (code, body, _) = send(malformed).await;
    assert_eq!((code, body["error"].as_str()), (400, Some("side: `HOLD` is not allowed; expected one of BUY, SELL")));
    let (code, body, _) = send(serde_json::json!({"strategy": "Breakout"})).await;
    assert_eq!(code, 400);
    assert!(body["error"].as_str().unwrap().starts_with("missing field `token`"), "{body}");
    let mut no_stop = signal.clone();
    no_stop.as_object_mut().unwrap().remove("risk");
    no_stop.as_object_mut().unwrap().remove("stop");
    no_stop["quantity"] = 1.into();
    no_stop["id"] = "alert-0932-INFY".into();
    let (code, body, _) = send(no_stop).await;
    assert_eq!(code, 422, "{body}");
    assert!(body["result"].as_str().unwrap().contains("stop loss: required on every position"), "{body}");
    // (The first order's resting stop may have taken the next id: the refused
    // order is found as the strategy's second.)
    let mine: Vec<_> =
        t.today_orders().await.unwrap().into_iter().filter(|o| o.placed_by == "webhook:Breakout").collect();
    let refused: Vec<_> = mine.iter().filter(|o| o.status == OrderStatus::Rejected).map(|o| o.quantity).collect();
    assert_eq!((mine.len(), refused), (2, vec![1]));

    // Three a minute: the first, its repeat and the refused one counted (a
    // wrong token or a malformed body never reaches the strategy's count);
    // the fourth is told when to come back.
    let mut more = signal.clone();
    more["id"] = "alert-0933-INFY".into();
    let (code, body, retry) = send(more).await;
    assert_eq!(code, 429, "{body}");
    assert!(body["error"].as_str().unwrap().starts_with("rate: at most 3 signals a minute for strategy \"Breakout\""));
    assert!(retry.unwrap().parse::<u64>().unwrap() <= 60);

    // The read-only routes still want the dashboard's bearer token.
    let health = http.get(format!("http://127.0.0.1:{port}/healthz")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 401);
    stop.send(true).unwrap();
    engine.await.unwrap().unwrap();
}
