#!/usr/bin/env python3
"""A reproducible corpus of ordinary (benign) content, to measure false blocks.

Usage (from the repository root; Python 3.11, standard library only):

    # 1. generate the corpus from files present on any machine that builds the project
    python3 scripts/benign-corpus.py build [--out target/benign-corpus] [--max-files 10000]
                                           [--max-bytes 262144] [--seed 1]
    # 2. score it with the release CLI (eval for the rates, scan for per-item verdicts)
    nice python3 scripts/benign-corpus.py score [--corpus target/benign-corpus]
                                                [--sentinel target/release/sentinel]
                                                [--jobs N] [--examples 10]
                                                [--out /tmp/benign-report.md]

Nothing third-party is copied into the repository: the corpus is written to
target/benign-corpus/ (gitignored) or to --out. Only this script is committed.

Sources (each skipped, with a note, when absent):
  cargo  every crates.io package of the workspace Cargo.lock, from the cargo registry
         ($CARGO_HOME or ~/.cargo)/registry/src/*/<name>-<version>/
  venv   the project venv's site-packages (.venv/lib/python3*/site-packages), minus our
         own binding (mcp_threatscan), whose rule packs hold attack examples by design
  npm    sentinel-cli/tests/mcp/node_modules
  doc    /usr/share/doc (text files, and .gz files decompressed)
  man    /usr/share/man/**/*.gz (decompressed; raw roff)

Selection: text files only (valid UTF-8, no NUL byte, 1 byte .. --max-bytes after
decompression; lockfiles over 64 KiB skipped; symlinks skipped; identical contents kept
once). Minified files are kept (they are real traffic) and counted in the manifest.
Candidates are sorted, shuffled with a seeded RNG per source, and taken in rounds: each
round gives every source that still has candidates an equal share of the remaining
--max-files, so the per-source cap is max-files/5 unless a source runs short.
The result depends only on the seed, the options and the files on the machine.

Each file gives two items in the labelled format of shared/corpus/dev.jsonl
(labels ["benign"], `source` = "<kind>:<relative path>", never a home path):
  <group>-00  a `read_file` tools/call: prompt = the JSON arguments {"path": ...},
              response = the file's text
  <group>-01  the same text as an MCP `resources/read` result: tool "resources/read",
              prompt = {"uri": "file://..."}, response = the text
Paths inside events use a synthetic home (/home/dev) for cargo/venv/npm files.

Outputs in the corpus directory:
  benign.jsonl         labelled items (plus an `attrs` object: kind, test, minified, bytes)
  mcp-resources.ndjson raw JSON-RPC `resources/read` responses, one per file
                       ({"jsonrpc":"2.0","id":"<group>-01","result":{"contents":[...]}})
  manifest.json        counts and bytes per source, options, skip reasons, timing
  events.ndjson        (written by `score`) the plain events given to `sentinel scan`

`score` reports: items, blocked %, warned-or-blocked %, warned-or-blocked without the
items whose only warn-level findings are size limits (SZ-001/SZ-002, category
oversize), the rules that fired (items at block level and at warn level), rates by
source kind, by test file or not (a path component test/tests/spec/fixtures/... or a
test-like file name), by item type and by minified or not, and every blocked item with
rule, severity, JSON path and the matched text (finding span, <=120 chars of context).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import gzip
import hashlib
import json
import mimetypes
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "target" / "benign-corpus"
DEFAULT_SENTINEL = REPO / "target" / "release" / "sentinel"

KINDS = ["cargo", "venv", "npm", "doc", "man"]
LOCKFILES = {"cargo.lock", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock",
             "pipfile.lock", "npm-shrinkwrap.json", "composer.lock", "gemfile.lock", "uv.lock"}
LOCKFILE_MAX = 64 * 1024
# Extensions that are never text; skipped without reading (the NUL/UTF-8 test catches the rest).
BINARY_EXT = {
    ".so", ".a", ".o", ".dll", ".dylib", ".exe", ".pyc", ".pyo", ".pyd", ".whl", ".zip",
    ".tar", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".png", ".jpg", ".jpeg", ".gif", ".ico",
    ".bmp", ".webp", ".svgz", ".pdf", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".wasm",
    ".node", ".mo", ".db", ".sqlite", ".bin", ".dat", ".der", ".p12", ".jar", ".class",
}
TEST_DIRS = {"test", "tests", "testing", "testdata", "test-data", "test_data", "spec", "specs",
             "fixture", "fixtures", "__tests__", "__fixtures__", "__mocks__", "t"}
TEST_NAME = re.compile(r"(^tests?[_.-]|[_.-]tests?\.[^/]+$|\.spec\.[^/]+$|^conftest\.py$)", re.I)
SIZE_RULES = {"SZ-001", "SZ-002"}
USERS = ["alice", "bob", "carol.ng", "dmitri", "emma", "farah", "gwen", "hiro", "ines", "jon"]
AGENTS = ["claude-desktop", "cursor", "gpt-4o", "support-copilot", "cline", "windsurf"]
BLOCK_SEV = {"critical", "high"}
WARN_SEV = {"medium"}


def level(f):
    """The default policy's action level of one finding: "block", "warn" or "low". A
    low-confidence finding acts one step lower (`actions.low_confidence = "step_down"`)."""
    levels = ["low", "warn", "block"]
    at = 2 if f["severity"] in BLOCK_SEV else 1 if f["severity"] in WARN_SEV else 0
    if f.get("confidence") == "low":
        at = max(at - 1, 0)
    return levels[at]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- sources

def cargo_home() -> Path:
    return Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo")


def locked_crates() -> list[tuple[str, str]]:
    """(name, version) of every crates.io package of the workspace Cargo.lock."""
    out, cur = [], {}
    for line in (REPO / "Cargo.lock").read_text().splitlines() + ["[[package]]"]:
        if line.startswith("[[package]]"):
            if cur.get("source", "").startswith("registry+") and "name" in cur:
                out.append((cur["name"], cur["version"]))
            cur = {}
        else:
            m = re.match(r'^(name|version|source) = "(.*)"$', line)
            if m:
                cur[m.group(1)] = m.group(2)
    return sorted(set(out))


def walk_files(root: Path):
    """Regular files under root (no symlinks), sorted."""
    found = []
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in {"__pycache__", ".git"})
        for f in files:
            p = Path(d) / f
            if not p.is_symlink() and p.is_file():
                found.append(p)
    return sorted(found)


def candidates(notes: list[str]) -> dict[str, list[tuple[str, Path, str]]]:
    """kind -> sorted [(source rel path, file, event path)]."""
    c: dict[str, list] = {k: [] for k in KINDS}

    # (a) cargo registry
    src_root = cargo_home() / "registry" / "src"
    indexes = sorted(src_root.glob("*")) if src_root.is_dir() else []
    missing = []
    for name, ver in locked_crates():
        crate = f"{name}-{ver}"
        d = next((i / crate for i in indexes if (i / crate).is_dir()), None)
        if d is None:
            missing.append(crate)
            continue
        for p in walk_files(d):
            rel = p.relative_to(d).as_posix()
            c["cargo"].append((f"{crate}/{rel}", p,
                               f"/home/dev/.cargo/registry/src/index.crates.io/{crate}/{rel}"))
    if not indexes:
        notes.append(f"cargo: no registry sources under {src_root.name!r} of $CARGO_HOME; skipped")
    if missing:
        notes.append(f"cargo: {len(missing)} locked crates not in the registry cache: "
                     + ", ".join(missing[:10]) + (" …" if len(missing) > 10 else ""))

    # (b) project venv
    sps = sorted((REPO / ".venv" / "lib").glob("python3*/site-packages"))
    if not sps:
        notes.append("venv: .venv is absent (run scripts/python-env.sh); skipped")
    for sp in sps:
        for p in walk_files(sp):
            rel = p.relative_to(sp).as_posix()
            if rel.split("/")[0].startswith("mcp_threatscan"):
                continue
            c["venv"].append((rel, p, f"/home/dev/sentinel/.venv/lib/{sp.parent.name}/site-packages/{rel}"))

    # (c) node_modules of the MCP tests
    nm = REPO / "sentinel-cli" / "tests" / "mcp" / "node_modules"
    if nm.is_dir():
        for p in walk_files(nm):
            rel = p.relative_to(nm).as_posix()
            c["npm"].append((rel, p, f"/home/dev/sentinel/sentinel-cli/tests/mcp/node_modules/{rel}"))
    else:
        notes.append("npm: sentinel-cli/tests/mcp/node_modules is absent; skipped")

    # (d) /usr/share/doc, (e) manual pages
    for kind, root, only_gz in (("doc", Path("/usr/share/doc"), False),
                                ("man", Path("/usr/share/man"), True)):
        if not root.is_dir():
            notes.append(f"{kind}: {root} is absent; skipped")
            continue
        for p in walk_files(root):
            if only_gz and p.suffix != ".gz":
                continue
            ev = str(p)[:-3] if p.suffix == ".gz" else str(p)
            c[kind].append((str(p), p, ev))
    return c


# ---------------------------------------------------------------------------- reading

def read_text(p: Path, max_bytes: int, skip: collections.Counter) -> str | None:
    name = p.name.lower()
    gz = name.endswith(".gz")
    ext = os.path.splitext(name[:-3] if gz else name)[1]
    if ext in BINARY_EXT:
        skip["binary extension"] += 1
        return None
    try:
        if gz:
            with gzip.open(p, "rb") as f:
                data = f.read(max_bytes + 1)
        else:
            size = p.stat().st_size
            if size > max_bytes:
                skip["over max-bytes"] += 1
                return None
            data = p.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile, ValueError):
        skip["unreadable"] += 1
        return None
    if len(data) > max_bytes:
        skip["over max-bytes"] += 1
        return None
    if not data.strip():
        skip["empty"] += 1
        return None
    if (name[:-3] if gz else name) in LOCKFILES and len(data) > LOCKFILE_MAX:
        skip["lockfile over 64 KiB"] += 1
        return None
    if b"\0" in data:
        skip["NUL byte (binary)"] += 1
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        skip["not UTF-8"] += 1
        return None


def is_test_path(rel: str) -> bool:
    parts = rel.lower().split("/")
    return any(x in TEST_DIRS for x in parts[:-1]) or bool(TEST_NAME.search(parts[-1]))


def is_minified(name: str, text: str) -> bool:
    if ".min." in name.lower():
        return True
    lines = text.splitlines() or [""]
    longest = max(len(x) for x in lines)
    return longest > 1000 and len(text) / len(lines) > 200


def mime_of(path: str) -> str:
    m, _ = mimetypes.guess_type(path, strict=False)
    if m and (m.startswith("text/") or m in {"application/json", "application/javascript",
                                                 "application/xml", "application/toml"}):
        return m
    if re.search(r"/man\d[^/]*/[^/]+$", path):
        return "text/troff"
    return m if m and not m.startswith(("image/", "audio/", "video/")) else "text/plain"


# ---------------------------------------------------------------------------- build

def cmd_build(a) -> int:
    t0 = time.monotonic()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    cands = candidates(notes)
    for n in notes:
        log("note:", n)
    iters, shuffled = {}, {}
    for k in KINDS:
        lst = list(cands[k])  # already sorted
        random.Random(f"{a.seed}:{k}").shuffle(lst)
        shuffled[k] = lst
        iters[k] = iter(lst)

    skip = {k: collections.Counter() for k in KINDS}
    seen_hashes: set[str] = set()
    chosen: dict[str, list] = {k: [] for k in KINDS}
    exhausted = {k for k in KINDS if not shuffled[k]}
    remaining = a.max_files
    while remaining > 0 and len(exhausted) < len(KINDS):
        active = [k for k in KINDS if k not in exhausted]
        share = max(1, remaining // len(active))
        for k in active:
            want = min(share, remaining)
            got = 0
            while got < want:
                nxt = next(iters[k], None)
                if nxt is None:
                    exhausted.add(k)
                    break
                rel, p, evpath = nxt
                text = read_text(p, a.max_bytes, skip[k])
                if text is None:
                    continue
                h = hashlib.sha256(text.encode()).hexdigest()
                if h in seen_hashes:
                    skip[k]["duplicate content"] += 1
                    continue
                seen_hashes.add(h)
                chosen[k].append((rel, evpath, text))
                got += 1
            remaining -= got
            if remaining <= 0:
                break

    # Write, in a fixed order: by kind, then by source path.
    base = dt.datetime(2025, 9, 1, tzinfo=dt.timezone.utc)
    rng = random.Random(f"{a.seed}:events")
    per = {}
    total_bytes = total_chars = 0
    n_items = 0
    with open(out / "benign.jsonl", "w", encoding="utf-8") as fj, \
         open(out / "mcp-resources.ndjson", "w", encoding="utf-8") as fm:
        for k in KINDS:
            st = per[k] = {"candidates": len(cands[k]), "files": 0, "bytes": 0, "chars": 0,
                           "test_files": 0, "minified_files": 0, "minified_bytes": 0,
                           "over_5000_chars": 0, "skipped": dict(sorted(skip[k].items()))}
            for rel, evpath, text in sorted(chosen[k]):
                source = f"{k}:{rel}"
                group = hashlib.sha1(source.encode()).hexdigest()[:12]
                nbytes = len(text.encode())
                test = is_test_path(rel)
                mini = is_minified(rel, text)
                st["files"] += 1
                st["bytes"] += nbytes
                st["chars"] += len(text)
                st["test_files"] += test
                st["minified_files"] += mini
                st["minified_bytes"] += nbytes if mini else 0
                st["over_5000_chars"] += len(text) > 5000
                attrs = {"kind": k, "test": test, "minified": mini, "bytes": nbytes}
                ts = base + dt.timedelta(seconds=n_items * 37 + rng.randrange(30))
                user, agent = rng.choice(USERS), rng.choice(AGENTS)
                uri = "file://" + evpath
                mime = mime_of(evpath)
                rf_args = {"path": evpath}
                ev1 = {"timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "user": user, "agent": agent,
                       "tool": "read_file", "prompt": json.dumps(rf_args), "response": text,
                       "metadata": {"mcp_method": "tools/call", "server": "filesystem",
                                    "tool_name": "read_file", "arguments": rf_args,
                                    "duration_ms": 5 + rng.randrange(400)}}
                ts2 = ts + dt.timedelta(seconds=1 + rng.randrange(5))
                rr_params = {"uri": uri}
                ev2 = {"timestamp": ts2.strftime("%Y-%m-%dT%H:%M:%SZ"), "user": user, "agent": agent,
                       "tool": "resources/read", "prompt": json.dumps(rr_params), "response": text,
                       "metadata": {"mcp_method": "resources/read", "server": "filesystem",
                                    "arguments": rr_params, "mimeType": mime,
                                    "duration_ms": 5 + rng.randrange(400)}}
                for n, ev in ((0, ev1), (1, ev2)):
                    fj.write(json.dumps({"id": f"{group}-{n:02d}", "labels": ["benign"],
                                         "source": source, "attrs": attrs, "event": ev},
                                        ensure_ascii=False) + "\n")
                    n_items += 1
                fm.write(json.dumps({"jsonrpc": "2.0", "id": f"{group}-01", "result": {
                    "contents": [{"uri": uri, "mimeType": mime, "text": text}]}},
                    ensure_ascii=False) + "\n")
                total_bytes += nbytes
                total_chars += len(text)

    files = sum(per[k]["files"] for k in KINDS)
    rel_out = os.path.relpath(out.resolve(), REPO) if out.resolve().is_relative_to(REPO) else str(out)
    manifest = {
        "built_by": "scripts/benign-corpus.py build",
        "command": " ".join(["scripts/benign-corpus.py", "build", "--out", rel_out, "--max-files",
                             str(a.max_files), "--max-bytes", str(a.max_bytes), "--seed", str(a.seed)]),
        "options": {"max_files": a.max_files, "max_bytes": a.max_bytes, "seed": a.seed,
                    "lockfile_max_bytes": LOCKFILE_MAX},
        "selection": "sorted candidates, seeded shuffle per source, equal shares of the remaining "
                     "max-files per round among sources with candidates left; UTF-8 text without NUL, "
                     "1..max-bytes bytes (after gunzip), no symlinks, identical contents kept once",
        "item_ids": "<sha1(source)[:12]>-00 read_file tools/call, -01 resources/read",
        "notes": notes,
        "files": files,
        "items": n_items,
        "bytes": total_bytes,
        "chars": total_chars,
        "test_files": sum(per[k]["test_files"] for k in KINDS),
        "minified_files": sum(per[k]["minified_files"] for k in KINDS),
        "minified_bytes": sum(per[k]["minified_bytes"] for k in KINDS),
        "sources": per,
        "build_seconds": round(time.monotonic() - t0, 1),
        "python": sys.version.split()[0],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log(f"{files} files, {n_items} items, {total_bytes / 1e6:.1f} MB of text -> {out} "
        f"in {manifest['build_seconds']} s")
    for k in KINDS:
        s = per[k]
        log(f"  {k:6} {s['files']:6} files {s['bytes'] / 1e6:8.1f} MB  (of {s['candidates']} candidates;"
            f" {s['test_files']} test, {s['minified_files']} minified)")
    return 0


# ---------------------------------------------------------------------------- score

PATH_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


def resolve(event: dict, path: str):
    """The string at a finding's JSON path (`response`, `metadata.arguments.path`, `x[0]`)."""
    cur = event
    for m in PATH_TOKEN.finditer(path):
        if isinstance(cur, str):
            try:
                cur = json.loads(cur)
            except ValueError:
                return None
        key, idx = m.group(1), m.group(2)
        try:
            cur = cur[int(idx)] if idx is not None else cur[key]
        except (KeyError, IndexError, TypeError):
            return None
    return cur if isinstance(cur, str) else None


