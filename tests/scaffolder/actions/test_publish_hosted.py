"""publish:github and publish:gitlab as actions: host from repoUrl, configured integrations only, dry runs, outputs,
and the token kept out of input, log, output and errors."""

from __future__ import annotations

import pytest

from scaffolder.actions import ActionContext, ActionError, ActionSettings, action_get, validate_input
from scaffolder.publishers import ScmIntegration
from tests.scaffolder.publishers.recorded import (
    GITLAB_TOKEN,
    TOKEN,
    asked,
    make_workspace,
    recorded,
    replay,
    silence,
)

GITHUB_API = "https://api.github.com"
GITLAB_API = "https://gitlab.com/api/v4"
INTEGRATIONS = (
    ScmIntegration(
        kind="github", host="github.com", api_url=GITHUB_API, token=TOKEN, token_setting="PAVED_GITHUB_TOKEN"
    ),
    ScmIntegration(
        kind="gitlab", host="gitlab.com", api_url=GITLAB_API, token=GITLAB_TOKEN, token_setting="PAVED_GITLAB_TOKEN"
    ),
    ScmIntegration(
        kind="github", host="ghe.example.com", api_url="https://ghe.example.com/api/v3", token_setting="PAVED_GHE"
    ),
)


@pytest.fixture
def api():
    with replay() as mock:
        yield mock


@pytest.fixture
def no_api():
    with silence() as mock:
        yield mock


@pytest.fixture
def workspace(tmp_path):
    root = tmp_path / "workspace"
    make_workspace(root / "app")
    (root / "notes.txt").write_text("not published with sourcePath app\n")
    return root


def make_ctx(tmp_path, workspace, action_input, *, dry_run=False, integrations=INTEGRATIONS):
    lines: list[str] = []
    ctx = ActionContext(
        run_id="3f1c2a9e-run",
        step_id="publish",
        workspace=workspace,
        input=action_input,
        template_dir=None,
        user_ref="user:default/ada",
        user_name="Ada Lovelace",
        user_email="ada@example.com",
        dry_run=dry_run,
        log=lines.append,
        settings=ActionSettings(repos_root=tmp_path / "repos", scm_integrations=integrations, http_timeout=7),
    )
    return ctx, lines


def expect_github_publish(api):
    repo = f"{GITHUB_API}/repos/acme/checkout"
    api.get(f"{GITHUB_API}/user", json=recorded("github/user.json"))
    api.post(f"{GITHUB_API}/orgs/acme/repos", json=recorded("github/repo_created.json"), status=201)
    api.put(f"{repo}/contents/.gitignore", json=recorded("github/contents_created.json"), status=201)
    for index in (1, 2, 3):
        api.post(f"{repo}/git/blobs", json=recorded(f"github/blob_{index}.json"), status=201)
    api.post(f"{repo}/git/trees", json=recorded("github/tree_created.json"), status=201)
    api.post(f"{repo}/git/commits", json=recorded("github/commit_created.json"), status=201)
    api.patch(f"{repo}/git/refs/heads/main", json=recorded("github/ref_updated.json"))


def test_publish_github_and_gitlab_are_registered_with_their_input_schemas():
    for action_id in ("publish:github", "publish:gitlab"):
        action = action_get(action_id)
        properties = action.input_schema["properties"]
        assert set(properties) == {
            "repoUrl",
            "description",
            "defaultBranch",
            "gitCommitMessage",
            "sourcePath",
            "repoVisibility",
        }
        assert properties["repoVisibility"]["enum"] == ["private", "internal", "public"]
        assert action.input_schema["required"] == ["repoUrl"]
        assert set(action.output_schema["properties"]) == {"remoteUrl", "repoContentsUrl", "commitHash", "repoHtmlUrl"}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({}, "'repoUrl' is a required property"),
        ({"repoUrl": "github.com?owner=a&repo=b", "token": "x"}, "Additional properties are not allowed"),
        ({"repoUrl": "github.com?owner=a&repo=b", "repoVisibility": "everyone"}, "is not one of"),
        ({"repoUrl": ["github.com?owner=a&repo=b"]}, "is not of type 'string'"),
    ],
)
def test_publish_github_input_is_checked_against_its_schema(value, text):
    with pytest.raises(ActionError) as caught:
        validate_input(action_get("publish:github"), value)

    assert caught.value.code == "input"
    assert text in caught.value.message


