"""The refresh of one entity (POST /refresh): it reads the entity's own file and the files whose stat changed, and
treats every other source of the location as kept; the full re-read still reads everything."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog import jobs, services, tasks
from catalog.locations import walk
from catalog.models import Entity, Location
from portal.permissions import SYSTEM
from tests.catalog.factories import ComponentDictFactory, new_location, write_docs

BASE = "/api/catalog"


@pytest.fixture
def root(tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    return tmp_path


def _folder(root: Path, files: int = 3) -> Location:
    """Files f<n>.yaml of two components each, c<n> and s<n> (its sibling), refreshed once."""
    for n in range(files):
        _write(root, n, description="first")
    location = new_location(type="file", target=str(root / "cat"))
    services.location_refresh(location=location)
    location.refresh_from_db()
    assert location.state == Location.State.OK
    return location


def _write(root: Path, n: int, *, description: str, names: list[str] | None = None) -> Path:
    names = names if names is not None else [f"c{n}", f"s{n}"]
    return write_docs(
        root / "cat" / f"f{n}.yaml", [ComponentDictFactory(name=name, description=description) for name in names]
    )


def _keeping_stat(path: Path, write: Any) -> None:
    """Rewrite a file leaving its size and modification time as they were: only reading it shows the change."""
    before = os.stat(path)
    write()
    assert os.stat(path).st_size == before.st_size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def _later(path: Path) -> None:
    """A later modification time than any recorded, whatever the file system's clock granularity."""
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


def _refresh_entity(name: str) -> services.RefreshResult:
    entity = Entity.objects.get(name=name)
    location = entity.location
    assert location is not None
    return services.location_refresh(location=location, entity_source=entity.source)


def _description(name: str) -> str:
    return str(Entity.objects.get(name=name).data["spec"]["description"])


def test_an_entity_refresh_reads_only_its_own_file(db, root):
    location = _folder(root)
    due = location.next_refresh_at
    _keeping_stat(root / "cat" / "f1.yaml", lambda: _write(root, 1, description="again"))
    _keeping_stat(root / "cat" / "f2.yaml", lambda: _write(root, 2, description="other"))

    result = _refresh_entity("c1")

    assert result.files_read == 1
    assert (result.applied.updated, result.applied.unchanged, result.applied.orphaned) == (2, 5, 0)
    assert (_description("c1"), _description("s1"), _description("c2")) == ("again", "again", "first")
    location.refresh_from_db()
    assert location.next_refresh_at == due  # not a full re-read: the schedule keeps its time
    assert location.entity_count == 7  # six components and the location's own entity


def test_an_entity_refresh_also_reads_files_whose_stat_changed(db, root):
    _folder(root)
    _write(root, 2, description="edited")
    _later(root / "cat" / "f2.yaml")

    result = _refresh_entity("c0")

    assert result.files_read == 2
    assert _description("c2") == "edited"


def test_edits_an_entity_refresh_did_not_read_show_after_the_full_refresh(db, root):
    location = _folder(root)
    _keeping_stat(root / "cat" / "f2.yaml", lambda: _write(root, 2, description="other"))

    _refresh_entity("c0")
    assert _description("c2") == "first"

    result = services.location_refresh(location=Location.objects.get(pk=location.pk))

    assert result.files_read == 3
    assert _description("c2") == "other"


def test_an_entity_gone_from_its_file_is_orphaned_by_the_refresh_of_a_sibling(db, root):
    _folder(root)
    _write(root, 1, description="first", names=["c1"])

    result = _refresh_entity("c1")

    assert result.files_read == 1
    assert result.applied.orphaned == 1
    assert set(Entity.objects.filter(orphan=True).values_list("name", flat=True)) == {"s1"}
    assert _refresh_entity("c1").applied.orphaned == 0  # once


def test_an_entity_moved_to_another_file_stays_managed(db, root):
    _folder(root)
    _write(root, 1, description="first", names=["c1"])
    _write(root, 2, description="first", names=["c2", "s2", "s1"])
    _later(root / "cat" / "f2.yaml")

    result = _refresh_entity("c1")

    assert result.files_read == 2
    assert result.applied.orphaned == 0
    moved = Entity.objects.get(name="s1")
    assert (moved.orphan, moved.source) == (False, f"file:{root}/cat/f2.yaml")


def test_entities_of_a_file_removed_from_the_folder_are_orphaned(db, root):
    _folder(root)
    (root / "cat" / "f2.yaml").unlink()

    result = _refresh_entity("c0")

    assert result.applied.orphaned == 2
    assert set(Entity.objects.filter(orphan=True).values_list("name", flat=True)) == {"c2", "s2"}


def test_errors_of_other_files_are_kept(db, root):
    location = _folder(root)
    (root / "cat" / "f2.yaml").write_text("kind: Component\nmetadata: [not, a, mapping\n")
    services.location_refresh(location=Location.objects.get(pk=location.pk))
    location.refresh_from_db()
    assert [error["file"] for error in location.errors] == [f"{root}/cat/f2.yaml"]

    _write(root, 0, description="again")
    _later(root / "cat" / "f0.yaml")
    _refresh_entity("c0")

    location.refresh_from_db()
    assert [error["file"] for error in location.errors] == [f"{root}/cat/f2.yaml"]
    assert _description("c0") == "again"
    assert _description("c2") == "first"  # the broken file keeps its last good entities
    assert not Entity.objects.filter(orphan=True).exists()


