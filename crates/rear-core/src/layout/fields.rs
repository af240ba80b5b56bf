//! Field encoding for layout records: how one typed value becomes the text after `key=`, and
//! back.
//!
//! Contract: [`FieldValue::encode`] returns `None` when the field is left out of the line (an
//! absent `Option`, an empty list, a `false` flag), and [`FieldValue::decode`] turns an absent key
//! back into that same value, so that decode ∘ encode is the identity for every value. Text is
//! percent-encoded only where the line syntax needs it (space, tab, `%`, `#`, control characters;
//! plus `,` inside list items), so that labels and paths stay readable in vi.

use std::fmt::Write as _;

/// A value that can be written after `key=` in a layout line and read back.
pub trait FieldValue: Sized {
    /// The text after `key=`, or `None` when the key is left out.
    fn encode(&self) -> Option<String>;
    /// Reads the text after `key=` (`None` when the key is absent).
    fn decode(raw: Option<&str>) -> Result<Self, String>;
}

/// Percent-encodes what the line syntax cannot hold verbatim.
pub fn escape(text: &str, also: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '%' || c == ' ' || c == '#' || c.is_control() || also.contains(&c) {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Decodes `%XX` sequences. A `%` that is not followed by two hex digits is kept as it is, so
/// hand-written text with a stray `%` is not rejected.
pub fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
        {
            let hex = [bytes[i + 1], bytes[i + 2]];
            let hex = std::str::from_utf8(&hex).unwrap_or("00");
            out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn required(raw: Option<&str>) -> Result<&str, String> {
    raw.ok_or_else(|| "is required".to_string())
}

impl FieldValue for String {
    fn encode(&self) -> Option<String> {
        Some(escape(self, &[]))
    }
    fn decode(raw: Option<&str>) -> Result<Self, String> {
        required(raw).map(unescape)
    }
}

macro_rules! number_field {
    ($($t:ty),*) => {$(
        impl FieldValue for $t {
            fn encode(&self) -> Option<String> {
                Some(self.to_string())
            }
            fn decode(raw: Option<&str>) -> Result<Self, String> {
                let raw = required(raw)?;
                raw.parse::<$t>().map_err(|_| format!("'{raw}' is not a number"))
            }
        }
    )*};
}
number_field!(u32, u64, i64);

impl FieldValue for bool {
    fn encode(&self) -> Option<String> {
        self.then(|| "yes".to_string())
    }
    fn decode(raw: Option<&str>) -> Result<Self, String> {
        match raw {
            None | Some("no") => Ok(false),
            Some("yes") => Ok(true),
            Some(other) => Err(format!("'{other}' is not yes or no")),
        }
    }
}

impl<T: FieldValue> FieldValue for Option<T> {
    fn encode(&self) -> Option<String> {
        self.as_ref().and_then(FieldValue::encode)
    }
    fn decode(raw: Option<&str>) -> Result<Self, String> {
        match raw {
            None => Ok(None),
            Some(_) => T::decode(raw).map(Some),
        }
    }
}

impl FieldValue for Vec<String> {
    fn encode(&self) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        Some(
            self.iter()
                .map(|s| escape(s, &[',']))
                .collect::<Vec<_>>()
                .join(","),
        )
    }
    fn decode(raw: Option<&str>) -> Result<Self, String> {
        match raw {
            None | Some("") => Ok(Vec::new()),
            Some(list) => Ok(list.split(',').map(unescape).collect()),
        }
    }
}

/// Declares an enum of keywords with an `Other(String)` catch-all, so an unknown value read from
/// a tool or a file is kept verbatim instead of being rejected or lost.
macro_rules! keyword_enum {
    ($(#[$m:meta])* $name:ident { $( $(#[$vm:meta])* $var:ident = $text:literal, )* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
        #[serde(into = "String")]
        pub enum $name {
            $( $(#[$vm])* $var, )*
            /// A value this version does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// The keyword as written in the layout file.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$var => $text, )*
                    $name::Other(s) => s,
                }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::Other(String::new())
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $( $text => $name::$var, )*
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.as_str().to_string()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::layout::fields::FieldValue for $name {
            fn encode(&self) -> Option<String> {
                Some($crate::layout::fields::escape(self.as_str(), &[]))
            }
            fn decode(raw: Option<&str>) -> Result<Self, String> {
                let raw = raw.ok_or_else(|| "is required".to_string())?;
                Ok($name::from($crate::layout::fields::unescape(raw).as_str()))
            }
        }
    };
}
pub(crate) use keyword_enum;

/// The `key=value` fields of one line, consumed as a record is built so that leftover (unknown)
/// keys can be reported.
#[derive(Debug, Default)]
pub struct Fields {
    items: Vec<(String, String)>,
}

impl Fields {
    /// Splits `key=value` words. A word without `=` or a repeated key is an error.
    pub fn parse<'a>(words: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut items: Vec<(String, String)> = Vec::new();
        for word in words {
            let Some((k, v)) = word.split_once('=') else {
                return Err(format!("'{word}' is not key=value"));
            };
            if k.is_empty() {
                return Err(format!("'{word}' has an empty key"));
            }
            if items.iter().any(|(old, _)| old == k) {
                return Err(format!("key '{k}' appears twice"));
            }
            items.push((k.to_string(), v.to_string()));
        }
        Ok(Fields { items })
    }

    /// Removes and decodes `key`.
    pub fn take<T: FieldValue>(&mut self, key: &str) -> Result<T, String> {
        let pos = self.items.iter().position(|(k, _)| k == key);
        let raw = pos.map(|p| self.items.remove(p).1);
        T::decode(raw.as_deref()).map_err(|e| format!("field '{key}' {e}"))
    }

    /// Keys that no record field consumed.
    pub fn leftover(&self) -> Vec<&str> {
        self.items.iter().map(|(k, _)| k.as_str()).collect()
    }
}

/// A record type: one line of the layout file, `keyword key=value ...`.
pub trait Record: Sized {
    /// The keyword that starts its line.
    const KEYWORD: &'static str;
    /// The fields in their canonical order, leaving out absent ones.
    fn to_fields(&self) -> Vec<(&'static str, String)>;
    /// Builds the record, consuming the fields it knows.
    fn from_fields(fields: &mut Fields) -> Result<Self, String>;
}

/// Declares a record struct (one kind of layout line) together with its [`Record`] impl.
macro_rules! record {
    ($(#[$m:meta])* $name:ident = $kw:literal {
        $( $(#[$fm:meta])* $field:ident : $ty:ty = $key:literal, )*
    }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
        pub struct $name {
            $( $(#[$fm])* pub $field: $ty, )*
        }

        impl $crate::layout::fields::Record for $name {
            const KEYWORD: &'static str = $kw;
            fn to_fields(&self) -> Vec<(&'static str, String)> {
                let mut out = Vec::new();
                $(
                    if let Some(v) = $crate::layout::fields::FieldValue::encode(&self.$field) {
                        out.push(($key, v));
                    }
                )*
                out
            }
            fn from_fields(f: &mut $crate::layout::fields::Fields) -> Result<Self, String> {
                Ok($name { $( $field: f.take($key)?, )* })
            }
        }
    };
}
pub(crate) use record;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_round_trips_awkward_text() {
        for s in [
            "plain",
            "with space",
            "100%",
            "#hash",
            "tab\there",
            "ünïcödé",
            "a,b",
            "%zz",
            "",
        ] {
            assert_eq!(unescape(&escape(s, &[','])), s, "{s}");
        }
        assert_eq!(escape("EFI System", &[]), "EFI%20System");
        assert_eq!(unescape("50%"), "50%");
        assert_eq!(unescape("%4"), "%4");
    }

    #[test]
    fn lists_and_options() {
        let v = vec!["a b".to_string(), "c,d".to_string()];
        let enc = v.encode().unwrap();
        assert_eq!(enc, "a%20b,c%2Cd");
        assert_eq!(Vec::<String>::decode(Some(&enc)).unwrap(), v);
        assert_eq!(Vec::<String>::new().encode(), None);
        assert_eq!(Option::<u64>::decode(None).unwrap(), None);
        assert!(
            u64::decode(Some("12x"))
                .unwrap_err()
                .contains("not a number")
        );
        assert_eq!(Some(String::new()).encode(), Some(String::new()));
    }
}
