//! Row decoding for the database layer (the `sqlx` feature): how each model
//! type is read from its table and how the closed vocabularies travel as TEXT.
//! The only file of the model that knows sqlx; every other one is pure.

use rust_decimal::Decimal;
use sqlx::postgres::{PgRow, Postgres};
use sqlx::{Column, FromRow, Row};

use crate::charges::Charges;
use crate::order::Order;
use crate::position::{Position, PositionBook};
use crate::reconciliation::Issue;
use crate::strategy::Strategy;
use crate::trade::Trade;

/// The columns an [`Order`] is read from, in the order they are decoded (by
/// position: a lookup by name for each column of each row cost more than the
/// values). The status history is not among them: only an order's detail
/// shows it, read by the database layer's `order_history`. Debug builds check the names.
#[macro_export]
macro_rules! order_columns {
    () => {
        "id, strategy_id, parent_order_id, symbol, exchange, side, order_type, product, validity, quantity, \
         filled_quantity, price, trigger_price, average_price, stop_loss, take_profit, risk_amount, status, \
         status_reason, broker, broker_order_id, placed_by, created_at, updated_at, submitted_at, completed_at, \
         modifications, trigger_pending"
    };
}

/// One column by position, through sqlx's decoders (checked against the
/// column's type).
fn get<'r, T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
    row: &'r PgRow,
    index: usize,
) -> sqlx::Result<T> {
    row.try_get(index)
}

impl<'r> FromRow<'r, PgRow> for Order {
    /// Working orders are the desk's most read rows (every snapshot, every
    /// page of the day), so they are read from the server's binary format by
    /// [`binary::order`], which does per column what sqlx's generic decoders
    /// do, without their per-value error plumbing, allocation (a numeric's
    /// digits) and calendar arithmetic: about half the time per row. Debug
    /// builds (every test) also decode each order through sqlx and insist
    /// the two agree; a row in text format (the simple protocol) goes through
    /// sqlx only.
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        debug_assert!(
            {
                let names = order_columns!().split(", ").map(str::trim);
                names.clone().eq(row.columns().iter().take(names.count()).map(|c| c.name()))
            },
            "an orders query must select order_columns!() first"
        );
        let binary = row.try_get_raw(0)?.format() == sqlx::postgres::PgValueFormat::Binary;
        if !binary {
            return order_by_sqlx(row);
        }
        let order = binary::order(row).map_err(|(index, source)| sqlx::Error::ColumnDecode {
            index: format!("{index} ({})", row.columns().get(index).map_or("?", |c| c.name())),
            source,
        })?;
        #[cfg(debug_assertions)]
        assert_eq!(order, order_by_sqlx(row)?, "the binary order reader and sqlx disagree");
        Ok(order)
    }
}

/// An order through sqlx's decoders, column by column.
fn order_by_sqlx(row: &PgRow) -> sqlx::Result<Order> {
    Ok(Order {
        id: get(row, 0)?,
        strategy_id: get(row, 1)?,
        parent_order_id: get(row, 2)?,
        symbol: get(row, 3)?,
        exchange: get(row, 4)?,
        side: get(row, 5)?,
        order_type: get(row, 6)?,
        product: get(row, 7)?,
        validity: get(row, 8)?,
        quantity: get(row, 9)?,
        filled_quantity: get(row, 10)?,
        price: get(row, 11)?,
        trigger_price: get(row, 12)?,
        average_price: get::<Option<Decimal>>(row, 13)?.map(|d| d.normalize()),
        stop_loss: get(row, 14)?,
        take_profit: get(row, 15)?,
        risk_amount: get(row, 16)?,
        status: get(row, 17)?,
        status_reason: get(row, 18)?,
        broker: get(row, 19)?,
        broker_order_id: get(row, 20)?,
        placed_by: get(row, 21)?,
        created_at: get(row, 22)?,
        updated_at: get(row, 23)?,
        submitted_at: get(row, 24)?,
        completed_at: get(row, 25)?,
        modifications: get(row, 26)?,
        trigger_pending: get(row, 27)?,
    })
}

/// PostgreSQL's binary formats for the column types an order has: `bigint`,
/// `integer`, `boolean`, `text` (and the enums stored as text), `timestamptz`
/// and `numeric`. The types themselves are the schema's, which every test
/// runs against with [`order_by_sqlx`] checking this reader.
mod binary {
    use super::*;
    use chrono::{DateTime, Utc};

    type Failed = (usize, sqlx::error::BoxDynError);

