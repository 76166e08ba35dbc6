//! `Engine`: the core's engine as a JavaScript class. Built from `EngineOptions`, scanning
//! events and MCP messages on the calling thread or on the libuv pool.

use crate::errors::{build_error, panic_error, Thrown};
use crate::input::{json_text, Shape};
use crate::options::builder;
use crate::pins::ToolPins;
use crate::verdict::JsVerdict;
use crate::work::{Context, ScanTask, Target, Work};
use mcp_threatscan::{Direction, EngineBuilder};
use napi::bindgen_prelude::*;
use napi::Task;
use napi_derive::napi;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::str::FromStr;

/// What the caller knows of the exchange a message belongs to.
// A TypeScript declaration only (index.d.ts): the value crosses as JSON or is read by key.
#[allow(dead_code)]
#[napi(object, object_to_js = false, object_from_js = false)]
pub struct MessageOptions {
    /// For a response: the method of the request it answers (a response carries none).
    pub method: Option<String>,
    /// For a `tools/call` response: the tool that was called.
    pub tool: Option<String>,
    /// The server the message comes from or goes to: named in the verdict, and the key of
    /// `pins`.
    pub server: Option<String>,
    /// Tool pins to check `tools/list` results against (and record new tools in).
    #[napi(ts_type = "ToolPins")]
    pub pins: Option<String>,
}

/// The message options object, read.
fn message_context(options: Option<Object<'_>>) -> std::result::Result<Context, Thrown> {
    let Some(o) = options else { return Ok(Context::default()) };
    let text = |key: &str| -> std::result::Result<Option<String>, Thrown> {
        o.get::<Option<String>>(key)
            .map(Option::flatten)
            .map_err(|_| Thrown::invalid(&format!("options.{key}"), "a string"))
    };
    let pins = o
        .get::<Option<ClassInstance<'_, ToolPins>>>("pins")
        .map_err(|_| Thrown::invalid("options.pins", "a ToolPins"))?
        .flatten()
        .map(|p| p.inner.clone());
    Ok(Context { method: text("method")?, tool: text("tool")?, server: text("server")?, pins })
}

/// One rule of the catalogue, in the core's JSON form (the rule pack's keys) with what the
/// engine made of it.
// A TypeScript declaration only (index.d.ts): the value crosses as JSON or is read by key.
#[allow(dead_code)]
#[napi(object, object_to_js = false, object_from_js = false)]
pub struct Rule {
    /// The rule's stable code (`PI-001`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// The detector it belongs to (`SEC-01`).
    pub detector: String,
    /// The detector's name.
    #[napi(js_name = "detector_name")]
    pub detector_name: String,
    /// The threat category.
    pub category: String,
    /// The severity after the configuration's floors and caps.
    #[napi(ts_type = "'low' | 'medium' | 'high' | 'critical'")]
    pub severity: String,
    /// What the rule catches.
    pub description: String,
    /// Literal keywords, any of which triggers the rule (with its pattern, if any).
    pub keywords: Option<Vec<String>>,
    /// The rule's regex as written (RE2 syntax).
    pub pattern: Option<String>,
    /// Which fields the rule scans (all when absent).
    pub scope: Option<Vec<String>>,
    /// Texts or events the rule must catch (tested).
    #[napi(ts_type = "Array<string | { tool?: string; prompt?: string; response?: string; metadata?: unknown }>")]
    pub examples: Option<Vec<String>>,
    /// Texts or events the rule must not catch (tested).
    #[napi(
        js_name = "negative_examples",
        ts_type = "Array<string | { tool?: string; prompt?: string; response?: string; metadata?: unknown }>"
    )]
    pub negative_examples: Option<Vec<String>>,
    /// False when its detector is off in this profile or configuration.
    pub enabled: bool,
    /// The pack it comes from (`builtin`, a file, a name).
    pub source: String,
    /// The regex as the engine runs it (flags and rewrites applied), when the rule has one.
    #[napi(js_name = "effective_pattern")]
    pub effective_pattern: Option<String>,
}

/// The Sentinel engine: compiled rules and policy, immutable, shared by every scan.
///
/// Build it once — `new Engine(options)` on this thread, or `await Engine.create(options)` on
/// the libuv pool (the built-in pack of about 320 rules takes about 0.3 s) — and scan with
/// it as often as needed.
#[napi]
pub struct Engine {
    pub(crate) inner: mcp_threatscan::Engine,
}

/// Builds an engine on the libuv pool (`Engine.create`). Holds the builder, or the error of
/// its options, which the promise rejects with.
pub struct BuildTask(Option<std::result::Result<EngineBuilder, Thrown>>);

/// What the pool hands back: the engine or the core's error, the options' error, or a panic.
pub enum Built {
    Core(std::thread::Result<std::result::Result<mcp_threatscan::Engine, mcp_threatscan::BuildError>>),
    Options(Thrown),
}

