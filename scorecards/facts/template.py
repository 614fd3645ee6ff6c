"""Template facts `template.versions:<template ref>`: whether a Template of that ref is in the catalog (Templates come
from trusted locations only: that is what sanctions them) and its versions — the tags of the git repository it is
registered from (`git tag --list`), or for a Template read from a file its `paved.dev/template-version` annotation.

When the repository cannot be read now, versions collected before are kept as they are (stale once too old); a
fact never collected records the error. Each template is read once per batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from catalog.locations.base import LocationReadError
from catalog.locations.git import parse_target
from catalog.models import Entity
from scorecards.engine.model import Fact
from scorecards.facts import git

PREFIX: Final = "template.versions:"
VERSION_ANNOTATION: Final = "paved.dev/template-version"


def _versions(entity: Entity) -> tuple[Any, str]:
    """(value, source) of one Template entity. Raises RepositoryError."""
    if entity.source.startswith("git:"):
        try:
            target = parse_target(entity.source[4:])
        except LocationReadError as error:
            raise git.RepositoryError(f"{entity.ref} is registered from {entity.source!r}: {error}") from None
        repository = git.open_repository(target)
        return {"exists": True, "versions": git.tags(repository)}, f"git:{repository.repo}#tags"
    metadata = entity.data.get("metadata") if isinstance(entity.data, Mapping) else None
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    version = annotations.get(VERSION_ANNOTATION) if isinstance(annotations, Mapping) else None
    versions = [str(version)] if isinstance(version, str | int | float) and str(version).strip() else []
    return {"exists": True, "versions": versions}, f"catalog:{entity.source or entity.ref}"


def collect(
    wanted: Mapping[str, set[str]], now: datetime, stored: Mapping[str, Mapping[str, Fact]]
) -> dict[str, list[Fact]]:
    refs = {key[len(PREFIX) :] for keys in wanted.values() for key in keys}
    templates = {
        entity.ref: entity
        for entity in Entity.objects.filter(ref__in=sorted(refs), kind__iexact="template").only("ref", "data", "source")
    }
    computed: dict[str, tuple[Any, str] | git.RepositoryError] = {}
    for ref in refs:
        entity = templates.get(ref)
        if entity is None:
            computed[ref] = ({"exists": False, "versions": []}, "catalog")
            continue
        try:
            computed[ref] = _versions(entity)
        except git.RepositoryError as error:
            computed[ref] = error
    out: dict[str, list[Fact]] = {}
    for entity_ref, keys in wanted.items():
        facts = out.setdefault(entity_ref, [])
        for key in sorted(keys):
            found = computed[key[len(PREFIX) :]]
            if isinstance(found, git.RepositoryError):
                old = stored.get(entity_ref, {}).get(key)
                facts.append(old if old is not None and old.error is None else Fact(key, None, "git", now, str(found)))
            else:
                facts.append(Fact(key, found[0], found[1], now))
    return out
