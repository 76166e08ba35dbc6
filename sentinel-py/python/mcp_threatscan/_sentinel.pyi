"""Type stubs of the native module mcp_threatscan._sentinel (the Rust binding of sentinel-core).

Import from ``mcp_threatscan``, which re-exports everything here.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Literal, Mapping, Optional, Sequence, Tuple, TypedDict, Union, final

__all__ = ["Engine", "Verdict", "Finding", "MessageInfo", "Rule", "ToolPins", "Session", "__version__"]

__version__: str

_JSON = Union[str, bytes, bytearray]
_Event = Union[Mapping[str, Any], _JSON]
_Message = Union[Mapping[str, Any], Sequence[Mapping[str, Any]], _JSON]
_Pack = Union[str, "os.PathLike[str]"]
_Errors = Literal["raise", "verdict"]

class _Detector(TypedDict):
    code: str
    name: str
    category: str
    description: str
    profile: Literal["security", "all"]
    enabled: bool

@final
class Engine:
    """The Sentinel engine: compiled rules and policy, immutable, safe to share between threads.

    Build it once (about 0.3 s for the built-in pack) and scan from any number of threads:
    every scan releases the GIL.
    """

    def __new__(
        cls,
        profile: Optional[Literal["security", "all"]] = None,
        rules: Union[_Pack, Sequence[_Pack], None] = None,
        actions: Optional[Mapping[str, str]] = None,
        *,
        max_scan_bytes: Optional[int] = None,
        max_prompt_chars: Optional[int] = None,
        max_response_chars: Optional[int] = None,
        fail_mode: Optional[Literal["fail_closed", "fail_open"]] = None,
        scan_mimes: Optional[Sequence[str]] = None,
        max_json_depth: Optional[int] = None,
        tools: Optional[Mapping[str, Sequence[str]]] = None,
        detectors: Optional[Mapping[str, Mapping[str, Any]]] = None,
        builtin_rules: bool = True,
    ) -> Engine:
        """Builds an engine. ``None`` means the default: profile ``"security"``, critical and
        high block / medium warns / low allows, ``max_scan_bytes=16777216``,
        ``max_prompt_chars=3000``, ``max_response_chars=5000``, ``fail_mode="fail_closed"``,
        the core's MIME list, ``max_json_depth=3``, the default tool policy.

        ``rules``: a path to a TOML pack, TOML text (a str holding a newline or ``=``), or a
        list of them. ``actions``: severity → action (``{"medium": "block"}``). ``tools``:
        ``{"allow": [...], "deny": [...], "dangerous": [...]}`` (globs). ``detectors``:
        ``{"SEC-01": {"enabled": False, "severity_floor": "high", "severity_cap": "medium"}}``.

        Raises:
            RuleError: a pack cannot be read or is invalid.
            ConfigError: an option value is invalid.
            TypeError: an option has the wrong type.
        """

    def scan(self, event: _Event, *, errors: _Errors = "raise") -> Verdict:
        """Scans one event (a dict, or its JSON text).

        Raises:
            EventError: the event cannot be read (``field``, ``path``, ``line``, ``column``;
                ``verdict`` holds the fail-mode verdict, which ``errors="verdict"`` returns
                instead).
            TypeError: ``event`` is not a dict, str or bytes.
        """

    def scan_many(self, events: Iterable[_Event], *, errors: _Errors = "raise") -> list[Verdict]:
        """Scans a batch in parallel on Rust threads (GIL released); verdicts in input order.

        Raises:
            EventError: with ``errors="raise"``, for the lowest-indexed unreadable event
                (``index`` set); with ``errors="verdict"`` it gets the fail-mode verdict.
            TypeError: ``events`` is a single str/bytes/dict, or an item is not an event.
        """

    def scan_message(
        self,
        message: _Message,
        direction: Literal["request", "response"],
        *,
        method: Optional[str] = None,
        tool: Optional[str] = None,
        server: Optional[str] = None,
        pins: Optional[ToolPins] = None,
        errors: _Errors = "raise",
    ) -> Verdict:
        """Scans one MCP JSON-RPC message (or a batch). For a response, ``method`` is the
        method of the request it answers and ``tool`` the tool of a ``tools/call``.

        Raises:
            EventError: the message text is not JSON, or holds a value JSON cannot.
            TypeError: ``message`` is not a dict, list, str or bytes.
            ValueError: ``direction`` is not ``"request"`` or ``"response"``.
        """

    def rules(self) -> list[Rule]:
        """Every rule of the catalogue, enabled or not, in pack order."""

    def rule(self, id: str) -> Optional[Rule]:
        """One rule by its code, or None."""

    def detectors(self) -> list[_Detector]:
        """Every detector, with whether it is enabled."""

    @property
    def config(self) -> dict[str, Any]:
        """The configuration, in the core's serde form."""

