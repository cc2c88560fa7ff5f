//! The Stats tab: today's numbers, the intraday P&L chart and how much of
//! each risk limit is used.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Line;
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, Gauge, GraphType, Paragraph, Widget};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::{money, pnl_style};
use crate::console::app::App;

fn ratio(used: Decimal, limit: Decimal) -> f64 {
    if limit <= Decimal::ZERO { 0.0 } else { (used / limit).to_f64().unwrap_or(0.0).clamp(0.0, 1.0) }
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let [numbers, chart, gauges] =
        Layout::horizontal([Constraint::Length(40), Constraint::Min(20), Constraint::Length(34)]).areas(area);
    let s = &app.store.summary;
    let pnl = s.pnl.unwrap_or(crate::db::stats::TodayPnl {
        realized_pnl: Decimal::ZERO,
        unrealized_pnl: Decimal::ZERO,
        charges: Decimal::ZERO,
        net_pnl: Decimal::ZERO,
    });
    let stats = s.stats.as_ref();
    let line = |label: &str, value: String, style: Style| {
        Line::from(vec![format!("{label:<22}").into(), ratatui::text::Span::styled(value, style)])
    };
    let gross = pnl.realized_pnl + pnl.unrealized_pnl;
    let win_rate =
        stats.and_then(|st| st.win_rate()).map_or("—".to_string(), |w| format!("{:.1}%", w * Decimal::ONE_HUNDRED));
    let text = vec![
        line("Net P&L", money(pnl.net_pnl), pnl_style(pnl.net_pnl)),
        line("Gross P&L", money(gross), pnl_style(gross)),
        line("  realised", money(pnl.realized_pnl), pnl_style(pnl.realized_pnl)),
        line("  unrealised", money(pnl.unrealized_pnl), pnl_style(pnl.unrealized_pnl)),
        line("Charges paid", money(pnl.charges), Style::new()),
        line("Orders", s.orders_today.to_string(), Style::new()),
        line("Trades", s.trades_today.to_string(), Style::new()),
        line("Order-to-trade", s.order_to_trade.map_or("—".into(), |r| r.normalize().to_string()), Style::new()),
        line("Win rate", win_rate, Style::new()),
        line("Largest win", stats.map_or("—".into(), |st| money(st.largest_win)), Style::new().fg(Color::Green)),
        line("Largest loss", stats.map_or("—".into(), |st| money(st.largest_loss)), Style::new().fg(Color::Red)),
    ];
    Paragraph::new(text).block(Block::new().borders(Borders::ALL).title("Today")).render(numbers, buf);

    // Chart coordinates are display-only floats; the numbers stay Decimal.
    let points: Vec<(f64, f64)> =
        app.store.pnl_series.iter().map(|(t, v)| (t.timestamp() as f64, v.to_f64().unwrap_or(0.0))).collect();
    let (x0, x1) = match (points.first(), points.last()) {
        (Some(a), Some(b)) if b.0 > a.0 => (a.0, b.0),
        (Some(a), _) => (a.0 - 1.0, a.0 + 1.0),
        _ => (0.0, 1.0),
    };
    let lo = points.iter().map(|p| p.1).fold(0.0_f64, f64::min);
    let hi = points.iter().map(|p| p.1).fold(0.0_f64, f64::max);
    let pad = ((hi - lo) * 0.1).max(1.0);
    let dataset = Dataset::default()
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(Style::new().fg(Color::Cyan))
        .data(&points);
    Chart::new(vec![dataset])
        .block(Block::new().borders(Borders::ALL).title("Net P&L today"))
        .x_axis(Axis::default().bounds([x0, x1]))
        .y_axis(
            Axis::default()
                .bounds([lo - pad, hi + pad])
                .labels([format!("{:.0}", lo - pad), format!("{:.0}", hi + pad)]),
        )
        .render(chart, buf);

    let limits = &app.limits;
    let loss = (-pnl.net_pnl).max(Decimal::ZERO);
    let drawdown = stats.map_or(Decimal::ZERO, |st| (st.peak_pnl.max(Decimal::ZERO) - pnl.net_pnl).max(Decimal::ZERO));
    let open = Decimal::from(app.store.positions.len());
    let rows = Layout::vertical([Constraint::Length(3); 3]).split(gauges);
    for (i, (title, used, limit)) in [
        ("Daily loss", loss, limits.max_daily_loss()),
        ("Drawdown", drawdown, limits.max_drawdown()),
        ("Open positions", open, Decimal::from(limits.max_open_positions)),
    ]
    .into_iter()
    .enumerate()
    {
        let r = ratio(used, limit);
        let color = if r >= 0.8 {
            Color::Red
        } else if r >= 0.5 {
            Color::Yellow
        } else {
            Color::Green
        };
        Gauge::default()
            .block(Block::new().borders(Borders::ALL).title(title))
            .gauge_style(Style::new().fg(color))
            .ratio(r)
            .label(format!("{} of {}", money(used).trim_end_matches(".00"), money(limit).trim_end_matches(".00")))
            .render(rows[i], buf);
    }
}
