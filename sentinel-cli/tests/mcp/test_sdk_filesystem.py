"""The official Python SDK client in front of the reference filesystem server
(`@modelcontextprotocol/server-filesystem`), with and without `sentinel proxy` in between."""

import pytest
from mcp import MCPError

from harness import INJECTION, fs_server, read_ndjson, sdk_session

pytestmark = pytest.mark.anyio

NOTES = "Quarterly planning notes\n- revenue review on Monday\n- hiring plan for the platform team\n"


@pytest.fixture
def root(tmp_path):
    """The directory the filesystem server may touch, with one file in it."""
    root = tmp_path / "files"
    root.mkdir()
    (root / "notes.txt").write_text(NOTES)
    return root.resolve()


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


async def test_initialize_mirrors_the_servers_capabilities(tmp_path, root):
    async with sdk_session(fs_server() + [str(root)], through_proxy=False) as (_, direct):
        pass
    async with sdk_session(fs_server() + [str(root)], pins=tmp_path / "pins.json") as (_, proxied):
        pass
    # Nothing added, nothing removed: the host negotiates with the server, not with the proxy.
    assert dump(proxied) == dump(direct)
    assert dump(proxied.capabilities) == dump(direct.capabilities)


async def test_list_tools_is_the_same_as_without_the_proxy(tmp_path, root):
    async with sdk_session(fs_server() + [str(root)], through_proxy=False) as (session, _):
        direct = await session.list_tools()
    async with sdk_session(fs_server() + [str(root)], pins=tmp_path / "pins.json") as (session, _):
        proxied = await session.list_tools()
    assert "read_text_file" in [tool.name for tool in proxied.tools]
    assert dump(proxied) == dump(direct)


async def test_benign_calls_pass_unchanged(tmp_path, root):
    calls = [
        ("read_text_file", {"path": str(root / "notes.txt")}),
        ("list_directory", {"path": str(root)}),
        ("get_file_info", {"path": str(root / "notes.txt")}),
    ]
    async with sdk_session(fs_server() + [str(root)], through_proxy=False) as (session, _):
        direct = [dump(await session.call_tool(name, args)) for name, args in calls]
    async with sdk_session(fs_server() + [str(root)], pins=tmp_path / "pins.json") as (session, _):
        proxied = [dump(await session.call_tool(name, args)) for name, args in calls]
    assert proxied[0]["content"][0]["text"] == NOTES
    assert proxied == direct


async def test_injection_in_arguments_is_blocked_before_the_server(tmp_path, root):
    target = root / "todo.txt"
    audit = tmp_path / "audit.ndjson"
    async with sdk_session(
        fs_server() + [str(root)], ["--audit", str(audit)], pins=tmp_path / "pins.json"
    ) as (session, _):
        with pytest.raises(MCPError) as blocked:
            await session.call_tool("write_file", {"path": str(target), "content": INJECTION})
        # The proxy is still there for the next call.
        ok = await session.call_tool("read_text_file", {"path": str(root / "notes.txt")})
    assert blocked.value.code == -32051
    assert blocked.value.message.startswith("Blocked by Sentinel: SEC-01 PromptInjection (high)")
    verdict = blocked.value.data["sentinel"]
    assert verdict["action"] == "block"
    assert verdict["message"] == {"direction": "request", "method": "tools/call", "id": verdict["message"]["id"], "tool": "write_file"}
    assert {"PI-001", "params.arguments.content"} <= {v for f in verdict["findings"] for v in (f["rule"], f["path"])}
    assert not target.exists(), "the blocked write reached the filesystem server"
    assert ok.content[0].text == NOTES
    blocked_records = [r for r in read_ndjson(audit) if r["decision"] == "block"]
    assert [(r["method"], r["tool"], r["direction"]) for r in blocked_records] == [("tools/call", "write_file", "request")]


async def test_path_traversal_is_blocked(tmp_path, root):
    async with sdk_session(fs_server() + [str(root)], pins=tmp_path / "pins.json") as (session, _):
        with pytest.raises(MCPError) as blocked:
            await session.call_tool("read_text_file", {"path": f"{root}/../../../../etc/passwd"})
    assert blocked.value.code == -32051
    rules = {f["rule"] for f in blocked.value.data["sentinel"]["findings"]}
    assert "PATH-001" in rules
