"""The scheduled change check of `file` locations: an edited, added or removed file is refreshed within one beat
period (30 s) with nobody asking, reading only what changed; unchanged locations cost stats, not refreshes."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from catalog import jobs, services, tasks
from catalog.locations import walk
from catalog.models import Entity, Location
from portal.permissions import SYSTEM
from tests.catalog.factories import ComponentDictFactory, new_location, write_docs
from tests.worker import running_worker, wait_for, worker_log


@pytest.fixture
def root(tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    return tmp_path


@pytest.fixture
def enqueued(monkeypatch) -> list[dict[str, Any]]:
    """The refreshes the check asks for, instead of running them."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(jobs, "location_refresh_enqueue", lambda **kwargs: calls.append(kwargs))
    return calls


def _folder(root, files: int = 3) -> Location:
    for n in range(files):
        write_docs(root / "cat" / f"f{n}.yaml", [ComponentDictFactory(name=f"c{n}", description="first")])
    location = new_location(type="file", target=str(root / "cat"))
    services.location_refresh(location=location)
    location.refresh_from_db()
    assert location.state == Location.State.OK
    return location


def _touch_later(path) -> None:
    """A later modification time than any recorded, whatever the file system's clock granularity."""
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


def test_an_unchanged_location_is_not_refreshed(db, root, enqueued):
    _folder(root)

    assert services.locations_refresh_changed() == 0
    assert services.locations_refresh_changed() == 0
    assert enqueued == []


def test_an_edited_file_is_refreshed_reading_only_that_file(db, root, enqueued):
    location = _folder(root)
    due = location.next_refresh_at
    write_docs(root / "cat" / "f1.yaml", [ComponentDictFactory(name="c1", description="edited")])
    _touch_later(root / "cat" / "f1.yaml")

    assert services.locations_refresh_changed() == 1
    assert enqueued == [{"location_id": str(location.pk), "changed_only": True}]

    result = services.location_refresh(location=Location.objects.get(pk=location.pk), changed_only=True)

    assert result.files_read == 1
    assert (result.applied.updated, result.applied.created) == (1, 0)
    assert Entity.objects.get(name="c1").data["spec"]["description"] == "edited"
    assert Entity.objects.get(name="c0").data["spec"]["description"] == "first"
    location.refresh_from_db()
    assert location.next_refresh_at == due  # the full re-read keeps its time
    assert services.locations_refresh_changed() == 0  # the refresh recorded the new stat
    assert len(enqueued) == 1


def test_a_touched_file_with_the_same_bytes_is_read_but_nothing_is_written(db, root, enqueued):
    location = _folder(root)
    _touch_later(root / "cat" / "f0.yaml")

    assert services.locations_refresh_changed() == 1
    result = services.location_refresh(location=Location.objects.get(pk=location.pk), changed_only=True)

    assert result.files_read == 1
    assert result.applied.written == 0
    assert services.locations_refresh_changed() == 0  # the refresh recorded the new stat
    assert len(enqueued) == 1


def test_an_added_or_removed_file_is_a_change(db, root, enqueued):
    location = _folder(root)
    write_docs(root / "cat" / "f9.yaml", [ComponentDictFactory(name="c9")])

    assert walk.location_files_changed(Location.objects.get(pk=location.pk))
    services.location_refresh(location=Location.objects.get(pk=location.pk), changed_only=True)
    assert Entity.objects.filter(name="c9").exists()
    assert not walk.location_files_changed(Location.objects.get(pk=location.pk))

    (root / "cat" / "f0.yaml").unlink()
    assert walk.location_files_changed(Location.objects.get(pk=location.pk))
    services.location_refresh(location=Location.objects.get(pk=location.pk), changed_only=True)
    assert Entity.objects.get(name="c0").orphan
    assert not walk.location_files_changed(Location.objects.get(pk=location.pk))


def test_a_file_with_errors_is_checked_again_only_once_it_is_written(db, root, enqueued):
    location = _folder(root)
    (root / "cat" / "f1.yaml").write_text("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {}\n")
    _touch_later(root / "cat" / "f1.yaml")
    services.location_refresh(location=Location.objects.get(pk=location.pk), changed_only=True)
    location.refresh_from_db()
    assert location.errors  # the broken file is reported
    assert "digest" not in location.source_digests[f"file:{root}/cat/f1.yaml"]  # never taken as unchanged

    assert not walk.location_files_changed(location)  # no refresh every 30 s for a file nobody fixed

    write_docs(root / "cat" / "f1.yaml", [ComponentDictFactory(name="c1", description="fixed")])
    _touch_later(root / "cat" / "f1.yaml")
    assert walk.location_files_changed(location)
    services.location_refresh(location=location, changed_only=True)
    location.refresh_from_db()
    assert location.errors == []
    assert Entity.objects.get(name="c1").data["spec"]["description"] == "fixed"


def test_a_vanished_target_is_refreshed_once_then_left_to_the_full_re_read(db, root, enqueued):
    location = _folder(root, files=1)
    (root / "cat" / "f0.yaml").unlink()
    (root / "cat").rmdir()

    assert walk.location_files_changed(Location.objects.get(pk=location.pk))
    services.location_refresh(location=Location.objects.get(pk=location.pk), changed_only=True)
    location.refresh_from_db()
    assert location.state == Location.State.FAILED
    assert Entity.objects.filter(name="c0", orphan=False).exists()  # a failed read keeps its entities

    assert not walk.location_files_changed(location)


