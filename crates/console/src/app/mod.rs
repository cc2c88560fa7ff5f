//! The console's state and how keys change it. Pure: keys in, state and
//! effects out; the runtime (`console::run`) performs the effects.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::action::Scope;
use super::form::{LevelsForm, ModifyForm, OrderForm};
use super::store::{Answer, DeskStatus, Health, OrderVersion, Store, Update};
pub use super::tab::Tab;
use super::tables::Tables;
use xcoin_db::commands::CommandRecord;
use xcoin_model::calendar::MarketCalendar;
use xcoin_model::command::{CommandStatus, OperatorCommand};
use xcoin_model::order::{Side, StatusChange};
use xcoin_model::reconciliation::Resolution;
use xcoin_model::risk::RiskLimits;
use xcoin_model::strategy::TradingMode;

mod keys;
mod review;
mod rows;

pub use review::{LOG_STEP, describe_order, describe_position, describe_request};
use review::{issue_text, matching, opt_price, passes};

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
}

#[cfg(test)]
mod tests;
