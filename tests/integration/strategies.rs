//! A strategy written outside the engine plugs in through the `Strategy`
//! trait, trades on the paper exchange through the validator under its own
//! name, hears its own fills, and places nothing while paused.

use crate::engine::{buy, engine_on, paper};
use crate::support::*;
use rust_decimal_macros::dec;
use std::sync::{Arc, Mutex};
use xcoin::domain::order::{Exchange, OrderRequest, OrderStatus, OrderType, Product, Side, Validity};
use xcoin::engine::strategy::{Intent, Strategy, View};

/// Buys 2 INFY once, with a stop a rupee under the last tick it saw; then
/// exits the position it holds when told of its fill.
struct OneShot {
    last: Option<rust_decimal::Decimal>,
    sent: bool,
    fills: Arc<Mutex<Vec<i64>>>,
}

impl Strategy for OneShot {
    fn name(&self) -> &str {
        "One Shot"
    }
    fn on_tick(&mut self, tick: &xcoin::broker::Tick) {
        if tick.symbol == "INFY" {
            self.last = Some(tick.last_price);
        }
    }
    fn on_fill(&mut self, _order: &xcoin::domain::order::Order, fill: &xcoin::domain::trade::Trade) {
        self.fills.lock().unwrap().push(fill.quantity);
    }
    fn decide(&mut self, view: &View) -> Vec<Intent> {
        if let Some(p) = view.positions.first() {
            return vec![Intent::Exit { position_id: p.id }];
        }
        let Some(last) = self.last.filter(|_| !self.sent) else { return vec![] };
        self.sent = true;
        vec![Intent::Place(OrderRequest {
            strategy_id: 999, // the engine sets its own id
            symbol: "INFY".into(),
            exchange: Exchange::Nse,
            side: Side::Buy,
            order_type: OrderType::Market,
            product: Product::Mis,
            validity: Validity::Day,
            quantity: 2,
            price: None,
            trigger_price: None,
            stop_loss: Some(last - dec!(1)),
            take_profit: None,
            parent_order_id: None,
            placed_by: "anyone".into(),
        })]
    }
}

#[tokio::test]
async fn a_strategy_from_outside_trades_through_the_validator_and_a_paused_one_places_nothing() {
    let t = test_db().await;
    let mut e = engine_on(&t, paper(1000)).await;
    let fills = Arc::new(Mutex::new(Vec::new()));
    let id = e.add_strategy(Box::new(OneShot { last: None, sent: false, fills: fills.clone() })).await.unwrap();
    assert_eq!(t.get_strategy(id).await.unwrap().name, "One Shot");

    // Paused: not asked, nothing placed.
    t.pause_strategy(id, "asha", "not today").await.unwrap();
    e.broker.step();
    e.drain_events().await.unwrap();
    e.run_strategies().await.unwrap();
    assert!(t.today_orders().await.unwrap().is_empty());

    // Resumed: its order goes through under its own id and name, and fills.
    t.resume_strategy(id).await.unwrap();
    e.run_strategies().await.unwrap();
    let orders = t.today_orders().await.unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!((orders[0].strategy_id, orders[0].placed_by.as_str(), orders[0].quantity), (id, "One Shot", 2));
    e.broker.step();
    e.drain_events().await.unwrap();
    assert_eq!(t.get_order(orders[0].id).await.unwrap().status, OrderStatus::Filled);
    assert_eq!(*fills.lock().unwrap(), [2], "it hears its own fill");

    // Its intent to exit what it holds becomes an exit order under its name.
    e.run_strategies().await.unwrap();
    let exits = t.active_orders().await.unwrap();
    assert_eq!((exits.len(), exits[0].side, exits[0].placed_by.as_str()), (1, Side::Sell, "One Shot"));

    // The kill switch stops it too.
    t.activate_kill_switch(&operator_activation("stop", "asha")).await.unwrap();
    let before = t.today_orders().await.unwrap().len();
    e.run_strategies().await.unwrap();
    assert_eq!(t.today_orders().await.unwrap().len(), before);
}

/// Buys `quantity` of each instrument it hears of, once each, one a call,
/// with a stop 1 % under the last price; remembers what it was told of.
struct EachOnce {
    quantity: i64,
    heard: Arc<Mutex<Vec<String>>>,
    last: Vec<(String, rust_decimal::Decimal)>,
    bought: Vec<String>,
    step: i64,
}

