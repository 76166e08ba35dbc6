//! Streaming reader for MCP event logs: one record at a time, whatever the layout.
//!
//! **What it is for.** A batch tool (`sentinel scan`), a log shipper or a test harness has a
//! file or a pipe of MCP events and wants them one by one, without loading the file. Event
//! logs come in several layouts, and [`Records`] reads all of them from any [`BufRead`]:
//!
//! - a single JSON object, compact or pretty-printed;
//! - a JSON array of objects (the upload format of shared/seeds/001), streamed element by
//!   element;
//! - NDJSON, one object per line;
//! - objects one after another, pretty-printed or not.
//!
//! Each item is a [`RawRecord`] (the bytes of one event and where it starts in the input) or
//! an [`EventError`] for a problem in the framing itself (an oversized record, an unreadable
//! input, a broken array). [`RawRecord::parse`] turns a record into an [`Event`]; its errors
//! carry the record's index and the line and column in the whole input, so a bad event in a
//! 1 GB log can be found. At most one record's bytes are held at a time.
//!
//! ```
//! use sentinel_core::input::Records;
//!
//! let log = br#"{"timestamp":"t","user":"u","agent":"a","tool":"web_search","prompt":"p","response":"r"}
//! {"timestamp":"t","user":"u","agent":"a","tool":"os_shell","prompt":"whoami","response":"root"
//! {"timestamp":"t","user":"u","agent":"a","tool":"filesystem","prompt":"p","response":"r"}
//! "#;
//! let mut tools = Vec::new();
//! let mut errors = Vec::new();
//! for record in Records::new(&log[..]) {
//!     let record = record?; // framing errors (oversized record, I/O)
//!     match record.parse() {
//!         Ok(event) => tools.push(event.tool),
//!         Err(e) => errors.push(e.to_string()),
//!     }
//! }
//! // The broken second line does not swallow the third.
//! assert_eq!(tools, ["web_search", "filesystem"]);
//! assert!(errors[0].starts_with("event 1, line 2, column"), "{}", errors[0]);
//! # Ok::<(), sentinel_core::EventError>(())
//! ```
//!
//! # How records are framed
//!
//! The first byte that is not whitespace (after an optional UTF-8 byte order mark) decides:
//!
//! - `[`: **array mode.** The elements are the records. They are split at top-level commas,
//!   tracking strings, escapes and bracket depth. After the closing `]` only whitespace may
//!   follow.
//! - anything else: **value mode.** Top-level values are framed by bracket depth outside
//!   strings. If the first record starts and ends on one line, the input is taken as NDJSON
//!   (**line mode**): from then on every non-blank line is exactly one record, so a line with
//!   a missing brace or an unterminated string never swallows the lines after it.
//!
//! Broken pretty-printed input is resynchronised where the JSON cannot be valid: an object
//! that meets `{` at its own top level other than after a `:` is missing its closing brace,
//! and the record ends there; a string that meets a raw newline is unterminated, and the
//! record runs to the next line that starts a new object (in value mode, a `{` in column 1;
//! in array mode, a `{` on the line after one ending with `,`).
//!
//! Lines and columns are 1-based; columns count bytes, as serde_json's do.

use crate::event::{Event, EventError, EventErrorKind};
use std::io::{self, BufRead};

/// The default for [`Records::max_record_bytes`]: 256 MiB.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 256 << 20;

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// An iterator over the records of an MCP event log, read as a stream.
///
/// Each item is one record: `Ok` with its bytes and position, or `Err` when the record could
/// not be framed (it is larger than [`max_record_bytes`](Records::max_record_bytes), the
/// array around it is broken, or the reader failed). Every item, good or bad, gets the next
/// index. After an I/O error or a broken array the iterator ends; after any other error it
/// goes on with the next record. It never panics, whatever the bytes.
///
/// ```
/// use sentinel_core::input::Records;
///
/// let array = b"[\n  {\"a\": 1},\n  {\"b\": [2, 3]}\n]\n";
/// let records: Vec<_> = Records::new(&array[..]).collect::<Result<_, _>>()?;
/// assert_eq!(records.len(), 2);
/// assert_eq!((records[1].line, records[1].column), (3, 3));
/// assert_eq!(records[1].bytes, b"{\"b\": [2, 3]}");
/// # Ok::<(), sentinel_core::EventError>(())
/// ```
#[derive(Debug)]
pub struct Records<R: BufRead> {
    reader: R,
    limit: usize,
    mode: Mode,
    /// Position of the next byte to read (1-based).
    line: usize,
    column: usize,
    /// Index of the next item.
    index: usize,
}

