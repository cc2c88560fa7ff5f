//! Kite's WebSocket ticker protocol, without the socket: decoding binary
//! market-data frames and text messages, and encoding the requests we send.
//!
//! A binary frame is a big-endian `u16` packet count, then per packet a `u16`
//! length and the packet. The length says the layout:
//!
//! | bytes | layout |
//! |---|---|
//! | 8 | LTP: token, last price |
//! | 28 | index quote: token, last, high, low, open, close, change |
//! | 32 | index full: the index quote and the exchange timestamp |
//! | 44 | quote: token, last, last quantity, average price, volume, buy and sell quantity, open, high, low, close |
//! | 184 | full: the quote, last trade time, OI, OI day high and low, exchange timestamp, 10 depth entries |
//!
//! Depth entries are 12 bytes: quantity `i32`, price `i32`, orders `i16`, two
//! bytes of padding; five bids then five offers. Prices are integers: paise
//! (÷100), except currency derivatives, where the documentation says ÷10⁷ for
//! CDS (segment 3) and Kite's own clients divide BCD (segment 6) by 10⁴. The
//! segment is the token's low byte; segment 9 is indices. Prices are read as
//! signed (commodity futures have traded below zero; an index change is
//! negative on a down day), counts and times as unsigned (a liquid stock's
//! daily volume can pass 2³¹). Times are Unix seconds; zero means none.
//!
//! A frame shorter than two bytes is a heartbeat. A frame that does not add
//! up (a truncated packet, a length that runs past the end, an unknown packet
//! size, bytes after the last packet) is an error naming the byte offset, and
//! nothing in it is used: arbitrary input never panics or reads past the end.
//!
//! Text frames are JSON: `{"type":"order","data":{…postback…}}`,
//! `{"type":"error","data":"…"}` and `{"type":"message","data":"…"}`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::model::{Depth, DepthEntry, KiteOrder, MapError, Ohlc, parse_json};
use xcoin_broker::{BrokerOrder, Tick};
use xcoin_model::enums::string_enum;
use xcoin_model::order::Exchange;

/// Currency derivatives on NSE.
pub const SEGMENT_CDS: u32 = 3;
/// Currency derivatives on BSE.
pub const SEGMENT_BCD: u32 = 6;
/// Indices (NIFTY 50, SENSEX): quoted, not tradable.
pub const SEGMENT_INDICES: u32 = 9;

/// The packet sizes the ticker sends.
pub const PACKET_LTP: usize = 8;
pub const PACKET_INDEX_QUOTE: usize = 28;
pub const PACKET_INDEX_FULL: usize = 32;
pub const PACKET_QUOTE: usize = 44;
pub const PACKET_FULL: usize = 184;

string_enum!(
    /// How much a subscription streams: the last price, a quote, or a quote with depth.
    TickMode, "mode" { Ltp => "ltp", Quote => "quote", Full => "full" }
);

/// One decoded packet. Which fields are present follows the packet's layout:
/// `mode` and `index` say which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KiteTick {
    pub instrument_token: u32,
    pub mode: TickMode,
    /// The packet used the index layout (28 or 32 bytes).
    pub index: bool,
    pub last_price: Decimal,
    pub ohlc: Option<Ohlc>,
    /// Index packets only: the price change field as the exchange sends it.
    pub change: Option<Decimal>,
    pub last_quantity: Option<u32>,
    pub average_price: Option<Decimal>,
    pub volume: Option<u32>,
    pub buy_quantity: Option<u32>,
    pub sell_quantity: Option<u32>,
    pub last_trade_time: Option<DateTime<Utc>>,
    pub open_interest: Option<u32>,
    pub oi_day_high: Option<u32>,
    pub oi_day_low: Option<u32>,
    pub exchange_timestamp: Option<DateTime<Utc>>,
    pub depth: Option<Depth>,
}

impl KiteTick {
    /// A tick with only an LTP packet's fields; set the rest for other layouts.
    pub fn new(instrument_token: u32, mode: TickMode, index: bool, last_price: Decimal) -> KiteTick {
        KiteTick {
            instrument_token,
            mode,
            index,
            last_price,
            ohlc: None,
            change: None,
            last_quantity: None,
            average_price: None,
            volume: None,
            buy_quantity: None,
            sell_quantity: None,
            last_trade_time: None,
            open_interest: None,
            oi_day_high: None,
            oi_day_low: None,
            exchange_timestamp: None,
            depth: None,
        }
    }

    /// The exchange segment: the token's low byte.
    pub fn segment(&self) -> u32 {
        self.instrument_token & 0xff
    }

