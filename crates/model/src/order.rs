//! Orders: the request a strategy or operator makes, the stored order, and the
//! lifecycle every status change must follow.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::enums::string_enum;
use super::is_on_tick;

string_enum!(
    /// Buy or sell.
    Side, "side" { Buy => "BUY", Sell => "SELL" }
);

impl Side {
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// +1 for a buy, −1 for a sell: the sign a fill gives a position's quantity.
    pub fn sign(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }
}

string_enum!(
    /// Kite's order types: MARKET, LIMIT, SL (stop-loss limit) and SL-M (stop-loss market).
    OrderType, "order_type" { Market => "MARKET", Limit => "LIMIT", StopLoss => "SL", StopLossMarket => "SL-M" }
);

impl OrderType {
    /// LIMIT and SL carry a limit price.
    pub fn needs_price(self) -> bool {
        matches!(self, OrderType::Limit | OrderType::StopLoss)
    }
    /// SL and SL-M carry a trigger price.
    pub fn needs_trigger(self) -> bool {
        matches!(self, OrderType::StopLoss | OrderType::StopLossMarket)
    }
}

string_enum!(
    /// MIS is intraday (squared off the same day); CNC is equity delivery; NRML is carry-forward.
    Product, "product" { Mis => "MIS", Cnc => "CNC", Nrml => "NRML" }
);

impl Product {
    pub fn is_intraday(self) -> bool {
        self == Product::Mis
    }
}

string_enum!(
    /// DAY stays until filled or the day ends; IOC cancels whatever does not fill at once.
    Validity, "validity" { Day => "DAY", Ioc => "IOC" }
);

string_enum!(
    /// The exchanges the desk trades equity on.
    Exchange, "exchange" { Nse => "NSE", Bse => "BSE" }
);

string_enum!(
    /// Which broker an order went to.
    BrokerKind, "broker" { Paper => "paper", Kite => "kite" }
);

/// Kite's most orders a day, per user, across every app: every call to the
/// placement endpoint counts (filled, cancelled or rejected); modifications
/// and cancellations do not (they have rate limits of their own, and at most
/// 25 modifications an order).
pub const KITE_ORDERS_PER_DAY: u32 = 5000;

/// The warning level a day's placements have reached against the broker's
/// daily limit: 90 or 80 (%), `None` below 80 %.
pub fn cap_warning(placed: i64, cap: i64) -> Option<u8> {
    if placed * 10 >= cap * 9 {
        Some(90)
    } else if placed * 10 >= cap * 8 {
        Some(80)
    } else {
        None
    }
}

impl BrokerKind {
    /// The broker's cap on write requests a day, if it has one.
    pub fn daily_write_cap(self) -> Option<u32> {
        match self {
            BrokerKind::Kite => Some(KITE_ORDERS_PER_DAY),
            BrokerKind::Paper => None,
        }
    }

    /// Today's placements, against the broker's daily limit where there is
    /// one: `412 of 5000 (8% used)`, and past 80 % a warning.
    pub fn writes_text(self, writes: i64) -> String {
        match self.daily_write_cap() {
            Some(cap) => {
                let cap = i64::from(cap);
                let warning = cap_warning(writes, cap)
                    .map_or(String::new(), |_| " — near the limit: new entries refused at it".to_string());
                format!("{writes} of {cap} ({}% used){warning}", writes * 100 / cap)
            }
            None => writes.to_string(),
        }
    }
}

string_enum!(
    /// Where an order is in its life. See [`OrderStatus::can_transition_to`].
    OrderStatus, "status" {
        Pending => "PENDING",
        Submitted => "SUBMITTED",
        Open => "OPEN",
        PartiallyFilled => "PARTIALLY_FILLED",
        Filled => "FILLED",
        Cancelled => "CANCELLED",
        Rejected => "REJECTED",
    }
);

impl OrderStatus {
    /// Active orders still can trade or be cancelled.
    pub const ACTIVE: [OrderStatus; 4] =
        [OrderStatus::Pending, OrderStatus::Submitted, OrderStatus::Open, OrderStatus::PartiallyFilled];

    pub fn is_terminal(self) -> bool {
        matches!(self, OrderStatus::Filled | OrderStatus::Cancelled | OrderStatus::Rejected)
    }

    pub fn is_active(self) -> bool {
        !self.is_terminal()
    }

