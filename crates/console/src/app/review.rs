//! Reviews before anything is sent (the verdict of the one validator on a
//! new order, a modification, levels, a resolution), and the figures the
//! header and forms read.

use rust_decimal::Decimal;

use crate::form::{LevelsForm, ModifyForm, OrderForm};
use xcoin_model::command::{CommandStatus, OperatorCommand};
use xcoin_model::order::{Order, OrderRequest};
use xcoin_model::position::Position;
use xcoin_model::reconciliation::{Issue, Resolution};
use xcoin_model::risk::{Assessment, Denial, RiskSnapshot};

use super::*;

impl App {
    pub(super) fn review_order(&mut self, form: Box<OrderForm>) {
        match form.request(&self.limits.ticks, &self.operator) {
            Err(e) => {
                self.flash(format!("✗ {e}"), FlashKind::Failed);
                self.popup = Some(Popup::NewOrder(form));
            }
            Ok(req) => {
                let what = format!("place {} {} {} {}", req.side, req.quantity, req.symbol, req.order_type);
                let mut body = vec![describe_request(&req)];
                let verdict = self.preview(&req);
                let passes = verdict.is_ok();
                body.push(match verdict {
                    Ok(a) => format!(
                        "pre-trade check: passes — risk {}, reward:risk {}",
                        a.risk_amount.map_or("—".into(), xcoin_model::money::rupees),
                        a.risk_reward.map_or("—".into(), |r| format!("{:.2}:1", r))
                    ),
                    Err(d) => format!("pre-trade check: {d} — the engine will reject it"),
                });
                let effect = Effect::Send(OperatorCommand::PlaceOrder(req), what);
                self.confirm_from("Place order?", body, effect, Popup::NewOrder(form));
                // The review is the confirmation: a second Enter sends an
                // order that passes; one that does not starts on Cancel.
                if let Some(Popup::Confirm { focus_ok, .. }) = &mut self.popup {
                    *focus_ok = passes;
                }
            }
        }
    }

    pub(super) fn review_modify(&mut self, form: Box<ModifyForm>) {
        let Some(order) = self.store.orders.get(&form.order_id).cloned() else { return };
        let change = match form.change(&order) {
            Err(e) => {
                self.flash(format!("✗ {e}"), FlashKind::Failed);
                self.popup = Some(Popup::Modify(form));
                return;
            }
            Ok(change) => change,
        };
        let id = order.id;
        let xcoin_db::orders::OrderModification { quantity, price, trigger_price } = change;
        let cmd = OperatorCommand::ModifyOrder { order_id: id, quantity, price, trigger_price };
        let was = |v: Option<Decimal>| v.map_or("—".into(), |p| format!("{p:.2}"));
        let mut body = vec![
            describe_order(&order),
            format!(
                "quantity {} → {}, price {} → {}, trigger {} → {}",
                order.quantity,
                quantity.unwrap_or(order.quantity),
                was(order.price),
                was(price.or(order.price)),
                was(order.trigger_price),
                was(trigger_price.or(order.trigger_price)),
            ),
        ];
        body.extend(self.modify_verdict(&order, change).into_iter().filter(|l| !l.is_empty()));
        self.confirm_from("Modify order?", body, Effect::Send(cmd, format!("modify order {id}")), Popup::Modify(form));
    }

    pub(super) fn review_levels(&mut self, form: Box<LevelsForm>) {
        let Some(p) = self.store.positions.get(&form.position_id).cloned() else { return };
        let (stop, target) = match form.levels() {
            Ok(levels) => levels,
            Err(e) => {
                self.flash(format!("✗ {e}"), FlashKind::Failed);
                self.popup = Some(Popup::Levels(form));
                return;
            }
        };
        let id = p.id;
        let was = |v: Option<Decimal>| v.map_or("none".into(), |p| format!("{p:.2}"));
        let mut body = vec![
            describe_position(&p),
            format!("stop {} → {}, target {} → {}", was(p.stop_loss), was(Some(stop)), was(p.take_profit), was(target)),
        ];
        body.extend(self.levels_verdict(&p, Ok((stop, target))).into_iter().filter(|l| !l.is_empty()));
        let cmd = OperatorCommand::SetPositionLevels { position_id: id, stop_loss: stop, take_profit: target };
        let effect = Effect::Send(cmd, format!("set the levels of position {id}"));
        self.confirm_from("Set stop and target?", body, effect, Popup::Levels(form));
    }

