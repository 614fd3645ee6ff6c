"""The demo's sanctioned templates (portal/demo/templates/<name>/), loaded by `manage.py demo_setup` after the demo
organisation.

Templates live in git and are versioned by tags: each template folder becomes a bare repository
`$PAVED_VAR_DIR/repos/templates/<name>.git` on the embedded git host with one commit per version of its history
(portal/demo/template-history.yaml: the oldest version is the repository's first commit, each later version a commit
on `main` saying what it changed, each tagged, the latest `v1.0.0`), registered as a trusted `git` location
`<repository>#v1.0.0:template.yaml` (the Template kind is accepted only from trusted locations) and refreshed at once.
The folder is the latest version; an older one is the folder with the later versions' changes taken back
(`template_snapshot`), which is also what the demo services created from an older version are rendered from.

Idempotent: the repository is published once per template (a fixed idempotency key), existing tags and an existing
registration are kept, and unchanged files write nothing. A repository published before the history existed (its
latest tag but not its first) is left as it is.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

import yaml
from django.conf import settings

from catalog import services
from catalog.locations import reader_for
from catalog.models import Entity, Location
from portal.permissions import SYSTEM
from scaffolder.publishers import PublishError
from scaffolder.publishers.local import _Git, catalog_location_target, publish_local, repository_path

DEMO_TEMPLATES: Final = Path(settings.BASE_DIR) / "portal" / "demo" / "templates"
DEMO_HISTORY: Final = Path(settings.BASE_DIR) / "portal" / "demo" / "template-history.yaml"
TEMPLATES_OWNER: Final = "templates"
TEMPLATE_VERSION: Final = "v1.0.0"
AUTHOR: Final = ("Paved", "paved@localhost.localdomain")
GIT_TIMEOUT: Final = 60


class DemoTemplateError(Exception):
    """A demo template's history that cannot be applied; the message names the template, version and file."""


@dataclass(frozen=True, slots=True)
class Version:
    """One version of a template: its tag, what it changed and how (`(path, old, new)` text replacements in the
    template folder)."""

    tag: str
    message: str
    replace: tuple[tuple[str, str, str], ...] = ()

    def commit_message(self, name: str) -> str:
        return f"{name} {self.tag}: {self.message}" if self.message else f"{name} {self.tag}"


def template_history(name: str, *, source: Path = DEMO_HISTORY) -> list[Version]:
    """The versions of template `name`, oldest first; a template the history does not list has only
    TEMPLATE_VERSION. Raises DemoTemplateError for an entry that is not a list of versions ending at
    TEMPLATE_VERSION."""
    data: Any = yaml.safe_load(source.read_text(encoding="utf-8")) if source.is_file() else None
    entries = data.get(name) if isinstance(data, Mapping) else None
    if entries is None:
        return [Version(TEMPLATE_VERSION, "")]
    where = f"{source.name}: {name}"
    if not isinstance(entries, list) or not entries:
        raise DemoTemplateError(f"{where}: expected a list of versions, oldest first")
    versions: list[Version] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("version"), str):
            raise DemoTemplateError(f"{where}[{index}]: a version needs `version` (a tag such as v1.0.0)")
        tag = entry["version"]
        if not tag.startswith("v") or not all(part.isdigit() for part in tag[1:].split(".")):
            raise DemoTemplateError(f"{where}[{index}]: {tag!r} is not a version tag such as v1.0.0")
        if any(version.tag == tag for version in versions):
            raise DemoTemplateError(f"{where}[{index}]: {tag} is listed twice")
        replacements: list[tuple[str, str, str]] = []
        for change in entry.get("replace") or []:
            if not isinstance(change, Mapping) or not all(
                isinstance(change.get(k), str) for k in ("path", "old", "new")
            ):
                raise DemoTemplateError(f"{where} {tag}: a replacement needs path, old and new text")
            replacements.append((change["path"], change["old"], change["new"]))
        versions.append(Version(tag, str(entry.get("message") or ""), tuple(replacements)))
    if versions[-1].tag != TEMPLATE_VERSION:
        raise DemoTemplateError(f"{where}: the last version must be {TEMPLATE_VERSION}, the one the folder holds")
    return versions


def template_snapshot(folder: Path, history: list[Version], tag: str, destination: Path) -> Path:
    """Copy the template `folder` (its latest version) to `destination` as it was at `tag`: the changes of every
    later version taken back, newest first (each `new` text must be in its file exactly once). Returns
    `destination`. Raises DemoTemplateError."""
    tags = [version.tag for version in history]
    if tag not in tags:
        raise DemoTemplateError(f"{folder.name}: no version {tag} (versions: {', '.join(tags)})")
    shutil.copytree(folder, destination, symlinks=True)
    root = destination.resolve()
    for version in reversed(history[tags.index(tag) + 1 :]):
        for relative, old, new in version.replace:
            path = (destination / relative).resolve()
            if root not in path.parents or not path.is_file():
                raise DemoTemplateError(f"{folder.name} {version.tag}: {relative!r} is not a file of the template")
            text = path.read_text(encoding="utf-8")
            if text.count(new) != 1:
                raise DemoTemplateError(
                    f"{folder.name} {version.tag}: {relative} must contain the changed text exactly once, found "
                    f"{text.count(new)}: {new!r}"
                )
            path.write_text(text.replace(new, old), encoding="utf-8")
    return destination


