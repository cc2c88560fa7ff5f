//! CSV exports for reconciling with Zerodha Console and for tax work: the
//! tradebook's columns (as Console's tradebook download names them) plus
//! XCoin's exact charges, and the orders.

use std::io::Write;

use crate::domain::calendar::MarketCalendar;
use crate::domain::money::paisa;
use crate::domain::order::Order;
use crate::domain::trade::Trade;

/// The tradebook's columns, then XCoin's.
pub const TRADE_COLUMNS: [&str; 23] = [
    "symbol",
    "isin",
    "trade_date",
    "exchange",
    "segment",
    "series",
    "trade_type",
    "auction",
    "quantity",
    "price",
    "trade_id",
    "order_id",
    "order_execution_time",
    "product",
    "brokerage",
    "stt",
    "exchange_charges",
    "sebi_charges",
    "gst",
    "stamp_duty",
    "total_charges",
    "net_value",
    "realised_pnl",
];

pub const ORDER_COLUMNS: [&str; 18] = [
    "id",
    "created_at",
    "symbol",
    "exchange",
    "side",
    "order_type",
    "product",
    "validity",
    "quantity",
    "price",
    "trigger_price",
    "stop_loss",
    "target",
    "status",
    "filled_quantity",
    "average_price",
    "broker_order_id",
    "status_reason",
];

/// Writes trades as CSV. Times are IST; prices and charges exact (the
/// tradebook's own precision is the paisa for prices: they are on the tick).
pub fn trades_csv<W: Write>(trades: &[Trade], calendar: &MarketCalendar, out: W) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(TRADE_COLUMNS)?;
    for t in trades {
        let at = calendar.local(t.traded_at);
        let c = &t.charges;
        w.write_record([
            t.symbol.clone(),
            String::new(), // ISIN: not in the desk's instrument list
            at.format("%Y-%m-%d").to_string(),
            t.exchange.to_string(),
            "EQ".into(),
            "EQ".into(),
            t.side.as_str().to_ascii_lowercase(),
            "false".into(),
            t.quantity.to_string(),
            paisa(t.price),
            t.broker_trade_id.clone(),
            t.broker_order_id.clone().unwrap_or_default(),
            at.format("%Y-%m-%dT%H:%M:%S").to_string(),
            t.product.to_string(),
            c.brokerage.normalize().to_string(),
            c.stt.normalize().to_string(),
            c.exchange.normalize().to_string(),
            c.sebi.normalize().to_string(),
            c.gst.normalize().to_string(),
            c.stamp_duty.normalize().to_string(),
            t.total_charges.normalize().to_string(),
            t.net_value.normalize().to_string(),
            t.realized_pnl.normalize().to_string(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// Writes orders as CSV, times in IST.
pub fn orders_csv<W: Write>(orders: &[Order], calendar: &MarketCalendar, out: W) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(ORDER_COLUMNS)?;
    let opt = |v: Option<rust_decimal::Decimal>| v.map(paisa).unwrap_or_default();
    for o in orders {
        w.write_record([
            o.id.to_string(),
            calendar.local(o.created_at).format("%Y-%m-%dT%H:%M:%S").to_string(),
            o.symbol.clone(),
            o.exchange.to_string(),
            o.side.to_string(),
            o.order_type.to_string(),
            o.product.to_string(),
            o.validity.to_string(),
            o.quantity.to_string(),
            opt(o.price),
            opt(o.trigger_price),
            opt(o.stop_loss),
            opt(o.take_profit),
            o.status.to_string(),
            o.filled_quantity.to_string(),
            opt(o.average_price),
            o.broker_order_id.clone().unwrap_or_default(),
            o.status_reason.clone().unwrap_or_default(),
        ])?;
    }
    w.flush()?;
    Ok(())
}
