//! Keys and actions: what each key does in each scope, and the dialogs it
//! opens (every one names the row it acts on, by id).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::action::{Action, Scope, action_for, edit};
use crate::form::{FormKey, LevelsForm, ModifyForm, OrderForm, Prefill};
use crate::tab::Tab;
use xcoin_model::command::OperatorCommand;
use xcoin_model::order::Side;
use xcoin_model::reconciliation::{IssueStatus, Resolution};

use super::*;

impl App {
    pub(super) fn confirm(&mut self, title: &str, body: Vec<String>, effect: Effect) {
        self.popup = Some(Popup::Confirm {
            title: title.into(),
            body,
            effect: Box::new(effect),
            focus_ok: false,
            alternative: None,
            back: None,
        });
    }

    /// A confirmation that Esc leaves for the form it came from.
    pub(super) fn confirm_from(&mut self, title: &str, body: Vec<String>, effect: Effect, back: Popup) {
        self.confirm(title, body, effect);
        if let Some(Popup::Confirm { back: b, .. }) = &mut self.popup {
            *b = Some(Box::new(back));
        }
    }

    pub(super) fn move_selection(&mut self, delta: isize) {
        if self.tab == Tab::Stats {
            let rows = crate::views::stats_rows(self);
            let last = rows.saturating_sub(self.stats_room.get().max(1));
            self.stats_scroll = self.stats_scroll.min(last).saturating_add_signed(delta).min(last);
            return;
        }
        let len = self.rows_in_tab();
        if len == 0 || !self.tab.is_table() {
            return;
        }
        let cur = self.tables[self.tab].selected as isize;
        self.select_index(self.tab, (cur + delta).clamp(0, len as isize - 1) as usize);
    }

    /// Switches tabs; each tab keeps its own filter.
    pub(super) fn switch_tab(&mut self, tab: Tab) {
        if tab == self.tab {
            return;
        }
        self.filter_editing = false;
        self.tab = tab;
        self.refresh_views();
    }

