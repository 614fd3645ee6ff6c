"""Pure helpers the catalog pages use to show entity data: safe links, API endpoint lists, the dependency graph
layout. No Django imports: everything here takes and returns plain values, and is tested on its own."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from catalog.descriptors import EntityRef, Limits, YamlError, load_documents, ref_parts

MAX_DEFINITION_BYTES: Final = 512 * 1024
MAX_ENDPOINTS: Final = 200
HTTP_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Read while a page renders: a smaller node budget than a catalog file's.
_DEFINITION_LIMITS: Final = Limits(
    max_bytes=MAX_DEFINITION_BYTES, max_documents=1, max_aliases=50, max_depth=40, max_nodes=200_000
)


@dataclass(frozen=True)
class Link:
    url: str
    title: str
    icon: str
    type: str


def safe_links(links: Any) -> list[Link]:
    """The entity's `metadata.links` that are http(s) URLs; anything else (javascript:, data:, junk) is dropped."""
    result: list[Link] = []
    if not isinstance(links, list):
        return result
    for item in links:
        if not isinstance(item, Mapping):
            continue
        url = item.get("url")
        if not is_http_url(url):
            continue
        assert isinstance(url, str)
        title = item.get("title")
        result.append(
            Link(
                url=url,
                title=str(title) if isinstance(title, str) and title.strip() else url,
                icon=str(item.get("icon") or ""),
                type=str(item.get("type") or ""),
            )
        )
    return result


def is_http_url(value: object) -> bool:
    if not isinstance(value, str) or any(ch in value for ch in "\r\n\t\x00 "):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in {"http", "https"} and bool(parts.netloc)


@dataclass(frozen=True)
class Endpoint:
    path: str
    methods: tuple[str, ...]


@dataclass(frozen=True)
class ApiDefinition:
    text: str
    language: str  # what a reader should expect: yaml, json, graphql, protobuf, text
    label: str  # "OpenAPI", "AsyncAPI", "GraphQL", "gRPC", or the spec.type as written
    endpoints: tuple[Endpoint, ...] = ()
    endpoints_truncated: bool = False
    note: str = ""


_LABELS: Final = {"openapi": "OpenAPI", "asyncapi": "AsyncAPI", "graphql": "GraphQL", "grpc": "gRPC", "trpc": "tRPC"}


def api_definition(spec: Mapping[str, Any]) -> ApiDefinition | None:
    """How to show an API entity's `spec.definition`; for OpenAPI, the paths and their methods too.

    The definition is parsed (never executed) with the same bounded safe loader as descriptors; a definition
    that is too large or not a mapping is shown as text with a note saying why there is no endpoint list.
    """
    definition = spec.get("definition")
    if definition is None:
        return None
    text = definition if isinstance(definition, str) else json.dumps(definition, indent=2, default=str)
    api_type = str(spec.get("type") or "").lower()
    label = _LABELS.get(api_type, str(spec.get("type") or "Definition"))
    stripped = text.lstrip()
    language = {"graphql": "graphql", "grpc": "protobuf"}.get(api_type) or (
        "json" if stripped.startswith(("{", "[")) else "yaml" if api_type in {"openapi", "asyncapi"} else "text"
    )
    if api_type != "openapi":
        return ApiDefinition(text=text, language=language, label=label)
    data = text.encode()
    if len(data) > MAX_DEFINITION_BYTES:
        return ApiDefinition(text, language, label, note="The definition is too large to list its endpoints.")
    try:
        documents = load_documents(data, file="definition", limits=_DEFINITION_LIMITS)
    except YamlError as exc:
        return ApiDefinition(text, language, label, note=f"The definition could not be read: {exc.issue.message}")
    document = documents[0] if documents else None
    paths = document.get("paths") if isinstance(document, dict) else None
    if not isinstance(paths, dict):
        return ApiDefinition(text, language, label, note="The definition declares no paths.")
    endpoints: list[Endpoint] = []
    for path, operations in paths.items():
        if len(endpoints) == MAX_ENDPOINTS:
            break
        methods = tuple(m.upper() for m in HTTP_METHODS if isinstance(operations, dict) and m in operations)
        endpoints.append(Endpoint(path=str(path), methods=methods))
    return ApiDefinition(
        text, language, label, endpoints=tuple(endpoints), endpoints_truncated=len(paths) > MAX_ENDPOINTS
    )


# --- dependency graph -------------------------------------------------------------------------------------

# Relation type -> which side of the focused entity its target is drawn on: what the entity needs or belongs to
# on the left (upstream), what needs it or belongs to it on the right (downstream).
UPSTREAM: Final = ("dependsOn", "consumesApi", "apiProvidedBy", "partOf", "ownedBy")
DOWNSTREAM: Final = ("dependencyOf", "apiConsumedBy", "providesApi", "hasPart", "ownerOf")
GRAPH_RELATIONS: Final = UPSTREAM + DOWNSTREAM
MAX_NODES_PER_COLUMN: Final = 40

NODE_WIDTH: Final = 176
NODE_HEIGHT: Final = 46
COLUMN_GAP: Final = 64
ROW_GAP: Final = 16
PADDING: Final = 20


