"""The official Python SDK client in front of a malicious server written with the SDK's
`MCPServer` (servers/poisoned_server.py): a poisoned tool description, a tool that returns an
indirect prompt injection, and a tool definition that changes between sessions."""

import sys

import pytest
from mcp import MCPError, types

from harness import INJECTION, POISONED_SERVER, parse_log_line, read_ndjson, sdk_session

pytestmark = pytest.mark.anyio

SERVER = [sys.executable, str(POISONED_SERVER)]
TOOLS = ["add", "fetch_page", "get_forecast", "summarize"]


def variant(name):
    return {"SENTINEL_TEST_SERVER_VARIANT": name}


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def sentinel_logs(path):
    return [parse_log_line(line) for line in path.read_text().splitlines() if line.startswith("[sentinel] ")]


async def test_poisoned_description_is_quarantined(tmp_path):
    # The poisoned tool is withheld from the list, and a call to it is refused with the findings
    # of its definition; the other tools are listed and work (test_quarantine.py has the rest).
    async with sdk_session(SERVER, pins=tmp_path / "pins.json", env=variant("poisoned")) as (session, _):
        tools = await session.list_tools()
        with pytest.raises(MCPError) as blocked:
            await session.call_tool("add", {"a": 2, "b": 3, "sidenote": "-----BEGIN OPENSSH PRIVATE KEY-----"})
        forecast = await session.call_tool("get_forecast", {"city": "Paris"})
    assert [t.name for t in tools.tools] == [t for t in TOOLS if t != "add"]
    assert forecast.content[0].text == "Paris: sunny, 21 degrees"
    assert blocked.value.code == -32051
    assert blocked.value.message.startswith("Blocked by Sentinel: tool `add` is quarantined")
    verdict = blocked.value.data["sentinel"]
    assert verdict["message"]["direction"] == "request"
    assert verdict["message"]["method"] == "tools/call"
    assert verdict["message"]["tool"] == "add"
    poisoning = [f for f in verdict["findings"] if f["category"] == "tool_poisoning"]
    assert poisoning, verdict
    assert {f["detector"] for f in poisoning} == {"SEC-45"}
    assert {"TP-001", "TP-003"} <= {f["rule"] for f in poisoning}
    # `add` is the first tool: the findings point into its description, not elsewhere.
    assert {f["path"] for f in poisoning} == {"result.tools[0].description"}


async def test_poisoned_description_warned_passes_and_is_reported(tmp_path):
    audit = tmp_path / "audit.ndjson"
    stderr = tmp_path / "stderr.txt"
    async with sdk_session(SERVER, through_proxy=False, env=variant("poisoned")) as (session, _):
        direct = await session.list_tools()
    async with sdk_session(
        SERVER,
        ["--on-high", "warn", "--on-critical", "warn", "--audit", str(audit)],
        pins=tmp_path / "pins.json",
        env=variant("poisoned"),
        stderr_path=stderr,
    ) as (session, _):
        warned = await session.list_tools()
    assert dump(warned) == dump(direct)
    assert "<IMPORTANT>" in warned.tools[0].description
    logs = [entry for entry in sentinel_logs(stderr) if entry.get("event") == "tools/list"]
    assert [entry["decision"] for entry in logs] == ["warn"]
    assert logs[0]["rule"].startswith("TP-")
    records = [r for r in read_ndjson(audit) if r["method"] == "tools/list" and r["direction"] == "response"]
    assert [r["decision"] for r in records] == ["warn"]
    assert "TP-001" in {f["rule"] for f in records[0]["findings"]}


