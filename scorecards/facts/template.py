"""Template facts `template.versions:<template ref>`: whether a Template of that ref is in the catalog (Templates come
from trusted locations only: that is what sanctions them) and its versions — the tags of the git repository it is
registered from (`git tag --list` on Paved's git host; the host's tags API for a repository on a GitHub or GitLab
host of `PAVED_SCM_INTEGRATIONS`, whether the Template was registered from a `git` location or from a `url` location
of a file in it), or for a Template read from a file (or from a URL on another host) its `paved.dev/template-version`
annotation.

When the repository cannot be read now, versions collected before are kept as they are (stale once too old); a
fact never collected records the error. Each template is read once per batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from catalog.models import Entity
from scorecards.engine.model import Fact
from scorecards.facts import git, hosts

PREFIX: Final = "template.versions:"
VERSION_ANNOTATION: Final = "paved.dev/template-version"


def _versions(entity: Entity) -> tuple[Any, str]:
    """(value, source) of one Template entity. Raises RepositoryError."""
    if entity.source.startswith("git:"):
        repository = git.repository_at(entity.source[4:], f"{entity.ref} is registered from")
        return {"exists": True, "versions": git.tags(repository)}, f"git:{repository.repo}#tags"
    hosted = _hosted_url(entity.source[4:]) if entity.source.startswith("url:") else None
    if hosted is not None:
        return {"exists": True, "versions": git.tags(hosted)}, f"git:{hosted.repo}#tags"
    metadata = entity.data.get("metadata") if isinstance(entity.data, Mapping) else None
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    version = annotations.get(VERSION_ANNOTATION) if isinstance(annotations, Mapping) else None
    versions = [str(version)] if isinstance(version, str | int | float) and str(version).strip() else []
    return {"exists": True, "versions": versions}, f"catalog:{entity.source or entity.ref}"


def _hosted_url(url: str) -> hosts.HostedRepository | None:
    """The repository of a Template file's URL on a configured GitHub or GitLab host (with a token), else None."""
    if not hosts.is_hosted_url(url) or hosts.host_of(url) not in hosts.integrations():
        return None
    try:
        return hosts.locate(url)
    except hosts.HostError:
        return None


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
