//! The streaming event-log reader: every layout, broken input, positions, limits.

use mcp_threatscan::input::{RawRecord, Records};
use mcp_threatscan::{Event, EventError, EventErrorKind};
use proptest::prelude::*;
use std::io::{self, BufReader, Read};

fn event_json(tool: &str) -> String {
    format!(
        r#"{{"timestamp":"2024-01-15T14:30:00Z","user":"alice","agent":"ChatBot","tool":"{tool}","prompt":"p","response":"r"}}"#
    )
}

fn pretty(tool: &str) -> String {
    format!(
        "{{\n  \"timestamp\": \"2024-01-15T14:30:00Z\",\n  \"user\": \"alice\",\n  \"agent\": \"ChatBot\",\n  \"tool\": \"{tool}\",\n  \"prompt\": \"p\",\n  \"response\": \"r\"\n}}"
    )
}

fn items(input: &[u8]) -> Vec<Result<RawRecord, EventError>> {
    Records::new(input).collect()
}

/// Each item as `Ok(tool)` or `Err(kind)`, with its index and line.
fn summary(input: &[u8]) -> Vec<(usize, usize, Result<String, EventErrorKind>)> {
    items(input)
        .into_iter()
        .map(|item| match item {
            Ok(record) => {
                let parsed = record.parse().map(|e| e.tool).map_err(|e| e.kind().clone());
                (record.index, record.line, parsed)
            }
            Err(e) => (e.index().unwrap(), e.line().unwrap(), Err(e.kind().clone())),
        })
        .collect()
}

fn tools(input: &[u8]) -> Vec<String> {
    items(input).into_iter().map(|r| r.unwrap().parse().unwrap().tool).collect()
}

#[test]
fn single_object() {
    let input = event_json("filesystem");
    let got = items(input.as_bytes());
    eqnice!(1, got.len(), "count");
    let record = got[0].as_ref().unwrap();
    eqnice!((0, 1, 1), (record.index, record.line, record.column), "position");
    eqnice!(input.as_bytes(), &record.bytes[..], "bytes");
    eqnice!("filesystem", record.parse().unwrap().tool, "tool");
}

#[test]
fn pretty_printed_object() {
    let input = format!("\n  {}\n\n", pretty("web_search"));
    let got = items(input.as_bytes());
    eqnice!(1, got.len(), "count");
    let record = got[0].as_ref().unwrap();
    eqnice!((2, 3), (record.line, record.column), "position");
    eqnice!("web_search", record.parse().unwrap().tool, "tool");
}

#[test]
fn array_pretty_and_one_line() {
    let pretty_array = format!("[\n  {},\n  {}\n]\n", pretty("a"), pretty("b"));
    eqnice!(vec!["a", "b"], tools(pretty_array.as_bytes()), "pretty array");
    let got = items(pretty_array.as_bytes());
    let second = got[1].as_ref().unwrap();
    eqnice!((1, 10, 3), (second.index, second.line, second.column), "second element position");

    let one_line = format!("[{}, {} ,{}]", event_json("a"), event_json("b"), event_json("c"));
    eqnice!(vec!["a", "b", "c"], tools(one_line.as_bytes()), "one-line array");
    eqnice!(0, items(b" [ ] ").len(), "empty array has no records");
}

#[test]
fn array_elements_keep_brackets_and_commas_inside_strings() {
    let tricky = r#"{"timestamp":"t,]","user":"u\"],[","agent":"a","tool":"x}{","prompt":"[[[","response":"\\"}"#;
    let input = format!("[{tricky},{}]", event_json("y"));
    eqnice!(vec!["x}{", "y"], tools(input.as_bytes()), "tools");
}

