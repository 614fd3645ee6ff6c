"""Scorecard checks graded from repositories on GitHub and GitLab, end to end: the catalog, fact collection through the
hosts' APIs (replayed with `responses`), evaluation, the stored results and the repository poll."""

from __future__ import annotations

import json
import logging

import pytest
import responses
from django.utils import timezone

from scorecards.evaluation import repositories_poll, scorecard_evaluate_all
from scorecards.models import Fact, Result, Score
from tests.catalog.factories import ComponentDictFactory, LocationFactory, ingest
from tests.catalog.oncall.factories import payments_org
from tests.scorecards.factories import ScorecardDictFactory
from tests.scorecards.hosted import (
    GH,
    GITHUB_SHOP,
    GITLAB_SHOP,
    GITLAB_TOKEN,
    GL,
    HEAD,
    MOVED,
    TOKEN,
    configure,
    github_file,
    github_head,
)

pytestmark = pytest.mark.django_db
CARD = "scorecard:default/repos"


def repos_scorecard() -> dict:
    card = ScorecardDictFactory(name="repos")
    card["spec"] = {
        "owner": "group:payments",
        "filter": "kind=component",
        "levels": ["Bronze", "Silver"],
        "checks": [
            {
                "id": "readme",
                "level": "Bronze",
                "title": "Has a README",
                "rule": {"type": "repo.file-exists", "path": "README.md"},
            },
            {
                "id": "license",
                "level": "Silver",
                "title": "MIT licensed",
                "rule": {"type": "repo.file-matches", "path": "LICENSE", "pattern": "MIT License"},
            },
        ],
    }
    return card


def component(name: str, location: str) -> dict:
    doc = ComponentDictFactory(name=name, owner="payments")
    doc["metadata"]["annotations"] = {"backstage.io/source-location": location}
    return doc


def results(name: str) -> dict[str, Result]:
    rows = Result.objects.filter(entity_ref=f"component:default/{name}", scorecard_ref=CARD)
    return {row.check_id: row for row in rows}


@pytest.fixture(autouse=True)
def integrations(settings):
    configure(settings)


@pytest.fixture
def org():
    docs = payments_org(extra=[repos_scorecard(), component("shop", GITHUB_SHOP), component("ledger", GITLAB_SHOP)])
    outcome = ingest(docs, location=LocationFactory.create())
    assert outcome.errors == [], outcome.errors


def test_checks_pass_and_fail_on_files_read_through_the_api_and_a_failing_host_leaves_errors(org, caplog):
    caplog.set_level(logging.DEBUG)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        github_head(api)
        github_file(api, "README.md", "# Shop\n")
        api.get(f"{GH}/contents/LICENSE?ref={HEAD}", status=404, json={"message": "Not Found"})
        api.get(f"{GL}/repository/commits/main", status=503, json={"message": f"down, token {GITLAB_TOKEN}"})

        scorecard_evaluate_all()

    shop = results("shop")
    assert (shop["readme"].state, shop["license"].state) == ("pass", "fail")
    assert shop["readme"].evidence["source"] == f"git:https://github.com/acme/shop#main@{HEAD}:README.md"
    assert Score.objects.get(entity_ref="component:default/shop", scorecard_ref=CARD).level == "Bronze"
    ledger = results("ledger")
    assert (ledger["readme"].state, ledger["license"].state) == ("error", "error")
    assert "GitLab (gitlab.example.com) answered 503" in ledger["readme"].evidence["message"]
    # Unconfirmed, not failed: the service has no level rather than a failed one.
    assert Score.objects.get(entity_ref="component:default/ledger", scorecard_ref=CARD).level == ""
    stored = json.dumps(
        [list(Fact.objects.values_list("value", "source", "error")), list(Result.objects.values_list("evidence"))],
        default=str,
    )
    assert TOKEN not in stored
    assert GITLAB_TOKEN not in stored
    assert TOKEN not in caplog.text
    assert GITLAB_TOKEN not in caplog.text


def test_the_poll_evaluates_again_a_service_whose_hosted_head_moved(org):
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        github_head(api)
        github_file(api, "README.md", "# Shop\n")
        github_file(api, "LICENSE", "MIT License\n")
        gitlab = f"{GL}/repository/commits/main"
        api.get(gitlab, status=503)
        scorecard_evaluate_all()
    assert results("shop")["license"].state == "pass"

    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        github_head(api)  # unchanged: nothing to do
        assert repositories_poll() == []

    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        github_head(api, MOVED)  # the poll sees the move ...
        github_head(api, MOVED)  # ... and the evaluation reads the head again, then the files at it
        github_file(api, "LICENSE", "Apache License\n", MOVED)
        github_file(api, "README.md", "# Shop\n", MOVED)

        assert repositories_poll() == ["component:default/shop"]

    assert results("shop")["license"].state == "fail"


def test_the_poll_stops_asking_a_host_that_is_rate_limiting_it(org):
    Fact.objects.bulk_create(
        Fact(
            entity_ref=f"component:default/{name}",
            key="repo.file:README.md",
            value={"exists": True, "text": "x", "truncated": False},
            source=f"git:https://github.com/acme/{name}#main@{HEAD}:README.md",
            collected_at=timezone.now(),
        )
        for name in ("shop", "billing", "gateway")
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        for name in ("shop", "billing", "gateway"):
            api.get(f"https://api.github.com/repos/acme/{name}/commits/main", status=429, headers={"Retry-After": "30"})

        assert repositories_poll() == []
        assert len(api.calls) == 1
