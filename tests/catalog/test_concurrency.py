"""Location delete, refresh and entity delete against each other, each in a process of its own on its own database
connection: no error, no 5xx, no duplicate or lost entity, no relation or search row left behind.

The interleavings are forced (tests/catalog/processes.py stops a refresh after it read its sources, or inside its
write transaction) so each runs the same on every run and on both backends. On PostgreSQL the row locks decide the
order; on SQLite the write transactions are immediate and the database serialises them.
"""

from __future__ import annotations

import random
import socket
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from catalog import services
from catalog.locations import walk
from catalog.models import Entity, Location, Relation, SearchEntry
from tests.bench.bench_catalog import entities as generated_entities
from tests.catalog.factories import ComponentDictFactory, LocationFactory, write_docs
from tests.catalog.processes import Service, running_web, wait_until_blocked
from tests.portal.factories import AdminFactory, ApiTokenFactory
from tests.worker import running_workers, wait_for, worker_logs

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "pvd_concurrency-test-token"


@pytest.fixture
def root(tmp_path, settings, monkeypatch):
    base = tmp_path / "catalog"
    base.mkdir()
    settings.PAVED_CATALOG_FILE_ROOTS = [str(base)]
    # Processes started by the test run with portal.settings: the file roots reach them through the environment.
    monkeypatch.setenv("PAVED_CATALOG_FILE_ROOTS", str(base))
    monkeypatch.setenv("PAVED_CATALOG_TRUSTED_LOCATIONS", f"{base}/*")
    return base


@pytest.fixture
def signals(tmp_path):
    path = tmp_path / "signals"
    path.mkdir()
    return path


@pytest.fixture
def admin():
    return AdminFactory(username="admin")


def services_of(n: int, *, owner: str = "team-a") -> list[dict[str, Any]]:
    return [
        ComponentDictFactory(name=f"svc-{i}", owner=owner, dependsOn=[f"component:svc-{(i + 1) % n}"]) for i in range(n)
    ]


def leftovers() -> dict[str, int]:
    """Rows that point at an entity that is gone, and duplicate names: each must be zero."""
    ids = Entity.objects.values("id")
    duplicates = (
        Entity.objects.values("kind", "namespace", "name").annotate(n=Count("id")).filter(n__gt=1).order_by().count()
    )
    return {
        "relations": Relation.objects.exclude(originating_id__in=ids).count(),
        "search entries": SearchEntry.objects.exclude(entity_id__in=ids).count(),
        "duplicates": duplicates,
    }


NOTHING_LEFT = {"relations": 0, "search entries": 0, "duplicates": 0}


def someone_waits_for_a_lock() -> bool:
    """Whether another connection waits for a lock. SQLite cannot tell: a writer there waits in BEGIN IMMEDIATE, so
    give it the time to get there."""
    if connection.vendor != "postgresql":
        time.sleep(1.0)
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def refresh_is_writing(location_id: Any) -> bool:
    """Whether a refresh holds its write transaction for this location, seen from outside."""
    if connection.vendor == "postgresql":
        try:
            with transaction.atomic():
                Location.objects.select_for_update(nowait=True).filter(pk=location_id).first()
        except DatabaseError:
            return True
        return False
    probe = sqlite3.connect(connection.settings_dict["NAME"], timeout=0)
    try:
        probe.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()
    return False


# --- forced interleavings, one process per side -------------------------------------------------------------


def test_a_location_deleted_while_its_refresh_writes_goes_with_everything_the_refresh_wrote(root, signals, admin):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", services_of(50))))
    refresh = Service(signals, "refresh", str(location.pk), pause="in-write")
    refresh.wait_paused()

    delete = Service(signals, "delete-location", str(location.pk), admin.username)
    assert wait_until_blocked(someone_waits_for_a_lock)
    refresh.release()

    assert "error" not in refresh.result()
    assert delete.result() == {"deleted": 51}  # what the refresh wrote, and the location's own Location entity
    assert not Location.objects.exists()
    assert not Entity.objects.exists()
    assert not Relation.objects.exists()
    assert not SearchEntry.objects.exists()


def test_a_refresh_whose_location_is_deleted_before_it_writes_gives_up_cleanly(root, signals, admin):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", services_of(50))))
    refresh = Service(signals, "refresh", str(location.pk), pause="after-read")
    refresh.wait_paused()

    services.location_delete(location=location, actor=admin)
    refresh.release()

    outcome = refresh.result()
    assert "error" not in outcome, outcome
    assert outcome["skipped"] is True
    assert outcome["created"] == 0
    assert not Entity.objects.exists()
    assert leftovers() == NOTHING_LEFT


