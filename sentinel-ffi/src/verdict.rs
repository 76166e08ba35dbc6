//! `sentinel_verdict`: the result of a scan, read through accessors or as the core's JSON.

use crate::boundary::{copy_out, free, guard, guard_or, not_null, obj, put, sentinel_str};
use crate::result::sentinel_result;
use mcp_threatscan::{Action, Confidence, Severity, Verdict};

/// The result of scanning one event or message (declared opaque in the header by
/// cbindgen.toml's `after_includes`: cbindgen would expose the `repr(transparent)` layout).
///
/// cbindgen:ignore
#[repr(transparent)]
#[derive(Debug)]
pub struct sentinel_verdict(pub(crate) Verdict);

impl sentinel_verdict {
    /// A borrowed core verdict as the C type (same layout: `repr(transparent)`).
    pub(crate) fn borrowed(v: &Verdict) -> *const sentinel_verdict {
        (v as *const Verdict).cast()
    }
}

/// What to do with the event or message.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sentinel_action {
    /// Let it through.
    SENTINEL_ACTION_ALLOW = 0,
    /// Let it through and report it.
    SENTINEL_ACTION_WARN = 1,
    /// Stop it.
    SENTINEL_ACTION_BLOCK = 2,
}

/// A severity; `SENTINEL_SEVERITY_NONE` for a verdict without findings.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sentinel_severity {
    /// No findings.
    SENTINEL_SEVERITY_NONE = 0,
    /// Low.
    SENTINEL_SEVERITY_LOW = 1,
    /// Medium.
    SENTINEL_SEVERITY_MEDIUM = 2,
    /// High.
    SENTINEL_SEVERITY_HIGH = 3,
    /// Critical.
    SENTINEL_SEVERITY_CRITICAL = 4,
}

fn severity(s: Option<Severity>) -> sentinel_severity {
    match s {
        None => sentinel_severity::SENTINEL_SEVERITY_NONE,
        Some(Severity::Low) => sentinel_severity::SENTINEL_SEVERITY_LOW,
        Some(Severity::Medium) => sentinel_severity::SENTINEL_SEVERITY_MEDIUM,
        Some(Severity::High) => sentinel_severity::SENTINEL_SEVERITY_HIGH,
        Some(Severity::Critical) => sentinel_severity::SENTINEL_SEVERITY_CRITICAL,
    }
}

/// One finding of a verdict. Its strings are borrowed from the verdict: valid until the
/// verdict is freed (or, for a scratch's verdict, until the scratch's next scan).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sentinel_finding {
    /// The rule's stable code (`PI-001`).
    pub rule: sentinel_str,
    /// The detector's stable code (`SEC-01`).
    pub detector: sentinel_str,
    /// The detector's name (`PromptInjection`).
    pub detector_name: sentinel_str,
    /// The threat category, snake_case (`prompt_injection`).
    pub category: sentinel_str,
    /// The severity after policy.
    pub severity: sentinel_severity,
    /// True when the finding is a weak signal on its own (confidence `low`).
    pub low_confidence: bool,
    /// The part of the event or message the finding is in (`prompt`, `response`, …).
    pub field: sentinel_str,
    /// JSON path of the scanned string (`metadata.arguments.path`).
    pub path: sentinel_str,
    /// Byte offset of the match's first byte in that string.
    pub span_start: usize,
    /// Byte offset one past the match's last byte.
    pub span_end: usize,
    /// One line saying why.
    pub reason: sentinel_str,
}

fn verdict_or<T>(verdict: *const sentinel_verdict, fallback: T, f: impl FnOnce(&Verdict) -> T) -> T {
    if verdict.is_null() {
        return fallback;
    }
    // SAFETY: non-NULL; the caller promises it came from this library and is still valid.
    guard_or(fallback, || f(&unsafe { obj(verdict) }.0))
}

/// The verdict's action. A NULL verdict reads as `SENTINEL_ACTION_BLOCK`: a caller that lost
/// its verdict fails closed.
#[no_mangle]
pub extern "C" fn sentinel_verdict_action(verdict: *const sentinel_verdict) -> sentinel_action {
    verdict_or(verdict, sentinel_action::SENTINEL_ACTION_BLOCK, |v| match v.action {
        Action::Allow => sentinel_action::SENTINEL_ACTION_ALLOW,
        Action::Warn => sentinel_action::SENTINEL_ACTION_WARN,
        Action::Block => sentinel_action::SENTINEL_ACTION_BLOCK,
    })
}

