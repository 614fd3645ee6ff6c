from __future__ import annotations

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_user_signs_in_sees_home_creates_a_token_and_signs_out(page, login, screenshot):
    UserFactory(username="dana", first_name="Dana", last_name="Scully")

    page.goto("/")
    assert "/login/" in page.url
    screenshot("login")
    page.fill("#id_username", "dana")
    page.fill("#id_password", "wrong")
    page.click("#sign-in")
    assert page.locator(".alert-danger").is_visible()

    login("dana")
    assert page.locator("h1.page-title").inner_text() == "Dana Scully"
    assert page.locator("text=Automate with the API").is_visible()
    screenshot("home")

    page.click("#user-menu")
    page.click("text=API tokens")
    page.fill("#token-name", "CI pipeline")
    page.click("button:has-text('Create token')")
    page.wait_for_selector("#new-token")
    assert page.locator("#new-token").inner_text().startswith("pvd_")
    assert page.locator("#tokens td", has_text="CI pipeline").count() == 1
    screenshot("tokens")

    page.click("#user-menu")
    page.click("#logout")
    page.wait_for_url(lambda url: "/login/" in url)
