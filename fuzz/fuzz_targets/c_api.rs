//! Arbitrary bytes through the C API (`libsentinel`), as a C host would pass them: the first
//! byte picks the call, the rest is its input. Checks: no call panics (a caught panic would be
//! `SENTINEL_PANIC`), every scan hands back a verdict whatever its result, the result is one of
//! those the function documents, a verdict's JSON is written in full into a buffer of the size
//! it reports, every finding index below the count reads and the next one does not, and a scan
//! with a scratch gives the same JSON as one without.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sentinel::*;
use std::cell::RefCell;
use std::ptr;
use std::sync::OnceLock;

struct Shared(*mut sentinel_engine);
// SAFETY: the engine is thread-safe (sentinel.h); the pointer is only read.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

fn engine() -> *const sentinel_engine {
    static ENGINE: OnceLock<Shared> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut e = ptr::null_mut();
            assert_eq!(sentinel_engine_new(ptr::null(), 0, SENTINEL_CONFIG_TOML, &mut e, ptr::null_mut()), sentinel_result::SENTINEL_OK);
            Shared(e)
        })
        .0
}

thread_local! {
    static SCRATCH: RefCell<*mut sentinel_scratch> = const { RefCell::new(ptr::null_mut()) };
    static SESSION: RefCell<*mut sentinel_session> = const { RefCell::new(ptr::null_mut()) };
}

/// The verdict's JSON, checked: the size reported, then written in full.
fn json_of(v: *const sentinel_verdict) -> Vec<u8> {
    let mut need = 0usize;
    let r = sentinel_verdict_json(v, ptr::null_mut(), 0, &mut need);
    assert!(r == sentinel_result::SENTINEL_BUFFER_TOO_SMALL && need > 0, "{r:?} {need}");
    let mut buf = vec![0u8; need];
    let mut written = 0usize;
    assert_eq!(sentinel_verdict_json(v, buf.as_mut_ptr(), buf.len(), &mut written), sentinel_result::SENTINEL_OK);
    assert_eq!(written, need);
    assert!(serde_json::from_slice::<serde_json::Value>(&buf).is_ok(), "the verdict JSON does not parse");
    buf
}

fn check_findings(v: *const sentinel_verdict) {
    let n = sentinel_verdict_findings_len(v);
    let mut f = std::mem::MaybeUninit::<sentinel_finding>::uninit();
    for i in 0..n {
        assert_eq!(sentinel_verdict_finding(v, i, f.as_mut_ptr()), sentinel_result::SENTINEL_OK);
        // SAFETY: written by the call above.
        let f = unsafe { f.assume_init_ref() };
        assert!(f.span_start <= f.span_end && !f.rule.data.is_null());
    }
    assert_eq!(sentinel_verdict_finding(v, n, f.as_mut_ptr()), sentinel_result::SENTINEL_INVALID_ARGUMENT);
}

fn scanned(r: sentinel_result, v: *mut sentinel_verdict, err: *mut sentinel_error, unreadable: &[sentinel_result]) -> Vec<u8> {
    assert!(!v.is_null(), "no verdict for {r:?}");
    assert!(r == sentinel_result::SENTINEL_OK || unreadable.contains(&r), "unexpected {r:?}");
    assert_eq!(r == sentinel_result::SENTINEL_OK, err.is_null());
    if !err.is_null() {
        assert_eq!(sentinel_error_code(err), r);
        sentinel_error_free(err);
    }
    check_findings(v);
    let json = json_of(v);
    sentinel_verdict_free(v);
    json
}

const UNREADABLE: &[sentinel_result] = &[sentinel_result::SENTINEL_EVENT_ERROR, sentinel_result::SENTINEL_INVALID_UTF8];

