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
    /// The side of the order that closes it: SELL for a long, BUY for a short.
    pub fn exit_side(&self) -> Side {
        if self.quantity() > 0 { Side::Sell } else { Side::Buy }
    }
    /// What its stop resting at the exchange should be: the closing side,
    /// the quantity to rest and the trigger. `None`: no stop should rest
    /// (flat, or no stop loss).
    pub fn resting_stop(&self) -> Option<(Side, i64, Decimal)> {
        let stop = self.stop_loss?;
        (self.quantity() != 0).then(|| (self.exit_side(), self.quantity().abs(), stop))
    }
    /// Realised plus unrealised, before charges.
    pub fn total_pnl(&self) -> Decimal {
        self.book.realized_pnl + self.unrealized_pnl
    }
    /// Marks it to `price`: the last price, the unrealised P&L of the open
    /// quantity at it, and the highest and lowest since open. The rule the
    /// database's mark (`xcoin_mark_positions`) applies to a row.
    pub fn mark(&mut self, price: Decimal) {
        self.last_price = Some(price);
        self.unrealized_pnl = self.book.unrealized_at(price);
        let (high, low) = extend_range(self.highest_price, self.lowest_price, price);
        self.highest_price = Some(high);
        self.lowest_price = Some(low);
    }
}

/// Average prices are shown with ten decimals. They are derived from the
/// exact cost basis ([`PositionBook::cost`]) and never feed back into it, so
/// the rounding of an average can never move realised P&L.
pub const AVERAGE_PRICE_SCALE: u32 = 10;

/// The numbers of a position that fills change. `quantity` is signed: long > 0,
/// short < 0, flat = 0 (then `average_price` and `cost` are 0).
///
/// The cost basis is kept exactly: `cost` is the signed cost of the open
/// quantity (what the open units were bought for on a long, negative what they
/// were sold for on a short). With it, realised P&L obeys the cash-flow
/// identity of average-cost accounting exactly, at every step:
/// `realized_pnl = sell_value − buy_value + cost`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PositionBook {
    pub quantity: i64,
    /// `|cost| / |quantity|` to [`AVERAGE_PRICE_SCALE`] decimals (0 when flat).
    pub average_price: Decimal,
    /// Signed cost of the open quantity, exact.
    pub cost: Decimal,
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

/// The average price of `quantity` units that cost `cost` (signs ignored).
pub fn average_of(cost: Decimal, quantity: i64) -> Decimal {
    if quantity == 0 {
        Decimal::ZERO
    } else {
        (cost.abs() / Decimal::from(quantity.abs())).round_dp(AVERAGE_PRICE_SCALE)
    }
}

impl PositionBook {
    /// A position held at an average price, with no history (e.g. a holding a
    /// broker reports).
    pub fn holding(quantity: i64, average_price: Decimal) -> PositionBook {
        let mut book = PositionBook::default();
        if quantity != 0 {
            let side = if quantity > 0 { Side::Buy } else { Side::Sell };
            book.apply_fill(side, quantity.abs(), average_price);
        }
        book
    }

    fn record_cash(&mut self, side: Side, quantity: i64, price: Decimal) {
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
    }

    fn set_cost(&mut self, quantity: i64, cost: Decimal) {
        self.quantity = quantity;
        self.cost = if quantity == 0 { Decimal::ZERO } else { cost };
        self.average_price = average_of(self.cost, quantity);
    }

    /// Applies a fill of `quantity` (> 0) units at `price`.
    ///
    /// Adding to a position (or opening one) adds the fill's value to the cost.
    /// Reducing realises the closed units' proceeds less their share of the
    /// cost, which leaves the average unchanged. A fill larger than the
    /// position closes it and opens the rest on the other side at the fill
    /// price ("flip through zero").
    pub fn apply_fill(&mut self, side: Side, quantity: i64, price: Decimal) -> FillEffect {
        assert!(quantity > 0, "a fill has a positive quantity");
        self.record_cash(side, quantity, price);
        let signed = side.sign() * quantity;
        let value = price * Decimal::from(signed);
        let same_direction = self.quantity == 0 || self.quantity.signum() == signed.signum();
        if same_direction {
            self.set_cost(self.quantity + signed, self.cost + value);
            return FillEffect { realized_pnl: Decimal::ZERO, closed_quantity: 0, opened_quantity: quantity };
        }

        let held = self.quantity.abs();
        let closed = quantity.min(held);
        let remaining = held - closed;
        // The cost that stays with the open units; what leaves is exactly the
        // difference, so nothing is lost to rounding.
        let kept = if remaining == 0 {
            Decimal::ZERO
        } else {
            (self.cost * Decimal::from(remaining) / Decimal::from(held)).round_dp(AVERAGE_PRICE_SCALE)
        };
        let direction = Decimal::from(self.quantity.signum());
        let realized = direction * price * Decimal::from(closed) - (self.cost - kept);
        self.realized_pnl += realized;
        let opened = quantity - closed;
        if opened > 0 {
            self.set_cost(signed.signum() * opened, price * Decimal::from(signed.signum() * opened));
        } else {
            self.set_cost(self.quantity + signed, kept);
        }
        FillEffect { realized_pnl: realized, closed_quantity: closed, opened_quantity: opened }
    }

    /// Sets the position to `quantity` at `average_price` without a trade (a
    /// position closed or taken over from the broker by an operator). The
    /// units that appear or disappear change hands, notionally, at `mark` (the
    /// last price), so the change itself makes no P&L at the mark; the
    /// difference between the old and the new cost basis is realised. The
    /// result obeys the same cash-flow identity as a fill. Returns the P&L
    /// realised.
    pub fn adjust_to(&mut self, quantity: i64, average_price: Decimal, mark: Decimal) -> Decimal {
        let moved = quantity - self.quantity;
        if moved != 0 {
            let side = if moved > 0 { Side::Buy } else { Side::Sell };
            self.record_cash(side, moved.abs(), mark);
        }
        let cost = average_price * Decimal::from(quantity);
        let realized = cost - self.cost - mark * Decimal::from(moved);
        self.realized_pnl += realized;
        self.set_cost(quantity, cost);
        realized
    }