    /// The risk validator's verdict on a position's new levels, judged from
    /// the last price the console knows (the engine judges again from its
    /// own): the prices, then the verdict, a line each.
    pub fn levels_verdict(
        &self,
        p: &Position,
        levels: Result<(Decimal, Option<Decimal>), xcoin_model::order::FieldError>,
    ) -> [String; 2] {
        let (stop, target) = match levels {
            Ok(l) => l,
            Err(e) => return [String::new(), format!("✗ {e}")],
        };
        let last = p.last_price.or_else(|| self.last_price_of(&p.symbol));
        let context = format!(
            "last {} · stop now {} · target now {}",
            last.map_or("—".into(), |l| format!("{l:.2}")),
            p.stop_loss.map_or("none".into(), |v| format!("{v:.2}")),
            p.take_profit.map_or("none".into(), |v| format!("{v:.2}"))
        );
        let levels = xcoin_model::risk::Levels {
            symbol: &p.symbol,
            exchange: p.exchange,
            quantity: p.quantity(),
            last_price: last,
            stop_loss: Some(stop),
            take_profit: target,
            current_stop: p.stop_loss,
        };
        let verdict = match xcoin_model::risk::validate_levels(&levels, &self.limits) {
            Ok(a) => passes("risk checks: risk at the stop", &a),
            Err(d) => format!("✗ {d} — the engine will refuse it"),
        };
        [context, verdict]
    }

    pub(super) fn review_resolution(&mut self, issue_id: i64, resolution: Resolution, input: String) {
        let note = input.trim().to_string();
        let mut body = vec![match self.store.issues.get(&issue_id) {
            Some(i) => format!(
                "Issue {issue_id}: {} {} {} {}, local {} / broker {} → {resolution}",
                i.issue_type,
                i.symbol,
                i.exchange,
                i.product,
                i.local_quantity.map_or("—".into(), |q| q.to_string()),
                i.broker_quantity.map_or("—".into(), |q| q.to_string()),
            ),
            None => format!("Issue {issue_id}: {resolution}"),
        }];
        if !note.is_empty() {
            body.push(format!("Note: {note}"));
        }
        let back = Popup::Note { issue_id, resolution, input };
        let cmd =
            OperatorCommand::ResolveReconciliation { issue_id, resolution, note: (!note.is_empty()).then_some(note) };
        let effect = Effect::Send(cmd, format!("resolve issue {issue_id}"));
        self.confirm_from("Resolve the issue?", body, effect, back);
    }

    /// The index in the desk log of the line at the pane's bottom.
    pub fn log_bottom(&self) -> usize {
        let events = &self.store.events;
        match self.log_anchor {
            None => events.len().saturating_sub(1),
            // A line dropped from the front since: the oldest kept.
            Some(id) => events.partition_point(|e| e.id <= id).saturating_sub(1),
        }
    }

    /// Moves the desk log's bottom line by `by` lines; reaching the newest
    /// follows it again.
    pub(super) fn scroll_log(&mut self, by: i64) {
        let events = &self.store.events;
        if events.is_empty() {
            return;
        }
        let last = events.len() - 1;
        let to = (self.log_bottom() as i64 + by).clamp(0, last as i64) as usize;
        self.log_anchor = (to < last).then(|| events[to].id);
    }

    /// The trading day the console shows: a past one, or today's.
    /// Working orders, and the day's orders (kept as orders arrive).
    /// The desk's exposure: open positions and working orders.
    pub fn exposure(&self) -> (usize, usize) {
        (self.store.positions.len(), self.order_counts().0)
    }

    pub fn order_counts(&self) -> (usize, usize) {
        (self.order_counts.0.0, self.order_counts.0.1)
    }

