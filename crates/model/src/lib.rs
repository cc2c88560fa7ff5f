//! The trading model: pure types and rules with no I/O. The bottom layer:
//! it uses no other XCoin crate, and every other crate may use it.
//!
//! Everything that decides a number — order lifecycle, position arithmetic,
//! charges, reconciliation, the IST calendar — lives here once, so the
//! database layer, the engine and the console all agree. This module must
//! compile without tokio or sqlx; its one meeting with sqlx, the row
//! decoding the database layer uses, is `rows`, behind the `sqlx` feature.

pub mod backoff;
pub mod calendar;
pub mod charges;
pub mod clock;
pub mod command;
pub mod enums;
pub mod event;
pub mod feed;
pub mod funds;
pub mod goals;
pub mod instrument;
pub mod money;
pub mod order;
pub mod position;
pub mod reconciliation;
pub mod risk;
#[cfg(feature = "sqlx")]
pub mod rows;
pub mod strategy;
pub mod trade;

pub use enums::ParseEnumError;
pub use money::to_paisa;

use rust_decimal::Decimal;

/// A count with its noun, singular or plural: `1 order`, `3 orders`.
pub fn count(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A ratio as a percentage with `places` decimals, rounded half away from
/// zero (never cut): 2 of 3 is `66.7%`.
pub fn percent(ratio: Decimal, places: u32) -> String {
    let p = (ratio * Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(places, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    format!("{p:.prec$}%", prec = places as usize)
}

/// How often: `once`, `twice`, `5 times`.
pub fn times(n: i64) -> String {
    match n {
        1 => "once".into(),
        2 => "twice".into(),
        n => format!("{n} times"),
    }
}

/// True when `price` is a whole multiple of `tick`.
pub fn is_on_tick(price: Decimal, tick: Decimal) -> bool {
    !tick.is_zero() && (price % tick).is_zero()
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;

    #[test]
    fn a_percentage_is_rounded_not_cut() {
        let third = Decimal::from(2) / Decimal::from(3);
        assert_eq!(super::percent(third, 1), "66.7%");
        assert_eq!(super::percent(third, 0), "67%");
        assert_eq!(super::percent(Decimal::ONE / Decimal::from(3), 1), "33.3%");
        assert_eq!(super::percent(dec!(0.5), 1), "50.0%");
        assert_eq!(super::percent(dec!(0.00049), 1), "0.0%");
        assert_eq!(super::percent(dec!(0.0005), 1), "0.1%");
    }

    /// The model is pure: no database (but the optional row decoding), no
    /// async runtime, no I/O.
    #[test]
    fn the_domain_uses_no_database_or_runtime() {
        let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        let mut files = Vec::new();
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() { dirs.push(path) } else { files.push(path) }
            }
        }
        assert!(files.len() > 20, "the model's files: {files:?}");
        for path in files {
            if path.ends_with("rows.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Paths are assembled so that this test does not find itself.
            for krate in ["sqlx", "tokio", "std::net", "std::process"] {
                let path_use = format!("{krate}::");
                let used = text.lines().any(|l| !l.trim_start().starts_with("//") && l.contains(&path_use));
                assert!(!used, "{} uses {krate}", path.display());
            }
        }
    }
}

#[cfg(test)]
mod words {
    #[test]
    fn counts_read_right() {
        assert_eq!(super::count(1, "open issue", "open issues"), "1 open issue");
        assert_eq!(super::count(0, "order", "orders"), "0 orders");
        assert_eq!([1, 2, 7].map(super::times), ["once", "twice", "7 times"]);
    }
}
