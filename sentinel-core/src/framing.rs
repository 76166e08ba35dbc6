//! Bounded reading of newline-delimited JSON-RPC: one line at a time, never more than a
//! maximum held in memory.
//!
//! **What it is for.** A stdio MCP proxy or gateway (`sentinel proxy`) relays newline-delimited
//! JSON-RPC between two peers it does not trust. `BufRead::read_until(b'\n')` holds a whole
//! line, so a peer that writes 512 MB without a newline makes the relay hold 512 MB.
//! [`LineReader`] holds at most `max_bytes` of a line: past that, the rest of the line is
//! discarded as it streams in, and the line is reported as [`Line::Oversize`] with its length.
//!
//! An over-size line cannot be parsed or scanned whole, but its sender usually waits for an
//! answer: so while the line streams by (the kept bytes and the discarded ones alike), an
//! [`EnvelopeScanner`] picks out the JSON-RPC envelope, the top-level `"id"` (a number or a
//! string) and `"method"` (a string), wherever they sit in the line, for instance after
//! 100 MB of `params`. The caller can then answer the request with the right id, or tell the
//! peer waiting for a response that it will not come.
//!
//! ```
//! use sentinel_core::framing::{Line, LineReader};
//!
//! let huge = "x".repeat(1000);
//! let input = format!(
//!     "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}}\n\
//!      {{\"jsonrpc\":\"2.0\",\"params\":{{\"text\":\"{huge}\"}},\"method\":\"tools/call\",\"id\":\"r-2\"}}\n"
//! );
//! let mut lines = LineReader::new(input.as_bytes(), 100);
//! let mut buf = Vec::new();
//! assert_eq!(lines.next_line(&mut buf)?, Some(Line::Complete));
//! assert_eq!(buf, b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n");
//! match lines.next_line(&mut buf)? {
//!     Some(Line::Oversize { bytes, id, method, .. }) => {
//!         assert!(bytes > 1000);
//!         assert_eq!(id, Some(serde_json::json!("r-2")));
//!         assert_eq!(method.as_deref(), Some("tools/call"));
//!     }
//!     other => panic!("{other:?}"),
//! }
//! assert_eq!(lines.next_line(&mut buf)?, None);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Guarantees
//!
//! - Memory: the line buffer never grows past `max_bytes` + 1 (the newline) on its own (a
//!   buffer the caller passes in keeps the capacity it had), plus the reader's own buffer and
//!   [`MAX_CAPTURE`] bytes per captured member.
//! - Time: linear in the input. The scanner looks at every byte at most a constant number of
//!   times and skips string contents with `memchr`; it allocates only when it finishes a
//!   captured member (to decode it), never per byte.
//! - Any bytes: invalid UTF-8, unbalanced brackets, unterminated strings or escapes, NUL bytes
//!   never panic. On malformed JSON the scanner may find no id, or stop looking.

use memchr::{memchr, memchr2};
use serde_json::Value;
use std::io::{self, BufRead};

/// The most bytes of a captured member's value (its raw JSON text, escapes included, quotes
/// left out) that [`EnvelopeScanner`] keeps. A longer `"id"` or `"method"` is reported as
/// absent: a real id or method name is far shorter.
pub const MAX_CAPTURE: usize = 256;

/// What [`LineReader::next_line`] read.
#[derive(Clone, Debug, PartialEq)]
pub enum Line {
    /// A whole line, in the caller's buffer (with its `\n`, when it had one: the last line of
    /// the input may have none). It has at most `max_bytes` bytes before the `\n`.
    Complete,
    /// A line longer than `max_bytes` (not counting its `\n`). Its bytes were discarded; the
    /// caller's buffer is empty.
    Oversize {
        /// The line's length in bytes, without its `\n`.
        bytes: u64,
        /// The top-level `"id"` member, when it is a number or a string of at most
        /// [`MAX_CAPTURE`] bytes (`null`, anything else, a longer one, or none: `None`).
        id: Option<Value>,
        /// The top-level `"method"` member, when it is a string of at most [`MAX_CAPTURE`]
        /// bytes.
        method: Option<String>,
        /// The line is a response: it has a top-level `"result"` or `"error"` member and no
        /// `"method"` member.
        response: bool,
    },
}

