"""Template rule: the entity was created from a sanctioned template and is not too far behind it.

The entity names its template in the annotation ``backstage.io/source-template`` (a Template ref) and the version it was
created from (or last upgraded to) in ``paved.dev/template-version``, as the scaffolder writes them. A template is
sanctioned when a Template of that ref is registered in the catalog (fact ``template.versions:<ref>`` has
``exists``). Versions parse as PEP 440 versions (a leading ``v`` is allowed: ``v1.2.0``); tags that do not parse and
pre-releases are ignored. *Versions behind* = how many distinct released versions of the template are newer than the
entity's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from packaging.version import InvalidVersion, Version

from catalog.descriptors.refs import RefError, parse_ref
from scorecards.checks.base import result, schema
from scorecards.checks.catalog import ENTITY
from scorecards.checks.registry import Rule, register_rule
from scorecards.engine.model import Evidence, Facts, State

SOURCE_TEMPLATE: Final = "backstage.io/source-template"
TEMPLATE_VERSION: Final = "paved.dev/template-version"
VERSIONS_PREFIX: Final = "template.versions:"
MAX_VERSION_LENGTH: Final = 100


def _annotations(entity: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = entity.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    return annotations if isinstance(annotations, Mapping) else {}


def template_ref(entity: Mapping[str, Any]) -> str | None:
    """The lower-cased ref the entity's ``backstage.io/source-template`` names, None when absent or unusable."""
    value = _annotations(entity).get(SOURCE_TEMPLATE)
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return str(parse_ref(value.strip(), default_kind="template"))
    except RefError:
        return None


def versions_key(ref: str) -> str:
    return f"{VERSIONS_PREFIX}{ref}"


def _facts(params: Mapping[str, Any], entity: Mapping[str, Any]) -> set[str]:
    ref = template_ref(entity)
    return {ENTITY, versions_key(ref)} if ref else {ENTITY}


def _parse(tag: object) -> Version | None:
    if not isinstance(tag, str) or len(tag) > MAX_VERSION_LENGTH:
        return None
    try:
        return Version(tag.strip())
    except (InvalidVersion, ValueError):  # ValueError: a component too long to be an int
        return None


def _current(
    params: Mapping[str, Any], entity: Mapping[str, Any], facts: Facts, now: datetime
) -> tuple[State, Evidence]:
    entity_fact = facts[ENTITY]
    annotations = _annotations(entity_fact.value if isinstance(entity_fact.value, Mapping) else {})
    raw_ref = annotations.get(SOURCE_TEMPLATE)
    ref = template_ref(entity_fact.value if isinstance(entity_fact.value, Mapping) else {})
    if ref is None:
        what = "is missing" if not raw_ref else f"is {raw_ref!r}, not a template ref"
        return result(
            State.FAIL, entity_fact, None, f"annotation {SOURCE_TEMPLATE} {what}: not created from a template"
        )
    key = versions_key(ref)
    if key not in facts:
        # The entity changed since the facts were named: its template is not the one collected for.
        return State.ERROR, Evidence(None, "catalog", None, f"versions of {ref} were not collected")
    versions_fact = facts[key]
    value = versions_fact.value if isinstance(versions_fact.value, Mapping) else {}
    if not value.get("exists"):
        return result(
            State.FAIL, versions_fact, {"template": ref}, f"{ref} is not a sanctioned template (not in the catalog)"
        )
    allowed = params.get("templates")
    if allowed and ref not in {str(parse_ref(item, default_kind="template")) for item in allowed}:
        return result(
            State.FAIL, versions_fact, {"template": ref}, f"{ref} is not one of the sanctioned templates {allowed}"
        )
    raw_version = annotations.get(TEMPLATE_VERSION)
    version = _parse(raw_version)
    if version is None:
        what = "is missing" if raw_version in (None, "") else f"is {raw_version!r}, not a version"
        return result(State.FAIL, entity_fact, {"template": ref}, f"annotation {TEMPLATE_VERSION} {what}")
    releases = {parsed for parsed in map(_parse, value.get("versions") or []) if parsed and not parsed.is_prerelease}
    newer = sorted(release for release in releases if release > version)
    latest = str(max(releases)) if releases else None
    seen = {"template": ref, "version": str(raw_version), "latest": latest, "behind": len(newer)}
    limit = params["maxVersionsBehind"]
    if len(newer) > limit:
        return result(
            State.FAIL,
            versions_fact,
            seen,
            f"created from {ref} {raw_version}, {len(newer)} versions behind {latest} (at most {limit} allowed)",
        )
    return result(
        State.PASS, versions_fact, seen, f"created from {ref} {raw_version}, {len(newer)} versions behind the latest"
    )


def _template_params(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems = []
    for index, item in enumerate(params.get("templates") or []):
        try:
            parse_ref(item, default_kind="template")
        except RefError as error:
            problems.append((f"templates.{index}", str(error)))
    return problems


CURRENT = register_rule(
    Rule(
        "template.current",
        "Created from a sanctioned template, and current",
        schema(
            {
                "maxVersionsBehind": {"type": "integer", "minimum": 0, "maximum": 10_000},
                "templates": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
            },
            ["maxVersionsBehind"],
        ),
        _facts,
        _current,
        _template_params,
        description="templates (optional) narrows the sanctioned templates to these refs.",
    )
)
