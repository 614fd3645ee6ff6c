"""Reads of the catalog: entities as Backstage's API returns them, lookups, facets, and who a user is in it."""

from __future__ import annotations

import operator
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, reduce
from typing import Any, Final

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, Exists, F, IntegerField, JSONField, OuterRef, Q, QuerySet, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import StrIndex, Substr
from django.http import QueryDict

from catalog import cache as catalog_cache
from catalog import query
from catalog.descriptors import RefError, parse_ref, registered_kinds
from catalog.filters import FACETS, EntityFilterSet, without
from catalog.models import Entity, Location, Relation, SearchEntry
from catalog.presentation import (
    Graph,
    GraphEdge,
    GraphFilter,
    api_definition,
    graph_layout,
    group_by_kind,
    is_http_url,
    readable_yaml,
    safe_links,
)
from catalog.refs import EntityRef, ref_label, ref_parts, ref_url

PROCESSING_ERROR_TYPE: Final = "backstage.io/catalog-processing"
SEARCH_MAX_WORDS: Final = 8
MAX_LOCATIONS: Final = 10_000

# -- entities as JSON -----------------------------------------------------------------------------------------------


def relation_json(relation_type: str, target_ref: str) -> dict[str, Any]:
    try:
        target = parse_ref(target_ref)
        target_json = {"kind": target.kind, "namespace": target.namespace, "name": target.name}
    except RefError:
        target_json = {"kind": "", "namespace": "", "name": target_ref}
    return {"type": relation_type, "targetRef": target_ref, "target": target_json}


def _status_json(errors: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "items": [
            {
                "type": PROCESSING_ERROR_TYPE,
                "level": "error",
                "message": str(error.get("message", "")),
                "error": {"name": "InputError", "message": str(error.get("message", ""))},
            }
            for error in errors
        ]
    }


