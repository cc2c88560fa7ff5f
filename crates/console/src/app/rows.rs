//! The rows each tab shows: filtered, ordered and followed as the desk
//! changes, and the row the operator picked.

use chrono::{DateTime, Utc};

use crate::tab::Tab;
use xcoin_model::command::OperatorCommand;
use xcoin_model::order::Order;
use xcoin_model::position::Position;
use xcoin_model::reconciliation::{Issue, IssueStatus};
use xcoin_model::trade::Trade;

use super::*;

impl App {
    /// Brings the tables up to date with the store and the filters, then
    /// puts each selection back on its row (by id). A changed filter (or a
    /// reload) rebuilds them; otherwise only the orders and trades that
    /// changed move (a binary search and one insert or remove each: a day of
    /// 100,000 orders is never re-sorted for one change), and the small
    /// tables are rebuilt when theirs changed.
    pub fn refresh_views(&mut self) {
        let f = Tab::TABLES.map(|t| self.filter_of(t));
        let key = Some((f.join("\u{1f}"), self.show_resolved));
        let pending = std::mem::take(&mut self.store.pending);
        // Many rows at once (a page of the day's history) are placed faster
        // by one rebuild than one by one.
        if key != self.view_of || pending.snapshot || pending.strategies || pending.orders.len() > 2_000 {
            self.rebuild_views(&f);
            self.view_of = key;
        } else if pending.is_empty() {
            return;
        } else {
            for id in &pending.orders {
                self.place_order(*id, &f[0]);
            }
            for id in &pending.trades {
                self.place_trade(*id, &f[2]);
            }
            if pending.positions {
                self.tables[Tab::Positions].rows = self.positions_in_order(&f[1]);
            }
            if pending.issues {
                let all = self.issues_in_order();
                let (n, view) = (all.len(), matching(all.into_iter(), &f[3], issue_text, |i| i.id));
                self.tables[Tab::Reconciliation].unfiltered = n;
                self.tables[Tab::Reconciliation].rows = view;
            }
        }
        if pending.snapshot || self.order_counts.1 != Some(self.day()) {
            self.order_counts = (crate::views::orders::counts(self), Some(self.day()));
        }
        let s = &self.store;
        // Every row the tab lists unfiltered: the positions closed today too.
        let positions = s.positions.len() + s.closed_positions.len();
        let counts = [(Tab::Orders, s.orders.len()), (Tab::Positions, positions), (Tab::Trades, s.trades.len())];
        for (tab, n) in counts {
            self.tables[tab].unfiltered = n;
        }
        self.follow_selections();
        self.check_popup_target();
    }

    /// Every table from scratch.
    pub(super) fn rebuild_views(&mut self, f: &[String; Tab::TABLE_COUNT]) {
        let s = &self.store;
        // The store keeps orders by id, so newest first is a reverse walk:
        // working orders first, then the finished ones, with no sort.
        let active = s.orders.values().rev().filter(|o| o.status.is_active());
        let mut orders = matching(active, &f[0], |o| self.order_text(o), |o| o.id);
        let orders_active = orders.len();
        let finished = s.orders.values().rev().filter(|o| !o.status.is_active());
        orders.extend(matching(finished, &f[0], |o| self.order_text(o), |o| o.id));
        let positions = self.positions_in_order(&f[1]);
        let trades = matching(s.trades.values().rev(), &f[2], |t| self.trade_text(t), |t| t.id);
        let all_issues = self.issues_in_order();
        let issues_unfiltered = all_issues.len();
        let issues = matching(all_issues.into_iter(), &f[3], issue_text, |i| i.id);
        self.tables[Tab::Reconciliation].unfiltered = issues_unfiltered;
        self.tables[Tab::Orders].rows = orders;
        self.orders_active = orders_active;
        self.tables[Tab::Positions].rows = positions;
        self.tables[Tab::Trades].rows = trades;
        self.tables[Tab::Reconciliation].rows = issues;
    }

    /// Moves one order to where it belongs in the orders view (working
    /// orders first, newest first within each part), or out of it.
    pub(super) fn place_order(&mut self, id: i64, filter: &str) {
        // Each part is newest first: a row before the one sought has a larger id.
        let newest_first = |x: &i64| id.cmp(x);
        let (active, finished) = self.tables[Tab::Orders].rows.split_at(self.orders_active);
        if let Ok(i) = active.binary_search_by(newest_first) {
            self.tables[Tab::Orders].rows.remove(i);
            self.orders_active -= 1;
        } else if let Ok(i) = finished.binary_search_by(newest_first) {
            self.tables[Tab::Orders].rows.remove(self.orders_active + i);
        }
        let Some(o) = self.store.orders.get(&id) else { return };
        if !filter.is_empty() && !self.order_text(o).to_lowercase().contains(filter) {
            return;
        }
        let at = if o.status.is_active() {
            self.orders_active += 1;
            self.tables[Tab::Orders].rows[..self.orders_active - 1].partition_point(|x| *x > id)
        } else {
            self.orders_active + self.tables[Tab::Orders].rows[self.orders_active..].partition_point(|x| *x > id)
        };
        self.tables[Tab::Orders].rows.insert(at, id);
    }

