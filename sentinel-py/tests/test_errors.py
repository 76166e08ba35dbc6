"""Errors: every failure is a typed exception with the attributes a caller acts on; nothing is
a bare Exception, a PanicException or a crash of the interpreter."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from mcp_threatscan import ConfigError, Engine, EventError, PinsError, Position, RuleError, SentinelError, ToolPins

from _support import event

RULE = """[[rule]]
id = "{id}"
detector = "{detector}"
name = "a user rule"
severity = "{severity}"
description = "for the tests"
{matcher}
"""


def rule(id: str = "U-1", detector: str = "SEC-40", severity: str = "high", matcher: str = 'keywords = ["x"]') -> str:
    return RULE.format(id=id, detector=detector, severity=severity, matcher=matcher)


def test_the_hierarchy() -> None:
    for cls in (RuleError, ConfigError, EventError):
        assert issubclass(cls, SentinelError) and issubclass(cls, ValueError)
    assert issubclass(PinsError, SentinelError)
    assert issubclass(SentinelError, Exception) and SentinelError is not Exception


# --- RuleError ---------------------------------------------------------------------------


def test_invalid_regex_names_rule_and_position() -> None:
    with pytest.raises(RuleError) as caught:
        Engine(rules=rule(matcher='pattern = "union(select"'))
    err = caught.value
    assert err.rule_id == "U-1"
    assert err.source == "rules"
    assert err.line == 1
    assert err.regex_error
    assert err.position == Position(line=1, column=6, offset=5)  # in the pattern
    assert str(err) == ("rules: line 1: rule U-1: invalid regex at pattern offset 5 (line 1, column 6): "
                        "unclosed group")


def test_toml_error_has_a_position_in_the_pack() -> None:
    with pytest.raises(RuleError) as caught:
        Engine(rules=["disable = []\n", "[[rule]\nid = 1\n"])
    err = caught.value
    assert err.rule_id is None and err.source == "rules[1]" and not err.regex_error
    assert err.position is not None and (err.position.line, err.position.column) == (1, 8)


def test_unknown_field_value_in_a_rule_is_located() -> None:
    with pytest.raises(RuleError) as caught:
        Engine(rules=rule(severity="severe"))
    assert caught.value.position is not None and caught.value.position.line == 5
    assert "severe" in str(caught.value)


@pytest.mark.parametrize(
    ("pack", "rule_id", "needle"),
    [
        (rule(id="SQL-001"), "SQL-001", "duplicate rule id"),
        (rule(detector="SEC-99"), "U-1", "unknown detector"),
        (rule(matcher='pattern = "a*"'), "U-1", "empty string"),
    ],
)
def test_rule_problems(pack: str, rule_id: str, needle: str) -> None:
    with pytest.raises(RuleError) as caught:
        Engine(rules=pack)
    assert caught.value.rule_id == rule_id and needle in str(caught.value)
    assert caught.value.line == 1


def test_unreadable_pack_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(RuleError) as caught:
        Engine(rules=missing)
    assert caught.value.source == str(missing) and "cannot read rule pack" in str(caught.value)


# --- ConfigError and TypeError for options -----------------------------------------------


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"profile": "strict"}, "profile"),
        ({"fail_mode": "maybe"}, "fail_mode"),
        ({"actions": {"high": "nuke"}}, "actions"),
        ({"actions": {"severe": "block"}}, "actions"),
        ({"max_scan_bytes": -1}, "max_scan_bytes"),
        ({"max_json_depth": 2**70}, "max_json_depth"),
        ({"tools": {"block": ["x"]}}, "tools"),
        ({"detectors": {"SEC-01": {"severity_floor": "huge"}}}, "detectors"),
        ({"detectors": {"SEC-99": {"enabled": False}}}, None),  # rejected by the core's build
    ],
)
def test_config_errors(options: dict[str, Any], option: str | None) -> None:
    with pytest.raises(ConfigError) as caught:
        Engine(**options)
    assert caught.value.option == option


@pytest.mark.parametrize(
    "options",
    [
        {"actions": "block"},
        {"actions": {"high": 1}},
        {"rules": 3},
        {"rules": [3]},
        {"max_scan_bytes": "1"},
        {"max_scan_bytes": 1.5},
        {"max_prompt_chars": True},
        {"scan_mimes": "text/"},
        {"profile": 1},
        {"tools": ["x"]},
        {"detectors": "SEC-01"},
    ],
)
def test_option_type_errors(options: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        Engine(**options)


# --- EventError: unreadable events ---------------------------------------------------------


def test_missing_and_mistyped_fields(engine: Engine) -> None:
    ev = event()
    del ev["timestamp"]
    with pytest.raises(EventError) as caught:
        engine.scan(ev)
    err = caught.value
    assert (err.field, err.path, err.index, err.line) == ("timestamp", "timestamp", None, None)
    assert str(err) == "field `timestamp`: missing required field (expected a string)"

    with pytest.raises(EventError) as caught:
        engine.scan(json.dumps(event(prompt=42)))
    assert caught.value.field == "prompt" and str(caught.value) == "field `prompt`: expected a string, found a number"


def test_json_syntax_error_has_line_and_column(engine: Engine) -> None:
    with pytest.raises(EventError) as caught:
        engine.scan('{"timestamp": "t",\n"user": }')
    err = caught.value
    assert (err.line, err.column, err.field, err.path) == (2, 9, None, None)
    assert str(err).startswith("line 2, column 9: invalid JSON")


@pytest.mark.parametrize("text", ["", "   ", "[1, 2]", "null", b"\xff\xfe"])
def test_not_an_event(engine: Engine, text: Any) -> None:
    with pytest.raises(EventError):
        engine.scan(text)


def _deep(depth: int) -> list[Any]:
    root: list[Any] = []
    cur = root
    for _ in range(depth):
        nxt: list[Any] = []
        cur.append(nxt)
        cur = nxt
    return root


def _self_list() -> list[Any]:
    items: list[Any] = []
    items.append(items)
    return items


def _self_dict() -> dict[str, Any]:
    d: dict[str, Any] = {}
    d["self"] = d
    return d


@pytest.mark.parametrize(
    ("metadata", "path"),
    [
        ({"x": math.nan}, "metadata.x"),
        ({"x": math.inf}, "metadata.x"),
        ({1: "x"}, "metadata"),
        ({"n": 2**70}, "metadata.n"),
        ({"s": {1, 2}}, "metadata.s"),
        ({"items": ["ok", object()]}, "metadata.items[1]"),
        ({"p": "\ud800"}, "metadata.p"),
    ],
)
def test_values_json_cannot_hold(engine: Engine, metadata: Any, path: str) -> None:
    with pytest.raises(EventError) as caught:
        engine.scan(event(metadata=metadata))
    assert caught.value.field == "metadata" and caught.value.path == path


@pytest.mark.parametrize("metadata", [_deep(10_000), _self_list(), _self_dict()])
def test_deep_and_cyclic_data_is_an_error_not_a_crash(engine: Engine, metadata: Any) -> None:
    with pytest.raises(EventError) as caught:
        engine.scan(event(metadata=metadata))
    assert "nested deeper than 128 levels" in str(caught.value)


def test_deep_json_text_is_an_error_not_a_crash(engine: Engine) -> None:
    text = json.dumps(event())[:-1] + ', "metadata": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(EventError, match="recursion limit"):
        engine.scan(text)


def test_lone_surrogate_in_json_text(engine: Engine) -> None:
    with pytest.raises(EventError, match="not valid Unicode"):
        engine.scan('{"timestamp": "\ud800"}')


def test_big_but_valid_numbers_pass(engine: Engine) -> None:
    assert engine.scan(event(metadata={"a": -(2**63), "b": 2**64 - 1, "c": 1.5, "d": True, "e": None})).action == "allow"


def test_error_carries_the_fail_mode_verdict(engine: Engine) -> None:
    with pytest.raises(EventError) as caught:
        engine.scan("{")
    verdict = caught.value.verdict
    assert verdict is not None and verdict.blocked and verdict.findings[0].rule == "SYS-001"
    assert engine.scan("{", errors="verdict") == verdict
    open_verdict = Engine(fail_mode="fail_open").scan("{", errors="verdict")
    assert open_verdict.action == "allow" and open_verdict.has_rule("SYS-001")


def test_scan_many_raises_for_the_lowest_index(engine: Engine) -> None:
    events: list[Any] = [event(), event(), "{", event(prompt=1)]
    with pytest.raises(EventError) as caught:
        engine.scan_many(events)
    assert caught.value.index == 2 and caught.value.line == 1
    assert str(caught.value).startswith("event 2, line 1")
    events[2] = event(metadata={"x": object()})
    with pytest.raises(EventError) as caught:
        engine.scan_many(events)
    assert (caught.value.index, caught.value.path) == (2, "metadata.x")
    assert str(caught.value).startswith("event 2: at metadata.x")


def test_scan_many_errors_verdict(engine: Engine) -> None:
    verdicts = engine.scan_many([event(), "{", event(prompt=1), event(tool="os_shell")], errors="verdict")
    assert [v.action for v in verdicts] == ["allow", "block", "block", "block"]
    assert [v.findings[0].rule for v in verdicts[1:]] == ["SYS-001", "SYS-001", "DT-001"]


@pytest.mark.parametrize("bad", [3, None, 1.5, [event()], (event(),), object()])
def test_scan_type_errors(engine: Engine, bad: Any) -> None:
    with pytest.raises(TypeError):
        engine.scan(bad)


@pytest.mark.parametrize("bad", ["[]", b"[]", event(), 3])
def test_scan_many_type_errors(engine: Engine, bad: Any) -> None:
    with pytest.raises(TypeError):
        engine.scan_many(bad)


def test_scan_many_bad_item_type(engine: Engine) -> None:
    with pytest.raises(TypeError, match=r"events\[1\]"):
        engine.scan_many([event(), 3])  # type: ignore[list-item]


def test_bad_argument_values(engine: Engine) -> None:
    with pytest.raises(ValueError, match="errors must be"):
        engine.scan(event(), errors="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="direction"):
        engine.scan_message({}, "sideways")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        engine.scan_message(3, "request")  # type: ignore[arg-type]


def test_message_errors(engine: Engine) -> None:
    with pytest.raises(EventError) as caught:
        engine.scan_message('{"jsonrpc": "2.0",', "request", method="tools/call")
    err = caught.value
    assert err.line == 1 and err.column is not None and err.verdict is not None
    assert err.verdict.blocked and err.verdict.message is not None and err.verdict.message.method == "tools/call"
    verdict = engine.scan_message("{", "response", errors="verdict")
    assert verdict.has_rule("SYS-001") and verdict.message is not None
    with pytest.raises(EventError) as caught:
        engine.scan_message({"params": {"when": object()}}, "request")
    assert caught.value.path == "params.when"
    # Valid JSON that is not a message is traffic the core judges, not an error.
    assert engine.scan_message("null", "request").has_rule("SYS-001")


def test_pins_errors(tmp_path: Path) -> None:
    broken = tmp_path / "pins.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(PinsError) as caught:
        ToolPins.load(broken)
    assert caught.value.path == str(broken)
    with pytest.raises(PinsError):
        ToolPins().save(tmp_path / "pins.json" / "inside-a-file")
