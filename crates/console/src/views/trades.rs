//! The Trades tab: today's fills with every charge and the net value.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::{Column, ESSENTIAL, Field, money, pnl_style, price};
use crate::app::App;

/// The net value is this tab's P&L column. Time and the order id go after
/// the charge lines, the total charges after the breakdown.
const COLUMNS: [Column; 14] = [
    Column::new("time", 2).min(8),
    Column::new("symbol", ESSENTIAL).min(10),
    Column::new("side", ESSENTIAL).min(4),
    Column::new("qty", ESSENTIAL).right(),
    Column::new("price", ESSENTIAL).min(7).right(),
    Column::new("brokerage", 4).right(),
    Column::new("STT", 4).min(4).right(),
    Column::new("exch", 5).min(4).right(),
    Column::new("SEBI", 5).min(4).right(),
    Column::new("GST", 5).min(4).right(),
    Column::new("stamp", 5).min(4).right(),
    Column::new("charges", 3).right(),
    Column::new("net value", ESSENTIAL).min(9).right(),
    Column::new("order", 1).right(),
];

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    super::table(
        area,
        buf,
        super::filtered(app, crate::tab::Tab::Trades, format!("Trades — {} today", app.store.trades.len())),
        &COLUMNS,
        app.tables[crate::tab::Tab::Trades].rows.len(),
        app.tables[crate::tab::Tab::Trades].selected,
        |i| {
            let t = &app.store.trades[&app.tables[crate::tab::Tab::Trades].rows[i]];
            let c = &t.charges;
            vec![
                app.calendar.local(t.traded_at).format("%H:%M:%S").to_string().into(),
                t.symbol.clone().into(),
                t.side.to_string().into(),
                t.quantity.to_string().into(),
                price(t.price).into(),
                money(c.brokerage).into(),
                money(c.stt).into(),
                money(c.exchange).into(),
                money(c.sebi).into(),
                money(c.gst).into(),
                money(c.stamp_duty).into(),
                money(t.total_charges).into(),
                Field::styled(money(t.net_value), pnl_style(t.net_value)),
                t.order_id.to_string().into(),
            ]
        },
    );
}
