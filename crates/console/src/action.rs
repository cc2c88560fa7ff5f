//! Every key the console understands, as data: one table maps keys to
//! actions in scopes (the tables, and every dialog, form, text field and the
//! first-launch wizard), and the hint bar, each dialog's key line and the
//! help screen are generated from it, so what the screen says and what the
//! keys do cannot drift apart. Only typing is not listed key by key: in a
//! scope with a text field, a printable character no binding claims is
//! [`Action::Type`].

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What an operator can ask the console to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Help,
    NextTab,
    PrevTab,
    Tab(super::tab::Tab),
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Detail,
    Back,
    Filter,
    ToggleLog,
    LogUp,
    LogDown,
    /// Switch the log pane between the desk log and this process's diagnostics.
    LogSource,
    ToggleResolved,
    NewOrder,
    /// The new-order form, prefilled from the selected row, to buy or sell.
    Buy,
    Sell,
    /// On a position: as much again on its side, or twice its size the other way.
    AddToPosition,
    ReversePosition,
    ModifyOrder,
    CancelOrder,
    ExitPosition,
    /// Set or move the selected position's stop loss and target.
    SetLevels,
    ExitAll,
    KillSwitch,
    Rearm,
    AcceptBroker,
    KeepLocal,
    Ignore,
    Strategies,
    // In dialogs, forms, text fields and the wizard:
    /// Enter: review a form, confirm a dialog, apply a filter, go on.
    Confirm,
    /// Switch between a dialog's Cancel and its action.
    SwitchButton,
    NextField,
    PrevField,
    /// The next or previous value of a choice field (side, type, mode…).
    ChoiceNext,
    ChoicePrev,
    /// Tab on the symbol: complete it; elsewhere, the next field.
    Complete,
    /// Delete the last character of the field.
    Erase,
    /// Pause or resume the selected strategy.
    TogglePause,
    /// A printable character typed into a text field (never in the keymap).
    Type(char),
}

/// Where a binding applies. The table scopes (`Global` and one per tab with
/// keys of its own) share the global bindings; every other scope is a
/// dialog, form or field that has the keyboard to itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    Orders,
    Positions,
    Reconciliation,
    /// Typing a table filter.
    Filter,
    /// The new-order form.
    OrderForm,
    /// The modify form.
    ModifyForm,
    /// A confirmation dialog.
    Confirm,
    /// A line of text to type: the kill switch's word, a resolution note.
    TextEntry,
    /// A row's detail.
    Detail,
    Help,
    Strategies,
    /// The first-launch wizard.
    Wizard,
}

impl Scope {
    /// A dialog, form or field: only its own bindings apply.
    pub fn is_overlay(self) -> bool {
        !matches!(self, Scope::Global | Scope::Orders | Scope::Positions | Scope::Reconciliation)
    }

    /// Printable characters no binding claims are typed.
    pub fn takes_text(self) -> bool {
        matches!(
            self,
            Scope::Filter | Scope::OrderForm | Scope::ModifyForm | Scope::Confirm | Scope::TextEntry | Scope::Wizard
        )
    }

    /// How the help names the scope of a binding.
    pub fn tag(self) -> &'static str {
        match self {
            Scope::Global => "",
            Scope::Orders => " [orders]",
            Scope::Positions => " [positions]",
            Scope::Reconciliation => " [reconciliation]",
            Scope::Filter => " [filter]",
            Scope::OrderForm => " [new order]",
            Scope::ModifyForm => " [modify]",
            Scope::Confirm => " [confirm]",
            Scope::TextEntry => " [text]",
            Scope::Detail => " [detail]",
            Scope::Help => " [help]",
            Scope::Strategies => " [strategies]",
            Scope::Wizard => " [setup wizard]",
        }
    }
}

/// One row of the keymap.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub key: KeyCode,
    pub modifiers: KeyModifiers,
    /// How the key is written in hints and help.
    pub label: &'static str,
    pub action: Action,
    pub scope: Scope,
    pub help: &'static str,
    /// Writes (through an operator command): absent from a read-only console.
    pub dangerous: bool,
    /// Shown in the hint bar (the rest only in help).
    pub hint: bool,
}

