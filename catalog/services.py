"""Catalog writes: registering, refreshing and deleting locations, deleting entities, on-call overrides elsewhere.

Refreshing reads sources outside any transaction (network and git may be slow) with the location reader
(`catalog.locations.walk`) and hands what it read to `catalog.ingest.apply_location_read`, which writes it in one
transaction under the rules documented there. Background work is enqueued on commit through `catalog.jobs`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal, overload

import structlog
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from catalog import jobs
from catalog.extensions import entities_changed, entity_check_errors
from catalog.indexing import content_hash, entity_columns
from catalog.ingest import ApplyResult, LocationDeleted, _annotated, apply_location_read, synthetic_location_entity
from catalog.locations import TYPES, LocationReadError, reader_for, walk
from catalog.locations import errors as location_errors
from catalog.locations.errors import LocationError
from catalog.locations.trust import location_is_trusted, untrusted_kind
from catalog.models import Entity, Location, Relation, SearchEntry
from portal import permissions
from portal.collector import collection_deferred
from portal.exceptions import ConflictError
from portal.permissions import Action, require
from portal.services import audit_record

log = structlog.get_logger(__name__)

Actor = permissions.Actor


# --- locations ----------------------------------------------------------------------------------------


@dataclass
class RefreshResult:
    files_read: int
    applied: ApplyResult
    location_deleted: bool = False  # unregistered while it was read: nothing was written


@dataclass(frozen=True)
class PreviewItem:
    """One entity a preview read, and what registering (or refreshing) the location would do to it."""

    ref: str
    kind: str
    namespace: str
    name: str
    # "create", "update", "unchanged", or "conflict" when another location manages an entity of that ref.
    outcome: str
    managed_by: str = ""


@dataclass
class DryRun:
    """What registering a location would do (Backstage's dryRun answer): the entities, and the errors.

    `items` says per entity whether it would be created, updated, left unchanged or refused as another location's;
    `unreadable` is set when the target itself could not be read (a file not found, a host not allowed), so nothing
    but the errors would come of registering it now.
    """

    location: Location
    exists: bool
    entities: list[dict[str, Any]]
    errors: list[LocationError]
    items: list[PreviewItem] = field(default_factory=list)
    unreadable: bool = False

    def count(self, outcome: str) -> int:
        return sum(1 for item in self.items if item.outcome == outcome)

    @property
    def created(self) -> int:
        return self.count("create")

    @property
    def updated(self) -> int:
        return self.count("update")

    @property
    def unchanged(self) -> int:
        return self.count("unchanged")

    @property
    def conflicts(self) -> int:
        return self.count("conflict")


def _normalised_target(type: str, target: str) -> str:
    if type not in TYPES:
        raise ValidationError({"type": f"Unknown location type {type!r}; expected one of {', '.join(TYPES)}."})
    if not isinstance(target, str) or not target.strip():
        raise ValidationError({"target": "A location needs a target."})
    if len(target) > Location._meta.get_field("target").max_length:  # type: ignore[operator]
        raise ValidationError({"target": "The target is longer than 2048 characters."})
    try:
        return reader_for(type).normalise(target)
    except LocationReadError as exc:
        raise ValidationError({"target": str(exc)}) from None


@overload
def location_create(
    *, type: str, target: str, trusted: bool = ..., actor: Actor, dry_run: Literal[False] = ...
) -> Location: ...
@overload
def location_create(*, type: str, target: str, trusted: bool = ..., actor: Actor, dry_run: Literal[True]) -> DryRun: ...
def location_create(
    *, type: str, target: str, trusted: bool = False, actor: Actor, dry_run: bool = False
) -> Location | DryRun:
    """Register a location and enqueue its first refresh once committed; 409 when the target is registered.

    `dry_run` reads and parses the target now (it may fetch URLs: callers in web requests accept that) and
    returns what would be created, writing nothing. Who may register (and register as trusted) is
    `Action.LOCATION_REGISTER`.
    """
    require(actor, Action.LOCATION_REGISTER, Location(type=type, target=target, trusted=trusted))
    target = _normalised_target(type, target)
    existing = Location.objects.filter(type=type, target=target).first()
    if dry_run:
        return _dry_run(location=existing or Location(type=type, target=target, trusted=trusted), exists=bool(existing))
    if existing is not None:
        raise ConflictError(f"Location {existing.key} already exists", extra={"location": str(existing.pk)})
    return _location_create(type=type, target=target, trusted=trusted, actor=actor)


@transaction.atomic
def _location_create(*, type: str, target: str, trusted: bool, actor: Actor) -> Location:
    location = Location(
        type=type,
        target=target,
        trusted=trusted,
        created_by=actor if isinstance(actor, User) else None,
        next_refresh_at=timezone.now() + _interval(),
    )
    location.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            location.save()
    except IntegrityError:
        raise ConflictError(f"Location {type}:{target} already exists") from None
    audit_record(
        actor=_audit_actor(actor), action="catalog.location.create", target=location, after=_snapshot(location)
    )
    jobs.location_refresh_enqueue(location_id=str(location.pk))
    return location


def _dry_run(*, location: Location, exists: bool) -> DryRun:
    outcome = walk.location_walk(type=location.type, target=location.target)
    trusted = location_is_trusted(location=location)
    entities: list[dict[str, Any]] = [synthetic_location_entity(location)]
    sources_of: dict[int, str] = {}
    errors = [location_errors.from_issue(issue) for issue in outcome.issues]
    for source in outcome.sources:
        for parsed in source.entities:
            refused = untrusted_kind(
                entity=parsed.entity, ref=parsed.ref, file=source.source, trusted=trusted, document=parsed.document
            )
            if refused is not None:
                errors.append(refused)
                continue
            check_errors = entity_check_errors(
                entity=parsed.entity, ref=parsed.ref, source=source.source, document=parsed.document
            )
            if check_errors:
                errors.extend(check_errors)
                continue
            entities.append(parsed.entity)
            sources_of[id(parsed.entity)] = source.source
    unreadable = (location.type, location.target) in outcome.failed
    items = [] if unreadable else _preview_items(location=location, entities=entities, sources_of=sources_of)
    return DryRun(
        location=location, exists=exists, entities=entities, errors=errors, items=items, unreadable=unreadable
    )


def _preview_items(
    *, location: Location, entities: list[dict[str, Any]], sources_of: dict[int, str]
) -> list[PreviewItem]:
    """Compare what a preview read with the catalog as a refresh would (catalog.ingest): one query."""
    annotated = [
        _annotated(entity, source=sources_of.get(id(entity), location.key), origin=location.key) for entity in entities
    ]
    columns = [entity_columns(entity) for entity in annotated]
    refs = [f"{c['kind']}:{c['namespace']}/{c['name']}".lower() for c in columns]
    rows = {
        row["ref"]: row
        for row in Entity.objects.filter(ref__in=refs).values(
            "ref", "content_hash", "orphan", "errors", "location_id", "location__type", "location__target"
        )
    }
    items = []
    for entity, column, ref in zip(annotated, columns, refs, strict=True):
        row = rows.get(ref)
        managed_by = ""
        if row is None:
            outcome = "create"
        elif row["location_id"] not in (None, location.pk):
            outcome = "conflict"
            managed_by = f"{row['location__type']}:{row['location__target']}"
        elif (
            row["location_id"] == location.pk
            and row["content_hash"] == content_hash(entity)
            and not row["orphan"]
            and not row["errors"]
        ):
            outcome = "unchanged"
        else:
            outcome = "update"
        items.append(
            PreviewItem(
                ref=ref,
                kind=column["kind"],
                namespace=column["namespace"],
                name=column["name"],
                outcome=outcome,
                managed_by=managed_by,
            )
        )
    return items


def location_refresh(
    *,
    location: Location,
    on_file: Callable[[str], None] | None = None,
    changed_only: bool = False,
    entity_source: str | None = None,
) -> RefreshResult:
    """Read the location (and what it nests) and apply it. Not atomic as a whole on purpose: reading may take
    long and must not hold a transaction; the write itself is one transaction under the location's row lock.

    A target that fails (unreadable root, broken nested file) keeps what it produced last time, its Location
    children included; the errors and the attempt are recorded on the location. Idempotent: a second refresh
    of unchanged sources writes no entity. A location unregistered while it was read is left alone
    (`location_deleted`); a write that collides with another writer's is tried again on what that one committed.

    `changed_only` is the scheduled change check's refresh (`locations_refresh_changed`): local files whose size
    and modification time are unchanged are not read, and the next full re-read stays when it was due.
    `entity_source` is the refresh of one entity (POST /refresh, `location_refresh_request`): as `changed_only`, but
    the entity's own source is read whatever its stat says. Both cost what changed, not the location's size; the
    full re-read (the location's *Refresh now*, the schedule) still reads and checks everything.
    """
    partial = changed_only or entity_source is not None
    try:
        with collection_deferred():
            outcome = walk.location_read(
                location=location, on_file=on_file, changed_only=changed_only, entity_source=entity_source
            )
            applied = _location_write_retrying(location=location, outcome=outcome, partial=partial)
    except LocationDeleted:
        log.info("catalog.location.refresh_skipped", location=location.key, reason="location deleted")
        return RefreshResult(files_read=outcome.files_read, applied=ApplyResult(), location_deleted=True)
    log.info(
        "catalog.location.refreshed",
        location=location.key,
        scope="entity" if entity_source is not None else "changed" if changed_only else "full",
        files=outcome.files_read,
        created=applied.created,
        updated=applied.updated,
        unchanged=applied.unchanged,
        errors=len(applied.errors),
    )
    if connection.vendor == "postgresql" and applied.written + applied.orphaned + applied.deleted >= ANALYZE_AFTER_ROWS:
        jobs.tables_analyze_enqueue()
    return RefreshResult(files_read=outcome.files_read, applied=applied)


# A refresh that wrote at least this many entities leaves PostgreSQL's statistics behind (it would plan from those
# of empty tables until autovacuum comes round): the worker analyses the catalog tables after it.
ANALYZE_AFTER_ROWS: Final = 200


def catalog_tables_analyze() -> list[str]:
    """Fresh PostgreSQL statistics for the catalog's tables after a bulk write, so that the planner sees their
    real sizes; returns the tables analysed.

    Outside a transaction `VACUUM (ANALYZE)`, which also sets the visibility map that index-only scans need after
    a bulk insert; inside one (VACUUM cannot run there) `ANALYZE`. Idempotent, and neither blocks reads or writes.
    Nothing on SQLite: its ANALYZE takes the database's only write lock, and its planner does well without.
    """
    if connection.vendor != "postgresql":
        return []
    tables = [model._meta.db_table for model in (Entity, SearchEntry, Relation)]
    names = ", ".join(connection.ops.quote_name(table) for table in tables)
    with connection.cursor() as cursor:
        cursor.execute(f"{'ANALYZE' if connection.in_atomic_block else 'VACUUM (ANALYZE)'} {names}")
    return tables


_WRITE_ATTEMPTS: Final = 3


def _location_write_retrying(*, location: Location, outcome: walk.ReadOutcome, partial: bool) -> ApplyResult:
    attempt = 1
    while True:
        try:
            return _location_write(location=location, outcome=outcome, partial=partial)
        except (IntegrityError, OperationalError) as exc:
            if attempt >= _WRITE_ATTEMPTS or not _is_write_conflict(exc):
                raise
            log.warning("catalog.location.write_conflict", location=location.key, attempt=attempt, error=str(exc))
            attempt += 1


def _is_write_conflict(exc: DatabaseError) -> bool:
    """Another writer got there first: two locations inserting one new entity, an entity deleted under a refresh
    that adopts it, a deadlock. Once that writer has committed, the same write sees it and decides again."""
    if isinstance(exc, IntegrityError):
        return True
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith("40")  # serialization failure, deadlock


@transaction.atomic
def _location_write(*, location: Location, outcome: walk.ReadOutcome, partial: bool) -> ApplyResult:
    """The write of a refresh: its entities and its bookkeeping in one transaction, under the location's row lock
    (taken by apply_location_read), so a location deleted meanwhile raises LocationDeleted and nothing is written.
    A `partial` read (files skipped by their stat) leaves the next full re-read when it was due."""
    applied = apply_location_read(location=location, sources=outcome.sources, partial=partial, stored=outcome.stored)
    # Only sources that produced no error at all may be skipped next time (errors are re-reported every refresh).
    erroneous = {error["file"] for error in applied.errors}
    digests: dict[str, dict[str, Any]] = {
        source: dict(entry)
        for source, entry in outcome.digests.items()
        if source not in erroneous and source.partition(":")[2] not in erroneous
    }
    # A source taken as unchanged kept the entry the read started from; if that entry changed since (an entity
    # delete dropped it: `_source_digest_forget`), the one recorded now wins, so the source is parsed next time.
    recorded: dict[str, Any] = location.source_digests or {}  # as apply_location_read found it, under the lock
    for source in (s.source for s in outcome.sources if s.unchanged):
        entry = digests.get(source)
        if entry is not None and recorded.get(source, {}).get("digest") != entry.get("digest"):
            digests[source] = {key: value for key, value in entry.items() if key not in ("digest", "entities")}
    # Every local file's size and modification time, erroneous ones too (an entry without a digest is never taken
    # as unchanged): the change check compares them and leaves a file alone until it is written again.
    for source, stat in outcome.stats.items():
        digests.setdefault(source, {})["stat"] = stat
    location.source_digests = digests
    update: dict[str, Any] = {"source_digests": digests}
    if not partial:
        location.next_refresh_at = update["next_refresh_at"] = timezone.now() + _interval()
    Location.objects.filter(pk=location.pk).update(**update)
    return applied


def _lock_location(location_id: Any) -> bool:
    """Take the location's row lock until the transaction ends, as a refresh's write does; False if it is gone."""
    return Location.objects.select_for_update().filter(pk=location_id).exists()


@transaction.atomic
def location_refresh_fail(*, location: Location, error: str) -> Location:
    """Record a refresh that could not run at all (the task gave up): entities stay, the error shows."""
    locked = Location.objects.select_for_update().filter(pk=location.pk).first()
    if locked is None:  # unregistered meanwhile: nobody to tell
        return location
    now = timezone.now()
    locked.errors = [location_errors.refresh_failed(location_key=locked.key, error=error)]
    locked.state = Location.State.FAILED
    locked.failed_attempts += 1
    locked.last_refresh_at = now
    locked.next_refresh_at = now + _interval()
    locked.save(update_fields=["errors", "state", "failed_attempts", "last_refresh_at", "next_refresh_at"])
    return locked


@transaction.atomic
def location_delete(*, location: Location, actor: Actor) -> int:
    """Unregister a location and delete the entities it manages; returns how many entities went."""
    require(actor, Action.LOCATION_DELETE, location)
    # First, as a refresh's write does: a refresh writing now commits before its entities are counted and deleted
    # here, and one that has not written yet finds the location gone and writes nothing.
    if not _lock_location(location.pk):
        return 0  # unregistered meanwhile
    before = _snapshot(location)
    refs = list(Entity.objects.filter(location=location).values_list("ref", flat=True))
    deleted = len(refs)
    Entity.objects.filter(location=location).delete()
    entities_changed(refs)
    audit_record(
        actor=_audit_actor(actor),
        action="catalog.location.delete",
        target=location,
        before={**before, "entities": deleted},
    )
    location.delete()
    return deleted


@transaction.atomic
def location_set_trusted(*, location: Location, trusted: bool, actor: Actor) -> Location:
    """Administrators only. Trust decides which kinds the location may declare, so a refresh follows the change."""
    require(actor, Action.LOCATION_TRUST, location)
    if location.trusted == trusted:
        return location
    before = _snapshot(location)
    location.trusted = trusted
    location.source_digests = {}
    location.save(update_fields=["trusted", "source_digests"])
    audit_record(
        actor=_audit_actor(actor),
        action="catalog.location.set_trusted",
        target=location,
        before=before,
        after=_snapshot(location),
    )
    jobs.location_refresh_enqueue(location_id=str(location.pk))
    return location


@transaction.atomic
def location_refresh_request(*, location: Location, actor: Actor, entity: Entity | None = None) -> None:
    """Ask for a refresh soon, enqueued once the caller's transaction commits: of the whole location (the page's
    *Refresh now*), or of one of its entities (the API's POST /refresh), which reads that entity's own source and
    the files whose stat changed, as Backstage's refresh re-processes the entity's own location."""
    require(actor, Action.LOCATION_REFRESH, location)
    jobs.location_refresh_enqueue(location_id=str(location.pk), entity_source=entity.source if entity else None)


def locations_refresh_changed(*, now: datetime | None = None, limit: int = 500) -> int:
    """Enqueue a refresh of every refreshed `file` location whose files changed since (`walk.location_files_changed`:
    stats only). The beat calls this every 30 s, so an edited file is in the catalog within about 30 s without
    anyone asking; those refreshes read only the changed files. Locations whose full re-read is due are left to
    `locations_refresh_due`, and locations not refreshed yet to their first refresh. One task checks them all, in
    one query: thousands of locations cost thousands of `stat` calls per file, not thousands of tasks.
    """
    now = now or timezone.now()
    candidates = (
        Location.objects.filter(type=Location.Type.FILE, next_refresh_at__gt=now)
        .exclude(state=Location.State.PENDING)
        .order_by("next_refresh_at")
        .only("id", "type", "target", "state", "source_digests")
    )
    changed: list[Any] = []
    for location in candidates.iterator(chunk_size=100):
        if walk.location_files_changed(location):
            changed.append(location.pk)
            if len(changed) >= limit:
                break
    for pk in changed:
        jobs.location_refresh_enqueue(location_id=str(pk), changed_only=True)
    return len(changed)


@transaction.atomic
def locations_refresh_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Enqueue a full re-read of every location whose next_refresh_at has passed (the beat calls this every 30 s).

    Moving next_refresh_at forward first means a slow worker never gets the same location twice from the beat.
    """
    now = now or timezone.now()
    due = list(
        Location.objects.select_for_update(skip_locked=True)
        .filter(Q(next_refresh_at__isnull=True) | Q(next_refresh_at__lte=now))
        .order_by("next_refresh_at")
        .values_list("pk", flat=True)[:limit]
    )
    Location.objects.filter(pk__in=due).update(next_refresh_at=now + _interval())
    for pk in due:
        jobs.location_refresh_enqueue(location_id=str(pk))
    return len(due)


# --- entities -----------------------------------------------------------------------------------------


@transaction.atomic
def entity_delete(*, entity: Entity, actor: Actor) -> None:
    """Delete one entity, as Backstage's DELETE by-uid: an entity still in its source comes back on the next
    refresh of its location; an orphan stays gone."""
    require(actor, Action.ENTITY_DELETE, entity)
    # The location's row lock before the entity's, in a refresh's order: a refresh rewriting this entity's relations
    # commits before they are deleted here, and one that has not written yet sees the entity gone.
    if entity.location_id is not None:
        _lock_location(entity.location_id)
    locked = Entity.objects.select_for_update().filter(pk=entity.pk).first()
    if locked is None:
        return  # deleted meanwhile
    if locked.location_id is not None:
        _source_digest_forget(location_id=locked.location_id, source=locked.source)
    audit_record(
        actor=_audit_actor(actor),
        action="catalog.entity.delete",
        target=locked,
        target_repr=locked.ref,
        before={"ref": locked.ref, "orphan": locked.orphan, "location": str(locked.location_id or "")},
    )
    locked.delete()
    entities_changed([locked.ref])


def _source_digest_forget(*, location_id: Any, source: str) -> None:
    """Drop `source` from its location's digest cache (under the location's lock), so that every refresh reads and
    parses it again and an entity deleted but still in it comes back: the partial refreshes take the cache as
    recorded, without checking it against the stored entities."""
    digests = Location.objects.filter(pk=location_id).values_list("source_digests", flat=True).first()
    if digests and "digest" in digests.get(source, {}):
        entry = {key: value for key, value in digests[source].items() if key not in ("digest", "entities")}
        Location.objects.filter(pk=location_id).update(source_digests={**digests, source: entry})


# --- helpers ------------------------------------------------------------------------------------------


def _interval() -> timedelta:
    return timedelta(minutes=settings.PAVED_CATALOG_REFRESH_MINUTES)


def _audit_actor(actor: Actor) -> User | None:
    return actor if isinstance(actor, User) and actor.is_authenticated else None


def _snapshot(location: Location) -> dict[str, Any]:
    return {"type": location.type, "target": location.target, "trusted": location.trusted}
