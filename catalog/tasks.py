"""Catalog tasks: interfaces over catalog.services, taking ids only. Services enqueue them through catalog.jobs."""

from __future__ import annotations

import structlog
from celery import shared_task
from django.core.cache import cache

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
def location_refresh(location_id: str, changed_only: bool = False, entity_source: str | None = None) -> None:
    """Refresh one location (`entity_source`: for one of its entities, see `services.location_refresh`).
    Idempotent: a deleted location is skipped and unchanged sources write nothing."""
    location = Location.objects.filter(pk=location_id).first()
    if location is None:
        log.info("catalog.location_refresh.skipped", location_id=location_id, reason="location deleted")
        return
    services.location_refresh(
        location=location,
        changed_only=changed_only is True,
        entity_source=entity_source if isinstance(entity_source, str) else None,
    )


@shared_task(name=jobs.REFRESH_DUE, ignore_result=True)
def refresh_due() -> None:
    """Periodic (CELERY_BEAT_SCHEDULE, every 30 s): enqueue a refresh of the `file` locations whose files changed,
    then of every location whose full re-read is due. Not retried: the beat runs it again within 30 s."""
    changed = services.locations_refresh_changed()
    due = services.locations_refresh_due()
    if changed or due:
        log.info("catalog.refresh_due.enqueued", changed=changed, due=due)


@shared_task(name=jobs.TABLES_ANALYZE, ignore_result=True)
def tables_analyze() -> None:
    """After a bulk refresh has committed: fresh planner statistics and visibility maps for the catalog tables.
    Idempotent; the pending mark goes first, so a write committing while this runs queues another analysis."""
    try:
        cache.delete(jobs.analyze_pending_key())
    except Exception as error:  # the mark expires by itself; a cache that is down must not stop the analysis
        log.warning("catalog.tables_analyze.cache_unavailable", error=type(error).__name__)
    tables = services.catalog_tables_analyze()
    log.info("catalog.tables_analyzed", tables=tables)
