//! Every key the console understands, as data: one table maps keys to
//! actions, and the hint bar and the help screen are generated from it, so
//! what the screen says and what the keys do cannot drift apart.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What an operator can ask the console to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Help,
    NextTab,
    PrevTab,
    Tab(usize),
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
    ToggleResolved,
    NewOrder,
    ModifyOrder,
    CancelOrder,
    ExitPosition,
    ExitAll,
    KillSwitch,
    Rearm,
    AcceptBroker,
    KeepLocal,
    Ignore,
    Strategies,
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    Orders,
    Positions,
    Reconciliation,
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
    hinted(key(Char('1'), "1-5", Tab(0), Scope::Global, "orders, positions, trades, reconciliation, stats")),
    key(Char('2'), "2", Tab(1), Scope::Global, "positions"),
    key(Char('3'), "3", Tab(2), Scope::Global, "trades"),
    key(Char('4'), "4", Tab(3), Scope::Global, "reconciliation"),
    key(Char('5'), "5", Tab(4), Scope::Global, "stats"),
    key(KeyCode::Up, "↑", Up, Scope::Global, "select the row above"),
    key(Char('k'), "k", Up, Scope::Global, "select the row above (on Reconciliation: keep local; use ↑)"),
    key(KeyCode::Down, "↓", Down, Scope::Global, "select the row below"),
    key(Char('j'), "j", Down, Scope::Global, "select the row below"),
    key(KeyCode::PageUp, "PgUp", PageUp, Scope::Global, "a page up"),
    key(KeyCode::PageDown, "PgDn", PageDown, Scope::Global, "a page down"),
    key(KeyCode::Home, "Home", Top, Scope::Global, "first row"),
    key(KeyCode::End, "End", Bottom, Scope::Global, "last row"),
    hinted(key(KeyCode::Enter, "Enter", Detail, Scope::Global, "details of the selected row")),
    key(KeyCode::Esc, "Esc", Back, Scope::Global, "back out: close, clear the filter"),
    hinted(key(Char('/'), "/", Filter, Scope::Global, "filter the table")),
    hinted(key(Char('l'), "l", ToggleLog, Scope::Global, "show or hide the log")),
    key(Char('['), "[", LogUp, Scope::Global, "scroll the log back"),
    key(Char(']'), "]", LogDown, Scope::Global, "scroll the log forward"),
    hinted(dangerous(key(Char('n'), "n", NewOrder, Scope::Global, "new order (Manual Trading)"))),
    hinted(dangerous(key(
        Char('m'),
        "m",
        ModifyOrder,
        Scope::Orders,
        "modify the selected order's quantity, price or trigger",
    ))),
    hinted(dangerous(key(Char('c'), "c", CancelOrder, Scope::Orders, "cancel the selected order"))),
    hinted(dangerous(key(Char('x'), "x", ExitPosition, Scope::Positions, "exit the selected position at market"))),
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
];

/// The bindings a console has: a read-only one lacks the dangerous ones.
pub fn bindings(read_only: bool) -> impl Iterator<Item = &'static Binding> {
    KEYMAP.iter().filter(move |b| !(read_only && b.dangerous))
}

/// The action of a key in a scope: a scope's own binding wins over a global one.
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
    let mut candidates = bindings(read_only).filter(matches);
    let first_scoped = bindings(read_only).filter(matches).find(|b| b.scope == scope && scope != Scope::Global);
    first_scoped.or_else(|| candidates.find(|b| b.scope == Scope::Global)).map(|b| b.action)
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

/// The hint bar's hints in a scope, in keymap order.
pub fn hints(scope: Scope, read_only: bool) -> Vec<Hint> {
    bindings(read_only)
        .filter(|b| b.hint && (b.scope == Scope::Global || b.scope == scope))
        .map(|b| Hint {
            key: b.label,
            what: short(b.action),
            keep: match b.action {
                KillSwitch => 4,
                _ if b.dangerous => 3,
                Help | Quit => 2,
                _ => 1,
            },
        })
        .collect()
}

fn short(a: Action) -> &'static str {
    match a {
        Quit => "quit",
        Help => "help",
        Tab(_) => "tabs",
        Detail => "detail",
        Filter => "filter",
        ToggleLog => "log",
        NewOrder => "new order",
        ModifyOrder => "modify",
        CancelOrder => "cancel",
        ExitPosition => "exit",
        ExitAll => "exit all",
        AcceptBroker => "accept broker",
        KeepLocal => "keep local",
        Ignore => "ignore",
        ToggleResolved => "resolved",
        KillSwitch => "KILL",
        Rearm => "re-arm",
        Strategies => "strategies",
        _ => "",
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
        assert_eq!(action_for(&ev(Char('3')), Scope::Orders, true), Some(Tab(2)));
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
}
