"""Fresh planner statistics after a bulk refresh on PostgreSQL: analysed by the worker once the refresh has
committed, debounced, VACUUM (ANALYZE) outside a transaction and ANALYZE inside one; nothing on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection

from catalog import jobs, services, tasks
from catalog.models import Entity
from tests.catalog.factories import ComponentDictFactory, new_location, write_docs


@pytest.fixture
def root(tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    return tmp_path


@pytest.fixture
def analyses(monkeypatch) -> Iterator[list[int]]:
    """Counts the analyses that run (the task is eager in tests); the pending mark starts cleared."""
    cache.delete(jobs.analyze_pending_key())
    calls: list[int] = []
    real = services.catalog_tables_analyze

    def counted() -> list[str]:
        calls.append(1)
        return real()

    monkeypatch.setattr(services, "catalog_tables_analyze", counted)
    yield calls
    cache.delete(jobs.analyze_pending_key())


def test_a_bulk_refresh_analyses_the_catalog_tables_after_it_commits(
    db, root, monkeypatch, analyses, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "ANALYZE_AFTER_ROWS", 3)
    path = write_docs(root / "a.yaml", [ComponentDictFactory(name=f"c{n}") for n in range(3)])
    location = new_location(type="file", target=str(path))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.location_refresh(location=location)
        assert analyses == []  # not before the refresh has committed
    for callback in callbacks:
        callback()

    assert Entity.objects.filter(location=location).count() == 4  # and the Location entity
    assert analyses == ([1] if connection.vendor == "postgresql" else [])


def test_a_small_or_unchanged_refresh_leaves_the_statistics_to_autovacuum(
    db, root, monkeypatch, analyses, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "ANALYZE_AFTER_ROWS", 3)
    path = write_docs(root / "a.yaml", [ComponentDictFactory(name="c0")])
    location = new_location(type="file", target=str(path))

    with django_capture_on_commit_callbacks(execute=True):
        services.location_refresh(location=location)  # 2 entities written: under the threshold
    write_docs(path, [ComponentDictFactory(name=f"c{n}") for n in range(3)])
    with django_capture_on_commit_callbacks(execute=True):
        services.location_refresh(location=location)  # 2 created, 0 updated
    assert analyses == []
    write_docs(path, [ComponentDictFactory(name=f"c{n}", description="new") for n in range(3)])
    with django_capture_on_commit_callbacks(execute=True):
        services.location_refresh(location=location)  # 3 updated
    with django_capture_on_commit_callbacks(execute=True):
        services.location_refresh(location=location)  # unchanged: nothing written
    assert analyses == ([1] if connection.vendor == "postgresql" else [])


def test_analysis_requests_are_debounced_until_the_queued_one_starts(db, monkeypatch, analyses):
    sent: list[dict[str, Any]] = []

    class Signature:
        def __init__(self, name: str) -> None:
            self.name = name

        def apply_async(self, **options: Any) -> None:
            sent.append({"name": self.name, **options})

    monkeypatch.setattr(jobs.app, "signature", Signature)

    for _ in range(5):
        jobs._analyze_once()
    assert sent == [{"name": jobs.TABLES_ANALYZE, "countdown": jobs.ANALYZE_DELAY_SECONDS}]

    tasks.tables_analyze()  # the queued one starts: a write committing from now on queues the next
    jobs._analyze_once()
    assert len(sent) == 2
    assert analyses == [1]


def _statistics(table: str) -> tuple[float, int]:
    """(rows the planner believes, pages marked all-visible)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples, relallvisible FROM pg_class WHERE relname = %s", [table])
        reltuples, all_visible = cursor.fetchone()
    return float(reltuples), int(all_visible)


def _ingest(root, count: int) -> None:
    path = write_docs(root / "bulk.yaml", [ComponentDictFactory(name=f"bulk-{n}") for n in range(count)])
    services.location_refresh(location=new_location(type="file", target=str(path)))


def _sqlite_statistics_exist() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        return bool(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_postgresql_gets_statistics_and_visibility_maps_and_sqlite_is_left_alone(root):
    _ingest(root, 60)

    analysed = services.catalog_tables_analyze()

    if connection.vendor == "postgresql":
        assert analysed == ["catalog_entity", "catalog_searchentry", "catalog_relation"]
        rows, all_visible = _statistics("catalog_entity")
        assert rows == Entity.objects.count()
        assert all_visible > 0  # VACUUM ran: index-only scans need no heap fetches
        assert _statistics("catalog_searchentry")[0] > 60
    else:  # SQLite's ANALYZE would take the database's only write lock from web requests
        assert analysed == []
        assert not _sqlite_statistics_exist()


def test_inside_a_transaction_postgresql_analyses_without_vacuum(db, root):
    _ingest(root, 60)

    analysed = services.catalog_tables_analyze()

    if connection.vendor == "postgresql":
        assert _statistics("catalog_entity")[0] == Entity.objects.count()
    else:
        assert analysed == []
        assert not _sqlite_statistics_exist()
