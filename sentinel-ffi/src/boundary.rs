//! What every export does at the boundary: catch panics, check pointers, read the caller's
//! bytes, hand out borrowed strings.

use crate::result::sentinel_result;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A borrowed UTF-8 string: `len` bytes at `data`, **not** NUL-terminated (print it with
/// `printf("%.*s", (int)s.len, s.data)`). It lives as long as the object it was read from.
/// An absent value is `{NULL, 0}`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sentinel_str {
    /// The first byte, or NULL when the value is absent.
    pub data: *const c_char,
    /// The length in bytes.
    pub len: usize,
}

impl sentinel_str {
    pub(crate) const NONE: sentinel_str = sentinel_str { data: std::ptr::null(), len: 0 };

    pub(crate) fn of(s: &str) -> sentinel_str {
        sentinel_str { data: s.as_ptr().cast(), len: s.len() }
    }

    pub(crate) fn opt(s: Option<&str>) -> sentinel_str {
        s.map_or(sentinel_str::NONE, sentinel_str::of)
    }
}

/// Runs `f`, turning a panic into `SENTINEL_PANIC`.
pub(crate) fn guard(f: impl FnOnce() -> sentinel_result) -> sentinel_result {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(sentinel_result::SENTINEL_PANIC)
}

/// Runs `f`, turning a panic into `fallback`.
pub(crate) fn guard_or<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// Early return with `SENTINEL_NULL_PARAMETER` when a pointer is NULL.
macro_rules! not_null {
    ($($p:expr),+ $(,)?) => {
        $(if $p.is_null() {
            return $crate::result::sentinel_result::SENTINEL_NULL_PARAMETER;
        })+
    };
}
pub(crate) use not_null;

/// The caller's buffer as a slice. `len` 0 is an empty slice whatever `data` is.
///
/// # Safety
/// `data` is NULL only when `len` is 0, and otherwise points to `len` readable bytes that stay
/// unchanged for the call.
pub(crate) unsafe fn bytes<'a>(data: *const u8, len: usize) -> Option<&'a [u8]> {
    if len == 0 {
        return Some(&[]);
    }
    if data.is_null() {
        return None;
    }
    // SAFETY: non-NULL with `len` readable bytes, as the caller promises.
    Some(unsafe { std::slice::from_raw_parts(data, len) })
}

/// A NUL-terminated string argument: `Ok(None)` for NULL, `Err` when it is not UTF-8.
///
/// # Safety
/// `s` is NULL or points to a NUL-terminated string that stays unchanged for the call.
pub(crate) unsafe fn c_str<'a>(s: *const c_char) -> Result<Option<&'a str>, sentinel_result> {
    if s.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated, as the caller promises.
    let s = unsafe { CStr::from_ptr(s) };
    s.to_str().map(Some).map_err(|_| sentinel_result::SENTINEL_INVALID_UTF8)
}

/// Writes `value` to the out-parameter `out` (checked non-NULL by the caller).
///
/// # Safety
/// `out` is non-NULL and writable.
pub(crate) unsafe fn put<T>(out: *mut T, value: T) {
    // SAFETY: checked non-NULL by the caller; writable as the caller promises.
    unsafe { out.write(value) }
}

/// Moves `value` to the heap and gives its ownership to the caller.
pub(crate) fn owned<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes back an object handed out by [`owned`] and drops it; NULL does nothing.
///
/// # Safety
/// `p` is NULL or came from [`owned`] for this `T` and was not freed.
pub(crate) unsafe fn free<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: from `Box::into_raw` and not freed, as the caller promises.
        drop(unsafe { Box::from_raw(p) });
    }
}

/// `&*p` for a checked non-NULL pointer to an object handed out by [`owned`].
///
/// # Safety
/// `p` is non-NULL, came from [`owned`] for this `T` and was not freed.
pub(crate) unsafe fn obj<'a, T>(p: *const T) -> &'a T {
    // SAFETY: as the caller promises.
    unsafe { &*p }
}

/// Copies `bytes` into the caller's buffer `buf` of `len` bytes and their length to
/// `*written_out` (checked non-NULL by the caller). When `len` is too small, nothing is
/// written to `buf`, `*written_out` is the length needed and the result is
/// `SENTINEL_BUFFER_TOO_SMALL`.
///
/// # Safety
/// `written_out` is non-NULL and writable; `buf` is NULL or has `len` writable bytes.
pub(crate) unsafe fn copy_out(bytes: &[u8], buf: *mut u8, len: usize, written_out: *mut usize) -> sentinel_result {
    // SAFETY: as the caller promises.
    unsafe { put(written_out, bytes.len()) };
    if bytes.len() > len {
        return sentinel_result::SENTINEL_BUFFER_TOO_SMALL;
    }
    if !bytes.is_empty() {
        not_null!(buf);
        // SAFETY: `buf` has `len >= bytes.len()` writable bytes, as the caller promises; the
        // regions cannot overlap (`bytes` is the library's).
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf, bytes.len()) };
    }
    sentinel_result::SENTINEL_OK
}
