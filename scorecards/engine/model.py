"""The scorecard vocabulary: definitions (what a Scorecard asks), facts (what was observed) and results.

Everything here is a frozen dataclass of plain values, so results can be stored as JSON (``to_dict``) and compared in
tests. Times are timezone-aware datetimes.

The five result states, and what each means to the level computation (see ``scorecards.engine.evaluate``):

- ``pass``: the check holds.
- ``fail``: the check was judged on fresh, complete data and does not hold. Only a rule's own judgement of data it
  has produces a fail; missing or broken data never does.
- ``not-applicable``: the check does not apply to this entity — the check's ``filter`` excludes it, or the scorecard's
  filter does. Counts as passing for levels and is left out of the percentage.
- ``error``: a fact the check needs was not collected, or its collector reported an error (e.g. no repository is known
  for the service, the git host failed). Neither passing nor failing: it leaves the level above the last confirmed one
  *unconfirmed* and is left out of the percentage.
- ``stale``: a fact the check needs is older than its freshness limit. Treated exactly like ``error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final


class State(StrEnum):
    PASS = "pass"  # noqa: S105 - a state, not a password
    FAIL = "fail"
    NOT_APPLICABLE = "not-applicable"
    ERROR = "error"
    STALE = "stale"


#: States that say nothing about whether the check holds: the data to judge it is missing, broken or too old.
UNKNOWN_STATES: Final = frozenset({State.ERROR, State.STALE})


@dataclass(frozen=True, slots=True)
class Level:
    """One maturity level of a scorecard; ``rank`` 0 is the lowest."""

    name: str
    rank: int


@dataclass(frozen=True, slots=True)
class CheckDef:
    """One check of a scorecard, as declared in ``spec.checks[]``.

    ``params`` are the rule's parameters (``rule`` minus its ``type``), already valid against the rule's schema.
    ``filter`` (Backstage filter syntax, tuple of alternatives, empty = every entity) makes the check
    ``not-applicable`` to entities it does not match. ``weight`` (>= 0, default 1) weighs the check in the percentage.
    """

    id: str
    level: str
    title: str
    rule_type: str
    params: Mapping[str, Any]
    remediation: str = ""
    remediation_url: str = ""
    weight: float = 1.0
    filter: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class ScorecardDef:
    """A parsed Scorecard entity: ``ref`` (``scorecard:<namespace>/<name>``), the entities it applies to (``filter``,
    Backstage filter syntax: alternatives OR-ed, empty = every entity), its ``levels`` lowest first, and its checks in
    declaration order."""

    ref: str
    title: str
    filter: tuple[str, ...]
    levels: tuple[Level, ...]
    checks: tuple[CheckDef, ...]
    owner: str = ""
    description: str = ""

    def level_named(self, name: str) -> Level | None:
        return next((level for level in self.levels if level.name == name), None)

    def checks_at(self, level: str) -> tuple[CheckDef, ...]:
        return tuple(check for check in self.checks if check.level == level)


@dataclass(frozen=True, slots=True)
class Fact:
    """One observation about one entity, as a collector stored it.

    ``key`` names the fact (see ``scorecards.checks`` for every key and its value shape); ``value`` is JSON (None
    when ``error`` is set); ``source`` says where it was read (``catalog``, ``git:<repo>@<commit>:<path>``,
    ``oncall:<policy ref>``); ``collected_at`` is when. ``error`` is the collector's sentence when it could not
    collect the fact — such a fact makes every check needing it ``error``, never ``fail``.
    """

    key: str
    value: Any
    source: str
    collected_at: datetime
    error: str | None = None


#: The facts of one entity, by key.
Facts = Mapping[str, Fact]


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a result rests on: the value seen, where and when it was observed, and a sentence for people."""

    value: Any
    source: str
    observed_at: datetime | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "source": self.source,
            "observed_at": self.observed_at.isoformat() if self.observed_at else None,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check for one entity.

    ``state`` is what the rule found; ``exempt`` says an exemption covers the check, in which case it counts as
    passing for the level and the percentage whatever ``state`` is (unless ``not-applicable``), while ``state`` still
    shows what is true. ``remediation``/``remediation_url`` are copied from the check so a result can be shown alone.
    """

    check_id: str
    level: str
    title: str
    state: State
    evidence: Evidence
    remediation: str = ""
    remediation_url: str = ""
    exempt: bool = False
    weight: float = 1.0

    @property
    def counts_as_passing(self) -> bool:
        return self.state is not State.NOT_APPLICABLE and (self.exempt or self.state is State.PASS)

    @property
    def counts_as_failing(self) -> bool:
        return not self.exempt and self.state is State.FAIL

    @property
    def unknown(self) -> bool:
        return not self.exempt and self.state in UNKNOWN_STATES

    def to_dict(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "level": self.level,
            "title": self.title,
            "state": str(self.state),
            "evidence": self.evidence.to_dict(),
            "remediation": self.remediation,
            "remediation_url": self.remediation_url,
            "exempt": self.exempt,
            "weight": self.weight,
        }


@dataclass(frozen=True, slots=True)
class ScorecardResult:
    """One entity graded against one scorecard.

    - ``applicable``: False when the scorecard's filter does not match the entity (every check is then
      ``not-applicable`` and ``level`` is None).
    - ``level``: the highest level held (every check of it and of every lower level passes, is exempt or is
      not-applicable), None when not even the lowest is held.
    - ``next_level``: the level above ``level``, None when the top level is held.
    - ``next_level_needs``: ids of the checks of ``next_level`` that fail or are unknown (error/stale), in declaration
      order: what to fix (or to collect) to reach it.
    - ``unconfirmed``: ids of the checks of ``next_level`` that are error or stale. Non-empty means the entity may
      hold ``next_level`` but it could not be confirmed ("Silver unknown because ..."); empty means ``next_level`` is
      plainly not held (or there is none).
    - ``percent``: 100 * weight of checks counting as passing / weight of checks counting as passing or failing,
      over every level; None when no check counts either way (all not-applicable/unknown, or all weights 0).
    """

    scorecard_ref: str
    entity_ref: str
    applicable: bool
    level: str | None
    next_level: str | None
    percent: float | None
    checks: tuple[CheckResult, ...]
    next_level_needs: tuple[str, ...] = ()
    unconfirmed: tuple[str, ...] = ()
    evaluated_at: datetime | None = None

    def check(self, check_id: str) -> CheckResult | None:
        return next((result for result in self.checks if result.check_id == check_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scorecard_ref": self.scorecard_ref,
            "entity_ref": self.entity_ref,
            "applicable": self.applicable,
            "level": self.level,
            "next_level": self.next_level,
            "percent": self.percent,
            "next_level_needs": list(self.next_level_needs),
            "unconfirmed": list(self.unconfirmed),
            "evaluated_at": self.evaluated_at.isoformat() if self.evaluated_at else None,
            "checks": [result.to_dict() for result in self.checks],
        }


@dataclass(frozen=True, slots=True)
class Problem:
    """A validation problem of a Scorecard spec: ``path`` inside ``spec`` (``checks[2].rule.path``), a sentence, and
    a machine-readable ``code`` (``unknown-rule-type``, ``bad-params``, ``duplicate-check-id``, ``duplicate-level``,
    ``unknown-level``, ``bad-filter``, ``bad-shape``)."""

    path: str
    message: str
    code: str = field(default="bad-shape")
