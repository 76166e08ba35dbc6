#!/usr/bin/env bash
# The C ABI's tests, run by scripts/test.sh:
# 1. tests/c/test_sentinel.c compiled with -Wall -Wextra -Werror against include/sentinel.h and
#    linked to libsentinel.so; run plainly, then under valgrind (no errors, no leaks);
# 2. the same suite built with AddressSanitizer and UndefinedBehaviorSanitizer, linked to
#    libsentinel.a;
# 3. install.sh into a temporary prefix, and examples/c built with pkg-config against it: its
#    verdicts equal the CLI's NDJSON byte for byte on the sample log and, when ../shared is
#    there, on the development corpus;
# 4. examples/go (cgo) gives the same bytes.
# Needs gcc, valgrind, pkg-config and go (Debian: gcc valgrind pkg-config golang-go; .ci/run
# installs them).
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in gcc valgrind pkg-config go python3; do
    command -v "$tool" >/dev/null || { echo "sentinel-ffi/tests/run.sh: $tool not found (Debian: apt-get install gcc valgrind pkg-config golang-go)" >&2; exit 1; }
done
target="$(cd "${CARGO_TARGET_DIR:-target}" 2>/dev/null && pwd || echo "$PWD/target")/debug"
cargo build --locked -p mcp-threatscan-ffi -p mcp-threatscan-cli
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cflags=(-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -pthread -I sentinel-ffi/include)

echo "-- C suite (libsentinel.so)"
gcc "${cflags[@]}" sentinel-ffi/tests/c/test_sentinel.c -L "$target" -lsentinel -Wl,-rpath,"$target" -o "$work/test"
"$work/test"

echo "-- C suite under valgrind"
valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --show-leak-kinds=definite,indirect "$work/test"

echo "-- C suite with AddressSanitizer and UndefinedBehaviorSanitizer (libsentinel.a)"
gcc "${cflags[@]}" -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
    sentinel-ffi/tests/c/test_sentinel.c "$target/libsentinel.a" -lpthread -ldl -lm -o "$work/test-asan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 "$work/test-asan"

echo "-- install.sh and examples/c through pkg-config"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}" sentinel-ffi/install.sh --debug --prefix "$work/prefix" >/dev/null
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
# shellcheck disable=SC2046
gcc -std=c11 -Wall -Wextra -Werror examples/c/scan_log.c $(pkg-config --cflags --libs sentinel) \
    -Wl,-rpath,"$work/prefix/lib" -o "$work/scan_log"

# The CLI's NDJSON without its position keys, next to the example's lines.
logs=(examples/events/sample.ndjson)
if [ -f ../shared/corpus/dev.jsonl ]; then
    python3 -c 'import json,sys
for l in open(sys.argv[1], encoding="utf-8"):
    if l.strip(): print(json.dumps(json.loads(l)["event"], ensure_ascii=False))' ../shared/corpus/dev.jsonl > "$work/dev.ndjson"
    logs+=("$work/dev.ndjson")
else
    echo "   ../shared/corpus/dev.jsonl is absent: comparing on the sample log only"
fi
for log in "${logs[@]}"; do
    "$target/sentinel" scan --format ndjson "$log" | sed -E 's/^\{"index":[0-9]+,("file":"[^"]*",)?"line":[0-9]+,/{/' > "$work/cli.out" || true
    "$work/scan_log" "$log" > "$work/c.out" || true
    cmp "$work/cli.out" "$work/c.out"
    echo "   examples/c = sentinel scan on $(basename "$log"): $(wc -l < "$work/c.out") verdicts"
done

echo "-- examples/go (cgo)"
(cd examples/go && GOTOOLCHAIN=local GOFLAGS=-mod=mod GOCACHE="$work/gocache" GOPATH="$work/gopath" \
    CGO_LDFLAGS="-L$target -Wl,-rpath,$target" go build -o "$work/go-scan" .)
for log in "${logs[@]}"; do
    "$work/go-scan" "$log" > "$work/go.out" || true
    "$target/sentinel" scan --format ndjson "$log" | sed -E 's/^\{"index":[0-9]+,("file":"[^"]*",)?"line":[0-9]+,/{/' > "$work/cli.out" || true
    cmp "$work/cli.out" "$work/go.out"
    echo "   examples/go = sentinel scan on $(basename "$log")"
done
echo "C ABI: all passed"