def test_publish_github_publishes_the_source_path_and_outputs_like_backstage(api, tmp_path, workspace):
    expect_github_publish(api)
    ctx, lines = make_ctx(
        tmp_path,
        workspace,
        {
            "repoUrl": "github.com?owner=acme&repo=checkout",
            "sourcePath": "app",
            "gitCommitMessage": "Create checkout",
            "description": "Checkout service",
        },
    )

    output = action_get("publish:github").run(ctx)

    assert output == {
        "remoteUrl": "https://github.com/acme/checkout.git",
        "repoContentsUrl": "https://github.com/acme/checkout/blob/main",
        "commitHash": "7638417db6d59f3c431d3e1f261cc637155684cd",
        "repoHtmlUrl": "https://github.com/acme/checkout",
    }
    tree = next(body["tree"] for _, url, body in asked(api) if url.endswith("/git/trees"))
    assert [entry["path"] for entry in tree] == [".gitignore", "catalog-info.yaml", "scripts/run.sh"]
    assert lines == ["publish:github created github.com/acme/checkout at 7638417db6d59f3c431d3e1f261cc637155684cd"]
    assert TOKEN not in repr(ctx)
    assert TOKEN not in str(output)


def test_publish_gitlab_publishes_into_a_subgroup(api, tmp_path, workspace):
    api.get(f"{GITLAB_API}/namespaces/acme%2Fplatform", json=recorded("gitlab/namespace.json"))
    api.post(f"{GITLAB_API}/projects", json=recorded("gitlab/project_created.json"), status=201)
    api.post(
        f"{GITLAB_API}/projects/61234567/repository/commits", json=recorded("gitlab/commit_created.json"), status=201
    )
    ctx, lines = make_ctx(
        tmp_path,
        workspace,
        {"repoUrl": "gitlab.com?owner=acme%2Fplatform&repo=checkout", "sourcePath": "app", "repoVisibility": "public"},
    )

    output = action_get("publish:gitlab").run(ctx)

    assert asked(api)[1][2]["visibility"] == "public"
    assert output == {
        "remoteUrl": "https://gitlab.com/acme/platform/checkout.git",
        "repoContentsUrl": "https://gitlab.com/acme/platform/checkout/-/blob/main",
        "commitHash": "ed899a2f4b50b4370feeea94676502b42383c746",
        "repoHtmlUrl": "https://gitlab.com/acme/platform/checkout",
    }
    assert GITLAB_TOKEN not in " ".join(lines)


def test_publish_github_retried_logs_that_it_found_its_repository(api, tmp_path, workspace):
    repo = f"{GITHUB_API}/repos/acme/checkout"
    api.get(f"{GITHUB_API}/user", json=recorded("github/user.json"))
    api.post(f"{GITHUB_API}/orgs/acme/repos", json=recorded("github/name_exists.json"), status=422)
    api.get(repo, json=recorded("github/repo.json"))
    api.get(f"{repo}/commits?sha=main&per_page=100", json=recorded("github/commits_published.json"))
    ctx, lines = make_ctx(tmp_path, workspace, {"repoUrl": "github.com?owner=acme&repo=checkout"})

    output = action_get("publish:github").run(ctx)

    assert output["commitHash"] == "7638417db6d59f3c431d3e1f261cc637155684cd"
    assert lines == [
        "publish:github found the already published github.com/acme/checkout at"
        " 7638417db6d59f3c431d3e1f261cc637155684cd"
    ]


def test_publish_github_refuses_a_repository_of_another_run_as_publish_exists(api, tmp_path, workspace):
    repo = f"{GITHUB_API}/repos/acme/checkout"
    api.get(f"{GITHUB_API}/user", json=recorded("github/user.json"))
    api.post(f"{GITHUB_API}/orgs/acme/repos", json=recorded("github/name_exists.json"), status=422)
    api.get(repo, json=recorded("github/repo.json"))
    api.get(f"{repo}/commits?sha=main&per_page=100", json=recorded("github/commits_foreign.json"))
    ctx, _ = make_ctx(tmp_path, workspace, {"repoUrl": "github.com?owner=acme&repo=checkout"})

    with pytest.raises(ActionError) as caught:
        action_get("publish:github").run(ctx)

    assert caught.value.code == "publish_exists"
    assert caught.value.message == "publish:github: A repository github.com/acme/checkout already exists"


