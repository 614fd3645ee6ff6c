"""Repositories on GitHub and GitLab, read through the host's REST API for the repository and template collectors.

A `backstage.io/source-location` such as `url:https://github.com/<owner>/<repo>/tree/<ref>/` (or `blob`, or the bare
repository URL) or `url:https://gitlab.example.com/<group>/<project>/-/tree/<ref>` names a repository on a host of
`PAVED_SCM_INTEGRATIONS` (the hosts the scaffolder publishes to); it is read with that integration's token through
its API root (never through the URL written in the annotation), with the scaffolder's REST client
(`scaffolder.publishers._rest.RestClient`: a Bearer token set on the session, explicit timeouts, redirects never
followed, the token scrubbed from every message).

- GitHub (`api_url` `https://api.github.com`, or `https://<host>/api/v3` for GitHub Enterprise):
  `GET /repos/{o}/{r}` (default branch), `GET /repos/{o}/{r}/commits/{ref}` (head commit, as the bare sha),
  `GET /repos/{o}/{r}/contents/{path}?ref=<commit>` (a file, base64; a file over 1 MB by its blob,
  `GET /repos/{o}/{r}/git/blobs/{sha}`), `GET /repos/{o}/{r}/tags`.
- GitLab (`api_url` `https://<host>/api/v4`): `GET /projects/{path}` (default branch),
  `GET /projects/{path}/repository/commits/{ref}`, `HEAD` then `GET /projects/{path}/repository/files/{path}?ref=`
  (the size first, so a file over MAX_BLOB_BYTES is never downloaded), `GET /projects/{path}/repository/tags`.

A 404 for a file is a fact (the file is absent); every other failure — host not configured or without a token, a
refused token, a rate limit, a timeout, a redirect, an answer of another shape — raises `RepositoryError` with a
message for people that never contains the token. Facts keep the embedded host's source shape
`git:https://<host>/<project>#<ref>@<commit>:<path>`, so staleness and the repository poll work the same.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeVar
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings

from scaffolder.publishers import PublishError, ScmIntegration
from scaffolder.publishers import github as github_publisher
from scaffolder.publishers import gitlab as gitlab_publisher
from scaffolder.publishers._rest import RestClient, host_message, integration_check

SYSTEMS: Final = {"github": "GitHub", "gitlab": "GitLab"}
GITHUB_HEADERS: Final = github_publisher.HEADERS
GITHUB_SHA_HEADERS: Final = {**github_publisher.HEADERS, "Accept": "application/vnd.github.sha"}
GITLAB_HEADERS: Final = {"Accept": "application/json"}
#: The longest a request to a host's API may take when PAVED_SCM_TIMEOUT_SECONDS is not set.
DEFAULT_TIMEOUT_SECONDS: Final = 20
#: Tag pages (100 tags each) read of one repository.
MAX_TAG_PAGES: Final = 10
_REF: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,199}$")
_SHA: Final = re.compile(r"^[0-9a-f]{40,64}$")
#: Answers looked at before the client's own error: rate limits, and gateways that say the whole host is failing.
_WATCHED: Final = (403, 429, 502, 503, 504)

T = TypeVar("T")


class HostError(Exception):
    """A hosted repository that cannot be read; the message says why, for people (never with a token). `host` is
    set when the whole host is failing (no answer in time, no connection, a rate limit, a gateway error), so that
    its other repositories need not be asked in the same batch."""

    def __init__(self, message: str, *, host: str = "") -> None:
        super().__init__(message)
        self.host = host


@dataclass(frozen=True, slots=True)
class HostedRepository:
    """A repository on a configured GitHub or GitLab host and the ref whose head is read (`HEAD`: the default
    branch). `repo` is its canonical URL, `https://<host>/<project>`."""

    kind: str
    host: str
    project: str
    ref: str
    integration: ScmIntegration

    @property
    def repo(self) -> str:
        return f"https://{self.host}/{self.project}"

    @property
    def key(self) -> str:
        return f"{self.repo}#{self.ref}"

    def source(self, commit: str, path: str) -> str:
        return f"git:{self.repo}#{self.ref}@{commit}:{path}"


def integrations() -> dict[str, ScmIntegration]:
    """The hosts of `PAVED_SCM_INTEGRATIONS` by their lower-cased name."""
    out: dict[str, ScmIntegration] = {}
    for entry in getattr(settings, "PAVED_SCM_INTEGRATIONS", ()) or ():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("host"), str):
            continue
        out[entry["host"].lower()] = ScmIntegration(
            kind=str(entry.get("kind") or ""),
            host=entry["host"].lower(),
            api_url=str(entry.get("api_url") or ""),
            token=str(entry.get("token") or ""),
            token_setting=str(entry.get("token_setting") or ""),
        )
    return out


def is_hosted_url(value: str) -> bool:
    return value.strip().lower().startswith(("https://", "http://"))


def host_of(url: str) -> str:
    """The lower-cased host (and port) of `url`, without any user or password; "" when it has none."""
    try:
        return urlsplit(url.strip()).netloc.rpartition("@")[2].lower()
    except ValueError:
        return ""


def locate(url: str, ref: str = "") -> HostedRepository:
    """The hosted repository a web URL names: `https://<host>/<owner>/<repo>[.git][/tree|blob/<ref>[/<dir>]][/]`
    on GitHub, `https://<host>/<group>/…/<project>[.git][/-/tree|blob/<ref>[/<dir>]]` on GitLab; `ref` (from a
    `#<ref>`) wins over one in the path. A folder after the ref is ignored: paths are read from the repository root.
    Raises HostError for a host that is not configured, a malformed URL or a name the host cannot have."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        raise HostError("the URL is not valid") from None
    if parts.scheme.lower() not in ("https", "http") or not parts.hostname:
        raise HostError("a repository URL must start with https://")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise HostError("credentials in repository URLs are not allowed")
    if parts.query:
        raise HostError("a repository URL has no query string")
    host = parts.netloc.lower()
    integration = integrations().get(host)
    if integration is None:
        raise HostError(
            f"repository host {host} is not configured: add it to PAVED_SCM_INTEGRATIONS (PAVED_GITHUB_API_URL or "
            "PAVED_GITLAB_URL, with a token) so that Paved reads its repositories through its API"
        )
    try:
        integration_check(integration, integration.kind)
    except PublishError as error:
        raise HostError(
            f"{error.message}: Paved reads repositories on {host} through its API with that token"
        ) from None
    if "%" in parts.path or "\\" in parts.path or any(ch.isspace() or ord(ch) < 32 for ch in parts.path):
        raise HostError("the repository path must not contain encoded, control or space characters")
    segments = parts.path.split("/")
    if segments and segments[0] == "":
        segments = segments[1:]
    while segments and segments[-1] == "":
        segments.pop()
    if any(segment in ("", ".", "..") for segment in segments):
        raise HostError("the repository path must not contain empty, '.' or '..' segments")
    if integration.kind == "github":
        project, path_ref = _github_project(segments)
    elif integration.kind == "gitlab":
        project, path_ref = _gitlab_project(segments)
    else:
        raise HostError(f"repository host {host} is a {integration.kind or 'unknown'} host, not GitHub or GitLab")
    chosen = ref.strip() or path_ref or "HEAD"
    check_ref(chosen)
    return HostedRepository(integration.kind, host, project, chosen, integration)