    /// Working at the exchange, so quantity, price or trigger can be changed.
    pub fn can_be_modified(self) -> bool {
        matches!(self, OrderStatus::Open | OrderStatus::PartiallyFilled)
    }

    /// The lifecycle: `PENDING → SUBMITTED → OPEN → PARTIALLY_FILLED → FILLED`,
    /// and from any non-terminal state to `CANCELLED` or `REJECTED`.
    ///
    /// Once the broker has the order (SUBMITTED or later) it may move forward past
    /// states the broker never reported — a market order commonly goes straight
    /// from SUBMITTED to FILLED. Nothing moves backwards, nothing leaves a terminal
    /// state, and a PENDING order reaches the exchange-side states only through
    /// SUBMITTED, because an order is persisted before it is sent. Staying in the
    /// same state is not a transition. The database enforces the same table
    /// (`xcoin_order_transition_allowed`), and a test checks every pair against it.
    pub fn can_transition_to(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        if self.is_terminal() {
            return false;
        }
        match to {
            Cancelled | Rejected => true,
            Pending => false,
            Submitted => self == Pending,
            Open => self == Submitted,
            PartiallyFilled => matches!(self, Submitted | Open),
            Filled => matches!(self, Submitted | Open | PartiallyFilled),
        }
    }

    /// The status an order has after `filled` of `quantity` units have traded.
    pub fn after_fill(filled: i64, quantity: i64) -> OrderStatus {
        if filled >= quantity { OrderStatus::Filled } else { OrderStatus::PartiallyFilled }
    }
}

/// A refused status change, in words an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("order cannot go from {from} to {to}")]
pub struct TransitionError {
    pub from: OrderStatus,
    pub to: OrderStatus,
}

/// Checks a status change against the lifecycle.
pub fn check_transition(from: OrderStatus, to: OrderStatus) -> Result<(), TransitionError> {
    if from.can_transition_to(to) { Ok(()) } else { Err(TransitionError { from, to }) }
}

/// An invalid field of an order request: which field, and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        FieldError { field, message: message.into() }
    }
}

/// What a strategy or an operator asks to trade. Shape is checked by
/// [`OrderRequest::validate`]; risk is the pre-trade validator's business.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    pub strategy_id: i64,
    pub symbol: String,
    pub exchange: Exchange,
    pub side: Side,
    pub order_type: OrderType,
    pub product: Product,
    #[serde(default = "default_validity")]
    pub validity: Validity,
    pub quantity: i64,
    #[serde(default)]
    pub price: Option<Decimal>,
    #[serde(default)]
    pub trigger_price: Option<Decimal>,
    #[serde(default)]
    pub stop_loss: Option<Decimal>,
    #[serde(default)]
    pub take_profit: Option<Decimal>,
    #[serde(default)]
    pub parent_order_id: Option<i64>,
    /// Who asked: "engine", a strategy name, or an operator's name.
    pub placed_by: String,
}

fn default_validity() -> Validity {
    Validity::Day
}

/// The largest quantity one order may carry at all (the configured position
/// limit is usually far lower and is the risk validator's concern).
pub const MAX_ORDER_QUANTITY: i64 = 1_000_000;

/// The highest price (limit, trigger, stop or target) an order may carry:
/// ₹1 crore a share, far above any NSE equity.
pub const MAX_PRICE: Decimal = Decimal::from_parts(10_000_000, 0, 0, false, 0);

/// At most the first 24 characters of what was typed, for an error message
/// (a 5,000-character field is not echoed back whole).
pub fn quoted(text: &str) -> String {
    const SHOWN: usize = 24;
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(SHOWN).collect();
    if chars.next().is_some() {
        format!("`{head}…` ({} characters)", text.chars().count())
    } else {
        format!("`{head}`")
    }
}

