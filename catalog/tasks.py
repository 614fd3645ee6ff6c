"""Catalog tasks: interfaces over catalog.services, taking ids only. Services enqueue them through catalog.jobs."""

from __future__ import annotations

from typing import Any, Final

import structlog
from billiard.einfo import ExceptionInfo
from celery import Task, shared_task
from django.core.exceptions import ValidationError
from django.db import DatabaseError, InterfaceError, OperationalError

from catalog import jobs, services
from catalog.models import Location

log = structlog.get_logger(__name__)

MAX_RETRIES: Final = 5
# Read failures of sources are not exceptions (the service records them); what is left is the database going away.
TRANSIENT: Final = (OperationalError, InterfaceError)


class LocationRefreshTask(Task[Any, Any]):
    """A refresh that ends in an error (retries used up, or an error not worth retrying) is recorded on its
    location by `location_refresh_fail`: its entities stay, the error and the failed attempt show."""

    def on_failure(
        self, exc: Exception, task_id: str, args: tuple[Any, ...], kwargs: dict[str, Any], einfo: ExceptionInfo
    ) -> None:
        location_id = kwargs.get("location_id", args[0] if args else None)
        log.warning("catalog.location_refresh.failed", location_id=location_id, error=str(exc))
        if not isinstance(location_id, str):
            return
        try:
            location = Location.objects.filter(pk=location_id).first()
            if location is not None:
                services.location_refresh_fail(location=location, error=str(exc) or type(exc).__name__)
        except (DatabaseError, ValidationError) as failure:  # the database that failed may be gone still; a bad id
            log.error("catalog.location_refresh.fail_not_recorded", location_id=location_id, error=str(failure))


@shared_task(
    name=jobs.LOCATION_REFRESH,
    base=LocationRefreshTask,
    ignore_result=True,
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=10,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
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