/// One event's bytes as framed from the input, with where it starts.
///
/// ```
/// use sentinel_core::input::RawRecord;
///
/// let record = RawRecord { index: 4, line: 10, column: 1, bytes: b"{\"tool\": 3}".to_vec() };
/// let err = record.parse().unwrap_err();
/// assert_eq!((err.index(), err.line(), err.column()), (Some(4), Some(10), Some(1)));
/// assert_eq!(err.field(), Some("timestamp"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRecord {
    /// The 0-based record number in the input, counting every record, bad ones included.
    pub index: usize,
    /// The 1-based line where the record starts.
    pub line: usize,
    /// The 1-based column (in bytes) where the record starts.
    pub column: usize,
    /// The record's JSON text.
    pub bytes: Vec<u8>,
}

impl RawRecord {
    /// Parses the record as an [`Event`].
    ///
    /// Errors carry the record's index and a line and column in the whole input: the position
    /// of a JSON syntax error, or the record's start for an error about a field.
    ///
    /// ```
    /// use sentinel_core::input::Records;
    ///
    /// let log = b"\n\n\n\n{\n  \"user\": oops\n}\n";
    /// let record = Records::new(&log[..]).next().unwrap()?;
    /// assert_eq!(record.line, 5);
    /// let err = record.parse().unwrap_err();
    /// assert_eq!((err.line(), err.column()), (Some(6), Some(11)));
    /// # Ok::<(), sentinel_core::EventError>(())
    /// ```
    pub fn parse(&self) -> Result<Event, EventError> {
        Event::from_json(&self.bytes).map_err(|e| e.offset_by(self.line, self.column).with_index(self.index))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Nothing read yet.
    Start,
    /// Values framed by depth; `first` until the first record is out.
    Values { first: bool },
    /// NDJSON: one record per non-blank line.
    Lines,
    /// Inside an array, before an element (`after_comma`: a `,` was just read).
    Array { after_comma: bool },
    /// Inside an array, after an element that ended at the end of the input.
    ArrayUnterminated,
    /// After the array's closing `]`.
    AfterArray,
    /// No more items.
    Done,
}

/// Where the framing context is: a top-level value or an array element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Context {
    Value,
    Element,
}

/// How a framed record ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// The input ended.
    Eof,
    /// The record is complete, its last byte consumed.
    Complete,
    /// The record ended before the next byte, which is not consumed.
    Before,
    /// An array element ended at a top-level `,` (consumed).
    Comma,
    /// An array element ended at the array's `]` (consumed).
    Close,
}

/// The bytes of the record being framed, capped at the limit.
struct Buffer {
    bytes: Vec<u8>,
    limit: usize,
    too_large: bool,
}

impl Buffer {
    fn new(limit: usize) -> Self {
        Buffer { bytes: Vec::new(), limit, too_large: false }
    }

