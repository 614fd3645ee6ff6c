"""Exemptions (requested, approved by someone else, rejected, revoked, expired by themselves, audited, each followed by
a re-evaluation of the entity) and campaigns (created, changed, deleted by the scorecard's owners)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal.exceptions import ConflictError, ForbiddenError
from portal.models import AuditEvent
from portal.permissions import SYSTEM, NotPermitted
from scorecards import jobs, selectors, services, tasks
from scorecards.models import Campaign, Exemption
from tests.portal.factories import AdminFactory, UserFactory
from tests.scorecards.factories import CARD, CampaignFactory, ExemptionFactory, ScorecardFactory, scorecards_org

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def org(db):
    scorecards_org()


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, dict[str, object]]]:
    """What scorecards.jobs sent to Celery (by task name), once transactions committed."""
    calls: list[tuple[str, dict[str, object]]] = []
    monkeypatch.setattr(jobs, "_send", lambda name, **kwargs: calls.append((name, kwargs)))
    return calls


def _user(name: str):
    return UserFactory(username=name)


def _request(actor, **changes):
    values = {
        "entity_ref": "component:default/checkout",
        "scorecard_ref": CARD,
        "check_id": "runbook",
        "reason": "The runbook moves to the new wiki this month.",
        "expires_at": NOW + dt.timedelta(days=30),
        "now": NOW,
        **changes,
    }
    return services.exemption_request(actor=actor, **values)


def _errors(raised: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return raised.value.message_dict


# -- requesting --------------------------------------------------------------------------------------------------------


def test_exemption_request_is_pending_for_the_scorecards_owner_audited_and_reevaluates(
    org, sent, django_capture_on_commit_callbacks
):
    alice = _user("alice")
    with django_capture_on_commit_callbacks(execute=True):
        exemption = _request(alice, entity_ref="Checkout", scorecard_ref="Production-Readiness")
    assert exemption.status == Exemption.Status.PENDING
    assert exemption.entity_ref == "component:default/checkout"
    assert exemption.scorecard_ref == CARD
    assert exemption.approver_ref == "group:default/payments"
    assert exemption.requested_by == alice
    audit = AuditEvent.objects.get(action="scorecards.exemption.request")
    assert audit.actor == alice
    assert audit.target_id == str(exemption.pk)
    assert audit.after["reason"] == "The runbook moves to the new wiki this month."
    assert sent == [(jobs.EVALUATE_ENTITY, {"entity_ref": "component:default/checkout"})]


def test_exemption_request_reads_the_evaluated_scorecard_before_the_catalog(org):
    ScorecardFactory(owner_ref="group:default/search")
    assert _request(_user("alice")).approver_ref == "group:default/search"


def test_exemption_request_names_every_problem_with_its_argument(org):
    with pytest.raises(ValidationError) as raised:
        _request(
            _user("alice"),
            entity_ref="component:default/nowhere",
            scorecard_ref="scorecard:default/unknown",
            reason="   ",
            expires_at=NOW - dt.timedelta(minutes=1),
        )
    errors = _errors(raised)
    assert errors["entity_ref"] == ["There is no entity component:default/nowhere in the catalog."]
    assert errors["scorecard_ref"] == [
        "There is no scorecard scorecard:default/unknown: neither evaluated nor in the catalog."
    ]
    assert errors["reason"] == ["A reason is required."]
    assert errors["expires_at"] == ["The expiry must be in the future; 2027-03-01T11:59:00+00:00 has passed."]


def test_exemption_request_refuses_a_check_the_scorecard_does_not_have(org):
    with pytest.raises(ValidationError) as raised:
        _request(_user("alice"), check_id="tests-pass")
    assert _errors(raised) == {
        "check_id": [f"{CARD} has no check 'tests-pass'; its checks are: has-owner, runbook, oncall."]
    }


def test_exemption_request_caps_the_expiry_by_configuration(org, settings):
    settings.PAVED_SCORECARDS_MAX_EXEMPTION_DAYS = 10
    assert _request(_user("alice"), expires_at=NOW + dt.timedelta(days=10)).status == Exemption.Status.PENDING
    with pytest.raises(ValidationError) as raised:
        _request(_user("bob"), check_id="oncall", expires_at=NOW + dt.timedelta(days=10, seconds=1))
    assert _errors(raised) == {
        "expires_at": [
            "An exemption lasts at most 10 days (PAVED_SCORECARDS_MAX_EXEMPTION_DAYS): the expiry must be no later "
            "than 2027-03-11T12:00:00+00:00, got 2027-03-11T12:00:01+00:00."
        ]
    }


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"reason": "x" * 4001}, "reason", "At most 4000 characters, got 4001."),
        ({"reason": "nul\x00byte"}, "reason", "NUL characters are not allowed."),
        ({"entity_ref": "a:b:c"}, "entity_ref", 'Entity reference "a:b:c" was not on the form'),
        ({"entity_ref": ""}, "entity_ref", "A component ref is required"),
        ({"entity_ref": "x" * 301}, "entity_ref", "is not a component ref"),
        ({"scorecard_ref": "/"}, "scorecard_ref", "was not on the form"),
        ({"check_id": ""}, "check_id", "A check id is required."),
        ({"expires_at": dt.datetime(2027, 3, 5, 12, 0)}, "expires_at", "needs a time zone"),
    ],
)
def test_exemption_request_refuses_hostile_input(org, changes, field, message):
    with pytest.raises(ValidationError) as raised:
        _request(_user("alice"), **changes)
    assert message in " ".join(_errors(raised)[field])
    assert not Exemption.objects.exists()


def test_exemption_request_needs_a_signed_in_person(org):
    with pytest.raises(ForbiddenError, match="Sign in first"):
        _request(SYSTEM)


def test_only_one_open_exemption_per_check(org):
    first = _request(_user("alice"))
    with pytest.raises(ConflictError, match=f"already has a pending exemption from {CARD}#runbook"):
        _request(_user("bob"))
    services.exemption_revoke(exemption=first, actor=_user("alice"))
    assert _request(_user("bob")).status == Exemption.Status.PENDING


def test_an_approved_exemption_past_its_expiry_no_longer_blocks_a_new_request(org, sent):
    ExemptionFactory(status=Exemption.Status.APPROVED, expires_at=NOW - dt.timedelta(hours=1))
    again = _request(_user("alice"))
    assert again.status == Exemption.Status.PENDING
    assert Exemption.objects.filter(status=Exemption.Status.EXPIRED).count() == 1


# -- deciding ----------------------------------------------------------------------------------------------------------


def test_the_requester_cannot_approve_their_own_exemption_even_as_an_owner(org):
    alice = _user("alice")
    exemption = _request(alice)
    with pytest.raises(NotPermitted, match="never whoever asked"):
        services.exemption_approve(exemption=exemption, actor=alice, now=NOW)
    exemption.refresh_from_db()
    assert exemption.status == Exemption.Status.PENDING
    assert not AuditEvent.objects.filter(action="scorecards.exemption.approve").exists()


def test_the_requester_cannot_approve_even_as_an_administrator(org):
    root = AdminFactory(username="root")
    exemption = _request(root)
    with pytest.raises(NotPermitted):
        services.exemption_approve(exemption=exemption, actor=root, now=NOW)


@pytest.mark.parametrize("approver", ["zoe", "system"])
def test_only_the_scorecards_owner_and_administrators_approve(org, approver):
    exemption = _request(_user("alice"))
    with pytest.raises(NotPermitted):
        services.exemption_approve(exemption=exemption, actor=SYSTEM if approver == "system" else _user(approver))


def test_another_owner_approves_audited_and_reevaluates(org, sent, django_capture_on_commit_callbacks):
    exemption = _request(_user("alice"))
    bob = _user("bob")
    with django_capture_on_commit_callbacks(execute=True):
        approved = services.exemption_approve(exemption=exemption, actor=bob, comment="Fine for a month", now=NOW)
    assert approved.status == Exemption.Status.APPROVED
    assert approved.decided_by == bob
    assert approved.decided_at == NOW
    assert approved.comment == "Fine for a month"
    audit = AuditEvent.objects.get(action="scorecards.exemption.approve")
    assert audit.before["status"] == "pending"
    assert audit.after["status"] == "approved"
    assert audit.after["decided_by"] == "bob"
    assert sent == [(jobs.EVALUATE_ENTITY, {"entity_ref": "component:default/checkout"})]
    assert selectors.exemptions_active(entity_ref="component:default/checkout", scorecard_ref=CARD, now=NOW) == {
        "runbook"
    }


def test_an_administrator_approves_and_a_decided_exemption_cannot_be_decided_again(org):
    exemption = _request(_user("alice"))
    services.exemption_approve(exemption=exemption, actor=AdminFactory(username="root"), now=NOW)
    with pytest.raises(ConflictError, match="is approved; only a pending exemption can be decided"):
        services.exemption_reject(exemption=exemption, actor=_user("bob"), now=NOW)


def test_an_exemption_cannot_be_approved_after_its_expiry(org):
    exemption = _request(_user("alice"), expires_at=NOW + dt.timedelta(days=1))
    with pytest.raises(ConflictError, match="before approval"):
        services.exemption_approve(exemption=exemption, actor=_user("bob"), now=NOW + dt.timedelta(days=2))


def test_reject_is_audited_and_the_exemption_never_counts(org, sent, django_capture_on_commit_callbacks):
    exemption = _request(_user("alice"))
    with django_capture_on_commit_callbacks(execute=True):
        rejected = services.exemption_reject(exemption=exemption, actor=_user("carol"), comment="Write it first")
    assert rejected.status == Exemption.Status.REJECTED
    assert AuditEvent.objects.get(action="scorecards.exemption.reject").after["comment"] == "Write it first"
    assert selectors.exemptions_active(entity_ref=exemption.entity_ref, scorecard_ref=CARD, now=NOW) == set()
    assert sent == [(jobs.EVALUATE_ENTITY, {"entity_ref": "component:default/checkout"})]


def test_a_comment_over_the_limit_is_refused(org):
    exemption = _request(_user("alice"))
    with pytest.raises(ValidationError) as raised:
        services.exemption_approve(exemption=exemption, actor=_user("bob"), comment="c" * 2001)
    assert _errors(raised) == {"comment": ["At most 2000 characters, got 2001."]}


def test_the_requester_revokes_their_own_and_others_need_approver_rights(org):
    alice = _user("alice")
    exemption = _request(alice)
    services.exemption_approve(exemption=exemption, actor=_user("bob"), now=NOW)
    with pytest.raises(NotPermitted):
        services.exemption_revoke(exemption=exemption, actor=_user("zoe"))
    revoked = services.exemption_revoke(exemption=exemption, actor=alice, comment="Runbook written")
    assert revoked.status == Exemption.Status.REVOKED
    audit = AuditEvent.objects.get(action="scorecards.exemption.revoke")
    assert (audit.before["status"], audit.after["status"]) == ("approved", "revoked")
    with pytest.raises(ConflictError, match="revoked already"):
        services.exemption_revoke(exemption=exemption, actor=alice)


def test_an_approver_may_take_an_exemption_back(org):
    exemption = _request(_user("alice"))
    assert services.exemption_revoke(exemption=exemption, actor=_user("bob")).status == Exemption.Status.REVOKED


# -- expiry ------------------------------------------------------------------------------------------------------------


def test_exemptions_expire_ends_approved_ones_past_expiry_once_and_reevaluates(
    org, sent, django_capture_on_commit_callbacks
):
    past = NOW - dt.timedelta(minutes=5)
    gone = ExemptionFactory(status=Exemption.Status.APPROVED, expires_at=past)
    also = ExemptionFactory(status=Exemption.Status.APPROVED, expires_at=past, check_id="oncall")
    other = ExemptionFactory(status=Exemption.Status.APPROVED, expires_at=past, entity_ref="component:default/web")
    current = ExemptionFactory(status=Exemption.Status.APPROVED, expires_at=NOW + dt.timedelta(days=1), check_id="x")
    pending = ExemptionFactory(status=Exemption.Status.PENDING, expires_at=past, check_id="has-owner")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.exemptions_expire(now=NOW) == 3
    for row, status in ((gone, "expired"), (also, "expired"), (other, "expired"), (current, "approved")):
        row.refresh_from_db()
        assert row.status == status
    pending.refresh_from_db()
    assert pending.status == "pending"
    assert sorted(kwargs["entity_ref"] for _, kwargs in sent) == ["component:default/checkout", "component:default/web"]
    audits = AuditEvent.objects.filter(action="scorecards.exemption.expire")
    assert audits.count() == 3
    assert {audit.actor_name for audit in audits} == {"system"}
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.exemptions_expire(now=NOW) == 0
    assert sent == []


def test_an_expired_exemption_is_no_longer_active_even_before_the_job_runs(org):
    ExemptionFactory(status=Exemption.Status.APPROVED, expires_at=NOW)
    assert selectors.exemptions_active(entity_ref="component:default/checkout", scorecard_ref=CARD, now=NOW) == set()
    assert selectors.exemptions_active(
        entity_ref="component:default/checkout", scorecard_ref=CARD, now=NOW - dt.timedelta(seconds=1)
    ) == {"runbook"}


def test_the_expiry_task_is_registered_under_its_name_and_runs_the_service(org, sent, settings):
    ExemptionFactory(status=Exemption.Status.APPROVED, expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert tasks.exemptions_expire.name == jobs.EXEMPTIONS_EXPIRE == "scorecards.exemptions_expire"
    assert tasks.exemptions_expire.apply().get() == 1
    assert Exemption.objects.get().status == Exemption.Status.EXPIRED
    schedule = settings.CELERY_BEAT_SCHEDULE["scorecards-exemptions-expire"]
    assert schedule["task"] == jobs.EXEMPTIONS_EXPIRE
    assert schedule["schedule"] <= 600


# -- campaigns ---------------------------------------------------------------------------------------------------------


def _campaign(actor, **changes):
    values = {
        "slug": "silver-by-spring",
        "title": "Every service Silver by spring",
        "scorecard_ref": "production-readiness",
        "target_level": "silver",
        "filter": "kind=component,spec.type=service",
        "due_date": dt.date(2027, 5, 1),
        "today": dt.date(2027, 3, 1),
        **changes,
    }
    return services.campaign_create(actor=actor, **values)


def test_campaign_create_by_a_member_of_the_scorecards_owner(org):
    alice = _user("alice")
    campaign = _campaign(alice)
    assert campaign.scorecard_ref == CARD
    assert campaign.target_level == "Silver"
    assert campaign.check_ids == []
    assert campaign.owner_ref == "group:default/payments"
    assert campaign.created_by == alice
    audit = AuditEvent.objects.get(action="scorecards.campaign.create")
    assert audit.after["due_date"] == "2027-05-01"


@pytest.mark.parametrize(
    ("who", "refusal"),
    [("zoe", "members of group:default/payments, which owns scorecard:default/production-readiness"), ("", "Sign in")],
)
def test_campaigns_are_written_only_by_the_scorecards_owners_and_administrators(org, who, refusal):
    actor = _user(who) if who else AnonymousUser()
    with pytest.raises(NotPermitted):
        _campaign(actor)
    campaign = CampaignFactory()
    with pytest.raises(NotPermitted, match=refusal):
        services.campaign_update(campaign=campaign, actor=actor, title="Mine now")
    with pytest.raises(NotPermitted):
        services.campaign_delete(campaign=campaign, actor=actor)
    assert _campaign(AdminFactory(username="root")).slug == "silver-by-spring"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"filter": "kind=component,,=x"}, "filter", "Invalid filter, '=x' is not a valid statement"),
        ({"target_level": "Platinum"}, "target_level", f"{CARD} has no level 'Platinum'; its levels are: Bronze,"),
        ({"check_ids": ["runbook"]}, "target_level", "not both or neither"),
        ({"target_level": "", "check_ids": []}, "target_level", "not both or neither"),
        ({"target_level": "", "check_ids": ["runbook", "runbook"]}, "check_ids", "Each check id may appear once."),
        ({"target_level": "", "check_ids": ["nope"]}, "check_ids", "has no check 'nope'"),
        ({"due_date": dt.date(2027, 2, 28)}, "due_date", "The due date 2027-02-28 has passed."),
        ({"title": ""}, "title", "A title is required."),
        ({"slug": "not a slug"}, "slug", "Enter a valid “slug”"),
        ({"owner_ref": "a:b:c"}, "owner_ref", "was not on the form"),
    ],
)
def test_campaign_create_names_the_problem_and_its_argument(org, changes, field, message):
    with pytest.raises(ValidationError) as raised:
        _campaign(_user("alice"), **changes)
    assert message in " ".join(_errors(raised)[field])
    assert not Campaign.objects.exists()


def test_campaign_create_refuses_an_unknown_scorecard_and_a_taken_slug(org):
    with pytest.raises(ValidationError) as raised:
        _campaign(_user("alice"), scorecard_ref="scorecard:default/nope")
    assert "There is no scorecard scorecard:default/nope" in _errors(raised)["scorecard_ref"][0]
    _campaign(_user("alice"))
    with pytest.raises(ConflictError, match="There is a campaign silver-by-spring already"):
        _campaign(_user("bob"))


def test_campaign_update_switches_between_a_level_and_checks_and_is_audited(org):
    campaign = _campaign(_user("alice"))
    changed = services.campaign_update(campaign=campaign, actor=_user("bob"), check_ids=["runbook", "oncall"])
    assert (changed.target_level, changed.check_ids) == ("", ["runbook", "oncall"])
    changed = services.campaign_update(campaign=campaign, actor=_user("bob"), target_level="gold", title="Gold")
    assert (changed.target_level, changed.check_ids, changed.title) == ("Gold", [], "Gold")
    audits = AuditEvent.objects.filter(action="scorecards.campaign.update").order_by("id")
    assert [audit.after["target_level"] for audit in audits] == ["", "Gold"]
    assert audits[0].before["target_level"] == "Silver"
    with pytest.raises(ValidationError) as raised:
        services.campaign_update(campaign=campaign, actor=_user("bob"), filter="=")
    assert "filter" in _errors(raised)


def test_campaign_delete_is_audited(org):
    campaign = _campaign(_user("alice"))
    services.campaign_delete(campaign=campaign, actor=_user("carol"))
    assert not Campaign.objects.exists()
    assert AuditEvent.objects.get(action="scorecards.campaign.delete").before["title"] == campaign.title