def snippet(event: dict, f: dict, width: int = 120) -> str:
    s = resolve(event, f.get("path") or f.get("field") or "")
    if s is None:
        return "(text not found)"
    b = s.encode()
    sp = f.get("span") or {}
    st, en = sp.get("start", 0), sp.get("end", 0)
    pre = b[:st].decode(errors="ignore")
    mid = b[st:en].decode(errors="ignore")
    post = b[en:].decode(errors="ignore")
    if len(mid) > width - 4:  # keep both ends of a long match
        h = (width - 5) // 2
        mid = mid[:h] + "…" + mid[-h:]
    room = max(0, width - 4 - len(mid))
    left, right = room // 2, room - room // 2
    pre_s, post_s = pre[-left:] if left else "", post[:right]
    if len(pre_s) < left:
        post_s = post[: right + left - len(pre_s)]
    if len(post_s) < right:
        pre_s = pre[-(left + right - len(post_s)):] if left + right - len(post_s) else ""
    out = ("…" if len(pre_s) < len(pre) else "") + pre_s + "«" + mid + "»" + post_s + \
          ("…" if len(post_s) < len(post) else "")
    if en - st > 2 * width:  # a span over (nearly) the whole field: say so
        out = f"[span {en - st} of {len(b)} bytes] " + out
    return out.replace("\r", "\\r").replace("\n", "⏎").replace("\t", " ").replace("|", "\\|")


