"""Catalog tasks: refresh by id, retries on transient errors, the periodic sweep, and a real worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.db import OperationalError
from django.utils import timezone

from catalog import services, tasks
from catalog.models import Entity, Location
from portal.permissions import SYSTEM
from tests.catalog.factories import LocationFactory, component
from tests.catalog.location_helpers import write_docs
from tests.worker import running_worker, wait_for, worker_log


@pytest.fixture
def root(tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    return tmp_path


def test_location_create_refreshes_through_the_task_on_commit(db, root, django_capture_on_commit_callbacks):
    write_docs(root / "a.yaml", [component("a")])

    with django_capture_on_commit_callbacks(execute=True):
        location = services.location_create(type="file", target=str(root / "a.yaml"), actor=SYSTEM)

    assert Entity.objects.filter(location=location, name="a").exists()


def test_location_refresh_task_skips_a_deleted_location(db):
    tasks.location_refresh.delay("6a0c1c1e-0000-4000-8000-000000000000")  # no error


def test_location_refresh_task_is_idempotent(db, root):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", [component("a")])))

    tasks.location_refresh.delay(str(location.pk))
    first = Entity.objects.get(name="a").updated_at
    tasks.location_refresh.delay(str(location.pk))

    assert Entity.objects.get(name="a").updated_at == first


def test_location_refresh_task_retries_transient_errors_then_records_the_failure(db, root, monkeypatch):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", [component("a")])))
    calls = []

    def flaky(**kwargs):
        calls.append(kwargs)
        raise OperationalError("connection reset")

    monkeypatch.setattr(services, "location_refresh", flaky)

    with pytest.raises(Retry):
        tasks.location_refresh.apply(args=[str(location.pk)], retries=0, throw=True)
    location.refresh_from_db()
    assert location.state == Location.State.PENDING  # a retry is not a failure yet

    tasks.location_refresh.apply(args=[str(location.pk)], retries=tasks.MAX_RETRIES, throw=True)

    location.refresh_from_db()
    assert len(calls) == 2
    assert location.state == Location.State.FAILED
    assert "connection reset" in location.errors[0]["message"]


def test_refresh_due_task_refreshes_due_locations(db, root, django_capture_on_commit_callbacks):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", [component("a")])))
    Location.objects.filter(pk=location.pk).update(next_refresh_at=timezone.now() - timedelta(seconds=1))

    with django_capture_on_commit_callbacks(execute=True):
        tasks.refresh_due.delay()

    location.refresh_from_db()
    assert location.state == Location.State.OK
    assert location.next_refresh_at > timezone.now()


def test_refresh_due_is_declared_in_the_beat_schedule(settings):
    assert any(entry["task"] == "catalog.refresh_due" for entry in settings.CELERY_BEAT_SCHEDULE.values())


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_refreshes_a_registered_location(root, monkeypatch):
    # The worker runs with portal.settings, so the file roots reach it through the environment.
    monkeypatch.setenv("PAVED_CATALOG_FILE_ROOTS", str(root))
    write_docs(root / "a.yaml", [component("from-worker")])
    with running_worker() as worker:
        location = services.location_create(type="file", target=str(root / "a.yaml"), actor=SYSTEM)

        refreshed = wait_for(lambda: Location.objects.get(pk=location.pk).state != Location.State.PENDING)

        assert refreshed, worker_log(worker)
    assert Location.objects.get(pk=location.pk).state == Location.State.OK
    assert Entity.objects.filter(name="from-worker").exists()
