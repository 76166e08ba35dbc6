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
//! use mcp_threatscan::framing::{Line, LineReader};
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

use memchr::memchr;
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

mod envelope;
#[cfg(test)]
mod tests;

pub use envelope::EnvelopeScanner;