#[test]
fn ndjson_with_a_broken_middle_line() {
    let input = format!(
        "{}\n{}\n{}\n\n{}\n",
        event_json("a"),
        r#"{"timestamp":"t","user":"u","agent":"a","tool":"broken","prompt":"unterminated"#,
        r#"{"timestamp":"t","user":"u","agent":"a","tool":"missing_brace","prompt":"p","response":"r""#,
        event_json("d"),
    );
    let got = summary(input.as_bytes());
    eqnice!(4, got.len(), "one item per non-blank line: {got:?}");
    eqnice!((0, 1, Ok("a".to_string())), got[0].clone(), "first");
    eqnice!((1, 2), (got[1].0, got[1].1), "broken string: index and line");
    assert!(matches!(got[1].2, Err(EventErrorKind::Syntax { .. })), "{:?}", got[1]);
    eqnice!((2, 3), (got[2].0, got[2].1), "missing brace: index and line");
    assert!(matches!(got[2].2, Err(EventErrorKind::Syntax { .. })), "{:?}", got[2]);
    eqnice!((3, 5, Ok("d".to_string())), got[3].clone(), "last");
}

#[test]
fn broken_first_line_still_gives_line_mode() {
    let missing_brace = r#"{"timestamp":"t","user":"u","agent":"a","tool":"x","prompt":"p","response":"r""#;
    let unterminated = r#"{"timestamp":"t","user":"u","agent":"a","tool":"x","prompt":"p"#;
    for first in [missing_brace, unterminated] {
        let input = format!("{first}\n{}\n{}\n", event_json("b"), event_json("c"));
        let got = summary(input.as_bytes());
        eqnice!(3, got.len(), "{first}: {got:?}");
        assert!(got[0].2.is_err(), "{got:?}");
        eqnice!((1, 2, Ok("b".to_string())), got[1].clone(), "{first}");
        eqnice!((2, 3, Ok("c".to_string())), got[2].clone(), "{first}");
    }
}

#[test]
fn concatenated_pretty_objects() {
    let input = format!("{}\n{}{}\n\n{}", pretty("a"), pretty("b"), pretty("c"), event_json("d"));
    eqnice!(vec!["a", "b", "c", "d"], tools(input.as_bytes()), "tools");
    let lines: Vec<usize> = items(input.as_bytes()).iter().map(|r| r.as_ref().unwrap().line).collect();
    eqnice!(vec![1, 9, 16, 25], lines, "start lines");
}

#[test]
fn pretty_object_missing_its_closing_brace_does_not_swallow_the_next() {
    let broken = pretty("a");
    let broken = &broken[..broken.len() - 1];
    let input = format!("{broken}\n{}\n{}", pretty("b"), pretty("c"));
    let got = summary(input.as_bytes());
    eqnice!(3, got.len(), "{got:?}");
    assert!(got[0].2.is_err(), "{got:?}");
    eqnice!((1, 9, Ok("b".to_string())), got[1].clone(), "second");
    eqnice!((2, 17, Ok("c".to_string())), got[2].clone(), "third");
}

