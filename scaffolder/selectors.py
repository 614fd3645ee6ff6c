"""Reading scaffolder runs: one with its steps and approvals, a run's log after a given event, a user's runs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from django.db.models import QuerySet

from catalog import selectors as catalog_selectors
from catalog.models import Entity
from portal.permissions import Action, Actor, is_admin, may
from scaffolder.models import Event, Run
from scaffolder.runner import workspace_path


def run_get(*, run_id: str) -> Run | None:
    """One run with its creator, or None."""
    return Run.objects.select_related("created_by").filter(pk=run_id).first()


def run_list(*, user_id: int | None = None) -> QuerySet[Run]:
    """Runs, newest first; those asked for by one user when `user_id` is given."""
    runs = Run.objects.select_related("created_by").order_by("-created_at")
    return runs.filter(created_by_id=user_id) if user_id is not None else runs


def event_list(*, run: Run, after_id: int = 0, limit: int = 500) -> list[Event]:
    """A run's log in order, from after the event `after_id` (what a live view has not shown yet)."""
    return list(Event.objects.filter(run=run, id__gt=after_id).order_by("id")[:limit])


# -- pages: the template menu, the picker, runs a user may see and approve ------------------------------------------

TEMPLATE_KIND: Final = "template"
PICKER_LIMIT: Final = 10
APPROVAL_QUEUE_LIMIT: Final = 200


@dataclass(frozen=True)
class TemplateMenu:
    """The templates matching the filters, and the tags and types to filter by (over every template)."""

    templates: list[Entity]
    tags: list[str]
    types: list[str]


def template_menu(*, text: str = "", tag: str = "", type: str = "") -> TemplateMenu:
    """Template entities from the catalog, by title; `text` matches every word in name, title, description or tags.

    Two queries: the templates, and the facets (types and tags are read from the same rows, templates are few).
    """
    everything = list(
        Entity.objects.filter(kind__iexact=TEMPLATE_KIND).only(
            "id", "ref", "kind", "namespace", "name", "title", "description", "spec_type", "owner_ref", "tags"
        )
    )
    words = text.lower().split()[:8]
    chosen = []
    for entity in everything:
        haystack = " ".join([entity.name, entity.title, entity.description, *map(str, entity.tags or [])]).lower()
        if words and not all(word in haystack for word in words):
            continue
        if tag and tag not in (entity.tags or []):
            continue
        if type and entity.spec_type != type:
            continue
        chosen.append(entity)
    chosen.sort(key=lambda entity: ((entity.title or entity.name).lower(), entity.ref))
    tags = sorted({str(t) for entity in everything for t in (entity.tags or [])})
    types = sorted({entity.spec_type for entity in everything if entity.spec_type})
    return TemplateMenu(templates=chosen, tags=tags, types=types)


def template_get(*, namespace: str, name: str) -> Entity | None:
    """One Template entity (case-insensitive, as refs are), or None."""
    return catalog_selectors.entity_get_by_name(kind=TEMPLATE_KIND, namespace=namespace, name=name)


def picker_suggestions(*, text: str, kinds: Sequence[str]) -> list[Entity]:
    """At most PICKER_LIMIT catalog entities of `kinds` (any kind when empty) matching `text`; never the catalog."""
    text = text.strip()[:200]
    wanted = {kind.lower() for kind in kinds if kind}
    if not text:
        queryset = Entity.objects.all()
        if wanted:
            queryset = queryset.filter(ref__regex=r"^(" + "|".join(map(re.escape, sorted(wanted))) + r"):")
        return list(queryset.order_by("name")[:PICKER_LIMIT])
    found = catalog_selectors.entity_search_suggestions(text=text, limit=PICKER_LIMIT * 5)
    return [entity for entity in found if not wanted or entity.kind.lower() in wanted][:PICKER_LIMIT]


def component_name_taken(*, name: str) -> bool:
    """Whether a component of this name is in the catalog already (in any namespace)."""
    return Entity.objects.filter(kind__iexact="component", name__iexact=name).exists()


def _may_see(user: Actor, run: Run) -> bool:
    return (
        is_admin(user)
        or (run.created_by_id is not None and run.created_by_id == getattr(user, "pk", None))
        or any(may(user, Action.SCAFFOLDER_RUN_APPROVE, approval) for approval in run.approvals.all())
    )


def run_get_for(*, run_id: str, user: Actor) -> Run | None:
    """One run with its steps and approvals, when `user` may see it: who asked for it, its approvers, administrators."""
    run = (
        Run.objects.select_related("created_by")
        .prefetch_related("steps", "approvals__decided_by")
        .filter(pk=run_id)
        .first()
    )
    return run if run is not None and _may_see(user, run) else None


def run_list_for(*, user: Actor) -> QuerySet[Run]:
    """The user's runs, newest first; every run for an administrator."""
    runs = Run.objects.select_related("created_by").order_by("-created_at")
    if is_admin(user):
        return runs
    return runs.filter(created_by_id=getattr(user, "pk", None))


def approval_queue(*, user: Actor) -> list[Run]:
    """Runs awaiting approval that `user` may approve now (never their own), oldest first."""
    waiting = (
        Run.objects.filter(status=Run.Status.AWAITING_APPROVAL)
        .select_related("created_by")
        .prefetch_related("approvals")
        .order_by("created_at")[:APPROVAL_QUEUE_LIMIT]
    )
    return [run for run in waiting if run.approver_ref and may(user, Action.SCAFFOLDER_RUN_APPROVE, run)]


WORKSPACE_FILE_LIMIT: Final = 200
WORKSPACE_TEXT_LIMIT: Final = 64 * 1024


@dataclass(frozen=True)
class WorkspaceFile:
    """A file a dry run rendered: its path in the workspace and its text (None when binary or too large)."""

    path: str
    text: str | None


def run_workspace_files(*, run: Run) -> list[WorkspaceFile]:
    """The files a finished dry run rendered into its workspace (at most WORKSPACE_FILE_LIMIT, links left out)."""
    if not run.dry_run or not run.is_finished:
        return []
    root = workspace_path(run_id=str(run.pk))
    if not root.is_dir():
        return []
    found: list[WorkspaceFile] = []
    for path in sorted(root.rglob("*")):
        if len(found) >= WORKSPACE_FILE_LIMIT:
            break
        if path.is_symlink() or not path.is_file() or ".git" in path.relative_to(root).parts:
            continue
        text: str | None = None
        if path.stat().st_size <= WORKSPACE_TEXT_LIMIT:
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                text = None
        found.append(WorkspaceFile(path=str(path.relative_to(root)), text=text))
    return found


def run_status(*, run_id: str) -> str | None:
    """A run's status now (one query), or None when it is gone; what a follower of its events asks between polls."""
    return Run.objects.filter(pk=run_id).values_list("status", flat=True).first()