def load(*, stdout: TextIO) -> list[Location]:
    return templates_load(stdout=stdout)


def templates_load(*, stdout: TextIO, source: Path = DEMO_TEMPLATES, history: Path | None = None) -> list[Location]:
    """Publish each template folder under `source` to the embedded git host with its history (`history`, by default
    `template-history.yaml` beside `source`), tag each version and register the latest as trusted."""
    history_file = history if history is not None else source.parent / DEMO_HISTORY.name
    repos_root = Path(settings.VAR_DIR) / "repos"
    locations: list[Location] = []
    folders = sorted(path for path in source.iterdir() if (path / "template.yaml").is_file()) if source.is_dir() else []
    for folder in folders:
        versions = template_history(folder.name, source=history_file)
        with tempfile.TemporaryDirectory(prefix="paved-demo-template-") as scratch:
            first = template_snapshot(folder, versions, versions[0].tag, Path(scratch) / versions[0].tag)
            published = publish_local(
                repos_root=repos_root,
                owner=TEMPLATES_OWNER,
                repo=folder.name,
                workspace=first,
                author_name=AUTHOR[0],
                author_email=AUTHOR[1],
                message=versions[0].commit_message(folder.name),
                # One key per template: a second demo_setup finds the repository it published.
                idempotency_key=f"paved-demo-template:{folder.name}",
            )
        repository = repository_path(repos_root, TEMPLATES_OWNER, folder.name)
        _publish_history(repository, folder, versions, published.commit_hash, stdout)
        target = catalog_location_target(
            repos_root, TEMPLATES_OWNER, folder.name, "template.yaml", ref=TEMPLATE_VERSION
        )
        location = Location.objects.filter(type=Location.Type.GIT, target=reader_for("git").normalise(target)).first()
        if location is None:
            location = services.location_create(type="git", target=target, trusted=True, actor=SYSTEM)
            stdout.write(f"Registered the demo template {folder.name} {TEMPLATE_VERSION}: {location.key}\n")
        result = services.location_refresh(location=location)
        for error in result.applied.errors:
            stdout.write(f"  error: {error['message']}\n")
        locations.append(location)
    count = Entity.objects.filter(location__in=locations, kind="Template").count()
    stdout.write(f"Demo templates: {count} templates from {len(folders)} repositories.\n")
    return locations


def _publish_history(repository: Path, folder: Path, history: list[Version], first: str, stdout: TextIO) -> None:
    """Tag the first commit with the first version, then commit and tag each later version on `main`; versions
    already tagged are kept."""
    with _Git(GIT_TIMEOUT) as git:
        tagged = {version.tag: _tag_commit(git, repository, version.tag) for version in history}
        if tagged[history[0].tag] is None and any(tagged.values()):
            stdout.write(
                f"  note: {repository} was published before the template's history; remove it to publish "
                f"{', '.join(version.tag for version in history)}\n"
            )
            return
        parent = first
        for index, version in enumerate(history):
            commit = tagged[version.tag]
            if commit is None:
                commit = first if index == 0 else _commit_version(git, repository, folder, history, version, parent)
                git.run(["update-ref", "--end-of-options", f"refs/tags/{version.tag}", commit, ""], git_dir=repository)
            parent = commit


def _tag_commit(git: _Git, repository: Path, tag: str) -> str | None:
    try:
        found = git.run(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"refs/tags/{tag}^{{commit}}"], git_dir=repository
        )
    except PublishError:
        return None
    return found.strip() or None


def _commit_version(
    git: _Git, repository: Path, folder: Path, history: list[Version], version: Version, parent: str
) -> str:
    """A commit of the template at `version` whose parent is `parent`, moved onto `main` (only from `parent`)."""
    identity = {
        "GIT_AUTHOR_NAME": AUTHOR[0],
        "GIT_AUTHOR_EMAIL": AUTHOR[1],
        "GIT_COMMITTER_NAME": AUTHOR[0],
        "GIT_COMMITTER_EMAIL": AUTHOR[1],
    }
    with tempfile.TemporaryDirectory(prefix="paved-demo-template-") as scratch:
        snapshot = template_snapshot(folder, history, version.tag, Path(scratch) / "tree")
        index = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        git.run(["add", "--all"], git_dir=repository, work_tree=snapshot.resolve(), extra_env=index)
        tree = git.run(["write-tree"], git_dir=repository, extra_env=index).strip()
    message = f"{version.commit_message(folder.name)}\n".encode()
    commit = git.run(
        ["commit-tree", "-p", parent, "-F", "-", "--end-of-options", tree],
        git_dir=repository,
        extra_env=identity,
        stdin=message,
    ).strip()
    git.run(["update-ref", "--end-of-options", "refs/heads/main", commit, parent], git_dir=repository)
    return commit
