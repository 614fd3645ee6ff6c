"""What the REST publishers (`github`, `gitlab`) share: the workspace read as files, the API client, names, trailers.

The workspace is checked with the embedded host's rules (`local.check_workspace`: no symlinks, hard links, special
files or `.git` entries, within the size and file limits) and listed with `git ls-files --others --exclude-standard`
against a throwaway repository, so the files a `.gitignore` excludes are left out exactly as `publish:git` leaves
them out. git never sees a credential: the files reach the host through its REST API.

The client is one `requests.Session` per publish with the token as a Bearer `Authorization` header (set through an
auth object, so a `.netrc` can never replace it), explicit timeouts and no redirects followed: a 3xx is an error. Any
answer outside what the caller expects becomes a `PublishError` naming the request (method and path) and the host's
own message, with the token scrubbed from every text that could be shown.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import requests

from . import PublishError, ScmIntegration
from .local import _Git, check_workspace

PENDING_TRAILER: Final = "Paved-Run-Pending"
TRAILER: Final = "Paved-Run"
MAX_MESSAGE: Final = 300

_BRANCH: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,99}$")
_KEY: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@+/=-]{0,199}$")


@dataclass(frozen=True, slots=True)
class WorkspaceFile:
    """One file to publish: its POSIX path relative to the workspace, its bytes and whether it is executable."""

    path: str
    content: bytes
    executable: bool


def workspace_files(workspace: Path, *, timeout: int, max_bytes: int, max_files: int) -> list[WorkspaceFile]:
    """The files `git add --all` would take from `workspace`, sorted by path; refused as `workspace` like the
    embedded host refuses them."""
    check_workspace(workspace, max_bytes=max_bytes, max_files=max_files)
    root = Path(os.path.realpath(workspace))
    with _Git(timeout) as git, tempfile.TemporaryDirectory(prefix="paved-publish-list-") as scratch:
        git_dir = Path(scratch) / "list.git"
        git.run(["init", "--quiet", "--bare", "--template=", "--end-of-options", str(git_dir)])
        listed = git.run(["ls-files", "--others", "--exclude-standard", "-z"], git_dir=git_dir, work_tree=root)
    files: list[WorkspaceFile] = []
    total = 0
    for relative in sorted(name for name in listed.split("\x00") if name):
        full = root / relative
        try:
            info = os.lstat(full)
            if not stat.S_ISREG(info.st_mode):
                raise PublishError("workspace", f"{relative}: only regular files are published")
            # O_NOFOLLOW: a file swapped for a symlink after the check is refused, not followed.
            descriptor = os.open(full, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(descriptor, "rb") as handle:
                content = handle.read(max_bytes + 1)
        except OSError as error:
            raise PublishError("workspace", f"{relative}: cannot read it: {error.strerror}") from None
        total += len(content)
        if total > max_bytes:
            raise PublishError("workspace", f"the rendered output is larger than {max_bytes} bytes")
        files.append(WorkspaceFile(path=relative, content=content, executable=bool(info.st_mode & stat.S_IXUSR)))
    if not files:
        raise PublishError("workspace", "the rendered output has no files to publish (all are ignored)")
    return files


def check_branch(branch: str) -> str:
    if (
        not _BRANCH.match(branch)
        or ".." in branch
        or "//" in branch
        or branch.endswith((".lock", "/", "."))
        or "/." in branch
    ):
        raise PublishError("invalid", f"{branch!r} is not a valid branch name")
    return branch


def check_request(*, author_name: str, author_email: str, idempotency_key: str, message: str) -> None:
    for value, what in ((author_name, "author name"), (author_email, "author email")):
        if not value.strip() or any(char in value for char in "<>\n\r\x00"):
            raise PublishError("invalid", f"the {what} {value!r} is empty or contains '<', '>' or a line break")
    if "@" not in author_email or any(char.isspace() for char in author_email):
        raise PublishError("invalid", f"the author email {author_email!r} is not an address")
    if not _KEY.match(idempotency_key):
        raise PublishError("invalid", f"{idempotency_key!r} is not a valid idempotency key")
    if "\x00" in message:
        raise PublishError("invalid", "the commit message must not contain NUL bytes")


def commit_message(message: str, key: str, *, trailer: str = TRAILER) -> str:
    body = message.strip() or "Initial commit"
    return f"{body}\n\n{trailer}: {key}\n"


def trailer_of(message: str, trailer: str = TRAILER) -> str | None:
    """The value of `trailer` in the last paragraph of a commit message, if any."""
    paragraphs = message.strip().split("\n\n")
    for line in reversed(paragraphs[-1].splitlines()):
        key, separator, value = line.partition(":")
        if separator and key.strip() == trailer:
            return value.strip()
    return None


def integration_check(integration: ScmIntegration, kind: str) -> None:
    if integration.kind != kind:
        raise PublishError("unconfigured", f"{integration.host} is a {integration.kind} host, not {kind}")
    if not integration.token:
        where = f" (set {integration.token_setting})" if integration.token_setting else ""
        raise PublishError("unconfigured", f"{integration.host} has no token configured{where}")
    if not integration.api_url.startswith(("https://", "http://")):
        raise PublishError("unconfigured", f"{integration.host}: the API URL must start with https://")


class _Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "<Bearer ***>"


class RestClient:
    """One host's REST API for one publish. `request` returns the response when its status is expected (or allowed,
    for the caller to inspect) and raises PublishError otherwise."""

    def __init__(self, integration: ScmIntegration, *, system: str, timeout: int, headers: Mapping[str, str]) -> None:
        self.system = system
        self.host = integration.host
        self.base_url = integration.api_url.rstrip("/")
        self.timeout = timeout
        self._token = integration.token
        self.session = requests.Session()
        self.session.auth = _Bearer(integration.token)
        self.session.headers.update({"User-Agent": "Paved scaffolder", **headers})

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.session.close()

    def scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        allow: Collection[int] = (),
    ) -> requests.Response:
        where = f"{method} {path}"
        try:
            response = self.session.request(
                method,
                f"{self.base_url}{path}",
                json=json,
                params=params,
                timeout=(min(10, self.timeout), self.timeout),
                allow_redirects=False,
            )
        except requests.Timeout:
            raise PublishError(
                "timeout", f"{self.system} ({self.host}) did not answer {where} within {self.timeout} s"
            ) from None
        except requests.RequestException as error:
            reason = self.scrub(type(error).__name__)
            raise PublishError(
                "unreachable", f"cannot reach {self.system} ({self.host}) for {where}: {reason}"
            ) from None
        if response.status_code in allow or 200 <= response.status_code < 300:
            return response
        raise self.error(response, where)

    def error(self, response: requests.Response, where: str) -> PublishError:
        status = response.status_code
        said = self.scrub(host_message(response))
        detail = f": {said}" if said else ""
        prefix = f"{self.system} ({self.host}) answered {status} to {where}"
        if 300 <= status < 400:
            location = self.scrub(response.headers.get("Location", ""))[:MAX_MESSAGE]
            return PublishError("api", f"{prefix}, a redirect to {location or 'nowhere'} that is not followed")
        if status == 401:
            return PublishError("auth", f"{prefix}: the configured token was refused{detail}")
        if status == 403:
            return PublishError("forbidden", f"{prefix}: the configured token may not do this{detail}")
        if status == 404:
            return PublishError("not_found", f"{prefix}: not found{detail}")
        return PublishError("api", f"{prefix}{detail}")

    def json_object(self, response: requests.Response, where: str) -> dict[str, Any]:
        body = _json(response)
        if not isinstance(body, dict):
            raise PublishError(
                "api", f"{self.system} ({self.host}) answered {where} with something other than an object"
            )
        return body

    def json_list(self, response: requests.Response, where: str) -> list[Any]:
        body = _json(response)
        if not isinstance(body, list):
            raise PublishError("api", f"{self.system} ({self.host}) answered {where} with something other than a list")
        return body

    def text(self, body: Mapping[str, Any], key: str, where: str) -> str:
        value = body.get(key)
        if not isinstance(value, str) or not value:
            raise PublishError("api", f"{self.system} ({self.host}) answered {where} without {key!r}")
        return value


def host_message(response: requests.Response) -> str:
    """The host's own explanation (GitHub's `message` and `errors`, GitLab's `message` or `error`), shortened."""
    body = _json(response)
    if not isinstance(body, dict):
        return ""
    parts: list[str] = []
    for key in ("message", "error"):
        value = body.get(key)
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, dict):
            parts.extend(f"{field} {' '.join(map(str, v)) if isinstance(v, list) else v}" for field, v in value.items())
        elif isinstance(value, list):
            parts.extend(str(item) for item in value)
    errors = body.get("errors")
    if isinstance(errors, list):
        for error in errors:
            if isinstance(error, dict) and isinstance(error.get("message"), str):
                parts.append(error["message"])
            elif isinstance(error, str):
                parts.append(error)
    text = "; ".join(part.strip() for part in parts if part.strip())
    return " ".join(text.split())[:MAX_MESSAGE]


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
