"""pg_trgm and a trigram index on entity names, for the search box's typo fallback (catalog.query.fuzzy_name_matches).

PostgreSQL only: on other databases (SQLite in development) both steps do nothing and the fallback matches names
within one edit instead. The extension ships with PostgreSQL's contrib modules; creating it needs a role that may
(the database owner on PostgreSQL 13 and later, pg_trgm being a trusted extension).
"""

from __future__ import annotations

from django.db import migrations

INDEX = "catalog_entity_name_trgm"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON catalog_entity USING gin (name gin_trgm_ops)")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # The extension stays: other tables may use it, and dropping it is a database administrator's decision.
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0006_search_entity_key_value_index"),
    ]

    operations = [
        migrations.RunPython(create, drop, elidable=False),
    ]