@final
class Verdict:
    """What a scan decided. Compares equal to a verdict with the same JSON form."""

    @property
    def action(self) -> Literal["allow", "warn", "block"]:
        """The strictest action of any finding (``"allow"`` without findings)."""
    @property
    def severity(self) -> Optional[Literal["low", "medium", "high", "critical"]]:
        """The highest severity of any finding, or None."""
    @property
    def blocked(self) -> bool:
        """True when the action is ``"block"``."""
    @property
    def findings(self) -> list[Finding]:
        """The findings in scan order (a new list on each access)."""
    @property
    def id(self) -> Optional[str]:
        """The event's ``id``."""
    @property
    def server(self) -> Optional[str]:
        """The event's ``server`` (or the one given to ``scan_message``)."""
    @property
    def session(self) -> Optional[str]:
        """The event's ``session``."""
    @property
    def namespace(self) -> Optional[str]:
        """The event's ``namespace``."""
    @property
    def cluster(self) -> Optional[str]:
        """The event's ``cluster``."""
    @property
    def human(self) -> Optional[str]:
        """The event's ``human``."""
    @property
    def message(self) -> Optional[MessageInfo]:
        """For ``scan_message``: the message's direction, method, id and tool."""
    def has_rule(self, rule: str) -> bool:
        """True when a finding has this rule code."""
    def to_dict(self) -> dict[str, Any]:
        """The JSON form as Python data."""
    def to_json(self) -> str:
        """The JSON form as compact text."""

@final
class Finding:
    """One reason for a verdict. ``span`` is a byte range of the UTF-8 text at ``path``."""

    @property
    def detector(self) -> str:
        """The detector's code (``"SEC-01"``)."""
    @property
    def detector_name(self) -> str:
        """The detector's name (``"PromptInjection"``)."""
    @property
    def category(self) -> str:
        """The threat category (``"prompt_injection"``)."""
    @property
    def rule(self) -> str:
        """The rule's code (``"PI-001"``)."""
    @property
    def severity(self) -> Literal["low", "medium", "high", "critical"]:
        """The severity after policy."""
    @property
    def original_severity(self) -> Optional[Literal["low", "medium", "high", "critical"]]:
        """The rule's own severity when a floor or cap changed it."""
    @property
    def confidence(self) -> Literal["low", "high"]:
        """``"low"`` for a weak signal or a payload in a file's contents: acts one step below its severity."""
    @property
    def field(self) -> Literal["event", "tool", "prompt", "response", "metadata", "extra"]:
        """The part of the event."""
    @property
    def path(self) -> str:
        """JSON path of the scanned string; empty for event-level findings."""
    @property
    def span(self) -> Tuple[int, int]:
        """``(start, end)`` byte offsets in the UTF-8 text at ``path``."""
    @property
    def reason(self) -> str:
        """One line saying why."""
    def to_dict(self) -> dict[str, Any]:
        """The JSON form as Python data (span as ``{"start", "end"}``)."""
    def to_json(self) -> str:
        """The JSON form as compact text."""