impl EachOnce {
    fn new(quantity: i64, heard: Arc<Mutex<Vec<String>>>) -> EachOnce {
        EachOnce { quantity, heard, last: vec![], bought: vec![], step: 1 }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EachOnceParameters {
    step: i64,
}

impl Strategy for EachOnce {
    fn name(&self) -> &str {
        "Each Once"
    }
    fn configure(&mut self, parameters: &serde_json::Value) -> Result<(), String> {
        if parameters.as_object().is_some_and(|o| o.is_empty()) {
            return Ok(());
        }
        let p: EachOnceParameters = xcoin::engine::strategy::parameters_of(parameters)?;
        if p.step < 1 {
            return Err(format!("parameters: step: 1 or more, got {}", p.step));
        }
        self.step = p.step;
        Ok(())
    }
    fn on_tick(&mut self, tick: &xcoin::broker::Tick) {
        self.heard.lock().unwrap().push(tick.symbol.clone());
        self.last.retain(|(s, _)| *s != tick.symbol);
        self.last.push((tick.symbol.clone(), tick.last_price));
        self.last.sort();
    }
    fn decide(&mut self, _view: &View) -> Vec<Intent> {
        let Some((symbol, last)) = self.last.iter().find(|(s, _)| !self.bought.contains(s)).cloned() else {
            return vec![];
        };
        self.bought.push(symbol.clone());
        let mut req = crate::engine::buy_at(last, &symbol, self.quantity * self.step, OrderType::Market);
        req.take_profit = None;
        vec![Intent::Place(req)]
    }
}

#[tokio::test]
async fn a_registered_strategy_meets_its_own_limits_hears_only_its_instruments_and_records_its_decisions() {
    use xcoin::domain::strategy::{Registration, StrategyType};
    let t = test_db().await;
    let mut r = Registration::new("Each Once", StrategyType::Momentum);
    r.instruments = vec!["INFY".into(), "TCS".into(), "SBIN".into()];
    r.max_positions = Some(2);
    r.capital_allocated = Some(dec!(10000));
    let id = t.register_strategy(&r).await.unwrap().id;

    let mut e = engine_on(&t, paper(1000)).await;
    let heard = Arc::new(Mutex::new(Vec::new()));
    assert_eq!(e.add_strategy(Box::new(EachOnce::new(1, heard.clone()))).await.unwrap(), id);
    for symbol in ["INFY", "ITC", "TCS", "SBIN"] {
        let p = e.broker.last_price(symbol, Exchange::Nse).unwrap();
        e.broker.set_price(symbol, Exchange::Nse, p).unwrap();
    }
    e.drain_events().await.unwrap();
    assert_eq!(*heard.lock().unwrap(), ["INFY", "TCS", "SBIN"], "ITC is not one of its instruments");

    // INFY (₹1,5xx) then SBIN fill; TCS would be a third position.
    for _ in 0..3 {
        e.run_strategies().await.unwrap();
        e.broker.step();
        e.drain_events().await.unwrap();
    }
    let orders = t.today_orders().await.unwrap();
    let by_symbol = |s: &str| orders.iter().find(|o| o.symbol == s).unwrap();
    assert_eq!(by_symbol("INFY").status, OrderStatus::Filled);
    assert_eq!(by_symbol("SBIN").status, OrderStatus::Filled);
    let tcs = by_symbol("TCS");
    assert_eq!(tcs.status, OrderStatus::Rejected);
    assert_eq!(tcs.status_reason.as_deref(), Some("strategy max positions: limit 2, the strategy has 2 open"));
    let s = t.get_strategy(id).await.unwrap();
    let decision = s.last_decision.unwrap();
    assert!(decision.starts_with(&format!("BUY 1 TCS MARKET: order {} REJECTED: strategy max positions", tcs.id)));
    assert!(s.last_decision_at.is_some());

    // Capital: ₹10,000 of value; what it holds plus 10 more INFY is over.
    r.max_positions = None;
    t.register_strategy(&r).await.unwrap();
    let held: rust_decimal::Decimal = t
        .open_positions()
        .await
        .unwrap()
        .iter()
        .filter(|p| p.strategy_id == id)
        .map(|p| p.average_price() * rust_decimal::Decimal::from(p.quantity()))
        .sum();
    let mut req = buy(&e, "TCS", 10, OrderType::Market);
    req.strategy_id = id;
    req.take_profit = None;
    let refused = e.place_order(&req).await.unwrap();
    let entry = e.last_price("TCS", Exchange::Nse).unwrap();
    assert_eq!(
        refused.status_reason.unwrap(),
        format!(
            "strategy capital: limit ₹10000, holds ₹{} and this order adds ₹{}",
            xcoin::domain::to_paisa(held).normalize(),
            xcoin::domain::to_paisa(entry * dec!(10)).normalize()
        )
    );

    // Its loss for the day: past the limit, it opens nothing more.
    r.capital_allocated = None;
    r.max_daily_loss = Some(dec!(0.01));
    t.register_strategy(&r).await.unwrap();
    let infy = t.open_positions().await.unwrap().into_iter().find(|p| p.symbol == "INFY").unwrap();
    let down = infy.average_price() - dec!(5);
    e.broker.set_price("INFY", Exchange::Nse, down).unwrap();
    e.drain_events().await.unwrap();
    e.monitor_risk().await;
    let refused = e.place_order(&req).await.unwrap();
    assert!(
        refused
            .status_reason
            .as_deref()
            .unwrap()
            .starts_with("strategy max daily loss: limit ₹0.01, the strategy's today ₹"),
        "{:?}",
        refused.status_reason
    );
    // The operators' own orders meet only the desk's limits.
    let mut manual = req.clone();
    manual.strategy_id = xcoin::domain::strategy::MANUAL_STRATEGY_ID;
    assert_ne!(e.place_order(&manual).await.unwrap().status, OrderStatus::Rejected);
}

#[tokio::test]
async fn parameters_and_registrations_are_checked_and_a_bad_one_names_its_field() {
    use xcoin::domain::strategy::{Registration, StrategyType};
    let t = test_db().await;
    let mut e = engine_on(&t, paper(1000)).await;

    // The demo's parameters: each wrong one named with what is allowed.
    let mut demo = Registration::new(xcoin::engine::demo::STRATEGY_NAME, StrategyType::Scalping);
    for (params, error) in [
        (serde_json::json!({"lookback": 1}), "parameters: lookback: 2 to 20 prices, got 1"),
        (serde_json::json!({"reward_risk": "12"}), "parameters: reward_risk: 1 to 10, got 12"),
        (
            serde_json::json!({"lookbak": 5}),
            "parameters: unknown field `lookbak`, expected one of `lookback`, `max_positions`, `reward_risk`",
        ),
    ] {
        demo.parameters = params;
        t.register_strategy(&demo).await.unwrap();
        let refused = e.enable_demo().await.unwrap_err().to_string();
        assert_eq!(refused, format!("strategy \"Demo Scalper\": {error}"));
    }
    demo.parameters = serde_json::json!({"lookback": 3, "max_positions": 1, "reward_risk": 2.5});
    t.register_strategy(&demo).await.unwrap();
    e.enable_demo().await.unwrap();

    // A strategy that takes no parameters refuses any.
    let mut r = Registration::new("One Shot", StrategyType::Custom);
    r.parameters = serde_json::json!({"size": 3});
    t.register_strategy(&r).await.unwrap();
    let fills = Arc::new(Mutex::new(Vec::new()));
    let refused = e.add_strategy(Box::new(OneShot { last: None, sent: false, fills })).await.unwrap_err();
    assert_eq!(refused.to_string(), "strategy \"One Shot\": parameters: unknown field `size`, there are no fields");

    // A LIVE strategy does not run on a PAPER desk.
    r.parameters = serde_json::json!({});
    r.mode = xcoin::domain::strategy::TradingMode::Live;
    t.register_strategy(&r).await.unwrap();
    let fills = Arc::new(Mutex::new(Vec::new()));
    let refused = e.add_strategy(Box::new(OneShot { last: None, sent: false, fills })).await.unwrap_err();
    assert!(refused.to_string().contains("is registered LIVE but this desk trades PAPER"), "{refused}");

    // Registrations: each wrong field named, nothing written.
    for (change, error) in [
        (
            Registration { instruments: vec!["infy".into()], ..r.clone() },
            "instruments: `infy` is not SYMBOL or EXCHANGE:SYMBOL",
        ),
        (
            Registration { instruments: vec!["NYSE:IBM".into()], ..r.clone() },
            "instruments: exchange: `NYSE` is not allowed",
        ),
        (Registration { parameters: serde_json::json!([1]), ..r.clone() }, "parameters: a JSON object"),
        (Registration { capital_allocated: Some(dec!(-1)), ..r.clone() }, "capital: rupees above 0, got -1"),
        (Registration { max_positions: Some(0), ..r.clone() }, "max positions: 1 to 1000, got 0"),
        (Registration { max_daily_loss: Some(dec!(0)), ..r.clone() }, "max daily loss: rupees above 0, got 0"),
        (Registration { strategy_type: StrategyType::Manual, ..r.clone() }, "type: strategy \"One Shot\" is custom"),
        (Registration { name: " x".into(), ..r.clone() }, "name: 1 to 64 characters"),
    ] {
        let refused = t.register_strategy(&change).await.unwrap_err().to_string();
        assert!(refused.starts_with(error), "{refused} / {error}");
    }
    assert_eq!(t.strategy_named("One Shot").await.unwrap().unwrap().mode, xcoin::domain::strategy::TradingMode::Live);
}

#[tokio::test]
async fn a_paper_strategy_on_a_live_desk_trades_in_the_paper_book_as_the_desk_allows() {
    use xcoin::domain::command::OperatorCommand;
    let t = test_db().await;
    let market = paper(1000);
    let data = tempfile::tempdir().unwrap();
    let mut cfg = crate::engine::config();
    cfg.data_dir = Some(data.path().to_path_buf());
    // The desk's broker is Kite; here the paper exchange stands in for it.
    let kite = StandIn::new(market.clone(), xcoin::domain::order::BrokerKind::Kite);
    let mut e = xcoin::engine::Engine::start(t.db.clone(), kite.clone(), cfg.clone()).await.unwrap();
    // Registered PAPER (a registration's default) on a desk that trades LIVE.
    let registration =
        xcoin::domain::strategy::Registration::new("One Shot", xcoin::domain::strategy::StrategyType::Custom);
    t.register_strategy(&registration).await.unwrap();
    let fills = Arc::new(Mutex::new(Vec::new()));
    let id = e.add_strategy(Box::new(OneShot { last: None, sent: false, fills: fills.clone() })).await.unwrap();
    let desk_name = t.options.get_database().unwrap().to_string();
    let book_options = t.options.clone().database(&xcoin::engine::shadow::database_name(&desk_name));
    let book = xcoin::db::Db::connect(book_options.clone(), xcoin::db::PoolConfig::default()).await.unwrap();
    let in_book = book.strategy_named("One Shot").await.unwrap().expect("registered in the paper book");
    assert_eq!(in_book.mode, xcoin::domain::strategy::TradingMode::Paper);

    // Live ticks reach it through the paper exchange of the paper book; its
    // order goes there, never to the desk's broker.
    market.step();
    e.drain_events().await.unwrap();
    e.trading_cycle().await;
    assert!(t.today_orders().await.unwrap().is_empty(), "nothing at the desk");
    assert!(xcoin::broker::Broker::orders(&market).await.unwrap().is_empty(), "nothing at the desk's broker");
    let orders = book.today_orders().await.unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!((orders[0].strategy_id, orders[0].placed_by.as_str(), orders[0].quantity), (in_book.id, "One Shot", 2));
    assert_eq!(orders[0].broker, xcoin::domain::order::BrokerKind::Paper);
    assert_eq!(orders[0].id, xcoin::engine::shadow::FIRST_ID, "numbered apart from the desk's");

    // The next live tick fills it on the paper exchange; the paper book holds
    // the position, the desk's book does not.
    market.step();
    e.drain_events().await.unwrap();
    assert_eq!(book.get_order(orders[0].id).await.unwrap().status, OrderStatus::Filled);
    assert_eq!(*fills.lock().unwrap(), [2], "it hears its own fill");
    assert_eq!(book.open_positions().await.unwrap().len(), 1);
    assert!(t.open_positions().await.unwrap().is_empty());
    let decision = t.get_strategy(id).await.unwrap().last_decision.unwrap();
    assert_eq!(decision, format!("paper book: BUY 2 INFY MARKET: order {} SUBMITTED", orders[0].id));

    // Paused at the desk: paused in the paper book; its exit is not placed.
    t.pause_strategy(id, "asha", "watching").await.unwrap();
    e.trading_cycle().await;
    let paused = book.strategy_named("One Shot").await.unwrap().unwrap();
    assert_eq!((paused.is_active, paused.paused_reason.as_deref()), (false, Some("paused at the desk")));
    // Only the position's stop works, resting at the paper exchange.
    let working = book.active_orders().await.unwrap();
    assert_eq!(working.iter().map(|o| o.is_resting_stop()).collect::<Vec<_>>(), [true], "{working:?}");
    t.resume_strategy(id).await.unwrap();
    e.trading_cycle().await;
    let working = book.active_orders().await.unwrap();
    assert_eq!(
        working.iter().map(|o| (o.is_resting_stop(), o.order_type)).collect::<Vec<_>>(),
        [(false, OrderType::Market)],
        "resumed: its exit goes out, its resting stop lifted first"
    );

    // An operator's (or the webhook's) order for it goes to the paper book too.
    let mut req = crate::engine::buy_at(market.last_price("TCS", Exchange::Nse).unwrap(), "TCS", 1, OrderType::Limit);
    req.strategy_id = id;
    t.enqueue_command(&OperatorCommand::PlaceOrder(req.clone()), "asha").await.unwrap();
    e.process_commands().await;
    assert!(t.today_orders().await.unwrap().is_empty(), "still nothing at the desk");
    let placed = book.today_orders().await.unwrap();
    let tcs = placed.iter().find(|o| o.symbol == "TCS").expect("the command's order, in the paper book");
    assert_eq!((tcs.strategy_id, tcs.placed_by.as_str()), (in_book.id, "asha"));

    // A paper book's id given to the desk names nothing there.
    let working = book.active_orders().await.unwrap()[0].id;
    let cancel = t.enqueue_command(&OperatorCommand::CancelOrder { order_id: working }, "asha").await.unwrap();
    e.process_commands().await;
    let failed = t.get_command(cancel.id).await.unwrap();
    assert_eq!(failed.result, Some(format!("order {working} does not exist")));
    assert!(book.get_order(working).await.unwrap().status.is_active());

    // A pause of the paper book's own (a goal there) is not undone by the desk.
    book.pause_strategy(in_book.id, "goal", "paper target reached").await.unwrap();
    e.trading_cycle().await;
    let own = book.strategy_named("One Shot").await.unwrap().unwrap();
    assert_eq!((own.is_active, own.paused_by.as_deref()), (false, Some("goal")));
    book.resume_strategy(in_book.id).await.unwrap();

    // The desk's kill switch stops it in the paper book as well.
    t.activate_kill_switch(&operator_activation("stop", "asha")).await.unwrap();
    let refused = t.enqueue_command(&OperatorCommand::PlaceOrder(req), "asha").await.unwrap();
    e.process_commands().await;
    assert_eq!(book.today_orders().await.unwrap().len(), placed.len());
    assert_eq!(
        t.get_command(refused.id).await.unwrap().result.as_deref(),
        Some("kill switch is active: no order for strategy \"One Shot\" (PAPER), even in the paper book")
    );
    e.trading_cycle().await;
    let stopped = book.strategy_named("One Shot").await.unwrap().unwrap();
    assert_eq!(stopped.paused_reason.as_deref(), Some("the desk's kill switch is active"));

    // Operators' orders (Manual Trading, registered PAPER as the schema
    // seeds it) are the desk's own: they go to the desk's broker.
    let mut manual =
        crate::engine::buy_at(market.last_price("SBIN", Exchange::Nse).unwrap(), "SBIN", 1, OrderType::Limit);
    manual.strategy_id = 1;
    t.deactivate_kill_switch("checked", "asha").await.unwrap();
    t.enqueue_command(&OperatorCommand::PlaceOrder(manual), "asha").await.unwrap();
    e.process_commands().await;
    let desk = t.today_orders().await.unwrap();
    assert_eq!(
        (desk.len(), desk[0].symbol.as_str(), desk[0].broker),
        (1, "SBIN", xcoin::domain::order::BrokerKind::Kite)
    );
    assert!(book.today_orders().await.unwrap().iter().all(|o| o.symbol != "SBIN"));

    // A restart opens the paper book at once: the exit working there before
    // fills on the next live tick, on the paper exchange kept on disk.
    assert!(book.open_positions().await.unwrap().iter().any(|p| p.symbol == "INFY"));
    drop(e);
    let mut e = xcoin::engine::Engine::start(t.db.clone(), kite, cfg).await.unwrap();
    market.step();
    e.drain_events().await.unwrap();
    assert!(book.open_positions().await.unwrap().iter().all(|p| p.symbol != "INFY"), "the exit filled");
    drop(e);
    // The paper book's exchange keeps its book in the data directory, named
    // by the paper book's database: a restart finds what was working there.
    let kept: Vec<String> = std::fs::read_dir(data.path())
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(kept.iter().any(|f| f.starts_with("paper-exchange-") && f.ends_with(".json")), "{kept:?}");
    book.close().await;
    xcoin::db::bench::drop_database(&book_options).await.unwrap();
}
