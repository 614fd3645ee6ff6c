"""publish_github against recorded GitHub REST API answers: the exact requests, idempotent retries, refusals, errors."""

from __future__ import annotations

import base64
import os

import pytest
import requests

from scaffolder.publishers import PublishError, ScmIntegration
from scaffolder.publishers.github import publish_github

from .recorded import RUN_KEY, TOKEN, asked, authorizations, make_workspace, recorded

API = "https://api.github.com"
REPO = f"{API}/repos/acme/checkout"
GITHUB = ScmIntegration(kind="github", host="github.com", api_url=API, token=TOKEN, token_setting="PAVED_GITHUB_TOKEN")
COMMIT = "7638417db6d59f3c431d3e1f261cc637155684cd"
BLOBS = [recorded(f"github/blob_{index}.json")["sha"] for index in (1, 2, 3)]
AUTHOR = {"name": "Ada Lovelace", "email": "ada@example.com"}
MESSAGE = f"Create checkout\n\nPaved-Run: {RUN_KEY}\n"


@pytest.fixture
def workspace(tmp_path):
    return make_workspace(tmp_path / "workspace")


def publish(workspace, **overrides):
    arguments = {
        "integration": GITHUB,
        "owner": "acme",
        "repo": "checkout",
        "workspace": workspace,
        "author_name": "Ada Lovelace",
        "author_email": "ada@example.com",
        "message": "Create checkout",
        "idempotency_key": RUN_KEY,
        "description": "Checkout service",
        "max_bytes": 1024 * 1024,
        "max_files": 100,
    }
    return publish_github(**{**arguments, **overrides})


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def expect_contents(api, *, placeholder=True, branch="main"):
    """The answers from the placeholder commit (or from the blobs, when `placeholder` is False) to the ref update."""
    if placeholder:
        api.put(f"{REPO}/contents/.gitignore", json=recorded("github/contents_created.json"), status=201)
    for index in (1, 2, 3):
        api.post(f"{REPO}/git/blobs", json=recorded(f"github/blob_{index}.json"), status=201)
    api.post(f"{REPO}/git/trees", json=recorded("github/tree_created.json"), status=201)
    api.post(f"{REPO}/git/commits", json=recorded("github/commit_created.json"), status=201)
    api.patch(f"{REPO}/git/refs/heads/{branch}", json=recorded("github/ref_updated.json"))


def content_requests(*, placeholder=True, branch="main"):
    placeholder_request = (
        "PUT",
        f"{REPO}/contents/.gitignore",
        {
            "message": f"Create checkout\n\nPaved-Run-Pending: {RUN_KEY}\n",
            "content": b64("*.log\n"),
            "branch": branch,
            "author": AUTHOR,
            "committer": AUTHOR,
        },
    )
    blobs = [
        ("POST", f"{REPO}/git/blobs", {"content": b64(text), "encoding": "base64"})
        for text in ("*.log\n", "metadata:\n  name: checkout\n", "#!/bin/sh\nexec python\n")
    ]
    tree = {
        "tree": [
            {"path": ".gitignore", "mode": "100644", "type": "blob", "sha": BLOBS[0]},
            {"path": "catalog-info.yaml", "mode": "100644", "type": "blob", "sha": BLOBS[1]},
            {"path": "scripts/run.sh", "mode": "100755", "type": "blob", "sha": BLOBS[2]},
        ]
    }
    return [
        *([placeholder_request] if placeholder else []),
        *blobs,
        ("POST", f"{REPO}/git/trees", tree),
        (
            "POST",
            f"{REPO}/git/commits",
            {"message": MESSAGE, "tree": recorded("github/tree_created.json")["sha"], "parents": []}
            | {"author": AUTHOR, "committer": AUTHOR},
        ),
        ("PATCH", f"{REPO}/git/refs/heads/{branch}", {"sha": COMMIT, "force": True}),
    ]