    /// Indices are quoted but cannot be traded.
    pub fn tradable(&self) -> bool {
        self.segment() != SEGMENT_INDICES
    }

    /// Our tick for a subscribed instrument, at the exchange's timestamp when
    /// the packet has one, else at `received_at`. `None` for a token that is
    /// not in `instruments` (token → symbol and exchange).
    pub fn to_tick(&self, instruments: &HashMap<u32, (String, Exchange)>, received_at: DateTime<Utc>) -> Option<Tick> {
        let (symbol, exchange) = instruments.get(&self.instrument_token)?;
        Some(Tick {
            symbol: symbol.clone(),
            exchange: *exchange,
            last_price: self.last_price,
            at: self.exchange_timestamp.unwrap_or(received_at),
        })
    }
}

/// Decimal places of a price integer, by segment.
fn price_scale(token: u32) -> u32 {
    match token & 0xff {
        SEGMENT_CDS => 7,
        SEGMENT_BCD => 4,
        _ => 2,
    }
}

/// A frame that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TickerError {
    #[error(
        "ticker frame ends at byte {available_to}: {what} of packet {packet} of {count} needs bytes {offset}..{end}"
    )]
    Truncated { packet: usize, count: usize, what: &'static str, offset: usize, end: usize, available_to: usize },
    #[error(
        "ticker packet {packet} of {count} at byte {offset} is {length} bytes long; known sizes are 8, 28, 32, 44 and 184"
    )]
    UnknownPacketLength { packet: usize, count: usize, offset: usize, length: usize },
    #[error("ticker frame has {extra} bytes after its {count} packets, from byte {offset}")]
    TrailingBytes { count: usize, offset: usize, extra: usize },
    #[error("ticker text message is not valid: {0}")]
    BadText(String),
    #[error("ticker text message of unknown type `{0}`")]
    UnknownTextType(String),
    #[error("ticker order update: {0}")]
    Order(#[from] MapError),
}

fn word(p: &[u8], at: usize) -> [u8; 4] {
    [p[at], p[at + 1], p[at + 2], p[at + 3]]
}

fn epoch(secs: u32) -> Option<DateTime<Utc>> {
    if secs == 0 { None } else { DateTime::from_timestamp(i64::from(secs), 0) }
}

/// Decodes one packet whose length has been checked against the frame.
/// Every read is inside the length matched, so indexing cannot fail.
fn decode_packet(p: &[u8]) -> Option<KiteTick> {
    if !matches!(p.len(), PACKET_LTP | PACKET_INDEX_QUOTE | PACKET_INDEX_FULL | PACKET_QUOTE | PACKET_FULL) {
        return None;
    }
    let token = u32::from_be_bytes(word(p, 0));
    let scale = price_scale(token);
    let price = |at: usize| Decimal::new(i64::from(i32::from_be_bytes(word(p, at))), scale);
    let count = |at: usize| u32::from_be_bytes(word(p, at));
    let tick = match p.len() {
        PACKET_LTP => KiteTick::new(token, TickMode::Ltp, false, price(4)),
        PACKET_INDEX_QUOTE | PACKET_INDEX_FULL => {
            let full = p.len() == PACKET_INDEX_FULL;
            let mut t = KiteTick::new(token, if full { TickMode::Full } else { TickMode::Quote }, true, price(4));
            t.ohlc = Some(Ohlc { high: price(8), low: price(12), open: price(16), close: price(20) });
            t.change = Some(price(24));
            if full {
                t.exchange_timestamp = epoch(count(28));
            }
            t
        }
        _ => {
            let full = p.len() == PACKET_FULL;
            let mut t = KiteTick::new(token, if full { TickMode::Full } else { TickMode::Quote }, false, price(4));
            t.last_quantity = Some(count(8));
            t.average_price = Some(price(12));
            t.volume = Some(count(16));
            t.buy_quantity = Some(count(20));
            t.sell_quantity = Some(count(24));
            t.ohlc = Some(Ohlc { open: price(28), high: price(32), low: price(36), close: price(40) });
            if full {
                t.last_trade_time = epoch(count(44));
                t.open_interest = Some(count(48));
                t.oi_day_high = Some(count(52));
                t.oi_day_low = Some(count(56));
                t.exchange_timestamp = epoch(count(60));
                let entry = |i: usize| {
                    let at = 64 + 12 * i;
                    DepthEntry {
                        quantity: i64::from(count(at)),
                        price: price(at + 4),
                        orders: i64::from(u16::from_be_bytes([p[at + 8], p[at + 9]])),
                    }
                };
                t.depth = Some(Depth { buy: (0..5).map(entry).collect(), sell: (5..10).map(entry).collect() });
            }
            t
        }
    };
    Some(tick)
}

