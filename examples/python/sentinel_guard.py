"""Guard the tools of an MCP server with Sentinel: copy this file into your server.

What it is for: an ``MCPServer`` (the official ``mcp`` SDK, called FastMCP before 2.0) whose
tools should not run on injected arguments, nor hand back results that carry an attack or a
leaked secret. ``guard(engine)`` wraps a tool function so that

1. its arguments are scanned as the ``tools/call`` request the client sent, before the tool
   runs (a dangerous tool name, SQL / command injection, path traversal, prompt injection in
   an argument, ...);
2. its result is scanned as the ``tools/call`` result the client will read, before it is
   returned (instructions hidden in fetched content, secrets, personal data, ...).

A blocked verdict raises ``ToolError``: the client gets ``isError: true`` and a one-line reason
naming the Sentinel rules, never the tool's output. A ``warn`` verdict is logged and let
through. Usage::

    from mcp.server.mcpserver import MCPServer
    from mcp_threatscan import Engine
    from sentinel_guard import guard

    engine = Engine()                 # once per process; scans release the GIL
    server = MCPServer("my-server")

    @server.tool()                    # outermost: the SDK registers the guarded function
    @guard(engine)
    def read_file(path: str) -> str:
        ...

The wrapper keeps the function's name, signature and annotations (``functools.wraps``), so the
SDK derives the same input schema, still injects a ``Context`` parameter, and still runs a sync
tool on a worker thread.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
from typing import Any, Awaitable, Callable, Optional, TypeVar, cast

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_threatscan import Engine, Verdict

__all__ = ["guard", "SentinelBlocked"]

log = logging.getLogger("sentinel_guard")

F = TypeVar("F", bound=Callable[..., Any])


class SentinelBlocked(ToolError):
    """A tool call or result that Sentinel blocked; carries the verdict."""

    def __init__(self, message: str, verdict: Verdict) -> None:
        super().__init__(message)
        self.verdict = verdict


def _jsonable(value: Any) -> Any:
    """The JSON form of an argument or result, as the SDK would put it on the wire."""
    dump = getattr(value, "model_dump", None)  # pydantic models
    if callable(dump):
        return dump(mode="json")
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


def _result_message(result: Any) -> dict[str, Any]:
    """A ``tools/call`` result message holding what the tool returned: text as text content,
    anything else as structured content (and its JSON text, as the SDK also sends)."""
    if isinstance(result, str):
        body: dict[str, Any] = {"content": [{"type": "text", "text": result}]}
    else:
        data = _jsonable(result)
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        body = {"content": [{"type": "text", "text": text}]}
        if isinstance(data, dict):
            body["structuredContent"] = data
    return {"jsonrpc": "2.0", "id": 0, "result": body}


def _reason(verdict: Verdict) -> str:
    """One line for the client: which rules fired where (reasons name the rule, not the
    matched text)."""
    parts = [f"{f.rule} {f.category} at {f.path or 'the call'}: {f.reason}" for f in verdict.findings[:5]]
    more = len(verdict.findings) - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def guard(engine: Engine, *, server: Optional[str] = None, name: Optional[str] = None) -> Callable[[F], F]:
    """Decorates a tool function so that Sentinel scans its arguments and its result.

    Args:
        engine: the engine to scan with (build it once and share it).
        server: the server name to put in verdicts and logs.
        name: the tool name as clients call it, when it is not the function's name.
    """

    def decorate(fn: F) -> F:
        tool = name or fn.__name__
        signature = inspect.signature(fn)

        def check_call(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            bound = signature.bind_partial(*args, **kwargs).arguments
            # The SDK injects a Context parameter: it is not an argument of the call.
            arguments = {k: _jsonable(v) for k, v in bound.items() if not isinstance(v, Context)}
            request = {"jsonrpc": "2.0", "id": 0, "method": "tools/call",
                       "params": {"name": tool, "arguments": arguments}}
            verdict = engine.scan_message(request, "request", server=server)
            decide(verdict, "call")

        def check_result(result: Any) -> Any:
            verdict = engine.scan_message(_result_message(result), "response",
                                          method="tools/call", tool=tool, server=server)
            decide(verdict, "result")
            return result

        def decide(verdict: Verdict, what: str) -> None:
            if verdict.blocked:
                log.warning("sentinel blocked the %s of %s: %s", what, tool, verdict.to_json())
                if what == "call":
                    raise SentinelBlocked(f"Blocked by Sentinel: {_reason(verdict)}", verdict)
                raise SentinelBlocked(f"Result withheld by Sentinel: {_reason(verdict)}", verdict)
            if verdict.action == "warn":
                log.warning("sentinel warns on the %s of %s: %s", what, tool, verdict.to_json())

        if inspect.iscoroutinefunction(fn):
            async_fn = cast(Callable[..., Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                check_call(args, kwargs)
                return check_result(await async_fn(*args, **kwargs))

            return cast(F, guarded_async)

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            check_call(args, kwargs)
            return check_result(fn(*args, **kwargs))

        return cast(F, guarded)

    return decorate