#[test]
fn a_first_record_with_an_unclosed_bracket_does_not_swallow_the_next_lines() {
    // NDJSON whose first line never closes its `[`: the lines after it are records of their own.
    let broken = event_json("a").replace(r#""response":"r"}"#, r#""response":"r","metadata":[1,2"#);
    let input = format!("{broken}\n{}\n{}\n", event_json("os_shell"), event_json("c"));
    let got = summary(input.as_bytes());
    eqnice!(3, got.len(), "{got:?}");
    assert!(matches!(got[0].2, Err(EventErrorKind::Syntax { .. })), "{got:?}");
    eqnice!((1, 2, Ok("os_shell".to_string())), got[1].clone(), "second");
    eqnice!((2, 3, Ok("c".to_string())), got[2].clone(), "third");
    // Pretty-printed with no indent, where nested objects are in column 1 too, still frames.
    let flat = "{\n\"metadata\": [\n{\n\"k\": 1\n},\n{\n\"k\": 2\n}\n],\n\"tool\": \"t\"\n}\n";
    let got = items(flat.as_bytes());
    eqnice!(1, got.len(), "{got:?}");
}

#[test]
fn pretty_object_with_an_unterminated_string_resynchronises() {
    let input = format!("{}\n{{\n  \"tool\": \"oops,\n  \"user\": \"u\"\n}}\n{}", pretty("a"), pretty("c"));
    let got = summary(input.as_bytes());
    eqnice!(3, got.len(), "{got:?}");
    eqnice!((1, 9), (got[1].0, got[1].1), "broken record");
    assert!(matches!(got[1].2, Err(EventErrorKind::Syntax { .. })), "{got:?}");
    eqnice!((2, 13, Ok("c".to_string())), got[2].clone(), "after");
}

#[test]
fn array_element_missing_its_brace_and_unterminated_string() {
    let input = format!(
        "[\n  {},\n  {{\"tool\": \"x\", \"user\": \"u\",\n  {},\n  {{\"tool\": \"oops,\n  \"user\": \"u\"}},\n  {}\n]",
        event_json("a"),
        event_json("b"),
        event_json("c")
    );
    let got = summary(input.as_bytes());
    let shown: Vec<_> = got.iter().map(|(i, l, r)| (*i, *l, r.as_ref().ok().cloned())).collect();
    eqnice!(
        vec![(0, 2, Some("a".into())), (1, 3, None), (2, 4, Some("b".into())), (3, 5, None), (4, 7, Some("c".into()))],
        shown,
        "records"
    );
}

#[test]
fn byte_order_mark_is_skipped() {
    let mut input = vec![0xEF, 0xBB, 0xBF];
    input.extend_from_slice(format!("{}\n{}\n", event_json("a"), event_json("b")).as_bytes());
    let got = items(&input);
    let first = got[0].as_ref().unwrap();
    eqnice!((1, 1), (first.line, first.column), "position after the BOM");
    eqnice!(vec!["a", "b"], tools(&input), "tools");
    let mut array = vec![0xEF, 0xBB, 0xBF];
    array.extend_from_slice(format!("[{}]", event_json("c")).as_bytes());
    eqnice!(vec!["c"], tools(&array), "array after a BOM");
}

#[test]
fn broken_byte_order_mark_is_reported_and_reading_goes_on() {
    let mut input = vec![0xEF, 0xBB];
    input.extend_from_slice(event_json("a").as_bytes());
    let got = items(&input);
    eqnice!(2, got.len(), "items");
    assert!(matches!(got[0].as_ref().unwrap_err().kind(), EventErrorKind::Syntax { .. }));
    eqnice!("a", got[1].as_ref().unwrap().parse().unwrap().tool, "tool");
}

#[test]
fn blank_lines_are_skipped() {
    let input = format!("\n\r\n  \n{}\n\n\n\t\n{}\r\n\n", event_json("a"), event_json("b"));
    let got = summary(input.as_bytes());
    eqnice!(vec![(0, 4, Ok("a".to_string())), (1, 8, Ok("b".to_string()))], got, "records");
}

#[test]
fn empty_input_and_only_whitespace() {
    for input in [&b""[..], b"  \n\n\t \r\n", b"\xEF\xBB\xBF"] {
        let got = items(input);
        eqnice!(1, got.len(), "{input:?}");
        let err = got[0].as_ref().unwrap_err();
        assert!(matches!(err.kind(), EventErrorKind::Empty), "{err:?}");
        eqnice!((Some(0), Some(1)), (err.index(), err.line()), "{input:?}");
    }
}

#[test]
fn trailing_garbage_after_an_array() {
    let input = format!("[{}]\n  garbage\n{}", event_json("a"), event_json("b"));
    let got = items(input.as_bytes());
    eqnice!(2, got.len(), "items");
    eqnice!("a", got[0].as_ref().unwrap().parse().unwrap().tool, "element");
    let err = got[1].as_ref().unwrap_err();
    eqnice!((Some(1), Some(2), Some(3)), (err.index(), err.line(), err.column()), "position");
    eqnice!("event 1, line 2, column 3: invalid JSON: trailing characters after the array", err.to_string(), "message");
}

#[test]
fn broken_array_structure() {
    // Trailing comma, an empty element, an unterminated array.
    let a = event_json("a");
    let got = summary(format!("[{a},,{a},]").as_bytes());
    let kinds: Vec<bool> = got.iter().map(|g| g.2.is_ok()).collect();
    eqnice!(vec![true, false, true, false], kinds, "{got:?}");
    let got = summary(format!("[{a},\n{a}").as_bytes());
    eqnice!(3, got.len(), "{got:?}");
    eqnice!((2, 2), (got[2].0, got[2].1), "unterminated array error");
    let got = summary(b"[");
    eqnice!(1, got.len(), "{got:?}");
    let got = summary(format!("[{a}, {{\"tool\": \"x").as_bytes());
    eqnice!(2, got.len(), "an element cut by the end of input: {got:?}");
}

#[test]
fn too_large_records_are_skipped_and_reading_goes_on() {
    let big = event_json(&"x".repeat(1_000));
    for input in [
        format!("{}\n{big}\n{}\n", event_json("a"), event_json("c")),
        format!("[{}, {big}, {}]", event_json("a"), event_json("c")),
        format!("{}\n{}\n{}\n", pretty("a"), pretty(&"x".repeat(1_000)), pretty("c")),
    ] {
        let got: Vec<_> = Records::new(input.as_bytes()).max_record_bytes(500).collect();
        eqnice!(3, got.len(), "{input}");
        eqnice!("a", got[0].as_ref().unwrap().parse().unwrap().tool, "first");
        let err = got[1].as_ref().unwrap_err();
        assert!(matches!(err.kind(), EventErrorKind::TooLarge { limit: 500 }), "{err:?}");
        eqnice!(Some(1), err.index(), "index");
        assert!(err.line().is_some() && err.column().is_some(), "{err:?}");
        eqnice!("c", got[2].as_ref().unwrap().parse().unwrap().tool, "last");
    }
}

#[test]
fn syntax_error_positions_are_in_the_whole_input() {
    // Record on line 5, error on its second line, column 3 → line 6, column 3.
    let input = format!("{{\n\"x\": 1}}\n\n\n{{\n  oops\n}}\n{}\n", pretty("b"));
    let got = items(input.as_bytes());
    eqnice!(3, got.len(), "records");
    let record = got[1].as_ref().unwrap();
    eqnice!(5, record.line, "record line");
    let err = record.parse().unwrap_err();
    eqnice!((Some(1), Some(6), Some(3)), (err.index(), err.line(), err.column()), "error position");
    eqnice!("b", got[2].as_ref().unwrap().parse().unwrap().tool, "after");

    // An error on the record's first line is shifted by its column.
    let input = format!("[{}, {{\"tool\": oops}}]", event_json("a"));
    let got = items(input.as_bytes());
    let record = got[1].as_ref().unwrap();
    let err = record.parse().unwrap_err();
    eqnice!(Some(1), err.line(), "line");
    eqnice!(Some(record.column + 9), err.column(), "column");
    eqnice!(record.column + 9, input.find("oops").unwrap() + 1, "the column is the `o` of oops");

    // Field errors point at the record's start.
    let input = format!("{}\n  {{\"tool\": 1}}\n", event_json("a"));
    let err = items(input.as_bytes())[1].as_ref().unwrap().parse().unwrap_err();
    eqnice!((Some(1), Some(2), Some(3)), (err.index(), err.line(), err.column()), "field error position");
}

#[test]
fn non_objects_are_parse_errors() {
    let got = summary(b"3\n\"text\"\n[1]\nnull\n");
    eqnice!(4, got.len(), "{got:?}");
    for (i, item) in got.iter().enumerate() {
        assert!(matches!(item.2, Err(EventErrorKind::NotAnObject { .. })), "{i}: {item:?}");
    }
}

/// A reader that yields some bytes, then fails.
struct Failing(Vec<u8>);

impl Read for Failing {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() {
            return Err(io::Error::other("disk on fire"));
        }
        let n = out.len().min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0.drain(..n);
        Ok(n)
    }
}

