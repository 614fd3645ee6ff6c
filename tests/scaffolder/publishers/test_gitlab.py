"""publish_gitlab against recorded GitLab REST API answers: the exact requests, idempotent retries, refusals, errors."""

from __future__ import annotations

import base64
import os

import pytest
import requests

from scaffolder.publishers import PublishError, ScmIntegration
from scaffolder.publishers.gitlab import publish_gitlab

from .recorded import GITLAB_TOKEN, RUN_KEY, asked, authorizations, make_workspace, recorded

API = "https://gitlab.com/api/v4"
GITLAB = ScmIntegration(
    kind="gitlab", host="gitlab.com", api_url=API, token=GITLAB_TOKEN, token_setting="PAVED_GITLAB_TOKEN"
)
NAMESPACE = f"{API}/namespaces/acme%2Fplatform"
PROJECT = f"{API}/projects/61234567"
COMMIT = "ed899a2f4b50b4370feeea94676502b42383c746"
MESSAGE = f"Create checkout\n\nPaved-Run: {RUN_KEY}\n"


@pytest.fixture
def workspace(tmp_path):
    return make_workspace(tmp_path / "workspace")


def publish(workspace, **overrides):
    arguments = {
        "integration": GITLAB,
        "owner": "acme/platform",
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
    return publish_gitlab(**{**arguments, **overrides})


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def commit_request(branch="main"):
    actions = [
        {"action": "create", "file_path": path, "content": b64(text), "encoding": "base64", "execute_filemode": mode}
        for path, text, mode in (
            (".gitignore", "*.log\n", False),
            ("catalog-info.yaml", "metadata:\n  name: checkout\n", False),
            ("scripts/run.sh", "#!/bin/sh\nexec python\n", True),
        )
    ]
    body = {
        "branch": branch,
        "commit_message": MESSAGE,
        "author_name": "Ada Lovelace",
        "author_email": "ada@example.com",
        "actions": actions,
    }
    return ("POST", f"{PROJECT}/repository/commits", body)


def expect_taken(api, project_fixture):
    api.get(NAMESPACE, json=recorded("gitlab/namespace.json"))
    api.post(f"{API}/projects", json=recorded("gitlab/name_taken.json"), status=400)
    api.get(f"{API}/projects/acme%2Fplatform%2Fcheckout", json=recorded(project_fixture))


def test_publish_gitlab_creates_a_project_in_the_group_and_commits_the_workspace_in_one_call(api, workspace):
    api.get(NAMESPACE, json=recorded("gitlab/namespace.json"))
    api.post(f"{API}/projects", json=recorded("gitlab/project_created.json"), status=201)
    api.post(f"{PROJECT}/repository/commits", json=recorded("gitlab/commit_created.json"), status=201)

    result = publish(workspace)

    assert asked(api) == [
        ("GET", NAMESPACE, None),
        (
            "POST",
            f"{API}/projects",
            {
                "name": "checkout",
                "path": "checkout",
                "namespace_id": 4721093,
                "visibility": "private",
                "initialize_with_readme": False,
                "description": "Checkout service",
            },
        ),
        commit_request(),
    ]
    assert authorizations(api) == {f"Bearer {GITLAB_TOKEN}"}
    assert result.remote_url == "https://gitlab.com/acme/platform/checkout.git"
    assert result.repo_contents_url == "https://gitlab.com/acme/platform/checkout/-/blob/main"
    assert result.web_url == "https://gitlab.com/acme/platform/checkout"
    assert result.commit_hash == COMMIT
    assert result.created is True


def test_publish_gitlab_sets_the_default_branch_when_gitlab_chose_another(api, workspace):
    api.get(NAMESPACE, json=recorded("gitlab/namespace.json"))
    api.post(f"{API}/projects", json=recorded("gitlab/project_created.json"), status=201)
    api.post(f"{PROJECT}/repository/commits", json=recorded("gitlab/commit_created.json"), status=201)
    api.put(PROJECT, json=recorded("gitlab/project_updated.json"))

    result = publish(workspace, default_branch="trunk", visibility="internal", description="")

    calls = asked(api)
    assert calls[1][2]["visibility"] == "internal"
    assert "description" not in calls[1][2]
    assert calls[2:] == [commit_request("trunk"), ("PUT", PROJECT, {"default_branch": "trunk"})]
    assert result.repo_contents_url.endswith("/-/blob/trunk")


def test_publish_gitlab_retried_after_success_returns_its_commit_and_writes_nothing(api, workspace):
    expect_taken(api, "gitlab/project_existing.json")
    api.get(f"{PROJECT}/repository/commits?ref_name=main&per_page=100", json=recorded("gitlab/commits_published.json"))
    (workspace / "later.txt").write_text("changed after the crash\n")

    result = publish(workspace)

    assert [method for method, _, _ in asked(api)] == ["GET", "POST", "GET", "GET"]
    assert result.commit_hash == COMMIT
    assert result.created is False
    assert result.remote_url == "https://gitlab.com/acme/platform/checkout.git"


def test_publish_gitlab_completes_an_existing_empty_project(api, workspace):
    expect_taken(api, "gitlab/project_existing_empty.json")
    api.post(f"{PROJECT}/repository/commits", json=recorded("gitlab/commit_created.json"), status=201)

    result = publish(workspace)

    assert asked(api)[3:] == [commit_request()]
    assert result.created is True


@pytest.mark.parametrize(
    ("status", "fixture"),
    [(200, "gitlab/commits_foreign.json"), (404, "gitlab/namespace_not_found.json")],
)
def test_publish_gitlab_refuses_a_project_it_did_not_publish(api, workspace, status, fixture):
    expect_taken(api, "gitlab/project_existing.json")
    api.get(f"{PROJECT}/repository/commits?ref_name=main&per_page=100", json=recorded(fixture), status=status)

    with pytest.raises(PublishError) as caught:
        publish(workspace)

    assert caught.value.code == "exists"
    assert caught.value.message == "A project gitlab.com/acme/platform/checkout already exists"


def test_publish_gitlab_refuses_the_project_another_step_of_the_run_published(api, workspace):
    expect_taken(api, "gitlab/project_existing.json")
    api.get(f"{PROJECT}/repository/commits?ref_name=main&per_page=100", json=recorded("gitlab/commits_published.json"))

    with pytest.raises(PublishError) as caught:
        publish(workspace, idempotency_key="3f1c2a9e-run:publish-again")

    assert caught.value.code == "exists"


def test_publish_gitlab_turns_a_refused_token_into_an_auth_error(api, workspace):
    api.get(NAMESPACE, json=recorded("gitlab/unauthorized.json"), status=401)

    with pytest.raises(PublishError) as caught:
        publish(workspace)

    assert caught.value.code == "auth"
    assert caught.value.message == (
        "GitLab (gitlab.com) answered 401 to GET /namespaces/acme%2Fplatform: the configured token was refused:"
        " 401 Unauthorized"
    )


def test_publish_gitlab_names_an_unknown_group(api, workspace):
    api.get(NAMESPACE, json=recorded("gitlab/namespace_not_found.json"), status=404)

    with pytest.raises(PublishError) as caught:
        publish(workspace)

    assert caught.value.code == "not_found"
    assert "has no group or user 'acme/platform'" in caught.value.message


def test_publish_gitlab_reports_gitlabs_own_validation_message(api, workspace):
    api.get(NAMESPACE, json=recorded("gitlab/namespace.json"))
    api.post(f"{API}/projects", json=recorded("gitlab/bad_request.json"), status=400)

    with pytest.raises(PublishError) as caught:
        publish(workspace, visibility="internal")

    assert caught.value.code == "api"
    assert caught.value.message == (
        "GitLab (gitlab.com) answered 400 to POST /projects:"
        " visibility_level internal is not allowed in a public group."
    )


def test_publish_gitlab_turns_a_server_error_into_an_api_error_naming_the_request(api, workspace):
    api.get(NAMESPACE, json=recorded("gitlab/namespace.json"))
    api.post(f"{API}/projects", json=recorded("gitlab/project_created.json"), status=201)
    api.post(f"{PROJECT}/repository/commits", json=recorded("gitlab/server_error.json"), status=500)

    with pytest.raises(PublishError) as caught:
        publish(workspace)

    assert caught.value.code == "api"
    assert caught.value.message == (
        "GitLab (gitlab.com) answered 500 to POST /projects/61234567/repository/commits: 500 Internal Server Error"
    )


def test_publish_gitlab_turns_a_timeout_into_a_clear_error(api, workspace):
    api.get(NAMESPACE, json=recorded("gitlab/namespace.json"))
    api.post(f"{API}/projects", body=requests.exceptions.ReadTimeout("read timed out"))

    with pytest.raises(PublishError) as caught:
        publish(workspace, timeout=5)

    assert caught.value.code == "timeout"
    assert caught.value.message == "GitLab (gitlab.com) did not answer POST /projects within 5 s"


def test_publish_gitlab_refuses_an_answer_without_a_namespace_id(api, workspace):
    api.get(NAMESPACE, json={**recorded("gitlab/namespace.json"), "id": "4721093; DROP"})

    with pytest.raises(PublishError) as caught:
        publish(workspace)

    assert caught.value.code == "api"
    assert "without a namespace id" in caught.value.message


def test_publish_gitlab_never_shows_the_token_even_when_gitlab_echoes_it(api, workspace):
    api.get(NAMESPACE, json={"message": f"403 Forbidden - token {GITLAB_TOKEN} lacks api scope"}, status=403)

    with pytest.raises(PublishError) as caught:
        publish(workspace)

    assert caught.value.code == "forbidden"
    assert GITLAB_TOKEN not in str(caught.value)
    assert "token *** lacks api scope" in caught.value.message
    assert GITLAB_TOKEN not in repr(GITLAB)


@pytest.mark.parametrize(
    ("overrides", "text"),
    [
        ({"owner": "../acme"}, "is not a GitLab namespace path"),
        ({"owner": "acme//platform"}, "is not a GitLab namespace path"),
        ({"owner": "acme/-x"}, "is not a GitLab namespace path"),
        ({"owner": "acme%2F..%2Fother"}, "is not a GitLab namespace path"),
        ({"repo": "check/out"}, "is not a GitLab project path"),
        ({"repo": "checkout.atom"}, "is not a GitLab project path"),
        ({"default_branch": "main..evil"}, "is not a valid branch name"),
        ({"visibility": "everyone"}, "repoVisibility 'everyone' must be one of"),
        ({"author_name": "Ada <evil>"}, "contains '<', '>' or a line break"),
        ({"integration": ScmIntegration(kind="gitlab", host="gitlab.com", api_url=API)}, "has no token configured"),
    ],
)
def test_publish_gitlab_refuses_hostile_input_before_any_request(no_api, workspace, overrides, text):
    with pytest.raises(PublishError) as caught:
        publish(workspace, **overrides)

    assert caught.value.code in ("invalid", "unconfigured")
    assert text in caught.value.message


def test_publish_gitlab_refuses_a_symlink_in_the_workspace_before_any_request(no_api, workspace, tmp_path):
    (tmp_path / "secret").write_text("outside\n")
    os.symlink(tmp_path / "secret", workspace / "scripts" / "link")

    with pytest.raises(PublishError) as caught:
        publish(workspace)

    assert caught.value.code == "workspace"
    assert caught.value.message == "scripts/link: symbolic links are not published"


def test_publish_gitlab_keeps_the_size_limit_before_any_request(no_api, workspace):
    with pytest.raises(PublishError) as caught:
        publish(workspace, max_bytes=10)

    assert caught.value.code == "workspace"
    assert "larger than 10 bytes" in caught.value.message
