"""The catalog's query engine: Backstage's filter, ordering, full-text, field and cursor syntax turned into querysets.

No HTTP here: API views hand in the raw strings of the request, get querysets or pages back, and render them.
Every filter is answered in the database — `key[=value]` conditions as EXISTS subqueries on the search table's
`(key, value)` index, `relations.<type>=<ref>` on the relation table — never by loading entities into Python.
Inputs are untrusted: every parser bounds what it accepts and raises `QueryError` (an InputError, HTTP 400) with a
message that names the parameter and the offending part.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import operator
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import reduce
from typing import Any, Final

from django.contrib.postgres.search import TrigramWordSimilarity
from django.core import signing
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.expressions import Combinable, CombinedExpression, OrderBy, RawSQL
from django.db.models.functions import Length, Lower, RowNumber

from catalog import cache as catalog_cache
from catalog.models import Entity, Relation, SearchEntry
from portal.exceptions import ApplicationError

MAX_FILTER_PARAMS: Final = 100
MAX_CONDITIONS_PER_FILTER: Final = 100
MAX_KEY_LENGTH: Final = 200
MAX_VALUE_LENGTH: Final = 1024
MAX_FIELDS: Final = 100
MAX_ORDER_FIELDS: Final = 10
MAX_FULL_TEXT_LENGTH: Final = 200
MAX_FACETS: Final = 20
MAX_FACET_VALUES: Final = 1000
# /entities returns every match in Backstage; here it is bounded, and the `Link` header leads to the rest.
ENTITIES_MAX_LIMIT: Final = 10_000
BY_QUERY_DEFAULT_LIMIT: Final = 200  # Backstage's default
BY_QUERY_MAX_LIMIT: Final = 1000
MAX_OFFSET: Final = 10**9
ORPHAN_ANNOTATION: Final = "metadata.annotations.backstage.io/orphan"
_CURSOR_SALT: Final = "catalog.query.cursor"
_CURSOR_VERSION: Final = 1
_ORDER_ALIAS: Final = "_order_value"
# Fields with a column of their own beside the JSON: ordering on them uses an index instead of a subquery.
# Each is the lower-cased value, exactly as the search table stores it, so both paths order identically.
_ORDER_COLUMNS: Final[Mapping[str, Combinable]] = {
    "kind": Lower("kind"),
    "metadata.name": Lower("name"),
    "metadata.namespace": Lower("namespace"),
}


class QueryError(ApplicationError):
    """A malformed filter, order, fields, limit or cursor parameter."""

    name = "InputError"


@dataclass(frozen=True)
class Condition:
    """`key` (exists) or `key=value[,key=value2]` (any of the values). Key and values are lower-cased."""

    key: str
    values: tuple[str, ...] = ()

    @classmethod
    def of(cls, key: str, values: Iterable[str] = ()) -> Condition:
        """`key=value1,key=value2` (or `key` alone) as parse_filter reads it: trimmed, lower-cased, each value once.

        The catalog page builds its facets with it too, so a facet means what the same filter means in the API.
        """
        return cls(key.strip().lower(), tuple(dict.fromkeys(value.strip().lower() for value in values)))


# Repeated `filter` parameters are OR-ed; the conditions inside one are AND-ed. Empty: no filtering.
EntityFilter = tuple[tuple[Condition, ...], ...]


@dataclass(frozen=True)
class Order:
    field: str  # lower-cased, as the search table's keys
    descending: bool = False


@dataclass(frozen=True)
class FullText:
    term: str = ""  # lower-cased and stripped; empty: no full-text filter
    fields: tuple[str, ...] = ()  # lower-cased keys; empty: the entity's search text (name, title, description, tags)


# -- parsing ------------------------------------------------------------------------------------------------------


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_filter(params: Sequence[str]) -> EntityFilter:
    """Parse `filter` parameters as Backstage does (parseEntityFilterParams), with bounds.

    Within one parameter, comma-separated statements `key`, `key=value` or `key=` are AND-ed, and repeated statements on
    one key become "any of these values". Empty parameters are ignored. Keys and values are matched case-insensitively.
    """
    if len(params) > MAX_FILTER_PARAMS:
        raise QueryError(f"Too many filter parameters ({len(params)}); at most {MAX_FILTER_PARAMS} are allowed")
    sets: list[tuple[Condition, ...]] = []
    for text in params:
        by_key: dict[str, list[str]] = {}
        statements = [s.strip() for s in text.split(",")]
        statements = [s for s in statements if s]
        if len(statements) > MAX_CONDITIONS_PER_FILTER:
            raise QueryError(
                f"Invalid filter '{_shorten(text)}': {len(statements)} conditions, "
                f"at most {MAX_CONDITIONS_PER_FILTER} are allowed in one filter"
            )
        for statement in statements:
            key, equals, value = statement.partition("=")
            key = key.strip().lower()
            if not key:
                raise QueryError(
                    f"Invalid filter, '{_shorten(statement)}' is not a valid statement "
                    "(expected a string on the form a=b or a= or a)"
                )
            if len(key) > MAX_KEY_LENGTH:
                raise QueryError(f"Invalid filter: key '{_shorten(key)}' is longer than {MAX_KEY_LENGTH} characters")
            values = by_key.setdefault(key, [])
            if equals:
                value = value.strip()
                if len(value) > MAX_VALUE_LENGTH:
                    raise QueryError(
                        f"Invalid filter: the value for '{_shorten(key)}' is longer than {MAX_VALUE_LENGTH} characters"
                    )
                values.append(value.lower())
        if by_key:
            sets.append(tuple(Condition.of(key, values) for key, values in by_key.items()))
    return tuple(sets)


def parse_fields(params: Sequence[str]) -> tuple[str, ...] | None:
    """`fields=a.b,c` (repeatable) → the paths to keep, or None for whole entities."""
    fields = [f.strip() for param in params for f in param.split(",")]
    fields = [f for f in fields if f]
    if not fields:
        return None
    if any("[" in f for f in fields):
        raise QueryError("Invalid fields, array type fields are not supported")
    if len(fields) > MAX_FIELDS:
        raise QueryError(f"Too many fields ({len(fields)}); at most {MAX_FIELDS} are allowed")
    if any(len(f) > MAX_KEY_LENGTH for f in fields):
        raise QueryError(f"Invalid fields: a field path is longer than {MAX_KEY_LENGTH} characters")
    return tuple(dict.fromkeys(fields))


def _order(field_name: str, direction: str, *, param: str, raw: str) -> Order:
    field_name = field_name.strip().lower()
    direction = direction.strip().lower()
    if not field_name or len(field_name) > MAX_KEY_LENGTH:
        raise QueryError(f"Invalid {param} '{_shorten(raw)}': the field must be 1 to {MAX_KEY_LENGTH} characters")
    if direction not in {"asc", "desc"}:
        raise QueryError(f"Invalid {param} '{_shorten(raw)}': the order must be 'asc' or 'desc'")
    return Order(field_name, direction == "desc")


def parse_order(params: Sequence[str]) -> tuple[Order, ...]:
    """`order=asc:metadata.name` (repeatable), as /entities takes it."""
    if len(params) > MAX_ORDER_FIELDS:
        raise QueryError(f"Too many order parameters ({len(params)}); at most {MAX_ORDER_FIELDS} are allowed")
    orders = []
    for raw in params:
        direction, colon, field_name = raw.partition(":")
        if not colon:
            raise QueryError(f"Invalid order '{_shorten(raw)}': expected <asc|desc>:<field>, e.g. asc:metadata.name")
        orders.append(_order(field_name, direction, param="order", raw=raw))
    return tuple(orders)


def parse_order_fields(params: Sequence[str]) -> Order | None:
    """`orderField=metadata.name,asc` (repeatable), as /entities/by-query takes it.

    Like Backstage, only the first is used: keyset pagination over several sort keys is not supported there either.
    """
    if len(params) > MAX_ORDER_FIELDS:
        raise QueryError(f"Too many orderField parameters ({len(params)}); at most {MAX_ORDER_FIELDS} are allowed")
    orders = []
    for raw in params:
        field_name, _, direction = raw.partition(",")
        orders.append(_order(field_name, direction or "asc", param="orderField", raw=raw))
    return orders[0] if orders else None


def parse_full_text_term(term: str | None) -> str:
    """`fullTextFilterTerm` as Backstage matches it: the whole text, trimmed and lower-cased, is one term."""
    term = (term or "").strip().lower()
    if len(term) > MAX_FULL_TEXT_LENGTH:
        raise QueryError(f"fullTextFilterTerm is longer than {MAX_FULL_TEXT_LENGTH} characters")
    return term


def parse_full_text_fields(fields: Sequence[str]) -> tuple[str, ...]:
    """`fullTextFilterFields=a,b` (repeatable) → the lower-cased keys the term is looked for in."""
    keys = [f.strip().lower() for param in fields for f in param.split(",")]
    keys = [k for k in keys if k]
    if len(keys) > MAX_FIELDS or any(len(k) > MAX_KEY_LENGTH for k in keys):
        raise QueryError(
            f"fullTextFilterFields takes at most {MAX_FIELDS} fields of at most {MAX_KEY_LENGTH} characters"
        )
    return tuple(dict.fromkeys(keys))


def parse_full_text(term: str | None, fields: Sequence[str]) -> FullText:
    return FullText(parse_full_text_term(term), parse_full_text_fields(fields))


def parse_facets(params: Sequence[str]) -> tuple[str, ...]:
    """`facet` parameters (at least one, repeatable) → the facet keys, each once, as given."""
    facets = [f.strip() for f in params if f.strip()]
    if not facets:
        raise QueryError("Missing facet parameter: pass at least one, e.g. ?facet=kind")
    if len(facets) > MAX_FACETS or any(len(f) > MAX_KEY_LENGTH for f in facets):
        raise QueryError(f"At most {MAX_FACETS} facet parameters of at most {MAX_KEY_LENGTH} characters are allowed")
    return tuple(dict.fromkeys(facets))


def parse_limit(raw: str | None, *, default: int, maximum: int, name: str = "limit") -> int:
    if raw is None or raw == "":
        return default
    # Digits only: int() would also take "+5", " 5", "1_000" and digits of other scripts.
    if not (raw.isascii() and raw.isdigit()):
        raise QueryError(f"Invalid {name} '{_shorten(raw)}': expected an integer from 0 to {maximum}")
    value = int(raw) if len(raw) <= len(str(maximum)) else maximum + 1
    if value > maximum:
        raise QueryError(f"Invalid {name} {_shorten(raw)}: expected an integer from 0 to {maximum}")
    return value


def parse_offset(raw: str | None) -> int:
    return parse_limit(raw, default=0, maximum=MAX_OFFSET, name="offset")


def parse_flag(raw: str | None, *, name: str) -> bool:
    """A boolean query parameter: true/false and the usual spellings of them (yes/no, y/n, t/f, on/off, 1/0)."""
    if raw is None or raw == "":
        return False
    value = raw.lower()
    if value in {"true", "yes", "y", "t", "1", "on"}:
        return True
    if value in {"false", "no", "n", "f", "0", "off"}:
        return False
    raise QueryError(f"Invalid {name} '{_shorten(raw, 40)}': expected true or false")


# -- querysets ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """Where a filter is applied: on Entity itself, or on rows pointing at an entity (facets filter search rows)."""

    pk: str = "pk"
    ref: str = "ref"
    prefix: str = ""


_ON_ENTITY: Final = _Target()
_ON_SEARCH_ENTRY: Final = _Target(pk="entity_id", ref="entity__ref", prefix="entity__")


def _search_exists(q: Q, target: _Target = _ON_ENTITY) -> Q:
    if target.prefix:
        # On search rows, `entity_id IN (…)` lets PostgreSQL hash the matching ids once instead of probing per row.
        return Q(**{f"{target.pk}__in": SearchEntry.objects.filter(q).values("entity_id")})
    return Q(Exists(SearchEntry.objects.filter(q, entity_id=OuterRef(target.pk))))


def _condition_q(condition: Condition, target: _Target = _ON_ENTITY) -> Q:
    key, values = condition.key, condition.values
    if key == "relations" or key.startswith("relations."):
        relations = Relation.objects.filter(source_ref=OuterRef(target.ref))
        if key != "relations":
            relations = relations.filter(type__iexact=key.removeprefix("relations."))
        if values:
            relations = relations.filter(target_ref__in=values)
        return Q(Exists(relations))
    if key == ORPHAN_ANNOTATION:
        # Orphans are a flag here, not an annotation written into the JSON; the filter Backstage documents still works.
        orphan = Q(**{f"{target.prefix}orphan": True})
        if not values:
            return orphan
        return orphan if "true" in values else Q(pk__in=[])
    match = Q(key=key, value__in=values) if values else Q(key=key)
    if not values or values == ("true",):
        # Backstage also indexes each scalar array item as `<array key>.<item>=true` (`metadata.tags.java`).
        # Our search rows hold `<array key>=<item>`, so that form is answered from them.
        parts = key.split(".")
        for cut in range(1, len(parts)):
            match |= Q(key=".".join(parts[:cut]), value=".".join(parts[cut:]))
    return _search_exists(match, target)


def filter_q(entity_filter: EntityFilter, *, on_search_entries: bool = False) -> Q:
    """The WHERE clause for a parsed filter: on Entity, or on SearchEntry rows (then it filters their entity)."""
    if not entity_filter:
        return Q()
    target = _ON_SEARCH_ENTRY if on_search_entries else _ON_ENTITY
    return reduce(
        operator.or_,
        (reduce(operator.and_, (_condition_q(c, target) for c in conditions)) for conditions in entity_filter),
    )


def _case_variants(word: str) -> list[str]:
    spellings = ("".join(letters) for letters in itertools.product(*((c, c.upper()) for c in word)))
    return [spelling for spelling in spellings if spelling != word]


# Search keys whose every value is also in `Entity.search_text` (catalog.indexing: lower-cased name, title,
# description and tags), for every entity ingestion accepts — except values of metadata keys spelled with other
# capitals (`metadata.Title`), which the schema allows and which land under the same lower-cased search key.
# `metadata.description` is left out: the spellings of its 11 letters are too many to list.
SEARCH_TEXT_KEYS: Final = ("metadata.name", "metadata.title", "metadata.tags")
# The entities having such a key, as the partial index of migration 0011 selects them: the same text, or PostgreSQL
# no longer uses that index.
_KEY_VARIANTS: Final = ",".join(
    variant for key in SEARCH_TEXT_KEYS for variant in _case_variants(key.removeprefix("metadata."))
)
METADATA_KEY_VARIANTS_SQL: Final = f"(data -> 'metadata') ?| '{{{_KEY_VARIANTS}}}'::text[]"


class _ProbeExists(Exists):
    """EXISTS that PostgreSQL runs as a probe of each row it is asked about: `OFFSET 0` keeps the planner from turning
    it into a join that reads every row of the subquery's keys first."""

    template = "EXISTS(%(subquery)s OFFSET 0)"


