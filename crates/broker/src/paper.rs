//! The paper exchange: a simulated broker that behaves like a real one.
//!
//! Prices move by a seeded random walk on each instrument's tick (so a run is
//! reproducible), or are set by a test or a replayed tick file. Orders match
//! against the last price when the next tick arrives:
//!
//! * MARKET fills at the next tick, `slippage_ticks` against the order;
//! * LIMIT fills at its limit price once the price trades through it;
//! * SL triggers when the price reaches the trigger (a buy at or above, a sell
//!   at or below) and then works as a LIMIT; SL-M triggers and then fills as a
//!   MARKET;
//! * at most `liquidity_per_tick` shares fill per order per tick, so a large
//!   order fills in parts;
//! * IOC cancels whatever did not fill at the first tick it could trade.
//!
//! The exchange keeps its own order book, trades and net positions — the
//! broker side that reconciliation compares with — and, given a state file,
//! survives restarts of the engine as a real broker would. For demos and
//! tests it can apply an external trade that the local book knows nothing of.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use xcoin_model::funds::{Funds, added_exposure, insufficient_funds, margin_for};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::{Broker, BrokerError, BrokerEvent, BrokerFill, BrokerOrder, MarketData, Modify, PlaceRequest, Tick};
use xcoin_model::instrument::Instrument;
use xcoin_model::is_on_tick;
use xcoin_model::order::{BrokerKind, Exchange, OrderStatus, OrderType, Product, Side, Validity};
use xcoin_model::position::PositionBook;
use xcoin_model::reconciliation::Holding;

/// How the simulated exchange behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaperConfig {
    pub seed: u64,
    /// Ticks a market order pays against itself.
    pub slippage_ticks: u32,
    /// Most shares one order fills per tick.
    pub liquidity_per_tick: i64,
    /// Where the exchange keeps its book between runs; `None` keeps it in memory.
    pub state_file: Option<PathBuf>,
    /// The account's capital: funds and margin are simulated from it, and an
    /// order needing more margin than is free is refused as Kite refuses it.
    /// `None`: no funds are kept and no order is refused for margin.
    pub capital: Option<Decimal>,
    /// Intraday (MIS) leverage; delivery (CNC) is at 1×.
    pub mis_leverage: Decimal,
}

