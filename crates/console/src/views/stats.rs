//! The Stats tab: today's numbers, the intraday P&L chart and how much of
//! each risk limit is used.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, Gauge, GraphType, Paragraph, Widget, Wrap};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::fit::width;
use super::{Column, ESSENTIAL, Field, money, pnl_style, rupees};
use crate::app::App;
use xcoin_db::stats::{Breakdown, BreakdownKind};

fn ratio(used: Decimal, limit: Decimal) -> f64 {
    if limit <= Decimal::ZERO { 0.0 } else { (used / limit).to_f64().unwrap_or(0.0).clamp(0.0, 1.0) }
}

/// The chart is dropped below this width; the numbers and the gauges stay.
const CHART_MIN: u16 = 20;

/// Today's numbers, a label, a value and its style each.
fn today_rows(app: &App) -> Vec<(&'static str, String, Style)> {
    let s = &app.store.summary;
    let pnl = s.pnl.unwrap_or_default();
    let stats = s.stats.as_ref();
    let gross = pnl.realized_pnl + pnl.unrealized_pnl;
    let funds = s.funds.map(|(f, _)| f);
    let win_rate = stats.and_then(|st| st.win_rate()).map_or("—".to_string(), |w| xcoin_model::percent(w, 1));
    let mut rows = vec![
        ("Net P&L", rupees(pnl.net_pnl), pnl_style(pnl.net_pnl)),
        ("Gross P&L", rupees(gross), pnl_style(gross)),
        ("  realised", rupees(pnl.realized_pnl), pnl_style(pnl.realized_pnl)),
        ("  unrealised", rupees(pnl.unrealized_pnl), pnl_style(pnl.unrealized_pnl)),
        ("Charges paid", rupees(pnl.charges), Style::new()),
        // Open positions since each opened: for one carried from an earlier
        // day this differs from its share of today's unrealised.
        ("Open P&L, all days", rupees(pnl.open_unrealized_pnl), pnl_style(pnl.open_unrealized_pnl)),
        ("Orders", app.order_counts().1.to_string(), Style::new()),
        ("Trades", s.trades_today.to_string(), Style::new()),
        ("Broker requests", app.mode.broker().writes_text(stats.map_or(0, |st| st.broker_writes)), Style::new()),
        ("Order-to-trade", app.order_to_trade().map_or("—".into(), xcoin_model::charges::otr_text), Style::new()),
        ("Win rate", win_rate, Style::new()),
        ("Largest win", stats.map_or("—".into(), |st| rupees(st.largest_win)), Style::new().fg(Color::Green)),
        ("Largest loss", stats.map_or("—".into(), |st| rupees(st.largest_loss)), Style::new().fg(Color::Red)),
        ("Funds free", funds.map_or("—".into(), |f| rupees(f.available_margin)), Style::new()),
        ("Margin used", funds.map_or("—".into(), |f| rupees(f.used_margin)), Style::new()),
        ("Opening balance", funds.map_or("—".into(), |f| rupees(f.opening_balance)), Style::new()),
    ];
    // Reconciliation's share of the realised, on a day it booked any:
    // outside round trips and the win rate.
    if !s.adjustments.is_zero() {
        rows.insert(3, ("    adjustments", rupees(s.adjustments), pnl_style(s.adjustments)));
    }
    rows.extend(goal_rows(app));
    rows
}

/// The desk's goals: where each stands, or when it was reached.
fn goal_rows(app: &App) -> Vec<(&'static str, String, Style)> {
    use xcoin_model::goals::Goal;
    let Some(g) = &app.goals else { return Vec::new() };
    let s = &app.store.summary;
    let net = s.pnl.unwrap_or_default().net_pnl;
    let reached = |goal: Goal| {
        s.goals
            .iter()
            .find(|e| e.goal == goal && e.scope == "desk")
            .map(|e| format!("✓ reached {}", app.calendar.local(e.reached_at).format("%H:%M")))
    };
    let done = Style::new().fg(Color::Yellow);
    let mut rows = Vec::new();
    let mut push = |label, goal, progress: String| {
        let (text, style) = reached(goal).map_or((progress, Style::new()), |r| (r, done));
        rows.push((label, text, style));
    };
    if let Some(t) = g.profit_target {
        push("Goal: profit", Goal::ProfitTarget, format!("{} of {}", rupees(net), rupees(t)));
    }
    if let Some(m) = g.max_trades {
        push("Goal: trades", Goal::MaxTrades, format!("{} of {m}", s.trades_today));
    }
    if let Some(m) = g.max_losing_streak {
        push("Goal: losing run", Goal::LosingStreak, format!("at most {m} in a row"));
    }
    if let Some(p) = g.give_back_pct {
        push("Goal: give-back", Goal::GiveBack, format!("at most {p}% of the peak"));
    }
    rows
}

