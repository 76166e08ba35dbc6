//! The C ABI of the `mcp-threatscan` engine: `libsentinel` and `include/sentinel.h`.
//!
//! The conventions are rustls-ffi's. Every function returns a numbered [`sentinel_result`]
//! (or a plain value for accessors that cannot fail); objects are opaque, made by `_new` and
//! released by `_free`; the object comes first, then the inputs, then the out-parameters; a
//! buffer is followed by its length; every pointer is checked for NULL; no Rust panic crosses
//! the boundary (each export catches it and returns `SENTINEL_PANIC`). Each function's comment
//! states who owns what it returns and whether it may be called from several threads.
//!
//! The library has no logic of its own: it converts the caller's bytes to the core's types
//! and the core's results to C types.

// An FFI crate dereferences the caller's pointers: each `unsafe` block checks for NULL first
// and says what the caller promises.
#![allow(unsafe_code)]
#![allow(non_camel_case_types)]
// The exports take the caller's pointers as C functions do; what the caller promises is in
// each function's comment, and marking them `unsafe fn` would change nothing for C.
#![allow(clippy::not_unsafe_ptr_arg_deref)]
// Errors are the cold path: an error value of 144 bytes in a `Result` costs nothing that
// matters, and boxing it would allocate twice.
#![allow(clippy::result_large_err)]

mod boundary;
mod engine;
mod error;
mod result;
mod session;
mod verdict;

pub use boundary::sentinel_str;
pub use engine::*;
pub use error::*;
pub use result::sentinel_result;
pub use session::*;
pub use verdict::*;

/// The library's version, a static NUL-terminated string (`"0.1.0"`). Never NULL; do not free.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn sentinel_version() -> *const std::ffi::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
