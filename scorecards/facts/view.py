"""The catalog as one evaluation batch reads it: entities, their relations and their owners, loaded in bulk.

Collectors and the evaluation read entities from here instead of querying per entity: a sweep over every service
costs a handful of queries whatever the number of services.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from django.db.models import Q

from catalog.models import Entity, Relation

_BATCH: Final = 900


@dataclass(frozen=True, slots=True)
class EntityRow:
    """What scorecards need of one catalog entity: its ref, kind, owner ref (from its ownedBy relation), stored
    document (without relations) and the source it was read from (`git:<repo>#<ref>:<path>`, `file:<path>`, ...)."""

    ref: str
    kind: str
    namespace: str
    owner_ref: str
    data: Mapping[str, Any]
    source: str = ""


@dataclass
class CatalogView:
    """Entities by ref and relations by source ref (each relation row as `{"type", "targetRef"}`)."""

    entities: dict[str, EntityRow] = field(default_factory=dict)
    relations: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    _members: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def document(self, ref: str) -> dict[str, Any] | None:
        """The entity as the scorecard engine reads it: its stored document plus `relations`; None when absent."""
        row = self.entities.get(ref)
        if row is None:
            return None
        return {**row.data, "relations": list(self.relations.get(ref, ()))}

    def members(self, group_ref: str) -> list[str]:
        """Direct members of a Group (its hasMember relations, whichever side declared them), sorted; computed once
        per group (a team owning hundreds of services has as many relations to look through)."""
        found = self._members.get(group_ref)
        if found is None:
            relations = self.relations.get(group_ref, ())
            found = sorted({r["targetRef"] for r in relations if r["type"] == "hasMember"})
            self._members[group_ref] = found
        return list(found)


def _rows(query: Any) -> Iterable[EntityRow]:
    for ref, kind, namespace, owner_ref, data, source in query.values_list(
        "ref", "kind", "namespace", "owner_ref", "data", "source"
    ).iterator(chunk_size=2000):
        yield EntityRow(ref, kind, namespace, owner_ref, data if isinstance(data, Mapping) else {}, source)


def _add_relations(view: CatalogView, query: Any) -> None:
    seen: dict[str, set[tuple[str, str]]] = {}
    for source_ref, relation_type, target_ref in query.values_list("source_ref", "type", "target_ref").iterator(
        chunk_size=5000
    ):
        pair = (relation_type, target_ref)
        known = seen.setdefault(source_ref, set())
        if pair in known:  # declared by both ends: one relation
            continue
        known.add(pair)
        view.relations.setdefault(source_ref, []).append({"type": relation_type, "targetRef": target_ref})


def catalog_view(*, refs: Collection[str] | None = None) -> CatalogView:
    """The entities named by `refs` (every entity for None), their owners, and the relations of both.

    Queries: two for every entity; otherwise four per 900 refs (entities, owners, relations of each).
    """
    view = CatalogView()
    if refs is None:
        view.entities = {row.ref: row for row in _rows(Entity.objects.all())}
        _add_relations(view, Relation.objects.all())
    else:
        wanted = sorted({ref.lower() for ref in refs})
        for start in range(0, len(wanted), _BATCH):
            batch = wanted[start : start + _BATCH]
            view.entities.update((row.ref, row) for row in _rows(Entity.objects.filter(ref__in=batch)))
        owners = sorted({row.owner_ref for row in view.entities.values() if row.owner_ref} - set(view.entities))
        for start in range(0, len(owners), _BATCH):
            batch = owners[start : start + _BATCH]
            view.entities.update((row.ref, row) for row in _rows(Entity.objects.filter(ref__in=batch)))
        loaded = sorted(set(wanted) | set(owners))
        for start in range(0, len(loaded), _BATCH):
            _add_relations(view, Relation.objects.filter(source_ref__in=loaded[start : _BATCH + start]))
    for rows in view.relations.values():
        rows.sort(key=lambda r: (r["type"], r["targetRef"]))
    return view


def entity_refs_of_kinds(*, kinds: Iterable[str]) -> list[str]:
    """Refs of every entity of these kinds (case-insensitive), sorted (one query)."""
    condition = Q()
    for kind in kinds:
        condition |= Q(kind__iexact=kind)
    return sorted(Entity.objects.filter(condition).values_list("ref", flat=True))
