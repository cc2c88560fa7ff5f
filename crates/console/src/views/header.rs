//! The header: mode, engine, database, market and clock; today's P&L, the
//! kill switch, the Kite ticker and the last resync. When the terminal is
//! narrow the parts that matter least shorten or go first; the mode, the
//! clock, the P&L and every alarm stay, and nothing is cut.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Paragraph, Widget};
use rust_decimal::Decimal;

use super::fit::{Part, fit_parts};
use super::{pnl_style, rupees};
use crate::app::App;
use crate::store::DbState;
use xcoin_model::feed::TickerState;
use xcoin_model::strategy::TradingMode;

// How firmly each form holds its place (higher holds longer). At 80
// columns the round trip, then the wording of healthy states, give way
// first; the clock, the mode, the P&L, the kill switch and alarms stay.
const ALARM: u8 = 8;
const CLOCK: u8 = 9;
const VITAL: u8 = 10;

fn bold() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}
fn green() -> Style {
    Style::new().fg(Color::Green)
}
fn yellow() -> Style {
    Style::new().fg(Color::Yellow)
}
fn alarm() -> Style {
    bold().fg(Color::White).bg(Color::Red)
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let room = area.width as usize;
    let seps = ["  │  ", " │ "];
    Paragraph::new(vec![fit_parts(first_line(app), &seps, room), fit_parts(second_line(app), &seps, room)])
        .render(area, buf);
}

/// XCoin, the mode, the engine, the database, the market and the clock.
/// Long by design: the parts in the order the header shows them, each with
/// its shorter form for a narrow terminal beside it.
fn first_line(app: &App) -> Vec<Part<'_>> {
    let (bold, green, yellow) = (bold(), green(), yellow());
    let mode = match app.mode {
        TradingMode::Paper => Span::styled(" PAPER ", bold.fg(Color::Black).bg(Color::Cyan)),
        TradingMode::Live => Span::styled(" LIVE ", bold.fg(Color::White).bg(Color::Red)),
    };
    // A standby engine waiting to take over, said beside the active one.
    let (standby, sb) = match app.status.standbys {
        0 => (String::new(), String::new()),
        1 => (", 1 standby".to_string(), " +standby".to_string()),
        n => (format!(", {n} standbys"), format!(" +{n} standby")),
    };
    let engine = match (app.status.engine_in_process, app.status.engine_pid) {
        (true, _) => Part::forms([
            (Span::styled(format!("engine: in this console{standby}"), green), 2),
            (Span::styled(format!("engine: here{sb}"), green), 4),
            (Span::raw(""), 0),
        ]),
        (false, Some(pid)) => Part::forms([
            (Span::styled(format!("engine: active (pid {pid}){standby}"), green), 2),
            (Span::styled(format!("engine: pid {pid}{sb}"), green), 4),
            (Span::raw(""), 0),
        ]),
        // No engine while the desk holds positions or working orders: they
        // are unwatched (no stops, no targets, no kill switch) — an alarm.
        (false, None) if app.exposure() != (0, 0) => {
            let (positions, working) = app.exposure();
            let since = app.status.engine_gone_since.unwrap_or(app.now);
            let since = app.calendar.local(since).format("%H:%M:%S");
            let what = format!(
                "{}, {} unwatched",
                xcoin_model::count(positions as i64, "position", "positions"),
                xcoin_model::count(working as i64, "working order", "working orders")
            );
            let alarm = alarm();
            Part::forms([
                (Span::styled(format!(" ENGINE DOWN {since} · {what} "), alarm), 3),
                (Span::styled(format!(" ENGINE DOWN · {positions} pos, {working} ord "), alarm), ALARM),
            ])
        }
        (false, None) => Part::fixed(Span::styled("engine: ABSENT", bold.fg(Color::Yellow)), ALARM),
    };
    let db = match &app.status.db {
        DbState::Connecting => Part::forms([(Span::styled("db: connecting…", yellow), 3), (Span::raw(""), 0)]),
        DbState::Live { .. } if app.stale_for().is_some() => {
            let s = app.stale_for().unwrap_or_default();
            Part::forms([
                (Span::styled(format!("db: STALE, no answer for {s}s"), bold.fg(Color::Yellow)), 5),
                (Span::styled(format!("db: STALE {s}s"), bold.fg(Color::Yellow)), ALARM),
            ])
        }
        DbState::Live { round_trip } => Part::forms([
            (Span::styled(format!("db: live {:.1} ms", round_trip.as_secs_f64() * 1000.0), green), 1),
            (Span::styled("db: live", green), 3),
            (Span::raw(""), 0),
        ]),
        DbState::Reconnecting { since } => Part::fixed(
            Span::styled(format!("db: RECONNECTING {}s", (app.now - *since).num_seconds().max(0)), bold.fg(Color::Red)),
            ALARM,
        ),
    };
    let market = app.calendar.state(app.now);
    let clock = app.calendar.local(app.now).format("%H:%M:%S IST").to_string();
    if let Some(day) = app.past_day {
        // A past day: which day, loudly, in place of the engine and the market.
        let shown = Span::styled(format!(" PAST DAY {day} · read-only "), bold.fg(Color::Black).bg(Color::Yellow));
        return vec![
            Part::droppable(vec![Span::styled("XCoin ", bold)], 5),
            Part::fixed(mode, VITAL).glued(),
            Part::fixed(shown, VITAL),
            db,
            Part::forms([(Span::raw(clock), CLOCK)]),
        ];
    }
    vec![
        Part::droppable(vec![Span::styled("XCoin ", bold)], 5),
        Part::fixed(mode, VITAL).glued(),
        engine,
        db,
        Part::forms([
            (Span::raw(format!("market {market} {clock}")), 6),
            (Span::raw(format!("{market} {clock}")), 7),
            (Span::raw(clock), CLOCK),
        ]),
    ]
}