def entity_list_json(*, entities: Sequence[Entity], fields: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Entities as Backstage serves them: the stored JSON, `relations` (where the entity is the source), and
    `status.items` for processing errors; then projected to `fields`.

    One query for the relations of the whole page, none when `fields` leaves relations out.
    """
    wants_relations = fields is None or any(f == "relations" or f.startswith("relations.") for f in fields)
    relations: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if wants_relations and entities:
        rows = (
            Relation.objects.filter(source_ref__in=[entity.ref for entity in entities])
            .values_list("source_ref", "type", "target_ref")
            .distinct()
            .order_by("source_ref", "type", "target_ref")
        )
        for source_ref, relation_type, target_ref in rows:
            relations[source_ref].append(relation_json(relation_type, target_ref))
    return [
        query.project(
            entity_json(
                entity.data, orphan=entity.orphan, relations=relations.get(entity.ref, []), errors=entity.errors
            ),
            fields,
        )
        for entity in entities
    ]


def entity_json(
    stored: Mapping[str, Any],
    *,
    orphan: bool,
    relations: list[dict[str, Any]],
    errors: Sequence[dict[str, Any]] | None,
) -> dict[str, Any]:
    """One entity as the API serves it, from its stored JSON: the orphan annotation, `relations` (built with
    `relation_json`) and `status.items` for processing errors. The lists (`entity_list_json`) and the lean by-name
    read (catalog.reads) both answer through this, so their bodies are the same bytes."""
    data: dict[str, Any] = dict(stored)
    if orphan:
        metadata = dict(data.get("metadata") or {})
        metadata["annotations"] = {**(metadata.get("annotations") or {}), "backstage.io/orphan": "true"}
        data["metadata"] = metadata
    data["relations"] = relations
    if errors:
        data["status"] = _status_json(errors)
    return data


# -- lookups --------------------------------------------------------------------------------------------------------


def entity_get_by_name(*, kind: str, namespace: str, name: str) -> Entity | None:
    """Case-insensitive, as Backstage's refs are."""
    return Entity.objects.filter(ref=f"{kind}:{namespace}/{name}".lower()).first()


def entity_get_by_uid(*, uid: uuid.UUID) -> Entity | None:
    return Entity.objects.filter(uid=uid).first()


def entity_get_by_ref(*, ref: str) -> Entity | None:
    """A full ref `kind:namespace/name` (namespace defaults to `default`); None when unparseable or absent."""
    try:
        parsed = parse_ref(ref)
    except RefError:
        return None
    return Entity.objects.filter(ref=str(parsed)).first()


def entities_by_refs(*, refs: Sequence[str], entity_filter: query.EntityFilter = ()) -> list[Entity | None]:
    """Entities for refs, in the refs' order, None where there is none (or it does not match the filter)."""
    keys: list[str | None] = []
    for ref in refs:
        try:
            keys.append(str(parse_ref(ref)))
        except RefError:
            keys.append(None)
    wanted = {key for key in keys if key}
    found = {entity.ref: entity for entity in query.entity_queryset(entity_filter).filter(ref__in=wanted)}
    return [found.get(key) if key else None for key in keys]


def entity_facets(*, facets: Sequence[str], entity_filter: query.EntityFilter = ()) -> dict[str, list[dict[str, Any]]]:
    """`{facet: [{value, count}]}` over the entities matching the filter, values in their original case.

    Two queries per call whatever the catalog size and the number of facets: counts are grouped in the database and
    the original case of each value is read from one sample entity per value. The answer is cached per catalog
    version (catalog.cache), so a repeated question costs one query until the catalog changes.
    """
    return catalog_cache.cached(
        "facets",
        repr((tuple(facets), entity_filter)),
        lambda: _entity_facets(facets=facets, entity_filter=entity_filter),
    )


def _entity_facets(*, facets: Sequence[str], entity_filter: query.EntityFilter) -> dict[str, list[dict[str, Any]]]:
    counted = query.facet_counts(facets=facets, entity_filter=entity_filter)
    sample_ids = {sample for rows in counted.values() for _, _, sample in rows}
    samples = dict(Entity.objects.filter(pk__in=sample_ids).values_list("pk", "data")) if sample_ids else {}
    return {
        facet: [
            {"value": query.original_value(samples.get(sample, {}), facet.lower(), value), "count": count}
            for value, count, sample in rows
        ]
        for facet, rows in counted.items()
    }


# -- locations ------------------------------------------------------------------------------------------------------


def location_list() -> QuerySet[Location]:
    return Location.objects.order_by("created_at", "id")[:MAX_LOCATIONS]


def location_get(*, location_id: uuid.UUID) -> Location | None:
    return Location.objects.filter(pk=location_id).first()


def location_get_by_target(*, type: str, target: str) -> Location | None:
    return Location.objects.filter(type=type, target=target).first()


def location_for_entity(*, kind: str, namespace: str, name: str) -> Location | None:
    entity = entity_get_by_name(kind=kind, namespace=namespace, name=name)
    if entity is None or entity.location_id is None:
        return None
    return Location.objects.filter(pk=entity.location_id).first()


# -- who a user is --------------------------------------------------------------------------------------------------


def user_entity_get(*, user: AbstractBaseUser | AnonymousUser) -> Entity | None:
    """The catalog User entity that stands for a Django user: the one named like the username, else the one whose
    `spec.profile.email` is the user's email (both compared case-insensitively)."""
    if not user.is_authenticated:
        return None
    users = Entity.objects.filter(kind__iexact="user")
    by_name = users.filter(name__iexact=user.get_username()).order_by("namespace").first()
    if by_name is not None:
        return by_name
    email = (getattr(user, "email", "") or "").strip().lower()
    if not email:
        return None
    has_email = SearchEntry.objects.filter(entity_id=OuterRef("pk"), key="spec.profile.email", value=email)
    return users.filter(Exists(has_email)).order_by("namespace", "name").first()


def user_group_refs(*, user_entity: Entity) -> set[str]:
    """Refs of the groups a catalog user is a direct member of (memberOf relations, whoever declared them)."""
    return set(
        Relation.objects.filter(source_ref=user_entity.ref, type="memberOf").values_list("target_ref", flat=True)
    )


def kind_list() -> list[dict[str, Any]]:
    """Registered kinds with their apiVersions and how many entities each has in the catalog."""
    counts: dict[str, int] = defaultdict(int)
    for kind, count in _kind_counts():
        counts[kind.lower()] += count
    kinds: dict[str, dict[str, Any]] = {}
    for spec in registered_kinds():
        entry = kinds.setdefault(spec.kind.lower(), {"kind": spec.kind, "apiVersions": [], "count": 0})
        entry["apiVersions"] = sorted({*entry["apiVersions"], *spec.api_versions})
        entry["count"] = counts.get(spec.kind.lower(), 0)
    return sorted(kinds.values(), key=lambda k: str(k["kind"]).lower())


def _kind_counts() -> list[tuple[str, int]]:
    return list(Entity.objects.values("kind").annotate(n=Count("*")).values_list("kind", "n").order_by())


# --- Reads for the catalog's HTML pages (catalog/views.py) ------------------------------------------------
# Bounded query counts: every function below issues a fixed number of queries whatever the page size or the
# number of relations, so the pages' query counts do not grow with the data.

UI_KIND_ORDER: Final = ("component", "api", "resource", "system", "domain", "group", "user", "template", "location")
UI_FACET_LIMIT: Final = 30
UI_RELATION_LIMIT: Final = 2000


@dataclass
class UiFacetValue:
    value: str
    label: str
    count: int | None
    selected: bool


@dataclass
class UiFacet:
    name: str
    label: str
    values: list[UiFacetValue]

    @property
    def selected_count(self) -> int:
        return sum(1 for value in self.values if value.selected)


@dataclass
class EntityListPage:
    filterset: EntityFilterSet
    page: Page[Entity]
    kinds: list[UiFacetValue]
    facets: list[UiFacet]
    total_all: int
    page_size: int
    # What each owner, team and facet ref on the page shows as: its entity's title (its name without one); refs
    # that name no entity are missing from it and show as refs.
    titles: dict[str, str]
    orphan_count: int
    # "user" when only users are listed: their email and teams replace owner, type and lifecycle, empty for people.
    columns: str = "default"
    teams: dict[str, list[str]] = field(default_factory=dict)


_FACET_LABELS: Final = {
    "owner": "Owner",
    "type": "Type",
    "lifecycle": "Lifecycle",
    "tag": "Tag",
    "system": "System",
    "namespace": "Namespace",
}


def _facet_counts(queryset: QuerySet[Entity], column: str) -> list[tuple[str, int]]:
    """The most frequent values of one facet column among `queryset`'s entities, with their counts."""
    if column == "tags":
        rows = (
            SearchEntry.objects.filter(entity__in=queryset.order_by().values("pk"), key="metadata.tags")
            .exclude(value=None)
            .values("value")
            .annotate(n=Count("entity", distinct=True))
            .order_by("-n", "value")[:UI_FACET_LIMIT]
        )
        return [(str(row["value"]), int(row["n"])) for row in rows]
    rows = (
        queryset.order_by()
        .exclude(**{column: ""})
        .values(column)
        .annotate(n=Count("id"))
        .order_by("-n", column)[:UI_FACET_LIMIT]
    )
    return [(str(row[column]), int(row["n"])) for row in rows]


def _facet_values(
    counts: list[tuple[str, int]], selected: list[str], *, label_kind: str = "", titles: Mapping[str, str] = {}
) -> list[UiFacetValue]:
    def label(value: str) -> str:
        if not label_kind:
            return value
        return titles.get(value.lower()) or ref_label(value, default_kind=label_kind)

    lowered = {value.lower() for value in selected}
    values = [UiFacetValue(value, label(value), n, value.lower() in lowered) for value, n in counts]
    present = {value.value.lower() for value in values}
    # A selected value outside the top counts (or matching nothing) stays visible so it can be unticked.
    values.extend(UiFacetValue(value, label(value), None, True) for value in selected if value.lower() not in present)
    return values


def _full_ref(value: str, default_kind: str) -> str:
    """`kind:namespace/name` of a ref as stored or typed in a filter (`payments` is `group:default/payments` for the
    owner facet)."""
    parts = ref_parts(value)
    return f"{parts.kind or default_kind}:{parts.namespace}/{parts.name}"


def entity_titles(*, refs: Iterable[str]) -> dict[str, str]:
    """What each entity ref reads as on a page — its title, else its profile's displayName (people, teams), else its
    name — in one query, keyed by the ref as given (refs compare without case). Refs that name no entity are left
    out: pages show them as short refs, marked missing."""
    by_lower: dict[str, set[str]] = defaultdict(set)
    for ref in refs:
        if ref:
            by_lower[ref.lower()].add(ref)
    if not by_lower:
        return {}
    rows = Entity.objects.filter(ref__in=list(by_lower)).values_list(
        "ref", "title", KT("data__spec__profile__displayName"), "name"
    )
    titles: dict[str, str] = {}
    for ref, title, display_name, name in rows:
        for original in by_lower[ref]:
            titles[original] = str(title or display_name or name)
    return titles


def _kind_sort_key(value: str) -> tuple[int, str]:
    lowered = value.lower()
    return (UI_KIND_ORDER.index(lowered) if lowered in UI_KIND_ORDER else len(UI_KIND_ORDER), lowered)


def entity_list_page(*, params: QueryDict, page_number: str | int | None, page_size: int) -> EntityListPage:
    """One page of the catalog list under `params` (EntityFilterSet parameters), with kind tabs and facets.

    Each facet is counted with its own selection left out (so its other values show what widening would give).
    """
    filterset = EntityFilterSet(params, queryset=Entity.objects.all())
    queryset: QuerySet[Entity] = filterset.qs.annotate(
        email=KT("data__spec__profile__email"), display_name=KT("data__spec__profile__displayName")
    )
    paginator = Paginator(
        queryset.only(
            "id",
            "ref",
            "kind",
            "namespace",
            "name",
            "title",
            "description",
            "spec_type",
            "lifecycle",
            "owner_ref",
            "system_ref",
            "tags",
            "orphan",
            "errors",
            "updated_at",
        ),
        page_size,
    )
    counts = catalog_cache.cached("list-page", _list_question(params), lambda: _list_counts(params, filterset.qs))
    # The paginator's count is part of the cached answer: set it so the page does not count again.
    paginator.__dict__["count"] = counts.total
    page = paginator.get_page(page_number)
    cleaned = filterset.form.cleaned_data if filterset.is_valid() else {}
    selected_kinds = {value.lower() for value in cleaned.get("kind") or []}
    kinds = sorted(
        (UiFacetValue(kind, kind, n, kind.lower() in selected_kinds) for kind, n in counts.kinds),
        key=lambda value: _kind_sort_key(value.value),
    )
    columns = "user" if selected_kinds == {"user"} else "default"
    teams: dict[str, list[str]] = defaultdict(list)
    if columns == "user" and page.object_list:
        rows = (
            Relation.objects.filter(source_ref__in=[entity.ref for entity in page.object_list], type="memberOf")
            .values_list("source_ref", "target_ref")
            .distinct()
            .order_by("source_ref", "target_ref")
        )
        for source_ref, target_ref in rows:
            teams[source_ref].append(target_ref)
    label_kinds = {"owner": "group", "system": "system"}
    facet_refs = {
        value: _full_ref(value, label_kinds[name])
        for name in label_kinds
        for value in [*(value for value, _ in counts.facets[name]), *(cleaned.get(name) or [])]
    }
    titles = entity_titles(
        refs=[
            *(entity.owner_ref for entity in page.object_list),
            *(team for refs in teams.values() for team in refs),
            *facet_refs.values(),
        ]
    )
    facet_titles = {value.lower(): titles[ref] for value, ref in facet_refs.items() if ref in titles}
    facets = [
        UiFacet(
            name,
            label,
            _facet_values(
                counts.facets[name],
                list(cleaned.get(name) or []),
                label_kind=label_kinds.get(name, ""),
                titles=facet_titles,
            ),
        )
        for name, label in _FACET_LABELS.items()
    ]
    return EntityListPage(
        columns=columns,
        teams=dict(teams),
        filterset=filterset,
        page=page,
        kinds=kinds,
        facets=facets,
        total_all=sum(value.count or 0 for value in kinds),
        page_size=page_size,
        titles=titles,
        orphan_count=counts.orphans,
    )


# Parameters of the catalog list that do not change its counts: which page, how many per page, in which order.
_LIST_PAGE_ONLY: Final = frozenset({"page", "size", "sort"})


def _list_question(params: QueryDict) -> str:
    return repr(sorted((key, params.getlist(key)) for key in params if key not in _LIST_PAGE_ONLY))


@dataclass(frozen=True)
class _ListCounts:
    total: int
    kinds: list[tuple[str, int]]
    facets: dict[str, list[tuple[str, int]]]
    orphans: int


def _list_counts(params: QueryDict, matching: QuerySet[Entity]) -> _ListCounts:
    """Everything the catalog list counts under `params`: the matches, the kind tabs, each facet with its own
    selection left out (so its other values show what widening would give), and the orphans."""

    def others(name: str) -> QuerySet[Entity]:
        widened: QuerySet[Entity] = EntityFilterSet(without(params, [name, "sort"]), queryset=Entity.objects.all()).qs
        return widened

    kind_rows = others("kind").order_by().values_list("kind").annotate(n=Count("id"))
    return _ListCounts(
        total=matching.count(),
        kinds=[(str(kind), int(n)) for kind, n in kind_rows],
        facets={name: _facet_counts(others(name), FACETS[name]) for name in _FACET_LABELS},
        orphans=others("orphan").filter(orphan=True).count(),
    )


def entity_search_suggestions(*, text: str, limit: int) -> list[Entity]:
    """Entities whose name, title, description or tags contain every word of `text` (its first SEARCH_MAX_WORDS),
    each word matched as the full-text filter matches its term, best first:

    1. names that are the text, then names that start with its first word, then names or titles that contain it
       (where exact and prefix names of query.SEARCH_BOOKKEEPING_KINDS go too), then the rest (descriptions, tags);
    2. within each, the kinds of query.SEARCH_KIND_ORDER in that order, other kinds, then the bookkeeping kinds;
    3. then by name.

    When fewer than `limit` entities match a one-word text, names close to it (a typo) follow: see
    query.fuzzy_name_matches. Several words are not guessed at: each already narrows, and a guess would only add noise.
    Words, not the whole text: the header box suggests while the user types, in any order. Query budget: one, two
    when the typo fallback runs (three on PostgreSQL, which sets the similarity threshold first).
    The Backstage API's `fullTextFilterTerm` is untouched by this ranking: it keeps the ordering it asks for.
    """
    # Control characters are never in a name; NUL would end the text early in SQLite and PostgreSQL refuses it.
    words = "".join(char if char.isprintable() else " " for char in text).lower().split()[:SEARCH_MAX_WORDS]
    if not words:
        return []
    condition = reduce(operator.and_, (query.full_text_q(query.FullText(word)) for word in words))
    whole, first = " ".join(words), words[0]
    bookkeeping = reduce(operator.or_, (Q(kind__iexact=kind) for kind in query.SEARCH_BOOKKEEPING_KINDS))
    tier = Case(
        When(Q(name__iexact=whole) & ~bookkeeping, then=Value(0)),
        When(Q(name__istartswith=first) & ~bookkeeping, then=Value(1)),
        When(Q(name__istartswith=first) | Q(name__icontains=first) | Q(title__icontains=first), then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )
    found: list[Entity] = list(
        Entity.objects.filter(condition)
        .annotate(tier=tier, kind_rank=query.search_kind_rank())
        .order_by("tier", "kind_rank", "name", "kind")
        .only("id", "ref", "kind", "namespace", "name", "title", "description", "tags", "orphan")[:limit]
    )
    if len(found) < limit and len(words) == 1:
        found += query.fuzzy_name_matches(term=whole, limit=limit - len(found), exclude=[entity.pk for entity in found])
    return found


@dataclass
class RelatedEntity:
    """A relation target as pages show it: the entity when it exists, its ref parts always."""

    ref: str
    entity: Entity | None

    @cached_property
    def parts(self) -> EntityRef:
        return ref_parts(self.ref)

    @cached_property
    def url(self) -> str:
        """Its catalog page, worked out once: a group's page links most of its targets twice."""
        return ref_url(self.ref)

    @property
    def exists(self) -> bool:
        return self.entity is not None

    @property
    def title(self) -> str:
        return (self.entity.title if self.entity else "") or self.parts.name

    @property
    def kind(self) -> str:
        return self.entity.kind if self.entity else self.parts.kind


@dataclass
class EntityRelations:
    by_type: dict[str, list[RelatedEntity]]
    truncated: bool = False

    def of(self, relation_type: str) -> list[RelatedEntity]:
        return self.by_type.get(relation_type, [])


def _ui_related(
    pairs: list[tuple[str, str]], *, data_for: Collection[str] = ()
) -> tuple[dict[str, list[RelatedEntity]], bool]:
    """The targets of `pairs` (type, target ref), grouped by type and sorted by ref, in one query. Targets of the
    relation types in `data_for` come with their JSON; the others without it (a group owns hundreds of entities that
    its page only links to, and reading their JSON cost more than the rest of the query)."""
    truncated = len(pairs) > UI_RELATION_LIMIT
    pairs = pairs[:UI_RELATION_LIMIT]
    targets = {target for _, target in pairs}
    with_data = {target for relation_type, target in pairs if relation_type in data_for}
    fields = ["id", "ref", "kind", "namespace", "name", "title", "description", "spec_type", "orphan"]
    found: dict[str, Entity] = {}
    if targets:
        queryset = Entity.objects.filter(ref__in=targets).only(*fields)
        if with_data:
            queryset = queryset.annotate(
                _ui_data=Case(When(ref__in=with_data, then=F("data")), default=Value(None), output_field=JSONField())
            )
        for entity in queryset:
            if entity.ref in with_data:
                entity.data = entity._ui_data  # type: ignore[attr-defined]  # the annotation above
            found[entity.ref] = entity
    grouped: dict[str, list[RelatedEntity]] = {}
    for relation_type, target in pairs:
        grouped.setdefault(relation_type, []).append(RelatedEntity(target, found.get(target)))
    for items in grouped.values():
        items.sort(key=lambda item: (item.parts.kind, item.parts.namespace, item.parts.name))
    return grouped, truncated


def entity_relations_grouped(*, entity: Entity, data_for: Collection[str] = ()) -> EntityRelations:
    """Every relation whose source is `entity`, whoever declared it, deduplicated and grouped by type; the targets of
    the relation types in `data_for` are read with their JSON (a group's members: its page shows their profiles)."""
    pairs = list(
        Relation.objects.filter(source_ref=entity.ref)
        .values_list("type", "target_ref")
        .distinct()
        .order_by("type", "target_ref")[: UI_RELATION_LIMIT + 1]
    )
    grouped, truncated = _ui_related(pairs, data_for=data_for)
    return EntityRelations(grouped, truncated)


@dataclass
class SubTeam:
    team: RelatedEntity
    members: int
    owned: int
    children: int


@dataclass
class GroupOverview:
    members: list[RelatedEntity]
    parent: RelatedEntity | None
    children: list[SubTeam]
    owned_by_kind: list[tuple[str, list[RelatedEntity]]]


def group_overview(*, relations: EntityRelations) -> GroupOverview:
    """Members, parent, sub-teams (with their member/owned/child counts) and owned entities of a Group."""
    children = relations.of("parentOf")
    counts: dict[tuple[str, str], int] = {}
    if children:
        for row in (
            Relation.objects.filter(
                source_ref__in=[c.ref for c in children], type__in=["hasMember", "ownerOf", "parentOf"]
            )
            .values("source_ref", "type")
            .annotate(n=Count("target_ref", distinct=True))
            .order_by()
        ):
            counts[(row["source_ref"], row["type"])] = int(row["n"])
    parents = relations.of("childOf")
    return GroupOverview(
        members=relations.of("hasMember"),
        parent=parents[0] if parents else None,
        children=[
            SubTeam(
                child,
                counts.get((child.ref, "hasMember"), 0),
                counts.get((child.ref, "ownerOf"), 0),
                counts.get((child.ref, "parentOf"), 0),
            )
            for child in children
        ],
        owned_by_kind=group_by_kind([(item.kind, item) for item in relations.of("ownerOf")]),
    )


@dataclass
class UserOverview:
    groups: list[RelatedEntity]
    owned_by_kind: list[tuple[str, list[RelatedEntity]]]
    owned_truncated: bool


def user_overview(*, entity: Entity, relations: EntityRelations) -> UserOverview:
    """A User's groups, and what they own: directly, and through each group they are a member of."""
    groups = relations.of("memberOf")
    pairs = [("ownerOf", item.ref) for item in relations.of("ownerOf")]
    if groups:
        pairs.extend(
            Relation.objects.filter(source_ref__in=[g.ref for g in groups], type="ownerOf")
            .values_list("type", "target_ref")
            .distinct()
            .order_by("target_ref")[: UI_RELATION_LIMIT + 1]
        )
    owned, truncated = _ui_related(sorted(set(pairs)))
    return UserOverview(
        groups=groups,
        owned_by_kind=group_by_kind([(item.kind, item) for item in owned.get("ownerOf", [])]),
        owned_truncated=truncated,
    )


def entity_neighbourhood(*, entity: Entity, graph_filter: GraphFilter | None = None) -> Graph:
    """The dependency view's graph: one or two hops over the filter's relation types (all of GRAPH_RELATIONS by
    default), laid out by catalog.presentation. Query budget: three (first hop, second hop, titles), two at depth 1.
    """
    graph_filter = graph_filter or GraphFilter()
    relation_types = list(graph_filter.relations)
    first = [
        GraphEdge(entity.ref, relation_type, target)
        for relation_type, target in Relation.objects.filter(source_ref=entity.ref, type__in=relation_types)
        .values_list("type", "target_ref")
        .distinct()
        .order_by("type", "target_ref")[:UI_RELATION_LIMIT]
    ]
    hop_refs = {edge.target for edge in first}
    second = (
        [
            GraphEdge(source, relation_type, target)
            for source, relation_type, target in Relation.objects.filter(
                source_ref__in=hop_refs, type__in=relation_types
            )
            .values_list("source_ref", "type", "target_ref")
            .distinct()
            .order_by("source_ref", "type", "target_ref")[:UI_RELATION_LIMIT]
        ]
        if hop_refs and graph_filter.depth > 1
        else []
    )
    refs = {entity.ref, *hop_refs, *(edge.target for edge in second)}
    rows = Entity.objects.filter(ref__in=refs).values_list("ref", "title")
    titles = dict(rows)
    return graph_layout(center=entity.ref, first_hop=first, second_hop=second, titles=titles, existing=set(titles))


def location_page(*, page_number: str | int | None, page_size: int = 50) -> Page[Location]:
    return Paginator(Location.objects.select_related("created_by").order_by("type", "target"), page_size).get_page(
        page_number
    )


def location_entities_page(*, location: Location, page_number: str | int | None, page_size: int = 25) -> Page[Entity]:
    queryset = (
        Entity.objects.filter(location=location)
        .only("id", "ref", "kind", "namespace", "name", "title", "orphan", "errors", "source", "updated_at")
        .order_by("kind", "namespace", "name")
    )
    return Paginator(queryset, page_size).get_page(page_number)


# --- Reads for the home page (portal/selectors.py composes them) ---------------------------------------------


@dataclass(frozen=True)
class KindCount:
    kind: str
    count: int


@dataclass(frozen=True)
class CatalogOverview:
    """The catalog at a glance: entities per kind (UI order), orphans, and locations whose last refresh left errors."""

    kinds: list[KindCount]
    orphans: int
    locations_with_errors: int

    @property
    def total(self) -> int:
        return sum(item.count for item in self.kinds)


def catalog_overview() -> CatalogOverview:
    """Two queries whatever the catalog's size: counts per kind (with orphans), and failing locations."""
    rows = (
        Entity.objects.order_by()
        .values("kind")
        .annotate(n=Count("id"), orphans=Count("id", filter=Q(orphan=True)))
        .values_list("kind", "n", "orphans")
    )
    counts: dict[str, int] = defaultdict(int)
    spelling: dict[str, str] = {}
    orphans = 0
    for kind, count, orphan_count in rows:
        # Kinds are matched case-insensitively (Backstage's rule); show the spelling of the largest group.
        key = kind.lower()
        if key not in spelling or count > counts[key]:
            spelling[key] = kind
        counts[key] += count
        orphans += orphan_count
    kinds = sorted(
        (KindCount(spelling[key], counts[key]) for key in counts), key=lambda item: _kind_sort_key(item.kind)
    )
    failing = Location.objects.filter(Q(state=Location.State.FAILED) | ~Q(errors=[])).count()
    return CatalogOverview(kinds=kinds, orphans=orphans, locations_with_errors=failing)


def owned_counts_by_kind(*, owner_refs: Sequence[str]) -> dict[str, list[KindCount]]:
    """owner ref -> what it owns, counted per kind (UI order), in one query; the kind is read from the target ref so
    owned refs that are not in the catalog still count."""
    if not owner_refs:
        return {}
    rows = (
        Relation.objects.filter(source_ref__in=list(owner_refs), type="ownerOf")
        .annotate(target_kind=Substr("target_ref", 1, StrIndex("target_ref", Value(":")) - 1))
        .values("source_ref", "target_kind")
        .annotate(n=Count("target_ref", distinct=True))
        .order_by()
        .values_list("source_ref", "target_kind", "n")
    )
    # Refs are lower-cased; show kinds as the registry spells them (`EscalationPolicy`, `API`).
    spelled = {spec.kind.lower(): spec.kind for spec in registered_kinds()}
    out: dict[str, list[KindCount]] = defaultdict(list)
    for source_ref, kind, count in rows:
        out[source_ref].append(KindCount(spelled.get(kind, kind), int(count)))
    for items in out.values():
        items.sort(key=lambda item: _kind_sort_key(item.kind))
    return dict(out)


def entities_of_kind_by_refs(*, refs: Sequence[str], kind: str, limit: int) -> list[Entity]:
    """Entities of `kind` among `refs` (lower-cased full refs): the first `limit` by name, shown by title."""
    if not refs:
        return []
    queryset = (
        Entity.objects.filter(ref__in=list(refs), kind__iexact=kind)
        .only("id", "ref", "kind", "namespace", "name", "title", "description", "owner_ref", "data")
        .order_by("name", "namespace")[:limit]
    )
    return sorted(queryset, key=lambda entity: ((entity.title or entity.name).lower(), entity.ref))


# --- the entity page -------------------------------------------------------------------------------------------

VIEW_URL: Final = "backstage.io/view-url"
EDIT_URL: Final = "backstage.io/edit-url"
SOURCE_LOCATION: Final = "backstage.io/source-location"
MANAGED_BY_LOCATION: Final = "backstage.io/managed-by-location"
ENTITY_TABS: Final = ("overview", "yaml")


def _url_location(value: object) -> str | None:
    """The http(s) URL of a Backstage location annotation (`url:https://…`); None for file: and anything else."""
    if isinstance(value, str) and value.startswith("url:") and is_http_url(value[4:]):
        return value[4:]
    return None


def _source_links(entity: Entity) -> dict[str, str]:
    """View/Edit source links: the view/edit annotations when they are http(s), else the source location, the
    location the entity was read from (`backstage.io/managed-by-location`), or the URL it was read from."""
    annotations = (entity.data.get("metadata") or {}).get("annotations") or {}
    if not isinstance(annotations, dict):
        annotations = {}
    links: dict[str, str] = {}
    view_url, edit_url = annotations.get(VIEW_URL), annotations.get(EDIT_URL)
    fallback = (
        _url_location(annotations.get(SOURCE_LOCATION))
        or _url_location(annotations.get(MANAGED_BY_LOCATION))
        or _url_location(entity.source)
    )
    if is_http_url(view_url):
        links["view"] = str(view_url)
    elif fallback:
        links["view"] = fallback
    if is_http_url(edit_url):
        links["edit"] = str(edit_url)
    return links


@dataclass
class EntityPage:
    """Everything the entity page shows, read once: relations feed the group and user overviews too."""

    entity: Entity
    kind: str
    tab: str
    spec: dict[str, Any]
    metadata: dict[str, Any]
    relations: EntityRelations
    source_links: dict[str, str]
    api: Any = None
    group: GroupOverview | None = None
    person: UserOverview | None = None
    raw_yaml: str = ""

    @property
    def annotations(self) -> dict[str, Any]:
        return self.metadata.get("annotations") or {}

    @property
    def labels(self) -> dict[str, Any]:
        return self.metadata.get("labels") or {}

    @property
    def links(self) -> list[Any]:
        return safe_links(self.metadata.get("links"))

    @property
    def profile(self) -> dict[str, Any]:
        profile = self.spec.get("profile")
        return profile if isinstance(profile, dict) else {}

    @property
    def relation_groups(self) -> list[tuple[str, list[RelatedEntity]]]:
        return sorted(self.relations.by_type.items())


def entity_page(*, entity: Entity, tab: str) -> EntityPage:
    """The entity page's data. Query budget: the relations (two queries: the relations, their targets — with the
    JSON of a group's members, whose profiles it shows), and one more for a group's sub-team counts or a user's
    groups' ownerships."""
    kind = entity.kind.lower()
    tab = tab if tab in ENTITY_TABS else "overview"
    relations = entity_relations_grouped(entity=entity, data_for=("hasMember",) if kind == "group" else ())
    spec = entity.data.get("spec") if isinstance(entity.data.get("spec"), dict) else {}
    metadata = entity.data.get("metadata") if isinstance(entity.data.get("metadata"), dict) else {}
    return EntityPage(
        entity=entity,
        kind=kind,
        tab=tab,
        spec=spec,
        metadata=metadata,
        relations=relations,
        source_links=_source_links(entity),
        api=api_definition(spec) if kind == "api" else None,
        group=group_overview(relations=relations) if kind == "group" else None,
        person=user_overview(entity=entity, relations=relations) if kind == "user" else None,
        raw_yaml=readable_yaml(entity.data) if tab == "yaml" else "",
    )
