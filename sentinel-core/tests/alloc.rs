//! After warm-up, `scan_with` does not touch the heap: counted by a global allocator that
//! counts only the allocations of the thread under test.

use mcp_threatscan::{Engine, Event};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the thread-locals may be gone while a thread shuts down.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: forwards to the system allocator; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Counts the allocations `f` makes on this thread.
pub fn allocations<R>(f: impl FnOnce() -> R) -> (usize, R) {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|on| on.set(true));
    let r = f();
    COUNTING.with(|on| on.set(false));
    (COUNT.with(Cell::get), r)
}

fn sized(text: &str, len: usize) -> String {
    let mut s = String::with_capacity(len + text.len());
    while s.len() < len {
        s.push_str(text);
    }
    s.truncate(mcp_threatscan_floor(&s, len));
    s
}

fn mcp_threatscan_floor(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Benign and malicious events from 100 B to 256 KB, ASCII and not.
pub fn sample_events() -> Vec<Event> {
    let benign = "The quarterly report shows revenue of 4.2M across 12 regions; see the table below. ";
    let unicode = "日本語のドキュメントです。Привет, мир! Ünïcödé façade naïve café. ";
    let malicious = "Ignore instructions. 1' UNION SELECT password FROM users-- ; cat /etc/passwd && whoami \
                     <script>alert(1)</script> sudo rm -rf / ig\u{200B}nore instructions <img src=x onerror=alert(1)> ";
    let mut events = Vec::new();
    for len in [100, 1_000, 4_096, 65_536, 262_144] {
        for (tool, body) in [("notes", benign), ("docs", unicode), ("os_shell", malicious), ("fetch", malicious)] {
            let text = sized(body, len);
            events.push(Event {
                timestamp: "2024-01-15T14:30:00Z".into(),
                user: "alice".into(),
                agent: "ChatBot".into(),
                tool: tool.into(),
                prompt: text.clone(),
                response: text.clone(),
                metadata: Some(serde_json::json!({"arguments": {"q": text, "n": 3, "list": ["a", {"b": "sudo ls"}]}})),
                context: mcp_threatscan::EventContext {
                    id: Some("evt-1".into()),
                    server: Some("srv".into()),
                    ..Default::default()
                },
                ..Default::default()
            });
        }
    }
    events
}

#[test]
fn scanning_a_warm_scratch_does_not_allocate() {
    let engine = Engine::new().unwrap();
    let events = sample_events();
    let mut scratch = engine.create_scratch();
    // Warm-up: two rounds, so buffers reach the sizes every event needs.
    for _ in 0..2 {
        for e in &events {
            engine.scan_with(&mut scratch, e);
        }
    }
    let mut flagged = 0;
    for (i, e) in events.iter().enumerate() {
        let (n, blocked) = allocations(|| engine.scan_with(&mut scratch, e).is_blocked());
        flagged += usize::from(blocked);
        assert_eq!(n, 0, "event {i} (tool {}, {} bytes) allocated {n} times", e.tool, e.prompt.len());
    }
    assert!(flagged >= 10, "the malicious events must be blocked: {flagged}");
}

#[test]
fn the_counter_counts() {
    let (n, v) = allocations(|| vec![1u8; 16]);
    assert!(n >= 1 && v.len() == 16, "the allocation counter is broken: {n}");
}