    /// Moves one trade to where it belongs in the trades view (newest first).
    pub(super) fn place_trade(&mut self, id: i64, filter: &str) {
        if let Ok(i) = self.tables[Tab::Trades].rows.binary_search_by(|x| id.cmp(x)) {
            self.tables[Tab::Trades].rows.remove(i);
        }
        let Some(t) = self.store.trades.get(&id) else { return };
        if filter.is_empty() || self.trade_text(t).to_lowercase().contains(filter) {
            let at = self.tables[Tab::Trades].rows.partition_point(|x| *x > id);
            self.tables[Tab::Trades].rows.insert(at, id);
        }
    }

    /// Open positions by symbol and product, then today's closed ones,
    /// most recently closed first.
    pub(super) fn positions_in_order(&self, filter: &str) -> Vec<i64> {
        let mut open: Vec<&Position> = self.store.positions.values().collect();
        open.sort_by(|a, b| (&a.symbol, a.product).cmp(&(&b.symbol, b.product)));
        let mut closed: Vec<&Position> = self.store.closed_positions.values().collect();
        closed.sort_by_key(|p| (std::cmp::Reverse(p.closed_at), std::cmp::Reverse(p.id)));
        matching(open.into_iter().chain(closed), filter, |p| self.position_text(p), |p| p.id)
    }

    /// A position on the Positions tab, open or closed today.
    pub fn position(&self, id: i64) -> Option<&Position> {
        self.store.positions.get(&id).or_else(|| self.store.closed_positions.get(&id))
    }

    /// Open issues, most recently seen first, then (when shown) the resolved
    /// ones, most recently resolved first.
    pub(super) fn issues_in_order(&self) -> Vec<&Issue> {
        let issues = &self.store.issues;
        let mut open: Vec<&Issue> = issues.values().filter(|i| i.status == IssueStatus::Open).collect();
        open.sort_by_key(|i| std::cmp::Reverse(i.last_seen_at));
        let mut resolved: Vec<&Issue> = if self.show_resolved {
            issues.values().filter(|i| i.status == IssueStatus::Resolved).collect()
        } else {
            Vec::new()
        };
        resolved.sort_by_key(|i| std::cmp::Reverse(i.resolved_at));
        open.into_iter().chain(resolved).collect()
    }

    pub(super) fn time(&self, at: DateTime<Utc>) -> String {
        self.calendar.local(at).format("%H:%M:%S").to_string()
    }

    /// What a filter searches in an order: every visible column.
    pub(super) fn order_text(&self, o: &Order) -> String {
        format!(
            "{} {} {} {} {} {} {} {} {} {} {} {} {}",
            o.id,
            self.time(o.created_at),
            o.symbol,
            o.side,
            o.quantity,
            o.filled_quantity,
            o.order_type,
            opt_price(o.price),
            opt_price(o.trigger_price),
            o.shown_status(),
            self.strategy_name(o.strategy_id),
            o.broker_order_id.as_deref().unwrap_or_default(),
            opt_price(o.average_price),
        )
    }

    pub(super) fn position_text(&self, p: &Position) -> String {
        format!(
            "{} {} {} {} {:.2} {} {} {} {} {} {}",
            p.id,
            p.symbol,
            p.exchange,
            p.product,
            p.average_price(),
            p.quantity(),
            opt_price(p.last_price),
            opt_price(p.stop_loss),
            opt_price(p.take_profit),
            self.strategy_name(p.strategy_id),
            match p.quantity().signum() {
                1 => "long",
                -1 => "short",
                _ => "closed",
            },
        )
    }

    pub(super) fn trade_text(&self, t: &Trade) -> String {
        format!(
            "{} {} {} {} {:.2} {} {} {}",
            self.time(t.traded_at),
            t.symbol,
            t.side,
            t.quantity,
            t.price,
            t.broker_trade_id,
            t.order_id,
            t.exchange,
        )
    }

    /// A table's rows in display order.
    pub fn view(&self, tab: Tab) -> &[i64] {
        &self.tables[tab].rows
    }

    /// Puts every selection back on its row after the tables changed. When
    /// the selected row has left (closed, resolved, filtered out), the
    /// selection moves to the row now in its place, and the current tab says so.
    pub(super) fn follow_selections(&mut self) {
        for tab in Tab::TABLES {
            let table = &mut self.tables[tab];
            let wanted = table.selected_id;
            if let Some(i) = wanted.and_then(|id| table.rows.iter().position(|x| *x == id)) {
                table.selected = i;
                continue;
            }
            table.select(table.selected);
            let now = table.selected_id;
            if let Some(gone) = wanted
                && tab == self.tab
            {
                let noun = tab.row_noun();
                let moved = now.map_or(String::new(), |id| format!("; selected {noun} {id}"));
                let note = format!("{noun} {gone} left the list{moved}");
                // A command's result showing now stays, with the move after it.
                match &mut self.flash {
                    Some((text, kind, _)) if *kind != FlashKind::Info => {
                        text.push_str(" · ");
                        text.push_str(&note);
                        self.dirty = true;
                    }
                    _ => self.flash(note, FlashKind::Info),
                }
            }
        }
    }