def test_publish_github_creates_an_organisation_repository_and_commits_the_workspace_through_the_api(api, workspace):
    api.get(f"{API}/user", json=recorded("github/user.json"))
    api.post(f"{API}/orgs/acme/repos", json=recorded("github/repo_created.json"), status=201)
    expect_contents(api)

    result = publish(workspace)

    assert asked(api) == [
        ("GET", f"{API}/user", None),
        (
            "POST",
            f"{API}/orgs/acme/repos",
            {
                "name": "checkout",
                "private": True,
                "auto_init": False,
                "description": "Checkout service",
                "visibility": "private",
            },
        ),
        *content_requests(),
    ]
    assert authorizations(api) == {f"Bearer {TOKEN}"}
    assert {call.request.headers["X-GitHub-Api-Version"] for call in api.calls} == {"2022-11-28"}
    assert result.remote_url == "https://github.com/acme/checkout.git"
    assert result.repo_contents_url == "https://github.com/acme/checkout/blob/main"
    assert result.web_url == "https://github.com/acme/checkout"
    assert result.commit_hash == COMMIT
    assert result.created is True


def test_publish_github_creates_a_public_repository_of_the_token_user_under_user_repos(api, workspace):
    api.get(f"{API}/user", json=recorded("github/user.json"))
    mine = {**recorded("github/repo_created.json"), "html_url": "https://github.com/ada-lovelace/checkout"}
    api.post(f"{API}/user/repos", json=mine | {"clone_url": "https://github.com/ada-lovelace/checkout.git"}, status=201)
    base = f"{API}/repos/ada-lovelace/checkout"
    api.put(f"{base}/contents/.gitignore", json=recorded("github/contents_created.json"), status=201)
    for index in (1, 2, 3):
        api.post(f"{base}/git/blobs", json=recorded(f"github/blob_{index}.json"), status=201)
    api.post(f"{base}/git/trees", json=recorded("github/tree_created.json"), status=201)
    api.post(f"{base}/git/commits", json=recorded("github/commit_created.json"), status=201)
    api.patch(f"{base}/git/refs/heads/main", json=recorded("github/ref_updated.json"))

    result = publish(workspace, owner="ada-lovelace", visibility="public", description="")

    assert asked(api)[1] == ("POST", f"{API}/user/repos", {"name": "checkout", "private": False, "auto_init": False})
    assert result.remote_url == "https://github.com/ada-lovelace/checkout.git"


def test_publish_github_sets_the_default_branch_when_github_chose_another(api, workspace):
    api.get(f"{API}/user", json=recorded("github/user.json"))
    api.post(f"{API}/orgs/acme/repos", json=recorded("github/repo_created.json"), status=201)
    expect_contents(api, branch="trunk")
    api.patch(REPO, json={**recorded("github/repo.json"), "default_branch": "trunk"})

    result = publish(workspace, default_branch="trunk")

    assert asked(api)[2:] == [*content_requests(branch="trunk"), ("PATCH", REPO, {"default_branch": "trunk"})]
    assert result.repo_contents_url == "https://github.com/acme/checkout/blob/trunk"


def test_publish_github_retried_after_success_returns_its_commit_and_writes_nothing(api, workspace):
    api.get(f"{API}/user", json=recorded("github/user.json"))
    api.post(f"{API}/orgs/acme/repos", json=recorded("github/name_exists.json"), status=422)
    api.get(REPO, json=recorded("github/repo.json"))
    api.get(f"{REPO}/commits?sha=main&per_page=100", json=recorded("github/commits_published.json"))
    (workspace / "later.txt").write_text("changed after the crash\n")

    result = publish(workspace)

    assert [(method, url) for method, url, _ in asked(api)][2:] == [
        ("GET", REPO),
        ("GET", f"{REPO}/commits?sha=main&per_page=100"),
    ]
    assert result.commit_hash == COMMIT
    assert result.created is False
    assert result.remote_url == "https://github.com/acme/checkout.git"


def test_publish_github_retried_after_a_crash_past_the_placeholder_completes_the_repository(api, workspace):
    api.get(f"{API}/user", json=recorded("github/user.json"))
    api.post(f"{API}/orgs/acme/repos", json=recorded("github/name_exists.json"), status=422)
    api.get(REPO, json=recorded("github/repo.json"))
    api.get(f"{REPO}/commits?sha=main&per_page=100", json=recorded("github/commits_pending.json"))
    expect_contents(api, placeholder=False)

    result = publish(workspace)

    assert asked(api)[4:] == content_requests(placeholder=False)
    assert result.created is True
    assert result.commit_hash == COMMIT


