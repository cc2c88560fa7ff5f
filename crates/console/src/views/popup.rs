//! Popups: help (generated from the keymap, scrolling), details,
//! confirmations whose default is Cancel, the kill switch's typed word, and
//! notes. Each is sized from its content and wraps within the screen.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Flex, Layout, Rect, Size};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};
use xcoin_model::strategy::TradingMode;

use super::{fit, price, rupees};
use crate::action::{Scope, bindings, hint_line};
use crate::app::{App, KILL_WORD, Popup, Tab};
use crate::form::{FIELDS, MODIFY_FIELDS};

/// The widest a popup grows, however long its lines: wider reads badly.
const MAX_WIDTH: u16 = 100;

/// A popup: a title, a body that wraps (and, for help, scrolls), and a
/// footer — buttons, the field being typed, the verdict — that stays
/// visible however the body wraps.
struct Dialog<'a> {
    title: String,
    body: Vec<Line<'a>>,
    footer: Vec<Line<'a>>,
    border: Color,
    /// Forms keep their width as the text in them changes.
    min_width: u16,
}

/// Where a dialog goes and its lines, wrapped to its width.
struct Placed {
    rect: Rect,
    body: Vec<Line<'static>>,
    footer: Vec<Line<'static>>,
    /// Rows the body has on screen.
    body_rows: usize,
}

/// Sizes a dialog from its content: as wide as its longest line or title
/// (within the screen and `MAX_WIDTH`), as tall as its wrapped lines
/// (within the screen), centred.
fn place(d: &Dialog, area: Rect) -> Placed {
    let natural = d.body.iter().chain(&d.footer).map(Line::width).chain([fit::width(&d.title) + 2]).max().unwrap_or(0);
    let width = (natural as u16 + 2).max(d.min_width).min(MAX_WIDTH).min(area.width);
    let inner = width.saturating_sub(2) as usize;
    let wrap = |lines: &[Line]| lines.iter().flat_map(|l| fit::wrap(l, inner)).collect::<Vec<_>>();
    let (body, footer) = (wrap(&d.body), wrap(&d.footer));
    let height = ((body.len() + footer.len() + 2) as u16).min(area.height);
    let body_rows = (height as usize).saturating_sub(2 + footer.len());
    let [v] = Layout::vertical([Constraint::Length(height)]).flex(Flex::Center).areas(area);
    let [rect] = Layout::horizontal([Constraint::Length(width)]).flex(Flex::Center).areas(v);
    Placed { rect, body, footer, body_rows }
}

/// Draws a dialog; a body taller than the screen shows its first lines and
/// says how many more there are (the footer stays).
fn show(d: Dialog, area: Rect, buf: &mut Buffer) {
    let Placed { rect, mut body, footer, body_rows } = place(&d, area);
    if body.len() > body_rows {
        let more = body.len() - body_rows.saturating_sub(1);
        body.truncate(body_rows.saturating_sub(1));
        body.push(Line::from(format!("… {more} more lines: a taller terminal shows them")).style(dim()));
    }
    body.extend(footer);
    draw(rect, buf, &d.title, d.border, body, None);
}

fn draw(rect: Rect, buf: &mut Buffer, title: &str, border: Color, lines: Vec<Line>, bottom: Option<String>) {
    Clear.render(rect, buf);
    let mut block = Block::new().borders(Borders::ALL).border_style(Style::new().fg(border)).title(title.to_string());
    if let Some(b) = bottom {
        block = block.title_bottom(Line::from(b).right_aligned());
    }
    Paragraph::new(lines).block(block).render(rect, buf);
}

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// A form's pre-trade verdict as the console last computed it: red when it refuses.
fn verdict_line(verdict: &str) -> Line<'static> {
    let color = if verdict.starts_with('✗') { Color::Red } else { Color::Green };
    Line::from(Span::styled(verdict.to_string(), Style::new().fg(color)))
}

/// A dialog's key line, from the keymap.
fn keys(scope: Scope, read_only: bool) -> Line<'static> {
    Line::from(hint_line(scope, read_only)).style(dim())
}

