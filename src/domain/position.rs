//! Position arithmetic: how a fill changes quantity, average price and
//! realised P&L (average-cost method, as Zerodha reports intraday positions),
//! and what an open position is worth at a price.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::enums::string_enum;
use super::order::{Exchange, Product, Side};

string_enum!(
    /// OPEN while the quantity is non-zero.
    PositionStatus, "status" { Open => "OPEN", Closed => "CLOSED" }
);

/// A position as stored. Positions net across strategies per (symbol,
/// exchange, product), as the broker nets them; `strategy_id` is the strategy
/// whose fill opened it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub id: i64,
    pub strategy_id: i64,
    pub symbol: String,
    pub exchange: Exchange,
    pub product: Product,
    pub book: PositionBook,
    pub last_price: Option<Decimal>,
    pub unrealized_pnl: Decimal,
    pub charges: Decimal,
    pub stop_loss: Option<Decimal>,
    pub take_profit: Option<Decimal>,
    pub highest_price: Option<Decimal>,
    pub lowest_price: Option<Decimal>,
    pub status: PositionStatus,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl Position {
    pub fn quantity(&self) -> i64 {
        self.book.quantity
    }
    pub fn average_price(&self) -> Decimal {
        self.book.average_price
    }
    pub fn realized_pnl(&self) -> Decimal {
        self.book.realized_pnl
    }
    /// Realised plus unrealised, before charges.
    pub fn total_pnl(&self) -> Decimal {
        self.book.realized_pnl + self.unrealized_pnl
    }
}

/// Average prices keep ten decimals: enough that realised P&L agrees with the
/// cash flows to far below a paisa over any day's fills, and few enough that
/// every value fits `rust_decimal` and the database column exactly.
pub const AVERAGE_PRICE_SCALE: u32 = 10;

/// The numbers of a position that fills change. `quantity` is signed: long > 0,
/// short < 0, flat = 0 (then `average_price` is 0).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PositionBook {
    pub quantity: i64,
    pub average_price: Decimal,
    pub realized_pnl: Decimal,
    pub buy_quantity: i64,
    pub sell_quantity: i64,
    pub buy_value: Decimal,
    pub sell_value: Decimal,
}

/// What one fill did to a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillEffect {
    /// P&L realised by the part of the fill that reduced the position (before charges).
    pub realized_pnl: Decimal,
    /// Units of the existing position the fill closed.
    pub closed_quantity: i64,
    /// Units the fill opened or added (after a flip, the new side's quantity).
    pub opened_quantity: i64,
}

impl PositionBook {
    /// Applies a fill of `quantity` (> 0) units at `price`.
    ///
    /// Adding to a position (or opening one) moves the average price to the
    /// quantity-weighted mean. Reducing realises (price − average) × closed
    /// units on a long, the negative of that on a short, and keeps the average.
    /// A fill larger than the position closes it and opens the rest on the other
    /// side at the fill price ("flip through zero").
    pub fn apply_fill(&mut self, side: Side, quantity: i64, price: Decimal) -> FillEffect {
        assert!(quantity > 0, "a fill has a positive quantity");
        let value = price * Decimal::from(quantity);
        match side {
            Side::Buy => {
                self.buy_quantity += quantity;
                self.buy_value += value;
            }
            Side::Sell => {
                self.sell_quantity += quantity;
                self.sell_value += value;
            }
        }

        let signed = side.sign() * quantity;
        let same_direction = self.quantity == 0 || self.quantity.signum() == signed.signum();
        if same_direction {
            let held = Decimal::from(self.quantity.abs());
            let added = Decimal::from(quantity);
            self.average_price =
                ((self.average_price * held + price * added) / (held + added)).round_dp(AVERAGE_PRICE_SCALE);
            self.quantity += signed;
            return FillEffect { realized_pnl: Decimal::ZERO, closed_quantity: 0, opened_quantity: quantity };
        }

        let closed = quantity.min(self.quantity.abs());
        let direction = Decimal::from(self.quantity.signum());
        let realized = (price - self.average_price) * Decimal::from(closed) * direction;
        self.realized_pnl += realized;
        self.quantity += signed;
        let opened = quantity - closed;
        if self.quantity == 0 {
            self.average_price = Decimal::ZERO;
        } else if opened > 0 {
            self.average_price = price;
        }
        FillEffect { realized_pnl: realized, closed_quantity: closed, opened_quantity: opened }
    }

    /// Unrealised P&L of the open quantity at `price`.
    pub fn unrealized_at(&self, price: Decimal) -> Decimal {
        (price - self.average_price) * Decimal::from(self.quantity)
    }

    pub fn is_flat(&self) -> bool {
        self.quantity == 0
    }
}

/// The highest and lowest prices seen since a position opened, moved by a new price.
pub fn extend_range(high: Option<Decimal>, low: Option<Decimal>, price: Decimal) -> (Decimal, Decimal) {
    (high.map_or(price, |h| h.max(price)), low.map_or(price, |l| l.min(price)))
}

