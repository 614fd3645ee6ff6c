"""Parsing a large file location in several processes: the same outcome as one process, whatever happens to the
children, and only where forking is safe."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest
from django.db import connection

from catalog import services
from catalog.locations import parallel, walk
from catalog.locations.file import FileReader
from catalog.models import Entity, Location
from portal.permissions import SYSTEM
from tests.catalog.factories import (
    ComponentDictFactory,
    LocationDictFactory,
    new_location,
    write_docs,
)
from tests.worker import running_worker, wait_for, worker_log


@pytest.fixture
def forks(monkeypatch) -> list[int]:
    """The children forked to parse, by pid. The test process may run threads other tests left behind, which would
    keep it from forking: here only the test's own threads count."""
    started: list[int] = []
    own_threads = threading.active_count()
    monkeypatch.setattr(parallel, "can_fork", lambda: threading.active_count() <= own_threads)
    original = parallel._Child.fork

    def counted(cls: type[parallel._Child], /, **kwargs: Any) -> parallel._Child | None:
        child = original(**kwargs)
        if child is not None:
            started.append(child.pid)
        return child

    monkeypatch.setattr(parallel._Child, "fork", classmethod(counted))
    return started


def varied_folder(root, files: int = 40) -> None:
    """Many plain files and every kind of file a walk treats differently: broken YAML, an invalid entity beside
    valid ones, a placeholder, a nested location, a file that declares what another one does."""
    for n in range(files):
        docs: list[dict[str, Any]] = [
            ComponentDictFactory(name=f"svc-{n}-{i}", owner=f"team-{n % 3}") for i in range(6)
        ]
        write_docs(root / f"f{n:03d}.yaml", docs)
    (root / "f010.yaml").write_text("kind: [unclosed\n")
    write_docs(
        root / "f011.yaml", [ComponentDictFactory(name="fine"), {**ComponentDictFactory(name="bad"), "spec": {}}]
    )
    (root / "notes.txt").write_text("from a placeholder")
    write_docs(
        root / "f012.yaml",
        [
            {
                **ComponentDictFactory(name="placeholder"),
                "metadata": {"name": "placeholder", "description": {"$text": "./notes.txt"}},
            }
        ],
    )
    write_docs(root / "nested" / "more.yaml", [ComponentDictFactory(name="nested-one")])
    write_docs(root / "f013.yaml", [LocationDictFactory(name="more", targets=["./nested/more.yaml"])])
    write_docs(root / "f014.yaml", [ComponentDictFactory(name="svc-0-0")])  # declared twice: the write decides


def snapshot(outcome: walk.ReadOutcome) -> dict[str, Any]:
    return {
        "sources": [
            (
                s.source,
                s.ok,
                s.unchanged,
                s.kept,
                [(p.document, p.ref, p.entity, p.relations) for p in s.entities],
                s.issues,
            )
            for s in outcome.sources
        ],
        "digests": outcome.digests,
        "failed": outcome.failed,
        "files_read": outcome.files_read,
        "stats": outcome.stats,
    }


def walk_with(settings, root, processes: int) -> walk.ReadOutcome:
    settings.PAVED_CATALOG_PARSE_PROCESSES = processes
    return walk.location_walk(type="file", target=str(root))


@pytest.mark.parametrize("processes", [2, 3])
def test_parsing_in_processes_reads_exactly_what_one_process_reads(root, settings, forks, processes):
    varied_folder(root)
    alone = snapshot(walk_with(settings, root, 1))
    assert forks == []

    together = snapshot(walk_with(settings, root, processes))

    assert len(forks) == processes - 1
    assert together == alone
    assert any(not ok for _, ok, *_ in alone["sources"])  # the broken file is among them
    assert any(issues for *_, issues in alone["sources"])


def test_children_are_gone_once_the_walk_ends(root, settings, forks):
    varied_folder(root)

    walk_with(settings, root, 3)

    assert len(forks) == 2
    for pid in forks:
        with pytest.raises(ChildProcessError):  # reaped: no zombie left behind
            os.waitpid(pid, os.WNOHANG)


def test_a_child_that_dies_costs_time_not_results(root, settings, forks, monkeypatch):
    varied_folder(root)
    alone = snapshot(walk_with(settings, root, 1))
    monkeypatch.setattr(parallel, "_serve", lambda jobs, results: os._exit(3))

    together = snapshot(walk_with(settings, root, 2))

    assert len(forks) == 1
    assert together == alone