fn buttons(focus_ok: bool, ok: &str) -> Vec<Line<'static>> {
    let on = Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD);
    vec![Line::from(vec![
        Span::raw("   "),
        Span::styled(" Cancel ".to_string(), if focus_ok { Style::new() } else { on }),
        Span::raw("   "),
        Span::styled(format!(" {ok} "), if focus_ok { on.fg(Color::Red) } else { Style::new() }),
    ])]
}

/// The bindings the help explains a line each: the tab's own (`scope`),
/// then those that work everywhere.
pub fn help_bindings(scope: Scope, read_only: bool) -> impl Iterator<Item = &'static crate::action::Binding> {
    let own = bindings(read_only).filter(move |b| b.scope == scope && scope != Scope::Global);
    own.chain(bindings(read_only).filter(|b| b.scope == Scope::Global))
}

/// The tables with keys of their own, and every dialog, form and field the
/// help sums up in a line each (the wizard shows its keys on its screen).
const OTHER_SCOPES: [(Scope, &str); 11] = [
    (Scope::Orders, "Orders tab"),
    (Scope::Positions, "Positions tab"),
    (Scope::Reconciliation, "Reconciliation tab"),
    (Scope::Filter, "Filter"),
    (Scope::OrderForm, "New order"),
    (Scope::ModifyForm, "Modify, stop/target"),
    (Scope::Confirm, "Confirmation"),
    (Scope::TextEntry, "Typed text"),
    (Scope::Detail, "Detail"),
    (Scope::Strategies, "Strategies"),
    (Scope::Help, "Help"),
];

/// The help, grouped by where the operator is: the tab's own keys first,
/// then the keys that work everywhere, a line each with what it does; then
/// the other tabs' keys and each dialog's, a line per place.
fn help_dialog(scope: Scope, read_only: bool) -> Dialog<'static> {
    let heading = |text: String| Line::from(Span::styled(text, bold().add_modifier(Modifier::UNDERLINED)));
    let key = |b: &crate::action::Binding| {
        Line::from(vec![Span::styled(format!(" {:<6}", b.label), bold()), Span::raw(b.help)])
    };
    let here = OTHER_SCOPES.iter().find(|(s, _)| *s == scope).map(|(_, name)| *name);
    let mut lines = Vec::new();
    let mut under = None;
    for b in help_bindings(scope, read_only) {
        if under != Some(b.scope) {
            under = Some(b.scope);
            lines.push(heading(if b.scope == Scope::Global {
                "Everywhere".into()
            } else {
                here.unwrap_or("Here").into()
            }));
        }
        lines.push(key(b));
    }
    lines.push(heading("Elsewhere".into()));
    for (other, name) in OTHER_SCOPES.iter().filter(|(s, _)| *s != scope) {
        let keys = crate::action::keys_line(*other, read_only);
        if !keys.is_empty() {
            lines.push(Line::from(vec![Span::styled(format!(" {name}: "), bold()), Span::raw(keys)]));
        }
    }
    Dialog {
        title: format!("Help ({})", hint_line(Scope::Help, read_only)),
        body: lines,
        footer: vec![],
        border: Color::Cyan,
        min_width: 0,
    }
}

/// Where popups go: below the header and above the hint bar, which stay in
/// view (the clock, the P&L, the kill switch, the dangerous keys).
pub fn popup_area(screen: Rect) -> Rect {
    let top = screen.height.min(2);
    Rect { y: screen.y + top, height: screen.height.saturating_sub(top + 1), ..screen }
}

/// How far the help scrolls on a screen of `screen`: (the last first line,
/// a page). The key handler clamps with it, so it matches what is drawn.
pub fn help_scroll(screen: Size, scope: Scope, read_only: bool) -> (usize, usize) {
    let screen = Rect::from((ratatui::layout::Position::ORIGIN, screen));
    let placed = place(&help_dialog(scope, read_only), popup_area(screen));
    (placed.body.len().saturating_sub(placed.body_rows), placed.body_rows.max(1))
}

