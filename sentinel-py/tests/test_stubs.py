"""The type stubs (`_sentinel.pyi`) describe the installed module exactly (mypy's stubtest), and
the package, the example and the tests type-check against them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _support import REPO


def test_stubs_match_the_module(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "mypy.stubtest", "--mypy-config-file", "/dev/null", "mcp_threatscan"], cwd=str(tmp_path),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_package_example_and_tests_type_check() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir=/dev/null", "--strict", "examples/python"],
        cwd=str(REPO), capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir=/dev/null", "sentinel-py/tests", "sentinel-py/bench"],
        cwd=str(REPO), capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