def test_publish_github_completes_an_existing_empty_repository(api, workspace):
    api.get(f"{API}/user", json=recorded("github/user.json"))
    api.post(f"{API}/orgs/acme/repos", json=recorded("github/name_exists.json"), status=422)
    api.get(REPO, json=recorded("github/repo_created.json"))
    api.get(f"{REPO}/commits?sha=main&per_page=100", json=recorded("github/empty_repository.json"), status=409)
    expect_contents(api)

    result = publish(workspace)

    assert asked(api)[4:] == content_requests()
    assert result.created is True


@pytest.mark.parametrize(
    ("status", "fixture"),
    [(200, "github/commits_foreign.json"), (404, "github/not_found.json"), (422, "github/no_commit_found.json")],
)
def test_publish_github_refuses_a_repository_it_did_not_publish(api, workspace, status, fixture):
    api.get(f"{API}/user", json=recorded("github/user.json"))
    api.post(f"{API}/orgs/acme/repos", json=recorded("github/name_exists.json"), status=422)
    api.get(REPO, json=recorded("github/repo.json"))
    api.get(f"{REPO}/commits?sha=main&per_page=100", json=recorded(fixture), status=status)

    with pytest.raises(PublishError) as caught:
        publish(workspace)

    assert caught.value.code == "exists"
    assert caught.value.message == "A repository github.com/acme/checkout already exists"
    assert [method for method, _, _ in asked(api)] == ["GET", "POST", "GET", "GET"]


def test_publish_github_refuses_the_repository_another_step_of_the_run_published(api, workspace):
    api.get(f"{API}/user", json=recorded("github/user.json"))
    api.post(f"{API}/orgs/acme/repos", json=recorded("github/name_exists.json"), status=422)
    api.get(REPO, json=recorded("github/repo.json"))
    api.get(f"{REPO}/commits?sha=main&per_page=100", json=recorded("github/commits_published.json"))

    with pytest.raises(PublishError) as caught:
        publish(workspace, idempotency_key="3f1c2a9e-run:publish-again")

    assert caught.value.code == "exists"


def test_publish_github_turns_a_refused_token_into_an_auth_error(api, workspace):
    api.get(f"{API}/user", json=recorded("github/bad_credentials.json"), status=401)

    with pytest.raises(PublishError) as caught:
        publish(workspace)

    assert caught.value.code == "auth"
    assert caught.value.message == (
        "GitHub (github.com) answered 401 to GET /user: the configured token was refused: Bad credentials"
    )


def test_publish_github_names_an_unknown_organisation(api, workspace):
    api.get(f"{API}/user", json=recorded("github/user.json"))
    api.post(f"{API}/orgs/acme/repos", json=recorded("github/not_found.json"), status=404)

    with pytest.raises(PublishError) as caught:
        publish(workspace)

    assert caught.value.code == "not_found"
    assert "no organisation 'acme'" in caught.value.message
    assert "'ada-lovelace'" in caught.value.message


def test_publish_github_reports_githubs_own_validation_message(api, workspace):
    api.get(f"{API}/user", json=recorded("github/user.json"))
    api.post(f"{API}/orgs/acme/repos", json=recorded("github/validation_failed.json"), status=422)

    with pytest.raises(PublishError) as caught:
        publish(workspace, visibility="internal")

    assert caught.value.code == "api"
    assert caught.value.message == (
        "GitHub (github.com) answered 422 to POST /orgs/acme/repos: Validation Failed; visibility can't be internal"
        " for an organization on this plan"
    )


def test_publish_github_turns_a_server_error_into_an_api_error_naming_the_request(api, workspace):
    api.get(f"{API}/user", json=recorded("github/user.json"))
    api.post(f"{API}/orgs/acme/repos", json=recorded("github/repo_created.json"), status=201)
    api.put(f"{REPO}/contents/.gitignore", json=recorded("github/contents_created.json"), status=201)
    api.post(f"{REPO}/git/blobs", json=recorded("github/server_error.json"), status=502)

    with pytest.raises(PublishError) as caught:
        publish(workspace)

    assert caught.value.code == "api"
    assert caught.value.message == (
        "GitHub (github.com) answered 502 to POST /repos/acme/checkout/git/blobs: Server Error"
    )


