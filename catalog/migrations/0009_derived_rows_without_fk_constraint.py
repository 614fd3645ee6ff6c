"""Relations and search rows without a foreign-key constraint in the database (catalog.models explains why).

Django still deletes them with their entity (`on_delete=CASCADE` is applied by Django, not by the database). On
SQLite, changing a constraint rebuilds the table, and a rebuilt table has lost its triggers: the catalog version
triggers of migration 0008 are put back on both tables in the same migration.
"""

from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models

REBUILT_TABLES = ("catalog_relation", "catalog_searchentry")
_EVENTS = ("INSERT", "UPDATE", "DELETE")


def sqlite_version_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for table in REBUILT_TABLES:
        for event in _EVENTS:
            schema_editor.execute(
                f"CREATE TRIGGER IF NOT EXISTS {table}_version_{event.lower()} AFTER {event} ON {table} "  # noqa: S608
                "BEGIN UPDATE catalog_version SET version = version + 1 WHERE id = 1; END"
            )


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0008_catalog_version_search_text_trigram"),
    ]

    operations = [
        # Unapplying rebuilds the tables again: the triggers are put back after that (operations unapply in reverse).
        migrations.RunPython(migrations.RunPython.noop, sqlite_version_triggers, elidable=False),
        migrations.AlterField(
            model_name="relation",
            name="originating",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="originated_relations",
                to="catalog.entity",
            ),
        ),
        migrations.AlterField(
            model_name="searchentry",
            name="entity",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="search_entries",
                to="catalog.entity",
            ),
        ),
        migrations.RunPython(sqlite_version_triggers, migrations.RunPython.noop, elidable=False),
    ]