impl Task for BuildTask {
    type Output = Built;
    type JsValue = Engine;

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(match self.0.take() {
            Some(Ok(builder)) => Built::Core(catch_unwind(AssertUnwindSafe(move || builder.build()))),
            Some(Err(thrown)) => Built::Options(thrown),
            None => Built::Core(catch_unwind(|| mcp_threatscan::Engine::builder().build())),
        })
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Engine> {
        match output {
            Built::Core(output) => built(&env, output),
            Built::Options(thrown) => Err(thrown.into_error(&env)),
        }
    }
}

fn built(
    env: &Env,
    output: std::thread::Result<std::result::Result<mcp_threatscan::Engine, mcp_threatscan::BuildError>>,
) -> Result<Engine> {
    match output {
        Ok(Ok(inner)) => Ok(Engine { inner }),
        Ok(Err(e)) => Err(build_error(&e, None).into_error(env)),
        Err(payload) => Err(panic_error(payload).into_error(env)),
    }
}

/// `"request"` or `"response"`.
pub(crate) fn direction(s: &str) -> std::result::Result<Direction, Thrown> {
    Direction::from_str(s).map_err(|_| Thrown::invalid("direction", "'request' or 'response'"))
}

impl Engine {
    fn message_work(
        &self,
        env: &Env,
        message: Unknown<'_>,
        dir: String,
        options: Option<Object<'_>>,
    ) -> std::result::Result<Work, Thrown> {
        let direction = direction(&dir)?;
        let input = json_text(env, message, "message", Shape::ObjectOrArray)?;
        let context = message_context(options)?;
        Ok(Work { target: Target::Message { engine: self.inner.clone(), direction, context }, input })
    }
}

#[napi]
impl Engine {
    /// Builds an engine on this thread: the built-in rules (unless `builtinRules: false`),
    /// the packs in `rules`, and the policy of the other options.
    ///
    /// Throws `SENTINEL_RULE_ERROR` for a pack that cannot be read or is invalid (with
    /// `ruleId`, `source`, `line`, `position`), `SENTINEL_CONFIG_ERROR` for an unknown option
    /// or an invalid value (with `option`), `SENTINEL_SIZE_LIMIT_ERROR` when the rules exceed
    /// a size limit, and a `TypeError` (`SENTINEL_INVALID_ARGUMENT`) for options of the wrong
    /// type.
    #[napi(constructor, catch_unwind)]
    pub fn new(env: Env, #[napi(ts_arg_type = "EngineOptions")] options: Option<Unknown<'_>>) -> Result<Self> {
        let builder = builder(&env, options).map_err(|t| t.into_error(&env))?;
        built(&env, catch_unwind(AssertUnwindSafe(move || builder.build())))
    }

    /// Builds an engine on the libuv thread pool; the event loop keeps running meanwhile.
    /// Rejects with the errors `new Engine()` throws, but a `TypeError` for options of the
    /// wrong type, thrown at once.
    #[napi(catch_unwind, ts_return_type = "Promise<Engine>")]
    pub fn create(
        env: Env,
        #[napi(ts_arg_type = "EngineOptions")] options: Option<Unknown<'_>>,
    ) -> Result<AsyncTask<BuildTask>> {
        let builder = match builder(&env, options) {
            Err(thrown) if thrown.is_type_error() => return Err(thrown.into_error(&env)),
            other => other,
        };
        Ok(AsyncTask::new(BuildTask(Some(builder))))
    }

    /// Scans one event (shared/seeds/001's form: `timestamp`, `user`, `agent`, `tool`, `prompt`
    /// and `response` required; `metadata` optional; `id`, `server`, `session`, `namespace`,
    /// `cluster`, `human` carried to the verdict): an object, or its JSON text as a string or
    /// `Buffer`.
    ///
    /// An event that cannot be read throws `SENTINEL_EVENT_ERROR` with `field`, `line`,
    /// `column` and `verdict`, the engine's fail-mode verdict (a `SYS-001` finding; blocked
    /// under `fail_closed`). Another argument type throws a `TypeError`.
    #[napi(catch_unwind, ts_return_type = "Verdict")]
    pub fn scan(
        &self,
        env: Env,
        #[napi(ts_arg_type = "Record<string, unknown> | string | Uint8Array")] event: Unknown<'_>,
    ) -> Result<JsVerdict> {
        let input = json_text(&env, event, "event", Shape::Object).map_err(|t| t.into_error(&env))?;
        Work { target: Target::Event(self.inner.clone()), input }.run_here(&env)
    }

    /// `scan`, with the verdict as its JSON text (the core's form, what `sentinel scan --format
    /// ndjson` writes for the event): for a relay that forwards or logs verdicts, and the
    /// cheapest way to get one across (`JSON.parse` of it builds the same object as `scan`
    /// returns, without `blocked`). Throws as `scan` does.
    #[napi(catch_unwind)]
    pub fn scan_json(
        &self,
        env: Env,
        #[napi(ts_arg_type = "Record<string, unknown> | string | Uint8Array")] event: Unknown<'_>,
    ) -> Result<String> {
        let input = json_text(&env, event, "event", Shape::Object).map_err(|t| t.into_error(&env))?;
        Work { target: Target::Event(self.inner.clone()), input }.run_here_json(&env)
    }

