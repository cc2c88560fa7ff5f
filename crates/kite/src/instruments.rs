//! Kite's instrument list (`GET /instruments/:exchange`): one CSV row per
//! instrument, with the instrument token the WebSocket ticker streams by.
//!
//! The header is
//! `instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange`;
//! columns are found by name, so an added or moved column changes nothing.
//! A field may be quoted (`"TATA MOTORS, DVR"`), with `""` for a quote inside.
//! An empty expiry is none; an empty price, strike or lot size is zero.
//!
//! A row that does not read is logged and left out, so one odd row never
//! hides the rest of the list; a missing header or column is an error.

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::model::split_instrument_key;
use xcoin_model::order::Exchange;

/// One instrument as Kite lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KiteInstrument {
    /// What the ticker subscribes to and sends in every packet.
    pub instrument_token: u32,
    pub exchange_token: u32,
    pub tradingsymbol: String,
    pub name: String,
    /// As of the list's making (zero for most rows).
    pub last_price: Decimal,
    pub expiry: Option<NaiveDate>,
    pub strike: Decimal,
    pub tick_size: Decimal,
    pub lot_size: i64,
    /// `EQ`, `FUT`, `CE`, `PE`.
    pub instrument_type: String,
    /// `NSE`, `INDICES`, `NFO-FUT`…
    pub segment: String,
    pub exchange: String,
}

impl KiteInstrument {
    /// The quote key, `EXCHANGE:SYMBOL`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.exchange, self.tradingsymbol)
    }
}

/// An instrument list that cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstrumentsError {
    #[error("the instrument list is empty: no header line")]
    NoHeader,
    #[error("the instrument list's header has no `{0}` column")]
    MissingColumn(&'static str),
    #[error("instrument list line {line}: {reason}")]
    Row { line: usize, reason: String },
}

const COLUMNS: [&str; 12] = [
    "instrument_token",
    "exchange_token",
    "tradingsymbol",
    "name",
    "last_price",
    "expiry",
    "strike",
    "tick_size",
    "lot_size",
    "instrument_type",
    "segment",
    "exchange",
];

/// Splits one CSV line into its fields, unquoting quoted ones.
fn split_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(format!("field {} opens a quote it never closes", fields.len() + 1)),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(c) => return Err(format!("field {} has `{c}` after its closing quote", fields.len() + 1)),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

fn decimal(column: &str, text: &str) -> Result<Decimal, String> {
    if text.is_empty() {
        return Ok(Decimal::ZERO);
    }
    text.parse().map_err(|_| format!("{column} `{text}` is not a number"))
}

fn parse_row(fields: &[String], at: &[usize; 12]) -> Result<KiteInstrument, String> {
    let get = |i: usize| fields.get(at[i]).map(|f| f.trim()).unwrap_or_default();
    let token = |i: usize| get(i).parse::<u32>().map_err(|_| format!("{} `{}` is not a token", COLUMNS[i], get(i)));
    let expiry = match get(5) {
        "" => None,
        text => Some(
            NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| format!("expiry `{text}` is not YYYY-MM-DD"))?,
        ),
    };
    let lot_size = match get(8) {
        "" => 0,
        text => text.parse().map_err(|_| format!("lot_size `{text}` is not a whole number"))?,
    };
    Ok(KiteInstrument {
        instrument_token: token(0)?,
        exchange_token: token(1)?,
        tradingsymbol: get(2).to_string(),
        name: get(3).to_string(),
        last_price: decimal(COLUMNS[4], get(4))?,
        expiry,
        strike: decimal(COLUMNS[6], get(6))?,
        tick_size: decimal(COLUMNS[7], get(7))?,
        lot_size,
        instrument_type: get(9).to_string(),
        segment: get(10).to_string(),
        exchange: get(11).to_string(),
    })
}

/// Reads Kite's instrument CSV. Rows that do not read are logged and left
/// out (see the module documentation); see [`parse_instruments_checked`] for
/// them.
pub fn parse_instruments(csv: &str) -> Result<Vec<KiteInstrument>, InstrumentsError> {
    let (instruments, skipped) = parse_instruments_checked(csv)?;
    for e in &skipped {
        tracing::warn!(error = %e, "skipping a row of Kite's instrument list");
    }
    Ok(instruments)
}

/// [`parse_instruments`], returning the rows left out as errors instead of
/// logging them.
pub fn parse_instruments_checked(csv: &str) -> Result<(Vec<KiteInstrument>, Vec<InstrumentsError>), InstrumentsError> {
    let text = csv.trim_start_matches('\u{feff}');
    let mut lines = text.split('\n').enumerate().map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)));
    let (header_line, header) = lines.by_ref().find(|(_, l)| !l.trim().is_empty()).ok_or(InstrumentsError::NoHeader)?;
    let names: Vec<String> = split_fields(header)
        .map_err(|reason| InstrumentsError::Row { line: header_line, reason })?
        .into_iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .collect();
    let mut at = [0; 12];
    for (slot, column) in at.iter_mut().zip(COLUMNS) {
        *slot = names.iter().position(|n| n == column).ok_or(InstrumentsError::MissingColumn(column))?;
    }
    let (mut instruments, mut skipped) = (Vec::new(), Vec::new());
    for (number, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let row = split_fields(line).and_then(|fields| {
            if fields.len() < names.len() {
                return Err(format!("{} fields where the header names {}", fields.len(), names.len()));
            }
            parse_row(&fields, &at)
        });
        match row {
            Ok(instrument) => instruments.push(instrument),
            Err(reason) => skipped.push(InstrumentsError::Row { line: number, reason }),
        }
    }
    Ok((instruments, skipped))
}