# A by-query page reads at most this many matches through the trigram index (query_page); beyond, the keyed scan.
PREFILTER_MAX_MATCHES: Final = 2000


class _Unindexed(Func):
    """The same text value, in a form no index answers: a page sorts its few matches instead of walking the index."""

    template = "(%(expressions)s || '')"


def prefilter_applies(full_text: FullText) -> bool:
    """Whether full_text_q's `prefilter` changes how `full_text` is answered (see _prefiltered_full_text_q)."""
    return (
        connection.vendor == "postgresql"
        and bool(full_text.term)
        and any(key in SEARCH_TEXT_KEYS for key in full_text.fields)
    )


def _prefiltered_full_text_q(full_text: FullText) -> Q | None:
    """The full-text condition through the trigram index on `search_text` (PostgreSQL), or None where it does not
    apply. Same entities as the keyed scan of full_text_q: for SEARCH_TEXT_KEYS, an entity can only match if its
    search text contains the term (every such value is part of it), so `search_text LIKE` — indexed, and read from
    the entity row a page walks anyway — comes first and the search rows only confirm. The few entities outside that
    rule (metadata keys with other capitals, found by migration 0011's index) and the other fields are looked up
    first, in one query, and passed as ids.

    Its cost grows with the number of matches (an entity row and a probe of its search rows each), where the keyed
    scan reads every search row under the fields (200k at 100k entities): query_page uses it for pages of few matches.
    """
    if not prefilter_applies(full_text):
        return None
    contained = [key for key in full_text.fields if key in SEARCH_TEXT_KEYS]
    others = [key for key in full_text.fields if key not in SEARCH_TEXT_KEYS]
    table = connection.ops.quote_name(SearchEntry._meta.db_table)
    entities = connection.ops.quote_name(Entity._meta.db_table)
    pattern = f"%{connection.ops.prep_for_like_query(full_text.term)}%"
    # Only our table names and the constant METADATA_KEY_VARIANTS_SQL are interpolated; values travel as parameters.
    sql = (
        f"SELECT s.entity_id FROM {entities} e JOIN {table} s ON s.entity_id = e.id"  # noqa: S608
        f" WHERE {METADATA_KEY_VARIANTS_SQL} AND s.key = ANY(%s) AND s.value LIKE %s"
    )
    params: list[Any] = [contained, pattern]
    if others:
        sql += f" UNION SELECT entity_id FROM {table} WHERE key = ANY(%s) AND value LIKE %s"  # noqa: S608
        params += [others, pattern]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = sorted(row[0] for row in cursor.fetchall())
    confirmed = _ProbeExists(
        SearchEntry.objects.filter(entity_id=OuterRef("pk"), key__in=contained, value__contains=full_text.term)
    )
    condition = Q(search_text__contains=full_text.term) & Q(confirmed)
    # As constants, PostgreSQL hashes the ids and can read them through the primary key when the term is rare.
    return condition | Q(pk__in=ids) if ids else condition


