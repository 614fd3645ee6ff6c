"""GitHub and GitLab as the scorecards tests configure them (`PAVED_SCM_INTEGRATIONS`) and their API answers, to be
registered on a `responses.RequestsMock`."""

from __future__ import annotations

import base64

TOKEN = "ghp_scorecardsT0kenThatMustNeverLeak00000000"
GITLAB_TOKEN = "glpat-scorecardsT0kenThatMustNeverLeak"
HEAD = "1" * 40
MOVED = "2" * 40
GH = "https://api.github.com/repos/acme/shop"
GL = "https://gitlab.example.com/api/v4/projects/platform%2Fpayments%2Fshop"
GITHUB_SHOP = "url:https://github.com/acme/shop/tree/main/"
GITLAB_SHOP = "url:https://gitlab.example.com/platform/payments/shop/-/tree/main"


def configure(settings) -> None:
    """Hosts github.com and ghe.example.com (GitHub), gitlab.example.com (GitLab) with tokens, and a GitLab host
    without one."""
    settings.PAVED_SCM_INTEGRATIONS = [
        {
            "kind": "github",
            "host": "github.com",
            "api_url": "https://api.github.com",
            "token": TOKEN,
            "token_setting": "PAVED_GITHUB_TOKEN",
        },
        {
            "kind": "github",
            "host": "ghe.example.com",
            "api_url": "https://ghe.example.com/api/v3",
            "token": TOKEN,
            "token_setting": "PAVED_GITHUB_TOKEN",
        },
        {
            "kind": "gitlab",
            "host": "gitlab.example.com",
            "api_url": "https://gitlab.example.com/api/v4",
            "token": GITLAB_TOKEN,
            "token_setting": "PAVED_GITLAB_TOKEN",
        },
        {
            "kind": "gitlab",
            "host": "gitlab.notoken.example",
            "api_url": "https://gitlab.notoken.example/api/v4",
            "token": "",
            "token_setting": "PAVED_GITLAB_TOKEN",
        },
    ]
    settings.PAVED_SCM_TIMEOUT_SECONDS = 5


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def github_head(api, sha: str = HEAD, branch: str = "main", *, default: bool = False) -> None:
    if default:
        api.get(GH, json={"full_name": "acme/shop", "default_branch": branch})
    api.get(f"{GH}/commits/{branch}", body=sha, content_type="application/vnd.github.sha")


def github_file(api, name: str, data: str | bytes, sha: str = HEAD, **fields) -> None:
    raw = data.encode() if isinstance(data, str) else data
    body = {"type": "file", "path": name, "size": len(raw), "encoding": "base64", "content": b64(raw), "sha": "f" * 40}
    api.get(f"{GH}/contents/{name}?ref={sha}", json={**body, **fields})


def gitlab_head(api, sha: str = HEAD) -> None:
    api.get(f"{GL}/repository/commits/main", json={"id": sha, "short_id": sha[:8], "title": "change"})


def gitlab_file(api, encoded_path: str, content: str, sha: str = HEAD) -> None:
    url = f"{GL}/repository/files/{encoded_path}?ref={sha}"
    api.head(url, headers={"X-Gitlab-Size": str(len(content.encode()))})
    api.get(url, json={"file_path": encoded_path, "size": len(content), "encoding": "base64", "content": b64(content)})