#[test]
fn io_errors_end_the_iterator() {
    let input = format!("{}\n{}", event_json("a"), &event_json("b")[..20]);
    let got: Vec<_> = Records::new(BufReader::with_capacity(7, Failing(input.into_bytes()))).collect();
    eqnice!(2, got.len(), "{got:?}");
    eqnice!("a", got[0].as_ref().unwrap().parse().unwrap().tool, "first");
    let err = got[1].as_ref().unwrap_err();
    assert!(matches!(err.kind(), EventErrorKind::Io { .. }), "{err:?}");
    eqnice!((Some(1), Some(2)), (err.index(), err.line()), "position");
    assert!(err.to_string().contains("disk on fire"), "{err}");
}

#[test]
fn small_reads_give_the_same_records() {
    let input = format!("[\n{},\n{}\n]", pretty("a"), event_json("b"));
    let one_byte = BufReader::with_capacity(1, input.as_bytes());
    let got: Vec<_> = Records::new(one_byte).collect();
    eqnice!(items(input.as_bytes()), got, "records");
}

/// Checks the invariants every item must satisfy.
fn check_positions(input: &[u8]) {
    for (i, item) in Records::new(input).max_record_bytes(64).enumerate() {
        match item {
            Ok(record) => {
                assert!(record.line >= 1 && record.column >= 1, "{record:?}");
                eqnice!(i, record.index, "index");
                if let Err(e) = record.parse() {
                    assert!(e.line().unwrap() >= 1 && e.column().is_some(), "{e:?}");
                    eqnice!(Some(i), e.index(), "parse error index");
                }
            }
            Err(e) => {
                assert!(e.line().unwrap() >= 1 && e.column().is_some(), "{e:?}");
                eqnice!(Some(i), e.index(), "error index");
            }
        }
    }
}

