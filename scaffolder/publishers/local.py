"""`publish:git` to the embedded git host: bare repositories under `<repos root>/<owner>/<repo>.git`.

The repos root is `$PAVED_VAR_DIR/repos`, where the catalog's `git` location reader accepts local repositories, so a
published `catalog-info.yaml` can be registered at once (`catalog_location_target`). The input is a RepoUrlPicker
value with host `local` (`local?owner=payments&repo=checkout`).

Outputs:
- `remote_url`: the repository's absolute path (`/var/paved/repos/payments/checkout.git`), which `git clone` accepts
  on the same machine and which is also the repository part of a catalog `git` target (the catalog refuses
  `file://` URLs, so the plain path serves both).
- `repo_contents_url`: `<remote_url>#<branch>:`, the prefix of a catalog `git` target. Like Backstage's
  `repoContentsUrl` it is completed by appending a file path (`catalogInfoPath`, default `/catalog-info.yaml`):
  `/var/paved/repos/payments/checkout.git#main:/catalog-info.yaml` is a target the git reader accepts.
- `commit_hash`: the initial commit.

The initial commit is built without a checkout: a temporary index fed from the workspace (`--work-tree`), then
`write-tree` and `commit-tree` with the requester as author, then `update-ref` with an empty old value, which git
refuses if the branch exists, so two publishes can never both create it (a lock file also serialises publishes of
one repository on this host). Files the workspace's own `.gitignore` excludes are not published, as with `git add`.

The commit message carries a `Paved-Run: <idempotency key>` trailer: a retry with the same key finds its own
repository and returns it (`created=False`), a repository left empty by a crash between `git init` and `update-ref`
is completed, and any other existing repository is refused as `exists`.

git always runs with an argument list, `--end-of-options` before positionals, hooks off (`core.hooksPath=/dev/null`,
no template), only the file protocol, no prompts or credential helpers, no user or system config, a throwaway HOME
and a timeout.
"""

from __future__ import annotations

import fcntl
import os
import re
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import parse_qsl

from . import PublishError, PublishResult

HOST: Final = "local"
TRAILER: Final = "Paved-Run"
DEFAULT_BRANCH: Final = "main"
DEFAULT_TIMEOUT: Final = 60
DEFAULT_MAX_BYTES: Final = 50 * 1024 * 1024
DEFAULT_MAX_FILES: Final = 5000

