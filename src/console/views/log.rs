//! The log pane's lines: IST times, like every time on screen.

use ratatui::style::{Color, Style};
use ratatui::text::Line;
use tui_logger::{ExtLogRecord, LogFormatter};

use crate::domain::calendar::MarketCalendar;

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
