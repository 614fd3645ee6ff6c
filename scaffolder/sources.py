"""Where a run finds its template's own files (skeletons): a folder on disk, or a tree of a git repository.

A Template read from a `file` location names its folder directly. One read from a `git` location
(`<repository>#<ref>:<path>`, as the demo templates are registered, tagged `v1.0.0`) names the tree beside its
`template.yaml` at that ref: the worker exports it once per run into `runs/<id>/template/` with `git archive`,
refusing links and anything that would land outside that folder, so every step reads the version the run began with.
"""

from __future__ import annotations

import io
import posixpath
import shutil
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from catalog.locations.base import LocationReadError
from catalog.locations.git import local_git_dir, parse_target, run_git

GIT_PREFIX: Final = "git:"
MAX_EXPORT_BYTES: Final = 50 * 1024 * 1024
_DONE: Final = ".paved-exported"


class TemplateSourceError(Exception):
    """The template's files cannot be had; the message says which source and why."""


def template_source(template: Mapping[str, Any]) -> str:
    """The template's files as a run records them: a folder path, `git:<repo>#<ref>:<folder>`, or ""."""
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    location = str(annotations.get("backstage.io/managed-by-location") or "")
    location = location or str(annotations.get("backstage.io/managed-by-origin-location") or "")
    kind, _, target = location.partition(":")
    if kind == "file" and target:
        return target.rsplit("/", 1)[0] if "/" in target else ""
    if kind == "dir" and target:
        return target.rstrip("/")
    if kind == "git" and target:
        try:
            parsed = parse_target(target)
        except LocationReadError:
            return ""
        folder = posixpath.dirname(parsed.path)
        return f"{GIT_PREFIX}{parsed.repo}#{parsed.ref}:{folder}"
    return ""


def template_tag(source: str) -> str:
    """A git source's ref when it is a version tag (`v1.2.0`, `1.2`, `refs/tags/v1.2.0` → `v1.2.0`), else ""."""
    if not source.startswith(GIT_PREFIX):
        return ""
    ref = source[len(GIT_PREFIX) :].partition("#")[2].partition(":")[0]
    bare = ref.removeprefix("refs/tags/")
    return bare if (bare[:1] == "v" and bare[1:2].isdigit()) or bare[:1].isdigit() else ""


def template_version(source: str) -> str:
    """The version of a git source read at a version tag (`…#v1.2.0:` → `1.2.0`), else ""."""
    return version_of_tag(template_tag(source))


def version_of_tag(tag: str) -> str:
    """The version a version tag names: `v1.2.0` → `1.2.0`, `1.2` → `1.2`."""
    return tag[1:] if tag[:1] == "v" and tag[1:2].isdigit() else tag


def template_origin(source: str) -> tuple[str, str, str]:
    """Where a template's files come from, for provenance: (repository or folder, git ref or "", folder in the
    repository or ""). `git:/var/paved/repos/templates/python-service.git#v1.0.0:` →
    (`/var/paved/repos/templates/python-service.git`, `v1.0.0`, "")."""
    if not source.startswith(GIT_PREFIX):
        return source, "", ""
    repo, _, rest = source[len(GIT_PREFIX) :].partition("#")
    ref, _, folder = rest.partition(":")
    return repo, ref.removeprefix("refs/tags/"), folder.strip("/")


def template_files(*, source: str, run_dir: Path) -> Path | None:
    """The folder holding the template's files for this run; a git tree is exported once into `run_dir/template`."""
    if not source:
        return None
    if not source.startswith(GIT_PREFIX):
        return Path(source)
    destination = run_dir / "template"
    if (destination / _DONE).is_file():
        return destination
    repo, _, rest = source[len(GIT_PREFIX) :].partition("#")
    ref, _, folder = rest.partition(":")
    try:
        target = parse_target(f"{repo}#{ref}:{folder or 'template.yaml'}")
        if target.remote:
            raise TemplateSourceError(f"{source}: templates are read from local repositories only")
        git_dir = local_git_dir(target)
        tree = f"{target.ref}:{folder}" if folder else f"{target.ref}:"
        archive = run_git(["archive", "--format=tar", "--end-of-options", tree], git_dir=git_dir)
    except LocationReadError as error:
        raise TemplateSourceError(f"{source}: {error}") from None
    if len(archive) > MAX_EXPORT_BYTES:
        raise TemplateSourceError(f"{source}: the template is larger than {MAX_EXPORT_BYTES} bytes")
    shutil.rmtree(destination, ignore_errors=True)
    destination.mkdir(parents=True)
    _extract(archive, destination, source=source)
    (destination / _DONE).write_text(source)
    return destination


def _extract(archive: bytes, destination: Path, *, source: str) -> None:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        for member in tar.getmembers():
            if not (member.isfile() or member.isdir()):
                raise TemplateSourceError(
                    f"{source}: {member.name} is a link or special file; templates may not hold one"
                )
        # The "data" filter refuses absolute paths, `..` and links on its own as well.
        tar.extractall(destination, filter="data")
