#!/usr/bin/env bash
# Runs every test of the project. This is the README's test command, and what .ci/run runs.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Rust: unit, integration, property and doc tests (every workspace crate)"
cargo test --workspace --locked
