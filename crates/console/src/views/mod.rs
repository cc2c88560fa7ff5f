//! Drawing: state in, pixels out. `impl Widget for &App` lays out the header,
//! the tabs, the current table, the log pane, the flash line and the hint
//! bar; each tab and popup has its own file. Nothing here fetches or mutates.

mod fit;
mod header;
mod log;
pub(crate) mod orders;
mod popup;
mod positions;
mod recon;
mod stats;
mod trades;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, StatefulWidget, Table, TableState, Tabs, Widget, Wrap};
use rust_decimal::Decimal;

use super::action::hints;
use super::app::{App, FlashKind, Tab};
use fit::{Part, fit_parts};
pub use popup::{help_bindings, help_scroll};
pub use stats::rows as stats_rows;

/// Below this the console shows a notice instead of the desk. Narrower
/// than the desk's tables need, each table says how wide it must be.
pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 12;

/// A table's title, with `filter "INFY": N of M` while its tab's filter is set.
pub fn filtered(app: &App, tab: Tab, title: String) -> String {
    match app.filter_note(tab) {
        Some(note) => format!("{title} · {note}"),
        None => title,
    }
}

/// A signed amount to the paisa, as table cells show it: `-1518.18`. A cell
/// sits under a column that names the amount, and the table is sized from
/// its content, so the cells leave out the `₹` and the grouping. Everywhere
/// else (header, Stats, totals, details, messages) amounts are [`rupees`].
/// The domain's one money module formats both.
pub use xcoin_model::money::paisa as money;
pub use xcoin_model::money::rupees;

/// A price, always with two decimals (1441.00, never 1441.0).
pub fn price(v: Decimal) -> String {
    money(v)
}

/// Green for a gain, red for a loss.
pub fn pnl_style(v: Decimal) -> Style {
    if v > Decimal::ZERO {
        Style::new().fg(Color::Green)
    } else if v < Decimal::ZERO {
        Style::new().fg(Color::Red)
    } else {
        Style::new()
    }
}

/// One column of a table.
///
/// A column is as wide as its header and the widest of its cells among the
/// rows on screen, never narrower than `min`; a cell is never cut. Widths
/// come from the visible rows only (the bench draws with 100,000 orders;
/// formatting them all every frame is not affordable), so `min` is set to
/// the widest value of a closed set (a status, a side) and to a typical
/// width for open-ended values (a 10-character symbol, a 7-digit price):
/// scrolling through ordinary rows then leaves the columns where they are,
/// and only an unusually long value widens its column while it is shown.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub header: &'static str,
    /// 0: essential, never dropped. When the columns do not fit, the
    /// highest `drop` goes first (the rightmost first among equals).
    pub drop: u8,
    pub min: u16,
    /// Numbers are right-aligned so their digits line up.
    pub right: bool,
}

/// Never dropped: without its id, symbol, side, quantity, price, status or
/// P&L a row cannot be read or acted on safely.
pub const ESSENTIAL: u8 = 0;

impl Column {
    pub const fn new(header: &'static str, drop: u8) -> Column {
        Column { header, drop, min: 0, right: false }
    }
    pub const fn min(self, min: u16) -> Column {
        Column { min, ..self }
    }
    pub const fn right(self) -> Column {
        Column { right: true, ..self }
    }
}

/// A cell's text and style.
pub struct Field {
    pub text: String,
    pub style: Style,
}

impl Field {
    pub fn styled(text: impl Into<String>, style: Style) -> Field {
        Field { text: text.into(), style }
    }
}

impl From<String> for Field {
    fn from(text: String) -> Field {
        Field { text, style: Style::new() }
    }
}

/// Space between two columns: two when everything fits that way (easier to
/// read), else one.
const SPACING: [u16; 2] = [2, 1];