def pct(n, d):
    return f"{100.0 * n / d:.2f}%" if d else "-"


def cmd_score(a) -> int:
    corpus = Path(a.corpus)
    bench = corpus / "benign.jsonl"
    sentinel = Path(a.sentinel)
    if not sentinel.exists():
        log(f"error: {sentinel} is missing (build it with `cargo build --release -p mcp-threatscan-cli`)")
        return 2
    if not bench.exists():
        log(f"error: {bench} is missing; run `benign-corpus.py build` first")
        return 2
    jobs = ["-j", str(a.jobs)] if a.jobs else []
    manifest = json.loads((corpus / "manifest.json").read_text()) if (corpus / "manifest.json").exists() else {}

    items = []
    with open(bench, encoding="utf-8") as f, open(corpus / "events.ndjson", "w", encoding="utf-8") as fe:
        for line in f:
            it = json.loads(line)
            items.append(it)
            fe.write(json.dumps({"id": it["id"], **it["event"]}, ensure_ascii=False) + "\n")

    t0 = time.monotonic()
    ev = subprocess.run([str(sentinel), "eval", "--format", "json", *jobs, str(bench)],
                        capture_output=True, text=True)
    t_eval = time.monotonic() - t0
    if ev.returncode not in (0, 1):
        log(ev.stderr)
        return 2
    evj = json.loads(ev.stdout)

    t0 = time.monotonic()
    sc = subprocess.run([str(sentinel), "scan", "--format", "ndjson", *jobs, str(corpus / "events.ndjson")],
                        capture_output=True, text=True)
    t_scan = time.monotonic() - t0
    if sc.returncode not in (0, 1):
        log(sc.stderr[:2000])
        return 2
    verdicts = [json.loads(x) for x in sc.stdout.splitlines() if x.strip()]
    if len(verdicts) != len(items):
        log(f"error: {len(verdicts)} verdicts for {len(items)} items")
        return 2
    verdicts.sort(key=lambda v: v["index"])

    rules_meta = {}
    rj = subprocess.run([str(sentinel), "rules", "--format", "json"], capture_output=True, text=True)
    if rj.returncode == 0:
        for r in json.loads(rj.stdout):
            rules_meta[r["id"]] = (r.get("spec", {}).get("name", ""), r.get("category", ""))

    # Per-item classification. "Content" findings are those in the file's text (path
    # `response`); the rest come from the carrier (tool name, arguments, URI, metadata).
    groups = collections.defaultdict(collections.Counter)
    rc = collections.defaultdict(collections.Counter)  # rule -> counters
    rfiles = collections.defaultdict(lambda: collections.defaultdict(set))
    blocked = []
    n = len(items)
    for it, v in zip(items, verdicts):
        action = v["action"]
        fs = v.get("findings", [])
        nonsize = [f for f in fs if level(f) != "low"
                   and f["rule"] not in SIZE_RULES and f.get("category") != "oversize"]
        b = action == "block"
        wob = action in ("warn", "block")
        wob_ns = b or (action == "warn" and bool(nonsize))
        cb = any(level(f) == "block" and f.get("path") == "response" for f in fs)
        cwob_ns = any(f.get("path") == "response" for f in nonsize)
        attrs = it.get("attrs") or {}
        kind = attrs.get("kind") or it["source"].split(":", 1)[0]
        rel = it["source"].split(":", 1)[1]
        test = attrs.get("test", is_test_path(rel))
        keys = [("all", "all"), ("source", kind), ("test file", "test" if test else "non-test"),
                ("item type", it["event"]["tool"]),
                ("minified", "minified" if attrs.get("minified") else "not minified")]
        for key in keys:
            g = groups[key]
            g["items"] += 1
            g["blocked"] += b
            g["wob"] += wob
            g["wob_ns"] += wob_ns
            g["cb"] += cb
            g["cwob_ns"] += cwob_ns
        for lv in ("block", "warn"):
            hit = {f["rule"] for f in fs if level(f) == lv}
            hit_c = {f["rule"] for f in fs if level(f) == lv and f.get("path") == "response"}
            for r in hit:
                rc[r][lv] += 1
                rfiles[r][lv].add(it["source"])
                rc[r][lv + "_test"] += test
            for r in hit_c:
                rc[r][lv + "_content"] += 1
        for r in {f["rule"] for f in fs if level(f) == "low"}:
            rc[r]["low"] += 1
        if b:
            blocked.append((it, v, [f for f in fs if level(f) == "block"], test, cb))

    # Report.
    L = []
    L.append("# Benign corpus: false blocks of `sentinel`\n")
    L.append(f"- corpus: `{corpus}` ({manifest.get('files', '?')} files, {n} items, "
             f"{manifest.get('bytes', 0) / 1e6:.1f} MB of text; built with `{manifest.get('command', '?')}`)")
    L.append(f"- sentinel: `{sentinel}`; `eval` {t_eval:.1f} s, `scan --format ndjson` {t_scan:.1f} s"
             f" ({'-j ' + str(a.jobs) if a.jobs else 'all cores'})")
    g = groups[("all", "all")]
    L.append(f"- **items {n}; blocked {g['blocked']} ({pct(g['blocked'], n)}); warned or blocked "
             f"{g['wob']} ({pct(g['wob'], n)}); warned or blocked without size-limit-only warnings "
             f"{g['wob_ns']} ({pct(g['wob_ns'], n)})**")
    L.append(f"- **blocked by the file's text (a block-level finding at `response`): {g['cb']} "
             f"({pct(g['cb'], n)}); warned or blocked by the text, size limits aside: {g['cwob_ns']} "
             f"({pct(g['cwob_ns'], n)})**. The other blocks come from the carrier (tool, arguments, URI).")
    bb, bw = evj.get("benign_blocked", {}), evj.get("benign_warned_or_blocked", {})
    L.append(f"- `sentinel eval`: benign blocked {bb.get('count')}/{bb.get('of')} "
             f"({pct(bb.get('count', 0), bb.get('of', 0))}), benign warned or blocked "
             f"{bw.get('count')}/{bw.get('of')} ({pct(bw.get('count', 0), bw.get('of', 0))}), "
             f"unreadable {evj.get('unreadable')}")
    if bb.get("count") != g["blocked"] or bw.get("count") != g["wob"]:
        L.append("- **warning: eval and scan disagree** on the counts above")
    L.append("- size-limit-only: the item is warned and every medium-or-higher finding is SZ-001/SZ-002 "
             "(responses over 5,000 characters, prompts over 3,000)\n")

    L.append("## Rates by group\n")
    L.append("| group | value | items | blocked | blocked % | warned or blocked % | w-or-b w/o size-only % "
             "| blocked by text % | w-or-b by text w/o size % |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    order = ["all", "source", "test file", "item type", "minified"]
    for key in sorted(groups, key=lambda k: (order.index(k[0]),
                                              KINDS.index(k[1]) if k[0] == "source" and k[1] in KINDS else 0,
                                              k[1])):
        g = groups[key]
        L.append(f"| {key[0]} | {key[1]} | {g['items']} | {g['blocked']} | {pct(g['blocked'], g['items'])} | "
                 f"{pct(g['wob'], g['items'])} | {pct(g['wob_ns'], g['items'])} | "
                 f"{pct(g['cb'], g['items'])} | {pct(g['cwob_ns'], g['items'])} |")
    L.append("")

    L.append("## Rules that fired\n")
    L.append("Items where the rule fired at block level (critical/high) or warn level (medium), of them "
             "in the file's text (`response`) and in test files, and distinct files; `low` findings are "
             "allowed by the default policy.\n")
    L.append("| rule | name | category | block items | in text | in test files | block files "
             "| warn items | in text | in test files | warn files | low items |")
    L.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in sorted(rc, key=lambda r: (-rc[r]["block"], -rc[r]["warn"], -rc[r]["low"], r)):
        name, cat = rules_meta.get(r, ("", ""))
        c = rc[r]
        L.append(f"| {r} | {name} | {cat} | {c['block']} | {c['block_content']} | {c['block_test']} | "
                 f"{len(rfiles[r]['block'])} | {c['warn']} | {c['warn_content']} | {c['warn_test']} | "
                 f"{len(rfiles[r]['warn'])} | {c['low']} |")
    L.append("")

    L.append("## Blocked findings grouped by rule\n")
    L.append(f"Up to {a.examples} files per rule, spread over source kinds and packages (first block-level "
             "finding of the rule in the item, the file's text preferred); «…» marks the finding span, "
             "⏎ a newline.\n")
    byrule = collections.defaultdict(dict)  # rule -> source -> (it, f, test)
    for it, v, bf, test, cb in blocked:
        for f in bf:
            cur = byrule[f["rule"]].get(it["source"])
            if cur is None or (cur[1].get("path") != "response" and f.get("path") == "response"):
                byrule[f["rule"]][it["source"]] = (it, f, test)
    for r in sorted(byrule, key=lambda r: (-rc[r]["block"], r)):
        name, cat = rules_meta.get(r, ("", ""))
        L.append(f"### {r} {name} ({cat}): {rc[r]['block']} items ({rc[r]['block_content']} in the text), "
                 f"{len(rfiles[r]['block'])} files\n")
        L.append("| source | test | sev | path | snippet |")
        L.append("|---|---|---|---|---|")
        for it, f, test in diverse(list(byrule[r].values()), a.examples):
            extra = f" ({f.get('reason')})" if f.get("reason") and f.get("reason") != name else ""
            L.append(f"| `{it['source']}` | {'y' if test else ''} | {f['severity']}{extra} | {f.get('path')} | "
                     f"`{snippet(it['event'], f)}` |")
        L.append("")

    L.append("## Every item blocked by the file's text\n")
    L.append("One row per item and rule (block-level findings; the first finding of each rule).\n")
    L.append("| id | source | tool | rule | sev | path | snippet |")
    L.append("|---|---|---|---|---|---|---|")
    carrier = collections.Counter()
    for it, v, bf, test, cb in blocked:
        if not cb:
            for r, pth in sorted({(f["rule"], f.get("path")) for f in bf}):
                carrier[(it["event"]["tool"], r, pth)] += 1
            continue
        seen = set()
        for f in sorted(bf, key=lambda f: f.get("path") != "response"):
            if f["rule"] in seen:
                continue
            seen.add(f["rule"])
            L.append(f"| {it['id']} | `{it['source']}` | {it['event']['tool']} | {f['rule']} | {f['severity']} | "
                     f"{f.get('path')} | `{snippet(it['event'], f)}` |")
    L.append("")
    L.append("## Items blocked by the carrier only\n")
    L.append("Blocked items without a block-level finding in the file's text, by tool, rule and JSON path "
             "(examples in the by-rule section above).\n")
    L.append("| tool | rule | path | items |")
    L.append("|---|---|---|---:|")
    for (tool, r, pth), c in sorted(carrier.items(), key=lambda x: (-x[1], x[0])):
        L.append(f"| {tool} | {r} | {pth} | {c} |")
    L.append("")
    report = "\n".join(L)
    if a.out:
        Path(a.out).write_text(report)
        log(f"report -> {a.out}")
    # Terminal: everything but the long lists.
    print(report.split("## Blocked findings grouped by rule")[0])
    print(f"({len(blocked)} blocked items; the details are in the Markdown report)" if a.out else
          "(use --out FILE for the blocked items)")
    return 0


def package_of(source: str) -> str:
    kind, rel = source.split(":", 1)
    parts = rel.strip("/").split("/")
    if kind == "doc":
        return f"doc:{parts[3] if len(parts) > 3 else rel}"
    if kind == "man":
        return f"man:{os.path.basename(rel).split('.')[0]}"
    if kind == "npm" and parts[0].startswith("@") and len(parts) > 1:
        return f"npm:{parts[0]}/{parts[1]}"
    name = parts[0]
    if kind == "venv":
        name = re.sub(r"-[^-]+\.dist-info$", "", name).lower().replace("-", "_")
    return f"{kind}:{name}"


def diverse(rows: list, k: int) -> list:
    """Up to k rows: text findings first, round-robin over source kinds, one file per package."""
    rows = sorted(rows, key=lambda x: (x[1].get("path") != "response", x[0]["source"]))
    by_kind = collections.OrderedDict()
    for row in rows:
        by_kind.setdefault(row[0]["source"].split(":", 1)[0], []).append(row)
    out, used_pkg, used_src = [], set(), set()
    for allow_same_pkg in (False, True):
        progress = True
        while len(out) < k and progress:
            progress = False
            for kind, lst in by_kind.items():
                for row in lst:
                    src = row[0]["source"]
                    if src in used_src or (not allow_same_pkg and package_of(src) in used_pkg):
                        continue
                    out.append(row)
                    used_src.add(src)
                    used_pkg.add(package_of(src))
                    progress = True
                    break
                if len(out) >= k:
                    break
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="generate the corpus")
    b.add_argument("--out", default=str(DEFAULT_OUT), help="output directory (default: target/benign-corpus)")
    b.add_argument("--max-files", type=int, default=10000, help="files in all (2 items each; default 10000)")
    b.add_argument("--max-bytes", type=int, default=256 * 1024, help="largest file, after gunzip (default 256 KiB)")
    b.add_argument("--seed", type=int, default=1)
    s = sub.add_parser("score", help="scan the corpus and report false blocks")
    s.add_argument("--corpus", default=str(DEFAULT_OUT))
    s.add_argument("--sentinel", default=str(DEFAULT_SENTINEL))
    s.add_argument("--jobs", "-j", type=int, default=0, help="worker threads (default: all cores)")
    s.add_argument("--examples", type=int, default=10, help="example files per rule in the report")
    s.add_argument("--out", help="also write the report as Markdown to this file")
    a = p.parse_args()
    return cmd_build(a) if a.cmd == "build" else cmd_score(a)


if __name__ == "__main__":
    sys.exit(main())
