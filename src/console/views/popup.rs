//! Popups: help (generated from the keymap), details, confirmations whose
//! default is Cancel, the kill switch's typed word, and notes.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

use super::money;
use crate::console::action::bindings;
use crate::console::app::{App, KILL_WORD, Popup};
use crate::console::form::{FIELDS, MODIFY_FIELDS};

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(height.min(area.height))]).flex(Flex::Center).areas(area);
    let [h] = Layout::horizontal([Constraint::Length(width.min(area.width))]).flex(Flex::Center).areas(v);
    h
}

fn frame(title: &str, lines: Vec<Line>, area: Rect, buf: &mut Buffer, width: u16, border: Color) {
    let rect = centered(area, width, lines.len() as u16 + 2);
    Clear.render(rect, buf);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(Block::new().borders(Borders::ALL).border_style(Style::new().fg(border)).title(title.to_string()))
        .render(rect, buf);
}

fn buttons(focus_ok: bool, ok: &str) -> Line<'static> {
    let on = Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD);
    Line::from(vec![
        Span::raw("   "),
        Span::styled(" Cancel ".to_string(), if focus_ok { Style::new() } else { on }),
        Span::raw("   "),
        Span::styled(format!(" {ok} "), if focus_ok { on.fg(Color::Red) } else { Style::new() }),
        Span::raw("   (←/→ choose, Enter, Esc cancels)"),
    ])
}