/// The ticker's token map for the desk's instruments: token → symbol and
/// exchange, for each `EXCHANGE:SYMBOL` key found in `instruments`; the keys
/// not found (or on an exchange the desk does not trade) come back apart.
pub fn token_map(instruments: &[KiteInstrument], keys: &[String]) -> (HashMap<u32, (String, Exchange)>, Vec<String>) {
    let by_key: HashMap<(&str, &str), u32> =
        instruments.iter().map(|i| ((i.exchange.as_str(), i.tradingsymbol.as_str()), i.instrument_token)).collect();
    let (mut map, mut missing) = (HashMap::new(), Vec::new());
    for key in keys {
        let found = split_instrument_key(key)
            .ok()
            .and_then(|(exchange, symbol)| Some((by_key.get(&(exchange.as_str(), symbol))?, exchange, symbol)));
        match found {
            Some((&token, exchange, symbol)) => {
                map.insert(token, (symbol.to_string(), exchange));
            }
            None => missing.push(key.clone()),
        }
    }
    (map, missing)
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    /// Rows as Kite writes them (an equity, an index, a future, an option), a
    /// quoted name with a comma and a quote in it, CRLF line ends.
    const CSV: &str = "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange\r\n\
        408065,1594,INFY,\"INFOSYS\",0,,0,0.05,1,EQ,NSE,NSE\r\n\
        256265,1001,NIFTY 50,\"NIFTY 50\",0,,0,0,0,EQ,INDICES,NSE\r\n\
        884737,3456,TATAMTRDVR,\"TATA MOTORS, DVR \"\"A\"\"\",0,,0,0.05,1,EQ,NSE,NSE\r\n\
        12345678,48225,NIFTY24JUNFUT,\"NIFTY\",22100.5,2024-06-27,0,0.05,25,FUT,NFO-FUT,NFO\r\n";

    #[test]
    fn rows_read_with_quoted_names_dates_and_exact_numbers() {
        let (list, skipped) = parse_instruments_checked(CSV).unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        assert_eq!(list.len(), 4);
        assert_eq!(
            list[0],
            KiteInstrument {
                instrument_token: 408065,
                exchange_token: 1594,
                tradingsymbol: "INFY".into(),
                name: "INFOSYS".into(),
                last_price: Decimal::ZERO,
                expiry: None,
                strike: Decimal::ZERO,
                tick_size: dec!(0.05),
                lot_size: 1,
                instrument_type: "EQ".into(),
                segment: "NSE".into(),
                exchange: "NSE".into(),
            }
        );
        assert_eq!(list[1].key(), "NSE:NIFTY 50");
        assert_eq!((list[2].name.as_str(), list[2].instrument_token), ("TATA MOTORS, DVR \"A\"", 884737));
        let fut = &list[3];
        assert_eq!(
            (fut.expiry, fut.last_price, fut.lot_size),
            (NaiveDate::from_ymd_opt(2024, 6, 27), dec!(22100.5), 25)
        );
    }

    #[test]
    fn columns_are_found_by_name_and_bad_rows_are_left_out() {
        let csv = "exchange,tradingsymbol,instrument_token,exchange_token,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,extra\n\
            NSE,SBIN,779521,3045,SBI,0,,0,0.05,1,EQ,NSE,x\n\
            NSE,BAD,notanumber,1,,0,,0,0.05,1,EQ,NSE,x\n\
            NSE,SHORT,1\n\
            NSE,OPEN,1,1,\"never closed,0,,0,0.05,1,EQ,NSE,x\n\
            \n\
            BSE,SBIN,128083204,500112,SBI,0,,0,0.05,1,EQ,BSE,x\n";
        let (list, skipped) = parse_instruments_checked(csv).unwrap();
        assert_eq!(list.iter().map(KiteInstrument::key).collect::<Vec<_>>(), ["NSE:SBIN", "BSE:SBIN"]);
        assert_eq!(list[1].instrument_token, 128083204);
        let lines: Vec<usize> = skipped
            .iter()
            .map(|e| match e {
                InstrumentsError::Row { line, .. } => *line,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(lines, [3, 4, 5]);
        assert_eq!(skipped[0].to_string(), "instrument list line 3: instrument_token `notanumber` is not a token");
        assert_eq!(skipped[1].to_string(), "instrument list line 4: 3 fields where the header names 13");
        assert_eq!(skipped[2].to_string(), "instrument list line 5: field 5 opens a quote it never closes");
        assert_eq!(parse_instruments(csv).unwrap().len(), 2);
    }

    #[test]
    fn a_list_without_its_header_is_an_error() {
        assert_eq!(parse_instruments(""), Err(InstrumentsError::NoHeader));
        assert_eq!(parse_instruments("\n\r\n"), Err(InstrumentsError::NoHeader));
        assert_eq!(
            parse_instruments("instrument_token,tradingsymbol\n408065,INFY\n"),
            Err(InstrumentsError::MissingColumn("exchange_token"))
        );
    }

    #[test]
    fn the_token_map_names_what_it_could_not_find() {
        let list = parse_instruments(CSV).unwrap();
        let keys = ["NSE:INFY", "NSE:NIFTY 50", "NSE:WIPRO", "NFO:NIFTY24JUNFUT", "INFY"].map(String::from);
        let (map, missing) = token_map(&list, &keys);
        assert_eq!(
            map,
            HashMap::from([
                (408065, ("INFY".to_string(), Exchange::Nse)),
                (256265, ("NIFTY 50".to_string(), Exchange::Nse))
            ])
        );
        assert_eq!(missing, ["NSE:WIPRO", "NFO:NIFTY24JUNFUT", "INFY"]);
    }
}