pub fn render(app: &App, popup: &Popup, screen: Rect, buf: &mut Buffer) {
    let area = popup_area(screen);
    let dialog = match popup {
        Popup::Help { scroll } => return render_help(app, *scroll, area, buf),
        Popup::Detail => Dialog {
            title: format!("Detail ({})", hint_line(Scope::Detail, app.read_only)),
            body: detail(app),
            footer: vec![],
            border: Color::Cyan,
            min_width: 0,
        },
        Popup::Confirm { title, body, focus_ok, alternative, .. } => {
            confirm_dialog(app, title, body, *focus_ok, alternative.as_ref().map(|(k, l, _)| (*k, l.as_str())))
        }
        Popup::KillSwitch { input } => text_dialog(
            app,
            "KILL SWITCH",
            vec![
                Line::from("Cancels every working order, exits every position, blocks new orders."),
                Line::from(format!("Type {KILL_WORD}:")),
            ],
            input,
            Color::Red,
        ),
        Popup::NewOrder(form) => order_dialog(app, form),
        Popup::Modify(form) => modify_dialog(app, form),
        Popup::Levels(form) => levels_dialog(app, form),
        Popup::Strategies { selected } => strategies_dialog(app, *selected),
        Popup::Note { issue_id, resolution, input } => text_dialog(
            app,
            "Resolve reconciliation issue",
            vec![Line::from(format!("Issue {issue_id}: {resolution}. An optional note:"))],
            input,
            Color::Yellow,
        ),
    };
    show(dialog, area, buf);
}

/// The help, scrolled to `scroll`, with where it is at the bottom.
fn render_help(app: &App, scroll: usize, area: Rect, buf: &mut Buffer) {
    let d = help_dialog(app.scope(), app.read_only);
    let Placed { rect, body, body_rows, .. } = place(&d, area);
    let total = body.len();
    let first = scroll.min(total.saturating_sub(body_rows));
    let shown: Vec<Line> = body.into_iter().skip(first).take(body_rows).collect();
    let bottom = (total > body_rows)
        .then(|| format!("↑↓ PgUp PgDn scroll · lines {}–{} of {total}", first + 1, first + shown.len()));
    draw(rect, buf, &d.title, d.border, shown, bottom);
}

fn bold() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

/// A line of text being typed, under what it is for.
fn text_dialog(app: &App, title: &str, body: Vec<Line<'static>>, input: &str, border: Color) -> Dialog<'static> {
    Dialog {
        title: title.into(),
        body,
        footer: vec![Line::from(Span::styled(format!(" > {input}▏"), bold())), keys(Scope::TextEntry, app.read_only)],
        border,
        min_width: 0,
    }
}

fn confirm_dialog(
    app: &App,
    title: &str,
    body: &[String],
    focus_ok: bool,
    alternative: Option<(char, &str)>,
) -> Dialog<'static> {
    let mut lines: Vec<Line> = body.iter().map(|b| Line::from(b.clone())).collect();
    lines.push(Line::default());
    let mut footer = buttons(focus_ok, "Confirm");
    if let Some((key, label)) = alternative {
        footer.push(Line::from(vec![
            Span::raw("   "),
            Span::styled(format!(" {key} "), Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)),
            Span::raw(format!(" {label}")),
        ]));
    }
    footer.push(Line::from(format!("   {}", hint_line(Scope::Confirm, app.read_only))).style(dim()));
    Dialog { title: title.into(), body: lines, footer, border: Color::Yellow, min_width: 0 }
}

fn order_dialog(app: &App, form: &crate::form::OrderForm) -> Dialog<'static> {
    let bold = bold();
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
        let style = if focused { bold } else { Style::new() };
        let mut spans = vec![Span::styled(format!("{marker} {name:<10} "), style), Span::styled(shown, style)];
        let letters = crate::form::OrderForm::letters(i);
        if !letters.is_empty() {
            spans.push(Span::styled(format!("   {letters}"), dim()));
        }
        if i == 0 && !form.completions().is_empty() {
            spans.push(Span::styled(format!("   Tab: {}", form.completions().join(" ")), dim()));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::default());
    let verdict = verdict_line(&form.verdict);
    if !form.context.is_empty() {
        lines.push(Line::from(form.context.clone()));
    }
    Dialog {
        title: "New order — Manual Trading".into(),
        body: lines,
        footer: vec![verdict, keys(Scope::OrderForm, app.read_only)],
        border: Color::Cyan,
        min_width: 64,
    }
}

