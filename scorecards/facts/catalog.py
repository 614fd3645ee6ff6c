"""Catalog facts: `catalog.entity` (the entity document with its relations) and `catalog.owner` (its owner as the
catalog knows it). Shapes: `scorecards.checks`. Read from the batch's CatalogView, never per entity."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from scorecards.engine.model import Fact
from scorecards.facts.view import CatalogView

ENTITY: Final = "catalog.entity"
OWNER: Final = "catalog.owner"
SOURCE: Final = "catalog"


def owner_value(view: CatalogView, ref: str) -> dict[str, Any]:
    row = view.entities.get(ref)
    owner_ref = row.owner_ref if row is not None else ""
    if not owner_ref:
        return {"ref": None, "kind": None, "members": []}
    owner = view.entities.get(owner_ref)
    kind = owner.data.get("kind") if owner is not None else None
    kind = kind if isinstance(kind, str) else None
    members = view.members(owner_ref) if kind is not None and kind.lower() == "group" else []
    return {"ref": owner_ref, "kind": kind, "members": members}


def collect(view: CatalogView, wanted: Mapping[str, set[str]], now: datetime) -> dict[str, list[Fact]]:
    out: dict[str, list[Fact]] = {}
    for ref, keys in wanted.items():
        facts = out.setdefault(ref, [])
        present = ref in view.entities
        for key in sorted(keys):
            if not present:
                facts.append(Fact(key, None, SOURCE, now, f"{ref} is not in the catalog"))
            elif key == ENTITY:
                facts.append(Fact(key, view.document(ref), SOURCE, now))
            elif key == OWNER:
                facts.append(Fact(key, owner_value(view, ref), SOURCE, now))
            else:
                facts.append(Fact(key, None, SOURCE, now, f"no catalog fact is called {key!r}"))
    return out
