"""Grade one entity against one scorecard, from the facts collected for it.

Per check (``evaluate_check``), in this order:

1. the scorecard's filter does not match the entity, or the check's ``filter`` does not: ``not-applicable``;
2. the rule type is no longer registered, or its parameters no longer fit it: ``error``;
3. a fact the rule needs (``Rule.facts``) is absent, or its collector recorded an error: ``error``;
4. a fact the rule needs is older than its freshness limit (``max_age``): ``stale``;
5. otherwise the rule judges: ``pass`` or ``fail`` (or, where the rule says so, ``error``/``not-applicable``); a
   rule that cannot read a fact's value (not the documented shape) gives ``error``.

Missing, broken or old data therefore never becomes ``fail``.

Levels (``level_of``): walk the levels lowest first. A check *counts as passing* when it passes or is exempt (and is
not ``not-applicable``), *counts as failing* when it fails and is not exempt, and is *unknown* when it is ``error`` or
``stale`` and not exempt; ``not-applicable`` checks are passed over. A level is held when every check of it counts as
passing or is not-applicable, and every lower level is held. The walk stops at the first level with a failing or
unknown check: that is ``next_level``; its failing and unknown checks are ``next_level_needs``, its unknown ones are
``unconfirmed`` ("Silver could not be confirmed: ..."). So an unknown check never lowers a level below what the
same check failing would give, and never lets an entity hold a level it might not hold.

Percentage: ``100 * Σ weight(counting as passing) / Σ weight(counting as passing or failing)`` over all levels, None
when the denominator is 0. Not-applicable and unknown checks are left out of both sums; exempt checks count as passing
whatever their state (unless not-applicable).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from catalog.descriptors.refs import entity_ref
from scorecards.checks import rule_find
from scorecards.engine.filters import FilterError, entity_matches
from scorecards.engine.model import CheckDef, CheckResult, Evidence, Facts, ScorecardDef, ScorecardResult, State

MaxAge = timedelta | Mapping[str, timedelta] | None


def freshness_limit(key: str, max_age: MaxAge) -> timedelta | None:
    """The freshness limit of a fact key.

    ``max_age`` is one limit for every fact, or limits by key prefix — the longest prefix of the key wins, so
    ``{"repo.": 1 day, "oncall.coverage:": 1 hour, "": 7 days}`` works — or None for no limit. A key no prefix
    matches has no limit.
    """
    if max_age is None or isinstance(max_age, timedelta):
        return max_age
    matches = [prefix for prefix in max_age if key.startswith(prefix)]
    return max_age[max(matches, key=len)] if matches else None


def _needed(check: CheckDef, entity: Mapping[str, Any]) -> set[str] | None:
    rule = rule_find(check.rule_type)
    return None if rule is None else set(rule.facts(check.params, entity))


def facts_needed(scorecard: ScorecardDef, entity: Mapping[str, Any]) -> set[str]:
    """Every fact key the scorecard's checks read for this entity (some keys depend on the entity, e.g. the template
    version facts name the entity's template). Checks the entity is excluded from by filters need nothing."""
    if not _matches(scorecard.filter, entity):
        return set()
    keys: set[str] = set()
    for check in scorecard.checks:
        if _matches(check.filter, entity):
            keys |= _needed(check, entity) or set()
    return keys


def _matches(alternatives: Iterable[str], entity: Mapping[str, Any]) -> bool:
    try:
        return entity_matches(alternatives, entity)
    except FilterError:
        # parse_scorecard refuses bad filters; a hand-built definition with one applies to nobody rather than to all.
        return False


def _result(check: CheckDef, state: State, evidence: Evidence, exempt: bool) -> CheckResult:
    return CheckResult(
        check_id=check.id,
        level=check.level,
        title=check.title,
        state=state,
        evidence=evidence,
        remediation=check.remediation,
        remediation_url=check.remediation_url,
        exempt=exempt,
        weight=check.weight,
    )