    /// Unrealised P&L of the open quantity at `price`.
    pub fn unrealized_at(&self, price: Decimal) -> Decimal {
        price * Decimal::from(self.quantity) - self.cost
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
    fn average_price_is_shown_to_ten_decimals_but_the_cost_is_exact() {
        let mut p = PositionBook::default();
        p.apply_fill(Side::Buy, 1, dec!(100.00));
        p.apply_fill(Side::Buy, 2, dec!(100.05));
        assert_eq!((p.average_price, p.cost), (dec!(100.0333333333), dec!(300.10)));
        // Realised from the exact cost, not from the rounded average
        // (which would give 0.2000000001).
        let e = p.apply_fill(Side::Sell, 3, dec!(100.10));
        assert_eq!(e.realized_pnl, dec!(0.20));
        assert_eq!((p.realized_pnl, p.cost, p.average_price), (dec!(0.20), dec!(0), dec!(0)));
    }

    #[test]
    fn a_partial_reduce_keeps_the_rest_of_the_cost_and_the_books_balance() {
        let mut p = PositionBook::default();
        p.apply_fill(Side::Buy, 1, dec!(100.00));
        p.apply_fill(Side::Buy, 2, dec!(100.05));
        let e = p.apply_fill(Side::Sell, 1, dec!(100.10));
        // One third of 300.10 leaves: 100.0333333333 (the rest, 200.0666666667, stays).
        assert_eq!(e.realized_pnl, dec!(0.0666666667));
        assert_eq!(p.cost, dec!(200.0666666667));
        let e = p.apply_fill(Side::Sell, 2, dec!(100.10));
        assert_eq!(e.realized_pnl, dec!(0.1333333333));
        assert_eq!(p.realized_pnl, dec!(0.20), "the round trip realises exactly sells − buys");
    }

    #[test]
    fn an_adjustment_realises_the_cost_difference_and_keeps_total_pnl_at_the_mark() {
        // Local 10 @ 100; the broker holds 15 @ 101; the last price is 110.
        let mut p = PositionBook::default();
        p.apply_fill(Side::Buy, 10, dec!(100));
        let total_before = p.realized_pnl + p.unrealized_at(dec!(110));
        let realized = p.adjust_to(15, dec!(101), dec!(110));
        assert_eq!((p.quantity, p.average_price, p.cost), (15, dec!(101), dec!(1515)));
        assert_eq!(realized, dec!(-35));
        assert_eq!(p.realized_pnl + p.unrealized_at(dec!(110)), total_before, "no P&L appears at the mark");
        assert_eq!(p.buy_quantity - p.sell_quantity, p.quantity);
        assert_eq!(p.realized_pnl, p.sell_value - p.buy_value + p.cost);

        // Closing a short of 10 @ 102 at 101 without a fill realises 10.
        let mut s = PositionBook::default();
        s.apply_fill(Side::Sell, 10, dec!(102));
        assert_eq!(s.adjust_to(0, Decimal::ZERO, dec!(101)), dec!(10));
        assert!(s.is_flat());
        assert_eq!((s.cost, s.average_price, s.buy_quantity, s.sell_quantity), (dec!(0), dec!(0), 10, 10));
        assert_eq!(s.realized_pnl, s.sell_value - s.buy_value);
    }

    #[test]
    fn a_holding_is_its_quantity_at_its_average() {
        let h = PositionBook::holding(-7, dec!(250.5));
        assert_eq!((h.quantity, h.average_price, h.cost, h.sell_quantity), (-7, dec!(250.5), dec!(-1753.5), 7));
        assert_eq!(PositionBook::holding(0, dec!(1)), PositionBook::default());
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
        // accounting: realised P&L = sells − buys + the open quantity's cost,
        // exactly; flat, it is exactly sells − buys.
        #[test]
        fn any_fill_sequence_matches_a_recomputation(seq in fills()) {
            let mut p = PositionBook::default();
            let mut realized_sum = Decimal::ZERO;
            for &(side, qty, price) in &seq {
                realized_sum += p.apply_fill(side, qty, price).realized_pnl;
                prop_assert_eq!(p.realized_pnl, p.sell_value - p.buy_value + p.cost);
                prop_assert_eq!(p.average_price.is_zero(), p.quantity == 0);
            }
            let net_qty: i64 = seq.iter().map(|&(s, q, _)| s.sign() * q).sum();
            let buys: Decimal = seq.iter().filter(|f| f.0 == Side::Buy).map(|&(_, q, px)| px * Decimal::from(q)).sum();
            let sells: Decimal = seq.iter().filter(|f| f.0 == Side::Sell).map(|&(_, q, px)| px * Decimal::from(q)).sum();
            prop_assert_eq!(p.quantity, net_qty);
            prop_assert_eq!(p.realized_pnl, realized_sum);
            prop_assert_eq!((p.buy_value, p.sell_value), (buys, sells));
            prop_assert_eq!(p.realized_pnl, sells - buys + p.cost);
            let flat = p.quantity;
            if flat != 0 {
                let side = if flat > 0 { Side::Sell } else { Side::Buy };
                p.apply_fill(side, flat.abs(), dec!(100));
                prop_assert_eq!(p.realized_pnl, p.sell_value - p.buy_value, "flat: realised is the cash");
            }
        }
    }
}
