//! Streaming reader for MCP event logs: one record at a time, whatever the layout.
//!
//! **What it is for.** A batch tool (`sentinel scan`), a log shipper or a test harness has a
//! file or a pipe of MCP events and wants them one by one, without loading the file. Event
//! logs come in several layouts, and [`Records`] reads all of them from any [`BufRead`]:
//!
//! - a single JSON object, compact or pretty-printed;
//! - a JSON array of objects (the upload format of the detection specification), streamed element by
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
//! use mcp_threatscan::input::Records;
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
//! # Ok::<(), mcp_threatscan::EventError>(())
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
//! and the record ends there; so does a record that meets `{` in column 1 right after a value
//! (not after `:`, `,` or `[`), such as the next line after an unclosed `[`; a string that meets a raw newline is unterminated, and the
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
/// use mcp_threatscan::input::Records;
///
/// let array = b"[\n  {\"a\": 1},\n  {\"b\": [2, 3]}\n]\n";
/// let records: Vec<_> = Records::new(&array[..]).collect::<Result<_, _>>()?;
/// assert_eq!(records.len(), 2);
/// assert_eq!((records[1].line, records[1].column), (3, 3));
/// assert_eq!(records[1].bytes, b"{\"b\": [2, 3]}");
/// # Ok::<(), mcp_threatscan::EventError>(())
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
/// use mcp_threatscan::input::RawRecord;
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
    /// use mcp_threatscan::input::Records;
    ///
    /// let log = b"\n\n\n\n{\n  \"user\": oops\n}\n";
    /// let record = Records::new(&log[..]).next().unwrap()?;
    /// assert_eq!(record.line, 5);
    /// let err = record.parse().unwrap_err();
    /// assert_eq!((err.line(), err.column()), (Some(6), Some(11)));
    /// # Ok::<(), mcp_threatscan::EventError>(())
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

    fn extend(&mut self, bytes: &[u8]) {
        if self.too_large || bytes.is_empty() {
            return;
        }
        if bytes.len() > self.limit.saturating_sub(self.bytes.len()) {
            // Past the limit: drop what we hold and only frame the rest.
            self.too_large = true;
            self.bytes = Vec::new();
            return;
        }
        self.bytes.extend_from_slice(bytes);
    }
}

/// What a [`Scan`] makes of a byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Take the byte and go on.
    Continue,
    /// Stop before the byte (it stays unread).
    Before,
    /// Take the byte and stop.
    Last,
    /// Consume the byte without keeping it, and stop (a separator).
    Drop,
}

/// A byte-level state machine that [`Records::drive`] feeds.
trait Scan {
    /// Looks at one byte (on `line`; `line_start` when it is in column 1).
    fn step(&mut self, b: u8, line: usize, line_start: bool) -> Step;

    /// How many bytes at the start of `rest` can be taken at once, with no change of state
    /// and no newline among them (a fast path; 0 when there is none).
    fn run(&mut self, _rest: &[u8], _line: usize) -> usize {
        0
    }
}

/// Stops before the first byte that is not whitespace.
struct SkipWhitespace;

impl Scan for SkipWhitespace {
    fn step(&mut self, b: u8, _: usize, _: bool) -> Step {
        if is_ws(b) {
            Step::Continue
        } else {
            Step::Before
        }
    }
}

/// Takes the bytes up to the end of the line.
struct ToEndOfLine;

impl Scan for ToEndOfLine {
    fn step(&mut self, b: u8, _: usize, _: bool) -> Step {
        if b == b'\n' {
            Step::Before
        } else {
            Step::Continue
        }
    }

    fn run(&mut self, rest: &[u8], _: usize) -> usize {
        find_any(rest, [b'\n'; 3])
    }
}

