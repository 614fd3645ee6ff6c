"""Reads of what the evaluation stored: an entity's results on every scorecard, and the scorecards with how many
entities hold each level. Checks are shown with the title and remediation link of the definition that produced them
(the `Scorecard` row), in the definition's order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count

from catalog.models import Entity
from scorecards.engine.scorecard import level_name
from scorecards.models import Result, Score, Scorecard


@dataclass(frozen=True)
class CheckView:
    id: str
    title: str
    level: str
    state: str
    exempt: bool
    evidence: Mapping[str, Any]
    remediation: str
    remediation_url: str


@dataclass(frozen=True)
class EntityScore:
    scorecard_ref: str
    title: str
    level: str | None
    next_level: str | None
    percent: float | None
    evaluated_at: datetime
    checks: list[CheckView]


@dataclass(frozen=True)
class LevelShare:
    level: str | None
    level_index: int
    count: int


@dataclass(frozen=True)
class ScorecardView:
    ref: str
    title: str
    owner_ref: str
    levels: list[str]
    checks: list[dict[str, str]]
    evaluated_at: datetime | None
    total: int
    distribution: list[LevelShare]


def _levels(definition: Mapping[str, Any]) -> list[str]:
    return [name for name in (level_name(item) for item in definition.get("levels") or []) if name]


def _checks(definition: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    checks = definition.get("checks")
    return [check for check in checks if isinstance(check, Mapping)] if isinstance(checks, list) else []


def entity_scores(*, entity_ref: str) -> list[EntityScore] | None:
    """The entity's results on every scorecard it is scored on, by scorecard title; None when the entity is neither
    in the catalog nor scored. Four queries."""
    ref = entity_ref.lower()
    scores = list(Score.objects.filter(entity_ref=ref))
    if not scores and not Entity.objects.filter(ref=ref).exists():
        return None
    cards = {row.ref: row for row in Scorecard.objects.filter(ref__in=[score.scorecard_ref for score in scores])}
    results: dict[str, dict[str, Result]] = {}
    for result in Result.objects.filter(entity_ref=ref):
        results.setdefault(result.scorecard_ref, {})[result.check_id] = result
    found = []
    for score in scores:
        card = cards.get(score.scorecard_ref)
        definition: Mapping[str, Any] = (
            card.definition if card is not None and isinstance(card.definition, Mapping) else {}
        )
        levels = _levels(definition)
        index = levels.index(score.level) if score.level in levels else -1
        stored = results.get(score.scorecard_ref, {})
        checks = []
        declared = _checks(definition)
        for check in declared:
            check_id = str(check.get("id"))
            if check_id in stored:
                checks.append(_check_view(stored.pop(check_id), check))
        checks.extend(_check_view(result, {}) for result in stored.values())
        counted = score.counts.get("counted") if isinstance(score.counts, Mapping) else None
        found.append(
            EntityScore(
                scorecard_ref=score.scorecard_ref,
                title=card.title if card is not None and card.title else score.scorecard_ref,
                level=score.level or None,
                next_level=levels[index + 1] if index + 1 < len(levels) else None,
                percent=None if counted == 0 else round(score.percent, 1),
                evaluated_at=score.evaluated_at,
                checks=checks,
            )
        )
    return sorted(found, key=lambda item: (item.title.lower(), item.scorecard_ref))


def _check_view(result: Result, check: Mapping[str, Any]) -> CheckView:
    return CheckView(
        id=result.check_id,
        title=str(check.get("title") or result.check_id),
        level=result.level,
        state=result.state,
        exempt=result.exempt,
        evidence=result.evidence if isinstance(result.evidence, Mapping) else {},
        remediation=result.remediation,
        remediation_url=str(check.get("remediationUrl") or ""),
    )


def scorecard_views(*, ref: str | None = None) -> list[ScorecardView]:
    """Every evaluated scorecard (or the one named `ref`) with how many entities hold each of its levels (none
    first, then lowest to highest). Two queries."""
    cards = Scorecard.objects.all() if ref is None else Scorecard.objects.filter(ref=ref.lower())
    rows = list(cards.order_by("title", "ref"))
    counts: dict[str, dict[str, int]] = {}
    scores = Score.objects.filter(scorecard_ref__in=[row.ref for row in rows]).values("scorecard_ref", "level")
    for item in scores.annotate(n=Count("id")).order_by():
        counts.setdefault(item["scorecard_ref"], {})[item["level"]] = item["n"]
    views = []
    for row in rows:
        definition: Mapping[str, Any] = row.definition if isinstance(row.definition, Mapping) else {}
        levels = _levels(definition)
        held = counts.get(row.ref, {})
        distribution = [LevelShare(None, -1, held.get("", 0))]
        distribution += [LevelShare(name, index, held.get(name, 0)) for index, name in enumerate(levels)]
        views.append(
            ScorecardView(
                ref=row.ref,
                title=row.title or row.ref,
                owner_ref=row.owner_ref,
                levels=levels,
                checks=[
                    {"id": str(c.get("id")), "title": str(c.get("title") or ""), "level": str(c.get("level") or "")}
                    for c in _checks(definition)
                ],
                evaluated_at=row.evaluated_at,
                total=sum(held.values()),
                distribution=distribution,
            )
        )
    return views