def full_text_q(full_text: FullText, *, prefilter: bool = False) -> Q:
    """Backstage's full-text filter: the term, whole (several words stay one phrase), appears in a value under one of
    `fields`, or else in the entity's name, title, description or tags. The catalog page's search box means the same.

    `prefilter` (a page of /entities/by-query with few matches): on PostgreSQL, fields among SEARCH_TEXT_KEYS are
    answered through the entity's search text first (_prefiltered_full_text_q), at the cost of one query more.
    """
    if not full_text.term:
        return Q()
    if full_text.fields:
        prefiltered = _prefiltered_full_text_q(full_text) if prefilter else None
        if prefiltered is not None:
            return prefiltered
        if connection.vendor == "postgresql":
            # `OFFSET 0` keeps PostgreSQL from pulling the subquery up into a walk of the order index that probes
            # every entity's search rows until `limit` match (300 ms at 100k entities for `orderField=metadata.name`):
            # the matching ids are collected once and hashed. Only our table name is interpolated.
            table = connection.ops.quote_name(SearchEntry._meta.db_table)
            pattern = f"%{connection.ops.prep_for_like_query(full_text.term)}%"
            matching = RawSQL(  # noqa: S611  # parameters travel apart; only our table name is in the text
                f"SELECT entity_id FROM {table} WHERE key = ANY(%s) AND value LIKE %s OFFSET 0",  # noqa: S608
                (list(full_text.fields), pattern),
            )
            return Q(pk__in=matching)
        return _search_exists(Q(key__in=full_text.fields, value__contains=full_text.term))
    # search_text is stored lower-cased, so a plain (index-friendly) LIKE is enough.
    return Q(search_text__contains=full_text.term)


