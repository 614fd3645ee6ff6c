"""Relations emitted by an entity's spec references, both directions, as Backstage's
BuiltinKindsEntityProcessor emits them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from . import kinds
from .refs import DEFAULT_NAMESPACE, RefError, entity_ref, parse_ref


class Relation(NamedTuple):
    """`source` --type--> `target`, both full lower-cased refs (`kind:namespace/name`). A named tuple: a large file
    location's relations are built in parsing processes and unpickled by the refresh, three times faster than a
    dataclass's."""

    type: str
    source: str
    target: str


def relations_for(entity: Mapping[str, Any]) -> list[Relation]:
    """Every relation the entity's spec declares, each with its inverse, deduplicated in order.

    References that do not parse (e.g. a dependsOn entry without a kind) are left out here;
    validate_entity reports them.
    """
    self_ref = entity_ref(entity)
    kind, api_version = entity.get("kind"), entity.get("apiVersion")
    spec = entity.get("spec")
    if self_ref is None or not isinstance(kind, str) or not isinstance(api_version, str):
        return []
    kind_spec = kinds.get_kind(kind, api_version)
    if kind_spec is None or not isinstance(spec, Mapping):
        return []
    source = str(self_ref)
    namespace = self_ref.namespace or DEFAULT_NAMESPACE
    relations: dict[Relation, None] = {}
    for field in kind_spec.relation_fields:
        value = spec.get(field.field)
        targets = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        for target in targets:
            if not isinstance(target, str) or not target:
                continue
            try:
                target_ref = str(parse_ref(target, default_kind=field.default_kind, default_namespace=namespace))
            except RefError:
                continue
            relations[Relation(field.outgoing, source, target_ref)] = None
            relations[Relation(field.incoming, target_ref, source)] = None
    return list(relations)