/// A form of typed fields: what it acts on, the fields, the prices it is
/// judged on, then the verdict and the keys.
fn fields_dialog(
    app: &App,
    title: String,
    target: Option<String>,
    (names, values, focus): (&[&str], &[String], usize),
    verdict: &[String; 2],
) -> Dialog<'static> {
    let bold = bold();
    let mut lines = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let focused = i == focus;
        let style = if focused { bold } else { Style::new() };
        lines.push(Line::from(Span::styled(
            format!("{} {name:<9} {}{}", if focused { "▶" } else { " " }, values[i], if focused { "▏" } else { "" }),
            style,
        )));
    }
    let mut footer = Vec::new();
    if let Some(target) = target {
        lines.insert(0, Line::from(target));
        let [context, verdict] = verdict;
        if !context.is_empty() {
            lines.push(Line::from(context.clone()));
        }
        footer.push(verdict_line(verdict));
    }
    footer.push(keys(Scope::ModifyForm, app.read_only));
    Dialog { title, body: lines, footer, border: Color::Cyan, min_width: 44 }
}

fn modify_dialog(app: &App, form: &crate::form::ModifyForm) -> Dialog<'static> {
    let order = app.store.orders.get(&form.order_id).map(crate::app::describe_order);
    let fields = (&MODIFY_FIELDS[..], &form.values[..], form.focus);
    fields_dialog(app, format!("Modify order {}", form.order_id), order, fields, &form.verdict)
}

fn levels_dialog(app: &App, form: &crate::form::LevelsForm) -> Dialog<'static> {
    let position = app.store.positions.get(&form.position_id).map(crate::app::describe_position);
    let fields = (&crate::form::LEVEL_FIELDS[..], &form.values[..], form.focus);
    fields_dialog(app, format!("Stop and target — position {}", form.position_id), position, fields, &form.verdict)
}

/// Each strategy in two lines: who it is and its state, then what it holds,
/// its net P&L today and the last thing it decided.
fn strategies_dialog(app: &App, selected: usize) -> Dialog<'static> {
    let mut lines = Vec::new();
    for (i, s) in app.store.strategies.values().enumerate() {
        let state = if s.is_active {
            "active".to_string()
        } else {
            format!(
                "PAUSED by {}: {}",
                s.paused_by.as_deref().unwrap_or("?"),
                s.paused_reason.as_deref().unwrap_or("?")
            )
        };
        let style = if i == selected { Style::new().add_modifier(Modifier::REVERSED) } else { Style::new() };
        let state_style = if s.is_active { Style::new().fg(Color::Green) } else { Style::new().fg(Color::Yellow) };
        lines.push(Line::from(vec![
            Span::styled(format!(" {:<4} {:<20} {:<8} {:<5} ", s.id, s.name, s.strategy_type, s.mode), style),
            Span::styled(state, state_style),
        ]));
        let last = match (&s.last_decision, s.last_decision_at) {
            (Some(d), Some(at)) => format!(" · last {} {d}", app.calendar.local(at).format("%H:%M:%S")),
            _ => " · nothing decided yet".to_string(),
        };
        if app.mode == TradingMode::Live && s.mode == TradingMode::Paper && s.is_automated() {
            // It trades in the paper book: nothing of it is in this desk's.
            lines.push(Line::from(format!("      trades in the paper book{last}")));
            continue;
        }
        let held = app.store.positions.values().filter(|p| p.strategy_id == s.id).count() as i64;
        let net = app
            .store
            .summary
            .breakdown
            .iter()
            .find(|b| b.kind == xcoin_db::stats::BreakdownKind::Strategy && b.name == s.name)
            .map_or(rust_decimal::Decimal::ZERO, |b| b.net_pnl);
        let net_style = Style::new().fg(if net < rust_decimal::Decimal::ZERO { Color::Red } else { Color::Green });
        lines.push(Line::from(vec![
            Span::raw(format!("      {} · today ", xcoin_model::count(held, "position", "positions"))),
            Span::styled(xcoin_model::money::rupees(net), net_style),
            Span::raw(last),
        ]));
    }
    Dialog {
        title: "Strategies".into(),
        body: lines,
        footer: vec![keys(Scope::Strategies, app.read_only)],
        border: Color::Cyan,
        min_width: 44,
    }
}

