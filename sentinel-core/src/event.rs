//! The MCP event as the detection specification defines it, and its typed parse errors.

use crate::json::{parse_json, DuplicateKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// One MCP event: who called which tool with what, and what came back.
///
/// `timestamp`, `user`, `agent`, `tool`, `prompt` and `response` are required strings
/// (the detection specification); `metadata` is optional and may hold any JSON. The audit fields of
/// the gateway specification (`id`, `server`, `session`, `namespace`, `cluster`, `human`) are optional
/// and carried through to the verdict. Any other top-level field is kept in
/// [`Event::extra`] and scanned like metadata, so nothing an event carries goes unscanned.
///
/// ```
/// let event = mcp_threatscan::Event::from_json(br#"{"timestamp":"2024-01-15T14:30:00Z",
///   "user":"bob","agent":"AssistantBot","tool":"os_shell",
///   "prompt":"Run whoami command","response":"user123"}"#).unwrap();
/// assert_eq!(event.tool, "os_shell");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When the event happened (kept as given).
    pub timestamp: String,
    /// The user on whose behalf the agent acted.
    pub user: String,
    /// The agent or model client.
    pub agent: String,
    /// The tool that was called.
    pub tool: String,
    /// The request or the serialised tool-call arguments.
    pub prompt: String,
    /// The tool result.
    pub response: String,
    /// Optional free-form JSON; every string leaf is scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Optional audit context carried to the verdict.
    #[serde(flatten)]
    pub context: EventContext,
    /// Top-level fields beyond the known ones; scanned like metadata.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// The values of keys that appeared more than once in the JSON this event was read from
    /// (filled by [`Event::from_json`]; the fields above hold the last value of each key).
    /// Each is scanned at its path as well, and the duplication is reported (`SYS-003`).
    #[serde(skip)]
    pub duplicates: Vec<DuplicateKey>,
}

/// The optional audit fields of an event (the gateway specification), carried through to its verdict.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventContext {
    /// The event's id (a JSON number is kept as its decimal text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The MCP server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The human behind the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub human: Option<String>,
}

impl EventContext {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self.id.is_none()
            && self.server.is_none()
            && self.session.is_none()
            && self.namespace.is_none()
            && self.cluster.is_none()
            && self.human.is_none()
    }

    /// Copies `other` into `self`, reusing `self`'s string buffers.
    pub(crate) fn assign_from(&mut self, other: &EventContext) {
        fn copy(dst: &mut Option<String>, src: &Option<String>) {
            match (dst.as_mut(), src) {
                (Some(d), Some(s)) => {
                    d.clear();
                    d.push_str(s);
                }
                (None, Some(s)) => *dst = Some(s.clone()),
                (_, None) => *dst = None,
            }
        }
        copy(&mut self.id, &other.id);
        copy(&mut self.server, &other.server);
        copy(&mut self.session, &other.session);
        copy(&mut self.namespace, &other.namespace);
        copy(&mut self.cluster, &other.cluster);
        copy(&mut self.human, &other.human);
    }
}

/// The required string fields, in the order they are checked.
pub const REQUIRED_FIELDS: [&str; 6] = ["timestamp", "user", "agent", "tool", "prompt", "response"];
const CONTEXT_FIELDS: [&str; 6] = ["id", "server", "session", "namespace", "cluster", "human"];

impl Event {
    /// The MCP tool named in the metadata (`metadata.tool_name`, as in events logged by a
    /// proxy, where `tool` names the server), when there is one.
    pub fn metadata_tool_name(&self) -> Option<&str> {
        self.metadata.as_ref()?.get("tool_name")?.as_str()
    }

    /// Parses one event from JSON bytes.
    ///
    /// Errors name the field and what was expected; JSON syntax errors carry line and column.
    /// A key that appears more than once keeps its last value in the fields, and every
    /// earlier one in [`Event::duplicates`].
    pub fn from_json(json: &[u8]) -> Result<Event, EventError> {
        if json.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(EventError::new(EventErrorKind::Empty));
        }
        let parsed = parse_json(json).map_err(EventError::from_json_error)?;
        let mut event = Event::from_value(parsed.value)?;
        event.duplicates = parsed.duplicates;
        Ok(event)
    }

    /// Builds an event from an already parsed JSON value.
    pub fn from_value(value: Value) -> Result<Event, EventError> {
        let mut map = match value {
            Value::Object(map) => map,
            other => {
                return Err(EventError::new(EventErrorKind::NotAnObject { found: json_type(&other) }));
            }
        };
        let mut required = |name: &'static str| -> Result<String, EventError> {
            match map.remove(name) {
                Some(Value::String(s)) => Ok(s),
                Some(other) => {
                    Err(EventError::new(EventErrorKind::WrongType { expected: "a string", found: json_type(&other) })
                        .with_field(name))
                }
                None => Err(EventError::new(EventErrorKind::MissingField { expected: "a string" }).with_field(name)),
            }
        };
        let timestamp = required("timestamp")?;
        let user = required("user")?;
        let agent = required("agent")?;
        let tool = required("tool")?;
        let prompt = required("prompt")?;
        let response = required("response")?;
        let metadata = match map.remove("metadata") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        };
        let mut context = EventContext::default();
        for name in CONTEXT_FIELDS {
            let slot = match name {
                "id" => &mut context.id,
                "server" => &mut context.server,
                "session" => &mut context.session,
                "namespace" => &mut context.namespace,
                "cluster" => &mut context.cluster,
                _ => &mut context.human,
            };
            match map.remove(name) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => *slot = Some(s),
                Some(Value::Number(n)) if name == "id" => *slot = Some(n.to_string()),
                Some(other) => {
                    let expected = if name == "id" { "a string or a number" } else { "a string" };
                    return Err(EventError::new(EventErrorKind::WrongType { expected, found: json_type(&other) })
                        .with_field(name));
                }
            }
        }
        Ok(Event {
            timestamp,
            user,
            agent,
            tool,
            prompt,
            response,
            metadata,
            context,
            extra: map,
            duplicates: Vec::new(),
        })
    }
}

