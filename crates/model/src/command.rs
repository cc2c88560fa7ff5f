//! Operator commands: what a console asks the engine to do, and the kill
//! switch's vocabulary. Consoles never write trading tables; they enqueue one
//! of these and the engine executes it.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::enums::string_enum;
use super::order::{FieldError, OrderRequest};
use super::reconciliation::Resolution;

string_enum!(
    CommandKind, "command" {
        PlaceOrder => "PLACE_ORDER",
        CancelOrder => "CANCEL_ORDER",
        ModifyOrder => "MODIFY_ORDER",
        ExitPosition => "EXIT_POSITION",
        ExitAll => "EXIT_ALL",
        KillSwitchOn => "KILL_SWITCH_ON",
        KillSwitchOff => "KILL_SWITCH_OFF",
        ResolveReconciliation => "RESOLVE_RECONCILIATION",
        PauseStrategy => "PAUSE_STRATEGY",
        ResumeStrategy => "RESUME_STRATEGY",
        SetPositionLevels => "SET_POSITION_LEVELS",
    }
);

string_enum!(
    /// PENDING → RUNNING (claimed by the engine) → DONE | FAILED, or
    /// PENDING → EXPIRED (past its deadline before an engine took it: nothing sent).
    CommandStatus, "status" {
        Pending => "PENDING", Running => "RUNNING", Done => "DONE", Failed => "FAILED", Expired => "EXPIRED"
    }
);

string_enum!(
    KillSwitchAction, "action" { Activated => "ACTIVATED", Deactivated => "DEACTIVATED" }
);

string_enum!(
    /// What set the kill switch off (or, for a re-arm, who did).
    KillSwitchTrigger, "trigger" {
        Operator => "OPERATOR",
        DailyLoss => "DAILY_LOSS",
        Drawdown => "DRAWDOWN",
        Broker => "BROKER",
        System => "SYSTEM",
    }
);

/// The most bytes a stored payload may hold (a CHECK in the schema too).
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024;
/// The longest reason or note an operator may type.
pub const MAX_TEXT_CHARS: usize = 500;

/// A command with its arguments. Stored as its kind plus a JSON payload;
/// a field the command does not have is refused, not ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", content = "payload", rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub enum OperatorCommand {
    PlaceOrder(OrderRequest),
    CancelOrder {
        order_id: i64,
    },
    ModifyOrder {
        order_id: i64,
        #[serde(default)]
        quantity: Option<i64>,
        #[serde(default)]
        price: Option<Decimal>,
        #[serde(default)]
        trigger_price: Option<Decimal>,
    },
    ExitPosition {
        position_id: i64,
    },
    ExitAll {},
    KillSwitchOn {
        reason: String,
    },
    KillSwitchOff {
        reason: String,
    },
    ResolveReconciliation {
        issue_id: i64,
        resolution: Resolution,
        #[serde(default)]
        note: Option<String>,
    },
    /// Stops an automated strategy from placing orders; its positions stay.
    PauseStrategy {
        strategy_id: i64,
        reason: String,
    },
    ResumeStrategy {
        strategy_id: i64,
        reason: String,
    },
    /// Sets or moves an open position's stop loss and target (no target:
    /// none). Judged by [`crate::risk::validate_levels`].
    SetPositionLevels {
        position_id: i64,
        stop_loss: Decimal,
        #[serde(default)]
        take_profit: Option<Decimal>,
    },
}

/// A stored payload that does not match its command.
#[derive(Debug, thiserror::Error)]
#[error("payload of {kind} command is malformed: {message}")]
pub struct PayloadError {
    pub kind: CommandKind,
    pub message: String,
}

/// A text field an operator typed: trimmed, required when `required`, at
/// most [`MAX_TEXT_CHARS`] characters.
fn check_text(field: &'static str, value: &str, required: bool) -> Result<(), FieldError> {
    if required && value.trim().is_empty() {
        return Err(FieldError::new(field, "must not be empty: say why"));
    }
    check_length(field, value)
}

/// A text an operator typed is at most [`MAX_TEXT_CHARS`] characters
/// wherever it is stored (commands, kill-switch events, notes), and holds no
/// control characters (a NUL, which the database cannot store; escapes that
/// would repaint a console).
pub fn check_length(field: &'static str, value: &str) -> Result<(), FieldError> {
    let chars = value.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(FieldError::new(field, format!("must be at most {MAX_TEXT_CHARS} characters, got {chars}")));
    }
    no_control(field, value)
}