pub fn render(app: &App, popup: &Popup, area: Rect, buf: &mut Buffer) {
    match popup {
        Popup::Help => {
            let mut lines = vec![Line::from("Keys (Esc closes)").style(Style::new().add_modifier(Modifier::BOLD))];
            for b in bindings(app.read_only) {
                let scope = match b.scope {
                    crate::console::action::Scope::Global => "",
                    crate::console::action::Scope::Orders => " [orders]",
                    crate::console::action::Scope::Positions => " [positions]",
                    crate::console::action::Scope::Reconciliation => " [reconciliation]",
                };
                lines.push(Line::from(vec![
                    Span::styled(format!(" {:<6}", b.label), Style::new().add_modifier(Modifier::BOLD)),
                    Span::raw(format!("{}{scope}", b.help)),
                ]));
            }
            frame("Help", lines, area, buf, 72, Color::Cyan);
        }
        Popup::Detail => frame("Detail (Esc closes)", detail(app), area, buf, 78, Color::Cyan),
        Popup::Confirm { title, body, focus_ok, alternative, .. } => {
            let mut lines: Vec<Line> = body.iter().map(|b| Line::from(b.clone())).collect();
            lines.push(Line::default());
            lines.push(buttons(*focus_ok, "Confirm"));
            if let Some((key, label, _)) = alternative {
                lines.push(Line::from(vec![
                    Span::raw("   "),
                    Span::styled(format!(" {key} "), Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)),
                    Span::raw(format!(" {label}")),
                ]));
            }
            frame(title, lines, area, buf, 72, Color::Yellow);
        }
        Popup::KillSwitch { input } => {
            let lines = vec![
                Line::from("Cancels every working order, exits every position, blocks new orders."),
                Line::from(format!("Type {KILL_WORD} and press Enter (Esc cancels):")),
                Line::from(Span::styled(format!(" > {input}▏"), Style::new().add_modifier(Modifier::BOLD))),
            ];
            frame("KILL SWITCH", lines, area, buf, 72, Color::Red);
        }
        Popup::NewOrder(form) => {
            let mut lines = Vec::new();
            for (i, name) in FIELDS.iter().enumerate() {
                let focused = i == form.focus;
                let marker = if focused { "▶" } else { " " };
                let value = &form.values[i];
                let shown = if matches!(i, 1 | 3 | 4) {
                    format!("‹ {value} ›")
                } else {
                    format!("{value}{}", if focused { "▏" } else { "" })
                };
                let style = if focused { Style::new().add_modifier(Modifier::BOLD) } else { Style::new() };
                let mut spans = vec![Span::styled(format!("{marker} {name:<10} "), style), Span::styled(shown, style)];
                if i == 0 && !form.completions().is_empty() {
                    spans.push(Span::styled(
                        format!("   Tab: {}", form.completions().join(" ")),
                        Style::new().fg(Color::DarkGray),
                    ));
                }
                lines.push(Line::from(spans));
            }
            lines.push(Line::default());
            lines.push(match form.request(&app.limits.ticks, &app.operator) {
                Err(e) => Line::from(Span::styled(format!("✗ {e}"), Style::new().fg(Color::Red))),
                Ok(req) => match app.preview(&req) {
                    Ok(a) => Line::from(Span::styled(
                        format!(
                            "✓ passes pre-trade checks: risk {}, reward:risk {}",
                            a.risk_amount.map_or("—".into(), crate::setup::rupees),
                            a.risk_reward.map_or("—".into(), |r| format!("{r:.2}:1"))
                        ),
                        Style::new().fg(Color::Green),
                    )),
                    Err(d) => Line::from(Span::styled(format!("✗ {d}"), Style::new().fg(Color::Red))),
                },
            });
            lines.push(
                Line::from("↑/↓ field  ←/→ choose  Tab complete  Enter review  Esc cancel")
                    .style(Style::new().fg(Color::DarkGray)),
            );
            frame("New order — Manual Trading", lines, area, buf, 84, Color::Cyan);
        }
        Popup::Modify(form) => {
            let mut lines = Vec::new();
            for (i, name) in MODIFY_FIELDS.iter().enumerate() {
                let focused = i == form.focus;
                let style = if focused { Style::new().add_modifier(Modifier::BOLD) } else { Style::new() };
                lines.push(Line::from(Span::styled(
                    format!(
                        "{} {name:<9} {}{}",
                        if focused { "▶" } else { " " },
                        form.values[i],
                        if focused { "▏" } else { "" }
                    ),
                    style,
                )));
            }
            if let Some(order) = app.store.orders.get(&form.order_id) {
                lines.insert(0, Line::from(crate::console::app::describe_order(order)));
                let [context, verdict] = match form.change(order) {
                    Ok(change) => app.modify_verdict(order, change),
                    Err(e) => [String::new(), format!("✗ {e}")],
                };
                if !context.is_empty() {
                    lines.push(Line::from(context));
                }
                let style = Style::new().fg(if verdict.starts_with('✗') { Color::Red } else { Color::Green });
                lines.push(Line::from(Span::styled(verdict, style)));
            }
            lines.push(Line::from("↑/↓ field  Enter review  Esc cancel").style(Style::new().fg(Color::DarkGray)));
            frame(&format!("Modify order {}", form.order_id), lines, area, buf, 84, Color::Cyan);
        }
        Popup::Strategies { selected } => {
            let mut lines = Vec::new();
            for (i, s) in app.store.strategies.values().enumerate() {
                let state = if s.is_active {
                    "active".to_string()
                } else {
                    format!("PAUSED by {}", s.paused_by.as_deref().unwrap_or("?"))
                };
                let style = if i == *selected { Style::new().add_modifier(Modifier::REVERSED) } else { Style::new() };
                let state_style =
                    if s.is_active { Style::new().fg(Color::Green) } else { Style::new().fg(Color::Yellow) };
                lines.push(Line::from(vec![
                    Span::styled(format!(" {:<4} {:<20} {:<8} {:<5} ", s.id, s.name, s.strategy_type, s.mode), style),
                    Span::styled(state, state_style),
                ]));
            }
            let keys =
                if app.read_only { "↑/↓ select  Esc close" } else { "↑/↓ select  p pause/resume  Esc close" };
            lines.push(Line::from(keys).style(Style::new().fg(Color::DarkGray)));
            frame("Strategies", lines, area, buf, 78, Color::Cyan);
        }
        Popup::Note { issue_id, resolution, input } => {
            let lines = vec![
                Line::from(format!("Issue {issue_id}: {resolution}. An optional note, then Enter (Esc cancels):")),
                Line::from(Span::styled(format!(" > {input}▏"), Style::new().add_modifier(Modifier::BOLD))),
            ];
            frame("Resolve reconciliation issue", lines, area, buf, 72, Color::Yellow);
        }
    }
}

