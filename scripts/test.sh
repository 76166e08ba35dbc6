#!/usr/bin/env bash
# Runs every test of the project. This is the README's test command, and what .ci/run runs.
#
# 1. Rust: every workspace crate (this also builds target/debug/sentinel).
# 2. Python-driven tests, in <repo>/.venv (prepared by scripts/python-env.sh, which installs
#    from PyPI and npm only what changed since the last run):
#    - sentinel-cli/tests/mcp: `sentinel proxy` with the official MCP Python SDK, the reference
#      filesystem server and scripted servers. They run target/debug/sentinel, or $SENTINEL_BIN;
#    - sentinel-py/tests, when the Python binding is there.
# The tests themselves never use the network.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Rust: unit, integration, property and doc tests (every workspace crate)"
cargo test --workspace --locked

echo "== Python test environment (.venv, npm packages)"
./scripts/python-env.sh

if [ -z "${SENTINEL_BIN:-}" ]; then
    SENTINEL_BIN="${CARGO_TARGET_DIR:-target}/debug/sentinel"
    export SENTINEL_BIN="$(cd "$(dirname "$SENTINEL_BIN")" && pwd)/$(basename "$SENTINEL_BIN")"
fi

# Both Python suites run even when the first fails, so one run reports everything.
status=0
echo "== sentinel proxy with real MCP software (sentinel-cli/tests/mcp, $SENTINEL_BIN)"
.venv/bin/python -m pytest sentinel-cli/tests/mcp -q || status=1

if [ -f sentinel-py/pyproject.toml ] && [ -d sentinel-py/tests ]; then
    echo "== Python binding (sentinel-py/tests)"
    .venv/bin/python -m pytest sentinel-py/tests -q || status=1
fi
exit "$status"