# -- the portal's search box (catalog.selectors.entity_search_suggestions) -------------------------------------------

# The kinds people look for come first among equally good matches; bookkeeping kinds (where entities come from,
# on-call rotas and escalation rules) last.
SEARCH_KIND_ORDER: Final = ("component", "api", "system", "group", "user", "domain", "resource", "template")
SEARCH_BOOKKEEPING_KINDS: Final = ("location", "schedule", "escalationpolicy")


def search_kind_rank() -> Case:
    """0 for a Component, 1 for an API… in SEARCH_KIND_ORDER; other kinds next; SEARCH_BOOKKEEPING_KINDS last."""
    return Case(
        *(When(kind__iexact=kind, then=Value(rank)) for rank, kind in enumerate(SEARCH_KIND_ORDER)),
        *(When(kind__iexact=kind, then=Value(len(SEARCH_KIND_ORDER) + 1)) for kind in SEARCH_BOOKKEEPING_KINDS),
        default=Value(len(SEARCH_KIND_ORDER)),
        output_field=IntegerField(),
    )


# -- fuzzy names (the search box's fallback for typos) ----------------------------------------------------------------

FUZZY_MIN_LENGTH: Final = 4
FUZZY_MAX_LENGTH: Final = 40
# pg_trgm's word_similarity between what was typed and the closest stretch of a name: a one-letter slip in a word of
# seven or more letters scores about 0.55 ("chekout" in "checkout-service"); unrelated names stay well below.
FUZZY_WORD_SIMILARITY: Final = 0.5


