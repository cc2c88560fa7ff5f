//! The local Kite-compatible exchange (`xcoin exchange`) on loopback: a LIVE
//! desk places, modifies, cancels and fills through the real Kite client
//! and ticker code, and the exchange refuses what Kite refuses, with Kite's
//! error types and HTTP statuses.

use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::engine::{buy_at, until};
use crate::support::*;
use xcoin::alerts::Alerts;
use xcoin::broker::paper::PaperConfig;
use xcoin::broker::{AnyBroker, Broker};
use xcoin::config::{Secret, Settings};
use xcoin::db::orders::OrderModification;
use xcoin::domain::instrument;
use xcoin::domain::order::{Exchange, OrderStatus, OrderType};
use xcoin::domain::strategy::TradingMode;
use xcoin::engine::{Engine, EngineConfig, runner};
use xcoin::exchange::{self, Venue};

/// An exchange on a free loopback port, its book in `book`.
pub struct LocalExchange {
    pub url: String,
    pub venue: Arc<Venue>,
    _stop: watch::Sender<bool>,
}

pub async fn local_exchange(book: &std::path::Path) -> LocalExchange {
    let paper =
        PaperConfig { state_file: Some(book.to_path_buf()), capital: Some(dec!(1000000)), ..Default::default() };
    let venue = Venue::new(&instrument::built_in(), paper).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(exchange::serve(listener, venue.clone(), stopped));
    LocalExchange { url, venue, _stop: stop }
}

/// A LIVE desk's settings pointed at the exchange: only the two URLs differ from Zerodha's.
pub fn live_settings(url: &str) -> Settings {
    let mut s = Settings::default();
    s.app.mode = TradingMode::Live;
    s.zerodha.api_key = Some(Secret::new("deskkey"));
    s.zerodha.access_token = Some(Secret::new("desktoken"));
    s.zerodha.api_url = format!("http://{url}");
    s.zerodha.ws_url = format!("ws://{url}/");
    s
}

