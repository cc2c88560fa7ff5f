//! The console's state and how keys change it. Pure: keys in, state and
//! effects out; the runtime (`console::run`) performs the effects.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use rust_decimal::Decimal;

use super::action::{Action, Scope, action_for, edit};
use super::form::{FormKey, LevelsForm, ModifyForm, OrderForm, Prefill};
use super::store::{Answer, DeskStatus, Health, OrderVersion, Store, Update};
pub use super::tab::Tab;
use super::tables::Tables;
use xcoin_db::commands::CommandRecord;
use xcoin_model::calendar::MarketCalendar;
use xcoin_model::command::{CommandStatus, OperatorCommand};
use xcoin_model::order::{Order, OrderRequest, Side, StatusChange};
use xcoin_model::position::Position;
use xcoin_model::reconciliation::{Issue, IssueStatus, Resolution};
use xcoin_model::risk::RiskLimits;
use xcoin_model::risk::{Assessment, Denial, RiskSnapshot};
use xcoin_model::strategy::TradingMode;
use xcoin_model::trade::Trade;

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
    /// Exit every position, then quit once none is open (or say why not).
    ExitAllThenQuit,
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
        /// A third choice beside Cancel and Confirm (the quit dialog's
        /// "exit all, then quit"), chosen with its key.
        alternative: Option<(char, String, Box<Effect>)>,
        /// Where Esc goes: the form the confirmation came from, values kept.
        back: Option<Box<Popup>>,
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
    /// A position's stop loss and target, set or moved.
    Levels(Box<LevelsForm>),
    /// The strategies with their state; `p` pauses or resumes the selected one.
    Strategies {
        selected: usize,
    },
}

impl Popup {
    /// The keymap scope of the popup.
    pub fn scope(&self) -> Scope {
        match self {
            Popup::Help { .. } => Scope::Help,
            Popup::Detail => Scope::Detail,
            Popup::Confirm { .. } => Scope::Confirm,
            Popup::KillSwitch { .. } | Popup::Note { .. } => Scope::TextEntry,
            Popup::NewOrder(_) => Scope::OrderForm,
            // Typed price fields, as the modify form's.
            Popup::Modify(_) | Popup::Levels(_) => Scope::ModifyForm,
            Popup::Strategies { .. } => Scope::Strategies,
        }
    }
}

/// What a read-only console says when a key that writes is pressed.
pub const READ_ONLY_KEY: &str = "read-only console: this key places, changes or cancels, and this console only watches";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashKind {
    Info,
    Done,
    Failed,
}

/// An order from the selected row: a side, or on a position, more of it or its reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowOrder {
    Side(Side),
    Add,
    Reverse,
}