def test_two_refreshes_of_one_location_at_once_write_each_entity_once(root, signals):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", services_of(200))))
    first = Service(signals, "refresh", str(location.pk), pause="after-read")
    second = Service(signals, "refresh", str(location.pk), pause="after-read")
    first.wait_paused()
    second.wait_paused()

    first.release()
    second.release()

    outcomes = [first.result(), second.result()]
    assert [o.get("error") for o in outcomes] == [None, None], outcomes
    assert sorted((o["created"], o["unchanged"]) for o in outcomes) == [(0, 201), (201, 0)]
    assert Entity.objects.filter(location=location).count() == 201
    assert Relation.objects.count() == 200 * 4  # ownedBy/ownerOf and dependsOn/dependencyOf per component
    assert leftovers() == NOTHING_LEFT
    location.refresh_from_db()
    assert location.state == Location.State.OK
    assert location.errors == []


def test_two_locations_declaring_one_new_entity_at_once_keep_one_copy_and_a_conflict(root, signals):
    first = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", services_of(100))))
    second = LocationFactory(type="file", target=str(write_docs(root / "b.yaml", services_of(100))))
    refreshes = [Service(signals, "refresh", str(location.pk), pause="after-read") for location in (first, second)]
    for refresh in refreshes:
        refresh.wait_paused()

    for refresh in refreshes:
        refresh.release()

    outcomes = [refresh.result() for refresh in refreshes]
    assert [o.get("error") for o in outcomes] == [None, None], outcomes
    assert sorted(o["created"] for o in outcomes) == [1, 101]  # the loser creates only its own Location entity
    assert sorted(len(o["errors"]) for o in outcomes) == [0, 100]
    assert all("Conflict" in error["message"] for o in outcomes for error in o["errors"])
    assert Entity.objects.filter(kind="Component").count() == 100
    assert leftovers() == NOTHING_LEFT


def test_an_entity_deleted_while_a_refresh_rewrites_it_is_deleted_with_its_new_relations(root, signals, admin):
    path = write_docs(root / "a.yaml", services_of(20))
    location = LocationFactory(type="file", target=str(path))
    services.location_refresh(location=location)
    write_docs(path, services_of(20, owner="team-b"))  # every entity changes: the refresh rewrites its relations
    refresh = Service(signals, "refresh", str(location.pk), pause="in-write")
    refresh.wait_paused()

    delete = Service(signals, "delete-entity", "component:default/svc-3", admin.username)
    assert wait_until_blocked(someone_waits_for_a_lock)
    refresh.release()

    assert "error" not in refresh.result()
    assert delete.result() == {"deleted": "component:default/svc-3"}
    assert not Entity.objects.filter(ref="component:default/svc-3").exists()
    assert not Relation.objects.filter(source_ref="component:default/svc-3", type="ownedBy").exists()
    assert leftovers() == NOTHING_LEFT
    services.location_refresh(location=location)  # still in its source: it comes back, whole
    assert Relation.objects.filter(source_ref="component:default/svc-3", target_ref="group:default/team-b").exists()


def test_an_entity_deleted_after_a_refresh_read_its_source_comes_back_whole(root, signals, admin):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", services_of(20))))
    services.location_refresh(location=location)
    refresh = Service(signals, "refresh", str(location.pk), pause="after-read")
    refresh.wait_paused()

    services.entity_delete(entity=Entity.objects.get(ref="component:default/svc-3"), actor=admin)
    refresh.release()

    assert "error" not in refresh.result()
    assert leftovers() == NOTHING_LEFT
    services.location_refresh(location=Location.objects.get(pk=location.pk))
    assert Relation.objects.filter(originating__ref="component:default/svc-3").count() == 4
    assert Entity.objects.filter(location=location).count() == 21


# --- what a refresh does when it loses a race ---------------------------------------------------------------------


def test_a_refresh_tries_its_write_again_after_a_conflict_with_another_writer(root, monkeypatch):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", services_of(3))))
    write = services._location_write
    calls = []

    def collide_twice(**kwargs):
        calls.append(kwargs)
        if len(calls) < 3:
            raise IntegrityError("duplicate key value violates unique constraint")
        return write(**kwargs)

    monkeypatch.setattr(services, "_location_write", collide_twice)

    result = services.location_refresh(location=location)

    assert len(calls) == 3
    assert result.applied.created == 4
    assert Entity.objects.filter(location=location).count() == 4


def test_a_refresh_gives_up_after_three_conflicts_and_at_once_on_other_database_errors(root, monkeypatch):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", services_of(3))))
    errors = [IntegrityError("duplicate key"), OperationalError("server closed the connection unexpectedly")]
    calls = []

    def fail(**kwargs):
        calls.append(kwargs)
        raise errors[0]

    monkeypatch.setattr(services, "_location_write", fail)
    with pytest.raises(IntegrityError):
        services.location_refresh(location=location)
    assert len(calls) == 3

    errors.pop(0)
    calls.clear()
    with pytest.raises(OperationalError):
        services.location_refresh(location=location)
    assert len(calls) == 1
    assert not Entity.objects.exists()


