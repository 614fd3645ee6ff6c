from __future__ import annotations

import pytest

from portal.templatetags.portal_ui import initials
from tests.portal.factories import UserFactory


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Margaret Hooper", "MH"), ("payments-team", "PT"), ("carol", "C"), ("a.b.c", "AB"), ("", "?"), ("  ", "?")],
)
def test_initials(text, expected):
    assert initials(text) == expected


@pytest.mark.django_db
def test_the_avatar_shows_the_initials_of_the_name_beside_it(client):
    user = UserFactory(username="carol", first_name="Margaret", last_name="Hooper")
    client.force_login(user)
    body = client.get("/").content.decode()
    assert '<span class="avatar avatar-sm paved-avatar" aria-hidden="true">MH</span>' in body
    assert "Margaret Hooper" in body
