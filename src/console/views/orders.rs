//! The Orders tab: working orders first, then today's finished ones.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};

use super::{Column, ESSENTIAL, Field, price};
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

/// Essential columns stay; then filled and type, then time and trigger,
/// then strategy and broker id.
const COLUMNS: [Column; 12] = [
    Column::new("id", ESSENTIAL).right(),
    Column::new("time", 2).min(8),
    Column::new("symbol", ESSENTIAL).min(10),
    Column::new("side", ESSENTIAL).min(4),
    Column::new("qty", ESSENTIAL).right(),
    Column::new("filled", 1).right(),
    Column::new("type", 1).min(6),
    Column::new("price", ESSENTIAL).min(7).right(),
    Column::new("trigger", 2).min(7).right(),
    Column::new("status", ESSENTIAL).min(16),
    Column::new("strategy", 3),
    Column::new("broker id", 3),
];

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let opt = |v: Option<rust_decimal::Decimal>| v.map_or(String::new(), price);
    super::table(
        area,
        buf,
        super::filtered(
            app,
            crate::console::tab::Tab::Orders,
            format!("Orders — {} shown", app.tables[crate::console::tab::Tab::Orders].rows.len()),
        ),
        &COLUMNS,
        app.tables[crate::console::tab::Tab::Orders].rows.len(),
        app.tables[crate::console::tab::Tab::Orders].selected,
        |i| {
            let o = &app.store.orders[&app.tables[crate::console::tab::Tab::Orders].rows[i]];
            let strategy = app.strategy_name(o.strategy_id);
            vec![
                o.id.to_string().into(),
                app.calendar.local(o.created_at).format("%H:%M:%S").to_string().into(),
                o.symbol.clone().into(),
                o.side.to_string().into(),
                o.quantity.to_string().into(),
                o.filled_quantity.to_string().into(),
                o.order_type.to_string().into(),
                opt(o.price).into(),
                opt(o.trigger_price).into(),
                Field::styled(o.status.to_string(), status_style(o.status)),
                strategy.into(),
                o.broker_order_id.clone().unwrap_or_default().into(),
            ]
        },
    );
}