@final
class MessageInfo:
    """The MCP message a verdict of ``scan_message`` is about."""

    @property
    def direction(self) -> Literal["request", "response"]:
        """Request or response."""
    @property
    def method(self) -> Optional[str]:
        """The method (the message's own, or the one the caller named for a response)."""
    @property
    def id(self) -> Union[int, str, None]:
        """The JSON-RPC id, None for a notification."""
    @property
    def tool(self) -> Optional[str]:
        """The tool of a ``tools/call``."""
    def to_dict(self) -> dict[str, Any]:
        """The JSON form as Python data."""

@final
class Rule:
    """One rule of the catalogue: as written in its pack, and what the engine made of it."""

    @property
    def id(self) -> str:
        """The stable code."""
    @property
    def name(self) -> str:
        """The short name."""
    @property
    def detector(self) -> str:
        """The detector's code."""
    @property
    def detector_name(self) -> str:
        """The detector's name."""
    @property
    def category(self) -> str:
        """The category of its findings."""
    @property
    def severity(self) -> Literal["low", "medium", "high", "critical"]:
        """The severity after user-pack overrides."""
    @property
    def enabled(self) -> bool:
        """Whether the rule runs."""
    @property
    def description(self) -> str:
        """What the rule catches and why it matters."""
    @property
    def keywords(self) -> list[str]:
        """Case-insensitive literal keywords."""
    @property
    def pattern(self) -> Optional[str]:
        """The regex as written, or None."""
    @property
    def effective_pattern(self) -> Optional[str]:
        """The regex as compiled (RE2 syntax), or None."""
    @property
    def cues(self) -> list[list[str]]:
        """Cue phrases of a phrase-tier rule: classes that must all occur close together."""
    @property
    def within(self) -> Optional[int]:
        """For a cue rule: how close its classes must occur (bytes of the word view)."""
    @property
    def ordered(self) -> bool:
        """For a cue rule: whether its classes must occur in order."""
    @property
    def case_sensitive(self) -> bool:
        """Whether the pattern is case-sensitive."""
    @property
    def scope(self) -> list[str]:
        """Where the rule applies; empty means everywhere."""
    @property
    def validator(self) -> Optional[str]:
        """The validator run on matches, or None."""
    @property
    def references(self) -> list[str]:
        """Where the attack or format is documented."""
    @property
    def source(self) -> str:
        """The pack the rule came from."""
    def to_dict(self) -> dict[str, Any]:
        """The whole rule as a dict."""

@final
class ToolPins:
    """Tool pinning for ``Engine.scan_message(..., pins=)``: rug pulls and shadowing."""

    def __new__(cls) -> ToolPins:
        """No pins."""
    @staticmethod
    def load(path: Union[str, "os.PathLike[str]"]) -> ToolPins:
        """Pins from a file written by ``save``; raises ``PinsError``."""
    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Writes the pins atomically; raises ``PinsError``."""
    def forget(self, server: str, tool: Optional[str] = None) -> bool:
        """Removes a tool's pin, or every pin of the server."""
    def pinned(self, server: str, tool: str) -> Optional[str]:
        """The pinned SHA-256 of a tool's definition, or None."""
    @property
    def dirty(self) -> bool:
        """True when pins changed since the last load or save."""

@final
class Session:
    """One MCP connection a host or gateway relays: pending requests, the server, its pins."""

    def __new__(cls, engine: Engine, server: str, *, pins: Optional[ToolPins] = None, named: bool = False) -> Session:
        """A session for ``server`` (its name until it reports its own, unless ``named``)."""
    def scan(self, message: _Message, sender: Literal["client", "server"], *, errors: _Errors = "raise") -> Verdict:
        """Scans a message sent by ``sender`` in the context of the exchange."""
    @property
    def server(self) -> str:
        """The server's identity now."""
    def pending(self, sender: Literal["client", "server"]) -> int:
        """How many requests ``sender`` sent that await an answer."""
