from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.presentation import (
    GRAPH_RELATIONS,
    MAX_NODES_PER_COLUMN,
    NODE_WIDTH,
    GraphEdge,
    GraphFilter,
    GraphFilterError,
    api_definition,
    graph_layout,
    is_http_url,
    line_numbers,
    parse_graph_filter,
    readable_yaml,
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


# --- reading aids: listings, Raw YAML, the graph's arrows and filters -------------------------------------------


@pytest.mark.parametrize(
    ("text", "gutter"),
    [("", "1"), ("a", "1"), ("a\n", "1"), ("a\nb", "1\n2"), ("a\nb\n", "1\n2"), ("\n\n", "1\n2")],
)
def test_line_numbers_count_the_lines_a_listing_shows(text, gutter):
    assert line_numbers(text) == gutter


def test_readable_yaml_writes_multi_line_text_as_a_block():
    data = {"spec": {"definition": "openapi: 3.0.0\ninfo:\n  title: x\n", "type": "openapi"}}
    text = readable_yaml(data)
    assert "definition: |\n    openapi: 3.0.0\n    info:\n      title: x\n" in text
    assert "\\n" not in text
    assert yaml.safe_load(text) == data


@settings(max_examples=300, deadline=None)  # timing varies with the machine's load; the property does not
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
        max_leaves=12,
    )
)
def test_readable_yaml_always_loads_back_to_the_same_data(data):
    # Block scalars cannot hold every text (trailing spaces, control characters): then a quoted scalar is used.
    assert yaml.safe_load(readable_yaml(data)) == data


def test_openapi_definition_carries_its_parsed_document_for_swagger_ui():
    api = api_definition({"type": "openapi", "definition": "openapi: 3.0.0\npaths:\n  /a:\n    get: {}\n"})
    assert api is not None
    assert api.document == {"openapi": "3.0.0", "paths": {"/a": {"get": {}}}}
    asyncapi = api_definition({"type": "asyncapi", "definition": "asyncapi: 2.6.0\n"})
    assert asyncapi is not None
    assert asyncapi.document is None
    broken = api_definition({"type": "openapi", "definition": "openapi: [\n"})
    assert broken is not None
    assert broken.document is None


def _layout(first: list[GraphEdge], second: list[GraphEdge] = ()):  # type: ignore[assignment]
    refs = {"component:default/a"} | {e.target for e in [*first, *second]} | {e.source for e in second}
    return graph_layout(center="component:default/a", first_hop=first, second_hop=second, titles={}, existing=refs)


def _ends(graph, edge: GraphEdge) -> tuple[int, int]:
    shape = next(s for s in graph.edges if s.edge == edge)
    numbers = [int(n) for n in shape.path.replace("M", " ").replace("C", " ").replace(",", " ").split()]
    return numbers[0], numbers[-2]


@pytest.mark.parametrize("relation", GRAPH_RELATIONS)
def test_every_arrow_ends_at_its_relations_target(relation):
    edge = GraphEdge("component:default/a", relation, "component:default/b")
    graph = _layout([edge])
    nodes = {node.ref: node for node in graph.nodes}
    source, target = nodes[edge.source], nodes[edge.target]
    start, end = _ends(graph, edge)
    # The path starts on the source's facing side and ends (where the arrow head is) on the target's.
    if target.x < source.x:
        assert (start, end) == (source.x, target.x + NODE_WIDTH)
    else:
        assert (start, end) == (source.x + NODE_WIDTH, target.x)


def test_depends_on_reads_from_the_service_to_its_dependency():
    depends = GraphEdge("component:default/a", "dependsOn", "component:default/psp")
    further = GraphEdge("component:default/psp", "dependsOn", "resource:default/db")
    graph = _layout([depends], [further])
    nodes = {node.ref: node for node in graph.nodes}
    start, end = _ends(graph, depends)
    assert nodes["component:default/psp"].x < nodes["component:default/a"].x
    assert end < start  # drawn right to left, into psp
    start, end = _ends(graph, further)
    assert end < start  # and on, into db
    assert {shape.edge for shape in graph.edges} == set(graph.table)


@pytest.mark.parametrize(
    ("relations", "depth", "expected"),
    [
        ([], None, GraphFilter()),
        ([""], "", GraphFilter()),
        (["ownedBy", "dependsOn", "ownedBy"], "1", GraphFilter(relations=("dependsOn", "ownedBy"), depth=1)),
        ([" hasPart "], " 2 ", GraphFilter(relations=("hasPart",), depth=2)),
    ],
)
def test_parse_graph_filter(relations, depth, expected):
    assert parse_graph_filter(relations=relations, depth=depth) == expected


@pytest.mark.parametrize(
    ("relations", "depth", "message"),
    [
        (["dependson"], None, "relation: unknown relation type 'dependson'"),
        (["memberOf"], None, "expected one of dependsOn, consumesApi"),
        (["x" * 1000], None, "'" + "x" * 39 + "…'"),
        ([], "0", "depth: expected 1 or 2, found '0'"),
        ([], "3", "depth: expected 1 or 2, found '3'"),
        ([], "1.5", "depth: expected 1 or 2, found '1.5'"),
        ([], "9" * 100, "found '" + "9" * 19 + "…'"),
    ],
)
def test_parse_graph_filter_refuses_and_names_the_parameter(relations, depth, message):
    with pytest.raises(GraphFilterError) as caught:
        parse_graph_filter(relations=relations, depth=depth)
    assert message in str(caught.value)
