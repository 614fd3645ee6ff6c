"""Publishers: put a rendered workspace into a new repository on a git host (`publish:*` actions).

Each host has a module of its own (`local` is the embedded host under `$PAVED_VAR_DIR/repos`, `github` and
`gitlab` talk to those hosts' REST APIs); they share the result, error and integration types defined here.
Publishers take plain arguments (paths, identities, timeouts, an integration) and import no Django models or
services, so a Celery step can call them with whatever settings it read.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class PublishError(Exception):
    """A publish that cannot go ahead; `code` is stable for callers and tests, `message` is shown to the requester.

    Codes: `invalid` (bad repoUrl, name, identity or key), `workspace` (rendered output refused), `exists` (the
    repository belongs to another run), `unsafe` (a path on the way to the repository is a symlink or escapes the
    root), `git` (git failed), `timeout` (git or the host's API took longer than allowed). The REST publishers add
    `unconfigured` (no integration or no token for the host), `auth` (the host refused the token), `forbidden` (the
    token may not do it), `not_found` (no such owner), `unreachable` (no connection) and `api` (any other answer).
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
    web_url: str | None = None


@dataclass(frozen=True, slots=True)
class ScmIntegration:
    """A GitHub or GitLab host Paved may create repositories on (`PAVED_SCM_INTEGRATIONS`).

    `kind` is `github` or `gitlab`, `host` the name RepoUrlPicker values use (`github.com`), `api_url` the REST API's
    root (`https://api.github.com`, `https://gitlab.com/api/v4`). The token is left out of `repr` so that a logged
    context or a traceback never shows it.
    """

    kind: str
    host: str
    api_url: str
    token: str = field(default="", repr=False)
    token_setting: str = ""
