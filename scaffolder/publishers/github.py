"""`publish:github`: a new GitHub repository whose initial commit is the workspace, through GitHub's REST API only.

1. `GET /user` tells whether the owner is the token's own account (`POST /user/repos`) or an organisation
   (`POST /orgs/{owner}/repos`).
2. The repository is created empty. GitHub's Git Data API refuses empty repositories (409 "Git Repository is
   empty"), so one file is first put through the Contents API (`PUT /repos/{o}/{r}/contents/{path}`) on the branch,
   in a placeholder commit whose message carries `Paved-Run-Pending: <key>`.
3. Every file becomes a blob (`POST …/git/blobs`), the blobs a tree (`POST …/git/trees`, no base tree), the tree a
   commit with no parents, authored by the requester, whose message carries `Paved-Run: <key>`
   (`POST …/git/commits`), and the branch is moved to it (`PATCH …/git/refs/heads/{branch}`, forced: the
   placeholder commit is dropped). The repository's default branch is set to the branch if GitHub chose another.

Idempotent per key (the run and step): when the repository exists, a root commit on the branch carrying
`Paved-Run: <key>` among its newest 100 commits is returned (`created=False`); an empty repository or one whose
branch head is this key's placeholder is completed; any other repository is refused as `exists`.

Outputs, as Backstage's publish:github: `remote_url` is the clone URL, `repo_contents_url` is
`<html_url>/blob/<branch>`, `web_url` the repository's page.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from . import PublishError, PublishResult, ScmIntegration
from ._rest import (
    PENDING_TRAILER,
    TRAILER,
    RestClient,
    WorkspaceFile,
    check_branch,
    check_request,
    commit_message,
    integration_check,
    trailer_of,
    workspace_files,
)

DEFAULT_API_URL: Final = "https://api.github.com"
VISIBILITIES: Final = ("private", "internal", "public")
HEADERS: Final = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}

_OWNER: Final = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_REPO: Final = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def check_names(owner: str, repo: str) -> None:
    if not _OWNER.match(owner) or "--" in owner or owner.endswith("-"):
        raise PublishError(
            "invalid", f"owner {owner!r} is not a GitHub account name: 1-39 letters, digits or single hyphens"
        )
    if not _REPO.match(repo) or repo in (".", "..") or repo.lower().endswith(".git"):
        raise PublishError(
            "invalid", f"repo {repo!r} is not a GitHub repository name: 1-100 letters, digits, '.', '_' or '-'"
        )


def publish_github(
    *,
    integration: ScmIntegration,
    owner: str,
    repo: str,
    workspace: Path,
    author_name: str,
    author_email: str,
    message: str,
    idempotency_key: str,
    description: str = "",
    visibility: str = "private",
    default_branch: str = "main",
    timeout: int = 30,
    max_bytes: int,
    max_files: int,
) -> PublishResult:
    """Create `owner/repo` on `integration`'s GitHub with the workspace as its initial commit on `default_branch`.

    Idempotent per `idempotency_key`: see the module docstring. Raises PublishError."""
    integration_check(integration, "github")
    check_names(owner, repo)
    check_branch(default_branch)
    check_request(author_name=author_name, author_email=author_email, idempotency_key=idempotency_key, message=message)
    if visibility not in VISIBILITIES:
        raise PublishError("invalid", f"repoVisibility {visibility!r} must be one of {', '.join(VISIBILITIES)}")
    files = workspace_files(workspace, timeout=timeout, max_bytes=max_bytes, max_files=max_files)
    author = {"name": author_name, "email": author_email}
    with RestClient(integration, system="GitHub", timeout=timeout, headers=HEADERS) as client:
        publisher = _Publisher(client, owner, repo, default_branch, idempotency_key)
        created = publisher.create(description=description, visibility=visibility)
        if created is not None:
            repository, state = created, "empty"
        else:
            repository = publisher.get_repository()
            state, found = publisher.inspect(repository)
            if found is not None:
                return publisher.result(repository, found, created=False)
        if state == "empty":
            publisher.put_placeholder(files[0], message, author)
        commit = publisher.commit(files, commit_message(message, idempotency_key), author)
        publisher.move_branch(commit, repository)
        return publisher.result(repository, commit, created=True)


class _Publisher:
    def __init__(self, client: RestClient, owner: str, repo: str, branch: str, key: str) -> None:
        self.client = client
        self.owner = owner
        self.repo = repo
        self.branch = branch
        self.key = key
        self.path = f"/repos/{quote(owner, safe='')}/{quote(repo, safe='')}"

    def exists(self) -> PublishError:
        return PublishError("exists", f"A repository {self.client.host}/{self.owner}/{self.repo} already exists")

    def create(self, *, description: str, visibility: str) -> dict[str, Any] | None:
        """The new repository, or None when one of that name exists."""
        user = self.client.json_object(self.client.request("GET", "/user"), "GET /user")
        login = self.client.text(user, "login", "GET /user")
        body: dict[str, Any] = {"name": self.repo, "private": visibility != "public", "auto_init": False}
        if description:
            body["description"] = description
        if login.lower() == self.owner.lower():
            if visibility == "internal":
                raise PublishError("invalid", "repoVisibility 'internal' needs an organisation, not a personal account")
            path = "/user/repos"
        else:
            path = f"/orgs/{quote(self.owner, safe='')}/repos"
            body["visibility"] = visibility
        response = self.client.request("POST", path, json=body, allow=(404, 422))
        where = f"POST {path}"
        if response.status_code == 404:
            raise PublishError(
                "not_found",
                f"GitHub ({self.client.host}) has no organisation {self.owner!r} that the configured token's user"
                f" {login!r} can see (404 to {where})",
            )
        if response.status_code == 422:
            if "already exists" in self.client.error(response, where).message:
                return None
            raise self.client.error(response, where)
        return self.client.json_object(response, where)

    def get_repository(self) -> dict[str, Any]:
        return self.client.json_object(self.client.request("GET", self.path), f"GET {self.path}")

    def inspect(self, repository: dict[str, Any]) -> tuple[str, str | None]:
        """('empty' | 'pending' | 'done', this key's commit when done); `exists` for anybody else's repository."""
        path = f"{self.path}/commits"
        response = self.client.request("GET", path, params={"sha": self.branch, "per_page": 100}, allow=(404, 409, 422))
        if response.status_code == 409:
            return "empty", None
        if response.status_code in (404, 422):
            # No such branch: the repository holds something else.
            raise self.exists()
        commits = self.client.json_list(response, f"GET {path}")
        for index, entry in enumerate(commits):
            if not isinstance(entry, dict) or entry.get("parents"):
                continue
            text = entry.get("commit", {}).get("message", "") if isinstance(entry.get("commit"), dict) else ""
            if trailer_of(str(text), TRAILER) == self.key and isinstance(entry.get("sha"), str):
                return "done", entry["sha"]
            if index == 0 and trailer_of(str(text), PENDING_TRAILER) == self.key:
                return "pending", None
        raise self.exists()

    def put_placeholder(self, first: WorkspaceFile, message: str, author: dict[str, str]) -> None:
        path = f"{self.path}/contents/{quote(first.path)}"
        body = {
            "message": commit_message(message, self.key, trailer=PENDING_TRAILER),
            "content": base64.b64encode(first.content).decode("ascii"),
            "branch": self.branch,
            "author": author,
            "committer": author,
        }
        self.client.request("PUT", path, json=body)

    def commit(self, files: list[WorkspaceFile], message: str, author: dict[str, str]) -> str:
        tree: list[dict[str, str]] = []
        for entry in files:
            blob = self._post(
                "/git/blobs", {"content": base64.b64encode(entry.content).decode("ascii"), "encoding": "base64"}
            )
            mode = "100755" if entry.executable else "100644"
            tree.append({"path": entry.path, "mode": mode, "type": "blob", "sha": blob})
        tree_sha = self._post("/git/trees", {"tree": tree})
        return self._post(
            "/git/commits",
            {"message": message, "tree": tree_sha, "parents": [], "author": author, "committer": author},
        )

    def move_branch(self, commit: str, repository: dict[str, Any]) -> None:
        path = f"{self.path}/git/refs/heads/{quote(self.branch)}"
        self.client.request("PATCH", path, json={"sha": commit, "force": True})
        if repository.get("default_branch") != self.branch:
            self.client.request("PATCH", self.path, json={"default_branch": self.branch})

    def result(self, repository: dict[str, Any], commit: str, *, created: bool) -> PublishResult:
        where = f"GET {self.path}"
        html_url = self.client.text(repository, "html_url", where)
        return PublishResult(
            remote_url=self.client.text(repository, "clone_url", where),
            repo_contents_url=f"{html_url}/blob/{self.branch}",
            commit_hash=commit,
            created=created,
            web_url=html_url,
        )

    def _post(self, suffix: str, body: dict[str, Any]) -> str:
        path = f"{self.path}{suffix}"
        answer = self.client.json_object(self.client.request("POST", path, json=body), f"POST {path}")
        return self.client.text(answer, "sha", f"POST {path}")
