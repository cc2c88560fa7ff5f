//! The Reconciliation tab: open issues (resolved ones behind `r`).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Style};
use ratatui::widgets::{Cell, Row};

use crate::console::app::App;
use crate::domain::reconciliation::IssueStatus;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let q = |v: Option<i64>| v.map_or("—".to_string(), |q| q.to_string());
    let title = format!(
        "Reconciliation — {} {}",
        app.issues_view.len(),
        if app.show_resolved { "issues, resolved included (r hides)" } else { "open issues (r shows resolved)" }
    );
    super::table(
        area,
        buf,
        super::Columns {
            title,
            header: vec![
                "id",
                "type",
                "symbol",
                "product",
                "local",
                "broker",
                "first seen",
                "last seen",
                "seen",
                "status",
            ],
            widths: vec![
                Constraint::Length(5),
                Constraint::Length(18),
                Constraint::Length(11),
                Constraint::Length(7),
                Constraint::Length(7),
                Constraint::Length(7),
                Constraint::Length(10),
                Constraint::Length(10),
                Constraint::Length(5),
                Constraint::Min(12),
            ],
        },
        app.issues_view.len(),
        app.selected[3],
        |i| {
            let x = &app.store.issues[&app.issues_view[i]];
            let status = match x.status {
                IssueStatus::Open => Cell::from("OPEN").style(Style::new().fg(Color::Red)),
                IssueStatus::Resolved => Cell::from(x.resolution.map_or("RESOLVED".into(), |r| r.to_string()))
                    .style(Style::new().fg(Color::DarkGray)),
            };
            Row::new(vec![
                Cell::from(x.id.to_string()),
                Cell::from(x.issue_type.to_string()),
                Cell::from(x.symbol.clone()),
                Cell::from(x.product.to_string()),
                Cell::from(q(x.local_quantity)),
                Cell::from(q(x.broker_quantity)),
                Cell::from(app.calendar.local(x.first_seen_at).format("%H:%M:%S").to_string()),
                Cell::from(app.calendar.local(x.last_seen_at).format("%H:%M:%S").to_string()),
                Cell::from(x.seen_count.to_string()),
                status,
            ])
        },
    );
}
