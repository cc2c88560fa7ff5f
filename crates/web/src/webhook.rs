//! Signals from outside: `POST /api/signal` on the dashboard port. A
//! charting platform's alert or a notebook sends one JSON body per order;
//! it becomes a place-order command of the strategy it names, queued,
//! validated, audited and answered exactly like an operator's.
//!
//! ```json
//! {"strategy": "Breakout 15m", "token": "…", "id": "alert-2026-12-01-0931-INFY",
//!  "symbol": "INFY", "side": "BUY", "quantity": 10,
//!  "order_type": "LIMIT", "price": 1502.50, "stop": 1490.00, "target": 1530.00}
//! ```
//!
//! - `strategy`, `token`: the strategy's name and its current webhook token
//!   (`xcoin strategy token NAME`); the token is the strategy's own, so one
//!   leaked token signals for one strategy only.
//! - `id`: the sender's id for this signal, 1–64 characters. The same id
//!   again is answered with the first signal's result (`"repeat": true`)
//!   and places nothing: an alert sent twice is one order.
//! - `symbol`, `side` (BUY/SELL), `exchange` (NSE), `product` (MIS),
//!   `order_type` (MARKET, LIMIT, SL, SL-M; MARKET when absent), `price`,
//!   `trigger_price`, `stop`, `target`.
//! - Exactly one of `quantity` (shares) or `risk` (rupees lost at the stop:
//!   the quantity is risk ÷ |entry − stop|, rounded down; the entry is the
//!   price, else the trigger, else the last traded price).
//!
//! Answers: 200 done, 422 refused by the engine (the rule in `result`),
//! 202 still queued after 10 s, 400 a body that is not the shape (the field
//! named, and what is allowed), 401 a wrong token, 429 over the strategy's
//! rate (`dashboard.signals_per_minute`, with `Retry-After`). The body is
//! always JSON.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_decimal::Decimal;
use serde::Deserialize;

use xcoin_db::Db;
use xcoin_model::command::{CommandStatus, OperatorCommand};
use xcoin_model::instrument::Ticks;
use xcoin_model::order::{Exchange, OrderRequest, OrderType, Product, Side, Validity};

/// How long a signal waits for the engine's result before answering 202.
pub const WAIT: Duration = Duration::from_secs(10);

/// A signal as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signal {
    pub strategy: String,
    pub token: String,
    pub id: String,
    pub symbol: String,
    pub side: Side,
    #[serde(default)]
    pub exchange: Option<Exchange>,
    #[serde(default)]
    pub product: Option<Product>,
    #[serde(default)]
    pub order_type: Option<OrderType>,
    #[serde(default)]
    pub quantity: Option<i64>,
    #[serde(default)]
    pub risk: Option<Decimal>,
    #[serde(default)]
    pub price: Option<Decimal>,
    #[serde(default)]
    pub trigger_price: Option<Decimal>,
    #[serde(default)]
    pub stop: Option<Decimal>,
    #[serde(default)]
    pub target: Option<Decimal>,
}

/// Reads a body, naming the field that does not fit.
pub fn parse(body: &[u8]) -> Result<Signal, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // With the field named, where it sits in the body adds nothing.
        let inner = match inner.rsplit_once(" at line ") {
            Some((what, _)) if path != "." => what.to_string(),
            _ => inner,
        };
        if path == "." { inner } else { format!("{path}: {inner}") }
    })
}

