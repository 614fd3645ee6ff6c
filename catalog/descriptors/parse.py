"""Parse one descriptor file into validated entities, issues and the Location targets it names."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Protocol
from urllib.parse import urljoin, urlsplit

from .errors import Issue, IssueCode, describe, join_path, make_issue
from .refs import DEFAULT_NAMESPACE, entity_ref
from .relations import Relation, relations_for
from .validate import validate_entity
from .yamlsafe import DEFAULT_LIMITS, Limits, YamlError, count_nodes, load, load_documents, to_plain

PLACEHOLDERS: Final = ("text", "json", "yaml")
# The catalog owns relations and status; a file must not be able to claim them.
_DERIVED_ROOT_FIELDS: Final = ("relations", "status")


class Resolver(Protocol):
    """Reads placeholder targets. Resolving `target` against `relative_to` (the file being parsed)
    and deciding what may be read is the implementation's job; failures raise any Exception whose
    text says why (it ends up in the Issue)."""

    def read(self, target: str, *, relative_to: str) -> bytes: ...


@dataclass(frozen=True, slots=True)
class LocationTarget:
    type: str
    target: str


@dataclass(frozen=True, slots=True)
class ParsedEntity:
    document: int
    entity: dict[str, Any]
    ref: str
    relations: tuple[Relation, ...] = ()


@dataclass(slots=True)
class ParseResult:
    entities: list[ParsedEntity] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    location_targets: list[LocationTarget] = field(default_factory=list)


def _is_url(value: str) -> bool:
    return urlsplit(value).scheme.lower() in ("http", "https")


def resolve_relative(base: str, target: str) -> str:
    """Resolve `target` against the file or http(s) URL `base`, as Location targets and
    placeholders are: absolute URLs and absolute paths stay as they are."""
    if _is_url(target):
        return target
    if _is_url(base):
        return urljoin(base, target)
    if posixpath.isabs(target):
        return posixpath.normpath(target)
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), target))


class _PlaceholderError(Exception):
    def __init__(self, path: str, key: str, target: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.key = key
        self.target = target
        self.reason = reason


class _Substituter:
    """Placeholders of one file. Each target is bounded by `limits`, and so is everything the file's placeholders
    pull in together: a file of many small documents must not multiply the limits by its number of placeholders."""

    def __init__(self, resolver: Resolver | None, file: str, limits: Limits) -> None:
        self.resolver = resolver
        self.file = file
        self.limits = limits
        self.bytes_left = limits.max_bytes
        self.nodes_left = limits.max_nodes

    def process(self, data: Any, parts: tuple[str | int, ...]) -> Any:
        # The field path is kept as parts and spelled out only for an error: most entities have no placeholders.
        if isinstance(data, list):
            return [self.process(item, (*parts, index)) for index, item in enumerate(data)]
        if not isinstance(data, dict):
            return data
        dollar_keys = [key for key in data if key.startswith("$")]
        if not dollar_keys:
            return {key: self.process(value, (*parts, key)) for key, value in data.items()}
        # Like Backstage: only a single-key {"$text": "<string>"} is a placeholder; anything else
        # (JSON Schema's "$ref", mixed keys) is data and left alone.
        if len(data) != 1:
            return data
        key = dollar_keys[0][1:]
        value = data[dollar_keys[0]]
        if key not in PLACEHOLDERS or not isinstance(value, str):
            return data
        path = ""
        for part in parts:
            path = join_path(path, part)
        return self.resolve(key, value, path)

    def resolve(self, key: str, target: str, path: str) -> Any:
        if self.resolver is None:
            raise _PlaceholderError(path, key, target, "no resolver is configured")
        try:
            raw = self.resolver.read(target, relative_to=self.file)
        except Exception as exc:  # whatever the reader raises, the entity is dropped with its reason
            raise _PlaceholderError(path, key, target, str(exc) or type(exc).__name__) from None
        if len(raw) > self.limits.max_bytes:
            raise _PlaceholderError(
                path, key, target, f"{len(raw)} bytes is more than the limit of {self.limits.max_bytes}"
            )
        if len(raw) > self.bytes_left:
            raise _PlaceholderError(
                path, key, target, f"the file's placeholders pull in more than {self.limits.max_bytes} bytes in all"
            )
        self.bytes_left -= len(raw)
        if key == "yaml":
            return self._yaml(raw, target, path)
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise _PlaceholderError(path, key, target, "the content is not valid UTF-8") from None
        if key == "text":
            return text
        return self._json(text, target, path)

    def _remaining(self, key: str, target: str, path: str) -> Limits:
        if self.nodes_left <= 0:
            raise _PlaceholderError(
                path, key, target, f"the file's placeholders pull in more than {self.limits.max_nodes} values in all"
            )
        return replace(self.limits, max_nodes=self.nodes_left)

    def _spend(self, value: Any) -> Any:
        self.nodes_left -= count_nodes(value)
        return value

    def _yaml(self, raw: bytes, target: str, path: str) -> Any:
        try:
            loaded = load_documents(raw, file=target, limits=self._remaining("yaml", target, path))
        except YamlError as exc:
            raise _PlaceholderError(path, "yaml", target, exc.issue.detail or exc.issue.message) from None
        documents = [d for d in loaded if d is not None]
        if len(documents) != 1:
            raise _PlaceholderError(
                path, "yaml", target, f"expected exactly one document of data, found {len(documents)}"
            )
        return self._spend(documents[0])

    def _json(self, text: str, target: str, path: str) -> Any:
        def refuse_constant(name: str) -> None:
            raise ValueError(f"{name} is not valid JSON")

        try:
            value = json.loads(text, parse_constant=refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise _PlaceholderError(path, "json", target, f"invalid JSON: {exc}") from None
        try:
            return self._spend(to_plain(value, file=target, limits=self._remaining("json", target, path)))
        except YamlError as exc:
            raise _PlaceholderError(path, "json", target, exc.issue.detail or exc.issue.message) from None


def _location_targets(
    entity: Mapping[str, Any], *, file: str, location_type: str
) -> tuple[list[LocationTarget], list[tuple[str, str, str]]]:
    spec = entity.get("spec")
    if not isinstance(spec, Mapping):
        return [], []
    own_type = spec.get("type")
    target_type = own_type if isinstance(own_type, str) and own_type else location_type
    raw: list[tuple[str, str]] = []
    if isinstance(spec.get("target"), str):
        raw.append(("spec.target", spec["target"]))
    for index, item in enumerate(spec.get("targets") or []):
        if isinstance(item, str):
            raw.append((join_path("spec.targets", index), item))
    targets: list[LocationTarget] = []
    problems: list[tuple[str, str, str]] = []
    for path, target in raw:
        if target_type == "file" and target.endswith("/"):
            problems.append((path, target, "a file location target must not end with a path separator"))
            continue
        # Relative targets only make sense within the same kind of location (Backstage's toAbsoluteUrl).
        resolved = resolve_relative(file, target) if target_type == location_type else target
        targets.append(LocationTarget(type=target_type, target=resolved))
    return targets, problems


def parse_file(
    data: bytes,
    *,
    file: str,
    resolver: Resolver | None,
    limits: Limits = DEFAULT_LIMITS,
    location_type: str = "file",
) -> ParseResult:
    """Parse, substitute placeholders, validate and normalise every entity of one file.

    `location_type` is the type of the location that read this file ("file", "url", ...): Location
    entities without their own spec.type inherit it. An entity with any Issue is not emitted.
    """
    result = ParseResult()
    try:
        loaded = load(data, file=file, limits=limits)
    except YamlError as exc:
        result.issues.append(exc.issue)
        return result
    documents = loaded.documents

    substituter = _Substituter(resolver, file, limits)
    seen: dict[tuple[str, str, str], int] = {}
    for index, doc in enumerate(documents):
        if doc is None:
            continue  # an empty document, e.g. a trailing "---", is not an error in Backstage
        if not isinstance(doc, dict):
            result.issues.append(
                make_issue(
                    file=file,
                    document=index,
                    entity_ref=None,
                    path="",
                    expected="a mapping (an entity with apiVersion, kind, metadata and spec)",
                    found=doc,
                )
            )
            continue
        ref = entity_ref(doc)
        ref_text = str(ref) if ref else None
        try:
            # A file with no key starting with `$` has no placeholder to resolve: its documents are used as loaded.
            entity = substituter.process(doc, ()) if loaded.dollar_keys else doc
        except _PlaceholderError as exc:
            result.issues.append(
                make_issue(
                    file=file,
                    document=index,
                    entity_ref=ref_text,
                    path=exc.path,
                    expected=f"a readable ${exc.key} target",
                    found=exc.target,
                    detail=f"could not read ${exc.key} {exc.target}: {exc.reason}",
                    code=IssueCode.PLACEHOLDER,
                )
            )
            continue
        issues = validate_entity(entity, file=file, document=index)
        if issues:
            result.issues.extend(issues)
            continue
        # Recomputed: a placeholder may have supplied the name. Validation guarantees both parts.
        ref = entity_ref(entity)
        assert ref is not None
        ref_text = str(ref)
        key = ref.key()
        if key in seen:
            result.issues.append(
                make_issue(
                    file=file,
                    document=index,
                    entity_ref=ref_text,
                    path="metadata.name",
                    expected="a name unique per kind and namespace (case-insensitively)",
                    found=ref.name,
                    detail=f"duplicate entity {describe(ref_text)}, already defined in document {seen[key]}",
                    code=IssueCode.DUPLICATE,
                )
            )
            continue
        seen[key] = index

        for field_name in _DERIVED_ROOT_FIELDS:
            entity.pop(field_name, None)
        metadata = entity["metadata"]
        metadata["namespace"] = metadata.get("namespace") or DEFAULT_NAMESPACE

        if entity["kind"] == "Location":
            targets, problems = _location_targets(entity, file=file, location_type=location_type)
            result.location_targets.extend(targets)
            for path, target, reason in problems:
                result.issues.append(
                    make_issue(
                        file=file,
                        document=index,
                        entity_ref=ref_text,
                        path=path,
                        expected="a file path that does not end with /",
                        found=target,
                        detail=reason,
                    )
                )
        result.entities.append(
            ParsedEntity(document=index, entity=entity, ref=str(ref), relations=tuple(relations_for(entity)))
        )
    return result
