#!/usr/bin/env bash
# Prepares what the Python-driven tests need, and nothing when it is already there:
#
# - <repo>/.venv with sentinel-cli/tests/mcp/requirements.txt (the official `mcp` SDK, pytest)
#   and, when sentinel-py exists, its test requirements and the `mcp-threatscan` package built
#   from ./sentinel-py;
# - sentinel-cli/tests/mcp/node_modules from its package-lock.json (`npm ci`): the reference
#   MCP filesystem server.
#
# Each step is skipped when a stamp (a hash of its inputs) says it is done, so re-runs take a
# second. Needs python3 with the venv module, node >= 18 and npm (.ci/run installs them).
# Used by scripts/test.sh; run it alone before running pytest by hand:
#
#   scripts/python-env.sh && .venv/bin/python -m pytest sentinel-cli/tests/mcp -k filesystem
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
MCP_TESTS=sentinel-cli/tests/mcp

hash_files() {
    # One hash over the content and names of the given files (missing ones hash as absent).
    for f in "$@"; do
        if [ -f "$f" ]; then printf '%s ' "$f"; sha256sum <"$f"; else echo "$f absent"; fi
    done | sha256sum | cut -d' ' -f1
}

hash_tree() {
    # One hash over every source file under the given paths (build output left out).
    find "$@" -type f \
        -not -path '*/target/*' -not -path '*/__pycache__/*' -not -path '*/.pytest_cache/*' \
        -not -path '*/tests/*' -not -name '*.so' -not -name '*.pyc' -print0 \
        | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}

# --- The virtual environment ------------------------------------------------------------------
if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    echo "python-env: $VENV is broken (its python no longer runs); recreating it"
    rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
    echo "python-env: creating $VENV with $(python3 --version)"
    python3 -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input)

requirements=("$MCP_TESTS/requirements.txt")
if [ -f sentinel-py/pyproject.toml ] && [ -f sentinel-py/requirements-test.txt ]; then
    requirements+=(sentinel-py/requirements-test.txt)
fi
stamp="$VENV/.sentinel-requirements"
want="$("$VENV/bin/python" --version 2>&1) $(hash_files "${requirements[@]}")"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "python-env: installing ${requirements[*]}"
    args=()
    for r in "${requirements[@]}"; do args+=(-r "$r"); done
    "${PIP[@]}" "${args[@]}"
    echo "$want" >"$stamp"
fi

# --- The Python binding, built from this checkout ----------------------------------------------
if [ -f sentinel-py/pyproject.toml ]; then
    stamp="$VENV/.sentinel-py"
    want="$(hash_tree sentinel-py sentinel-core Cargo.toml Cargo.lock)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "python-env: building and installing ./sentinel-py (a release build of the engine)"
        "${PIP[@]}" --force-reinstall --no-deps ./sentinel-py
        echo "$want" >"$stamp"
    fi
fi

# --- The reference MCP servers from npm --------------------------------------------------------
stamp="$MCP_TESTS/node_modules/.sentinel-package-lock"
want="node $(node --version) $(hash_files "$MCP_TESTS/package.json" "$MCP_TESTS/package-lock.json")"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "python-env: npm ci in $MCP_TESTS"
    (cd "$MCP_TESTS" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$want" >"$stamp"
fi
