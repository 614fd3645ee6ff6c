"""`publish:gitlab`: a new GitLab project whose initial commit is the workspace, through GitLab's REST API only.

1. `GET /namespaces/{owner}` finds the group (or user) the project goes into; its id is the `namespace_id` of
   `POST /projects`, which creates the project empty.
2. `POST /projects/{id}/repository/commits` with one `create` action per file (base64, executable bit kept) makes the
   initial commit on the branch in one atomic call, authored by the requester, its message carrying
   `Paved-Run: <key>`. The project's default branch is set to the branch if GitLab chose another.

Idempotent per key (the run and step): when the project exists, a root commit on the branch carrying
`Paved-Run: <key>` among its newest 100 commits is returned (`created=False`); an empty project is completed; any
other project is refused as `exists`.

Outputs, as Backstage's publish:gitlab: `remote_url` is `http_url_to_repo`, `repo_contents_url` is
`<web_url>/-/blob/<branch>`, `web_url` the project's page.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from . import PublishError, PublishResult, ScmIntegration
from ._rest import (
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

DEFAULT_URL: Final = "https://gitlab.com"
VISIBILITIES: Final = ("private", "internal", "public")

_SEGMENT: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$")


def check_names(owner: str, repo: str) -> None:
    """The owner is a namespace path (`group/subgroup` allowed), the repo one project path segment."""
    segments = owner.split("/")
    if len(segments) > 20 or not all(_valid_segment(segment) for segment in segments):
        raise PublishError(
            "invalid",
            f"owner {owner!r} is not a GitLab namespace path: segments of letters, digits, '_', '-' and '.' joined by"
            " '/', none starting with '-' or '.' or ending in '.git' or '.atom'",
        )
    if not _valid_segment(repo):
        raise PublishError(
            "invalid",
            f"repo {repo!r} is not a GitLab project path: letters, digits, '_', '-' and '.', not starting with '-' or"
            " '.' and not ending in '.git' or '.atom'",
        )


def _valid_segment(value: str) -> bool:
    return bool(_SEGMENT.match(value)) and ".." not in value and not value.lower().endswith((".git", ".atom", "."))


def publish_gitlab(
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
    """Create project `owner/repo` on `integration`'s GitLab with the workspace as its initial commit on
    `default_branch`. Idempotent per `idempotency_key`: see the module docstring. Raises PublishError."""
    integration_check(integration, "gitlab")
    check_names(owner, repo)
    check_branch(default_branch)
    check_request(author_name=author_name, author_email=author_email, idempotency_key=idempotency_key, message=message)
    if visibility not in VISIBILITIES:
        raise PublishError("invalid", f"repoVisibility {visibility!r} must be one of {', '.join(VISIBILITIES)}")
    files = workspace_files(workspace, timeout=timeout, max_bytes=max_bytes, max_files=max_files)
    with RestClient(integration, system="GitLab", timeout=timeout, headers={"Accept": "application/json"}) as client:
        publisher = _Publisher(client, owner, repo, default_branch, idempotency_key)
        project = publisher.create(description=description, visibility=visibility)
        if project is None:
            project = publisher.get_project()
            found = publisher.inspect(project)
            if found is not None:
                return publisher.result(project, found, created=False)
        commit = publisher.commit(project, files, commit_message(message, idempotency_key), author_name, author_email)
        publisher.set_default_branch(project)
        return publisher.result(project, commit, created=True)


class _Publisher:
    def __init__(self, client: RestClient, owner: str, repo: str, branch: str, key: str) -> None:
        self.client = client
        self.owner = owner
        self.repo = repo
        self.branch = branch
        self.key = key

    def exists(self) -> PublishError:
        return PublishError("exists", f"A project {self.client.host}/{self.owner}/{self.repo} already exists")

    def create(self, *, description: str, visibility: str) -> dict[str, Any] | None:
        """The new project, or None when the namespace has one of that path or name."""
        path = f"/namespaces/{quote(self.owner, safe='')}"
        response = self.client.request("GET", path, allow=(404,))
        if response.status_code == 404:
            raise PublishError(
                "not_found",
                f"GitLab ({self.client.host}) has no group or user {self.owner!r} that the configured token can see"
                f" (404 to GET {path})",
            )
        namespace = self.client.json_object(response, f"GET {path}")
        namespace_id = namespace.get("id")
        if not isinstance(namespace_id, int) or isinstance(namespace_id, bool):
            raise PublishError("api", f"GitLab ({self.client.host}) answered GET {path} without a namespace id")
        body: dict[str, Any] = {
            "name": self.repo,
            "path": self.repo,
            "namespace_id": namespace_id,
            "visibility": visibility,
            "initialize_with_readme": False,
        }
        if description:
            body["description"] = description
        response = self.client.request("POST", "/projects", json=body, allow=(400,))
        if response.status_code == 400:
            error = self.client.error(response, "POST /projects")
            if "has already been taken" in error.message:
                return None
            raise error
        return self.client.json_object(response, "POST /projects")

    def get_project(self) -> dict[str, Any]:
        path = f"/projects/{quote(f'{self.owner}/{self.repo}', safe='')}"
        return self.client.json_object(self.client.request("GET", path), f"GET {path}")

    def project_path(self, project: dict[str, Any]) -> str:
        project_id = project.get("id")
        if not isinstance(project_id, int) or isinstance(project_id, bool):
            raise PublishError("api", f"GitLab ({self.client.host}) described {self.owner}/{self.repo} without an id")
        return f"/projects/{project_id}"

    def inspect(self, project: dict[str, Any]) -> str | None:
        """This key's commit, None for an empty project (completed by this call); `exists` for anybody else's."""
        if project.get("empty_repo") is True:
            return None
        path = f"{self.project_path(project)}/repository/commits"
        response = self.client.request("GET", path, params={"ref_name": self.branch, "per_page": 100}, allow=(404,))
        if response.status_code == 404:
            raise self.exists()
        for entry in self.client.json_list(response, f"GET {path}"):
            if not isinstance(entry, dict) or entry.get("parent_ids"):
                continue
            if trailer_of(str(entry.get("message", "")), TRAILER) == self.key and isinstance(entry.get("id"), str):
                return str(entry["id"])
        raise self.exists()

    def commit(
        self, project: dict[str, Any], files: list[WorkspaceFile], message: str, author_name: str, author_email: str
    ) -> str:
        path = f"{self.project_path(project)}/repository/commits"
        body = {
            "branch": self.branch,
            "commit_message": message,
            "author_name": author_name,
            "author_email": author_email,
            "actions": [
                {
                    "action": "create",
                    "file_path": entry.path,
                    "content": base64.b64encode(entry.content).decode("ascii"),
                    "encoding": "base64",
                    "execute_filemode": entry.executable,
                }
                for entry in files
            ],
        }
        answer = self.client.json_object(self.client.request("POST", path, json=body), f"POST {path}")
        return self.client.text(answer, "id", f"POST {path}")

    def set_default_branch(self, project: dict[str, Any]) -> None:
        if project.get("default_branch") != self.branch:
            path = self.project_path(project)
            self.client.request("PUT", path, json={"default_branch": self.branch})

    def result(self, project: dict[str, Any], commit: str, *, created: bool) -> PublishResult:
        where = f"the project {self.owner}/{self.repo}"
        web_url = self.client.text(project, "web_url", where)
        return PublishResult(
            remote_url=self.client.text(project, "http_url_to_repo", where),
            repo_contents_url=f"{web_url}/-/blob/{self.branch}",
            commit_hash=commit,
            created=created,
            web_url=web_url,
        )
