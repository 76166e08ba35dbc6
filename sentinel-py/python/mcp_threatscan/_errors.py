"""The exceptions of mcp_threatscan: one base class, one subclass per kind of problem.

Every exception the package raises on purpose is a ``SentinelError``. Those about a value
that is wrong (a rule pack, an option, an event) are also ``ValueError``; an argument of the
wrong Python type raises the built-in ``TypeError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Optional

if TYPE_CHECKING:  # pragma: no cover
    from ._sentinel import Verdict

__all__ = ["SentinelError", "ConfigError", "RuleError", "EventError", "PinsError", "Position"]


class Position(NamedTuple):
    """Where an error is: in a rule pack (TOML errors) or in a rule's pattern (regex errors).

    ``line`` and ``column`` are 1-based (the column counts characters); ``offset`` is the
    0-based byte offset.
    """

    line: int
    column: int
    offset: int


class SentinelError(Exception):
    """Base class of every error mcp_threatscan raises.

    Raised as itself only for an internal error of the engine (a bug, reported instead of
    crashing the interpreter).
    """


class ConfigError(SentinelError, ValueError):
    """An ``Engine`` option has an invalid value: an unknown profile, severity, action or
    fail mode, a negative limit, a ``tools`` / ``detectors`` mapping the core rejects.

    Attributes:
        option: the option at fault (``"actions"``), or ``None`` when the core rejected the
            configuration as a whole (an unknown detector code, …).
    """

    def __init__(self, message: str, *, option: Optional[str] = None) -> None:
        super().__init__(message)
        self.option = option


class RuleError(SentinelError, ValueError):
    """A rule pack could not be read or is invalid: TOML syntax, an unknown field or
    detector, a duplicate id, a regex that does not compile or matches the empty string.
    A pack with any error is rejected whole.

    Attributes:
        rule_id: the rule at fault (``"U-1"``), or ``None`` for an error in the pack itself.
        source: the pack: its path, or ``"rules"`` / ``"rules[i]"`` for TOML text.
        line: 1-based line in the pack where the faulty rule (or the TOML error) is.
        position: a `Position` in the pack (TOML errors) or in the rule's pattern (regex
            errors), or ``None``.
        regex_error: true when the rule's regex does not compile.
        size_limit: the size limit in bytes that the compiled rules exceed, or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        rule_id: Optional[str] = None,
        source: Optional[str] = None,
        line: Optional[int] = None,
        position: Optional[Position] = None,
        regex_error: bool = False,
        size_limit: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self.rule_id = rule_id
        self.source = source
        self.line = line
        self.position = position
        self.regex_error = regex_error
        self.size_limit = size_limit


class EventError(SentinelError, ValueError):
    """An event or MCP message could not be read: invalid JSON, not an object, a required
    field missing or of the wrong JSON type, or a Python value JSON cannot hold.

    Attributes:
        index: the event's index in the batch given to ``Engine.scan_many``, else ``None``.
        field: the top-level field at fault (``"prompt"``), or ``None``.
        path: the JSON path of the value at fault (``"prompt"``, ``"metadata.when"``), or
            ``None`` (a syntax error, or the event as a whole).
        line: 1-based line of a JSON syntax error, else ``None``.
        column: 1-based column of a JSON syntax error, else ``None``.
        verdict: the engine's fail-mode verdict for this input (a ``SYS-001`` finding;
            blocked under ``fail_mode="fail_closed"``, allowed under ``"fail_open"``): what
            ``errors="verdict"`` returns instead of raising.
    """

    def __init__(
        self,
        message: str,
        *,
        index: Optional[int] = None,
        field: Optional[str] = None,
        path: Optional[str] = None,
        line: Optional[int] = None,
        column: Optional[int] = None,
        verdict: Optional[Verdict] = None,
    ) -> None:
        super().__init__(message)
        self.index = index
        self.field = field
        self.path = path
        self.line = line
        self.column = column
        self.verdict = verdict


class PinsError(SentinelError):
    """A tool-pins file could not be read, parsed or written.

    Attributes:
        path: the file.
    """

    def __init__(self, message: str, *, path: Optional[str] = None) -> None:
        super().__init__(message)
        self.path = path