const fn key(key: KeyCode, label: &'static str, action: Action, scope: Scope, help: &'static str) -> Binding {
    Binding { key, modifiers: KeyModifiers::NONE, label, action, scope, help, dangerous: false, hint: false }
}

const fn hinted(b: Binding) -> Binding {
    Binding { hint: true, ..b }
}

const fn dangerous(b: Binding) -> Binding {
    Binding { dangerous: true, ..b }
}

use super::tab::Tab as T;
use Action::*;
use KeyCode::Char;

/// The keymap. The first binding of an action is the one hints show.
pub const KEYMAP: &[Binding] = &[
    hinted(key(Char('?'), "?", Help, Scope::Global, "help: every key")),
    hinted(key(Char('q'), "q", Quit, Scope::Global, "quit (asks first while the engine runs here)")),
    Binding {
        modifiers: KeyModifiers::CONTROL,
        ..key(Char('c'), "C-c", Quit, Scope::Global, "quit, as q (never cancels an order)")
    },
    key(KeyCode::Tab, "Tab", NextTab, Scope::Global, "next tab"),
    key(KeyCode::BackTab, "S-Tab", PrevTab, Scope::Global, "previous tab"),
    hinted(key(Char('1'), "1-5", Tab(T::Orders), Scope::Global, "orders, positions, trades, reconciliation, stats")),
    key(Char('2'), "2", Tab(T::Positions), Scope::Global, "positions"),
    key(Char('3'), "3", Tab(T::Trades), Scope::Global, "trades"),
    key(Char('4'), "4", Tab(T::Reconciliation), Scope::Global, "reconciliation"),
    key(Char('5'), "5", Tab(T::Stats), Scope::Global, "stats"),
    key(KeyCode::Up, "↑", Up, Scope::Global, "select the row above"),
    key(Char('k'), "k", Up, Scope::Global, "select the row above (on Reconciliation: keep local; use ↑)"),
    key(KeyCode::Down, "↓", Down, Scope::Global, "select the row below"),
    key(Char('j'), "j", Down, Scope::Global, "select the row below"),
    key(KeyCode::PageUp, "PgUp", PageUp, Scope::Global, "a page up"),
    key(KeyCode::PageDown, "PgDn", PageDown, Scope::Global, "a page down"),
    key(KeyCode::Home, "Home", Top, Scope::Global, "first row"),
    key(KeyCode::End, "End", Bottom, Scope::Global, "the last row; with the desk log scrolled back, follow it again"),
    hinted(key(KeyCode::Enter, "Enter", Detail, Scope::Global, "details of the selected row")),
    key(KeyCode::Esc, "Esc", Back, Scope::Global, "back out: close, clear the filter"),
    hinted(key(Char('/'), "/", Filter, Scope::Global, "filter the table")),
    hinted(key(Char('l'), "l", ToggleLog, Scope::Global, "show or hide the log")),
    key(Char('['), "[", LogUp, Scope::Global, "scroll the log back"),
    key(Char(']'), "]", LogDown, Scope::Global, "scroll the log forward (to the newest: follow it again)"),
    Binding {
        modifiers: KeyModifiers::SHIFT,
        ..key(Char('L'), "L", LogSource, Scope::Global, "the log pane: the desk log or this console's diagnostics")
    },
    hinted(dangerous(key(Char('n'), "n", NewOrder, Scope::Global, "new order (Manual Trading)"))),
    hinted(dangerous(key(
        Char('b'),
        "b",
        Buy,
        Scope::Global,
        "buy from the selected row: the form prefilled, stop and target too",
    ))),
    hinted(dangerous(key(Char('s'), "s", Sell, Scope::Global, "sell from the selected row: the form prefilled"))),
    hinted(dangerous(key(
        Char('m'),
        "m",
        ModifyOrder,
        Scope::Orders,
        "modify the selected order's quantity, price or trigger",
    ))),
    hinted(dangerous(key(Char('c'), "c", CancelOrder, Scope::Orders, "cancel the selected order"))),
    hinted(dangerous(key(Char('x'), "x", ExitPosition, Scope::Positions, "exit the selected position at market"))),
    hinted(dangerous(key(
        Char('t'),
        "t",
        SetLevels,
        Scope::Positions,
        "set or move the selected position's stop loss and target",
    ))),
    dangerous(key(Char('a'), "a", AddToPosition, Scope::Positions, "add to the selected position: as much again")),
    dangerous(key(
        Char('r'),
        "r",
        ReversePosition,
        Scope::Positions,
        "reverse the selected position: twice its size the other way",
    )),
    hinted(dangerous(Binding {
        modifiers: KeyModifiers::SHIFT,
        ..key(Char('X'), "X", ExitAll, Scope::Positions, "exit every position at market")
    })),
    hinted(dangerous(key(Char('a'), "a", AcceptBroker, Scope::Reconciliation, "accept the broker's position"))),
    hinted(dangerous(key(Char('k'), "k", KeepLocal, Scope::Reconciliation, "keep the local position"))),
    hinted(dangerous(key(Char('i'), "i", Ignore, Scope::Reconciliation, "ignore the issue"))),
    hinted(key(Char('r'), "r", ToggleResolved, Scope::Reconciliation, "show or hide resolved issues")),
    Binding {
        modifiers: KeyModifiers::SHIFT,
        ..key(Char('S'), "S", Strategies, Scope::Global, "strategies: state; p pauses or resumes the selected one")
    },
    hinted(dangerous(Binding {
        modifiers: KeyModifiers::SHIFT,
        ..key(Char('K'), "K", KillSwitch, Scope::Global, "KILL SWITCH: cancel all, exit all, block orders")
    })),
    hinted(dangerous(Binding {
        modifiers: KeyModifiers::SHIFT,
        ..key(Char('R'), "R", Rearm, Scope::Global, "re-arm after the kill switch")
    })),
    // Typing a filter.
    hinted(key(KeyCode::Enter, "Enter", Confirm, Scope::Filter, "keep the filter")),
    hinted(key(KeyCode::Esc, "Esc", Back, Scope::Filter, "clear the filter")),
    key(KeyCode::Backspace, "BkSp", Erase, Scope::Filter, "delete a character"),
    // The new-order form.
    hinted(key(KeyCode::Up, "↑/↓", PrevField, Scope::OrderForm, "previous field")),
    key(KeyCode::Down, "↓", NextField, Scope::OrderForm, "next field"),
    key(KeyCode::BackTab, "S-Tab", PrevField, Scope::OrderForm, "previous field"),
    hinted(key(KeyCode::Left, "←/→", ChoicePrev, Scope::OrderForm, "previous side, type or product")),
    key(KeyCode::Right, "→", ChoiceNext, Scope::OrderForm, "next side, type or product"),
    key(Char(' '), "Space", ChoiceNext, Scope::OrderForm, "next side, type or product"),
    hinted(key(KeyCode::Tab, "Tab", Complete, Scope::OrderForm, "complete the symbol, else the next field")),
    key(KeyCode::Backspace, "BkSp", Erase, Scope::OrderForm, "delete a character"),
    hinted(key(KeyCode::Enter, "Enter", Confirm, Scope::OrderForm, "review the order")),
    hinted(key(KeyCode::Esc, "Esc", Back, Scope::OrderForm, "cancel")),
    // The modify form.
    hinted(key(KeyCode::Up, "↑/↓", PrevField, Scope::ModifyForm, "previous field")),
    key(KeyCode::Down, "↓", NextField, Scope::ModifyForm, "next field"),
    key(KeyCode::Tab, "Tab", NextField, Scope::ModifyForm, "next field"),
    key(KeyCode::BackTab, "S-Tab", PrevField, Scope::ModifyForm, "previous field"),
    key(KeyCode::Backspace, "BkSp", Erase, Scope::ModifyForm, "delete a character"),
    hinted(key(KeyCode::Enter, "Enter", Confirm, Scope::ModifyForm, "review the change")),
    hinted(key(KeyCode::Esc, "Esc", Back, Scope::ModifyForm, "cancel")),
    // A confirmation dialog (its alternative, when it has one, is a letter it names).
    hinted(key(KeyCode::Left, "←/→", SwitchButton, Scope::Confirm, "switch between Cancel and the action")),
    key(KeyCode::Right, "→", SwitchButton, Scope::Confirm, "switch between Cancel and the action"),
    key(KeyCode::Tab, "Tab", SwitchButton, Scope::Confirm, "switch between Cancel and the action"),
    key(KeyCode::BackTab, "S-Tab", SwitchButton, Scope::Confirm, "switch between Cancel and the action"),
    hinted(key(KeyCode::Enter, "Enter", Confirm, Scope::Confirm, "press the chosen button")),
    hinted(key(KeyCode::Esc, "Esc", Back, Scope::Confirm, "cancel")),
    // A line of text.
    hinted(key(KeyCode::Enter, "Enter", Confirm, Scope::TextEntry, "done")),
    hinted(key(KeyCode::Esc, "Esc", Back, Scope::TextEntry, "cancel")),
    key(KeyCode::Backspace, "BkSp", Erase, Scope::TextEntry, "delete a character"),
    // A row's detail.
    hinted(key(KeyCode::Esc, "Esc", Back, Scope::Detail, "close")),
    key(KeyCode::Enter, "Enter", Back, Scope::Detail, "close"),
    key(Char('q'), "q", Back, Scope::Detail, "close"),
    key(Char('?'), "?", Back, Scope::Detail, "close"),
    // The help.
    hinted(key(KeyCode::Up, "↑/↓", Up, Scope::Help, "scroll up")),
    key(Char('k'), "k", Up, Scope::Help, "scroll up"),
    key(KeyCode::Down, "↓", Down, Scope::Help, "scroll down"),
    key(Char('j'), "j", Down, Scope::Help, "scroll down"),
    key(KeyCode::PageUp, "PgUp", PageUp, Scope::Help, "a page up"),
    key(KeyCode::PageDown, "PgDn", PageDown, Scope::Help, "a page down"),
    key(Char(' '), "Space", PageDown, Scope::Help, "a page down"),
    key(KeyCode::Home, "Home", Top, Scope::Help, "the top"),
    key(KeyCode::End, "End", Bottom, Scope::Help, "the end"),
    hinted(key(KeyCode::Esc, "Esc", Back, Scope::Help, "close")),
    key(KeyCode::Enter, "Enter", Back, Scope::Help, "close"),
    key(Char('q'), "q", Back, Scope::Help, "close"),
    key(Char('?'), "?", Back, Scope::Help, "close"),
    // The strategies.
    hinted(key(KeyCode::Up, "↑/↓", Up, Scope::Strategies, "select the strategy above")),
    key(Char('k'), "k", Up, Scope::Strategies, "select the strategy above"),
    key(KeyCode::Down, "↓", Down, Scope::Strategies, "select the strategy below"),
    key(Char('j'), "j", Down, Scope::Strategies, "select the strategy below"),
    hinted(dangerous(key(Char('p'), "p", TogglePause, Scope::Strategies, "pause or resume the selected strategy"))),
    hinted(key(KeyCode::Esc, "Esc", Back, Scope::Strategies, "close")),
    key(Char('q'), "q", Back, Scope::Strategies, "close"),
    Binding { modifiers: KeyModifiers::SHIFT, ..key(Char('S'), "S", Back, Scope::Strategies, "close") },
    // The first-launch wizard.
    hinted(key(KeyCode::Enter, "Enter", Confirm, Scope::Wizard, "next step")),
    hinted(key(KeyCode::Esc, "Esc", Back, Scope::Wizard, "previous step (on the first, asks to quit)")),
    hinted(key(KeyCode::Left, "←/→", ChoicePrev, Scope::Wizard, "choose")),
    key(KeyCode::Right, "→", ChoiceNext, Scope::Wizard, "choose"),
    key(Char(' '), "Space", ChoiceNext, Scope::Wizard, "choose (mode and demo steps)"),
    hinted(key(KeyCode::Up, "↑/↓", PrevField, Scope::Wizard, "previous field")),
    key(KeyCode::Down, "↓", NextField, Scope::Wizard, "next field"),
    key(KeyCode::Tab, "Tab", NextField, Scope::Wizard, "next field"),
    key(KeyCode::BackTab, "S-Tab", PrevField, Scope::Wizard, "previous field"),
    key(KeyCode::Backspace, "BkSp", Erase, Scope::Wizard, "delete a character"),
];

