"""The kind registry: which (apiVersion, kind) pairs the catalog accepts, their spec schemas,
the relations their spec fields emit, and optional extra validators.

Other apps plug their kinds in through `register_kind`; the on-call engine attaches its deep
spec checks with `set_extra_validator` without this package importing it.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol

import fastjsonschema
import jsonschema

BACKSTAGE_API_VERSIONS: Final = ("backstage.io/v1alpha1", "backstage.io/v1beta1")
TEMPLATE_API_VERSIONS: Final = ("scaffolder.backstage.io/v1beta3",)
PAVED_API_VERSIONS: Final = ("paved.dev/v1alpha1",)

# Relation types, as Backstage's catalog-model names them.
RELATION_OWNED_BY: Final = "ownedBy"
RELATION_OWNER_OF: Final = "ownerOf"
RELATION_PART_OF: Final = "partOf"
RELATION_HAS_PART: Final = "hasPart"
RELATION_PROVIDES_API: Final = "providesApi"
RELATION_API_PROVIDED_BY: Final = "apiProvidedBy"
RELATION_CONSUMES_API: Final = "consumesApi"
RELATION_API_CONSUMED_BY: Final = "apiConsumedBy"
RELATION_DEPENDS_ON: Final = "dependsOn"
RELATION_DEPENDENCY_OF: Final = "dependencyOf"
RELATION_PARENT_OF: Final = "parentOf"
RELATION_CHILD_OF: Final = "childOf"
RELATION_MEMBER_OF: Final = "memberOf"
RELATION_HAS_MEMBER: Final = "hasMember"

INVERSE_RELATIONS: Final[Mapping[str, str]] = {
    RELATION_OWNED_BY: RELATION_OWNER_OF,
    RELATION_OWNER_OF: RELATION_OWNED_BY,
    RELATION_PART_OF: RELATION_HAS_PART,
    RELATION_HAS_PART: RELATION_PART_OF,
    RELATION_PROVIDES_API: RELATION_API_PROVIDED_BY,
    RELATION_API_PROVIDED_BY: RELATION_PROVIDES_API,
    RELATION_CONSUMES_API: RELATION_API_CONSUMED_BY,
    RELATION_API_CONSUMED_BY: RELATION_CONSUMES_API,
    RELATION_DEPENDS_ON: RELATION_DEPENDENCY_OF,
    RELATION_DEPENDENCY_OF: RELATION_DEPENDS_ON,
    RELATION_PARENT_OF: RELATION_CHILD_OF,
    RELATION_CHILD_OF: RELATION_PARENT_OF,
    RELATION_MEMBER_OF: RELATION_HAS_MEMBER,
    RELATION_HAS_MEMBER: RELATION_MEMBER_OF,
}


class SpecIssueLike(Protocol):
    """What an extra validator reports: a path inside `spec` and a sentence."""

    @property
    def path(self) -> str: ...

    @property
    def message(self) -> str: ...


@dataclass(frozen=True, slots=True)
class SpecIssue:
    path: str
    message: str


ExtraValidator = Callable[[Mapping[str, Any]], Iterable[SpecIssueLike]]


@dataclass(frozen=True, slots=True)
class RelationField:
    """A spec field holding one ref or a list of refs, and the pair of relations it emits.

    `default_kind` None means the ref must name its kind (Backstage's dependsOn/dependencyOf).
    """

    field: str
    default_kind: str | None
    outgoing: str
    incoming: str


@dataclass(frozen=True, slots=True)
class KindSpec:
    """One kind: its accepted apiVersions, the JSON Schema of its `spec`, relations and hooks.

    `trusted_only` marks kinds that shape the organisation or its policy (people, teams, templates, on-call,
    scorecards): only trusted locations may declare them (`requires_trusted_location`).
    """

    api_versions: tuple[str, ...]
    kind: str
    schema: Mapping[str, Any]
    relation_fields: tuple[RelationField, ...] = ()
    validate_extra: ExtraValidator | None = None
    description: str = ""
    trusted_only: bool = False


class KindRegistryError(ValueError):
    pass


_lock = threading.Lock()
_registry: dict[tuple[str, str], KindSpec] = {}
_validators: dict[tuple[str, str], jsonschema.protocols.Validator] = {}
# Compiled copies of the same schemas: the fast yes/no check on the ingestion hot path. jsonschema runs only
# when this says no, to produce the detailed messages.
_fast_checks: dict[tuple[str, str], Callable[[Any], Any]] = {}


def register_kind(spec: KindSpec, *, replace_existing: bool = False) -> None:
    """Make a kind known. Raises KindRegistryError for a clash or an invalid spec schema."""
    if not spec.api_versions:
        raise KindRegistryError(f"kind {spec.kind} needs at least one apiVersion")
    try:
        jsonschema.Draft7Validator.check_schema(spec.schema)
    except jsonschema.SchemaError as exc:
        raise KindRegistryError(f"kind {spec.kind} has an invalid spec schema: {exc.message}") from exc
    validator = jsonschema.Draft7Validator(copy.deepcopy(dict(spec.schema)))
    fast_check = fastjsonschema.compile(copy.deepcopy(dict(spec.schema)), use_formats=False)
    with _lock:
        keys = [(api_version, spec.kind) for api_version in spec.api_versions]
        clashes = [key for key in keys if key in _registry]
        if clashes and not replace_existing:
            raise KindRegistryError(f"{clashes[0][1]} ({clashes[0][0]}) is already registered")
        for key in keys:
            _registry[key] = spec
            _validators[key] = validator
            _fast_checks[key] = fast_check


def unregister_kind(kind: str, api_version: str | None = None) -> None:
    """Forget a kind (all its apiVersions unless one is given); mainly for tests."""
    with _lock:
        for key in [k for k in _registry if k[1] == kind and (api_version is None or k[0] == api_version)]:
            del _registry[key]
            del _validators[key]
            del _fast_checks[key]


def get_kind(kind: str, api_version: str) -> KindSpec | None:
    return _registry.get((api_version, kind))


def spec_validator(kind: str, api_version: str) -> jsonschema.protocols.Validator | None:
    return _validators.get((api_version, kind))


def spec_is_valid(kind: str, api_version: str, spec: object) -> bool:
    """True when `spec` satisfies the kind's schema: the compiled check, several times faster than jsonschema."""
    check = _fast_checks.get((api_version, kind))
    if check is None:
        return False
    try:
        check(spec)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def requires_trusted_location(kind: str, api_version: str) -> bool:
    """Whether only a trusted location may declare this kind. Decided by the kind's name, whatever its apiVersion,
    so that registering another apiVersion of a kind never opens it to untrusted locations."""
    spec = _registry.get((api_version, kind))
    if spec is not None and spec.trusted_only:
        return True
    return any(spec.trusted_only for spec in kinds_named(kind))


def kinds_named(kind: str) -> list[KindSpec]:
    """Every registration of `kind`, whatever its apiVersion (deduplicated, in order)."""
    found: list[KindSpec] = []
    for (_, name), spec in _registry.items():
        if name == kind and spec not in found:
            found.append(spec)
    return found


def registered_kinds() -> list[KindSpec]:
    found: list[KindSpec] = []
    for spec in _registry.values():
        if spec not in found:
            found.append(spec)
    return found


def set_extra_validator(kind: str, validator: ExtraValidator | None, *, api_version: str | None = None) -> None:
    """Attach (or with None, detach) a deep validator to a registered kind.

    The validator gets the `spec` mapping once it passed the schema, and returns items with
    `path` (inside spec) and `message`. Raises KeyError for an unknown kind.
    """
    with _lock:
        keys = [k for k in _registry if k[1] == kind and (api_version is None or k[0] == api_version)]
        if not keys:
            raise KeyError(f"kind {kind} is not registered")
        for key in keys:
            _registry[key] = replace(_registry[key], validate_extra=validator)


# -- Backstage's built-in kinds ------------------------------------------------------------------

_NONEMPTY: Final = {"type": "string", "minLength": 1}
_REF_LIST: Final = {"type": "array", "items": {"type": "string", "minLength": 1}}


def _str(description: str) -> dict[str, Any]:
    return {**_NONEMPTY, "description": description}


def _refs(description: str) -> dict[str, Any]:
    return {**_REF_LIST, "description": description}


def _owner() -> RelationField:
    return RelationField("owner", "Group", RELATION_OWNED_BY, RELATION_OWNER_OF)


def _system() -> RelationField:
    return RelationField("system", "System", RELATION_PART_OF, RELATION_HAS_PART)


COMPONENT_SCHEMA: Final = {
    "type": "object",
    "required": ["type", "lifecycle", "owner"],
    "properties": {
        "type": _str("The type of component."),
        "lifecycle": _str("The lifecycle state of the component."),
        "owner": _str("An entity reference to the owner of the component."),
        "system": _str("An entity reference to the system that the component belongs to."),
        "subcomponentOf": _str("An entity reference to another component of which the component is a part."),
        "providesApis": _refs("Entity references to the APIs that are provided by the component."),
        "consumesApis": _refs("Entity references to the APIs that are consumed by the component."),
        "dependsOn": _refs("References to other entities that the component depends on to function."),
        "dependencyOf": _refs("References to other entities that depend on this component to function."),
    },
}

API_SCHEMA: Final = {
    "type": "object",
    "required": ["type", "lifecycle", "owner", "definition"],
    "properties": {
        "type": _str("The type of the API definition."),
        "lifecycle": _str("The lifecycle state of the API."),
        "owner": _str("An entity reference to the owner of the API."),
        "system": _str("An entity reference to the system that the API belongs to."),
        "definition": _str("The definition of the API, based on the format defined by the type."),
    },
}

RESOURCE_SCHEMA: Final = {
    "type": "object",
    "required": ["type", "owner"],
    "properties": {
        "type": _str("The type of resource."),
        "owner": _str("An entity reference to the owner of the resource."),
        "dependsOn": _refs("References to other entities that the resource depends on to function."),
        "dependencyOf": _refs("References to other entities that depend on this resource to function."),
        "system": _str("An entity reference to the system that the resource belongs to."),
    },
}

SYSTEM_SCHEMA: Final = {
    "type": "object",
    "required": ["owner"],
    "properties": {
        "owner": _str("An entity reference to the owner of the system."),
        "domain": _str("An entity reference to the domain that the system belongs to."),
        "type": _str("The type of system."),
    },
}

DOMAIN_SCHEMA: Final = {
    "type": "object",
    "required": ["owner"],
    "properties": {
        "owner": _str("An entity reference to the owner of the domain."),
        "subdomainOf": _str("An entity reference to another domain of which the domain is a part."),
        "type": _str("The type of domain."),
    },
}

_PROFILE_FIELDS: Final = ("displayName", "email", "picture")
_USER_PROFILE_FIELDS: Final = (
    *_PROFILE_FIELDS,
    "pronouns",
    "jobTitle",
    "startDateISO",
    "manager",
    "timezoneISO",
    "location",
    "directMessageURL",
)

GROUP_SCHEMA: Final = {
    "type": "object",
    "required": ["type", "children"],
    "properties": {
        "type": _str("The type of group, e.g. team, business-unit, product-area, root."),
        "profile": {
            "type": "object",
            "description": "Optional display information about the group.",
            "properties": {field: dict(_NONEMPTY) for field in _PROFILE_FIELDS},
        },
        "parent": _str("The immediate parent group in the hierarchy, if any."),
        "children": _refs("The immediate child groups of this group (may be empty)."),
        "members": _refs("The users that are members of this group."),
    },
}

USER_SCHEMA: Final = {
    "type": "object",
    "required": ["memberOf"],
    "properties": {
        "profile": {
            "type": "object",
            "description": "Optional display information about the user.",
            "properties": {
                **{field: dict(_NONEMPTY) for field in _USER_PROFILE_FIELDS},
                "externalHandles": {
                    "type": "object",
                    "properties": {
                        site: dict(_NONEMPTY)
                        for site in ("facebook", "github", "instagram", "spotify", "twitter", "youtube")
                    },
                },
            },
        },
        "memberOf": _refs("The groups that the user is a direct member of (may be empty)."),
    },
}

LOCATION_SCHEMA: Final = {
    "type": "object",
    "required": [],
    "properties": {
        "type": _str("The location type common to the targets; inherited from the reading location if left out."),
        "target": _str("A single target, absolute or relative to this Location's own file."),
        "targets": _refs("A list of targets, absolute or relative to this Location's own file."),
        "presence": {"enum": ["required", "optional"], "description": "Whether a missing target is an error."},
    },
}

_PERMISSIONS: Final = {
    "type": "object",
    "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
}
_STRING_OR_BOOL: Final = {"type": ["string", "boolean"]}

TEMPLATE_SCHEMA: Final = {
    "type": "object",
    "required": ["type", "steps"],
    "properties": {
        "type": _str("The type of component created by the template."),
        "owner": _str("The user (or group) owner of the template."),
        "lifecycle": _str("The lifecycle state of the template."),
        "parameters": {
            "oneOf": [
                {"type": "object", "properties": {"backstage:permissions": _PERMISSIONS}},
                {
                    "type": "array",
                    "items": {"type": "object", "properties": {"backstage:permissions": _PERMISSIONS}},
                },
            ]
        },
        "secrets": {"type": "object", "properties": {"schema": {"type": "object"}}},
        "presentation": {
            "type": "object",
            "properties": {
                "buttonLabels": {
                    "type": "object",
                    "properties": {
                        "backButtonText": {"type": "string"},
                        "createButtonText": {"type": "string"},
                        "reviewButtonText": {"type": "string"},
                    },
                }
            },
        },
        "EXPERIMENTAL_recovery": {"type": "object", "properties": {"EXPERIMENTAL_strategy": {"type": "string"}}},
        "EXPERIMENTAL_formDecorators": {
            "type": "array",
            "items": {"type": "object", "properties": {"id": {"type": "string"}, "input": {"type": "object"}}},
        },
        "steps": {
            "type": "array",
            "minItems": 1,
            "description": "The steps a run executes in order; at least one.",
            "items": {
                "type": "object",
                "required": ["action"],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "action": _str("The id of the action the step runs, e.g. fetch:template."),
                    "input": {"type": "object"},
                    "if": _STRING_OR_BOOL,
                    "backstage:permissions": _PERMISSIONS,
                },
            },
        },
        "output": {
            "type": "object",
            "properties": {
                "links": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "if": _STRING_OR_BOOL,
                            "url": dict(_NONEMPTY),
                            "entityRef": dict(_NONEMPTY),
                            "title": dict(_NONEMPTY),
                            "icon": dict(_NONEMPTY),
                        },
                    },
                },
                "text": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "if": _STRING_OR_BOOL,
                            "title": dict(_NONEMPTY),
                            "icon": dict(_NONEMPTY),
                            "content": {"type": "string"},
                        },
                    },
                },
            },
            "additionalProperties": {"type": "string"},
        },
    },
}

