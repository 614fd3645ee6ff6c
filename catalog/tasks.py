"""Catalog tasks: interfaces over catalog.services, taking ids only. Services enqueue them through catalog.jobs."""

from __future__ import annotations

import structlog
from celery import shared_task

from catalog import jobs, services
from catalog.models import Location
from portal.tasking import RETRYING, RecordsFailure

log = structlog.get_logger(__name__)


class LocationRefreshTask(RecordsFailure):
    """A refresh that gives up is recorded on its location by `location_refresh_fail`: its entities stay, the
    error and the failed attempt show."""

    id_argument = "location_id"

    def record_failure(self, object_id: str, error: str) -> None:
        location = Location.objects.filter(pk=object_id).first()
        if location is not None:
            services.location_refresh_fail(location=location, error=error)


@shared_task(name=jobs.LOCATION_REFRESH, base=LocationRefreshTask, **RETRYING)
def location_refresh(location_id: str) -> None:
    """Refresh one location. Idempotent: a deleted location is skipped and unchanged sources write nothing."""
    location = Location.objects.filter(pk=location_id).first()
    if location is None:
        log.info("catalog.location_refresh.skipped", location_id=location_id, reason="location deleted")
        return
    services.location_refresh(location=location)


@shared_task(name=jobs.REFRESH_DUE, ignore_result=True)
def refresh_due() -> None:
    """Periodic (CELERY_BEAT_SCHEDULE): enqueue the locations whose refresh is due. Not retried: the beat runs it
    again within a minute."""
    count = services.locations_refresh_due()
    if count:
        log.info("catalog.refresh_due.enqueued", count=count)