class _WordSimilar(Func):
    """`term <% name`: pg_trgm's word-similarity operator, which the trigram GIN index on the name answers."""

    template = "%(expressions)s"
    arg_joiner = " <%% "
    output_field = BooleanField()


def one_edit_pattern(term: str) -> str:
    """A regular expression matching any text that contains `term` changed by at most one edit (a letter missed,
    added, replaced, or two neighbours swapped). Every literal character is escaped: the term is user input."""
    text = term.lower()
    size = len(text)
    variants = {re.escape(text)}
    for i in range(size):
        variants.add(re.escape(text[:i]) + "." + re.escape(text[i + 1 :]))  # replaced
        if size > 1:
            variants.add(re.escape(text[:i] + text[i + 1 :]))  # one too many
        if i > 0:
            variants.add(re.escape(text[:i]) + "." + re.escape(text[i:]))  # one missed
        if i + 1 < size:
            variants.add(re.escape(text[:i] + text[i + 1] + text[i] + text[i + 2 :]))  # swapped
    return "|".join(sorted(variants))


def fuzzy_name_matches(*, term: str, limit: int, exclude: Sequence[Any] = ()) -> list[Entity]:
    """Entities whose name is close to `term` although it does not contain it, closest first.

    PostgreSQL: pg_trgm's word similarity (the `<%` operator, answered by the trigram index the 0007 migration
    creates, with its threshold set for this transaction only), closest first. Other databases (SQLite in
    development): names within one edit of the term, shortest first. Either way the kinds people look for come
    before bookkeeping kinds among equally close names. Terms shorter than FUZZY_MIN_LENGTH or longer than
    FUZZY_MAX_LENGTH are not tried: too short matches everything, and the patterns grow with the length.
    """
    text = term.strip().lower()
    if not FUZZY_MIN_LENGTH <= len(text) <= FUZZY_MAX_LENGTH or limit <= 0 or not text.isprintable():
        return []
    fields = ("id", "ref", "kind", "namespace", "name", "title", "description", "tags", "orphan")
    if connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)", [str(FUZZY_WORD_SIMILARITY)]
                )
            return list(
                Entity.objects.filter(_WordSimilar(Value(text), F("name")))
                .exclude(pk__in=list(exclude))
                .annotate(closeness=TrigramWordSimilarity(text, "name"), kind_rank=search_kind_rank())
                .order_by("-closeness", "kind_rank", "name", "kind")
                .only(*fields)[:limit]
            )
    return list(
        Entity.objects.filter(name__iregex=one_edit_pattern(text))
        .exclude(pk__in=list(exclude))
        .annotate(kind_rank=search_kind_rank())
        .order_by("kind_rank", Length("name"), "name", "kind")
        .only(*fields)[:limit]
    )


def order_expression(field_name: str) -> Combinable:
    """The value an entity is ordered by: the smallest search value under the key (arrays order by their least item)."""
    column = _ORDER_COLUMNS.get(field_name)
    if column is not None:
        return column
    return Subquery(
        SearchEntry.objects.filter(entity_id=OuterRef("pk"), key=field_name)
        .exclude(value=None)
        .order_by("value")
        .values("value")[:1]
    )


