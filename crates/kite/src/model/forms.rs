//! The form fields of order requests, tags, and the checksums.

use rust_decimal::Decimal;

use xcoin_broker::{Modify, PlaceRequest};
use xcoin_model::order::{FieldError, OrderType};

use super::*;

/// Kite's most characters in a tag.
pub const TAG_MAX_LEN: usize = 20;

/// The market protection sent with MARKET and SL-M orders: `-1` lets Kite
/// apply the exchange's protection band. Under SEBI's retail-algo rules Kite
/// rejects API market orders without one.
pub const MARKET_PROTECTION_AUTO: &str = "-1";

/// A Kite tag is at most 20 ASCII letters and digits.
pub fn check_tag(tag: &str) -> Result<(), FieldError> {
    if tag.is_empty() || tag.len() > TAG_MAX_LEN || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(FieldError::new(
            "tag",
            format!("`{tag}` is not a Kite tag; use 1–{TAG_MAX_LEN} ASCII letters and digits"),
        ));
    }
    Ok(())
}

pub(crate) fn wire_price(field: &'static str, value: Decimal) -> Result<String, FieldError> {
    if value <= Decimal::ZERO {
        return Err(FieldError::new(field, format!("must be greater than 0, got {value}")));
    }
    Ok(value.normalize().to_string())
}

/// The form fields of `POST /orders/regular` for a request: the limit price
/// exactly for LIMIT and SL, the trigger exactly for SL and SL-M, automatic
/// market protection for MARKET and SL-M, and the tag unless it is empty.
/// A field that is wrong for Kite is an error naming it, never dropped.
pub fn place_form(req: &PlaceRequest) -> Result<Vec<(&'static str, String)>, FieldError> {
    if req.symbol.trim().is_empty() {
        return Err(FieldError::new("symbol", "is empty"));
    }
    if req.quantity < 1 {
        return Err(FieldError::new("quantity", format!("must be at least 1, got {}", req.quantity)));
    }
    let mut form = vec![
        ("tradingsymbol", req.symbol.clone()),
        ("exchange", req.exchange.as_str().to_string()),
        ("transaction_type", req.side.as_str().to_string()),
        ("order_type", req.order_type.as_str().to_string()),
        ("quantity", req.quantity.to_string()),
        ("product", req.product.as_str().to_string()),
        ("validity", req.validity.as_str().to_string()),
    ];
    match (req.order_type.needs_price(), req.price) {
        (true, Some(p)) => form.push(("price", wire_price("price", p)?)),
        (true, None) => {
            return Err(FieldError::new("price", format!("a {} order needs a limit price", req.order_type)));
        }
        (false, Some(_)) => {
            return Err(FieldError::new("price", format!("a {} order takes no limit price", req.order_type)));
        }
        (false, None) => {}
    }
    match (req.order_type.needs_trigger(), req.trigger_price) {
        (true, Some(p)) => form.push(("trigger_price", wire_price("trigger_price", p)?)),
        (true, None) => {
            return Err(FieldError::new("trigger_price", format!("a {} order needs a trigger price", req.order_type)));
        }
        (false, Some(_)) => {
            return Err(FieldError::new("trigger_price", format!("a {} order takes no trigger price", req.order_type)));
        }
        (false, None) => {}
    }
    if matches!(req.order_type, OrderType::Market | OrderType::StopLossMarket) {
        form.push(("market_protection", MARKET_PROTECTION_AUTO.to_string()));
    }
    if !req.tag.is_empty() {
        check_tag(&req.tag)?;
        form.push(("tag", req.tag.clone()));
    }
    Ok(form)
}

/// The form fields of `PUT /orders/regular/:order_id`: only what changes, as
/// Kite's own clients send it. A change of nothing is an error.
pub fn modify_form(change: &Modify) -> Result<Vec<(&'static str, String)>, FieldError> {
    let mut form = Vec::new();
    if let Some(q) = change.quantity {
        if q < 1 {
            return Err(FieldError::new("quantity", format!("must be at least 1, got {q}")));
        }
        form.push(("quantity", q.to_string()));
    }
    if let Some(p) = change.price {
        form.push(("price", wire_price("price", p)?));
    }
    if let Some(p) = change.trigger_price {
        form.push(("trigger_price", wire_price("trigger_price", p)?));
    }
    if form.is_empty() {
        return Err(FieldError::new("modify", "changes nothing; give a quantity, a price or a trigger price"));
    }
    // As on placement: an order that executes at market keeps Kite's
    // automatic protection when it is changed.
    if change.at_market {
        form.push(("market_protection", MARKET_PROTECTION_AUTO.to_string()));
    }
    Ok(form)
}

/// What the login checksum hashes: `api_key + request_token + api_secret`
/// (SHA-256, computed by the caller, is sent as `checksum` to `POST /session/token`).
pub fn checksum_input(api_key: &str, request_token: &str, api_secret: &str) -> String {
    format!("{api_key}{request_token}{api_secret}")
}

/// What a postback's `checksum` hashes: `order_id + order_timestamp + api_secret`,
/// the timestamp as Kite wrote it. `None` without an order timestamp.
pub fn postback_checksum_input(order: &KiteOrder, api_secret: &str) -> Option<String> {
    order.order_timestamp.map(|at| format!("{}{}{api_secret}", order.order_id, format_ist(at)))
}