/// Decodes a binary frame into its ticks, in order. A heartbeat gives none.
pub fn parse_binary(frame: &[u8]) -> Result<Vec<KiteTick>, TickerError> {
    if frame.len() < 2 {
        return Ok(Vec::new());
    }
    let count = usize::from(u16::from_be_bytes([frame[0], frame[1]]));
    // A lying count must not reserve memory the frame cannot fill.
    let mut ticks = Vec::with_capacity(count.min(frame.len() / (PACKET_LTP + 2)));
    let mut pos = 2;
    for packet in 1..=count {
        let truncated = |what, offset: usize, end: usize| TickerError::Truncated {
            packet,
            count,
            what,
            offset,
            end,
            available_to: frame.len(),
        };
        let header = frame.get(pos..pos + 2).ok_or_else(|| truncated("the length", pos, pos + 2))?;
        let length = usize::from(u16::from_be_bytes([header[0], header[1]]));
        let start = pos + 2;
        let body = frame.get(start..start + length).ok_or_else(|| truncated("the body", start, start + length))?;
        let tick =
            decode_packet(body).ok_or(TickerError::UnknownPacketLength { packet, count, offset: start, length })?;
        ticks.push(tick);
        pos = start + length;
    }
    if pos != frame.len() {
        return Err(TickerError::TrailingBytes { count, offset: pos, extra: frame.len() - pos });
    }
    Ok(ticks)
}

/// A text message from the ticker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KiteText {
    /// An order update (the postback payload), mapped onto our lifecycle.
    Order(Box<BrokerOrder>),
    /// An error Kite reports on the connection.
    Error(String),
    /// A message or alert from the broker.
    Message(String),
}

#[derive(Deserialize)]
struct TextFrame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: serde_json::Value,
}

