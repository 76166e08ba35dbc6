//! The MCP message a verdict is about, and what a caller knows of it: which half of an
//! exchange it is, the method a response answers, the tool, the server and its pins.

use crate::json::DuplicateKey;
use crate::pins::ToolPins;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// Which half of a JSON-RPC exchange a message is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// A request or a notification (it has a `method`), from the client or from the server.
    #[default]
    Request,
    /// A result or an error answering a request.
    Response,
}

impl Direction {
    /// `request` or `response`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Request => "request",
            Direction::Response => "response",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Direction {
    type Err = crate::ParseEnumError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "request" => Ok(Direction::Request),
            "response" => Ok(Direction::Response),
            _ => Err(crate::ParseEnumError::new("direction", s, "request, response")),
        }
    }
}

/// What the caller knows about a message that the message may not say itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct MessageContext<'a> {
    /// For a response: the method of the request it answers (a response carries none). Read
    /// from the message for a request.
    pub method: Option<&'a str>,
    /// For a `tools/call` response: the tool that was called. Read from `params.name` for a
    /// request.
    pub tool: Option<&'a str>,
    /// The server the message comes from or goes to: named in the verdict, and the key of
    /// [`ToolPins`].
    pub server: Option<&'a str>,
    /// Tool pins to check `tools/list` results against (and record new tools in).
    pub pins: Option<&'a ToolPins>,
    /// The values duplicated keys shadowed when the message was parsed ([`crate::parse_json`]):
    /// each is scanned at its path and reported (`SYS-003`). [`Engine::scan_message_json`](crate::Engine::scan_message_json)
    /// fills this itself.
    pub duplicates: &'a [DuplicateKey],
}

/// The MCP message a verdict is about.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageInfo {
    /// Request or response.
    pub direction: Direction,
    /// The method: the message's own, or for a response the caller's
    /// [`MessageContext::method`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The JSON-RPC id, as in the message (`None` for a notification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
    /// The tool of a `tools/call`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
}