/// The JSON type name of a value, for error messages.
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Which part of an event a finding is in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    /// The event as a whole (policy and parse findings).
    #[default]
    Event,
    /// The `tool` name.
    Tool,
    /// The `prompt`.
    Prompt,
    /// The `response`.
    Response,
    /// A string leaf of `metadata`.
    Metadata,
    /// A string leaf of an unknown top-level field.
    Extra,
}

impl Field {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Event => "event",
            Field::Tool => "tool",
            Field::Prompt => "prompt",
            Field::Response => "response",
            Field::Metadata => "metadata",
            Field::Extra => "extra",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event that could not be read: where it is, which field, and what was expected.
///
/// ```
/// let err = mcp_threatscan::Event::from_json(br#"{"timestamp":"t","user":"u","agent":"a",
///     "tool":"x","prompt":42,"response":""}"#).unwrap_err();
/// assert_eq!(err.field(), Some("prompt"));
/// assert_eq!(err.to_string(), "field `prompt`: expected a string, found a number");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventError {
    index: Option<usize>,
    line: Option<usize>,
    column: Option<usize>,
    field: Option<String>,
    kind: EventErrorKind,
}

/// What was wrong with an event.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventErrorKind {
    /// The input held no JSON at all.
    Empty,
    /// The JSON syntax is invalid.
    Syntax {
        /// serde_json's description, without its position suffix.
        message: String,
    },
    /// The value is not a JSON object.
    NotAnObject {
        /// The JSON type found.
        found: &'static str,
    },
    /// A required field is missing.
    MissingField {
        /// What the field should hold.
        expected: &'static str,
    },
    /// A field has the wrong JSON type.
    WrongType {
        /// What the field should hold.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// The input is larger than the reader accepts for one event.
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The input could not be read (an I/O error from the underlying reader).
    Io {
        /// The I/O error's description.
        message: String,
    },
}

impl EventError {
    /// An error of this kind with no position yet.
    pub fn new(kind: EventErrorKind) -> Self {
        EventError { index: None, line: None, column: None, field: None, kind }
    }

    pub(crate) fn from_json_error(e: serde_json::Error) -> Self {
        let line = e.line();
        let column = e.column();
        let mut message = e.to_string();
        // serde_json appends " at line L column C"; we report the position ourselves.
        if let Some(pos) = message.rfind(" at line ") {
            message.truncate(pos);
        }
        let kind = if e.is_eof() && message.contains("EOF while parsing a value") && line <= 1 && column == 0 {
            EventErrorKind::Empty
        } else {
            EventErrorKind::Syntax { message }
        };
        let mut err = EventError::new(kind);
        if line > 0 {
            err.line = Some(line);
            err.column = Some(column);
        }
        err
    }

    /// Sets the field the error is about.
    pub fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_string());
        self
    }

    /// Sets the event's index in its batch (0-based).
    pub fn with_index(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }

    /// Shifts a position relative to one event's text to the position in the whole input,
    /// given where that event's text starts (1-based line and column). Without a position of
    /// its own the error points at the event's start.
    pub fn offset_by(mut self, start_line: usize, start_column: usize) -> Self {
        if self.line == Some(1) {
            self.column = self.column.map(|c| c + start_column.saturating_sub(1));
        }
        self.line = Some(match self.line {
            Some(l) => l + start_line - 1,
            None => {
                self.column.get_or_insert(start_column);
                start_line
            }
        });
        self
    }

    /// The event's index in its batch (0-based), when known.
    pub fn index(&self) -> Option<usize> {
        self.index
    }
    /// The 1-based line, when known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }
    /// The 1-based column, when known.
    pub fn column(&self) -> Option<usize> {
        self.column
    }
    /// The field the error is about, when it is about one.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }
    /// What was wrong.
    pub fn kind(&self) -> &EventErrorKind {
        &self.kind
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut wrote = false;
        if let Some(i) = self.index {
            write!(f, "event {i}")?;
            wrote = true;
        }
        if let Some(l) = self.line {
            let sep = if wrote { ", " } else { "" };
            match self.column {
                Some(c) => write!(f, "{sep}line {l}, column {c}")?,
                None => write!(f, "{sep}line {l}")?,
            }
            wrote = true;
        }
        if wrote {
            f.write_str(": ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        match &self.kind {
            EventErrorKind::Empty => f.write_str("empty input: expected a JSON object, an array of objects or NDJSON"),
            EventErrorKind::Syntax { message } => write!(f, "invalid JSON: {message}"),
            EventErrorKind::NotAnObject { found } => write!(f, "expected an event object, found {found}"),
            EventErrorKind::MissingField { expected } => write!(f, "missing required field (expected {expected})"),
            EventErrorKind::WrongType { expected, found } => write!(f, "expected {expected}, found {found}"),
            EventErrorKind::TooLarge { limit } => write!(f, "event is larger than the {limit}-byte limit"),
            EventErrorKind::Io { message } => write!(f, "cannot read the input: {message}"),
        }
    }
}

impl std::error::Error for EventError {}
