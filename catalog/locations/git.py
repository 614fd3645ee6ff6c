"""`git` locations: descriptor files read as blobs from a bare repository, never a checkout.

Target syntax: `<repository>[#<ref>[:<path>]]`, defaulting to `HEAD:catalog-info.yaml`, where the repository is
an absolute path to a local repository (under PAVED_CATALOG_FILE_ROOTS or VAR_DIR/repos) or an https URL on an
allowed host (same address rules as `url` locations). Examples:
`/srv/git/payments.git#main:catalog-info.yaml`, `https://git.example.com/acme/payments.git#v1.2:catalog/all.yaml`.
Location entities inside such a file name other files of the same repository and ref by path (relative to the
file, or absolute from the repository root); http(s) targets stay what they are.

Remote repositories are fetched shallow and blob-less (`--depth=1 --filter=blob:none --no-tags`) into a cache under
VAR_DIR, and only the blobs read are downloaded. git always runs with an argument list, `--end-of-options` before
positionals, hooks off, only the https and file protocols, no prompts, no user or system config and a timeout.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import os
import posixpath
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from django.conf import settings

from catalog.descriptors import DEFAULT_LIMITS, Limits, LocationTarget, ParseResult, parse_file, resolve_relative
from catalog.descriptors.errors import IssueCode

from . import fetch
from .base import GuardedResolver, LocationReadError
from .file import file_roots, is_under_roots

DEFAULT_REF: Final = "HEAD"
DEFAULT_PATH: Final = "catalog-info.yaml"
_REF: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,199}$")
_SAFE_CONFIG: Final = (
    "-c", "core.hooksPath=/dev/null",
    "-c", "protocol.allow=never",
    "-c", "protocol.https.allow=always",
    "-c", "protocol.file.allow=always",
    "-c", "core.fsmonitor=false",
    "-c", "credential.helper=",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class GitTarget:
    repo: str
    ref: str = DEFAULT_REF
    path: str = DEFAULT_PATH

    @property
    def remote(self) -> bool:
        return self.repo.lower().startswith("https://")

    def __str__(self) -> str:
        return f"{self.repo}#{self.ref}:{self.path}"


def parse_target(target: str) -> GitTarget:
    """Split and check `<repository>[#<ref>[:<path>]]`; anything that could reach git as an option is refused."""
    text = target.strip()
    repo, _, rest = text.partition("#")
    ref, _, path = rest.partition(":")
    ref = ref or DEFAULT_REF
    path = path or DEFAULT_PATH
    if not repo:
        raise LocationReadError(f"{target}: a git location needs a repository (path or https URL)")
    if repo.startswith("-") or ref.startswith("-") or path.startswith("-"):
        raise LocationReadError(f"{target}: repository, ref and path must not start with '-'")
    if any(char in text for char in "\x00\n\r\t "):
        raise LocationReadError(f"{target}: a git target must not contain whitespace or control characters")
    if not _REF.match(ref) or ".." in ref or ref.endswith((".lock", "/", ".")) or "//" in ref:
        raise LocationReadError(f"{target}: {ref!r} is not a valid git ref")
    path = path.lstrip("/")
    normalised = posixpath.normpath(path)
    if normalised.startswith("..") or normalised in ("", "."):
        raise LocationReadError(f"{target}: the path {path!r} must name a file inside the repository")
    if repo.lower().startswith("https://"):
        try:
            fetch.check_url(repo, schemes=("https",))
        except fetch.FetchError as exc:
            raise LocationReadError(f"{target}: {exc.reason}", code=IssueCode.FETCH) from None
        if urlsplit(repo).query:
            raise LocationReadError(f"{target}: a repository URL must not have a query")
    elif "://" in repo or repo.startswith(("git@", "ssh:", "ext::")) or "::" in repo:
        raise LocationReadError(f"{target}: only local repositories and https:// URLs are supported")
    elif not os.path.isabs(repo):
        raise LocationReadError(f"{target}: a local repository needs an absolute path")
    else:
        repo = os.path.normpath(repo)
    return GitTarget(repo=repo, ref=ref, path=normalised)


def _git_roots() -> list[str]:
    return [*file_roots(), os.path.realpath(Path(settings.VAR_DIR) / "repos")]


def run_git(args: list[str], *, git_dir: str | None = None, timeout: float | None = None) -> bytes:
    """Run git safely (see the module docstring); raise LocationReadError with git's own message on failure."""
    timeout = float(timeout if timeout is not None else settings.PAVED_CATALOG_GIT_TIMEOUT_SECONDS)
    command = ["git", *_SAFE_CONFIG]
    if git_dir is not None:
        command.append(f"--git-dir={git_dir}")
    command.extend(args)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(settings.VAR_DIR),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "/bin/false",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_ALLOW_PROTOCOL": "https:file",
        "LC_ALL": "C",
    }
    try:
        done = subprocess.run(
            command, capture_output=True, env=env, timeout=timeout, check=False, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise LocationReadError(f"git {args[0]} timed out after {int(timeout)} s") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise LocationReadError(message[-1] if message else f"git {args[0]} failed with exit code {done.returncode}")
    return done.stdout


def local_git_dir(target: GitTarget) -> str:
    """The git directory of a local repository target, confined to the file roots and `$PAVED_VAR_DIR/repos`."""
    real = os.path.realpath(target.repo)
    if not is_under_roots(real, _git_roots()):
        raise LocationReadError(f"{target.repo}: outside the allowed repository roots ({', '.join(_git_roots())})")
    if os.path.isdir(os.path.join(real, ".git")):
        real = os.path.join(real, ".git")
    if not os.path.isfile(os.path.join(real, "HEAD")):
        raise LocationReadError(f"{target.repo}: not a git repository")
    return real


class GitReader:
    type = "git"

    def __init__(self) -> None:
        # One commit per (repository, ref) for the whole refresh, so every file comes from the same tree.
        self._commits: dict[tuple[str, str], tuple[str, str]] = {}

    def normalise(self, target: str) -> str:
        parsed = parse_target(target)
        if not parsed.remote:
            self._local_dir(parsed)
        return str(parsed)

    def expand(self, target: str) -> list[str]:
        parsed = parse_target(target)
        self._commit(parsed)
        return [str(parsed)]

    def read(self, source: str, *, limits: Limits = DEFAULT_LIMITS) -> bytes:
        parsed = parse_target(source)
        return self._blob(parsed, parsed.path, limits)

    def parse(self, source: str, data: bytes, *, limits: Limits = DEFAULT_LIMITS) -> ParseResult:
        parsed = parse_target(source)
        inner = "/" + parsed.path
        result = parse_file(
            data, file=inner, resolver=_GitResolver(self, parsed, limits), limits=limits, location_type="git"
        )
        # parse_file names files by their path in the repository; owners need the whole target.
        result.issues = [
            dataclasses.replace(issue, file=source) if issue.file == inner else issue for issue in result.issues
        ]
        result.location_targets = [self.nested(source, target) for target in result.location_targets]
        return result

    def nested(self, source: str, target: LocationTarget) -> LocationTarget:
        if target.type != self.type:
            return target
        if target.target.lower().startswith(("https://", "http://")):
            return LocationTarget(type="git", target=target.target)
        parsed = parse_target(source)
        path = resolve_relative("/" + parsed.path, target.target).lstrip("/")
        return LocationTarget(type="git", target=str(GitTarget(parsed.repo, parsed.ref, path)))

    def covers(self, target: str, source: str) -> bool:
        try:
            return str(parse_target(target)) == source
        except LocationReadError:
            return False

    # --- repositories -----------------------------------------------------------------------------------

    def _local_dir(self, target: GitTarget) -> str:
        return local_git_dir(target)

    def _cache_dir(self, target: GitTarget) -> str:
        digest = hashlib.sha256(f"{target.repo}#{target.ref}".encode()).hexdigest()[:32]
        path = Path(settings.VAR_DIR) / "git-cache" / f"{digest}.git"
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)

    def _commit(self, target: GitTarget) -> tuple[str, str]:
        """(git dir, commit) for the target's repository and ref, fetched once per refresh for remotes."""
        key = (target.repo, target.ref)
        if key in self._commits:
            return self._commits[key]
        try:
            if target.remote:
                git_dir = self._fetch_remote(target)
                revision = "refs/paved/head"
            else:
                git_dir = self._local_dir(target)
                revision = target.ref
            commit = run_git(
                ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"], git_dir=git_dir
            )
        except LocationReadError as exc:
            raise LocationReadError(f"{target.repo}#{target.ref}: {exc}") from None
        result = (git_dir, commit.decode().strip())
        self._commits[key] = result
        return result

    def _fetch_remote(self, target: GitTarget) -> str:
        git_dir = self._cache_dir(target)
        with open(git_dir + ".lock", "w") as lock:
            # Two workers refreshing one repository must not fetch into one directory at once.
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not os.path.isfile(os.path.join(git_dir, "HEAD")):
                run_git(["init", "--quiet", "--bare", "--end-of-options", git_dir])
                for key, value in (
                    ("remote.origin.url", target.repo),
                    ("remote.origin.promisor", "true"),
                    ("remote.origin.partialclonefilter", "blob:none"),
                ):
                    run_git(["config", "--end-of-options", key, value], git_dir=git_dir)
            run_git(
                [
                    "fetch", "--quiet", "--depth=1", "--filter=blob:none", "--no-tags", "--no-recurse-submodules",
                    "--force", "--end-of-options", "origin", f"+{target.ref}:refs/paved/head",
                ],
                git_dir=git_dir,
            )  # fmt: skip
        return git_dir

    def _blob(self, target: GitTarget, path: str, limits: Limits) -> bytes:
        git_dir, commit = self._commit(target)
        spec = f"{commit}:{path}"
        where = f"{target.repo}#{target.ref}:{path}"
        try:
            kind = run_git(["cat-file", "-t", "--end-of-options", spec], git_dir=git_dir).decode().strip()
            if kind != "blob":
                raise LocationReadError(f"is a {kind}, not a file")
            size = int(run_git(["cat-file", "-s", "--end-of-options", spec], git_dir=git_dir).decode().strip())
            if size > limits.max_bytes:
                raise LocationReadError(f"{size} bytes, larger than {limits.max_bytes} bytes")
            return run_git(["cat-file", "blob", "--end-of-options", spec], git_dir=git_dir)
        except LocationReadError as exc:
            reason = str(exc)
            if "does not exist" in reason or "Not a valid object name" in reason or "invalid object name" in reason:
                reason = "file not found in the repository"
            raise LocationReadError(f"{where}: {reason}") from None


class _GitResolver(GuardedResolver):
    """Placeholders of a file in a repository: paths within the same repository and commit, URLs through the guard."""

    def __init__(self, reader: GitReader, target: GitTarget, limits: Limits) -> None:
        super().__init__(limits)
        self.reader = reader
        self.target = target

    def read_local(self, resolved: str) -> bytes:
        path = posixpath.normpath(resolved).lstrip("/")
        return self.reader._blob(self.target, path, self.limits)
