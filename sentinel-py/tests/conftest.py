"""Shared fixtures: one engine per session (a build takes about 0.3 s), the repository
paths, and the `sentinel` binary for the round-trip tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mcp_threatscan import Engine

from _support import REPO


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine()


@pytest.fixture(scope="session")
def sentinel_bin() -> Path:
    """The `sentinel` command: $SENTINEL_BIN, else target/debug/sentinel, (re)built by cargo
    first so that it comes from the same sources as the installed binding (a no-op when it
    is up to date)."""
    given = os.environ.get("SENTINEL_BIN")
    if given:
        return Path(given)
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.fail("cargo is not on PATH to build the sentinel command (or set SENTINEL_BIN)")
    subprocess.run([cargo, "build", "--locked", "-q", "-p", "mcp-threatscan-cli"], cwd=REPO, check=True)
    path = REPO / "target" / "debug" / "sentinel"
    assert path.exists(), f"{path} was not built"
    return path
