"""On-call rules: judge the entity's escalation policy and its level-1 rotation (facts ``oncall.*``).

An entity without an escalation policy fails every on-call rule (there is nobody to page): the fact says "no policy"
(value None), which is data, not missing data. Scorecards whose on-call checks should not apply to some entities say
so with the check's ``filter`` (e.g. ``spec.lifecycle=production``), which makes them ``not-applicable``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from scorecards.checks.base import result, schema, shorten
from scorecards.checks.registry import Rule, register_rule
from scorecards.engine.model import Evidence, Fact, Facts, State

POLICY: Final = "oncall.policy"
ROTATION: Final = "oncall.rotation"
COVERAGE_PREFIX: Final = "oncall.coverage:"
HOURS_PREFIX: Final = "oncall.hours:"
DEFAULT_BALANCE_DAYS: Final = 28
_DAYS: Final = {"type": "integer", "minimum": 1, "maximum": 366}


def coverage_key(days: int) -> str:
    return f"{COVERAGE_PREFIX}{days}"


def hours_key(days: int) -> str:
    return f"{HOURS_PREFIX}{days}"


def _no_policy(fact: Fact) -> tuple[State, Evidence]:
    return result(State.FAIL, fact, None, "the entity has no escalation policy")


def _has_policy(
    params: Mapping[str, Any], entity: Mapping[str, Any], facts: Facts, now: datetime
) -> tuple[State, Evidence]:
    fact = facts[POLICY]
    if not isinstance(fact.value, Mapping):
        return _no_policy(fact)
    ref, problem = fact.value.get("ref"), fact.value.get("problem")
    if problem:
        return result(State.FAIL, fact, {"ref": ref}, str(problem))
    levels = fact.value.get("levels")
    if not isinstance(levels, list) or not levels:
        return result(State.FAIL, fact, {"ref": ref}, f"the escalation policy {ref} has no levels")
    return result(State.PASS, fact, {"ref": ref, "levels": len(levels)}, f"escalated by {ref} ({len(levels)} levels)")


def _levels(
    params: Mapping[str, Any], entity: Mapping[str, Any], facts: Facts, now: datetime
) -> tuple[State, Evidence]:
    fact = facts[POLICY]
    if not isinstance(fact.value, Mapping):
        return _no_policy(fact)
    ref = fact.value.get("ref")
    levels = fact.value.get("levels")
    people = [
        frozenset(str(person) for person in level.get("people") or [] if isinstance(person, str))
        for level in (levels if isinstance(levels, list) else [])
        if isinstance(level, Mapping)
    ]
    minimum, distinct = params["min"], params.get("distinctPeople", True)
    if distinct:
        # A level that pages the same people as another reaches nobody new; a level with nobody reaches nobody.
        counted = sum(
            1 for i, group in enumerate(people) if group and all(group != o for j, o in enumerate(people) if j != i)
        )
        what = "levels with distinct people"
    else:
        counted = len(people)
        what = "levels"
    seen = {"ref": ref, "levels": len(people), "counted": counted, "people": [sorted(group) for group in people]}
    seen = shorten(seen)
    if counted >= minimum:
        return result(State.PASS, fact, seen, f"{ref} has {counted} {what} (at least {minimum} needed)")
    return result(State.FAIL, fact, seen, f"{ref} has {counted} {what}, at least {minimum} needed")


def _coverage(
    params: Mapping[str, Any], entity: Mapping[str, Any], facts: Facts, now: datetime
) -> tuple[State, Evidence]:
    days = params["days"]
    fact = facts[coverage_key(days)]
    if not isinstance(fact.value, Mapping):
        return _no_policy(fact)
    percent = float(fact.value.get("percent", 0.0))
    longest = float(fact.value.get("longest_gap_hours", 0.0))
    seen = {"percent": percent, "longest_gap_hours": longest, "gaps": shorten(list(fact.value.get("gaps") or []))}
    problems = []
    if "minPercent" in params and percent < params["minPercent"]:
        problems.append(
            f"level 1 covers {percent:.1f}% of the next {days} days, at least {params['minPercent']}% needed"
        )
    if "maxGapHours" in params and longest > params["maxGapHours"]:
        problems.append(f"the longest level-1 gap is {longest:g} h, at most {params['maxGapHours']} h allowed")
    if problems:
        return result(State.FAIL, fact, seen, "; ".join(problems))
    return result(
        State.PASS, fact, seen, f"level 1 covers {percent:.1f}% of the next {days} days, longest gap {longest:g} h"
    )


def _rotation_size(
    params: Mapping[str, Any], entity: Mapping[str, Any], facts: Facts, now: datetime
) -> tuple[State, Evidence]:
    fact = facts[ROTATION]
    if not isinstance(fact.value, Mapping):
        return _no_policy(fact)
    size = int(fact.value.get("size", 0))
    seen = {"size": size, "schedules": shorten(dict(fact.value.get("schedules") or {}))}
    if size >= params["min"]:
        return result(State.PASS, fact, seen, f"{size} people share level 1 (at least {params['min']} needed)")
    return result(State.FAIL, fact, seen, f"{size} people share level 1, at least {params['min']} needed")


def _balance(
    params: Mapping[str, Any], entity: Mapping[str, Any], facts: Facts, now: datetime
) -> tuple[State, Evidence]:
    days = params.get("days", DEFAULT_BALANCE_DAYS)
    fact = facts[hours_key(days)]
    if not isinstance(fact.value, Mapping):
        return _no_policy(fact)
    hours = {str(person): float(spent) for person, spent in fact.value.items() if float(spent) > 0}
    total = sum(hours.values())
    if not total:
        return result(State.FAIL, fact, {}, f"nobody is on call at level 1 in the next {days} days")
    person, most = max(hours.items(), key=lambda item: (item[1], item[0]))
    share = 100.0 * most / total
    seen = {"person": person, "share_percent": round(share, 2), "hours": shorten(hours)}
    limit = params["maxSharePercent"]
    if share > limit:
        return result(
            State.FAIL,
            fact,
            seen,
            f"{person} carries {share:.1f}% of level-1 hours in the next {days} days (at most {limit}%)",
        )
    return result(State.PASS, fact, seen, f"nobody carries more than {share:.1f}% of level-1 hours (at most {limit}%)")


def _coverage_params(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    if "minPercent" not in params and "maxGapHours" not in params:
        return [("", "give minPercent, maxGapHours or both")]
    return []


HAS_POLICY = register_rule(
    Rule(
        "oncall.has-policy",
        "Has an escalation policy",
        schema({}, []),
        lambda params, entity: {POLICY},
        _has_policy,
    )
)
LEVELS = register_rule(
    Rule(
        "oncall.levels",
        "Escalation policy has enough levels",
        schema(
            {"min": {"type": "integer", "minimum": 1, "maximum": 100}, "distinctPeople": {"type": "boolean"}}, ["min"]
        ),
        lambda params, entity: {POLICY},
        _levels,
        description="With distinctPeople (default true) only levels whose people are not empty and differ from every "
        "other level's count.",
    )
)
COVERAGE = register_rule(
    Rule(
        "oncall.coverage",
        "On-call coverage",
        schema(
            {
                "days": _DAYS,
                "minPercent": {"type": "number", "minimum": 0, "maximum": 100},
                "maxGapHours": {"type": "number", "minimum": 0},
            },
            ["days"],
        ),
        lambda params, entity: {coverage_key(params["days"])},
        _coverage,
        _coverage_params,
        description="Level 1 over the next days: at least minPercent covered and no gap longer than maxGapHours.",
    )
)
ROTATION_SIZE = register_rule(
    Rule(
        "oncall.rotation-size",
        "Rotation is large enough",
        schema({"min": {"type": "integer", "minimum": 1, "maximum": 10_000}}, ["min"]),
        lambda params, entity: {ROTATION},
        _rotation_size,
    )
)
BALANCE = register_rule(
    Rule(
        "oncall.balance",
        "On-call load is shared",
        schema(
            {"maxSharePercent": {"type": "number", "exclusiveMinimum": 0, "maximum": 100}, "days": _DAYS},
            ["maxSharePercent"],
        ),
        lambda params, entity: {hours_key(params.get("days", DEFAULT_BALANCE_DAYS))},
        _balance,
        description="Nobody holds more than maxSharePercent of level-1 hours over the next days (default 28).",
    )
)
