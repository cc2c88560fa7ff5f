//! What the local exchange writes, in Kite Connect's shapes: the response
//! envelope and errors, orders (the book, a history, a WebSocket order
//! update), trades, positions, margins, last prices and the instrument list.
//!
//! Kite writes prices as JSON numbers. serde_json (without its
//! arbitrary-precision feature) writes a number only through `f64`, which
//! could change a price's last digit, so a price is carried as a marked
//! string ([`num`]) and unquoted, digit for digit, when the body is written
//! ([`body`]).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::broker::kite::model::format_ist;
use crate::broker::{BrokerFill, BrokerOrder};
use crate::domain::funds::Funds;
use crate::domain::order::{Exchange, OrderStatus};
use crate::domain::reconciliation::Holding;

/// Marks a string that [`body`] writes as a bare JSON number.
const NUMBER_MARK: &str = "\u{1}#";

/// A decimal as a JSON number in the written body.
pub fn num(d: Decimal) -> Value {
    Value::String(format!("{NUMBER_MARK}{}", d.normalize()))
}

/// A JSON value as text, marked numbers unquoted.
pub fn body(v: &Value) -> String {
    let text = v.to_string();
    // A marked number is written `"\u0001#123.45"`: the mark's escape,
    // then the digits, then the closing quote.
    let open = "\"\\u0001#";
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find(open) {
        out.push_str(&rest[..at]);
        let digits = &rest[at + open.len()..];
        let end = digits.find('"').unwrap_or(digits.len());
        out.push_str(&digits[..end]);
        rest = &digits[(end + 1).min(digits.len())..];
    }
    out.push_str(rest);
    out
}

/// `{"status":"success","data":…}`.
pub fn success(data: Value) -> String {
    body(&json!({"status": "success", "data": data}))
}

/// `{"status":"error","message":…,"data":null,"error_type":…}`.
pub fn error(error_type: &str, message: &str) -> String {
    body(&json!({"status": "error", "message": message, "data": null, "error_type": error_type}))
}

/// The exchange's own id for an order, as NSE's: digits.
fn exchange_order_id(order_id: &str) -> String {
    format!("1100000{}", order_id.trim_start_matches(|c: char| !c.is_ascii_digit()))
}

/// Kite's status words for an order in our lifecycle.
pub fn kite_status(o: &BrokerOrder) -> &'static str {
    match o.status {
        OrderStatus::Pending | OrderStatus::Submitted => "OPEN PENDING",
        OrderStatus::Open | OrderStatus::PartiallyFilled if o.trigger_pending == Some(true) => "TRIGGER PENDING",
        OrderStatus::Open | OrderStatus::PartiallyFilled => "OPEN",
        OrderStatus::Filled => "COMPLETE",
        OrderStatus::Cancelled => "CANCELLED",
        OrderStatus::Rejected => "REJECTED",
    }
}

fn price_or_zero(p: Option<Decimal>) -> Value {
    num(p.unwrap_or_default())
}

/// An order as Kite's book, history and order updates write it.
/// `placed_at` is when the exchange took it; `modified` whether it was.
pub fn order(o: &BrokerOrder, token: u32, placed_at: DateTime<Utc>, modified: bool) -> Value {
    let finished = matches!(o.status, OrderStatus::Cancelled | OrderStatus::Rejected);
    let pending = if o.status.is_terminal() { 0 } else { o.quantity - o.filled_quantity };
    let cancelled = if finished { o.quantity - o.filled_quantity } else { 0 };
    json!({
        "order_id": o.broker_order_id,
        "exchange_order_id": exchange_order_id(&o.broker_order_id),
        "parent_order_id": null,
        "placed_by": "XC0001",
        "variety": "regular",
        "status": kite_status(o),
        "status_message": o.message,
        "status_message_raw": o.message,
        "order_timestamp": format_ist(placed_at),
        "exchange_timestamp": format_ist(placed_at),
        "exchange_update_timestamp": format_ist(o.updated_at),
        "modified": modified,
        "exchange": o.exchange.as_str(),
        "tradingsymbol": o.symbol,
        "instrument_token": token,
        "order_type": o.order_type.as_str(),
        "transaction_type": o.side.as_str(),
        "validity": o.validity.as_str(),
        "validity_ttl": 0,
        "product": o.product.as_str(),
        "quantity": o.quantity,
        "disclosed_quantity": 0,
        "price": price_or_zero(o.price),
        "trigger_price": price_or_zero(o.trigger_price),
        "average_price": price_or_zero(o.average_price),
        "filled_quantity": o.filled_quantity,
        "pending_quantity": pending,
        "cancelled_quantity": cancelled,
        "market_protection": 0,
        "meta": {},
        "tag": o.tag,
        "tags": o.tag.iter().collect::<Vec<_>>(),
        "guid": format!("xc{}", o.broker_order_id),
    })
}

