"""Backstage descriptor handling with no Django in sight: safe YAML loading, entity references,
validation against a kind registry, relations, and whole-file parsing with placeholders."""

from __future__ import annotations

from .errors import MISSING, Issue, describe, make_issue
from .kinds import (
    ExtraValidator,
    KindRegistryError,
    KindSpec,
    RelationField,
    SpecIssue,
    get_kind,
    register_kind,
    registered_kinds,
    set_extra_validator,
    unregister_kind,
)
from .parse import LocationTarget, ParsedEntity, ParseResult, Resolver, parse_file, resolve_relative
from .refs import DEFAULT_NAMESPACE, EntityRef, RefError, entity_ref, parse_ref, ref_label, ref_parts, stringify_ref
from .relations import Relation, relations_for
from .validate import kind_json_schema, validate_entity
from .yamlsafe import DEFAULT_LIMITS, Limits, YamlError, load_documents

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_NAMESPACE",
    "MISSING",
    "EntityRef",
    "ExtraValidator",
    "Issue",
    "KindRegistryError",
    "KindSpec",
    "Limits",
    "LocationTarget",
    "ParseResult",
    "ParsedEntity",
    "RefError",
    "Relation",
    "RelationField",
    "Resolver",
    "SpecIssue",
    "YamlError",
    "describe",
    "entity_ref",
    "get_kind",
    "kind_json_schema",
    "load_documents",
    "make_issue",
    "parse_file",
    "parse_ref",
    "ref_label",
    "ref_parts",
    "register_kind",
    "registered_kinds",
    "relations_for",
    "resolve_relative",
    "set_extra_validator",
    "stringify_ref",
    "unregister_kind",
    "validate_entity",
]
