//! The Positions tab: open positions with live P&L and distance to the stop.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};

use super::{Column, ESSENTIAL, Field, money, pnl_style, price};
use crate::console::app::App;
use crate::domain::position::distance_to_stop;

/// Prices and the unrealised P&L are essential; realised P&L and the stop
/// (what protects the position) go last.
const COLUMNS: [Column; 10] = [
    Column::new("symbol", ESSENTIAL).min(10),
    Column::new("product", 3),
    Column::new("qty", ESSENTIAL).right(),
    Column::new("avg", ESSENTIAL).min(7).right(),
    Column::new("ltp", ESSENTIAL).min(7).right(),
    Column::new("unrealised", ESSENTIAL).min(8).right(),
    Column::new("realised", 1).min(8).right(),
    Column::new("stop", 1).min(7).right(),
    Column::new("target", 2).min(7).right(),
    Column::new("to stop", 2).right(),
];

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let opt = |v: Option<rust_decimal::Decimal>| v.map_or(String::new(), price);
    super::table(
        area,
        buf,
        super::filtered(
            app,
            crate::console::tab::Tab::Positions,
            format!("Positions — {} open", app.tables[crate::console::tab::Tab::Positions].rows.len()),
        ),
        &COLUMNS,
        app.tables[crate::console::tab::Tab::Positions].rows.len(),
        app.tables[crate::console::tab::Tab::Positions].selected,
        |i| {
            let p = &app.store.positions[&app.tables[crate::console::tab::Tab::Positions].rows[i]];
            let to_stop = match (p.last_price, p.stop_loss) {
                (Some(l), Some(s)) => price(distance_to_stop(p.quantity(), l, s)),
                _ => String::new(),
            };
            // A position with no stop is unprotected (one taken over from the
            // broker starts without one): its symbol and stop say so in red.
            let bare = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
            let symbol =
                if p.stop_loss.is_none() { Field::styled(p.symbol.clone(), bare) } else { p.symbol.clone().into() };
            let stop = match p.stop_loss {
                Some(s) => price(s).into(),
                None => Field::styled("NONE", bare),
            };
            vec![
                symbol,
                p.product.to_string().into(),
                p.quantity().to_string().into(),
                price(p.average_price()).into(),
                opt(p.last_price).into(),
                Field::styled(money(p.unrealized_pnl), pnl_style(p.unrealized_pnl)),
                Field::styled(money(p.realized_pnl()), pnl_style(p.realized_pnl())),
                stop,
                opt(p.take_profit).into(),
                to_stop.into(),
            ]
        },
    );
}
