"""One engine, many threads: the same verdicts as one thread, and no interference between
scans (each scan releases the GIL and takes its own scratch from the engine's pool)."""

from __future__ import annotations

import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mcp_threatscan import Engine, ToolPins

from _support import EVENTS, event, load_events

THREADS = 16
ROUNDS = 6


def mixed_events(engine: Engine) -> list[Any]:
    """Benign and malicious events of different sizes and shapes, as dicts and as JSON."""
    events: list[Any] = list(load_events(EVENTS / "sample.ndjson")) + list(load_events(EVENTS / "seed-001.json"))
    for rule in engine.rules():
        for example in rule.to_dict().get("examples", [])[:1]:
            if isinstance(example, str):
                events.append(event(prompt=example, metadata={"arguments": {"q": example}}))
    rng = random.Random(5)
    filler = "The quarterly report lists revenue by region and the open support tickets. " * 20
    for i in range(40):
        events.append(event(prompt=filler[: rng.randrange(10, len(filler))], response=filler, id=f"f{i}"))
    return [json.dumps(e) if i % 4 == 0 else e for i, e in enumerate(events)]


def test_threads_agree_with_one_thread(engine: Engine) -> None:
    events = mixed_events(engine)
    expected = [engine.scan(e).to_json() for e in events]
    assert sum('"block"' in v for v in expected) > 50

    failures: list[str] = []
    barrier = threading.Barrier(THREADS)

    def worker(seed: int) -> None:
        order = list(range(len(events)))
        random.Random(seed).shuffle(order)
        barrier.wait()
        for _ in range(ROUNDS):
            for i in order:
                got = engine.scan(events[i]).to_json()
                if got != expected[i]:
                    failures.append(f"thread {seed}, event {i}: {got} != {expected[i]}")

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_scan_many_from_many_threads(engine: Engine) -> None:
    events = mixed_events(engine)
    expected = [v.to_json() for v in engine.scan_many(events)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: [v.to_json() for v in engine.scan_many(events)], range(16)))
    assert all(r == expected for r in results)


def test_messages_and_pins_from_many_threads(engine: Engine) -> None:
    pins = ToolPins()
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "query", "arguments": {"sql": "1' UNION SELECT password FROM users--"}}}

    def tools_list(server: str) -> bool:
        result = {"jsonrpc": "2.0", "id": 1, "result": {"tools": [{"name": f"t-{server}", "description": "d"}]}}
        verdict = engine.scan_message(result, "response", method="tools/list", server=server, pins=pins)
        return verdict.action == "allow" and engine.scan_message(call, "request").blocked

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(tools_list, [f"s{i}" for i in range(200)]))
    assert all(pins.pinned(f"s{i}", f"t-s{i}") is not None for i in range(200))


def test_engines_built_in_threads() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        engines = list(pool.map(lambda p: Engine(profile=p), ["security", "all"]))
    assert [e.config["profile"] for e in engines] == ["security", "all"]
