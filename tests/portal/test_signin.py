from __future__ import annotations

import json
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessAttemptExpiration  # type: ignore[import-untyped]
from django.contrib.auth import SESSION_KEY
from django.db.models import F
from django.test import Client
from django.urls import reverse

from portal import signin
from portal.models import AuditEvent
from tests.conftest import PASSWORD
from tests.portal.factories import ApiTokenFactory, UserFactory

pytestmark = pytest.mark.django_db

WRONG = "Tr0ub4dor&3-not-it"
PAUSED = b"Too many failed sign-ins. Try again in"


def sign_in(username: str, password: str, *, address: str = "198.51.100.7", path: str = "") -> object:
    client = Client(REMOTE_ADDR=address)
    response = client.post(path or reverse("portal:login"), {"username": username, "password": password})
    response.signed_in = SESSION_KEY in client.session
    return response


def fail(username: str, times: int, *, address: str = "198.51.100.7") -> object:
    response = None
    for _ in range(times):
        response = sign_in(username, WRONG, address=address)
    return response


def let_time_pass(delta: timedelta) -> None:
    """Age every failure record as if `delta` had passed (axes compares them with the clock)."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - delta)
    AccessAttemptExpiration.objects.update(expires_at=F("expires_at") - delta)


def test_first_four_wrong_passwords_show_the_form_again_with_an_error(user):
    for _ in range(4):
        response = sign_in("alice", WRONG)
        assert response.status_code == 200
        assert b"Please enter a correct username and password" in response.content
        assert PAUSED not in response.content


def test_fifth_wrong_password_shows_the_error_and_says_when_to_try_again(user):
    fail("alice", 4)
    response = sign_in("alice", WRONG)
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert PAUSED + b" 1 minute (at" in response.content


def test_sixth_wrong_password_for_an_account_is_delayed_and_audited(user):
    fail("alice", 5)
    response = sign_in("alice", WRONG)

    assert response.status_code == 429
    assert not response.signed_in
    # Refused without checking the password, so no "incorrect password" error; the pause doubled to 2 minutes.
    assert b"Please enter a correct username and password" not in response.content
    assert PAUSED + b" 2 minutes (at" in response.content
    assert 100 < int(response["Retry-After"]) <= 120

    failed = list(AuditEvent.objects.filter(action="signin.failed").order_by("id"))
    assert len(failed) == 6
    assert {event.target_id for event in failed} == {"alice"}
    assert {event.actor_name for event in failed} == {"anonymous"}
    assert [event.after["refused"] for event in failed] == [False] * 5 + [True]
    assert [event.after["failures"] for event in failed] == [1, 2, 3, 4, 5, 6]
    assert failed[-1].after["address"] == "198.51.100.7"
    assert failed[-1].after["path"] == reverse("portal:login")

    paused = list(AuditEvent.objects.filter(action="signin.paused").order_by("id"))
    assert [event.after["failures"] for event in paused] == [5, 6]
    assert paused[-1].target_id == "alice"
    assert paused[-1].after["until"] > paused[0].after["until"]

    everything = json.dumps([[e.target_repr, e.before, e.after] for e in AuditEvent.objects.all()])
    assert WRONG not in everything
    assert PASSWORD not in everything


def test_right_password_is_refused_during_a_pause(user):
    fail("alice", 5)
    response = sign_in("alice", PASSWORD)
    assert response.status_code == 429
    assert not response.signed_in
    assert PAUSED in response.content
    assert AuditEvent.objects.filter(action="signin.failed", after__refused=True).count() == 1


def test_failures_from_one_address_pause_every_account_from_it(user):
    for number in range(5):
        sign_in(f"guess{number}", WRONG, address="203.0.113.9")
    refused = sign_in("alice", PASSWORD, address="203.0.113.9")
    assert refused.status_code == 429
    assert not refused.signed_in
    elsewhere = sign_in("alice", PASSWORD, address="198.51.100.7")
    assert elsewhere.status_code == 302
    assert elsewhere.signed_in


def test_failures_for_one_account_pause_it_from_every_address(user):
    for number in range(5):
        sign_in("alice", WRONG, address=f"192.0.2.{number + 1}")
    refused = sign_in("alice", PASSWORD, address="192.0.2.200")
    assert refused.status_code == 429
    assert not refused.signed_in
    UserFactory(username="bob")
    assert sign_in("bob", PASSWORD, address="192.0.2.200").signed_in


def test_sign_in_works_again_after_the_pause_and_forgets_the_failures(user):
    fail("alice", 5)
    let_time_pass(timedelta(seconds=30))
    assert sign_in("alice", PASSWORD).status_code == 429  # 2 minutes now, from this refused attempt
    let_time_pass(timedelta(minutes=2, seconds=1))
    response = sign_in("alice", PASSWORD)
    assert response.status_code == 302
    assert response.signed_in
    assert not AccessAttempt.objects.filter(username="alice").exists()
    assert sign_in("alice", WRONG).status_code == 200


def test_pause_doubles_with_every_further_failure_up_to_the_maximum(user, settings):
    settings.PAVED_LOGIN_COOLOFF_MAX_MINUTES = 8
    assert [signin.pause_for(count) for count in range(4, 10)] == [
        timedelta(minutes=8),  # below the limit: how long failures count
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=8),
        timedelta(minutes=8),
    ]

    fail("alice", 5)
    let_time_pass(timedelta(minutes=1, seconds=1))
    # The first pause is over, but the failures are still remembered: one more wrong password pauses again, longer.
    response = sign_in("alice", WRONG)
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert PAUSED + b" 2 minutes" in response.content
    assert sign_in("alice", PASSWORD).status_code == 429
    let_time_pass(timedelta(minutes=5))
    assert sign_in("alice", WRONG).status_code == 200
    assert PAUSED + b" 8 minutes" in sign_in("alice", PASSWORD).content


def test_failures_are_forgotten_after_the_longest_pause(user):
    fail("alice", 4)
    let_time_pass(timedelta(minutes=61))
    response = sign_in("alice", WRONG)
    assert PAUSED not in response.content
    assert AuditEvent.objects.filter(action="signin.failed").last().after["failures"] == 1


def test_admin_sign_in_is_throttled_too(user):
    admin_login = reverse("admin:login")
    for _ in range(5):
        sign_in("alice", WRONG, path=admin_login)
    response = sign_in("alice", PASSWORD, path=admin_login)
    assert response.status_code == 429
    assert PAUSED in response.content
    assert AuditEvent.objects.filter(action="signin.failed", after__path=admin_login).count() == 6


def test_api_tokens_are_not_throttled(user):
    ApiTokenFactory(user=user, raw="pvd_throttling-test-token")
    fail("alice", 6)
    headers = {"Authorization": "Bearer pvd_throttling-test-token"}
    response = Client(REMOTE_ADDR="198.51.100.7").get(reverse("api_me"), headers=headers)
    assert response.status_code == 200


def test_forwarded_address_is_ignored_unless_behind_a_proxy(user):
    fail("mallory", 5, address="198.51.100.7")
    forged = Client(REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="192.0.2.55")
    response = forged.post(reverse("portal:login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429


@pytest.mark.parametrize(
    ("forwarded", "hops", "expected"),
    [
        ("192.0.2.55", 1, "192.0.2.55"),
        ("6.6.6.6, 192.0.2.55", 1, "192.0.2.55"),  # the client wrote the first entry; the proxy appended the second
        ("6.6.6.6, 192.0.2.55, 10.0.0.2", 2, "192.0.2.55"),
        ("", 1, "10.0.0.1"),
        ("not-an-address", 1, "10.0.0.1"),
    ],
)
def test_client_address_behind_a_proxy_is_the_entry_the_proxies_appended(rf, settings, forwarded, hops, expected):
    settings.PAVED_BEHIND_PROXY = True
    settings.PAVED_PROXY_HOPS = hops
    request = rf.post(reverse("portal:login"), REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert signin.client_address(request) == expected