/// Which columns to show in `room` cells, and the space between them: every
/// column that fits, dropping the highest `drop` first. `Err` carries the
/// width the essential columns need when even they do not fit.
pub fn fit_columns(columns: &[Column], widths: &[u16], room: u16) -> Result<(Vec<bool>, u16), u16> {
    let need = |keep: &[bool], spacing: u16| {
        let shown: Vec<u16> = widths.iter().zip(keep).filter(|(_, k)| **k).map(|(w, _)| *w).collect();
        shown.iter().sum::<u16>() + spacing * (shown.len() as u16).saturating_sub(1)
    };
    let mut keep = vec![true; columns.len()];
    if need(&keep, SPACING[0]) <= room {
        return Ok((keep, SPACING[0]));
    }
    let mut order: Vec<usize> = (0..columns.len()).filter(|&i| columns[i].drop != ESSENTIAL).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(columns[i].drop), std::cmp::Reverse(i)));
    let mut dropped = Vec::new();
    for i in order {
        if need(&keep, SPACING[1]) <= room {
            break;
        }
        keep[i] = false;
        dropped.push(i);
    }
    if need(&keep, SPACING[1]) > room {
        return Err(need(&keep, SPACING[1]));
    }
    // A narrower column dropped before a wider one may fit in what is left:
    // take it back, the most important first.
    for &i in dropped.iter().rev() {
        keep[i] = true;
        if need(&keep, SPACING[1]) > room {
            keep[i] = false;
        }
    }
    Ok((keep, SPACING[1]))
}

/// Draws `count` rows (already in display order) with the selected one
/// highlighted and scrolled into view (none when `selected` is past them). Only the visible rows are built.
/// Columns that do not fit go whole, lowest priority first; when even the
/// essential ones do not fit, the table says how wide the terminal must be
/// instead of showing cut values.
pub fn table(
    area: Rect,
    buf: &mut Buffer,
    title: String,
    columns: &[Column],
    count: usize,
    selected: usize,
    row: impl Fn(usize) -> Vec<Field>,
) {
    table_with_totals(area, buf, title, None, columns, count, selected, row)
}

/// A table with a line of totals on its bottom border (dropped when the
/// border is too short for all of it: a total is whole or absent). Long by
/// design: the column widths, the rows and the totals line are fitted
/// together, and only together do they keep every number whole.
#[allow(clippy::too_many_arguments)]
pub fn table_with_totals(
    area: Rect,
    buf: &mut Buffer,
    title: String,
    totals: Option<String>,
    columns: &[Column],
    count: usize,
    selected: usize,
    row: impl Fn(usize) -> Vec<Field>,
) {
    let visible = area.height.saturating_sub(3) as usize; // borders and header
    // A `selected` past the rows (usize::MAX) selects nothing: a read-only list.
    let offset = match selected {
        s if s >= count => 0,
        s if visible == 0 => s,
        s => s.saturating_sub(visible - 1),
    };
    let rows: Vec<Vec<Field>> = (offset..count.min(offset + visible.max(1))).map(row).collect();
    let widths: Vec<u16> = columns
        .iter()
        .enumerate()
        .map(|(c, col)| {
            let cells = rows.iter().filter_map(|r| r.get(c)).map(|f| fit::width(&f.text) as u16);
            cells.chain([fit::width(col.header) as u16, col.min]).max().unwrap_or(0)
        })
        .collect();
    let room = area.width.saturating_sub(2);
    let (keep, spacing) = match fit_columns(columns, &widths, room) {
        Ok(fit) => fit,
        Err(need) => {
            // In terminal columns: what lies beside this area stays as it is.
            let outside = buf.area.width.saturating_sub(area.width);
            let text = format!("widen the terminal to {} columns", need + 2 + outside);
            Paragraph::new(text)
                .wrap(Wrap { trim: true })
                .style(Style::new().fg(Color::Yellow))
                .block(Block::new().borders(Borders::ALL).title(title))
                .render(area, buf);
            return;
        }
    };
    let hidden = keep.iter().filter(|k| !**k).count();
    let mut title = title;
    let note = format!(" · {} hidden", xcoin_model::count(hidden as i64, "column", "columns"));
    if hidden > 0 && fit::width(&title) + fit::width(&note) <= room as usize {
        title.push_str(&note);
    }
    let cell = |col: &Column, text: String, style: Style| {
        let line = Line::from(text);
        Cell::from(if col.right { line.right_aligned() } else { line }).style(style)
    };
    let shown = |c: &usize| keep[*c];
    let header: Vec<Cell> =
        (0..columns.len()).filter(shown).map(|c| cell(&columns[c], columns[c].header.into(), Style::new())).collect();
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|fields| {
            Row::new(
                fields
                    .into_iter()
                    .enumerate()
                    .filter(|(c, _)| keep.get(*c).copied().unwrap_or(false))
                    .map(|(c, f)| cell(&columns[c], f.text, f.style)),
            )
        })
        .collect();
    let widths: Vec<Constraint> = (0..columns.len()).filter(shown).map(|c| Constraint::Length(widths[c])).collect();
    let table = Table::new(rows, widths)
        .column_spacing(spacing)
        .header(Row::new(header).style(Style::new().add_modifier(Modifier::BOLD)))
        .block({
            let block = Block::new().borders(Borders::ALL).title(title);
            match totals.filter(|t| fit::width(t) <= room as usize) {
                Some(t) => block.title_bottom(Line::from(t).right_aligned()),
                None => block,
            }
        })
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected((selected < count).then(|| selected - offset));
    StatefulWidget::render(table, area, buf, &mut state);
}