fn arb_event() -> impl Strategy<Value = Event> {
    let text = || proptest::string::string_regex("[ -~\u{e9}\u{3042}\u{200b}\n\t\"\\\\{}\\[\\],]{0,24}").unwrap();
    (text(), text(), text(), text(), text(), text(), proptest::option::of(text())).prop_map(
        |(timestamp, user, agent, tool, prompt, response, id)| {
            let mut event = Event { timestamp, user, agent, tool, prompt, response, ..Event::default() };
            event.context.id = id;
            event
        },
    )
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_positions(&bytes);
    }

    #[test]
    fn json_like_bytes_never_panic(bytes in proptest::collection::vec(
        prop_oneof![Just(b'{'), Just(b'}'), Just(b'['), Just(b']'), Just(b'"'), Just(b'\\'),
                    Just(b','), Just(b':'), Just(b'\n'), Just(b' '), Just(b'a'), Just(b'1')], 0..256)) {
        check_positions(&bytes);
    }

    #[test]
    fn buffer_size_does_not_change_the_records(
        bytes in proptest::collection::vec(
            prop_oneof![Just(b'{'), Just(b'}'), Just(b'['), Just(b']'), Just(b'"'), Just(b'\\'),
                        Just(b','), Just(b':'), Just(b'\n'), Just(b' '), Just(b'a'), Just(b'1')], 0..300),
        capacity in 1usize..20,
    ) {
        let whole: Vec<_> = Records::new(&bytes[..]).max_record_bytes(64).collect();
        let pieces: Vec<_> =
            Records::new(BufReader::with_capacity(capacity, &bytes[..])).max_record_bytes(64).collect();
        prop_assert_eq!(whole, pieces);
    }

    #[test]
    fn every_layout_reads_back_the_same_events(events in proptest::collection::vec(arb_event(), 1..8)) {
        let compact: Vec<String> = events.iter().map(|e| serde_json::to_string(e).unwrap()).collect();
        let ndjson = compact.join("\n") + "\n";
        let array = format!("[{}]", compact.join(","));
        let pretty_array = serde_json::to_string_pretty(&events).unwrap();
        let concatenated: String =
            events.iter().map(|e| serde_json::to_string_pretty(e).unwrap() + "\n").collect();
        for (name, input) in [("ndjson", ndjson), ("array", array), ("pretty array", pretty_array), ("pretty", concatenated)] {
            let got: Vec<Event> = Records::new(input.as_bytes())
                .map(|r| r.unwrap().parse().unwrap())
                .collect();
            prop_assert_eq!(&events, &got, "{}", name);
        }
    }
}

#[test]
fn deep_nesting_and_nul_bytes_do_not_panic() {
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    check_positions(deep.as_bytes());
    let deep_object = "{\"a\":".repeat(50_000);
    let got = items(deep_object.as_bytes());
    assert!(got[0].as_ref().unwrap().parse().is_err());
    check_positions(b"\0\0{\0}\n\0");
    check_positions(b"\xff\xfe{\"tool\": \"\xc3\x28\"}");
}
