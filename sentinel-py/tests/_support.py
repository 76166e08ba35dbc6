"""Helpers shared by the tests: repository paths and event builders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "examples" / "events"

# A user rule pack of one rule, as an embedder would write it (the repository's example pack).
ACME_PACK = REPO / "examples" / "rules" / "acme.toml"
ACME_RULE = ACME_PACK.read_text(encoding="utf-8")


def event(**fields: Any) -> dict[str, Any]:
    """A readable event with the required fields, overridden by ``fields``."""
    base: dict[str, Any] = {
        "timestamp": "2024-01-15T14:30:00Z",
        "user": "alice",
        "agent": "ChatBot",
        "tool": "web_search",
        "prompt": "Search for data",
        "response": "Results found",
    }
    base.update(fields)
    return base


def load_events(path: Path) -> list[dict[str, Any]]:
    """Events from a JSON array, one object, or NDJSON."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
        return data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
