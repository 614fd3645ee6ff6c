"""Catalog tasks: refresh by id, Celery's retries on transient errors, the failure hook, the periodic sweep, and a
real worker."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from celery.exceptions import Retry
from django.db import IntegrityError, InterfaceError, OperationalError
from django.utils import timezone

from catalog import jobs, services, tasks
from catalog.descriptors.errors import IssueCode
from catalog.models import Entity, Location
from portal import tasking
from portal.celery import app as celery_app
from portal.permissions import SYSTEM
from tests.catalog.factories import ComponentDictFactory, LocationFactory, write_docs
from tests.worker import running_worker, wait_for, worker_log


@pytest.fixture
def root(tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    return tmp_path


def test_location_create_refreshes_through_the_task_on_commit(db, root, django_capture_on_commit_callbacks):
    write_docs(root / "a.yaml", [ComponentDictFactory(name="a")])

    with django_capture_on_commit_callbacks(execute=True):
        location = services.location_create(type="file", target=str(root / "a.yaml"), actor=SYSTEM)

    assert Entity.objects.filter(location=location, name="a").exists()


def test_location_refresh_task_skips_a_deleted_location(db):
    tasks.location_refresh.delay("6a0c1c1e-0000-4000-8000-000000000000")  # no error


def test_location_refresh_task_is_idempotent(db, root):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", [ComponentDictFactory(name="a")])))

    tasks.location_refresh.delay(str(location.pk))
    first = Entity.objects.get(name="a").updated_at
    tasks.location_refresh.delay(str(location.pk))

    assert Entity.objects.get(name="a").updated_at == first


@pytest.fixture
def failing_refresh(monkeypatch):
    """services.location_refresh raising `state["error"]`, counting its calls in `state["calls"]`."""
    state: dict = {"error": OperationalError("connection reset"), "calls": 0}

    def fail(**kwargs):
        state["calls"] += 1
        raise state["error"]

    monkeypatch.setattr(services, "location_refresh", fail)
    return state


@pytest.fixture
def tasks_run_to_the_end(monkeypatch):
    """Eager tasks that retry and fail as a worker runs them, instead of raising into the caller."""
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", False)


def test_location_refresh_task_retries_a_transient_error_before_it_fails(db, root, failing_refresh):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", [ComponentDictFactory(name="a")])))

    with pytest.raises(Retry) as retry:
        tasks.location_refresh.apply(kwargs={"location_id": str(location.pk)}, throw=True)

    assert 0 <= retry.value.when <= 10  # backoff from 10 s, with jitter
    location.refresh_from_db()
    assert location.state == Location.State.PENDING  # a retry is not a failure yet
    assert failing_refresh["calls"] == 1


def test_location_refresh_task_records_the_failure_once_its_retries_are_used_up(
    db, root, failing_refresh, tasks_run_to_the_end
):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", [ComponentDictFactory(name="a")])))

    result = tasks.location_refresh.apply(kwargs={"location_id": str(location.pk)})

    assert result.state == "FAILURE"
    assert failing_refresh["calls"] == tasking.MAX_RETRIES + 1
    location.refresh_from_db()
    assert location.state == Location.State.FAILED
    assert location.failed_attempts == 1
    assert [(e["code"], e["message"]) for e in location.errors] == [
        (IssueCode.REFRESH_FAILED, "Refresh failed: connection reset")
    ]


def test_location_refresh_task_records_an_error_that_is_not_transient_at_once(
    db, root, failing_refresh, tasks_run_to_the_end
):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", [ComponentDictFactory(name="a")])))
    failing_refresh["error"] = IntegrityError("duplicate key value violates unique constraint")

    tasks.location_refresh.apply(args=[str(location.pk)])  # positional, as messages enqueued before kwargs were

    assert failing_refresh["calls"] == 1
    location.refresh_from_db()
    assert location.state == Location.State.FAILED
    assert "duplicate key" in location.errors[0]["message"]


def test_location_refresh_task_failing_for_a_location_deleted_meanwhile_records_nothing(
    db, root, failing_refresh, tasks_run_to_the_end, monkeypatch
):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", [ComponentDictFactory(name="a")])))
    location_id = str(location.pk)

    def fail_and_go(**kwargs):
        Location.objects.filter(pk=location_id).delete()
        raise IntegrityError("gone")

    monkeypatch.setattr(services, "location_refresh", fail_and_go)

    assert tasks.location_refresh.apply(kwargs={"location_id": location_id}).state == "FAILURE"
    assert not Location.objects.exists()


def test_location_refresh_task_retries_with_celerys_backoff_and_a_cap():
    task = tasks.location_refresh
    assert task.name == "catalog.location_refresh"
    assert set(task.autoretry_for) == {OperationalError, InterfaceError}
    assert (task.retry_backoff, task.retry_backoff_max, task.retry_jitter) == (10, 600, True)
    assert task.max_retries == tasking.MAX_RETRIES
    assert task.acks_late is True


def test_services_enqueue_tasks_by_name_without_importing_them():
    def imported(module) -> set[str]:
        tree = ast.parse(Path(module.__file__).read_text())
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        return names

    assert "catalog.tasks" not in imported(services)
    assert "catalog.tasks" not in imported(jobs)
    assert "catalog.services" in imported(tasks)
    assert {jobs.LOCATION_REFRESH, jobs.REFRESH_DUE} <= set(celery_app.tasks.keys())


def test_refresh_due_task_refreshes_due_locations(db, root, django_capture_on_commit_callbacks):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", [ComponentDictFactory(name="a")])))
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
    write_docs(root / "a.yaml", [ComponentDictFactory(name="from-worker")])
    with running_worker() as worker:
        location = services.location_create(type="file", target=str(root / "a.yaml"), actor=SYSTEM)

        refreshed = wait_for(lambda: Location.objects.get(pk=location.pk).state != Location.State.PENDING)

        assert refreshed, worker_log(worker)
    assert Location.objects.get(pk=location.pk).state == Location.State.OK
    assert Entity.objects.filter(name="from-worker").exists()