    /// The day's order-to-trade ratio as `get_order_to_trade_ratio()`
    /// computes it (messages per trade, 4 places, half away from zero), from
    /// the orders this console holds; `None` before the first trade.
    pub fn order_to_trade(&self) -> Option<Decimal> {
        let trades = self.store.summary.trades_today;
        (trades > 0).then(|| {
            (Decimal::from(self.order_counts.0.2 as u64) / Decimal::from(trades))
                .round_dp_with_strategy(4, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        })
    }

    pub fn day(&self) -> chrono::NaiveDate {
        self.past_day.unwrap_or_else(|| self.calendar.trading_day(self.now))
    }

    /// Drops a flash message whose time is up; returns whether one was dropped.
    pub fn expire_flash(&mut self) -> bool {
        if self.flash.as_ref().is_some_and(|(_, _, at)| at.elapsed() >= FLASH_FOR) {
            self.flash = None;
            return true;
        }
        false
    }

    /// The pre-trade validator's verdict on `req` from what the console
    /// knows: the last price of a held position, else the instrument's
    /// reference price. The engine checks again with live prices.
    pub fn preview(&self, req: &OrderRequest) -> Result<Assessment, Denial> {
        self.preview_with(req, None)
    }

    /// As [`preview`](Self::preview), for a change of `working`: its own
    /// fills are taken out of the position and its own margin is free again,
    /// as the engine judges a modification.
    pub(super) fn preview_with(&self, req: &OrderRequest, working: Option<&Order>) -> Result<Assessment, Denial> {
        let own = working.map_or(0, |o| o.side.sign() * o.filled_quantity);
        let held: Vec<&Position> = self
            .store
            .positions
            .values()
            .filter(|p| p.symbol == req.symbol && p.exchange == req.exchange && p.product == req.product)
            .collect();
        let last = held
            .iter()
            .find_map(|p| p.last_price)
            .or_else(|| self.instruments.iter().find(|i| i.symbol == req.symbol).map(|i| i.reference_price));
        let net = self.net_pnl().unwrap_or_default();
        let peak = self.store.summary.stats.as_ref().map_or(Decimal::ZERO, |s| s.peak_pnl).max(Decimal::ZERO);
        let snapshot = RiskSnapshot {
            kill_switch_active: self.store.kill_switch_active(),
            market_state: self.calendar.state(self.now),
            last_price: last,
            position_quantity: held.iter().map(|p| p.quantity()).sum(),
            open_positions: self.store.positions.len() as u32,
            today_net_pnl: net,
            drawdown: (peak.max(net) - net).max(Decimal::ZERO),
            orders_last_second: 0,
            strategy_paused: self.store.strategies.get(&req.strategy_id).is_some_and(|s| !s.is_active),
            strategy: Default::default(),
            free_margin: self.store.summary.funds.map(|(f, _)| f.available_margin),
        }
        .without_own_fills(own);
        let snapshot = match working {
            Some(o) => snapshot.with_own_margin(&o.as_request(), last, self.limits.mis_leverage),
            None => snapshot,
        };
        xcoin_model::risk::validate(req, &snapshot, &self.limits)
    }

    /// The validator's verdict on a working order as it would be after
    /// `change`, judged as the engine will judge it (the order's own fills
    /// taken out of the position): the prices it is judged on, then the
    /// verdict, each a line for the form and the dialog.
    pub fn modify_verdict(&self, order: &Order, change: xcoin_db::orders::OrderModification) -> [String; 2] {
        let modified = match xcoin_db::orders::modified_request(
            order,
            change,
            self.limits.ticks.of(&order.symbol, order.exchange),
        ) {
            Ok(m) => m,
            Err(e) => return [String::new(), format!("✗ {e}")],
        };
        let context = self.order_context(&modified);
        let verdict = match self.preview_with(&modified, Some(order)) {
            Ok(a) => passes("pre-trade checks: risk", &a),
            Err(d) => format!("✗ {d} — the engine will refuse it"),
        };
        [context, verdict]
    }

    /// `last 1441.00 · order value ₹14,410.00 · margin ₹2,882.00 of ₹74,251.80
    /// free`: what an order is worth at its price (a market order at the last
    /// price) and the margin its shares that add exposure block, against the
    /// funds free when the broker reported them.
    pub fn order_context(&self, req: &OrderRequest) -> String {
        let rupees = xcoin_model::money::rupees;
        let last = self.last_price_of(&req.symbol);
        let price = req.entry_price(last);
        let value = price.map(|p| p * Decimal::from(req.quantity));
        let held: i64 = self
            .store
            .positions
            .values()
            .filter(|p| p.symbol == req.symbol && p.exchange == req.exchange && p.product == req.product)
            .map(|p| p.quantity())
            .sum();
        let margin = price.map(|_| xcoin_model::risk::margin_needed(req, held, last, self.limits.mis_leverage));
        let free = self.store.summary.funds.map(|(f, _)| format!(" of {} free", rupees(f.available_margin)));
        format!(
            "last {} · order value {} · margin {}{}",
            last.map_or("—".into(), |l| format!("{l:.2}")),
            value.map_or("—".into(), rupees),
            margin.map_or("—".into(), rupees),
            free.unwrap_or_default()
        )
    }

    /// A price the market gave today for an instrument: an open position's
    /// mark, else today's latest fill in it. `None` rather than the
    /// instrument list's reference price.
    pub fn fresh_price_of(&self, symbol: &str, exchange: xcoin_model::order::Exchange) -> Option<Decimal> {
        let same = |s: &str, e| s == symbol && e == exchange;
        self.store.positions.values().filter(|p| same(&p.symbol, p.exchange)).find_map(|p| p.last_price).or_else(|| {
            self.store
                .trades
                .values()
                .filter(|t| same(&t.symbol, t.exchange))
                .max_by_key(|t| (t.traded_at, t.id))
                .map(|t| t.price)
        })
    }

    /// The last price the console knows for a symbol: a held position's,
    /// else the instrument's reference price.
    pub fn last_price_of(&self, symbol: &str) -> Option<Decimal> {
        self.store
            .positions
            .values()
            .filter(|p| p.symbol == symbol)
            .find_map(|p| p.last_price)
            .or_else(|| self.instruments.iter().find(|i| i.symbol == symbol).map(|i| i.reference_price))
    }

    /// Asks to pause an active strategy or resume a paused one (confirmed).
    pub(super) fn toggle_strategy(&mut self, s: &xcoin_model::strategy::Strategy) {
        if !s.is_automated() {
            self.flash(format!("{} places only operators' orders: nothing to pause", s.name), FlashKind::Info);
            return;
        }
        let reason = format!("from the console by {}", self.operator);
        let (title, body, cmd) = if s.is_active {
            (
                "Pause strategy?",
                vec![format!("Strategy {} \"{}\" ({}): no new orders until resumed.", s.id, s.name, s.mode)],
                OperatorCommand::PauseStrategy { strategy_id: s.id, reason },
            )
        } else {
            (
                "Resume strategy?",
                vec![
                    format!("Strategy {} \"{}\" ({}) will place orders again.", s.id, s.name, s.mode),
                    format!(
                        "Paused by {}: {}",
                        s.paused_by.as_deref().unwrap_or("?"),
                        s.paused_reason.as_deref().unwrap_or("?")
                    ),
                ],
                OperatorCommand::ResumeStrategy { strategy_id: s.id, reason },
            )
        };
        let what = format!("{} strategy {}", if s.is_active { "pause" } else { "resume" }, s.id);
        let back = self.popup.take().unwrap_or(Popup::Strategies { selected: 0 });
        self.confirm_from(title, body, Effect::Send(cmd, what), back);
    }

    /// Data older than this without an answer from the database is stale.
    pub const STALE_AFTER_SECONDS: i64 = 6;

    /// Seconds since the database last answered, when that is long enough
    /// that the screen may no longer be current.
    pub fn stale_for(&self) -> Option<i64> {
        let since = (self.now - self.status.last_db_answer?).num_seconds();
        (since >= Self::STALE_AFTER_SECONDS).then_some(since)
    }

    /// After "exit all, then quit": the exit-all command is done and no
    /// position is open any more.
    pub fn ready_to_quit(&self) -> bool {
        self.quit_after.is_some_and(|id| {
            self.store.commands.get(&id).is_some_and(|c| c.status == CommandStatus::Done)
                && self.store.positions.is_empty()
        })
    }

    /// Today's net P&L, if known.
    pub fn net_pnl(&self) -> Option<Decimal> {
        self.store.summary.pnl.map(|p| p.net_pnl)
    }
}

/// The ids of `rows` whose text contains `filter` (already lower-cased), in
/// order; every row when there is no filter. A row's text is built only
/// when a filter is set, so an unfiltered refresh allocates nothing per row.
pub(super) fn matching<'a, T: 'a>(
    rows: impl Iterator<Item = &'a T>,
    filter: &str,
    text: impl Fn(&T) -> String,
    id: impl Fn(&T) -> i64,
) -> Vec<i64> {
    rows.filter(|r| filter.is_empty() || text(r).to_lowercase().contains(filter)).map(id).collect()
}

/// A price for a filter's text: two decimals, or nothing.
pub(super) fn opt_price(v: Option<Decimal>) -> String {
    v.map(|p| format!("{p:.2}")).unwrap_or_default()
}

pub(super) fn issue_text(i: &Issue) -> String {
    format!(
        "{} {} {} {} {} {} {} {} {}",
        i.id,
        i.issue_type,
        i.symbol,
        i.exchange,
        i.product,
        i.local_quantity.map(|q| q.to_string()).unwrap_or_default(),
        i.broker_quantity.map(|q| q.to_string()).unwrap_or_default(),
        i.status,
        i.resolution.map(|r| r.to_string()).unwrap_or_default(),
    )
}

/// An order named fully: id, side, quantity, symbol, type, price, trigger.
/// A verdict that passed: `✓ passes pre-trade checks: risk ₹486.00,
/// reward:risk 2.70:1` (`what` names the checks and the risk).
pub(super) fn passes(what: &str, a: &Assessment) -> String {
    format!(
        "✓ passes {what} {}, reward:risk {}",
        a.risk_amount.map_or("—".into(), xcoin_model::money::rupees),
        a.risk_reward.map_or("—".into(), |r| format!("{r:.2}:1"))
    )
}

/// Lines the desk log moves per `[` or `]`.
pub const LOG_STEP: usize = 5;

/// `Position 42: INFY NSE MIS 10 long @ 1512.35, last 1505.00`: a position
/// named fully, for the dialogs that act on it.
pub fn describe_position(p: &Position) -> String {
    format!(
        "Position {}: {} {} {} {} {} @ {}, last {}",
        p.id,
        p.symbol,
        p.exchange,
        p.product,
        p.quantity().abs(),
        if p.quantity() > 0 { "long" } else { "short" },
        crate::views::price(p.average_price()),
        p.last_price.map_or("—".into(), |l| format!("{l:.2}"))
    )
}

pub fn describe_order(o: &Order) -> String {
    let px = |label: &str, v: Option<Decimal>| v.map(|p| format!(" {label} {p:.2}")).unwrap_or_default();
    format!(
        "Order {}: {} {} {} {} {}{}{}",
        o.id,
        o.side,
        o.quantity,
        o.symbol,
        o.order_type,
        o.product,
        px("@", o.price),
        px("trigger", o.trigger_price)
    )
}

/// One line describing an order request.
pub fn describe_request(r: &OrderRequest) -> String {
    let px =
        |label: &str, v: Option<Decimal>| v.map(|p| format!(" {label} {}", crate::views::price(p))).unwrap_or_default();
    format!(
        "{} {} {} {} {}{}{}{}{}",
        r.side,
        r.quantity,
        r.symbol,
        r.order_type,
        r.product,
        px("@", r.price),
        px("trigger", r.trigger_price),
        px("stop", r.stop_loss),
        px("target", r.take_profit)
    )
}