/// `POST /sim/price`: a trade at `price` on the exchange.
pub async fn sim_price(url: &str, symbol: &str, price: Decimal) {
    let reply = reqwest::Client::new()
        .post(format!("http://{url}/sim/price"))
        .body(format!(r#"{{"symbol": "{symbol}", "price": "{price}"}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200, "{}", reply.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_desk_places_modifies_cancels_and_fills_through_kite_s_protocol() {
    let t = test_db().await;
    let dir = tempfile::tempdir().unwrap();
    let x = local_exchange(&dir.path().join("book.json")).await;
    let s = live_settings(&x.url);
    let (broker, tasks, _ticker) = runner::kite_broker(&s, Alerts::disabled()).await.unwrap();
    let AnyBroker::Kite(kite) = &broker else { panic!("a Kite broker") };
    assert!(kite.ticks().contains(&("INFY".to_string(), Exchange::Nse, dec!(0.05))), "ticks from the exchange's list");
    let mut cfg = EngineConfig::from_settings(&s);
    cfg.limits.enforce_market_hours = false;
    let mut e = Engine::start(t.db.clone(), broker, cfg).await.unwrap();
    let opening = instrument::built_in().into_iter().find(|i| i.symbol == "INFY").unwrap().reference_price;
    assert_eq!(e.last_price("INFY", Exchange::Nse), Some(opening), "the opening price from /quote/ltp");

    // A trade at the exchange reaches the engine as a binary ticker packet.
    sim_price(&x.url, "INFY", dec!(1490.05)).await;
    until(&mut e, "the tick", async |e| e.last_price("INFY", Exchange::Nse) == Some(dec!(1490.05))).await;

    // A limit below the market rests; it is modified, then cancelled.
    let order = e.place_order(&buy_at(dec!(1489.00), "INFY", 10, OrderType::Limit)).await.unwrap();
    let broker_id = order.broker_order_id.clone().unwrap();
    let status = |id| {
        let db = t.db.clone();
        async move { db.get_order(id).await.unwrap() }
    };
    until(&mut e, "OPEN from the order update", async |_| status(order.id).await.status == OrderStatus::Open).await;
    let change = OrderModification { quantity: None, price: Some(dec!(1488.50)), trigger_price: None };
    e.modify_order(order.id, change).await.unwrap();
    let at_exchange = x.venue.broker().orders().await.unwrap().into_iter().find(|o| o.broker_order_id == broker_id);
    assert_eq!(at_exchange.unwrap().price, Some(dec!(1488.50)), "the modification reached the exchange's book");
    e.cancel_order(order.id).await.unwrap();
    until(&mut e, "CANCELLED", async |_| status(order.id).await.status == OrderStatus::Cancelled).await;

    // A market order fills at the next trade, a tick of slippage against it.
    let order = e.place_order(&buy_at(dec!(1490.05), "INFY", 5, OrderType::Market)).await.unwrap();
    sim_price(&x.url, "INFY", dec!(1490.10)).await;
    until(&mut e, "FILLED", async |_| status(order.id).await.status == OrderStatus::Filled).await;
    let trades = t.trades_for_order(order.id).await.unwrap();
    let fills = x.venue.broker().trades().await.unwrap();
    assert_eq!(fills.len(), 1);
    assert_eq!(
        (trades.len(), trades[0].broker_trade_id.as_str(), trades[0].quantity, trades[0].price),
        (1, fills[0].trade_id.as_str(), 5, dec!(1490.15)),
        "the exchange's fill, recorded once"
    );
    let positions = t.open_positions().await.unwrap();
    assert_eq!((positions[0].quantity(), positions[0].average_price()), (5, dec!(1490.15)));
    // The exchange's positions and funds read back through the Kite client as the engine reads them.
    let held = e.broker.positions().await.unwrap();
    assert_eq!((held[0].symbol.as_str(), held[0].quantity, held[0].average_price), ("INFY", 5, dec!(1490.15)));
    let funds = e.broker.funds().await.unwrap();
    assert_eq!(funds.used_margin, dec!(1490.15) * dec!(5) / dec!(5), "MIS at 5×: the position's margin");
    assert_eq!(funds.opening_balance, dec!(1000000));
    for task in tasks {
        task.abort();
    }
}

/// One request to the exchange: its HTTP status, `error_type` and message.
async fn refusal(method: reqwest::Method, url: String, form: &[(&str, &str)]) -> (u16, String, String) {
    let reply = reqwest::Client::new()
        .request(method, url)
        .header("X-Kite-Version", "3")
        .header("Authorization", "token deskkey:desktoken")
        .form(form)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    let body: Value = serde_json::from_str(&reply.text().await.unwrap()).unwrap();
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_string();
    (status, text("error_type"), text("message"))
}

#[tokio::test]
async fn the_exchange_refuses_what_kite_refuses_with_kite_s_errors() {
    let dir = tempfile::tempdir().unwrap();
    let x = local_exchange(&dir.path().join("book.json")).await;
    let place = format!("http://{}/orders/regular", x.url);
    let order = |extra: &[(&'static str, &'static str)]| {
        let mut form = vec![
            ("tradingsymbol", "INFY"),
            ("exchange", "NSE"),
            ("transaction_type", "BUY"),
            ("quantity", "1"),
            ("product", "MIS"),
            ("validity", "DAY"),
        ];
        form.extend_from_slice(extra);
        form
    };
    let input = |m: &str| (400, "InputException".to_string(), m.to_string());
    assert_eq!(
        refusal(reqwest::Method::POST, place.clone(), &order(&[("order_type", "LIMIT"), ("price", "1490.03")])).await,
        input("Tick size for this script is 0.05. Kindly enter price in the multiple of tick size for this script")
    );
    let mut nrml = order(&[("order_type", "MARKET")]);
    nrml[4] = ("product", "NRML");
    assert_eq!(
        refusal(reqwest::Method::POST, place.clone(), &nrml).await,
        input("NRML is not allowed for equity. Use MIS for intraday or CNC for delivery.")
    );
    let wrong_side = order(&[("order_type", "SL"), ("price", "1490"), ("trigger_price", "1491")]);
    assert_eq!(
        refusal(reqwest::Method::POST, place.clone(), &wrong_side).await,
        input("Trigger price for stoploss buy orders should be less than limit price.")
    );
    // No session, or a logged-out one: TokenException, 403.
    let anonymous = reqwest::Client::new().get(format!("http://{}/orders", x.url)).send().await.unwrap();
    assert_eq!(anonymous.status(), 403);
    let logout = reqwest::Client::new()
        .delete(format!("http://{}/session/token?api_key=deskkey&access_token=gone", x.url))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 200);
    let gone = reqwest::Client::new()
        .get(format!("http://{}/orders", x.url))
        .header("Authorization", "token deskkey:gone")
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 403);
    assert!(gone.text().await.unwrap().contains(r#""error_type":"TokenException""#));

    // 25 modifications are taken; the 26th is refused and changes nothing.
    let resting = order(&[("order_type", "LIMIT"), ("price", "1400")]);
    let reply = reqwest::Client::new()
        .post(&place)
        .header("Authorization", "token deskkey:desktoken")
        .form(&resting)
        .send()
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&reply.text().await.unwrap()).unwrap();
    let id = body["data"]["order_id"].as_str().unwrap().to_string();
    let modify = format!("{place}/{id}");
    for n in 1..=25 {
        let price = format!("{}", dec!(1400) + Decimal::from(n) * dec!(0.05));
        let (status, kind, message) = refusal(reqwest::Method::PUT, modify.clone(), &[("price", &price)]).await;
        assert_eq!(status, 200, "modification {n}: {kind} {message}");
    }
    assert_eq!(
        refusal(reqwest::Method::PUT, modify.clone(), &[("price", "1402.00")]).await,
        (400, "OrderException".to_string(), "Maximum allowed order modifications exceeded.".to_string())
    );
    let book = x.venue.broker().orders().await.unwrap();
    assert_eq!(book[0].price, Some(dec!(1401.25)), "the 25th modification's price stands");

    // /sim/price takes only what it can trade.
    let bad = reqwest::Client::new()
        .post(format!("http://{}/sim/price", x.url))
        .body(r#"{"symbol": "INFY"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("missing field `price`"));
}

/// A free loopback port for a process of its own.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `what` every 20 ms until it holds (20 s at most).
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "{what} within 20 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The drill: `xcoin exchange` and a LIVE `xcoin engine` as processes of
/// their own. The engine buys with a stop, which comes to rest at the
/// exchange; the engine is SIGKILLed; the price falls through the stop at
/// the exchange, which fills it with no engine running; the next engine
/// finds the position flat, records the exit and its charges, and opens no
/// issue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_engine_killed_the_resting_stop_fills_at_the_exchange_and_the_next_engine_records_it() {
    use crate::procs::{Reaped, spawn_xcoin_logged};
    use xcoin::domain::command::OperatorCommand;
    let t = test_db_at(a_trading_morning()).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    let url = format!("127.0.0.1:{port}");
    let (shift_var, shift) = t.clock_env();
    let book = dir.path().join("exchange-book.json");
    let exchange_log = dir.path().join("exchange.log");
    let _exchange = Reaped(spawn_xcoin_logged(
        dir.path(),
        &["exchange", "--listen", &url, "--book", book.to_str().unwrap()],
        &[(shift_var, shift.as_str())],
        &exchange_log,
    ));
    let client = reqwest::Client::new();
    eventually("the exchange answers", || {
        let request = client.get(format!("http://{url}/instruments/NSE")).header("Authorization", "token k:t").send();
        async move { request.await.is_ok_and(|r| r.status() == 200) }
    })
    .await;

    let db_url = t.url();
    let (api, ws) = (format!("http://{url}"), format!("ws://{url}/"));
    let env = [
        ("DATABASE_URL", db_url.as_str()),
        ("XCOIN_APP__MODE", "live"),
        ("XCOIN_ZERODHA__API_URL", api.as_str()),
        ("XCOIN_ZERODHA__WS_URL", ws.as_str()),
        ("XCOIN_ZERODHA__API_KEY", "deskkey"),
        ("XCOIN_ZERODHA__API_SECRET", "desksecret"),
        ("XCOIN_ZERODHA__ACCESS_TOKEN", "desktoken"),
        (shift_var, shift.as_str()),
    ];
    let log = dir.path().join("engine.log");
    let mut first = spawn_xcoin_logged(dir.path(), &["engine"], &env, &log);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while t.engine_lock_holder().await.unwrap().is_none() {
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(tokio::time::Instant::now() < deadline, "the engine trades within 20 s:\n{said}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // An entry with a stop, filled at the next trade at the exchange.
    let last = instrument::built_in().into_iter().find(|i| i.symbol == "INFY").unwrap().reference_price;
    let mut entry = buy_at(last, "INFY", 10, OrderType::Market);
    entry.placed_by = "asha".into();
    let stop = entry.stop_loss.unwrap();
    let command = t.enqueue_command(&OperatorCommand::PlaceOrder(entry), "asha").await.unwrap();
    let done = t.command_result(command.id, Duration::from_secs(20)).await.unwrap();
    assert!(done.result.as_deref().unwrap_or_default().contains("SUBMITTED"), "{:?}", done.result);
    sim_price(&url, "INFY", last).await;
    eventually("the stop rests at the exchange", || async {
        t.active_orders().await.unwrap().iter().any(|o| o.is_resting_stop() && o.status == OrderStatus::Open)
    })
    .await;
    let resting = t.active_orders().await.unwrap().into_iter().find(|o| o.is_resting_stop()).unwrap();
    assert_eq!(
        (resting.side, resting.quantity, resting.trigger_price),
        (xcoin::domain::order::Side::Sell, 10, Some(stop))
    );
    eprintln!(
        "drill: bought 10 INFY; stop {} rests at the exchange as order {} (broker {})",
        stop,
        resting.id,
        resting.broker_order_id.as_deref().unwrap_or_default()
    );

    // Every engine gone.
    first.kill().unwrap();
    assert!(!first.wait().unwrap().success(), "SIGKILLed");
    eventually("the killed engine's lock is released", || async { t.engine_lock_holder().await.unwrap().is_none() })
        .await;
    eprintln!("drill: engine SIGKILLed; no engine runs");

    // The market falls through the stop: the exchange triggers it, then fills it.
    sim_price(&url, "INFY", stop - dec!(1)).await;
    sim_price(&url, "INFY", stop - dec!(1.05)).await;
    let positions = client
        .get(format!("http://{url}/portfolio/positions"))
        .header("Authorization", "token deskkey:desktoken")
        .send()
        .await
        .unwrap();
    let positions: Value = serde_json::from_str(&positions.text().await.unwrap()).unwrap();
    let net = &positions["data"]["net"][0];
    assert_eq!((net["tradingsymbol"].as_str(), net["quantity"].as_i64()), (Some("INFY"), Some(0)), "{positions}");
    eprintln!("drill: the price fell to {}; the exchange holds INFY flat", stop - dec!(1.05));
    assert_eq!(t.open_positions().await.unwrap().len(), 1, "the desk does not know yet");

    // The next engine.
    let second = Reaped(spawn_xcoin_logged(dir.path(), &["engine"], &env, &log));
    let started = std::time::Instant::now();
    eventually("the next engine records the exit", || async { t.open_positions().await.unwrap().is_empty() }).await;
    let exit = t.get_order(resting.id).await.unwrap();
    assert_eq!((exit.status, exit.filled_quantity), (OrderStatus::Filled, 10));
    let trades = t.trades_for_order(exit.id).await.unwrap();
    let charges: Decimal = trades.iter().map(|t| t.total_charges).sum();
    assert!(!trades.is_empty() && charges > Decimal::ZERO, "{trades:?}");
    let realised: Decimal = trades.iter().map(|t| t.realized_pnl).sum();
    eventually("the next engine's start-up reconciliation has run", || async {
        std::fs::read_to_string(&log).unwrap_or_default().matches("engine started LIVE").count() >= 2
    })
    .await;
    assert!(t.unresolved_issues().await.unwrap().is_empty(), "no issue");
    assert!(t.active_orders().await.unwrap().is_empty(), "nothing works at the broker");
    eprintln!(
        "drill: the next engine recorded the exit in {} ms: order {} FILLED 10 at {}, charges ₹{}, realised ₹{}; \
         0 open positions, 0 issues",
        started.elapsed().as_millis(),
        exit.id,
        exit.average_price.unwrap(),
        charges.round_dp(2),
        realised.round_dp(2)
    );
    drop(second);
}