impl Default for PaperConfig {
    fn default() -> Self {
        PaperConfig {
            seed: 1,
            slippage_ticks: 1,
            liquidity_per_tick: 500,
            state_file: None,
            capital: None,
            mis_leverage: Decimal::from(xcoin_model::funds::DEFAULT_MIS_LEVERAGE),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Quote {
    symbol: String,
    exchange: Exchange,
    last: Decimal,
    tick: Decimal,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct WorkingOrder {
    order: BrokerOrder,
    /// SL and SL-M: the trigger has been reached.
    triggered: bool,
    /// A limit that is not marketable rests in the book: when the price later
    /// trades through it, it fills at its limit. While it is marketable
    /// (on arrival, and part after part while the market stays through its
    /// limit) it fills at the market, which is better.
    #[serde(default)]
    rested: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Book {
    orders: BTreeMap<String, WorkingOrder>,
    trades: Vec<BrokerFill>,
    /// (symbol, exchange, product) → (signed quantity, average price).
    positions: BTreeMap<String, (Exchange, Product, String, i64, Decimal)>,
    next_order: u64,
    next_trade: u64,
    /// Realised P&L of every fill the book has seen (its cash beside the capital).
    #[serde(default)]
    realised: Decimal,
}

struct State {
    rng: u64,
    quotes: BTreeMap<String, Quote>,
    book: Book,
}

fn quote_key(symbol: &str, exchange: Exchange) -> String {
    format!("{exchange}:{symbol}")
}

fn position_key(symbol: &str, exchange: Exchange, product: Product) -> String {
    format!("{exchange}:{symbol}:{product}")
}

impl State {
    /// A step of −2 to +2 ticks, weighted towards small moves.
    fn next_step(&mut self) -> i64 {
        self.rng = self.rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        match (self.rng >> 33) % 10 {
            0 => -2,
            1..=3 => -1,
            4 | 5 => 0,
            6..=8 => 1,
            _ => 2,
        }
    }

    fn apply_to_position(
        &mut self,
        symbol: &str,
        exchange: Exchange,
        product: Product,
        side: Side,
        qty: i64,
        price: Decimal,
    ) {
        let key = position_key(symbol, exchange, product);
        let (_, _, _, held, avg) =
            self.book.positions.get(&key).cloned().unwrap_or((exchange, product, symbol.to_string(), 0, Decimal::ZERO));
        let mut p = PositionBook::holding(held, avg);
        self.book.realised += p.apply_fill(side, qty, price).realized_pnl;
        self.book.positions.insert(key, (exchange, product, symbol.to_string(), p.quantity, p.average_price));
    }

    /// The signed quantity held in an instrument and product.
    fn held(&self, symbol: &str, exchange: Exchange, product: Product) -> i64 {
        self.book.positions.get(&position_key(symbol, exchange, product)).map_or(0, |p| p.3)
    }

    fn last(&self, symbol: &str, exchange: Exchange) -> Option<Decimal> {
        self.quotes.get(&quote_key(symbol, exchange)).map(|q| q.last)
    }

    /// Margin a working order blocks: its shares that add exposure, at its
    /// price (a market order at the last price).
    fn order_margin(&self, o: &BrokerOrder, mis_leverage: Decimal) -> Decimal {
        let pending = o.quantity - o.filled_quantity;
        let added = added_exposure(self.held(&o.symbol, o.exchange, o.product), o.side.sign(), pending);
        let price = o.price.or(o.trigger_price).or_else(|| self.last(&o.symbol, o.exchange)).unwrap_or_default();
        margin_for(o.product, price * Decimal::from(added), mis_leverage)
    }

    /// The account's funds from `capital`: cash is the capital plus what the
    /// book realised; margin is blocked by open positions (at their average)
    /// and by working orders; unrealised losses (not gains) reduce what is free.
    fn funds(&self, capital: Decimal, mis_leverage: Decimal) -> Funds {
        let mut used = Decimal::ZERO;
        let mut unrealised = Decimal::ZERO;
        for (exchange, product, symbol, quantity, average) in self.book.positions.values() {
            let q = Decimal::from(*quantity);
            used += margin_for(*product, *average * q, mis_leverage);
            unrealised += (self.last(symbol, *exchange).unwrap_or(*average) - *average) * q;
        }
        for w in self.book.orders.values().filter(|w| !w.order.status.is_terminal()) {
            used += self.order_margin(&w.order, mis_leverage);
        }
        let cash = capital + self.book.realised;
        Funds {
            opening_balance: capital,
            cash,
            used_margin: used,
            m2m_realised: self.book.realised,
            m2m_unrealised: unrealised,
            available_margin: cash + unrealised.min(Decimal::ZERO) - used,
        }
    }

    /// Matches one working order against the last price; returns events.
    /// Long by design: the exchange's matching rules (trigger, limit,
    /// market protection, liquidity, slippage) in the order they apply.
    fn match_order(&mut self, id: &str, liquidity: i64, slippage: u32, events: &mut Vec<BrokerEvent>) {
        let Some(mut w) = self.book.orders.get(id).cloned() else { return };
        if w.order.status.is_terminal() {
            return;
        }
        let Some(q) = self.quotes.get(&quote_key(&w.order.symbol, w.order.exchange)).cloned() else { return };
        let buy = w.order.side == Side::Buy;
        if matches!(w.order.order_type, OrderType::StopLoss | OrderType::StopLossMarket) && !w.triggered {
            let trigger = w.order.trigger_price.expect("stop orders carry a trigger");
            if (buy && q.last >= trigger) || (!buy && q.last <= trigger) {
                w.triggered = true;
                // Kite's order moves from TRIGGER PENDING on: say so.
                w.order.trigger_pending = Some(false);
                w.order.updated_at = xcoin_model::clock::now();
                events.push(BrokerEvent::Order(w.order.clone()));
            } else {
                self.book.orders.insert(id.to_string(), w);
                return;
            }
        }
        let fill_price = match w.order.order_type {
            OrderType::Market | OrderType::StopLossMarket => {
                let slip = q.tick * Decimal::from(slippage);
                Some(if buy { q.last + slip } else { (q.last - slip).max(q.tick) })
            }
            OrderType::Limit | OrderType::StopLoss => {
                let limit = w.order.price.expect("limit orders carry a price");
                let marketable = (buy && q.last <= limit) || (!buy && q.last >= limit);
                let price = if w.rested {
                    limit
                } else if buy {
                    q.last.min(limit)
                } else {
                    q.last.max(limit)
                };
                // Only an order the market did not reach rests: a marketable one
                // takes the market on every part until it does not.
                if !marketable {
                    w.rested = true;
                }
                marketable.then_some(price)
            }
        };
        let now = xcoin_model::clock::now();
        if let Some(price) = fill_price {
            let remaining = w.order.quantity - w.order.filled_quantity;
            let qty = remaining.min(liquidity.max(1));
            self.book.next_trade += 1;
            let fill = BrokerFill {
                broker_order_id: id.to_string(),
                trade_id: format!("PT{:08}", self.book.next_trade),
                symbol: w.order.symbol.clone(),
                exchange: w.order.exchange,
                side: w.order.side,
                product: w.order.product,
                quantity: qty,
                price,
                at: now,
            };
            let filled = w.order.filled_quantity + qty;
            let average = (w.order.average_price.unwrap_or_default() * Decimal::from(w.order.filled_quantity)
                + price * Decimal::from(qty))
                / Decimal::from(filled);
            w.order.filled_quantity = filled;
            w.order.average_price = Some(average.round_dp(4));
            w.order.status = OrderStatus::after_fill(filled, w.order.quantity);
            w.order.updated_at = now;
            self.apply_to_position(&fill.symbol, fill.exchange, fill.product, fill.side, qty, price);
            self.book.trades.push(fill.clone());
            events.push(BrokerEvent::Fill(fill));
        }
        if w.order.validity == Validity::Ioc && w.order.status.is_active() {
            w.order.status = OrderStatus::Cancelled;
            w.order.message = Some("IOC: the unfilled quantity was cancelled".into());
            w.order.updated_at = now;
        }
        if fill_price.is_some() || w.order.status.is_terminal() {
            events.push(BrokerEvent::Order(w.order.clone()));
        }
        self.book.orders.insert(id.to_string(), w);
    }

    fn match_symbol(&mut self, key: &str, liquidity: i64, slippage: u32, events: &mut Vec<BrokerEvent>) {
        let ids: Vec<String> = self
            .book
            .orders
            .iter()
            .filter(|(_, w)| w.order.status.is_active() && quote_key(&w.order.symbol, w.order.exchange) == key)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.match_order(&id, liquidity, slippage, events);
        }
    }
}

/// The simulated exchange. Clones share one exchange.
#[derive(Clone)]
pub struct PaperBroker {
    state: Arc<Mutex<State>>,
    events: broadcast::Sender<BrokerEvent>,
    config: Arc<PaperConfig>,
}

impl PaperBroker {
    /// An exchange quoting `instruments` at their reference prices, with the
    /// book from the state file when there is one.
    pub fn new(instruments: &[Instrument], config: PaperConfig) -> Result<PaperBroker, BrokerError> {
        let quotes = instruments
            .iter()
            .map(|i| {
                let q = Quote {
                    symbol: i.symbol.clone(),
                    exchange: i.exchange,
                    last: i.reference_price,
                    tick: i.tick_size,
                };
                (quote_key(&i.symbol, i.exchange), q)
            })
            .collect();
        let book = match &config.state_file {
            Some(path) if path.exists() => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| BrokerError::Unavailable(format!("cannot read {}: {e}", path.display())))?;
                serde_json::from_str(&text).map_err(|e| {
                    BrokerError::Unavailable(format!("{} is not a paper exchange book: {e}", path.display()))
                })?
            }
            _ => Book::default(),
        };
        let (events, _) = broadcast::channel(8192);
        Ok(PaperBroker {
            state: Arc::new(Mutex::new(State { rng: config.seed, quotes, book })),
            events,
            config: Arc::new(config),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn persist(&self, book: &Book) {
        let Some(path) = &self.config.state_file else { return };
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            // The whole trading book: readable by XCoin's user only.
            xcoin_config::files::replace_private(path, &serde_json::to_vec(book).expect("the book serialises"))
        };
        if let Err(e) = write() {
            tracing::error!(path = %path.display(), error = %e, "cannot save the paper exchange book");
        }
    }

    fn publish(&self, events: Vec<BrokerEvent>) {
        for e in events {
            // No subscriber is fine: the engine reads the book on start.
            let _ = self.events.send(e);
        }
    }

    /// Moves every price one random-walk step and matches working orders.
    pub fn step(&self) {
        let events = {
            let mut s = self.lock();
            let mut events = Vec::new();
            let keys: Vec<String> = s.quotes.keys().cloned().collect();
            let now = xcoin_model::clock::now();
            for key in &keys {
                let step = s.next_step();
                let q = s.quotes.get_mut(key).expect("quote exists");
                q.last = (q.last + q.tick * Decimal::from(step)).max(q.tick);
                events.push(BrokerEvent::Tick(Tick {
                    symbol: q.symbol.clone(),
                    exchange: q.exchange,
                    last_price: q.last,
                    at: now,
                }));
            }
            let before = events.len();
            for key in &keys {
                s.match_symbol(key, self.config.liquidity_per_tick, self.config.slippage_ticks, &mut events);
            }
            if events.len() > before {
                self.persist(&s.book);
            }
            events
        };
        self.publish(events);
    }

    /// Sets one instrument's last price (a replayed tick, or a test moving the
    /// market) and matches its working orders.
    pub fn set_price(&self, symbol: &str, exchange: Exchange, price: Decimal) -> Result<(), BrokerError> {
        let events = {
            let mut s = self.lock();
            let key = quote_key(symbol, exchange);
            let q = s
                .quotes
                .get_mut(&key)
                .ok_or_else(|| BrokerError::Rejected(format!("{key} is not a tradable instrument")))?;
            if price <= Decimal::ZERO || !is_on_tick(price, q.tick) {
                return Err(BrokerError::Rejected(format!("{price} is not a price on the {} tick", q.tick)));
            }
            q.last = price;
            let mut events = vec![BrokerEvent::Tick(Tick {
                symbol: symbol.to_string(),
                exchange,
                last_price: price,
                at: xcoin_model::clock::now(),
            })];
            s.match_symbol(&key, self.config.liquidity_per_tick, self.config.slippage_ticks, &mut events);
            if events.len() > 1 {
                self.persist(&s.book);
            }
            events
        };
        self.publish(events);
        Ok(())
    }

    pub fn last_price(&self, symbol: &str, exchange: Exchange) -> Option<Decimal> {
        self.lock().quotes.get(&quote_key(symbol, exchange)).map(|q| q.last)
    }

    /// Every instrument's last price.
    pub fn snapshot(&self) -> Vec<Tick> {
        let now = xcoin_model::clock::now();
        self.lock()
            .quotes
            .values()
            .map(|q| Tick { symbol: q.symbol.clone(), exchange: q.exchange, last_price: q.last, at: now })
            .collect()
    }

    /// A trade done outside XCoin (another terminal, a manual call to the
    /// broker): it changes the broker's positions only.
    pub fn apply_external_trade(
        &self,
        symbol: &str,
        exchange: Exchange,
        product: Product,
        side: Side,
        quantity: i64,
        price: Decimal,
    ) -> Result<(), BrokerError> {
        if quantity <= 0 || price <= Decimal::ZERO {
            return Err(BrokerError::Rejected("an external trade needs a positive quantity and price".into()));
        }
        let mut s = self.lock();
        s.apply_to_position(symbol, exchange, product, side, quantity, price);
        s.book.next_trade += 1;
        let fill = BrokerFill {
            broker_order_id: format!("EXT{:08}", s.book.next_trade),
            trade_id: format!("PT{:08}", s.book.next_trade),
            symbol: symbol.to_string(),
            exchange,
            side,
            product,
            quantity,
            price,
            at: xcoin_model::clock::now(),
        };
        s.book.trades.push(fill);
        self.persist(&s.book);
        Ok(())
    }

    /// Drives the random walk every `every` until the returned handle is aborted.
    pub fn run_feed(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                interval.tick().await;
                me.step();
            }
        })
    }

    /// Replays recorded ticks (`symbol,exchange,price` lines after a header),
    /// one every `every`, instead of the random walk. The file is read and
    /// checked before anything is replayed; an error names the line.
    pub fn replay(&self, csv: &str, every: Duration) -> Result<tokio::task::JoinHandle<()>, BrokerError> {
        let mut ticks = Vec::new();
        for (n, line) in csv.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |what: String| BrokerError::Rejected(format!("replay line {}: {what}", n + 1));
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let [symbol, exchange, price] = fields[..] else {
                return Err(bad(format!("expected symbol,exchange,price, found {} fields", fields.len())));
            };
            let exchange: Exchange = exchange.parse().map_err(|e: xcoin_model::ParseEnumError| bad(e.to_string()))?;
            let price: Decimal = price.parse().map_err(|_| bad(format!("`{price}` is not a price")))?;
            if self.last_price(symbol, exchange).is_none() {
                return Err(bad(format!("{exchange}:{symbol} is not a tradable instrument")));
            }
            ticks.push((symbol.to_string(), exchange, price));
        }
        let me = self.clone();
        Ok(tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            for (symbol, exchange, price) in ticks {
                interval.tick().await;
                if let Err(e) = me.set_price(&symbol, exchange, price) {
                    tracing::warn!(error = %e, "replayed tick skipped");
                }
            }
            tracing::info!("tick replay finished");
        }))
    }

    /// Applies `change` to a working order (one not yet FILLED, CANCELLED or
    /// REJECTED), saves the book and reports the order.
    fn change_working(
        &self,
        broker_order_id: &str,
        change: impl FnOnce(&mut BrokerOrder) -> Result<(), BrokerError>,
    ) -> Result<(), BrokerError> {
        let order = {
            let mut s = self.lock();
            let w = s
                .book
                .orders
                .get_mut(broker_order_id)
                .ok_or_else(|| BrokerError::UnknownOrder(broker_order_id.to_string()))?;
            if w.order.status.is_terminal() {
                return Err(BrokerError::Rejected(format!("order {broker_order_id} is already {}", w.order.status)));
            }
            change(&mut w.order)?;
            w.order.updated_at = xcoin_model::clock::now();
            let order = w.order.clone();
            self.persist(&s.book);
            order
        };
        self.publish(vec![BrokerEvent::Order(order)]);
        Ok(())
    }

    pub fn state_file(&self) -> Option<&Path> {
        self.config.state_file.as_deref()
    }
}