def evaluate_check(
    check: CheckDef,
    entity: Mapping[str, Any],
    facts: Facts,
    *,
    now: datetime,
    max_age: MaxAge = None,
    exempt: bool = False,
    applicable: bool = True,
) -> CheckResult:
    """One check's result (see the module docstring for the order of decisions)."""
    if not applicable:
        return _result(check, State.NOT_APPLICABLE, Evidence(None, "", None, "the scorecard does not apply"), exempt)
    if check.filter and not _matches(check.filter, entity):
        message = f"does not apply: the entity does not match {' or '.join(check.filter)}"
        return _result(check, State.NOT_APPLICABLE, Evidence(None, "scorecard", None, message), exempt)
    rule = rule_find(check.rule_type)
    if rule is None:
        message = f"rule type {check.rule_type!r} is not known to this Paved"
        return _result(check, State.ERROR, Evidence(None, "scorecard", None, message), exempt)
    problems = rule.params_problems(check.params)
    if problems:
        message = "; ".join(f"{where or 'rule'}: {what}" for where, what in problems)
        return _result(check, State.ERROR, Evidence(None, "scorecard", None, f"bad parameters: {message}"), exempt)
    for key in sorted(rule.facts(check.params, entity)):
        fact = facts.get(key)
        if fact is None:
            return _result(check, State.ERROR, Evidence(None, "", None, f"fact {key} has not been collected"), exempt)
        if fact.error is not None:
            evidence = Evidence(None, fact.source, fact.collected_at, f"{key} could not be collected: {fact.error}")
            return _result(check, State.ERROR, evidence, exempt)
        limit = freshness_limit(key, max_age)
        if limit is not None and now - fact.collected_at > limit:
            age = now - fact.collected_at
            message = f"{key} was collected {_age(age)} ago, more than the {_age(limit)} allowed"
            return _result(check, State.STALE, Evidence(None, fact.source, fact.collected_at, message), exempt)
    try:
        state, evidence = rule.judge(check.params, entity, facts, now)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError) as error:
        # A fact whose value does not have its documented shape is broken data, never a fail.
        message = f"{check.rule_type} could not read its facts ({type(error).__name__}: {str(error)[:200]})"
        return _result(check, State.ERROR, Evidence(None, "", None, message), exempt)
    return _result(check, state, evidence, exempt)


def _age(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds % 86400 == 0 and seconds:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0 and seconds:
        return f"{seconds // 3600}h"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds // 60}m"


def level_of(
    scorecard: ScorecardDef, results: Iterable[CheckResult]
) -> tuple[str | None, str | None, tuple[str, ...], tuple[str, ...]]:
    """``(level, next_level, next_level_needs, unconfirmed)`` from check results (the rule in the module docstring)."""
    by_level: dict[str, list[CheckResult]] = {}
    for result in results:
        by_level.setdefault(result.level, []).append(result)
    held: str | None = None
    for level in scorecard.levels:
        checks = by_level.get(level.name, [])
        blocking = tuple(result.check_id for result in checks if result.counts_as_failing or result.unknown)
        if blocking:
            unknown = tuple(result.check_id for result in checks if result.unknown)
            return held, level.name, blocking, unknown
        held = level.name
    return held, None, (), ()


def percent_of(results: Iterable[CheckResult]) -> float | None:
    """The weighted percentage (the rule in the module docstring), None when no check counts either way."""
    passing = failing = 0.0
    for result in results:
        if result.counts_as_passing:
            passing += result.weight
        elif result.counts_as_failing:
            failing += result.weight
    total = passing + failing
    return None if total == 0 else 100.0 * passing / total


def evaluate(
    scorecard: ScorecardDef,
    entity: Mapping[str, Any],
    facts: Facts,
    *,
    now: datetime,
    exemptions: Iterable[str] = (),
    max_age: MaxAge = None,
) -> ScorecardResult:
    """Grade ``entity`` (its catalog document) against ``scorecard`` from ``facts``.

    ``exemptions`` are the ids of the checks an active exemption covers for this entity (ids the scorecard does not
    have are ignored); ``max_age`` is the freshness limit of facts (see ``freshness_limit``); ``now`` is the instant
    of evaluation (aware), used for staleness and by rules that look ahead.
    """
    if now.tzinfo is None:
        raise ValueError("evaluate needs an aware datetime for now")
    exempt = set(exemptions)
    applicable = _matches(scorecard.filter, entity)
    results = tuple(
        evaluate_check(check, entity, facts, now=now, max_age=max_age, exempt=check.id in exempt, applicable=applicable)
        for check in scorecard.checks
    )
    found = entity_ref(entity)
    ref = str(found) if found else ""
    if not applicable:
        return ScorecardResult(scorecard.ref, ref, False, None, None, None, results, evaluated_at=now)
    level, next_level, needs, unconfirmed = level_of(scorecard, results)
    return ScorecardResult(
        scorecard_ref=scorecard.ref,
        entity_ref=ref,
        applicable=True,
        level=level,
        next_level=next_level,
        percent=percent_of(results),
        checks=results,
        next_level_needs=needs,
        unconfirmed=unconfirmed,
        evaluated_at=now,
    )
