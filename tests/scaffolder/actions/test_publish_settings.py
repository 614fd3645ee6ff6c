"""Where publish:github and publish:gitlab get their hosts: PAVED_SCM_INTEGRATIONS from the environment, handed to
the actions by the engine and offered by RepoUrlPicker only when they have a token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scaffolder.forms import field_errors, page_form, template_pages
from scaffolder.publishers import ScmIntegration
from scaffolder.runner import _action_settings

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "ghp_s3cr3tT0kenThatMustNeverLeak0000000000"
REPO_PAGE = {
    "title": "Repository",
    "properties": {"repoUrl": {"title": "Repository", "type": "string", "ui:field": "RepoUrlPicker"}},
}


def integrations(github_token="", gitlab_token=""):
    return [
        {
            "kind": "github",
            "host": "github.com",
            "api_url": "https://api.github.com",
            "token": github_token,
            "token_setting": "PAVED_GITHUB_TOKEN",
        },
        {
            "kind": "gitlab",
            "host": "gitlab.example.com",
            "api_url": "https://gitlab.example.com/api/v4",
            "token": gitlab_token,
            "token_setting": "PAVED_GITLAB_TOKEN",
        },
    ]


def read_settings(tmp_path, **env):
    """PAVED_SCM_INTEGRATIONS as portal/settings.py reads it from `env`, in a fresh interpreter."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("PAVED_GITHUB", "PAVED_GITLAB"))}
    script = "import json, portal.settings as s; print(json.dumps(s.PAVED_SCM_INTEGRATIONS))"
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**clean, "PAVED_VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_engine_hands_the_integrations_to_the_actions_with_the_token_hidden(settings):
    settings.PAVED_SCM_INTEGRATIONS = integrations(github_token=TOKEN)
    settings.PAVED_SCM_TIMEOUT_SECONDS = 12

    action_settings = _action_settings()

    assert action_settings.scm_integrations == (
        ScmIntegration("github", "github.com", "https://api.github.com", TOKEN, "PAVED_GITHUB_TOKEN"),
        ScmIntegration("gitlab", "gitlab.example.com", "https://gitlab.example.com/api/v4", "", "PAVED_GITLAB_TOKEN"),
    )
    assert action_settings.http_timeout == 12
    assert action_settings.scm_integration("github", "GitHub.com") == action_settings.scm_integrations[0]
    assert action_settings.scm_integration("gitlab", "github.com") is None
    assert TOKEN not in repr(action_settings)


def test_repo_url_picker_offers_the_hosts_that_have_a_token(settings):
    settings.PAVED_SCM_INTEGRATIONS = integrations(github_token=TOKEN)

    page = template_pages([REPO_PAGE])[0]
    html = str(page_form(page)["repoUrl"])

    assert '<option value="local">local</option>' in html
    assert '<option value="github.com">github.com</option>' in html
    assert "gitlab.example.com" not in html
    assert TOKEN not in html
    assert field_errors(page, "repoUrl", ["github.com", "acme", "checkout"]) == []
    assert field_errors(page, "repoUrl", ["gitlab.example.com", "acme", "checkout"]) == [
        "Repository: the host must be one of local, github.com"
    ]


def test_repo_url_picker_keeps_a_templates_own_allowed_hosts(settings):
    settings.PAVED_SCM_INTEGRATIONS = integrations(github_token=TOKEN, gitlab_token="glpat-x")
    page_schema = {
        "title": "Repository",
        "properties": {
            "repoUrl": {"type": "string", "ui:field": "RepoUrlPicker", "ui:options": {"allowedHosts": ["local"]}}
        },
    }

    html = str(page_form(template_pages([page_schema])[0])["repoUrl"])

    assert "github.com" not in html


def test_settings_read_github_and_gitlab_from_the_environment(tmp_path):
    done = read_settings(
        tmp_path,
        PAVED_GITHUB_TOKEN=TOKEN,
        PAVED_GITHUB_API_URL="https://ghe.example.com/api/v3/",
        PAVED_GITLAB_URL="https://GitLab.Example.com",
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
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
            "api_url": "https://GitLab.Example.com/api/v4",
            "token": "",
            "token_setting": "PAVED_GITLAB_TOKEN",
        },
    ]


def test_settings_default_to_github_com_and_gitlab_com_without_tokens(tmp_path):
    done = read_settings(tmp_path)

    assert done.returncode == 0, done.stderr
    assert '"host": "github.com", "api_url": "https://api.github.com", "token": ""' in done.stdout
    assert '"host": "gitlab.com", "api_url": "https://gitlab.com/api/v4", "token": ""' in done.stdout


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PAVED_GITHUB_API_URL", "http://api.github.com"),
        ("PAVED_GITLAB_URL", "gitlab.com"),
        ("PAVED_GITLAB_URL", "https://"),
    ],
)
def test_settings_refuse_an_api_url_that_is_not_https(tmp_path, name, value):
    done = read_settings(tmp_path, **{name: value})

    assert done.returncode != 0
    assert f"{name} must be an https:// URL, found {value!r}" in done.stderr
