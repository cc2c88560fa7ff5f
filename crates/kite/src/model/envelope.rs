//! Reading Kite's JSON exactly: the response envelope, IST times, ids,
//! and Kite's errors.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Asia::Kolkata;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use xcoin_broker::BrokerError;

/// Rewrites each number literal with a fraction or an exponent as a JSON
/// string, leaving string contents and integers alone. Only ASCII positions
/// are ever sliced, so any input is safe; invalid JSON stays invalid.
pub(crate) fn quote_fractional_numbers(json: &str) -> Cow<'_, str> {
    let bytes = json.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            break;
                        }
                        _ => i += 1,
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len() && matches!(bytes[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                    i += 1;
                }
                let literal = &json[start..i];
                if literal.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
                    let s = out.get_or_insert_with(|| String::with_capacity(json.len() + 64));
                    s.push_str(&json[copied..start]);
                    s.push('"');
                    s.push_str(literal);
                    s.push('"');
                    copied = i;
                }
            }
            _ => i += 1,
        }
    }
    match out {
        None => Cow::Borrowed(json),
        Some(mut s) => {
            s.push_str(&json[copied.min(json.len())..]);
            Cow::Owned(s)
        }
    }
}

/// Reads a bare Kite JSON document (a postback body, a WebSocket text
/// message) with money exact. Fractional numbers arrive in `serde_json::Value`
/// fields (such as [`KiteOrder::meta`]) as strings.
pub fn parse_json<T: DeserializeOwned>(json: &str) -> serde_json::Result<T> {
    serde_json::from_str(&quote_fractional_numbers(json))
}

#[derive(Deserialize)]
pub(crate) struct Head {
    status: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error_type: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Data<T> {
    data: T,
}

/// Reads a Kite REST response: `{"status":"success","data":…}` yields the
/// data; `{"status":"error","message":…,"error_type":…}`, a non-2xx status or
/// a body that is not Kite's JSON yields a [`KiteError`].
pub fn parse_response<T: DeserializeOwned>(http_status: u16, body: &str) -> Result<T, KiteError> {
    let text = quote_fractional_numbers(body);
    let head: Head = serde_json::from_str(&text).map_err(|e| KiteError {
        http_status,
        error_type: None,
        message: format!("the response is not Kite's JSON ({e}): {}", snippet(body)),
    })?;
    if head.status != "success" || !(200..300).contains(&http_status) {
        let message = head.message.unwrap_or_else(|| format!("status `{}` without a message", head.status));
        return Err(KiteError {
            http_status,
            error_type: head.error_type.as_deref().map(KiteErrorType::from_name),
            message,
        });
    }
    serde_json::from_str::<Data<T>>(&text).map(|d| d.data).map_err(|e| KiteError {
        http_status,
        error_type: None,
        message: format!("the response data could not be read: {e}"),
    })
}

pub(crate) fn snippet(body: &str) -> String {
    let mut s: String = body.chars().take(120).collect();
    if s.len() < body.len() {
        s.push('…');
    }
    s
}

/// An IST wall-clock time as Kite writes it (`2021-05-31 09:18:57`), in UTC.
/// RFC 3339 with an offset is accepted too.
pub fn parse_ist(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S") {
        return Kolkata.from_local_datetime(&naive).single().map(|t| t.with_timezone(&Utc));
    }
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// A UTC time as Kite writes it: IST wall clock, to the second.
pub fn format_ist(at: DateTime<Utc>) -> String {
    at.with_timezone(&Kolkata).format("%Y-%m-%d %H:%M:%S").to_string()
}

pub(crate) fn ist_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(t) if t.trim().is_empty() => Ok(None),
        Some(t) => parse_ist(&t).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!("`{t}` is not a Kite timestamp (YYYY-MM-DD HH:MM:SS, IST)"))
        }),
    }
}

/// Null reads as the default, as a missing field does.
pub(crate) fn null_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum IdRepr {
    Text(String),
    Number(u64),
}

impl From<IdRepr> for String {
    fn from(id: IdRepr) -> String {
        match id {
            IdRepr::Text(s) => s,
            IdRepr::Number(n) => n.to_string(),
        }
    }
}