# -- Paved's kinds -------------------------------------------------------------------------------
# Structural shape only; the on-call engine attaches the semantic checks (time zones, turn
# lengths, overlapping overrides) with set_extra_validator.

_WINDOW: Final = {
    "type": "object",
    "required": ["from", "to"],
    "properties": {"from": dict(_NONEMPTY), "to": dict(_NONEMPTY)},
}

SCHEDULE_SCHEMA: Final = {
    "type": "object",
    "required": ["owner", "timezone", "layers"],
    "properties": {
        "owner": _str("An entity reference to the owner of the schedule."),
        "timezone": _str("The IANA time zone the schedule is expressed in, e.g. Europe/Berlin."),
        "layers": {
            "type": "array",
            "minItems": 1,
            "description": "Rotation layers; where layers overlap the later one wins.",
            "items": {
                "type": "object",
                "required": ["start", "turn", "members"],
                "properties": {
                    "name": dict(_NONEMPTY),
                    "start": _str("The first handoff, local time in the schedule's zone."),
                    "turn": _str("The turn length, e.g. 12h, 1d, 1w."),
                    "members": {**_REF_LIST, "minItems": 1, "description": "Users in rotation order."},
                    "restrictions": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "minProperties": 1,
                            "maxProperties": 1,
                            "properties": {"daily": _WINDOW, "weekly": _WINDOW},
                            "additionalProperties": False,
                        },
                    },
                },
            },
        },
        "overrides": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["user", "from", "to"],
                "properties": {"user": dict(_NONEMPTY), "from": dict(_NONEMPTY), "to": dict(_NONEMPTY)},
            },
        },
    },
}

