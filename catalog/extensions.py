"""Entity checks: rules other apps add to the catalog for one kind, run wherever a location is read.

A check looks beyond the descriptor: the scaffolder, for instance, reads a Template's skeleton files beside its
`template.yaml` and refuses one with Copier tasks or symbolic links. It is given the valid entity and its source
(`<type>:<target>`, as in `backstage.io/managed-by-location`) and returns problems, each with a path from the entity's
root (`spec.steps[2].action`) and a sentence. Ingestion (`catalog.ingest.apply_location_read`) and the dry run of a
registration (`catalog.services.location_create(dry_run=True)`) run every check of the entity's kind; an entity with
a problem is refused like an invalid one: it keeps its last good version and the problems are recorded as errors.

Change listeners: apps that keep something derived from entities (scorecards) are told, after commit, which entities
a refresh or a delete created, changed or removed (`register_change_listener`).

Entity tabs: apps add a tab to an entity's page that opens one of their pages (`register_entity_tab`), e.g.
the scorecards of a service.

Apps register their checks, listeners and tabs in their `AppConfig.ready()`, so the catalog never imports them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from django.db import transaction

from catalog.locations import errors
from catalog.locations.errors import LocationError

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class EntityProblem:
    """One reason to refuse an entity: `path` from the entity's root ("" for the entity as a whole) and a sentence."""

    path: str
    message: str


EntityCheck = Callable[[Mapping[str, Any], str], Iterable[EntityProblem]]

_lock = threading.Lock()
_checks: dict[str, list[EntityCheck]] = {}


def register_entity_check(kind: str, check: EntityCheck) -> None:
    """Run `check` on every valid entity of `kind` read from a location. Registering one check twice keeps one."""
    with _lock:
        registered = _checks.setdefault(kind.lower(), [])
        if check not in registered:
            registered.append(check)


def unregister_entity_check(kind: str, check: EntityCheck) -> None:
    """Forget a check registered for `kind`; nothing happens when it was not registered."""
    with _lock:
        registered = _checks.get(kind.lower(), [])
        if check in registered:
            registered.remove(check)


def entity_checks(kind: str) -> list[EntityCheck]:
    """The checks registered for `kind` (case-insensitive, as kinds are in refs), in registration order."""
    with _lock:
        return list(_checks.get(kind.lower(), []))


def has_entity_checks(kind: object) -> bool:
    """Whether `kind` has checks. Asked of every entity a refresh reads: one dictionary read, which needs no lock
    (registration replaces nothing it could see half-done)."""
    return isinstance(kind, str) and bool(_checks.get(kind.lower()))


def entity_check_errors(
    *, entity: Mapping[str, Any], ref: str, source: str, document: int | None = None
) -> list[LocationError]:
    """The errors that refuse `entity`, read from `source`: every problem of every check of its kind (empty: accepted).

    A check that raises refuses the entity too, with the exception's text: a check that cannot decide must not let
    through what it exists to stop, nor crash the refresh of the whole location.
    """
    found: list[LocationError] = []
    # Named like the entity's validation errors: the file or git target, without the location type.
    file = source.partition(":")[2] or source
    for check in entity_checks(str(entity.get("kind", ""))):
        try:
            problems = list(check(entity, source))
        except Exception as exc:
            log.warning("catalog.entity_check.crashed", ref=ref, source=source, check=getattr(check, "__name__", ""))
            problems = [EntityProblem("", f"could not be checked ({type(exc).__name__}: {exc})")]
        found.extend(
            errors.entity_refused(ref=ref, file=file, document=document, path=problem.path, message=problem.message)
            for problem in problems
        )
    return found


# -- change listeners ------------------------------------------------------------------------------------------------

ChangeListener = Callable[[Sequence[str]], None]
_listeners: list[ChangeListener] = []


def register_change_listener(listener: ChangeListener) -> None:
    """Call `listener(refs)` after every commit that created, changed or deleted catalog entities, with their refs
    (lower-cased, sorted). Listeners run in the committing process and must be quick: enqueue work, do not do it.
    Registering one listener twice keeps one."""
    with _lock:
        if listener not in _listeners:
            _listeners.append(listener)


def unregister_change_listener(listener: ChangeListener) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def entities_changed(refs: Iterable[str]) -> None:
    """Tell the change listeners about these entities once the current transaction commits (at once outside of
    one); nothing is said when the transaction rolls back. A listener that raises is logged and the others still run:
    the catalog's write has committed and must not fail because of what another app does with the news."""
    changed = sorted({ref.lower() for ref in refs if ref})
    with _lock:
        listeners = list(_listeners)
    if not changed or not listeners:
        return

    def notify() -> None:
        for listener in listeners:
            try:
                listener(changed)
            except Exception as exc:
                log.error(
                    "catalog.change_listener.failed",
                    listener=getattr(listener, "__name__", repr(listener)),
                    entities=len(changed),
                    error=str(exc),
                )

    transaction.on_commit(notify)


# -- entity tabs -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntityTab:
    """A tab another app adds to an entity's page: its label and the URL it opens (a page of that app)."""

    label: str
    url: str


EntityTabUrl = Callable[[Any], "str | None"]
_tabs: list[tuple[str, EntityTabUrl]] = []


def register_entity_tab(label: str, url_for: EntityTabUrl) -> None:
    """Show a tab named `label` on every entity page for which `url_for(entity)` gives a URL (None: no tab there).
    Registering one label twice keeps the first."""
    with _lock:
        if all(known != label for known, _ in _tabs):
            _tabs.append((label, url_for))


def unregister_entity_tab(label: str) -> None:
    with _lock:
        _tabs[:] = [(known, url_for) for known, url_for in _tabs if known != label]


def entity_tabs(entity: Any) -> list[EntityTab]:
    """The registered tabs that apply to `entity` (a catalog Entity), in registration order. A tab whose URL
    cannot be made is left out and logged: the entity's page must still open."""
    with _lock:
        tabs = list(_tabs)
    found = []
    for label, url_for in tabs:
        try:
            url = url_for(entity)
        except Exception as exc:
            log.warning("catalog.entity_tab.failed", label=label, ref=getattr(entity, "ref", ""), error=str(exc))
            continue
        if url:
            found.append(EntityTab(label, url))
    return found


__all__ = [
    "ChangeListener",
    "EntityCheck",
    "EntityProblem",
    "EntityTab",
    "entities_changed",
    "entity_check_errors",
    "entity_checks",
    "entity_tabs",
    "has_entity_checks",
    "register_change_listener",
    "register_entity_check",
    "register_entity_tab",
    "unregister_change_listener",
    "unregister_entity_check",
    "unregister_entity_tab",
]
