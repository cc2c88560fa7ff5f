//! The console's tables: each tab's rows in display order, its selection
//! (kept by id) and its own filter.

use std::ops::{Index, IndexMut};

use super::tab::Tab;

/// One table of the console.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Row ids in display order.
    pub rows: Vec<i64>,
    /// The selected row's place, kept in step with `selected_id` whenever
    /// the rows change.
    pub selected: usize,
    /// The selected row by id: rows arriving, leaving or re-sorting never
    /// move the selection to another row.
    pub selected_id: Option<i64>,
    /// The table's own filter, kept while another tab is shown.
    pub filter: String,
    /// Rows before filtering, for `filter "…": N of M`.
    pub unfiltered: usize,
}

impl Table {
    /// The selected row's id.
    pub fn selected_row(&self) -> Option<i64> {
        self.rows.get(self.selected).copied()
    }

    /// Selects the row at `index` (clamped).
    pub fn select(&mut self, index: usize) {
        self.selected = index.min(self.rows.len().saturating_sub(1));
        self.selected_id = self.rows.get(self.selected).copied();
    }
}

/// Every tab's table, indexed by tab (the Stats tab's stays empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tables([Table; Tab::ALL.len()]);

impl Index<Tab> for Tables {
    type Output = Table;
    fn index(&self, tab: Tab) -> &Table {
        &self.0[tab.index()]
    }
}

impl IndexMut<Tab> for Tables {
    fn index_mut(&mut self, tab: Tab) -> &mut Table {
        &mut self.0[tab.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_is_clamped_and_names_its_row() {
        let mut t = Tables::default();
        t[Tab::Trades].rows = vec![9, 7, 4];
        t[Tab::Trades].select(5);
        assert_eq!((t[Tab::Trades].selected, t[Tab::Trades].selected_id), (2, Some(4)));
        assert_eq!(t[Tab::Trades].selected_row(), Some(4));
        assert_eq!(t[Tab::Orders].selected_row(), None);
    }
}
