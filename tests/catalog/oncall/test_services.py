"""Writes for on-call: overrides and calendar feeds, with ownership checks and the audit log."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from catalog.oncall import services as svc
from catalog.oncall.models import CalendarFeed, OnCallOverride
from portal.exceptions import ForbiddenError, NotFoundError
from portal.models import AuditEvent
from tests.catalog.oncall.factories import OnCallOverrideFactory, ingest_payments_org
from tests.portal.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    assert ingest_payments_org().errors == []


@pytest.fixture
def window():
    start = timezone.now() + timedelta(hours=1)
    return start, start + timedelta(hours=8)


def _create(actor, window, **changes):
    values = {
        "actor": actor,
        "schedule_ref": "payments-primary",
        "user_ref": "bob",
        "start": window[0],
        "end": window[1],
        "reason": "swap",
    }
    return svc.override_create(**{**values, **changes})


def test_a_team_member_creates_an_override_and_it_is_audited(org, window):
    override = _create(UserFactory(username="alice"), window)
    assert (override.schedule_ref, override.user_ref) == ("schedule:default/payments-primary", "user:default/bob")
    event = AuditEvent.objects.get(action="oncall.override.create")
    assert event.actor_name == "alice"
    assert event.after["userRef"] == "user:default/bob"


def test_a_non_member_may_not_create_an_override(org, window):
    with pytest.raises(ForbiddenError, match="Only members of group:default/payments"):
        _create(UserFactory(username="zoe"), window)
    with pytest.raises(ForbiddenError):
        _create(UserFactory(username="someone-not-in-the-catalog"), window)
    assert not OnCallOverride.objects.exists()


def test_an_admin_may_create_an_override_for_any_schedule(org, window):
    assert _create(AdminFactory(username="root"), window, schedule_ref="search-primary", user_ref="zoe").pk


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"user_ref": "nobody-here"}, "userRef"),
        ({"user_ref": "group:payments"}, "userRef"),
        ({"user_ref": "not a ref!"}, "userRef"),
        ({"reason": "x" * 501}, "reason"),
    ],
)
def test_override_input_is_validated(org, window, changes, field):
    with pytest.raises(ValidationError) as error:
        _create(UserFactory(username="alice"), window, **changes)
    assert field in error.value.message_dict


def test_override_windows_must_be_forward_bounded_future_and_aware(org, window):
    alice = UserFactory(username="alice")
    start, end = window
    for bad_start, bad_end, text in [
        (end, start, "must end after it starts"),
        (start, start, "must end after it starts"),
        (start, start + timedelta(days=91), "at most 90 days"),
        (start - timedelta(days=3), start - timedelta(days=2), "end in the past"),
        (start.replace(tzinfo=None), end, "needs a time zone"),
    ]:
        with pytest.raises(ValidationError, match=text):
            _create(alice, (bad_start, bad_end))


def test_an_unknown_schedule_is_not_found(org, window):
    with pytest.raises(NotFoundError, match="schedule:default/nope"):
        _create(UserFactory(username="alice"), window, schedule_ref="nope")


def test_update_and_delete_keep_before_and_after_in_the_audit_log(org, window):
    alice = UserFactory(username="alice")
    override = _create(alice, window)
    svc.override_update(actor=alice, override_id=override.pk, user_ref="carol", reason="")
    event = AuditEvent.objects.get(action="oncall.override.update")
    assert event.before["userRef"] == "user:default/bob"
    assert event.after["userRef"] == "user:default/carol"
    with pytest.raises(ForbiddenError):
        svc.override_delete(actor=UserFactory(username="zoe"), override_id=override.pk)
    svc.override_delete(actor=alice, override_id=override.pk)
    assert not OnCallOverride.objects.exists()
    assert AuditEvent.objects.get(action="oncall.override.delete").before["userRef"] == "user:default/carol"
    with pytest.raises(NotFoundError):
        svc.override_delete(actor=alice, override_id=override.pk)


def test_update_of_a_stored_override_by_a_non_member_is_forbidden(org):
    override = OnCallOverrideFactory(start=timezone.now(), end=timezone.now() + timedelta(hours=2))
    with pytest.raises(ForbiddenError):
        svc.override_update(actor=UserFactory(username="zoe"), override_id=override.pk, reason="mine now")


def test_calendar_feed_tokens_are_stored_only_as_hashes_and_can_be_revoked(org):
    alice = UserFactory(username="alice")
    new = svc.calendar_feed_create(actor=alice, kind="schedule", ref="payments-primary")
    assert new.token.startswith("pcal_")
    feed = CalendarFeed.objects.get()
    assert feed.token_hash == hashlib.sha256(new.token.encode()).hexdigest()
    assert new.token not in feed.prefix + feed.ref
    with pytest.raises(ForbiddenError):
        svc.calendar_feed_revoke(actor=UserFactory(username="zoe"), feed_id=feed.pk)
    svc.calendar_feed_revoke(actor=alice, feed_id=feed.pk)
    feed.refresh_from_db()
    assert feed.revoked_at is not None


def test_person_feeds_are_for_yourself_unless_admin(org):
    assert svc.calendar_feed_create(actor=UserFactory(username="alice"), kind="person", ref="alice").feed.ref == (
        "user:default/alice"
    )
    with pytest.raises(ForbiddenError):
        svc.calendar_feed_create(actor=UserFactory(username="bob"), kind="person", ref="alice")
    assert svc.calendar_feed_create(actor=AdminFactory(username="root"), kind="person", ref="alice")
    with pytest.raises(ValidationError):
        svc.calendar_feed_create(actor=UserFactory(username="alice"), kind="everything", ref="alice")
