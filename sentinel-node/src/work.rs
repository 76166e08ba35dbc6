//! One scan, run on the calling thread (`scan`) or on the libuv pool (`scanAsync`): JSON text
//! in, a verdict or an unreadable-input error (with its fail-mode verdict) out.

use crate::errors::{panic_error, Prop, Thrown, EVENT_ERROR};
use crate::input::Json;
use crate::verdict::JsVerdict;
use mcp_threatscan::{Direction, Engine, Event, MessageContext, Peer, Session, ToolPins, Verdict as CoreVerdict};
use napi::bindgen_prelude::*;
use napi::Task;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// What is scanned, and how.
pub(crate) enum Target {
    /// An event (shared/seeds/001's form).
    Event(Engine),
    /// An MCP message, with what the caller knows of the exchange.
    Message { engine: Engine, direction: Direction, context: Context },
    /// A message a session relays, from one peer.
    Session { session: Arc<Session>, from: Peer },
}

/// `MessageContext`, owned (it crosses to the thread pool).
#[derive(Default)]
pub(crate) struct Context {
    pub(crate) method: Option<String>,
    pub(crate) tool: Option<String>,
    pub(crate) server: Option<String>,
    pub(crate) pins: Option<Arc<ToolPins>>,
}

/// An unreadable event or message: what is wrong, where, and its fail-mode verdict.
pub struct Unreadable {
    message: String,
    field: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    verdict: Box<CoreVerdict>,
}

impl Unreadable {
    pub(crate) fn thrown(self) -> Thrown {
        Thrown::new(EVENT_ERROR, self.message)
            .with_str("field", self.field.as_deref())
            .with_num("line", self.line)
            .with_num("column", self.column)
            .with("verdict", Prop::Verdict(self.verdict))
    }
}

/// A scan's outcome.
pub(crate) type Outcome = std::result::Result<CoreVerdict, Unreadable>;

/// One scan to run.
pub(crate) struct Work {
    pub(crate) target: Target,
    pub(crate) input: Json,
}

impl Work {
    /// Parses and scans. Never panics out: a panic is caught by the callers.
    pub(crate) fn run(self) -> Outcome {
        match self.target {
            Target::Event(engine) => match self.input {
                Json::Text(bytes) => match Event::from_json(&bytes) {
                    Ok(event) => Ok(engine.scan(&event)),
                    Err(e) => Err(Unreadable {
                        message: e.to_string(),
                        field: e.field().map(str::to_string),
                        line: e.line(),
                        column: e.column(),
                        verdict: Box::new(engine.error_verdict(&e)),
                    }),
                },
                Json::Unserialisable(reason) => Err(Unreadable {
                    verdict: Box::new(engine.failure_verdict(format_args!("{reason}"))),
                    message: reason,
                    field: None,
                    line: None,
                    column: None,
                }),
            },
            Target::Message { engine, direction, context } => {
                let ctx = MessageContext {
                    method: context.method.as_deref(),
                    tool: context.tool.as_deref(),
                    server: context.server.as_deref(),
                    pins: context.pins.as_deref(),
                    ..MessageContext::default()
                };
                match parse(self.input) {
                    Ok(parsed) => {
                        let ctx = MessageContext { duplicates: &parsed.duplicates, ..ctx };
                        Ok(engine.scan_message_in(&parsed.value, direction, &ctx))
                    }
                    Err(bad) => {
                        let verdict = engine.message_failure_verdict(format_args!("{}", bad.0), direction, ctx.method);
                        Err(bad.unreadable(verdict))
                    }
                }
            }
            Target::Session { session, from } => match parse(self.input) {
                Ok(parsed) => Ok(session.scan_parsed(from, &parsed.value, &parsed.duplicates)),
                Err(bad) => {
                    let verdict =
                        session.engine().message_failure_verdict(format_args!("{}", bad.0), Direction::Request, None);
                    Err(bad.unreadable(verdict))
                }
            },
        }
    }

    /// Runs on the calling thread; the verdict, or the error to throw.
    pub(crate) fn run_here(self, env: &Env) -> Result<JsVerdict> {
        settle(env, catch_unwind(AssertUnwindSafe(|| self.run())))
    }

    /// Runs on the calling thread; the verdict's JSON text, or the error to throw.
    pub(crate) fn run_here_json(self, env: &Env) -> Result<String> {
        let verdict = settle(env, catch_unwind(AssertUnwindSafe(|| self.run())))?;
        serde_json::to_string(&verdict.0).map_err(|e| panic_error(Box::new(e.to_string())).into_error(env))
    }
}

/// Message text that does not parse: why, and where.
struct BadMessage(String, Option<usize>, Option<usize>);

impl BadMessage {
    fn unreadable(self, verdict: CoreVerdict) -> Unreadable {
        Unreadable { message: self.0, field: None, line: self.1, column: self.2, verdict: Box::new(verdict) }
    }
}

fn parse(input: Json) -> std::result::Result<mcp_threatscan::ParsedJson, BadMessage> {
    match input {
        Json::Text(bytes) => mcp_threatscan::parse_json(&bytes).map_err(|e| {
            let (line, column) = (e.line(), e.column());
            let located = line > 0;
            BadMessage(
                format!("the message is not valid JSON: {e}"),
                located.then_some(line),
                located.then_some(column),
            )
        }),
        Json::Unserialisable(reason) => Err(BadMessage(reason, None, None)),
    }
}

/// The verdict of a scan that ran, or the error to throw or reject with.
fn settle(env: &Env, ran: std::thread::Result<Outcome>) -> Result<JsVerdict> {
    match ran {
        Ok(Ok(verdict)) => Ok(JsVerdict(verdict)),
        Ok(Err(unreadable)) => Err(unreadable.thrown().into_error(env)),
        Err(payload) => Err(panic_error(payload).into_error(env)),
    }
}

/// A scan on the libuv thread pool (`scanAsync` and the like).
pub struct ScanTask(pub(crate) Option<Work>);

impl Task for ScanTask {
    type Output = std::thread::Result<Outcome>;
    type JsValue = JsVerdict;

    fn compute(&mut self) -> Result<Self::Output> {
        let work = self.0.take();
        Ok(catch_unwind(AssertUnwindSafe(move || match work {
            Some(work) => work.run(),
            None => unreachable!("a scan task runs once"),
        })))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<JsVerdict> {
        settle(&env, output)
    }
}
