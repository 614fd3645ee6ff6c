"""Reading a location: its target, and every Location target nested in what it reads, breadth first.

A reader, not a service: it reads sources (files, URLs, git blobs) and, for a refresh, what the location stored last
time (its digest cache, the sources of its entities), and writes nothing. What it read goes to
`catalog.ingest.apply_location_read`, which writes it.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from django.conf import settings
from django.db.models import Count, Q

from catalog.descriptors import DEFAULT_LIMITS, Issue, LocationTarget, ParsedEntity, ParseResult
from catalog.descriptors.errors import IssueCode
from catalog.extensions import has_entity_checks
from catalog.models import Entity, Location

from . import TYPES, LocationReadError, Reader, reader_for
from .errors import read_issue
from .parallel import Parser, parser_for
from .trust import location_is_trusted


@dataclass
class SourceRead:
    """One file or URL read during a refresh. `ok` is False when it could not be read or parsed as a whole.

    `unchanged` says the source's bytes are those of the last clean refresh: its entities are kept as stored,
    without being parsed or compared again (`entities` is empty then; `kept` says how many it produced then).
    """

    source: str  # "<type>:<target>", as written in backstage.io/managed-by-location
    ok: bool
    entities: list[ParsedEntity] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    unchanged: bool = False
    kept: int = 0


@dataclass
class ReadOutcome:
    """Everything one traversal of a location read: a SourceRead per file (or failed target), in read order."""

    sources: list[SourceRead] = field(default_factory=list)
    files_read: int = 0
    # (type, target) of every target or file that failed: what they stand for keeps its entities.
    failed: list[tuple[str, str]] = field(default_factory=list)
    # source -> {"digest", "targets", "entities"} of every source read whole this time (the next refresh's cache).
    digests: dict[str, dict[str, Any]] = field(default_factory=dict)
    # source -> [mtime_ns, size] of every local file, taken before it was read (see `file_stat`).
    stats: dict[str, list[int]] = field(default_factory=dict)
    # A full re-read's view of what the location stored when it began (None for partial reads).
    stored: StoredSources | None = None

    @property
    def issues(self) -> list[Issue]:
        return [issue for source in self.sources for issue in source.issues]


@dataclass(frozen=True)
class StoredSources:
    """The sources of a location's stored entities (orphans included) when a full re-read began, and the location's
    last_refresh_at then: entities are added to a location only by its refreshes, which all change last_refresh_at,
    so while it is the same the set is complete and the write finds gone entities by source, not by a scan."""

    sources: frozenset[str]
    as_of: datetime | None


def location_read(
    *,
    location: Location,
    on_file: Callable[[str], None] | None = None,
    changed_only: bool = False,
    entity_source: str | None = None,
) -> ReadOutcome:
    """A refresh's read of a registered location: the walk, skipping sources whose bytes are unchanged since the
    last clean refresh, then the sources a failure hides (`SourceRead(ok=False)`: their entities are kept).

    `changed_only` (the scheduled change check's refreshes): a local file whose size and modification time are
    those recorded last time is not even read. `entity_source` (the refresh of one entity, POST /refresh): the same,
    except that this source, the entity's own file, is read whatever its stat says. Both are partial reads: they
    take the digest cache as recorded, without the location-wide count that checks it against the stored entities
    (`_usable_cache`), so their cost follows what changed, not the location's size; entity deletes drop the cache
    entry of their source (`services.entity_delete`) and the full re-read still checks the whole cache.
    """
    partial = changed_only or entity_source is not None
    stored: StoredSources | None = None
    if partial:
        cache = _recorded_cache(location)
    else:
        as_of = location.last_refresh_at  # before the count: a refresh committing after it changes the row's
        counts = _stored_counts(location)
        cache = _usable_cache(location, counts)
        stored = StoredSources(sources=frozenset(counts), as_of=as_of)
    outcome = location_walk(
        type=location.type,
        target=location.target,
        on_file=on_file,
        cache=cache,
        salt=f"trusted={location_is_trusted(location=location)}",
        trust_stat=partial,
        always_read=entity_source or "",
    )
    outcome.stored = stored
    outcome.sources.extend(_kept_sources(location, outcome))
    return outcome


def location_walk(
    *,
    type: str,
    target: str,
    on_file: Callable[[str], None] | None = None,
    cache: Mapping[str, Mapping[str, Any]] | None = None,
    salt: str = "",
    trust_stat: bool = False,
    always_read: str = "",
) -> ReadOutcome:
    """Read a target and every Location target nested in what it reads, breadth first. No database.

    Cycles and diamonds are read once; nesting deeper than PAVED_CATALOG_MAX_NESTING or more than
    PAVED_CATALOG_MAX_FILES files are recorded as errors. Never raises for a bad source: each failure is a
    SourceRead with ok=False and an Issue naming the target, the reason and its code.

    `cache` (Location.source_digests) lets a source whose bytes hash as last time skip parsing: it comes back as
    an `unchanged` SourceRead, and the Location targets it declared are followed from the cache. With `trust_stat`
    a local file whose size and modification time equal the cached ones is taken as unchanged without being read,
    except the source `always_read` (it is read, and skips parsing only if its bytes hash as last time).
    """
    outcome = ReadOutcome()
    readers: dict[str, Reader] = {}
    queue: deque[tuple[LocationTarget, int, str | None]] = deque([(LocationTarget(type=type, target=target), 0, None)])
    seen_targets: set[tuple[str, str]] = set()
    seen_sources: set[str] = set()
    max_files = settings.PAVED_CATALOG_MAX_FILES
    with ExitStack() as stack:
        parsers: dict[str, Parser] = {}
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
                    raise LocationReadError(problem, code=IssueCode.NESTING)
                reader = readers.setdefault(item.type, reader_for(item.type))
                files = reader.expand(item.target)
            except LocationReadError as exc:
                outcome.failed.append((item.type, item.target))
                outcome.sources.append(SourceRead(key, False, issues=[_issue(parent or key, item.target, exc)]))
                continue
            if item.type not in parsers:
                parsers[item.type] = stack.enter_context(parser_for(reader))
            # Files are read in order and parsed a window at a time (in several processes when a window is large,
            # see `parallel`); what they yield is reported in the files' order, as read.
            window: list[_File] = []
            waiting = waiting_bytes = 0  # files of the window still to parse, and their size
            for index, path in enumerate(files):
                source = f"{item.type}:{path}"
                if source in seen_sources:
                    continue
                if len(seen_sources) >= max_files:
                    outcome.failed.extend((item.type, rest) for rest in files[index:])
                    stop = LocationReadError(
                        f"more than {max_files} files in one location; stopped reading", code=IssueCode.FILE_LIMIT
                    )
                    failure = SourceRead(key, False, issues=[_issue(parent or key, item.target, stop)])
                    window.append(_File(source, path, failure, notify=False))
                    queue.clear()
                    break
                seen_sources.add(source)
                window.append(
                    _read_file(outcome, reader, item.type, source, path, cache, salt, trust_stat, always_read)
                )
                waiting += window[-1].read is None
                waiting_bytes += len(window[-1].data)
                if waiting >= _WINDOW or waiting_bytes >= _WINDOW_BYTES:
                    _report(outcome, parsers[item.type], item.type, window, queue, depth, on_file)
                    window, waiting, waiting_bytes = [], 0, 0
            if window:
                _report(outcome, parsers[item.type], item.type, window, queue, depth, on_file)
    return outcome


# Files parsed together: enough to keep several processes busy, few enough that their bytes in flight stay small
# (128 files of 100 entities are ~13 MB of YAML; files may be up to 32 MiB each, hence the bound on bytes too).
_WINDOW: Final = 128
_WINDOW_BYTES: Final = 64 * 1024 * 1024


@dataclass
class _File:
    """One file of a target as read: `read` is its SourceRead once decided (unchanged, failed), None while it waits
    for its parse. `nested` are the Location targets it declares; `notify` whether `on_file` hears of it."""

    source: str
    path: str
    read: SourceRead | None
    data: bytes = b""
    digest: str = ""
    nested: list[LocationTarget] = field(default_factory=list)
    notify: bool = True


def _read_file(
    outcome: ReadOutcome,
    reader: Reader,
    type: str,
    source: str,
    path: str,
    cache: Mapping[str, Mapping[str, Any]] | None,
    salt: str,
    trust_stat: bool,
    always_read: str,
) -> _File:
    """Stat and read one file and decide whether it needs parsing: unchanged since the cache, or unreadable, it is
    decided here; else it comes back with its bytes and digest for `_report`."""
    # Taken before reading: a file written after this point differs from the stat recorded, so the next change check
    # sees it even if this read already caught part of the write.
    stat = file_stat(path) if type == "file" else None
    if stat is not None:
        outcome.stats[source] = stat
    cached = (cache or {}).get(source)
    stat_unchanged = (
        trust_stat and source != always_read and stat is not None and cached is not None and cached.get("stat") == stat
    )
    if stat_unchanged:
        data = b""
    else:
        try:
            data = reader.read(path, limits=DEFAULT_LIMITS)
        except LocationReadError as exc:
            outcome.failed.append((type, path))
            return _File(source, path, SourceRead(source, False, issues=[_issue(source, path, exc)]), notify=False)
        outcome.files_read += 1
    digest = "" if stat_unchanged else _digest(data, salt)
    if cached is not None and (stat_unchanged or cached.get("digest") == digest):
        outcome.digests[source] = dict(cached)
        read = SourceRead(source, True, unchanged=True, kept=cached.get("entities", 0))
        nested = [LocationTarget(type=t, target=target) for t, target in cached.get("targets", [])]
        return _File(source, path, read, nested=nested)
    return _File(source, path, None, data=data, digest=digest)


def _report(
    outcome: ReadOutcome,
    parser: Parser,
    type: str,
    window: list[_File],
    queue: deque[tuple[LocationTarget, int, str | None]],
    depth: int,
    on_file: Callable[[str], None] | None,
) -> None:
    """Parse the window's files that need it, then record every file of the window in order and queue what each
    nests."""
    parsed_all = parser.parse_many([(entry.path, entry.data) for entry in window if entry.read is None])
    for entry in window:
        if entry.read is None:
            parsed = next(parsed_all)
            if _whole_file_failed(parsed):
                outcome.failed.append((type, entry.path))
                entry.read = SourceRead(entry.source, False, issues=parsed.issues)
            else:
                entry.read = SourceRead(entry.source, True, parsed.entities, parsed.issues)
                # Placeholders pull in content the digest does not cover, and so do the entity checks of some kinds
                # (a Template's skeleton files); issues must be reported every time.
                if (
                    not parsed.issues
                    and not _PLACEHOLDER.search(entry.data)
                    and not any(has_entity_checks(p.entity.get("kind")) for p in parsed.entities)
                ):
                    outcome.digests[entry.source] = {
                        "digest": entry.digest,
                        "targets": [[t.type, t.target] for t in parsed.location_targets],
                        "entities": len(parsed.entities),
                    }
            entry.nested = list(parsed.location_targets)
            entry.data = b""
        outcome.sources.append(entry.read)
        if on_file is not None and entry.notify:
            on_file(entry.source)
        for nested in entry.nested:
            queue.append((nested, depth + 1, entry.source))


def location_files_changed(location: Location) -> bool:
    """Whether a `file` location's files differ from those its last refresh read: a file added or gone, or one
    whose size or modification time is not the one recorded (Location.source_digests). Stats only, nothing read.

    The targets are the location's own and the file targets its files nested last time. A target that cannot be
    listed counts as a change unless the last refresh already failed (the full re-read retries those).
    """
    recorded: Mapping[str, Mapping[str, Any]] = location.source_digests or {}
    reader = reader_for("file")
    targets = [location.target]
    targets += [t for entry in recorded.values() for t_type, t in entry.get("targets", []) if t_type == "file"]
    listed: set[str] = set()
    max_files = settings.PAVED_CATALOG_MAX_FILES
    for target in dict.fromkeys(targets):
        try:
            files = reader.expand(target)
        except LocationReadError:
            if location.state != Location.State.FAILED:
                return True
            continue
        for path in files:
            source = f"file:{path}"
            if source not in listed and len(listed) >= max_files:
                break  # as far as a refresh reads: the files beyond are not in the catalog either
            listed.add(source)
            entry = recorded.get(source)
            if entry is None or entry.get("stat") != file_stat(path):
                return True
    return any(source.startswith("file:") and source not in listed for source in recorded)


def file_stat(path: str) -> list[int] | None:
    """[modification time in ns, size] of a local file, None if it cannot be stat'ed (reading it will say why)."""
    try:
        result = os.stat(path)
    except (OSError, ValueError):
        return None
    return [result.st_mtime_ns, result.st_size]


def _issue(file: str, target: str, exc: LocationReadError) -> Issue:
    return read_issue(file=file, target=target, reason=str(exc), code=exc.code)


_PLACEHOLDER: Final = re.compile(rb"\$(?:text|json|yaml)\b")
# Bump when parsing or validation changes what a file yields: cached digests then no longer match.
_CACHE_VERSION: Final = "2"


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


# --- what the location stored last time --------------------------------------------------------------------------


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


def _recorded_cache(location: Location) -> dict[str, Any]:
    """The digest cache as recorded: the entries of sources that last read cleanly (an entry with a stat only is a
    file that had errors: it is read again, its errors are reported again)."""
    return {
        source: entry
        for source, entry in (location.source_digests or {}).items()
        if "digest" in entry and isinstance(entry.get("entities"), int)
    }


def _stored_counts(location: Location) -> dict[str, int]:
    """Per source of the location's stored entities, how many of them are not orphans (the synthetic entity, which
    shares the root's source, is not counted). One query over all the location's entities: full re-reads only."""
    counted = Q(orphan=False) & ~Q(kind="Location", name__startswith="generated-")
    return dict(
        Entity.objects.filter(location=location)
        .order_by()
        .values("source")
        .annotate(n=Count("id", filter=counted))
        .values_list("source", "n")
    )


def _usable_cache(location: Location, counts: Mapping[str, int]) -> dict[str, Any]:
    """The digest cache, minus sources whose stored entities no longer match what they produced (deleted or
    orphaned out of band): those are parsed again."""
    if not location.source_digests:
        return {}
    return {
        source: entry
        for source, entry in location.source_digests.items()
        if counts.get(source, 0) == entry.get("entities", -1)
    }