ESCALATION_POLICY_SCHEMA: Final = {
    "type": "object",
    "required": ["owner", "levels"],
    "properties": {
        "owner": _str("An entity reference to the owner of the policy."),
        "repeat": {"type": "integer", "minimum": 0, "description": "How often the whole chain repeats."},
        "levels": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["delayMinutes", "targets"],
                "properties": {
                    "delayMinutes": {"type": "integer", "minimum": 0},
                    "targets": {**_REF_LIST, "minItems": 1, "description": "Schedules or users to page."},
                },
            },
        },
    },
}

SCORECARD_SCHEMA: Final = {
    "type": "object",
    "required": ["levels", "checks"],
    "properties": {
        "owner": _str("An entity reference to the owner of the scorecard."),
        "filter": {
            "description": "Which entities the scorecard applies to, in Backstage filter syntax.",
            "oneOf": [dict(_NONEMPTY), {"type": "array", "items": dict(_NONEMPTY)}],
        },
        "levels": {
            "type": "array",
            "minItems": 1,
            "description": "Ordered levels, lowest first: names (`[Bronze, Silver]`) or `{name: ...}` objects.",
            "items": {
                "oneOf": [
                    dict(_NONEMPTY),
                    {"type": "object", "required": ["name"], "properties": {"name": dict(_NONEMPTY)}},
                ]
            },
        },
        "checks": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "level", "title", "rule"],
                "properties": {
                    "id": dict(_NONEMPTY),
                    "level": dict(_NONEMPTY),
                    "title": dict(_NONEMPTY),
                    "description": {"type": "string"},
                    "rule": {"type": "object", "required": ["type"], "properties": {"type": dict(_NONEMPTY)}},
                    "remediation": {"type": "string"},
                    "remediationUrl": {"type": "string"},
                    "weight": {"type": "number", "minimum": 0, "description": "Weight in the percentage; default 1."},
                    "filter": {
                        "description": "Entities the check applies to (Backstage filter syntax); others: n/a.",
                        "oneOf": [dict(_NONEMPTY), {"type": "array", "items": dict(_NONEMPTY)}],
                    },
                },
            },
        },
    },
}


