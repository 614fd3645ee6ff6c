"""Catalog tasks: interfaces over catalog.services, taking ids only."""

from __future__ import annotations

from typing import Any, Final

import structlog
from celery import Task, shared_task
from django.db import DatabaseError, InterfaceError, OperationalError

from catalog import services
from catalog.models import Location

log = structlog.get_logger(__name__)

MAX_RETRIES: Final = 5
# Read failures of sources are not exceptions (the service records them); what is left is the database going away.
TRANSIENT: Final = (OperationalError, InterfaceError)


@shared_task(name="catalog.location_refresh", bind=True, ignore_result=True, max_retries=MAX_RETRIES, acks_late=True)
def location_refresh(self: Task[Any, Any], location_id: str) -> None:
    """Refresh one location. Idempotent: a deleted location is skipped and unchanged sources write nothing."""
    location = Location.objects.filter(pk=location_id).first()
    if location is None:
        log.info("catalog.location_refresh.skipped", location_id=location_id, reason="location deleted")
        return
    try:
        services.location_refresh(location=location)
    except TRANSIENT as exc:
        if self.request.retries >= MAX_RETRIES:
            _fail(location_id, exc)
            return
        raise self.retry(exc=exc, countdown=min(10 * 2**self.request.retries, 600)) from None
    except DatabaseError as exc:
        _fail(location_id, exc)
        raise


def _fail(location_id: str, exc: Exception) -> None:
    log.warning("catalog.location_refresh.failed", location_id=location_id, error=str(exc))
    location = Location.objects.filter(pk=location_id).first()
    if location is not None:
        services.location_refresh_fail(location=location, error=str(exc) or type(exc).__name__)


@shared_task(name="catalog.refresh_due", ignore_result=True)
def refresh_due() -> None:
    """Periodic (CELERY_BEAT_SCHEDULE): enqueue the locations whose refresh is due."""
    count = services.locations_refresh_due()
    if count:
        log.info("catalog.refresh_due.enqueued", count=count)
