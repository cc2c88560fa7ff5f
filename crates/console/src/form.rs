//! The new-order and modify forms: fields edited in place, checked as they
//! are typed, with the pre-trade validator's verdict shown before sending.

use crossterm::event::KeyEvent;

use super::action::{Action, Scope, action_for, edit};
use rust_decimal::Decimal;

use xcoin_model::instrument::Ticks;

use xcoin_db::orders::OrderModification;
use xcoin_model::order::{Exchange, FieldError, Order, OrderRequest, OrderType, Product, Side, Validity};
use xcoin_model::strategy::MANUAL_STRATEGY_ID;

/// The fields of the new-order form, in screen order.
pub const FIELDS: [&str; 9] =
    ["symbol", "side", "quantity", "type", "product", "price", "trigger", "stop loss", "target"];

const SIDE: usize = 1;
const TYPE: usize = 3;
const PRODUCT: usize = 4;
const PRICE: usize = 5;
const STOP: usize = 7;
const TARGET: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderForm {
    pub values: [String; 9],
    pub focus: usize,
    /// Instrument symbols for completion.
    symbols: Vec<String>,
    /// The pre-trade verdict on the values as they are (`✓ …` or `✗ …`),
    /// kept by the console when the form or the desk changes; drawn as is.
    pub verdict: String,
    /// The symbol's last price and the order's value, beside the verdict.
    pub context: String,
    /// The last price the form was opened with: a LIMIT or SL chosen later
    /// starts from it.
    last: Option<Decimal>,
    /// The exchange: NSE, or the row's the form was opened from.
    pub exchange: Exchange,
}

/// What a form opened from a row starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefill {
    pub symbol: String,
    pub exchange: Exchange,
    pub side: Side,
    pub quantity: i64,
    pub product: Product,
    pub last: Option<Decimal>,
    /// The desk's default stop and target for this entry.
    pub stop_loss: Option<Decimal>,
    pub take_profit: Option<Decimal>,
}

/// What a key did to a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormKey {
    Editing,
    Cancel,
    Submit,
}

fn cycle<T: Copy + PartialEq + std::fmt::Display>(all: &[T], current: &str, forward: bool) -> String {
    let i = all.iter().position(|v| v.to_string() == current).unwrap_or(0);
    let n = all.len();
    all[if forward { (i + 1) % n } else { (i + n - 1) % n }].to_string()
}

fn decimal(field: &'static str, text: &str) -> Result<Option<Decimal>, FieldError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse::<Decimal>()
        .map(Some)
        .map_err(|_| FieldError::new(field, format!("`{t}` is not a price; write it like 1512.35")))
}

impl OrderForm {
    pub fn new(symbols: Vec<String>) -> OrderForm {
        let values = ["", "BUY", "", "LIMIT", "MIS", "", "", "", ""].map(String::from);
        OrderForm {
            values,
            focus: 0,
            symbols,
            verdict: String::new(),
            context: String::new(),
            last: None,
            exchange: Exchange::Nse,
        }
    }

    /// The form opened from a row: symbol, side, quantity and product
    /// filled, a LIMIT at the last price with the desk's default stop and
    /// target, and the type focused — its letter makes it MARKET (`m`), and
    /// Enter reviews.
    pub fn prefilled(symbols: Vec<String>, p: Prefill) -> OrderForm {
        let mut form = OrderForm::new(symbols);
        form.values[0] = p.symbol;
        form.values[SIDE] = p.side.to_string();
        form.values[2] = p.quantity.to_string();
        form.values[PRODUCT] = p.product.to_string();
        form.values[PRICE] = editable(p.last);
        form.values[STOP] = editable(p.stop_loss);
        form.values[TARGET] = editable(p.take_profit);
        form.last = p.last;
        form.exchange = p.exchange;
        form.focus = TYPE;
        form
    }