fuzz_target!(
    init: {
        let _ = engine();
    },
    |data: &[u8]| {
        let Some((&op, input)) = data.split_first() else { return };
        let engine = engine();
        let (mut v, mut err) = (ptr::null_mut(), ptr::null_mut());
        match op % 6 {
            0 | 1 => {
                let r = sentinel_engine_scan(engine, input.as_ptr(), input.len(), &mut v, &mut err);
                let owned = scanned(r, v, err, UNREADABLE);
                // The same event with a scratch kept across inputs.
                SCRATCH.with(|s| {
                    let mut s = s.borrow_mut();
                    if s.is_null() {
                        assert_eq!(sentinel_scratch_new(engine, &mut *s), sentinel_result::SENTINEL_OK);
                    }
                    let (mut b, mut e2) = (ptr::null(), ptr::null_mut());
                    let r2 = sentinel_engine_scan_with(engine, *s, input.as_ptr(), input.len(), &mut b, &mut e2);
                    assert_eq!(r, r2);
                    sentinel_error_free(e2);
                    assert_eq!(json_of(b), owned, "scan_with and scan disagree");
                });
            }
            2 => {
                let direction = u32::from(input.first().copied().unwrap_or(0) % 3);
                let method = c"tools/call";
                let ctx = sentinel_message_context { method: method.as_ptr(), tool: c"run".as_ptr(), server: ptr::null(), pins: ptr::null() };
                let r = sentinel_engine_scan_message(engine, input.as_ptr(), input.len(), direction, &ctx, &mut v, &mut err);
                if direction == 2 {
                    assert_eq!(r, sentinel_result::SENTINEL_INVALID_ARGUMENT);
                    assert!(v.is_null());
                    sentinel_error_free(err);
                } else {
                    scanned(r, v, err, UNREADABLE);
                }
            }
            3 => SESSION.with(|s| {
                let mut s = s.borrow_mut();
                if s.is_null() {
                    assert_eq!(sentinel_session_new(engine, c"fuzz".as_ptr(), ptr::null(), false, &mut *s), sentinel_result::SENTINEL_OK);
                }
                let from = u32::from(input.first().copied().unwrap_or(0) % 2);
                let r = sentinel_session_scan(*s, input.as_ptr(), input.len(), from, &mut v, &mut err);
                scanned(r, v, err, UNREADABLE);
            }),
            4 => {
                // A rule pack of the caller's: built (or refused) without the built-in rules.
                let mut b = ptr::null_mut();
                assert_eq!(sentinel_engine_builder_new(&mut b), sentinel_result::SENTINEL_OK);
                assert_eq!(sentinel_engine_builder_without_builtin_rules(b), sentinel_result::SENTINEL_OK);
                let r = sentinel_engine_builder_add_rules(b, ptr::null(), input.as_ptr(), input.len(), &mut err);
                if r != sentinel_result::SENTINEL_OK {
                    assert_eq!(r, sentinel_result::SENTINEL_INVALID_UTF8);
                    sentinel_error_free(err);
                    sentinel_engine_builder_free(b);
                    return;
                }
                let mut e = ptr::null_mut();
                let r = sentinel_engine_builder_build(b, &mut e, &mut err);
                let expected = [sentinel_result::SENTINEL_OK, sentinel_result::SENTINEL_RULE_ERROR, sentinel_result::SENTINEL_SIZE_LIMIT_ERROR, sentinel_result::SENTINEL_CONFIG_ERROR];
                assert!(expected.contains(&r), "{r:?}");
                assert_eq!(r == sentinel_result::SENTINEL_OK, !e.is_null());
                sentinel_error_free(err);
                sentinel_engine_free(e);
            }
            _ => {
                // A configuration, TOML or JSON, on a builder without the built-in rules.
                let mut b = ptr::null_mut();
                assert_eq!(sentinel_engine_builder_new(&mut b), sentinel_result::SENTINEL_OK);
                let format = u32::from(op / 6 % 3);
                let r = sentinel_engine_builder_set_config(b, input.as_ptr(), input.len(), format, &mut err);
                let expected = [sentinel_result::SENTINEL_OK, sentinel_result::SENTINEL_CONFIG_ERROR, sentinel_result::SENTINEL_INVALID_UTF8, sentinel_result::SENTINEL_INVALID_ARGUMENT];
                assert!(expected.contains(&r), "{r:?}");
                assert_eq!(format == 2, r == sentinel_result::SENTINEL_INVALID_ARGUMENT);
                sentinel_error_free(err);
                sentinel_engine_builder_free(b);
            }
        }
    }
);
