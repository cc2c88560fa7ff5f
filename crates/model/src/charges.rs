//! Zerodha's equity charges, per executed order:
//!
//! * brokerage: intraday (MIS) min(rate × turnover, cap) per order; delivery 0;
//! * STT: intraday on the sell side only; delivery on both sides;
//! * exchange transaction charge: a rate per exchange on turnover;
//! * SEBI turnover fee: rupees per crore of turnover;
//! * GST: on brokerage + exchange charge + SEBI fee (Zerodha's published rule);
//! * stamp duty: on the buy side only, intraday and delivery rates.
//!
//! Every rate is configuration, since they change. The rates are finite
//! decimals, so every line is kept exactly, never rounded here: rounding
//! happens once, to the paisa, where a figure is shown or settled, with the
//! project's one rule ([`crate::to_paisa`]: half away from zero, the
//! commercial rounding Zerodha's contract note uses, where 0.525 shows as
//! 0.53). Rounding each line first and the total again would move half-paisa
//! ties: a stamp duty of exactly 4.3249995 must show 4.32, not 4.33.
//!
//! NRML on equity is carry-forward, so it is charged as delivery.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde::{Deserialize, Serialize};

use super::order::{Exchange, Product, Side};

const CRORE: Decimal = dec!(10000000);
const HUNDRED: Decimal = dec!(100);

/// The rates, in percent of turnover unless the name says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargeRates {
    pub brokerage_intraday_pct: Decimal,
    pub brokerage_cap: Decimal,
    pub brokerage_delivery_pct: Decimal,
    pub stt_intraday_sell_pct: Decimal,
    pub stt_delivery_pct: Decimal,
    pub exchange_nse_pct: Decimal,
    pub exchange_bse_pct: Decimal,
    pub sebi_per_crore: Decimal,
    pub gst_pct: Decimal,
    pub stamp_intraday_buy_pct: Decimal,
    pub stamp_delivery_buy_pct: Decimal,
}

impl Default for ChargeRates {
    /// Zerodha's published equity schedule.
    fn default() -> Self {
        ChargeRates {
            brokerage_intraday_pct: dec!(0.03),
            brokerage_cap: dec!(20),
            brokerage_delivery_pct: dec!(0),
            stt_intraday_sell_pct: dec!(0.025),
            stt_delivery_pct: dec!(0.1),
            exchange_nse_pct: dec!(0.00297),
            exchange_bse_pct: dec!(0.00375),
            sebi_per_crore: dec!(10),
            gst_pct: dec!(18),
            stamp_intraday_buy_pct: dec!(0.003),
            stamp_delivery_buy_pct: dec!(0.015),
        }
    }
}

/// One fill's charges, line by line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charges {
    pub brokerage: Decimal,
    pub stt: Decimal,
    pub exchange: Decimal,
    pub sebi: Decimal,
    pub gst: Decimal,
    pub stamp_duty: Decimal,
}

impl Charges {
    pub fn total(&self) -> Decimal {
        self.brokerage + self.stt + self.exchange + self.sebi + self.gst + self.stamp_duty
    }
}

/// What is being charged: one fill of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChargeInput {
    pub side: Side,
    pub product: Product,
    pub exchange: Exchange,
    pub quantity: i64,
    pub price: Decimal,
    /// Brokerage already charged on earlier fills of the same order: the cap is
    /// per order, so a partly filled order never pays more than the cap in all.
    pub order_brokerage_so_far: Decimal,
}

/// `rate` percent of `amount`, exactly.
fn pct(rate: Decimal, amount: Decimal) -> Decimal {
    (amount * rate / HUNDRED).normalize()
}