    /// A choice made by its letter, as the form shows them: side `b` `s`;
    /// type `l` LIMIT, `m` MARKET, `s` SL, `S` SL-M; product `i` MIS, `c` CNC.
    fn choose(&mut self, c: char) {
        let chosen = match (self.focus, c) {
            (SIDE, 'b' | 'B') => Side::Buy.to_string(),
            (SIDE, 's' | 'S') => Side::Sell.to_string(),
            (TYPE, 'l' | 'L') => OrderType::Limit.to_string(),
            (TYPE, 'm' | 'M') => OrderType::Market.to_string(),
            (TYPE, 's') => OrderType::StopLoss.to_string(),
            (TYPE, 'S') => OrderType::StopLossMarket.to_string(),
            (PRODUCT, 'i' | 'I') => Product::Mis.to_string(),
            (PRODUCT, 'c' | 'C') => Product::Cnc.to_string(),
            _ => return,
        };
        self.values[self.focus] = chosen;
        if self.focus == TYPE {
            self.type_changed();
        }
    }

    /// A type without a limit price drops it; one with a limit price starts
    /// from the last price when it has none.
    fn type_changed(&mut self) {
        match self.values[TYPE].parse::<OrderType>() {
            Ok(OrderType::Market | OrderType::StopLossMarket) => self.values[PRICE].clear(),
            Ok(OrderType::Limit | OrderType::StopLoss) if self.values[PRICE].trim().is_empty() => {
                self.values[PRICE] = editable(self.last)
            }
            _ => {}
        }
    }

    /// The letters a choice field takes, as the form shows them.
    pub fn letters(field: usize) -> &'static str {
        match field {
            SIDE => "b s",
            TYPE => "l m s S (SL-M)",
            PRODUCT => "i c",
            _ => "",
        }
    }

    /// Symbols that start with what is typed, at most five.
    pub fn completions(&self) -> Vec<&str> {
        let typed = self.values[0].to_ascii_uppercase();
        if typed.is_empty() {
            return Vec::new();
        }
        self.symbols.iter().filter(|s| s.starts_with(&typed) && **s != typed).take(5).map(String::as_str).collect()
    }

    /// A key, through the keymap's new-order scope.
    pub fn on_key(&mut self, key: KeyEvent) -> FormKey {
        action_for(&key, Scope::OrderForm, false).map_or(FormKey::Editing, |a| self.on_action(a))
    }

    pub fn on_action(&mut self, action: Action) -> FormKey {
        let choice = matches!(self.focus, SIDE | TYPE | PRODUCT);
        match action {
            Action::Back => return FormKey::Cancel,
            Action::Confirm => return FormKey::Submit,
            Action::NextField => self.focus = (self.focus + 1) % FIELDS.len(),
            Action::PrevField => self.focus = (self.focus + FIELDS.len() - 1) % FIELDS.len(),
            Action::Complete => {
                // On the symbol, Tab completes first; elsewhere it moves on.
                if self.focus == 0
                    && let Some(first) = self.completions().first()
                {
                    self.values[0] = first.to_string();
                } else {
                    self.focus = (self.focus + 1) % FIELDS.len();
                }
            }
            Action::ChoicePrev | Action::ChoiceNext if choice => {
                let forward = action == Action::ChoiceNext;
                let v = &self.values[self.focus];
                self.values[self.focus] = match self.focus {
                    SIDE => cycle(Side::ALL, v, forward),
                    TYPE => cycle(OrderType::ALL, v, forward),
                    _ => cycle(Product::ALL, v, forward),
                };
                if self.focus == TYPE {
                    self.type_changed();
                }
            }
            Action::Type(c) if choice => self.choose(c),
            Action::Erase | Action::Type(_) if !choice => {
                let symbol = self.focus == 0;
                edit(
                    &mut self.values[self.focus],
                    action,
                    usize::MAX,
                    |c| {
                        if symbol { c.to_ascii_uppercase() } else { c }
                    },
                );
            }
            _ => {}
        }
        FormKey::Editing
    }

    /// The request the form describes, or the first field that is wrong.
    /// Prices are checked on the instrument's own tick.
    pub fn request(&self, ticks: &Ticks, placed_by: &str) -> Result<OrderRequest, FieldError> {
        let v = &self.values;
        let order_type: OrderType =
            v[TYPE].parse().map_err(|e: xcoin_model::ParseEnumError| FieldError::new("type", e.to_string()))?;
        let quantity =
            v[2].trim().parse::<i64>().map_err(|_| FieldError::new("quantity", "a whole number of shares, e.g. 10"))?;
        let req = OrderRequest {
            strategy_id: MANUAL_STRATEGY_ID,
            symbol: v[0].trim().to_ascii_uppercase(),
            exchange: self.exchange,
            side: v[SIDE].parse().map_err(|e: xcoin_model::ParseEnumError| FieldError::new("side", e.to_string()))?,
            order_type,
            product: v[PRODUCT]
                .parse()
                .map_err(|e: xcoin_model::ParseEnumError| FieldError::new("product", e.to_string()))?,
            validity: Validity::Day,
            quantity,
            price: decimal("price", &v[PRICE])?,
            trigger_price: decimal("trigger_price", &v[6])?,
            stop_loss: decimal("stop_loss", &v[STOP])?,
            take_profit: decimal("take_profit", &v[TARGET])?,
            parent_order_id: None,
            placed_by: placed_by.to_string(),
        };
        if !self.symbols.contains(&req.symbol) {
            return Err(FieldError::new("symbol", format!("`{}` is not in the instruments list", req.symbol)));
        }
        req.validate(ticks.of(&req.symbol, req.exchange))?;
        Ok(req)
    }
}

