//! The end-of-day report: a trading day's P&L with charges by component,
//! per strategy and per instrument, round trips, the order-to-trade ratio,
//! the kill switch, reconciliation and the day's worst moments — as text,
//! Markdown or JSON (`xcoin report`).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::stats::{Breakdown, BreakdownKind};
use crate::{Db, DbError};
use xcoin_model::calendar::MarketCalendar;
use xcoin_model::charges::otr_text;
use xcoin_model::count;
use xcoin_model::money::{rupees, to_paisa};

/// Charges of the day's fills, by component, and their total.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChargesByComponent {
    #[serde(flatten)]
    pub lines: xcoin_model::charges::Charges,
    pub total: Decimal,
}

/// One strategy's or instrument's day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub name: String,
    pub trades: i64,
    pub round_trips: i64,
    pub wins: i64,
    pub realised: Decimal,
    pub charges: Decimal,
    pub net: Decimal,
}

/// A kill-switch event of the day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KillSwitchLine {
    pub at: String,
    pub action: String,
    pub trigger: String,
    pub actor: String,
    pub reason: String,
}

/// A reconciliation issue of the day and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssueLine {
    pub id: i64,
    pub kind: String,
    pub instrument: String,
    pub details: String,
    /// `RESOLUTION by WHO at HH:MM (note)`, or `open`.
    pub outcome: String,
}

/// A trading day, closed (or as it stands, for today).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayReport {
    pub day: NaiveDate,
    /// Realised P&L of the day's fills and adjustments, before charges.
    pub realised: Decimal,
    /// Of `realised`, what reconciliation and operators' closes without a
    /// fill booked (position adjustments): outside round trips and win rate.
    pub adjustments: Decimal,
    /// Today: the day's move of open positions; a past day: as last recorded.
    pub unrealised: Decimal,
    pub gross: Decimal,
    pub charges: ChargesByComponent,
    pub net: Decimal,
    pub orders: i64,
    pub trades: i64,
    pub order_to_trade: Option<Decimal>,
    pub round_trips: i64,
    pub wins: i64,
    pub losses: i64,
    pub win_rate: Option<Decimal>,
    pub average_win: Option<Decimal>,
    pub average_loss: Option<Decimal>,
    pub largest_loss: Decimal,
    pub max_drawdown: Decimal,
    pub by_strategy: Vec<Line>,
    pub by_instrument: Vec<Line>,
    pub kill_switch: Vec<KillSwitchLine>,
    pub issues: Vec<IssueLine>,
    /// Daily goals reached: `HH:MM:SS GOAL (scope): figures; action`.
    pub goals: Vec<String>,
}

fn line(b: &Breakdown) -> Line {
    Line {
        name: b.name.clone(),
        trades: b.trades,
        round_trips: b.round_trips,
        wins: b.wins,
        realised: to_paisa(b.realized_pnl),
        charges: to_paisa(b.charges),
        net: to_paisa(b.net_pnl),
    }
}

fn average(values: &[Decimal]) -> Option<Decimal> {
    (!values.is_empty()).then(|| to_paisa(values.iter().sum::<Decimal>() / Decimal::from(values.len())))
}

/// The day's kill-switch events and reconciliation issues, as the report lists them.
async fn incidents(
    db: &Db,
    calendar: &MarketCalendar,
    day: NaiveDate,
) -> Result<(Vec<KillSwitchLine>, Vec<IssueLine>), DbError> {
    let local = |t: chrono::DateTime<chrono::Utc>| calendar.local(t).format("%H:%M:%S").to_string();
    let kill_switch = db
        .kill_switch_events_on(day)
        .await?
        .into_iter()
        .map(|e| KillSwitchLine {
            at: local(e.created_at),
            action: e.action.to_string(),
            trigger: e.trigger.to_string(),
            actor: e.actor,
            reason: e.reason,
        })
        .collect();
    let issues = db
        .issues_on(day)
        .await?
        .into_iter()
        .map(|i| IssueLine {
            id: i.id,
            kind: i.issue_type.to_string(),
            instrument: format!("{}:{} {}", i.exchange, i.symbol, i.product),
            details: i.details.clone(),
            outcome: match (i.resolution, &i.resolved_by, i.resolved_at) {
                (Some(r), Some(by), Some(at)) => format!(
                    "{r} by {by} at {}{}",
                    local(at),
                    i.resolution_note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default()
                ),
                _ => "open".into(),
            },
        })
        .collect();
    Ok((kill_switch, issues))
}

