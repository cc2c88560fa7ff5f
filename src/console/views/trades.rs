//! The Trades tab: today's fills with every charge and the net value.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row};

use super::{money, pnl_style};
use crate::console::app::App;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    super::table(
        area,
        buf,
        super::Columns {
            title: format!("Trades — {} today", app.trades_view.len()),
            header: vec![
                "time",
                "symbol",
                "side",
                "qty",
                "price",
                "brokerage",
                "STT",
                "exch",
                "SEBI",
                "GST",
                "stamp",
                "charges",
                "net value",
                "order",
            ],
            widths: vec![
                Constraint::Length(8),
                Constraint::Length(11),
                Constraint::Length(4),
                Constraint::Length(5),
                Constraint::Length(9),
                Constraint::Length(9),
                Constraint::Length(7),
                Constraint::Length(6),
                Constraint::Length(5),
                Constraint::Length(6),
                Constraint::Length(6),
                Constraint::Length(8),
                Constraint::Length(12),
                Constraint::Min(5),
            ],
        },
        app.trades_view.len(),
        app.selected[2],
        |i| {
            let t = &app.store.trades[&app.trades_view[i]];
            let c = &t.charges;
            Row::new(vec![
                Cell::from(app.calendar.local(t.traded_at).format("%H:%M:%S").to_string()),
                Cell::from(t.symbol.clone()),
                Cell::from(t.side.to_string()),
                Cell::from(t.quantity.to_string()),
                Cell::from(format!("{:.2}", t.price)),
                Cell::from(money(c.brokerage)),
                Cell::from(money(c.stt)),
                Cell::from(money(c.exchange)),
                Cell::from(money(c.sebi)),
                Cell::from(money(c.gst)),
                Cell::from(money(c.stamp_duty)),
                Cell::from(money(t.total_charges)),
                Cell::from(money(t.net_value)).style(pnl_style(t.net_value)),
                Cell::from(t.order_id.to_string()),
            ])
        },
    );
}
