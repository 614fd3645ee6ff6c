"""A run that publishes to GitHub through the engine: the token is read from settings by the worker and is found in
none of what the run keeps (its input, steps, events, output, error) nor in the logs, whether it succeeds or fails."""

from __future__ import annotations

import logging
from typing import cast

import pytest
from django.contrib.auth.models import User
from django.core import serializers

from scaffolder import jobs, runner, services
from scaffolder.models import Event, Run, Step
from tests.portal.factories import UserFactory
from tests.scaffolder.factories import template_data
from tests.scaffolder.publishers.recorded import TOKEN, recorded, replay

API = "https://api.github.com"
REPO = f"{API}/repos/acme/checkout"
STEPS = [
    {
        "id": "write",
        "action": "catalog:write",
        "input": {"entity": {"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "x"}}},
    },
    {
        "id": "publish",
        "action": "publish:github",
        "input": {"repoUrl": "${{ parameters.repoUrl }}", "description": "Checkout service"},
    },
]


@pytest.fixture
def github(settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path
    settings.PAVED_SCM_INTEGRATIONS = [
        {
            "kind": "github",
            "host": "github.com",
            "api_url": API,
            "token": TOKEN,
            "token_setting": "PAVED_GITHUB_TOKEN",
        }
    ]
    monkeypatch.setattr(jobs, "run_execute_enqueue", lambda *, run_id: None)
    with replay() as mock:
        yield mock


def start_run() -> Run:
    return services.run_create(
        template=template_data(steps=STEPS, output={"links": [{"url": "${{ steps.publish.output.repoHtmlUrl }}"}]}),
        parameters={"repoUrl": "github.com?owner=acme&repo=checkout"},
        actor=cast(User, UserFactory(username="ada", email="ada@example.com")),
    )


def everything_kept(run: Run) -> str:
    rows = [Run.objects.get(pk=run.pk), *Step.objects.filter(run=run), *Event.objects.filter(run=run)]
    return str(serializers.serialize("json", rows))


def test_a_run_publishes_to_github_and_keeps_no_token(db, github, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    github.get(f"{API}/user", json=recorded("github/user.json"))
    github.post(f"{API}/orgs/acme/repos", json=recorded("github/repo_created.json"), status=201)
    github.put(f"{REPO}/contents/catalog-info.yaml", json=recorded("github/contents_created.json"), status=201)
    github.post(f"{REPO}/git/blobs", json=recorded("github/blob_2.json"), status=201)
    github.post(f"{REPO}/git/trees", json=recorded("github/tree_created.json"), status=201)
    github.post(f"{REPO}/git/commits", json=recorded("github/commit_created.json"), status=201)
    github.patch(f"{REPO}/git/refs/heads/main", json=recorded("github/ref_updated.json"))
    run = start_run()

    runner.run_execute(run_id=str(run.pk))

    run.refresh_from_db()
    assert run.status == Run.Status.COMPLETED, run.error
    assert run.output == {"links": [{"url": "https://github.com/acme/checkout"}]}
    commit = next(call for call in github.calls if call.request.url == f"{REPO}/git/commits")
    assert f"Paved-Run: {run.pk}:publish".encode() in commit.request.body
    assert {call.request.headers["Authorization"] for call in github.calls} == {f"Bearer {TOKEN}"}
    kept = everything_kept(run)
    assert "7638417db6d59f3c431d3e1f261cc637155684cd" in kept
    assert TOKEN not in kept
    assert TOKEN not in caplog.text
    assert TOKEN not in "".join(capsys.readouterr())


def test_a_run_whose_token_github_refuses_fails_clearly_and_keeps_no_token(db, github, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    github.get(f"{API}/user", json={"message": f"Bad credentials: {TOKEN}"}, status=401)
    run = start_run()

    runner.run_execute(run_id=str(run.pk))

    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert run.error == (
        "Step publish (publish:github): publish:github: GitHub (github.com) answered 401 to GET /user: the configured"
        " token was refused: Bad credentials: ***"
    )
    kept = everything_kept(run)
    assert TOKEN not in kept
    assert TOKEN not in caplog.text
    assert TOKEN not in "".join(capsys.readouterr())
