"""apply_location_read through real refreshes: bulk writes, bounded queries, the unchanged-source shortcut."""

from __future__ import annotations

import pytest

from catalog import services
from catalog.ingest import apply_location_read
from catalog.locations.walk import SourceRead
from catalog.models import Entity, Relation, SearchEntry
from portal.permissions import SYSTEM
from tests.catalog.factories import ComponentDictFactory, GroupDictFactory, LocationFactory, write_docs


@pytest.fixture
def root(tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    return tmp_path


def many(n: int) -> list[dict]:
    return [ComponentDictFactory(name=f"svc-{i}", dependsOn=[f"component:svc-{(i + 1) % n}"]) for i in range(n)]


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
    path = write_docs(root / "a.yaml", [ComponentDictFactory(name="a", owner="team-a")])
    location = LocationFactory(type="file", target=str(path))
    services.location_refresh(location=location)
    write_docs(path, [ComponentDictFactory(name="a", owner="team-b")])

    result = services.location_refresh(location=location)

    assert result.applied.updated == 1
    assert Entity.objects.get(name="a").owner_ref == "group:default/team-b"


def test_files_with_placeholders_or_errors_are_always_parsed(db, root):
    (root / "desc.txt").write_text("v1")
    write_docs(
        root / "a.yaml",
        [
            ComponentDictFactory(name="a", owner="team-a"),
            {**ComponentDictFactory(name="x"), "metadata": {"name": "x", "description": {"$text": "./desc.txt"}}},
        ],
    )
    write_docs(root / "b.yaml", [ComponentDictFactory(name="b"), {**ComponentDictFactory(name="bad"), "spec": {}}])
    location = LocationFactory(type="file", target=str(root))
    services.location_refresh(location=location)
    (root / "desc.txt").write_text("v2")

    services.location_refresh(location=location)

    location.refresh_from_db()
    assert Entity.objects.get(name="x").description == "v2"
    assert any("component:default/bad" in e["message"] for e in location.errors)
    # Their size and modification time are kept (for the change check), never a digest that would skip them.
    assert set(location.source_digests) == {f"file:{root}/a.yaml", f"file:{root}/b.yaml"}
    assert all(set(entry) == {"stat"} for entry in location.source_digests.values())


def test_a_trust_change_invalidates_the_cache(db, root, django_capture_on_commit_callbacks):
    location = LocationFactory(
        type="file", target=str(write_docs(root / "org.yaml", [GroupDictFactory(name="team-a")])), trusted=False
    )
    services.location_refresh(location=location)
    assert not Entity.objects.filter(kind="Group").exists()

    with django_capture_on_commit_callbacks(execute=True):
        services.location_set_trusted(location=location, trusted=True, actor=SYSTEM)

    assert Entity.objects.filter(kind="Group", name="team-a").exists()


def test_apply_location_read_keeps_failed_sources(db):
    location = LocationFactory()
    from tests.catalog.factories import ingest

    ingest([ComponentDictFactory(name="a")], location=location)

    result = apply_location_read(location=location, sources=[SourceRead(location.key, False)])

    assert result.orphaned == 0
    assert Entity.objects.filter(name="a", orphan=False).exists()


def _org_yaml(*, domains: int, groups: int, users: int, profiles: bool = True) -> str:
    """An organisation as an HR system exports it: one file, one small document per domain, team and person."""
    parts = [
        f"---\napiVersion: backstage.io/v1alpha1\nkind: Domain\nmetadata:\n  name: domain-{d}\nspec:\n"
        f"  owner: team-{d % groups}\n"
        for d in range(domains)
    ]
    for g in range(groups):
        parent = f"  parent: team-{(g - 1) // 10}\n" if g else ""
        parts.append(
            f"---\napiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-{g}\n"
            f"spec:\n  type: team\n  profile:\n    displayName: Team {g}\n  children: []\n{parent}"
        )
    parts.extend(
        f"---\napiVersion: backstage.io/v1alpha1\nkind: User\nmetadata:\n  name: person-{u}\nspec:\n"
        + (f"  profile:\n    displayName: Person {u}\n    email: person-{u}@example.com\n" if profiles else "")
        + f"  memberOf: [team-{u % groups}]\n"
        for u in range(users)
    )
    return "".join(parts)


def test_a_1210_document_org_yaml_yields_every_group_user_and_domain(db, root):
    path = root / "org.yaml"
    path.write_text(_org_yaml(domains=10, groups=200, users=1000))
    location = LocationFactory(type="file", target=str(path))

    result = services.location_refresh(location=location)

    assert result.applied.errors == []
    stored = set(Entity.objects.filter(location=location).exclude(kind="Location").values_list("ref", flat=True))
    expected = (
        {f"domain:default/domain-{d}" for d in range(10)}
        | {f"group:default/team-{g}" for g in range(200)}
        | {f"user:default/person-{u}" for u in range(1000)}
    )
    assert stored == expected
    assert Relation.objects.filter(type="hasMember").count() == 1000


def test_a_50000_document_file_of_small_entities_ingests_whole(db, root):
    path = root / "org.yaml"
    path.write_text(_org_yaml(domains=0, groups=500, users=49_500, profiles=False))
    location = LocationFactory(type="file", target=str(path))

    result = services.location_refresh(location=location)

    assert result.applied.errors == []
    assert result.applied.created == 50_001  # and the location's own Location entity
    assert Entity.objects.filter(location=location, kind="User").count() == 49_500
    assert Entity.objects.filter(location=location, kind="Group").count() == 500
    assert Relation.objects.filter(type="memberOf").count() == 49_500
    assert Relation.objects.filter(type="childOf").count() == 499


def test_only_entities_gone_from_sources_that_read_cleanly_are_orphaned_and_each_once(db, root):
    write_docs(root / "cat" / "a.yaml", [ComponentDictFactory(name=f"a-{i}") for i in range(3)])
    write_docs(root / "cat" / "b.yaml", [ComponentDictFactory(name=f"b-{i}") for i in range(2)])
    location = LocationFactory(type="file", target=str(root / "cat"))
    services.location_refresh(location=location)
    write_docs(root / "cat" / "a.yaml", [ComponentDictFactory(name=f"a-{i}") for i in range(2)])  # a-2 is gone
    (root / "cat" / "b.yaml").write_text("kind: [unclosed\n")  # b keeps its entities

    first = services.location_refresh(location=location)
    again = services.location_refresh(location=location)

    assert (first.applied.orphaned, again.applied.orphaned) == (1, 0)
    assert set(Entity.objects.filter(orphan=True).values_list("name", flat=True)) == {"a-2"}
    assert Entity.objects.filter(location=location, orphan=False).count() == 5  # a-0, a-1, b-0, b-1, the Location