/// The selected row of the current tab, in full.
fn detail(app: &App) -> Vec<Line<'static>> {
    let local = |t: chrono::DateTime<chrono::Utc>| app.calendar.local(t).format("%H:%M:%S").to_string();
    match app.tab {
        Tab::Orders => app.selected_order().map(|o| order_detail(app, o, &local)),
        Tab::Positions => app.tables[Tab::Positions]
            .selected_row()
            .and_then(|id| app.position(id))
            .map(|p| position_detail(p, &local)),
        Tab::Trades => app.selected_trade().map(trade_detail),
        Tab::Reconciliation => app.selected_issue().map(|i| issue_detail(i, &local)),
        Tab::Stats => None,
    }
    .unwrap_or_default()
}

type Local<'a> = &'a dyn Fn(chrono::DateTime<chrono::Utc>) -> String;

fn order_detail(app: &App, o: &xcoin_model::order::Order, local: Local) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    lines.push(Line::from(format!(
        "Order {}  {} {} {} {} {}  status {}",
        o.id,
        o.side,
        o.quantity,
        o.symbol,
        o.product,
        o.order_type,
        o.shown_status()
    )));
    lines.push(Line::from(format!(
        "price {}  trigger {}  stop {}  target {}  risk {}",
        o.price.map_or("—".into(), price),
        o.trigger_price.map_or("—".into(), price),
        o.stop_loss.map_or("—".into(), price),
        o.take_profit.map_or("—".into(), price),
        o.risk_amount.map_or("—".into(), rupees),
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
            "  {}  {} @ {}  charges {}  trade {}",
            local(t.traded_at),
            t.quantity,
            price(t.price),
            rupees(t.total_charges),
            t.broker_trade_id
        )));
    }
    lines
}

fn position_detail(p: &xcoin_model::position::Position, local: Local) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    lines.push(Line::from(format!("Position {}  {} {} {}", p.id, p.symbol, p.exchange, p.product)));
    lines.push(Line::from(format!(
        "quantity {}  average {}  last {}",
        p.quantity(),
        price(p.average_price()),
        p.last_price.map_or("—".into(), price)
    )));
    lines.push(Line::from(format!(
        "unrealised {}  realised {}  charges {}",
        rupees(p.unrealized_pnl),
        rupees(p.realized_pnl()),
        rupees(p.charges)
    )));
    lines.push(Line::from(format!(
        "high {}  low {}  opened {}",
        p.highest_price.map_or("—".into(), price),
        p.lowest_price.map_or("—".into(), price),
        local(p.opened_at)
    )));
    lines
}

fn trade_detail(t: &xcoin_model::trade::Trade) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    let c = &t.charges;
    lines.push(Line::from(format!("Trade {} ({})  order {}", t.id, t.broker_trade_id, t.order_id)));
    lines.push(Line::from(format!(
        "{} {} {} @ {}  turnover {}",
        t.side,
        t.quantity,
        t.symbol,
        price(t.price),
        rupees(t.turnover)
    )));
    lines.push(Line::from(format!(
        "brokerage {}  STT {}  exchange {}  SEBI {}  GST {}  stamp {}",
        rupees(c.brokerage),
        rupees(c.stt),
        rupees(c.exchange),
        rupees(c.sebi),
        rupees(c.gst),
        rupees(c.stamp_duty)
    )));
    lines.push(Line::from(format!(
        "charges {}  net value {}  realised {}",
        rupees(t.total_charges),
        rupees(t.net_value),
        rupees(t.realized_pnl)
    )));
    lines
}

fn issue_detail(i: &xcoin_model::reconciliation::Issue, local: Local) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    lines.push(Line::from(format!("Issue {}  {}  {} {} {}", i.id, i.issue_type, i.symbol, i.exchange, i.product)));
    lines.push(Line::from(i.details.clone()));
    lines.push(Line::from(format!(
        "seen {}, first {}, last {}",
        xcoin_model::times(i.seen_count),
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
    lines
}
