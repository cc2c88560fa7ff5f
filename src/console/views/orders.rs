//! The Orders tab: working orders first, then today's finished ones.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::widgets::{Cell, Row};

use crate::console::app::App;
use crate::domain::order::OrderStatus;

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

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let opt = |v: Option<rust_decimal::Decimal>| v.map_or(String::new(), |p| format!("{:.2}", p));
    super::table(
        area,
        buf,
        super::Columns {
            title: format!("Orders — {} shown", app.orders_view.len()),
            header: vec![
                "id",
                "time",
                "symbol",
                "side",
                "qty",
                "filled",
                "type",
                "price",
                "trigger",
                "status",
                "strategy",
                "broker id",
            ],
            widths: vec![
                Constraint::Length(6),
                Constraint::Length(8),
                Constraint::Length(11),
                Constraint::Length(4),
                Constraint::Length(5),
                Constraint::Length(6),
                Constraint::Length(6),
                Constraint::Length(9),
                Constraint::Length(9),
                Constraint::Length(16),
                Constraint::Length(14),
                Constraint::Min(10),
            ],
        },
        app.orders_view.len(),
        app.selected[0],
        |i| {
            let o = &app.store.orders[&app.orders_view[i]];
            let strategy = app.strategy_name(o.strategy_id);
            Row::new(vec![
                Cell::from(o.id.to_string()),
                Cell::from(app.calendar.local(o.created_at).format("%H:%M:%S").to_string()),
                Cell::from(o.symbol.clone()),
                Cell::from(o.side.to_string()),
                Cell::from(o.quantity.to_string()),
                Cell::from(o.filled_quantity.to_string()),
                Cell::from(o.order_type.to_string()),
                Cell::from(opt(o.price)),
                Cell::from(opt(o.trigger_price)),
                Cell::from(o.status.to_string()).style(status_style(o.status)),
                Cell::from(strategy),
                Cell::from(o.broker_order_id.clone().unwrap_or_default()),
            ])
        },
    );
}
