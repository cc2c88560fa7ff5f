//! The header: mode, engine, database, market and clock, today's P&L, kill switch.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{money, pnl_style};
use crate::broker::kite::TickerState;
use crate::console::app::App;
use crate::console::store::DbState;
use crate::domain::strategy::TradingMode;

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mode = match app.mode {
        TradingMode::Paper => Span::styled(" PAPER ", bold.fg(Color::Black).bg(Color::Cyan)),
        TradingMode::Live => Span::styled(" LIVE ", bold.fg(Color::White).bg(Color::Red)),
    };
    let engine = match (app.engine_in_process, app.engine_pid) {
        (true, _) => Span::styled("engine: in this console", Style::new().fg(Color::Green)),
        (false, Some(pid)) => Span::styled(format!("engine: attached (pid {pid})"), Style::new().fg(Color::Green)),
        (false, None) => Span::styled("engine: ABSENT", bold.fg(Color::Yellow)),
    };
    let db = match &app.db_state {
        DbState::Connecting => Span::styled("db: connecting…", Style::new().fg(Color::Yellow)),
        DbState::Live { .. } if app.stale_for().is_some() => Span::styled(
            format!("db: STALE, no answer for {}s", app.stale_for().unwrap_or_default()),
            bold.fg(Color::Yellow),
        ),
        DbState::Live { round_trip } => {
            Span::styled(format!("db: live {:.1} ms", round_trip.as_secs_f64() * 1000.0), Style::new().fg(Color::Green))
        }
        DbState::Reconnecting { since } => {
            Span::styled(format!("db: RECONNECTING {}s", (app.now - *since).num_seconds().max(0)), bold.fg(Color::Red))
        }
    };
    let market = app.calendar.state(app.now);
    let clock = app.calendar.local(app.now).format("%H:%M:%S IST");
    let pnl = app.net_pnl();
    let kill = if app.store.kill_switch_active() {
        Span::styled(" KILL SWITCH ACTIVE ", bold.fg(Color::White).bg(Color::Red))
    } else {
        Span::styled("kill switch: armed", Style::new().fg(Color::Green))
    };
    let sep = || Span::raw("  │  ");
    let mut first = vec![Span::styled("XCoin ", bold), mode, sep(), engine, sep(), db, sep()];
    if let Some(ticker) = &app.ticker {
        // Without the ticker a LIVE desk sees no prices and no fills: say so loudly.
        let alarm = bold.fg(Color::White).bg(Color::Red);
        first.push(match ticker.borrow().state {
            TickerState::Connected => Span::styled("kite: streaming", Style::new().fg(Color::Green)),
            TickerState::Connecting => Span::styled("kite: connecting…", Style::new().fg(Color::Yellow)),
            TickerState::Reconnecting => Span::styled(" kite: RECONNECTING ", alarm),
            TickerState::SessionExpired => Span::styled(" kite: LOGIN NEEDED ", alarm),
            TickerState::Stopped => Span::styled(" kite: STOPPED ", alarm),
        });
        first.push(sep());
    }
    first.push(Span::raw(format!("market {market} {clock}")));
    let first = Line::from(first);
    let mut second = vec![
        Span::raw("Today net P&L "),
        match pnl {
            Some(v) => Span::styled(money(v), pnl_style(v).add_modifier(Modifier::BOLD)),
            None => Span::raw("—"),
        },
        sep(),
        kill,
    ];
    if let Some((gap, at)) = app.last_resync {
        second.push(sep());
        second.push(Span::styled(
            format!("resynced {} after a {:.1} s gap", app.calendar.local(at).format("%H:%M:%S"), gap.as_secs_f64()),
            Style::new().fg(Color::Yellow),
        ));
    }
    Paragraph::new(vec![first, Line::from(second)]).render(area, buf);
}
