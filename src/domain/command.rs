//! Operator commands: what a console asks the engine to do, and the kill
//! switch's vocabulary. Consoles never write trading tables; they enqueue one
//! of these and the engine executes it.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::enums::string_enum;
use super::order::OrderRequest;
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
    }
);

string_enum!(
    /// PENDING → RUNNING (claimed by the engine) → DONE | FAILED.
    CommandStatus, "status" { Pending => "PENDING", Running => "RUNNING", Done => "DONE", Failed => "FAILED" }
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

/// A command with its arguments. Stored as its kind plus a JSON payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", content = "payload", rename_all = "SCREAMING_SNAKE_CASE")]
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
}

/// A stored payload that does not match its command.
#[derive(Debug, thiserror::Error)]
#[error("payload of {kind} command is malformed: {source}")]
pub struct PayloadError {
    pub kind: CommandKind,
    #[source]
    pub source: serde_json::Error,
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
        }
    }

    /// The JSON stored in `operator_commands.payload`.
    pub fn payload(&self) -> serde_json::Value {
        let mut tagged = serde_json::to_value(self).expect("commands serialise");
        tagged.get_mut("payload").map(serde_json::Value::take).unwrap_or_else(|| serde_json::json!({}))
    }

    /// Rebuilds a command from its stored kind and payload.
    pub fn from_parts(kind: CommandKind, payload: serde_json::Value) -> Result<Self, PayloadError> {
        serde_json::from_value(serde_json::json!({ "command": kind.as_str(), "payload": payload }))
            .map_err(|source| PayloadError { kind, source })
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
            let back = OperatorCommand::from_parts(c.kind(), c.payload()).unwrap();
            assert_eq!(back, c);
        }
        assert_eq!(OperatorCommand::CancelOrder { order_id: 7 }.payload(), serde_json::json!({ "order_id": 7 }));
        let err = OperatorCommand::from_parts(CommandKind::CancelOrder, serde_json::json!({ "order": 7 })).unwrap_err();
        assert!(
            err.to_string().starts_with("payload of CANCEL_ORDER command is malformed: missing field `order_id`"),
            "{err}"
        );
    }
}