    /// Handles a key; returns what the runtime must do, if anything.
    /// Where the keyboard is: the open popup, the filter being typed, or the tab.
    pub fn key_scope(&self) -> Scope {
        match &self.popup {
            Some(p) => p.scope(),
            None if self.filter_editing => Scope::Filter,
            None => self.scope(),
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Option<Effect> {
        self.dirty = true;
        // Selections refer to the tables as they are on screen now.
        self.refresh_views();
        // Ctrl-C asks to quit wherever the operator is; it never reaches a
        // binding of `c` (cancel order).
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            self.popup = None;
            self.filter_editing = false;
            return self.on_action(Action::Quit);
        }
        let Some(action) = action_for(&key, self.key_scope(), self.read_only) else {
            // A writing key on a read-only console: said, once per press.
            if self.read_only && action_for(&key, self.key_scope(), false).is_some() {
                self.flash(READ_ONLY_KEY, FlashKind::Info);
            }
            return None;
        };
        if let Some(popup) = self.popup.take() {
            let effect = self.on_popup_action(popup, action);
            self.refresh_verdict();
            return effect;
        }
        if self.filter_editing {
            self.on_filter_action(action);
            return None;
        }
        let effect = self.on_action(action);
        // A form just opened gets its first verdict.
        self.refresh_verdict();
        effect
    }

    pub(super) fn on_filter_action(&mut self, action: Action) {
        match action {
            Action::Confirm => self.filter_editing = false,
            Action::Back => {
                self.filter_editing = false;
                self.tables[self.tab].filter.clear();
            }
            Action::Erase => {
                self.tables[self.tab].filter.pop();
            }
            Action::Type(c) => self.tables[self.tab].filter.push(c),
            _ => {}
        }
        self.refresh_views();
    }

    /// A key on a table (no popup, no filter being typed). Long by design:
    /// one arm per action of the keymap, so what each key does is read in
    /// one place.
    pub fn on_action(&mut self, action: Action) -> Option<Effect> {
        match action {
            Action::Quit => return self.quit(),
            Action::Help => self.popup = Some(Popup::Help { scroll: 0 }),
            Action::NextTab => self.switch_tab(self.tab.next()),
            Action::PrevTab => self.switch_tab(self.tab.prev()),
            Action::Tab(n) => self.switch_tab(n),
            Action::Up => self.move_selection(-1),
            Action::Down => self.move_selection(1),
            Action::PageUp => self.move_selection(-20),
            Action::PageDown => self.move_selection(20),
            Action::Top => self.select_index(self.tab, 0),
            // End follows the desk log again when it is scrolled back.
            Action::Bottom if self.show_log && !self.log_diagnostics && self.log_anchor.is_some() => {
                self.log_anchor = None
            }
            Action::Bottom => self.select_index(self.tab, self.rows_in_tab().saturating_sub(1)),
            Action::Detail => self.open_detail(),
            Action::Back => {
                self.tables[self.tab].filter.clear();
                self.refresh_views();
            }
            Action::Filter => self.filter_editing = true,
            Action::ToggleLog => self.show_log = !self.show_log,
            Action::LogUp if self.log_diagnostics => self.log_state.transition(tui_logger::TuiWidgetEvent::PrevPageKey),
            Action::LogDown if self.log_diagnostics => {
                self.log_state.transition(tui_logger::TuiWidgetEvent::NextPageKey)
            }
            Action::LogUp => self.scroll_log(-(LOG_STEP as i64)),
            Action::LogDown => self.scroll_log(LOG_STEP as i64),
            Action::LogSource => self.log_diagnostics = !self.log_diagnostics,
            Action::ToggleResolved => {
                self.show_resolved = !self.show_resolved;
                self.refresh_views();
            }
            Action::NewOrder => {
                let symbols = self.instruments.iter().map(|i| i.symbol.clone()).collect();
                self.popup = Some(Popup::NewOrder(Box::new(OrderForm::new(symbols))));
            }
            Action::Buy => self.order_from_row(RowOrder::Side(Side::Buy)),
            Action::Sell => self.order_from_row(RowOrder::Side(Side::Sell)),
            Action::AddToPosition => self.order_from_row(RowOrder::Add),
            Action::ReversePosition => self.order_from_row(RowOrder::Reverse),
            Action::ModifyOrder => self.open_modify(),
            Action::CancelOrder => self.ask_cancel(),
            Action::ExitPosition => self.ask_exit(),
            Action::SetLevels => {
                if !self.open_position_selected("it has no stop or target to set") {
                    return None;
                }
                if let Some(p) = self.selected_position() {
                    self.popup = Some(Popup::Levels(Box::new(LevelsForm::for_position(p))));
                    self.refresh_verdict();
                }
            }
            Action::ExitAll => self.ask_exit_all(),
            Action::Strategies => self.popup = Some(Popup::Strategies { selected: 0 }),
            Action::KillSwitch => {
                if self.store.kill_switch_active() {
                    self.flash("the kill switch is already active", FlashKind::Info);
                } else {
                    self.popup = Some(Popup::KillSwitch { input: String::new() });
                }
            }
            Action::Rearm => self.ask_rearm(),
            Action::AcceptBroker => self.ask_note(Resolution::AcceptBroker),
            Action::KeepLocal => self.ask_note(Resolution::KeepLocal),
            Action::Ignore => self.ask_note(Resolution::Ignore),
            // Keys of dialogs, forms and fields: never bound on a table.
            Action::Confirm
            | Action::SwitchButton
            | Action::NextField
            | Action::PrevField
            | Action::ChoiceNext
            | Action::ChoicePrev
            | Action::Complete
            | Action::Erase
            | Action::TogglePause
            | Action::Type(_) => {}
        }
        None
    }

    pub(super) fn quit(&mut self) -> Option<Effect> {
        if !self.status.engine_in_process {
            return Some(Effect::Quit);
        }
        let (open, working) = self.exposure();
        // Resting stops stay at the exchange (a stop does not cancel them):
        // they protect the positions, so they are said with them.
        let resting = self.store.working_resting_stops().count();
        let working = working.saturating_sub(resting);
        let mut body = vec!["The engine runs inside this console: quitting stops trading.".to_string()];
        if working > 0 {
            let orders = xcoin_model::count(working as i64, "working order", "working orders");
            body.push(if self.cancel_orders_on_stop {
                format!("{orders} will be cancelled first (engine.cancel_orders_on_stop).")
            } else {
                format!("{orders} will stay live at the broker, unwatched.")
            });
        }
        if open > 0 {
            let noun = if open == 1 { "open position" } else { "open positions" };
            body.push(match resting {
                0 => format!("{open} {noun} will no longer be watched: stops and targets not enforced."),
                n => format!(
                    "{open} {noun} will no longer be watched: targets not enforced; {} at the exchange.",
                    xcoin_model::count(n as i64, "stop rests", "stops rest")
                ),
            });
        }
        self.confirm("Quit XCoin?", body, Effect::Quit);
        if open > 0
            && !self.read_only
            && let Some(Popup::Confirm { alternative, .. }) = &mut self.popup
        {
            *alternative = Some(('x', "exit all, then quit".into(), Box::new(Effect::ExitAllThenQuit)));
        }
        None
    }

    /// Opens the new-order form from the selected row (an order, position
    /// or trade): its symbol, product and quantity, the side asked for, a
    /// LIMIT at the last price and the desk's default stop and target. On a
    /// position, `Add` buys (or sells) as much again on its side and
    /// `Reverse` trades twice its size the other way.
    pub(super) fn order_from_row(&mut self, intent: RowOrder) {
        // A closed position has nothing to add to or reverse: say so.
        if matches!(intent, RowOrder::Add | RowOrder::Reverse)
            && self.selected_any_position().is_some()
            && !self.open_position_selected("nothing to add to or reverse")
        {
            return;
        }
        let row = match self.tab {
            Tab::Orders => self.selected_order().map(|o| (o.symbol.clone(), o.exchange, o.product, o.quantity, 0)),
            // A closed position offers the size it traded.
            Tab::Positions => self.selected_any_position().map(|p| {
                let size =
                    if p.quantity() == 0 { p.book.buy_quantity.max(p.book.sell_quantity) } else { p.quantity().abs() };
                (p.symbol.clone(), p.exchange, p.product, size, p.quantity())
            }),
            Tab::Trades => self.selected_trade().map(|t| (t.symbol.clone(), t.exchange, t.product, t.quantity, 0)),
            Tab::Reconciliation | Tab::Stats => None,
        };
        let Some((symbol, exchange, product, quantity, held)) = row else {
            self.flash("select an order, position or trade to trade from it (n: a new order)", FlashKind::Info);
            return;
        };
        let (side, quantity) = match intent {
            RowOrder::Side(side) => (side, quantity),
            RowOrder::Add => (if held > 0 { Side::Buy } else { Side::Sell }, quantity),
            RowOrder::Reverse => (if held > 0 { Side::Sell } else { Side::Buy }, 2 * quantity),
        };
        // Only a price the market gave today: the instrument list's reference
        // price may be days old, and a LIMIT and stop proposed from it could
        // sit on the wrong side of the market (then the fields stay empty).
        let last = self.fresh_price_of(&symbol, exchange);
        let tick = self.limits.ticks.of(&symbol, exchange);
        let (stop_loss, take_profit) = last.map_or((None, None), |l| {
            xcoin_model::risk::default_levels(
                side,
                l,
                tick,
                self.limits.default_stop_pct,
                self.limits.default_target_rr,
            )
        });
        let symbols = self.instruments.iter().map(|i| i.symbol.clone()).collect();
        let prefill = Prefill { symbol, exchange, side, quantity, product, last, stop_loss, take_profit };
        self.popup = Some(Popup::NewOrder(Box::new(OrderForm::prefilled(symbols, prefill))));
        self.refresh_verdict();
    }

    pub(super) fn open_detail(&mut self) {
        let has = match self.tab {
            Tab::Orders => self.selected_order().is_some(),
            Tab::Positions => self.tables[Tab::Positions].selected_row().is_some(),
            Tab::Trades => self.selected_trade().is_some(),
            Tab::Reconciliation => self.selected_issue().is_some(),
            Tab::Stats => false,
        };
        if has {
            self.popup = Some(Popup::Detail);
        }
    }

    pub(super) fn open_modify(&mut self) {
        match self.selected_order() {
            Some(o) if o.status.can_be_modified() => {
                self.popup = Some(Popup::Modify(Box::new(ModifyForm::for_order(o))));
            }
            Some(o) => self.flash(
                format!("order {} is {}: only OPEN or PARTIALLY_FILLED orders can be modified", o.id, o.status),
                FlashKind::Failed,
            ),
            None => {}
        }
    }

    pub(super) fn ask_cancel(&mut self) {
        match self.selected_order() {
            Some(o) if o.status.is_active() => {
                let id = o.id;
                let body =
                    vec![describe_order(o), format!("{}, {} of {} filled", o.status, o.filled_quantity, o.quantity)];
                let effect = Effect::Send(OperatorCommand::CancelOrder { order_id: id }, format!("cancel order {id}"));
                self.confirm("Cancel order?", body, effect);
            }
            Some(o) => self.flash(format!("order {} is {}: nothing to cancel", o.id, o.status), FlashKind::Failed),
            None => {}
        }
    }

    pub(super) fn ask_exit(&mut self) {
        if !self.open_position_selected("nothing to exit") {
            return;
        }
        let Some(p) = self.selected_position() else { return };
        let id = p.id;
        let exit = p.exit_side();
        let body = vec![describe_position(p), format!("{exit} {} {} at market", p.quantity().abs(), p.symbol)];
        let effect = Effect::Send(OperatorCommand::ExitPosition { position_id: id }, format!("exit position {id}"));
        self.confirm("Exit position?", body, effect);
    }

    pub(super) fn ask_exit_all(&mut self) {
        let n = self.store.positions.len();
        if n == 0 {
            self.flash("no open positions", FlashKind::Info);
            return;
        }
        let mut body =
            vec![format!("{n} open positions will be exited at market, and every automated strategy paused:")];
        body.extend(
            self.store
                .positions
                .values()
                .map(|p| format!("  position {}: {} {} {}", p.id, p.symbol, p.product, p.quantity())),
        );
        self.confirm(
            "Exit ALL positions?",
            body,
            Effect::Send(OperatorCommand::ExitAll {}, "exit all positions".into()),
        );
    }

    pub(super) fn ask_rearm(&mut self) {
        if !self.store.kill_switch_active() {
            self.flash("the kill switch is not active", FlashKind::Info);
            return;
        }
        let reason = format!("re-armed from the console by {}", self.operator);
        self.confirm(
            "Re-arm trading?",
            vec![
                "New orders will be accepted again.".into(),
                "Paused strategies stay paused until resumed (S: strategies).".into(),
            ],
            Effect::Send(OperatorCommand::KillSwitchOff { reason }, "re-arm".into()),
        );
    }

    pub(super) fn ask_note(&mut self, resolution: Resolution) {
        match self.selected_issue() {
            Some(i) if i.status == IssueStatus::Open => {
                self.popup = Some(Popup::Note { issue_id: i.id, resolution, input: String::new() });
            }
            Some(i) => self.flash(format!("issue {} is already resolved", i.id), FlashKind::Info),
            None => {}
        }
    }

    /// A key in a popup (taken out of `self.popup`; put back to keep it open).
    pub(super) fn on_popup_action(&mut self, popup: Popup, action: Action) -> Option<Effect> {
        match popup {
            Popup::Strategies { selected } => {
                self.on_strategies_action(selected, action);
                None
            }
            Popup::Help { scroll } => {
                self.on_help_action(scroll, action);
                None
            }
            Popup::Detail => {
                if action != Action::Back {
                    self.popup = Some(popup);
                }
                None
            }
            popup @ Popup::Confirm { .. } => self.on_confirm_action(popup, action),
            Popup::KillSwitch { mut input } => match action {
                Action::Back => None,
                Action::Confirm if input == KILL_WORD => {
                    let reason = format!("kill switch from the console by {}", self.operator);
                    Some(Effect::Send(OperatorCommand::KillSwitchOn { reason }, "kill switch".into()))
                }
                _ => {
                    edit(&mut input, action, usize::MAX, |c| c.to_ascii_uppercase());
                    self.popup = Some(Popup::KillSwitch { input });
                    None
                }
            },
            Popup::NewOrder(mut form) => match form.on_action(action) {
                FormKey::Cancel => None,
                FormKey::Editing => {
                    self.popup = Some(Popup::NewOrder(form));
                    None
                }
                FormKey::Submit => {
                    self.review_order(form);
                    None
                }
            },
            Popup::Modify(mut form) => match form.on_action(action) {
                FormKey::Cancel => None,
                FormKey::Editing => {
                    self.popup = Some(Popup::Modify(form));
                    None
                }
                FormKey::Submit => {
                    self.review_modify(form);
                    None
                }
            },
            Popup::Levels(mut form) => match form.on_action(action) {
                FormKey::Cancel => None,
                FormKey::Editing => {
                    self.popup = Some(Popup::Levels(form));
                    None
                }
                FormKey::Submit => {
                    self.review_levels(form);
                    None
                }
            },
            Popup::Note { issue_id, resolution, mut input } => match action {
                Action::Back => None,
                Action::Confirm => {
                    self.review_resolution(issue_id, resolution, input);
                    None
                }
                _ => {
                    edit(&mut input, action, xcoin_model::command::MAX_TEXT_CHARS, |c| c);
                    self.popup = Some(Popup::Note { issue_id, resolution, input });
                    None
                }
            },
        }
    }

    /// A key in a confirmation dialog: Esc goes back where it came from,
    /// Enter presses the chosen button, the alternative's letter chooses it.
    pub(super) fn on_confirm_action(&mut self, popup: Popup, action: Action) -> Option<Effect> {
        let Popup::Confirm { title, body, effect, focus_ok, alternative, back } = popup else { return None };
        match action {
            Action::Back => {
                self.popup = back.map(|b| *b);
                None
            }
            Action::SwitchButton => {
                self.popup = Some(Popup::Confirm { title, body, effect, focus_ok: !focus_ok, alternative, back });
                None
            }
            Action::Confirm => focus_ok.then_some(*effect),
            Action::Type(c) if alternative.as_ref().is_some_and(|(k, _, _)| *k == c) => alternative.map(|(_, _, e)| *e),
            _ => {
                self.popup = Some(Popup::Confirm { title, body, effect, focus_ok, alternative, back });
                None
            }
        }
    }

    pub(super) fn on_strategies_action(&mut self, selected: usize, action: Action) {
        let ids: Vec<i64> = self.store.strategies.keys().copied().collect();
        let selected = match action {
            Action::Back => return,
            Action::Up => selected.saturating_sub(1),
            Action::Down => (selected + 1).min(ids.len().saturating_sub(1)),
            _ => selected,
        };
        self.popup = Some(Popup::Strategies { selected });
        if action == Action::TogglePause
            && let Some(s) = ids.get(selected).and_then(|id| self.store.strategies.get(id)).cloned()
        {
            self.toggle_strategy(&s);
        }
    }

    pub(super) fn on_help_action(&mut self, scroll: usize, action: Action) {
        let (last, page) = crate::views::help_scroll(self.screen, self.scope(), self.read_only);
        let scroll = match action {
            Action::Back => return,
            Action::Up => scroll.saturating_sub(1),
            Action::Down => scroll + 1,
            Action::PageUp => scroll.saturating_sub(page),
            Action::PageDown => scroll + page,
            Action::Top => 0,
            Action::Bottom => last,
            _ => scroll,
        };
        self.popup = Some(Popup::Help { scroll: scroll.min(last) });
    }
}
