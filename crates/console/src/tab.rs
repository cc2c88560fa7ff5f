//! The console's tabs.

use super::action::Scope;

/// A tab of the console. The first four are tables of rows, each with its
/// own selection and filter; Stats is a dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Tab {
    #[default]
    Orders,
    Positions,
    Trades,
    Reconciliation,
    Stats,
}

impl Tab {
    pub const ALL: [Tab; 5] = [Tab::Orders, Tab::Positions, Tab::Trades, Tab::Reconciliation, Tab::Stats];
    /// The tabs that are tables of rows.
    pub const TABLES: [Tab; 4] = [Tab::Orders, Tab::Positions, Tab::Trades, Tab::Reconciliation];
    /// How many tabs are tables (the size of per-table state).
    pub const TABLE_COUNT: usize = 4;

    /// Its place, from 0: the key that selects it is one more.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn title(self) -> &'static str {
        ["Orders", "Positions", "Trades", "Reconciliation", "Stats"][self.index()]
    }

    /// The title where room is short.
    pub fn short_title(self) -> &'static str {
        ["Orders", "Pos", "Trades", "Recon", "Stats"][self.index()]
    }

    pub fn next(self) -> Tab {
        Tab::ALL[(self.index() + 1) % Tab::ALL.len()]
    }

    pub fn prev(self) -> Tab {
        Tab::ALL[(self.index() + Tab::ALL.len() - 1) % Tab::ALL.len()]
    }

    /// A table of rows (with a selection and a filter).
    pub fn is_table(self) -> bool {
        self != Tab::Stats
    }

    /// What a row of the tab is called in messages.
    pub fn row_noun(self) -> &'static str {
        ["order", "position", "trade", "issue", "row"][self.index()]
    }

    /// The keymap scope of the tab: its own keys and the global ones.
    pub fn scope(self) -> Scope {
        match self {
            Tab::Orders => Scope::Orders,
            Tab::Positions => Scope::Positions,
            Tab::Reconciliation => Scope::Reconciliation,
            Tab::Trades | Tab::Stats => Scope::Global,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabs_cycle_and_know_their_rows() {
        assert_eq!(Tab::Stats.next(), Tab::Orders);
        assert_eq!(Tab::Orders.prev(), Tab::Stats);
        assert_eq!(Tab::ALL.map(Tab::index), [0, 1, 2, 3, 4]);
        assert_eq!(Tab::TABLES.len(), Tab::TABLE_COUNT);
        assert!(Tab::TABLES.iter().all(|t| t.is_table()) && !Tab::Stats.is_table());
        assert_eq!((Tab::Reconciliation.row_noun(), Tab::Reconciliation.scope()), ("issue", Scope::Reconciliation));
    }
}
