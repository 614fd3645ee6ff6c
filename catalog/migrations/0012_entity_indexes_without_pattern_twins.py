"""Fewer entity indexes, and no search rows for `metadata.etag`: both are paid for by every entity a refresh writes.

- `kind` had an index of its own beside `(kind, namespace, name)`, which starts with it. `kind`, `spec_type`,
  `owner_ref` and `system_ref` each had, on PostgreSQL, a `varchar_pattern_ops` twin (what `db_index` adds for
  `LIKE 'x%'`), and none is ever compared by prefix. Those five indexes go; the plain indexes of the other three
  stay, renamed to the names the model now declares (a rename, not a rebuild).
- Backstage's search table leaves out `metadata.etag` (it changes with every write and nothing filters on it);
  Paved wrote one row per entity for it. New writes no longer do (`catalog.indexing.search_entries`); the rows
  already there are deleted here.

Done in SQL rather than by altering the fields: on SQLite, altering a field rebuilds the whole table, which would
also drop its catalog version triggers (migration 0008). The model state changes the same way either way.
"""

from __future__ import annotations

from django.db import migrations, models

# The names Django gave these indexes (the same on every database: they derive from the table and column names).
_DROPPED = {
    "catalog_entity_kind_8e00cce3": "kind",
    "catalog_entity_kind_8e00cce3_like": "kind",
    "catalog_entity_spec_type_a7964348_like": "spec_type",
    "catalog_entity_owner_ref_67acdffd_like": "owner_ref",
    "catalog_entity_system_ref_9c1494c2_like": "system_ref",
}
_RENAMED = {
    "catalog_entity_spec_type_a7964348": ("catalog_entity_spec_type", "spec_type"),
    "catalog_entity_owner_ref_67acdffd": ("catalog_entity_owner_ref", "owner_ref"),
    "catalog_entity_system_ref_9c1494c2": ("catalog_entity_system_ref", "system_ref"),
}


def _indexes_forward(apps, schema_editor):
    execute = schema_editor.execute
    for old in _DROPPED:
        if schema_editor.connection.vendor == "postgresql" or not old.endswith("_like"):
            execute(f"DROP INDEX IF EXISTS {old}")
    for old, (new, column) in _RENAMED.items():
        if schema_editor.connection.vendor == "postgresql":
            execute(f"ALTER INDEX IF EXISTS {old} RENAME TO {new}")
        else:  # SQLite cannot rename an index
            execute(f"DROP INDEX IF EXISTS {old}")
            execute(f"CREATE INDEX {new} ON catalog_entity ({column})")


def _indexes_backward(apps, schema_editor):
    execute = schema_editor.execute
    postgresql = schema_editor.connection.vendor == "postgresql"
    for old, (new, column) in _RENAMED.items():
        if postgresql:
            execute(f"ALTER INDEX IF EXISTS {new} RENAME TO {old}")
        else:
            execute(f"DROP INDEX IF EXISTS {new}")
            execute(f"CREATE INDEX {old} ON catalog_entity ({column})")
    for old, column in _DROPPED.items():
        if old.endswith("_like"):
            if postgresql:
                execute(f"CREATE INDEX {old} ON catalog_entity ({column} varchar_pattern_ops)")
        else:
            execute(f"CREATE INDEX {old} ON catalog_entity ({column})")


def _delete_etag_rows(apps, schema_editor):
    apps.get_model("catalog", "SearchEntry").objects.filter(key="metadata.etag").delete()


def _add_etag_rows(apps, schema_editor):
    Entity = apps.get_model("catalog", "Entity")
    SearchEntry = apps.get_model("catalog", "SearchEntry")
    rows = (
        SearchEntry(entity_id=pk, key="metadata.etag", value=etag.lower())
        for pk, etag in Entity.objects.values_list("pk", "etag").iterator()
    )
    SearchEntry.objects.bulk_create(rows, batch_size=500)


_STATE = [
    migrations.AlterField(model_name="entity", name="kind", field=models.CharField(max_length=63)),
    migrations.AlterField(model_name="entity", name="owner_ref", field=models.CharField(blank=True, max_length=300)),
    migrations.AlterField(model_name="entity", name="spec_type", field=models.CharField(blank=True, max_length=255)),
    migrations.AlterField(model_name="entity", name="system_ref", field=models.CharField(blank=True, max_length=300)),
    migrations.AddIndex(
        model_name="entity", index=models.Index(fields=["spec_type"], name="catalog_entity_spec_type")
    ),
    migrations.AddIndex(
        model_name="entity", index=models.Index(fields=["owner_ref"], name="catalog_entity_owner_ref")
    ),
    migrations.AddIndex(
        model_name="entity", index=models.Index(fields=["system_ref"], name="catalog_entity_system_ref")
    ),
]


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0011_entity_metadata_key_variants"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=_STATE,
            database_operations=[migrations.RunPython(_indexes_forward, _indexes_backward, elidable=False)],
        ),
        migrations.RunPython(_delete_etag_rows, _add_etag_rows, elidable=False),
    ]
