//! Node.js binding of the `mcp-threatscan` engine: the npm package `mcp-threatscan`.
//!
//! Every class wraps the core's own type and every function converts types and nothing else:
//! events and messages go to the core as JSON text (a string or a `Buffer` as given, an object
//! through `JSON.stringify`), verdicts come back in the core's JSON form, and the core's error
//! kinds become `Error`s with a stable `code`. Scans that run on the libuv thread pool
//! (`scanAsync`, `Engine.create`) leave the event loop free. No Rust panic reaches Node: each
//! export catches it and throws `SENTINEL_INTERNAL_ERROR`.

mod engine;
mod errors;
mod input;
mod options;
mod pins;
mod session;
mod verdict;
mod work;
