//! The console's state and how keys change it. Pure: keys in, state and
//! effects out; the runtime (`console::run`) performs the effects.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent};
use rust_decimal::Decimal;

use super::action::{Action, Scope, action_for};
use super::form::{FormKey, ModifyForm, OrderForm};
use super::store::{DbState, Health, Store, Update};
use crate::db::commands::CommandRecord;
use crate::domain::calendar::MarketCalendar;
use crate::domain::command::{CommandStatus, OperatorCommand};
use crate::domain::order::{Order, OrderRequest, OrderStatus, StatusChange};
use crate::domain::position::Position;
use crate::domain::reconciliation::{Issue, IssueStatus, Resolution};
use crate::domain::risk::RiskLimits;
use crate::domain::risk::{Assessment, Denial, RiskSnapshot};
use crate::domain::strategy::TradingMode;
use crate::domain::trade::Trade;

pub const TAB_TITLES: [&str; 5] = ["Orders", "Positions", "Trades", "Reconciliation", "Stats"];
/// The word an operator types to activate the kill switch.
pub const KILL_WORD: &str = "KILL";
/// How long a flash message stays.
pub const FLASH_FOR: Duration = Duration::from_secs(6);

/// Something the runtime must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Enqueue an operator command; the text says what it is.
    Send(OperatorCommand, String),
    Quit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Popup {
    /// The keymap; `scroll` is the first line shown.
    Help {
        scroll: usize,
    },
    Detail,
    /// A dangerous action, asked first; the focus starts on Cancel.
    Confirm {
        title: String,
        body: Vec<String>,
        effect: Box<Effect>,
        focus_ok: bool,
    },
    /// The kill switch: the operator types the word.
    KillSwitch {
        input: String,
    },
    /// An optional note for a reconciliation resolution, then a confirmation.
    Note {
        issue_id: i64,
        resolution: Resolution,
        input: String,
    },
    NewOrder(Box<OrderForm>),
    Modify(Box<ModifyForm>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashKind {
    Info,
    Done,
    Failed,
}

pub struct App {
    pub store: Store,
    pub tab: usize,
    pub selected: [usize; 5],
    pub filter: String,
    pub filter_editing: bool,
    pub popup: Option<Popup>,
    pub flash: Option<(String, FlashKind, Instant)>,
    pub show_log: bool,
    pub show_resolved: bool,
    pub read_only: bool,
    /// This process runs the engine (quitting stops it).
    pub engine_in_process: bool,
    /// Server pid of whichever process holds the engine lock.
    pub engine_pid: Option<i32>,
    pub db_state: DbState,
    pub last_resync: Option<(Duration, DateTime<Utc>)>,
    /// When the database last answered the console's health check.
    pub last_db_answer: Option<DateTime<Utc>>,
    pub mode: TradingMode,
    pub calendar: MarketCalendar,
    pub limits: RiskLimits,
    pub operator: String,
    /// The instant the screen shows (the clock); set by the runtime each frame.
    pub now: DateTime<Utc>,
    /// The terminal's size at the last frame; set by the runtime, so that
    /// scrolling the help stops where the drawing does.
    pub screen: ratatui::layout::Size,
    /// Commands this console sent that have not finished.
    pub pending: HashSet<i64>,
    pub log_state: tui_logger::TuiWidgetState,
    pub orders_view: Vec<i64>,
    pub positions_view: Vec<i64>,
    pub trades_view: Vec<i64>,
    pub issues_view: Vec<i64>,
    view_of: (u64, String, bool),
    /// Something changed since the last frame.
    pub dirty: bool,
    /// Tradable instruments with their reference prices (completion, previews).
    pub instruments: Vec<crate::domain::instrument::Instrument>,
    /// The status history the order detail shows, as last read: the order,
    /// its status then, and the history or why it could not be read. Lists
    /// carry no history; the detail reads it when opened and when the order
    /// moves on.
    pub history: Option<(i64, OrderStatus, Result<Vec<StatusChange>, String>)>,
    /// The Kite ticker's health when this console runs a LIVE engine.
    pub ticker: Option<tokio::sync::watch::Receiver<crate::broker::kite::TickerStatus>>,
}

impl App {
    pub fn new(
        mode: TradingMode,
        calendar: MarketCalendar,
        limits: RiskLimits,
        operator: String,
        read_only: bool,
    ) -> App {
        App {
            store: Store::default(),
            tab: 0,
            selected: [0; 5],
            filter: String::new(),
            filter_editing: false,
            popup: None,
            flash: None,
            show_log: true,
            show_resolved: false,
            read_only,
            engine_in_process: false,
            engine_pid: None,
            db_state: DbState::Connecting,
            last_resync: None,
            last_db_answer: None,
            mode,
            calendar,
            limits,
            operator,
            now: Utc::now(),
            screen: ratatui::layout::Size::new(80, 24),
            pending: HashSet::new(),
            log_state: tui_logger::TuiWidgetState::new(),
            orders_view: Vec::new(),
            positions_view: Vec::new(),
            trades_view: Vec::new(),
            issues_view: Vec::new(),
            view_of: (u64::MAX, String::new(), false),
            dirty: true,
            instruments: crate::domain::instrument::built_in(),
            history: None,
            ticker: None,
        }
    }

    /// The order whose status history the open detail needs read: none read
    /// yet for it, or its status changed since.
    pub fn history_needed(&self) -> Option<(i64, OrderStatus)> {
        if !matches!(self.popup, Some(Popup::Detail)) || self.tab != 0 {
            return None;
        }
        let o = self.selected_order()?;
        match &self.history {
            Some((id, status, _)) if *id == o.id && *status == o.status => None,
            _ => Some((o.id, o.status)),
        }
    }

    pub fn history_loaded(&mut self, id: i64, status: OrderStatus, history: Result<Vec<StatusChange>, String>) {
        self.history = Some((id, status, history));
        self.dirty = true;
    }

    pub fn scope(&self) -> Scope {
        match self.tab {
            0 => Scope::Orders,
            1 => Scope::Positions,
            3 => Scope::Reconciliation,
            _ => Scope::Global,
        }
    }

    pub fn flash(&mut self, text: impl Into<String>, kind: FlashKind) {
        self.flash = Some((text.into(), kind, Instant::now()));
        self.dirty = true;
    }

    /// Applies rows from the loader; flashes results of this console's
    /// commands. The sorted tables are rebuilt lazily, once per frame
    /// ([`refresh_views`](Self::refresh_views)), not once per update.
    pub fn apply(&mut self, update: Update) {
        for c in self.store.apply(update) {
            self.command_changed(&c);
        }
        self.dirty = true;
    }

    fn command_changed(&mut self, c: &CommandRecord) {
        if !self.pending.contains(&c.id) {
            return;
        }
        match c.status {
            CommandStatus::Done => {
                self.pending.remove(&c.id);
                self.flash(format!("✓ {}", c.result.as_deref().unwrap_or("done")), FlashKind::Done);
            }
            CommandStatus::Failed => {
                self.pending.remove(&c.id);
                self.flash(format!("✗ {}", c.result.as_deref().unwrap_or("failed")), FlashKind::Failed);
            }
            _ => {}
        }
    }

    pub fn health(&mut self, h: Health) {
        match h {
            Health::Db(state) => {
                if matches!(state, DbState::Live { .. }) {
                    self.last_db_answer = Some(Utc::now());
                }
                self.db_state = state;
            }
            Health::Engine(pid) => self.engine_pid = pid,
            Health::Resynced { gap, at } => self.last_resync = Some((gap, at)),
        }
        self.dirty = true;
    }

    /// A command this console enqueued.
    pub fn sent(&mut self, id: i64, what: &str) {
        self.pending.insert(id);
        if self.engine_pid.is_none() && !self.engine_in_process {
            self.flash(
                format!("{what}: sent as command #{id}, but no engine is running; it waits until one starts"),
                FlashKind::Failed,
            );
        } else {
            self.flash(format!("{what}: sent as command #{id}…"), FlashKind::Info);
        }
    }

    /// Whether a row passes the filter. The row's text is built only when a
    /// filter is set, so an unfiltered refresh allocates nothing per row.
    fn matches(&self, text: impl FnOnce() -> String) -> bool {
        self.filter.is_empty() || text().to_ascii_lowercase().contains(&self.filter.to_ascii_lowercase())
    }

    /// Re-sorts and filters the tables when the store or the filter changed.
    pub fn refresh_views(&mut self) {
        let key = (self.store.version, self.filter.clone(), self.show_resolved);
        if key == self.view_of {
            return;
        }
        let s = &self.store;
        // The store keeps orders by id, so newest first is a reverse walk:
        // working orders first, then the finished ones, with no sort.
        let row =
            |o: &&Order| self.matches(|| format!("{} {} {} {} {}", o.symbol, o.side, o.status, o.order_type, o.id));
        let orders: Vec<i64> = s
            .orders
            .values()
            .rev()
            .filter(|o| o.status.is_active())
            .chain(s.orders.values().rev().filter(|o| !o.status.is_active()))
            .filter(row)
            .map(|o| o.id)
            .collect();
        let mut positions: Vec<&Position> = s.positions.values().collect();
        positions.sort_by(|a, b| (&a.symbol, a.product).cmp(&(&b.symbol, b.product)));
        let positions: Vec<i64> = positions
            .into_iter()
            .filter(|p| self.matches(|| format!("{} {} {}", p.symbol, p.exchange, p.product)))
            .map(|p| p.id)
            .collect();
        let trades: Vec<i64> = s
            .trades
            .values()
            .rev()
            .filter(|t| self.matches(|| format!("{} {} {}", t.symbol, t.side, t.broker_trade_id)))
            .map(|t| t.id)
            .collect();
        let mut open: Vec<&Issue> = s.issues.values().filter(|i| i.status == IssueStatus::Open).collect();
        open.sort_by_key(|i| std::cmp::Reverse(i.last_seen_at));
        let mut resolved: Vec<&Issue> = if self.show_resolved {
            s.issues.values().filter(|i| i.status == IssueStatus::Resolved).collect()
        } else {
            Vec::new()
        };
        resolved.sort_by_key(|i| std::cmp::Reverse(i.resolved_at));
        let issues: Vec<i64> = open
            .into_iter()
            .chain(resolved)
            .filter(|i| self.matches(|| format!("{} {} {}", i.symbol, i.issue_type, i.status)))
            .map(|i| i.id)
            .collect();
        self.orders_view = orders;
        self.positions_view = positions;
        self.trades_view = trades;
        self.issues_view = issues;
        self.view_of = key;
        for (tab, len) in [
            (0, self.orders_view.len()),
            (1, self.positions_view.len()),
            (2, self.trades_view.len()),
            (3, self.issues_view.len()),
        ] {
            self.selected[tab] = self.selected[tab].min(len.saturating_sub(1));
        }
    }

    pub fn rows_in_tab(&self) -> usize {
        match self.tab {
            0 => self.orders_view.len(),
            1 => self.positions_view.len(),
            2 => self.trades_view.len(),
            3 => self.issues_view.len(),
            _ => 0,
        }
    }

    pub fn selected_order(&self) -> Option<&Order> {
        self.orders_view.get(self.selected[0]).and_then(|id| self.store.orders.get(id))
    }
    pub fn selected_position(&self) -> Option<&Position> {
        self.positions_view.get(self.selected[1]).and_then(|id| self.store.positions.get(id))
    }
    pub fn selected_trade(&self) -> Option<&Trade> {
        self.trades_view.get(self.selected[2]).and_then(|id| self.store.trades.get(id))
    }
    pub fn selected_issue(&self) -> Option<&Issue> {
        self.issues_view.get(self.selected[3]).and_then(|id| self.store.issues.get(id))
    }

    fn confirm(&mut self, title: &str, body: Vec<String>, effect: Effect) {
        self.popup = Some(Popup::Confirm { title: title.into(), body, effect: Box::new(effect), focus_ok: false });
    }

    fn move_selection(&mut self, delta: isize) {
        let len = self.rows_in_tab();
        if len == 0 {
            return;
        }
        let cur = self.selected[self.tab] as isize;
        self.selected[self.tab] = (cur + delta).clamp(0, len as isize - 1) as usize;
    }

    /// Handles a key; returns what the runtime must do, if anything.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Effect> {
        self.dirty = true;
        // Selections refer to the tables as they are on screen now.
        self.refresh_views();
        if let Some(popup) = self.popup.take() {
            return self.on_popup_key(popup, key);
        }
        if self.filter_editing {
            match key.code {
                KeyCode::Enter => self.filter_editing = false,
                KeyCode::Esc => {
                    self.filter_editing = false;
                    self.filter.clear();
                }
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Char(c) => self.filter.push(c),
                _ => {}
            }
            self.refresh_views();
            return None;
        }
        let action = action_for(&key, self.scope(), self.read_only)?;
        self.on_action(action)
    }

    pub fn on_action(&mut self, action: Action) -> Option<Effect> {
        match action {
            Action::Quit => {
                if self.engine_in_process {
                    self.confirm(
                        "Quit XCoin?",
                        vec!["The engine runs inside this console: quitting stops trading.".into()],
                        Effect::Quit,
                    );
                    return None;
                }
                return Some(Effect::Quit);
            }
            Action::Help => self.popup = Some(Popup::Help { scroll: 0 }),
            Action::NextTab => self.tab = (self.tab + 1) % TAB_TITLES.len(),
            Action::PrevTab => self.tab = (self.tab + TAB_TITLES.len() - 1) % TAB_TITLES.len(),
            Action::Tab(n) => self.tab = n,
            Action::Up => self.move_selection(-1),
            Action::Down => self.move_selection(1),
            Action::PageUp => self.move_selection(-20),
            Action::PageDown => self.move_selection(20),
            Action::Top => self.selected[self.tab] = 0,
            Action::Bottom => self.selected[self.tab] = self.rows_in_tab().saturating_sub(1),
            Action::Detail => {
                let has = match self.tab {
                    0 => self.selected_order().is_some(),
                    1 => self.selected_position().is_some(),
                    2 => self.selected_trade().is_some(),
                    3 => self.selected_issue().is_some(),
                    _ => false,
                };
                if has {
                    self.popup = Some(Popup::Detail);
                }
            }
            Action::Back => {
                self.filter.clear();
                self.refresh_views();
            }
            Action::Filter => self.filter_editing = true,
            Action::ToggleLog => self.show_log = !self.show_log,
            Action::LogUp => self.log_state.transition(tui_logger::TuiWidgetEvent::PrevPageKey),
            Action::LogDown => self.log_state.transition(tui_logger::TuiWidgetEvent::NextPageKey),
            Action::ToggleResolved => {
                self.show_resolved = !self.show_resolved;
                self.refresh_views();
            }
            Action::NewOrder => {
                let symbols = self.instruments.iter().map(|i| i.symbol.clone()).collect();
                self.popup = Some(Popup::NewOrder(Box::new(OrderForm::new(symbols))));
            }
            Action::ModifyOrder => match self.selected_order() {
                Some(o) if matches!(o.status, OrderStatus::Open | OrderStatus::PartiallyFilled) => {
                    self.popup = Some(Popup::Modify(Box::new(ModifyForm::for_order(o))));
                }
                Some(o) => self.flash(
                    format!("order {} is {}: only OPEN or PARTIALLY_FILLED orders can be modified", o.id, o.status),
                    FlashKind::Failed,
                ),
                None => {}
            },
            Action::CancelOrder => match self.selected_order() {
                Some(o) if o.status.is_active() => {
                    let (id, text) = (o.id, format!("{} {} {} {}", o.side, o.quantity, o.symbol, o.order_type));
                    self.confirm(
                        "Cancel order?",
                        vec![format!("Order {id}: {text}")],
                        Effect::Send(OperatorCommand::CancelOrder { order_id: id }, format!("cancel order {id}")),
                    );
                }
                Some(o) => self.flash(format!("order {} is {}: nothing to cancel", o.id, o.status), FlashKind::Failed),
                None => {}
            },
            Action::ExitPosition => {
                if let Some(p) = self.selected_position() {
                    let id = p.id;
                    let body = vec![format!(
                        "{} {} {} @ {} — exit at market",
                        p.symbol,
                        p.product,
                        p.quantity(),
                        super::views::price(p.average_price())
                    )];
                    self.confirm(
                        "Exit position?",
                        body,
                        Effect::Send(OperatorCommand::ExitPosition { position_id: id }, format!("exit position {id}")),
                    );
                }
            }
            Action::ExitAll => {
                let n = self.store.positions.len();
                if n == 0 {
                    self.flash("no open positions", FlashKind::Info);
                } else {
                    self.confirm(
                        "Exit ALL positions?",
                        vec![format!("{n} open positions will be exited at market.")],
                        Effect::Send(OperatorCommand::ExitAll {}, "exit all positions".into()),
                    );
                }
            }
            Action::KillSwitch => {
                if self.store.kill_switch_active() {
                    self.flash("the kill switch is already active", FlashKind::Info);
                } else {
                    self.popup = Some(Popup::KillSwitch { input: String::new() });
                }
            }
            Action::Rearm => {
                if !self.store.kill_switch_active() {
                    self.flash("the kill switch is not active", FlashKind::Info);
                } else {
                    self.confirm(
                        "Re-arm trading?",
                        vec!["New orders will be accepted again.".into()],
                        Effect::Send(
                            OperatorCommand::KillSwitchOff {
                                reason: format!("re-armed from the console by {}", self.operator),
                            },
                            "re-arm".into(),
                        ),
                    );
                }
            }
            Action::AcceptBroker | Action::KeepLocal | Action::Ignore => {
                let resolution = match action {
                    Action::AcceptBroker => Resolution::AcceptBroker,
                    Action::KeepLocal => Resolution::KeepLocal,
                    _ => Resolution::Ignore,
                };
                match self.selected_issue() {
                    Some(i) if i.status == IssueStatus::Open => {
                        self.popup = Some(Popup::Note { issue_id: i.id, resolution, input: String::new() });
                    }
                    Some(i) => self.flash(format!("issue {} is already resolved", i.id), FlashKind::Info),
                    None => {}
                }
            }
        }
        None
    }

    fn on_popup_key(&mut self, popup: Popup, key: KeyEvent) -> Option<Effect> {
        match popup {
            Popup::Help { scroll } => {
                let (last, page) = super::views::help_scroll(self.screen, self.read_only);
                let scroll = match key.code {
                    KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') | KeyCode::Char('?') => return None,
                    KeyCode::Up | KeyCode::Char('k') => scroll.saturating_sub(1),
                    KeyCode::Down | KeyCode::Char('j') => scroll + 1,
                    KeyCode::PageUp => scroll.saturating_sub(page),
                    KeyCode::PageDown | KeyCode::Char(' ') => scroll + page,
                    KeyCode::Home => 0,
                    KeyCode::End => last,
                    _ => scroll,
                };
                self.popup = Some(Popup::Help { scroll: scroll.min(last) });
                None
            }
            Popup::Detail => {
                if !matches!(key.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') | KeyCode::Char('?')) {
                    self.popup = Some(popup);
                }
                None
            }
            Popup::Confirm { title, body, effect, focus_ok } => match key.code {
                KeyCode::Esc => None,
                KeyCode::Left | KeyCode::Right | KeyCode::Tab | KeyCode::BackTab => {
                    self.popup = Some(Popup::Confirm { title, body, effect, focus_ok: !focus_ok });
                    None
                }
                KeyCode::Enter if focus_ok => Some(*effect),
                KeyCode::Enter => None,
                _ => {
                    self.popup = Some(Popup::Confirm { title, body, effect, focus_ok });
                    None
                }
            },
            Popup::KillSwitch { mut input } => match key.code {
                KeyCode::Esc => None,
                KeyCode::Enter if input == KILL_WORD => Some(Effect::Send(
                    OperatorCommand::KillSwitchOn {
                        reason: format!("kill switch from the console by {}", self.operator),
                    },
                    "kill switch".into(),
                )),
                KeyCode::Enter => {
                    self.popup = Some(Popup::KillSwitch { input });
                    None
                }
                KeyCode::Backspace => {
                    input.pop();
                    self.popup = Some(Popup::KillSwitch { input });
                    None
                }
                KeyCode::Char(c) => {
                    input.push(c.to_ascii_uppercase());
                    self.popup = Some(Popup::KillSwitch { input });
                    None
                }
                _ => {
                    self.popup = Some(Popup::KillSwitch { input });
                    None
                }
            },
            Popup::NewOrder(mut form) => match form.on_key(key) {
                FormKey::Cancel => None,
                FormKey::Editing => {
                    self.popup = Some(Popup::NewOrder(form));
                    None
                }
                FormKey::Submit => match form.request(self.limits.tick_size, &self.operator) {
                    Err(e) => {
                        self.flash(format!("✗ {e}"), FlashKind::Failed);
                        self.popup = Some(Popup::NewOrder(form));
                        None
                    }
                    Ok(req) => {
                        let what = format!("place {} {} {} {}", req.side, req.quantity, req.symbol, req.order_type);
                        let mut body = vec![describe_request(&req)];
                        body.push(match self.preview(&req) {
                            Ok(a) => format!(
                                "pre-trade check: passes — risk {}, reward:risk {}",
                                a.risk_amount.map_or("—".into(), crate::setup::rupees),
                                a.risk_reward.map_or("—".into(), |r| format!("{:.2}:1", r))
                            ),
                            Err(d) => format!("pre-trade check: {d} — the engine will reject it"),
                        });
                        self.confirm("Place order?", body, Effect::Send(OperatorCommand::PlaceOrder(req), what));
                        None
                    }
                },
            },
            Popup::Modify(mut form) => match form.on_key(key) {
                FormKey::Cancel => None,
                FormKey::Editing => {
                    self.popup = Some(Popup::Modify(form));
                    None
                }
                FormKey::Submit => {
                    let order = self.store.orders.get(&form.order_id).cloned()?;
                    match form.change(&order) {
                        Err(e) => {
                            self.flash(format!("✗ {e}"), FlashKind::Failed);
                            self.popup = Some(Popup::Modify(form));
                            None
                        }
                        Ok(crate::db::orders::OrderModification { quantity, price, trigger_price }) => {
                            let id = order.id;
                            let cmd = OperatorCommand::ModifyOrder { order_id: id, quantity, price, trigger_price };
                            self.confirm(
                                "Modify order?",
                                vec![format!(
                                    "Order {id}: quantity {}, price {}, trigger {}",
                                    quantity.unwrap_or(order.quantity),
                                    price.or(order.price).map_or("—".into(), super::views::price),
                                    trigger_price.or(order.trigger_price).map_or("—".into(), super::views::price)
                                )],
                                Effect::Send(cmd, format!("modify order {id}")),
                            );
                            None
                        }
                    }
                }
            },
            Popup::Note { issue_id, resolution, mut input } => match key.code {
                KeyCode::Esc => None,
                KeyCode::Enter => {
                    let note = input.trim().to_string();
                    let mut body = vec![format!("Issue {issue_id}: {resolution}")];
                    if !note.is_empty() {
                        body.push(format!("Note: {note}"));
                    }
                    let cmd = OperatorCommand::ResolveReconciliation {
                        issue_id,
                        resolution,
                        note: (!note.is_empty()).then_some(note),
                    };
                    self.confirm("Resolve the issue?", body, Effect::Send(cmd, format!("resolve issue {issue_id}")));
                    None
                }
                KeyCode::Backspace => {
                    input.pop();
                    self.popup = Some(Popup::Note { issue_id, resolution, input });
                    None
                }
                KeyCode::Char(c) => {
                    input.push(c);
                    self.popup = Some(Popup::Note { issue_id, resolution, input });
                    None
                }
                _ => {
                    self.popup = Some(Popup::Note { issue_id, resolution, input });
                    None
                }
            },
        }
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
        };
        crate::domain::risk::validate(req, &snapshot, &self.limits)
    }

    /// Data older than this without an answer from the database is stale.
    pub const STALE_AFTER_SECONDS: i64 = 6;

    /// Seconds since the database last answered, when that is long enough
    /// that the screen may no longer be current.
    pub fn stale_for(&self) -> Option<i64> {
        let since = (self.now - self.last_db_answer?).num_seconds();
        (since >= Self::STALE_AFTER_SECONDS).then_some(since)
    }

    /// Today's net P&L, if known.
    pub fn net_pnl(&self) -> Option<Decimal> {
        self.store.summary.pnl.map(|p| p.net_pnl)
    }
}

/// One line describing an order request.
pub fn describe_request(r: &OrderRequest) -> String {
    let px =
        |label: &str, v: Option<Decimal>| v.map(|p| format!(" {label} {}", super::views::price(p))).unwrap_or_default();
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
