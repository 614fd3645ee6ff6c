"""Publishers: put a rendered workspace into a new repository on a git host (`publish:*` actions).

Each host has a module of its own (`local` is the embedded host under `$PAVED_VAR_DIR/repos`); they share the
result and error types defined here. Publishers take plain arguments (paths, identities, timeouts) and import no
Django models or services, so a Celery step can call them with whatever settings it read.
"""

from __future__ import annotations

from dataclasses import dataclass


class PublishError(Exception):
    """A publish that cannot go ahead; `code` is stable for callers and tests, `message` is shown to the requester.

    Codes: `invalid` (bad repoUrl, name, identity or key), `workspace` (rendered output refused), `exists` (the
    repository belongs to another run), `unsafe` (a path on the way to the repository is a symlink or escapes the
    root), `git` (git failed), `timeout` (git took longer than allowed).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What a `publish:*` step outputs: `remoteUrl`, `repoContentsUrl` and `commitHash`, plus whether this call made
    the repository (`False` when a retry found the one its run had already published)."""

    remote_url: str
    repo_contents_url: str
    commit_hash: str
    created: bool
