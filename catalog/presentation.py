"""Pure helpers the catalog pages use to show entity data: safe links, API endpoint lists, the dependency graph
layout. No Django imports: everything here takes and returns plain values, and is tested on its own."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import yaml

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
    # The parsed OpenAPI document the page hands to Swagger UI; None when there is none to render.
    document: dict[str, Any] | None = None

    @property
    def line_numbers(self) -> str:
        return line_numbers(self.text)


def line_numbers(text: str) -> str:
    """The gutter beside a listing of `text`: "1\n2\n…", one number per line (a final newline adds none)."""
    count = text.count("\n") + (0 if text.endswith("\n") else 1)
    return "\n".join(str(number) for number in range(1, count + 1))


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
        text,
        language,
        label,
        endpoints=tuple(endpoints),
        endpoints_truncated=len(paths) > MAX_ENDPOINTS,
        document=document if isinstance(document, dict) else None,
    )


class _ReadableDumper(yaml.SafeDumper):
    """Dumps multi-line strings as `|` block scalars, as people write them, instead of one quoted line of \\n."""


# Line breaks YAML knows besides \n: written raw (allow_unicode) they would split a plain scalar when read back.
_UNICODE_BREAKS: Final = ("\x85", "\u2028", "\u2029")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if any(mark in value for mark in _UNICODE_BREAKS):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    if "\n" in value:
        # The emitter falls back to a quoted scalar by itself when a block cannot hold the text exactly (trailing
        # spaces on a line, control characters), so the dump always loads back to the same value.
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_ReadableDumper.add_representer(str, _represent_str)


def readable_yaml(data: Any) -> str:
    """An entity as YAML for people: keys in their written order, Unicode as is, multi-line text as blocks."""
    return yaml.dump(data, Dumper=_ReadableDumper, sort_keys=False, allow_unicode=True, width=100)


# --- dependency graph -------------------------------------------------------------------------------------

# Relation type -> which side of the focused entity its target is drawn on: what the entity needs or belongs to
# on the left (upstream), what needs it or belongs to it on the right (downstream).
UPSTREAM: Final = ("dependsOn", "consumesApi", "apiProvidedBy", "partOf", "ownedBy")
DOWNSTREAM: Final = ("dependencyOf", "apiConsumedBy", "providesApi", "hasPart", "ownerOf")
GRAPH_RELATIONS: Final = UPSTREAM + DOWNSTREAM
GRAPH_DEPTHS: Final = (1, 2)


class GraphFilterError(ValueError):
    """A dependency-view filter that cannot be applied; the message names the parameter and what it expected."""


@dataclass(frozen=True)
class GraphFilter:
    relations: tuple[str, ...] = GRAPH_RELATIONS
    depth: int = 2

    @property
    def narrowed(self) -> bool:
        return self.relations != GRAPH_RELATIONS or self.depth != 2


def parse_graph_filter(*, relations: Sequence[str], depth: str | None) -> GraphFilter:
    """The dependency view's `relation` (repeatable, any of GRAPH_RELATIONS; none means all) and `depth` (1 or 2)."""
    chosen: list[str] = []
    for raw in relations:
        value = raw.strip()
        if not value:
            continue
        if value not in GRAPH_RELATIONS:
            shown = value if len(value) <= 40 else value[:39] + "…"
            raise GraphFilterError(
                f"relation: unknown relation type {shown!r}; expected one of {', '.join(GRAPH_RELATIONS)}"
            )
        if value not in chosen:
            chosen.append(value)
    if depth is None or depth.strip() == "":
        level = 2
    else:
        try:
            level = int(depth)
        except ValueError:
            level = 0
        if level not in GRAPH_DEPTHS:
            shown = depth if len(depth) <= 20 else depth[:19] + "…"
            raise GraphFilterError(f"depth: expected 1 or 2, found {shown!r}")
    ordered = tuple(relation for relation in GRAPH_RELATIONS if relation in chosen) or GRAPH_RELATIONS
    return GraphFilter(relations=ordered, depth=level)


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
    only outwards from a first-hop node on the same side, so the drawing never crosses back over the centre. Every
    edge is drawn from its source to its target. A node keeps the first column it gets; columns are capped at
    MAX_NODES_PER_COLUMN. The table lists exactly the edges drawn.
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
        source, target = by_ref[edge.source], by_ref[edge.target]
        # Drawn from the relation's source to its target, so the arrow head always sits on the target: "A dependsOn
        # B" points at B whichever side B is on. The path leaves and enters the nodes' facing sides.
        y1, y2 = source.y + NODE_HEIGHT // 2, target.y + NODE_HEIGHT // 2
        if source.x < target.x:
            x1, x2 = source.x + NODE_WIDTH, target.x
        else:
            x1, x2 = source.x, target.x + NODE_WIDTH
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
