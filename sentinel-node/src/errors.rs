//! The binding's errors: JavaScript `Error`s with a stable `code` and the details of the core's
//! error (rule id, source, position, option, event field and position, the fail-mode verdict).

use crate::verdict::JsVerdict;
use mcp_threatscan::{BuildError, ErrorKind, PinError};
use napi::bindgen_prelude::*;
use napi::{JsError, JsTypeError};

/// A rule pack that is not a rule pack, or an invalid rule.
pub(crate) const RULE_ERROR: &str = "SENTINEL_RULE_ERROR";
/// An invalid option value, or a configuration that does not parse.
pub(crate) const CONFIG_ERROR: &str = "SENTINEL_CONFIG_ERROR";
/// The compiled rules exceed a size limit.
pub(crate) const SIZE_LIMIT_ERROR: &str = "SENTINEL_SIZE_LIMIT_ERROR";
/// An event or message that cannot be read (the error carries its fail-mode verdict).
pub(crate) const EVENT_ERROR: &str = "SENTINEL_EVENT_ERROR";
/// A tool pins file that cannot be read or written.
pub(crate) const PINS_ERROR: &str = "SENTINEL_PINS_ERROR";
/// An argument of the wrong type (a `TypeError`).
pub(crate) const INVALID_ARGUMENT: &str = "SENTINEL_INVALID_ARGUMENT";
/// A bug in the engine: a Rust panic, caught at the boundary.
pub(crate) const INTERNAL_ERROR: &str = "SENTINEL_INTERNAL_ERROR";

/// An error ready to be thrown: its code, message and the properties to set on it.
pub struct Thrown {
    code: &'static str,
    message: String,
    type_error: bool,
    props: Vec<(&'static str, Prop)>,
}

/// A property of a thrown error.
pub enum Prop {
    Str(String),
    Num(f64),
    Position { line: usize, column: usize, offset: usize },
    Verdict(Box<mcp_threatscan::Verdict>),
}

impl Thrown {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Thrown {
        Thrown { code, message: message.into(), type_error: false, props: Vec::new() }
    }

    /// A `TypeError` for an argument or option of the wrong type: `what` should be `expected`.
    pub(crate) fn invalid(what: &str, expected: &str) -> Thrown {
        Thrown { type_error: true, ..Thrown::new(INVALID_ARGUMENT, format!("{what} must be {expected}")) }
    }

    /// True for a `TypeError` (an argument of the wrong type).
    pub(crate) fn is_type_error(&self) -> bool {
        self.type_error
    }

    pub(crate) fn with(mut self, name: &'static str, prop: Prop) -> Thrown {
        self.props.push((name, prop));
        self
    }

    pub(crate) fn with_str(self, name: &'static str, value: Option<&str>) -> Thrown {
        match value {
            Some(v) => self.with(name, Prop::Str(v.to_string())),
            None => self,
        }
    }

    pub(crate) fn with_num(self, name: &'static str, value: Option<usize>) -> Thrown {
        match value {
            Some(v) => self.with(name, Prop::Num(v as f64)),
            None => self,
        }
    }

    /// The error as a JavaScript value, for napi to throw or to reject a promise with.
    pub(crate) fn into_error(self, env: &Env) -> Error {
        let fallback = format!("{}: {}", self.code, self.message);
        // When the environment cannot build the object (it is shutting down), napi
        // synthesises a plain Error with the code and message.
        self.build(env).unwrap_or_else(|_| Error::new(Status::GenericFailure, fallback))
    }

    fn build(self, env: &Env) -> Result<Error> {
        let raw = Error::new(self.code, self.message);
        let value = if self.type_error {
            JsTypeError::from(raw).into_unknown(*env)
        } else {
            JsError::from(raw).into_unknown(*env)
        };
        let mut object = Object::from_raw(env.raw(), value.raw());
        for (name, prop) in self.props {
            match prop {
                Prop::Str(s) => object.set(name, s)?,
                Prop::Num(n) => object.set(name, n)?,
                Prop::Position { line, column, offset } => {
                    let mut position = Object::new(env)?;
                    position.set("line", line as f64)?;
                    position.set("column", column as f64)?;
                    position.set("offset", offset as f64)?;
                    object.set(name, position)?;
                }
                Prop::Verdict(verdict) => object.set(name, JsVerdict(*verdict))?,
            }
        }
        Ok(Error::from(value))
    }
}

/// The core's build error: its kind as the code, with the rule id, source, line, position,
/// option and size limit where they apply. `note` is appended to the message.
pub(crate) fn build_error(e: &BuildError, note: Option<&str>) -> Thrown {
    let (code, kind) = match e.kind() {
        ErrorKind::RulePack => (RULE_ERROR, "rule_pack"),
        ErrorKind::Rule => (RULE_ERROR, "rule"),
        ErrorKind::Config => (CONFIG_ERROR, "config"),
        ErrorKind::SizeLimit => (SIZE_LIMIT_ERROR, "size_limit"),
        _ => (CONFIG_ERROR, "config"),
    };
    let message = match note {
        Some(note) => format!("{e} ({note})"),
        None => e.to_string(),
    };
    let mut thrown = Thrown::new(code, message)
        .with("kind", Prop::Str(kind.to_string()))
        .with_str("ruleId", e.rule_id())
        .with_str("source", e.source_name())
        .with_num("line", e.rule_line())
        .with_str("option", e.option())
        .with_num("sizeLimit", e.size_limit());
    if let Some(p) = e.position() {
        thrown = thrown.with("position", Prop::Position { line: p.line, column: p.column, offset: p.offset });
    }
    thrown
}

/// A configuration error raised by the binding itself (an unknown option name).
pub(crate) fn config_error(option: &str, message: String) -> Thrown {
    Thrown::new(CONFIG_ERROR, format!("options.{option}: {message}"))
        .with("kind", Prop::Str("config".into()))
        .with("option", Prop::Str(option.to_string()))
}

pub(crate) fn pins_error(e: &PinError) -> Thrown {
    Thrown::new(PINS_ERROR, e.to_string())
}

/// A panic caught at the boundary.
pub(crate) fn panic_error(payload: Box<dyn std::any::Any + Send>) -> Thrown {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    Thrown::new(INTERNAL_ERROR, format!("internal error in mcp-threatscan (please report it): {what}"))
}
