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

/// One column by position. Debug builds (every test) check the value's type
/// against the column's; release builds trust the schema those tests ran
/// against and skip the check on every value of every row.
fn get<'r, T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
    row: &'r PgRow,
    index: usize,
) -> sqlx::Result<T> {
    if cfg!(debug_assertions) { row.try_get(index) } else { row.try_get_unchecked(index) }
}

impl<'r> FromRow<'r, PgRow> for Order {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        debug_assert!(
            {
                let names = order_columns!().split(", ").map(str::trim);
                names.clone().eq(row.columns().iter().take(names.count()).map(|c| c.name()))
            },
            "an orders query must select order_columns!() first"
        );
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
