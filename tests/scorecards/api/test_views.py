"""/api/scorecards/: exemptions, campaigns and history over HTTP, with Backstage's error body; input errors name the
field or parameter."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from scorecards import jobs
from scorecards.models import Campaign, Exemption
from tests.portal.factories import AdminFactory
from tests.scorecards.factories import (
    CARD,
    CampaignFactory,
    ExemptionFactory,
    ScoreFactory,
    level_change,
    scorecards_org,
)

pytestmark = pytest.mark.django_db

CHECKOUT = "component:default/checkout"


@pytest.fixture
def org(db, monkeypatch):
    scorecards_org()
    monkeypatch.setattr(jobs, "_send", lambda name, **kwargs: None)


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, body, content_type="application/json")


def _exemption_body(**changes: Any) -> dict[str, Any]:
    return {
        "entityRef": "checkout",
        "scorecardRef": "production-readiness",
        "checkId": "runbook",
        "reason": "The runbook moves to the new wiki this month.",
        "expiresAt": (timezone.now() + dt.timedelta(days=30)).isoformat(),
        **changes,
    }


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:500]
    return dict(response.json()["error"])


# -- exemptions --------------------------------------------------------------------------------------------------------


def test_an_exemption_is_requested_listed_read_and_approved_by_another_owner(org, client_for):
    alice, bob = client_for("alice"), client_for("bob")
    created = _post(alice, reverse("scorecards_api:exemptions"), _exemption_body())
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["entityRef"], body["scorecardRef"], body["checkId"]) == (CHECKOUT, CARD, "runbook")
    assert (body["status"], body["approverRef"], body["requestedBy"], body["active"]) == (
        "pending",
        "group:default/payments",
        "alice",
        False,
    )
    listed = bob.get(reverse("scorecards_api:exemptions"), {"entityRef": "checkout", "status": "pending"}).json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]
    assert bob.get(reverse("scorecards_api:exemption", args=[body["id"]])).json()["reason"] == body["reason"]

    own = _post(alice, reverse("scorecards_api:exemption_approve", args=[body["id"]]), {"comment": "mine"})
    assert "never whoever asked" in _error(own, 403)["message"]
    assert _error(own, 403)["name"] == "NotAllowedError"
    approved = _post(bob, reverse("scorecards_api:exemption_approve", args=[body["id"]]), {"comment": "A month"})
    assert approved.status_code == 200
    assert (approved.json()["status"], approved.json()["decidedBy"], approved.json()["active"]) == (
        "approved",
        "bob",
        True,
    )
    again = _post(bob, reverse("scorecards_api:exemption_reject", args=[body["id"]]), {})
    assert _error(again, 409)["name"] == "ConflictError"
    revoked = _post(alice, reverse("scorecards_api:exemption_revoke", args=[body["id"]]), {})
    assert revoked.json()["status"] == "revoked"


def test_someone_outside_the_owner_cannot_approve_or_reject(org, client_for):
    exemption = ExemptionFactory()
    for name in ("exemption_approve", "exemption_reject", "exemption_revoke"):
        refused = _post(client_for("zoe"), reverse(f"scorecards_api:{name}", args=[exemption.pk]), {})
        assert _error(refused, 403)["name"] == "NotAllowedError"
    exemption.refresh_from_db()
    assert exemption.status == Exemption.Status.PENDING


def test_an_administrator_rejects(org, client_for):
    AdminFactory(username="root")
    exemption = ExemptionFactory()
    rejected = _post(client_for("root"), reverse("scorecards_api:exemption_reject", args=[exemption.pk]), {})
    assert rejected.json()["status"] == "rejected"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reason": "x" * 4001}, "reason: Ensure this field has no more than 4000 characters."),
        ({"reason": ""}, "reason: This field may not be blank."),
        ({"expiresAt": "tomorrow"}, "expiresAt: Datetime has wrong format."),
        ({"expiresAt": "2020-01-01T00:00:00Z"}, "expiresAt: The expiry must be in the future;"),
        ({"expiresAt": "2999-01-01T00:00:00Z"}, "expiresAt: An exemption lasts at most 90 days"),
        ({"entityRef": "component:default/nowhere"}, "entityRef: There is no entity component:default/nowhere"),
        ({"entityRef": "a:b:c"}, 'entityRef: Entity reference "a:b:c" was not on the form'),
        ({"scorecardRef": "unknown"}, "scorecardRef: There is no scorecard scorecard:default/unknown"),
        ({"checkId": "tests-pass"}, f"checkId: {CARD} has no check 'tests-pass'"),
        ({"checkId": ["a"]}, "checkId: Not a valid string."),
    ],
)
def test_an_exemption_request_with_bad_input_is_refused_naming_the_field(org, client_for, changes, message):
    response = _post(client_for("alice"), reverse("scorecards_api:exemptions"), _exemption_body(**changes))
    error = _error(response, 400)
    assert error["name"] == "InputError"
    assert error["message"].startswith(message), error["message"]
    assert not Exemption.objects.exists()


def test_a_second_open_exemption_for_a_check_is_a_conflict(org, client_for):
    assert _post(client_for("alice"), reverse("scorecards_api:exemptions"), _exemption_body()).status_code == 201
    response = _post(client_for("bob"), reverse("scorecards_api:exemptions"), _exemption_body())
    assert "already has a pending exemption" in _error(response, 409)["message"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"entityRef": "a:b:c"}, 'entityRef: Entity reference "a:b:c" was not on the form'),
        ({"status": "granted"}, "status: Select a valid choice."),
        ({"status": ""}, "status: Give a value or leave the parameter out."),
        ({"limit": "0"}, "limit: Expected a whole number from 1 to 500"),
    ],
)
def test_the_exemption_list_refuses_bad_parameters_naming_them(org, client_for, params, message):
    assert _error(client_for("alice").get(reverse("scorecards_api:exemptions"), params), 400)["message"].startswith(
        message
    )


def test_the_exemption_list_is_two_queries_whatever_its_length(org, client_for, django_assert_num_queries):
    """Besides the session and its user: a count and the rows, with who asked and who decided joined in."""
    for check in ("a", "b", "c", "d"):
        ExemptionFactory(check_id=check)
    client = client_for("alice")
    with django_assert_num_queries(4):
        response = client.get(reverse("scorecards_api:exemptions"))
    assert response.json()["count"] == 4


def test_unknown_exemptions_are_not_found_and_anonymous_callers_are_refused(org, client_for):
    missing = client_for("alice").get(
        reverse("scorecards_api:exemption", args=["4b7a2f63-1b1c-4d8e-9a34-0c1f2e3d4b5a"])
    )
    assert _error(missing, 404)["message"] == "There is no exemption 4b7a2f63-1b1c-4d8e-9a34-0c1f2e3d4b5a."
    assert _error(Client().get(reverse("scorecards_api:exemptions")), 401)["name"] == "AuthenticationError"


# -- campaigns ---------------------------------------------------------------------------------------------------------


def _campaign_body(**changes: Any) -> dict[str, Any]:
    return {
        "slug": "silver-by-spring",
        "title": "Every service Silver by spring",
        "scorecardRef": "production-readiness",
        "targetLevel": "Silver",
        "filter": "kind=component,relations.ownedby=group:default/payments",
        "dueDate": (timezone.localdate() + dt.timedelta(weeks=8)).isoformat(),
        **changes,
    }


def test_a_campaign_is_created_read_with_its_progress_changed_and_deleted(org, client_for):
    alice = client_for("alice")
    created = _post(alice, reverse("scorecards_api:campaigns"), _campaign_body())
    assert created.status_code == 201, created.content
    assert (created.json()["scorecardRef"], created.json()["createdBy"]) == (CARD, "alice")
    ScoreFactory(entity_ref=CHECKOUT, level="Gold", level_index=2)
    level_change(CHECKOUT, "Gold", timezone.now() - dt.timedelta(days=3))
    detail = alice.get(reverse("scorecards_api:campaign", args=["silver-by-spring"])).json()
    progress = detail["progress"]
    assert (progress["total"], progress["done"], progress["percent"], progress["problem"]) == (2, 1, 50.0, "")
    assert [(team["ownerRef"], team["done"]) for team in progress["teams"]] == [("group:default/payments", 1)]
    assert set(progress["forecast"]) == {"perWeek", "projectedFinish", "delayed"}

    changed = alice.patch(
        reverse("scorecards_api:campaign", args=["silver-by-spring"]),
        {"checkIds": ["runbook"], "title": "Runbooks"},
        content_type="application/json",
    )
    assert (changed.json()["targetLevel"], changed.json()["checkIds"], changed.json()["title"]) == (
        "",
        ["runbook"],
        "Runbooks",
    )
    listed = alice.get(reverse("scorecards_api:campaigns"), {"scorecardRef": "production-readiness"}).json()
    assert [row["slug"] for row in listed["results"]] == ["silver-by-spring"]
    assert alice.delete(reverse("scorecards_api:campaign", args=["silver-by-spring"])).status_code == 204
    assert not Campaign.objects.exists()


def test_only_the_scorecards_owners_write_campaigns(org, client_for):
    refused = _post(client_for("zoe"), reverse("scorecards_api:campaigns"), _campaign_body())
    assert "group:default/payments" in _error(refused, 403)["message"]
    CampaignFactory(slug="theirs")
    url = reverse("scorecards_api:campaign", args=["theirs"])
    zoe = client_for("zoe")
    assert _error(zoe.patch(url, {"title": "x"}, content_type="application/json"), 403)["name"] == "NotAllowedError"
    assert _error(zoe.delete(url), 403)["name"] == "NotAllowedError"
    assert zoe.get(url).status_code == 200


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"filter": "kind=component,=x"}, "filter: Invalid filter, '=x' is not a valid statement"),
        ({"targetLevel": "Platinum"}, f"targetLevel: {CARD} has no level 'Platinum'"),
        ({"checkIds": ["runbook"]}, "targetLevel: Give a target level or a list of check ids"),
        ({"dueDate": "2020-01-01"}, "dueDate: The due date 2020-01-01 has passed."),
        ({"dueDate": "2027-02-30"}, "dueDate: Date has wrong format."),
        ({"slug": "not a slug"}, 'slug: Enter a valid "slug"'),
        ({"scorecardRef": "nope"}, "scorecardRef: There is no scorecard scorecard:default/nope"),
        ({"title": "t" * 201}, "title: Ensure this field has no more than 200 characters."),
    ],
)
def test_a_campaign_with_bad_input_is_refused_naming_the_field(org, client_for, changes, message):
    response = _post(client_for("alice"), reverse("scorecards_api:campaigns"), _campaign_body(**changes))
    assert _error(response, 400)["message"].startswith(message), response.json()
    assert not Campaign.objects.exists()


def test_a_taken_campaign_slug_is_a_conflict_and_an_unknown_one_not_found(org, client_for):
    CampaignFactory(slug="silver-by-spring")
    response = _post(client_for("alice"), reverse("scorecards_api:campaigns"), _campaign_body())
    assert _error(response, 409)["name"] == "ConflictError"
    missing = client_for("alice").get(reverse("scorecards_api:campaign", args=["nope"]))
    assert _error(missing, 404)["message"] == "There is no campaign nope."


# -- history -----------------------------------------------------------------------------------------------------------


def _history(client: Client, **params: str) -> Any:
    return client.get(reverse("scorecards_api:history"), params)


def test_history_answers_the_level_of_a_service_on_a_date(org, client_for):
    level_change(CHECKOUT, "Bronze", dt.datetime(2027, 1, 10, 9, 0, tzinfo=dt.UTC))
    level_change(CHECKOUT, "Silver", dt.datetime(2027, 2, 1, 23, 59, tzinfo=dt.UTC))
    client = client_for("alice")
    before = _history(client, at="2027-01-09", entityRef="checkout", scorecardRef="production-readiness").json()
    assert (before["entityRef"], before["level"], before["total"], before["levels"]) == (CHECKOUT, None, 0, [])
    bronze = _history(client, at="2027-02-01", entityRef="checkout", scorecardRef="production-readiness").json()
    assert (bronze["level"], bronze["since"]) == ("Silver", "2027-02-01T23:59:00Z")
    january = _history(client, at="2027-01-31", entityRef="checkout", scorecardRef=CARD).json()
    assert (january["level"], january["levelIndex"], january["at"]) == ("Bronze", 0, "2027-01-31")


def test_history_answers_the_distribution_of_levels_of_a_scorecard_or_a_team(org, client_for):
    level_change(CHECKOUT, "Silver", dt.datetime(2027, 1, 10, tzinfo=dt.UTC))
    level_change("component:default/web", "Bronze", dt.datetime(2027, 1, 11, tzinfo=dt.UTC), "group:default/search")
    client = client_for("alice")
    every = _history(client, at="2027-01-31", scorecardRef=CARD).json()
    assert every["total"] == 2
    assert [(row["level"], row["count"]) for row in every["levels"]] == [
        ("", 0),
        ("Bronze", 1),
        ("Silver", 1),
        ("Gold", 0),
    ]
    team = _history(client, at="2027-01-31", scorecardRef=CARD, ownerRef="search").json()
    assert (team["ownerRef"], team["total"]) == ("group:default/search", 1)


def test_history_lists_transitions_between_dates_paginated(org, client_for):
    for day in range(1, 8):
        level_change(CHECKOUT, "Bronze" if day % 2 else "Silver", dt.datetime(2027, 1, day, 12, tzinfo=dt.UTC))
    page = _history(client_for("alice"), entityRef="checkout", **{"from": "2027-01-02", "to": "2027-01-06"}, limit="2")
    body = page.json()
    assert body["count"] == 5
    assert [row["at"] for row in body["results"]] == ["2027-01-02T12:00:00Z", "2027-01-03T12:00:00Z"]
    assert body["results"][0]["toValue"] == "Silver"
    assert "offset=2" in body["next"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"at": "2027-02-30", "scorecardRef": CARD}, "at: Date has wrong format."),
        ({"at": "2027-02-01"}, "scorecardRef: This field is required."),
        ({"at": "2027-02-01", "scorecardRef": "a:b:c"}, 'scorecardRef: Entity reference "a:b:c" was not on the form'),
        ({"at": "2027-02-01", "scorecardRef": CARD, "entityRef": "/"}, "entityRef: Entity reference"),
        ({"at": "2027-02-01", "scorecardRef": CARD, "ownerRef": "x" * 301}, "ownerRef: Ensure this field has no more"),
        ({"from": "yesterday"}, "from: Enter a valid date."),
        ({"from": "2027-02-03", "to": "2027-02-01"}, "to: to (2027-02-01) is before from (2027-02-03)."),
        ({"kind": "weather"}, "kind: Select a valid choice."),
        ({"to": ""}, "to: Give a value or leave the parameter out."),
        ({"at": "", "scorecardRef": CARD}, "at: Date has wrong format."),
    ],
)
def test_history_refuses_bad_parameters_naming_them(org, client_for, params, message):
    assert _error(_history(client_for("alice"), **params), 400)["message"].startswith(message)


def test_history_takes_the_ends_of_the_calendar(org, client_for):
    level_change(CHECKOUT, "Gold", dt.datetime(2027, 1, 10, tzinfo=dt.UTC))
    client = client_for("alice")
    assert _history(client, at="9999-12-31", entityRef="checkout", scorecardRef=CARD).json()["level"] == "Gold"
    assert _history(client, at="0001-01-01", entityRef="checkout", scorecardRef=CARD).json()["level"] is None
    assert _history(client, **{"from": "0001-01-01", "to": "9999-12-31"}).json()["count"] == 1


def test_the_campaign_list_is_two_queries_whatever_its_length(org, client_for, django_assert_num_queries):
    """Besides the session and its user: a count and the rows, with who created each joined in."""
    for _ in range(4):
        CampaignFactory(created_by=AdminFactory())
    client = client_for("alice")
    with django_assert_num_queries(4):
        response = client.get(reverse("scorecards_api:campaigns"))
    assert [row["createdBy"] is not None for row in response.json()["results"]] == [True] * 4


@pytest.mark.parametrize("params", [{"scorecardRef": "a:b:c"}, {"ownerRef": "/"}])
def test_the_campaign_list_refuses_refs_that_do_not_parse(org, client_for, params):
    (name,) = params
    assert _error(client_for("alice").get(reverse("scorecards_api:campaigns"), params), 400)["message"].startswith(
        f"{name}: Entity reference"
    )
