//! The Positions tab: open positions with live P&L and distance to the stop,
//! today's closed ones under them (dimmed), and today's totals.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};

use super::{Column, ESSENTIAL, Field, money, pnl_style, price, rupees};
use crate::app::App;
use crate::tab::Tab;
use xcoin_model::position::Position;
use xcoin_model::position::distance_to_stop;

/// Prices and the unrealised P&L are essential; realised P&L and the stop
/// (what protects the position) go last.
const COLUMNS: [Column; 11] = [
    Column::new("symbol", ESSENTIAL).min(10),
    Column::new("product", 3),
    Column::new("qty", ESSENTIAL).right(),
    Column::new("avg", ESSENTIAL).min(7).right(),
    Column::new("ltp", ESSENTIAL).min(7).right(),
    Column::new("unrealised", ESSENTIAL).min(8).right(),
    Column::new("realised", 1).min(8).right(),
    Column::new("charges", 2).min(7).right(),
    Column::new("stop", 1).min(9).right(),
    Column::new("target", 2).min(7).right(),
    Column::new("to stop", 2).right(),
];

/// Today's P&L in parts, as the header and `xcoin status` show it.
pub fn totals(app: &App) -> String {
    let p = app.store.summary.pnl.unwrap_or_default();
    format!(
        " today: realised {} · unrealised {} · charges {} · net {} ",
        rupees(p.realized_pnl),
        rupees(p.unrealized_pnl),
        rupees(p.charges),
        rupees(p.net_pnl)
    )
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let table = &app.tables[Tab::Positions];
    let closed = app.store.closed_positions.len();
    let mut title = format!("Positions — {} open", app.store.positions.len());
    if closed > 0 {
        title.push_str(&format!(", {closed} closed today"));
    }
    let title = super::filtered(app, Tab::Positions, title);
    let resting = resting_stops(app);
    super::table_with_totals(area, buf, title, Some(totals(app)), &COLUMNS, table.rows.len(), table.selected, |i| {
        app.position(table.rows[i]).map_or_else(Vec::new, |p| row(p, app.limits.stop_at_exchange, &resting))
    });
}

/// An instrument and product with the side of a stop resting for it.
type Resting = (String, xcoin_model::order::Exchange, xcoin_model::order::Product, xcoin_model::order::Side);

/// Where stops rest at the exchange: instrument, product and side.
fn resting_stops(app: &App) -> std::collections::HashSet<Resting> {
    app.store.working_resting_stops().map(|o| (o.symbol.clone(), o.exchange, o.product, o.side)).collect()
}

/// The stop as the Positions tab shows it: with `✓` (green) when it rests at
/// the exchange, with `!` (red) when it should and does not.
fn stop_field(p: &Position, at_exchange: bool, resting: &std::collections::HashSet<Resting>) -> Field {
    let Some(stop) = p.stop_loss else {
        return Field::styled("NONE", Style::new().fg(Color::Red).add_modifier(Modifier::BOLD));
    };
    if !at_exchange {
        return price(stop).into();
    }
    let key = (p.symbol.clone(), p.exchange, p.product, p.exit_side());
    if resting.contains(&key) {
        Field::styled(format!("{} ✓", price(stop)), Style::new().fg(Color::Green))
    } else {
        Field::styled(format!("{} !", price(stop)), Style::new().fg(Color::Red).add_modifier(Modifier::BOLD))
    }
}

fn row(p: &Position, at_exchange: bool, resting: &std::collections::HashSet<Resting>) -> Vec<Field> {
    let opt = |v: Option<rust_decimal::Decimal>| v.map_or(String::new(), price);
    if p.quantity() == 0 {
        // Closed today: dimmed, what it realised and what it cost.
        let dim = Style::new().fg(Color::DarkGray);
        let cell = |text: String| Field::styled(text, dim);
        return vec![
            cell(p.symbol.clone()),
            cell(p.product.to_string()),
            cell("0".into()),
            cell(String::new()),
            cell(opt(p.last_price)),
            cell(String::new()),
            Field::styled(money(p.realized_pnl()), pnl_style(p.realized_pnl()).add_modifier(Modifier::DIM)),
            cell(money(p.charges)),
            cell("closed".into()),
            cell(String::new()),
            cell(String::new()),
        ];
    }
    let to_stop = match (p.last_price, p.stop_loss) {
        (Some(l), Some(s)) => price(distance_to_stop(p.quantity(), l, s)),
        _ => String::new(),
    };
    // A position with no stop is unprotected (one taken over from the
    // broker starts without one): its symbol and stop say so in red.
    let bare = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
    let symbol = if p.stop_loss.is_none() { Field::styled(p.symbol.clone(), bare) } else { p.symbol.clone().into() };
    let stop = stop_field(p, at_exchange, resting);
    vec![
        symbol,
        p.product.to_string().into(),
        p.quantity().to_string().into(),
        price(p.average_price()).into(),
        opt(p.last_price).into(),
        Field::styled(money(p.unrealized_pnl), pnl_style(p.unrealized_pnl)),
        Field::styled(money(p.realized_pnl()), pnl_style(p.realized_pnl())),
        money(p.charges).into(),
        stop,
        opt(p.take_profit).into(),
        to_stop.into(),
    ]
}