impl OrderRequest {
    /// Checks the request's own shape: symbol spelling, a positive quantity,
    /// a price exactly when the type needs one, a trigger exactly when the type
    /// needs one, prices positive and on the tick. The first problem found is
    /// returned, naming its field. Long by design: it is the table of what
    /// a request may be, one rule after another in the order they are told.
    pub fn validate(&self, tick: Decimal) -> Result<(), FieldError> {
        let symbol_ok = !self.symbol.is_empty()
            && self.symbol.len() <= 32
            && self.symbol.chars().next().is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && self.symbol.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || "&_.-".contains(c));
        if !symbol_ok {
            return Err(FieldError::new(
                "symbol",
                format!(
                    "{} is not a trading symbol; use 1–32 capital letters, digits or & _ . -",
                    quoted(&self.symbol)
                ),
            ));
        }
        // NSE and BSE cash: intraday or delivery; NRML is for futures and options, and Kite refuses it here.
        if self.product == Product::Nrml {
            return Err(FieldError::new(
                "product",
                format!("NRML is for futures and options; an {} equity order takes MIS or CNC", self.exchange),
            ));
        }
        if self.strategy_id <= 0 {
            return Err(FieldError::new("strategy_id", format!("must be a strategy id, got {}", self.strategy_id)));
        }
        if !(1..=MAX_ORDER_QUANTITY).contains(&self.quantity) {
            return Err(FieldError::new(
                "quantity",
                format!("must be a whole number from 1 to {MAX_ORDER_QUANTITY}, got {}", self.quantity),
            ));
        }
        match (self.order_type.needs_price(), self.price) {
            (true, None) => {
                return Err(FieldError::new("price", format!("a {} order needs a limit price", self.order_type)));
            }
            (false, Some(_)) => {
                return Err(FieldError::new(
                    "price",
                    format!("a {} order takes no limit price; leave it empty", self.order_type),
                ));
            }
            _ => {}
        }
        match (self.order_type.needs_trigger(), self.trigger_price) {
            (true, None) => {
                return Err(FieldError::new(
                    "trigger_price",
                    format!("a {} order needs a trigger price", self.order_type),
                ));
            }
            (false, Some(_)) => {
                return Err(FieldError::new(
                    "trigger_price",
                    format!("a {} order takes no trigger price; leave it empty", self.order_type),
                ));
            }
            _ => {}
        }
        for (field, value) in [
            ("price", self.price),
            ("trigger_price", self.trigger_price),
            ("stop_loss", self.stop_loss),
            ("take_profit", self.take_profit),
        ] {
            if let Some(v) = value {
                if v <= Decimal::ZERO || v > MAX_PRICE {
                    return Err(FieldError::new(
                        field,
                        format!("must be greater than 0 and at most {MAX_PRICE}, got {v}"),
                    ));
                }
                if !is_on_tick(v, tick) {
                    return Err(FieldError::new(field, format!("{v} is not on the {tick} tick")));
                }
            }
        }
        // A stop-loss order triggers on the way to its limit, as Kite checks:
        // a BUY's trigger at or below its limit, a SELL's at or above.
        if let (OrderType::StopLoss, Some(price), Some(trigger)) = (self.order_type, self.price, self.trigger_price) {
            let wrong_side = match self.side {
                Side::Buy => trigger > price,
                Side::Sell => trigger < price,
            };
            if wrong_side {
                let want = if self.side == Side::Buy { "at or below" } else { "at or above" };
                return Err(FieldError::new(
                    "trigger_price",
                    format!("a {} SL order's trigger must be {want} its limit {price}, got {trigger}", self.side),
                ));
            }
        }
        if self.placed_by.trim().is_empty() || self.placed_by.len() > 64 {
            return Err(FieldError::new("placed_by", "must name who placed the order (1–64 characters)"));
        }
        Ok(())
    }

    /// The price the order expects to enter at: the limit price, else the
    /// trigger, else the given last traded price (for a market order).
    pub fn entry_price(&self, last_price: Option<Decimal>) -> Option<Decimal> {
        self.price.or(self.trigger_price).or(last_price)
    }

    /// Rupees at risk: |entry − stop loss| × quantity. `None` without a stop
    /// loss or an entry price.
    pub fn risk_amount(&self, last_price: Option<Decimal>) -> Option<Decimal> {
        let entry = self.entry_price(last_price)?;
        let stop = self.stop_loss?;
        Some((entry - stop).abs() * Decimal::from(self.quantity))
    }

    /// Reward per unit of risk: |target − entry| / |entry − stop|. `None` when
    /// a leg is missing or the risk is zero.
    pub fn risk_reward(&self, last_price: Option<Decimal>) -> Option<Decimal> {
        let entry = self.entry_price(last_price)?;
        let risk = (entry - self.stop_loss?).abs();
        let reward = (self.take_profit? - entry).abs();
        if risk.is_zero() { None } else { Some(reward / risk) }
    }
}

/// One entry of an order's status history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: OrderStatus,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Who places, moves and cancels the stops that rest at the exchange (their
/// orders' `placed_by`).
pub const RESTING_STOP: &str = "resting-stop";

