"""`manage.py catalog import|refresh|validate|locations`: the catalog's locations from the command line."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog import selectors, services
from catalog.descriptors import DEFAULT_LIMITS, Issue, parse_file, resolve_relative
from catalog.locations import TYPES, fetch
from catalog.models import Location
from portal.exceptions import ApplicationError
from portal.permissions import SYSTEM


class Command(BaseCommand):
    help = "Register, refresh, list and validate catalog locations."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        imp = commands.add_parser("import", help="Register a file, glob, URL or git target; refresh it now.")
        imp.add_argument("target", metavar="PATH|URL", help="A path, an http(s) URL, or <repo>#<ref>:<path> for git.")
        imp.add_argument("--trusted", action="store_true", help="May declare Groups, Users, Templates, ...")
        imp.add_argument("--type", choices=TYPES, help="Location type (guessed from the target when left out).")
        refresh = commands.add_parser("refresh", help="Refresh one location (by id) or all of them, now.")
        which = refresh.add_mutually_exclusive_group(required=True)
        which.add_argument("location_id", nargs="?", metavar="LOCATION_ID")
        which.add_argument("--all", action="store_true")
        validate = commands.add_parser("validate", help="Parse and validate descriptor files; no database writes.")
        validate.add_argument("files", nargs="+", metavar="FILE")
        commands.add_parser("locations", help="List registered locations with their state.")

    def handle(self, *args: Any, **options: Any) -> None:
        handler = getattr(self, f"_{options['subcommand']}")
        handler(**options)

    # --- import ---------------------------------------------------------------------------------------

    def _import(self, *, target: str, trusted: bool, type: str | None, **_: Any) -> None:
        location_type = type or _guess_type(target)
        if location_type == "file":
            target = os.path.abspath(target)
        try:
            # The command line acts with the server's own authority (see portal.permissions).
            location = services.location_create(type=location_type, target=target, trusted=trusted, actor=SYSTEM)
            self.stdout.write(f"Registered {location.key} ({location.pk}){' as trusted' if trusted else ''}.")
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        except ApplicationError as exc:
            existing = selectors.location_get_by_target(type=location_type, target=target)
            if existing is None:
                raise CommandError(exc.message) from None
            location = existing
            self.stdout.write(f"{location.key} is already registered ({location.pk}); refreshing it.")
        self._refresh_one(location)

    # --- refresh --------------------------------------------------------------------------------------

    def _refresh(self, *, location_id: str | None, all: bool, **_: Any) -> None:
        if all:
            locations = list(selectors.location_list())
            if not locations:
                self.stdout.write("No locations are registered.")
            failed = [location for location in locations if not self._refresh_one(location)]
            if failed:
                raise CommandError(f"{len(failed)} of {len(locations)} locations have errors.")
            return
        try:
            pk = uuid.UUID(str(location_id))
        except ValueError:
            raise CommandError(f"{location_id!r} is not a location id (see `manage.py catalog locations`).") from None
        location = selectors.location_get(location_id=pk)
        if location is None:
            raise CommandError(f"No location with id {location_id}.")
        if not self._refresh_one(location):
            raise CommandError(f"{location.key} has errors.")

    def _refresh_one(self, location: Location) -> bool:
        self.stdout.write(f"Refreshing {location.key}")
        interactive = self.stdout.isatty()
        count = 0

        def progress(source: str) -> None:
            nonlocal count
            count += 1
            if interactive:
                self.stdout.write(f"\r  files read: {count}  {source[-60:]:<60}", ending="")
                self.stdout.flush()

        result = services.location_refresh(location=location, on_file=progress)
        if interactive:
            self.stdout.write("")
        applied = result.applied
        line = (
            f"  files read: {result.files_read}, entities created: {applied.created}, updated: {applied.updated}, "
            f"unchanged: {applied.unchanged}, orphaned: {applied.orphaned}, deleted: {applied.deleted}, "
            f"errors: {len(applied.errors)}"
        )
        self.stdout.write(self.style.WARNING(line) if applied.errors else self.style.SUCCESS(line))
        for error in applied.errors:
            self.stdout.write(f"  error: {error['message']}")
        return not applied.errors

    # --- validate -------------------------------------------------------------------------------------

    def _validate(self, *, files: list[str], **_: Any) -> None:
        issues: list[Issue] = []
        entities = 0
        for name in files:
            path = Path(name)
            try:
                if path.stat().st_size > DEFAULT_LIMITS.max_bytes:
                    raise CommandError(f"{name}: larger than {DEFAULT_LIMITS.max_bytes} bytes")
                data = path.read_bytes()
            except OSError as exc:
                raise CommandError(f"{name}: {exc.strerror or exc}") from None
            result = parse_file(data, file=name, resolver=_LocalResolver())
            entities += len(result.entities)
            issues.extend(result.issues)
        for issue in issues:
            self.stderr.write(issue.message)
        summary = f"{len(files)} files, {entities} valid entities, {len(issues)} issues"
        if issues:
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary))

    # --- locations ------------------------------------------------------------------------------------

    def _locations(self, **_: Any) -> None:
        locations = list(selectors.location_list())
        if not locations:
            self.stdout.write("No locations are registered.")
            return
        for location in locations:
            refreshed = location.last_refresh_at.isoformat(timespec="seconds") if location.last_refresh_at else "never"
            self.stdout.write(
                f"{location.pk}  {location.state:<7}  {'trusted' if location.trusted else 'untrusted':<9}  "
                f"{location.entity_count:>6} entities  {len(location.errors):>3} errors  refreshed {refreshed}  "
                f"{location.key}"
            )


def _guess_type(target: str) -> str:
    lowered = target.lower()
    if "#" in target or lowered.endswith(".git"):
        return "git"
    if lowered.startswith(("http://", "https://")):
        return "url"
    return "file"


class _LocalResolver:
    """Placeholders when validating locally: files next to the descriptor, URLs through the fetch guard."""

    def read(self, target: str, *, relative_to: str) -> bytes:
        resolved = resolve_relative(relative_to, target)
        if "://" in resolved:
            return fetch.fetch(resolved, max_bytes=DEFAULT_LIMITS.max_bytes)
        path = Path(resolved)
        if path.stat().st_size > DEFAULT_LIMITS.max_bytes:
            raise ValueError(f"larger than {DEFAULT_LIMITS.max_bytes} bytes")
        return path.read_bytes()