/// The bindings a console has: a read-only one lacks the dangerous ones.
pub fn bindings(read_only: bool) -> impl Iterator<Item = &'static Binding> {
    KEYMAP.iter().filter(move |b| !(read_only && b.dangerous))
}

/// The action of a key in a scope. In a table scope, the tab's own binding
/// wins over a global one; a dialog, form or field has only its own. Where
/// a scope takes text, a printable character no binding claims is typed.
pub fn action_for(event: &KeyEvent, scope: Scope, read_only: bool) -> Option<Action> {
    // Control chords match only bindings made for them: Ctrl-C is never `c`.
    let control = event.modifiers.contains(KeyModifiers::CONTROL);
    let matches = |b: &&Binding| {
        b.key == event.code
            && control == b.modifiers.contains(KeyModifiers::CONTROL)
            && (b.modifiers.is_empty()
                || event.modifiers.contains(b.modifiers)
                || matches!(b.key, Char(c) if c.is_ascii_uppercase()))
    };
    let own = bindings(read_only).filter(matches).find(|b| b.scope == scope);
    let bound = if scope.is_overlay() {
        own
    } else {
        own.or_else(|| bindings(read_only).filter(matches).find(|b| b.scope == Scope::Global))
    };
    match (bound, event.code) {
        (Some(b), _) => Some(b.action),
        (None, Char(c)) if scope.takes_text() && !control => Some(Type(c)),
        _ => None,
    }
}