    /// `scan` on the libuv thread pool: the event is read on this thread (an object is
    /// serialised here), parsed and scanned on the pool.
    #[napi(catch_unwind, ts_return_type = "Promise<Verdict>")]
    pub fn scan_async(
        &self,
        env: Env,
        #[napi(ts_arg_type = "Record<string, unknown> | string | Uint8Array")] event: Unknown<'_>,
    ) -> Result<AsyncTask<ScanTask>> {
        let input = json_text(&env, event, "event", Shape::Object).map_err(|t| t.into_error(&env))?;
        Ok(AsyncTask::new(ScanTask(Some(Work { target: Target::Event(self.inner.clone()), input }))))
    }

    /// Scans one MCP JSON-RPC message (a request, notification, result or error, or a batch):
    /// an object or array, or its JSON text as a string or `Buffer`. `direction` is `request`
    /// (anything with a `method`) or `response`; `options` says what a response does not carry
    /// (the `method` and `tool` of the request it answers) and the `server` and `pins`.
    ///
    /// Text that is not JSON throws `SENTINEL_EVENT_ERROR` (`line`, `column`, the fail-mode
    /// `verdict`).
    #[napi(catch_unwind, ts_return_type = "Verdict")]
    pub fn scan_message(
        &self,
        env: Env,
        #[napi(ts_arg_type = "Record<string, unknown> | unknown[] | string | Uint8Array")] message: Unknown<'_>,
        #[napi(ts_arg_type = "'request' | 'response'")] direction: String,
        #[napi(ts_arg_type = "MessageOptions")] options: Option<Object<'_>>,
    ) -> Result<JsVerdict> {
        let work = self.message_work(&env, message, direction, options).map_err(|t| t.into_error(&env))?;
        work.run_here(&env)
    }

    /// `scanMessage`, with the verdict as its JSON text (as `scanJson`).
    #[napi(catch_unwind)]
    pub fn scan_message_json(
        &self,
        env: Env,
        #[napi(ts_arg_type = "Record<string, unknown> | unknown[] | string | Uint8Array")] message: Unknown<'_>,
        #[napi(ts_arg_type = "'request' | 'response'")] direction: String,
        #[napi(ts_arg_type = "MessageOptions")] options: Option<Object<'_>>,
    ) -> Result<String> {
        let work = self.message_work(&env, message, direction, options).map_err(|t| t.into_error(&env))?;
        work.run_here_json(&env)
    }

    /// `scanMessage` on the libuv thread pool.
    #[napi(catch_unwind, ts_return_type = "Promise<Verdict>")]
    pub fn scan_message_async(
        &self,
        env: Env,
        #[napi(ts_arg_type = "Record<string, unknown> | unknown[] | string | Uint8Array")] message: Unknown<'_>,
        #[napi(ts_arg_type = "'request' | 'response'")] direction: String,
        #[napi(ts_arg_type = "MessageOptions")] options: Option<Object<'_>>,
    ) -> Result<AsyncTask<ScanTask>> {
        let work = self.message_work(&env, message, direction, options).map_err(|t| t.into_error(&env))?;
        Ok(AsyncTask::new(ScanTask(Some(work))))
    }

    /// The rule catalogue: every rule, enabled or not, in pack order.
    #[napi(catch_unwind, ts_return_type = "Rule[]")]
    pub fn rules<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        let rules: Vec<serde_json::Value> = self.inner.rules().map(rule_json).collect();
        env.to_js_value(&rules)
    }

    /// One rule by its code, or `null`.
    #[napi(catch_unwind, ts_return_type = "Rule | null")]
    pub fn rule<'env>(&self, env: &'env Env, id: String) -> Result<Unknown<'env>> {
        env.to_js_value(&self.inner.rule(&id).map(rule_json))
    }

    /// The configuration the engine was built with, in the core's form (the keys of the
    /// `sentinel --config` file).
    #[napi(getter, catch_unwind, ts_return_type = "Record<string, unknown>")]
    pub fn config<'env>(&self, env: &'env Env) -> Result<Unknown<'env>> {
        env.to_js_value(self.inner.config())
    }
}

/// A rule's JSON: the pack's keys, then what the engine made of it.
fn rule_json(rule: mcp_threatscan::RuleInfo<'_>) -> serde_json::Value {
    let mut value = serde_json::to_value(rule.spec()).unwrap_or(serde_json::Value::Null);
    if let serde_json::Value::Object(map) = &mut value {
        map.insert("detector_name".into(), rule.detector_name().into());
        map.insert("category".into(), rule.category().into());
        map.insert("severity".into(), rule.severity().as_str().into());
        map.insert("enabled".into(), rule.enabled().into());
        map.insert("source".into(), rule.source().into());
        map.insert("effective_pattern".into(), rule.effective_pattern().into());
    }
    value
}
