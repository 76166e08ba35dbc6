"""Helpers shared by the tests: repository paths and event builders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "examples" / "events"

# A user rule pack of one rule, as an embedder would write it.
ACME_RULE = """
[[rule]]
id = "ACME-001"
detector = "SEC-02"
name = "ACME internal token"
severity = "high"
description = "ACME's internal API tokens"
keywords = ["acme_"]
pattern = 'acme_[a-z0-9]{16}'
case_sensitive = true
examples = ["token acme_0123456789abcdef"]
negative_examples = ["ACME_0123456789ABCDEF"]
"""


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