/// The report of `day`. Amounts are rounded once, to the paisa, here.
pub async fn day_report(db: &Db, calendar: &MarketCalendar, day: NaiveDate) -> Result<DayReport, DbError> {
    let today = day == calendar.today();
    let trades = db.trades_between(day, day).await?;
    let orders = db.orders_between(day, day).await?;
    let stats = db.daily_stats(day).await?;
    let mut c = ChargesByComponent::default();
    for t in &trades {
        let (sum, fill) = (&mut c.lines, &t.charges);
        sum.brokerage += fill.brokerage;
        sum.stt += fill.stt;
        sum.exchange += fill.exchange;
        sum.sebi += fill.sebi;
        sum.gst += fill.gst;
        sum.stamp_duty += fill.stamp_duty;
        c.total += t.total_charges;
    }
    let adjustments = db.adjustments_realised(day).await?;
    let realised = trades.iter().map(|t| t.realized_pnl).sum::<Decimal>() + adjustments;
    let unrealised = if today {
        db.today_pnl().await?.unrealized_pnl
    } else {
        stats.as_ref().map_or(Decimal::ZERO, |s| s.unrealized_pnl)
    };
    let net = realised + unrealised - c.total;
    let trips = db.round_trips(day).await?;
    let wins: Vec<Decimal> = trips.iter().copied().filter(|n| *n > Decimal::ZERO).collect();
    let losses: Vec<Decimal> = trips.iter().copied().filter(|n| *n < Decimal::ZERO).collect();
    let decided = wins.len() + losses.len();
    let breakdown = db.day_breakdown(Some(day)).await?;
    let (kill_switch, issues) = incidents(db, calendar, day).await?;
    let goals = db
        .goals_on(day)
        .await?
        .into_iter()
        .map(|g| {
            let at = calendar.local(g.reached_at).format("%H:%M:%S");
            format!("{at} {} ({}): {}; action {}", g.goal, g.scope, g.figures, g.action)
        })
        .collect();
    Ok(DayReport {
        day,
        realised: to_paisa(realised),
        adjustments: to_paisa(adjustments),
        unrealised: to_paisa(unrealised),
        gross: to_paisa(realised + unrealised),
        charges: ChargesByComponent {
            lines: xcoin_model::charges::Charges {
                brokerage: to_paisa(c.lines.brokerage),
                stt: to_paisa(c.lines.stt),
                exchange: to_paisa(c.lines.exchange),
                sebi: to_paisa(c.lines.sebi),
                gst: to_paisa(c.lines.gst),
                stamp_duty: to_paisa(c.lines.stamp_duty),
            },
            total: to_paisa(c.total),
        },
        net: to_paisa(net),
        orders: orders.len() as i64,
        trades: trades.len() as i64,
        order_to_trade: db.order_to_trade_ratio(Some(day)).await?,
        round_trips: trips.len() as i64,
        wins: wins.len() as i64,
        losses: losses.len() as i64,
        win_rate: (decided > 0).then(|| Decimal::from(wins.len()) / Decimal::from(decided)),
        average_win: average(&wins),
        average_loss: average(&losses),
        largest_loss: to_paisa(losses.iter().copied().min().unwrap_or_default()),
        max_drawdown: to_paisa(stats.as_ref().map_or(Decimal::ZERO, |s| s.max_drawdown)),
        by_strategy: breakdown.iter().filter(|b| b.kind == BreakdownKind::Strategy).map(line).collect(),
        by_instrument: breakdown.iter().filter(|b| b.kind == BreakdownKind::Instrument).map(line).collect(),
        kill_switch,
        issues,
        goals,
    })
}

fn percent(v: Option<Decimal>) -> String {
    v.map_or("—".into(), |w| xcoin_model::percent(w, 1))
}

fn money(v: Option<Decimal>) -> String {
    v.map_or("—".into(), rupees)
}

/// A label as a Markdown table cell, its sub-row indentation kept: a cell's
/// leading spaces are dropped when it renders, so each becomes two
/// non-breaking spaces (`&nbsp;`), which render as space.
fn markdown_label(label: &str) -> String {
    let text = label.trim_start();
    let indent = label.len() - text.len();
    format!("{}{}", "&nbsp;".repeat(2 * indent), text.trim_end())
}