def entity_queryset(
    entity_filter: EntityFilter = (),
    full_text: FullText | None = None,
    *,
    base: QuerySet[Entity] | None = None,
    prefilter: bool = False,
) -> QuerySet[Entity]:
    queryset = base if base is not None else Entity.objects.all()
    queryset = queryset.filter(filter_q(entity_filter))
    if full_text is not None:
        queryset = queryset.filter(full_text_q(full_text, prefilter=prefilter))
    return queryset


def order_entities(queryset: QuerySet[Entity], orders: Sequence[Order]) -> QuerySet[Entity]:
    """Backstage's /entities ordering: by each order field (nulls last), then by id; by ref when none is given."""
    if not orders:
        return queryset.order_by("ref")
    annotations = {f"_order_{index}": order_expression(order.field) for index, order in enumerate(orders)}
    terms: list[OrderBy | str] = []
    for index, order in enumerate(orders):
        expression = F(f"_order_{index}")
        terms.append(expression.desc(nulls_last=True) if order.descending else expression.asc(nulls_last=True))
    return queryset.annotate(**annotations).order_by(*terms, "id")


# -- /entities pagination (offset, with Backstage's `after` token) --------------------------------------------------


def encode_after(*, limit: int, offset: int) -> str:
    """Backstage's `after` token: base64 JSON of the next page's limit and offset (not secret, so not signed)."""
    return base64.b64encode(json.dumps({"limit": limit, "offset": offset}).encode()).decode()


