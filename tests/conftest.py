from __future__ import annotations

from collections.abc import Callable
from typing import cast

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.portal.factories import UserFactory

PASSWORD = "correct horse battery staple"


@pytest.fixture
def client_for(db) -> Callable[..., Client]:
    """`client_for(username, htmx=False)`: a client signed in as `username`, a user the factory creates unless it
    exists already (create an administrator first with AdminFactory to sign in as one). With `htmx=True` every request
    looks like an htmx fragment request."""

    def signed_in(username: str, htmx: bool = False) -> Client:
        client = Client(headers={"HX-Request": "true"} if htmx else None)
        client.force_login(cast(User, UserFactory(username=username)))
        return client

    return signed_in


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def auth_client(user, client_for: Callable[..., Client]) -> Client:
    return client_for(user.username)


@pytest.fixture
def htmx_client(user, client_for: Callable[..., Client]) -> Client:
    """A logged-in client whose requests look like htmx fragment requests."""
    return client_for(user.username, htmx=True)
