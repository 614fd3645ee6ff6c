"""Repositories as the repository and template collectors read them: which repository an entity lives in, its head
commit, files and tags.

On Paved's own git host, as git blobs — git run by `catalog.locations.git.run_git` (argument lists,
`--end-of-options`, hooks and foreign protocols off, a timeout), repositories confined to the repository roots
(`catalog.locations.git.local_git_dir`). On a GitHub or GitLab host of `PAVED_SCM_INTEGRATIONS`, through the host's
REST API (`scorecards.facts.hosts`). Both give the same shapes and the same fact sources.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from django.conf import settings

from catalog.locations.base import LocationReadError
from catalog.locations.git import GitTarget, local_git_dir, parse_target, run_git
from scaffolder.publishers import PublishError
from scaffolder.publishers.local import HOST as EMBEDDED_HOST
from scaffolder.publishers.local import parse_local_repo_url, repository_path
from scorecards.facts import hosts
from scorecards.facts.hosts import HostedRepository

SOURCE_LOCATION: Final = "backstage.io/source-location"
MANAGED_BY_LOCATION: Final = "backstage.io/managed-by-location"
GIT_TIMEOUT_SECONDS: Final = 20.0
#: Files larger than this are not read at all (their text is recorded as "", cut to nothing).
MAX_BLOB_BYTES: Final = 4 * 1024 * 1024
#: The text kept of a file, in characters; longer files are cut and marked truncated.
MAX_TEXT_CHARS: Final = 256 * 1024
_SOURCE: Final = re.compile(r"^git:(?P<repo>[^#]+)#(?P<ref>[^@#]+)@(?P<commit>[0-9a-f]{40,64}):(?P<path>.*)$", re.S)


class RepositoryError(Exception):
    """The entity's repository cannot be read; the message says why, for people. `host` names a GitHub or GitLab
    host that is failing as a whole (see `hosts.HostError`), "" otherwise."""

    def __init__(self, message: str, *, host: str = "") -> None:
        super().__init__(message)
        self.host = host


@dataclass(frozen=True, slots=True)
class Repository:
    """A local repository and the ref whose head is read (`HEAD`: the default branch)."""

    repo: str
    ref: str
    git_dir: str

    @property
    def key(self) -> str:
        return f"{self.repo}#{self.ref}"

    def source(self, commit: str, path: str) -> str:
        return f"git:{self.repo}#{self.ref}@{commit}:{path}"


@dataclass(frozen=True, slots=True)
class SourceParts:
    repo: str
    ref: str
    commit: str
    path: str

    @property
    def key(self) -> str:
        return f"{self.repo}#{self.ref}"


#: A repository the collectors read: on Paved's git host, or on a configured GitHub or GitLab host.
AnyRepository = Repository | HostedRepository


def parse_source(source: str) -> SourceParts | None:
    """The parts of a fact source `git:<repo>#<ref>@<commit>:<path>`, None for any other source."""
    match = _SOURCE.match(source)
    return SourceParts(match["repo"], match["ref"], match["commit"], match["path"]) if match else None


def _annotations(data: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = data.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    return annotations if isinstance(annotations, Mapping) else {}


def _embedded_target(value: str, what: str) -> GitTarget:
    """`local?owner=<owner>&repo=<repo>[#<ref>]`, the scaffolder's name of a repository on Paved's own git host
    (`$PAVED_VAR_DIR/repos/<owner>/<repo>.git`): it stays right wherever the var directory lies."""
    text, _, ref = value.strip().partition("#")
    try:
        local = parse_local_repo_url(text)
        path = repository_path(Path(settings.VAR_DIR) / "repos", local.owner, local.repo)
    except PublishError as error:
        raise RepositoryError(f"{what} {value!r}: {error.message}") from None
    try:
        return parse_target(f"{path}#{ref or 'HEAD'}")
    except LocationReadError as error:
        raise RepositoryError(f"{what} {value!r}: {error}") from None


def _hosted(url: str, ref: str, what: str) -> HostedRepository:
    try:
        return hosts.locate(url, ref)
    except hosts.HostError as error:
        raise RepositoryError(f"{what} {hosts.redacted(url)!r}: {error}") from None


def _local_target(value: str, what: str) -> GitTarget | HostedRepository:
    """A repository from `<path>[#<ref>]`, `file://<path>[#<ref>]` or the embedded host's
    `local?owner=<owner>&repo=<repo>[#<ref>]`, or a web URL of a repository on a configured GitHub or GitLab host
    (`https://<host>/<project>[/tree/<ref>/][#<ref>]`); other remote hosts are refused."""
    text = value.strip()
    lowered = text.lower()
    if lowered.startswith(f"{EMBEDDED_HOST}?"):
        return _embedded_target(text, what)
    if hosts.is_hosted_url(text):
        url, _, ref = text.partition("#")
        return _hosted(url, ref, what)
    if lowered.startswith("file://"):
        text = unquote(urlsplit(text.split("#", 1)[0]).path) + ("#" + text.split("#", 1)[1] if "#" in text else "")
    elif "://" in lowered or lowered.startswith(("git@", "ssh:")):
        host = urlsplit(text).hostname or text.split("@", 1)[-1].split(":", 1)[0]
        raise RepositoryError(
            f"{what} {hosts.redacted(text)!r}: repositories on {host} are read through the host's API: name the "
            "repository by its https:// URL (url:https://<host>/<project>) on a host of PAVED_SCM_INTEGRATIONS"
        )
    repo, _, ref = text.partition("#")
    repo = repo.rstrip("/") or repo
    try:
        return parse_target(f"{repo}#{ref or 'HEAD'}")
    except LocationReadError as error:
        raise RepositoryError(f"{what} {value!r}: {error}") from None


def repository_target(data: Mapping[str, Any]) -> GitTarget | HostedRepository:
    """Where the entity's repository is: `backstage.io/source-location` (`url:` or `git:` with a path or `file://`
    URL on Paved's git host, or an https URL on a configured GitHub or GitLab host, optionally `#<ref>`), else the git
    location it was registered from (what the scaffolder's `catalog:register` does for a new service), or the `url`
    location of a file in a repository on a configured GitHub or GitLab host.
    Raises RepositoryError saying what is missing or refused."""
    annotations = _annotations(data)
    source_location = annotations.get(SOURCE_LOCATION)
    if isinstance(source_location, str) and source_location.strip():
        kind, _, target = source_location.strip().partition(":")
        if kind not in ("url", "git") or not target:
            raise RepositoryError(f"{SOURCE_LOCATION} {source_location!r} must be url:<repository> or git:<repository>")
        return _local_target(target, SOURCE_LOCATION)
    managed = annotations.get(MANAGED_BY_LOCATION)
    if isinstance(managed, str) and managed.startswith("git:"):
        target = managed[4:].strip()
        if hosts.is_hosted_url(target):
            url, _, rest = target.partition("#")
            return _hosted(url, rest.partition(":")[0], MANAGED_BY_LOCATION)
        try:
            return parse_target(target)
        except LocationReadError as error:
            raise RepositoryError(f"{MANAGED_BY_LOCATION} {managed!r}: {error}") from None
    if (
        isinstance(managed, str)
        and managed.startswith("url:")
        and hosts.is_hosted_url(managed[4:])
        and hosts.host_of(managed[4:]) in hosts.integrations()
    ):
        # A descriptor read from a file of a GitHub or GitLab repository: that repository, at the ref of the URL.
        return _hosted(managed[4:], "", MANAGED_BY_LOCATION)
    raise RepositoryError(
        f"no repository is known for this entity: set the annotation {SOURCE_LOCATION} "
        "(url:local?owner=<team>&repo=<name> on Paved's git host, or url:https://<host>/<project> on a GitHub or "
        "GitLab host of PAVED_SCM_INTEGRATIONS)"
    )


def open_repository(target: GitTarget | HostedRepository) -> AnyRepository:
    """The repository's git directory, confined to the repository roots, or the hosted repository an https target
    names. Raises RepositoryError."""
    if isinstance(target, HostedRepository):
        return target
    if hosts.is_hosted_url(target.repo):
        return _hosted(target.repo, target.ref, "repository")
    try:
        return Repository(target.repo, target.ref, local_git_dir(target))
    except LocationReadError as error:
        raise RepositoryError(str(error)) from None


def repository_at(target: str, what: str = "repository") -> AnyRepository:
    """The repository `<repository>[#<ref>[:<path>]]` names, as fact sources and git locations write it: a local
    repository (checked as `catalog.locations.git.parse_target` checks it), or one on a configured GitHub or GitLab
    host read through its API. Raises RepositoryError."""
    text = target.strip()
    if hosts.is_hosted_url(text):
        url, _, rest = text.partition("#")
        return _hosted(url, rest.partition(":")[0], what)
    try:
        return open_repository(parse_target(text))
    except LocationReadError as error:
        raise RepositoryError(f"{what} {text!r}: {error}") from None


def head_commit(repository: AnyRepository) -> str:
    """The commit the repository's ref points at. Raises RepositoryError."""
    if isinstance(repository, HostedRepository):
        try:
            return hosts.head_commit(repository)
        except hosts.HostError as error:
            raise RepositoryError(str(error), host=error.host) from None
    try:
        out = run_git(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{repository.ref}^{{commit}}"],
            git_dir=repository.git_dir,
            timeout=GIT_TIMEOUT_SECONDS,
        )
    except LocationReadError as error:
        raise RepositoryError(f"{repository.key}: {error or 'the ref does not name a commit'}") from None
    commit = out.decode().strip()
    if not re.fullmatch(r"[0-9a-f]{40,64}", commit):
        raise RepositoryError(f"{repository.key}: the ref does not name a commit")
    return commit


def safe_path(path: str) -> str | None:
    """The path relative to the repository root, or None when it is not one (absolute, `..`, control characters)."""
    if not path or any(ch in path for ch in "\x00\n\r\\") or path.startswith("/"):
        return None
    normalised = posixpath.normpath(path)
    if normalised in (".", "") or normalised.startswith("../") or normalised == "..":
        return None
    return normalised


def read_files(repository: AnyRepository, commit: str, paths: list[str]) -> dict[str, dict[str, Any]]:
    """`{path: {"exists", "text", "truncated"}}` for paths at `commit` (one `ls-tree`, then one `cat-file` per text
    file; on a hosted repository one or two API requests per file). Symbolic links and submodules exist but have no
    text; binary files (a NUL byte, or not UTF-8) have none either; files over MAX_BLOB_BYTES are not read (text "",
    truncated). Raises RepositoryError when git or the host fails."""
    if not paths:
        return {}
    if isinstance(repository, HostedRepository):
        try:
            return hosts.read_files(repository, commit, paths, max_bytes=MAX_BLOB_BYTES, text=_text)
        except hosts.HostError as error:
            raise RepositoryError(str(error), host=error.host) from None
    try:
        listing = run_git(
            ["ls-tree", "-l", "-z", "--full-tree", "--end-of-options", commit, "--", *paths],
            git_dir=repository.git_dir,
            timeout=GIT_TIMEOUT_SECONDS,
        )
    except LocationReadError as error:
        raise RepositoryError(f"{repository.key}@{commit[:12]}: {error}") from None
    entries: dict[str, tuple[str, str, str, str]] = {}
    for record in listing.decode("utf-8", errors="replace").split("\0"):
        meta, _, name = record.partition("\t")
        parts = meta.split()
        if len(parts) == 4:
            entries[name] = (parts[0], parts[1], parts[2], parts[3])
    found: dict[str, dict[str, Any]] = {}
    for path in paths:
        entry = entries.get(path)
        if entry is None or entry[1] == "tree":
            found[path] = {"exists": False, "text": None, "truncated": False}
            continue
        mode, kind, sha, size = entry
        if kind != "blob" or mode == "120000":
            found[path] = {"exists": True, "text": None, "truncated": False}
            continue
        if not size.isdigit() or int(size) > MAX_BLOB_BYTES:
            found[path] = {"exists": True, "text": "", "truncated": True}
            continue
        try:
            blob = run_git(
                ["cat-file", "blob", "--end-of-options", sha], git_dir=repository.git_dir, timeout=GIT_TIMEOUT_SECONDS
            )
        except LocationReadError as error:
            raise RepositoryError(f"{repository.key}@{commit[:12]}:{path}: {error}") from None
        found[path] = _text(blob)
    return found


def _text(blob: bytes) -> dict[str, Any]:
    if b"\0" in blob[:8192]:
        return {"exists": True, "text": None, "truncated": False}
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        return {"exists": True, "text": None, "truncated": False}
    if len(text) > MAX_TEXT_CHARS:
        return {"exists": True, "text": text[:MAX_TEXT_CHARS], "truncated": True}
    return {"exists": True, "text": text, "truncated": False}


def tags(repository: AnyRepository) -> list[str]:
    """The repository's tag names (`git tag --list`, or the host's tags API), sorted. Raises RepositoryError."""
    if isinstance(repository, HostedRepository):
        try:
            return hosts.tags(repository)
        except hosts.HostError as error:
            raise RepositoryError(str(error), host=error.host) from None
    try:
        out = run_git(["tag", "--list"], git_dir=repository.git_dir, timeout=GIT_TIMEOUT_SECONDS)
    except LocationReadError as error:
        raise RepositoryError(f"{repository.key}: {error}") from None
    return sorted(line.strip() for line in out.decode("utf-8", errors="replace").splitlines() if line.strip())
