"""Entity references `[<kind>:][<namespace>/]<name>`: parsed exactly like Backstage's parseEntityRef, and read
leniently for showing them (ref_parts, ref_label), with one grammar for both."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

DEFAULT_NAMESPACE: Final = "default"

_REF_STRING = re.compile(r"([^:/]+:)?([^:/]+/)?([^:/]+)")


class RefError(ValueError):
    """The value is not a usable entity reference."""


@dataclass(frozen=True, slots=True, eq=False)
class EntityRef:
    """A complete reference. Equality and hashing ignore case, as Backstage compares refs."""

    kind: str
    namespace: str
    name: str

    def key(self) -> tuple[str, str, str]:
        return (self.kind.lower(), self.namespace.lower(), self.name.lower())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EntityRef):
            return NotImplemented
        return self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __str__(self) -> str:
        kind, namespace, name = self.key()
        return f"{kind}:{namespace}/{name}"


def _split(text: str) -> tuple[str | None, str | None, str] | None:
    """`[<kind>:][<namespace>/]<name>` as its parts (None for a missing part), or None when it is not on that form."""
    match = _REF_STRING.fullmatch(text.strip())
    if match is None:
        return None
    kind, namespace, name = match.groups()
    return (kind[:-1] if kind else None, namespace[:-1] if namespace else None, name)


def _textual(value: object) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        return repr(value)


def parse_ref(
    value: str | Mapping[str, object],
    *,
    default_kind: str | None = None,
    default_namespace: str = DEFAULT_NAMESPACE,
) -> EntityRef:
    """Parse a string or `{kind, namespace, name}` reference, filling in the defaults.

    Raises RefError with Backstage's wording for empty parts, more than one `:` or `/`, and a
    missing kind when there is no default kind.
    """
    if not value:
        raise RefError("Entity reference must not be empty")
    kind: object
    namespace: object
    name: object
    if isinstance(value, str):
        parts = _split(value)
        if parts is None:
            raise RefError(f'Entity reference "{value}" was not on the form [<kind>:][<namespace>/]<name>')
        kind, namespace, name = parts
    elif isinstance(value, Mapping):
        kind = value.get("kind")
        namespace = value.get("namespace")
        name = value.get("name")
        if kind == "":
            raise RefError("Entity reference kinds must not be empty")
        if namespace == "":
            raise RefError("Entity reference namespaces must not be empty")
        if not name:
            raise RefError("Entity references must contain a name")
        for part, part_value in (("kind", kind), ("namespace", namespace), ("name", name)):
            if part_value is not None and not isinstance(part_value, str):
                raise RefError(f"Entity reference {_textual(value)} has a {part} that is not a string")
    else:
        raise RefError(f"Entity reference {_textual(value)} is neither a string nor a mapping")

    kind = kind if kind is not None else default_kind
    namespace = namespace if namespace is not None else (default_namespace or DEFAULT_NAMESPACE)
    if not kind:
        raise RefError(
            f"Entity reference {_textual(value)} had missing or empty kind "
            '(e.g. did not start with "component:" or similar)'
        )
    assert isinstance(kind, str)
    assert isinstance(namespace, str)
    assert isinstance(name, str)
    return EntityRef(kind=kind, namespace=namespace, name=name)


def stringify_ref(ref: EntityRef | Mapping[str, object]) -> str:
    """Canonical lower-cased `kind:namespace/name` of a ref, a `{kind, namespace?, name}` or an entity."""
    if isinstance(ref, EntityRef):
        return str(ref)
    metadata = ref.get("metadata")
    source: Mapping[str, object] = metadata if isinstance(metadata, Mapping) else ref
    kind, namespace, name = ref.get("kind"), source.get("namespace"), source.get("name")
    if not isinstance(kind, str) or not isinstance(name, str):
        raise RefError(f"Entity reference {_textual(ref)} needs a kind and a name")
    if not isinstance(namespace, str) or not namespace:
        namespace = DEFAULT_NAMESPACE
    return str(EntityRef(kind=kind, namespace=namespace, name=name))


def entity_ref(entity: Mapping[str, object]) -> EntityRef | None:
    """The ref of an entity document, or None when its kind or name is not a non-empty string."""
    kind = entity.get("kind")
    metadata = entity.get("metadata")
    if not isinstance(kind, str) or not kind or not isinstance(metadata, Mapping):
        return None
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        return None
    namespace = metadata.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        namespace = DEFAULT_NAMESPACE
    return EntityRef(kind=kind, namespace=namespace, name=name)


def ref_parts(text: str) -> EntityRef:
    """A ref as stored or written, lower-cased, for showing and linking; never raises.

    Read like parse_ref (the namespace defaults to `default`), but a ref without a kind keeps an empty kind, and text
    that is not on the form `[<kind>:][<namespace>/]<name>` at all becomes the name, so a page can still show it.
    """
    parts = _split(text)
    if parts is None:
        return EntityRef(kind="", namespace=DEFAULT_NAMESPACE, name=text.strip().lower())
    kind, namespace, name = parts
    return EntityRef(kind=(kind or "").lower(), namespace=(namespace or DEFAULT_NAMESPACE).lower(), name=name.lower())


def ref_label(text: str, *, default_kind: str = "") -> str:
    """A short, readable form of a ref: `team-a`, `other/team-a` outside the default namespace, and `user:alice` when
    a `default_kind` is given and the ref is of another kind."""
    ref = ref_parts(text)
    label = ref.name if ref.namespace == DEFAULT_NAMESPACE else f"{ref.namespace}/{ref.name}"
    return label if not default_kind or ref.kind == default_kind.lower() else f"{ref.kind}:{label}"
