from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
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
def var_dir(settings, tmp_path: Path) -> Path:
    """A var directory of the test's own (`PAVED_VAR_DIR`): repositories on Paved's git host, scaffolder runs and the
    rest start empty, whatever earlier tests or a demo load left in the project's `var/`."""
    settings.VAR_DIR = tmp_path
    return tmp_path


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