/// Reads newline-delimited lines of at most `max_bytes` bytes each from a [`BufRead`]; see
/// the [module documentation](self).
///
/// A line ends at `\n`; a `\r` before it stays part of the line (JSON takes it as whitespace).
/// The length compared with `max_bytes` is the line's without its `\n`.
#[derive(Debug)]
pub struct LineReader<R> {
    reader: R,
    max: usize,
    scanner: EnvelopeScanner,
}

impl<R: BufRead> LineReader<R> {
    /// A reader of lines of at most `max_bytes` bytes each (`\n` not counted).
    pub fn new(reader: R, max_bytes: usize) -> Self {
        LineReader { reader, max: max_bytes, scanner: EnvelopeScanner::new() }
    }

    /// The maximum length of a line, in bytes.
    pub fn max_bytes(&self) -> usize {
        self.max
    }

    /// The underlying reader.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// The underlying reader; what it buffered of the next line stays in it.
    pub fn into_inner(self) -> R {
        self.reader
    }

    /// Reads the next line into `buf` (cleared first). `Ok(None)` at the end of the input.
    ///
    /// An over-size line is consumed to its end whatever its length, holding at most
    /// `max_bytes` of it at a time, and reported as [`Line::Oversize`]. An I/O error is
    /// returned as it is (`Interrupted` is retried); the part of the line read before it is
    /// lost.
    pub fn next_line(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<Line>> {
        buf.clear();
        let mut len: u64 = 0;
        let mut started = false;
        let mut over = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok(started.then(|| self.finish(over, len)));
            }
            started = true;
            let (end, newline) = match memchr(b'\n', available) {
                Some(i) => (i, true),
                None => (available.len(), false),
            };
            let chunk = &available[..end];
            if over {
                self.scanner.feed(chunk);
            } else if len.saturating_add(end as u64) <= self.max as u64 {
                // Room for the chunk and a newline, growing as Vec would (doubling) but never
                // past the line's maximum and its newline.
                let need = buf.len() + end + 1;
                if need > buf.capacity() {
                    let want = need.max(buf.capacity().saturating_mul(2)).min(self.max.saturating_add(1)).max(need);
                    buf.reserve_exact(want - buf.len());
                }
                buf.extend_from_slice(chunk);
            } else {
                // The line just went past the maximum: what is kept is scanned, then dropped.
                over = true;
                self.scanner.reset();
                self.scanner.feed(buf);
                self.scanner.feed(chunk);
                buf.clear();
            }
            len = len.saturating_add(end as u64);
            self.reader.consume(end + usize::from(newline));
            if newline {
                if !over {
                    buf.push(b'\n');
                }
                return Ok(Some(self.finish(over, len)));
            }
        }
    }

    fn finish(&mut self, over: bool, bytes: u64) -> Line {
        if !over {
            return Line::Complete;
        }
        let line = Line::Oversize {
            bytes,
            id: self.scanner.id.take(),
            method: self.scanner.method.take(),
            response: self.scanner.is_response(),
        };
        self.scanner.reset();
        line
    }
}

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
/// use sentinel_core::framing::EnvelopeScanner;
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
    id: Option<Value>,
    method: Option<String>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::{BufReader, Read};

    /// Every line of `input`, read with `max` and a reader buffer of `capacity` bytes.
    fn lines(input: &[u8], max: usize, capacity: usize) -> Vec<(Line, Vec<u8>)> {
        let mut reader = LineReader::new(BufReader::with_capacity(capacity, input), max);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(line) = reader.next_line(&mut buf).unwrap() {
            out.push((line, buf.clone()));
        }
        out
    }

    fn oversize(bytes: usize, id: Option<Value>, method: Option<&str>) -> Line {
        Line::Oversize { bytes: bytes as u64, id, method: method.map(str::to_string), response: false }
    }

    fn found(scanner: &EnvelopeScanner) -> (Option<Value>, Option<String>) {
        (scanner.id().cloned(), scanner.method().map(str::to_string))
    }

    /// The scanner's findings over `message` fed in one piece.
    fn envelope(message: &[u8]) -> (Option<Value>, Option<String>) {
        let mut scanner = EnvelopeScanner::new();
        scanner.feed(message);
        found(&scanner)
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_complete() {
        let line = br#"{"id":1234}"#;
        assert_eq!(lines(b"{\"id\":1234}\n", line.len(), 64), [(Line::Complete, b"{\"id\":1234}\n".to_vec())]);
        // Without its newline too.
        assert_eq!(lines(line, line.len(), 64), [(Line::Complete, line.to_vec())]);
    }

    #[test]
    fn a_line_one_past_the_limit_is_oversize() {
        let line = br#"{"id":1234}"#;
        assert_eq!(
            lines(b"{\"id\":1234}\n", line.len() - 1, 64),
            [(oversize(line.len(), Some(json!(1234)), None), vec![])]
        );
        assert_eq!(lines(line, line.len() - 1, 64), [(oversize(line.len(), Some(json!(1234)), None), vec![])]);
    }

    #[test]
    fn the_id_is_found_before_or_after_huge_params() {
        let text = "lorem ipsum ".repeat(10_000);
        let params = format!(r#""params":{{"name":"echo","arguments":{{"text":"{text}","n":[1,{{"id":9}}]}}}}"#);
        for (message, id) in [
            (format!(r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call",{params}}}"#), json!(7)),
            (format!(r#"{{"jsonrpc":"2.0",{params},"method":"tools/call","id":"req-7"}}"#), json!("req-7")),
            (format!(r#"{{ "method" : "tools/call" , {params} , "id" : -12.5e3 }}"#), json!(-12.5e3)),
            (format!(r#"{{"id":18446744073709551615,{params},"method":"tools/call"}}"#), json!(u64::MAX)),
        ] {
            let input = format!("{message}\n");
            for capacity in [7, 4096, 1 << 16] {
                let got = lines(input.as_bytes(), 1000, capacity);
                assert_eq!(
                    got,
                    [(oversize(message.len(), Some(id.clone()), Some("tools/call")), vec![])],
                    "{capacity}"
                );
            }
        }
    }

    #[test]
    fn members_of_nested_objects_and_strings_are_not_taken() {
        for message in [
            &br#"{"params":{"id":1,"method":"x"},"result":{"id":2}}"#[..],
            br#"{"params":[{"id":1},"\"id\":3,\"method\":\"m\""],"result":"x"}"#,
            br#"{"text":"{\"id\":4,\"method\":\"m\"}"}"#,
            br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
            br#""id""#,
            br#"{"ids":1,"i":2,"identifier":3,"methods":"m","Method":"m","ID":5}"#,
        ] {
            assert_eq!(envelope(message), (None, None), "{}", String::from_utf8_lossy(message));
        }
        // Deep nesting, then the real ones.
        let deep = format!(r#"{{"p":{}1{},"id":"d","method":"m"}}"#, "[".repeat(500), "]".repeat(500));
        assert_eq!(envelope(deep.as_bytes()), (Some(json!("d")), Some("m".into())));
    }

    #[test]
    fn escaped_quotes_and_backslashes_in_strings() {
        let message =
            br#"{"params":{"t":"he said \"}\" \\","u":"\\\"id\":1"},"x\"id":5,"id":"a\"b\\c\u00e9","method":"a\/b"}"#;
        assert_eq!(envelope(message), (Some(json!("a\"b\\cé")), Some("a/b".into())));
        // Keys written with escapes are the keys they decode to.
        assert_eq!(envelope(br#"{"\u0069d":3,"m\u0065thod":"ping"}"#), (Some(json!(3)), Some("ping".into())));
        assert_eq!(envelope(br#"{"\u0069\u00e9":3,"i\nd":4}"#), (None, None));
        // A malformed \u escape in a key ends the escape; the key's closing quote still counts.
        assert_eq!(envelope(br#"{"\u00"  :1,"id":2}"#), (Some(json!(2)), None));
    }

    #[test]
    fn responses_are_told_from_requests() {
        for (message, response) in [
            (&br#"{"jsonrpc":"2.0","id":1,"result":{"method":"x"}}"#[..], true),
            (br#"{"error":{"code":1,"message":"m"},"id":"e"}"#, true),
            (br#"{"id":1,"method":"ping"}"#, false),
            (br#"{"method":"m","result":1}"#, false),
            (br#"{"id":1}"#, false),
            (br#"{"params":{"result":1},"id":1,"text":"\"error\":1"}"#, false),
        ] {
            let mut scanner = EnvelopeScanner::new();
            scanner.feed(message);
            assert_eq!(scanner.is_response(), response, "{}", String::from_utf8_lossy(message));
        }
        let line = br#"{"jsonrpc":"2.0","result":{"content":[]},"id":3}"#;
        let mut input = line.to_vec();
        input.push(b'\n');
        let want = Line::Oversize { bytes: line.len() as u64, id: Some(json!(3)), method: None, response: true };
        assert_eq!(lines(&input, 10, 64), [(want, vec![])]);
    }

    #[test]
    fn ids_that_are_not_numbers_or_strings_are_none() {
        for message in [
            &br#"{"id":null,"method":"m"}"#[..],
            br#"{"id":true,"method":"m"}"#,
            br#"{"id":{"a":1},"method":"m"}"#,
            br#"{"id":[1],"method":"m"}"#,
            br#"{"id":1,"id":null,"method":"m"}"#,
        ] {
            assert_eq!(envelope(message), (None, Some("m".into())), "{}", String::from_utf8_lossy(message));
        }
        assert_eq!(envelope(br#"{"id":null,"id":2,"method":7}"#), (Some(json!(2)), None), "the last one counts");
        let long = format!(r#"{{"id":"{}","method":"{}"}}"#, "i".repeat(MAX_CAPTURE + 1), "m".repeat(MAX_CAPTURE + 1));
        assert_eq!(envelope(long.as_bytes()), (None, None));
        let longest = format!(r#"{{"id":"{}","method":"{}"}}"#, "i".repeat(MAX_CAPTURE), "m".repeat(MAX_CAPTURE));
        assert_eq!(envelope(longest.as_bytes()), (Some(json!("i".repeat(MAX_CAPTURE))), Some("m".repeat(MAX_CAPTURE))));
        assert_eq!(envelope(b"{\"id\":\"\xff\"}"), (None, None), "not UTF-8");
    }

    #[test]
    fn the_last_line_may_have_no_newline() {
        let input = b"{\"id\":1}\n{\"id\":2,\"method\":\"a-long-method-name\"}";
        assert_eq!(
            lines(input, 10, 64),
            [
                (Line::Complete, b"{\"id\":1}\n".to_vec()),
                (oversize(input.len() - 9, Some(json!(2)), Some("a-long-method-name")), vec![])
            ]
        );
        assert_eq!(lines(input, 100, 3)[1], (Line::Complete, input[9..].to_vec()));
        assert!(lines(b"", 10, 64).is_empty());
    }

    #[test]
    fn crlf_lines() {
        let input = b"{\"id\":1}\r\n{\"id\":22,\"method\":\"ping\"}\r\n\r\n";
        let got = lines(input, 30, 64);
        assert_eq!(got[0], (Line::Complete, b"{\"id\":1}\r\n".to_vec()));
        assert_eq!(got[1], (Line::Complete, b"{\"id\":22,\"method\":\"ping\"}\r\n".to_vec()));
        assert_eq!(got[2], (Line::Complete, b"\r\n".to_vec()));
        let got = lines(input, 20, 64);
        assert_eq!(got[1], (oversize(26, Some(json!(22)), Some("ping")), vec![]), "the \\r counts, the \\n does not");
    }

    #[test]
    fn many_lines_in_one_buffer() {
        let mut input = Vec::new();
        let mut want = Vec::new();
        for i in 0..200 {
            if i % 3 == 0 {
                let line = format!(
                    r#"{{"jsonrpc":"2.0","id":{i},"method":"m{i}","params":{{"t":"{}"}}}}"#,
                    "x".repeat(100 + i)
                );
                want.push((oversize(line.len(), Some(json!(i)), Some(&format!("m{i}"))), vec![]));
                input.extend_from_slice(line.as_bytes());
                input.push(b'\n');
            } else if i % 7 == 0 {
                input.push(b'\n');
                want.push((Line::Complete, b"\n".to_vec()));
            } else {
                let line = format!("{{\"id\":{i}}}\n");
                input.extend_from_slice(line.as_bytes());
                want.push((Line::Complete, line.into_bytes()));
            }
        }
        for capacity in [1, 2, 5, 64, 1 << 16] {
            assert_eq!(lines(&input, 64, capacity), want, "{capacity}");
        }
    }

    #[test]
    fn every_split_point_gives_the_same_envelope() {
        let message = br#" { "params" : {"a":["\"}]", {"id":1}], "b":"\\"} , "id" : "x\"y" , "method":"tools/call" } "#;
        let whole = envelope(message);
        assert_eq!(whole, (Some(json!("x\"y")), Some("tools/call".into())));
        for split in 0..=message.len() {
            let mut scanner = EnvelopeScanner::new();
            scanner.feed(&message[..split]);
            scanner.feed(&message[split..]);
            assert_eq!(found(&scanner), whole, "split at {split}");
        }
        // Byte by byte.
        let mut scanner = EnvelopeScanner::new();
        message.iter().for_each(|b| scanner.feed(std::slice::from_ref(b)));
        assert_eq!(found(&scanner), whole);
        // And through the line reader, at every reader buffer size and a limit that cuts it.
        let mut input = message.to_vec();
        input.push(b'\n');
        for capacity in 1..=input.len() {
            for max in [0, 1, 10, message.len() - 1] {
                let got = lines(&input, max, capacity);
                assert_eq!(
                    got,
                    [(oversize(message.len(), whole.0.clone(), whole.1.as_deref()), vec![])],
                    "{capacity} {max}"
                );
            }
        }
    }

    #[test]
    fn memory_stays_bounded_by_the_limit() {
        struct Endless(u64);
        impl Read for Endless {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = out.len().min(self.0 as usize);
                out[..n].fill(b'a');
                if n > 0 {
                    out[0] = b'"';
                }
                self.0 -= n as u64;
                Ok(n)
            }
        }
        let max = 100_000;
        let mut reader = LineReader::new(BufReader::with_capacity(8192, Endless(50_000_000)), max);
        let mut buf = Vec::new();
        let line = reader.next_line(&mut buf).unwrap();
        assert_eq!(line, Some(oversize(50_000_000, None, None)));
        assert!(buf.capacity() <= max + 1, "{}", buf.capacity());
        assert_eq!(reader.next_line(&mut buf).unwrap(), None);
        // A line that fits still grows the buffer only as needed.
        let input = vec![b'x'; max];
        let mut reader = LineReader::new(BufReader::with_capacity(1000, &input[..]), max);
        let mut buf = Vec::new();
        assert_eq!(reader.next_line(&mut buf).unwrap(), Some(Line::Complete));
        assert!(buf.len() == max && buf.capacity() <= max + 1, "{}", buf.capacity());
    }

    #[test]
    fn io_errors_are_returned_and_interrupted_is_retried() {
        struct Flaky(u32);
        impl Read for Flaky {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                self.0 += 1;
                match self.0 {
                    1 => Err(io::ErrorKind::Interrupted.into()),
                    2 => {
                        out[..4].copy_from_slice(b"{}\n{");
                        Ok(4)
                    }
                    _ => Err(io::Error::other("broken pipe")),
                }
            }
        }
        let mut reader = LineReader::new(BufReader::new(Flaky(0)), 10);
        let mut buf = Vec::new();
        assert_eq!(reader.next_line(&mut buf).unwrap(), Some(Line::Complete));
        assert_eq!(buf, b"{}\n");
        assert_eq!(reader.next_line(&mut buf).unwrap_err().to_string(), "broken pipe");
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A fixed pseudo-random sequence: printable JSON-ish bytes and raw ones.
        let alphabet = b"{}[]\":,\\u0123456789abcdefidmethod \t\r\n-.e+ntrulsx\xff\x00\xc3\xa9";
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3000 {
            let len = (next() % 200) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 5 == 0 {
                        r as u8 >> 1
                    } else {
                        alphabet[(r >> 8) as usize % alphabet.len()]
                    }
                })
                .collect();
            let whole = envelope(&input);
            let split = (next() as usize) % (input.len() + 1);
            let mut scanner = EnvelopeScanner::new();
            scanner.feed(&input[..split]);
            scanner.feed(&input[split..]);
            assert_eq!(found(&scanner), whole, "{input:?} split at {split}");
            let _ = lines(&input, (next() % 50) as usize, 1 + (next() % 16) as usize);
        }
    }
}
