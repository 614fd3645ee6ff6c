from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.indexing import search_entries as catalog_search_entries
from scorecards.engine.filters import FilterError, entity_matches, filter_problems, parse_statements, search_entries
from tests.scorecards.builders import component

ENTITY = component(
    tags=["Python", "payments"],
    annotations={"backstage.io/techdocs-ref": "dir:."},
    relations=[{"type": "ownedBy", "targetRef": "group:default/Payments"}],
)


@pytest.mark.parametrize(
    ("alternatives", "matches"),
    [
        ((), True),
        (("",), True),
        (("kind=component",), True),
        (("KIND=Component",), True),
        (("kind=api",), False),
        (("kind=api", "kind=component"), True),
        (("kind=component,spec.type=website",), False),
        (("kind=component,spec.type=website,spec.type=service",), True),
        (("metadata.tags=python",), True),
        (("metadata.tags",), True),
        (("spec.system",), False),
        (("metadata.annotations.backstage.io/techdocs-ref=dir:.",), True),
        (("relations.ownedby=group:default/payments",), True),
        (("relations.ownedBy=group:default/other",), False),
        (("relations.ownedBy",), True),
    ],
)
def test_backstage_filter_semantics(alternatives, matches):
    assert entity_matches(alternatives, ENTITY) is matches


def test_long_values_only_exist():
    entity = component(description="x" * 500)
    assert entity_matches(["metadata.description"], entity)
    assert not entity_matches(["metadata.description=" + "x" * 500], entity)


def test_bad_statements_are_named():
    with pytest.raises(FilterError, match="'=x' is not a filter statement"):
        parse_statements("kind=component,=x")
    assert filter_problems(["kind=component", ",=", "a=b"]) == ["'=' is not a filter statement (expected a=b, a= or a)"]
    assert filter_problems([",".join(["a"] * 101)])[0].startswith("filter 'a,a,a")


json_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=10)
json_value = st.recursive(
    json_leaf,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=8), json_value, max_size=5))
def test_search_entries_are_the_catalogs(entity):
    assert search_entries(entity) == catalog_search_entries(entity)


@given(st.dictionaries(st.text(max_size=8), json_value, max_size=5), st.text(max_size=30))
def test_matching_never_raises_except_for_bad_syntax(entity, text):
    try:
        parse_statements(text)
    except FilterError:
        with pytest.raises(FilterError):
            entity_matches([text], entity)
        return
    assert entity_matches([text], entity) in (True, False)