# --- the real thing: Celery workers and web processes ------------------------------------------------------------


@pytest.mark.integration
def test_deleting_a_location_right_after_registering_it_answers_204_while_a_worker_refreshes_it(root, admin):
    """What @backstage/catalog-client's addLocation then removeLocationById does; the delete lands while the
    worker writes the first refresh."""
    ApiTokenFactory(user=admin, raw=TOKEN)
    client = Client(headers={"Authorization": f"Bearer {TOKEN}"}, raise_request_exception=False)
    answers = []
    with running_workers(1) as workers:
        for attempt in range(2):
            path = write_docs(root / f"big-{attempt}.yaml", services_of(3000))
            created = client.post(
                reverse("catalog_api:locations"), {"type": "file", "target": str(path)}, content_type="application/json"
            )
            assert created.status_code == 201, created.content
            location_id = created.json()["location"]["id"]
            assert wait_for(lambda location_id=location_id: refresh_is_writing(location_id), interval=0.01), (
                worker_logs(workers)
            )

            answers.append(client.delete(reverse("catalog_api:location", args=[location_id])).status_code)
        log = worker_logs(workers)

    assert answers == [204, 204]
    assert not Location.objects.exists()
    assert not Entity.objects.exists()
    assert leftovers() == NOTHING_LEFT
    assert "Traceback" not in log, log[-4000:]


def _write_catalog(directory: Path, docs: list[dict[str, Any]], *, per_file: int = 250) -> None:
    directory.mkdir()
    for index in range(0, len(docs), per_file):
        text = yaml.dump_all(docs[index : index + per_file], Dumper=yaml.CSafeDumper, sort_keys=False)
        (directory / f"part-{index // per_file:03d}.yaml").write_text(text)