/// Ids are strings in Kite's documentation; a number is accepted as its digits.
pub(crate) fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    IdRepr::deserialize(d).map(String::from)
}

pub(crate) fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<IdRepr>::deserialize(d)?.map(String::from))
}

/// Kite's `error_type`: the exception its API server raised.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KiteErrorType {
    /// The session expired or was invalidated (403).
    Token,
    /// Something about the user's account.
    User,
    /// Order placement or manipulation failed.
    Order,
    /// Missing or bad parameters.
    Input,
    /// Not enough funds for the order.
    Margin,
    /// Not enough holdings to sell.
    Holding,
    /// Kite could not reach its OMS.
    Network,
    /// Kite could not understand its OMS's answer.
    Data,
    /// Unclassified.
    General,
    /// A name this mapping does not know (PermissionException…), kept as sent.
    Other(String),
}

impl KiteErrorType {
    pub fn from_name(name: &str) -> KiteErrorType {
        use KiteErrorType::*;
        match name.trim() {
            "TokenException" => Token,
            "UserException" => User,
            "OrderException" => Order,
            "InputException" => Input,
            "MarginException" => Margin,
            "HoldingException" => Holding,
            "NetworkException" => Network,
            "DataException" => Data,
            "GeneralException" => General,
            other => Other(other.to_string()),
        }
    }

    pub fn name(&self) -> &str {
        use KiteErrorType::*;
        match self {
            Token => "TokenException",
            User => "UserException",
            Order => "OrderException",
            Input => "InputException",
            Margin => "MarginException",
            Holding => "HoldingException",
            Network => "NetworkException",
            Data => "DataException",
            General => "GeneralException",
            Other(name) => name,
        }
    }
}

impl fmt::Display for KiteErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Kite call that failed: the HTTP status, Kite's exception (`None` when
/// the body was not Kite's error JSON) and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KiteError {
    pub http_status: u16,
    pub error_type: Option<KiteErrorType>,
    pub message: String,
}

impl fmt::Display for KiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error_type {
            Some(t) => write!(f, "Kite HTTP {} {t}: {}", self.http_status, self.message),
            None => write!(f, "Kite HTTP {}: {}", self.http_status, self.message),
        }
    }
}

impl std::error::Error for KiteError {}

impl From<KiteError> for BrokerError {
    /// In order of precedence:
    ///
    /// * TokenException → `Session`, whatever the status: nothing works until
    ///   the operator logs in again.
    /// * HTTP 429 or 5xx → `Unavailable`, whatever the exception: Kite was
    ///   rate limiting or failed on its side, and an order call may or may not
    ///   have taken effect, so the engine must look for the order by its tag
    ///   before it trusts either outcome (a refusal read as final could leave
    ///   a live order untracked).
    /// * Input, Order, Margin, Holding, User → `Rejected` with Kite's message:
    ///   Kite refused the request and nothing happened; the message tells the
    ///   operator why (funds, holdings, a bad price).
    /// * Network, Data, General → `Unavailable`: Kite could not talk to or
    ///   understand its OMS, so the outcome is unknown.
    /// * Any other exception or an unreadable body: a 4xx is a refusal
    ///   (`Rejected`, with the status and text); anything else, including a
    ///   2xx whose data could not be read, is `Unavailable`.
    fn from(e: KiteError) -> Self {
        use KiteErrorType::*;
        let throttled_or_down = e.http_status == 429 || e.http_status >= 500;
        match e.error_type {
            Some(Token) => BrokerError::Session(e.message),
            _ if throttled_or_down => BrokerError::Unavailable(e.to_string()),
            Some(Input | Order | Margin | Holding | User) => BrokerError::Rejected(e.message),
            Some(Network | Data | General) => BrokerError::Unavailable(e.to_string()),
            Some(Other(_)) | None if (400..500).contains(&e.http_status) => BrokerError::Rejected(e.to_string()),
            Some(Other(_)) | None => BrokerError::Unavailable(e.to_string()),
        }
    }
}
