"""Fact collectors: what the checks read, observed and stored with its source and time (`scorecards.models.Fact`).

One module per source — `catalog` (`catalog.entity`, `catalog.owner`), `repo` (`repo.file:<path>`), `template`
(`template.versions:<ref>`), `oncall` (`oncall.*`) — producing exactly the keys and value shapes documented in
`scorecards.checks`. `facts_collect` runs them over a batch of entities: each source is read once per batch (one
catalog view, one load of policies and schedules, each repository's head once), and a source that fails gives facts
with `error` set, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final

import structlog

from scorecards.engine.model import Fact
from scorecards.facts import catalog, oncall, repo, template
from scorecards.facts.view import CatalogView, EntityRow, catalog_view

log = structlog.get_logger(__name__)

FAMILIES: Final = ("catalog.", repo.PREFIX, template.PREFIX, oncall.PREFIX)


def family_of(key: str) -> str | None:
    return next((prefix for prefix in FAMILIES if key.startswith(prefix)), None)


def facts_collect(
    *,
    view: CatalogView,
    needed: Mapping[str, set[str]],
    now: datetime,
    stored: Mapping[str, Mapping[str, Fact]] | None = None,
) -> dict[str, dict[str, Fact]]:
    """Every needed fact of every entity (`{entity ref: {key: Fact}}`), collected at `now`. `stored` are the facts
    collected before (repository and template facts reuse them, see those modules)."""
    stored = stored or {}
    by_family: dict[str, dict[str, set[str]]] = {}
    out: dict[str, dict[str, Fact]] = {ref: {} for ref in needed}
    for ref, keys in needed.items():
        for key in keys:
            family = family_of(key)
            if family is None:
                out[ref][key] = Fact(key, None, "", now, f"no collector produces the fact {key!r}")
            else:
                by_family.setdefault(family, {}).setdefault(ref, set()).add(key)
    heads = repo.Heads()
    runs: dict[str, Callable[[dict[str, set[str]]], dict[str, list[Fact]]]] = {
        "catalog.": lambda wanted: catalog.collect(view, wanted, now),
        repo.PREFIX: lambda wanted: repo.collect(view, wanted, now, stored, heads),
        template.PREFIX: lambda wanted: template.collect(wanted, now, stored),
        oncall.PREFIX: lambda wanted: oncall.collect(view, wanted, now),
    }
    for family, wanted in by_family.items():
        try:
            collected = runs[family](wanted)
        except Exception as error:  # a broken source must leave the other sources and entities their facts
            log.warning("scorecards.facts.collector_failed", family=family, error=str(error))
            message = f"the {family.rstrip('.:')} collector failed: {type(error).__name__}: {error}"
            collected = {ref: [Fact(key, None, "", now, message) for key in keys] for ref, keys in wanted.items()}
        for ref, facts in collected.items():
            for fact in facts:
                out[ref][fact.key] = fact
    return out


__all__ = ["CatalogView", "EntityRow", "catalog_view", "facts_collect", "family_of"]