impl DayReport {
    /// The report as rows of (label, value) sections, shared by text and Markdown.
    fn sections(&self) -> Vec<(&'static str, Vec<(String, String)>)> {
        let c = &self.charges.lines;
        let pair = |l: &str, v: String| (l.to_string(), v);
        let lines = |ls: &[Line]| -> Vec<(String, String)> {
            ls.iter()
                .map(|l| {
                    let rate = (l.round_trips > 0).then(|| Decimal::from(l.wins) / Decimal::from(l.round_trips));
                    (
                        l.name.clone(),
                        format!(
                            "{}, {}, win rate {}, realised {}, charges {}, net {}",
                            count(l.trades, "trade", "trades"),
                            count(l.round_trips, "round trip", "round trips"),
                            percent(rate),
                            rupees(l.realised),
                            rupees(l.charges),
                            rupees(l.net)
                        ),
                    )
                })
                .collect()
        };
        vec![
            (
                "P&L",
                vec![
                    pair("Net", rupees(self.net)),
                    pair("Gross", rupees(self.gross)),
                    pair("  realised", rupees(self.realised)),
                    pair("    adjustments", rupees(self.adjustments)),
                    pair("  unrealised", rupees(self.unrealised)),
                    pair("Charges", rupees(self.charges.total)),
                    pair("  brokerage", rupees(c.brokerage)),
                    pair("  STT", rupees(c.stt)),
                    pair("  exchange", rupees(c.exchange)),
                    pair("  SEBI", rupees(c.sebi)),
                    pair("  GST", rupees(c.gst)),
                    pair("  stamp duty", rupees(c.stamp_duty)),
                ],
            ),
            (
                "Activity",
                vec![
                    pair("Orders", self.orders.to_string()),
                    pair("Trades", self.trades.to_string()),
                    pair("Order-to-trade", self.order_to_trade.map_or("—".into(), otr_text)),
                    pair("Round trips", format!("{} ({} won, {} lost)", self.round_trips, self.wins, self.losses)),
                    pair("Win rate", percent(self.win_rate)),
                    pair("Average win", money(self.average_win)),
                    pair("Average loss", money(self.average_loss)),
                    pair("Largest loss", rupees(self.largest_loss)),
                    pair("Drawdown from peak", rupees(self.max_drawdown)),
                ],
            ),
            ("By strategy", lines(&self.by_strategy)),
            ("By instrument", lines(&self.by_instrument)),
            (
                "Kill switch",
                self.kill_switch
                    .iter()
                    .map(|k| (k.at.clone(), format!("{} ({}) by {}: {}", k.action, k.trigger, k.actor, k.reason)))
                    .collect(),
            ),
            ("Goals reached", self.goals.iter().map(|g| (String::new(), g.clone())).collect()),
            (
                "Reconciliation",
                self.issues
                    .iter()
                    .map(|i| {
                        (format!("#{}", i.id), format!("{} {}: {} — {}", i.kind, i.instrument, i.details, i.outcome))
                    })
                    .collect(),
            ),
        ]
    }

    /// Plain text, as a terminal shows it.
    pub fn text(&self) -> String {
        let mut out = format!("XCoin — the trading day {}\n", self.day);
        let sections = self.sections();
        // One column for every section's labels, so the values line up.
        let width =
            sections.iter().flat_map(|(_, rows)| rows.iter().map(|(l, _)| l.chars().count())).max().unwrap_or(0);
        for (title, rows) in sections {
            out.push_str(&format!("\n{title}\n"));
            if rows.is_empty() {
                out.push_str("  none\n");
            }
            for (label, value) in rows {
                out.push_str(&format!("  {label:<width$}  {value}\n"));
            }
        }
        out
    }

    /// Markdown, for a message or a journal.
    pub fn markdown(&self) -> String {
        let mut out = format!("# XCoin — the trading day {}\n", self.day);
        for (title, rows) in self.sections() {
            out.push_str(&format!("\n## {title}\n\n"));
            if rows.is_empty() {
                out.push_str("none\n");
                continue;
            }
            out.push_str("| | |\n|---|---|\n");
            for (label, value) in rows {
                out.push_str(&format!("| {} | {} |\n", markdown_label(&label), value.replace('|', "\\\\|")));
            }
        }
        out
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serialises")
    }
}