impl MarketData for PaperBroker {
    async fn last_prices(&self) -> Result<Vec<Tick>, BrokerError> {
        Ok(self.snapshot())
    }
}

impl Broker for PaperBroker {
    fn kind(&self) -> BrokerKind {
        BrokerKind::Paper
    }

    async fn place(&self, req: &PlaceRequest) -> Result<String, BrokerError> {
        let order = {
            let mut s = self.lock();
            let key = quote_key(&req.symbol, req.exchange);
            let tick = s
                .quotes
                .get(&key)
                .map(|q| q.tick)
                .ok_or_else(|| BrokerError::Rejected(format!("{key} is not a tradable instrument")))?;
            if req.quantity <= 0 {
                return Err(BrokerError::Rejected(format!("quantity {} must be positive", req.quantity)));
            }
            for (field, value) in [("price", req.price), ("trigger price", req.trigger_price)] {
                if let Some(v) = value
                    && (v <= Decimal::ZERO || !is_on_tick(v, tick))
                {
                    return Err(BrokerError::Rejected(format!("{field} {v} is not on the {tick} tick")));
                }
            }
            if req.order_type.needs_price() != req.price.is_some()
                || req.order_type.needs_trigger() != req.trigger_price.is_some()
            {
                return Err(BrokerError::Rejected(format!("a {} order has the wrong price fields", req.order_type)));
            }
            if let Some(capital) = self.config.capital {
                let lev = self.config.mis_leverage;
                let free = s.funds(capital, lev).available_margin;
                let added =
                    added_exposure(s.held(&req.symbol, req.exchange, req.product), req.side.sign(), req.quantity);
                let price = req.price.or(req.trigger_price).or_else(|| s.last(&req.symbol, req.exchange));
                let required = margin_for(req.product, price.unwrap_or_default() * Decimal::from(added), lev);
                if required > free {
                    return Err(BrokerError::Rejected(insufficient_funds(required, free)));
                }
            }
            s.book.next_order += 1;
            let id = format!("PO{:08}", s.book.next_order);
            let order = BrokerOrder {
                broker_order_id: id.clone(),
                tag: Some(req.tag.clone()),
                symbol: req.symbol.clone(),
                exchange: req.exchange,
                side: req.side,
                order_type: req.order_type,
                product: req.product,
                validity: req.validity,
                quantity: req.quantity,
                filled_quantity: 0,
                average_price: None,
                price: req.price,
                trigger_price: req.trigger_price,
                status: OrderStatus::Open,
                trigger_pending: Some(matches!(req.order_type, OrderType::StopLoss | OrderType::StopLossMarket)),
                message: None,
                updated_at: xcoin_model::clock::now(),
            };
            s.book.orders.insert(id, WorkingOrder { order: order.clone(), triggered: false, rested: false });
            self.persist(&s.book);
            order
        };
        let id = order.broker_order_id.clone();
        self.publish(vec![BrokerEvent::Order(order)]);
        Ok(id)
    }

