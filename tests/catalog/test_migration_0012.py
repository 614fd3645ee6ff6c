"""Migration 0012: five entity indexes fewer (the others renamed, not rebuilt) and the `metadata.etag` search rows
gone, forwards and backwards, with the catalog version triggers of SQLite untouched."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = ("catalog", "0011_entity_metadata_key_variants")
AFTER = ("catalog", "0012_entity_indexes_without_pattern_twins")


def entity_indexes() -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'catalog_entity'")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'catalog_entity'")
        return {name for (name,) in cursor.fetchall()}


def triggers() -> set[str]:
    if connection.vendor != "sqlite":
        return set()
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {name for (name,) in cursor.fetchall()}


def migrate(target: tuple[str, str]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return MigrationExecutor(connection)


@pytest.mark.django_db(transaction=True)
def test_migration_0012_drops_the_redundant_indexes_and_the_etag_rows_and_puts_them_back():
    latest = entity_indexes()
    version_triggers = triggers()
    executor = migrate(BEFORE)
    try:
        old = executor.loader.project_state([BEFORE]).apps
        Entity, SearchEntry = old.get_model("catalog", "Entity"), old.get_model("catalog", "SearchEntry")
        entity = Entity.objects.create(
            uid="00000000-0000-0000-0000-000000000001",
            ref="component:default/a",
            kind="Component",
            namespace="default",
            name="a",
            data={"kind": "Component", "metadata": {"name": "a", "etag": "E1"}},
            etag="e1",
            content_hash="h",
        )
        SearchEntry.objects.create(entity=entity, key="metadata.etag", value="e1")
        SearchEntry.objects.create(entity=entity, key="metadata.name", value="a")
        before = entity_indexes()
        assert "catalog_entity_kind_8e00cce3" in before
        assert "catalog_entity_spec_type_a7964348" in before
        assert ("catalog_entity_owner_ref_67acdffd_like" in before) == (connection.vendor == "postgresql")

        executor = migrate(AFTER)
        new = executor.loader.project_state([AFTER]).apps
        rows = set(new.get_model("catalog", "SearchEntry").objects.values_list("key", "value"))
        assert rows == {("metadata.name", "a")}
        after = entity_indexes()
        assert not any(name.endswith("_like") and "ref_d4d57767" not in name for name in after)
        assert "catalog_entity_kind_8e00cce3" not in after
        assert {"catalog_entity_spec_type", "catalog_entity_owner_ref", "catalog_entity_system_ref"} <= after
        assert after == latest
        assert triggers() == version_triggers

        executor = migrate(BEFORE)
        assert entity_indexes() == before
        back = executor.loader.project_state([BEFORE]).apps
        rows = set(back.get_model("catalog", "SearchEntry").objects.values_list("key", "value"))
        assert rows == {("metadata.name", "a"), ("metadata.etag", "e1")}
        assert triggers() == version_triggers
    finally:
        MigrationExecutor(connection).migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
    assert entity_indexes() == latest