fn detail(app: &App) -> Vec<Line<'static>> {
    let local = |t: chrono::DateTime<chrono::Utc>| app.calendar.local(t).format("%H:%M:%S").to_string();
    let mut lines = Vec::new();
    match app.tab {
        0 => {
            let Some(o) = app.selected_order() else { return lines };
            lines.push(Line::from(format!(
                "Order {}  {} {} {} {} {}  status {}",
                o.id, o.side, o.quantity, o.symbol, o.product, o.order_type, o.status
            )));
            lines.push(Line::from(format!(
                "price {}  trigger {}  stop {}  target {}  risk {}",
                o.price.map_or("—".into(), |p| format!("{p:.2}")),
                o.trigger_price.map_or("—".into(), |p| format!("{p:.2}")),
                o.stop_loss.map_or("—".into(), |p| format!("{p:.2}")),
                o.take_profit.map_or("—".into(), |p| format!("{p:.2}")),
                o.risk_amount.map_or("—".into(), money),
            )));
            lines.push(Line::from(format!(
                "placed by {}  broker id {}",
                o.placed_by,
                o.broker_order_id.as_deref().unwrap_or("—")
            )));
            if let Some(reason) = &o.status_reason {
                lines.push(Line::from(format!("reason: {reason}")));
            }
            lines.push(Line::from("Status history:").style(Style::new().add_modifier(Modifier::BOLD)));
            match app.history.as_ref().filter(|h| h.0 == o.id) {
                Some((_, _, Ok(history))) => {
                    for h in history {
                        lines.push(Line::from(format!(
                            "  {}  {}{}",
                            local(h.at),
                            h.status,
                            h.reason.as_deref().map(|r| format!("  ({r})")).unwrap_or_default()
                        )));
                    }
                }
                Some((_, _, Err(e))) => lines.push(Line::from(format!("  not read: {e}"))),
                None => lines.push(Line::from("  reading…")),
            }
            lines.push(Line::from("Fills:").style(Style::new().add_modifier(Modifier::BOLD)));
            let fills: Vec<_> = app.store.trades.values().filter(|t| t.order_id == o.id).collect();
            if fills.is_empty() {
                lines.push(Line::from("  none"));
            }
            for t in fills {
                lines.push(Line::from(format!(
                    "  {}  {} @ {:.2}  charges {}  trade {}",
                    local(t.traded_at),
                    t.quantity,
                    t.price,
                    money(t.total_charges),
                    t.broker_trade_id
                )));
            }
        }
        1 => {
            let Some(p) = app.selected_position() else { return lines };
            lines.push(Line::from(format!("Position {}  {} {} {}", p.id, p.symbol, p.exchange, p.product)));
            lines.push(Line::from(format!(
                "quantity {}  average {:.2}  last {}",
                p.quantity(),
                p.average_price(),
                p.last_price.map_or("—".into(), |l| format!("{l:.2}"))
            )));
            lines.push(Line::from(format!(
                "unrealised {}  realised {}  charges {}",
                money(p.unrealized_pnl),
                money(p.realized_pnl()),
                money(p.charges)
            )));
            lines.push(Line::from(format!(
                "high {}  low {}  opened {}",
                p.highest_price.map_or("—".into(), |v| format!("{v:.2}")),
                p.lowest_price.map_or("—".into(), |v| format!("{v:.2}")),
                local(p.opened_at)
            )));
        }
        2 => {
            let Some(t) = app.selected_trade() else { return lines };
            let c = &t.charges;
            lines.push(Line::from(format!("Trade {} ({})  order {}", t.id, t.broker_trade_id, t.order_id)));
            lines.push(Line::from(format!(
                "{} {} {} @ {:.2}  turnover {}",
                t.side,
                t.quantity,
                t.symbol,
                t.price,
                money(t.turnover)
            )));
            lines.push(Line::from(format!(
                "brokerage {}  STT {}  exchange {}  SEBI {}  GST {}  stamp {}",
                money(c.brokerage),
                money(c.stt),
                money(c.exchange),
                money(c.sebi),
                money(c.gst),
                money(c.stamp_duty)
            )));
            lines.push(Line::from(format!(
                "charges {}  net value {}  realised {}",
                money(t.total_charges),
                money(t.net_value),
                money(t.realized_pnl)
            )));
        }
        3 => {
            let Some(i) = app.selected_issue() else { return lines };
            lines.push(Line::from(format!(
                "Issue {}  {}  {} {} {}",
                i.id, i.issue_type, i.symbol, i.exchange, i.product
            )));
            lines.push(Line::from(i.details.clone()));
            lines.push(Line::from(format!(
                "seen {} times, first {}, last {}",
                i.seen_count,
                local(i.first_seen_at),
                local(i.last_seen_at)
            )));
            if let (Some(r), Some(by), Some(at)) = (i.resolution, &i.resolved_by, i.resolved_at) {
                lines.push(Line::from(format!("resolved: {r} by {by} at {}", local(at))));
                if let Some(n) = &i.resolution_note {
                    lines.push(Line::from(format!("note: {n}")));
                }
                if let Some(a) = &i.adjustment {
                    lines.push(Line::from(format!("adjustment: {a}")));
                }
            }
        }
        _ => {}
    }
    lines
}