def _github_project(segments: list[str]) -> tuple[str, str]:
    if len(segments) < 2:
        raise HostError("the URL names no repository: expected https://<host>/<owner>/<repo>")
    owner, repo = segments[0], segments[1].removesuffix(".git")
    rest = segments[2:]
    try:
        github_publisher.check_names(owner, repo)
    except PublishError as error:
        raise HostError(error.message) from None
    if rest and (rest[0] not in ("tree", "blob") or len(rest) < 2):
        raise HostError(f"expected …/{owner}/{repo}/tree/<ref>/ or …/blob/<ref>/<path> after the repository")
    return f"{owner}/{repo}", rest[1] if rest else ""


def _gitlab_project(segments: list[str]) -> tuple[str, str]:
    rest: list[str] = []
    if "-" in segments:
        at = segments.index("-")
        segments, rest = segments[:at], segments[at + 1 :]
    if len(segments) < 2:
        raise HostError("the URL names no project: expected https://<host>/<group>/<project>")
    owner, repo = "/".join(segments[:-1]), segments[-1].removesuffix(".git")
    try:
        gitlab_publisher.check_names(owner, repo)
    except PublishError as error:
        raise HostError(error.message) from None
    if rest and (rest[0] not in ("tree", "blob") or len(rest) < 2):
        raise HostError(f"expected …/{owner}/{repo}/-/tree/<ref> or …/-/blob/<ref>/<path> after the project")
    return f"{owner}/{repo}", rest[1] if rest else ""