    /// A column's bytes; `None` for NULL.
    fn raw(row: &PgRow, i: usize) -> Result<Option<&[u8]>, Failed> {
        let v = row.try_get_raw(i).map_err(|e| (i, e.into()))?;
        if sqlx::ValueRef::is_null(&v) { Ok(None) } else { v.as_bytes().map(Some).map_err(|e| (i, e)) }
    }

    fn some<T>(i: usize, v: Option<T>) -> Result<T, Failed> {
        v.ok_or_else(|| (i, "unexpected NULL".into()))
    }

    fn fixed<const N: usize>(i: usize, b: &[u8]) -> Result<[u8; N], Failed> {
        b.try_into().map_err(|_| (i, format!("{} bytes where {N} were expected", b.len()).into()))
    }

    fn int8(row: &PgRow, i: usize) -> Result<Option<i64>, Failed> {
        raw(row, i)?.map(|b| Ok(i64::from_be_bytes(fixed(i, b)?))).transpose()
    }

    fn int4(row: &PgRow, i: usize) -> Result<Option<i32>, Failed> {
        raw(row, i)?.map(|b| Ok(i32::from_be_bytes(fixed(i, b)?))).transpose()
    }

    fn text(row: &PgRow, i: usize) -> Result<Option<&str>, Failed> {
        raw(row, i)?.map(|b| std::str::from_utf8(b).map_err(|e| (i, e.into()))).transpose()
    }

    /// A closed vocabulary, spelled as the schema's CHECK keeps it.
    fn word<T: std::str::FromStr + Copy + 'static>(
        row: &PgRow,
        i: usize,
        all: &'static [T],
        spell: fn(T) -> &'static str,
    ) -> Result<T, Failed>
    where
        T::Err: std::error::Error + Send + Sync + 'static,
    {
        let b = some(i, raw(row, i)?)?;
        match all.iter().find(|v| spell(**v).as_bytes() == b) {
            Some(v) => Ok(*v),
            None => std::str::from_utf8(b).map_err(|e| (i, e.into()))?.parse().map_err(|e: T::Err| (i, e.into())),
        }
    }

    /// Microseconds from 2000-01-01 00:00 UTC, PostgreSQL's epoch.
    fn timestamptz(row: &PgRow, i: usize) -> Result<Option<DateTime<Utc>>, Failed> {
        const POSTGRES_EPOCH_US: i64 = 946_684_800_000_000;
        raw(row, i)?
            .map(|b| {
                let us = i64::from_be_bytes(fixed(i, b)?);
                us.checked_add(POSTGRES_EPOCH_US)
                    .and_then(DateTime::from_timestamp_micros)
                    .ok_or_else(|| (i, format!("timestamp {us} µs from 2000 is out of range").into()))
            })
            .transpose()
    }

    /// `numeric`: digit count, weight (of the first base-10,000 digit), sign,
    /// display scale, then the digits. The value is the digits' sum, each
    /// times 10,000^(weight − position); as a [`Decimal`] it keeps the display
    /// scale, as sqlx's reader does (a `numeric(12, 2)` of 1000 is 1000.00).
    fn numeric(b: &[u8]) -> Result<Decimal, sqlx::error::BoxDynError> {
        let header = |k: usize| -> Result<u16, sqlx::error::BoxDynError> {
            Ok(u16::from_be_bytes(b.get(k..k + 2).ok_or("numeric shorter than its header")?.try_into()?))
        };
        let (ndigits, weight, sign, dscale) = (header(0)? as usize, header(2)? as i16, header(4)?, header(6)?);
        if b.len() != 8 + 2 * ndigits {
            return Err(format!("numeric of {} bytes for {ndigits} digits", b.len()).into());
        }
        let negative = match sign {
            0x0000 => false,
            0x4000 => true,
            _ => return Err("numeric is NaN or infinite".into()),
        };
        if dscale > Decimal::MAX_SCALE as u16 {
            return Err(format!("numeric scale {dscale} exceeds {}", Decimal::MAX_SCALE).into());
        }
        let overflow = || -> sqlx::error::BoxDynError { "numeric out of a Decimal's range".into() };
        let mut mantissa: i128 = 0;
        for k in 0..ndigits {
            let digit = i128::from(u16::from_be_bytes([b[8 + 2 * k], b[9 + 2 * k]]));
            if digit >= 10_000 {
                return Err(format!("numeric digit {digit} is not base 10,000").into());
            }
            // This digit's power of ten in the value scaled by 10^dscale.
            let power = 4 * (i32::from(weight) - k as i32) + i32::from(dscale);
            let term = if power >= 0 {
                10i128.checked_pow(power as u32).and_then(|p| digit.checked_mul(p)).ok_or_else(overflow)?
            } else {
                // Below the display scale: PostgreSQL pads the last digit with
                // zeros there, so this divides exactly.
                let p = 10i128.checked_pow(power.unsigned_abs()).ok_or_else(overflow)?;
                if digit % p != 0 {
                    return Err("numeric has digits beyond its scale".into());
                }
                digit / p
            };
            mantissa = mantissa.checked_add(term).ok_or_else(overflow)?;
        }
        if negative {
            mantissa = -mantissa;
        }
        Decimal::try_from_i128_with_scale(mantissa, u32::from(dscale)).map_err(|_| overflow())
    }

    fn decimal(row: &PgRow, i: usize) -> Result<Option<Decimal>, Failed> {
        raw(row, i)?.map(|b| numeric(b).map_err(|e| (i, e))).transpose()
    }

    pub(super) fn order(row: &PgRow) -> Result<Order, Failed> {
        Ok(Order {
            id: some(0, int8(row, 0)?)?,
            strategy_id: some(1, int8(row, 1)?)?,
            parent_order_id: int8(row, 2)?,
            symbol: some(3, text(row, 3)?)?.to_owned(),
            exchange: word(row, 4, Exchange::ALL, Exchange::as_str)?,
            side: word(row, 5, Side::ALL, Side::as_str)?,
            order_type: word(row, 6, OrderType::ALL, OrderType::as_str)?,
            product: word(row, 7, Product::ALL, Product::as_str)?,
            validity: word(row, 8, Validity::ALL, Validity::as_str)?,
            quantity: some(9, int8(row, 9)?)?,
            filled_quantity: some(10, int8(row, 10)?)?,
            price: decimal(row, 11)?,
            trigger_price: decimal(row, 12)?,
            average_price: decimal(row, 13)?.map(|d| d.normalize()),
            stop_loss: decimal(row, 14)?,
            take_profit: decimal(row, 15)?,
            risk_amount: decimal(row, 16)?,
            status: word(row, 17, OrderStatus::ALL, OrderStatus::as_str)?,
            status_reason: text(row, 18)?.map(str::to_owned),
            broker: word(row, 19, BrokerKind::ALL, BrokerKind::as_str)?,
            broker_order_id: text(row, 20)?.map(str::to_owned),
            placed_by: some(21, text(row, 21)?)?.to_owned(),
            created_at: some(22, timestamptz(row, 22)?)?,
            updated_at: some(23, timestamptz(row, 23)?)?,
            submitted_at: timestamptz(row, 24)?,
            completed_at: timestamptz(row, 25)?,
            modifications: some(26, int4(row, 26)?)?,
            trigger_pending: some(27, raw(row, 27)?)?.first().is_some_and(|b| *b != 0),
        })
    }
}

