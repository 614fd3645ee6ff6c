from __future__ import annotations

import pytest

from scorecards.evaluation import scorecard_evaluate_all
from tests.scorecards.factories import ExemptionFactory
from tests.scorecards.orgs import OPS, ops_org, service

pytestmark = pytest.mark.django_db
RESULTS = "/api/scorecards/results/by-entity/component/default/{}"


@pytest.fixture
def evaluated():
    ops_org()
    ExemptionFactory(entity_ref="component:default/beta", scorecard_ref=OPS, check_id="readme", status="approved")
    scorecard_evaluate_all()


def test_an_entitys_results_show_level_next_level_percent_and_every_check(evaluated, client_for):
    response = client_for("reader").get(RESULTS.format("billing"))

    assert response.status_code == 200
    body = response.json()
    assert body["entityRef"] == "component:default/billing"
    [card] = body["scorecards"]
    assert (card["scorecardRef"], card["title"], card["level"], card["nextLevel"]) == (
        OPS,
        "Operations",
        "Bronze",
        "Silver",
    )
    assert card["percent"] == 83.3
    assert [check["id"] for check in card["checks"]] == [
        "owner", "lifecycle", "policy", "runbook", "rotation", "readme", "service-type",
    ]  # fmt: skip
    runbook = next(check for check in card["checks"] if check["id"] == "runbook")
    assert runbook == {
        "id": "runbook",
        "title": "Runbook linked",
        "level": "Silver",
        "state": "fail",
        "exempt": False,
        "evidence": {
            "value": [],
            "source": "catalog",
            "observed_at": runbook["evidence"]["observed_at"],
            "message": "no link of type runbook; the entity has no typed links",
        },
        "remediation": "Add a link of type runbook.",
        "remediationUrl": "https://docs.example.com/runbooks",
    }


def test_exempt_not_applicable_and_error_states_are_shown_as_such(evaluated, client_for):
    body = client_for("reader").get(RESULTS.format("beta")).json()

    checks = {check["id"]: check for check in body["scorecards"][0]["checks"]}
    assert (checks["readme"]["state"], checks["readme"]["exempt"]) == ("error", True)
    assert checks["service-type"]["state"] == "not-applicable"
    assert body["scorecards"][0]["level"] == "Gold"
    assert body["scorecards"][0]["nextLevel"] is None


def test_an_entity_on_no_scorecard_has_an_empty_list_and_an_unknown_one_is_404(evaluated, client_for):
    client = client_for("reader")

    assert client.get("/api/scorecards/results/by-entity/group/default/payments").json() == {
        "entityRef": "group:default/payments",
        "scorecards": [],
    }
    missing = client.get(RESULTS.format("ghost"))
    assert missing.status_code == 404
    assert "component:default/ghost" in missing.json()["error"]["message"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/scorecards/results/by-entity/component/default/-rf", "name"),
        ("/api/scorecards/results/by-entity/comp%20onent/default/shop", "kind"),
        ("/api/scorecards/results/by-entity/component/" + "n" * 70 + "/shop", "namespace"),
        ("/api/scorecards/scorecards/-x/ops", "namespace"),
    ],
)
def test_hostile_path_parts_are_refused_naming_the_part(evaluated, client_for, path, field):
    response = client_for("reader").get(path)

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(f"{field}:")


@pytest.mark.parametrize(
    "path",
    ["/api/scorecards/results/by-entity/component/default/sh%00op", "/api/scorecards/scorecards/..%2F..%2Fetc/passwd"],
)
def test_a_nul_byte_or_a_slash_in_a_path_part_finds_nothing(evaluated, client_for, path):
    assert client_for("reader").get(path).status_code == 404


def test_results_need_a_signed_in_user(evaluated, client):
    assert client.get(RESULTS.format("shop")).status_code in (401, 403)
    assert client.get("/api/scorecards/scorecards").status_code in (401, 403)


def test_the_scorecards_list_shows_each_level_distribution(evaluated, client_for):
    response = client_for("reader").get("/api/scorecards/scorecards")

    assert response.status_code == 200
    [card] = response.json()["items"]
    assert card["scorecardRef"] == OPS
    assert card["levels"] == ["Bronze", "Silver", "Gold"]
    assert card["ownerRef"] == "group:default/payments"
    assert card["total"] == 7
    assert card["distribution"] == [
        {"level": None, "levelIndex": -1, "count": 2},  # indexer, orphan-service
        {"level": "Bronze", "levelIndex": 0, "count": 2},  # billing, checkout
        {"level": "Silver", "levelIndex": 1, "count": 1},  # gateway
        {"level": "Gold", "levelIndex": 2, "count": 2},  # shop, beta
    ]
    assert card["checks"][0] == {"id": "owner", "title": "Owned by a team", "level": "Bronze"}


def test_one_scorecard_by_name_and_a_missing_one_is_404(evaluated, client_for):
    client = client_for("reader")

    assert client.get("/api/scorecards/scorecards/default/ops").json()["total"] == 7
    assert client.get("/api/scorecards/scorecards/default/nope").status_code == 404


def test_the_results_and_list_cost_the_same_queries_for_more_scorecards_and_checks(
    client_for, django_assert_max_num_queries
):
    ops_org(extra=[service(f"svc-{n}") for n in range(30)])
    scorecard_evaluate_all()
    client = client_for("reader")
    client.get("/api/scorecards/scorecards")  # session and user loaded once

    with django_assert_max_num_queries(8):
        assert client.get(RESULTS.format("shop")).status_code == 200
    with django_assert_max_num_queries(6):
        assert len(client.get("/api/scorecards/scorecards").json()["items"]) == 1
