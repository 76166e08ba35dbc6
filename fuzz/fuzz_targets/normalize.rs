//! The normalised view and its offset map (`view_spans`, a doc(hidden) hook of sentinel-core).
//! For valid UTF-8: each character of the view maps back to a span of the original with
//! start <= end <= len, both on character boundaries, starts non-decreasing; and
//! `normalized_view` gives the same view text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (view, spans) = mcp_threatscan::view_spans(text);
    assert_eq!(spans.len(), view.chars().count(), "one span per view character");
    let mut last_start = 0;
    for (i, &(start, end)) in spans.iter().enumerate() {
        assert!(
            start <= end && end <= text.len() && text.is_char_boundary(start) && text.is_char_boundary(end),
            "span {i} = {start}..{end} of a {}-byte text: {text:?} (view {view:?})",
            text.len()
        );
        assert!(start >= last_start, "span {i} starts at {start}, before {last_start}: {text:?} (view {view:?})");
        last_start = start;
    }
    assert_eq!(mcp_threatscan::normalized_view(text), view, "normalized_view and view_spans disagree: {text:?}");
});
