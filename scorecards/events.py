"""What makes scorecards follow the catalog: the change listener the catalog calls after each commit
(`catalog.extensions.register_change_listener`), and the evaluation tasks it enqueues, by name.

- a changed Scorecard is evaluated again over every entity (`scorecards.evaluate_scorecard`);
- a changed Group, User, Schedule or EscalationPolicy re-scores the entities whose owner or on-call facts read it
  (found with a few indexed queries: owned entities, policies paging a schedule, entities annotated with a policy);
- any other changed entity (created, changed, orphaned or deleted) is evaluated again (`scorecards.evaluate_entity`).

Entities go in batches of ENTITY_BATCH per task, so a team of five hundred services is one handful of tasks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

import structlog

from catalog.models import Entity, Relation, SearchEntry
from catalog.oncall.loading import POLICY_ANNOTATION
from portal.celery import app
from scorecards import jobs
from scorecards.models import Score

log = structlog.get_logger(__name__)

EVALUATE_ENTITY: Final = jobs.EVALUATE_ENTITY
EVALUATE_ENTITIES: Final = "scorecards.evaluate_entities"
EVALUATE_SCORECARD: Final = "scorecards.evaluate_scorecard"
EVALUATE_ALL: Final = "scorecards.evaluate_all"
REPOSITORIES_POLL: Final = "scorecards.repositories_poll"
ENTITY_BATCH: Final = 200
_ORG_KINDS: Final = ("group", "user", "schedule", "escalationpolicy")


def _send(name: str, **kwargs: Any) -> None:
    app.signature(name, kwargs=kwargs).apply_async()


def _ref_forms(ref: str) -> list[str]:
    """How a descriptor may write `ref` (`payments`, `escalationpolicy:payments`, `default/payments`, full)."""
    kind, _, rest = ref.lower().partition(":")
    namespace, _, name = rest.partition("/")
    return sorted({ref.lower(), f"{namespace}/{name}", f"{kind}:{name}", name})


def _owned_by(owner_refs: Iterable[str]) -> set[str]:
    refs = sorted(set(owner_refs))
    return set(Entity.objects.filter(owner_ref__in=refs).values_list("ref", flat=True)) if refs else set()


def dependents(*, refs: Sequence[str]) -> set[str]:
    """Entities whose facts read these org or on-call entities (themselves included). About six queries."""
    by_kind: dict[str, set[str]] = {}
    for ref in refs:
        by_kind.setdefault(ref.partition(":")[0], set()).add(ref)
    found: set[str] = set(refs)
    groups = set(by_kind.get("group", ()))
    users = by_kind.get("user", set())
    if users:
        groups |= set(
            Relation.objects.filter(source_ref__in=sorted(users), type="memberOf").values_list("target_ref", flat=True)
        )
    policies = set(by_kind.get("escalationpolicy", ()))
    schedules = by_kind.get("schedule", set())
    if schedules:
        forms = sorted({form for ref in schedules for form in _ref_forms(ref)})
        ids = SearchEntry.objects.filter(key="spec.levels.targets", value__in=forms).values("entity_id")
        policies |= set(
            Entity.objects.filter(pk__in=ids, kind__iexact="escalationpolicy").values_list("ref", flat=True)
        )
    if policies:
        forms = sorted({form for ref in policies for form in _ref_forms(ref)})
        annotated = SearchEntry.objects.filter(key=f"metadata.annotations.{POLICY_ANNOTATION}", value__in=forms)
        rows = Entity.objects.filter(pk__in=annotated.values("entity_id")).values_list("ref", "kind")
        for ref, kind in rows:
            found.add(ref)
            if kind.lower() == "group":  # the policy of every entity the group owns, unless one names its own
                groups.add(ref)
    found |= groups | users | _owned_by(groups | users)
    return found


def _any_scorecard() -> bool:
    # Refs are stored lower-cased and start with the kind: a prefix walk of the ref index (`kind__iexact` scanned
    # every entity, ~25 ms of every catalog write at 100k entities).
    return Entity.objects.filter(ref__startswith="scorecard:").exists() or Score.objects.exists()


def catalog_changed(refs: Sequence[str]) -> None:
    """The change listener: enqueue the evaluations these catalog changes call for (see the module docstring).
    Without any scorecard, in the catalog or stored, nothing is enqueued (one query)."""
    scorecards = sorted(ref for ref in refs if ref.startswith("scorecard:"))
    if not scorecards and not _any_scorecard():
        return
    org = [ref for ref in refs if ref.partition(":")[0] in _ORG_KINDS]
    entities = {ref for ref in refs if not ref.startswith("scorecard:")}
    if org:
        entities |= dependents(refs=org)
    for ref in scorecards:
        _send(EVALUATE_SCORECARD, scorecard_ref=ref)
    ordered = sorted(entities)
    if len(ordered) == 1:
        _send(EVALUATE_ENTITY, entity_ref=ordered[0])
        return
    for start in range(0, len(ordered), ENTITY_BATCH):
        _send(EVALUATE_ENTITIES, entity_refs=ordered[start : start + ENTITY_BATCH])
    log.info("scorecards.catalog_changed", entities=len(ordered), scorecards=len(scorecards))