def test_an_entity_deleted_but_still_in_an_unchanged_file_comes_back(db, root):
    _folder(root)
    services.entity_delete(entity=Entity.objects.get(name="c2"), actor=SYSTEM)

    result = _refresh_entity("c0")

    assert result.files_read == 2  # its own file, and the one whose cache entry the delete dropped
    assert Entity.objects.filter(name="c2", orphan=False).exists()


def test_the_queries_of_an_entity_refresh_name_no_file_it_did_not_read(db, root):
    """What an entity refresh asks the database follows what it read, not how many files the location has."""

    def queries(files: int) -> list[str]:
        Entity.objects.all().delete()
        Location.objects.all().delete()
        _folder(root, files=files)
        _write(root, 0, description=f"edit {files}")
        _later(root / "cat" / "f0.yaml")
        with CaptureQueriesContext(connection) as captured:
            _refresh_entity("c0")
        assert _description("c0") == f"edit {files}"
        # The cache it writes back holds every file's entry: the one statement that names them all.
        return [q["sql"] for q in captured.captured_queries if '"source_digests" =' not in q["sql"]]

    small, large = queries(3), queries(12)

    assert len(small) == len(large)
    files_named = [set(re.findall(r"f\d+\.yaml", sql)) for sql in large]
    assert all(named <= {"f0.yaml"} for named in files_named), files_named
    assert not any("GROUP BY" in sql for sql in large)


def test_post_refresh_enqueues_the_refresh_of_the_entity(auth_client, db, root, monkeypatch):
    location = _folder(root)
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(jobs, "location_refresh_enqueue", lambda **kwargs: calls.append(kwargs))

    response = auth_client.post(
        f"{BASE}/refresh", {"entityRef": "component:default/c1"}, content_type="application/json"
    )

    assert response.status_code == 200, response.content
    assert calls == [{"location_id": str(location.pk), "entity_source": f"file:{root}/cat/f1.yaml"}]


def test_the_entity_refresh_task_reads_only_the_entity_file(db, root):
    location = _folder(root)
    _keeping_stat(root / "cat" / "f1.yaml", lambda: _write(root, 1, description="again"))
    _keeping_stat(root / "cat" / "f2.yaml", lambda: _write(root, 2, description="other"))

    tasks.location_refresh.apply(
        kwargs={"location_id": str(location.pk), "entity_source": f"file:{root}/cat/f1.yaml"}
    ).get()

    assert (_description("c1"), _description("c2")) == ("again", "first")


def test_an_entity_deleted_while_a_refresh_read_still_comes_back_on_the_next_one(db, root):
    """The delete drops its file's cache entry after the refresh read it: the refresh's write must not restore it."""
    location = _folder(root)
    c0 = Entity.objects.get(name="c0")
    outcome = walk.location_read(location=location, entity_source=c0.source)
    services.entity_delete(entity=Entity.objects.get(name="c2"), actor=SYSTEM)

    services._location_write(location=Location.objects.get(pk=location.pk), outcome=outcome, partial=True)
    assert not Entity.objects.filter(name="c2").exists()

    _refresh_entity("c0")
    assert Entity.objects.filter(name="c2", orphan=False).exists()


def test_an_entity_refresh_of_a_one_file_location(db, root):
    path = write_docs(root / "one.yaml", [ComponentDictFactory(name=n, description="first") for n in ("a", "b")])
    location = new_location(type="file", target=str(path))
    services.location_refresh(location=location)
    write_docs(path, [ComponentDictFactory(name="a", description="again")])

    result = _refresh_entity("a")

    assert (result.files_read, result.applied.updated, result.applied.orphaned) == (1, 1, 1)
    assert _description("a") == "again"
    assert set(Entity.objects.filter(orphan=True).values_list("name", flat=True)) == {"b"}
    again = services.location_refresh(location=Location.objects.get(pk=location.pk))  # full, nothing changed
    assert (again.applied.unchanged, again.applied.orphaned) == (2, 0)
    assert set(Entity.objects.filter(orphan=True).values_list("name", flat=True)) == {"b"}


def test_an_entity_refresh_of_an_unchanged_one_file_location_orphans_nothing(db, root):
    path = write_docs(root / "one.yaml", [ComponentDictFactory(name=n, description="first") for n in ("a", "b")])
    services.location_refresh(location=new_location(type="file", target=str(path)))

    result = _refresh_entity("a")

    assert (result.files_read, result.applied.unchanged, result.applied.orphaned) == (1, 3, 0)
    assert not Entity.objects.filter(orphan=True).exists()


def test_a_full_re_read_overtaken_by_another_refresh_still_finds_every_gone_entity(db, root):
    """The sources a full re-read listed when it began are complete only until another refresh commits."""
    location = _folder(root, files=2)
    outcome = walk.location_read(location=Location.objects.get(pk=location.pk))  # lists f0 and f1
    _write(root, 2, description="first")
    services.location_refresh(location=Location.objects.get(pk=location.pk))  # adds c2 and s2, from f2
    (root / "cat" / "f2.yaml").unlink()
    # A source with no cache entry (a URL that had errors): only the location's entities say it is theirs.
    Location.objects.filter(pk=location.pk).update(source_digests={})

    applied = services._location_write(location=Location.objects.get(pk=location.pk), outcome=outcome, partial=False)

    assert applied.orphaned == 2
    assert set(Entity.objects.filter(orphan=True).values_list("name", flat=True)) == {"c2", "s2"}
