//! CSV exports for reconciling with Zerodha Console and for tax work: the
//! tradebook's columns (as Console's tradebook download names them) plus
//! XCoin's charges, and the orders. Amounts are shown to the paisa; every
//! amount stored with more precision also has an `<name>_exact` column with
//! the stored value, for accounting.

use std::io::Write;

use rust_decimal::Decimal;

use crate::domain::calendar::MarketCalendar;
use crate::domain::money::paisa;
use crate::domain::order::Order;
use crate::domain::trade::Trade;

/// The tradebook's columns, then XCoin's, then the exact amounts. `order_id`
/// is XCoin's own (as the console's Trades tab shows it), `broker_order_id`
/// the broker's (as Kite shows it).
pub const TRADE_COLUMNS: [&str; 34] = [
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
    "broker_order_id",
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
    "price_exact",
    "brokerage_exact",
    "stt_exact",
    "exchange_charges_exact",
    "sebi_charges_exact",
    "gst_exact",
    "stamp_duty_exact",
    "total_charges_exact",
    "net_value_exact",
    "realised_pnl_exact",
];

/// The orders' columns; the average fill price is the one amount stored
/// with more than two decimals, so it alone has an exact column.
pub const ORDER_COLUMNS: [&str; 19] = [
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
    "average_price_exact",
];

/// A stored amount as it is, without trailing zeros: `19.0449995121`.
fn exact(amount: Decimal) -> String {
    amount.normalize().to_string()
}

/// Writes trades as CSV. Times are IST; amounts to the paisa, then each
/// exactly as stored.
pub fn trades_csv<W: Write>(trades: &[Trade], calendar: &MarketCalendar, out: W) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(TRADE_COLUMNS)?;
    for t in trades {
        let at = calendar.local(t.traded_at);
        let c = &t.charges;
        let amounts = [
            t.price,
            c.brokerage,
            c.stt,
            c.exchange,
            c.sebi,
            c.gst,
            c.stamp_duty,
            t.total_charges,
            t.net_value,
            t.realized_pnl,
        ];
        let mut row = vec![
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
            t.order_id.to_string(),
            t.broker_order_id.clone().unwrap_or_default(),
            at.format("%Y-%m-%dT%H:%M:%S").to_string(),
            t.product.to_string(),
        ];
        row.extend(amounts[1..].iter().copied().map(paisa));
        row.extend(amounts.iter().copied().map(exact));
        w.write_record(row)?;
    }
    w.flush()?;
    Ok(())
}

/// Writes orders as CSV, times in IST, amounts to the paisa (the average
/// fill price exactly as well).
pub fn orders_csv<W: Write>(orders: &[Order], calendar: &MarketCalendar, out: W) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(ORDER_COLUMNS)?;
    let opt = |v: Option<Decimal>| v.map(paisa).unwrap_or_default();
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
            o.average_price.map(exact).unwrap_or_default(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::charges::Charges;
    use crate::domain::order::{BrokerKind, Exchange, Product, Side};
    use rust_decimal_macros::dec;

    fn cells(csv: &[u8]) -> Vec<std::collections::HashMap<String, String>> {
        let mut r = csv::Reader::from_reader(csv);
        let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
        r.records().map(|row| header.iter().cloned().zip(row.unwrap().iter().map(str::to_string)).collect()).collect()
    }

    #[test]
    fn a_trade_gives_both_order_ids_and_its_amounts_to_the_paisa_and_exact() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T04:01:02Z").unwrap().to_utc();
        let trade = Trade {
            id: 40,
            order_id: 7,
            strategy_id: 1,
            symbol: "INFY".into(),
            exchange: Exchange::Nse,
            side: Side::Sell,
            product: Product::Mis,
            quantity: 10,
            price: dec!(1512.35),
            broker: BrokerKind::Kite,
            broker_trade_id: "T1".into(),
            broker_order_id: Some("250101000012345".into()),
            charges: Charges {
                brokerage: dec!(4.5369),
                stt: dec!(3.780875),
                exchange: dec!(0.45066030),
                sebi: dec!(0.0151235),
                gst: dec!(0.897924),
                stamp_duty: dec!(0),
            },
            turnover: dec!(15123.5),
            total_charges: dec!(19.0449995121),
            net_value: dec!(15104.4550004879),
            realized_pnl: dec!(123.5),
            traded_at: at,
            created_at: at,
        };
        let mut out = Vec::new();
        trades_csv(&[trade], &MarketCalendar::default(), &mut out).unwrap();
        let rows = cells(&out);
        let row = &rows[0];
        let cell = |name: &str| row[name].as_str();
        assert_eq!((cell("order_id"), cell("broker_order_id"), cell("trade_id")), ("7", "250101000012345", "T1"));
        assert_eq!(cell("order_execution_time"), "2026-12-01T09:31:02", "IST");
        assert_eq!((cell("total_charges"), cell("total_charges_exact")), ("19.04", "19.0449995121"));
        assert_eq!((cell("net_value"), cell("net_value_exact")), ("15104.46", "15104.4550004879"));
        assert_eq!((cell("brokerage"), cell("brokerage_exact")), ("4.54", "4.5369"));
        assert_eq!((cell("stt"), cell("stt_exact")), ("3.78", "3.780875"));
        assert_eq!((cell("exchange_charges"), cell("exchange_charges_exact")), ("0.45", "0.4506603"));
        assert_eq!((cell("sebi_charges"), cell("sebi_charges_exact")), ("0.02", "0.0151235"));
        assert_eq!((cell("gst"), cell("gst_exact")), ("0.90", "0.897924"));
        assert_eq!((cell("stamp_duty"), cell("stamp_duty_exact")), ("0.00", "0"));
        assert_eq!((cell("price"), cell("price_exact")), ("1512.35", "1512.35"));
        assert_eq!((cell("realised_pnl"), cell("realised_pnl_exact")), ("123.50", "123.5"));
        assert_eq!(row.len(), TRADE_COLUMNS.len());
    }

    #[test]
    fn an_orders_average_fill_is_shown_to_the_paisa_and_kept_exact() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T04:01:02Z").unwrap().to_utc();
        let order = Order {
            id: 3,
            strategy_id: 1,
            parent_order_id: None,
            symbol: "INFY".into(),
            exchange: Exchange::Nse,
            side: Side::Buy,
            order_type: crate::domain::order::OrderType::Market,
            product: Product::Mis,
            validity: crate::domain::order::Validity::Day,
            quantity: 3,
            filled_quantity: 3,
            price: None,
            trigger_price: None,
            average_price: Some(dec!(1500.0333333333)),
            stop_loss: Some(dec!(1490)),
            take_profit: None,
            risk_amount: None,
            status: crate::domain::order::OrderStatus::Filled,
            status_reason: None,
            broker: BrokerKind::Paper,
            broker_order_id: Some("PO00000003".into()),
            placed_by: "asha".into(),
            created_at: at,
            updated_at: at,
            submitted_at: Some(at),
            completed_at: Some(at),
            modifications: 0,
            trigger_pending: false,
        };
        let mut out = Vec::new();
        orders_csv(&[order], &MarketCalendar::default(), &mut out).unwrap();
        let rows = cells(&out);
        let cell = |name: &str| rows[0][name].as_str();
        assert_eq!((cell("average_price"), cell("average_price_exact")), ("1500.03", "1500.0333333333"));
        assert_eq!((cell("price"), cell("stop_loss"), cell("created_at")), ("", "1490.00", "2026-12-01T09:31:02"));
    }
}