impl Signal {
    /// The order it asks for, as strategy `strategy_id`: the shape checked
    /// (each field named), the quantity from `risk` when sized by risk.
    pub fn request(
        &self,
        strategy_id: i64,
        placed_by: &str,
        ticks: &Ticks,
        last_price: Option<Decimal>,
    ) -> Result<OrderRequest, String> {
        let symbol = self.symbol.trim().to_ascii_uppercase();
        let exchange = self.exchange.unwrap_or(Exchange::Nse);
        let mut req = OrderRequest {
            strategy_id,
            symbol,
            exchange,
            side: self.side,
            order_type: self.order_type.unwrap_or(OrderType::Market),
            product: self.product.unwrap_or(Product::Mis),
            validity: Validity::Day,
            quantity: 0,
            price: self.price,
            trigger_price: self.trigger_price,
            stop_loss: self.stop,
            take_profit: self.target,
            parent_order_id: None,
            placed_by: placed_by.to_string(),
        };
        req.quantity = match (self.quantity, self.risk) {
            (Some(q), None) => q,
            (None, Some(risk)) => {
                if risk <= Decimal::ZERO {
                    return Err(format!("risk: rupees above 0, got {risk}"));
                }
                let stop = self.stop.ok_or("stop: required when the order is sized by risk")?;
                let entry = req.entry_price(last_price).ok_or_else(|| {
                    format!("risk: no price, trigger or last traded price of {exchange}:{} to size from", req.symbol)
                })?;
                let per_share = (entry - stop).abs();
                if per_share.is_zero() {
                    return Err(format!("stop: {stop} is the entry price; it must be away from it"));
                }
                let q = (risk / per_share).floor();
                i64::try_from(q)
                    .ok()
                    .filter(|q| *q >= 1)
                    .ok_or_else(|| format!("risk: ₹{risk} buys no share at ₹{per_share} a share to the stop"))?
            }
            _ => return Err("quantity or risk: exactly one of the two".into()),
        };
        req.validate(ticks.of(&req.symbol, req.exchange)).map_err(|e| e.to_string())?;
        Ok(req)
    }
}

/// At most `per_minute` signals a minute per strategy.
pub struct RateLimit {
    per_minute: u32,
    seen: Mutex<HashMap<i64, VecDeque<Instant>>>,
}

impl RateLimit {
    pub fn new(per_minute: u32) -> RateLimit {
        RateLimit { per_minute, seen: Mutex::new(HashMap::new()) }
    }

    /// Counts a signal, or says how long until one more is allowed.
    pub fn admit(&self, strategy_id: i64, now: Instant) -> Result<(), Duration> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let times = seen.entry(strategy_id).or_default();
        let minute = Duration::from_secs(60);
        while times.front().is_some_and(|t| now.duration_since(*t) >= minute) {
            times.pop_front();
        }
        if times.len() >= self.per_minute as usize {
            let oldest = *times.front().expect("full");
            return Err(minute.saturating_sub(now.duration_since(oldest)));
        }
        times.push_back(now);
        Ok(())
    }
}

fn answer(code: StatusCode, body: serde_json::Value) -> Response {
    (code, axum::Json(body)).into_response()
}

fn refused(code: StatusCode, error: impl Into<String>) -> Response {
    answer(code, serde_json::json!({"error": error.into()}))
}