def _validate_scorecard(spec: Mapping[str, Any]) -> list[SpecIssue]:
    """Duplicate levels and check ids, and checks naming an undeclared level. Rule types and their parameters are the
    scorecards app's to check (`scorecards.engine.scorecard.validate_scorecard_spec`): this package does not import it.
    """
    issues: list[SpecIssue] = []
    level_names: list[str] = []
    for index, level in enumerate(spec.get("levels", [])):
        # A level is written as `Bronze` or as `{name: Bronze}`.
        name = str(level.get("name") if isinstance(level, Mapping) else level)
        if name in level_names:
            path = f"levels[{index}].name" if isinstance(level, Mapping) else f"levels[{index}]"
            issues.append(SpecIssue(path, f"level {name!r} is declared twice"))
        level_names.append(name)
    check_ids: set[str] = set()
    for index, check in enumerate(spec.get("checks", [])):
        check_id = check.get("id")
        if check_id in check_ids:
            issues.append(SpecIssue(f"checks[{index}].id", f"check id {check_id!r} is used twice"))
        check_ids.add(check_id)
        if check.get("level") not in level_names:
            issues.append(
                SpecIssue(
                    f"checks[{index}].level",
                    f"check level {check.get('level')!r} is not one of the declared levels {level_names}",
                )
            )
    return issues