impl ChargeRates {
    /// The charges of one fill.
    pub fn compute(&self, input: &ChargeInput) -> Charges {
        let turnover = input.price * Decimal::from(input.quantity);
        let delivery = !input.product.is_intraday();
        let buy = input.side == Side::Buy;

        let brokerage = if delivery {
            pct(self.brokerage_delivery_pct, turnover)
        } else {
            let room = (self.brokerage_cap - input.order_brokerage_so_far).max(Decimal::ZERO);
            pct(self.brokerage_intraday_pct, turnover).min(room)
        };
        let stt = match (delivery, buy) {
            (true, _) => pct(self.stt_delivery_pct, turnover),
            (false, false) => pct(self.stt_intraday_sell_pct, turnover),
            (false, true) => Decimal::ZERO,
        };
        let exchange_rate = match input.exchange {
            Exchange::Nse => self.exchange_nse_pct,
            Exchange::Bse => self.exchange_bse_pct,
        };
        let exchange = pct(exchange_rate, turnover);
        let sebi = (turnover * self.sebi_per_crore / CRORE).normalize();
        // Zerodha's rule: GST on brokerage + exchange charge + SEBI fee. (Their
        // virtual contract note sample leaves the SEBI fee out of the GST base;
        // the published schedule includes it, and so do we.)
        let gst = pct(self.gst_pct, brokerage + exchange + sebi);
        let stamp_duty = match (buy, delivery) {
            (true, false) => pct(self.stamp_intraday_buy_pct, turnover),
            (true, true) => pct(self.stamp_delivery_buy_pct, turnover),
            (false, _) => Decimal::ZERO,
        };
        Charges { brokerage, stt, exchange, sebi, gst, stamp_duty }
    }
}

/// One band of the exchange's charges for a high order-to-trade ratio: the
/// ratio of order messages (entries, modifications and cancellations) to
/// trades over a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtrSlab {
    /// The band's lower bound (inclusive); the next band's is its upper bound.
    pub from: u32,
    /// Paise charged per order message in the band (0: no charge).
    pub paise_per_message: u32,
    /// A ratio in this band bars new orders for the first 15 minutes of the
    /// next trading day (risk-reducing orders excepted).
    pub cooling_off: bool,
}

/// The bands of NSE's circular NSE/FA/21156 (levy of charges for a high
/// order-to-trade ratio): below 50 nothing; 50 to below 250, 1 paisa per
/// message; 250 to below 500, 5 paise; 500 and above, 5 paise and a
/// cooling-off the next morning. The exchange leaves out messages priced
/// close to the last price; the desk counts them all, so its ratio errs high.
/// SEBI lets exchanges add bands up to 2,000; a desk on revised bands reads
/// its band from the exchange's latest circular.
pub const OTR_SLABS: &[OtrSlab] = &[
    OtrSlab { from: 0, paise_per_message: 0, cooling_off: false },
    OtrSlab { from: 50, paise_per_message: 1, cooling_off: false },
    OtrSlab { from: 250, paise_per_message: 5, cooling_off: false },
    OtrSlab { from: 500, paise_per_message: 5, cooling_off: true },
];

/// The band a day's order-to-trade ratio falls in.
pub fn otr_slab(ratio: Decimal) -> OtrSlab {
    OTR_SLABS.iter().rev().find(|s| ratio >= Decimal::from(s.from)).copied().unwrap_or(OTR_SLABS[0])
}

/// A day's order-to-trade ratio and the exchange's band for it: `1.67 <50 nil`.
pub fn otr_text(ratio: Decimal) -> String {
    format!("{} {}", ratio.round_dp(2).normalize(), otr_slab(ratio))
}