class Browser(threading.Thread):
    """Someone reading the catalog through the API over and over: lists, queries, entity pages, facets."""

    def __init__(self, base: str, seed: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.rng = random.Random(seed)
        self.stop = stop
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []

    def paths(self) -> list[str]:
        # What a Backstage catalog client asks over HTTP, by its literal paths (the compatible API is the contract).
        n = self.rng.randrange(5000)
        return [
            "/api/catalog/entities?filter=kind=component&limit=50",
            f"/api/catalog/entities/by-name/component/default/service-{n}",
            "/api/catalog/entities/by-query?filter=kind=user&limit=20&orderField=metadata.name,asc",
            "/api/catalog/entity-facets?facet=spec.type&facet=spec.lifecycle",
            "/api/catalog/locations",
        ]

    def run(self) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        while not self.stop.is_set():
            for path in self.paths():
                try:
                    response = session.get(self.base + path, timeout=60)
                except requests.RequestException as exc:
                    self.failures.append(f"GET {path}: {exc}")
                    continue
                self.statuses[response.status_code] += 1
                if response.status_code >= 500:
                    self.failures.append(f"GET {path}: {response.status_code} {response.text[:300]}")


class Churner(threading.Thread):
    """Someone registering a location and removing it again a moment later, over and over (a script using
    @backstage/catalog-client's addLocation and removeLocationById)."""

    def __init__(self, base: str, target: Path, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.target = target
        self.stop = stop
        self.rng = random.Random(7)
        self.rounds = 0
        self.failures: list[str] = []

    def run(self) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {TOKEN}"
        while not self.stop.is_set():
            try:
                self.round(session)
            except requests.RequestException as exc:
                self.failures.append(f"{type(exc).__name__}: {exc}")
            if self.failures:
                return
            self.rounds += 1

    def round(self, session: requests.Session) -> None:
        body = {"type": "file", "target": str(self.target)}
        created = _retried(lambda: session.post(f"{self.base}/api/catalog/locations", json=body, timeout=60))
        if created.status_code != 201:
            self.failures.append(f"POST /locations: {created.status_code} {created.text[:300]}")
            return
        time.sleep(self.rng.uniform(0, 1.5))  # before, during or after the worker's refresh of it
        location_id = created.json()["location"]["id"]
        deleted = _retried(lambda: session.delete(f"{self.base}/api/catalog/locations/{location_id}", timeout=60))
        if deleted.status_code != 204:
            self.failures.append(f"DELETE /locations/{location_id}: {deleted.status_code} {deleted.text[:300]}")


def _retried(send: Callable[[], requests.Response], attempts: int = 5) -> requests.Response:
    """`send()`, sent again while it answers 503 with Retry-After, as a client does: on SQLite a write can wait out
    its timeout behind a worker's long refresh, and then answers 503 having changed nothing."""
    answer = send()
    for _ in range(attempts):
        if answer.status_code != 503 or "Retry-After" not in answer.headers:
            break
        time.sleep(float(answer.headers["Retry-After"]))
        answer = send()
    return answer


def _expected_relation_rows(targets: list[Path]) -> int:
    rows = 0
    for target in targets:
        for source in walk.location_walk(type="file", target=str(target)).sources:
            for parsed in source.entities:
                rows += len({(r.source.lower(), r.type, r.target.lower()) for r in parsed.relations})
    return rows


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.integration
def test_two_web_processes_and_two_workers_ingest_10k_entities_while_people_browse(root, admin, monkeypatch):
    docs = generated_entities(10_000, random.Random(10_000))
    halves = [root / "first", root / "second"]
    _write_catalog(halves[0], docs[:5000])
    _write_catalog(halves[1], docs[5000:])
    churn = write_docs(
        root / "churn.yaml",
        [ComponentDictFactory(name=f"churn-{i}", dependsOn=["component:service-0"]) for i in range(300)],
    )
    ApiTokenFactory(user=admin, raw=TOKEN)
    queue = f"paved-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("PAVED_CELERY_QUEUE", queue)  # the web processes enqueue where the workers listen
    monkeypatch.setenv("PAVED_THROTTLE_USER", "1000000/min")
    monkeypatch.setenv("ALLOWED_HOSTS", "127.0.0.1")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {TOKEN}"
    stop = threading.Event()
    browsers: list[Browser] = []
    with running_workers(2, queue=queue) as workers, running_web(port=_free_port()) as base:
        assert wait_for(lambda: _answers(f"{base}/healthz"), timeout=30)
        browsers = [Browser(base, seed, stop) for seed in range(3)]
        churner = Churner(base, churn, stop)
        for thread in [*browsers, churner]:
            thread.start()

        ids = []
        for half in halves:
            created = api.post(f"{base}/api/catalog/locations", json={"type": "file", "target": str(half)}, timeout=60)
            assert created.status_code == 201, created.text
            ids.append(created.json()["location"]["id"])
        assert wait_for(lambda: _refreshed(ids, after=None), timeout=180), worker_logs(workers)[-4000:]
        first_round = _last_refresh(ids)

        # Both workers at once on the first location (a file changed), and someone deleting an entity meanwhile.
        part = next(p for p in sorted(halves[0].iterdir()) if "Service 0 of the" in p.read_text())
        part.write_text(part.read_text().replace("Service 0 of the", "Service zero of the"))
        for _ in range(2):
            refreshed = api.post(
                f"{base}/api/catalog/refresh", json={"entityRef": "component:default/service-0"}, timeout=60
            )
            assert refreshed.status_code == 200, refreshed.text
        victim = api.get(f"{base}/api/catalog/entities/by-name/component/default/service-1", timeout=60).json()
        deleted = api.delete(f"{base}/api/catalog/entities/by-uid/{victim['metadata']['uid']}", timeout=60)
        assert deleted.status_code == 204, deleted.text
        assert wait_for(lambda: _refreshed(ids[:1], after=first_round), timeout=120), worker_logs(workers)[-4000:]

        # The deleted entity is still in its source: the next refresh brings it back.
        api.post(f"{base}/api/catalog/refresh", json={"entityRef": "component:default/service-0"}, timeout=60)
        assert wait_for(lambda: Entity.objects.filter(ref="component:default/service-1").exists(), timeout=120)
        stop.set()
        for thread in [*browsers, churner]:
            thread.join(timeout=60)
        log = worker_logs(workers)

    failures = [failure for thread in [*browsers, churner] for failure in thread.failures]
    statuses = sum((browser.statuses for browser in browsers), Counter())
    assert failures == [], failures[:10]
    assert statuses[200] > 50, statuses
    assert churner.rounds > 3
    assert "Traceback" not in log, log[-4000:]
    assert Location.objects.count() == 2
    assert Entity.objects.count() == 10_000 + 2  # and each location's own Location entity
    for location_id in ids:
        assert Location.objects.get(pk=location_id).errors == []
    assert (
        Entity.objects.get(ref="component:default/service-0").description
        == "Service zero of the benchmark organisation"
    )
    assert Relation.objects.count() == _expected_relation_rows(halves)
    assert leftovers() == NOTHING_LEFT


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _last_refresh(ids: list[str]) -> dict[Any, datetime | None]:
    return dict(Location.objects.filter(pk__in=ids).values_list("pk", "last_refresh_at"))


def _refreshed(ids: list[str], *, after: dict[Any, datetime | None] | None) -> bool:
    """Every location refreshed cleanly, and later than `after` says when given."""
    locations = list(Location.objects.filter(pk__in=ids))
    if len(locations) != len(ids) or any(location.state != Location.State.OK for location in locations):
        return False
    if after is None:
        return True
    return all(
        location.last_refresh_at is not None
        and location.last_refresh_at > (after[location.pk] or datetime.min.replace(tzinfo=UTC))
        for location in locations
    )
