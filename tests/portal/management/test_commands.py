from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from tests.portal.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_apitoken_command_prints_a_working_token():
    UserFactory(username="ops")
    out = StringIO()
    call_command("apitoken", "ops", "--name", "deploys", stdout=out)
    raw = out.getvalue().strip()
    assert raw.startswith("pvd_")
    response = Client().get(reverse("api_me"), headers={"Authorization": f"Token {raw}"})
    assert response.json()["username"] == "ops"


def test_apitoken_command_refuses_unknown_user():
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("apitoken", "ghost")


def test_demo_setup_creates_admin_once_and_prints_password_once():
    first = StringIO()
    call_command("demo_setup", "--no-demo", stdout=first)
    assert "Sign in as  admin / " in first.getvalue()
    second = StringIO()
    call_command("demo_setup", "--no-demo", stdout=second)
    assert "already exists" in second.getvalue()
    assert get_user_model().objects.filter(username="admin", is_superuser=True).count() == 1
