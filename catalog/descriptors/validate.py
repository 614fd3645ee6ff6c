"""Entity validation with Backstage's rules (FieldFormatEntityPolicy, NoForeignRootFields,
the kind schemas), reporting every problem as an Issue instead of stopping at the first."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import jsonschema

from . import kinds
from .errors import MISSING, Issue, describe, join_path, make_issue
from .refs import RefError, entity_ref, parse_ref

KNOWN_ROOT_FIELDS: Final = ("apiVersion", "kind", "metadata", "spec", "relations", "status")

_OBJECT_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_LABEL = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_TAG = re.compile(r"[a-z0-9:+#]+(-[a-z0-9:+#]+)*")
_KIND = re.compile(r"[a-zA-Z][a-z0-9A-Z]*")
_VERSION = re.compile(r"[a-z0-9A-Z]+")

EXPECT_NAME: Final = "a string of at most 63 characters matching [a-z0-9A-Z] separated by [-_.]"
EXPECT_NAMESPACE: Final = "a string of at most 63 characters matching [a-z0-9] separated by [-]"
EXPECT_TAG: Final = "a string of at most 63 characters matching [a-z0-9:+#] separated by [-]"
EXPECT_KIND: Final = "a string of at most 63 characters: a letter followed by [a-zA-Z0-9]"
EXPECT_API_VERSION: Final = (
    "a string of the form [<DNS subdomain>/]<version>, the version at most 63 characters of [a-zA-Z0-9]"
)
EXPECT_KEY: Final = (
    "a key of the form [<DNS subdomain of at most 253 characters>/]<name>, the name at most 63 characters"
    " matching [a-z0-9A-Z] separated by [-_.]"
)
EXPECT_LABEL_VALUE: Final = "an empty string or " + EXPECT_NAME
EXPECT_STRING: Final = "a string"
EXPECT_NONEMPTY: Final = "a non-empty string"
EXPECT_URL: Final = "an http or https URL"
EXPECT_MAPPING: Final = "a mapping"
EXPECT_LIST: Final = "a list"


# -- Backstage's field validators (KubernetesValidatorFunctions, CommonValidatorFunctions) -------
# fullmatch, never `$`: in Python `$` also matches before a trailing newline.


def is_valid_object_name(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 63 and _OBJECT_NAME.fullmatch(value) is not None


is_valid_entity_name = is_valid_object_name


def is_valid_dns_label(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 63 and _DNS_LABEL.fullmatch(value) is not None


is_valid_namespace = is_valid_dns_label


def is_valid_dns_subdomain(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 253 and all(map(is_valid_dns_label, value.split(".")))


def _prefix_and_or_suffix(
    value: object, is_valid_prefix: Callable[[str], bool], is_valid_suffix: Callable[[str], bool]
) -> bool:
    if not isinstance(value, str):
        return False
    parts = value.split("/")
    if len(parts) == 1:
        return is_valid_suffix(parts[0])
    if len(parts) == 2:
        return is_valid_prefix(parts[0]) and is_valid_suffix(parts[1])
    return False


def is_valid_api_version(value: object) -> bool:
    return _prefix_and_or_suffix(
        value, is_valid_dns_subdomain, lambda v: 1 <= len(v) <= 63 and _VERSION.fullmatch(v) is not None
    )


def is_valid_kind(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 63 and _KIND.fullmatch(value) is not None


def is_valid_label_key(value: object) -> bool:
    return _prefix_and_or_suffix(value, is_valid_dns_subdomain, is_valid_object_name)


is_valid_annotation_key = is_valid_label_key


def is_valid_label_value(value: object) -> bool:
    return value == "" or is_valid_object_name(value)


def is_valid_annotation_value(value: object) -> bool:
    return isinstance(value, str)


def is_valid_tag(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 63 and _TAG.fullmatch(value) is not None


def is_valid_string(value: object) -> bool:
    return isinstance(value, str) and len(value.strip()) >= 1


def is_valid_link_url(value: object) -> bool:
    """An absolute http(s) URL. Stricter than Backstage (any URL), so `javascript:` links never render."""
    if not isinstance(value, str) or not value or any(ch.isspace() or ord(ch) < 32 for ch in value):
        return False
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


# -- validate_entity -----------------------------------------------------------------------------


class _Collector:
    def __init__(self, file: str, document: int | None, ref: str | None) -> None:
        self.file = file
        self.document = document
        self.ref = ref
        self.issues: list[Issue] = []

    def add(self, path: str, expected: str, found: object = MISSING, detail: str | None = None) -> None:
        self.issues.append(
            make_issue(
                file=self.file,
                document=self.document,
                entity_ref=self.ref,
                path=path,
                expected=expected,
                found=found,
                detail=detail,
            )
        )

    def check(self, path: str, value: object, valid: Callable[[object], bool], expected: str) -> bool:
        if value is MISSING or value is None:
            self.add(path, expected, MISSING if value is MISSING else None)
            return False
        if not valid(value):
            self.add(path, expected, value)
            return False
        return True

    def optional(self, path: str, value: object, valid: Callable[[object], bool], expected: str) -> None:
        if value is not MISSING:
            self.check(path, value, valid, expected)


def _validate_metadata(metadata: object, out: _Collector) -> None:
    if metadata is MISSING:
        out.add("metadata", EXPECT_MAPPING)
        return
    if not isinstance(metadata, Mapping):
        out.add("metadata", EXPECT_MAPPING, metadata)
        return
    out.check("metadata.name", metadata.get("name", MISSING), is_valid_entity_name, EXPECT_NAME)
    out.optional("metadata.namespace", metadata.get("namespace", MISSING), is_valid_namespace, EXPECT_NAMESPACE)
    out.optional("metadata.title", metadata.get("title", MISSING), is_valid_string, EXPECT_NONEMPTY)
    out.optional("metadata.description", metadata.get("description", MISSING), is_valid_annotation_value, EXPECT_STRING)
    out.optional("metadata.uid", metadata.get("uid", MISSING), is_valid_string, EXPECT_NONEMPTY)
    out.optional("metadata.etag", metadata.get("etag", MISSING), is_valid_string, EXPECT_NONEMPTY)
    out.optional(
        "metadata.generation",
        metadata.get("generation", MISSING),
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
        "a whole number of at least 1",
    )

    for field, valid_value, expected_value in (
        ("labels", is_valid_label_value, EXPECT_LABEL_VALUE),
        ("annotations", is_valid_annotation_value, EXPECT_STRING),
    ):
        entries = metadata.get(field, MISSING)
        if entries is MISSING:
            continue
        base = f"metadata.{field}"
        if not isinstance(entries, Mapping):
            out.add(base, EXPECT_MAPPING, entries)
            continue
        for key, value in entries.items():
            path = join_path(base, key)
            if not is_valid_label_key(key):
                out.add(path, EXPECT_KEY, key, detail=f"key {describe(key)}: expected {EXPECT_KEY}")
            out.check(path, value, valid_value, expected_value)

    tags = metadata.get("tags", MISSING)
    if tags is not MISSING:
        if not isinstance(tags, list):
            out.add("metadata.tags", EXPECT_LIST, tags)
        else:
            for index, tag in enumerate(tags):
                out.check(join_path("metadata.tags", index), tag, is_valid_tag, EXPECT_TAG)

    links = metadata.get("links", MISSING)
    if links is not MISSING:
        if not isinstance(links, list):
            out.add("metadata.links", EXPECT_LIST, links)
        else:
            for index, link in enumerate(links):
                base = join_path("metadata.links", index)
                if not isinstance(link, Mapping):
                    out.add(base, "a mapping with a url", link)
                    continue
                out.check(f"{base}.url", link.get("url", MISSING), is_valid_link_url, EXPECT_URL)
                out.optional(f"{base}.title", link.get("title", MISSING), is_valid_string, EXPECT_NONEMPTY)
                out.optional(f"{base}.icon", link.get("icon", MISSING), is_valid_object_name, EXPECT_NAME)
                out.optional(f"{base}.type", link.get("type", MISSING), is_valid_string, EXPECT_NONEMPTY)


_TYPE_WORDS: Final = {
    "string": "a string",
    "array": "a list",
    "object": "a mapping",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _type_words(types: object) -> str:
    if isinstance(types, str):
        return _TYPE_WORDS.get(types, types)
    if isinstance(types, list):
        return " or ".join(_type_words(t) for t in types)
    return str(types)


def _expected_from_schema_error(error: jsonschema.ValidationError) -> str:
    value: Any = error.validator_value
    match error.validator:
        case "type":
            return _type_words(value)
        case "minLength":
            return EXPECT_NONEMPTY if value == 1 else f"a string of at least {value} characters"
        case "maxLength":
            return f"a string of at most {value} characters"
        case "minItems":
            return f"a list of at least {value} item{'s' if value != 1 else ''}"
        case "maxItems":
            return f"a list of at most {value} items"
        case "enum":
            return "one of " + ", ".join(json.dumps(v) for v in value)
        case "const":
            return json.dumps(value)
        case "pattern":
            return f"a string matching {value}"
        case "minimum":
            return f"a number of at least {value}"
        case "maximum":
            return f"a number of at most {value}"
        case "minProperties" | "maxProperties":
            return "a mapping with exactly one key" if value == 1 else f"a mapping ({error.validator} {value})"
        case "additionalProperties":
            return "no other keys"
        case "oneOf" | "anyOf":
            options = [
                _type_words(sub.get("type")) if isinstance(sub, Mapping) and "type" in sub else "a matching value"
                for sub in value
            ]
            return " or ".join(options)
        case _:
            return str(error.message)


def _schema_path(base: str, parts: Any) -> str:
    path = base
    for part in parts:
        path = join_path(path, part)
    return path


def _validate_spec(spec: object, kind_spec: kinds.KindSpec, api_version: str, out: _Collector) -> bool:
    validator = kinds.spec_validator(kind_spec.kind, api_version)
    if spec is MISSING:
        out.add("spec", EXPECT_MAPPING)
        return False
    if validator is None:  # pragma: no cover - registry keeps both maps in step
        return True
    if kinds.spec_is_valid(kind_spec.kind, api_version, spec):
        return True
    before = len(out.issues)
    seen: set[tuple[str, str]] = set()
    instance: Any = spec
    errors = sorted(validator.iter_errors(instance), key=lambda e: (_schema_path("spec", e.absolute_path), e.message))
    for error in errors:
        path = _schema_path("spec", error.absolute_path)
        required: Any = error.validator_value
        schema: Any = error.schema
        if error.validator == "required" and isinstance(error.instance, Mapping):
            for name in required:
                if name not in error.instance and (join_path(path, name), "required") not in seen:
                    seen.add((join_path(path, name), "required"))
                    out.add(join_path(path, name), "a value (the field is required)")
            continue
        if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
            allowed = set(schema.get("properties", {}))
            for key in error.instance:
                if key not in allowed:
                    out.add(join_path(path, key), "no such key", error.instance[key])
            continue
        expected = _expected_from_schema_error(error)
        if (path, expected) not in seen:
            seen.add((path, expected))
            out.add(path, expected, error.instance)
    return len(out.issues) == before


def _validate_refs(entity: Mapping[str, Any], kind_spec: kinds.KindSpec, namespace: str, out: _Collector) -> None:
    spec = entity.get("spec")
    if not isinstance(spec, Mapping):
        return
    for relation in kind_spec.relation_fields:
        value = spec.get(relation.field)
        if value is None:
            continue
        items = [(f"spec.{relation.field}", value)] if isinstance(value, str) else []
        if isinstance(value, list):
            items = [(join_path(f"spec.{relation.field}", i), v) for i, v in enumerate(value)]
        for path, item in items:
            if not isinstance(item, str) or not item:
                continue  # the schema already reported it
            try:
                parse_ref(item, default_kind=relation.default_kind, default_namespace=namespace)
            except RefError as exc:
                expected = (
                    "an entity reference [<kind>:][<namespace>/]<name>"
                    if relation.default_kind
                    else "an entity reference with a kind, <kind>:[<namespace>/]<name>"
                )
                out.add(path, expected, item, detail=f"{exc}")


def _run_extra(validator: kinds.ExtraValidator, spec: Mapping[str, Any], out: _Collector) -> None:
    try:
        found = list(validator(copy.deepcopy(dict(spec))))
    except Exception as exc:  # a faulty plug-in must not crash a catalog refresh
        out.add("spec", "a spec the kind's validator accepts", detail=f"could not be validated: {exc}")
        return
    for item in found:
        inner = str(getattr(item, "path", "") or "")
        path = "spec" if not inner else (f"spec{inner}" if inner.startswith("[") else f"spec.{inner}")
        message = str(getattr(item, "message", item))
        out.add(path, message, detail=message)


def validate_entity(doc: object, *, file: str, document: int | None) -> list[Issue]:
    """Every rule Backstage applies to an entity, each broken rule as one Issue (empty: valid)."""
    if not isinstance(doc, Mapping):
        out = _Collector(file, document, None)
        out.add("", "a mapping (an entity with apiVersion, kind, metadata and spec)", doc)
        return out.issues
    ref = entity_ref(doc)
    out = _Collector(file, document, str(ref) if ref else None)

    for key in doc:
        if key not in KNOWN_ROOT_FIELDS:
            out.add(
                join_path("", str(key)),
                "only the root keys " + ", ".join(KNOWN_ROOT_FIELDS),
                doc[key],
                detail=f"unknown root key {describe(key)}; allowed are " + ", ".join(KNOWN_ROOT_FIELDS),
            )

    api_version = doc.get("apiVersion", MISSING)
    kind = doc.get("kind", MISSING)
    api_ok = out.check("apiVersion", api_version, is_valid_api_version, EXPECT_API_VERSION)
    kind_ok = out.check("kind", kind, is_valid_kind, EXPECT_KIND)
    metadata = doc.get("metadata", MISSING)
    _validate_metadata(metadata, out)
    for field in ("relations", "status"):
        value = doc.get(field, MISSING)
        if value is not MISSING and not isinstance(value, list if field == "relations" else Mapping):
            out.add(field, EXPECT_LIST if field == "relations" else EXPECT_MAPPING, value)

    if not (api_ok and kind_ok):
        return out.issues
    assert isinstance(api_version, str)
    assert isinstance(kind, str)
    kind_spec = kinds.get_kind(kind, api_version)
    if kind_spec is None:
        same_kind = kinds.kinds_named(kind)
        if same_kind:
            versions = sorted({v for spec in same_kind for v in spec.api_versions})
            out.add("apiVersion", f"one of {', '.join(versions)} for kind {kind}", api_version)
        else:
            names = sorted({spec.kind for spec in kinds.registered_kinds()})
            out.add("kind", "a known kind (" + ", ".join(names) + ")", kind)
        return out.issues

    spec = doc.get("spec", MISSING)
    spec_ok = _validate_spec(spec, kind_spec, api_version, out)
    namespace = ref.namespace if ref else "default"
    if spec_ok and isinstance(spec, Mapping):
        _validate_refs(doc, kind_spec, namespace, out)
        if kind_spec.validate_extra is not None:
            _run_extra(kind_spec.validate_extra, spec, out)
    return out.issues


# -- published JSON Schema -----------------------------------------------------------------------

_NAME_PATTERN: Final = r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"
_NAMESPACE_PATTERN: Final = r"^[a-z0-9]+(-[a-z0-9]+)*$"
_TAG_PATTERN: Final = r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$"

ENTITY_METADATA_SCHEMA: Final = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": True,
    "properties": {
        "uid": {"type": "string", "minLength": 1},
        "etag": {"type": "string", "minLength": 1},
        "generation": {"type": "integer", "minimum": 1},
        "name": {
            "type": "string",
            "minLength": 1,
            "maxLength": 63,
            "pattern": _NAME_PATTERN,
            "description": "Unique per kind and namespace (case-insensitively).",
        },
        "namespace": {
            "type": "string",
            "minLength": 1,
            "maxLength": 63,
            "pattern": _NAMESPACE_PATTERN,
            "default": "default",
        },
        "title": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "tags": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 63, "pattern": _TAG_PATTERN},
        },
        "links": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["url"],
                "properties": {
                    "url": {"type": "string", "minLength": 1, "pattern": "^[hH][tT][tT][pP][sS]?://"},
                    "title": {"type": "string", "minLength": 1},
                    "icon": {"type": "string", "minLength": 1},
                    "type": {"type": "string", "minLength": 1},
                },
            },
        },
    },
}

_RELATION_SCHEMA: Final = {
    "type": "object",
    "required": ["type", "targetRef"],
    "properties": {"type": {"type": "string", "minLength": 1}, "targetRef": {"type": "string", "minLength": 1}},
}


def kind_json_schema(kind: str) -> dict[str, Any]:
    """A draft-07 JSON Schema of a whole entity of `kind`, for the API to publish.

    Raises KeyError for an unknown kind.
    """
    registrations = kinds.kinds_named(kind)
    if not registrations:
        raise KeyError(f"kind {kind} is not registered")
    api_versions = [v for spec in registrations for v in spec.api_versions]
    spec_schemas = [copy.deepcopy(dict(spec.schema)) for spec in registrations]
    spec_schema: dict[str, Any] = spec_schemas[0] if len(spec_schemas) == 1 else {"anyOf": spec_schemas}
    description = next((spec.description for spec in registrations if spec.description), "")
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": f"{kind}",
        "title": kind,
        "description": description,
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {
            "apiVersion": {"enum": api_versions},
            "kind": {"enum": [kind]},
            "metadata": copy.deepcopy(ENTITY_METADATA_SCHEMA),
            "spec": spec_schema,
            "relations": {"type": "array", "items": copy.deepcopy(_RELATION_SCHEMA)},
            "status": {"type": "object"},
        },
    }
