"""Backstage filter syntax, matched against one entity document in memory.

Same meaning as the catalog API's ``filter`` parameter (``catalog.query.parse_filter``): a filter is a tuple of
alternatives, OR-ed; one alternative is comma-separated statements ``key`` (the key exists), ``key=value``
(any of the values given for that key), AND-ed. Keys and values compare case-insensitively, arrays repeat their key
(``metadata.tags=java`` matches any tag), and ``relations.<type>=<ref>`` matches the entity's ``relations`` list.
An empty filter matches every entity.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

MAX_STATEMENTS: Final = 100
# As the catalog's search table (catalog.indexing, which a pure core may not import): the same keys and values, so a
# filter means here what it means in the catalog API.
MAX_KEY_LENGTH: Final = 200
MAX_VALUE_LENGTH: Final = 200
_SKIPPED_ROOT_KEYS: Final = frozenset({"relations", "status", "attachments"})


class FilterError(ValueError):
    """A filter text that is not on the form ``a=b,c=d,e``."""


def parse_statements(text: str) -> dict[str, set[str] | None]:
    """One alternative as ``{key: values or None for "exists"}``, keys and values lower-cased.

    Raises FilterError naming the offending statement.
    """
    conditions: dict[str, set[str] | None] = {}
    statements = [statement.strip() for statement in text.split(",") if statement.strip()]
    if len(statements) > MAX_STATEMENTS:
        raise FilterError(f"filter '{text[:80]}' has {len(statements)} statements, at most {MAX_STATEMENTS} allowed")
    for statement in statements:
        key, equals, value = statement.partition("=")
        key = key.strip().lower()
        if not key:
            raise FilterError(f"'{statement}' is not a filter statement (expected a=b, a= or a)")
        if equals:
            values = conditions.get(key) or set()
            values.add(value.strip().lower())
            conditions[key] = values
        else:
            conditions.setdefault(key, None)
    return conditions


def filter_problems(alternatives: Sequence[str]) -> list[str]:
    """Sentences for each alternative that does not parse (empty list: the filter is usable)."""
    problems = []
    for text in alternatives:
        try:
            parse_statements(text)
        except FilterError as error:
            problems.append(str(error))
    return problems


def _walk(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield from _walk(f"{prefix}.{key}" if prefix else str(key), child)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(prefix, item)
    else:
        yield prefix, value


def search_entries(entity: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """The entity as lower-cased ``(key, value)`` pairs, exactly as ``catalog.indexing.search_entries`` makes them."""
    rows: dict[tuple[str, str | None], None] = {}
    for root_key, root_value in entity.items():
        if root_key in _SKIPPED_ROOT_KEYS:
            continue
        for key, value in _walk(str(root_key), root_value):
            key = key.lower()
            if len(key) > MAX_KEY_LENGTH:
                continue
            text = (
                None
                if value is None
                else ("true" if value else "false")
                if isinstance(value, bool)
                else str(value).lower()
            )
            if text is not None and len(text) > MAX_VALUE_LENGTH:
                text = None
            rows[(key, text)] = None
    return list(rows)


def _entries(entity: Mapping[str, Any]) -> dict[str, set[str | None]]:
    found: dict[str, set[str | None]] = {}
    for key, value in search_entries(entity):
        found.setdefault(key, set()).add(value)
    relations = entity.get("relations")
    if isinstance(relations, list):
        for relation in relations:
            if isinstance(relation, Mapping) and isinstance(relation.get("type"), str):
                target = relation.get("targetRef")
                text = target.lower() if isinstance(target, str) else None
                found.setdefault(f"relations.{relation['type'].lower()}", set()).add(text)
    return found


def entity_matches(alternatives: Iterable[str], entity: Mapping[str, Any]) -> bool:
    """Whether the entity matches any alternative (True for no alternatives). Raises FilterError for bad syntax."""
    parsed = [parse_statements(text) for text in alternatives]
    parsed = [conditions for conditions in parsed if conditions]
    if not parsed:
        return True
    entries = _entries(entity)
    for conditions in parsed:
        if all(
            key in entries and (values is None or bool(values & {v for v in entries[key] if v is not None}))
            for key, values in conditions.items()
        ):
            return True
    return False
