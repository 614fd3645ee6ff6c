"""Scorecards' tasks: interfaces over scorecards.services, taking ids and refs only. Periodic ones are scheduled in
portal/settings.py (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from portal.tasking import RETRYING
from scorecards import evaluation, events, jobs, services


@shared_task(name=jobs.EXEMPTIONS_EXPIRE, **RETRYING)
def exemptions_expire() -> int:
    """End approved exemptions past their expiry (every few minutes). Idempotent: an ended exemption is left alone."""
    return services.exemptions_expire()


# -- evaluation ------------------------------------------------------------------------------------------------------


@shared_task(name=jobs.EVALUATE_ENTITY, **RETRYING)
def evaluate_entity(entity_ref: str) -> None:
    """Evaluate one entity on every scorecard (after it, its owner or its on-call setup changed, or an exemption of
    it did). Idempotent: evaluating an unchanged entity again writes no transition."""
    evaluation.entity_evaluate(entity_ref=entity_ref)


@shared_task(name=events.EVALUATE_ENTITIES, **RETRYING)
def evaluate_entities(entity_refs: list[str]) -> None:
    """Evaluate a batch of entities on every scorecard (a team's services after the team changed). Idempotent."""
    evaluation.entities_evaluate(entity_refs=entity_refs)


@shared_task(name=events.EVALUATE_SCORECARD, **RETRYING)
def evaluate_scorecard(scorecard_ref: str) -> None:
    """Evaluate every entity on one scorecard after its definition changed (or remove it when it is gone)."""
    evaluation.scorecard_evaluate(scorecard_ref=scorecard_ref)


@shared_task(name=events.EVALUATE_ALL, **RETRYING)
def evaluate_all() -> None:
    """The nightly sweep: every entity on every scorecard. Idempotent."""
    evaluation.scorecard_evaluate_all()


@shared_task(name=events.REPOSITORIES_POLL, ignore_result=True, expires=25)
def repositories_poll() -> int:
    """Every 30 seconds: evaluate again the entities whose repository's head moved. Returns how many."""
    return len(evaluation.repositories_poll())