/// An order as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: i64,
    pub strategy_id: i64,
    pub parent_order_id: Option<i64>,
    pub symbol: String,
    pub exchange: Exchange,
    pub side: Side,
    pub order_type: OrderType,
    pub product: Product,
    pub validity: Validity,
    pub quantity: i64,
    pub filled_quantity: i64,
    pub price: Option<Decimal>,
    pub trigger_price: Option<Decimal>,
    pub average_price: Option<Decimal>,
    pub stop_loss: Option<Decimal>,
    pub take_profit: Option<Decimal>,
    pub risk_amount: Option<Decimal>,
    pub status: OrderStatus,
    pub status_reason: Option<String>,
    pub broker: BrokerKind,
    pub broker_order_id: Option<String>,
    pub placed_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// How many times the order was modified (Kite allows 25).
    pub modifications: i32,
    /// A stop-loss order the broker holds untriggered (Kite's TRIGGER
    /// PENDING); cleared when it triggers or fills.
    pub trigger_pending: bool,
}

impl Order {
    /// Whether it is a position's stop resting at the exchange: an SL-M
    /// placed by [`RESTING_STOP`].
    pub fn is_resting_stop(&self) -> bool {
        self.placed_by == RESTING_STOP && self.order_type == OrderType::StopLossMarket
    }

    /// The status as the desk shows it: an OPEN stop order the broker holds
    /// untriggered reads `TRIGGER PENDING`, as on Kite.
    pub fn shown_status(&self) -> String {
        if self.status == OrderStatus::Open && self.trigger_pending {
            "TRIGGER PENDING".to_string()
        } else {
            self.status.to_string()
        }
    }

    /// The order in a few words: "BUY 10 INFY LIMIT @ 1500.00".
    pub fn describe(&self) -> String {
        let price = self.price.map(|p| format!(" @ {p:.2}")).unwrap_or_default();
        format!("{} {} {} {}{price}", self.side, self.quantity, self.symbol, self.order_type)
    }

    pub fn pending_quantity(&self) -> i64 {
        self.quantity - self.filled_quantity
    }

    /// The request this order carries out (to check a modification against
    /// the same rules as a new order).
    pub fn as_request(&self) -> OrderRequest {
        OrderRequest {
            strategy_id: self.strategy_id,
            symbol: self.symbol.clone(),
            exchange: self.exchange,
            side: self.side,
            order_type: self.order_type,
            product: self.product,
            validity: self.validity,
            quantity: self.quantity,
            price: self.price,
            trigger_price: self.trigger_price,
            stop_loss: self.stop_loss,
            take_profit: self.take_profit,
            parent_order_id: self.parent_order_id,
            placed_by: self.placed_by.clone(),
        }
    }

