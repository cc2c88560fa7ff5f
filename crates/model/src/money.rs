//! Money as the desk shows and settles it: the project's one rounding rule
//! and one rupee formatter.

use rust_decimal::Decimal;

/// Rounds money to the paisa: two decimals, half away from zero (the
/// commercial rounding of Zerodha's contract note). The one rounding rule of
/// the project, applied once, where a figure is shown or settled.
pub fn to_paisa(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

/// An amount to the paisa as a plain signed number, for table cells where
/// width is scarce: `-1234567.01`. Messages and reports use [`rupees`].
pub fn paisa(amount: Decimal) -> String {
    format!("{:.2}", to_paisa(amount))
}

/// Rupees to the paisa with a sign and Indian digit grouping (lakh, crore):
/// "-₹12,34,567.01".
pub fn rupees(amount: Decimal) -> String {
    let paisa = to_paisa(amount);
    let negative = paisa.is_sign_negative() && !paisa.is_zero();
    let text = format!("{:.2}", paisa.abs());
    let (whole, frac) = text.split_once('.').unwrap_or((&text, "00"));
    let grouped = if whole.len() <= 3 {
        whole.to_string()
    } else {
        let (head, last3) = whole.split_at(whole.len() - 3);
        let mut groups: Vec<&str> = Vec::new();
        let mut rest = head;
        while rest.len() > 2 {
            let (a, b) = rest.split_at(rest.len() - 2);
            groups.push(b);
            rest = a;
        }
        groups.push(rest);
        groups.reverse();
        format!("{},{last3}", groups.join(","))
    };
    format!("{}₹{grouped}.{frac}", if negative { "-" } else { "" })
}

/// [`rupees`] without the paisa when there are none: `₹1,00,000` but
/// `₹41,114.09` (limits and capital read better whole).
pub fn whole_rupees(amount: Decimal) -> String {
    let text = rupees(amount);
    text.strip_suffix(".00").map_or(text.clone(), str::to_string)
}

/// An amount in rupees as a person types it, in any form the desk prints
/// one: `100000`, Indian grouping `1,00,000` (as [`rupees`] writes it),
/// international grouping `100,000`, with or without a leading `₹` and
/// paisa (`₹41,114.09`). `None` when it is not such a number, or when its
/// commas follow neither grouping (`1,0000`).
pub fn parse_rupees(text: &str) -> Option<Decimal> {
    let text = text.trim();
    let text = text.strip_prefix('₹').unwrap_or(text).trim_start();
    let (whole, frac) = text.split_once('.').map_or((text, None), |(w, f)| (w, Some(f)));
    let groups: Vec<&str> = whole.split(',').collect();
    let digits = |g: &str| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit());
    if !groups.iter().all(|g| digits(g)) || frac.is_some_and(|f| !digits(f)) {
        return None;
    }
    if let [first, middle @ .., last] = groups.as_slice() {
        let indian = last.len() == 3 && first.len() <= 2 && middle.iter().all(|g| g.len() == 2);
        let international = last.len() == 3 && first.len() <= 3 && middle.iter().all(|g| g.len() == 3);
        if !indian && !international {
            return None;
        }
    }
    let plain = groups.concat();
    let number = frac.map_or(plain.clone(), |f| format!("{plain}.{f}"));
    number.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn whole_rupees_drop_only_zero_paisa() {
        assert_eq!(whole_rupees(dec!(100000)), "₹1,00,000");
        assert_eq!(whole_rupees(dec!(41114.09)), "₹41,114.09");
    }

    #[test]
    fn plain_paisa_for_cells() {
        assert_eq!(paisa(dec!(-1234567.005)), "-1234567.01");
        assert_eq!(paisa(dec!(1441)), "1441.00");
        assert_eq!(paisa(dec!(0.525)), "0.53");
    }

    #[test]
    fn rupees_to_the_paisa() {
        assert_eq!(rupees(dec!(864.400774)), "₹864.40");
        assert_eq!(rupees(dec!(-1234567.005)), "-₹12,34,567.01");
        assert_eq!(rupees(dec!(-0.001)), "₹0.00");
        assert_eq!(rupees(dec!(100000)), "₹1,00,000.00");
        assert_eq!(rupees(dec!(999.999)), "₹1,000.00");
        assert_eq!(rupees(dec!(123456789012)), "₹1,23,45,67,89,012.00");
    }

    #[test]
    fn amounts_are_read_as_the_desk_prints_them() {
        for text in ["100000", "1,00,000", "100,000", "₹1,00,000", " ₹1,00,000.00 ", "1,00,000.5"] {
            assert_eq!(parse_rupees(text).map(|d| d.round_dp(0)), Some(dec!(100000)), "{text}");
        }
        assert_eq!(parse_rupees("₹41,114.09"), Some(dec!(41114.09)));
        assert_eq!(parse_rupees("₹12,34,567.01"), Some(dec!(1234567.01)));
        assert_eq!(parse_rupees("1,234,567"), Some(dec!(1234567)));
        assert_eq!(parse_rupees(&rupees(dec!(123456789012))), Some(dec!(123456789012)), "what rupees() prints");
        for text in
            ["", "x", "1,0000", "10,00", ",100", "100,", "1,,000", "1.2.3", "1,00,000.", "-5", "1e5", "12,34,56,7890"]
        {
            assert_eq!(parse_rupees(text), None, "{text:?}");
        }
    }
}
