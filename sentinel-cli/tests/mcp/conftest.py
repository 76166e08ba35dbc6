"""Fixtures of the proxy tests (see harness.py for the helpers)."""

import pytest

from harness import Proxy, fake_server, sentinel_bin


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def _sentinel_built():
    try:
        sentinel_bin()
    except RuntimeError as e:
        pytest.exit(str(e), returncode=2)


@pytest.fixture
def proxy(tmp_path):
    """A factory of raw-driven proxies (see harness.Proxy); every one is stopped at teardown."""
    started = []

    def start(server, args=(), **kwargs):
        p = Proxy(tmp_path, server, args, name=f"proxy{len(started)}", **kwargs)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


@pytest.fixture
def record(tmp_path):
    """Where the fake server writes every line it received."""
    return tmp_path / "server-received.ndjson"


@pytest.fixture
def server(record):
    """The fake MCP server's command line, recording what it received in `record`."""
    return fake_server("--record", record)