pub struct App {
    pub store: Store,
    pub tab: Tab,
    /// Each tab's rows, selection and filter.
    pub tables: Tables,
    /// Quit once this exit-all command is done and no position is open.
    pub quit_after: Option<i64>,
    pub filter_editing: bool,
    pub popup: Option<Popup>,
    pub flash: Option<(String, FlashKind, Instant)>,
    pub show_log: bool,
    pub show_resolved: bool,
    pub read_only: bool,
    /// A graceful stop of the engine cancels its working orders first
    /// (`engine.cancel_orders_on_stop`), as the quit dialog says.
    pub cancel_orders_on_stop: bool,
    /// The engine, the database and the ticker, as the console knows them.
    pub status: DeskStatus,
    pub mode: TradingMode,
    pub calendar: MarketCalendar,
    pub limits: RiskLimits,
    /// A past trading day opened read-only (`xcoin --date`), else today.
    pub past_day: Option<chrono::NaiveDate>,
    /// (working, today's orders, their messages to the exchange) and the
    /// day they count, kept as orders arrive so neither a frame nor the
    /// loader walks the whole day.
    order_counts: ((usize, usize, usize), Option<chrono::NaiveDate>),
    /// The desk's daily goals, for Stats (none set by default).
    pub goals: Option<xcoin_model::goals::GoalLimits>,
    pub operator: String,
    /// The instant the screen shows (the clock); set by the runtime each frame.
    pub now: DateTime<Utc>,
    /// The terminal's size at the last frame; set by the runtime, so that
    /// scrolling the help stops where the drawing does.
    pub screen: ratatui::layout::Size,
    /// Commands this console sent that have not finished.
    pub pending: HashSet<i64>,
    pub log_state: tui_logger::TuiWidgetState,
    /// The log pane shows this process's diagnostics (tui-logger) instead
    /// of the desk log.
    pub log_diagnostics: bool,
    /// The desk log scrolled back: the id of the line at the pane's bottom.
    /// `None` follows the newest line.
    pub log_anchor: Option<i64>,
    /// The first of today's numbers the Stats tab shows (↑/↓ scroll them
    /// when the terminal is too short for all).
    pub stats_scroll: usize,
    /// How many of them the last frame had room for (set by drawing), so
    /// scrolling stops where the drawing does.
    pub stats_room: std::cell::Cell<usize>,
    /// The filters and resolved-toggle the views were built with (`None`: never built).
    view_of: Option<(String, bool)>,
    /// How many of `orders_view`'s first rows are working orders.
    orders_active: usize,
    /// Something changed since the last frame.
    pub dirty: bool,
    /// Tradable instruments with their reference prices (completion, previews).
    pub instruments: Vec<xcoin_model::instrument::Instrument>,
    /// The status history the order detail shows, as last read: the order,
    /// its status then, and the history or why it could not be read. Lists
    /// carry no history; the detail reads it when opened and when the order
    /// moves on.
    pub history: Option<(i64, OrderVersion, Result<Vec<StatusChange>, String>)>,
    /// The history last asked of the loader, while its answer is on the way.
    pub history_asked: Option<(i64, OrderVersion)>,
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
            tables: Tables::default(),
            tab: Tab::Orders,
            quit_after: None,
            filter_editing: false,
            popup: None,
            flash: None,
            show_log: true,
            show_resolved: false,
            read_only,
            cancel_orders_on_stop: true,
            status: DeskStatus::default(),
            mode,
            calendar,
            limits,
            goals: None,
            past_day: None,
            order_counts: ((0, 0, 0), None),
            operator,
            now: xcoin_model::clock::now(),
            screen: ratatui::layout::Size::new(80, 24),
            pending: HashSet::new(),
            log_state: tui_logger::TuiWidgetState::new(),
            log_diagnostics: false,
            log_anchor: None,
            stats_scroll: 0,
            stats_room: std::cell::Cell::new(0),
            view_of: None,
            orders_active: 0,
            dirty: true,
            instruments: xcoin_model::instrument::built_in(),
            history: None,
            history_asked: None,
        }
    }

    /// The order whose status history the open detail needs read: none read
    /// yet for it, or its status changed since.
    /// The order whose history the open detail needs and has not asked for
    /// yet (it is asked again when the order's status changes).
    pub fn history_needed(&self) -> Option<(i64, OrderVersion)> {
        if !matches!(self.popup, Some(Popup::Detail)) || self.tab != Tab::Orders {
            return None;
        }
        let o = self.selected_order()?;
        let wanted = (o.id, (o.status, o.modifications));
        let loaded = self.history.as_ref().map(|(id, version, _)| (*id, *version));
        (loaded != Some(wanted) && self.history_asked != Some(wanted)).then_some(wanted)
    }

    /// The loader's answer to one of this console's requests. Returns true
    /// when the console should quit now.
    pub fn answer(&mut self, answer: Answer) -> bool {
        match answer {
            Answer::History { id, version, history } => self.history_loaded(id, version, history),
            Answer::Sent { what, then_quit, result } => match result {
                Ok(id) => {
                    self.sent(id, &what);
                    if then_quit {
                        self.quit_after = Some(id);
                    }
                }
                Err(e) => self.flash(format!("{what} not sent: {e}"), FlashKind::Failed),
            },
        }
        self.ready_to_quit()
    }

    pub fn history_loaded(&mut self, id: i64, version: OrderVersion, history: Result<Vec<StatusChange>, String>) {
        self.history = Some((id, version, history));
        self.dirty = true;
    }

    pub fn scope(&self) -> Scope {
        self.tab.scope()
    }

    /// Recomputes the open form's pre-trade verdict: after a key, and when
    /// the desk changes (prices, positions, the day's P&L); drawing only reads it.
    pub fn refresh_verdict(&mut self) {
        let Some(mut popup) = self.popup.take() else { return };
        match &mut popup {
            Popup::NewOrder(form) => {
                let request = form.request(&self.limits.ticks, &self.operator);
                form.context = match &request {
                    Ok(req) => self.order_context(req),
                    Err(_) => String::new(),
                };
                form.verdict = match request {
                    Err(e) => format!("✗ {e}"),
                    Ok(req) => match self.preview(&req) {
                        Ok(a) => passes("pre-trade checks: risk", &a),
                        Err(d) => format!("✗ {d}"),
                    },
                };
            }
            Popup::Modify(form) => {
                if let Some(order) = self.store.orders.get(&form.order_id) {
                    form.verdict = match form.change(order) {
                        Ok(change) => self.modify_verdict(order, change),
                        Err(e) => [String::new(), format!("✗ {e}")],
                    };
                }
            }
            Popup::Levels(form) => {
                if let Some(p) = self.store.positions.get(&form.position_id) {
                    form.verdict = self.levels_verdict(p, form.levels());
                }
            }
            _ => {}
        }
        self.popup = Some(popup);
    }

    pub fn flash(&mut self, text: impl Into<String>, kind: FlashKind) {
        self.flash = Some((text.into(), kind, Instant::now()));
        self.dirty = true;
    }

    /// Applies rows from the loader; flashes results of this console's
    /// commands. The sorted tables are rebuilt lazily, once per frame
    /// ([`refresh_views`](Self::refresh_views)), not once per update.
    pub fn apply(&mut self, update: Update) {
        if update.snapshot {
            // Counted again from the new store at the next refresh.
            self.order_counts.1 = None;
        } else if self.order_counts.1 == Some(self.day()) {
            let (start, end) = self.calendar.day_bounds(self.day());
            let weigh = |o: &xcoin_model::order::Order| crate::views::orders::weigh(o, start, end);
            let (mut w, mut t, mut m) = self.order_counts.0;
            let gone = update.orders.iter().map(|o| o.id).chain(update.deleted_orders.iter().copied());
            for old in gone.filter_map(|id| self.store.orders.get(&id)) {
                let (dw, dt, dm) = weigh(old);
                (w, t, m) = (w.saturating_sub(dw), t.saturating_sub(dt), m.saturating_sub(dm));
            }
            for new in &update.orders {
                let (dw, dt, dm) = weigh(new);
                (w, t, m) = (w + dw, t + dt, m + dm);
            }
            self.order_counts.0 = (w, t, m);
        }
        for c in self.store.apply(update) {
            self.command_changed(&c);
        }
        self.refresh_verdict();
        self.dirty = true;
    }

    fn command_changed(&mut self, c: &CommandRecord) {
        if !self.pending.contains(&c.id) {
            return;
        }
        if self.quit_after == Some(c.id) && matches!(c.status, CommandStatus::Failed | CommandStatus::Expired) {
            self.quit_after = None;
        }
        match c.status {
            CommandStatus::Done => {
                self.pending.remove(&c.id);
                self.flash(format!("✓ {}", c.result.as_deref().unwrap_or("done")), FlashKind::Done);
            }
            CommandStatus::Failed | CommandStatus::Expired => {
                self.pending.remove(&c.id);
                self.flash(format!("✗ {}", c.result.as_deref().unwrap_or("failed")), FlashKind::Failed);
            }
            _ => {}
        }
    }

    pub fn health(&mut self, h: Health) {
        self.status.apply(h);
        self.dirty = true;
    }

    /// A command this console enqueued.
    pub fn sent(&mut self, id: i64, what: &str) {
        self.pending.insert(id);
        if !self.status.engine_running() {
            self.flash(
                format!("{what}: sent as command #{id}, but no engine is running; it waits until one starts"),
                FlashKind::Failed,
            );
        } else {
            self.flash(format!("{what}: sent as command #{id}…"), FlashKind::Info);
        }
    }

    /// A tab's filter, lower-cased.
    pub fn filter_of(&self, tab: Tab) -> String {
        self.tables[tab].filter.to_lowercase()
    }

    /// `filter "INFY": N of M` for a tab whose filter is set: the filter
    /// as typed and how many of the tab's rows it shows. It sits in the
    /// table's title, so the status line is free for results.
    pub fn filter_note(&self, tab: Tab) -> Option<String> {
        if !tab.is_table() || self.tables[tab].filter.is_empty() {
            return None;
        }
        let shown = self.view(tab).len();
        Some(format!("filter \"{}\": {shown} of {}", self.tables[tab].filter, self.tables[tab].unfiltered))
    }

    /// The name of a strategy, or its id when unknown.
    pub fn strategy_name(&self, id: i64) -> String {
        self.store.strategies.get(&id).map_or_else(|| id.to_string(), |s| s.name.clone())
    }

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
    fn rebuild_views(&mut self, f: &[String; Tab::TABLE_COUNT]) {
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
    fn place_order(&mut self, id: i64, filter: &str) {
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
    fn place_trade(&mut self, id: i64, filter: &str) {
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
    fn positions_in_order(&self, filter: &str) -> Vec<i64> {
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
    fn issues_in_order(&self) -> Vec<&Issue> {
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

    fn time(&self, at: DateTime<Utc>) -> String {
        self.calendar.local(at).format("%H:%M:%S").to_string()
    }

    /// What a filter searches in an order: every visible column.
    fn order_text(&self, o: &Order) -> String {
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

    fn position_text(&self, p: &Position) -> String {
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

    fn trade_text(&self, t: &Trade) -> String {
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
    fn follow_selections(&mut self) {
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
    fn popup_target(&self) -> Option<(Tab, i64, bool)> {
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
    fn check_popup_target(&mut self) {
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
    fn open_position_selected(&mut self, nothing: &str) -> bool {
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

    fn confirm(&mut self, title: &str, body: Vec<String>, effect: Effect) {
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
    fn confirm_from(&mut self, title: &str, body: Vec<String>, effect: Effect, back: Popup) {
        self.confirm(title, body, effect);
        if let Some(Popup::Confirm { back: b, .. }) = &mut self.popup {
            *b = Some(Box::new(back));
        }
    }

    fn move_selection(&mut self, delta: isize) {
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
    fn switch_tab(&mut self, tab: Tab) {
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

    fn on_filter_action(&mut self, action: Action) {
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

    /// A key on a table (no popup, no filter being typed).
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

    fn quit(&mut self) -> Option<Effect> {
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
    fn order_from_row(&mut self, intent: RowOrder) {
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

    fn open_detail(&mut self) {
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

    fn open_modify(&mut self) {
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

    fn ask_cancel(&mut self) {
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

    fn ask_exit(&mut self) {
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

    fn ask_exit_all(&mut self) {
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

    fn ask_rearm(&mut self) {
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

    fn ask_note(&mut self, resolution: Resolution) {
        match self.selected_issue() {
            Some(i) if i.status == IssueStatus::Open => {
                self.popup = Some(Popup::Note { issue_id: i.id, resolution, input: String::new() });
            }
            Some(i) => self.flash(format!("issue {} is already resolved", i.id), FlashKind::Info),
            None => {}
        }
    }

    /// A key in a popup (taken out of `self.popup`; put back to keep it open).
    fn on_popup_action(&mut self, popup: Popup, action: Action) -> Option<Effect> {
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
    fn on_confirm_action(&mut self, popup: Popup, action: Action) -> Option<Effect> {
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

    fn on_strategies_action(&mut self, selected: usize, action: Action) {
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

    fn on_help_action(&mut self, scroll: usize, action: Action) {
        let (last, page) = super::views::help_scroll(self.screen, self.scope(), self.read_only);
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

    fn review_order(&mut self, form: Box<OrderForm>) {
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

    fn review_modify(&mut self, form: Box<ModifyForm>) {
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

    fn review_levels(&mut self, form: Box<LevelsForm>) {
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

    fn review_resolution(&mut self, issue_id: i64, resolution: Resolution, input: String) {
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
    fn scroll_log(&mut self, by: i64) {
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
    fn preview_with(&self, req: &OrderRequest, working: Option<&Order>) -> Result<Assessment, Denial> {
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
    fn toggle_strategy(&mut self, s: &xcoin_model::strategy::Strategy) {
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
fn matching<'a, T: 'a>(
    rows: impl Iterator<Item = &'a T>,
    filter: &str,
    text: impl Fn(&T) -> String,
    id: impl Fn(&T) -> i64,
) -> Vec<i64> {
    rows.filter(|r| filter.is_empty() || text(r).to_lowercase().contains(filter)).map(id).collect()
}

/// A price for a filter's text: two decimals, or nothing.
fn opt_price(v: Option<Decimal>) -> String {
    v.map(|p| format!("{p:.2}")).unwrap_or_default()
}

fn issue_text(i: &Issue) -> String {
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
fn passes(what: &str, a: &Assessment) -> String {
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
        super::views::price(p.average_price()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;
    use rust_decimal_macros::dec;
    use xcoin_config::Settings;
    use xcoin_model::order::OrderStatus;
    use xcoin_model::order::{BrokerKind, Exchange, OrderType, Product, Side, Validity};

    fn app(read_only: bool) -> App {
        let s = Settings::default();
        let mut app = App::new(s.app.mode, s.calendar(), s.risk_limits(), "asha".into(), read_only);
        app.status.engine_in_process = true;
        app
    }

    fn order(id: i64, symbol: &str, status: OrderStatus) -> Order {
        let now = Utc::now();
        Order {
            id,
            strategy_id: 1,
            parent_order_id: None,
            symbol: symbol.into(),
            exchange: Exchange::Nse,
            side: Side::Buy,
            order_type: OrderType::Limit,
            product: Product::Mis,
            validity: Validity::Day,
            quantity: 5,
            filled_quantity: 0,
            price: Some(dec!(1400)),
            trigger_price: None,
            average_price: None,
            stop_loss: None,
            take_profit: None,
            risk_amount: None,
            status,
            status_reason: None,
            broker: BrokerKind::Paper,
            broker_order_id: Some(format!("P{id}")),
            placed_by: "asha".into(),
            created_at: now,
            updated_at: now,
            submitted_at: Some(now),
            completed_at: None,
            modifications: 0,
            trigger_pending: false,
        }
    }

    fn with_orders(mut app: App, orders: Vec<Order>) -> App {
        app.apply(Update { snapshot: true, orders, ..Default::default() });
        app.refresh_views();
        app
    }

    fn key(app: &mut App, code: KeyCode) -> Option<Effect> {
        let modifiers = if matches!(code, KeyCode::Char(c) if c.is_ascii_uppercase()) {
            KeyModifiers::SHIFT
        } else {
            KeyModifiers::NONE
        };
        app.on_key(KeyEvent::new(code, modifiers))
    }

    fn typed(app: &mut App, text: &str) {
        for c in text.chars() {
            key(app, KeyCode::Char(c));
        }
    }

    #[test]
    fn cancel_asks_first_names_the_order_and_sends_it_by_id() {
        let mut a =
            with_orders(app(false), vec![order(7, "INFY", OrderStatus::Open), order(8, "TCS", OrderStatus::Open)]);
        // Newest first: order 8, then 7. Down selects 7.
        key(&mut a, KeyCode::Down);
        assert_eq!(key(&mut a, KeyCode::Char('c')), None);
        let Some(Popup::Confirm { title, body, focus_ok: false, .. }) = &a.popup else { panic!("{:?}", a.popup) };
        assert_eq!((title.as_str(), body[0].as_str()), ("Cancel order?", "Order 7: BUY 5 INFY LIMIT MIS @ 1400.00"));
        // Enter on the focused Cancel button sends nothing and closes.
        assert_eq!(key(&mut a, KeyCode::Enter), None);
        assert!(a.popup.is_none());
        key(&mut a, KeyCode::Char('c'));
        key(&mut a, KeyCode::Right);
        assert_eq!(
            key(&mut a, KeyCode::Enter),
            Some(Effect::Send(OperatorCommand::CancelOrder { order_id: 7 }, "cancel order 7".into()))
        );
    }

    #[test]
    fn a_read_only_console_has_no_keys_that_write() {
        let mut a = with_orders(app(true), vec![order(7, "INFY", OrderStatus::Open)]);
        for c in ['c', 'm', 'n', 'K'] {
            a.flash = None;
            assert_eq!(key(&mut a, KeyCode::Char(c)), None);
            assert!(a.popup.is_none(), "{c} opened {:?}", a.popup);
            // Said, not ignored.
            assert_eq!(a.flash.as_ref().map(|f| (f.0.as_str(), f.1)), Some((READ_ONLY_KEY, FlashKind::Info)), "{c}");
        }
        // A key that only reads says nothing of the kind.
        a.flash = None;
        key(&mut a, KeyCode::Char('2'));
        assert_eq!(a.flash, None);
    }

    #[test]
    fn each_tab_keeps_its_own_filter_and_esc_clears_it() {
        let mut a =
            with_orders(app(false), vec![order(7, "INFY", OrderStatus::Open), order(8, "TCS", OrderStatus::Open)]);
        key(&mut a, KeyCode::Char('/'));
        assert_eq!(a.key_scope(), Scope::Filter);
        typed(&mut a, "tcs");
        key(&mut a, KeyCode::Enter);
        assert_eq!(a.tables[Tab::Orders].rows, vec![8]);
        assert_eq!(a.filter_note(Tab::Orders).as_deref(), Some("filter \"tcs\": 1 of 2"));
        key(&mut a, KeyCode::Char('2'));
        assert_eq!((a.tab, a.tables[Tab::Positions].filter.as_str()), (Tab::Positions, ""));
        key(&mut a, KeyCode::Char('1'));
        assert_eq!(a.tables[Tab::Orders].filter, "tcs", "the orders tab kept its filter");
        key(&mut a, KeyCode::Esc);
        assert_eq!(a.tables[Tab::Orders].rows, vec![8, 7]);
    }

    #[test]
    fn the_kill_switch_needs_its_word() {
        let mut a = app(false);
        key(&mut a, KeyCode::Char('K'));
        assert_eq!(a.key_scope(), Scope::TextEntry);
        typed(&mut a, "kil");
        assert_eq!(key(&mut a, KeyCode::Enter), None, "KIL is not the word");
        assert!(matches!(&a.popup, Some(Popup::KillSwitch { input }) if input == "KIL"));
        typed(&mut a, "l");
        let Some(Effect::Send(OperatorCommand::KillSwitchOn { reason }, what)) = key(&mut a, KeyCode::Enter) else {
            panic!("the kill switch is sent")
        };
        assert_eq!((reason.as_str(), what.as_str()), ("kill switch from the console by asha", "kill switch"));
    }

    #[test]
    fn the_order_form_keeps_a_verdict_that_follows_the_keys() {
        let mut a = app(false);
        key(&mut a, KeyCode::Char('n'));
        let verdict = |a: &App| match &a.popup {
            Some(Popup::NewOrder(f)) => f.verdict.clone(),
            other => panic!("{other:?}"),
        };
        assert!(verdict(&a).starts_with("✗ "), "an empty form is refused: {}", verdict(&a));
        // K types into the symbol; it is not the kill switch here.
        typed(&mut a, "INFY");
        assert!(matches!(&a.popup, Some(Popup::NewOrder(f)) if f.values[0] == "INFY"));
        key(&mut a, KeyCode::Down);
        key(&mut a, KeyCode::Down);
        typed(&mut a, "1000000");
        assert!(verdict(&a).contains("needs a limit price"), "{}", verdict(&a));
        for _ in 0..3 {
            key(&mut a, KeyCode::Down);
        }
        typed(&mut a, "1500");
        assert!(verdict(&a).starts_with("✗ max position size"), "{}", verdict(&a));
        let Some(Popup::NewOrder(f)) = &a.popup else { panic!() };
        let last = a.last_price_of("INFY").expect("INFY has a reference price");
        // MIS at 5×: a fifth of the value; no funds reported yet, so no "free".
        assert_eq!(f.context, format!("last {last:.2} · order value ₹1,50,00,00,000.00 · margin ₹30,00,00,000.00"));
    }

    #[test]
    fn a_command_sent_then_quit_waits_for_its_result() {
        let mut a = app(false);
        let quit = a.answer(Answer::Sent { what: "exit all, then quit".into(), then_quit: true, result: Ok(41) });
        assert!(!quit, "not before the command is done");
        assert_eq!(a.quit_after, Some(41));
        assert!(a.pending.contains(&41));
    }

    proptest::proptest! {
        /// Moving only the changed rows gives exactly the tables a rebuild
        /// gives, whatever the changes, with or without a filter.
        #[test]
        fn changed_rows_move_to_where_a_rebuild_puts_them(
            changes in proptest::collection::vec((1i64..40, 0u8..4), 1..60),
            filtered in proptest::bool::ANY,
        ) {
            let mut a = app(false);
            if filtered {
                a.tables[Tab::Orders].filter = "infy".into();
            }
            let statuses = [OrderStatus::Open, OrderStatus::Filled, OrderStatus::Cancelled, OrderStatus::PartiallyFilled];
            for (id, s) in changes {
                let symbol = if id % 3 == 0 { "INFY" } else { "TCS" };
                a.apply(Update { orders: vec![order(id, symbol, statuses[usize::from(s)])], ..Default::default() });
                if id % 5 == 0 {
                    a.apply(Update { deleted_orders: vec![id + 1], ..Default::default() });
                }
                a.refresh_views();
                let (moved, active) = (a.tables[Tab::Orders].rows.clone(), a.orders_active);
                a.store.pending.snapshot = true;
                a.refresh_views();
                proptest::prop_assert_eq!(&moved, &a.tables[Tab::Orders].rows);
                proptest::prop_assert_eq!(active, a.orders_active);
            }
        }
    }
}