/// Applies a text field's action to its text: delete, or type (at most `max`
/// characters, each passed through `map`).
pub fn edit(text: &mut String, action: Action, max: usize, map: impl Fn(char) -> char) {
    match action {
        Action::Erase => {
            text.pop();
        }
        Action::Type(c) if text.chars().count() < max => text.push(map(c)),
        _ => {}
    }
}

/// One hint of the hint bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    pub key: &'static str,
    pub what: &'static str,
    /// How firmly it keeps its place when the bar is short of room: the
    /// kill switch most, then every other dangerous key (an operator under
    /// pressure must see them), then help (which lists the rest) and quit.
    pub keep: u8,
}

/// The hints of a scope, in keymap order: for a table, its own and the
/// global ones; for a dialog, form or field, its own.
pub fn hints(scope: Scope, read_only: bool) -> Vec<Hint> {
    bindings(read_only)
        .filter(|b| b.hint && (b.scope == scope || (!scope.is_overlay() && b.scope == Scope::Global)))
        .map(|b| Hint {
            key: b.label,
            what: short(b.action, scope),
            keep: match b.action {
                KillSwitch => 4,
                // Shortcuts to the new-order form, which `n` already names.
                Buy | Sell => 1,
                _ if b.dangerous => 3,
                Help | Quit => 2,
                _ => 1,
            },
        })
        .collect()
}