def test_nested_file_targets_are_checked_too(db, root, enqueued):
    write_docs(root / "leaf.yaml", [ComponentDictFactory(name="leaf", description="first")])
    write_docs(
        root / "index.yaml",
        [
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "Location",
                "metadata": {"name": "index"},
                "spec": {"targets": ["./leaf.yaml"]},
            }
        ],
    )
    location = new_location(type="file", target=str(root / "index.yaml"))
    services.location_refresh(location=location)
    location.refresh_from_db()
    assert not walk.location_files_changed(location)

    write_docs(root / "leaf.yaml", [ComponentDictFactory(name="leaf", description="edited")])
    _touch_later(root / "leaf.yaml")

    assert walk.location_files_changed(location)
    result = services.location_refresh(location=location, changed_only=True)
    assert result.files_read == 1
    assert Entity.objects.get(name="leaf").data["spec"]["description"] == "edited"


def test_locations_not_refreshed_yet_due_or_not_local_are_not_checked(db, root, enqueued):
    write_docs(root / "a.yaml", [ComponentDictFactory(name="a")])
    new_location(type="file", target=str(root / "a.yaml"), next_refresh_at=timezone.now() + timedelta(minutes=5))
    due = _folder(root)
    Location.objects.filter(pk=due.pk).update(next_refresh_at=timezone.now() - timedelta(seconds=1))
    _touch_later(root / "cat" / "f0.yaml")
    new_location(type="url", target="https://example.com/catalog-info.yaml", state=Location.State.OK, source_digests={})

    assert services.locations_refresh_changed() == 0  # pending (first refresh queued), due (full re-read), url


def test_a_damaged_digest_cache_counts_as_a_change_and_is_repaired(db, root, enqueued):
    location = _folder(root)
    Location.objects.filter(pk=location.pk).update(
        source_digests={f"file:{root}/cat/f0.yaml": {"stat": "not a stat", "targets": []}}
    )

    assert services.locations_refresh_changed() == 1
    services.location_refresh(location=Location.objects.get(pk=location.pk), changed_only=True)
    assert not walk.location_files_changed(Location.objects.get(pk=location.pk))


def test_the_beat_task_runs_the_change_check_then_the_due_re_reads(db, root, django_capture_on_commit_callbacks):
    location = _folder(root)
    write_docs(root / "cat" / "f2.yaml", [ComponentDictFactory(name="c2", description="by the beat")])
    _touch_later(root / "cat" / "f2.yaml")

    with django_capture_on_commit_callbacks(execute=True):
        tasks.refresh_due.delay()

    assert Entity.objects.get(name="c2").data["spec"]["description"] == "by the beat"
    assert Location.objects.get(pk=location.pk).next_refresh_at == location.next_refresh_at


def test_the_change_check_runs_at_least_every_30_seconds(settings):
    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == jobs.REFRESH_DUE]
    assert len(entries) == 1
    assert entries[0]["schedule"] <= 30


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_shows_an_edited_file_from_the_beat_task_and_analyses_after_the_bulk_ingest(root, monkeypatch):
    # The worker runs with portal.settings, so the file roots reach it through the environment.
    monkeypatch.setenv("PAVED_CATALOG_FILE_ROOTS", str(root))
    for n in range(3):
        write_docs(
            root / "cat" / f"f{n}.yaml",
            [ComponentDictFactory(name=f"c{n}-{i}", description="first") for i in range(100)],
        )
    with running_worker() as worker:
        location = services.location_create(type="file", target=str(root / "cat"), actor=SYSTEM)
        assert wait_for(lambda: Location.objects.get(pk=location.pk).state == Location.State.OK), worker_log(worker)
        full_re_read = Location.objects.get(pk=location.pk).next_refresh_at
        if connection.vendor == "postgresql":  # 301 entities written: the worker analysed the tables afterwards
            assert wait_for(lambda: _planner_rows("catalog_entity") >= 301, timeout=60), worker_log(worker)

        write_docs(root / "cat" / "f1.yaml", [ComponentDictFactory(name="c1-7", description="edited")])
        _touch_later(root / "cat" / "f1.yaml")
        tasks.refresh_due.delay()  # what the beat sends every 30 s

        def shows_the_edit() -> bool:
            return bool(Entity.objects.get(name="c1-7").data["spec"].get("description") == "edited")

        assert wait_for(shows_the_edit, timeout=60), worker_log(worker)
    assert Entity.objects.get(name="c1-8").orphan  # gone from the edited file
    assert not Entity.objects.get(name="c0-8").orphan
    assert Location.objects.get(pk=location.pk).next_refresh_at == full_re_read


def _planner_rows(table: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
        return float(cursor.fetchone()[0])


def test_files_beyond_the_file_limit_are_not_stat_ed_again_and_again(db, root, enqueued, settings):
    settings.PAVED_CATALOG_MAX_FILES = 2
    for n in range(4):
        write_docs(root / "cat" / f"f{n}.yaml", [ComponentDictFactory(name=f"c{n}")])
    location = new_location(type="file", target=str(root / "cat"))
    services.location_refresh(location=location)  # read 2 files, the limit recorded as an error
    location.refresh_from_db()
    assert Entity.objects.filter(location=location, kind="Component").count() == 2

    assert not walk.location_files_changed(location)
    _touch_later(root / "cat" / "f3.yaml")  # beyond the limit: a refresh would not read it
    assert not walk.location_files_changed(location)
    _touch_later(root / "cat" / "f1.yaml")
    assert walk.location_files_changed(location)