/// How much of each risk limit is used: title, fraction, label. Kite's
/// daily request cap is shown where the broker has one.
fn gauges(app: &App) -> Vec<(&'static str, f64, String)> {
    let s = &app.store.summary;
    let pnl = s.pnl.unwrap_or_default();
    let stats = s.stats.as_ref();
    let limits = &app.limits;
    let whole = xcoin_model::money::whole_rupees;
    let amount = |used: Decimal, limit: Decimal| (ratio(used, limit), format!("{} of {}", whole(used), whole(limit)));
    let counted = |used: i64, limit: i64| (ratio(used.into(), limit.into()), format!("{used} of {limit}"));
    let loss = (-pnl.net_pnl).max(Decimal::ZERO);
    let drawdown = stats.map_or(Decimal::ZERO, |st| (st.peak_pnl.max(Decimal::ZERO) - pnl.net_pnl).max(Decimal::ZERO));
    let mut out = vec![
        ("Daily loss", amount(loss, limits.max_daily_loss())),
        ("Drawdown", amount(drawdown, limits.max_drawdown())),
        ("Open positions", counted(app.store.positions.len() as i64, i64::from(limits.max_open_positions))),
    ];
    if let Some((f, _)) = s.funds {
        out.push(("Margin used", amount(f.used_margin, f.used_margin + f.available_margin.max(Decimal::ZERO))));
    }
    if let Some(cap) = app.mode.broker().daily_write_cap() {
        out.push(("Kite requests", counted(stats.map_or(0, |st| st.broker_writes), i64::from(cap))));
    }
    out.into_iter().map(|(title, (r, label))| (title, r, label)).collect()
}

/// The breakdown's columns: a strategy's or an instrument's name and its day.
const BREAKDOWN: [Column; 7] = [
    Column::new("strategy · symbol", ESSENTIAL).min(10),
    Column::new("trades", 2).right(),
    Column::new("trips", 3).right(),
    Column::new("win", 1).min(4).right(),
    Column::new("realised", 4).right(),
    Column::new("charges", 5).right(),
    Column::new("net", ESSENTIAL).min(8).right(),
];

fn breakdown_row(b: &Breakdown) -> Vec<Field> {
    let name = match b.kind {
        BreakdownKind::Strategy => Field::styled(b.name.clone(), Style::new().add_modifier(Modifier::BOLD)),
        BreakdownKind::Instrument => b.name.clone().into(),
    };
    vec![
        name,
        b.trades.to_string().into(),
        b.round_trips.to_string().into(),
        b.win_rate().map_or("—".into(), |w| xcoin_model::percent(w, 0)).into(),
        Field::styled(money(b.realized_pnl), pnl_style(b.realized_pnl)),
        money(b.charges).into(),
        Field::styled(money(b.net_pnl), pnl_style(b.net_pnl)),
    ]
}

/// How many lines of today's numbers there are (what ↑/↓ scroll through).
pub fn rows(app: &App) -> usize {
    today_rows(app).len()
}