/// How far the last price is from the stop, in the position's favour: positive
/// while the stop is not hit, for longs and shorts alike.
pub fn distance_to_stop(quantity: i64, last_price: Decimal, stop_loss: Decimal) -> Decimal {
    if quantity >= 0 { last_price - stop_loss } else { stop_loss - last_price }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn long_add_reduce_and_flip() {
        let mut p = PositionBook::default();
        p.apply_fill(Side::Buy, 10, dec!(100.00));
        p.apply_fill(Side::Buy, 30, dec!(104.00));
        assert_eq!((p.quantity, p.average_price), (40, dec!(103.00)));

        let e = p.apply_fill(Side::Sell, 15, dec!(105.50));
        assert_eq!(e, FillEffect { realized_pnl: dec!(37.50), closed_quantity: 15, opened_quantity: 0 });
        assert_eq!((p.quantity, p.average_price), (25, dec!(103.00)));
        assert_eq!(p.unrealized_at(dec!(102.00)), dec!(-25.00));

        // Sell 40 against 25 long: closes 25 (realising 25 × −1.00), opens 15 short at 102.
        let e = p.apply_fill(Side::Sell, 40, dec!(102.00));
        assert_eq!(e, FillEffect { realized_pnl: dec!(-25.00), closed_quantity: 25, opened_quantity: 15 });
        assert_eq!((p.quantity, p.average_price, p.realized_pnl), (-15, dec!(102.00), dec!(12.50)));
        assert_eq!(p.unrealized_at(dec!(101.00)), dec!(15.00));

        let e = p.apply_fill(Side::Buy, 15, dec!(101.10));
        assert_eq!(e.realized_pnl, dec!(13.50));
        assert!(p.is_flat());
        assert_eq!((p.average_price, p.realized_pnl), (Decimal::ZERO, dec!(26.00)));
        assert_eq!((p.buy_quantity, p.sell_quantity), (55, 55));
        assert_eq!((p.buy_value, p.sell_value), (dec!(5636.50), dec!(5662.50)));
    }

    #[test]
    fn average_price_keeps_ten_decimals() {
        let mut p = PositionBook::default();
        p.apply_fill(Side::Buy, 1, dec!(100.00));
        p.apply_fill(Side::Buy, 2, dec!(100.05));
        assert_eq!(p.average_price, dec!(100.0333333333));
    }

    #[test]
    fn stop_distance_and_range() {
        assert_eq!(distance_to_stop(10, dec!(101), dec!(99.5)), dec!(1.5));
        assert_eq!(distance_to_stop(-10, dec!(101), dec!(102)), dec!(1));
        assert_eq!(extend_range(None, None, dec!(5)), (dec!(5), dec!(5)));
        assert_eq!(extend_range(Some(dec!(6)), Some(dec!(5)), dec!(4)), (dec!(6), dec!(4)));
    }

    fn fills() -> impl Strategy<Value = Vec<(Side, i64, Decimal)>> {
        prop::collection::vec(
            (any::<bool>(), 1i64..=500, 1i64..=60_000).prop_map(|(buy, qty, ticks)| {
                let side = if buy { Side::Buy } else { Side::Sell };
                (side, qty, Decimal::from(ticks) * dec!(0.05))
            }),
            1..60,
        )
    }

    proptest! {
        // Recomputed from scratch with the cash-flow identity of average-cost
        // accounting: realised P&L = sells − buys + quantity × average price, to a
        // tenth of a paisa (the average price is rounded to ten decimals per fill).
        #[test]
        fn any_fill_sequence_matches_a_recomputation(seq in fills()) {
            let mut p = PositionBook::default();
            let mut realized_sum = Decimal::ZERO;
            for &(side, qty, price) in &seq {
                realized_sum += p.apply_fill(side, qty, price).realized_pnl;
            }
            let net_qty: i64 = seq.iter().map(|&(s, q, _)| s.sign() * q).sum();
            let buys: Decimal = seq.iter().filter(|f| f.0 == Side::Buy).map(|&(_, q, px)| px * Decimal::from(q)).sum();
            let sells: Decimal = seq.iter().filter(|f| f.0 == Side::Sell).map(|&(_, q, px)| px * Decimal::from(q)).sum();
            prop_assert_eq!(p.quantity, net_qty);
            prop_assert_eq!(p.realized_pnl, realized_sum);
            prop_assert_eq!((p.buy_value, p.sell_value), (buys, sells));
            let recomputed = sells - buys + Decimal::from(p.quantity) * p.average_price;
            prop_assert!((p.realized_pnl - recomputed).abs() < dec!(0.001),
                "realised {} vs recomputed {}", p.realized_pnl, recomputed);
            prop_assert_eq!(p.average_price.is_zero(), p.quantity == 0);
        }
    }
}
