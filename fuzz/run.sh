#!/usr/bin/env bash
# Runs the cargo-fuzz targets of sentinel-core (see fuzz/README.md).
#
#   fuzz/run.sh <target> <seconds>   fuzz one target for that long (corpus in fuzz/corpus/<target>)
#   fuzz/run.sh smoke                build every target, then fuzz each for 20 s (CI)
#   fuzz/run.sh list                 the targets
#
# One fuzzer process at a time, on one core. Needs the nightly toolchain and cargo-fuzz
# (`rustup toolchain install nightly --profile minimal`, `cargo install cargo-fuzz --locked`).
# Extra libFuzzer flags can be given in FUZZ_FLAGS (e.g. FUZZ_FLAGS=-runs=0 to only replay
# the corpus).
set -euo pipefail
cd "$(dirname "$0")"

TARGETS=(event mcp rules normalize framing c_api)
SMOKE_SECONDS=${SMOKE_SECONDS:-20}
TOOLCHAIN=${FUZZ_TOOLCHAIN:-+nightly}

dict_of() {
    case "$1" in
        event | mcp | framing | c_api) echo "-dict=dicts/json.dict" ;;
        rules) echo "-dict=dicts/toml.dict" ;;
        *) ;;
    esac
}

# Seeds a target's corpus directory on first use: the committed seeds (fuzz/seeds/<target>,
# passed to libFuzzer as a read-only corpus) and, when the shared development corpus is
# beside the repository, a fixed sample of its events shaped for the target.
import_shared() {
    local target=$1 dir=corpus/$1 dev=../../shared/corpus/dev.jsonl
    mkdir -p "$dir"
    if [ -n "$(ls -A "$dir")" ] || [ ! -f "$dev" ] || ! command -v python3 >/dev/null 2>&1; then
        return 0
    fi
    python3 - "$target" "$dev" "$dir" <<'PY'
import json, struct, sys
target, dev, out = sys.argv[1:]
lines = open(dev, encoding="utf-8").read().splitlines()
sample = lines[::12]  # every 12th event: about 300, every label
def write(name, data):
    with open(f"{out}/{name}", "wb") as f:
        f.write(data)
for i, line in enumerate(sample):
    event = json.loads(line)["event"]
    if target == "event":
        write(f"dev-{i:04}", json.dumps(event, ensure_ascii=False).encode())
    elif target == "mcp":
        meta = event.get("metadata") or {}
        call = {"jsonrpc": "2.0", "id": i, "method": "tools/call",
                "params": {"name": meta.get("tool_name", event["tool"]), "arguments": meta.get("arguments", {"input": event["prompt"]})}}
        result = {"jsonrpc": "2.0", "id": i, "result": {"content": [{"type": "text", "text": event["response"]}]}}
        write(f"dev-{i:04}-call", bytes([0, 0, i % 6, 1]) + json.dumps(call, ensure_ascii=False).encode())
        write(f"dev-{i:04}-result", bytes([1, 0, i % 6, 1]) + json.dumps(result, ensure_ascii=False).encode())
    elif target == "normalize":
        for field in ("prompt", "response"):
            text = event[field][:4096]
            if any(ord(c) > 127 for c in text):
                write(f"dev-{i:04}-{field}", text.encode())
    elif target == "framing" and i % 10 == 0:
        block = "\n".join(sample[i:i + 10]).encode() + b"\n"
        write(f"dev-{i:04}", struct.pack("<H", (i * 37) % 4096) + bytes([i % 64]) + block)
PY
}

run() {
    local target=$1 seconds=$2
    local dict
    dict=$(dict_of "$target")
    import_shared "$target"
    mkdir -p "seeds/$target" "artifacts/$target"
    # -jobs/-workers are not passed: without them libFuzzer fuzzes in this one process (with
    # -jobs=1 it would fork one worker and log to fuzz-0.log instead of the terminal).
    # shellcheck disable=SC2086
    cargo "$TOOLCHAIN" fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_len=262144 -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="artifacts/$target/" $dict ${FUZZ_FLAGS:-}
}

case "${1:-}" in
    list)
        printf '%s\n' "${TARGETS[@]}"
        ;;
    smoke)
        start=$SECONDS
        cargo "$TOOLCHAIN" fuzz build
        failed=()
        for target in "${TARGETS[@]}"; do
            echo "== fuzz $target (${SMOKE_SECONDS} s)"
            run "$target" "$SMOKE_SECONDS" || failed+=("$target")
        done
        echo "== fuzz smoke: $((SECONDS - start)) s"
        if [ ${#failed[@]} -gt 0 ]; then
            echo "fuzz smoke failed: ${failed[*]} (inputs in fuzz/artifacts/<target>/)" >&2
            exit 1
        fi
        ;;
    event | mcp | rules | normalize | framing | c_api)
        if [ $# -ne 2 ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
            echo "usage: fuzz/run.sh <target> <seconds>" >&2
            exit 2
        fi
        run "$1" "$2"
        ;;
    *)
        echo "usage: fuzz/run.sh <target> <seconds> | smoke | list   (targets: ${TARGETS[*]})" >&2
        exit 2
        ;;
esac