/// True when the action is block (and for a NULL verdict).
#[no_mangle]
pub extern "C" fn sentinel_verdict_blocked(verdict: *const sentinel_verdict) -> bool {
    verdict_or(verdict, true, Verdict::is_blocked)
}

/// The highest severity of any finding; `SENTINEL_SEVERITY_NONE` without findings (and for
/// a NULL verdict).
#[no_mangle]
pub extern "C" fn sentinel_verdict_severity(verdict: *const sentinel_verdict) -> sentinel_severity {
    verdict_or(verdict, sentinel_severity::SENTINEL_SEVERITY_NONE, |v| severity(v.severity))
}

/// How many findings the verdict has (0 for a NULL verdict).
#[no_mangle]
pub extern "C" fn sentinel_verdict_findings_len(verdict: *const sentinel_verdict) -> usize {
    verdict_or(verdict, 0, |v| v.findings.len())
}

/// Finding `index` (from 0) of the verdict, written to `*finding_out`; its strings are
/// borrowed from the verdict. `SENTINEL_INVALID_ARGUMENT` when `index` is not below
/// `sentinel_verdict_findings_len`.
#[no_mangle]
pub extern "C" fn sentinel_verdict_finding(
    verdict: *const sentinel_verdict,
    index: usize,
    finding_out: *mut sentinel_finding,
) -> sentinel_result {
    guard(|| {
        not_null!(verdict, finding_out);
        // SAFETY: non-NULL; from this library and still valid, as the caller promises.
        let v = &unsafe { obj(verdict) }.0;
        let Some(f) = v.findings.get(index) else { return sentinel_result::SENTINEL_INVALID_ARGUMENT };
        let finding = sentinel_finding {
            rule: sentinel_str::of(&f.rule),
            detector: sentinel_str::of(&f.detector),
            detector_name: sentinel_str::of(&f.detector_name),
            category: sentinel_str::of(&f.category),
            severity: severity(Some(f.severity)),
            low_confidence: f.confidence == Confidence::Low,
            field: sentinel_str::of(f.field.as_str()),
            path: sentinel_str::of(&f.path),
            span_start: f.span.start,
            span_end: f.span.end,
            reason: sentinel_str::of(&f.reason),
        };
        // SAFETY: non-NULL and writable, as the caller promises.
        unsafe { put(finding_out, finding) };
        sentinel_result::SENTINEL_OK
    })
}

/// Writes the verdict's JSON (the core's form, what `sentinel scan --format ndjson` writes
/// for it; UTF-8, not NUL-terminated) to `buf` and its length to `*written_out`. When `len`
/// is too small, nothing is written to `buf`, `*written_out` is the length needed and the
/// result is `SENTINEL_BUFFER_TOO_SMALL` (call with `buf` NULL and `len` 0 to learn it).
#[no_mangle]
pub extern "C" fn sentinel_verdict_json(
    verdict: *const sentinel_verdict,
    buf: *mut u8,
    len: usize,
    written_out: *mut usize,
) -> sentinel_result {
    guard(|| {
        not_null!(verdict, written_out);
        // SAFETY: non-NULL; from this library and still valid, as the caller promises.
        let v = &unsafe { obj(verdict) }.0;
        let json = match serde_json::to_vec(v) {
            Ok(json) => json,
            Err(_) => return sentinel_result::SENTINEL_PANIC,
        };
        // SAFETY: as the caller promises.
        unsafe { copy_out(&json, buf, len, written_out) }
    })
}

/// Frees a verdict the caller owns. NULL does nothing. Never free a borrowed verdict (a
/// scratch's).
#[no_mangle]
pub extern "C" fn sentinel_verdict_free(verdict: *mut sentinel_verdict) {
    // SAFETY: NULL, or owned by the caller and not freed, as the caller promises.
    guard_or((), || unsafe { free(verdict) })
}
