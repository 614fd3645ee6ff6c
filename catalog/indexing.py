"""Derive what the catalog stores beside an entity's JSON: its columns, content hash and search entries.

Pure functions (no Django): ingestion, factories and benchmarks all index entities the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

MAX_KEY_LENGTH: Final = 200
MAX_VALUE_LENGTH: Final = 200
# Backstage leaves these out of the search table, and `metadata.etag` too (it changes with every write).
_SKIPPED_ROOT_KEYS: Final = frozenset({"relations", "status", "attachments"})
_SKIPPED_METADATA_KEY: Final = "etag"


def content_hash(entity: Mapping[str, Any]) -> str:
    """A stable hash of the ingested content (uid and etag excluded): equal hashes mean nothing to write."""
    metadata = {k: v for k, v in entity.get("metadata", {}).items() if k not in {"uid", "etag"}}
    canonical = json.dumps({**entity, "metadata": metadata}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _scalar(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).lower()


def _flatten(prefix: str, value: Any, rows: dict[tuple[str, str | None], None]) -> None:
    """Add the `(key, value)` rows of `value` under `prefix`, depth first, in document order. Ingest runs this for
    every entity it writes: plain dicts, lists and strings are tested first (an ABC check costs several times more)."""
    if isinstance(value, dict) or (not isinstance(value, (str, list)) and isinstance(value, Mapping)):
        for key, child in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), child, rows)
        return
    if isinstance(value, list):
        for item in value:
            _flatten(prefix, item, rows)
        return
    key = prefix.lower()
    if len(key) > MAX_KEY_LENGTH:
        return
    text = value.lower() if isinstance(value, str) else _scalar(value)
    if text is not None and len(text) > MAX_VALUE_LENGTH:
        text = None
    rows[(key, text)] = None


def search_entries(entity: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """Flatten an entity into lower-cased `(key, value)` pairs, as Backstage's search table does.

    Arrays repeat their key (so `metadata.tags=java` matches any tag); over-long values are kept as a key with
    no value so that "key exists" filters still match. Relations are not here: filters on `relations.<type>` read the
    Relation table, which holds both directions whoever declared them.
    """
    rows: dict[tuple[str, str | None], None] = {}
    for root_key, root_value in entity.items():
        if root_key in _SKIPPED_ROOT_KEYS:
            continue
        if root_key == "metadata" and isinstance(root_value, Mapping) and _SKIPPED_METADATA_KEY in root_value:
            root_value = {key: value for key, value in root_value.items() if key != _SKIPPED_METADATA_KEY}
        _flatten(str(root_key), root_value, rows)
    return list(rows)


def entity_columns(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The columns lists and joins use, pulled out of the entity's JSON."""
    metadata = entity.get("metadata", {})
    spec = entity.get("spec") or {}
    tags = [str(tag) for tag in metadata.get("tags") or []]
    title = str(metadata.get("title") or "")
    description = str(metadata.get("description") or "")
    name = str(metadata.get("name", ""))
    return {
        "kind": str(entity.get("kind", "")),
        "namespace": str(metadata.get("namespace") or "default"),
        "name": name,
        "api_version": str(entity.get("apiVersion", "")),
        "title": title[:500],
        "description": description,
        "spec_type": str(spec.get("type") or "")[:255] if isinstance(spec.get("type"), str) else "",
        "lifecycle": str(spec.get("lifecycle") or "")[:255] if isinstance(spec.get("lifecycle"), str) else "",
        "tags": tags,
        "search_text": " ".join([name, title, description, *tags]).lower(),
    }