def test_publish_github_error_from_the_api_never_carries_the_token(api, tmp_path, workspace):
    api.get(f"{GITHUB_API}/user", json={"message": f"Bad credentials for {TOKEN}"}, status=401)
    ctx, lines = make_ctx(tmp_path, workspace, {"repoUrl": "github.com?owner=acme&repo=checkout"})

    with pytest.raises(ActionError) as caught:
        action_get("publish:github").run(ctx)

    assert caught.value.code == "publish_auth"
    assert TOKEN not in caught.value.message
    assert TOKEN not in repr(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True
    assert lines == []


@pytest.mark.parametrize(
    ("action_id", "repo_url", "text"),
    [
        ("publish:github", "gitlab.com?owner=acme&repo=checkout", "'gitlab.com' is not a configured GitHub host"),
        ("publish:gitlab", "github.com?owner=acme&repo=checkout", "'github.com' is not a configured GitLab host"),
        ("publish:github", "evil.example?owner=acme&repo=checkout", "(configured: github.com)"),
    ],
)
def test_a_host_that_is_not_configured_for_the_action_is_refused_without_a_request(
    no_api, tmp_path, workspace, action_id, repo_url, text
):
    ctx, _ = make_ctx(tmp_path, workspace, {"repoUrl": repo_url})

    with pytest.raises(ActionError) as caught:
        action_get(action_id).run(ctx)

    assert caught.value.code == "publish_unconfigured"
    assert text in caught.value.message


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_configured_host_without_a_token_fails_naming_the_setting(no_api, tmp_path, workspace, dry_run):
    ctx, lines = make_ctx(tmp_path, workspace, {"repoUrl": "ghe.example.com?owner=acme&repo=checkout"}, dry_run=dry_run)

    with pytest.raises(ActionError) as caught:
        action_get("publish:github").run(ctx)

    assert caught.value.code == "publish_unconfigured"
    assert "ghe.example.com has no token configured" in caught.value.message
    assert lines == []


@pytest.mark.parametrize(
    "repo_url",
    [
        "github.com",
        "github.com?owner=acme",
        "github.com?repo=checkout",
        "bad host?owner=a&repo=b",
        "github.com?owner=../../etc&repo=passwd",
        "github.com?owner=acme&repo=check%2Fout",
    ],
)
def test_publish_github_refuses_a_bad_repo_url_without_a_request(no_api, tmp_path, workspace, repo_url):
    ctx, _ = make_ctx(tmp_path, workspace, {"repoUrl": repo_url})

    with pytest.raises(ActionError) as caught:
        action_get("publish:github").run(ctx)

    assert caught.value.code == "publish_invalid"
    assert caught.value.message.startswith("publish:github: ")


def test_publish_github_refuses_a_source_path_outside_the_workspace(no_api, tmp_path, workspace):
    ctx, _ = make_ctx(tmp_path, workspace, {"repoUrl": "github.com?owner=acme&repo=checkout", "sourcePath": "../"})

    with pytest.raises(ActionError) as caught:
        action_get("publish:github").run(ctx)

    assert caught.value.code == "unsafe"


@pytest.mark.parametrize(
    ("action_id", "repo_url", "contents"),
    [
        ("publish:github", "github.com?owner=acme&repo=checkout", "https://github.com/acme/checkout/blob/trunk"),
        ("publish:gitlab", "gitlab.com?owner=acme&repo=checkout", "https://gitlab.com/acme/checkout/-/blob/trunk"),
    ],
)
def test_a_dry_run_publishes_nothing_and_says_what_it_would_do(
    no_api, tmp_path, workspace, action_id, repo_url, contents
):
    ctx, lines = make_ctx(
        tmp_path, workspace, {"repoUrl": repo_url, "defaultBranch": "trunk", "repoVisibility": "internal"}, dry_run=True
    )

    output = action_get(action_id).run(ctx)

    assert output["commitHash"] == "0" * 40
    assert output["repoContentsUrl"] == contents
    host = repo_url.split("?")[0]
    assert lines == [f"{action_id} (dry run) would create the internal repository {host}/acme/checkout on branch trunk"]
