"""mcp_threatscan: threat detection for Model Context Protocol traffic, in-process.

What it is for: a Python MCP server, gateway or guardrail decides in microseconds whether a
tool call, tool result, prompt or resource carries an attack (prompt injection, a leaked
secret, a shell payload, personal data flowing out, a dangerous tool). It is the Sentinel
engine (Rust) behind a thin binding: same rules, same verdicts as the ``sentinel`` command.

    >>> from mcp_threatscan import Engine
    >>> engine = Engine()   # built-in rules; build once, share between threads
    >>> verdict = engine.scan({"timestamp": "2024-01-15T14:31:00Z", "user": "bob",
    ...     "agent": "AssistantBot", "tool": "os_shell", "prompt": "Run whoami command",
    ...     "response": "user123"})
    >>> verdict.action, verdict.findings[0].rule
    ('block', 'DT-001')

``Engine.scan`` takes an event (a dict, or JSON text); ``Engine.scan_message`` an MCP
JSON-RPC message; ``Engine.scan_many`` a batch, scanned in parallel; ``Session.scan`` a message
of a relayed connection, knowing the request a response answers. Every scan releases the GIL. Errors are ``SentinelError`` subclasses: ``RuleError``, ``ConfigError``, ``EventError``,
``PinsError``.
"""

from ._errors import ConfigError, EventError, PinsError, Position, RuleError, SentinelError
from ._sentinel import Engine, Finding, MessageInfo, Rule, Session, ToolPins, Verdict, __version__

__all__ = [
    "Engine",
    "Verdict",
    "Finding",
    "MessageInfo",
    "Rule",
    "ToolPins",
    "Session",
    "SentinelError",
    "ConfigError",
    "RuleError",
    "EventError",
    "PinsError",
    "Position",
    "__version__",
]
