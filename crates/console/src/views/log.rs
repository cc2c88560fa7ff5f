//! The log pane: the desk log (the engine's events, from the database, the
//! same on every console) or this console's own diagnostics; IST times,
//! like every time on screen.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Widget};
use tui_logger::{ExtLogRecord, LogFormatter};

use crate::app::App;
use xcoin_db::events::DeskEvent;
use xcoin_model::calendar::MarketCalendar;
use xcoin_model::event::EventLevel;

/// One desk event as a line: `09:31:02 WARN  ORDER  order 12 … refused: …`.
pub fn event_line(calendar: &MarketCalendar, e: &DeskEvent) -> Line<'static> {
    let style = match e.level {
        EventLevel::Error => Style::new().fg(Color::Red),
        EventLevel::Warn => Style::new().fg(Color::Yellow),
        EventLevel::Info => Style::new(),
    };
    Line::from(vec![
        Span::styled(format!("{} {:<5} ", calendar.local(e.at).format("%H:%M:%S"), e.level.as_str()), style),
        Span::styled(format!("{:<14} ", e.kind.as_str()), Style::new().fg(Color::DarkGray)),
        Span::styled(e.message.clone(), style),
    ])
}

/// The desk log, its newest line (or the line scrolled to) at the bottom,
/// long lines wrapped whole; the title says where the pane is and how to
/// follow again.
pub fn render_desk_log(app: &App, area: Rect, buf: &mut Buffer) {
    let events = &app.store.events;
    let room = area.width.saturating_sub(2) as usize;
    let height = area.height.saturating_sub(2) as usize;
    let bottom = app.log_bottom();
    let mut lines: Vec<Line> = Vec::new();
    for e in events.iter().take(bottom + 1).rev() {
        let mut wrapped = super::fit::wrap(&event_line(&app.calendar, e), room);
        // A line shows whole or not at all (the newest always).
        if lines.len() + wrapped.len() > height && !lines.is_empty() {
            break;
        }
        wrapped.reverse();
        lines.extend(wrapped);
    }
    lines.truncate(height);
    lines.reverse();
    let title = match (events.len(), app.log_anchor) {
        (0, _) => " Desk log · L diagnostics ".to_string(),
        (n, None) => format!(" Desk log · {n} of {n} · following · [ ] scroll · L diagnostics "),
        (n, Some(_)) => format!(" Desk log · {} of {n} · {} newer below · End follows ", bottom + 1, n - bottom - 1),
    };
    Paragraph::new(lines).block(Block::new().borders(Borders::ALL).title(title)).render(area, buf);
}

/// Formats the process's log records with their time in the market's zone.
pub struct IstFormatter {
    pub calendar: MarketCalendar,
}

/// One record as text: `HH:MM:SS LEVEL message`, the time in IST.
pub fn log_text(calendar: &MarketCalendar, unix_seconds: i64, level: &str, msg: &str) -> String {
    let at = chrono::DateTime::from_timestamp(unix_seconds, 0).unwrap_or_default();
    format!("{} {level:<5} {msg}", calendar.local(at).format("%H:%M:%S"))
}

impl LogFormatter for IstFormatter {
    fn min_width(&self) -> u16 {
        20
    }

    /// The record's text, wrapped to `width`, continuation lines indented.
    fn format(&self, width: usize, evt: &ExtLogRecord) -> Vec<Line<'_>> {
        let text =
            log_text(&self.calendar, evt.timestamp.timestamp().as_second(), evt.level.as_str(), evt.msg().trim_start());
        let style = match evt.level.as_str() {
            "ERROR" => Style::new().fg(Color::Red),
            "WARN" => Style::new().fg(Color::Yellow),
            _ => Style::new(),
        };
        let chars: Vec<char> = text.chars().collect();
        let indent = 9;
        let mut lines = Vec::new();
        let mut at = 0;
        while at < chars.len() {
            let room = if at == 0 { width } else { width.saturating_sub(indent) }.max(1);
            let end = (at + room).min(chars.len());
            let pad = if at == 0 { String::new() } else { " ".repeat(indent) };
            lines.push(Line::styled(format!("{pad}{}", chars[at..end].iter().collect::<String>()), style));
            at = end;
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_times_are_ist() {
        let cal = MarketCalendar::default();
        // 2026-11-30 04:00:00 UTC is 09:30:00 IST.
        assert_eq!(log_text(&cal, 1_796_011_200, "INFO", "engine running"), "09:30:00 INFO  engine running");
    }
}
