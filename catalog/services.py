"""Catalog writes: registering, refreshing and deleting locations, deleting entities, on-call overrides elsewhere.

Refreshing reads sources outside any transaction (network and git may be slow) and hands what it read to
`catalog.ingest.apply_location_read`, which writes it in one transaction under the rules documented there.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal, overload

import structlog
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, OperationalError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from catalog.descriptors import DEFAULT_LIMITS, Issue, LocationTarget, ParseResult
from catalog.ingest import (
    TRUSTED_KINDS,
    ApplyResult,
    LocationDeleted,
    SourceRead,
    apply_location_read,
    issue_dict,
    location_is_trusted,
    synthetic_location_entity,
)
from catalog.locations import TYPES, LocationReadError, Reader, reader_for
from catalog.models import Entity, Location
from portal import permissions
from portal.exceptions import ConflictError
from portal.permissions import Action, require
from portal.services import audit_record

log = structlog.get_logger(__name__)

Actor = permissions.Actor


# --- reading ------------------------------------------------------------------------------------------


@dataclass
class ReadOutcome:
    """Everything one traversal of a location read: a SourceRead per file (or failed target), in read order."""

    sources: list[SourceRead] = field(default_factory=list)
    files_read: int = 0
    # (type, target) of every target or file that failed: what they stand for keeps its entities.
    failed: list[tuple[str, str]] = field(default_factory=list)
    # source -> {"digest", "targets"} of every source read whole this time (candidates for the next refresh's cache).
    digests: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def issues(self) -> list[Issue]:
        return [issue for source in self.sources for issue in source.issues]


def _read_issue(*, file: str, target: str, exc: Exception) -> Issue:
    reason = str(exc)
    if reason.startswith(f"{target}: "):
        reason = reason[len(target) + 2 :]
    detail = reason if file.endswith(target) else f"{target}: {reason}"
    return Issue(
        file=file,
        document=None,
        entity_ref=None,
        path="",
        expected="a readable location target",
        found=target,
        detail=detail,
    )


_PLACEHOLDER: Final = re.compile(rb"\$(?:text|json|yaml)\b")
# Bump when parsing or validation changes what a file yields: cached digests then no longer match.
_CACHE_VERSION: Final = "1"


def _digest(data: bytes, salt: str) -> str:
    return hashlib.sha256(f"{_CACHE_VERSION}:{salt}:".encode() + data).hexdigest()


def _whole_file_failed(parsed: ParseResult) -> bool:
    # parse_file reports an unreadable file (YAML, encoding, limits) as one issue about the whole file and no entities.
    return not parsed.entities and any(i.entity_ref is None and i.path == "" for i in parsed.issues)


def _nesting_problem(root_type: str, target: LocationTarget) -> str | None:
    if target.type not in TYPES:
        return f"unknown location type {target.type!r}; expected one of {', '.join(TYPES)}"
    # Local files and local repositories are the operator's machine: only file locations may point at them.
    if target.type == "file" and root_type != "file":
        return f"a {root_type} location may not nest file targets"
    if target.type == "git" and root_type == "url" and not target.target.lower().startswith("https://"):
        return "a url location may only nest https git repositories"
    return None


def read_location(
    *,
    type: str,
    target: str,
    on_file: Callable[[str], None] | None = None,
    cache: Mapping[str, Mapping[str, Any]] | None = None,
    salt: str = "",
) -> ReadOutcome:
    """Read a location's target and every Location target nested in what it reads, breadth first.

    Cycles and diamonds are read once; nesting deeper than PAVED_CATALOG_MAX_NESTING or more than
    PAVED_CATALOG_MAX_FILES files are recorded as errors. Never raises for a bad source: each failure is a
    SourceRead with ok=False and an Issue naming the target and the reason.

    `cache` (Location.source_digests) lets a source whose bytes hash as last time skip parsing: it comes back as
    an `unchanged` SourceRead, and the Location targets it declared are followed from the cache.
    """
    outcome = ReadOutcome()
    readers: dict[str, Reader] = {}
    queue: deque[tuple[LocationTarget, int, str | None]] = deque([(LocationTarget(type=type, target=target), 0, None)])
    seen_targets: set[tuple[str, str]] = set()
    seen_sources: set[str] = set()
    max_files = settings.PAVED_CATALOG_MAX_FILES
    while queue:
        item, depth, parent = queue.popleft()
        if (item.type, item.target) in seen_targets:
            continue
        seen_targets.add((item.type, item.target))
        key = f"{item.type}:{item.target}"
        problem = _nesting_problem(type, item)
        if problem is None and depth > settings.PAVED_CATALOG_MAX_NESTING:
            problem = f"Locations nest deeper than {settings.PAVED_CATALOG_MAX_NESTING} levels"
        try:
            if problem:
                raise LocationReadError(problem)
            reader = readers.setdefault(item.type, reader_for(item.type))
            files = reader.expand(item.target)
        except LocationReadError as exc:
            outcome.failed.append((item.type, item.target))
            outcome.sources.append(
                SourceRead(key, False, issues=[_read_issue(file=parent or key, target=item.target, exc=exc)])
            )
            continue
        for index, path in enumerate(files):
            source = f"{item.type}:{path}"
            if source in seen_sources:
                continue
            if len(seen_sources) >= max_files:
                outcome.failed.extend((item.type, rest) for rest in files[index:])
                outcome.sources.append(
                    SourceRead(
                        key,
                        False,
                        issues=[
                            _read_issue(
                                file=parent or key,
                                target=item.target,
                                exc=LocationReadError(f"more than {max_files} files in one location; stopped reading"),
                            )
                        ],
                    )
                )
                queue.clear()
                break
            seen_sources.add(source)
            try:
                data = reader.read(path, limits=DEFAULT_LIMITS)
            except LocationReadError as exc:
                outcome.failed.append((item.type, path))
                outcome.sources.append(
                    SourceRead(source, False, issues=[_read_issue(file=source, target=path, exc=exc)])
                )
                continue
            outcome.files_read += 1
            digest = _digest(data, salt)
            cached = (cache or {}).get(source)
            if cached is not None and cached.get("digest") == digest:
                outcome.digests[source] = dict(cached)
                outcome.sources.append(SourceRead(source, True, unchanged=True))
                if on_file is not None:
                    on_file(source)
                for nested_type, nested_target in cached.get("targets", []):
                    queue.append((LocationTarget(type=nested_type, target=nested_target), depth + 1, source))
                continue
            parsed = reader.parse(path, data, limits=DEFAULT_LIMITS)
            if _whole_file_failed(parsed):
                outcome.failed.append((item.type, path))
                outcome.sources.append(SourceRead(source, False, issues=parsed.issues))
            else:
                outcome.sources.append(SourceRead(source, True, parsed.entities, parsed.issues))
                # Placeholders pull in content the digest does not cover, and issues must be reported every time.
                if not parsed.issues and not _PLACEHOLDER.search(data):
                    outcome.digests[source] = {
                        "digest": digest,
                        "targets": [[t.type, t.target] for t in parsed.location_targets],
                        "entities": len(parsed.entities),
                    }
            if on_file is not None:
                on_file(source)
            for nested in parsed.location_targets:
                queue.append((nested, depth + 1, source))
    return outcome


def _location_targets_of(entity: Mapping[str, Any], *, default_type: str) -> Iterable[LocationTarget]:
    spec = entity.get("spec") or {}
    own = spec.get("type")
    target_type = own if isinstance(own, str) and own else default_type
    raw = [spec["target"]] if isinstance(spec.get("target"), str) else []
    raw += [t for t in spec.get("targets") or [] if isinstance(t, str)]
    return [LocationTarget(type=target_type, target=t) for t in raw]


def _kept_sources(location: Location, outcome: ReadOutcome) -> list[SourceRead]:
    """Sources this location produced before that a failure this time hides, transitively through the Location
    entities their last good version declared: they must keep their entities, so they are passed as not ok."""
    if not outcome.failed:
        return []
    read_ok = {s.source for s in outcome.sources if s.ok}
    listed = {s.source for s in outcome.sources}
    existing = set(Entity.objects.filter(location=location).values_list("source", flat=True).distinct())
    nested_by_source: dict[str, list[dict[str, Any]]] = {}
    for source, data in Entity.objects.filter(location=location, kind="Location").values_list("source", "data"):
        nested_by_source.setdefault(source, []).append(data)
    kept: set[str] = set()
    pending = deque(outcome.failed)
    visited: set[tuple[str, str]] = set()
    while pending:
        failed_type, failed_target = pending.popleft()
        if (failed_type, failed_target) in visited or failed_type not in TYPES:
            continue
        visited.add((failed_type, failed_target))
        reader = reader_for(failed_type)
        for source in existing - kept - read_ok:
            source_type, _, path = source.partition(":")
            if source_type != failed_type or not reader.covers(failed_target, path):
                continue
            kept.add(source)
            for data in nested_by_source.get(source, []):
                for nested in _location_targets_of(data, default_type=source_type):
                    try:
                        resolved = reader.nested(path, nested)
                    except LocationReadError:
                        continue
                    pending.append((resolved.type, resolved.target))
    return [SourceRead(source, False) for source in sorted(kept - listed)]


def _usable_cache(location: Location) -> dict[str, Any]:
    """The digest cache, minus sources whose stored entities no longer match what they produced (deleted or
    orphaned out of band): those are parsed again."""
    if not location.source_digests:
        return {}
    counts = dict(
        Entity.objects.filter(location=location, orphan=False)
        .exclude(kind="Location", name__startswith="generated-")  # the synthetic entity shares the root's source
        .order_by()
        .values("source")
        .annotate(n=Count("id"))
        .values_list("source", "n")
    )
    return {
        source: entry
        for source, entry in location.source_digests.items()
        if counts.get(source, 0) == entry.get("entities", -1)
    }


# --- locations ----------------------------------------------------------------------------------------


@dataclass
class RefreshResult:
    files_read: int
    applied: ApplyResult
    location_deleted: bool = False  # unregistered while it was read: nothing was written


@dataclass
class DryRun:
    """What registering a location would do (Backstage's dryRun answer): the entities, and the errors."""

    location: Location
    exists: bool
    entities: list[dict[str, Any]]
    errors: list[dict[str, Any]]


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
    _enqueue_refresh(location)
    return location


def _dry_run(*, location: Location, exists: bool) -> DryRun:
    outcome = read_location(type=location.type, target=location.target)
    trusted = location_is_trusted(location)
    entities: list[dict[str, Any]] = [synthetic_location_entity(location)]
    errors = [issue_dict(issue) for issue in outcome.issues]
    for source in outcome.sources:
        for parsed in source.entities:
            if parsed.entity["kind"].lower() in TRUSTED_KINDS and not trusted:
                errors.append(
                    {
                        "file": source.source,
                        "document": parsed.document,
                        "entityRef": parsed.ref,
                        "path": "kind",
                        "message": f"{parsed.ref}: kind {parsed.entity['kind']} may only come from a trusted location",
                    }
                )
                continue
            entities.append(parsed.entity)
    return DryRun(location=location, exists=exists, entities=entities, errors=errors)


def location_refresh(*, location: Location, on_file: Callable[[str], None] | None = None) -> RefreshResult:
    """Read the location (and what it nests) and apply it. Not atomic as a whole on purpose: reading may take
    long and must not hold a transaction; the write itself is one transaction under the location's row lock.

    A target that fails (unreadable root, broken nested file) keeps what it produced last time, its Location
    children included; the errors and the attempt are recorded on the location. Idempotent: a second refresh
    of unchanged sources writes no entity. A location unregistered while it was read is left alone
    (`location_deleted`); a write that collides with another writer's is tried again on what that one committed.
    """
    outcome = read_location(
        type=location.type,
        target=location.target,
        on_file=on_file,
        cache=_usable_cache(location),
        salt=f"trusted={location_is_trusted(location)}",
    )
    sources = [*outcome.sources, *_kept_sources(location, outcome)]
    try:
        applied = _location_write_retrying(location=location, sources=sources, digests=outcome.digests)
    except LocationDeleted:
        log.info("catalog.location.refresh_skipped", location=location.key, reason="location deleted")
        return RefreshResult(files_read=outcome.files_read, applied=ApplyResult(), location_deleted=True)
    log.info(
        "catalog.location.refreshed",
        location=location.key,
        files=outcome.files_read,
        created=applied.created,
        updated=applied.updated,
        unchanged=applied.unchanged,
        errors=len(applied.errors),
    )
    return RefreshResult(files_read=outcome.files_read, applied=applied)


_WRITE_ATTEMPTS: Final = 3


def _location_write_retrying(
    *, location: Location, sources: list[SourceRead], digests: dict[str, dict[str, Any]]
) -> ApplyResult:
    attempt = 1
    while True:
        try:
            return _location_write(location=location, sources=sources, digests=digests)
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
def _location_write(
    *, location: Location, sources: list[SourceRead], digests: dict[str, dict[str, Any]]
) -> ApplyResult:
    """The write of a refresh: its entities and its bookkeeping in one transaction, under the location's row lock
    (taken by apply_location_read), so a location deleted meanwhile raises LocationDeleted and nothing is written."""
    applied = apply_location_read(location=location, sources=sources)
    # Only sources that produced no error at all may be skipped next time (errors are re-reported every refresh).
    erroneous = {str(error.get("file") or "") for error in applied.errors}
    location.source_digests = {
        source: entry
        for source, entry in digests.items()
        if source not in erroneous and source.partition(":")[2] not in erroneous
    }
    location.next_refresh_at = timezone.now() + _interval()
    Location.objects.filter(pk=location.pk).update(
        next_refresh_at=location.next_refresh_at, source_digests=location.source_digests
    )
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
    locked.errors = [
        {"file": locked.key, "document": None, "entityRef": None, "path": "", "message": f"Refresh failed: {error}"}
    ]
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
    deleted = Entity.objects.filter(location=location).count()
    Entity.objects.filter(location=location).delete()
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
    _enqueue_refresh(location)
    return location


@transaction.atomic
def location_refresh_request(*, location: Location, actor: Actor) -> None:
    """Ask for a refresh soon (the page's *Refresh now*, the API's POST /refresh): enqueued once the caller's
    transaction commits."""
    require(actor, Action.LOCATION_REFRESH, location)
    _enqueue_refresh(location)


@transaction.atomic
def locations_refresh_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Enqueue a refresh of every location whose next_refresh_at has passed (the beat calls this every minute).

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
        transaction.on_commit(_enqueue_by_id(str(pk)))
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
    audit_record(
        actor=_audit_actor(actor),
        action="catalog.entity.delete",
        target=locked,
        target_repr=locked.ref,
        before={"ref": locked.ref, "orphan": locked.orphan, "location": str(locked.location_id or "")},
    )
    locked.delete()


# --- helpers ------------------------------------------------------------------------------------------


def _interval() -> timedelta:
    return timedelta(minutes=settings.PAVED_CATALOG_REFRESH_MINUTES)


def _enqueue_by_id(location_id: str) -> Callable[[], None]:
    def enqueue() -> None:
        from catalog import tasks  # tasks import this module

        tasks.location_refresh.delay(location_id)

    return enqueue


def _enqueue_refresh(location: Location) -> None:
    transaction.on_commit(_enqueue_by_id(str(location.pk)))


def _audit_actor(actor: Actor) -> User | None:
    return actor if isinstance(actor, User) and actor.is_authenticated else None


def _snapshot(location: Location) -> dict[str, Any]:
    return {"type": location.type, "target": location.target, "trusted": location.trusted}