/// Refuses control characters in a text field, naming the first one.
pub fn no_control(field: &'static str, value: &str) -> Result<(), FieldError> {
    match value.chars().position(char::is_control) {
        Some(at) => Err(FieldError::new(
            field,
            format!(
                "must not hold control characters, found U+{:04X} at character {}",
                value.chars().nth(at).map_or(0, u32::from),
                at + 1
            ),
        )),
        None => Ok(()),
    }
}

/// A price above 0 and at most [`MAX_PRICE`](crate::order::MAX_PRICE), when given.
fn check_price(field: &'static str, value: Option<rust_decimal::Decimal>) -> Result<(), FieldError> {
    use crate::order::MAX_PRICE;
    match value {
        Some(v) if v <= rust_decimal::Decimal::ZERO || v > MAX_PRICE => {
            Err(FieldError::new(field, format!("must be greater than 0 and at most {MAX_PRICE}, got {v}")))
        }
        _ => Ok(()),
    }
}

fn check_id(field: &'static str, id: i64) -> Result<(), FieldError> {
    if id <= 0 {
        return Err(FieldError::new(field, format!("must be a positive id, got {id}")));
    }
    Ok(())
}

impl OperatorCommand {
    pub fn kind(&self) -> CommandKind {
        match self {
            OperatorCommand::PlaceOrder(_) => CommandKind::PlaceOrder,
            OperatorCommand::CancelOrder { .. } => CommandKind::CancelOrder,
            OperatorCommand::ModifyOrder { .. } => CommandKind::ModifyOrder,
            OperatorCommand::ExitPosition { .. } => CommandKind::ExitPosition,
            OperatorCommand::ExitAll {} => CommandKind::ExitAll,
            OperatorCommand::KillSwitchOn { .. } => CommandKind::KillSwitchOn,
            OperatorCommand::KillSwitchOff { .. } => CommandKind::KillSwitchOff,
            OperatorCommand::ResolveReconciliation { .. } => CommandKind::ResolveReconciliation,
            OperatorCommand::PauseStrategy { .. } => CommandKind::PauseStrategy,
            OperatorCommand::ResumeStrategy { .. } => CommandKind::ResumeStrategy,
            OperatorCommand::SetPositionLevels { .. } => CommandKind::SetPositionLevels,
        }
    }

    /// Checks what the command carries before anything acts on it: ids are
    /// ids, reasons are given where they are required, texts are bounded.
    /// (An order's shape and risk are checked where it is placed.)
    pub fn check(&self) -> Result<(), FieldError> {
        match self {
            OperatorCommand::PlaceOrder(req) => {
                check_text("placed_by", &req.placed_by, false)?;
                // Amounts no desk could hold are refused by field here, before
                // anything is stored (the tick is checked where it is placed).
                for (field, value) in [
                    ("price", req.price),
                    ("trigger_price", req.trigger_price),
                    ("stop_loss", req.stop_loss),
                    ("take_profit", req.take_profit),
                ] {
                    check_price(field, value)?;
                }
                Ok(())
            }
            OperatorCommand::CancelOrder { order_id } => check_id("order_id", *order_id),
            OperatorCommand::ModifyOrder { order_id, quantity, price, trigger_price } => {
                check_id("order_id", *order_id)?;
                check_price("price", *price)?;
                check_price("trigger_price", *trigger_price)?;
                if quantity.is_none() && price.is_none() && trigger_price.is_none() {
                    return Err(FieldError::new("quantity", "nothing to change: give a quantity, price or trigger"));
                }
                Ok(())
            }
            OperatorCommand::ExitPosition { position_id } => check_id("position_id", *position_id),
            OperatorCommand::ExitAll {} => Ok(()),
            OperatorCommand::KillSwitchOn { reason } | OperatorCommand::KillSwitchOff { reason } => {
                check_text("reason", reason, true)
            }
            OperatorCommand::ResolveReconciliation { issue_id, note, .. } => {
                check_id("issue_id", *issue_id)?;
                check_text("note", note.as_deref().unwrap_or_default(), false)
            }
            OperatorCommand::PauseStrategy { strategy_id, reason }
            | OperatorCommand::ResumeStrategy { strategy_id, reason } => {
                check_id("strategy_id", *strategy_id)?;
                check_text("reason", reason, true)
            }
            OperatorCommand::SetPositionLevels { position_id, stop_loss, take_profit } => {
                check_id("position_id", *position_id)?;
                for (field, v) in [("stop_loss", Some(*stop_loss)), ("take_profit", *take_profit)] {
                    if v.is_some_and(|v| v <= Decimal::ZERO) {
                        return Err(FieldError::new(field, "must be a price greater than 0"));
                    }
                }
                Ok(())
            }
        }
    }

    /// The JSON stored in `operator_commands.payload`.
    pub fn payload(&self) -> serde_json::Value {
        let mut tagged = serde_json::to_value(self).expect("commands serialise");
        tagged.get_mut("payload").map(serde_json::Value::take).unwrap_or_else(|| serde_json::json!({}))
    }