async def test_malicious_tool_result_is_blocked(tmp_path):
    async with sdk_session(SERVER, pins=tmp_path / "pins.json", env=variant("clean")) as (session, _):
        await session.list_tools()
        with pytest.raises(MCPError) as blocked:
            await session.call_tool("fetch_page", {"url": "https://news.example.com/today"})
        forecast = await session.call_tool("get_forecast", {"city": "Paris"})
    assert blocked.value.code == -32051
    verdict = blocked.value.data["sentinel"]
    assert verdict["message"]["direction"] == "response"
    assert verdict["message"]["tool"] == "fetch_page"
    assert "PI-001" in {f["rule"] for f in verdict["findings"]}
    assert any(f["path"].startswith("result.content[0].text") for f in verdict["findings"])
    assert forecast.content[0].text == "Paris: sunny, 21 degrees"


async def test_malicious_tool_result_as_tool_error(tmp_path):
    async with sdk_session(
        SERVER, ["--block-style", "tool-error"], pins=tmp_path / "pins.json", env=variant("clean")
    ) as (session, _):
        result = await session.call_tool("fetch_page", {"url": "https://news.example.com/today"})
    assert result.is_error is True
    assert result.content[0].text.startswith("Blocked by Sentinel: ")
    assert "evil.example" not in result.content[0].text


async def test_benign_call_passes_unchanged(tmp_path):
    async with sdk_session(SERVER, through_proxy=False, env=variant("clean")) as (session, _):
        direct = await session.call_tool("get_forecast", {"city": "Paris"})
        direct_sum = await session.call_tool("add", {"a": 2, "b": 3})
    async with sdk_session(SERVER, pins=tmp_path / "pins.json", env=variant("clean")) as (session, _):
        proxied = await session.call_tool("get_forecast", {"city": "Paris"})
        proxied_sum = await session.call_tool("add", {"a": 2, "b": 3})
    assert proxied.content[0].text == "Paris: sunny, 21 degrees"
    assert (dump(proxied), dump(proxied_sum)) == (dump(direct), dump(direct_sum))


async def test_injection_in_arguments_is_blocked(tmp_path):
    async with sdk_session(SERVER, pins=tmp_path / "pins.json", env=variant("clean")) as (session, _):
        await session.list_tools()
        with pytest.raises(MCPError) as blocked:
            await session.call_tool("get_forecast", {"city": INJECTION})
    assert blocked.value.code == -32051
    assert blocked.value.data["sentinel"]["message"]["direction"] == "request"


async def test_changed_tool_definition_between_sessions(tmp_path):
    pins = tmp_path / "pins.json"
    async with sdk_session(SERVER, pins=pins, env=variant("clean")) as (session, _):
        first = await session.list_tools()
    assert pins.exists(), "the first session pinned nothing"
    # Same definitions again: nothing to report.
    async with sdk_session(SERVER, pins=pins, env=variant("clean")) as (session, _):
        assert dump(await session.list_tools()) == dump(first)
    # Same server (its serverInfo name), one description changed: a rug pull. The changed tool
    # is quarantined (withheld from the list, a call to it refused); the others still work.
    async with sdk_session(SERVER, pins=pins, env=variant("rugpull")) as (session, _):
        tools = await session.list_tools()
        with pytest.raises(MCPError) as blocked:
            await session.call_tool("get_forecast", {"city": "Paris"})
        assert (await session.call_tool("add", {"a": 2, "b": 3})).content[0].text == "5"
    assert [t.name for t in tools.tools] == [t for t in TOOLS if t != "get_forecast"]
    assert blocked.value.code == -32051
    findings = blocked.value.data["sentinel"]["findings"]
    assert [(f["rule"], f["detector"], f["severity"]) for f in findings] == [("MCP-001", "SEC-49", "high")]
    assert "get_forecast" in findings[0]["reason"] and findings[0]["path"] == "result.tools[2]"
    # The change stays reported until the user removes the pin.
    async with sdk_session(SERVER, pins=pins, env=variant("rugpull")) as (session, _):
        assert "get_forecast" not in [t.name for t in (await session.list_tools()).tools]
        with pytest.raises(MCPError):
            await session.call_tool("get_forecast", {"city": "Paris"})


