#!/usr/bin/env bash
# Builds libsentinel and installs it under a prefix:
#   PREFIX/lib/libsentinel.so, PREFIX/lib/libsentinel.a, PREFIX/include/sentinel.h,
#   PREFIX/lib/pkgconfig/sentinel.pc
# Usage: sentinel-ffi/install.sh [--prefix DIR] [--debug]   (default prefix /usr/local, release)
# Then: cc app.c $(PKG_CONFIG_PATH=DIR/lib/pkgconfig pkg-config --cflags --libs sentinel)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=/usr/local
profile=release
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#--prefix=}"; shift ;;
        --debug) profile=debug; shift ;;
        -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [ "$profile" = release ]; then
    cargo build --release --locked -p mcp-threatscan-ffi
else
    cargo build --locked -p mcp-threatscan-ffi
fi
target="${CARGO_TARGET_DIR:-target}/$profile"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
mkdir -p "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 "$target/libsentinel.so" "$prefix/lib/libsentinel.so"
install -m 0644 "$target/libsentinel.a" "$prefix/lib/libsentinel.a"
install -m 0644 sentinel-ffi/include/sentinel.h "$prefix/include/sentinel.h"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" sentinel-ffi/sentinel.pc.in > "$prefix/lib/pkgconfig/sentinel.pc"
echo "installed libsentinel $version ($profile) under $prefix"
