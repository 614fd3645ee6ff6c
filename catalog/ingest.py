"""Write what a location refresh read into the catalog: one transaction, bulk writes, no-op for unchanged entities.

The rules that make locations safe to refresh:
- a source (file or URL) that failed to read or parse keeps its last good entities;
- an entity gone from a source that read cleanly becomes an orphan (or is deleted, by policy);
- an entity already managed by another location is a conflict: recorded, nothing changed;
- org data, templates and Paved's kinds are accepted only from trusted locations (`catalog.locations.trust`);
- an entity a check registered for its kind refuses (`catalog.extensions`) is treated as invalid.

Every error it records is built by `catalog.locations.errors`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from typing import Any, Final

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from catalog.descriptors import Relation, relations_for
from catalog.extensions import entities_changed, entity_check_errors
from catalog.indexing import MAX_VALUE_LENGTH, content_hash, entity_columns, search_entries
from catalog.locations import errors
from catalog.locations.errors import LocationError
from catalog.locations.trust import location_is_trusted, untrusted_kind
from catalog.locations.walk import SourceRead, StoredSources
from catalog.models import Entity, Location, SearchEntry
from catalog.models import Relation as RelationRow

MANAGED_BY_LOCATION: Final = "backstage.io/managed-by-location"
MANAGED_BY_ORIGIN_LOCATION: Final = "backstage.io/managed-by-origin-location"
_BATCH: Final = 1000


class LocationDeleted(Exception):
    """The location was unregistered after its refresh read it: there is nothing left to write to."""


@dataclass
class ApplyResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    orphaned: int = 0
    deleted: int = 0
    errors: list[LocationError] = field(default_factory=list)

    @property
    def written(self) -> int:
        return self.created + self.updated


def synthetic_location_entity(location: Location) -> dict[str, Any]:
    """The Location entity Backstage generates for every registered location."""
    digest = hashlib.sha1(location.key.encode(), usedforsecurity=False).hexdigest()
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Location",
        "metadata": {
            "name": f"generated-{digest}",
            "namespace": "default",
            "annotations": {MANAGED_BY_LOCATION: location.key, MANAGED_BY_ORIGIN_LOCATION: location.key},
        },
        "spec": {"type": location.type, "target": location.target},
    }


def _annotated(entity: dict[str, Any], *, source: str, origin: str) -> dict[str, Any]:
    metadata = dict(entity.get("metadata") or {})
    annotations = dict(metadata.get("annotations") or {})
    annotations[MANAGED_BY_LOCATION] = source
    annotations[MANAGED_BY_ORIGIN_LOCATION] = origin
    metadata["annotations"] = annotations
    metadata.setdefault("namespace", "default")
    return {**entity, "metadata": metadata}


@dataclass
class _Candidate:
    ref: str
    source: str
    entity: dict[str, Any]
    relations: Sequence[Relation]
    # entity_columns(entity): the uid and etag added when it is written change none of them.
    columns: dict[str, Any] = field(default_factory=dict)
    hash: str = ""  # content_hash(entity), computed when it is compared


@transaction.atomic
def apply_location_read(
    *, location: Location, sources: Sequence[SourceRead], partial: bool = False, stored: StoredSources | None = None
) -> ApplyResult:
    """Replace what `location` manages with what was read, under the rules in this module's docstring.

    Runs in one transaction so that readers never see half a refresh. Locks the location row first, as
    unregistering the location and deleting one of its entities do: two refreshes of one location never
    interleave (the second sees what the first wrote), a delete waits for the write or the write sees the
    delete. Raises LocationDeleted, writing nothing, when the location is gone.

    `partial`: the read skipped files by their stat (a change check, the refresh of one entity). Only entities of
    the sources read this time, or recorded last time (Location.source_digests) and no longer listed, can then be
    gone: finding them costs what was read, not the location's size. A source the location had that neither names
    (a URL that failed last time and is no longer nested) waits for the next full re-read.

    `stored`: a full re-read's list of the sources the location's entities had when it began. If no refresh of the
    location committed since, gone entities are looked for among those not read, kept or listed, by source (no
    scan of the location's entities); else among all of them.
    """
    locked = Location.objects.select_for_update().filter(pk=location.pk).first()
    if locked is None:
        raise LocationDeleted(location.key)
    # As they are now, not as the caller loaded them: another refresh or a trust change may have committed since.
    location.trusted = locked.trusted
    location.failed_attempts = locked.failed_attempts
    location.last_success_at = locked.last_success_at
    location.source_digests = locked.source_digests
    result = ApplyResult()
    trusted = location_is_trusted(location=location)
    failed_sources = {s.source for s in sources if not s.ok}
    # Kept as stored, like failed sources, but a success.
    kept_sources = failed_sources | {s.source for s in sources if s.unchanged}
    # An unchanged source's entities are those its cache entry counted (the synthetic entity is counted below with
    # the candidates): no query over the location's entities.
    result.unchanged += sum({s.source: s.kept for s in sources if s.unchanged and s.ok}.values())
    for read in sources:
        result.errors.extend(errors.from_issue(issue) for issue in read.issues)
    # What the location manages now outside the sources kept as stored: those of its entities this read does not
    # declare again are gone (orphaned or deleted below). Read before the writes, which only add entities this read
    # declares, under the location's lock, which keeps others from adding or removing any.
    complete = stored is not None and stored.as_of == locked.last_refresh_at
    if partial or complete:
        listed = {s.source for s in sources}
        known = set(locked.source_digests or {}) | (stored.sources if stored is not None and complete else set())
        not_kept = {s.source for s in sources if s.source not in kept_sources} | (known - listed)
        # The synthetic entity's source is the location's key, a kept file's too for a one-file location: it is
        # among the candidates below, never gone, so it is not looked for here.
        managed = _entities_of_sources(location=location, sources=not_kept)
    else:
        managed = list(
            Entity.objects.filter(location=location)
            .exclude(source__in=sorted(kept_sources))
            .values_list("pk", "ref", "orphan")
        )

    candidates: dict[str, _Candidate] = {}
    invalid_refs: dict[str, list[LocationError]] = {}
    for issue in (i for read in sources for i in read.issues):
        if issue.entity_ref:
            invalid_refs.setdefault(issue.entity_ref.lower(), []).append(errors.from_issue(issue))

    synthetic = synthetic_location_entity(location)
    all_parsed: list[tuple[str, dict[str, Any], Sequence[Relation], int | None]] = [
        (location.key, synthetic, relations_for(synthetic), None)
    ]
    for read in sources:
        all_parsed.extend((read.source, p.entity, p.relations, p.document) for p in read.entities)

    for source, raw, relations, document in all_parsed:
        entity: dict[str, Any] = _annotated(
            raw, source=source if raw is not synthetic else location.key, origin=location.key
        )
        columns = entity_columns(entity)
        ref = f"{columns['kind']}:{columns['namespace']}/{columns['name']}".lower()
        refused = untrusted_kind(entity=entity, ref=ref, file=source, trusted=trusted)
        if refused is not None:
            result.errors.append(refused)
            continue
        check_errors = entity_check_errors(entity=raw, ref=ref, source=source, document=document)
        if check_errors:
            # Refused like an invalid entity: its last good version stays, with these errors attached.
            result.errors.extend(check_errors)
            invalid_refs.setdefault(ref, []).extend(check_errors)
            continue
        if ref in candidates:
            result.errors.append(errors.declared_twice(ref=ref, file=source, first=candidates[ref].source))
            continue
        candidates[ref] = _Candidate(ref, source, entity, relations, columns)

    existing = {
        row["ref"]: row
        for row in _in_batches(
            lambda batch: Entity.objects.filter(ref__in=batch).values(
                "id", "ref", "uid", "location_id", "content_hash", "orphan", "source", "errors"
            ),
            list(candidates) + list(invalid_refs),
        )
    }

    now = timezone.now()
    for ref, candidate in list(candidates.items()):
        row = existing.get(ref)
        if row is not None and row["location_id"] not in (None, location.pk):
            other = Location.objects.filter(pk=row["location_id"]).first()
            result.errors.append(
                errors.conflict(ref=ref, file=candidate.source, other=other.key if other else str(row["location_id"]))
            )
            del candidates[ref]

    to_create: list[Entity] = []
    to_update: list[Entity] = []
    # New entities take their primary keys first (PostgreSQL), so that their search rows, the biggest COPY of a large
    # refresh, go to the database while the next entities are prepared: the server indexes while Python hashes.
    new_pks = _new_entity_pks(sum(1 for ref in candidates if ref not in existing))

    def prepared() -> Iterator[tuple[Any, ...]]:
        """Decide and build every candidate's row (nothing here queries: a COPY is in progress); yield the search
        rows of the new entities that already have their primary key."""
        for ref, candidate in candidates.items():
            row = existing.get(ref)
            candidate.hash = content_hash(candidate.entity)
            if (
                row is not None
                and row["content_hash"] == candidate.hash
                and not row["orphan"]
                and not row["errors"]
                and row["location_id"] == location.pk
            ):
                result.unchanged += 1
                continue
            uid = row["uid"] if row else uuid.uuid4()
            data = candidate.entity
            data["metadata"] = {**data["metadata"], "uid": str(uid), "etag": candidate.hash[:40]}
            row_model = Entity(
                uid=uid,
                ref=ref,
                data=data,
                etag=candidate.hash[:40],
                content_hash=candidate.hash,
                location=location,
                source=candidate.source,
                orphan=False,
                errors=[],
                owner_ref=_first_target(candidate.relations, ref, "ownedBy"),
                system_ref=_first_target(candidate.relations, ref, "partOf", prefix="system:"),
                created_at=now,
                updated_at=now,
                **candidate.columns,
            )
            if row is not None:
                row_model.pk = row["id"]
                to_update.append(row_model)
                continue
            to_create.append(row_model)
            if new_pks:
                row_model.pk = new_pks.pop()
                for key, value in search_entries(data):
                    yield row_model.pk, key, value

    _insert_rows(SearchEntry, _SEARCH_COLUMNS, prepared())
    created_search_rows_written = bool(to_create) and to_create[0].pk is not None
    _create_entities(to_create)
    matched = _update_entities(to_update)
    if matched != len(to_update):
        # An entity read above was deleted since (one no location managed: its delete takes no location lock). Its
        # relations and search rows must not be written for an id that is gone (no constraint refuses them): a
        # conflict, so the write runs again on what that delete committed.
        raise IntegrityError(f"{len(to_update) - matched} of the entities to update were deleted meanwhile")
    result.created, result.updated = len(to_create), len(to_update)
    _rewrite_derived_rows(to_create, to_update, candidates, created_search_rows_written=created_search_rows_written)

    # Entities that failed validation this time keep their last good version, with the errors attached.
    for ref, entity_errors in invalid_refs.items():
        row = existing.get(ref)
        if row is not None and row["location_id"] == location.pk:
            Entity.objects.filter(pk=row["id"]).update(errors=entity_errors)

    seen = set(candidates) | set(invalid_refs)
    gone = [(pk, ref, orphan) for pk, ref, orphan in managed if ref not in seen]
    entities_changed([*(e.ref for e in to_create), *(e.ref for e in to_update), *(ref for _, ref, _ in gone)])
    if settings.PAVED_CATALOG_ORPHAN_POLICY == "delete":
        result.deleted = len(gone)
        for batch in _chunks([pk for pk, _, _ in gone]):
            Entity.objects.filter(pk__in=batch).delete()
    else:
        for batch in _chunks([pk for pk, _, orphan in gone if not orphan]):
            result.orphaned += Entity.objects.filter(pk__in=batch, orphan=False).update(orphan=True, updated_at=now)

    location.errors = result.errors
    location.entity_count = Entity.objects.filter(location=location).count()
    location.last_refresh_at = now
    if failed_sources:
        location.state = Location.State.FAILED
        location.failed_attempts += 1
    else:
        location.state = Location.State.OK
        location.failed_attempts = 0
        location.last_success_at = now
    location.save(
        update_fields=["errors", "entity_count", "last_refresh_at", "state", "failed_attempts", "last_success_at"]
    )
    return result


_MANAGED_BY_KEY: Final = f"metadata.annotations.{MANAGED_BY_LOCATION}"


def _entities_of_sources(*, location: Location, sources: Iterable[str]) -> list[tuple[int, str, bool]]:
    """(pk, ref, orphan) of the location's entities read from `sources`, found through the search table's
    (key, value) index: an entity's managed-by-location annotation is its source, and the entity table has no
    index on `source` (a scan of every entity of the location). Search values are lower-cased, and over-long ones
    are stored without a value: the exact source is checked on the entity rows."""
    wanted = sorted(set(sources))
    found: list[tuple[int, str, bool]] = []
    for batch in _chunks(wanted):
        values = {source.lower() for source in batch}
        short = sorted(value for value in values if len(value) <= MAX_VALUE_LENGTH)
        matching = models.Q(value__in=short) if short else models.Q(pk__in=[])
        if len(short) < len(values):
            matching |= models.Q(value__isnull=True)
        entity_ids = SearchEntry.objects.filter(matching, key=_MANAGED_BY_KEY).values("entity_id")
        found.extend(
            Entity.objects.filter(location=location, source__in=batch, pk__in=entity_ids).values_list(
                "pk", "ref", "orphan"
            )
        )
    return found


def _first_target(relations: Iterable[Relation], ref: str, relation_type: str, prefix: str = "") -> str:
    for relation in relations:
        if relation.source == ref and relation.type == relation_type and relation.target.startswith(prefix):
            return relation.target
    return ""


def _rewrite_derived_rows(
    created: Sequence[Entity],
    updated: Sequence[Entity],
    candidates: dict[str, _Candidate],
    *,
    created_search_rows_written: bool = False,
) -> None:
    """Relations and search entries of written entities, rebuilt in bulk (the search rows of created entities are
    already written when `created_search_rows_written`). A created entity has none to delete (its primary key is
    new). The rows are built as they are sent: PostgreSQL indexes one batch while the next is built."""
    if not created and not updated:
        return
    for batch in _chunks([e.pk for e in updated]):
        RelationRow.objects.filter(originating_id__in=batch).delete()
        SearchEntry.objects.filter(entity_id__in=batch).delete()
    written = [*created, *updated]

    def relation_rows() -> Iterator[tuple[Any, ...]]:
        for entity in written:
            pairs = {(r.source.lower(), r.type, r.target.lower()) for r in candidates[entity.ref].relations}
            for source, relation_type, target in pairs:
                yield entity.pk, source, relation_type, target

    def search_rows() -> Iterator[tuple[Any, ...]]:
        for entity in updated if created_search_rows_written else written:
            for key, value in search_entries(entity.data):
                yield entity.pk, key, value

    _insert_rows(RelationRow, ["originating_id", "source_ref", "type", "target_ref"], relation_rows())
    _insert_rows(SearchEntry, _SEARCH_COLUMNS, search_rows())


_SEARCH_COLUMNS: Final = ["entity_id", "key", "value"]


def _new_entity_pks(count: int) -> list[int]:
    """`count` primary keys from the entity table's sequence (PostgreSQL, one query); none elsewhere, where the
    entities get theirs as they are inserted."""
    if count <= 0 or connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [Entity._meta.db_table, Entity._meta.pk.column, count],
        )
        return [pk for (pk,) in cursor.fetchall()]


# What a refresh rewrites of an entity it read again with other content (everything but its identity and creation).
_UPDATED_FIELDS: Final = (
    "data",
    "etag",
    "content_hash",
    "location",
    "source",
    "orphan",
    "errors",
    "owner_ref",
    "system_ref",
    "kind",
    "namespace",
    "name",
    "api_version",
    "title",
    "description",
    "spec_type",
    "lifecycle",
    "tags",
    "search_text",
    "updated_at",
)


_UPDATE_BY_COPY: Final = 1000


def _update_entities(entities: Sequence[Entity]) -> int:
    """Write `_UPDATED_FIELDS` of entities that exist; returns how many rows matched.

    Not Django's bulk_update: it sends one `CASE WHEN id = … THEN …` per field and row, which PostgreSQL evaluates
    per row again, and which Django builds as expression objects: 31 s of CPU to rewrite 10,000 entities. A prepared
    `UPDATE … WHERE id = ?` runs for each row (psycopg pipelines them); from `_UPDATE_BY_COPY` rows on PostgreSQL they
    go by COPY into a temporary table that one `UPDATE … FROM` joins on the primary key instead (a table created and
    dropped for each edit would churn PostgreSQL's catalogs for nothing).
    """
    if not entities:
        return 0
    fields = [field for field in Entity._meta.concrete_fields if field.name in _UPDATED_FIELDS]
    columns = [field.column for field in fields]
    quote = connection.ops.quote_name
    table = quote(Entity._meta.db_table)
    pk = quote(Entity._meta.pk.column)
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql" or len(entities) < _UPDATE_BY_COPY:
            statement = f"UPDATE {table} SET {', '.join(f'{quote(c)} = %s' for c in columns)} WHERE {pk} = %s"  # noqa: S608
            matched = 0
            for batch in _batched(entities, _BATCH):
                cursor.executemany(
                    statement,
                    [[*(f.get_db_prep_save(getattr(e, f.attname), connection) for f in fields), e.pk] for e in batch],
                )
                matched += int(cursor.rowcount)
            return matched
        scratch = quote("paved_entity_update")
        names = ", ".join(quote(column) for column in [Entity._meta.pk.column, *columns])
        cursor.execute(f"CREATE TEMPORARY TABLE {scratch} ON COMMIT DROP AS SELECT {names} FROM {table} WITH NO DATA")  # noqa: S608
        preps = [_copy_prep(f) for f in fields]
        rows = (
            (entity.pk, *(v if prep is None else prep(v) for prep, v in zip(preps, values, strict=True)))
            for entity, values in ((e, [getattr(e, f.attname) for f in fields]) for e in entities)
        )
        with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {scratch} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        assignments = ", ".join(f"{quote(c)} = u.{quote(c)}" for c in columns)
        cursor.execute(f"UPDATE {table} AS e SET {assignments} FROM {scratch} AS u WHERE e.{pk} = u.{pk}")  # noqa: S608
        matched = int(cursor.rowcount)
        cursor.execute(f"DROP TABLE {scratch}")
        return matched


def _create_entities(entities: Sequence[Entity]) -> None:
    """Insert new entities and set their primary keys. On PostgreSQL through COPY, with primary keys taken from the
    table's sequence (`_new_entity_pks`, unless they have theirs already) instead of read back by ref: bulk_create's
    parameter arrays cost more than the rest of a large import put together."""
    if not entities:
        return
    if connection.vendor != "postgresql":
        Entity.objects.bulk_create(entities, batch_size=_BATCH)
        if entities[0].pk is None:  # backends without RETURNING on bulk insert
            _load_ids(entities)
        return
    without_pk = [entity for entity in entities if entity.pk is None]
    for entity, pk in zip(without_pk, _new_entity_pks(len(without_pk)), strict=True):
        entity.pk = pk
    fields = list(Entity._meta.concrete_fields)
    preps = [_copy_prep(f) for f in fields]
    rows = (
        tuple(value if prep is None else prep(value) for prep, value in zip(preps, values, strict=True))
        for values in ([getattr(e, f.attname) for f in fields] for e in entities)
    )
    _insert_rows(Entity, [f.column for f in fields], rows)


# Field classes whose Python values psycopg's COPY takes as they are (Django's preparation returns them unchanged
# on PostgreSQL, at a few microseconds a call: a tenth of a large import).
_COPY_AS_IS: Final = (
    models.CharField,
    models.TextField,
    models.BooleanField,
    models.UUIDField,
    models.DateTimeField,
    models.IntegerField,
    models.ForeignKey,
    models.BigAutoField,
)


def _copy_prep(field: models.Field[Any, Any]) -> Callable[[Any], Any] | None:
    """How one column's value goes into COPY: None for as is, JSON as text (the server parses it), else Django's."""
    if isinstance(field, models.JSONField):
        return partial(_json_text, field.encoder)
    if type(field) in _COPY_AS_IS:
        return None
    return partial(_django_prep, field)


def _json_text(encoder: type[json.JSONEncoder] | None, value: Any) -> str | None:
    return None if value is None else json.dumps(value, cls=encoder)


def _django_prep(field: models.Field[Any, Any], value: Any) -> Any:
    return field.get_db_prep_save(value, connection)


def _load_ids(entities: Sequence[Entity]) -> None:
    ids: dict[str, int] = {}
    for batch in _chunks([e.ref for e in entities]):
        ids.update(Entity.objects.filter(ref__in=batch).values_list("ref", "id"))
    for entity in entities:
        entity.pk = ids[entity.ref]


def _insert_rows(model: type[models.Model], columns: list[str], rows: Iterable[tuple[Any, ...]]) -> None:
    """Insert plain tuples without building model instances: derived rows run into the hundreds of thousands
    for a large location, and COPY (PostgreSQL) or executemany is several times faster than bulk_create."""
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(column) for column in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            rows = iter(rows)
            first = next(rows, None)
            if first is None:
                return
            # COPY goes through the driver's own cursor: its errors are made Django's (IntegrityError, ...) here.
            with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                copy.write_row(first)
                for row in rows:
                    copy.write_row(row)
            return
        statement = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608
        for batch in _batched(rows, _BATCH * 5):
            cursor.executemany(statement, batch)


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _chunks(items: Sequence[Any], size: int = 900) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _in_batches(query: Any, keys: Sequence[str]) -> Iterable[dict[str, Any]]:
    # SQLite caps the number of bound parameters; IN lists are split so any location size works.
    for batch in _chunks(keys):
        yield from query(batch)