fn text_of(data: serde_json::Value) -> String {
    match data {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

/// Decodes a text frame. Anything malformed, of an unknown type, or an order
/// update for something the desk does not trade is an error value.
pub fn parse_text(text: &str) -> Result<KiteText, TickerError> {
    let frame: TextFrame = parse_json(text).map_err(|e| TickerError::BadText(e.to_string()))?;
    match frame.kind.as_str() {
        "order" => {
            let order =
                KiteOrder::deserialize(frame.data).map_err(|e| TickerError::BadText(format!("order update: {e}")))?;
            Ok(KiteText::Order(Box::new(BrokerOrder::try_from(&order)?)))
        }
        "error" => Ok(KiteText::Error(text_of(frame.data))),
        "message" => Ok(KiteText::Message(text_of(frame.data))),
        other => Err(TickerError::UnknownTextType(other.to_string())),
    }
}

/// `{"a":"subscribe","v":[tokens]}`: start streaming these instruments (in quote mode).
pub fn subscribe_message(tokens: &[u32]) -> String {
    serde_json::json!({ "a": "subscribe", "v": tokens }).to_string()
}

/// `{"a":"unsubscribe","v":[tokens]}`.
pub fn unsubscribe_message(tokens: &[u32]) -> String {
    serde_json::json!({ "a": "unsubscribe", "v": tokens }).to_string()
}

/// `{"a":"mode","v":["full",[tokens]]}`: how much to stream for these instruments.
pub fn mode_message(mode: TickMode, tokens: &[u32]) -> String {
    serde_json::json!({ "a": "mode", "v": [mode.as_str(), tokens] }).to_string()
}

/// Frames a list of packets: count, then length and bytes of each. `None`
/// past 65,535 packets or a packet past 65,535 bytes, which the count and
/// lengths cannot say.
pub fn encode_frame(packets: &[Vec<u8>]) -> Option<Vec<u8>> {
    let mut out = u16::try_from(packets.len()).ok()?.to_be_bytes().to_vec();
    for p in packets {
        out.extend(u16::try_from(p.len()).ok()?.to_be_bytes());
        out.extend(p);
    }
    Some(out)
}

/// One packet in the layout its `mode` and `index` say, from the documented
/// layout (the inverse of [`parse_binary`]). `None` when the layout needs a
/// field the tick lacks (a quote's OHLC, a full packet's depth) or a value
/// does not fit its bytes.
pub fn encode_packet(t: &KiteTick) -> Option<Vec<u8>> {
    let scale = price_scale(t.instrument_token);
    let px = |d: Decimal| -> Option<[u8; 4]> {
        let mut d = d;
        d.rescale(scale);
        Some(i32::try_from(d.mantissa()).ok()?.to_be_bytes())
    };
    let secs = |at: Option<DateTime<Utc>>| -> Option<[u8; 4]> {
        Some(u32::try_from(at.map_or(0, |a| a.timestamp())).ok()?.to_be_bytes())
    };
    let mut p = t.instrument_token.to_be_bytes().to_vec();
    p.extend(px(t.last_price)?);
    if t.mode == TickMode::Ltp {
        return Some(p);
    }
    let ohlc = t.ohlc?;
    if t.index {
        for v in [ohlc.high, ohlc.low, ohlc.open, ohlc.close, t.change?] {
            p.extend(px(v)?);
        }
        if t.mode == TickMode::Full {
            p.extend(secs(t.exchange_timestamp)?);
        }
        return Some(p);
    }
    p.extend(t.last_quantity?.to_be_bytes());
    p.extend(px(t.average_price?)?);
    for q in [t.volume, t.buy_quantity, t.sell_quantity] {
        p.extend(q?.to_be_bytes());
    }
    for v in [ohlc.open, ohlc.high, ohlc.low, ohlc.close] {
        p.extend(px(v)?);
    }
    if t.mode == TickMode::Full {
        p.extend(secs(t.last_trade_time)?);
        for q in [t.open_interest, t.oi_day_high, t.oi_day_low] {
            p.extend(q?.to_be_bytes());
        }
        p.extend(secs(t.exchange_timestamp)?);
        let depth = t.depth.as_ref()?;
        for e in depth.buy.iter().chain(&depth.sell) {
            p.extend(u32::try_from(e.quantity).ok()?.to_be_bytes());
            p.extend(px(e.price)?);
            p.extend(u16::try_from(e.orders).ok()?.to_be_bytes());
            p.extend([0, 0]);
        }
    }
    Some(p)
}

/// The encoder as this module's tests and the WebSocket stream's use it.
#[cfg(test)]
pub(crate) mod testing {
    use rust_decimal::Decimal;

    use super::{KiteTick, TickMode};

    /// A tick with only the fields of an LTP packet; set the rest for other layouts.
    pub(crate) fn tick(token: u32, mode: TickMode, index: bool, last_price: Decimal) -> KiteTick {
        KiteTick::new(token, mode, index, last_price)
    }

    pub(crate) fn frame(packets: &[Vec<u8>]) -> Vec<u8> {
        super::encode_frame(packets).expect("the test's packets fit a frame")
    }

    pub(crate) fn encode(t: &KiteTick) -> Vec<u8> {
        super::encode_packet(t).expect("the test's tick has its layout's fields")
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    use super::testing::{encode, frame};
    use super::*;
    use crate::model::parse_ist;
    use xcoin_model::order::{OrderStatus, OrderType, Product, Side, Validity};

    fn fixture(name: &str) -> serde_json::Value {
        parse_json(&xcoin_testkit::http::fixture(name)).unwrap()
    }

    /// A fixture number (quoted by [`parse_json`] when fractional) as a Decimal.
    fn num(v: &serde_json::Value) -> Decimal {
        match v {
            serde_json::Value::String(s) => s.parse().unwrap(),
            other => other.to_string().parse().unwrap(),
        }
    }

    fn int(v: &serde_json::Value) -> u32 {
        u32::try_from(v.as_u64().unwrap()).unwrap()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    /// A price as the wire integer for an NSE token.
    fn paise(v: Decimal) -> i32 {
        i32::try_from((v * dec!(100)).normalize().mantissa()).unwrap()
    }

    #[test]
    fn an_ltp_frame_byte_by_byte() {
        // INFY (408065 = 0x00063A01, segment 1) at 1573.15 (157315 = 0x00026683 paise).
        let bytes = [0x00, 0x01, 0x00, 0x08, 0x00, 0x06, 0x3A, 0x01, 0x00, 0x02, 0x66, 0x83];
        let ticks = parse_binary(&bytes).unwrap();
        let f = fixture("ticker_ltp.json");
        assert_eq!(ticks, [KiteTick::new(int(&f["instrument_token"]), TickMode::Ltp, false, num(&f["last_price"]))]);
        assert_eq!((ticks[0].instrument_token, ticks[0].last_price), (408065, dec!(1573.15)));
        assert!(ticks[0].tradable());
    }

    #[test]
    fn a_quote_frame_matches_the_fixture() {
        let f = fixture("ticker_quote.json");
        let ohlc = &f["ohlc"];
        let mut packet = Vec::new();
        packet.extend(int(&f["instrument_token"]).to_be_bytes()); // 0..4
        packet.extend(paise(num(&f["last_price"])).to_be_bytes()); // 4..8
        packet.extend(int(&f["last_quantity"]).to_be_bytes()); // 8..12
        packet.extend(paise(num(&f["average_price"])).to_be_bytes()); // 12..16
        packet.extend(int(&f["volume"]).to_be_bytes()); // 16..20
        packet.extend(int(&f["buy_quantity"]).to_be_bytes()); // 20..24
        packet.extend(int(&f["sell_quantity"]).to_be_bytes()); // 24..28
        for k in ["open", "high", "low", "close"] {
            packet.extend(paise(num(&ohlc[k])).to_be_bytes()); // 28..44
        }
        assert_eq!(packet.len(), PACKET_QUOTE);
        let t = parse_binary(&frame(&[packet])).unwrap().remove(0);
        assert_eq!((t.mode, t.index, t.instrument_token), (TickMode::Quote, false, 408065));
        assert_eq!((t.last_price, t.average_price), (dec!(1573.15), Some(dec!(1570.33))));
        assert_eq!((t.last_quantity, t.volume), (Some(1), Some(1175986)));
        assert_eq!((t.buy_quantity, t.sell_quantity), (Some(256511), Some(360503)));
        assert_eq!(
            t.ohlc,
            Some(Ohlc { open: dec!(1569.15), high: dec!(1575), low: dec!(1561.05), close: dec!(1567.8) })
        );
        assert_eq!((t.depth, t.exchange_timestamp, t.change), (None, None, None));
    }

    #[test]
    fn a_full_frame_with_depth_matches_the_fixture() {
        let f = fixture("ticker_full.json");
        let ohlc = &f["ohlc"];
        let secs = |k: &str| u32::try_from(parse_ist(f[k].as_str().unwrap()).unwrap().timestamp()).unwrap();
        let mut packet = Vec::new();
        packet.extend(int(&f["instrument_token"]).to_be_bytes());
        packet.extend(paise(num(&f["last_price"])).to_be_bytes());
        packet.extend(int(&f["last_quantity"]).to_be_bytes());
        packet.extend(paise(num(&f["average_price"])).to_be_bytes());
        for k in ["volume", "buy_quantity", "sell_quantity"] {
            packet.extend(int(&f[k]).to_be_bytes());
        }
        for k in ["open", "high", "low", "close"] {
            packet.extend(paise(num(&ohlc[k])).to_be_bytes());
        }
        packet.extend(secs("last_trade_time").to_be_bytes()); // 44..48
        for k in ["oi", "oi_day_high", "oi_day_low"] {
            packet.extend(int(&f[k]).to_be_bytes()); // 48..60
        }
        packet.extend(secs("timestamp").to_be_bytes()); // 60..64
        for side in ["buy", "sell"] {
            for e in f["depth"][side].as_array().unwrap() {
                packet.extend(int(&e["quantity"]).to_be_bytes());
                packet.extend(paise(num(&e["price"])).to_be_bytes());
                packet.extend(u16::try_from(e["orders"].as_u64().unwrap()).unwrap().to_be_bytes());
                packet.extend([0, 0]);
            }
        }
        assert_eq!(packet.len(), PACKET_FULL);
        let t = parse_binary(&frame(&[packet])).unwrap().remove(0);
        assert_eq!((t.mode, t.index, t.last_price, t.last_quantity), (TickMode::Full, false, dec!(1573.7), Some(7)));
        // 10:41:27 IST.
        assert_eq!(t.last_trade_time, Some(utc(2021, 7, 5, 5, 11, 27)));
        assert_eq!(t.exchange_timestamp, Some(utc(2021, 7, 5, 5, 11, 27)));
        assert_eq!((t.open_interest, t.oi_day_high, t.oi_day_low), (Some(0), Some(0), Some(0)));
        let depth = t.depth.as_ref().unwrap();
        assert_eq!(depth.buy[0], DepthEntry { price: dec!(1573.4), quantity: 5, orders: 1 });
        assert_eq!(depth.buy[4], DepthEntry { price: dec!(1572.85), quantity: 50, orders: 1 });
        assert_eq!(depth.sell[0], DepthEntry { price: dec!(1573.7), quantity: 172, orders: 3 });
        assert_eq!(depth.sell[4], DepthEntry { price: dec!(1573.95), quantity: 724, orders: 5 });
        assert_eq!((depth.buy.len(), depth.sell.len()), (5, 5));

        let instruments = HashMap::from([(408065, ("INFY".to_string(), Exchange::Nse))]);
        assert_eq!(
            t.to_tick(&instruments, utc(2021, 7, 5, 5, 12, 0)),
            Some(Tick {
                symbol: "INFY".into(),
                exchange: Exchange::Nse,
                last_price: dec!(1573.7),
                at: utc(2021, 7, 5, 5, 11, 27)
            })
        );
        assert_eq!(t.to_tick(&HashMap::new(), utc(2021, 7, 5, 5, 12, 0)), None);
    }

    #[test]
    fn an_index_quote_as_nse_sent_it() {
        // NIFTY 50 (256265 = 0x0003E909, segment 9), a 28-byte packet posted on Kite's forum.
        let bytes = [
            0, 1, 0, 28, 0, 3, 233, 9, 0, 13, 237, 45, 0, 13, 253, 24, 0, 13, 233, 14, 0, 13, 252, 215, 0, 13, 237, 45,
            255, 255, 255, 220,
        ];
        let t = parse_binary(&bytes).unwrap().remove(0);
        assert_eq!((t.instrument_token, t.segment(), t.tradable()), (256265, SEGMENT_INDICES, false));
        assert_eq!((t.mode, t.index, t.last_price), (TickMode::Quote, true, dec!(9126.85)));
        assert_eq!(
            t.ohlc,
            Some(Ohlc { high: dec!(9167.60), low: dec!(9116.30), open: dec!(9166.95), close: dec!(9126.85) })
        );
        assert_eq!(t.change, Some(dec!(-0.36)));
        assert_eq!((t.volume, t.exchange_timestamp), (None, None));
        // Received time stands in for the missing exchange timestamp.
        let instruments = HashMap::from([(256265, ("NIFTY 50".to_string(), Exchange::Nse))]);
        let received = utc(2017, 3, 1, 4, 0, 0);
        assert_eq!(t.to_tick(&instruments, received).unwrap().at, received);
    }

    #[test]
    fn an_index_full_packet_adds_the_exchange_timestamp() {
        let mut packet = 256265u32.to_be_bytes().to_vec();
        for v in [2_210_050i32, 2_215_000, 2_195_025, 2_200_000, 2_198_010, 12_040] {
            packet.extend(v.to_be_bytes());
        }
        packet.extend(1_717_389_000u32.to_be_bytes()); // 2024-06-03 04:30:00 UTC
        let t = parse_binary(&frame(&[packet])).unwrap().remove(0);
        assert_eq!(
            (t.mode, t.index, t.last_price, t.change),
            (TickMode::Full, true, dec!(22100.50), Some(dec!(120.40)))
        );
        assert_eq!(t.ohlc.unwrap().open, dec!(22000.00));
        assert_eq!(t.exchange_timestamp, Some(utc(2024, 6, 3, 4, 30, 0)));
    }

    #[test]
    fn currency_prices_use_their_own_scale() {
        // USDINR (412675, segment 3) at 72.755; a BSE currency token (segment 6) at 83.1234.
        let cds = [412675u32.to_be_bytes(), 727_550_000i32.to_be_bytes()].concat();
        let bcd = [(0x1200u32 | SEGMENT_BCD).to_be_bytes(), 831_234i32.to_be_bytes()].concat();
        let ticks = parse_binary(&frame(&[cds, bcd])).unwrap();
        assert_eq!((ticks[0].segment(), ticks[0].last_price), (SEGMENT_CDS, dec!(72.755)));
        assert_eq!((ticks[1].segment(), ticks[1].last_price), (SEGMENT_BCD, dec!(83.1234)));
    }

    #[test]
    fn a_multi_packet_frame_keeps_order_and_kinds() {
        let ltp = KiteTick::new(408065, TickMode::Ltp, false, dec!(1573.15));
        let mut quote = KiteTick::new(779521, TickMode::Quote, false, dec!(812.40));
        quote.last_quantity = Some(10);
        quote.average_price = Some(dec!(810.05));
        quote.volume = Some(3_000_000_000); // beyond i32: volumes are unsigned
        quote.buy_quantity = Some(1);
        quote.sell_quantity = Some(2);
        quote.ohlc = Some(Ohlc { open: dec!(800), high: dec!(815), low: dec!(799.5), close: dec!(805.25) });
        let mut index = KiteTick::new(256265, TickMode::Quote, true, dec!(22100.50));
        index.ohlc = Some(Ohlc { open: dec!(22000), high: dec!(22150), low: dec!(21950.25), close: dec!(21980) });
        index.change = Some(dec!(-12.5));
        let ticks = vec![ltp, quote, index];
        let bytes = frame(&ticks.iter().map(encode).collect::<Vec<_>>());
        assert_eq!(bytes.len(), 2 + (2 + 8) + (2 + 44) + (2 + 28));
        assert_eq!(parse_binary(&bytes), Ok(ticks));
    }

    #[test]
    fn heartbeats_and_empty_frames_carry_no_ticks() {
        assert_eq!(parse_binary(&[0x00]), Ok(vec![]));
        assert_eq!(parse_binary(&[]), Ok(vec![]));
        assert_eq!(parse_binary(&[0, 0]), Ok(vec![]));
    }

    #[test]
    fn frames_that_do_not_add_up_are_errors_naming_the_offset() {
        let ltp = [408065u32.to_be_bytes(), 157315i32.to_be_bytes()].concat();
        assert_eq!(parse_binary(&frame(std::slice::from_ref(&ltp))).map(|t| t.len()), Ok(1));
        // Two packets promised, one present.
        let mut two = frame(std::slice::from_ref(&ltp));
        two[1] = 2;
        let err = parse_binary(&two).unwrap_err();
        assert_eq!(
            err,
            TickerError::Truncated { packet: 2, count: 2, what: "the length", offset: 12, end: 14, available_to: 12 }
        );
        assert_eq!(err.to_string(), "ticker frame ends at byte 12: the length of packet 2 of 2 needs bytes 12..14");

        // A length that runs past the end.
        let mut long = frame(std::slice::from_ref(&ltp));
        long[3] = 44;
        assert_eq!(
            parse_binary(&long),
            Err(TickerError::Truncated { packet: 1, count: 1, what: "the body", offset: 4, end: 48, available_to: 12 })
        );

        // A cut-off full packet.
        let full = frame(&[vec![0; PACKET_FULL]]);
        assert!(matches!(parse_binary(&full[..100]), Err(TickerError::Truncated { end: 188, available_to: 100, .. })));

        // A size no layout has.
        let odd = frame(&[ltp.clone(), vec![0; 12]]);
        let err = parse_binary(&odd).unwrap_err();
        assert_eq!(err, TickerError::UnknownPacketLength { packet: 2, count: 2, offset: 14, length: 12 });
        assert_eq!(
            err.to_string(),
            "ticker packet 2 of 2 at byte 14 is 12 bytes long; known sizes are 8, 28, 32, 44 and 184"
        );

        // Bytes after the last packet.
        let mut trailing = frame(&[ltp]);
        trailing.extend([1, 2, 3]);
        assert_eq!(parse_binary(&trailing), Err(TickerError::TrailingBytes { count: 1, offset: 12, extra: 3 }));

        // A count of 65535 with nothing behind it.
        assert!(matches!(parse_binary(&[0xff, 0xff]), Err(TickerError::Truncated { packet: 1, count: 65535, .. })));
    }

    #[test]
    fn an_order_update_text_maps_to_a_broker_order() {
        let postback = xcoin_testkit::http::fixture("postback.json");
        let text = format!(r#"{{"type": "order", "data": {postback}}}"#);
        let KiteText::Order(order) = parse_text(&text).unwrap() else { panic!("an order update") };
        assert_eq!(order.broker_order_id, "220303000308932");
        assert_eq!((order.symbol.as_str(), order.exchange, order.side), ("SBIN", Exchange::Nse, Side::Buy));
        assert_eq!((order.order_type, order.product, order.validity), (OrderType::Market, Product::Cnc, Validity::Day));
        assert_eq!(
            (order.status, order.filled_quantity, order.average_price),
            (OrderStatus::Filled, 1, Some(dec!(470)))
        );
        assert_eq!(order.updated_at, utc(2022, 3, 3, 3, 54, 25));

        let partial = text
            .replace(r#""status": "COMPLETE""#, r#""status": "UPDATE""#)
            .replace(r#""average_price": 470"#, r#""average_price": 470.05"#);
        let KiteText::Order(order) = parse_text(&partial).unwrap() else { panic!("an order update") };
        assert_eq!((order.status, order.average_price), (OrderStatus::PartiallyFilled, Some(dec!(470.05))));

        let mcx = text.replace(r#""exchange": "NSE""#, r#""exchange": "MCX""#);
        assert!(matches!(
            parse_text(&mcx),
            Err(TickerError::Order(MapError::Unsupported { field: "exchange", ref value, .. })) if value == "MCX"
        ));
    }

    #[test]
    fn error_and_message_texts_and_malformed_ones() {
        assert_eq!(
            parse_text(r#"{"type":"error","data":"Invalid access token"}"#),
            Ok(KiteText::Error("Invalid access token".into()))
        );
        assert_eq!(
            parse_text(r#"{"type":"message","data":"Markets open at 09:15"}"#),
            Ok(KiteText::Message("Markets open at 09:15".into()))
        );
        assert_eq!(
            parse_text(r#"{"type":"instruments_meta","data":{}}"#),
            Err(TickerError::UnknownTextType("instruments_meta".into()))
        );
        assert!(matches!(parse_text("not json"), Err(TickerError::BadText(_))));
        assert!(matches!(parse_text(r#"{"data":"no type"}"#), Err(TickerError::BadText(_))));
        let incomplete = parse_text(r#"{"type":"order","data":{"order_id":"1"}}"#);
        assert!(matches!(incomplete, Err(TickerError::BadText(m)) if m.starts_with("order update: missing field")));
    }

    #[test]
    fn requests_serialize_as_kite_expects() {
        assert_eq!(subscribe_message(&[408065, 884737]), r#"{"a":"subscribe","v":[408065,884737]}"#);
        assert_eq!(unsubscribe_message(&[408065]), r#"{"a":"unsubscribe","v":[408065]}"#);
        assert_eq!(mode_message(TickMode::Full, &[408065]), r#"{"a":"mode","v":["full",[408065]]}"#);
        assert_eq!(mode_message(TickMode::Ltp, &[1, 2]), r#"{"a":"mode","v":["ltp",[1,2]]}"#);
        assert_eq!(mode_message(TickMode::Quote, &[]), r#"{"a":"mode","v":["quote",[]]}"#);
    }

    /// Lengths near the real sizes, and some that are no size at all.
    fn packet_length() -> impl Strategy<Value = u16> {
        prop::sample::select(vec![0u16, 1, 7, 8, 9, 28, 32, 44, 183, 184, 185, 400])
    }

    fn depth_entry() -> impl Strategy<Value = (u32, i32, u16)> {
        (any::<u32>(), any::<i32>(), any::<u16>())
    }

    prop_compose! {
        fn arbitrary_tick()(
            token in any::<u32>(),
            layout in 0usize..5,
            prices in prop::array::uniform7(any::<i32>()),
            counts in prop::array::uniform8(any::<u32>()),
            book in prop::collection::vec(depth_entry(), 10),
        ) -> KiteTick {
            let scale = price_scale(token);
            let px = |raw: i32| Decimal::new(i64::from(raw), scale);
            let (mode, index) = [(TickMode::Ltp, false), (TickMode::Quote, true), (TickMode::Full, true),
                (TickMode::Quote, false), (TickMode::Full, false)][layout];
            let mut t = KiteTick::new(token, mode, index, px(prices[0]));
            if mode == TickMode::Ltp {
                return t;
            }
            t.ohlc = Some(Ohlc { open: px(prices[1]), high: px(prices[2]), low: px(prices[3]), close: px(prices[4]) });
            if index {
                t.change = Some(px(prices[5]));
                if mode == TickMode::Full {
                    t.exchange_timestamp = epoch(counts[0]);
                }
                return t;
            }
            t.last_quantity = Some(counts[1]);
            t.average_price = Some(px(prices[6]));
            t.volume = Some(counts[2]);
            t.buy_quantity = Some(counts[3]);
            t.sell_quantity = Some(counts[4]);
            if mode == TickMode::Full {
                t.last_trade_time = epoch(counts[5]);
                t.open_interest = Some(counts[6]);
                t.oi_day_high = Some(counts[7]);
                t.oi_day_low = Some(counts[0]);
                t.exchange_timestamp = epoch(counts[1]);
                let entries: Vec<DepthEntry> = book.iter().map(|&(q, p, o)| DepthEntry {
                    quantity: i64::from(q), price: px(p), orders: i64::from(o),
                }).collect();
                t.depth = Some(Depth { buy: entries[..5].to_vec(), sell: entries[5..].to_vec() });
            }
            t
        }
    }

    proptest! {
        #[test]
        fn encoded_frames_decode_to_the_same_ticks(ticks in prop::collection::vec(arbitrary_tick(), 0..6)) {
            let bytes = frame(&ticks.iter().map(encode).collect::<Vec<_>>());
            prop_assert_eq!(parse_binary(&bytes), Ok(ticks));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_binary(&bytes);
        }

        #[test]
        fn frames_with_plausible_headers_never_panic(
            count in 0u16..6,
            packets in prop::collection::vec((packet_length(), prop::collection::vec(any::<u8>(), 0..200)), 0..6),
        ) {
            let mut bytes = count.to_be_bytes().to_vec();
            for (len, body) in &packets {
                bytes.extend(len.to_be_bytes());
                bytes.extend(body);
            }
            match parse_binary(&bytes) {
                Ok(ticks) => prop_assert_eq!(ticks.len(), usize::from(count)),
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,80}") {
            let _ = parse_text(&text);
            let _ = parse_text(&format!(r#"{{"type":"order","data":{text}}}"#));
        }
    }
}
