//! The integration tests of sentinel-core, in one binary (`autotests = false`).
#![allow(clippy::unwrap_used, missing_docs)]

#[macro_use]
mod macros;

mod alloc;
mod errors;
mod evasion;
mod hostile;
mod input;
mod mcp;
mod phrases;
mod policy;
mod props;
mod rules;
mod seed;
mod session;