/// A WebSocket order update: `{"type":"order","data":{…}}`, the data as a
/// postback carries it.
pub fn order_update(o: &BrokerOrder, token: u32, placed_at: DateTime<Utc>, modified: bool) -> String {
    let mut data = order(o, token, placed_at, modified);
    data["user_id"] = json!("XC0001");
    data["unfilled_quantity"] = json!(if o.status.is_terminal() { 0 } else { o.quantity - o.filled_quantity });
    body(&json!({"type": "order", "data": data}))
}

/// One execution as `GET /trades` writes it.
pub fn trade(f: &BrokerFill, token: u32) -> Value {
    let ist = format_ist(f.at);
    json!({
        "trade_id": f.trade_id,
        "order_id": f.broker_order_id,
        "exchange_order_id": exchange_order_id(&f.broker_order_id),
        "tradingsymbol": f.symbol,
        "exchange": f.exchange.as_str(),
        "instrument_token": token,
        "product": f.product.as_str(),
        "average_price": num(f.price),
        "quantity": f.quantity,
        "fill_timestamp": ist,
        "exchange_timestamp": ist,
        "order_timestamp": ist.get(11..).unwrap_or_default(),
        "transaction_type": f.side.as_str(),
    })
}

/// A net position as `GET /portfolio/positions` writes it, with the day's
/// buys and sells from the trades and the P&L at `last`.
pub fn position(h: &Holding, token: u32, last: Decimal, fills: &[&BrokerFill]) -> Value {
    use crate::domain::order::Side;
    let side = |s: Side| -> (i64, Decimal) {
        fills
            .iter()
            .filter(|f| f.side == s)
            .fold((0, Decimal::ZERO), |(q, v), f| (q + f.quantity, v + f.price * Decimal::from(f.quantity)))
    };
    let ((bq, bv), (sq, sv)) = (side(Side::Buy), side(Side::Sell));
    let avg = |q: i64, v: Decimal| if q == 0 { Decimal::ZERO } else { (v / Decimal::from(q)).round_dp(4) };
    let pnl = sv - bv + Decimal::from(h.quantity) * last;
    json!({
        "tradingsymbol": h.symbol,
        "exchange": h.exchange.as_str(),
        "instrument_token": token,
        "product": h.product.as_str(),
        "quantity": h.quantity,
        "overnight_quantity": 0,
        "multiplier": 1,
        "average_price": num(if h.quantity == 0 { Decimal::ZERO } else { h.average_price }),
        "close_price": 0,
        "last_price": num(last),
        "value": num(sv - bv),
        "pnl": num(pnl),
        "m2m": num(pnl),
        "unrealised": num(pnl),
        "realised": 0,
        "buy_quantity": bq,
        "buy_price": num(avg(bq, bv)),
        "buy_value": num(bv),
        "buy_m2m": num(bv),
        "sell_quantity": sq,
        "sell_price": num(avg(sq, sv)),
        "sell_value": num(sv),
        "sell_m2m": num(sv),
        "day_buy_quantity": bq,
        "day_buy_price": num(avg(bq, bv)),
        "day_buy_value": num(bv),
        "day_sell_quantity": sq,
        "day_sell_price": num(avg(sq, sv)),
        "day_sell_value": num(sv),
    })
}

/// The equity segment's funds as `GET /user/margins/equity` writes them.
pub fn equity_margin(f: &Funds) -> Value {
    json!({
        "enabled": true,
        "net": num(f.available_margin),
        "available": {
            "adhoc_margin": 0,
            "cash": num(f.cash),
            "opening_balance": num(f.opening_balance),
            "live_balance": num(f.available_margin),
            "collateral": 0,
            "intraday_payin": 0,
        },
        "utilised": {
            "debits": num(f.used_margin),
            "exposure": 0,
            "m2m_realised": num(f.m2m_realised),
            "m2m_unrealised": num(f.m2m_unrealised),
            "option_premium": 0,
            "payout": 0,
            "span": 0,
            "holding_sales": 0,
            "turnover": 0,
            "liquid_collateral": 0,
            "stock_collateral": 0,
            "delivery": 0,
        },
    })
}

/// One row of the instrument list (`GET /instruments/:exchange`).
pub struct Listed {
    pub token: u32,
    pub exchange_token: u32,
    pub symbol: String,
    pub name: String,
    pub exchange: Exchange,
    pub tick: Decimal,
}

/// The instrument list as Kite's CSV dump.
pub fn instruments_csv<'a>(rows: impl Iterator<Item = &'a Listed>) -> String {
    let mut out = String::from(
        "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,\
         instrument_type,segment,exchange\n",
    );
    for r in rows {
        out.push_str(&format!(
            "{},{},{},\"{}\",0,,0,{},1,EQ,{},{}\n",
            r.token,
            r.exchange_token,
            r.symbol,
            r.name.replace('"', "\"\""),
            r.tick.normalize(),
            r.exchange,
            r.exchange
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn prices_are_written_as_numbers_digit_for_digit() {
        let v =
            json!({"a": num(dec!(1490.05)), "b": [num(dec!(0.1000000000000000055511151231)), "x\"y"], "c": "plain"});
        assert_eq!(body(&v), r#"{"a":1490.05,"b":[0.1000000000000000055511151231,"x\"y"],"c":"plain"}"#);
    }
}
