"""Reading scaffolder runs: one with its steps and approvals, a run's log after a given event, a user's runs."""

from __future__ import annotations

from django.db.models import QuerySet

from scaffolder.models import Event, Run


def run_get(*, run_id: str) -> Run | None:
    """One run with its creator, or None."""
    return Run.objects.select_related("created_by").filter(pk=run_id).first()


def run_list(*, user_id: int | None = None) -> QuerySet[Run]:
    """Runs, newest first; those asked for by one user when `user_id` is given."""
    runs = Run.objects.select_related("created_by").order_by("-created_at")
    return runs.filter(created_by_id=user_id) if user_id is not None else runs


def event_list(*, run: Run, after_id: int = 0, limit: int = 500) -> list[Event]:
    """A run's log in order, from after the event `after_id` (what a live view has not shown yet)."""
    return list(Event.objects.filter(run=run, id__gt=after_id).order_by("id")[:limit])