    /// Selects the row at `index` of a tab's table (clamped).
    pub fn select_index(&mut self, tab: Tab, index: usize) {
        self.tables[tab].select(index);
    }

    /// The row a popup acts on, with whether it can still be acted on.
    pub(super) fn popup_target(&self) -> Option<(Tab, i64, bool)> {
        let orders = &self.store.orders;
        let order_ok = |id: i64, modify: bool| {
            orders.get(&id).is_some_and(|o| if modify { o.status.can_be_modified() } else { o.status.is_active() })
        };
        let position_ok = |id: i64| self.store.positions.contains_key(&id);
        let issue_ok = |id: i64| self.store.issues.get(&id).is_some_and(|i| i.status == IssueStatus::Open);
        let of_command = |c: &OperatorCommand| match c {
            OperatorCommand::CancelOrder { order_id } => Some((Tab::Orders, *order_id, order_ok(*order_id, false))),
            OperatorCommand::ModifyOrder { order_id, .. } => Some((Tab::Orders, *order_id, order_ok(*order_id, true))),
            OperatorCommand::ExitPosition { position_id } | OperatorCommand::SetPositionLevels { position_id, .. } => {
                Some((Tab::Positions, *position_id, position_ok(*position_id)))
            }
            OperatorCommand::ResolveReconciliation { issue_id, .. } => {
                Some((Tab::Reconciliation, *issue_id, issue_ok(*issue_id)))
            }
            _ => None,
        };
        match self.popup.as_ref()? {
            Popup::Confirm { effect, .. } => match effect.as_ref() {
                Effect::Send(c, _) => of_command(c),
                _ => None,
            },
            Popup::Modify(form) => Some((Tab::Orders, form.order_id, order_ok(form.order_id, true))),
            Popup::Levels(form) => Some((Tab::Positions, form.position_id, position_ok(form.position_id))),
            Popup::Note { issue_id, .. } => Some((Tab::Reconciliation, *issue_id, issue_ok(*issue_id))),
            Popup::Detail if self.tab.is_table() => {
                self.tables[self.tab].selected_id.map(|id| (self.tab, id, self.view(self.tab).contains(&id)))
            }
            _ => None,
        }
    }

    /// Closes a dialog whose row can no longer be acted on, and says why:
    /// nothing is sent for a row that changed under the operator.
    pub(super) fn check_popup_target(&mut self) {
        let Some((tab, id, false)) = self.popup_target() else { return };
        self.popup = None;
        let noun = tab.row_noun();
        let state = match tab {
            Tab::Orders => self.store.orders.get(&id).map(|o| format!("is {} now", o.status)),
            Tab::Reconciliation => self.store.issues.get(&id).map(|i| format!("is {} now", i.status)),
            _ => None,
        }
        .unwrap_or_else(|| "left the list".into());
        self.flash(format!("{noun} {id} {state}: its dialog was closed and nothing was sent"), FlashKind::Failed);
    }

    pub fn rows_in_tab(&self) -> usize {
        self.view(self.tab).len()
    }

    pub fn selected_order(&self) -> Option<&Order> {
        self.tables[Tab::Orders].selected_row().and_then(|id| self.store.orders.get(&id))
    }
    pub fn selected_position(&self) -> Option<&Position> {
        self.tables[Tab::Positions].selected_row().and_then(|id| self.store.positions.get(&id))
    }
    /// The selected row of the Positions tab, open or closed today.
    pub fn selected_any_position(&self) -> Option<&Position> {
        self.tables[Tab::Positions].selected_row().and_then(|id| self.position(id))
    }
    /// Says why a position action does nothing on a closed position; true
    /// when the selected position is open.
    pub(super) fn open_position_selected(&mut self, nothing: &str) -> bool {
        match self.selected_any_position() {
            Some(p) if p.quantity() == 0 => {
                let text = format!("position {} ({}) is closed: {nothing}", p.id, p.symbol);
                self.flash(text, FlashKind::Info);
                false
            }
            Some(_) => true,
            None => false,
        }
    }
    pub fn selected_trade(&self) -> Option<&Trade> {
        self.tables[Tab::Trades].selected_row().and_then(|id| self.store.trades.get(&id))
    }
    pub fn selected_issue(&self) -> Option<&Issue> {
        self.tables[Tab::Reconciliation].selected_row().and_then(|id| self.store.issues.get(&id))
    }
}