def test_a_child_that_answers_nonsense_costs_time_not_results(root, settings, forks, monkeypatch):
    varied_folder(root)
    alone = snapshot(walk_with(settings, root, 1))

    def wrong(jobs, results):
        jobs.recv()
        results.send(["not", "results"])

    monkeypatch.setattr(parallel, "_serve", wrong)

    assert snapshot(walk_with(settings, root, 2)) == alone


def test_a_process_running_other_threads_parses_in_itself(root, settings, forks):
    varied_folder(root)
    alone = snapshot(walk_with(settings, root, 1))
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, name="a web server's thread")
    other.start()
    try:
        together = snapshot(walk_with(settings, root, 2))
    finally:
        stop.set()
        other.join()

    assert forks == []
    assert together == alone


def test_few_files_parse_in_the_refreshing_process(root, settings, forks):
    for n in range(parallel.MIN_FILES - 1):
        write_docs(root / f"f{n}.yaml", [ComponentDictFactory(name=f"c{n}")])

    outcome = walk_with(settings, root, 2)

    assert forks == []
    assert len(outcome.sources) == parallel.MIN_FILES - 1


def test_only_file_locations_parse_in_processes(settings):
    settings.PAVED_CATALOG_PARSE_PROCESSES = 2
    assert isinstance(parallel.parser_for(FileReader()), parallel.FileParser)
    assert isinstance(parallel.parser_for(walk.reader_for("url")), parallel.SerialParser)
    assert isinstance(parallel.parser_for(walk.reader_for("git")), parallel.SerialParser)
    settings.PAVED_CATALOG_PARSE_PROCESSES = 1
    assert isinstance(parallel.parser_for(FileReader()), parallel.SerialParser)


def test_the_refreshing_process_keeps_its_database_connection(db, root, settings, forks):
    varied_folder(root)
    settings.PAVED_CATALOG_PARSE_PROCESSES = 2
    location = new_location(type="file", target=str(root))
    assert Entity.objects.count() == 0  # the connection is open before the children are forked

    result = services.location_refresh(location=location)

    assert len(forks) == 1
    assert result.applied.created == Entity.objects.count() > 200
    with connection.cursor() as cursor:  # the children neither used nor closed it
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_worker_parses_a_large_location_in_processes(root, monkeypatch):
    # The worker runs with portal.settings: the file roots and the number of processes reach it through the
    # environment.
    monkeypatch.setenv("PAVED_CATALOG_FILE_ROOTS", str(root))
    monkeypatch.setenv("PAVED_CATALOG_PARSE_PROCESSES", "2")
    varied_folder(root)

    with running_worker(log_level="INFO", pool="prefork") as worker:  # the pool `make serve` runs
        location = services.location_create(type="file", target=str(root), actor=SYSTEM)
        assert wait_for(lambda: Location.objects.get(pk=location.pk).last_refresh_at is not None), worker_log(worker)

    log = worker_log(worker)
    assert "catalog.location.parse_processes" in log, log
    assert '"processes": 2' in log, log
    assert "parse_child_failed" not in log
    names = set(Entity.objects.filter(location=location).values_list("name", flat=True))
    assert {"svc-0-0", "svc-39-5", "fine", "placeholder", "nested-one"} <= names
    assert "bad" not in names


@pytest.mark.parametrize(("files", "size", "windows"), [(4, 10**9, 10 + 1), (1000, 1, 40 + 1)])
def test_windows_are_bounded_by_files_and_by_bytes(root, settings, forks, monkeypatch, files, size, windows):
    varied_folder(root)  # 40 files in the folder, then the one it nests
    alone = snapshot(walk_with(settings, root, 1))
    reported: list[int] = []
    original = walk._report

    def counted(outcome, parser, type, window, *args):
        reported.append(len(window))
        return original(outcome, parser, type, window, *args)

    monkeypatch.setattr(walk, "_report", counted)
    monkeypatch.setattr(walk, "_WINDOW", files)
    monkeypatch.setattr(walk, "_WINDOW_BYTES", size)

    assert snapshot(walk_with(settings, root, 2)) == alone
    assert len(reported) == windows
