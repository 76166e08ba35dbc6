//! The JSON-RPC envelope of a line, picked out as it streams by: the top-level `"id"` and
//! `"method"`, and whether the message is a response.

use super::MAX_CAPTURE;
use memchr::memchr2;
use serde_json::Value;

/// Where the scanner is in the top-level JSON value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the first byte that is not whitespace.
    Start,
    /// In the top-level object, where a member's key (or its end) comes next.
    ExpectKey,
    /// In a top-level key.
    Key,
    /// After a top-level key, before its `:`.
    AfterKey,
    /// After a top-level `:`.
    ExpectValue,
    /// In a top-level member's string value.
    StringValue,
    /// In a top-level member's number, `true`, `false` or `null`.
    Scalar,
    /// In a top-level member's object or array value (`depth` says how deep).
    Nested,
    /// After a top-level member's value, before its `,` or the closing `}`.
    AfterValue,
    /// The top-level value ended, is not an object, or is malformed: nothing more to learn.
    Done,
}

/// Which member a top-level value belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Id,
    Method,
    Other,
}

/// The escape state inside a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Escape {
    None,
    /// After a backslash.
    Backslash,
    /// After `\u` and this many hex digits (of a key), with their value so far.
    Unicode(u8, u32),
}

/// The longest key worth decoding: `method`, `result`.
const KEY_CAP: usize = 8;

/// Top-level members seen ([`EnvelopeScanner::members`]).
const HAS_METHOD: u8 = 1;
const HAS_RESULT: u8 = 2;
const HAS_ERROR: u8 = 4;

/// Finds a JSON-RPC message's top-level `"id"` and `"method"` in a stream of its bytes, fed
/// in pieces of any size; see the [module documentation](self).
///
/// A small linear tokenizer: it tracks strings, escapes and nesting depth over every byte,
/// decodes the top-level keys (escapes included: `"\u0069d"` is `id`) and keeps the raw text
/// of the values of `id` and `method` (up to [`MAX_CAPTURE`] bytes), which it decodes with
/// serde_json when they end. Members nested deeper, and keys or values inside strings, are
/// not taken. When a member appears twice the last one counts, as with serde_json.
///
/// ```
/// use mcp_threatscan::framing::EnvelopeScanner;
///
/// let mut scanner = EnvelopeScanner::new();
/// scanner.feed(br#"{"params":{"id":1,"text":"\"id\":2"},"#);
/// scanner.feed(br#""id":3,"method":"tools/call"}"#);
/// assert_eq!(scanner.id(), Some(&serde_json::json!(3)));
/// assert_eq!(scanner.method(), Some("tools/call"));
/// ```
#[derive(Clone, Debug)]
pub struct EnvelopeScanner {
    state: State,
    /// Nesting depth: 1 inside the top-level object.
    depth: u64,
    escape: Escape,
    /// In a string, inside a nested value.
    nested_string: bool,
    /// The decoded bytes of the current top-level key.
    key: [u8; KEY_CAP],
    key_len: usize,
    /// The current key cannot be `id` or `method` (too long, or not ASCII).
    key_other: bool,
    target: Target,
    /// The raw text of the value of `id` or `method` being read.
    capture: Vec<u8>,
    /// The value being read is longer than [`MAX_CAPTURE`].
    capture_over: bool,
    pub(super) id: Option<Value>,
    pub(super) method: Option<String>,
    /// Which of `method`, `result` and `error` appeared at the top level (`HAS_*` bits).
    members: u8,
}

impl Default for EnvelopeScanner {
    fn default() -> Self {
        EnvelopeScanner::new()
    }
}

impl EnvelopeScanner {
    /// A scanner at the start of a message.
    pub fn new() -> Self {
        EnvelopeScanner {
            state: State::Start,
            depth: 0,
            escape: Escape::None,
            nested_string: false,
            key: [0; KEY_CAP],
            key_len: 0,
            key_other: false,
            target: Target::Other,
            capture: Vec::with_capacity(MAX_CAPTURE + 2),
            capture_over: false,
            id: None,
            method: None,
            members: 0,
        }
    }

