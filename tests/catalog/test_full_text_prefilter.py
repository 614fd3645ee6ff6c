"""Full text over chosen fields read through the entity's search text (query.full_text_q's `prefilter`, PostgreSQL):
exactly the entities, order, totals and cursors of the keyed scan of the search rows, on the cases where search text
and search rows differ."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.db import connection

from catalog import query
from catalog.models import Entity
from tests.catalog.factories import ComponentDictFactory, UserDictFactory, ingest, new_location

pytestmark = pytest.mark.django_db

UI_FIELDS = "metadata.name,metadata.title,spec.profile.displayName"


def _component(name: str, **metadata: Any) -> dict[str, Any]:
    doc = ComponentDictFactory(name=name)
    doc["metadata"].update(metadata)
    return doc


@pytest.fixture
def catalog() -> None:
    long_title = "x" * 190 + " ledger-in-a-long-title"  # over 200 characters: no search row value, in search text
    docs = [
        _component("alpha-led", title="ger-book"),  # "led ger" spans name and title in the search text only
        _component("ledger-core", title="Core Ledger"),
        _component("quiet", description="all about the ledger"),  # only in the description
        _component("tagged", tags=["ledger-tag", "java"]),
        _component("ledger_x", title="50% Ledger"),
        _component("ledgerax"),
        _component("long-title", title=long_title),
        # `Title` beside `title`: the schema allows it, and its value lands under the search key `metadata.title`.
        _component("odd-capitals", title="Plain", Title="Secret LEDGER"),
        _component("odd-name", Name="Hidden-Ledger-Name"),
        _component("odd-tags", Tags=["ledger-odd-tag"]),
    ]
    ingest(docs)
    people: list[dict[str, Any]] = [UserDictFactory(name="jdoe"), UserDictFactory(name="asmith")]
    people[0]["spec"]["profile"]["displayName"] = "Jane Ledger Doe"
    people[1]["spec"]["profile"]["displayName"] = "Al Smith"
    ingest(people, location=new_location(trusted=True))


def _matching(full_text: query.FullText, *, prefilter: bool) -> list[str]:
    queryset = Entity.objects.filter(query.full_text_q(full_text, prefilter=prefilter))
    return sorted(queryset.values_list("name", flat=True))


def _walk(full_text: query.FullText, *, limit: int, descending: bool = False) -> tuple[list[str], int, list[object]]:
    """Every page of /entities/by-query, following nextCursor: names, total, and what the cursors handed out say
    (decoded: a signed cursor carries the second it was signed in)."""
    cursor = query.QueryCursor(full_text=full_text, order=query.Order("metadata.name", descending=descending))
    names: list[str] = []
    cursors: list[object] = []
    while True:
        page = query.query_page(cursor=cursor, limit=limit)
        names += [entity.name for entity in page.entities]
        cursors += [query.decode_cursor(c) if c else None for c in (page.next_cursor, page.prev_cursor)]
        if page.next_cursor is None:
            return names, page.total, cursors
        cursor = query.decode_cursor(page.next_cursor)


CASES = [
    ("ledger", UI_FIELDS),
    ("LEDGER", UI_FIELDS),  # upper-case input
    ("led ger", UI_FIELDS),  # only across name and title
    ("led ger", "metadata.name"),
    ("about the ledger", UI_FIELDS),  # description, not asked for
    ("about the ledger", "metadata.name,metadata.description"),
    ("ledger-tag", "metadata.tags"),
    ("ledger", "metadata.tags,metadata.name"),
    ("jane ledger", UI_FIELDS),  # displayName only
    ("ledger", "spec.profile.displayName"),  # no field from the search text: the keyed scan
    ("r_x", UI_FIELDS),  # `_` is literal
    ("50%", UI_FIELDS),  # `%` is literal
    ("%", "metadata.title"),
    ("_", "metadata.name"),
    ("ledger-in-a-long-title", UI_FIELDS),  # too long for a search row
    ("secret ledger", "metadata.title"),  # from `metadata.Title`
    ("hidden-ledger", "metadata.name"),  # from `metadata.Name`
    ("ledger-odd-tag", "metadata.tags"),  # from `metadata.Tags`
    ("nothing-matches", UI_FIELDS),
]


@pytest.mark.parametrize(("term", "fields"), CASES)
def test_prefilter_matches_what_the_keyed_scan_matches(catalog, term, fields):
    full_text = query.parse_full_text(term, [fields])
    assert _matching(full_text, prefilter=True) == _matching(full_text, prefilter=False)


def test_expected_matches(catalog):
    def names(term: str, fields: str) -> list[str]:
        return _matching(query.parse_full_text(term, [fields]), prefilter=True)

    assert names("ledger", UI_FIELDS) == [
        "jdoe",
        "ledger-core",
        "ledger_x",
        "ledgerax",
        "odd-capitals",
        "odd-name",
    ]
    assert names("led ger", UI_FIELDS) == []
    assert names("about the ledger", UI_FIELDS) == []
    assert names("about the ledger", "metadata.description") == ["quiet"]
    assert names("r_x", UI_FIELDS) == ["ledger_x"]
    assert names("50%", UI_FIELDS) == ["ledger_x"]
    assert names("ledger-in-a-long-title", UI_FIELDS) == []
    assert names("secret ledger", "metadata.title") == ["odd-capitals"]
    assert names("ledger-odd-tag", "metadata.tags") == ["odd-tags"]
    assert names("ledger-tag", "metadata.tags") == ["tagged"]


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("limit", [1, 2, 3, 50])
def test_pages_totals_and_cursors_are_those_of_the_keyed_scan(catalog, monkeypatch, limit, descending):
    full_text = query.parse_full_text("LEDGER", [UI_FIELDS])
    prefiltered = _walk(full_text, limit=limit, descending=descending)
    original = query.full_text_q
    monkeypatch.setattr(query, "full_text_q", lambda ft, *, prefilter=False: original(ft))
    keyed = _walk(full_text, limit=limit, descending=descending)
    assert prefiltered == keyed
    assert prefiltered[1] == 6


def test_the_api_answers_the_same(catalog, auth_client):
    url = f"/api/catalog/entities/by-query?fullTextFilterTerm=Ledger&fullTextFilterFields={UI_FIELDS}"
    body = auth_client.get(f"{url}&orderField=metadata.name,asc&limit=4").json()
    assert body["totalItems"] == 6
    rest = auth_client.get(f"/api/catalog/entities/by-query?cursor={body['pageInfo']['nextCursor']}").json()
    names = [item["metadata"]["name"] for item in body["items"] + rest["items"]]
    assert names[:1] == ["jdoe"]
    assert sorted(names) == ["jdoe", "ledger-core", "ledger_x", "ledgerax", "odd-capitals", "odd-name"]


def test_the_case_variant_index_is_the_one_the_query_names(catalog):
    migration = importlib.import_module("catalog.migrations.0011_entity_metadata_key_variants")
    assert migration.PREDICATE == query.METADATA_KEY_VARIANTS_SQL
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            # The embedded database keeps the keyed scan: neither the index nor the trigram path exist there.
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name = %s", [migration.INDEX])
            assert cursor.fetchall() == []
            return
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN SELECT id FROM catalog_entity WHERE {query.METADATA_KEY_VARIANTS_SQL}")  # noqa: S608
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert migration.INDEX in plan


@pytest.mark.parametrize("limit", [1, 4])
def test_many_matches_take_the_keyed_scan_with_the_same_pages(catalog, monkeypatch, limit):
    full_text = query.parse_full_text("ledger", [UI_FIELDS])
    prefiltered = _walk(full_text, limit=limit, descending=True)
    monkeypatch.setattr(query, "PREFILTER_MAX_MATCHES", 5)  # fewer than the 6 matches
    calls: list[bool] = []
    original = query.entity_queryset

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(bool(kwargs.get("prefilter")))
        return original(*args, **kwargs)

    monkeypatch.setattr(query, "entity_queryset", spy)
    assert _walk(full_text, limit=limit, descending=True) == prefiltered
    assert calls
    assert not any(calls)


def test_a_page_without_order_is_ordered_by_id_either_way(catalog, monkeypatch):
    full_text = query.parse_full_text("ledger", [UI_FIELDS])
    cursor = query.QueryCursor(full_text=full_text)
    few = query.query_page(cursor=cursor, limit=3)
    monkeypatch.setattr(query, "PREFILTER_MAX_MATCHES", 0)
    many = query.query_page(cursor=cursor, limit=3)
    assert [e.pk for e in few.entities] == [e.pk for e in many.entities]
    assert [e.pk for e in few.entities] == sorted(e.pk for e in few.entities)
    assert few.next_cursor == many.next_cursor
