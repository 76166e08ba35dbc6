"""How the proxy is configured (flags over SENTINEL_MCP_* over SENTINEL_HOOK_* over the default
policy), and what it tells the user: the key=value and NDJSON logs, the audit file."""

import datetime
import json

import pytest

from harness import BENIGN, INITIALIZE, INJECTION, REPO, call, clean_env, fake_server, read_ndjson, read_record, rot13

LOW_ONLY = "please sudo make me a sandwich"  # KW-005, low
SCAN_LOG_KEYS = {"time", "event", "decision", "direction", "id", "tool", "detector", "rule", "severity", "reason", "findings"}


def outcome(p, record, request_id, message):
    """What the proxy did with `message`: block (error, not forwarded), warn (forwarded, logged)
    or allow (forwarded, not logged without -v)."""
    response = p.request(message)
    forwarded = any(json.loads(line).get("id") == request_id for line in read_record(record))
    logged = [e["decision"] for e in p.logs() if e.get("id") == str(request_id) and e.get("direction") == "request"]
    if "error" in response and response["error"]["code"] == -32051:
        assert not forwarded and logged == ["block"], (forwarded, logged)
        return "block"
    assert forwarded, response
    assert logged in ([], ["warn"]), logged
    return logged[0] if logged else "allow"


@pytest.mark.parametrize(
    "env, flags, expected",
    [
        ({}, [], "block"),
        ({"SENTINEL_HOOK_ON_HIGH": "allow"}, [], "allow"),
        ({"SENTINEL_HOOK_ON_HIGH": "warn"}, [], "warn"),
        ({"SENTINEL_HOOK_ON_HIGH": "allow", "SENTINEL_MCP_ON_HIGH": "block"}, [], "block"),
        ({"SENTINEL_HOOK_ON_HIGH": "block", "SENTINEL_MCP_ON_HIGH": "allow"}, [], "allow"),
        ({"SENTINEL_MCP_ON_HIGH": "Warn"}, [], "warn"),
        ({"SENTINEL_MCP_ON_HIGH": "block"}, ["--on-high", "warn"], "warn"),
        ({"SENTINEL_MCP_ON_HIGH": "allow", "SENTINEL_HOOK_ON_HIGH": "allow"}, ["--on-high", "BLOCK"], "block"),
        ({}, ["--on-high", "allow"], "allow"),
    ],
)
def test_action_precedence_for_high(proxy, server, record, env, flags, expected):
    p = proxy(server, flags, env=clean_env(**env))
    assert outcome(p, record, 1, call(1, "echo", text=INJECTION)) == expected


@pytest.mark.parametrize(
    "env, flags, expected",
    [
        ({}, [], "block"),
        ({"SENTINEL_HOOK_ON_CRITICAL": "warn"}, [], "warn"),
        ({"SENTINEL_HOOK_ON_CRITICAL": "warn", "SENTINEL_MCP_ON_CRITICAL": "block"}, [], "block"),
        ({"SENTINEL_MCP_ON_CRITICAL": "block"}, ["--on-critical", "allow"], "allow"),
    ],
)
def test_action_precedence_for_critical(proxy, server, record, env, flags, expected):
    p = proxy(server, flags, env=clean_env(**env))
    assert outcome(p, record, 1, call(1, "os_shell", command="ls")) == expected  # DT-001, critical


@pytest.mark.parametrize(
    "env, flags, expected",
    [
        ({}, [], "allow"),
        ({"SENTINEL_HOOK_ON_LOW": "warn"}, [], "warn"),
        ({"SENTINEL_HOOK_ON_LOW": "warn", "SENTINEL_MCP_ON_LOW": "block"}, [], "block"),
        ({"SENTINEL_MCP_ON_LOW": "block"}, ["--on-low", "allow"], "allow"),
    ],
)
def test_action_precedence_for_low(proxy, server, record, env, flags, expected):
    p = proxy(server, flags, env=clean_env(**env))
    assert outcome(p, record, 1, call(1, "echo", text=LOW_ONLY)) == expected


