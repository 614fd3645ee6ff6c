"""Scorecards' tasks: interfaces over scorecards.services, taking ids and refs only. Periodic ones are scheduled in
portal/settings.py (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from portal.tasking import RETRYING
from scorecards import jobs, services


@shared_task(name=jobs.EXEMPTIONS_EXPIRE, **RETRYING)
def exemptions_expire() -> int:
    """End approved exemptions past their expiry (every few minutes). Idempotent: an ended exemption is left alone."""
    return services.exemptions_expire()