_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_BRANCH: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,99}$")
_KEY: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+/=-]{0,199}$")
_SAFE_CONFIG: Final = (
    "-c", "core.hooksPath=/dev/null",
    "-c", "protocol.allow=never",
    "-c", "protocol.file.allow=always",
    "-c", "core.fsmonitor=false",
    "-c", "credential.helper=",
    "-c", "core.autocrlf=false",
    "-c", "gc.auto=0",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class LocalRepo:
    owner: str
    repo: str

    @property
    def repo_url(self) -> str:
        return f"{HOST}?owner={self.owner}&repo={self.repo}"


def check_name(value: str, what: str) -> str:
    """Refuse anything but a short lower-case name that is safe as one path component and as a git argument."""
    if not _NAME.match(value) or ".." in value or value.endswith((".git", ".lock", ".")) or not value.isascii():
        raise PublishError(
            "invalid",
            f"{what} {value!r} is not a valid name: use 1-63 lower-case letters, digits, '.', '_' or '-', starting with"
            " a letter or digit, without '..' and not ending in '.git', '.lock' or '.'",
        )
    return value


def parse_local_repo_url(repo_url: str) -> LocalRepo:
    """Read a RepoUrlPicker value for the embedded host: `local?owner=<owner>&repo=<repo>`, nothing else."""
    host, separator, query = repo_url.strip().partition("?")
    if host != HOST or not separator:
        raise PublishError("invalid", f"{repo_url!r}: the embedded git host expects 'local?owner=<owner>&repo=<repo>'")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise PublishError("invalid", f"{repo_url!r}: the query is malformed") from None
    values: dict[str, str] = {}
    for key, value in pairs:
        if key not in ("owner", "repo"):
            raise PublishError("invalid", f"{repo_url!r}: unknown parameter {key!r} (only owner and repo)")
        if key in values:
            raise PublishError("invalid", f"{repo_url!r}: {key} is given more than once")
        values[key] = value
    for key in ("owner", "repo"):
        if not values.get(key):
            raise PublishError("invalid", f"{repo_url!r}: {key} is missing")
    return LocalRepo(owner=check_name(values["owner"], "owner"), repo=check_name(values["repo"], "repo"))


def repository_path(repos_root: Path, owner: str, repo: str) -> Path:
    """`<repos root>/<owner>/<repo>.git`, resolved; refused if a symlink on the way could take it out of the root."""
    check_name(owner, "owner")
    check_name(repo, "repo")
    root = Path(os.path.realpath(repos_root))
    path = root / owner / f"{repo}.git"
    for step in (root / owner, path):
        if step.is_symlink():
            raise PublishError("unsafe", f"{step} is a symbolic link; repositories must lie under {root}")
    if os.path.realpath(path) != str(path) or not path.is_relative_to(root):
        raise PublishError("unsafe", f"{path} escapes the repositories root {root}")
    return path


def catalog_location_target(
    repos_root: Path, owner: str, repo: str, path: str = "catalog-info.yaml", *, ref: str = DEFAULT_BRANCH
) -> str:
    """The catalog `git` location target (`<repository>#<ref>:<path>`) of a file in a repository of this host."""
    _check_branch(ref)
    cleaned = path.lstrip("/")
    parts = cleaned.split("/")
    if (
        not cleaned
        or cleaned.startswith("-")
        or any(part in ("", ".", "..") for part in parts)
        or any(char.isspace() or not char.isprintable() for char in cleaned)
    ):
        raise PublishError("invalid", f"{path!r} must name a file inside the repository")
    return f"{repository_path(repos_root, owner, repo)}#{ref}:{cleaned}"


def check_workspace(
    workspace: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, max_files: int = DEFAULT_MAX_FILES
) -> tuple[int, int]:
    """Refuse rendered output that must not be pushed: symlinks, hard links, special files, `.git` entries, paths
    leaving the workspace, more than `max_files` files or `max_bytes` bytes. Returns (files, bytes)."""
    if workspace.is_symlink() or not workspace.is_dir():
        raise PublishError("workspace", f"the workspace {workspace} is not a directory")
    root = os.path.realpath(workspace)
    files = 0
    total = 0

    def walk_error(error: OSError) -> None:
        raise PublishError("workspace", f"cannot read the workspace: {error.strerror}: {error.filename}")

    for directory, dirnames, filenames in os.walk(root, onerror=walk_error):
        relative_dir = os.path.relpath(directory, root)
        for name in [*dirnames, *filenames]:
            relative = os.path.normpath(os.path.join(relative_dir, name))
            full = os.path.join(directory, name)
            if name.lower() == ".git":
                raise PublishError("workspace", f"{relative}: the rendered output must not contain a .git entry")
            info = os.lstat(full)
            if stat.S_ISLNK(info.st_mode):
                raise PublishError("workspace", f"{relative}: symbolic links are not published")
            if not os.path.realpath(full).startswith(root + os.sep):
                raise PublishError("workspace", f"{relative}: escapes the workspace")
            if stat.S_ISDIR(info.st_mode):
                continue
            if not stat.S_ISREG(info.st_mode):
                raise PublishError("workspace", f"{relative}: only regular files and directories are published")
            if info.st_nlink > 1:
                raise PublishError("workspace", f"{relative}: hard links are not published")
            files += 1
            total += info.st_size
            if files > max_files:
                raise PublishError("workspace", f"the rendered output has more than {max_files} files")
            if total > max_bytes:
                raise PublishError("workspace", f"the rendered output is larger than {max_bytes} bytes")
    if files == 0:
        raise PublishError("workspace", "the rendered output has no files")
    return files, total


def publish_local(
    *,
    repos_root: Path,
    owner: str,
    repo: str,
    workspace: Path,
    author_name: str,
    author_email: str,
    message: str,
    idempotency_key: str,
    default_branch: str = DEFAULT_BRANCH,
    timeout: int = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_files: int = DEFAULT_MAX_FILES,
) -> PublishResult:
    """Create `<repos_root>/<owner>/<repo>.git` with the workspace as its initial commit on `default_branch`.

    Idempotent per `idempotency_key` (the run and step): see the module docstring. Raises PublishError.
    """
    path = repository_path(repos_root, owner, repo)
    _check_branch(default_branch)
    _check_identity(author_name, author_email)
    if not _KEY.match(idempotency_key):
        raise PublishError("invalid", f"{idempotency_key!r} is not a valid idempotency key")
    if "\x00" in message:
        raise PublishError("invalid", "the commit message must not contain NUL bytes")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _Git(timeout) as git, _locked(path.parent / f".{repo}.lock"):
        if (path / "HEAD").is_file():
            existing = _existing_commit(git, path, default_branch, idempotency_key, owner, repo)
            if existing is not None:
                return _result(path, default_branch, existing, created=False)
        check_workspace(workspace, max_bytes=max_bytes, max_files=max_files)
        # A directory without HEAD, or a repository without refs, is what a crashed attempt leaves: init again.
        git.run(["init", "--quiet", "--bare", "--template=", "--end-of-options", str(path)])
        git.run(["symbolic-ref", "--end-of-options", "HEAD", f"refs/heads/{default_branch}"], git_dir=path)
        commit = _build_commit(
            git, path, workspace, author_name, author_email, _commit_message(message, idempotency_key)
        )
        try:
            git.run(["update-ref", "--end-of-options", f"refs/heads/{default_branch}", commit, ""], git_dir=path)
        except PublishError:
            # Someone else created the branch in the meantime (another host sharing the directory): theirs stands.
            existing = _existing_commit(git, path, default_branch, idempotency_key, owner, repo)
            if existing is None:
                raise
            return _result(path, default_branch, existing, created=False)
    return _result(path, default_branch, commit, created=True)


# --- internals ------------------------------------------------------------------------------------------


class _Git:
    """git with the safe options and environment; a context manager owning the throwaway HOME."""

    def __init__(self, timeout: int) -> None:
        self.timeout = timeout
        self._home = tempfile.TemporaryDirectory(prefix="paved-git-home-")

    def __enter__(self) -> _Git:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._home.cleanup()

    def run(
        self,
        args: list[str],
        *,
        git_dir: Path | None = None,
        work_tree: Path | None = None,
        extra_env: dict[str, str] | None = None,
        stdin: bytes | None = None,
    ) -> str:
        command = ["git", *_SAFE_CONFIG]
        if git_dir is not None:
            command.append(f"--git-dir={git_dir}")
        if work_tree is not None:
            command.append(f"--work-tree={work_tree}")
        command.extend(args)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self._home.name,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_ALLOW_PROTOCOL": "file",
            "LC_ALL": "C",
            **(extra_env or {}),
        }
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                env=env,
                cwd=work_tree or self._home.name,
                timeout=self.timeout,
                check=False,
                input=stdin if stdin is not None else b"",
            )
        except subprocess.TimeoutExpired:
            raise PublishError("timeout", f"git {args[0]} timed out after {self.timeout} s") from None
        if done.returncode != 0:
            lines = done.stderr.decode(errors="replace").strip().splitlines()
            raise PublishError("git", lines[-1] if lines else f"git {args[0]} failed with exit code {done.returncode}")
        return done.stdout.decode(errors="replace").strip()


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    # Serialises publishes of one repository on this host; git's config and ref locks would otherwise make the
    # loser fail with a lock error instead of the clear "exists".
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _check_branch(branch: str) -> None:
    if (
        not _BRANCH.match(branch)
        or ".." in branch
        or "//" in branch
        or branch.endswith((".lock", "/", "."))
        or "/." in branch
    ):
        raise PublishError("invalid", f"{branch!r} is not a valid branch name")