/// A dialog's key line: `↑/↓ field  Enter review  Esc cancel`.
pub fn hint_line(scope: Scope, read_only: bool) -> String {
    hints(scope, read_only).iter().map(|h| format!("{} {}", h.key, h.what)).collect::<Vec<_>>().join("  ")
}

/// Every key of a scope on one line, the first binding of each thing it
/// does (`↑/↓ field` stands for ↓ and S-Tab too):
/// `↑/↓ field  ←/→ choose  Tab complete  BkSp delete  Enter review  Esc cancel`.
pub fn keys_line(scope: Scope, read_only: bool) -> String {
    let mut seen = Vec::new();
    bindings(read_only)
        .filter(|b| b.scope == scope)
        .filter(|b| {
            let what = short(b.action, scope);
            let first = !seen.contains(&what);
            seen.push(what);
            first
        })
        .map(|b| format!("{} {}", b.label, short(b.action, scope)))
        .collect::<Vec<_>>()
        .join("  ")
}

/// How a hint names an action in a scope: one or two words.
fn short(a: Action, scope: Scope) -> &'static str {
    match a {
        Confirm => match scope {
            Scope::OrderForm | Scope::ModifyForm => "review",
            Scope::Filter => "keep",
            Scope::TextEntry => "done",
            Scope::Wizard => "next",
            _ => "ok",
        },
        Back => match scope {
            Scope::Detail | Scope::Help | Scope::Strategies => "close",
            Scope::Wizard => "back",
            Scope::Filter => "clear",
            _ => "cancel",
        },
        Up | Down if scope == Scope::Help => "scroll",
        Quit => "quit",
        Help => "help",
        NextTab => "next tab",
        PrevTab => "previous tab",
        Tab(_) => "tabs",
        Up | Down => "select",
        PageUp | PageDown => "page",
        Top => "first",
        Bottom => "last",
        Detail => "detail",
        Filter => "filter",
        ToggleLog => "log",
        LogUp | LogDown => "scroll log",
        LogSource => "log source",
        ToggleResolved => "resolved",
        NewOrder => "new order",
        Buy => "buy",
        Sell => "sell",
        AddToPosition => "add",
        ReversePosition => "reverse",
        ModifyOrder => "modify",
        CancelOrder => "cancel",
        ExitPosition => "exit",
        SetLevels => "stop/target",
        ExitAll => "exit all",
        KillSwitch => "KILL",
        Rearm => "re-arm",
        AcceptBroker => "accept broker",
        KeepLocal => "keep local",
        Ignore => "ignore",
        Strategies => "strategies",
        SwitchButton | ChoiceNext | ChoicePrev => "choose",
        NextField | PrevField => "field",
        Complete => "complete",
        Erase => "delete",
        TogglePause => "pause/resume",
        Type(_) => "type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode) -> KeyEvent {
        KeyEvent::new(
            code,
            if matches!(code, Char(c) if c.is_ascii_uppercase()) { KeyModifiers::SHIFT } else { KeyModifiers::NONE },
        )
    }

    #[test]
    fn scoped_keys_win_and_read_only_drops_writes() {
        assert_eq!(action_for(&ev(Char('k')), Scope::Orders, false), Some(Up));
        assert_eq!(action_for(&ev(Char('k')), Scope::Reconciliation, false), Some(KeepLocal));
        assert_eq!(action_for(&ev(Char('c')), Scope::Orders, false), Some(CancelOrder));
        assert_eq!(action_for(&ev(Char('c')), Scope::Positions, false), None);
        assert_eq!(action_for(&ev(Char('K')), Scope::Positions, false), Some(KillSwitch));
        assert_eq!(action_for(&ev(Char('K')), Scope::Positions, true), None, "read-only has no kill switch key");
        assert_eq!(action_for(&ev(Char('c')), Scope::Orders, true), None);
        assert_eq!(action_for(&ev(Char('3')), Scope::Orders, true), Some(Tab(T::Trades)));
        let ctrl_c = KeyEvent::new(Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action_for(&ctrl_c, Scope::Orders, false), Some(Quit), "Ctrl-C never cancels an order");
        assert_eq!(action_for(&ev(Char('S')), Scope::Reconciliation, false), Some(Strategies));
    }

    #[test]
    fn hints_come_from_the_keymap() {
        let h: Vec<(&str, &str)> = hints(Scope::Orders, false).iter().map(|h| (h.key, h.what)).collect();
        assert!(h.contains(&("c", "cancel")) && h.contains(&("K", "KILL")) && !h.contains(&("x", "exit")));
        let ro = hints(Scope::Orders, true);
        assert!(!ro.iter().any(|h| h.key == "c" || h.key == "K"));
        let keep = |key: &str| hints(Scope::Orders, false).iter().find(|h| h.key == key).map(|h| h.keep);
        assert!(keep("K") > keep("c") && keep("c") > keep("?") && keep("?") > keep("l"), "dangerous keys stay longest");
        // Every action a binding names is reachable by its key.
        for b in KEYMAP {
            let scope = b.scope;
            let got = action_for(
                &KeyEvent::new(b.key, b.modifiers),
                if scope == Scope::Global { Scope::Orders } else { scope },
                false,
            );
            if b.scope != Scope::Global
                || !KEYMAP.iter().any(|o| o.key == b.key && o.scope != Scope::Global && o.scope == Scope::Orders)
            {
                assert_eq!(got, Some(b.action), "{}", b.label);
            }
        }
    }

    #[test]
    fn a_dialog_has_the_keyboard_to_itself_and_typing_is_typing() {
        // In a form, K is a letter of the symbol, not the kill switch.
        assert_eq!(action_for(&ev(Char('K')), Scope::OrderForm, false), Some(Type('K')));
        assert_eq!(action_for(&ev(Char('q')), Scope::TextEntry, false), Some(Type('q')));
        assert_eq!(action_for(&ev(Char('q')), Scope::Detail, false), Some(Back));
        assert_eq!(action_for(&ev(Char('x')), Scope::Detail, false), None, "a detail takes no text");
        assert_eq!(action_for(&ev(Char('p')), Scope::Strategies, true), None, "read-only cannot pause");
        assert_eq!(action_for(&ev(KeyCode::Tab), Scope::OrderForm, false), Some(Complete));
        assert_eq!(action_for(&ev(KeyCode::Tab), Scope::ModifyForm, false), Some(NextField));
        assert_eq!(action_for(&ev(KeyCode::Tab), Scope::Orders, false), Some(NextTab));
        let ctrl_k = KeyEvent::new(Char('k'), KeyModifiers::CONTROL);
        assert_eq!(action_for(&ctrl_k, Scope::TextEntry, false), None, "a control chord is not typed");
    }

    #[test]
    fn a_places_keys_fit_on_one_line_each_once() {
        assert_eq!(
            keys_line(Scope::OrderForm, false),
            "↑/↓ field  ←/→ choose  Tab complete  BkSp delete  Enter review  Esc cancel"
        );
        assert_eq!(keys_line(Scope::Positions, true), "", "read-only: no position keys");
        assert_eq!(keys_line(Scope::Orders, false), "m modify  c cancel");
    }

    #[test]
    fn every_dialog_line_comes_from_the_keymap() {
        assert_eq!(hint_line(Scope::OrderForm, false), "↑/↓ field  ←/→ choose  Tab complete  Enter review  Esc cancel");
        assert_eq!(hint_line(Scope::ModifyForm, false), "↑/↓ field  Enter review  Esc cancel");
        assert_eq!(hint_line(Scope::Strategies, false), "↑/↓ select  p pause/resume  Esc close");
        assert_eq!(hint_line(Scope::Strategies, true), "↑/↓ select  Esc close");
        assert_eq!(hint_line(Scope::Confirm, false), "←/→ choose  Enter ok  Esc cancel");
        assert_eq!(hint_line(Scope::Wizard, false), "Enter next  Esc back  ←/→ choose  ↑/↓ field");
        // Every scope that takes the keyboard says how to leave it.
        for scope in [
            Scope::Filter,
            Scope::OrderForm,
            Scope::ModifyForm,
            Scope::Confirm,
            Scope::TextEntry,
            Scope::Detail,
            Scope::Help,
            Scope::Strategies,
            Scope::Wizard,
        ] {
            assert!(hints(scope, true).iter().any(|h| h.key == "Esc"), "{scope:?}");
        }
    }
}
