//! The submit body's top-level object as a borrowed view: strings without escapes are slices
//! of the request buffer.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A JSON value of the top-level object, borrowing strings from the body where it can.
#[derive(Debug)]
pub(super) enum Val<'a> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(Cow<'a, str>),
    Array,
    Object,
}

impl<'a> Val<'a> {
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Bool(_) => "a boolean",
            Val::Number(_) => "a number",
            Val::Str(_) => "a string",
            Val::Array => "an array",
            Val::Object => "an object",
        }
    }

    pub(super) fn wrong(&self, want: &str) -> String {
        match self {
            Val::Null => format!("must be {want}, got null (omit the field to use the default)"),
            other => format!("must be {want}, got {}", other.kind()),
        }
    }

    pub(super) fn as_str(&self, _field: &str) -> Result<&str, String> {
        match self {
            Val::Str(s) => Ok(s),
            other => Err(other.wrong("a string")),
        }
    }

    pub(super) fn as_bool(&self, _field: &str) -> Result<bool, String> {
        match self {
            Val::Bool(b) => Ok(*b),
            other => Err(other.wrong("a boolean (true or false)")),
        }
    }

    pub(super) fn as_int(&self, _field: &str, min: u64, max: u64) -> Result<u64, String> {
        let Val::Number(n) = self else {
            return Err(self.wrong(&format!("an integer in {min}..={max}")));
        };
        if let Some(u) = n.as_u64() {
            if (min..=max).contains(&u) {
                return Ok(u);
            }
            return Err(format!("must be within {min}..={max}, got {u}"));
        }
        if let Some(i) = n.as_i64() {
            return Err(format!("must be within {min}..={max}, got {i}"));
        }
        match n.as_f64() {
            Some(f) if f.fract() == 0.0 => Err(format!("must be within {min}..={max}, got {n}")),
            _ => Err(format!("must be an integer in {min}..={max}, got {n}")),
        }
    }

    pub(super) fn as_choice_int(&self, field: &str, allowed: &[u64]) -> Result<u64, String> {
        let list = allowed
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let Val::Number(n) = self else {
            return Err(self.wrong(&format!("one of the integers {list}")));
        };
        match n.as_u64() {
            Some(u) if allowed.contains(&u) => Ok(u),
            _ => {
                let _ = field;
                Err(format!("must be one of {list}, got {n}"))
            }
        }
    }

    pub(super) fn as_choice(
        &self,
        _field: &str,
        allowed: &[&'static str],
    ) -> Result<&'static str, String> {
        let list = allowed
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let Val::Str(s) = self else {
            return Err(self.wrong(&format!("one of {list}")));
        };
        allowed
            .iter()
            .find(|a| **a == s.as_ref())
            .copied()
            .ok_or_else(|| format!("must be one of {list}, got \"{}\"", shorten(s)))
    }
}

fn shorten(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(40) {
        Some((i, _)) => Cow::Owned(format!("{}…", &s[..i])),
        None => Cow::Borrowed(s),
    }
}

/// The top-level object, in body order (duplicates kept so they can be reported).
pub(super) struct Object<'a>(pub(super) Vec<(Cow<'a, str>, Val<'a>)>);

struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Val<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Val<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Val::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Val::Null)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Val::Bool(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Val::Number(v.into()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Val::Number(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                serde_json::Number::from_f64(v)
                    .map(Val::Number)
                    .ok_or_else(|| E::custom("number out of range"))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Val::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Val::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Val::Str(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Val::Array)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Val::Object)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Object<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::new();
                while let Some((Key(k), v)) = map.next_entry::<Key<'de>, Val<'de>>()? {
                    fields.push((k, v));
                }
                Ok(Object(fields))
            }
        }
        d.deserialize_map(V)
    }
}
