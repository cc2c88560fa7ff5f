//! The Positions tab: open positions with live P&L and distance to the stop.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row};

use super::{money, pnl_style};
use crate::console::app::App;
use crate::domain::position::distance_to_stop;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let opt = |v: Option<rust_decimal::Decimal>| v.map_or(String::new(), |p| format!("{:.2}", p));
    super::table(
        area,
        buf,
        super::Columns {
            title: format!("Positions — {} open", app.positions_view.len()),
            header: vec![
                "symbol",
                "product",
                "qty",
                "avg",
                "ltp",
                "unrealised",
                "realised",
                "stop",
                "target",
                "to stop",
            ],
            widths: vec![
                Constraint::Length(11),
                Constraint::Length(7),
                Constraint::Length(6),
                Constraint::Length(10),
                Constraint::Length(10),
                Constraint::Length(11),
                Constraint::Length(10),
                Constraint::Length(9),
                Constraint::Length(9),
                Constraint::Min(8),
            ],
        },
        app.positions_view.len(),
        app.selected[1],
        |i| {
            let p = &app.store.positions[&app.positions_view[i]];
            let to_stop = match (p.last_price, p.stop_loss) {
                (Some(l), Some(s)) => format!("{:.2}", distance_to_stop(p.quantity(), l, s)),
                _ => String::new(),
            };
            Row::new(vec![
                Cell::from(p.symbol.clone()),
                Cell::from(p.product.to_string()),
                Cell::from(p.quantity().to_string()),
                Cell::from(format!("{:.2}", p.average_price())),
                Cell::from(opt(p.last_price)),
                Cell::from(money(p.unrealized_pnl)).style(pnl_style(p.unrealized_pnl)),
                Cell::from(money(p.realized_pnl())).style(pnl_style(p.realized_pnl())),
                Cell::from(opt(p.stop_loss)),
                Cell::from(opt(p.take_profit)),
                Cell::from(to_stop),
            ])
        },
    );
}