    /// Back to the start of a message (what was found is forgotten).
    pub fn reset(&mut self) {
        self.state = State::Start;
        self.depth = 0;
        self.escape = Escape::None;
        self.nested_string = false;
        self.key_len = 0;
        self.key_other = false;
        self.target = Target::Other;
        self.capture.clear();
        self.capture_over = false;
        self.id = None;
        self.method = None;
        self.members = 0;
    }

    /// The top-level `"id"` found so far: a number or a string (`null` and other values are
    /// `None`).
    pub fn id(&self) -> Option<&Value> {
        self.id.as_ref()
    }

    /// The top-level `"method"` found so far.
    pub fn method(&self) -> Option<&str> {
        self.method.as_deref()
    }

    /// Whether the scanner has stopped looking: the top-level object ended, the message is
    /// not an object, or it is malformed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Whether the message is a response, as far as seen: it has a top-level `"result"` or
    /// `"error"` member, and no `"method"` member (whatever their values).
    pub fn is_response(&self) -> bool {
        self.members & HAS_METHOD == 0 && self.members & (HAS_RESULT | HAS_ERROR) != 0
    }

    /// Scans the next bytes of the message.
    pub fn feed(&mut self, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            match self.state {
                State::Done => return,
                State::Start => {
                    if !is_space(b) {
                        if b == b'{' {
                            self.depth = 1;
                            self.state = State::ExpectKey;
                        } else {
                            self.state = State::Done;
                        }
                    }
                    i += 1;
                }
                State::ExpectKey => {
                    match b {
                        b'"' => {
                            self.state = State::Key;
                            self.escape = Escape::None;
                            self.key_len = 0;
                            self.key_other = false;
                        }
                        b'}' => self.state = State::Done,
                        b',' => {}
                        _ if is_space(b) => {}
                        _ => self.state = State::Done,
                    }
                    i += 1;
                }
                State::Key => {
                    if self.key_byte(b) {
                        i += 1;
                    }
                }
                State::AfterKey => {
                    match b {
                        b':' => self.state = State::ExpectValue,
                        _ if is_space(b) => {}
                        _ => self.state = State::Done,
                    }
                    i += 1;
                }
                State::ExpectValue => {
                    if is_space(b) {
                        i += 1;
                        continue;
                    }
                    match b {
                        b'"' => {
                            self.start_capture();
                            self.capture.push(b'"');
                            self.escape = Escape::None;
                            self.state = State::StringValue;
                        }
                        b'{' | b'[' => {
                            // An object or array is no id or method.
                            self.finish_value(None);
                            self.depth = 2;
                            self.nested_string = false;
                            self.escape = Escape::None;
                            self.state = State::Nested;
                        }
                        b'}' | b',' | b']' | b':' => self.state = State::Done,
                        _ => {
                            self.start_capture();
                            self.push_capture(&[b]);
                            self.state = State::Scalar;
                        }
                    }
                    i += 1;
                }
                State::StringValue => {
                    if self.escape == Escape::Backslash {
                        self.push_capture(&[b]);
                        self.escape = Escape::None;
                        i += 1;
                        continue;
                    }
                    let rest = &bytes[i..];
                    match memchr2(b'"', b'\\', rest) {
                        None => {
                            self.push_capture(rest);
                            i = bytes.len();
                        }
                        Some(j) => {
                            self.push_capture(&rest[..j]);
                            if rest[j] == b'\\' {
                                self.push_capture(b"\\");
                                self.escape = Escape::Backslash;
                            } else {
                                self.end_string_value();
                            }
                            i += j + 1;
                        }
                    }
                }
                State::Scalar => {
                    if is_space(b) || matches!(b, b',' | b'}' | b']') {
                        self.end_scalar();
                        // The delimiter is read again, after the value.
                    } else {
                        self.push_capture(&[b]);
                        i += 1;
                    }
                }
                State::Nested => {
                    if self.nested_string {
                        if self.escape == Escape::Backslash {
                            self.escape = Escape::None;
                            i += 1;
                            continue;
                        }
                        match memchr2(b'"', b'\\', &bytes[i..]) {
                            None => i = bytes.len(),
                            Some(j) => {
                                if bytes[i + j] == b'\\' {
                                    self.escape = Escape::Backslash;
                                } else {
                                    self.nested_string = false;
                                }
                                i += j + 1;
                            }
                        }
                        continue;
                    }
                    match b {
                        b'"' => self.nested_string = true,
                        b'{' | b'[' => self.depth = self.depth.saturating_add(1),
                        b'}' | b']' => {
                            self.depth -= 1;
                            if self.depth <= 1 {
                                self.depth = 1;
                                self.state = State::AfterValue;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                State::AfterValue => {
                    match b {
                        b',' => self.state = State::ExpectKey,
                        _ if is_space(b) => {}
                        // `}` ends the top-level object; anything else is malformed.
                        _ => self.state = State::Done,
                    }
                    i += 1;
                }
            }
        }
    }

    /// One byte of a top-level key; false when the byte is to be read again (it ended a
    /// `\u` escape early).
    fn key_byte(&mut self, b: u8) -> bool {
        match self.escape {
            Escape::None => match b {
                b'"' => {
                    let key = if self.key_other { &b""[..] } else { &self.key[..self.key_len] };
                    self.target = match key {
                        b"id" => Target::Id,
                        b"method" => Target::Method,
                        _ => Target::Other,
                    };
                    self.members |= match key {
                        b"method" => HAS_METHOD,
                        b"result" => HAS_RESULT,
                        b"error" => HAS_ERROR,
                        _ => 0,
                    };
                    self.state = State::AfterKey;
                }
                b'\\' => self.escape = Escape::Backslash,
                _ => self.key_push(b),
            },
            Escape::Backslash => {
                self.escape = Escape::None;
                match b {
                    b'u' => self.escape = Escape::Unicode(0, 0),
                    b'"' | b'\\' | b'/' => self.key_push(b),
                    // \b \f \n \r \t and invalid escapes: in no key worth finding.
                    _ => self.key_other = true,
                }
            }
            Escape::Unicode(n, value) => {
                let Some(digit) = (b as char).to_digit(16) else {
                    // Malformed: the escape ends here and the byte is read again.
                    self.key_other = true;
                    self.escape = Escape::None;
                    return false;
                };
                let value = value * 16 + digit;
                if n == 3 {
                    self.escape = Escape::None;
                    match u8::try_from(value) {
                        Ok(ascii) if ascii.is_ascii() => self.key_push(ascii),
                        _ => self.key_other = true,
                    }
                } else {
                    self.escape = Escape::Unicode(n + 1, value);
                }
            }
        }
        true
    }

    fn key_push(&mut self, b: u8) {
        if self.key_len < KEY_CAP {
            self.key[self.key_len] = b;
            self.key_len += 1;
        } else {
            self.key_other = true;
        }
    }

    fn start_capture(&mut self) {
        self.capture.clear();
        self.capture_over = false;
    }

    /// Keeps raw bytes of the value of `id` or `method` (and nothing of other members).
    fn push_capture(&mut self, bytes: &[u8]) {
        if self.target == Target::Other || self.capture_over {
            return;
        }
        // The opening quote of a string does not count.
        let used = self.capture.len() - usize::from(self.capture.first() == Some(&b'"'));
        if used + bytes.len() > MAX_CAPTURE {
            self.capture_over = true;
            self.capture.clear();
        } else {
            self.capture.extend_from_slice(bytes);
        }
    }

    fn end_string_value(&mut self) {
        self.state = State::AfterValue;
        if self.target == Target::Other {
            return;
        }
        let value = if self.capture_over {
            None
        } else {
            self.capture.push(b'"');
            serde_json::from_slice::<String>(&self.capture).ok().map(Value::String)
        };
        self.finish_value(value);
    }

    fn end_scalar(&mut self) {
        self.state = State::AfterValue;
        if self.target == Target::Other {
            return;
        }
        let value = if self.capture_over {
            None
        } else {
            // A number; `true`, `false` and `null` are no id.
            serde_json::from_slice::<Value>(&self.capture).ok().filter(Value::is_number)
        };
        self.finish_value(value);
    }

    /// The value of the current member is `value` (`None`: not a usable id or method).
    fn finish_value(&mut self, value: Option<Value>) {
        match self.target {
            Target::Id => self.id = value,
            Target::Method => {
                self.method = match value {
                    Some(Value::String(s)) => Some(s),
                    _ => None,
                }
            }
            Target::Other => {}
        }
        self.capture.clear();
        self.capture_over = false;
    }
}

/// JSON whitespace.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}