def _check_identity(name: str, email: str) -> None:
    for value, what in ((name, "author name"), (email, "author email")):
        if not value.strip() or any(char in value for char in "<>\n\r\x00"):
            raise PublishError("invalid", f"the {what} {value!r} is empty or contains '<', '>' or a line break")
    if "@" not in email or any(char.isspace() for char in email):
        raise PublishError("invalid", f"the author email {email!r} is not an address")


def _commit_message(message: str, key: str) -> bytes:
    body = message.strip() or "Initial commit"
    return f"{body}\n\n{TRAILER}: {key}\n".encode()


def _trailer(git: _Git, path: Path, commit: str) -> str | None:
    raw = git.run(["cat-file", "commit", "--end-of-options", commit], git_dir=path)
    _, _, message = raw.partition("\n\n")
    paragraphs = message.strip().split("\n\n")
    for line in reversed(paragraphs[-1].splitlines()):
        key, separator, value = line.partition(":")
        if separator and key.strip() == TRAILER:
            return value.strip()
    return None


def _existing_commit(git: _Git, path: Path, branch: str, key: str, owner: str, repo: str) -> str | None:
    """The initial commit this key published, None if the repository is empty (adoptable), else `exists`."""
    refs = git.run(["for-each-ref", "--format=%(refname)"], git_dir=path)
    if not refs:
        return None
    exists = PublishError("exists", f"A repository {LocalRepo(owner, repo).repo_url} already exists")
    if f"refs/heads/{branch}" not in refs.splitlines():
        raise exists
    roots = git.run(["rev-list", "--max-parents=0", "--end-of-options", f"refs/heads/{branch}"], git_dir=path)
    for root in roots.splitlines():
        if _trailer(git, path, root) == key:
            return root
    raise exists


def _build_commit(git: _Git, path: Path, workspace: Path, name: str, email: str, message: bytes) -> str:
    with tempfile.TemporaryDirectory(prefix="paved-publish-index-") as scratch:
        index = {"GIT_INDEX_FILE": os.path.join(scratch, "index")}
        work_tree = Path(os.path.realpath(workspace))
        git.run(["add", "--all"], git_dir=path, work_tree=work_tree, extra_env=index)
        tree = git.run(["write-tree"], git_dir=path, extra_env=index)
    identity = {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
    return git.run(
        ["commit-tree", "-F", "-", "--end-of-options", tree], git_dir=path, extra_env=identity, stdin=message
    )


def _result(path: Path, branch: str, commit: str, *, created: bool) -> PublishResult:
    return PublishResult(
        remote_url=str(path), repo_contents_url=f"{path}#{branch}:", commit_hash=commit, created=created
    )