    fn push(&mut self, b: u8) {
        if self.too_large {
            return;
        }
        if self.bytes.len() >= self.limit {
            // Past the limit: drop what we hold and only frame the rest.
            self.too_large = true;
            self.bytes = Vec::new();
            return;
        }
        self.bytes.push(b);
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

type Item = Result<RawRecord, EventError>;

impl<R: BufRead> Records<R> {
    /// Reads records from `reader`. Wrap a file in a [`std::io::BufReader`]; a byte slice
    /// works as it is.
    ///
    /// ```
    /// let records = sentinel_core::input::Records::new(std::io::stdin().lock());
    /// # drop(records);
    /// ```
    pub fn new(reader: R) -> Self {
        Records { reader, limit: DEFAULT_MAX_RECORD_BYTES, mode: Mode::Start, line: 1, column: 1, index: 0 }
    }

    /// Sets the largest record accepted, in bytes (default [`DEFAULT_MAX_RECORD_BYTES`]). A
    /// larger record is skipped without being held in memory and reported as
    /// [`EventErrorKind::TooLarge`]; reading goes on after it.
    ///
    /// ```
    /// use sentinel_core::{input::Records, EventErrorKind};
    ///
    /// let log = b"{\"big\": \"0123456789\"}\n{\"ok\": 1}\n";
    /// let items: Vec<_> = Records::new(&log[..]).max_record_bytes(12).collect();
    /// assert!(matches!(items[0].as_ref().unwrap_err().kind(), EventErrorKind::TooLarge { limit: 12 }));
    /// assert_eq!(items[1].as_ref().unwrap().bytes, b"{\"ok\": 1}");
    /// ```
    pub fn max_record_bytes(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        loop {
            match self.reader.fill_buf() {
                Ok(buf) => return Ok(buf.first().copied()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Consumes `b`, the byte [`peek`](Self::peek) returned.
    fn bump(&mut self, b: u8) {
        self.reader.consume(1);
        if b == b'\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
    }

    /// Skips whitespace; returns the next byte (not consumed), or `None` at the end.
    fn skip_ws(&mut self) -> io::Result<Option<u8>> {
        while let Some(b) = self.peek()? {
            if !is_ws(b) {
                return Ok(Some(b));
            }
            self.bump(b);
        }
        Ok(None)
    }

    /// An error item at a position.
    fn error_at(&self, kind: EventErrorKind, line: usize, column: usize) -> Item {
        Err(EventError::new(kind).with_index(self.index).offset_by(line, column))
    }

    /// The item for a framed record.
    fn finish(&self, buf: Buffer, line: usize, column: usize) -> Item {
        if buf.too_large {
            return self.error_at(EventErrorKind::TooLarge { limit: self.limit }, line, column);
        }
        let mut bytes = buf.bytes;
        while bytes.last().is_some_and(|&b| is_ws(b)) {
            bytes.pop();
        }
        Ok(RawRecord { index: self.index, line, column, bytes })
    }

    fn syntax(&self, message: &str) -> Item {
        self.error_at(EventErrorKind::Syntax { message: message.to_string() }, self.line, self.column)
    }

    fn step(&mut self) -> io::Result<Option<Item>> {
        match self.mode {
            Mode::Start => self.start(),
            Mode::Values { first } => self.next_value(first),
            Mode::Lines => self.next_line(),
            Mode::Array { after_comma } => self.next_element(after_comma),
            Mode::ArrayUnterminated => {
                self.mode = Mode::Done;
                Ok(Some(self.syntax("EOF while parsing the array: expected `,` or `]`")))
            }
            Mode::AfterArray => {
                self.mode = Mode::Done;
                match self.skip_ws()? {
                    None => Ok(None),
                    Some(_) => Ok(Some(self.syntax("trailing characters after the array"))),
                }
            }
            Mode::Done => Ok(None),
        }
    }

    fn start(&mut self) -> io::Result<Option<Item>> {
        // A byte order mark is skipped; a broken one is reported and reading goes on.
        let mut matched = 0;
        while matched < BOM.len() {
            match self.peek()? {
                Some(b) if b == BOM[matched] => {
                    self.bump(b);
                    matched += 1;
                }
                _ => break,
            }
        }
        if matched == BOM.len() {
            self.column = 1;
        } else if matched > 0 {
            self.mode = Mode::Values { first: true };
            return Ok(Some(self.error_at(
                EventErrorKind::Syntax { message: "invalid UTF-8 byte order mark".to_string() },
                1,
                1,
            )));
        }
        match self.skip_ws()? {
            None => {
                self.mode = Mode::Done;
                Ok(Some(self.error_at(EventErrorKind::Empty, 1, 1)))
            }
            Some(b'[') => {
                self.bump(b'[');
                self.mode = Mode::Array { after_comma: false };
                self.next_element(false)
            }
            Some(_) => {
                self.mode = Mode::Values { first: true };
                self.next_value(true)
            }
        }
    }

    fn next_value(&mut self, first: bool) -> io::Result<Option<Item>> {
        if self.skip_ws()?.is_none() {
            self.mode = Mode::Done;
            return Ok(None);
        }
        let (line, column) = (self.line, self.column);
        let mut buf = Buffer::new(self.limit);
        let (end, last_line) = self.frame(Context::Value, first, &mut buf)?;
        self.mode = Mode::Values { first: false };
        if first && last_line == line {
            // NDJSON: the first line is the first record, whatever else it holds.
            self.mode = Mode::Lines;
            if self.line == line {
                self.rest_of_line(&mut buf)?;
            }
        }
        if end == End::Eof {
            self.mode = Mode::Done;
        }
        Ok(Some(self.finish(buf, line, column)))
    }

    /// Adds the bytes up to the end of the line (not the newline) to `buf`.
    fn rest_of_line(&mut self, buf: &mut Buffer) -> io::Result<()> {
        while let Some(b) = self.peek()? {
            if b == b'\n' {
                break;
            }
            buf.push(b);
            self.bump(b);
        }
        Ok(())
    }

    fn next_line(&mut self) -> io::Result<Option<Item>> {
        if self.skip_ws()?.is_none() {
            self.mode = Mode::Done;
            return Ok(None);
        }
        let (line, column) = (self.line, self.column);
        let mut buf = Buffer::new(self.limit);
        self.rest_of_line(&mut buf)?;
        Ok(Some(self.finish(buf, line, column)))
    }

    fn next_element(&mut self, after_comma: bool) -> io::Result<Option<Item>> {
        match self.skip_ws()? {
            None => {
                self.mode = Mode::Done;
                let expected = if after_comma { "a value" } else { "a value or `]`" };
                Ok(Some(self.syntax(&format!("EOF while parsing the array: expected {expected}"))))
            }
            Some(b']') => {
                let (line, column) = (self.line, self.column);
                self.bump(b']');
                self.mode = Mode::AfterArray;
                if after_comma {
                    Ok(Some(self.error_at(
                        EventErrorKind::Syntax { message: "trailing comma before `]`".to_string() },
                        line,
                        column,
                    )))
                } else {
                    self.step()
                }
            }
            Some(b',') => {
                let item = self.syntax("expected a value before `,`");
                self.bump(b',');
                self.mode = Mode::Array { after_comma: true };
                Ok(Some(item))
            }
            Some(_) => {
                let (line, column) = (self.line, self.column);
                let mut buf = Buffer::new(self.limit);
                let (end, _) = self.frame(Context::Element, false, &mut buf)?;
                self.mode = match end {
                    End::Comma | End::Before => Mode::Array { after_comma: true },
                    End::Close => Mode::AfterArray,
                    // The element is complete but the array never closed.
                    End::Complete => Mode::ArrayUnterminated,
                    // Broken structure: the element's own parse error says where.
                    End::Eof => Mode::Done,
                };
                Ok(Some(self.finish(buf, line, column)))
            }
        }
    }

    /// Frames one record starting at the next byte (not whitespace). Returns how it ended and
    /// the line of its last byte that is not whitespace.
    fn frame(&mut self, context: Context, first: bool, buf: &mut Buffer) -> io::Result<(End, usize)> {
        let start_line = self.line;
        let top_object = self.peek()? == Some(b'{');
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escape = false;
        // A raw newline in a string: the record is broken, skip to a resynchronisation point.
        let mut broken = false;
        // The last byte outside strings that is not whitespace.
        let mut last_sig = 0u8;
        let mut last_line = start_line;
        // For resynchronising a broken record: the last byte that is not whitespace on the
        // current line and on the one before, and whether only whitespace is on this line yet.
        let mut line_last = 0u8;
        let mut prev_line_last = 0u8;
        let mut at_line_start = false;

        while let Some(b) = self.peek()? {
            // Set when this byte completes a top-level value.
            let mut closes = false;
            if broken {
                if at_line_start && !is_ws(b) {
                    at_line_start = false;
                    let resync = b == b'{'
                        && match context {
                            Context::Value => self.column == 1,
                            Context::Element => prev_line_last == b',',
                        };
                    if resync {
                        return Ok((End::Before, last_line));
                    }
                }
            } else if in_string {
                if escape {
                    escape = false;
                } else if b == b'\\' {
                    escape = true;
                } else if b == b'"' {
                    in_string = false;
                    last_sig = b;
                    closes = depth == 0;
                } else if b == b'\n' {
                    if first && context == Context::Value && self.line == start_line {
                        // An unterminated string on the first line: NDJSON.
                        return Ok((End::Before, last_line));
                    }
                    broken = true;
                }
            } else {
                match b {
                    // A bare scalar ends at whitespace.
                    b' ' | b'\t' | b'\n' | b'\r' if depth == 0 && context == Context::Value => {
                        return Ok((End::Before, last_line));
                    }
                    b'"' => in_string = true,
                    b'{' | b'[' => {
                        if b == b'{' && top_object && depth == 1 && last_sig != b':' {
                            // `{` where a key must be: this object is missing its `}`.
                            return Ok((End::Before, last_line));
                        }
                        depth += 1;
                    }
                    b']' if depth == 0 && context == Context::Element => {
                        self.bump(b);
                        return Ok((End::Close, last_line));
                    }
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        closes = depth == 0;
                    }
                    b',' if depth == 0 && context == Context::Element => {
                        self.bump(b);
                        return Ok((End::Comma, last_line));
                    }
                    _ => {}
                }
                if !is_ws(b) {
                    last_sig = b;
                }
            }
            if b == b'\n' {
                at_line_start = true;
                prev_line_last = line_last;
                line_last = 0;
            } else if !is_ws(b) {
                line_last = b;
                last_line = self.line;
            }
            buf.push(b);
            self.bump(b);
            if closes && context == Context::Value {
                return Ok((End::Complete, last_line));
            }
        }
        let end = if !broken && !in_string && depth == 0 { End::Complete } else { End::Eof };
        Ok((end, last_line))
    }
}

impl<R: BufRead> Iterator for Records<R> {
    type Item = Result<RawRecord, EventError>;

    fn next(&mut self) -> Option<Self::Item> {
        let item = match self.step() {
            Ok(item) => item,
            Err(e) => {
                self.mode = Mode::Done;
                Some(self.error_at(EventErrorKind::Io { message: e.to_string() }, self.line, self.column))
            }
        };
        if item.is_some() {
            self.index += 1;
        }
        item
    }
}