/// A key on a form of typed fields only (modify, levels): Enter reviews,
/// Esc cancels, ↑/↓ move, the rest edits the focused field.
fn price_fields(values: &mut [String], focus: &mut usize, action: Action) -> FormKey {
    let n = values.len();
    match action {
        Action::Back => return FormKey::Cancel,
        Action::Confirm => return FormKey::Submit,
        Action::NextField => *focus = (*focus + 1) % n,
        Action::PrevField => *focus = (*focus + n - 1) % n,
        _ => edit(&mut values[*focus], action, usize::MAX, |c| c),
    }
    FormKey::Editing
}

/// A price as a form shows it to be edited: two decimals, or empty.
fn editable(v: Option<Decimal>) -> String {
    v.map(|p| format!("{p:.2}")).unwrap_or_default()
}

/// The stop loss and target of an open position, set or moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelsForm {
    pub position_id: i64,
    pub values: [String; 2],
    pub focus: usize,
    /// The position and the prices it is judged on, then the verdict; kept
    /// by the console when the form or the desk changes.
    pub verdict: [String; 2],
}

pub const LEVEL_FIELDS: [&str; 2] = ["stop loss", "target"];

impl LevelsForm {
    /// The form with the position's levels as they are.
    pub fn for_position(p: &xcoin_model::position::Position) -> LevelsForm {
        LevelsForm {
            position_id: p.id,
            values: [editable(p.stop_loss), editable(p.take_profit)],
            focus: 0,
            verdict: Default::default(),
        }
    }

    pub fn on_action(&mut self, action: Action) -> FormKey {
        price_fields(&mut self.values, &mut self.focus, action)
    }

    /// The stop (required: every position keeps one) and the target (empty:
    /// none), or the field that is wrong.
    pub fn levels(&self) -> Result<(Decimal, Option<Decimal>), FieldError> {
        let stop = decimal("stop_loss", &self.values[0])?
            .ok_or_else(|| FieldError::new("stop_loss", "every position keeps a stop: give a price, e.g. 1495.00"))?;
        Ok((stop, decimal("take_profit", &self.values[1])?))
    }
}

/// The modify form: quantity, price and trigger of a working order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModifyForm {
    pub order_id: i64,
    pub values: [String; 3],
    pub focus: usize,
    /// What the change means and the pre-trade verdict on it, kept by the
    /// console when the form or the desk changes; drawn as is.
    pub verdict: [String; 2],
}

pub const MODIFY_FIELDS: [&str; 3] = ["quantity", "price", "trigger"];

impl ModifyForm {
    pub fn for_order(o: &Order) -> ModifyForm {
        ModifyForm {
            order_id: o.id,
            values: [o.quantity.to_string(), editable(o.price), editable(o.trigger_price)],
            focus: 0,
            verdict: Default::default(),
        }
    }

    /// A key, through the keymap's modify scope.
    pub fn on_key(&mut self, key: KeyEvent) -> FormKey {
        action_for(&key, Scope::ModifyForm, false).map_or(FormKey::Editing, |a| self.on_action(a))
    }

    pub fn on_action(&mut self, action: Action) -> FormKey {
        price_fields(&mut self.values, &mut self.focus, action)
    }

