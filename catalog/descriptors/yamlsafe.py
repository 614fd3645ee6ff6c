"""Safe YAML loading for untrusted descriptor files.

Descriptor files come from repositories and URLs that anyone may control, so loading is
bounded before any Python object is built: bytes, nodes, aliases and nesting depth are checked
on the parser's event stream, and the constructed documents are copied into plain JSON values
under the same node budget, so an alias bomb is refused after a bounded amount of work. The
number of documents is not bounded by default: an organisation exported from an HR system is
one file of tens of thousands of small documents, and bytes and nodes already bound the work.
Scalars resolve as in YAML 1.2's core schema (what Backstage's `yaml` library does), so
`startDateISO: 2021-11-10` stays a string and `on`/`no` are not booleans.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import yaml

from .errors import Issue, IssueCode, truncate

try:
    _BaseLoader: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - only without libyaml
    _BaseLoader = yaml.SafeLoader

JsonValue = None | bool | int | float | str | list[Any] | dict[str, Any]


@dataclass(frozen=True, slots=True)
class Limits:
    """Upper bounds for one file (and for each `$yaml`/`$json` placeholder it pulls in).

    `max_nodes` counts keys, scalars, lists and mappings of the whole file, aliases expanded; ordinary
    descriptors take 10 to 20 bytes a node, so the byte cap is what a real file meets first.
    `max_alias_nodes` bounds what aliases copy into one document, so a few hundred bytes of alias bomb are
    refused after that much work, not after `max_nodes`. Aliases are counted per document too (`max_aliases`;
    YAML anchors do not cross documents), as in Backstage's parser. `max_documents` (None: unbounded) is for
    callers that expect a fixed number of documents.
    """

    max_bytes: int = 32 * 1024 * 1024
    max_documents: int | None = None
    max_aliases: int = 100
    max_depth: int = 50
    max_nodes: int = 4_000_000
    max_alias_nodes: int = 200_000


DEFAULT_LIMITS: Final = Limits()


class YamlError(Exception):
    """The file cannot be loaded at all; `issue` says why and where."""

    def __init__(self, issue: Issue) -> None:
        super().__init__(issue.message)
        self.issue = issue


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """CSafeLoader with YAML 1.2 core scalars and duplicate keys refused."""

    yaml_implicit_resolvers: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {}
    yaml_constructors = dict(_BaseLoader.yaml_constructors)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = (key_node.tag, key_node.value)
            if key in seen:
                # PyYAML silently keeps the last value; Backstage's parser refuses the file.
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key_node.value!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        self.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            # Keys become text here, as in JSON: otherwise `1:` and `true:` would collide in a dict.
            try:
                text = _key_text(key)
            except TypeError as exc:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, str(exc), key_node.start_mark
                ) from None
            result[text] = self.construct_object(value_node, deep=deep)
        return result


def _construct_int_12(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    return _int_12(str(loader.construct_scalar(node)))


def _int_12(text: str) -> int:
    value = text.replace("_", "")
    sign = 1
    if value[:1] in "+-":
        sign = -1 if value[0] == "-" else 1
        value = value[1:]
    if value.startswith(("0x", "0X")):
        return sign * int(value[2:], 16)
    if value.startswith(("0o", "0O")):
        return sign * int(value[2:], 8)
    if value.startswith(("0b", "0B")):
        return sign * int(value[2:], 2)
    # YAML 1.1 reads "010" as octal 8; 1.2 (and Backstage) read it as decimal 10.
    return sign * int(value, 10)


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int_12)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$"),
    list("-+.0123456789"),
)
_Loader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])


def _fail(file: str, document: int | None, expected: str, found: str, detail: str | None = None) -> YamlError:
    """`found` here is already a description ("12 bytes"), not a value to render."""
    issue = Issue(
        file=file,
        document=document,
        entity_ref=None,
        path="",
        expected=expected,
        found=truncate(found),
        detail=detail,
        code=IssueCode.PARSE,
    )
    return YamlError(issue)


_TAG_IN_PROBLEM: Final = re.compile(r"tag '([^']*)'")


def _where(mark: Any) -> str:
    if mark is None:
        return ""
    return f" at line {mark.line + 1}, column {mark.column + 1}"


def _yaml_error(exc: yaml.YAMLError, file: str, document: int | None) -> YamlError:
    if isinstance(exc, yaml.MarkedYAMLError):
        problem = exc.problem or exc.context or "invalid YAML"
        mark = exc.problem_mark or exc.context_mark
        text = f"{problem}{_where(mark)}"
        if "could not determine a constructor" in problem:
            tag = _TAG_IN_PROBLEM.search(problem)
            found = f"the tag {tag.group(1) if tag else problem}{_where(mark)}"
            return _fail(
                file, document, "plain YAML without custom tags", found, detail=f"unsupported YAML tag: {text}"
            )
        return _fail(file, document, "well-formed YAML", text, detail=f"invalid YAML: {text}")
    return _fail(file, document, "well-formed YAML", str(exc), detail=f"invalid YAML: {exc}")


def _decode(data: bytes, file: str) -> str:
    try:
        # utf-8-sig drops a leading byte order mark, which editors on Windows like to add.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(
            file,
            None,
            "UTF-8 text",
            f"byte 0x{data[exc.start]:02x} at offset {exc.start}",
            detail=f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
        ) from None


def _too_many_nodes(file: str, document: int | None, limits: Limits) -> YamlError:
    return _fail(
        file,
        document,
        f"at most {limits.max_nodes} values (keys, scalars, lists and mappings)",
        f"more than {limits.max_nodes}",
        detail=f"the file holds more than {limits.max_nodes} values (keys, scalars, lists and mappings)",
    )


def _scan_events(text: str, file: str, limits: Limits) -> None:
    """Check nodes, documents, aliases per document and nesting depth without constructing anything.

    Runs over every event of the file, so it is written for speed: one type lookup per event.
    """
    documents = -1
    nodes = 0
    aliases = 0
    depth = 0
    max_nodes, max_aliases, max_depth = limits.max_nodes, limits.max_aliases, limits.max_depth
    max_documents = limits.max_documents
    scalar, alias, document_start = yaml.ScalarEvent, yaml.AliasEvent, yaml.DocumentStartEvent
    collection_start = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
    collection_end = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    loader = _BaseLoader(text)
    try:
        while (event := loader.get_event()) is not None:
            kind = type(event)
            if kind is scalar:
                nodes += 1
            elif kind in collection_start:
                nodes += 1
                depth += 1
                if depth > max_depth:
                    raise _fail(
                        file,
                        documents,
                        f"nesting at most {max_depth} levels deep",
                        f"deeper than {max_depth}",
                        detail=f"the YAML nests deeper than {max_depth} levels{_where(event.start_mark)}",
                    )
            elif kind in collection_end:
                depth -= 1
                continue
            elif kind is alias:
                nodes += 1
                aliases += 1
                if aliases > max_aliases:
                    raise _fail(
                        file,
                        documents,
                        f"at most {max_aliases} YAML aliases in a document",
                        f"more than {max_aliases}",
                        detail=f"the document uses more than {max_aliases} YAML aliases{_where(event.start_mark)}",
                    )
            elif kind is document_start:
                documents += 1
                aliases = 0
                if max_documents is not None and documents >= max_documents:
                    raise _fail(
                        file,
                        None,
                        f"at most {max_documents} YAML documents",
                        f"more than {max_documents}",
                        detail=f"the file has more than {max_documents} YAML documents",
                    )
                continue
            else:
                continue
            if nodes > max_nodes:
                raise _too_many_nodes(file, max(documents, 0), limits)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, file, max(documents, 0)) from None
    finally:
        loader.dispose()


class _Budget:
    __slots__ = ("copied", "file", "limits", "nodes", "seen")

    def __init__(self, file: str, limits: Limits) -> None:
        self.file = file
        self.limits = limits
        self.nodes = 0
        self.copied = 0
        # ids of the lists and mappings of the current document already copied: meeting one again is an alias.
        self.seen: set[int] = set()


def _key_text(key: object) -> str:
    if isinstance(key, str):
        return key
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int | float):
        return str(key)
    if isinstance(key, dt.date):
        return key.isoformat()
    raise TypeError(f"mapping keys must be scalars, found {type(key).__name__}")


def _plain(value: object, budget: _Budget, document: int | None, depth: int, copied: bool = False) -> JsonValue:
    """Copy a constructed value into JSON values, expanding aliases under the node budgets. Keys count, as in
    the event scan: without aliases both count the same nodes. `copied`: inside a list or mapping met before."""
    if not copied and isinstance(value, dict | list):
        marker = id(value)
        copied = marker in budget.seen
        budget.seen.add(marker)
    size = len(value) + 1 if isinstance(value, Mapping) else 1
    budget.nodes += size
    limits = budget.limits
    if budget.nodes > limits.max_nodes:
        raise _fail(
            budget.file,
            document,
            f"at most {limits.max_nodes} values after expanding aliases",
            f"more than {limits.max_nodes}",
            detail=f"the data expands to more than {limits.max_nodes} values (alias bomb?)",
        )
    if copied:
        budget.copied += size
        if budget.copied > limits.max_alias_nodes:
            raise _fail(
                budget.file,
                document,
                f"at most {limits.max_alias_nodes} values copied by aliases in a document",
                f"more than {limits.max_alias_nodes}",
                detail=f"aliases expand to more than {limits.max_alias_nodes} values in one document (alias bomb?)",
            )
    if depth > limits.max_depth:
        raise _fail(
            budget.file,
            document,
            f"nesting at most {limits.max_depth} levels deep",
            f"deeper than {limits.max_depth}",
            detail=f"the data nests deeper than {limits.max_depth} levels after expanding aliases",
        )
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        # JSON has no NaN or infinity; keeping them would break every consumer downstream.
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            try:
                text = _key_text(key)
            except TypeError as exc:
                raise _fail(budget.file, document, "mappings with scalar keys", str(exc)) from None  # pragma: no cover
            result[text] = _plain(item, budget, document, depth + 1, copied)
        return result
    if isinstance(value, list | tuple):
        return [_plain(item, budget, document, depth + 1, copied) for item in value]
    if isinstance(value, set):
        return {_key_text(item): None for item in value}
    raise _fail(
        budget.file,
        document,
        "text, numbers, booleans, lists and mappings",
        type(value).__name__,
        detail=f"unsupported YAML value of type {type(value).__name__}",
    )


def to_plain(value: object, *, file: str, document: int | None = None, limits: Limits = DEFAULT_LIMITS) -> JsonValue:
    """Copy `value` into plain JSON values under `limits` (used for `$json` content too)."""
    return _plain(value, _Budget(file, limits), document, 0)


def count_nodes(value: JsonValue) -> int:
    """The nodes of a plain value as the budget counts them: each key, scalar, list and mapping."""
    count = 0
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            count += len(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def _iter_documents(text: str) -> Iterator[object]:
    loader = _Loader(text)
    try:
        while loader.check_data():
            yield loader.get_data()
    finally:
        loader.dispose()


@dataclass(frozen=True, slots=True)
class Loaded:
    """The documents of a file as plain JSON values (None for an empty one), and whether any mapping key of the
    file starts with `$` (where `$text`, `$json` and `$yaml` placeholders can be; True when not known)."""

    documents: list[JsonValue]
    dollar_keys: bool = True


def load_documents(data: bytes, *, file: str, limits: Limits = DEFAULT_LIMITS) -> list[JsonValue]:
    """Load every YAML document of `data` as plain JSON values; empty documents come back as None.

    Raises YamlError (and nothing else) when the file breaks a limit or is not valid YAML.
    """
    return load(data, file=file, limits=limits).documents


def load(data: bytes, *, file: str, limits: Limits = DEFAULT_LIMITS) -> Loaded:
    """`load_documents`, saying whether any key starts with `$` (see `Loaded`).

    Most descriptor files are plain mappings, lists and scalars: those are built straight from the parser's events in
    one pass (`_fast_documents`), limits checked on the way. A file with anything else (anchors, aliases, tags, merge
    or duplicate keys, keys that are not scalars, a limit reached, a syntax error) is loaded by the general path
    below, which decides what it yields or why it is refused; both give the same values for the files the first
    takes.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise _fail(file, None, "bytes", type(data).__name__, detail=f"expected bytes, found {type(data).__name__}")
    size = len(data)
    if size > limits.max_bytes:
        raise _fail(
            file,
            None,
            f"at most {limits.max_bytes} bytes",
            f"{size} bytes",
            detail=f"the file is {size} bytes, more than the limit of {limits.max_bytes}",
        )
    text = _decode(bytes(data), file)
    fast = _fast_documents(text, limits)
    if fast is not None:
        return fast
    _scan_events(text, file, limits)
    budget = _Budget(file, limits)
    documents: list[JsonValue] = []
    index = 0
    try:
        for document in _iter_documents(text):
            # Anchors do not cross documents, and the ids of a freed document's objects are reused.
            budget.seen.clear()
            budget.copied = 0
            documents.append(_plain(document, budget, index, 0))
            index += 1
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, file, index) from None
    except RecursionError:
        raise _fail(
            file, index, f"nesting at most {limits.max_depth} levels deep", "deeper", detail="the data nests too deep"
        ) from None
    return Loaded(documents)


