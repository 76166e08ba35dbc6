//! JSON as the engine reads it: a parse that keeps every value of a duplicated key, and the
//! JSON paths findings are reported at.
//!
//! **What it is for.** JSON (RFC 8259 §4) leaves the meaning of an object whose keys repeat to
//! the parser: `serde_json`, Python's `json` and JavaScript keep the last value, others keep the
//! first or refuse the document. If the scanner kept only the last value of
//! `{"prompt": "<attack>", "prompt": "hello"}`, a consumer that keeps the first would receive an
//! attack nobody scanned. [`parse_json`] parses like `serde_json` (the last value wins in the
//! [`Value`]) and hands back every earlier value as a [`DuplicateKey`], with its path, so the
//! engine scans it as well and reports the duplication itself (`SYS-003`).
//!
//! Paths are written as findings show them: `metadata.arguments.cmd`, `result.content[0].text`,
//! `["a key"]` for a key that is not an identifier.

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt::{self, Write as _};

/// An earlier value of a key that appears more than once in one JSON object: the value a
/// parser keeping the first occurrence would see, shadowed in the parsed [`Value`] by a later
/// one.
#[derive(Clone, Debug, PartialEq)]
pub struct DuplicateKey {
    /// The JSON path of the key (`params.arguments.cmd`), as findings show paths.
    pub path: String,
    /// The shadowed value.
    pub value: Value,
}

/// A parsed JSON document and the values its duplicated keys shadowed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParsedJson {
    /// The document, the last value of each key kept (as `serde_json` parses it).
    pub value: Value,
    /// Every earlier value of each duplicated key, in document order of the later key.
    pub duplicates: Vec<DuplicateKey>,
}

/// Parses JSON bytes, keeping the values duplicated keys shadow. Errors are `serde_json`'s,
/// with line and column.
///
/// ```
/// let parsed = mcp_threatscan::parse_json(br#"{"a": {"cmd": "rm -rf /", "cmd": "ls"}}"#)?;
/// assert_eq!(parsed.value["a"]["cmd"], "ls");
/// assert_eq!(parsed.duplicates[0].path, "a.cmd");
/// assert_eq!(parsed.duplicates[0].value, "rm -rf /");
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn parse_json(json: &[u8]) -> Result<ParsedJson, serde_json::Error> {
    parse_at(json, String::new())
}

/// [`parse_json`] of a document found at `prefix` (a string holding JSON): the duplicates'
/// paths start with it.
pub(crate) fn parse_at(json: &[u8], prefix: String) -> Result<ParsedJson, serde_json::Error> {
    let mut state = State { path: prefix, duplicates: Vec::new() };
    let mut de = serde_json::Deserializer::from_slice(json);
    let value = Seed(&mut state).deserialize(&mut de)?;
    de.end()?;
    Ok(ParsedJson { value, duplicates: state.duplicates })
}

/// Appends an object key to a JSON path: `.key` (no dot at the top), or `["key"]` when the key
/// is not an identifier.
pub(crate) fn push_key(path: &mut String, key: &str, top: bool) {
    let ident = !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !key.as_bytes()[0].is_ascii_digit();
    if ident {
        if !top {
            path.push('.');
        }
        path.push_str(key);
        return;
    }
    path.push_str("[\"");
    for c in key.chars() {
        match c {
            '"' => path.push_str("\\\""),
            '\\' => path.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(path, "\\u{:04x}", c as u32);
            }
            c => path.push(c),
        }
    }
    path.push_str("\"]");
}

/// Appends an array index to a JSON path: `[i]`.
pub(crate) fn push_index(path: &mut String, i: usize) {
    let _ = write!(path, "[{i}]");
}

/// Where the parse is, and what it found shadowed.
struct State {
    path: String,
    duplicates: Vec<DuplicateKey>,
}

/// Deserializes one value at the state's path. (`serde_json` bounds the nesting depth.)
struct Seed<'s>(&'s mut State);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let state = self.0;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        let len = state.path.len();
        loop {
            push_index(&mut state.path, items.len());
            let item = seq.next_element_seed(Seed(state));
            state.path.truncate(len);
            match item? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let state = self.0;
        let mut members = Map::new();
        let len = state.path.len();
        while let Some(key) = map.next_key::<String>()? {
            push_key(&mut state.path, &key, len == 0);
            let value = map.next_value_seed(Seed(state));
            let value = match value {
                Ok(value) => value,
                Err(e) => {
                    state.path.truncate(len);
                    return Err(e);
                }
            };
            if let Some(shadowed) = members.insert(key, value) {
                state.duplicates.push(DuplicateKey { path: state.path.clone(), value: shadowed });
            }
            state.path.truncate(len);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_value_as_serde_json() {
        let docs: [&[u8]; 6] = [
            br#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": "\u00e9\ud83d\ude00"}"#,
            b"[]",
            b"\"s\"",
            b"18446744073709551615",
            b"-9223372036854775808",
            br#"{"a": 1, "a": 2, "b": {"a": [3], "a": {"z": 0}}}"#,
        ];
        for doc in docs {
            let ours = parse_json(doc).unwrap().value;
            let theirs: Value = serde_json::from_slice(doc).unwrap();
            assert_eq!(ours, theirs, "{}", String::from_utf8_lossy(doc));
        }
    }

    #[test]
    fn every_shadowed_value_with_its_path() {
        let parsed =
            parse_json(br#"{"p": "one", "p": "two", "p": "three", "m": {"x y": [{"k": 1, "k": 2}]}, "m": 0}"#).unwrap();
        assert_eq!(parsed.value, json!({"p": "three", "m": 0}));
        let found: Vec<(&str, &Value)> = parsed.duplicates.iter().map(|d| (d.path.as_str(), &d.value)).collect();
        assert_eq!(
            found,
            [
                ("p", &json!("one")),
                ("p", &json!("two")),
                ("m[\"x y\"][0].k", &json!(1)),
                ("m", &json!({"x y": [{"k": 2}]})),
            ]
        );
    }

    #[test]
    fn prefix_and_errors() {
        let parsed = parse_at(br#"[{"a": 1, "a": 2}]"#, "prompt(json)".into()).unwrap();
        assert_eq!(parsed.duplicates[0].path, "prompt(json)[0].a");
        let e = parse_json(b"{\"a\": 1,\n \"a\": }").unwrap_err();
        assert_eq!((e.line(), e.column()), (2, 7));
        assert!(parse_json(b"{} x").is_err());
        // serde_json's nesting limit holds.
        assert!(parse_json(&[b'['; 10_000]).is_err());
    }
}
