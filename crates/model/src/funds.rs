//! Funds and margin, as Zerodha's equity segment reports them: what the
//! account opened the day with, what is blocked as margin, the day's
//! mark-to-market, and what is free to trade.

use rust_decimal::Decimal;

use super::order::Product;

/// The equity segment's funds at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Funds {
    /// Cash at the start of the day.
    pub opening_balance: Decimal,
    /// Cash now: the opening balance plus pay-ins (and, on the paper
    /// exchange, the realised P&L).
    pub cash: Decimal,
    /// Margin blocked by open positions and working orders.
    pub used_margin: Decimal,
    pub m2m_realised: Decimal,
    pub m2m_unrealised: Decimal,
    /// What a new order can use.
    pub available_margin: Decimal,
}

/// Zerodha's equity MIS leverage by default (margin = 20 % of the value).
pub const DEFAULT_MIS_LEVERAGE: u32 = 5;

/// The margin an order or position of `value` rupees blocks: intraday (MIS)
/// at `mis_leverage`×, delivery (CNC) and NRML in full.
pub fn margin_for(product: Product, value: Decimal, mis_leverage: Decimal) -> Decimal {
    let value = value.abs();
    match product {
        Product::Mis if mis_leverage > Decimal::ONE => value / mis_leverage,
        _ => value,
    }
}

/// How many of `quantity` shares of an order on `side` add exposure to a
/// position of `held` (signed): an order that only reduces it needs no margin.
pub fn added_exposure(held: i64, side_sign: i64, quantity: i64) -> i64 {
    let reducing = if held.signum() == -side_sign { quantity.min(held.abs()) } else { 0 };
    quantity - reducing
}

/// Kite's refusal of an order the free margin does not cover, in Kite's words.
pub fn insufficient_funds(required: Decimal, available: Decimal) -> String {
    format!(
        "Insufficient funds. Required margin is {:.2} but available margin is {:.2}. Check the orderbook for open orders.",
        super::to_paisa(required),
        super::to_paisa(available)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn mis_at_five_times_and_delivery_in_full() {
        assert_eq!(margin_for(Product::Mis, dec!(150000), dec!(5)), dec!(30000));
        assert_eq!(margin_for(Product::Cnc, dec!(150000), dec!(5)), dec!(150000));
        assert_eq!(margin_for(Product::Mis, dec!(-1000), dec!(1)), dec!(1000));
    }

    #[test]
    fn only_the_shares_that_add_exposure_need_margin() {
        assert_eq!(added_exposure(0, 1, 10), 10);
        assert_eq!(added_exposure(10, -1, 4), 0, "a sale that reduces a long");
        assert_eq!(added_exposure(10, -1, 15), 5, "a sale through flat opens a short of 5");
        assert_eq!(added_exposure(-3, -1, 2), 2);
    }

    #[test]
    fn the_refusal_reads_as_kites() {
        assert_eq!(
            insufficient_funds(dec!(95417.835), dec!(74251.8)),
            "Insufficient funds. Required margin is 95417.84 but available margin is 74251.80. Check the orderbook for open orders."
        );
    }
}