_STR_TAG: Final = "tag:yaml.org,2002:str"
_MERGE_TAG: Final = "tag:yaml.org,2002:merge"
_NO_KEY: Final = object()


def _resolved(raw: str, plain: bool) -> tuple[str, Any]:
    """A scalar's tag and value as `_Loader` resolves and constructs it, then as `_plain` copies it."""
    if not plain:
        return _STR_TAG, raw
    tag = next((tag for tag, pattern in _Loader.yaml_implicit_resolvers.get(raw[:1], ()) if pattern.match(raw)), None)
    if tag is None:
        return _STR_TAG, raw
    if tag == "tag:yaml.org,2002:null":
        return tag, None
    if tag == "tag:yaml.org,2002:bool":
        return tag, raw.lower() == "true"
    if tag == "tag:yaml.org,2002:int":
        return tag, _int_12(raw)
    if tag == "tag:yaml.org,2002:float":
        number = float(raw.replace("_", ""))
        return tag, number if math.isfinite(number) else str(number)
    return tag, raw  # the merge key: the caller falls back


def _fast_documents(text: str, limits: Limits) -> Loaded | None:
    """The documents of a file of plain mappings, lists and scalars, built from the parser's events in one pass;
    None as soon as anything else turns up (see `load`), or a limit is reached, or the YAML is not well formed.

    Counts nodes and nesting as `_scan_events` does; without aliases, `_plain` would count the same.
    """
    loader = _BaseLoader(text)
    get_event: Any = loader.get_event  # events of several classes, told apart by their type below
    scalar_event, mapping_start, sequence_start = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent
    collection_end = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    document_start, document_end = yaml.DocumentStartEvent, yaml.DocumentEndEvent
    max_nodes, max_depth, max_documents = limits.max_nodes, limits.max_depth, limits.max_documents
    documents: list[JsonValue] = []
    # One frame per open collection: [the dict or list, the key waiting for its value, the keys seen (tag, text)].
    stack: list[list[Any]] = []
    root: Any = None
    nodes = 0
    dollar_keys = False
    try:
        while (event := get_event()) is not None:
            kind = type(event)
            if kind is scalar_event:
                if event.anchor is not None or event.tag is not None:
                    return None
                raw = event.value
                tag, value = _resolved(raw, event.implicit[0])
                if tag == _MERGE_TAG:
                    return None
            elif kind is mapping_start or kind is sequence_start:
                if event.anchor is not None or event.tag is not None or len(stack) >= max_depth:
                    return None
                value = {} if kind is mapping_start else []
            elif kind in collection_end:
                stack.pop()
                continue
            elif kind is document_start:
                if max_documents is not None and len(documents) >= max_documents:
                    return None
                continue
            elif kind is document_end:
                documents.append(root)
                root = None
                continue
            elif kind is yaml.AliasEvent:
                return None
            else:
                continue  # stream start and end
            nodes += 1
            if nodes > max_nodes:
                return None
            if not stack:
                root = value
            else:
                frame = stack[-1]
                container = frame[0]
                if type(container) is list:
                    container.append(value)
                elif frame[1] is not _NO_KEY:
                    container[frame[1]] = value
                    frame[1] = _NO_KEY
                elif kind is not scalar_event:
                    return None  # a key that is a list or mapping
                else:
                    seen = frame[2]
                    if (tag, raw) in seen:
                        return None
                    seen.add((tag, raw))
                    key = _key_text(value)
                    if key[:1] == "$":
                        dollar_keys = True
                    frame[1] = key
            if kind is not scalar_event:
                stack.append([value, _NO_KEY, set()])
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    return Loaded(documents, dollar_keys)
