"""Catalog rules: judge the entity's own descriptor (fact ``catalog.entity``) and its owner (fact ``catalog.owner``).

Paths are dotted (``spec.lifecycle``, ``metadata.annotations.backstage.io/techdocs-ref``: parts are joined until they
name a key, as Backstage does). A value is *present* when it exists and is not null, an empty string, list or mapping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from scorecards.checks.base import NONEMPTY, is_blank, pattern_problems, result, schema, shorten, value_at
from scorecards.checks.registry import Rule, register_rule
from scorecards.engine.model import Evidence, Facts, State

ENTITY: Final = "catalog.entity"
OWNER: Final = "catalog.owner"
MAX_MATCH_TEXT: Final = 65_536


def _entity_fact(params: Mapping[str, Any], entity: Mapping[str, Any]) -> set[str]:
    return {ENTITY}


def _field_present(
    params: Mapping[str, Any], entity: Mapping[str, Any], facts: Facts, now: datetime
) -> tuple[State, Evidence]:
    fact = facts[ENTITY]
    value = value_at(fact.value, params["path"])
    if is_blank(value):
        return result(State.FAIL, fact, None, f"{params['path']} is missing or empty")
    return result(State.PASS, fact, shorten(value), f"{params['path']} is set")


def _same(value: Any, expected: Any) -> bool:
    # YAML's true is not the number 1, though Python says True == 1.
    if isinstance(value, bool) or isinstance(expected, bool):
        return type(value) is type(expected) and value == expected
    return bool(value == expected)


def _field_equals(
    params: Mapping[str, Any], entity: Mapping[str, Any], facts: Facts, now: datetime
) -> tuple[State, Evidence]:
    fact = facts[ENTITY]
    path, expected = params["path"], params["value"]
    value = value_at(fact.value, path)
    if is_blank(value):
        return result(State.FAIL, fact, None, f"{path} is missing; expected {expected!r}")
    if _same(value, expected) or (isinstance(value, list) and any(_same(item, expected) for item in value)):
        return result(State.PASS, fact, shorten(value), f"{path} is {expected!r}")
    return result(State.FAIL, fact, shorten(value), f"{path} is {shorten(value)!r}, expected {expected!r}")


def _field_matches(
    params: Mapping[str, Any], entity: Mapping[str, Any], facts: Facts, now: datetime
) -> tuple[State, Evidence]:
    fact = facts[ENTITY]
    path, pattern = params["path"], params["pattern"]
    value = value_at(fact.value, path)
    if is_blank(value):
        return result(State.FAIL, fact, None, f"{path} is missing; expected a value matching /{pattern}/")
    items = value if isinstance(value, list) else [value]
    compiled = re.compile(pattern)
    for item in items:
        if isinstance(item, Mapping | list):
            continue
        text = "true" if item is True else "false" if item is False else str(item)
        if compiled.search(text[:MAX_MATCH_TEXT]):
            return result(State.PASS, fact, shorten(value), f"{path} matches /{pattern}/")
    return result(State.FAIL, fact, shorten(value), f"{path} is {shorten(value)!r}, which does not match /{pattern}/")


def _annotation_present(
    params: Mapping[str, Any], entity: Mapping[str, Any], facts: Facts, now: datetime
) -> tuple[State, Evidence]:
    fact = facts[ENTITY]
    key = params["key"]
    metadata = fact.value.get("metadata") if isinstance(fact.value, Mapping) else None
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    value = annotations.get(key) if isinstance(annotations, Mapping) else None
    if not isinstance(value, str) or not value.strip():
        return result(State.FAIL, fact, None, f"annotation {key} is missing or empty")
    return result(State.PASS, fact, shorten(value), f"annotation {key} is {shorten(value)!r}")


def _link_present(
    params: Mapping[str, Any], entity: Mapping[str, Any], facts: Facts, now: datetime
) -> tuple[State, Evidence]:
    fact = facts[ENTITY]
    wanted = params["linkType"].lower()
    metadata = fact.value.get("metadata") if isinstance(fact.value, Mapping) else None
    links = metadata.get("links") if isinstance(metadata, Mapping) else None
    for link in links if isinstance(links, list) else []:
        if (
            isinstance(link, Mapping)
            and isinstance(link.get("type"), str)
            and link["type"].lower() == wanted
            and isinstance(link.get("url"), str)
            and link["url"].strip()
        ):
            return result(State.PASS, fact, link["url"], f"link of type {params['linkType']} to {link['url']}")
    types = sorted({str(link.get("type")) for link in links or [] if isinstance(link, Mapping) and link.get("type")})
    seen = f"; links have types {', '.join(types)}" if types else "; the entity has no typed links"
    return result(State.FAIL, fact, types, f"no link of type {params['linkType']}{seen}")


def _relation_exists(
    params: Mapping[str, Any], entity: Mapping[str, Any], facts: Facts, now: datetime
) -> tuple[State, Evidence]:
    fact = facts[ENTITY]
    wanted = params["relationType"].lower()
    kind = params.get("targetKind", "").lower()
    relations = fact.value.get("relations") if isinstance(fact.value, Mapping) else None
    targets = [
        relation["targetRef"]
        for relation in (relations if isinstance(relations, list) else [])
        if isinstance(relation, Mapping)
        and str(relation.get("type", "")).lower() == wanted
        and isinstance(relation.get("targetRef"), str)
        and (not kind or relation["targetRef"].lower().startswith(f"{kind}:"))
    ]
    what = f"{params['relationType']} relation" + (f" to a {params['targetKind']}" if kind else "")
    if targets:
        return result(State.PASS, fact, shorten(sorted(targets)), f"{what}: {', '.join(sorted(targets)[:5])}")
    return result(State.FAIL, fact, [], f"no {what}")


def _owner_is_group(
    params: Mapping[str, Any], entity: Mapping[str, Any], facts: Facts, now: datetime
) -> tuple[State, Evidence]:
    fact = facts[OWNER]
    value = fact.value if isinstance(fact.value, Mapping) else {}
    ref, kind = value.get("ref"), value.get("kind")
    members = sorted({str(member) for member in value.get("members") or []})
    minimum = params.get("minMembers", 1)
    if not ref:
        return result(State.FAIL, fact, None, "the entity has no owner")
    if kind is None:
        return result(State.FAIL, fact, {"ref": ref}, f"the owner {ref} is not in the catalog")
    if str(kind).lower() != "group":
        return result(State.FAIL, fact, {"ref": ref, "kind": kind}, f"the owner {ref} is a {kind}, not a Group")
    evidence = {"ref": ref, "kind": kind, "members": shorten(members)}
    if len(members) < minimum:
        return result(
            State.FAIL, fact, evidence, f"the owner {ref} has {len(members)} members, at least {minimum} needed"
        )
    return result(State.PASS, fact, evidence, f"the owner {ref} is a Group with {len(members)} members")


_PATH: Final = {**NONEMPTY, "description": "Dotted path into the entity, e.g. spec.lifecycle."}

FIELD_PRESENT = register_rule(
    Rule(
        "catalog.field-present",
        "Catalog field is set",
        schema({"path": _PATH}, ["path"]),
        _entity_fact,
        _field_present,
    )
)
FIELD_EQUALS = register_rule(
    Rule(
        "catalog.field-equals",
        "Catalog field has a value",
        schema({"path": _PATH, "value": {"type": ["string", "number", "boolean"]}}, ["path", "value"]),
        _entity_fact,
        _field_equals,
        description="Passes when the field equals value exactly (a list passes when it contains value).",
    )
)
FIELD_MATCHES = register_rule(
    Rule(
        "catalog.field-matches",
        "Catalog field matches a pattern",
        schema({"path": _PATH, "pattern": {**NONEMPTY, "maxLength": 1000}}, ["path", "pattern"]),
        _entity_fact,
        _field_matches,
        pattern_problems,
        description="Python regular expression, searched anywhere in the value (anchor it with ^...$); a list "
        "passes when one of its items matches.",
    )
)
ANNOTATION_PRESENT = register_rule(
    Rule(
        "catalog.annotation-present",
        "Annotation is set",
        schema({"key": NONEMPTY}, ["key"]),
        _entity_fact,
        _annotation_present,
    )
)
LINK_PRESENT = register_rule(
    Rule(
        "catalog.link-present",
        "Link of a type is present",
        schema({"linkType": NONEMPTY}, ["linkType"]),
        _entity_fact,
        _link_present,
        description="metadata.links has an entry whose type equals linkType (ignoring case) and has a url.",
    )
)
OWNER_IS_GROUP = register_rule(
    Rule(
        "catalog.owner-is-group",
        "Owned by a team",
        schema({"minMembers": {"type": "integer", "minimum": 0, "maximum": 100_000}}, []),
        lambda params, entity: {OWNER},
        _owner_is_group,
        description="spec.owner is a Group in the catalog with at least minMembers (default 1) direct members.",
    )
)
RELATION_EXISTS = register_rule(
    Rule(
        "catalog.relation-exists",
        "Relation exists",
        schema({"relationType": NONEMPTY, "targetKind": NONEMPTY}, ["relationType"]),
        _entity_fact,
        _relation_exists,
        description="The entity has a relation of relationType (ignoring case), optionally to an entity of targetKind.",
    )
)
