"""Relations and search rows without a database foreign key: every delete still takes them along, every write points
them at the right entity, and a write racing a delete writes none for an entity that is gone."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection

from catalog import ingest, services
from catalog.indexing import search_entries
from catalog.ingest import apply_location_read
from catalog.locations import walk
from catalog.models import Entity, Location, Relation, SearchEntry
from tests.catalog.factories import ComponentDictFactory, GroupDictFactory, LocationFactory, write_docs
from tests.portal.factories import AdminFactory


@pytest.fixture
def root(tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    return tmp_path


def services_of(n: int, *, owner: str = "team-a") -> list[dict[str, Any]]:
    return [
        ComponentDictFactory(name=f"svc-{i}", owner=owner, dependsOn=[f"component:svc-{(i + 1) % n}"]) for i in range(n)
    ]


def leftovers() -> dict[str, int]:
    """Rows whose entity is gone: what a database foreign key used to refuse."""
    ids = Entity.objects.values("id")
    return {
        "relations": Relation.objects.exclude(originating_id__in=ids).count(),
        "search entries": SearchEntry.objects.exclude(entity_id__in=ids).count(),
    }


NOTHING_LEFT = {"relations": 0, "search entries": 0}


def refreshed(root, docs: list[dict[str, Any]], name: str = "a.yaml") -> Location:
    location = Location.objects.get(pk=LocationFactory(type="file", target=str(write_docs(root / name, docs))).pk)
    result = services.location_refresh(location=location)
    assert result.applied.errors == []
    return location


def test_the_derived_tables_have_no_foreign_key_in_the_database(db):
    """The premise of this module: nothing in the database deletes or refuses these rows, the code must."""
    with connection.cursor() as cursor:
        for model in (Relation, SearchEntry):
            constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
            assert [name for name, c in constraints.items() if c["foreign_key"]] == [], model.__name__


def test_each_written_row_points_at_the_entity_it_was_derived_from(db, root):
    refreshed(root, [GroupDictFactory(name="team-a"), *services_of(30)])

    # Created entities take their primary keys before their rows are written: each row names its own entity.
    for relation in Relation.objects.select_related("originating"):
        assert relation.originating.ref in (relation.source_ref, relation.target_ref), relation
    names = dict(SearchEntry.objects.filter(key="metadata.name").values_list("entity_id", "value"))
    assert names == {pk: name.lower() for pk, name in Entity.objects.values_list("pk", "name")}
    uids = dict(SearchEntry.objects.filter(key="metadata.uid").values_list("entity_id", "value"))
    assert uids == {pk: str(uid) for pk, uid in Entity.objects.values_list("pk", "uid")}


def test_deleting_an_entity_deletes_its_relations_and_search_rows(db, root):
    refreshed(root, services_of(5))
    entity = Entity.objects.get(ref="component:default/svc-2")
    assert Relation.objects.filter(originating=entity).count() == 4
    assert SearchEntry.objects.filter(entity=entity).exists()

    services.entity_delete(entity=entity, actor=AdminFactory())

    assert not Relation.objects.filter(originating_id=entity.pk).exists()
    assert not SearchEntry.objects.filter(entity_id=entity.pk).exists()
    assert leftovers() == NOTHING_LEFT
    assert Relation.objects.filter(originating__ref="component:default/svc-3").count() == 4  # the others stay


def test_unregistering_a_location_deletes_every_row_of_its_entities(db, root):
    kept = refreshed(root, services_of(3, owner="team-b"), name="b/other.yaml")
    kept_rows = (Relation.objects.count(), SearchEntry.objects.count())
    location = refreshed(root, [ComponentDictFactory(name=f"app-{i}") for i in range(20)])

    assert services.location_delete(location=location, actor=AdminFactory()) == 21

    assert leftovers() == NOTHING_LEFT
    assert (Relation.objects.count(), SearchEntry.objects.count()) == kept_rows
    assert Entity.objects.filter(location=kept).count() == 4


def test_an_entity_gone_from_its_file_is_deleted_with_its_rows_under_the_delete_policy(db, root, settings):
    settings.PAVED_CATALOG_ORPHAN_POLICY = "delete"
    path = root / "a.yaml"
    location = refreshed(root, services_of(4))
    write_docs(path, services_of(4)[:2])

    result = services.location_refresh(location=location)

    assert result.applied.deleted == 2
    assert leftovers() == NOTHING_LEFT
    assert not SearchEntry.objects.filter(key="metadata.name", value="svc-3").exists()


def test_a_rewritten_entity_keeps_only_its_new_rows(db, root):
    path = root / "a.yaml"
    location = refreshed(root, services_of(3))
    write_docs(path, services_of(3, owner="team-b"))

    result = services.location_refresh(location=location)

    assert result.applied.updated == 3
    assert leftovers() == NOTHING_LEFT
    owners = set(Relation.objects.filter(type="ownedBy").values_list("source_ref", "target_ref"))
    assert owners == {(f"component:default/svc-{i}", "group:default/team-b") for i in range(3)}
    assert set(SearchEntry.objects.filter(key="spec.owner").values_list("value", flat=True)) == {"team-b"}


def _delete_before_the_write(monkeypatch, ref: str, times: int) -> list[str]:
    """Delete `ref` (raw queryset delete, as a delete taking no location lock would) after the write has read the
    existing entities and before it writes them, `times` times."""
    deleted: list[str] = []
    create = ingest._create_entities

    def create_after_a_delete(entities: Any) -> None:
        if len(deleted) < times:
            Entity.objects.filter(ref=ref).delete()
            deleted.append(ref)
        create(entities)

    monkeypatch.setattr(ingest, "_create_entities", create_after_a_delete)
    return deleted


@pytest.mark.parametrize("update_by_copy", [1, 1000], ids=["by copy", "row by row"])
def test_an_update_of_an_entity_deleted_meanwhile_is_a_conflict_that_writes_no_rows(
    db, root, monkeypatch, update_by_copy
):
    monkeypatch.setattr(ingest, "_UPDATE_BY_COPY", update_by_copy)
    path = root / "a.yaml"
    location = refreshed(root, services_of(3))
    Entity.objects.filter(ref="component:default/svc-1").update(location=None)  # its location lock protects no more
    write_docs(path, services_of(3, owner="team-b"))
    outcome = walk.location_read(location=location)
    _delete_before_the_write(monkeypatch, "component:default/svc-1", times=1)

    with pytest.raises(IntegrityError, match="1 of the entities to update were deleted meanwhile"):
        apply_location_read(location=location, sources=outcome.sources)

    assert leftovers() == NOTHING_LEFT


def test_a_refresh_that_loses_that_race_writes_again_on_what_the_delete_left(db, root, monkeypatch):
    path = root / "a.yaml"
    location = refreshed(root, services_of(3))
    Entity.objects.filter(ref="component:default/svc-1").update(location=None)
    write_docs(path, services_of(3, owner="team-b"))
    deleted = _delete_before_the_write(monkeypatch, "component:default/svc-1", times=1)

    result = services.location_refresh(location=Location.objects.get(pk=location.pk))

    assert deleted == ["component:default/svc-1"]
    # The delete ran inside the failed attempt here, so it went back with it; the second attempt writes all three.
    assert (result.applied.created, result.applied.updated) == (0, 3)
    assert leftovers() == NOTHING_LEFT
    entity = Entity.objects.get(ref="component:default/svc-1")
    assert entity.location_id == location.pk
    assert Relation.objects.filter(originating=entity).count() == 4
    assert SearchEntry.objects.get(entity=entity, key="spec.owner").value == "team-b"


def test_after_a_refresh_that_creates_updates_and_keeps_each_entity_has_exactly_its_own_rows(db, root):
    path = root / "a.yaml"
    location = refreshed(root, services_of(4))
    changed = (
        services_of(4, owner="team-b")[:2]
        + services_of(4)[2:]
        + [ComponentDictFactory(name=f"new-{i}") for i in range(3)]
    )
    write_docs(path, changed)

    result = services.location_refresh(location=location)

    assert (result.applied.created, result.applied.updated, result.applied.unchanged) == (3, 2, 3)
    assert leftovers() == NOTHING_LEFT
    for entity in Entity.objects.all():
        rows = sorted(SearchEntry.objects.filter(entity=entity).values_list("key", "value"), key=repr)
        assert rows == sorted(search_entries(entity.data), key=repr), entity.ref
    assert set(SearchEntry.objects.filter(key="spec.owner").values_list("entity__name", "value")) == {
        ("svc-0", "team-b"),
        ("svc-1", "team-b"),
        ("svc-2", "team-a"),
        ("svc-3", "team-a"),
        *((f"new-{i}", "team-a") for i in range(3)),
    }


@pytest.mark.parametrize("update_by_copy", [1, 1000], ids=["by copy", "row by row"])
def test_an_updated_entity_has_every_column_a_new_one_would_have(db, root, monkeypatch, update_by_copy):
    monkeypatch.setattr(ingest, "_UPDATE_BY_COPY", update_by_copy)
    location = refreshed(root, services_of(3))
    before = {e.ref: e for e in Entity.objects.all()}
    changed = [
        {
            **doc,
            "metadata": {**doc["metadata"], "title": f"Title {n}", "tags": ["edited", "json"], "description": "new"},
            "spec": {**doc["spec"], "type": "website", "lifecycle": "experimental", "system": "shop"},
        }
        for n, doc in enumerate(services_of(3, owner="team-b"))
    ]
    write_docs(root / "a.yaml", changed)

    result = services.location_refresh(location=location).applied

    assert (result.created, result.updated) == (0, 3)
    fresh = Location.objects.create(type="file", target=str(root / "b.yaml"))
    write_docs(root / "b.yaml", [{**doc, "metadata": {**doc["metadata"], "namespace": "other"}} for doc in changed])
    services.location_refresh(location=fresh)
    columns = [f.attname for f in Entity._meta.concrete_fields if f.attname not in ("id", "uid", "created_at")]
    for n in range(3):
        updated = Entity.objects.get(ref=f"component:default/svc-{n}")
        created = Entity.objects.get(ref=f"component:other/svc-{n}")
        assert (updated.uid, updated.created_at) == (before[updated.ref].uid, before[updated.ref].created_at)
        assert updated.updated_at > before[updated.ref].updated_at
        differing = {column for column in columns if getattr(updated, column) != getattr(created, column)}
        # What differs is what names the entity, where it was read from and what follows from them (the hash, refs
        # relative to its namespace), nothing else.
        assert differing <= {
            *("ref", "namespace", "data", "search_text", "location_id", "source", "updated_at"),
            *("content_hash", "etag", "owner_ref", "system_ref"),
        }
        assert (updated.owner_ref, updated.system_ref) == ("group:default/team-b", "system:default/shop")
        assert (updated.spec_type, updated.lifecycle, updated.title) == ("website", "experimental", f"Title {n}")
        assert updated.tags == ["edited", "json"]
        assert updated.etag == updated.content_hash[:40]
        assert updated.data["metadata"]["etag"] == updated.etag
        assert updated.data["metadata"]["uid"] == str(updated.uid)
        expected_rows = set(search_entries(updated.data))
        assert set(SearchEntry.objects.filter(entity=updated).values_list("key", "value")) == expected_rows