    /// The change against `o`: only fields that differ are sent.
    pub fn change(&self, o: &Order) -> Result<OrderModification, FieldError> {
        let quantity = self.values[0]
            .trim()
            .parse::<i64>()
            .map_err(|_| FieldError::new("quantity", "a whole number of shares"))?;
        let price = decimal("price", &self.values[1])?;
        let trigger = decimal("trigger_price", &self.values[2])?;
        let changed = |new: Option<Decimal>, old: Option<Decimal>| if new != old { new } else { None };
        let change = OrderModification {
            quantity: (quantity != o.quantity).then_some(quantity),
            price: changed(price, o.price),
            trigger_price: changed(trigger, o.trigger_price),
        };
        if change == OrderModification::default() {
            return Err(FieldError::new("quantity", "nothing changed"));
        }
        Ok(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};
    use rust_decimal_macros::dec;

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn type_text(f: &mut OrderForm, text: &str) {
        for c in text.chars() {
            f.on_key(k(KeyCode::Char(c)));
        }
    }

    #[test]
    fn typing_completing_and_cycling_build_a_request() {
        let mut f = OrderForm::new(vec!["INFY".into(), "INDUSINDBK".into(), "ITC".into()]);
        type_text(&mut f, "in");
        assert_eq!(f.completions(), vec!["INFY", "INDUSINDBK"]);
        f.on_key(k(KeyCode::Tab));
        assert_eq!(f.values[0], "INFY");
        f.on_key(k(KeyCode::Tab)); // on to the side
        f.on_key(k(KeyCode::Right));
        assert_eq!(f.values[1], "SELL");
        f.on_key(k(KeyCode::Down));
        type_text(&mut f, "10");
        f.on_key(k(KeyCode::Down));
        f.on_key(k(KeyCode::Left));
        assert_eq!(f.values[3], "MARKET", "LIMIT steps back to MARKET");
        f.focus = 7;
        type_text(&mut f, "1520.00");
        let req = f.request(&Ticks::new(&xcoin_model::instrument::built_in(), dec!(0.05)), "asha").unwrap();
        assert_eq!(
            (req.symbol.as_str(), req.side, req.quantity, req.order_type, req.price, req.stop_loss),
            ("INFY", Side::Sell, 10, OrderType::Market, None, Some(dec!(1520.00)))
        );
        assert_eq!((req.strategy_id, req.placed_by.as_str()), (MANUAL_STRATEGY_ID, "asha"));
        assert_eq!(f.on_key(k(KeyCode::Enter)), FormKey::Submit);
        assert_eq!(f.on_key(k(KeyCode::Esc)), FormKey::Cancel);
    }

    #[test]
    fn wrong_fields_are_named_as_typed() {
        let mut f = OrderForm::new(vec!["INFY".into()]);
        assert_eq!(
            f.request(&Ticks::new(&xcoin_model::instrument::built_in(), dec!(0.05)), "a").unwrap_err().to_string(),
            "quantity: a whole number of shares, e.g. 10"
        );
        f.values = ["INFY", "BUY", "5", "LIMIT", "MIS", "", "", "", ""].map(String::from);
        assert_eq!(
            f.request(&Ticks::new(&xcoin_model::instrument::built_in(), dec!(0.05)), "a").unwrap_err().to_string(),
            "price: a LIMIT order needs a limit price"
        );
        f.values[5] = "1512.33".into();
        assert_eq!(
            f.request(&Ticks::new(&xcoin_model::instrument::built_in(), dec!(0.05)), "a").unwrap_err().to_string(),
            "price: 1512.33 is not on the 0.05 tick"
        );
        f.values[5] = "15x".into();
        assert_eq!(
            f.request(&Ticks::new(&xcoin_model::instrument::built_in(), dec!(0.05)), "a").unwrap_err().to_string(),
            "price: `15x` is not a price; write it like 1512.35"
        );
        f.values[0] = "TCS".into();
        f.values[5] = "1512.35".into();
        assert_eq!(
            f.request(&Ticks::new(&xcoin_model::instrument::built_in(), dec!(0.05)), "a").unwrap_err().to_string(),
            "symbol: `TCS` is not in the instruments list"
        );
    }
}