    /// The tag sent to the broker with this order, so that after a crash the
    /// order can be found in the broker's book before anything is re-sent.
    pub fn client_tag(&self) -> String {
        format!("XC{}", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn request() -> OrderRequest {
        OrderRequest {
            strategy_id: 1,
            symbol: "RELIANCE".into(),
            exchange: Exchange::Nse,
            side: Side::Buy,
            order_type: OrderType::Limit,
            product: Product::Mis,
            validity: Validity::Day,
            quantity: 10,
            price: Some(dec!(2500.05)),
            trigger_price: None,
            stop_loss: Some(dec!(2490.00)),
            take_profit: Some(dec!(2520.15)),
            parent_order_id: None,
            placed_by: "operator".into(),
        }
    }

    #[test]
    fn lifecycle_table_is_exactly_the_documented_one() {
        use OrderStatus::*;
        let allowed = [
            (Pending, Submitted),
            (Pending, Cancelled),
            (Pending, Rejected),
            (Submitted, Open),
            (Submitted, PartiallyFilled),
            (Submitted, Filled),
            (Submitted, Cancelled),
            (Submitted, Rejected),
            (Open, PartiallyFilled),
            (Open, Filled),
            (Open, Cancelled),
            (Open, Rejected),
            (PartiallyFilled, Filled),
            (PartiallyFilled, Cancelled),
            (PartiallyFilled, Rejected),
        ];
        for &from in OrderStatus::ALL {
            for &to in OrderStatus::ALL {
                assert_eq!(from.can_transition_to(to), allowed.contains(&(from, to)), "{from} -> {to}");
            }
        }
        assert_eq!(
            check_transition(Filled, Cancelled).unwrap_err().to_string(),
            "order cannot go from FILLED to CANCELLED"
        );
    }

    #[test]
    fn enums_parse_case_insensitively_and_name_the_field_when_wrong() {
        assert_eq!("sl-m".parse::<OrderType>().unwrap(), OrderType::StopLossMarket);
        assert_eq!(" nse ".parse::<Exchange>().unwrap(), Exchange::Nse);
        let err = "MCX".parse::<Exchange>().unwrap_err();
        assert_eq!(err.to_string(), "exchange: `MCX` is not allowed; expected one of NSE, BSE");
        assert_eq!(OrderStatus::PartiallyFilled.to_string(), "PARTIALLY_FILLED");
    }

    #[test]
    fn risk_amount_and_reward_ratio() {
        let r = request();
        assert_eq!(r.risk_amount(None), Some(dec!(100.50)));
        assert_eq!(r.risk_reward(None), Some(dec!(2)));
        let mut m = r.clone();
        m.order_type = OrderType::Market;
        m.price = None;
        assert_eq!(m.risk_amount(None), None);
        assert_eq!(m.risk_amount(Some(dec!(2495.00))), Some(dec!(50.00)));
    }

    #[test]
    fn validation_names_the_field() {
        let tick = dec!(0.05);
        assert_eq!(request().validate(tick), Ok(()));
        type Mutation = Box<dyn Fn(&mut OrderRequest)>;
        let cases: Vec<(Mutation, &str, &str)> = vec![
            (Box::new(|r| r.quantity = 0), "quantity", "must be a whole number from 1 to 1000000, got 0"),
            (Box::new(|r| r.quantity = -5), "quantity", "must be a whole number from 1 to 1000000, got -5"),
            (Box::new(|r| r.price = Some(dec!(2500.03))), "price", "2500.03 is not on the 0.05 tick"),
            (Box::new(|r| r.price = None), "price", "a LIMIT order needs a limit price"),
            (
                Box::new(|r| r.stop_loss = Some(dec!(-1))),
                "stop_loss",
                "must be greater than 0 and at most 10000000, got -1",
            ),
            (
                Box::new(|r| r.stop_loss = Some(dec!(99999999999999999))),
                "stop_loss",
                "must be greater than 0 and at most 10000000, got 99999999999999999",
            ),
            (
                Box::new(|r| r.product = Product::Nrml),
                "product",
                "NRML is for futures and options; an NSE equity order takes MIS or CNC",
            ),
            (
                Box::new(|r| r.symbol = "X".repeat(5000)),
                "symbol",
                "`XXXXXXXXXXXXXXXXXXXXXXXX…` (5000 characters) is not a trading symbol; use 1–32 capital letters, digits or & _ . -",
            ),
            (
                Box::new(|r| {
                    r.order_type = OrderType::StopLoss;
                    r.trigger_price = Some(r.price.unwrap() + dec!(1));
                }),
                "trigger_price",
                "a BUY SL order's trigger must be at or below its limit 2500.05, got 2501.05",
            ),
            (
                Box::new(|r| {
                    r.side = Side::Sell;
                    r.order_type = OrderType::StopLoss;
                    r.trigger_price = Some(r.price.unwrap() - dec!(1));
                }),
                "trigger_price",
                "a SELL SL order's trigger must be at or above its limit 2500.05, got 2499.05",
            ),
            (
                Box::new(|r| r.symbol = "reliance".into()),
                "symbol",
                "`reliance` is not a trading symbol; use 1–32 capital letters, digits or & _ . -",
            ),
            (
                Box::new(|r| r.trigger_price = Some(dec!(2500))),
                "trigger_price",
                "a LIMIT order takes no trigger price; leave it empty",
            ),
            (
                Box::new(|r| {
                    r.order_type = OrderType::StopLossMarket;
                    r.price = None;
                }),
                "trigger_price",
                "a SL-M order needs a trigger price",
            ),
        ];
        for (mutate, field, message) in cases {
            let mut r = request();
            mutate(&mut r);
            assert_eq!(r.validate(tick), Err(FieldError::new(field, message)));
        }
    }

    #[test]
    fn fill_status() {
        assert_eq!(OrderStatus::after_fill(3, 10), OrderStatus::PartiallyFilled);
        assert_eq!(OrderStatus::after_fill(10, 10), OrderStatus::Filled);
    }
}