impl std::fmt::Display for OtrSlab {
    /// `<50 nil`, `50+ 1p/msg`, `500+ 5p/msg, cool-off`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.paise_per_message, OTR_SLABS.iter().find(|s| s.from > self.from)) {
            (0, Some(next)) => write!(f, "<{} nil", next.from),
            (p, _) => {
                write!(f, "{}+ {p}p/msg", self.from)?;
                if self.cooling_off { write!(f, ", cool-off") } else { Ok(()) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(side: Side, product: Product, quantity: i64, price: Decimal) -> ChargeInput {
        ChargeInput { side, product, exchange: Exchange::Nse, quantity, price, order_brokerage_so_far: Decimal::ZERO }
    }

    /// The NSE equity row of Zerodha's virtual contract note
    /// (tests/fixtures/kite/virtual_contract_note.json), with the rates
    /// in force when it was made: exchange 0.00335 %, STT 0.1 % delivery.
    #[test]
    fn reproduces_zerodha_contract_note_nse_equity_row() {
        let text = include_str!("../../../tests/fixtures/kite/virtual_contract_note.json");
        let note: serde_json::Value = serde_json::from_str(text).unwrap();
        let row = note["data"].as_array().unwrap().iter().find(|r| r["exchange"] == "NSE").expect("an NSE row");
        assert_eq!(row["tradingsymbol"], "SBIN");
        let num = |v: &serde_json::Value| v.to_string().parse::<Decimal>().unwrap();

        let rates = ChargeRates { exchange_nse_pct: dec!(0.00335), ..ChargeRates::default() };
        let side: Side = row["transaction_type"].as_str().unwrap().parse().unwrap();
        let product: Product = row["product"].as_str().unwrap().parse().unwrap();
        let c = rates.compute(&fill(side, product, row["quantity"].as_i64().unwrap(), num(&row["price"])));

        let charges = &row["charges"];
        assert_eq!(charges["transaction_tax_type"], "stt");
        assert_eq!(c.stt, num(&charges["transaction_tax"]));
        assert_eq!(c.exchange, num(&charges["exchange_turnover_charge"]));
        assert_eq!(c.sebi, num(&charges["sebi_turnover_charge"]));
        assert_eq!(c.brokerage, num(&charges["brokerage"]));
        assert_eq!((c.stt, c.exchange, c.sebi), (dec!(0.56), dec!(0.01876), dec!(0.00056)));
        // The note's GST is 18 % of the exchange charge alone (0.0033768); ours
        // also covers the SEBI fee: 18 % × (0.01876 + 0.00056) = 0.0034776.
        assert_eq!(num(&charges["gst"]["total"]).round_dp(7), dec!(0.0033768));
        assert_eq!(c.gst, dec!(0.0034776));
    }

    /// Intraday round trip, 100 × ₹2,500 on NSE, by hand from the schedule:
    /// buy turnover 250,000: brokerage min(75, 20) = 20; exchange 7.425;
    /// SEBI 0.25; GST 18 % × 27.675 = 4.9815; stamp 0.003 % = 7.5; STT 0.
    /// Sell at 2,510, turnover 251,000: brokerage 20; STT 0.025 % = 62.75;
    /// exchange 7.4547; SEBI 0.251; GST 18 % × 27.7057 = 4.987026; stamp 0.
    #[test]
    fn intraday_round_trip_by_hand() {
        let r = ChargeRates::default();
        let buy = r.compute(&fill(Side::Buy, Product::Mis, 100, dec!(2500)));
        assert_eq!(
            buy,
            Charges {
                brokerage: dec!(20),
                stt: dec!(0),
                exchange: dec!(7.425),
                sebi: dec!(0.25),
                gst: dec!(4.9815),
                stamp_duty: dec!(7.5)
            }
        );
        assert_eq!(buy.total(), dec!(40.1565));
        let sell = r.compute(&fill(Side::Sell, Product::Mis, 100, dec!(2510)));
        assert_eq!(
            sell,
            Charges {
                brokerage: dec!(20),
                stt: dec!(62.75),
                exchange: dec!(7.4547),
                sebi: dec!(0.251),
                gst: dec!(4.987026),
                stamp_duty: dec!(0)
            }
        );
    }

    /// Small intraday order: brokerage 0.03 % under the cap. 10 × ₹150.05 = 1,500.50:
    /// brokerage 0.45015; exchange 0.04456485; SEBI 0.0015005;
    /// GST 18 % × 0.49621535 = 0.089318763; stamp 0.045015; all exact.
    #[test]
    fn small_intraday_buy_by_hand() {
        let c = ChargeRates::default().compute(&fill(Side::Buy, Product::Mis, 10, dec!(150.05)));
        assert_eq!(c.brokerage, dec!(0.45015));
        assert_eq!(c.exchange, dec!(0.04456485));
        assert_eq!(c.sebi, dec!(0.0015005));
        assert_eq!(c.gst, dec!(0.089318763));
        assert_eq!(c.stamp_duty, dec!(0.045015));
        assert_eq!(c.stt, dec!(0));
    }

    /// Delivery, 50 × ₹1,000 on BSE: no brokerage, STT 0.1 % both sides = 50,
    /// exchange 0.00375 % = 1.875, SEBI 0.05, GST 18 % × 1.925 = 0.3465, stamp
    /// 0.015 % on the buy = 7.5.
    #[test]
    fn delivery_by_hand() {
        let r = ChargeRates::default();
        let mut input = fill(Side::Buy, Product::Cnc, 50, dec!(1000));
        input.exchange = Exchange::Bse;
        let buy = r.compute(&input);
        assert_eq!(
            buy,
            Charges {
                brokerage: dec!(0),
                stt: dec!(50),
                exchange: dec!(1.875),
                sebi: dec!(0.05),
                gst: dec!(0.3465),
                stamp_duty: dec!(7.5)
            }
        );
        input.side = Side::Sell;
        let sell = r.compute(&input);
        assert_eq!((sell.stt, sell.stamp_duty, sell.brokerage), (dec!(50), dec!(0), dec!(0)));
    }

    #[test]
    fn brokerage_cap_is_per_order_across_fills() {
        let r = ChargeRates::default();
        let mut input = fill(Side::Buy, Product::Mis, 60, dec!(1000));
        // 0.03 % of 60,000 = 18.
        let first = r.compute(&input);
        assert_eq!(first.brokerage, dec!(18));
        // The second fill would cost 18 again; only 2 of the ₹20 cap is left.
        input.order_brokerage_so_far = first.brokerage;
        assert_eq!(r.compute(&input).brokerage, dec!(2));
        input.order_brokerage_so_far = dec!(20);
        assert_eq!(r.compute(&input).brokerage, dec!(0));
    }

    /// Half-paisa ties, rounded once from the exact value. Rounded to six
    /// decimals first, these showed 4.33 and 19.05.
    #[test]
    fn charges_round_once_to_the_paisa() {
        use crate::to_paisa;
        let r = ChargeRates::default();
        // BSE MIS BUY 89 @ 1619.85: turnover 144,166.65, stamp 0.003 % = 4.3249995.
        let mut input = fill(Side::Buy, Product::Mis, 89, dec!(1619.85));
        input.exchange = Exchange::Bse;
        let c = r.compute(&input);
        assert_eq!(c.stamp_duty, dec!(4.3249995));
        assert_eq!(to_paisa(c.stamp_duty), dec!(4.32));
        // NSE MIS BUY 1707 @ 26.55: the total is exactly 19.0449995121.
        let c = r.compute(&fill(Side::Buy, Product::Mis, 1707, dec!(26.55)));
        assert_eq!(c.total(), dec!(19.0449995121));
        assert_eq!(to_paisa(c.total()), dec!(19.04));
        // An exact half paisa goes away from zero, as on the contract note:
        // 10 × 175 MIS brokerage is 0.03 % of 1,750 = 0.525.
        let c = r.compute(&fill(Side::Buy, Product::Mis, 10, dec!(175)));
        assert_eq!((c.brokerage, to_paisa(c.brokerage)), (dec!(0.525), dec!(0.53)));
        assert_eq!(to_paisa(dec!(-0.525)), dec!(-0.53));
    }

    #[test]
    fn order_to_trade_bands() {
        assert_eq!(otr_slab(dec!(1.6667)).to_string(), "<50 nil");
        assert_eq!(otr_slab(dec!(49.99)).paise_per_message, 0);
        assert_eq!(otr_slab(dec!(50)).to_string(), "50+ 1p/msg");
        assert_eq!(otr_slab(dec!(250)).to_string(), "250+ 5p/msg");
        assert_eq!(otr_slab(dec!(731)).to_string(), "500+ 5p/msg, cool-off");
    }
}