def check_ref(ref: str) -> str:
    """`ref` when it is a branch or tag name git accepts (the rules of `catalog.locations.git` targets), or `HEAD`."""
    if ref != "HEAD" and (
        not _REF.match(ref) or ".." in ref or "//" in ref or ref.endswith((".lock", "/", ".")) or "@{" in ref
    ):
        raise HostError(f"{ref!r} is not a valid git ref")
    return ref


def redacted(url: str) -> str:
    """`url` without the user and password a person may have written into it."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.split("://", 1)[0] + "://…" if "://" in url else url
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


# -- reading ----------------------------------------------------------------------------------------------------------


def _timeout() -> int:
    value = getattr(settings, "PAVED_SCM_TIMEOUT_SECONDS", None)
    return int(value) if value else DEFAULT_TIMEOUT_SECONDS


def _client(repository: HostedRepository, headers: Mapping[str, str] | None = None) -> RestClient:
    system = SYSTEMS[repository.kind]
    default = GITHUB_HEADERS if repository.kind == "github" else GITLAB_HEADERS
    return RestClient(repository.integration, system=system, timeout=_timeout(), headers=headers or default)


def _get(
    client: RestClient, repository: HostedRepository, path: str, *, method: str = "GET", allow: tuple[int, ...] = ()
) -> requests.Response:
    """The answer to `method path`, raising HostError for anything but 2xx or an allowed status. Rate limits
    (429, or 403 with no requests left) say when to try again."""
    where = f"{method} {path}"
    try:
        response = client.request(method, path, allow=(*allow, *_WATCHED))
    except PublishError as error:
        host = repository.host if error.code in ("timeout", "unreachable") else ""
        raise HostError(f"{repository.repo}: {error.message}", host=host) from None
    status = response.status_code
    if status in allow:
        return response
    if status == 429 or (
        status == 403 and (response.headers.get("X-RateLimit-Remaining") == "0" or "Retry-After" in response.headers)
    ):
        raise HostError(
            f"{repository.repo}: {client.system} ({client.host}) is rate limiting the configured token ({where} "
            f"answered {status}){_retry_hint(response)}",
            host=repository.host,
        )
    if status in _WATCHED:
        raise HostError(
            f"{repository.repo}: {client.error(response, where).message}", host=repository.host if status >= 500 else ""
        )
    return response


def _retry_hint(response: requests.Response) -> str:
    retry_after = response.headers.get("Retry-After", "")
    if retry_after.isdigit():
        return f"; try again in {int(retry_after)} s"
    reset = response.headers.get("X-RateLimit-Reset") or response.headers.get("RateLimit-Reset") or ""
    if reset.isdigit():
        when = datetime.fromtimestamp(int(reset), tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"; the limit resets at {when}"
    return ""


def _json(client: RestClient, response: requests.Response, where: str, read: Callable[[RestClient, Any, str], T]) -> T:
    try:
        return read(client, response, where)
    except PublishError as error:
        raise HostError(error.message) from None


def _object(client: RestClient, response: requests.Response, where: str) -> dict[str, Any]:
    return _json(client, response, where, RestClient.json_object)


def _string(client: RestClient, body: Mapping[str, Any], key: str, where: str) -> str:
    try:
        return client.text(body, key, where)
    except PublishError as error:
        raise HostError(error.message) from None


def _project_path(repository: HostedRepository) -> str:
    if repository.kind == "github":
        return f"/repos/{quote(repository.project, safe='/')}"
    return f"/projects/{quote(repository.project, safe='')}"


def head_commit(repository: HostedRepository) -> str:
    """The commit the repository's ref points at (the default branch's head for `HEAD`). Raises HostError."""
    base = _project_path(repository)
    ref = repository.ref
    with _client(repository) as client:
        if ref == "HEAD":
            response = _get(client, repository, base)
            ref = _string(client, _object(client, response, f"GET {base}"), "default_branch", f"GET {base}")
            try:
                check_ref(ref)
            except HostError as error:
                raise HostError(f"{repository.repo}: the default branch {error}") from None
        if repository.kind == "github":
            path = f"{base}/commits/{quote(ref, safe='/')}"
            with _client(repository, GITHUB_SHA_HEADERS) as sha_client:
                response = _get(sha_client, repository, path, allow=(404, 422))
                commit = _github_sha(response) if response.status_code == 200 else ""
        else:
            path = f"{base}/repository/commits/{quote(ref, safe='')}"
            response = _get(client, repository, path, allow=(404,))
            commit = ""
            if response.status_code == 200:
                found = _object(client, response, f"GET {path}").get("id")
                commit = found if isinstance(found, str) else ""
    if response.status_code == 422:
        raise HostError(f"{repository.key}: the ref does not name a commit (422 to GET {path})")
    if response.status_code == 404:
        said = host_message(response)
        raise HostError(
            f"{repository.key}: no such repository or ref, or the configured token cannot see the repository (404 to "
            f"GET {path}{': ' + said if said else ''})"
        )
    if not _SHA.fullmatch(commit):
        raise HostError(f"{repository.key}: GET {path} answered without a commit hash")
    return commit


def _github_sha(response: requests.Response) -> str:
    """The bare sha GitHub answers to `Accept: application/vnd.github.sha`, or the `sha` of a commit object from a
    server that ignores that media type."""
    text = response.text.strip()
    if _SHA.fullmatch(text):
        return text
    try:
        body = response.json()
    except ValueError:
        return ""
    found = body.get("sha") if isinstance(body, dict) else None
    return found if isinstance(found, str) else ""


def read_files(
    repository: HostedRepository,
    commit: str,
    paths: list[str],
    *,
    max_bytes: int,
    text: Callable[[bytes], dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """`{path: {"exists", "text", "truncated"}}` for `paths` (already checked to lie inside the repository) at
    `commit`, as the embedded host reads them: a directory is no file, a symbolic link or submodule exists without
    text, a file over `max_bytes` is not downloaded (text "", truncated). Raises HostError."""
    if not _SHA.fullmatch(commit):
        raise HostError(f"{repository.key}: {commit!r} is not a commit hash")
    reader = _github_file if repository.kind == "github" else _gitlab_file
    found: dict[str, dict[str, Any]] = {}
    with _client(repository) as client:
        for path in paths:
            found[path] = reader(client, repository, commit, path, max_bytes, text)
    return found


_ABSENT: Final = {"exists": False, "text": None, "truncated": False}
_NO_TEXT: Final = {"exists": True, "text": None, "truncated": False}
_NOT_READ: Final = {"exists": True, "text": "", "truncated": True}


def _github_file(
    client: RestClient,
    repository: HostedRepository,
    commit: str,
    path: str,
    max_bytes: int,
    text: Callable[[bytes], dict[str, Any]],
) -> dict[str, Any]:
    base = _project_path(repository)
    where = f"{base}/contents/{quote(path, safe='/')}?ref={commit}"
    response = _get(client, repository, where, allow=(404,))
    if response.status_code == 404:
        return dict(_ABSENT)
    try:
        body = response.json()
    except ValueError:
        raise HostError(f"{repository.repo}: GET {where} answered with something other than JSON") from None
    if isinstance(body, list):  # a directory lists its entries
        return dict(_ABSENT)
    if not isinstance(body, dict):
        raise HostError(f"{repository.repo}: GET {where} answered with something other than an object")
    kind = body.get("type")
    if kind in ("symlink", "submodule") or (kind == "file" and body.get("path") != path):
        return dict(_NO_TEXT)  # GitHub answers a symbolic link to a file with that file: it has no text of its own
    if kind != "file":
        return dict(_ABSENT)
    size = body.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise HostError(f"{repository.repo}: GET {where} answered without the file's size")
    if size > max_bytes:
        return dict(_NOT_READ)
    if body.get("encoding") == "base64" and isinstance(body.get("content"), str) and (body["content"] or size == 0):
        return text(_base64(repository, body["content"], where))
    # Files over 1 MB come without content: their blob has it.
    sha = _string(client, body, "sha", f"GET {where}")
    blob_path = f"{base}/git/blobs/{quote(sha, safe='')}"
    blob = _object(client, _get(client, repository, blob_path), f"GET {blob_path}")
    if blob.get("encoding") != "base64" or not isinstance(blob.get("content"), str):
        raise HostError(f"{repository.repo}: GET {blob_path} answered without base64 content")
    return text(_base64(repository, blob["content"], blob_path))


def _gitlab_file(
    client: RestClient,
    repository: HostedRepository,
    commit: str,
    path: str,
    max_bytes: int,
    text: Callable[[bytes], dict[str, Any]],
) -> dict[str, Any]:
    where = f"{_project_path(repository)}/repository/files/{quote(path, safe='')}?ref={commit}"
    head = _get(client, repository, where, method="HEAD", allow=(404,))
    if head.status_code == 404:  # no such file (a directory is none either)
        return dict(_ABSENT)
    size = head.headers.get("X-Gitlab-Size", "")
    if not size.isdigit():
        raise HostError(f"{repository.repo}: HEAD {where} answered without the file's size")
    if int(size) > max_bytes:
        return dict(_NOT_READ)
    response = _get(client, repository, where, allow=(404,))
    if response.status_code == 404:
        return dict(_ABSENT)
    body = _object(client, response, f"GET {where}")
    if body.get("encoding") != "base64" or not isinstance(body.get("content"), str):
        raise HostError(f"{repository.repo}: GET {where} answered without base64 content")
    return text(_base64(repository, body["content"], where))


def _base64(repository: HostedRepository, content: str, where: str) -> bytes:
    try:
        return base64.b64decode("".join(content.split()), validate=True)
    except (binascii.Error, ValueError):
        raise HostError(f"{repository.repo}: {where} answered content that is not base64") from None


def tags(repository: HostedRepository) -> list[str]:
    """The repository's tag names, sorted (at most MAX_TAG_PAGES pages of 100). Raises HostError."""
    path = (
        f"{_project_path(repository)}/tags"
        if repository.kind == "github"
        else f"{_project_path(repository)}/repository/tags"
    )
    names: set[str] = set()
    with _client(repository) as client:
        for page in range(1, MAX_TAG_PAGES + 1):
            where = f"{path}?per_page=100&page={page}"
            response = _get(client, repository, where)
            listed = _json(client, response, f"GET {where}", RestClient.json_list)
            for item in listed:
                name = item.get("name") if isinstance(item, dict) else None
                if isinstance(name, str) and name.strip():
                    names.add(name.strip())
            if len(listed) < 100:
                break
    return sorted(names)
