from __future__ import annotations

import pytest
from django.test import Client

from tests.portal.factories import UserFactory

PASSWORD = "correct horse battery staple"


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def auth_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def htmx_client(user) -> Client:
    """A logged-in client whose requests look like htmx fragment requests."""
    client = Client(headers={"HX-Request": "true"})
    client.force_login(user)
    return client