@dataclass
class GraphNode:
    ref: str
    column: int  # -2..2, 0 is the focused entity
    title: str = ""
    exists: bool = True
    x: int = 0
    y: int = 0

    @property
    def parts(self) -> EntityRef:
        return ref_parts(self.ref)

    @property
    def label(self) -> str:
        text = self.title or self.parts.name
        return text if len(text) <= 24 else text[:23] + "…"


@dataclass(frozen=True)
class GraphEdge:
    source: str
    type: str
    target: str


@dataclass
class GraphEdgeShape:
    edge: GraphEdge
    path: str
    label_x: int
    label_y: int


@dataclass
class Graph:
    nodes: list[GraphNode]
    edges: list[GraphEdgeShape]
    width: int
    height: int
    truncated: bool = False
    node_width: int = NODE_WIDTH
    node_height: int = NODE_HEIGHT
    table: list[GraphEdge] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)


def graph_layout(
    *,
    center: str,
    first_hop: Iterable[GraphEdge],
    second_hop: Iterable[GraphEdge],
    titles: Mapping[str, str],
    existing: set[str],
) -> Graph:
    """Lay out the focused entity's neighbourhood in five columns.

    First-hop targets go one column left (UPSTREAM types) or right (DOWNSTREAM types); second-hop edges extend
    only outwards from a first-hop node on the same side, so the drawing reads left to right without crossing
    back over the centre. A node keeps the first column it gets; columns are capped at MAX_NODES_PER_COLUMN.
    """
    columns: dict[str, int] = {center: 0}
    kept: list[GraphEdge] = []
    truncated = False
    per_column: dict[int, int] = {0: 1}

    def place(ref: str, column: int) -> bool:
        nonlocal truncated
        if ref in columns:
            return True
        if per_column.get(column, 0) >= MAX_NODES_PER_COLUMN:
            truncated = True
            return False
        columns[ref] = column
        per_column[column] = per_column.get(column, 0) + 1
        return True

    for edge in first_hop:
        if edge.source != center or edge.target == center:
            continue
        side = -1 if edge.type in UPSTREAM else 1
        if place(edge.target, side):
            kept.append(edge)
    for edge in second_hop:
        origin = columns.get(edge.source)
        if origin not in (-1, 1) or edge.target == center:
            continue
        if (origin == -1) != (edge.type in UPSTREAM):
            continue
        # Edges within one column, or back towards the centre, would cross other nodes: the table still lists
        # the first-hop edges, and the target's own page shows the rest.
        if edge.target in columns and columns[edge.target] != origin * 2:
            continue
        if place(edge.target, origin * 2):
            kept.append(edge)

    nodes = [
        GraphNode(ref=ref, column=column, title=titles.get(ref, ""), exists=ref in existing)
        for ref, column in columns.items()
    ]
    used = sorted({node.column for node in nodes})
    order = {column: index for index, column in enumerate(used)}
    heights: dict[int, int] = {}
    for column in used:
        column_nodes = sorted((n for n in nodes if n.column == column), key=lambda n: (n.parts.kind, n.parts.name))
        heights[column] = len(column_nodes) * (NODE_HEIGHT + ROW_GAP) - ROW_GAP
        for row, node in enumerate(column_nodes):
            node.x = PADDING + order[column] * (NODE_WIDTH + COLUMN_GAP)
            node.y = row * (NODE_HEIGHT + ROW_GAP)
    height = max(heights.values())
    for node in nodes:  # centre each column vertically
        node.y += PADDING + (height - heights[node.column]) // 2
    by_ref = {node.ref: node for node in nodes}
    shapes: list[GraphEdgeShape] = []
    for edge in kept:
        a, b = by_ref[edge.source], by_ref[edge.target]
        # Edges are drawn left to right whatever their direction, so arrows always leave a node's side.
        left, right = (a, b) if a.x < b.x else (b, a)
        x1, y1 = left.x + NODE_WIDTH, left.y + NODE_HEIGHT // 2
        x2, y2 = right.x, right.y + NODE_HEIGHT // 2
        mid = (x1 + x2) // 2
        shapes.append(
            GraphEdgeShape(
                edge=edge,
                path=f"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}",
                label_x=mid,
                label_y=(y1 + y2) // 2 - 4,
            )
        )
    width = PADDING * 2 + len(used) * NODE_WIDTH + (len(used) - 1) * COLUMN_GAP
    return Graph(
        nodes=nodes,
        edges=shapes,
        width=width,
        height=height + PADDING * 2,
        truncated=truncated,
        table=sorted(kept, key=lambda e: (e.source != center, e.type, e.target)),
        missing={node.ref for node in nodes if not node.exists},
    )


def group_by_kind(refs: Sequence[tuple[str, Any]]) -> list[tuple[str, list[Any]]]:
    """`[(kind, [items])]` sorted by kind, for "owned entities grouped by kind" lists."""
    grouped: dict[str, list[Any]] = {}
    for kind, item in refs:
        grouped.setdefault(kind, []).append(item)
    return sorted(grouped.items())
