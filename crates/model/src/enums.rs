//! Closed vocabularies shared by the database (CHECK constraints), the broker
//! APIs and the console. Each enum spells itself exactly as the schema does.

/// A string that is not one of an enum's spellings. Names the field and lists
/// what is allowed, so the message can be shown to an operator as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: `{value}` is not allowed; expected one of {allowed}")]
pub struct ParseEnumError {
    pub field: &'static str,
    pub value: String,
    pub allowed: String,
}

/// Declares a string enum with `as_str`, `ALL`, `Display` and `FromStr`
/// (case-insensitive on input, canonical on output).
#[macro_export]
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(|e: $crate::enums::ParseEnumError| {
                    serde::de::Error::custom(format!("`{}` is not allowed; expected one of {}", e.value, e.allowed))
                })
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const FIELD: &'static str = $field;

            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::enums::ParseEnumError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let t = s.trim();
                $(if t.eq_ignore_ascii_case($text) { return Ok($name::$variant); })+
                Err($crate::enums::ParseEnumError {
                    field: $field,
                    value: s.to_string(),
                    allowed: [$($text),+].join(", "),
                })
            }
        }
    };
}
pub use crate::string_enum;