/// The position of the first byte of `hay` that is one of `needles`, or `hay.len()`. Eight
/// bytes at a time (a SWAR test for a zero byte), then byte by byte.
fn find_any(hay: &[u8], needles: [u8; 3]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    fn has(word: u64, needle: u8) -> bool {
        let x = word ^ (ONES * u64::from(needle));
        x.wrapping_sub(ONES) & !x & HIGHS != 0
    }
    let mut start = 0;
    for chunk in hay.chunks_exact(8) {
        let word = u64::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7]]);
        if has(word, needles[0]) || has(word, needles[1]) || has(word, needles[2]) {
            break;
        }
        start += 8;
    }
    hay[start..].iter().position(|b| needles.contains(b)).map_or(hay.len(), |p| start + p)
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
    /// let records = mcp_threatscan::input::Records::new(std::io::stdin().lock());
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
    /// use mcp_threatscan::{input::Records, EventErrorKind};
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

    /// Feeds the input to `scan`, a whole buffer at a time, keeping the bytes it takes in `buf`
    /// and the position up to date. Returns how it stopped, or `None` at the end of the input.
    fn drive(&mut self, mut buf: Option<&mut Buffer>, scan: &mut impl Scan) -> io::Result<Option<Step>> {
        loop {
            let avail = match self.reader.fill_buf() {
                Ok(avail) => avail,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                return Ok(None);
            }
            let (mut line, mut column) = (self.line, self.column);
            let mut stop = None;
            let mut taken = avail.len();
            let mut consumed = avail.len();
            let mut i = 0;
            while i < avail.len() {
                let run = scan.run(&avail[i..], line);
                if run > 0 {
                    column += run;
                    i += run;
                    continue;
                }
                let b = avail[i];
                let step = scan.step(b, line, column == 1);
                if step == Step::Before {
                    (taken, consumed, stop) = (i, i, Some(step));
                    break;
                }
                if b == b'\n' {
                    line += 1;
                    column = 1;
                } else {
                    column += 1;
                }
                match step {
                    Step::Continue | Step::Before => {}
                    Step::Last => {
                        (taken, consumed, stop) = (i + 1, i + 1, Some(step));
                        break;
                    }
                    Step::Drop => {
                        (taken, consumed, stop) = (i, i + 1, Some(step));
                        break;
                    }
                }
                i += 1;
            }
            if let Some(buf) = buf.as_deref_mut() {
                buf.extend(&avail[..taken]);
            }
            self.reader.consume(consumed);
            (self.line, self.column) = (line, column);
            if stop.is_some() {
                return Ok(stop);
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
        match self.drive(None, &mut SkipWhitespace)? {
            None => Ok(None),
            Some(_) => self.peek(),
        }
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
        self.drive(Some(buf), &mut ToEndOfLine)?;
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
        let top_object = self.peek()? == Some(b'{');
        let mut framer = Framer::new(context, first, top_object, self.line);
        let end = match self.drive(Some(buf), &mut framer)? {
            Some(_) => framer.end,
            None => framer.at_eof(),
        };
        Ok((end, framer.last_line))
    }
}

/// The framing state machine for one record: strings, escapes, bracket depth, and the
/// resynchronisation of broken input.
struct Framer {
    context: Context,
    first: bool,
    top_object: bool,
    start_line: usize,
    depth: usize,
    in_string: bool,
    escape: bool,
    /// A raw newline in a string: the record is broken; skip to a resynchronisation point.
    broken: bool,
    /// The last byte outside strings that is not whitespace.
    last_sig: u8,
    /// The line of the last byte that is not whitespace.
    last_line: usize,
    /// For resynchronising a broken record: the last byte that is not whitespace on the
    /// current line and on the one before, and whether only whitespace is on this line yet.
    line_last: u8,
    prev_line_last: u8,
    at_line_start: bool,
    /// How the record ended, once it has.
    end: End,
}

impl Framer {
    fn new(context: Context, first: bool, top_object: bool, start_line: usize) -> Self {
        Framer {
            context,
            first,
            top_object,
            start_line,
            depth: 0,
            in_string: false,
            escape: false,
            broken: false,
            last_sig: 0,
            last_line: start_line,
            line_last: 0,
            prev_line_last: 0,
            at_line_start: false,
            end: End::Eof,
        }
    }

    fn stop(&mut self, end: End, step: Step) -> Step {
        self.end = end;
        step
    }

    /// How the record ended when the input ended inside it.
    fn at_eof(&self) -> End {
        if !self.broken && !self.in_string && self.depth == 0 {
            End::Complete
        } else {
            End::Eof
        }
    }
}

impl Scan for Framer {
    fn run(&mut self, rest: &[u8], line: usize) -> usize {
        // String contents, and the rest of a line in a broken record, change nothing but
        // the position.
        let n = if self.in_string && !self.escape && !self.broken {
            find_any(rest, [b'"', b'\\', b'\n'])
        } else if self.broken && !self.at_line_start {
            find_any(rest, [b'\n'; 3])
        } else {
            0
        };
        if let Some(&last) = rest[..n].iter().rev().find(|&&b| !is_ws(b)) {
            self.line_last = last;
            self.last_line = line;
        }
        n
    }

    fn step(&mut self, b: u8, line: usize, line_start: bool) -> Step {
        // Set when this byte completes a top-level value.
        let mut closes = false;
        if self.broken {
            if self.at_line_start && !is_ws(b) {
                self.at_line_start = false;
                let resync = b == b'{'
                    && match self.context {
                        Context::Value => line_start,
                        Context::Element => self.prev_line_last == b',',
                    };
                if resync {
                    return self.stop(End::Before, Step::Before);
                }
            }
        } else if self.in_string {
            if self.escape {
                self.escape = false;
            } else if b == b'\\' {
                self.escape = true;
            } else if b == b'"' {
                self.in_string = false;
                self.last_sig = b;
                closes = self.depth == 0;
            } else if b == b'\n' {
                if self.first && self.context == Context::Value && line == self.start_line {
                    // An unterminated string on the first line: NDJSON.
                    return self.stop(End::Before, Step::Before);
                }
                self.broken = true;
            }
        } else {
            match b {
                // A bare scalar ends at whitespace.
                b' ' | b'\t' | b'\n' | b'\r' if self.depth == 0 && self.context == Context::Value => {
                    return self.stop(End::Before, Step::Before);
                }
                b'"' => self.in_string = true,
                b'{' | b'[' => {
                    if b == b'{' && self.top_object && self.depth == 1 && self.last_sig != b':' {
                        // `{` where a key must be: this object is missing its `}`.
                        return self.stop(End::Before, Step::Before);
                    }
                    if b == b'{' && line_start && self.depth > 0 && !matches!(self.last_sig, b':' | b',' | b'[') {
                        // An object in column 1 right after a value, inside this record: it
                        // cannot belong to it (a value there needs a `,` before it), so the
                        // record is missing its closing brackets and the next one starts here.
                        return self.stop(End::Before, Step::Before);
                    }
                    self.depth += 1;
                }
                b']' if self.depth == 0 && self.context == Context::Element => {
                    return self.stop(End::Close, Step::Drop);
                }
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    closes = self.depth == 0;
                }
                b',' if self.depth == 0 && self.context == Context::Element => {
                    return self.stop(End::Comma, Step::Drop);
                }
                _ => {}
            }
            if !is_ws(b) {
                self.last_sig = b;
            }
        }
        if b == b'\n' {
            self.at_line_start = true;
            self.prev_line_last = self.line_last;
            self.line_last = 0;
        } else if !is_ws(b) {
            self.line_last = b;
            self.last_line = line;
        }
        if closes && self.context == Context::Value {
            return self.stop(End::Complete, Step::Last);
        }
        Step::Continue
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
