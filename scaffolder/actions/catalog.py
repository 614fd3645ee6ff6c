"""`catalog:register` and `catalog:write`: the new repository's `catalog-info.yaml` enters the catalog.

Unlike the other actions these are not pure: `catalog:register` registers and refreshes a catalog location through
the catalog's services, so the entity is in the catalog when the step ends.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import yaml
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from portal.exceptions import ApplicationError
from portal.permissions import SYSTEM, Actor

from ._files import confined_relative, string_input
from .base import ActionContext, ActionError

if TYPE_CHECKING:
    from catalog.models import Entity, Location

DEFAULT_CATALOG_INFO_PATH: Final = "/catalog-info.yaml"
DRY_RUN_ENTITY_REF: Final = "component:default/dry-run"
DRY_RUN_LOCATION_ID: Final = "00000000-0000-0000-0000-000000000000"


def _actor(ctx: ActionContext) -> Actor:
    """The requester's Django user: the one active user with the requester's email, else the active user whose
    username is `user_name` and whose email matches too (the engine passes the full name when there is one); the
    system when there is none (a run started by the command line, or a requester removed since)."""
    users = get_user_model().objects.filter(is_active=True)
    by_email = list(users.filter(email__iexact=ctx.user_email)[:2]) if ctx.user_email else []
    if len(by_email) == 1:
        return by_email[0]
    user = users.filter(username=ctx.user_name, email=ctx.user_email).first()
    return user if user is not None else SYSTEM


class CatalogRegister:
    """Registers `<repoContentsUrl><catalogInfoPath>` (or `catalogInfoUrl`) as a `git` location of the catalog, as
    the requester (found by email or username, see `_actor`; the system if Paved has no such user), and refreshes it
    within the step.

    Idempotent: a location already registered for that target is reused and refreshed again."""

    id = "catalog:register"
    description = "Registers the new repository's catalog-info.yaml in the catalog and reads it at once."
    input_schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "anyOf": [{"required": ["repoContentsUrl"]}, {"required": ["catalogInfoUrl"]}],
        "properties": {
            "repoContentsUrl": {
                "type": "string",
                "description": "The repository contents, as publish:git outputs them (<repository>#<branch>:).",
            },
            "catalogInfoPath": {
                "type": "string",
                "description": "The descriptor's path in the repository (default /catalog-info.yaml).",
            },
            "catalogInfoUrl": {
                "type": "string",
                "description": "The whole git location target (<repository>#<ref>:<path>), instead of the two above.",
            },
            "optional": {
                "type": "boolean",
                "description": "Let the step succeed when the location cannot be registered or read.",
            },
        },
    }
    output_schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "entityRef": {"type": "string"},
            "catalogInfoUrl": {"type": "string"},
            "locationId": {"type": "string"},
        },
    }

    def run(self, ctx: ActionContext) -> dict[str, Any]:
        target = _target(ctx)
        optional = ctx.input.get("optional") is True
        # Imported here: the actions package is imported by the run engine, possibly before the catalog's models load.
        from catalog import services

        if ctx.dry_run:
            ctx.log(f"catalog:register (dry run) would register {target}")
            return {"entityRef": DRY_RUN_ENTITY_REF, "catalogInfoUrl": target, "locationId": DRY_RUN_LOCATION_ID}
        try:
            location = _location(ctx, target)
            result = services.location_refresh(location=location)
        except ActionError as error:
            if optional:
                ctx.log(f"catalog:register: {error.message} (optional, so the run goes on)")
                return {"catalogInfoUrl": target}
            raise
        errors = result.applied.errors
        for problem in errors:
            ctx.log(f"catalog:register: {problem.get('message', problem)}")
        entity = _first_entity(location)
        if entity is None:
            message = f"catalog:register: {target} holds no entity the catalog accepted"
            if optional:
                ctx.log(f"{message} (optional, so the run goes on)")
                return {"catalogInfoUrl": target, "locationId": str(location.pk)}
            raise ActionError("catalog", message)
        ctx.log(f"catalog:register: {entity.ref} is in the catalog (location {location.pk})")
        return {"entityRef": entity.ref, "catalogInfoUrl": target, "locationId": str(location.pk)}


def _target(ctx: ActionContext) -> str:
    url = string_input(ctx.input, "catalogInfoUrl", "")
    if url:
        return url.strip()
    contents = string_input(ctx.input, "repoContentsUrl", "").strip()
    path = string_input(ctx.input, "catalogInfoPath", DEFAULT_CATALOG_INFO_PATH) or DEFAULT_CATALOG_INFO_PATH
    if not contents:
        raise ActionError("input", "catalog:register: repoContentsUrl or catalogInfoUrl is required")
    relative = confined_relative(path.lstrip("/"), "catalogInfoPath").as_posix()
    if relative == ".":
        raise ActionError("input", f"catalog:register: catalogInfoPath {path!r} must name a file")
    if not contents.endswith(":"):
        # A repository without `#<ref>:`: its default branch, as publish:git creates it.
        contents = f"{contents}#HEAD:" if "#" not in contents else f"{contents}:"
    return f"{contents}{relative}"


def _location(ctx: ActionContext, target: str) -> Location:
    from catalog import services
    from catalog.locations import LocationReadError, reader_for
    from catalog.models import Location

    try:
        location = services.location_create(type="git", target=target, actor=_actor(ctx))
    except ValidationError as error:
        messages = "; ".join(str(message) for message in error.messages)
        raise ActionError("input", f"catalog:register: {target}: {messages}") from None
    except ApplicationError as error:
        # Registered before (a retried step, or the same file twice): reuse it.
        try:
            normalised = reader_for("git").normalise(target)
        except LocationReadError:
            normalised = target
        existing = Location.objects.filter(type="git", target=normalised).first()
        if existing is None:
            raise ActionError("catalog", f"catalog:register: {error}") from None
        ctx.log(f"catalog:register: {existing.key} is already registered; reading it again")
        return existing
    ctx.log(f"catalog:register: registered {location.key}")
    return location


def _first_entity(location: Location) -> Entity | None:
    from catalog.models import Entity

    entities = Entity.objects.filter(location=location).exclude(kind="Location").order_by("created_at", "ref")
    return entities.filter(kind="Component").first() or entities.first()


class CatalogWrite:
    """Writes `entity` as YAML to `filePath` (default catalog-info.yaml) inside the workspace."""

    id = "catalog:write"
    description = "Writes a catalog entity as YAML into the workspace (catalog-info.yaml by default)."
    input_schema: dict[str, Any] = {
        "type": "object",
        "required": ["entity"],
        "additionalProperties": False,
        "properties": {
            "entity": {"type": "object", "description": "The entity to write."},
            "filePath": {"type": "string", "description": "Where in the workspace (default catalog-info.yaml)."},
        },
    }
    output_schema: dict[str, Any] = {"type": "object", "properties": {}}

    def run(self, ctx: ActionContext) -> dict[str, Any]:
        file_path = string_input(ctx.input, "filePath", "catalog-info.yaml") or "catalog-info.yaml"
        relative = confined_relative(file_path, "filePath")
        if not relative.parts:
            raise ActionError("input", f"catalog:write: filePath {file_path!r} must name a file")
        entity = ctx.input.get("entity")
        if not isinstance(entity, dict):
            raise ActionError("input", "catalog:write: entity must be an object")
        root = Path(ctx.workspace).resolve()
        destination = root.joinpath(*relative.parts)
        for index in range(1, len(relative.parts) + 1):
            step = root.joinpath(*relative.parts[:index])
            if step.is_symlink() or (index < len(relative.parts) and step.exists() and not step.is_dir()):
                raise ActionError("unsafe", f"catalog:write: filePath {file_path!r} leads through {step.name}")
        if destination.is_dir():
            raise ActionError("unsafe", f"catalog:write: {relative.as_posix()} is a directory")
        text = yaml.safe_dump(entity, sort_keys=False, allow_unicode=True)
        if ctx.dry_run:
            ctx.log(f"catalog:write (dry run) writes {relative.as_posix()}")
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(text, encoding="utf-8")
        ctx.log(f"catalog:write wrote {relative.as_posix()}")
        return {}