/// Today's summary as JSON (`xcoin status --json`, the dashboard's
/// `/api/today`): amounts rounded once, to the paisa, as strings.
pub async fn today_json(config: &xcoin_config::Config, db: &Db) -> Result<serde_json::Value, crate::DbError> {
    use xcoin_model::to_paisa;
    let s = &config.settings;
    let calendar = s.calendar();
    let now = xcoin_model::clock::now();
    let pnl = db.today_pnl().await?;
    let positions = db.open_positions().await?;
    let goals = db.goals_on(calendar.today()).await?;
    Ok(serde_json::json!({
        "mode": s.app.mode.to_string(),
        "trading_day": calendar.today().to_string(),
        "market": calendar.state(now).to_string(),
        "kill_switch_active": db.kill_switch_state().await?.active,
        "pnl": {
            "realised": to_paisa(pnl.realized_pnl),
            "unrealised": to_paisa(pnl.unrealized_pnl),
            "charges": to_paisa(pnl.charges),
            "net": to_paisa(pnl.net_pnl),
            "open_since_opened": to_paisa(pnl.open_unrealized_pnl),
        },
        "orders": db.today_order_count().await?,
        "active_orders": db.active_orders().await?.len(),
        "trades": db.today_trade_count().await?,
        "order_to_trade": db.order_to_trade_ratio(None).await?,
        "broker_writes": db.broker_writes_today().await?,
        "funds": db.today_funds().await?.map(|(f, at)| serde_json::json!({
            "available": to_paisa(f.available_margin), "used": to_paisa(f.used_margin),
            "opening_balance": to_paisa(f.opening_balance), "at": at,
        })),
        "open_positions": positions.iter().map(|p| serde_json::json!({
            "id": p.id, "symbol": p.symbol, "exchange": p.exchange.to_string(), "product": p.product.to_string(),
            "quantity": p.quantity(), "average_price": to_paisa(p.average_price()),
            "last_price": p.last_price.map(to_paisa), "unrealised": to_paisa(p.unrealized_pnl),
            "stop_loss": p.stop_loss, "target": p.take_profit,
        })).collect::<Vec<_>>(),
        "open_reconciliation_issues": db.unresolved_issues().await?.len(),
        "goals_reached": goals.iter().map(|g| serde_json::json!({
            "scope": g.scope, "goal": g.goal.to_string(), "figures": g.figures, "at": g.reached_at,
        })).collect::<Vec<_>>(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn a_day() -> DayReport {
        DayReport {
            day: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            realised: dec!(81.85),
            adjustments: dec!(-2.5),
            unrealised: dec!(12.4),
            gross: dec!(94.25),
            charges: ChargesByComponent {
                lines: xcoin_model::charges::Charges {
                    brokerage: dec!(60),
                    stt: dec!(23.79),
                    exchange: dec!(8.72),
                    sebi: dec!(0.29),
                    gst: dec!(12.42),
                    stamp_duty: dec!(5.96),
                },
                total: dec!(111.18),
            },
            net: dec!(-16.93),
            orders: 5,
            trades: 5,
            order_to_trade: Some(dec!(1)),
            round_trips: 2,
            wins: 1,
            losses: 1,
            win_rate: Some(dec!(0.5)),
            average_win: Some(dec!(100)),
            average_loss: Some(dec!(-60)),
            largest_loss: dec!(-60),
            max_drawdown: dec!(75),
            by_strategy: vec![],
            by_instrument: vec![],
            kill_switch: vec![],
            issues: vec![],
            goals: vec![],
        }
    }

    #[test]
    fn markdown_keeps_the_sub_rows_indented_as_the_text_does() {
        let r = a_day();
        let text = r.text();
        assert!(
            text.contains(
                "\n  Gross               ₹94.25\n    realised          ₹81.85\n      adjustments     -₹2.50\n"
            ),
            "{text}"
        );
        let md = r.markdown();
        for row in [
            "| Gross | ₹94.25 |",
            "| &nbsp;&nbsp;&nbsp;&nbsp;realised | ₹81.85 |",
            "| &nbsp;&nbsp;&nbsp;&nbsp;&nbsp;&nbsp;&nbsp;&nbsp;adjustments | -₹2.50 |",
            "| &nbsp;&nbsp;&nbsp;&nbsp;unrealised | ₹12.40 |",
            "| Charges | ₹111.18 |",
            "| &nbsp;&nbsp;&nbsp;&nbsp;brokerage | ₹60.00 |",
            "| &nbsp;&nbsp;&nbsp;&nbsp;stamp duty | ₹5.96 |",
        ] {
            assert!(md.lines().any(|l| l == row), "{row} in {md}");
        }
    }
}