/// One signal, start to end: parse, authenticate, rate, queue once, answer
/// with the engine's result.
pub async fn handle(
    db: &Db,
    limit: &RateLimit,
    ticks: &Ticks,
    last_price: impl AsyncFnOnce(&str, Exchange) -> Option<Decimal>,
    body: &[u8],
) -> Response {
    let signal = match parse(body) {
        Ok(s) => s,
        Err(e) => return refused(StatusCode::BAD_REQUEST, e),
    };
    let strategy = match db.strategy_by_token(&signal.strategy, &signal.token).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            let why = format!("token: not the current webhook token of strategy \"{}\"", signal.strategy.trim());
            return refused(StatusCode::UNAUTHORIZED, why);
        }
        Err(e) => return refused(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    if let Err(wait) = limit.admit(strategy.id, Instant::now()) {
        let secs = wait.as_secs().max(1);
        let why = format!(
            "rate: at most {} signals a minute for strategy \"{}\"; retry in {secs} s",
            limit.per_minute, strategy.name
        );
        let mut r = refused(StatusCode::TOO_MANY_REQUESTS, why);
        r.headers_mut().insert(header::RETRY_AFTER, secs.into());
        return r;
    }
    let last = if signal.risk.is_some() && signal.price.is_none() && signal.trigger_price.is_none() {
        last_price(&signal.symbol.trim().to_ascii_uppercase(), signal.exchange.unwrap_or(Exchange::Nse)).await
    } else {
        None
    };
    let who: String = format!("webhook:{}", strategy.name).chars().take(64).collect();
    let req = match signal.request(strategy.id, &who, ticks, last) {
        Ok(r) => r,
        Err(e) => return refused(StatusCode::BAD_REQUEST, e),
    };
    let queued = db.enqueue_once(&OperatorCommand::PlaceOrder(req), &who, signal.id.trim()).await;
    let (c, repeat) = match queued {
        Ok(q) => q,
        Err(xcoin_db::DbError::Invalid(e)) => return refused(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e) => return refused(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let c = match db.command_result(c.id, WAIT).await {
        Ok(c) => c,
        Err(e) => return refused(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let code = match c.status {
        CommandStatus::Done => StatusCode::OK,
        CommandStatus::Failed => StatusCode::UNPROCESSABLE_ENTITY,
        CommandStatus::Expired => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::ACCEPTED,
    };
    let result =
        c.result.clone().unwrap_or_else(|| format!("queued as command {}; the engine has not answered yet", c.id));
    answer(
        code,
        serde_json::json!({
            "command": c.id, "status": c.status.to_string(), "result": result,
            "strategy": strategy.name, "requested_by": c.requested_by, "repeat": repeat,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_that_is_not_the_shape_names_its_field() {
        let base = r#""strategy":"S","token":"t","id":"1","symbol":"INFY""#;
        let cases = [
            (format!("{{{base}}}"), "missing field `side`"),
            (format!("{{{base},\"side\":\"HOLD\"}}"), "side: `HOLD` is not allowed; expected one of BUY, SELL"),
            (format!("{{{base},\"side\":\"BUY\",\"quantity\":\"ten\"}}"), "quantity: invalid type: string \"ten\""),
            (format!("{{{base},\"side\":\"BUY\",\"qty\":1}}"), "qty: unknown field `qty`"),
            ("not json".to_string(), "expected ident at line 1 column 2"),
        ];
        for (body, error) in cases {
            let e = parse(body.as_bytes()).unwrap_err();
            assert!(e.starts_with(error), "{e} / {error}");
        }
    }

    #[test]
    fn a_signal_sized_by_risk_rounds_down_and_needs_a_stop() {
        let body = r#"{"strategy":"S","token":"t","id":"1","symbol":"infy","side":"BUY","risk":1000,"stop":1490}"#;
        let s = parse(body.as_bytes()).unwrap();
        let ticks = Ticks::new(&xcoin_model::instrument::built_in(), Decimal::new(5, 2));
        let req = s.request(7, "w", &ticks, Some(Decimal::new(150350, 2))).unwrap();
        // ₹1,000 at ₹13.50 a share to the stop: 74 shares (74.07 rounded down).
        assert_eq!((req.quantity, req.symbol.as_str(), req.strategy_id), (74, "INFY", 7));
        assert_eq!(req.order_type, OrderType::Market);
        assert_eq!(
            s.request(7, "w", &ticks, None).unwrap_err(),
            "risk: no price, trigger or last traded price of NSE:INFY to size from"
        );
        let no_stop = r#"{"strategy":"S","token":"t","id":"1","symbol":"INFY","side":"BUY","risk":1000}"#;
        let e = parse(no_stop.as_bytes()).unwrap().request(7, "w", &ticks, Some(Decimal::from(1500))).unwrap_err();
        assert_eq!(e, "stop: required when the order is sized by risk");
        let both = r#"{"strategy":"S","token":"t","id":"1","symbol":"INFY","side":"BUY","risk":1000,"quantity":3}"#;
        let e = parse(both.as_bytes()).unwrap().request(7, "w", &ticks, None).unwrap_err();
        assert_eq!(e, "quantity or risk: exactly one of the two");
    }

    #[test]
    fn the_rate_is_per_strategy_per_minute() {
        let limit = RateLimit::new(2);
        let t0 = Instant::now();
        assert_eq!(limit.admit(1, t0), Ok(()));
        assert_eq!(limit.admit(1, t0 + Duration::from_secs(10)), Ok(()));
        assert_eq!(limit.admit(1, t0 + Duration::from_secs(20)), Err(Duration::from_secs(40)));
        assert_eq!(limit.admit(2, t0 + Duration::from_secs(20)), Ok(()), "another strategy has its own");
        // The first signal is a minute old: its place is free again, and only its.
        assert_eq!(limit.admit(1, t0 + Duration::from_secs(60)), Ok(()));
        assert_eq!(limit.admit(1, t0 + Duration::from_secs(60)), Err(Duration::from_secs(10)));
    }
}
