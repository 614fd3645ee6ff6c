"""Helpers the rule families share: building evidence from facts, reading dotted paths, parameter schemas."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from scorecards.engine.model import Evidence, Fact, State

MAX_PATTERN_LENGTH: Final = 1000
NONEMPTY: Final = {"type": "string", "minLength": 1, "maxLength": 500}


def schema(properties: Mapping[str, Any], required: list[str]) -> dict[str, Any]:
    """An object schema that refuses unknown parameters."""
    return {"type": "object", "properties": dict(properties), "required": required, "additionalProperties": False}


def pattern_problems(params: Mapping[str, Any], key: str = "pattern") -> list[tuple[str, str]]:
    try:
        re.compile(params[key])
    except re.error as error:
        return [(key, f"{params[key]!r} is not a valid regular expression: {error}")]
    return []


def result(state: State, fact: Fact, value: Any, message: str) -> tuple[State, Evidence]:
    return state, Evidence(value=value, source=fact.source, observed_at=fact.collected_at, message=message)


def path_parts(document: Any, path: str) -> list[str] | None:
    """The keys a dotted path names in a document, joining parts until they name a key (Backstage's getPathArray), so
    ``metadata.annotations.backstage.io/techdocs-ref`` works. None when the path does not resolve."""
    parts: list[str] = []
    node = document
    pending = ""
    for part in path.split("."):
        pending = f"{pending}.{part}" if pending else part
        if isinstance(node, Mapping) and pending in node:
            parts.append(pending)
            node = node[pending]
            pending = ""
    return parts if not pending else None


_MISSING: Final = object()


def value_at(document: Any, path: str) -> Any:
    """The value at a dotted path, or ``MISSING``."""
    parts = path_parts(document, path)
    if parts is None:
        return _MISSING
    node = document
    for part in parts:
        node = node[part]
    return node


MISSING: Final = _MISSING


def is_blank(value: Any) -> bool:
    return value is _MISSING or value is None or (isinstance(value, str | list | dict) and not value)


def shorten(value: Any, limit: int = 200) -> Any:
    """A value small enough to keep as evidence: long strings are cut, long lists and mappings summarised."""
    if isinstance(value, str) and len(value) > limit:
        return value[: limit - 1] + "…"
    if isinstance(value, list) and len(value) > 20:
        return [shorten(item) for item in value[:20]] + [f"… {len(value) - 20} more"]
    if isinstance(value, list):
        return [shorten(item) for item in value]
    if isinstance(value, Mapping):
        items = list(value.items())[:20]
        return {str(key): shorten(item) for key, item in items}
    return value
