"""The search rows ingest writes (catalog.indexing.search_entries): the same rows, in the same order, as the plain
recursive flattening they were first written as, for ordinary entities and for odd and hostile shapes."""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

import pytest

from catalog.indexing import MAX_KEY_LENGTH, MAX_VALUE_LENGTH, search_entries
from tests.bench.catalog_data import generated


def _reference_walk(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield from _reference_walk(f"{prefix}.{key}" if prefix else str(key), child)
    elif isinstance(value, list):
        for item in value:
            yield from _reference_walk(prefix, item)
    else:
        yield prefix, value


def reference(entity: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    rows: dict[tuple[str, str | None], None] = {}
    for root_key, root_value in entity.items():
        if root_key in {"relations", "status", "attachments"}:
            continue
        for key, value in _reference_walk(str(root_key), root_value):
            if key == "metadata.etag" or key.startswith("metadata.etag."):  # as Backstage: the whole subtree
                continue
            key = key.lower()
            if len(key) > MAX_KEY_LENGTH:
                continue
            if value is None:
                text = None
            elif isinstance(value, bool):
                text = "true" if value else "false"
            else:
                text = str(value).lower()
            if text is not None and len(text) > MAX_VALUE_LENGTH:
                text = None
            rows[(key, text)] = None
    return list(rows)


def test_generated_entities_give_the_rows_they_always_gave():
    for entity in generated(2000, random.Random(7)):
        assert search_entries(entity) == reference(entity)


def test_a_component_gives_backstage_keys_lower_cased_with_arrays_repeating_their_key():
    entity = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "Payments", "tags": ["Java", "go", "java"], "annotations": {"A/B": "X"}},
        "spec": {"type": "service", "dependsOn": ["component:a", "component:b"]},
        "relations": [{"type": "ownedBy", "targetRef": "group:default/x"}],
        "status": {"items": []},
    }
    assert search_entries(entity) == [
        ("apiversion", "backstage.io/v1alpha1"),
        ("kind", "component"),
        ("metadata.name", "payments"),
        ("metadata.tags", "java"),
        ("metadata.tags", "go"),
        ("metadata.annotations.a/b", "x"),
        ("spec.type", "service"),
        ("spec.dependson", "component:a"),
        ("spec.dependson", "component:b"),
    ]


def test_the_etag_is_left_out_as_backstage_does_and_the_uid_kept():
    entity = {
        "kind": "Component",
        "metadata": {"name": "a", "uid": "U-1", "etag": "abc", "ETag": "kept: another key"},
        "spec": {"etag": "kept too"},
    }
    assert search_entries(entity) == [
        ("kind", "component"),
        ("metadata.name", "a"),
        ("metadata.uid", "u-1"),
        ("metadata.etag", "kept: another key"),
        ("spec.etag", "kept too"),
    ]


@pytest.mark.parametrize(
    "entity",
    [
        {"kind": None, "spec": {"on": True, "off": False, "n": 0, "f": 1.5, "none": None}},
        {"metadata": {"name": "x" * (MAX_VALUE_LENGTH + 1), "title": "y" * MAX_VALUE_LENGTH}},
        {"spec": {"k" * MAX_KEY_LENGTH: "kept", "k" * (MAX_KEY_LENGTH + 1): "dropped"}},
        {"spec": {"deep": [[["a", {"b": ["c", None]}]], [], {}]}},
        {"spec": {2: "integer key", True: "boolean key", None: "none key"}},
        {"spec": OrderedDict([("z", 1), ("a", 2)]), "metadata": MappingProxyType({"name": "proxy"})},
        {"spec": {"tuple": ("a", "b"), "bytes": b"raw", "set": {"s"}}},
        {"": {"empty root key": "v"}, "spec": {"": "empty key", "x": {"": {"": "deeper"}}}},
        {"metadata": {"title": "ΟΔΥΣΣΕΥΣ", "description": "İstanbul ǅ ß"}},
        {"spec": {"nested": {"a": {"b": {"c": {"d": {"e": {"f": {"g": "h"}}}}}}}}},
        {"spec": "a scalar spec", "metadata": ["a", "list", "metadata"]},
        {"metadata": {"etag": {"a": "mapping"}, "uid": ["a", "list"]}},
    ],
)
def test_odd_and_hostile_shapes_give_the_same_rows(entity):
    assert search_entries(entity) == reference(entity)


def test_a_deep_document_is_flattened_without_error_up_to_the_parsers_nesting():
    value: Any = "leaf"
    for level in range(150):
        value = {f"k{level}": value} if level % 2 else [value]
    entity = {"spec": value}
    assert search_entries(entity) == reference(entity)