    async fn modify(&self, broker_order_id: &str, change: Modify) -> Result<(), BrokerError> {
        self.change_working(broker_order_id, |o| {
            if let Some(q) = change.quantity {
                if q <= o.filled_quantity {
                    return Err(BrokerError::Rejected(format!(
                        "quantity {q} must exceed the {} already filled",
                        o.filled_quantity
                    )));
                }
                o.quantity = q;
            }
            if change.price.is_some() {
                o.price = change.price;
            }
            if change.trigger_price.is_some() {
                o.trigger_price = change.trigger_price;
            }
            Ok(())
        })
    }

    async fn cancel(&self, broker_order_id: &str) -> Result<(), BrokerError> {
        self.change_working(broker_order_id, |o| {
            o.status = OrderStatus::Cancelled;
            o.message = Some("cancelled on request".into());
            Ok(())
        })
    }

    async fn orders(&self) -> Result<Vec<BrokerOrder>, BrokerError> {
        Ok(self.lock().book.orders.values().map(|w| w.order.clone()).collect())
    }

    async fn trades(&self) -> Result<Vec<BrokerFill>, BrokerError> {
        Ok(self.lock().book.trades.clone())
    }

    async fn positions(&self) -> Result<Vec<Holding>, BrokerError> {
        Ok(self
            .lock()
            .book
            .positions
            .values()
            .map(|(exchange, product, symbol, quantity, average)| Holding {
                symbol: symbol.clone(),
                exchange: *exchange,
                product: *product,
                quantity: *quantity,
                average_price: *average,
            })
            .collect())
    }

    fn subscribe(&self) -> broadcast::Receiver<BrokerEvent> {
        self.events.subscribe()
    }

    async fn funds(&self) -> Result<Funds, BrokerError> {
        let capital = self
            .config
            .capital
            .ok_or_else(|| BrokerError::Unavailable("the paper exchange keeps no funds without a capital".into()))?;
        Ok(self.lock().funds(capital, self.config.mis_leverage))
    }
}

#[cfg(test)]
mod tests;