    /// Rebuilds a command from its stored kind and payload text. Anything
    /// that does not fit — a number out of range, nesting deeper than the
    /// parser allows, an unknown field, an oversized payload — is an error
    /// naming the problem, never a panic.
    pub fn from_parts(kind: CommandKind, payload: &str) -> Result<Self, PayloadError> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(PayloadError {
                kind,
                message: format!("{} bytes, at most {MAX_PAYLOAD_BYTES} are allowed", payload.len()),
            });
        }
        let value: serde_json::Value =
            serde_json::from_str(payload).map_err(|e| PayloadError { kind, message: e.to_string() })?;
        serde_json::from_value(serde_json::json!({ "command": kind.as_str(), "payload": value }))
            .map_err(|e| PayloadError { kind, message: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn commands_round_trip_through_kind_and_payload() {
        let commands = vec![
            OperatorCommand::CancelOrder { order_id: 7 },
            OperatorCommand::ModifyOrder {
                order_id: 7,
                quantity: None,
                price: Some(dec!(101.05)),
                trigger_price: None,
            },
            OperatorCommand::ExitAll {},
            OperatorCommand::ResolveReconciliation {
                issue_id: 3,
                resolution: Resolution::KeepLocal,
                note: Some("checked".into()),
            },
        ];
        for c in commands {
            let back = OperatorCommand::from_parts(c.kind(), &c.payload().to_string()).unwrap();
            assert_eq!(back, c);
        }
        assert_eq!(OperatorCommand::CancelOrder { order_id: 7 }.payload(), serde_json::json!({ "order_id": 7 }));
        let err = OperatorCommand::from_parts(CommandKind::CancelOrder, r#"{"order_id": 7, "order": 7}"#).unwrap_err();
        assert!(
            err.to_string().starts_with("payload of CANCEL_ORDER command is malformed: unknown field `order`"),
            "{err}"
        );
        let err = OperatorCommand::from_parts(CommandKind::CancelOrder, r#"{}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `order_id`"), "{err}");
    }

    #[test]
    fn payloads_that_cannot_be_decoded_are_errors_that_say_why() {
        let huge = r#"{"order_id": 7, "quantity": null, "price": 1e400, "trigger_price": null}"#;
        let err = OperatorCommand::from_parts(CommandKind::ModifyOrder, huge).unwrap_err();
        assert!(err.to_string().contains("number out of range"), "{err}");

        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        let err = OperatorCommand::from_parts(CommandKind::ExitAll, &deep).unwrap_err();
        assert!(err.to_string().contains("recursion limit exceeded"), "{err}");

        let big = format!(r#"{{"reason": "{}"}}"#, "x".repeat(MAX_PAYLOAD_BYTES));
        let err = OperatorCommand::from_parts(CommandKind::KillSwitchOn, &big).unwrap_err();
        assert!(err.to_string().contains("at most 16384 are allowed"), "{err}");

        let extra = r#"{"strategy_id": 1, "symbol": "INFY", "exchange": "NSE", "side": "BUY", "order_type": "MARKET",
            "product": "MIS", "validity": "DAY", "quantity": 1, "placed_by": "x", "sneaky": true}"#;
        let err = OperatorCommand::from_parts(CommandKind::PlaceOrder, extra).unwrap_err();
        assert!(err.to_string().contains("unknown field `sneaky`"), "{err}");
    }

    #[test]
    fn commands_are_checked_before_anything_acts() {
        let blank = OperatorCommand::KillSwitchOn { reason: "  ".into() };
        assert_eq!(blank.check().unwrap_err().to_string(), "reason: must not be empty: say why");
        let long = OperatorCommand::KillSwitchOff { reason: "x".repeat(501) };
        assert_eq!(long.check().unwrap_err().to_string(), "reason: must be at most 500 characters, got 501");
        let note = OperatorCommand::ResolveReconciliation {
            issue_id: 1,
            resolution: Resolution::Ignore,
            note: Some("é".repeat(500)),
        };
        assert_eq!(note.check(), Ok(()), "500 characters are allowed");
        let nothing = OperatorCommand::ModifyOrder { order_id: 3, quantity: None, price: None, trigger_price: None };
        assert_eq!(
            nothing.check(),
            Err(FieldError::new("quantity", "nothing to change: give a quantity, price or trigger"))
        );
        let pause = OperatorCommand::PauseStrategy { strategy_id: 0, reason: "lunch".into() };
        assert_eq!(pause.check().unwrap_err().to_string(), "strategy_id: must be a positive id, got 0");
    }
}
