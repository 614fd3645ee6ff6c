"""A partial index of the entities whose metadata spells `name`, `title` or `tags` with other capitals (PostgreSQL).

Full text over chosen fields (`fullTextFilterFields`, what the catalog table's search box sends) reads pages through
the trigram index on `search_text` (catalog.query.full_text_q): every lower-cased value that the search table holds
under `metadata.name`, `metadata.title` or `metadata.tags` is part of an entity's search text — except for values
of keys such as `metadata.Title`, which the descriptor schema allows beside `metadata.title` and which land under
the same lower-cased search key. This index finds those few entities (normally none) without reading every entity,
so that they are checked against the search table directly and the answer stays exactly the same.

The predicate is evaluated only when an entity row is written (a jsonb key lookup; well under 1 % of an ingest).
`catalog.query.METADATA_KEY_VARIANTS_SQL` must stay the same text, or the planner no longer uses the index.
"""

from __future__ import annotations

import itertools

from django.db import migrations

INDEX = "catalog_entity_metadata_key_variants"


def _variants(word: str) -> list[str]:
    spellings = ("".join(letters) for letters in itertools.product(*((c, c.upper()) for c in word)))
    return [spelling for spelling in spellings if spelling != word]


_VARIANTS = ",".join(variant for word in ("name", "title", "tags") for variant in _variants(word))
PREDICATE = f"(data -> 'metadata') ?| '{{{_VARIANTS}}}'::text[]"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON catalog_entity (id) WHERE {PREDICATE}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0010_entity_name_order_index"),
    ]

    operations = [
        migrations.RunPython(create, drop, elidable=False),
    ]
