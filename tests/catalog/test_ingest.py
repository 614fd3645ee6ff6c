"""apply_location_read through real refreshes: bulk writes, bounded queries, the unchanged-source shortcut."""

from __future__ import annotations

import pytest

from catalog import services
from catalog.ingest import SourceRead, apply_location_read
from catalog.models import Entity, Relation, SearchEntry
from tests.catalog.factories import LocationFactory, component, group
from tests.catalog.location_helpers import write_docs


@pytest.fixture
def root(tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    return tmp_path


def many(n: int) -> list[dict]:
    return [component(f"svc-{i}", dependsOn=[f"component:svc-{(i + 1) % n}"]) for i in range(n)]


@pytest.mark.parametrize("size", [10, 300])
def test_refresh_query_count_does_not_grow_with_the_number_of_entities(db, root, size, django_assert_max_num_queries):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", many(size))))

    with django_assert_max_num_queries(40):
        services.location_refresh(location=location)

    assert Entity.objects.filter(location=location).count() == size + 1
    assert Relation.objects.count() == size * 4  # ownedBy/ownerOf + dependsOn/dependencyOf, per entity
    assert SearchEntry.objects.filter(key="spec.dependson").count() == size


def test_unchanged_files_are_not_parsed_again(db, root, monkeypatch):
    location = LocationFactory(type="file", target=str(write_docs(root / "a.yaml", many(5))))
    services.location_refresh(location=location)
    parsed: list[str] = []
    from catalog.locations.file import FileReader

    original = FileReader.parse
    monkeypatch.setattr(
        FileReader,
        "parse",
        lambda self, source, data, **kw: parsed.append(source) or original(self, source, data, **kw),
    )

    result = services.location_refresh(location=location)

    assert parsed == []
    assert (result.applied.created, result.applied.updated, result.applied.unchanged) == (0, 0, 6)
    assert not Entity.objects.filter(orphan=True).exists()


def test_a_changed_file_is_parsed_and_applied(db, root):
    path = write_docs(root / "a.yaml", [component("a", owner="team-a")])
    location = LocationFactory(type="file", target=str(path))
    services.location_refresh(location=location)
    write_docs(path, [component("a", owner="team-b")])

    result = services.location_refresh(location=location)

    assert result.applied.updated == 1
    assert Entity.objects.get(name="a").owner_ref == "group:default/team-b"


def test_files_with_placeholders_or_errors_are_always_parsed(db, root):
    (root / "desc.txt").write_text("v1")
    write_docs(
        root / "a.yaml",
        [
            component("a", owner="team-a"),
            {**component("x"), "metadata": {"name": "x", "description": {"$text": "./desc.txt"}}},
        ],
    )
    write_docs(root / "b.yaml", [component("b"), {**component("bad"), "spec": {}}])
    location = LocationFactory(type="file", target=str(root))
    services.location_refresh(location=location)
    (root / "desc.txt").write_text("v2")

    services.location_refresh(location=location)

    location.refresh_from_db()
    assert Entity.objects.get(name="x").description == "v2"
    assert any("component:default/bad" in e["message"] for e in location.errors)
    assert set(location.source_digests) == set()


def test_a_trust_change_invalidates_the_cache(db, root, django_capture_on_commit_callbacks):
    location = LocationFactory(type="file", target=str(write_docs(root / "org.yaml", [group("team-a")])), trusted=False)
    services.location_refresh(location=location)
    assert not Entity.objects.filter(kind="Group").exists()

    with django_capture_on_commit_callbacks(execute=True):
        services.location_set_trusted(location=location, trusted=True, actor=None)

    assert Entity.objects.filter(kind="Group", name="team-a").exists()


def test_apply_location_read_keeps_failed_sources(db):
    location = LocationFactory()
    from tests.catalog.factories import ingest

    ingest([component("a")], location=location)

    result = apply_location_read(location=location, sources=[SourceRead(location.key, False)])

    assert result.orphaned == 0
    assert Entity.objects.filter(name="a", orphan=False).exists()
