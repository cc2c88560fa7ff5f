//! The Orders tab: working orders first, then today's finished ones.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};

use super::{Column, ESSENTIAL, Field, money, price};
use crate::app::App;
use xcoin_model::order::{Order, OrderStatus};

/// The one place an order status gets its colour.
pub fn status_style(status: OrderStatus) -> Style {
    match status {
        OrderStatus::Pending | OrderStatus::Submitted => Style::new().fg(Color::Yellow),
        OrderStatus::Open | OrderStatus::PartiallyFilled => Style::new().fg(Color::Cyan),
        OrderStatus::Filled => Style::new().fg(Color::Green),
        OrderStatus::Cancelled => Style::new().fg(Color::DarkGray),
        OrderStatus::Rejected => Style::new().fg(Color::Red),
    }
}

/// Essential columns stay — the type, the price and the trigger among
/// them, so a stop order always shows the price it waits for; then filled
/// and the average fill, then time and the order's value, then strategy and
/// broker id.
const COLUMNS: [Column; 14] = [
    Column::new("id", ESSENTIAL).right(),
    Column::new("time", 2).min(8),
    Column::new("symbol", ESSENTIAL).min(10),
    Column::new("side", ESSENTIAL).min(4),
    Column::new("qty", ESSENTIAL).right(),
    Column::new("filled", 1).right(),
    Column::new("avg fill", 1).min(8).right(),
    Column::new("type", ESSENTIAL).min(6),
    Column::new("price", ESSENTIAL).min(7).right(),
    Column::new("trigger", ESSENTIAL).min(7).right(),
    Column::new("value", 2).min(9).right(),
    Column::new("status", ESSENTIAL).min(16),
    Column::new("strategy", 3),
    Column::new("broker id", 3),
];

/// Working orders, and orders placed today (IST): one pass over the orders,
/// comparing instants with the day's bounds. Computed once per frame.
pub fn counts(app: &App) -> (usize, usize, usize) {
    let (start, end) = app.calendar.day_bounds(app.day());
    app.store.orders.values().fold((0, 0, 0), |(w, t, m), o| {
        let (dw, dt, dm) = weigh(o, start, end);
        (w + dw, t + dt, m + dm)
    })
}

/// What one order adds to the counts: working, made on the day, and the
/// messages it sent the exchange as `get_order_to_trade_ratio()` counts
/// them (an order that reached the broker, each modification, a cancellation).
pub fn weigh(
    o: &xcoin_model::order::Order,
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
) -> (usize, usize, usize) {
    let on_day = o.created_at >= start && o.created_at < end;
    let messages = if on_day && o.broker_order_id.is_some() {
        1 + usize::try_from(o.modifications).unwrap_or(0)
            + usize::from(o.status == xcoin_model::order::OrderStatus::Cancelled)
    } else {
        0
    };
    (usize::from(o.status.is_active()), usize::from(on_day), messages)
}

/// What an order is worth: its filled part at the average fill and, while it
/// works, the rest at its limit price (an SL-M's at its trigger, where it
/// turns into a market order). Blank when unknown (a working market order)
/// or when a finished order filled nothing.
pub fn value(o: &Order) -> Option<rust_decimal::Decimal> {
    let filled = o.average_price.unwrap_or_default() * rust_decimal::Decimal::from(o.filled_quantity);
    let rest = o.quantity - o.filled_quantity;
    if rest == 0 || o.status.is_terminal() {
        return (o.filled_quantity > 0).then_some(filled);
    }
    o.price.or(o.trigger_price).map(|p| filled + p * rust_decimal::Decimal::from(rest))
}

/// The table; `counts` are [`counts`] for this frame.
pub fn render(app: &App, area: Rect, buf: &mut Buffer, (working, today): (usize, usize)) {
    let opt = |v: Option<rust_decimal::Decimal>| v.map_or(String::new(), price);
    super::table(
        area,
        buf,
        super::filtered(
            app,
            crate::tab::Tab::Orders,
            if app.store.history_loading {
                format!("Orders — working {working} · {today} today, loading more…")
            } else {
                format!("Orders — working {working} · {today} today")
            },
        ),
        &COLUMNS,
        app.tables[crate::tab::Tab::Orders].rows.len(),
        app.tables[crate::tab::Tab::Orders].selected,
        |i| {
            let o = &app.store.orders[&app.tables[crate::tab::Tab::Orders].rows[i]];
            let strategy = app.strategy_name(o.strategy_id);
            vec![
                o.id.to_string().into(),
                app.calendar.local(o.created_at).format("%H:%M:%S").to_string().into(),
                o.symbol.clone().into(),
                o.side.to_string().into(),
                o.quantity.to_string().into(),
                o.filled_quantity.to_string().into(),
                opt(o.average_price).into(),
                o.order_type.to_string().into(),
                opt(o.price).into(),
                opt(o.trigger_price).into(),
                value(o).map_or(String::new(), money).into(),
                Field::styled(o.shown_status(), status_style(o.status)),
                strategy.into(),
                o.broker_order_id.clone().unwrap_or_default().into(),
            ]
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn an_orders_value_is_what_filled_and_what_still_works() {
        let now = chrono::Utc::now();
        let mut o = Order {
            id: 1,
            strategy_id: 1,
            parent_order_id: None,
            symbol: "INFY".into(),
            exchange: xcoin_model::order::Exchange::Nse,
            side: xcoin_model::order::Side::Buy,
            order_type: xcoin_model::order::OrderType::Limit,
            product: xcoin_model::order::Product::Mis,
            validity: xcoin_model::order::Validity::Day,
            quantity: 10,
            filled_quantity: 4,
            price: Some(dec!(1500)),
            trigger_price: None,
            average_price: Some(dec!(1499.5)),
            stop_loss: None,
            take_profit: None,
            risk_amount: None,
            status: OrderStatus::PartiallyFilled,
            status_reason: None,
            broker: xcoin_model::order::BrokerKind::Paper,
            broker_order_id: None,
            placed_by: "asha".into(),
            created_at: now,
            updated_at: now,
            submitted_at: None,
            completed_at: None,
            modifications: 0,
            trigger_pending: false,
        };
        assert_eq!(value(&o), Some(dec!(14998)), "4 × 1499.5 filled + 6 × 1500 working");
        o.status = OrderStatus::Cancelled;
        assert_eq!(value(&o), Some(dec!(5998)), "a cancelled order is worth what filled");
        o.filled_quantity = 0;
        o.average_price = None;
        assert_eq!(value(&o), None);
        (o.status, o.order_type, o.price) = (OrderStatus::Open, xcoin_model::order::OrderType::Market, None);
        assert_eq!(value(&o), None, "a working market order has no price yet");
        (o.order_type, o.trigger_price, o.quantity) =
            (xcoin_model::order::OrderType::StopLossMarket, Some(dec!(1480)), 5);
        assert_eq!(value(&o), Some(dec!(7400)), "an SL-M at its trigger: 5 × 1480");
    }
}