impl<'r> FromRow<'r, PgRow> for Trade {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Trade {
            id: row.try_get("id")?,
            order_id: row.try_get("order_id")?,
            strategy_id: row.try_get("strategy_id")?,
            symbol: row.try_get("symbol")?,
            exchange: row.try_get("exchange")?,
            side: row.try_get("side")?,
            product: row.try_get("product")?,
            quantity: row.try_get("quantity")?,
            price: row.try_get("price")?,
            broker: row.try_get("broker")?,
            broker_trade_id: row.try_get("broker_trade_id")?,
            broker_order_id: row.try_get("broker_order_id")?,
            charges: Charges {
                brokerage: row.try_get("brokerage")?,
                stt: row.try_get("stt")?,
                exchange: row.try_get("exchange_charges")?,
                sebi: row.try_get("sebi_charges")?,
                gst: row.try_get("gst")?,
                stamp_duty: row.try_get("stamp_duty")?,
            },
            turnover: row.try_get("turnover")?,
            total_charges: row.try_get("total_charges")?,
            net_value: row.try_get("net_value")?,
            realized_pnl: normalized(row, "realized_pnl")?,
            traded_at: row.try_get("traded_at")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

impl<'r> FromRow<'r, PgRow> for Position {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Position {
            id: row.try_get("id")?,
            strategy_id: row.try_get("strategy_id")?,
            symbol: row.try_get("symbol")?,
            exchange: row.try_get("exchange")?,
            product: row.try_get("product")?,
            book: PositionBook {
                quantity: row.try_get("quantity")?,
                average_price: normalized(row, "average_price")?,
                cost: normalized(row, "cost_basis")?,
                realized_pnl: normalized(row, "realized_pnl")?,
                buy_quantity: row.try_get("buy_quantity")?,
                sell_quantity: row.try_get("sell_quantity")?,
                buy_value: normalized(row, "buy_value")?,
                sell_value: normalized(row, "sell_value")?,
            },
            last_price: row.try_get("last_price")?,
            unrealized_pnl: normalized(row, "unrealized_pnl")?,
            charges: row.try_get("charges")?,
            stop_loss: row.try_get("stop_loss")?,
            take_profit: row.try_get("take_profit")?,
            highest_price: row.try_get("highest_price")?,
            lowest_price: row.try_get("lowest_price")?,
            status: row.try_get("status")?,
            opened_at: row.try_get("opened_at")?,
            closed_at: row.try_get("closed_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

impl<'r> FromRow<'r, PgRow> for Strategy {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Strategy {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            strategy_type: row.try_get("strategy_type")?,
            mode: row.try_get("mode")?,
            is_active: row.try_get("is_active")?,
            capital_allocated: row.try_get("capital_allocated")?,
            parameters: row.try_get("parameters")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            paused_at: row.try_get("paused_at")?,
            paused_by: row.try_get("paused_by")?,
            paused_reason: row.try_get("paused_reason")?,
            instruments: row.try_get("instruments")?,
            max_positions: row.try_get("max_positions")?,
            max_daily_loss: row.try_get("max_daily_loss")?,
            last_decision: row.try_get("last_decision")?,
            last_decision_at: row.try_get("last_decision_at")?,
        })
    }
}

impl<'r> FromRow<'r, PgRow> for Issue {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Issue {
            id: row.try_get("id")?,
            issue_type: row.try_get("issue_type")?,
            symbol: row.try_get("symbol")?,
            exchange: row.try_get("exchange")?,
            product: row.try_get("product")?,
            position_id: row.try_get("position_id")?,
            local_quantity: row.try_get("local_quantity")?,
            broker_quantity: row.try_get("broker_quantity")?,
            local_avg_price: row.try_get("local_avg_price")?,
            broker_avg_price: row.try_get("broker_avg_price")?,
            details: row.try_get("details")?,
            status: row.try_get("status")?,
            resolution: row.try_get("resolution")?,
            resolved_by: row.try_get("resolved_by")?,
            resolved_at: row.try_get("resolved_at")?,
            resolution_note: row.try_get("resolution_note")?,
            adjustment: row.try_get("adjustment")?,
            seen_count: row.try_get("seen_count")?,
            first_seen_at: row.try_get("first_seen_at")?,
            last_seen_at: row.try_get("last_seen_at")?,
            order_id: row.try_get("order_id")?,
        })
    }
}

/// Reads a NUMERIC column without its trailing zeros: columns that keep ten
/// decimals for exactness (average prices, P&L) would otherwise print them all.
pub fn normalized(row: &sqlx::postgres::PgRow, column: &str) -> sqlx::Result<rust_decimal::Decimal> {
    use sqlx::Row;
    Ok(row.try_get::<rust_decimal::Decimal, _>(column)?.normalize())
}

/// String enums of the domain travel as TEXT, spelled as the schema's CHECKs.
macro_rules! text_enum {
    ($($t:ty),+ $(,)?) => {$(
        impl sqlx::Type<Postgres> for $t {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::Type<Postgres>>::compatible(ty)
            }
        }
        impl sqlx::postgres::PgHasArrayType for $t {
            fn array_type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }
        impl<'q> sqlx::Encode<'q, Postgres> for $t {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> std::result::Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'q, Postgres>>::encode_by_ref(&self.as_str(), buf)
            }
        }
        impl<'r> sqlx::Decode<'r, Postgres> for $t {
            fn decode(value: sqlx::postgres::PgValueRef<'r>) -> std::result::Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<'r, Postgres>>::decode(value)?;
                Ok(text.parse::<$t>()?)
            }
        }
    )+};
}

use crate::command::{CommandKind, CommandStatus, KillSwitchAction, KillSwitchTrigger};
use crate::event::{EventKind, EventLevel};
use crate::goals::{Goal, GoalAction};
use crate::order::{BrokerKind, Exchange, OrderStatus, OrderType, Product, Side, Validity};
use crate::position::PositionStatus;
use crate::reconciliation::{IssueStatus, IssueType, Resolution};
use crate::strategy::{StrategyType, TradingMode};

text_enum!(
    Side,
    OrderType,
    Product,
    Validity,
    Exchange,
    BrokerKind,
    OrderStatus,
    TradingMode,
    PositionStatus,
    StrategyType,
    IssueType,
    Resolution,
    IssueStatus,
    CommandKind,
    CommandStatus,
    KillSwitchAction,
    KillSwitchTrigger,
    EventLevel,
    EventKind,
    Goal,
    GoalAction,
);