@pytest.mark.parametrize(
    ("raised", "code", "text"),
    [
        (requests.exceptions.ReadTimeout("read timed out"), "timeout", "did not answer GET /user within 30 s"),
        (requests.exceptions.ConnectTimeout("connect timed out"), "timeout", "did not answer GET /user within 30 s"),
        (requests.exceptions.ConnectionError("refused"), "unreachable", "cannot reach GitHub (github.com) for GET"),
    ],
)
def test_publish_github_turns_a_timeout_or_lost_connection_into_a_clear_error(api, workspace, raised, code, text):
    api.get(f"{API}/user", body=raised)

    with pytest.raises(PublishError) as caught:
        publish(workspace)

    assert caught.value.code == code
    assert text in caught.value.message


def test_publish_github_does_not_follow_a_redirect(api, workspace):
    api.get(f"{API}/user", status=301, headers={"Location": "https://elsewhere.example/user"})

    with pytest.raises(PublishError) as caught:
        publish(workspace)

    assert caught.value.code == "api"
    assert "a redirect to https://elsewhere.example/user that is not followed" in caught.value.message
    assert len(api.calls) == 1


def test_publish_github_never_shows_the_token_even_when_github_echoes_it(api, workspace):
    api.get(f"{API}/user", json={"message": f"token {TOKEN} is revoked"}, status=401)

    with pytest.raises(PublishError) as caught:
        publish(workspace)

    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value.args)
    assert "token *** is revoked" in caught.value.message
    assert TOKEN not in repr(GITHUB)


def test_publish_github_without_a_token_names_the_setting_and_asks_nothing(no_api, workspace):
    unconfigured = ScmIntegration(kind="github", host="github.com", api_url=API, token_setting="PAVED_GITHUB_TOKEN")

    with pytest.raises(PublishError) as caught:
        publish(workspace, integration=unconfigured)

    assert caught.value.code == "unconfigured"
    assert caught.value.message == "github.com has no token configured (set PAVED_GITHUB_TOKEN)"


@pytest.mark.parametrize(
    ("overrides", "text"),
    [
        ({"owner": "../acme"}, "is not a GitHub account name"),
        ({"owner": "acme--corp"}, "is not a GitHub account name"),
        ({"repo": "check/out"}, "is not a GitHub repository name"),
        ({"repo": ".."}, "is not a GitHub repository name"),
        ({"repo": "checkout.git"}, "is not a GitHub repository name"),
        ({"repo": "x" * 101}, "is not a GitHub repository name"),
        ({"default_branch": "main..evil"}, "is not a valid branch name"),
        ({"default_branch": "-x"}, "is not a valid branch name"),
        ({"visibility": "secret"}, "repoVisibility 'secret' must be one of"),
        ({"author_email": "ada@example.com\nX-Injected: 1"}, "contains '<', '>' or a line break"),
        ({"idempotency_key": "run key with spaces"}, "is not a valid idempotency key"),
        ({"message": "bad\x00message"}, "must not contain NUL bytes"),
        ({"integration": ScmIntegration(kind="gitlab", host="github.com", api_url=API, token=TOKEN)}, "not github"),
    ],
)
def test_publish_github_refuses_hostile_input_before_any_request(no_api, workspace, overrides, text):
    with pytest.raises(PublishError) as caught:
        publish(workspace, **overrides)

    assert caught.value.code in ("invalid", "unconfigured")
    assert text in caught.value.message


def test_publish_github_refuses_a_symlink_in_the_workspace_before_any_request(no_api, workspace, tmp_path):
    (tmp_path / "secret").write_text("outside\n")
    os.symlink(tmp_path / "secret", workspace / "link")

    with pytest.raises(PublishError) as caught:
        publish(workspace)

    assert caught.value.code == "workspace"
    assert caught.value.message == "link: symbolic links are not published"


@pytest.mark.parametrize(
    ("limits", "text"),
    [({"max_bytes": 20}, "larger than 20 bytes"), ({"max_files": 2}, "more than 2 files")],
)
def test_publish_github_keeps_the_size_limits_before_any_request(no_api, workspace, limits, text):
    with pytest.raises(PublishError) as caught:
        publish(workspace, **limits)

    assert caught.value.code == "workspace"
    assert text in caught.value.message


def test_publish_github_refuses_a_workspace_whose_files_are_all_ignored(no_api, tmp_path):
    root = tmp_path / "ignored"
    root.mkdir()
    (root / "debug.log").write_text("x\n")
    (root / ".gitignore").write_text("*\n")

    with pytest.raises(PublishError) as caught:
        publish(root)

    assert caught.value.code == "workspace"
    assert caught.value.message == "the rendered output has no files to publish (all are ignored)"
