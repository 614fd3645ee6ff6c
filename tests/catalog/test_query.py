from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog import query
from catalog.models import Entity
from catalog.query import Condition, Order, QueryError


def names(queryset) -> list[str]:
    return sorted(queryset.values_list("name", flat=True))


def test_parse_filter_and_within_one_param_or_across_params():
    parsed = query.parse_filter(["kind=User, metadata.namespace=default", "kind=group,spec.type"])
    assert parsed == (
        (Condition("kind", ("user",)), Condition("metadata.namespace", ("default",))),
        (Condition("kind", ("group",)), Condition("spec.type")),
    )


def test_parse_filter_repeated_key_in_one_param_means_any_of_its_values():
    assert query.parse_filter(["kind=component,kind=API"]) == ((Condition("kind", ("component", "api")),),)


def test_parse_filter_ignores_empty_params_and_keeps_empty_values():
    assert query.parse_filter(["", " , ", "spec.owner="]) == ((Condition("spec.owner", ("",)),),)


@pytest.mark.parametrize("raw", ["=x", "kind=a,=b", " = "])
def test_parse_filter_rejects_statements_without_a_key(raw):
    with pytest.raises(QueryError, match="not a valid statement"):
        query.parse_filter([raw])


def test_parse_filter_bounds_count_and_lengths():
    with pytest.raises(QueryError, match="Too many filter parameters"):
        query.parse_filter(["kind=a"] * 500)
    with pytest.raises(QueryError, match="longer than"):
        query.parse_filter(["metadata.name=" + "x" * 10_000])
    with pytest.raises(QueryError, match="longer than"):
        query.parse_filter(["k" * 300])
    with pytest.raises(QueryError, match="conditions"):
        query.parse_filter([",".join(f"k{i}=v" for i in range(200))])


@given(st.lists(st.text(max_size=30), max_size=20))
def test_parse_filter_never_fails_with_anything_but_query_error(params):
    try:
        parsed = query.parse_filter(params)
    except QueryError:
        return
    for conditions in parsed:
        for condition in conditions:
            assert condition.key == condition.key.lower().strip()
            assert condition.key


def test_parse_order_and_order_fields():
    assert query.parse_order(["asc:metadata.name", "desc:spec.type"]) == (
        Order("metadata.name"),
        Order("spec.type", descending=True),
    )
    assert query.parse_order_fields(["metadata.Name,DESC", "kind,asc"]) == Order("metadata.name", descending=True)
    assert query.parse_order_fields(["metadata.name"]) == Order("metadata.name")
    with pytest.raises(QueryError, match="asc"):
        query.parse_order(["metadata.name"])
    with pytest.raises(QueryError, match="'asc' or 'desc'"):
        query.parse_order_fields(["metadata.name,sideways"])


def test_parse_fields_splits_commas_and_refuses_array_syntax():
    assert query.parse_fields(["kind,metadata.name", "spec"]) == ("kind", "metadata.name", "spec")
    assert query.parse_fields(["", " "]) is None
    with pytest.raises(QueryError, match="array type fields"):
        query.parse_fields(["relations[0]"])


@pytest.mark.parametrize("raw", ["-1", "abc", "1.5", "100001"])
def test_parse_limit_rejects_out_of_range_and_non_numeric(raw):
    with pytest.raises(QueryError, match="limit"):
        query.parse_limit(raw, default=10, maximum=1000)


def test_filter_matches_case_insensitively_on_keys_and_values(api_catalog):
    assert names(query.entity_queryset(query.parse_filter(["KIND=Component,Spec.Type=SERVICE"]))) == [
        "billing",
        "payments",
    ]


def test_filter_or_across_params(api_catalog):
    assert names(query.entity_queryset(query.parse_filter(["kind=api", "kind=user"]))) == [
        "alice",
        "billing-api",
        "bob",
    ]


def test_filter_key_exists_and_annotation_paths(api_catalog):
    techdocs = query.parse_filter(["metadata.annotations.backstage.io/techdocs-ref"])
    assert names(query.entity_queryset(techdocs)) == ["Petstore-Web"]
    assert names(query.entity_queryset(query.parse_filter(["metadata.annotations.backstage.io/techdocs-ref=DIR:."])))
    assert names(query.entity_queryset(query.parse_filter(["spec.providesapis"]))) == ["billing"]


def test_filter_descends_into_arrays_both_forms(api_catalog):
    assert names(query.entity_queryset(query.parse_filter(["metadata.tags=JAVA"]))) == ["Petstore-Web"]
    assert names(query.entity_queryset(query.parse_filter(["metadata.tags.java"]))) == ["Petstore-Web"]
    assert names(query.entity_queryset(query.parse_filter(["metadata.tags.java=true"]))) == ["Petstore-Web"]


def test_filter_on_relations_reads_the_relation_table(api_catalog):
    owned = query.parse_filter(["relations.OWNEDBY=group:default/TEAM-A"])
    assert names(query.entity_queryset(owned)) == ["billing", "billing-api", "payments"]
    members = query.parse_filter(["kind=user,relations.memberof=group:default/team-b"])
    assert names(query.entity_queryset(members)) == ["bob"]
    assert names(query.entity_queryset(query.parse_filter(["relations.dependsOn"]))) == ["payments"]