def _validate_template(spec: Mapping[str, Any]) -> list[SpecIssue]:
    """Step ids name a step's output (`steps['id'].output`): two steps with one id would make that ambiguous."""
    issues: list[SpecIssue] = []
    first_index: dict[str, int] = {}
    for index, step in enumerate(spec.get("steps", [])):
        step_id = step.get("id")
        if not isinstance(step_id, str):
            continue
        if step_id in first_index:
            issues.append(
                SpecIssue(
                    f"steps[{index}].id",
                    f"step id {step_id!r} is already used by steps[{first_index[step_id]}]; step ids must be unique",
                )
            )
            continue
        first_index[step_id] = index
    return issues


def _register_builtins() -> None:
    owner = _owner()
    system = _system()
    depends_on = RelationField("dependsOn", None, RELATION_DEPENDS_ON, RELATION_DEPENDENCY_OF)
    dependency_of = RelationField("dependencyOf", None, RELATION_DEPENDENCY_OF, RELATION_DEPENDS_ON)
    builtins = [
        KindSpec(
            BACKSTAGE_API_VERSIONS,
            "Component",
            COMPONENT_SCHEMA,
            (
                owner,
                RelationField("subcomponentOf", "Component", RELATION_PART_OF, RELATION_HAS_PART),
                RelationField("providesApis", "API", RELATION_PROVIDES_API, RELATION_API_PROVIDED_BY),
                RelationField("consumesApis", "API", RELATION_CONSUMES_API, RELATION_API_CONSUMED_BY),
                depends_on,
                dependency_of,
                system,
            ),
            description="A software component: a unit of software with a distinct deployable or linkable artifact.",
        ),
        KindSpec(
            BACKSTAGE_API_VERSIONS,
            "API",
            API_SCHEMA,
            (owner, system),
            description="An interface exposed by a component (OpenAPI, AsyncAPI, GraphQL, gRPC, ...).",
        ),
        KindSpec(
            BACKSTAGE_API_VERSIONS,
            "Resource",
            RESOURCE_SCHEMA,
            (owner, depends_on, dependency_of, system),
            description="Infrastructure a system needs to operate: databases, buckets, clusters.",
        ),
        KindSpec(
            BACKSTAGE_API_VERSIONS,
            "System",
            SYSTEM_SCHEMA,
            (owner, RelationField("domain", "Domain", RELATION_PART_OF, RELATION_HAS_PART)),
            description="A collection of components, APIs and resources that together provide a capability.",
        ),
        KindSpec(
            BACKSTAGE_API_VERSIONS,
            "Domain",
            DOMAIN_SCHEMA,
            (owner, RelationField("subdomainOf", "Domain", RELATION_PART_OF, RELATION_HAS_PART)),
            description="A bounded context grouping systems.",
        ),
        KindSpec(
            BACKSTAGE_API_VERSIONS,
            "Group",
            GROUP_SCHEMA,
            (
                RelationField("parent", "Group", RELATION_CHILD_OF, RELATION_PARENT_OF),
                RelationField("children", "Group", RELATION_PARENT_OF, RELATION_CHILD_OF),
                RelationField("members", "User", RELATION_HAS_MEMBER, RELATION_MEMBER_OF),
            ),
            description="An organizational entity: a team, business unit or interest group.",
            trusted_only=True,
        ),
        KindSpec(
            BACKSTAGE_API_VERSIONS,
            "User",
            USER_SCHEMA,
            (RelationField("memberOf", "Group", RELATION_MEMBER_OF, RELATION_HAS_MEMBER),),
            description="A person.",
            trusted_only=True,
        ),
        KindSpec(
            BACKSTAGE_API_VERSIONS,
            "Location",
            LOCATION_SCHEMA,
            (),
            description="A marker that references other places to look for catalog data.",
        ),
        KindSpec(
            TEMPLATE_API_VERSIONS,
            "Template",
            TEMPLATE_SCHEMA,
            (owner,),
            _validate_template,
            description="A scaffolding task: the parameters it asks for and the steps it runs.",
            trusted_only=True,
        ),
        KindSpec(
            PAVED_API_VERSIONS,
            "Schedule",
            SCHEDULE_SCHEMA,
            (owner,),
            description="An on-call schedule.",
            trusted_only=True,
        ),
        KindSpec(
            PAVED_API_VERSIONS,
            "EscalationPolicy",
            ESCALATION_POLICY_SCHEMA,
            (owner,),
            description="Ordered escalation levels, each with a delay and schedules or users to page.",
            trusted_only=True,
        ),
        KindSpec(
            PAVED_API_VERSIONS,
            "Scorecard",
            SCORECARD_SCHEMA,
            (owner,),
            _validate_scorecard,
            description="Maturity levels and the checks an entity must pass to hold them.",
            trusted_only=True,
        ),
    ]
    for spec in builtins:
        register_kind(spec, replace_existing=True)


_register_builtins()
