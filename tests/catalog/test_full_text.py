"""Full text over chosen fields (the UI's `fullTextFilterFields` with `orderField`): same matches and order on every
backend, wildcard characters in the term matched literally, pages that follow each other without gaps."""

from __future__ import annotations

import pytest

from catalog import query
from tests.catalog.factories import ComponentDictFactory, ingest

pytestmark = pytest.mark.django_db

FIELDS = ("metadata.name", "metadata.title")


@pytest.fixture
def catalog():
    names = ["zeta-ledger", "alpha-ledger", "ledger-core", "mid-ledger", "other", "ledger_x", "l-dger"]
    docs = []
    for i, name in enumerate(names):
        doc = ComponentDictFactory(name=name)
        doc["metadata"]["title"] = "50% Ledger" if name == "other" else f"Component {i}"
        docs.append(doc)
    ingest(docs)


def _names(term: str, *, limit: int = 20, descending: bool = False) -> tuple[list[str], int]:
    cursor = query.QueryCursor(
        full_text=query.FullText(term, FIELDS), order=query.Order("metadata.name", descending=descending)
    )
    names: list[str] = []
    total = -1
    while True:
        page = query.query_page(cursor=cursor, limit=limit)
        names += [entity.name for entity in page.entities]
        total = page.total
        if page.next_cursor is None:
            return names, total
        cursor = query.decode_cursor(page.next_cursor)


def test_term_in_name_or_title_ordered_by_name_across_pages(catalog):
    expected = ["alpha-ledger", "ledger-core", "ledger_x", "mid-ledger", "other", "zeta-ledger"]
    assert _names("ledger") == (expected, 6)
    assert _names("ledger", limit=2) == (expected, 6)
    assert _names("ledger", limit=4, descending=True) == (list(reversed(expected)), 6)


def test_wildcards_in_the_term_are_literal(catalog):
    assert _names("ledger_") == (["ledger_x"], 1)  # `_` is not "any character"
    assert _names("50%") == (["other"], 1)  # `%` is not "anything"
    assert _names("l_dger") == ([], 0)
    assert _names("%") == (["other"], 1)
    assert _names("'; drop table catalog_entity; --") == ([], 0)
