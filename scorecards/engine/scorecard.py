"""Scorecards as code: validate a Scorecard entity's spec and turn it into a ``ScorecardDef``.

A Scorecard (``paved.dev/v1alpha1``)::

    spec:
      owner: group:platform
      filter: kind=component,spec.type=service      # or a list of alternatives; absent: every entity
      levels: [Bronze, Silver, Gold]                 # lowest first; {name: Bronze} objects are accepted too
      checks:
        - id: has-owner-team
          level: Bronze
          title: Owned by a team of two or more
          rule: {type: catalog.owner-is-group, minMembers: 2}
          remediation: Set spec.owner to your team's Group.
          remediationUrl: https://docs.example.com/ownership
          weight: 2                                  # optional, default 1
          filter: spec.lifecycle=production          # optional: not-applicable to entities it does not match

The catalog's kind schema (``catalog.descriptors.kinds.SCORECARD_SCHEMA``) checks the shape at ingestion;
``validate_scorecard_spec`` adds what needs the check registry: unknown rule types and parameters that do not fit the
rule, besides duplicate ids/levels, unknown levels and filters that do not parse.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from catalog.descriptors.refs import entity_ref
from scorecards.checks import rule_find, rule_list
from scorecards.engine.filters import filter_problems
from scorecards.engine.model import CheckDef, Level, Problem, ScorecardDef

_CHECK_KEYS: Final = frozenset(
    {"id", "level", "title", "description", "rule", "remediation", "remediationUrl", "weight", "filter"}
)


class ScorecardSpecError(ValueError):
    """A Scorecard that cannot be used; ``problems`` say what and where."""

    def __init__(self, ref: str, problems: list[Problem]) -> None:
        self.ref = ref
        self.problems = problems
        lines = "; ".join(f"spec.{p.path}: {p.message}" if p.path else f"spec: {p.message}" for p in problems)
        super().__init__(f"{ref}: {lines}")


def _alternatives(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def level_name(item: Any) -> str | None:
    """A level written as ``Bronze`` or ``{name: Bronze}``; None for anything else."""
    if isinstance(item, str) and item.strip():
        return item
    if isinstance(item, Mapping) and isinstance(item.get("name"), str) and item["name"].strip():
        return str(item["name"])
    return None


def _filter_problems(path: str, value: Any) -> list[Problem]:
    alternatives = _alternatives(value)
    if alternatives is None:
        return [Problem(path, "must be a filter string or a list of filter strings", "bad-filter")]
    return [Problem(path, message, "bad-filter") for message in filter_problems(alternatives)]


def validate_scorecard_spec(spec: Any) -> list[Problem]:
    """Every problem of a Scorecard spec, in document order; empty when ``parse_scorecard`` will accept it."""
    if not isinstance(spec, Mapping):
        return [Problem("", "spec must be an object")]
    problems: list[Problem] = []
    if "filter" in spec:
        problems += _filter_problems("filter", spec["filter"])
    levels = spec.get("levels")
    names: list[str] = []
    if not isinstance(levels, list) or not levels:
        problems.append(Problem("levels", "must be a non-empty list of level names, lowest first"))
        levels = []
    for index, item in enumerate(levels):
        name = level_name(item)
        if name is None:
            problems.append(Problem(f"levels[{index}]", f"must be a level name or {{name: ...}}, found {item!r}"))
        elif name in names:
            problems.append(Problem(f"levels[{index}]", f"level {name!r} is declared twice", "duplicate-level"))
        else:
            names.append(name)
    # With a level list that is itself wrong, "level X is not declared" would only repeat that problem.
    known_levels = names if not any(p.path.startswith("levels") and p.code == "bad-shape" for p in problems) else None
    checks = spec.get("checks")
    if not isinstance(checks, list) or not checks:
        problems.append(Problem("checks", "must be a non-empty list of checks"))
        checks = []
    seen: set[str] = set()
    for index, check in enumerate(checks):
        problems += _check_problems(f"checks[{index}]", check, known_levels, seen)
    return problems


def _check_problems(path: str, check: Any, levels: list[str] | None, seen: set[str]) -> list[Problem]:
    if not isinstance(check, Mapping):
        return [Problem(path, "must be an object with id, level, title and rule")]
    problems = [Problem(f"{path}.{key}", "is required") for key in ("id", "level", "title", "rule") if key not in check]
    for key in sorted(set(check) - _CHECK_KEYS):
        problems.append(Problem(f"{path}.{key}", f"is not a check field (known: {', '.join(sorted(_CHECK_KEYS))})"))
    for key in ("id", "level", "title"):
        if key in check and (not isinstance(check[key], str) or not check[key].strip()):
            problems.append(Problem(f"{path}.{key}", "must be a non-empty string"))
    for key in ("remediation", "remediationUrl", "description"):
        if key in check and not isinstance(check[key], str):
            problems.append(Problem(f"{path}.{key}", "must be a string"))
    check_id = check.get("id")
    if isinstance(check_id, str) and check_id.strip():
        if check_id in seen:
            problems.append(Problem(f"{path}.id", f"check id {check_id!r} is used twice", "duplicate-check-id"))
        seen.add(check_id)
    level = check.get("level")
    if levels is not None and isinstance(level, str) and level.strip() and level not in levels:
        problems.append(
            Problem(f"{path}.level", f"level {level!r} is not one of the declared levels {levels}", "unknown-level")
        )
    weight = check.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight) or weight < 0:
        problems.append(Problem(f"{path}.weight", f"must be a number >= 0, found {weight!r}"))
    if "filter" in check:
        problems += _filter_problems(f"{path}.filter", check["filter"])
    if "rule" in check:
        problems += _rule_problems(f"{path}.rule", check["rule"])
    return problems


def _rule_problems(path: str, rule: Any) -> list[Problem]:
    if not isinstance(rule, Mapping) or not isinstance(rule.get("type"), str) or not rule["type"]:
        return [
            Problem(path, "must be an object with a type, e.g. {type: catalog.field-present, path: spec.lifecycle}")
        ]
    found = rule_find(rule["type"])
    if found is None:
        known = ", ".join(r.type for r in rule_list())
        return [
            Problem(f"{path}.type", f"unknown rule type {rule['type']!r}; known types: {known}", "unknown-rule-type")
        ]
    params = {key: value for key, value in rule.items() if key != "type"}
    return [
        Problem(f"{path}.{where}" if where else path, f"{rule['type']}: {message}", "bad-params")
        for where, message in found.params_problems(params)
    ]


def entity_problems(entity: Mapping[str, Any]) -> list[Problem]:
    """``validate_scorecard_spec`` of a Scorecard entity, with paths from the entity's root (``spec.checks[0].id``):
    the shape of the catalog's entity checks (``catalog.extensions.register_entity_check``), so ingestion can refuse
    a Scorecard whose rules this Paved does not know."""
    return [
        Problem(f"spec.{problem.path}" if problem.path else "spec", problem.message, problem.code)
        for problem in validate_scorecard_spec(entity.get("spec"))
    ]


def parse_scorecard(entity: Mapping[str, Any]) -> ScorecardDef:
    """A Scorecard entity document as a ``ScorecardDef``. Raises ScorecardSpecError with every problem."""
    found = entity_ref(entity)
    ref = str(found) if found else "scorecard:<unnamed>"
    spec = entity.get("spec")
    problems = validate_scorecard_spec(spec)
    if found is None:
        problems.insert(0, Problem("", "the entity has no kind or metadata.name"))
    if str(entity.get("kind", "")).lower() != "scorecard":
        problems.insert(0, Problem("", f"kind is {entity.get('kind')!r}, not Scorecard"))
    if problems:
        raise ScorecardSpecError(ref, problems)
    assert isinstance(spec, Mapping)
    metadata = entity.get("metadata") or {}
    levels = tuple(Level(name=str(level_name(item)), rank=rank) for rank, item in enumerate(spec["levels"]))
    checks = tuple(
        CheckDef(
            id=check["id"],
            level=check["level"],
            title=check["title"],
            rule_type=check["rule"]["type"],
            params={key: value for key, value in check["rule"].items() if key != "type"},
            remediation=check.get("remediation", ""),
            remediation_url=check.get("remediationUrl", ""),
            weight=float(check.get("weight", 1)),
            filter=_alternatives(check.get("filter")) or (),
            description=check.get("description", ""),
        )
        for check in spec["checks"]
    )
    owner = spec.get("owner")
    return ScorecardDef(
        ref=ref,
        title=str(metadata.get("title") or metadata.get("name") or ref),
        filter=_alternatives(spec.get("filter")) or (),
        levels=levels,
        checks=checks,
        owner=owner if isinstance(owner, str) else "",
        description=str(metadata.get("description") or ""),
    )
