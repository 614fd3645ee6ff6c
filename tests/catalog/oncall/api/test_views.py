"""/api/oncall/: shapes, permissions and hostile input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from catalog.oncall.models import OnCallOverride
from tests.catalog.oncall.factories import OnCallOverrideFactory, ingest_payments_org
from tests.portal.factories import AdminFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    assert ingest_payments_org().errors == []


@pytest.fixture
def alice(org, client_for):
    return client_for("alice")


NOW = reverse("oncall_api:now")
OVERRIDES = reverse("oncall_api:overrides")


def _timeline(ref):
    return reverse("oncall_api:schedule_timeline", args=[ref])


def _coverage(ref):
    return reverse("oncall_api:schedule_coverage", args=[ref])


def _override(override_id):
    return reverse("oncall_api:override", args=[override_id])


def _user(ref):
    return reverse("oncall_api:user", args=[ref])


def _new_override(**changes):
    start = timezone.now() + timedelta(hours=1)
    payload = {
        "scheduleRef": "payments-primary",
        "userRef": "bob",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
    }
    return {**payload, **changes}


def _error(response, status, name, text=""):
    body = response.json()
    assert response.status_code == status, body
    assert body["error"]["name"] == name, body
    assert text in body["error"]["message"], body
    assert body["response"] == {"statusCode": status}


def test_now_golden_at_a_fixed_instant(alice):
    response = alice.get(NOW, {"entity": "component:default/checkout", "at": "2026-03-04T12:00:00Z"})
    assert response.status_code == 200
    assert response.json() == {
        "entityRef": "component:default/checkout",
        "policyRef": "escalationpolicy:default/payments",
        "at": "2026-03-04T12:00:00Z",
        "levels": [
            {
                "level": 1,
                "delayMinutes": 15,
                "onCall": [
                    {
                        "userRef": "user:default/carol",
                        "name": "Carol",
                        "email": "carol@example.com",
                        "from": "2026-03-02T08:00:00Z",
                        "until": "2026-03-09T08:00:00Z",
                        "scheduleRef": "schedule:default/payments-primary",
                    }
                ],
                "next": [
                    {
                        "userRef": "user:default/alice",
                        "name": "Alice",
                        "from": "2026-03-09T08:00:00Z",
                        "scheduleRef": "schedule:default/payments-primary",
                    }
                ],
                "gap": False,
                "notes": [],
            },
            {
                "level": 2,
                "delayMinutes": 30,
                "onCall": [
                    {
                        "userRef": "user:default/dave",
                        "name": "Dave",
                        "email": "dave@example.com",
                        "from": "2026-03-02T08:00:00Z",
                        "until": "2026-03-06T16:00:00Z",
                        "scheduleRef": "schedule:default/payments-secondary",
                    },
                    {
                        "userRef": "user:default/frank",
                        "name": "Frank",
                        "email": "frank@example.com",
                        "from": None,
                        "until": None,
                        "scheduleRef": None,
                    },
                ],
                "next": [
                    {
                        "userRef": "user:default/erin",
                        "name": "Erin",
                        "from": "2026-03-09T08:00:00Z",
                        "scheduleRef": "schedule:default/payments-secondary",
                    }
                ],
                "gap": False,
                "notes": [],
            },
        ],
        "summary": "Level 1: Carol is on call.",
    }


def test_now_at_a_weekend_with_an_offset_and_no_policy(alice):
    body = alice.get(NOW, {"entity": "group:payments", "at": "2026-03-07T13:00:00+01:00"}).json()
    assert body["levels"][1]["onCall"][0]["userRef"] == "user:default/frank"
    none = alice.get(NOW, {"entity": "orphan-service"}).json()
    assert none["policyRef"] is None
    assert none["levels"] == []
    assert "no escalation policy" in none["summary"]


@pytest.mark.parametrize(
    ("params", "status", "name", "text"),
    [
        ({}, 400, "ApplicationError", "entity query parameter is required"),
        ({"entity": "nope"}, 404, "NotFoundError", "component:default/nope"),
        ({"entity": "not a ref!!"}, 400, "ApplicationError", "not a ref!!"),
        ({"entity": "checkout", "at": "yesterday"}, 400, "ApplicationError", "ISO 8601"),
        ({"entity": "checkout", "at": "2026-03-04T12:00"}, 400, "ApplicationError", "offset"),
    ],
)
def test_now_rejects_bad_input_in_the_portal_error_shape(alice, params, status, name, text):
    _error(alice.get(NOW, params), status, name, text)


def test_the_api_needs_authentication(org):
    assert APIClient().get(NOW, {"entity": "checkout"}).status_code == 401


def test_timeline_returns_layers_overrides_and_final_segments(alice):
    OnCallOverrideFactory(user_ref="user:default/bob")
    body = alice.get(
        _timeline("schedule:default/payments-primary"),
        {"from": "2026-03-04T00:00:00Z", "to": "2026-03-05T00:00:00Z"},
    ).json()
    assert body["timezone"] == "Europe/Berlin"
    assert [layer["name"] for layer in body["layers"]] == ["weekly"]
    assert body["overrides"] == [
        {
            "from": "2026-03-04T11:00:00Z",
            "until": "2026-03-04T17:00:00Z",
            "userRef": "user:default/bob",
            "sources": ["override"],
        }
    ]
    assert [s["userRef"] for s in body["final"]] == ["user:default/carol", "user:default/bob", "user:default/carol"]
    assert alice.get(_timeline("default/payments-primary")).status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "status", "text"),
    [
        ("payments-primary", {"from": "2026-03-05T00:00:00Z", "to": "2026-03-04T00:00:00Z"}, 400, "after from"),
        ("payments-primary", {"from": "2026-03-05T00:00:00Z", "to": "2026-09-04T00:00:00Z"}, 400, "at most 93 days"),
        ("payments-primary", {"from": "soon"}, 400, "ISO 8601"),
        ("nope", {}, 404, "schedule:default/nope"),
        ("user:alice", {}, 404, "schedule"),
    ],
)
def test_timeline_rejects_bad_ranges_and_unknown_schedules(alice, path, params, status, text):
    response = alice.get(_timeline(path), params)
    assert response.status_code == status
    assert text in response.json()["error"]["message"]


def test_coverage_reports_percent_gaps_and_balance(alice):
    body = alice.get(_coverage("payments-secondary"), {"days": "7"}).json()
    assert 0 < body["percent"] < 100
    assert body["gaps"]
    assert body["longestGapSeconds"] > 0
    assert {row["userRef"] for row in body["balance"]} <= {"user:default/dave", "user:default/erin"}
    for days in ("0", "94", "-1", "lots"):
        _error(
            alice.get(_coverage("payments-secondary"), {"days": days}),
            400,
            "ApplicationError",
            "days",
        )


def test_override_crud_for_a_team_member(alice):
    start = (timezone.now() + timedelta(hours=1)).replace(microsecond=0)
    payload = {
        "scheduleRef": "schedule:default/payments-primary",
        "userRef": "user:default/bob",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=4)).isoformat(),
        "reason": "dentist",
    }
    created = alice.post(OVERRIDES, payload, content_type="application/json")
    assert created.status_code == 201, created.json()
    override_id = created.json()["id"]
    assert created.json()["createdBy"] == "alice"
    assert created.json()["start"].endswith("Z")
    listed = alice.get(OVERRIDES, {"schedule": "schedule:default/payments-primary"}).json()
    assert listed["count"] == 1
    assert listed["results"][0]["id"] == override_id
    patched = alice.patch(_override(override_id), {"userRef": "carol"}, content_type="application/json")
    assert patched.status_code == 200
    assert patched.json()["userRef"] == "user:default/carol"
    assert alice.delete(_override(override_id)).status_code == 204
    _error(alice.delete(_override(override_id)), 404, "NotFoundError")


def test_override_writes_by_non_members_are_forbidden_and_admins_allowed(org, client_for):
    payload = _new_override()
    start = timezone.now() + timedelta(hours=1)
    _error(
        client_for("zoe").post(OVERRIDES, payload, content_type="application/json"),
        403,
        "NotAllowedError",
        "group:default/payments",
    )
    override = OnCallOverrideFactory(start=start, end=start + timedelta(hours=1))
    _error(
        client_for("zoe").patch(_override(override.pk), {"reason": "x"}, content_type="application/json"),
        403,
        "NotAllowedError",
    )
    _error(client_for("zoe").delete(_override(override.pk)), 403, "NotAllowedError")
    AdminFactory(username="root")
    assert client_for("root").post(OVERRIDES, payload, content_type="application/json").status_code == 201


@pytest.mark.parametrize(
    ("changes", "text"),
    [
        ({"start": "tomorrow"}, "start"),
        ({"end": "2026-03-04T12:00"}, "end"),
        ({"userRef": "ghost"}, "user:default/ghost is not a user"),
        ({"scheduleRef": ""}, "scheduleRef"),
        ({"reason": "x" * 600}, "reason"),
        ({"end": "2020-01-01T00:00:00Z", "start": "2019-12-31T00:00:00Z"}, "past"),
    ],
)
def test_override_create_rejects_bad_bodies(alice, changes, text):
    response = alice.post(OVERRIDES, _new_override(**changes), content_type="application/json")
    assert response.status_code == 400, response.json()
    assert text in response.json()["error"]["message"], response.json()
    assert not OnCallOverride.objects.exists()


def test_user_endpoint_lists_shifts(alice):
    body = alice.get(_user("user:default/carol"), {"days": "21"}).json()
    assert body["userRef"] == "user:default/carol"
    assert body["shifts"]
    assert {s["scheduleRef"] for s in body["shifts"]} == {"schedule:default/payments-primary"}
    assert alice.get(_user("frank")).json()["policies"] == ["escalationpolicy:default/payments"]
    _error(alice.get(_user("ghost")), 404, "NotFoundError")
    not_a_user = alice.get(_user("schedule:payments-primary"))
    _error(not_a_user, 404, "NotFoundError", "no user schedule:default/payments-primary")
    _error(alice.get(_user("alice"), {"days": "1000"}), 400, "ApplicationError")


def test_the_oncall_api_is_in_the_openapi_schema(alice):
    schema = alice.get(reverse("api_schema"), HTTP_ACCEPT="application/json").json()
    # The schema lists paths as templates; no reverse() writes "{override_id}".
    assert {"/api/oncall/now", "/api/oncall/overrides", "/api/oncall/overrides/{override_id}"} <= set(schema["paths"])