/// The tab titles, as long as they fit: full names with counts, short
/// names, numbers with counts, numbers alone. Orders counts working orders
/// and today's orders (`2·41`): a count of working orders alone read `(0)`
/// over a list of finished ones.
fn tab_titles(app: &App, room: u16, (working, today): (usize, usize)) -> Vec<Line<'static>> {
    let counts: Vec<Option<String>> = Tab::ALL
        .iter()
        .map(|t| match t {
            Tab::Orders => Some(format!("{working}·{today}")),
            Tab::Positions => Some(app.store.positions.len().to_string()),
            Tab::Trades => Some(app.store.trades.len().to_string()),
            Tab::Reconciliation => Some(
                app.store
                    .issues
                    .values()
                    .filter(|x| x.status == xcoin_model::reconciliation::IssueStatus::Open)
                    .count()
                    .to_string(),
            ),
            Tab::Stats => None,
        })
        .collect();
    let level = |level: usize| -> Vec<String> {
        (0..Tab::ALL.len())
            .map(|i| {
                let name = match level {
                    0 => format!(" {}", Tab::ALL[i].title()),
                    1 => format!(" {}", Tab::ALL[i].short_title()),
                    _ => String::new(),
                };
                match &counts[i] {
                    Some(n) if level < 3 => format!("{}{name} ({n})", i + 1),
                    _ => format!("{}{name}", i + 1),
                }
            })
            .collect()
    };
    // Each title has a space either side; a divider between two.
    let width = |titles: &[String]| titles.iter().map(|t| fit::width(t) + 2).sum::<usize>() + titles.len() - 1;
    let titles = (0..4).map(level).find(|t| width(t) <= room as usize).unwrap_or_else(|| level(3));
    titles.into_iter().map(Line::from).collect()
}

