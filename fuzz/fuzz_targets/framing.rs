//! The two stream readers.
//!
//! `framing::LineReader`: byte 0 picks the line maximum (1..=4096 bytes, with bytes 0 and 1)
//! and the reader's buffer size (byte 2); the rest is the input. Checks: every complete line is
//! the next bytes of the input, ends at its first `\n` (or the input's end) and holds at most
//! `max` bytes before its `\n`; an over-size line is more than `max` bytes, holds no `\n`, and
//! its `bytes` plus its newline account for the input exactly; an over-size line's `id`, when
//! it has one, is the top-level `"id"` serde_json reads from that line when the line is JSON
//! (and likewise its `method`); the same lines come out whatever the buffer size.
//!
//! `input::Records` (the event-log reader) over the same bytes: it ends; every record's bytes
//! are the input's bytes at the record's line and column; indexes count up from 0; the items
//! are the same whatever the buffer size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_threatscan::framing::{Line, LineReader};
use mcp_threatscan::input::Records;
use serde_json::Value;
use std::io::BufReader;

fuzz_target!(|data: &[u8]| {
    let [a, b, c, ..] = *data else { return };
    let input = &data[3..];
    let max = 1 + usize::from(u16::from_le_bytes([a, b])) % 4096;
    let capacity = 1 + usize::from(c) % 64;
    let lines = check_lines(input, max, capacity);
    assert_eq!(lines, read_lines(input, max, 1 << 16), "buffer size {capacity} changed the lines");
    check_records(input, capacity);
});

fn read_lines(input: &[u8], max: usize, capacity: usize) -> Vec<(Line, Vec<u8>)> {
    let mut reader = LineReader::new(BufReader::with_capacity(capacity, input), max);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    while let Some(line) = reader.next_line(&mut buf).expect("reading a slice cannot fail") {
        out.push((line, buf.clone()));
        assert!(out.len() <= input.len(), "more lines than bytes");
    }
    out
}

fn check_lines(input: &[u8], max: usize, capacity: usize) -> Vec<(Line, Vec<u8>)> {
    let lines = read_lines(input, max, capacity);
    let mut pos = 0;
    for (line, buf) in &lines {
        assert!(pos < input.len(), "a line after the end of the input");
        let rest = &input[pos..];
        let content_len = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let has_newline = content_len < rest.len();
        let content = &rest[..content_len];
        match line {
            Line::Complete => {
                assert!(content_len <= max, "a complete line of {content_len} bytes > max {max}");
                let whole = &rest[..content_len + usize::from(has_newline)];
                assert_eq!(buf.as_slice(), whole, "a complete line is not the next bytes of the input");
                pos += whole.len();
            }
            Line::Oversize { bytes, id, method, response: _ } => {
                assert!(buf.is_empty(), "the buffer holds bytes of an over-size line");
                assert!(content_len > max, "an over-size line of {content_len} bytes <= max {max}");
                assert_eq!(*bytes, content_len as u64, "an over-size line's length");
                if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(content) {
                    if let Some(id) = id {
                        assert_eq!(
                            map.get("id"),
                            Some(id),
                            "the id of an over-size line: {:?}",
                            String::from_utf8_lossy(content)
                        );
                    }
                    if let Some(method) = method {
                        assert_eq!(
                            map.get("method").and_then(Value::as_str),
                            Some(method.as_str()),
                            "the method of an over-size line: {:?}",
                            String::from_utf8_lossy(content)
                        );
                    }
                }
                pos += content_len + usize::from(has_newline);
            }
        }
    }
    assert_eq!(pos, input.len(), "the lines do not account for the whole input");
    lines
}

/// Byte offset of a 1-based line and byte column (a UTF-8 byte order mark at the start of the
/// input is not counted in the columns of line 1).
fn offset_of(input: &[u8], line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        start += input[start..].iter().position(|&b| b == b'\n').expect("the line exists") + 1;
    }
    if line == 1 && input.starts_with(&[0xEF, 0xBB, 0xBF]) {
        start += 3;
    }
    start + column - 1
}

fn check_records(input: &[u8], capacity: usize) {
    let read = |capacity: usize| -> Vec<_> {
        let mut items = Vec::new();
        for item in Records::new(BufReader::with_capacity(capacity, input)) {
            items.push(item);
            assert!(items.len() <= input.len() + 2, "more records than bytes");
        }
        items
    };
    let items = read(capacity);
    for (i, item) in items.iter().enumerate() {
        match item {
            Ok(record) => {
                assert_eq!(record.index, i);
                let at = offset_of(input, record.line, record.column);
                assert!(
                    input[at..].starts_with(&record.bytes),
                    "record {i} at line {} column {} is not the input's bytes there: {:?}",
                    record.line,
                    record.column,
                    String::from_utf8_lossy(&record.bytes)
                );
                let _ = record.parse();
            }
            Err(e) => assert_eq!(e.index(), Some(i)),
        }
    }
    assert_eq!(items, read(1 << 16), "buffer size {capacity} changed the records");
    // A byte slice is a BufRead of its own (one buffer of the whole input).
    assert_eq!(items, Records::new(input).collect::<Vec<_>>(), "a slice reader gives other records");
}