def test_filter_matching_nothing_returns_nothing(api_catalog):
    assert names(query.entity_queryset(query.parse_filter(["kind=nothing"]))) == []


def test_orphan_annotation_filter_uses_the_orphan_flag(api_catalog):
    Entity.objects.filter(name="payments").update(orphan=True)
    assert names(query.entity_queryset(query.parse_filter(["metadata.annotations.backstage.io/orphan=true"]))) == [
        "payments"
    ]


def test_full_text_over_search_text_or_given_fields(api_catalog):
    assert names(query.entity_queryset((), query.parse_full_text("  CHARGES ", []))) == ["billing"]
    assert names(query.entity_queryset((), query.parse_full_text("petstore", ["metadata.title"]))) == ["Petstore-Web"]
    assert names(query.entity_queryset((), query.parse_full_text("charges", ["metadata.name"]))) == []


def test_order_entities_by_search_value_with_nulls_last_and_id_tiebreak(api_catalog):
    components = query.entity_queryset(query.parse_filter(["kind=component"]))
    ordered = query.order_entities(components, [Order("metadata.title", descending=False), Order("metadata.name")])
    assert [e.name for e in ordered] == ["Petstore-Web", "billing", "payments"]
    by_name_desc = query.order_entities(components, [Order("metadata.name", descending=True)])
    assert [e.name for e in by_name_desc] == ["Petstore-Web", "payments", "billing"]


@pytest.mark.parametrize("order", [None, Order("metadata.name"), Order("spec.type", True), Order("metadata.title")])
def test_query_page_following_next_cursor_returns_every_entity_once(api_catalog, order):
    expected = set(Entity.objects.values_list("pk", flat=True))
    seen: list[int] = []
    page = query.query_page(cursor=query.QueryCursor(order=order), limit=2)
    assert page.total == len(expected)
    pages = [page]
    while page.next_cursor:
        page = query.query_page(cursor=query.decode_cursor(page.next_cursor), limit=2)
        pages.append(page)
    for p in pages:
        seen.extend(e.pk for e in p.entities)
    assert sorted(seen) == sorted(expected)
    assert len(seen) == len(set(seen))
    # Going back from the last page returns the page before it.
    if len(pages) > 2:
        back = query.query_page(cursor=query.decode_cursor(pages[-1].prev_cursor), limit=2)
        assert [e.pk for e in back.entities] == [e.pk for e in pages[-2].entities]


def test_cursor_is_signed(api_catalog):
    page = query.query_page(cursor=query.QueryCursor(), limit=1)
    token = page.next_cursor
    with pytest.raises(QueryError, match="altered"):
        query.decode_cursor(token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"))
    with pytest.raises(QueryError, match="altered"):
        query.decode_cursor("garbage")


def test_project_keeps_paths_and_annotation_names_with_dots():
    entity = {
        "kind": "Component",
        "metadata": {"name": "a", "annotations": {"backstage.io/techdocs-ref": "dir:.", "x": "y"}},
        "spec": {"type": "service"},
    }
    assert query.project(entity, ["kind", "metadata.annotations.backstage.io/techdocs-ref", "spec.missing"]) == {
        "kind": "Component",
        "metadata": {"annotations": {"backstage.io/techdocs-ref": "dir:."}},
    }


def test_original_value_recovers_case_from_the_json():
    entity = {"kind": "Component", "metadata": {"tags": ["a", "B"], "annotations": {"x.io/Y": "Value"}}}
    assert query.original_value(entity, "kind", "component") == "Component"
    assert query.original_value(entity, "metadata.tags", "b") == "B"
    assert query.original_value(entity, "metadata.annotations.x.io/y", "value") == "Value"
    assert query.original_value(entity, "missing", "z") == "z"


@pytest.mark.parametrize(
    "raw",
    [
        ["kind=component"],
        ["kind=component,spec.lifecycle=production"],
        ["kind=component,spec.type=website"],
        ["kind=group"],
        ["kind=nothing-has-this"],
    ],
)
def test_facets_joined_for_plain_filters_count_exactly_as_the_general_path(api_catalog, raw):
    entity_filter = query.parse_filter(raw)
    keys = ["kind", "spec.type", "spec.lifecycle", "metadata.tags", "spec.owner"]
    pairs = query._plain_pairs(entity_filter)
    assert pairs is not None
    joined = query._facet_rows_joined(keys, pairs)
    assert joined == query._facet_rows(keys, entity_filter)
    assert bool(joined) == (raw != ["kind=nothing-has-this"])


@pytest.mark.parametrize(
    "raw",
    [["kind=component", "kind=api"], ["kind=component,kind=api"], ["metadata.tags"], ["metadata.tags.java"]],
)
def test_facets_take_the_general_path_for_or_exists_and_array_shorthand_filters(raw):
    assert query._plain_pairs(query.parse_filter(raw)) is None
