//! Tradable instruments and their reference prices (`assets/instruments.csv`):
//! the symbol list the console completes from and the paper exchange's
//! starting prices.

use rust_decimal::Decimal;

use super::is_on_tick;
use super::order::Exchange;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instrument {
    pub symbol: String,
    pub exchange: Exchange,
    pub name: String,
    pub reference_price: Decimal,
    pub tick_size: Decimal,
}

/// Each instrument's tick (NSE: ₹0.01 below ₹250, ₹0.05 above, larger in
/// some bands; Kite's instrument list says which), with a default for an
/// instrument the desk has no tick for. Every price is checked and rounded
/// on its instrument's tick, never on one global value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticks {
    by_instrument: std::collections::HashMap<(String, Exchange), Decimal>,
    default: Decimal,
}

impl Ticks {
    pub fn new(instruments: &[Instrument], default: Decimal) -> Ticks {
        let by_instrument = instruments.iter().map(|i| ((i.symbol.clone(), i.exchange), i.tick_size)).collect();
        Ticks { by_instrument, default }
    }

    /// The instrument's tick, or the default.
    pub fn of(&self, symbol: &str, exchange: Exchange) -> Decimal {
        self.by_instrument.get(&(symbol.to_string(), exchange)).copied().unwrap_or(self.default)
    }

    /// Records an instrument's tick as the broker lists it.
    pub fn set(&mut self, symbol: &str, exchange: Exchange, tick: Decimal) {
        self.by_instrument.insert((symbol.to_string(), exchange), tick);
    }
}

/// The instruments shipped with XCoin.
pub const BUILT_IN_CSV: &str = include_str!("../../../assets/instruments.csv");

/// Parses `symbol,exchange,name,reference_price,tick_size` lines after a
/// header. An error names the line and the field.
pub fn parse_instruments(csv: &str) -> Result<Vec<Instrument>, String> {
    let mut out = Vec::new();
    for (n, line) in csv.lines().enumerate().skip(1) {
        let line_no = n + 1;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [symbol, exchange, name, price, tick] = fields[..] else {
            return Err(format!("line {line_no}: expected 5 fields, found {}", fields.len()));
        };
        let exchange: Exchange = exchange.parse().map_err(|e| format!("line {line_no}: {e}"))?;
        let number = |field: &str, text: &str| -> Result<Decimal, String> {
            text.parse::<Decimal>()
                .ok()
                .filter(|v| *v > Decimal::ZERO)
                .ok_or_else(|| format!("line {line_no}: {field} `{text}` is not a positive number"))
        };
        let reference_price = number("reference_price", price)?;
        let tick_size = number("tick_size", tick)?;
        if !is_on_tick(reference_price, tick_size) {
            return Err(format!("line {line_no}: reference_price {reference_price} is not on the {tick_size} tick"));
        }
        out.push(Instrument {
            symbol: symbol.to_string(),
            exchange,
            name: name.to_string(),
            reference_price,
            tick_size,
        });
    }
    Ok(out)
}

/// The built-in instruments.
pub fn built_in() -> Vec<Instrument> {
    parse_instruments(BUILT_IN_CSV).expect("assets/instruments.csv is valid (checked by a test)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{OrderRequest, OrderType, Product, Side, Validity};
    use rust_decimal_macros::dec;

    #[test]
    fn the_shipped_instruments_are_valid_symbols_on_tick() {
        let all = built_in();
        assert!(all.len() >= 30, "a few dozen liquid names, got {}", all.len());
        let reliance = all.iter().find(|i| i.symbol == "RELIANCE").unwrap();
        assert_eq!((reliance.exchange, reliance.tick_size), (Exchange::Nse, dec!(0.05)));
        let mut symbols: Vec<&str> = all.iter().map(|i| i.symbol.as_str()).collect();
        symbols.sort();
        symbols.dedup();
        assert_eq!(symbols.len(), all.len(), "no duplicates");
        for i in &all {
            let order = OrderRequest {
                strategy_id: 1,
                symbol: i.symbol.clone(),
                exchange: i.exchange,
                side: Side::Buy,
                order_type: OrderType::Limit,
                product: Product::Mis,
                validity: Validity::Day,
                quantity: 1,
                price: Some(i.reference_price),
                trigger_price: None,
                stop_loss: None,
                take_profit: None,
                parent_order_id: None,
                placed_by: "test".into(),
            };
            assert_eq!(order.validate(i.tick_size), Ok(()), "{}", i.symbol);
        }
    }

    #[test]
    fn bad_lines_name_the_line_and_field() {
        let head = "symbol,exchange,name,reference_price,tick_size\n";
        assert_eq!(
            parse_instruments(&format!("{head}INFY,NSE,Infosys,1500.03,0.05")).unwrap_err(),
            "line 2: reference_price 1500.03 is not on the 0.05 tick"
        );
        assert_eq!(
            parse_instruments(&format!("{head}INFY,MCX,Infosys,1500,0.05")).unwrap_err(),
            "line 2: exchange: `MCX` is not allowed; expected one of NSE, BSE"
        );
        assert_eq!(
            parse_instruments(&format!("{head}INFY,NSE,Infosys,-1,0.05")).unwrap_err(),
            "line 2: reference_price `-1` is not a positive number"
        );
        assert_eq!(parse_instruments(&format!("{head}INFY,NSE")).unwrap_err(), "line 2: expected 5 fields, found 2");
    }
}