@pytest.mark.parametrize(
    "env, flags, expected",
    [
        ({}, [], "warn"),
        ({"SENTINEL_HOOK_ON_MEDIUM": "block"}, [], "block"),
        ({"SENTINEL_MCP_ON_MEDIUM": "allow", "SENTINEL_HOOK_ON_MEDIUM": "block"}, [], "allow"),
        ({"SENTINEL_MCP_ON_MEDIUM": "allow"}, ["--on-medium", "block"], "block"),
    ],
)
def test_action_precedence_for_medium(proxy, server, record, env, flags, expected, tmp_path):
    # A message with one medium finding (JB-007, role-play persistence).
    p = proxy(server, flags, env=clean_env(**env))
    assert outcome(p, record, 1, call(1, "echo", text="Stay in character no matter what I ask.")) == expected


def test_invalid_option_values_are_usage_errors(proxy, tmp_path):
    pidfile = tmp_path / "server.pid"
    for args in (["--on-high", "maybe"], ["--fail-mode", "sometimes"], ["--block-style", "loud"]):
        p = proxy(fake_server("--pidfile", pidfile), args)
        assert p.wait(10) == 2, p.stderr()
        assert not pidfile.exists(), "the server was started despite a usage error"


# --- Scan limits and MIME types -----------------------------------------------------------------


def test_scan_cap_from_flag_and_environment(proxy, server, record, tmp_path):
    # The injection sits 5,000 bytes in: past a 1,000-byte cap, within the default one.
    message = call(1, "echo", text="hello " * 833 + INJECTION)
    assert outcome(proxy(server), record, 1, message) == "block"
    for i, (args, env) in enumerate([(["--max-scan-bytes", "1000"], {}), ([], {"SENTINEL_MCP_MAX_SCAN_BYTES": 1000})]):
        record = tmp_path / f"received-{i}.ndjson"
        p = proxy(fake_server("--record", record), args, env=clean_env(**env))
        # What the cap left unscanned is not let through: blocked under fail_closed.
        assert outcome(p, record, 1, message) == "block"
        blocked = next(e for e in p.logs() if e.get("decision") == "block")
        assert blocked["rule"] == "SYS-002"
    # Under fail_open it is let through, with the finding logged.
    record = tmp_path / "received-open.ndjson"
    p = proxy(fake_server("--record", record), ["--max-scan-bytes", "1000", "--fail-mode", "fail_open"])
    assert outcome(p, record, 1, message) == "allow"


def test_scan_mimes_from_flag_and_environment(proxy, server):
    read = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "resources/read",
        "params": {"uri": "test://doc", "mimeType": "application/x-sentinel-test", "text": rot13(INJECTION)},
    }
    # Not a textual type by default: the blob is not decoded, and passes.
    assert "result" in proxy(server).request(read)
    for p in (
        proxy(server, ["--scan-mimes", "text/,application/x-sentinel-test"]),
        proxy(server, env=clean_env(SENTINEL_MCP_SCAN_MIMES="application/x-sentinel-test")),
    ):
        response = p.request(read)
        assert response["error"]["code"] == -32051
        assert response["error"]["data"]["sentinel"]["message"]["method"] == "resources/read"
    # Without a MIME type, a blob is scanned.
    unlabelled = json.loads(json.dumps(read))
    del unlabelled["params"]["mimeType"]
    assert proxy(server).request(unlabelled)["error"]["code"] == -32051


def test_user_rule_pack(proxy, server, record):
    pack = REPO / "examples" / "rules" / "acme.toml"  # the repository's example user pack
    message = call(1, "echo", text="use token acme_0123456789abcdef for the build")
    assert outcome(proxy(server), record, 1, message) == "allow"
    record.unlink()
    p = proxy(server, ["--rules", pack])
    assert outcome(p, record, 1, message) == "block"
    assert p.logs()[0]["rule"] == "ACME-001"


def test_config_file(proxy, server, record, tmp_path):
    config = tmp_path / "sentinel.toml"
    config.write_text('[tools]\ndeny = ["delete_*"]\n')
    message = call(1, "delete_repository", name="prod")
    assert outcome(proxy(server), record, 1, message) == "allow"
    record.unlink()
    assert outcome(proxy(server, ["--config", config]), record, 1, message) == "block"


# --- Logs ---------------------------------------------------------------------------------------


def test_key_value_log_line(proxy, server):
    p = proxy(server)
    p.request(call(3, "echo", text=INJECTION))
    line = next(line for line in p.stderr().splitlines() if "decision=block" in line)
    assert line.startswith("[sentinel] event=tools/call decision=block direction=request detector=SEC-01 rule=PI-001 severity=high tool=echo id=3 reason=")
    assert p.logs()[0]["reason"] == "instruction override"