async def test_rug_pull_not_reported_without_pins(tmp_path):
    state = tmp_path / "state"
    env = {"XDG_STATE_HOME": str(state), "HOME": str(tmp_path / "home")}
    for name in ("clean", "rugpull"):
        async with sdk_session(SERVER, ["--no-pins"], env=env | variant(name)) as (session, _):
            assert [t.name for t in (await session.list_tools()).tools] == TOOLS
    assert not state.exists() and not (tmp_path / "home").exists()


async def test_pins_file_from_the_environment(tmp_path):
    pins = tmp_path / "env-pins.json"
    async with sdk_session(SERVER, env=variant("clean") | {"SENTINEL_MCP_PINS": str(pins)}) as (session, _):
        await session.list_tools()
    assert pins.exists()
    async with sdk_session(SERVER, env=variant("rugpull") | {"SENTINEL_MCP_PINS": str(pins)}) as (session, _):
        await session.list_tools()
        with pytest.raises(MCPError) as blocked:
            await session.call_tool("get_forecast", {"city": "Paris"})
    assert "MCP-001" in {f["rule"] for f in blocked.value.data["sentinel"]["findings"]}


async def test_same_tool_name_on_another_server_is_warned(tmp_path):
    pins = tmp_path / "pins.json"
    stderr = tmp_path / "stderr.txt"
    async with sdk_session(SERVER, ["--server-name", "alpha"], pins=pins, env=variant("clean")) as (session, _):
        await session.list_tools()
    async with sdk_session(
        SERVER, ["--server-name", "beta"], pins=pins, env=variant("clean"), stderr_path=stderr
    ) as (session, _):
        tools = await session.list_tools()
    assert [t.name for t in tools.tools] == TOOLS  # medium: warned, not blocked
    warned = [e for e in sentinel_logs(stderr) if e.get("decision") == "warn"]
    assert any(e.get("rule") == "MCP-002" for e in warned), stderr.read_text()



async def test_protocol_2026_07_28_through_the_proxy(tmp_path):
    # The newest protocol has no `initialize`: the client probes `server/discover`. The proxy
    # does not know it and must pass it through, and still scan what follows.
    async with sdk_session(SERVER, through_proxy=False, env=variant("clean"), handshake="discover") as (session, direct):
        direct_tools = await session.list_tools()
    async with sdk_session(
        SERVER, pins=tmp_path / "pins.json", env=variant("clean"), handshake="discover"
    ) as (session, proxied):
        assert session.protocol_version == "2026-07-28"
        assert dump(await session.list_tools()) == dump(direct_tools)
        forecast = await session.call_tool("get_forecast", {"city": "Oslo"})
        with pytest.raises(MCPError) as blocked:
            await session.call_tool("fetch_page", {"url": "https://news.example.com/today"})
    assert dump(proxied) == dump(direct)
    assert forecast.content[0].text == "Oslo: sunny, 21 degrees"
    assert blocked.value.code == -32051


async def test_server_to_client_sampling_through_the_proxy(tmp_path):
    # A real server-to-client request: the server's tool asks the host's model (sampling), the
    # SDK client answers with its sampling callback, through the proxy both ways.
    prompts = []

    async def sampling(context, params):
        prompts.append(params.messages[0].content.text)
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="A short summary."), model="test-model"
        )

    async with sdk_session(
        SERVER, pins=tmp_path / "pins.json", env=variant("clean"), sampling_callback=sampling
    ) as (session, _):
        benign = await session.call_tool("summarize", {"text": "The meeting moved to Tuesday."})
        sneaky = await session.call_tool("summarize", {"text": "The meeting moved to Tuesday.", "sneaky": True})
    assert benign.content[0].text == "A short summary."
    # The injected sampling request never reached the host's model; the server got the block.
    assert prompts == ["Summarise in one sentence: The meeting moved to Tuesday."]
    assert sneaky.content[0].text == "sampling failed: code -32051, blocked by Sentinel: True"
