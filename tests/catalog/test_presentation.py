from __future__ import annotations

import pytest

from catalog.presentation import (
    MAX_NODES_PER_COLUMN,
    GraphEdge,
    api_definition,
    graph_layout,
    is_http_url,
    safe_links,
)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.com/x", True),
        ("HTTP://example.com", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        ("data:text/html,hi", False),
        ("//example.com", False),
        ("https://", False),
        (" https://example.com", False),
        ("https://exa mple.com", False),
        ("https://example.com/\nx", False),
        (None, False),
        (42, False),
    ],
)
def test_is_http_url_accepts_only_absolute_http_and_https(url, ok):
    assert is_http_url(url) is ok


def test_safe_links_drops_non_http_links_and_junk_and_defaults_the_title():
    links = safe_links(
        [
            {"url": "javascript:alert(1)", "title": "x"},
            "not a mapping",
            {"url": "https://a.example.com"},
            {"url": "https://b.example.com", "title": "  "},
            {"url": "https://c.example.com", "title": "C", "icon": "docs", "type": "runbook"},
        ]
    )
    assert [(link.url, link.title) for link in links] == [
        ("https://a.example.com", "https://a.example.com"),
        ("https://b.example.com", "https://b.example.com"),
        ("https://c.example.com", "C"),
    ]
    assert safe_links("nope") == []


def test_api_definition_lists_openapi_paths_and_methods_in_order():
    api = api_definition(
        {"type": "openapi", "definition": "paths:\n  /a: {post: {}, get: {}, x-meta: 1}\n  /b: {}\n  /c: nope\n"}
    )
    assert api is not None
    assert api.label == "OpenAPI"
    assert [(e.path, e.methods) for e in api.endpoints] == [("/a", ("GET", "POST")), ("/b", ()), ("/c", ())]


def test_api_definition_reads_json_and_labels_other_types():
    assert api_definition({"type": "openapi", "definition": '{"paths": {"/x": {"get": {}}}}'}).language == "json"
    graphql = api_definition({"type": "graphql", "definition": "type Query { a: Int }"})
    assert (graphql.label, graphql.language, graphql.endpoints) == ("GraphQL", "graphql", ())
    assert api_definition({"type": "openapi"}) is None


@pytest.mark.parametrize(
    ("definition", "note"),
    [
        ("a: &a [*a, *a]\n" + "b: [*a]\n" * 200, "could not be read"),
        ("just text", "declares no paths"),
        ("x: 1\n" * 200_000, "too large"),
        ("openapi: [unclosed", "could not be read"),
    ],
)
def test_api_definition_never_fails_on_hostile_or_broken_definitions(definition, note):
    api = api_definition({"type": "openapi", "definition": definition})
    assert api is not None
    assert note in api.note
    assert api.endpoints == ()


def test_api_definition_caps_the_endpoint_list():
    definition = "paths:\n" + "".join(f"  /p{n}: {{get: {{}}}}\n" for n in range(250))
    api = api_definition({"type": "openapi", "definition": definition})
    assert len(api.endpoints) == 200
    assert api.endpoints_truncated


def test_graph_layout_puts_upstream_left_downstream_right_and_second_hop_outside():
    center = "component:default/svc"
    graph = graph_layout(
        center=center,
        first_hop=[
            GraphEdge(center, "dependsOn", "resource:default/db"),
            GraphEdge(center, "providesApi", "api:default/svc-api"),
            GraphEdge(center, "ownedBy", "group:default/team"),
        ],
        second_hop=[
            GraphEdge("api:default/svc-api", "apiConsumedBy", "component:default/web"),
            GraphEdge("resource:default/db", "dependencyOf", center),  # back to the centre: not drawn again
            GraphEdge("resource:default/db", "ownedBy", "group:default/team"),  # within a column: left out
            GraphEdge("api:default/svc-api", "apiProvidedBy", "component:default/other"),  # wrong direction
        ],
        titles={center: "Service"},
        existing={center, "api:default/svc-api", "group:default/team"},
    )
    columns = {node.ref: node.column for node in graph.nodes}
    assert columns == {
        center: 0,
        "resource:default/db": -1,
        "group:default/team": -1,
        "api:default/svc-api": 1,
        "component:default/web": 2,
    }
    assert graph.missing == {"resource:default/db", "component:default/web"}
    assert len(graph.edges) == len(graph.table) == 4
    xs = {node.column: node.x for node in graph.nodes}
    assert xs[-1] < xs[0] < xs[1] < xs[2]
    assert all(node.y >= 0 for node in graph.nodes)
    assert graph.width > xs[2]
    assert graph.height > max(node.y for node in graph.nodes)


def test_graph_layout_caps_columns_and_says_so():
    center = "component:default/svc"
    first = [GraphEdge(center, "dependsOn", f"component:default/dep-{n}") for n in range(MAX_NODES_PER_COLUMN + 5)]
    graph = graph_layout(center=center, first_hop=first, second_hop=[], titles={}, existing=set())
    assert graph.truncated
    assert sum(1 for node in graph.nodes if node.column == -1) == MAX_NODES_PER_COLUMN


def test_graph_layout_of_an_isolated_entity_is_one_node():
    graph = graph_layout(center="component:default/a", first_hop=[], second_hop=[], titles={}, existing=set())
    assert [node.ref for node in graph.nodes] == ["component:default/a"]
    assert graph.table == []
