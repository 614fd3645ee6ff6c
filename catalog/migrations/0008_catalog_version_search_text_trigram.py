"""The catalog version (catalog.cache) and a trigram index on entities' search text.

**Catalog version.** One row, `catalog_version(id=1, version)`, that the database itself moves forward whenever
the catalog's tables change, so that answers cached under a version (counts behind `totalItems`, facets) can never
outlive the write that changes them, in any process. Triggers, not application code, do it: every write path
(ingest, entity and location deletes, orphan marking, anything added later, even a manual SQL fix) is covered.

- PostgreSQL: a statement trigger on `catalog_entity`, `catalog_relation` and `catalog_searchentry` records the
  writing transaction in `catalog_version_pending` (once per transaction); a deferred constraint trigger on that
  row increments the version as the transaction commits and removes the row. The version row is therefore locked
  only for the last moment of a commit — concurrent ingests are not serialised — and the new version becomes
  visible atomically with the data it stands for. A transaction that has written but not committed finds its own
  row in the pending table, and catalog.cache bypasses the cache for it.
- SQLite: a row trigger increments the version inside the writing transaction (SQLite has one writer at a time).
- Other databases: no triggers; catalog.cache does not cache there.

**Trigram index** on `catalog_entity.search_text` (PostgreSQL): answers the full-text filter `search_text LIKE
'%term%'` with a bitmap index scan instead of a sequential scan of every entity.
"""

from __future__ import annotations

from django.db import migrations

TRIGGER_TABLES = ("catalog_entity", "catalog_relation", "catalog_searchentry")
SEARCH_TEXT_INDEX = "catalog_entity_search_text_trgm"

_PG_CREATE = [
    "CREATE TABLE catalog_version (id smallint PRIMARY KEY CHECK (id = 1), version bigint NOT NULL)",
    "INSERT INTO catalog_version (id, version) VALUES (1, 1)",
    "CREATE TABLE catalog_version_pending (txid bigint PRIMARY KEY)",
    """
    CREATE FUNCTION catalog_version_mark() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO catalog_version_pending (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE FUNCTION catalog_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE catalog_version SET version = version + 1 WHERE id = 1;
        DELETE FROM catalog_version_pending WHERE txid = NEW.txid;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE CONSTRAINT TRIGGER catalog_version_bump AFTER INSERT ON catalog_version_pending
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION catalog_version_bump()
    """,
    *(
        f"CREATE TRIGGER {table}_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION catalog_version_mark()"
        for table in TRIGGER_TABLES
    ),
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"CREATE INDEX IF NOT EXISTS {SEARCH_TEXT_INDEX} ON catalog_entity USING gin (search_text gin_trgm_ops)",
]

_PG_DROP = [
    f"DROP INDEX IF EXISTS {SEARCH_TEXT_INDEX}",
    *(f"DROP TRIGGER IF EXISTS {table}_version ON {table}" for table in TRIGGER_TABLES),
    "DROP TABLE IF EXISTS catalog_version_pending",
    "DROP FUNCTION IF EXISTS catalog_version_bump()",
    "DROP FUNCTION IF EXISTS catalog_version_mark()",
    "DROP TABLE IF EXISTS catalog_version",
]

_SQLITE_CREATE = [
    "CREATE TABLE catalog_version (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)",
    "INSERT INTO catalog_version (id, version) VALUES (1, 1)",
    *(
        f"CREATE TRIGGER {table}_version_{event.lower()} AFTER {event} ON {table} "  # noqa: S608  # constants only
        "BEGIN UPDATE catalog_version SET version = version + 1 WHERE id = 1; END"
        for table in TRIGGER_TABLES
        for event in ("INSERT", "UPDATE", "DELETE")
    ),
]

_SQLITE_DROP = [
    *(
        f"DROP TRIGGER IF EXISTS {table}_version_{event.lower()}"
        for table in TRIGGER_TABLES
        for event in ("INSERT", "UPDATE", "DELETE")
    ),
    "DROP TABLE IF EXISTS catalog_version",
]


def create(apps, schema_editor):
    statements = {"postgresql": _PG_CREATE, "sqlite": _SQLITE_CREATE}.get(schema_editor.connection.vendor, [])
    for statement in statements:
        schema_editor.execute(statement)


def drop(apps, schema_editor):
    statements = {"postgresql": _PG_DROP, "sqlite": _SQLITE_DROP}.get(schema_editor.connection.vendor, [])
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0007_entity_name_trigram"),
    ]

    operations = [
        migrations.RunPython(create, drop, elidable=False),
    ]