/// Today's P&L, the kill switch, the Kite ticker and the last resync.
fn second_line(app: &App) -> Vec<Part<'_>> {
    let (green, yellow, alarm) = (green(), yellow(), alarm());
    let pnl = match app.net_pnl() {
        Some(v) => Span::styled(rupees(v), pnl_style(v).add_modifier(Modifier::BOLD)),
        None => Span::raw("—"),
    };
    let day = app.past_day.map_or("Today".to_string(), |d| d.to_string());
    let mut second = vec![
        Part {
            forms: [(format!("{day} net P&L "), 4), ("net P&L ".to_string(), 6), ("P&L ".to_string(), VITAL)]
                .into_iter()
                .map(|(label, keep)| (vec![Span::raw(label), pnl.clone()], keep))
                .collect(),
            glue: false,
        },
        if app.store.kill_switch_flattening() {
            // Its cancels and exits are not all done yet (an engine is finishing them).
            Part::forms([
                (Span::styled(" KILL SWITCH ACTIVE — flattening ", alarm), 5),
                (Span::styled(" KILL SWITCH · FLATTENING ", alarm), VITAL),
            ])
        } else if app.store.kill_switch_active() {
            Part::fixed(Span::styled(" KILL SWITCH ACTIVE ", alarm), VITAL)
        } else {
            Part::forms([(Span::styled("kill switch: armed", green), 5), (Span::styled("kill: armed", green), VITAL)])
        },
    ];
    if let Some((f, _)) = &app.store.summary.funds {
        let free = Span::styled(rupees(f.available_margin), pnl_style(f.available_margin.min(Decimal::ZERO)));
        second.push(Part {
            forms: vec![
                (
                    vec![
                        Span::raw("funds "),
                        free.clone(),
                        Span::raw(format!(" free · {} used", rupees(f.used_margin))),
                    ],
                    2,
                ),
                (vec![Span::raw("free "), free], 3),
                (vec![], 0),
            ],
            glue: false,
        });
    }
    if let Some(ticker) = &app.status.ticker {
        // Without the ticker a LIVE desk sees no prices and no fills: say so loudly.
        second.push(match ticker.state {
            TickerState::Connected => Part::forms([
                (Span::styled("kite: streaming", green), 3),
                (Span::styled("kite: ok", green), 5),
                (Span::raw(""), 0),
            ]),
            TickerState::Connecting => Part::fixed(Span::styled("kite: connecting…", yellow), 5),
            TickerState::Reconnecting => Part::fixed(Span::styled(" kite: RECONNECTING ", alarm), ALARM),
            TickerState::SessionExpired => Part::fixed(Span::styled(" kite: LOGIN NEEDED ", alarm), ALARM),
            TickerState::Stopped => Part::fixed(Span::styled(" kite: STOPPED ", alarm), ALARM),
        });
    }
    // Near the broker's daily order limit: from 80 % in yellow, from 90 % as an alarm.
    let placed = app.store.summary.stats.as_ref().map_or(0, |st| st.broker_writes);
    if let Some(cap) = app.mode.broker().daily_write_cap().map(i64::from)
        && let Some(level) = xcoin_model::order::cap_warning(placed, cap)
    {
        let style = if level >= 90 { alarm } else { yellow };
        second.push(Part::forms([
            (Span::styled(format!(" orders {placed}/{cap} today: entries stop at {cap} "), style), 3),
            (Span::styled(format!(" orders {placed}/{cap} "), style), ALARM),
        ]));
    }
    if let Some((gap, at)) = app.status.last_resync {
        let at = app.calendar.local(at).format("%H:%M:%S");
        second.push(Part::forms([
            (Span::styled(format!("resynced {at} after a {:.1} s gap", gap.as_secs_f64()), yellow), 1),
            (Span::styled(format!("resynced {at}"), yellow), 2),
            (Span::raw(""), 0),
        ]));
    }
    second
}
