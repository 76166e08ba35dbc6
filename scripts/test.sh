#!/usr/bin/env bash
# Runs every test of the project. This is the README's test command, and what .ci/run runs.
#
# 1. Rust: every workspace crate (this also builds target/debug/sentinel).
# 2. The Node binding (sentinel-node): its npm tools installed (npm ci), the addon built
#    (debug, reusing step 1's compiled core), `node --test` and the TypeScript check of the
#    whole API (tsc --noEmit). The example server's test needs examples/node's packages.
# 3. The C ABI (sentinel-ffi/tests/run.sh): the C suite against sentinel.h, under valgrind and
#    the sanitizers; examples/c (installed with pkg-config) and examples/go (cgo) agreeing with
#    the CLI byte for byte.
# 4. Python-driven tests, in <repo>/.venv (prepared by scripts/python-env.sh, which installs
#    from PyPI and npm only what changed since the last run):
#    - sentinel-cli/tests/mcp: `sentinel proxy` with the official MCP Python SDK, the reference
#      filesystem server and scripted servers. They run target/debug/sentinel, or $SENTINEL_BIN;
#    - sentinel-py/tests, when the Python binding is there.
# The tests themselves never use the network.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Rust: unit, integration, property and doc tests (every workspace crate)"
cargo test --workspace --locked

# The Python and Node suites all run even when one fails, so one run reports everything.
status=0
echo "== Node binding (sentinel-node): npm ci, build, node --test, tsc --noEmit"
if (cd sentinel-node && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build:debug \
    && (cd ../examples/node && npm ci --no-audit --no-fund --loglevel=error) \
    && node --test test/ && npm run --silent typecheck); then :; else status=1; fi

echo "== C ABI (sentinel-ffi): C suite, valgrind, sanitizers, examples/c and examples/go"
sentinel-ffi/tests/run.sh || status=1

echo "== Python test environment (.venv, npm packages)"
./scripts/python-env.sh

if [ -z "${SENTINEL_BIN:-}" ]; then
    SENTINEL_BIN="${CARGO_TARGET_DIR:-target}/debug/sentinel"
    export SENTINEL_BIN="$(cd "$(dirname "$SENTINEL_BIN")" && pwd)/$(basename "$SENTINEL_BIN")"
fi

echo "== sentinel proxy with real MCP software (sentinel-cli/tests/mcp, $SENTINEL_BIN)"
.venv/bin/python -m pytest sentinel-cli/tests/mcp -q || status=1

if [ -f sentinel-py/pyproject.toml ] && [ -d sentinel-py/tests ]; then
    echo "== Python binding (sentinel-py/tests)"
    .venv/bin/python -m pytest sentinel-py/tests -q || status=1
fi
exit "$status"
