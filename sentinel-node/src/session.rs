//! `Session`: the core's MCP session, for hosts and gateways that relay a connection.

use crate::engine::Engine;
use crate::errors::Thrown;
use crate::input::{json_text, Shape};
use crate::pins::ToolPins;
use crate::verdict::JsVerdict;
use crate::work::{ScanTask, Target, Work};
use mcp_threatscan::Peer;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::str::FromStr;
use std::sync::Arc;

/// How a session starts.
// A TypeScript declaration only (index.d.ts): the value crosses as JSON or is read by key.
#[allow(dead_code)]
#[napi(object, object_to_js = false, object_from_js = false)]
pub struct SessionOptions {
    /// Tool pins that `tools/list` results are checked against.
    #[napi(ts_type = "ToolPins")]
    pub pins: Option<String>,
    /// Keep `server` as the server's name for good, even when it reports its own.
    pub named: Option<bool>,
}

/// One MCP connection that a host, proxy or gateway relays: the requests each side sent that
/// await an answer, the server's identity and its tool pins.
///
/// A response does not say which request it answers; the session does, so that a
/// `tools/call` result is scanned as the output of the tool that was called and a
/// `tools/list` result is checked against the pins. `server` names the server until it
/// reports its own name in its answer to `initialize` (then the pins kept under `server` move
/// to that name), or for good with `named: true`.
#[napi]
pub struct Session {
    inner: Arc<mcp_threatscan::Session>,
}

fn peer(sender: &str) -> std::result::Result<Peer, Thrown> {
    Peer::from_str(sender).map_err(|_| Thrown::invalid("sender", "'client' or 'server'"))
}

impl Session {
    fn work(&self, env: &Env, message: Unknown<'_>, sender: &str) -> std::result::Result<Work, Thrown> {
        let from = peer(sender)?;
        let input = json_text(env, message, "message", Shape::ObjectOrArray)?;
        Ok(Work { target: Target::Session { session: self.inner.clone(), from }, input })
    }
}

#[napi]
impl Session {
    /// A session relaying one connection to `server` through `engine`.
    #[napi(constructor, catch_unwind)]
    pub fn new(
        env: Env,
        engine: &Engine,
        server: String,
        #[napi(ts_arg_type = "SessionOptions")] options: Option<Object<'_>>,
    ) -> Result<Self> {
        let mut inner = mcp_threatscan::Session::new(engine.inner.clone(), server);
        if let Some(options) = options {
            let pins = options
                .get::<Option<ClassInstance<'_, ToolPins>>>("pins")
                .map_err(|_| Thrown::invalid("options.pins", "a ToolPins").into_error(&env))?
                .flatten();
            if let Some(pins) = pins {
                inner = inner.with_pins(pins.inner.clone());
            }
            let named = options
                .get::<Option<bool>>("named")
                .map_err(|_| Thrown::invalid("options.named", "a boolean").into_error(&env))?
                .flatten();
            if named == Some(true) {
                inner = inner.named();
            }
        }
        Ok(Session { inner: Arc::new(inner) })
    }

    /// Scans one message sent by `sender` as a relay that follows verdicts does: a response
    /// as the answer to its request, a request that is not blocked remembered for its
    /// response, a batch element by element. The message is an object or array, or its JSON
    /// text as a string or `Buffer`.
    ///
    /// Text that is not JSON throws `SENTINEL_EVENT_ERROR` (`line`, `column`, the fail-mode
    /// `verdict`).
    #[napi(catch_unwind, ts_return_type = "Verdict")]
    pub fn scan(
        &self,
        env: Env,
        #[napi(ts_arg_type = "Record<string, unknown> | unknown[] | string | Uint8Array")] message: Unknown<'_>,
        #[napi(ts_arg_type = "'client' | 'server'")] sender: String,
    ) -> Result<JsVerdict> {
        self.work(&env, message, &sender).map_err(|t| t.into_error(&env))?.run_here(&env)
    }

    /// `scan`, with the verdict as its JSON text (as `Engine.scanJson`).
    #[napi(catch_unwind)]
    pub fn scan_json(
        &self,
        env: Env,
        #[napi(ts_arg_type = "Record<string, unknown> | unknown[] | string | Uint8Array")] message: Unknown<'_>,
        #[napi(ts_arg_type = "'client' | 'server'")] sender: String,
    ) -> Result<String> {
        self.work(&env, message, &sender).map_err(|t| t.into_error(&env))?.run_here_json(&env)
    }

    /// `scan` on the libuv thread pool. Messages of one peer are remembered in the order their
    /// scans finish: await each before relaying the next when the order matters.
    #[napi(catch_unwind, ts_return_type = "Promise<Verdict>")]
    pub fn scan_async(
        &self,
        env: Env,
        #[napi(ts_arg_type = "Record<string, unknown> | unknown[] | string | Uint8Array")] message: Unknown<'_>,
        #[napi(ts_arg_type = "'client' | 'server'")] sender: String,
    ) -> Result<AsyncTask<ScanTask>> {
        let work = self.work(&env, message, &sender).map_err(|t| t.into_error(&env))?;
        Ok(AsyncTask::new(ScanTask(Some(work))))
    }

    /// The server's identity now: the name it reported, or the one the session began with.
    #[napi(getter)]
    pub fn server(&self) -> String {
        self.inner.server().to_string()
    }

    /// How many requests `sender` sent that await an answer.
    #[napi(catch_unwind)]
    pub fn pending(&self, env: Env, #[napi(ts_arg_type = "'client' | 'server'")] sender: String) -> Result<u32> {
        let from = peer(&sender).map_err(|t| t.into_error(&env))?;
        Ok(u32::try_from(self.inner.pending(from)).unwrap_or(u32::MAX))
    }
}
