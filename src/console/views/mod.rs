//! Drawing: state in, pixels out. `impl Widget for &App` lays out the header,
//! the tabs, the current table, the log pane, the flash line and the hint
//! bar; each tab and popup has its own file. Nothing here fetches or mutates.

mod header;
mod orders;
mod popup;
mod positions;
mod recon;
mod stats;
mod trades;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, StatefulWidget, Table, TableState, Tabs, Widget};
use rust_decimal::Decimal;

use super::action::hints;
use super::app::{App, FlashKind, TAB_TITLES};

/// Below this the console shows a notice instead of the desk.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;

/// A signed amount to the paisa.
pub fn money(v: Decimal) -> String {
    format!("{:.2}", crate::domain::to_paisa(v))
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

/// A table's title, column names and widths.
pub struct Columns<'a> {
    pub title: String,
    pub header: Vec<&'a str>,
    pub widths: Vec<Constraint>,
}

/// Draws `count` rows (already in display order) with the selected one
/// highlighted and scrolled into view. Only the visible rows are built.
pub fn table<'a>(
    area: Rect,
    buf: &mut Buffer,
    columns: Columns<'a>,
    count: usize,
    selected: usize,
    row: impl Fn(usize) -> Row<'a>,
) {
    let block = Block::new().borders(Borders::ALL).title(columns.title);
    let visible = area.height.saturating_sub(3) as usize; // borders and header
    let offset = if visible == 0 { selected } else { selected.saturating_sub(visible - 1) };
    let rows: Vec<Row> = (offset..count.min(offset + visible.max(1))).map(row).collect();
    let table = Table::new(rows, columns.widths)
        .header(Row::new(columns.header).style(Style::new().add_modifier(Modifier::BOLD)))
        .block(block)
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected((count > 0).then_some(selected - offset));
    StatefulWidget::render(table, area, buf, &mut state);
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            let text =
                format!("terminal too small: {}×{}, XCoin needs {MIN_WIDTH}×{MIN_HEIGHT}", area.width, area.height);
            Paragraph::new(text).style(Style::new().fg(Color::Yellow)).render(area, buf);
            return;
        }
        let log_height = if self.show_log { (area.height / 4).clamp(4, 12) } else { 0 };
        let [head, tabs, body, log, flash, hint] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(log_height),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(area);
        header::render(self, head, buf);

        let titles: Vec<Line> = TAB_TITLES
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let count = match i {
                    0 => self.store.orders.values().filter(|o| o.status.is_active()).count(),
                    1 => self.store.positions.len(),
                    2 => self.store.trades.len(),
                    3 => self
                        .store
                        .issues
                        .values()
                        .filter(|x| x.status == crate::domain::reconciliation::IssueStatus::Open)
                        .count(),
                    _ => return Line::from(format!("{} {t}", i + 1)),
                };
                Line::from(format!("{} {t} ({count})", i + 1))
            })
            .collect();
        Tabs::new(titles)
            .select(self.tab)
            .highlight_style(Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED))
            .render(tabs, buf);

        match self.tab {
            0 => orders::render(self, body, buf),
            1 => positions::render(self, body, buf),
            2 => trades::render(self, body, buf),
            3 => recon::render(self, body, buf),
            _ => stats::render(self, body, buf),
        }

        if self.show_log {
            tui_logger::TuiLoggerWidget::default()
                .block(Block::new().borders(Borders::ALL).title("Log ([ ] scroll)"))
                .output_target(false)
                .output_file(false)
                .output_line(false)
                .output_timestamp(Some("%H:%M:%S".into()))
                .style_error(Style::new().fg(Color::Red))
                .style_warn(Style::new().fg(Color::Yellow))
                .state(&self.log_state)
                .render(log, buf);
        }

        let flash_line = if self.filter_editing || !self.filter.is_empty() {
            Line::from(vec![
                Span::styled(" filter: ", Style::new().add_modifier(Modifier::BOLD)),
                Span::raw(format!("{}{}", self.filter, if self.filter_editing { "▏" } else { "" })),
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
        Paragraph::new(flash_line).render(flash, buf);

        let mut spans = Vec::new();
        for (k, what) in hints(self.scope(), self.read_only) {
            spans.push(Span::styled(format!(" {k}"), Style::new().add_modifier(Modifier::BOLD)));
            spans.push(Span::raw(format!(" {what} ")));
        }
        if self.read_only {
            spans.push(Span::styled(" READ-ONLY", Style::new().fg(Color::Yellow)));
        }
        Paragraph::new(Line::from(spans)).style(Style::new().bg(Color::DarkGray)).render(hint, buf);

        if let Some(p) = &self.popup {
            popup::render(self, p, area, buf);
        }
    }
}