/// The hint bar: every hint whole; when the bar is short of room the least
/// important go first, and the dangerous keys (`K KILL` last of all) stay.
fn hint_bar(app: &App, room: u16) -> Line<'static> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut parts: Vec<Part> = hints(app.scope(), app.read_only)
        .into_iter()
        .map(|h| Part::droppable(vec![Span::styled(h.key, bold), Span::raw(" "), Span::raw(h.what)], h.keep))
        .collect();
    if app.read_only {
        parts.push(Part::fixed(Span::styled("READ-ONLY", Style::new().fg(Color::Yellow)), u8::MAX));
    }
    // Always two spaces between hints: with one, `q quit 1-5 tabs` misreads.
    let mut line = fit_parts(parts, &["  "], room.saturating_sub(1) as usize);
    line.spans.insert(0, Span::raw(" "));
    line
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            let text =
                format!("terminal too small: {}×{}, XCoin needs {MIN_WIDTH}×{MIN_HEIGHT}", area.width, area.height);
            Paragraph::new(text).wrap(Wrap { trim: true }).style(Style::new().fg(Color::Yellow)).render(area, buf);
            return;
        }
        // The filter being typed; a kept filter is in the table's title, and
        // a command's result always shows here.
        let flash_line = if self.filter_editing {
            Line::from(vec![
                Span::styled(" filter: ", Style::new().add_modifier(Modifier::BOLD)),
                Span::raw(format!("{}{}", self.tables[self.tab].filter, if self.filter_editing { "▏" } else { "" })),
            ])
        } else if let Some((text, kind, _)) = &self.flash {
            let style = match kind {
                FlashKind::Info => Style::new().fg(Color::Cyan),
                FlashKind::Done => Style::new().fg(Color::Green),
                FlashKind::Failed => Style::new().fg(Color::Red),
            };
            Line::from(Span::styled(format!(" {text}"), style))
        } else {
            Line::default()
        };
        // A long message wraps onto more lines rather than losing its end.
        let flash_lines = fit::wrap(&flash_line, area.width as usize);
        let flash_height = (flash_lines.len() as u16).clamp(1, 3);

        let log_height = if self.show_log { (area.height / 4).clamp(4, 12) } else { 0 };
        let [head, tabs, body, log, flash, hint] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(log_height),
            Constraint::Length(flash_height),
            Constraint::Length(1),
        ])
        .areas(area);
        header::render(self, head, buf);

        let order_counts = self.order_counts();
        Tabs::new(tab_titles(self, tabs.width, order_counts))
            .select(self.tab.index())
            .highlight_style(Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED))
            .render(tabs, buf);

        match self.tab {
            Tab::Orders => orders::render(self, body, buf, order_counts),
            Tab::Positions => positions::render(self, body, buf),
            Tab::Trades => trades::render(self, body, buf),
            Tab::Reconciliation => recon::render(self, body, buf),
            Tab::Stats => stats::render(self, body, buf),
        }

        if self.show_log && self.log_diagnostics {
            tui_logger::TuiLoggerWidget::default()
                .block(Block::new().borders(Borders::ALL).title("This console's diagnostics ([ ] scroll · L desk log)"))
                .formatter(Box::new(log::IstFormatter { calendar: self.calendar.clone() }))
                .state(&self.log_state)
                .render(log, buf);
        } else if self.show_log {
            log::render_desk_log(self, log, buf);
        }

        Paragraph::new(flash_lines).render(flash, buf);
        Paragraph::new(hint_bar(self, hint.width)).style(Style::new().bg(Color::DarkGray)).render(hint, buf);

        if let Some(p) = &self.popup {
            popup::render(self, p, area, buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: [Column; 4] =
        [Column::new("id", ESSENTIAL), Column::new("time", 2), Column::new("symbol", ESSENTIAL), Column::new("fee", 1)];

    #[test]
    fn columns_go_whole_lowest_priority_first_and_essentials_never() {
        let widths = [2, 8, 10, 5];
        // 25 cells and three spaces of two.
        assert_eq!(fit_columns(&COLUMNS, &widths, 31), Ok((vec![true; 4], 2)));
        assert_eq!(fit_columns(&COLUMNS, &widths, 30), Ok((vec![true; 4], 1)));
        assert_eq!(fit_columns(&COLUMNS, &widths, 27), Ok((vec![true, false, true, true], 1)));
        assert_eq!(fit_columns(&COLUMNS, &widths, 13), Ok((vec![true, false, true, false], 1)));
        assert_eq!(fit_columns(&COLUMNS, &widths, 12), Err(13), "the essential columns need 13");
        // The wide fee column does not fit; the narrower time column, dropped first, does.
        assert_eq!(fit_columns(&COLUMNS, &[2, 3, 10, 9], 20), Ok((vec![true, true, true, false], 1)));
    }
}