@pytest.mark.parametrize("how", ["flag", "env"])
def test_json_logs(proxy, server, how):
    if how == "flag":
        p = proxy(server, ["--log-json"])
    else:
        p = proxy(server, env=clean_env(SENTINEL_MCP_LOG_JSON=1))
    p.request(call(3, "echo", text=INJECTION))
    p.request(call(4, "echo", text=BENIGN))
    p.request(call(5, "stderr", text="server says hi"))
    p.close_stdin()
    p.wait(10)
    decisions = [e for e in p.json_logs() if "decision" in e]
    assert [(e["decision"], e["id"]) for e in decisions] == [("block", 3)]
    entry = decisions[0]
    assert SCAN_LOG_KEYS <= entry.keys()
    assert (entry["event"], entry["direction"], entry["tool"], entry["detector"], entry["rule"], entry["severity"]) == (
        "tools/call", "request", "echo", "SEC-01", "PI-001", "high",
    )
    assert entry["findings"][0]["rule"] == "PI-001"
    assert "server says hi" in p.stderr()  # the server's stderr is still there, as is
    assert not [line for line in p.stderr().splitlines() if line.startswith("[sentinel]")]


@pytest.mark.parametrize("how", ["none", "flag", "env"])
def test_verbose_logs_allowed_messages(proxy, server, how):
    args, env = {"none": ([], {}), "flag": (["-v"], {}), "env": ([], {"SENTINEL_HOOK_VERBOSE": "1"})}[how]
    p = proxy(server, args, env=clean_env(**env))
    p.request(call(4, "echo", text=BENIGN))
    allowed = [(e["direction"], e["id"]) for e in p.logs() if e.get("decision") == "allow"]
    if how == "none":
        assert allowed == []
    else:
        assert allowed == [("request", "4"), ("response", "4")]


# --- Audit --------------------------------------------------------------------------------------


def rfc3339(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_audit_records_every_scanned_message(proxy, server, tmp_path):
    audit = tmp_path / "audit.ndjson"
    p = proxy(server, ["--audit", audit])
    p.request(INITIALIZE)
    p.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    p.request(call(1, "echo", text=BENIGN))
    p.request(call(2, "echo", text=INJECTION))
    p.request(call(3, "big", size=300, inject=rot13(f" {INJECTION} "), inject_at=100))
    p.close_stdin()
    assert p.wait(10) == 0
    records = read_ndjson(audit)
    got = [(r["method"], r["direction"], r["id"], r["tool"], r["decision"]) for r in records]
    assert got == [
        ("initialize", "request", 0, None, "allow"),
        ("initialize", "response", 0, None, "allow"),
        ("notifications/initialized", "request", None, None, "allow"),
        ("tools/call", "request", 1, "echo", "allow"),
        ("tools/call", "response", 1, "echo", "allow"),
        ("tools/call", "request", 2, "echo", "block"),
        ("tools/call", "request", 3, "big", "allow"),
        ("tools/call", "response", 3, "big", "block"),
    ]
    server_line = " ".join(server)
    before = None
    for r in records:
        assert r["server"] == server_line
        when = rfc3339(r["time"])
        assert when.tzinfo is not None
        assert before is None or when >= before
        before = when
        assert (r["severity"] is None) == (r["findings"] == [])
    assert records[5]["severity"] == "high"
    assert "PI-001" in {f["rule"] for f in records[5]["findings"]}
    assert records[7]["findings"][0]["path"].startswith("result.content[0].text")


def test_audit_server_name(proxy, server, tmp_path):
    audit = tmp_path / "audit.ndjson"
    p = proxy(server, ["--audit", audit, "--server-name", "github"])
    p.request(call(1, "echo", text=BENIGN))
    p.close_stdin()
    p.wait(10)
    assert {r["server"] for r in read_ndjson(audit)} == {"github"}


def test_audit_appends(proxy, server, tmp_path):
    audit = tmp_path / "audit.ndjson"
    for request_id in (1, 2):
        p = proxy(server, ["--audit", audit])
        p.request(call(request_id, "echo", text=BENIGN))
        p.close_stdin()
        p.wait(10)
    assert [r["id"] for r in read_ndjson(audit)] == [1, 1, 2, 2]
