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
            assert_eq!(got, [(oversize(message.len(), Some(id.clone()), Some("tools/call")), vec![])], "{capacity}");
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
            let line =
                format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"m{i}","params":{{"t":"{}"}}}}"#, "x".repeat(100 + i));
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
