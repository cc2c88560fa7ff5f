//! The Reconciliation tab: open issues (resolved ones behind `r`).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};

use super::{Column, ESSENTIAL, Field};
use crate::app::App;
use xcoin_model::reconciliation::IssueStatus;

/// The quantities on both sides are what an operator resolves by: they stay
/// with the id, symbol and status; the times go first.
const COLUMNS: [Column; 10] = [
    Column::new("id", ESSENTIAL).right(),
    Column::new("type", 1).min(17),
    Column::new("symbol", ESSENTIAL).min(10),
    Column::new("product", 2),
    Column::new("local", ESSENTIAL).right(),
    Column::new("broker", ESSENTIAL).right(),
    Column::new("first seen", 3).min(8),
    Column::new("last seen", 2).min(8),
    Column::new("seen", 2).right(),
    Column::new("status", ESSENTIAL).min(13),
];

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let q = |v: Option<i64>| v.map_or("—".to_string(), |q| q.to_string());
    // Of every issue the tab lists; a filter's note says how many it shows.
    let n = app.tables[crate::tab::Tab::Reconciliation].unfiltered as i64;
    let title = if app.show_resolved {
        format!("Reconciliation — {}, resolved included (r hides)", xcoin_model::count(n, "issue", "issues"))
    } else {
        format!("Reconciliation — {} (r shows resolved)", xcoin_model::count(n, "open issue", "open issues"))
    };
    let title = super::filtered(app, crate::tab::Tab::Reconciliation, title);
    super::table(
        area,
        buf,
        title,
        &COLUMNS,
        app.tables[crate::tab::Tab::Reconciliation].rows.len(),
        app.tables[crate::tab::Tab::Reconciliation].selected,
        |i| {
            let x = &app.store.issues[&app.tables[crate::tab::Tab::Reconciliation].rows[i]];
            let status = match x.status {
                IssueStatus::Open => Field::styled("OPEN", Style::new().fg(Color::Red)),
                IssueStatus::Resolved => Field::styled(
                    x.resolution.map_or("RESOLVED".into(), |r| r.to_string()),
                    Style::new().fg(Color::DarkGray),
                ),
            };
            vec![
                x.id.to_string().into(),
                x.issue_type.to_string().into(),
                x.symbol.clone().into(),
                x.product.to_string().into(),
                q(x.local_quantity).into(),
                q(x.broker_quantity).into(),
                app.calendar.local(x.first_seen_at).format("%H:%M:%S").to_string().into(),
                app.calendar.local(x.last_seen_at).format("%H:%M:%S").to_string().into(),
                x.seen_count.to_string().into(),
                status,
            ]
        },
    );
}