/// Draws the Stats tab. Long by design: the layout, read top to bottom as
/// the screen shows it (summary, breakdown, goals, strategies).
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let rows = today_rows(app);
    let total = rows.len();
    // Sized from the content: labels, two spaces, values right-aligned.
    let label_w = rows.iter().map(|r| width(r.0)).max().unwrap_or(0) + 2;
    let value_w = rows.iter().map(|r| width(&r.1)).max().unwrap_or(0);
    let text: Vec<Line> = rows
        .into_iter()
        .map(|(label, value, style)| {
            let pad = label_w + value_w - width(label) - width(&value);
            Line::from(vec![Span::raw(format!("{label}{}", " ".repeat(pad))), Span::styled(value, style)])
        })
        .collect();
    let numbers_w = (label_w + value_w + 2) as u16;

    let gauges = gauges(app);
    let gauges_w = gauges.iter().map(|g| width(g.0).max(width(&g.2))).max().unwrap_or(0) as u16 + 4;

    // Numbers and gauges are essential; the chart takes what is left, if enough.
    if numbers_w + gauges_w > area.width {
        let outside = buf.area.width.saturating_sub(area.width);
        Paragraph::new(format!("widen the terminal to {} columns", numbers_w + gauges_w + outside))
            .wrap(Wrap { trim: true })
            .style(Style::new().fg(Color::Yellow))
            .block(Block::new().borders(Borders::ALL).title("Stats"))
            .render(area, buf);
        return;
    }
    let [numbers, right] = Layout::horizontal([Constraint::Length(numbers_w), Constraint::Fill(1)]).areas(area);
    // Too short for every number: the box scrolls (↑/↓) and its title says
    // what it shows and that more is there, never dropping rows silently.
    let room = numbers.height.saturating_sub(2) as usize;
    app.stats_room.set(room);
    let first = app.stats_scroll.min(total.saturating_sub(room));
    // A past day (`xcoin --date`) is named by its date, never "Today".
    let day = app.past_day.map_or("Today".to_string(), |d| d.format("%a %d %b %Y").to_string());
    let title = if total > room {
        let more = match (first > 0, first + room < total) {
            (true, true) => "↑↓ more",
            (false, _) => "↓ more",
            (true, false) => "↑ more",
        };
        format!("{day} {}–{} of {total} {more}", first + 1, (first + room).min(total))
    } else {
        day
    };
    Paragraph::new(text)
        .scroll((first as u16, 0))
        .block(Block::new().borders(Borders::ALL).title(title))
        .render(numbers, buf);

    // Beside the numbers: the chart and the gauges on top, the day per
    // strategy and per instrument below, as tall as its rows (the chart
    // takes the rest).
    let day = &app.store.summary.breakdown;
    let gauges_h = 3 * gauges.len() as u16;
    let bottom_h = (day.len() as u16 + 3).max(4).min(right.height.saturating_sub(gauges_h));
    let [top, bottom] = Layout::vertical([Constraint::Fill(1), Constraint::Length(bottom_h)]).areas(right);
    let spare = right.width - gauges_w;
    let chart_w = if spare >= CHART_MIN { spare } else { 0 };
    let [chart, gauge_area] = Layout::horizontal([Constraint::Length(chart_w), Constraint::Fill(1)]).areas(top);
    if chart_w > 0 {
        pnl_chart(app, chart, buf);
    }
    let rows = Layout::vertical(vec![Constraint::Length(3); gauges.len()]).split(gauge_area);
    for (i, (title, r, label)) in gauges.into_iter().enumerate() {
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
            .label(label)
            .render(rows[i], buf);
    }
    if bottom.height >= 4 {
        super::table(bottom, buf, "By strategy, then instrument".into(), &BREAKDOWN, day.len(), usize::MAX, |i| {
            breakdown_row(&day[i])
        });
    }
}

/// The intraday net P&L as a line.
fn pnl_chart(app: &App, chart: Rect, buf: &mut Buffer) {
    // Chart coordinates are display-only floats; the numbers stay Decimal.
    let series = &app.store.pnl_series;
    let line = |part: fn(&xcoin_db::stats::TodayPnl) -> Decimal| -> Vec<(f64, f64)> {
        series.iter().map(|(t, p)| (t.timestamp() as f64, part(p).to_f64().unwrap_or(0.0))).collect()
    };
    let net = line(|p| p.net_pnl);
    let realised = line(|p| p.realized_pnl);
    let unrealised = line(|p| p.unrealized_pnl);
    let (x0, x1) = match (net.first(), net.last()) {
        (Some(a), Some(b)) if b.0 > a.0 => (a.0, b.0),
        (Some(a), _) => (a.0 - 1.0, a.0 + 1.0),
        _ => (0.0, 1.0),
    };
    let all = || net.iter().chain(&realised).chain(&unrealised).map(|p| p.1);
    let lo = all().fold(0.0_f64, f64::min);
    let hi = all().fold(0.0_f64, f64::max);
    let pad = ((hi - lo) * 0.1).max(1.0);
    // The time axis in IST, from the first sample to the last.
    let ist = |x: f64| {
        chrono::DateTime::from_timestamp(x as i64, 0)
            .map_or(String::new(), |t| app.calendar.local(t).format("%H:%M").to_string())
    };
    let x_labels = if series.is_empty() { vec![] } else { vec![ist(x0), ist(x1)] };
    let dataset = |name: &'static str, color: Color, data| {
        Dataset::default()
            .name(name)
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(color))
            .data(data)
    };
    Chart::new(vec![
        dataset("realised", Color::Green, &realised),
        dataset("unrealised", Color::Yellow, &unrealised),
        dataset("net", Color::Cyan, &net),
    ])
    .block(Block::new().borders(Borders::ALL).title("P&L today"))
    .x_axis(Axis::default().bounds([x0, x1]).labels(x_labels))
    .y_axis(
        Axis::default().bounds([lo - pad, hi + pad]).labels([format!("{:.0}", lo - pad), format!("{:.0}", hi + pad)]),
    )
    .render(chart, buf);
}