def decode_after(token: str) -> tuple[int | None, int | None]:
    try:
        cursor = json.loads(base64.b64decode(token.encode(), validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise QueryError("Malformed after cursor, could not be parsed") from None
    if not isinstance(cursor, dict):
        raise QueryError("Malformed after cursor, could not be parsed")
    limit, offset = cursor.get("limit"), cursor.get("offset")
    for name, value in (("limit", limit), ("offset", offset)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise QueryError(f"Malformed after cursor, {name} was not a non-negative integer")
    return limit, offset


# -- /entities/by-query (keyset pagination behind an opaque signed cursor) -------------------------------------------


@dataclass(frozen=True)
class QueryCursor:
    """Everything a by-query page depends on, so that following `nextCursor` never changes the question asked.

    `position` is the (order value, id) of the row the next page starts after (or, going back, before); `first` is
    that of the first row of the first page, which says when going back has reached the start.
    """

    entity_filter: EntityFilter = ()
    order: Order | None = None
    full_text: FullText = field(default_factory=FullText)
    position: tuple[str | None, int] | None = None
    first: tuple[str | None, int] | None = None
    backwards: bool = False
    total: int | None = None


def encode_cursor(cursor: QueryCursor) -> str:
    payload = {
        "v": _CURSOR_VERSION,
        "f": [[[c.key, list(c.values)] for c in conditions] for conditions in cursor.entity_filter],
        "o": [cursor.order.field, cursor.order.descending] if cursor.order else None,
        "t": [cursor.full_text.term, list(cursor.full_text.fields)],
        "p": list(cursor.position) if cursor.position else None,
        "s": list(cursor.first) if cursor.first else None,
        "b": cursor.backwards,
        "n": cursor.total,
    }
    # The cursor is signed, never trusted: it cannot be forged to run a query the filter parser would refuse.
    return signing.dumps(payload, salt=_CURSOR_SALT, compress=True)


def _position(value: Any) -> tuple[str | None, int] | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not (value[0] is None or isinstance(value[0], str))
        or not isinstance(value[1], int)
    ):
        raise ValueError("position")
    return (value[0], value[1])


def decode_cursor(token: str) -> QueryCursor:
    if len(token) > 20_000:
        raise QueryError("Malformed cursor: too long")
    try:
        payload = signing.loads(token, salt=_CURSOR_SALT)
    except signing.BadSignature:
        raise QueryError("Malformed cursor: it was not issued by this server or has been altered") from None
    try:
        if payload.get("v") != _CURSOR_VERSION:
            raise ValueError("version")
        entity_filter = tuple(
            tuple(Condition(str(key), tuple(str(v) for v in values)) for key, values in conditions)
            for conditions in payload["f"]
        )
        order = Order(str(payload["o"][0]), bool(payload["o"][1])) if payload["o"] else None
        term, fields = payload["t"]
        total = payload["n"]
        if total is not None and not isinstance(total, int):
            raise ValueError("total")
        return QueryCursor(
            entity_filter=entity_filter,
            order=order,
            full_text=FullText(str(term), tuple(str(f) for f in fields)),
            position=_position(payload["p"]),
            first=_position(payload["s"]),
            backwards=bool(payload["b"]),
            total=total,
        )
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        raise QueryError("Malformed cursor: unexpected content") from None


@dataclass
class QueryPage:
    entities: list[Entity]
    total: int
    next_cursor: str | None
    prev_cursor: str | None


def _row_key(entity: Entity, order: Order | None) -> tuple[str | None, int]:
    return (getattr(entity, _ORDER_ALIAS) if order else None, entity.pk)


def _beyond(position: tuple[str | None, int], *, order: Order | None, forward: bool) -> Q:
    """Rows after `position` in the page order (forward) or before it (not forward); nulls sort last."""
    value, pk = position
    descending = bool(order and order.descending)
    greater = forward != descending
    op = "gt" if greater else "lt"
    if order is None:
        return Q(**{f"pk__{op}": pk})
    v = _ORDER_ALIAS
    if forward:
        if value is None:
            return Q(**{f"{v}__isnull": True, f"pk__{op}": pk})
        return Q(**{f"{v}__{op}": value}) | Q(**{v: value, f"pk__{op}": pk}) | Q(**{f"{v}__isnull": True})
    if value is None:
        return Q(**{f"{v}__isnull": False}) | Q(**{f"{v}__isnull": True, f"pk__{op}": pk})
    return Q(**{f"{v}__{op}": value}) | Q(**{v: value, f"pk__{op}": pk})


def count_matching(entity_filter: EntityFilter, full_text: FullText | None = None) -> int:
    """How many entities match: counted once per catalog version and question, then answered from the cache."""
    question = repr((entity_filter, full_text or FullText()))
    return catalog_cache.cached("count", question, entity_queryset(entity_filter, full_text).count)


def query_page(*, cursor: QueryCursor, limit: int, offset: int = 0) -> QueryPage:
    """One page of /entities/by-query, as Backstage's queryEntities computes it.

    The total is counted once, on the first request, and carried in the cursor; the count itself is cached per
    catalog version (catalog.cache). Three queries at most: the catalog version, the count (when not cached), the
    page (relations are attached by the caller); one more on PostgreSQL for full text over fields such as the name
    when it matches at most PREFILTER_MAX_MATCHES entities (full_text_q's `prefilter`).
    """
    total = cursor.total if cursor.total is not None else count_matching(cursor.entity_filter, cursor.full_text)
    # Few matches: read them through the trigram index (full_text_q's `prefilter`) and sort them, never by walking
    # an order index (which reads every entity before the first match: 90k rows when the matches' names start with
    # "s"). Many: the keyed scan of the search rows, whose cost does not depend on where the matches sort.
    prefiltered = total <= PREFILTER_MAX_MATCHES and prefilter_applies(cursor.full_text)
    queryset = entity_queryset(cursor.entity_filter, cursor.full_text, prefilter=prefiltered)
    order = cursor.order
    if order:
        value = order_expression(order.field)
        if prefiltered and order.field in _ORDER_COLUMNS:
            value = _Unindexed(value, output_field=CharField())
        queryset = queryset.annotate(**{_ORDER_ALIAS: value})
    if cursor.position is not None:
        queryset = queryset.filter(_beyond(cursor.position, order=order, forward=not cursor.backwards))
    # Going backwards reads the page in reverse, then flips it.
    ascending = (not order or not order.descending) != cursor.backwards
    terms: list[OrderBy] = []
    if order:
        value = F(_ORDER_ALIAS)
        nulls = {"nulls_first": True} if cursor.backwards else {"nulls_last": True}
        terms.append(value.asc(**nulls) if ascending else value.desc(**nulls))
    pk: F | CombinedExpression = F("pk") + 0 if prefiltered else F("pk")  # `+ 0`: no walk of the primary key either
    terms.append(pk.asc() if ascending else pk.desc())
    queryset = queryset.order_by(*terms)
    start = offset if cursor.position is None else 0
    rows = list(queryset[start : start + limit + (0 if cursor.backwards else 1)]) if limit > 0 else []
    if cursor.backwards:
        rows.reverse()
    has_more = limit > 0 and (cursor.backwards or len(rows) > limit)
    rows = rows[:limit]
    initial = cursor.first is None
    first = cursor.first or (_row_key(rows[0], order) if rows else None)
    next_cursor = (
        encode_cursor(replace(cursor, position=_row_key(rows[-1], order), first=first, backwards=False, total=total))
        if has_more and rows
        else None
    )
    prev_cursor = (
        encode_cursor(replace(cursor, position=_row_key(rows[0], order), first=first, backwards=True, total=total))
        if not initial and rows and _row_key(rows[0], order) != tuple(cursor.first or ())
        else None
    )
    return QueryPage(rows, total, next_cursor, prev_cursor)


# -- facets ---------------------------------------------------------------------------------------------------------


def facet_counts(*, facets: Sequence[str], entity_filter: EntityFilter) -> dict[str, list[tuple[str, int, int]]]:
    """For each facet key: `(lower-cased value, count, an entity id holding it)`, counted in the database.

    All facets come from one scan of the search rows, so a filter's matching entities are computed once; values are
    capped at MAX_FACET_VALUES per facet (the most frequent first). The sample entity lets the caller recover the
    value's original case from that entity's JSON, as Backstage reports original values.
    """
    result: dict[str, list[tuple[str, int, int]]] = {facet: [] for facet in facets}
    if not facets:
        return result
    by_key: dict[str, list[str]] = {}
    for facet in facets:
        by_key.setdefault(facet.lower(), []).append(facet)
    pairs = _plain_pairs(entity_filter)
    rows = _facet_rows_joined(list(by_key), pairs) if pairs is not None else _facet_rows(list(by_key), entity_filter)
    for key, value, count, sample in rows:
        for facet in by_key[key]:
            result[facet].append((value, count, sample))
    return result


def _plain_pairs(entity_filter: EntityFilter) -> list[tuple[str, str]] | None:
    """The filter as `key=value` pairs when it is one AND of single-valued, plain conditions; else None.

    Such a filter can be joined rather than semi-joined: the search table holds each (key, value) at most once per
    entity, so each join keeps one row per facet row and the database skips de-duplicating the matching entities.
    """
    if len(entity_filter) != 1:
        return None
    pairs: list[tuple[str, str]] = []
    for condition in entity_filter[0]:
        key, values = condition.key, condition.values
        special = key == "relations" or key.startswith("relations.") or key == ORPHAN_ANNOTATION
        # `key` alone (exists) and `key=true` (also matches the `<array key>.<item>` form) need the general path.
        if special or len(values) != 1 or values[0] == "true":
            return None
        pairs.append((key, values[0]))
    return pairs


def _facet_rows(keys: list[str], entity_filter: EntityFilter) -> list[tuple[str, str, int, int]]:
    # The filter applies to the search rows directly: no detour through the entity table unless a condition needs it.
    matching = filter_q(entity_filter, on_search_entries=True)
    rows = (
        SearchEntry.objects.filter(matching, key__in=keys, value__isnull=False)
        .values("key", "value")
        .annotate(count=Count("*"), sample=Min("entity_id"))
        .annotate(rank=Window(RowNumber(), partition_by=[F("key")], order_by=[F("count").desc(), F("value").asc()]))
        .filter(rank__lte=MAX_FACET_VALUES)
        .order_by("key", "rank")
    )
    return [(row["key"], row["value"], row["count"], row["sample"]) for row in rows]


def _facet_rows_joined(keys: list[str], pairs: list[tuple[str, str]]) -> list[tuple[str, str, int, int]]:
    table = connection.ops.quote_name(SearchEntry._meta.db_table)
    joins = "".join(
        f" JOIN {table} f{index} ON f{index}.entity_id = s.entity_id AND f{index}.key = %s AND f{index}.value = %s"
        for index in range(len(pairs))
    )
    placeholders = ", ".join(["%s"] * len(keys))
    # Only placeholders and our own table name are interpolated; every value travels as a parameter.
    sql = (
        "SELECT key, value, n, sample FROM ("  # noqa: S608
        " SELECT s.key AS key, s.value AS value, COUNT(*) AS n, MIN(s.entity_id) AS sample,"
        " ROW_NUMBER() OVER (PARTITION BY s.key ORDER BY COUNT(*) DESC, s.value ASC) AS rank"
        f" FROM {table} s{joins}"
        f" WHERE s.key IN ({placeholders}) AND s.value IS NOT NULL"
        " GROUP BY s.key, s.value"
        ") ranked WHERE rank <= %s ORDER BY key, rank"
    )
    params: list[Any] = [item for pair in pairs for item in pair] + keys + [MAX_FACET_VALUES]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(key, value, int(n), int(sample)) for key, value, n, sample in cursor.fetchall()]


def _leaves(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield from _leaves(f"{prefix}.{key}" if prefix else str(key), child)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(prefix, item)
    else:
        yield prefix, value


def original_value(entity: Mapping[str, Any], key: str, lowered: str) -> str:
    """The value under search key `key` in an entity's JSON whose lower-cased form is `lowered` (itself if none is).

    Walks the JSON exactly as the search table was built (catalog.indexing), so every stored key can be found again.
    """
    for path, value in _leaves("", entity):
        if path.lower() == key and isinstance(value, str) and value.lower() == lowered:
            return value
    return lowered


# -- projection -----------------------------------------------------------------------------------------------------


def _path_in(entity: Mapping[str, Any], field_path: str) -> list[str]:
    # Like Backstage's getPathArray: dotted parts are joined until they name a key, so annotation names with dots work.
    path: list[str] = []
    node: Any = entity
    pending = ""
    for part in field_path.split("."):
        pending = f"{pending}.{part}" if pending else part
        if isinstance(node, Mapping) and pending in node:
            path.append(pending)
            node = node[pending]
            pending = ""
    return path if not pending else []


def project(entity: Mapping[str, Any], fields: Sequence[str] | None) -> dict[str, Any]:
    """Keep only `fields` (dotted paths to values or subtrees) of an entity's JSON."""
    if fields is None:
        return dict(entity)
    output: dict[str, Any] = {}
    for field_path in fields:
        path = _path_in(entity, field_path)
        if not path:
            continue
        value: Any = entity
        for key in path:
            value = value[key]
        target = output
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value
    return output
