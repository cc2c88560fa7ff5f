//! The value types settings are made of: a secret that never prints, a
//! wall-clock time written HH:MM, and the readers that treat an empty value
//! as unset.

use std::fmt;

use chrono::NaiveTime;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret value: prints and serialises as `[REDACTED]`.
#[derive(Clone)]
pub struct Secret(SecretString);

pub const REDACTED: &str = "[REDACTED]";

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(SecretString::from(value.into()))
    }
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

/// Text that may arrive as a number from the environment (`TELEGRAM_CHAT_ID=42`).
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum TextLike {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// Optional text: absent or blank means "not set".
pub(crate) fn optional_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let raw = Option::<TextLike>::deserialize(d)?.map(|t| match t {
        TextLike::Text(s) => s,
        TextLike::Int(i) => i.to_string(),
        TextLike::Float(f) => f.to_string(),
        TextLike::Bool(b) => b.to_string(),
    });
    Ok(raw.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
}

/// An empty secret is no secret: `api_key = ""` means "not set".
pub(crate) fn optional_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    Ok(optional_text(d)?.map(Secret::new))
}

/// A wall-clock time written "HH:MM".
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClockTime(pub NaiveTime);

impl ClockTime {
    pub fn hm(h: u32, m: u32) -> Self {
        ClockTime(NaiveTime::from_hms_opt(h, m, 0).expect("valid time"))
    }
}

impl fmt::Debug for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%H:%M"))
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        NaiveTime::parse_from_str(text.trim(), "%H:%M")
            .map(ClockTime)
            .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a time; write it as HH:MM, e.g. 15:15")))
    }
}
