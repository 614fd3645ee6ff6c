from __future__ import annotations

import io

import pytest

from catalog import demo
from tests.portal.factories import AdminFactory, UserFactory

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
    # Dana has no User entity in the catalog: the home page says how accounts are linked.
    assert page.locator("#home-unlinked").is_visible()
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


def test_team_member_sees_their_teams_who_is_on_call_and_the_catalog_on_home(page, login, screenshot):
    demo.load(stdout=io.StringIO())
    AdminFactory(username="ines.moreau", first_name="Ines", last_name="Moreau")

    login("ines.moreau")

    teams = page.locator("#your-teams .paved-team")
    assert teams.count() == 3  # engineering, checkout and payments in the demo organisation
    payments = page.locator('.paved-team[data-team="group:default/payments"]')
    assert payments.locator(".paved-team-owned .badge").count() >= 1
    assert payments.locator(".paved-home-oncall").count() >= 1
    assert page.locator("#catalog-glance [data-kind=component]").is_visible()
    assert page.locator("#home-location-errors").is_visible()
    screenshot("home-demo")

    page.click("#home-shifts")
    page.wait_for_url(lambda url: "/catalog/oncall/people/default/ines.moreau/" in url)
    page.go_back()
    payments.locator("a.badge", has_text="Component").first.click()
    page.wait_for_url(lambda url: "owner=group" in url and "kind=Component" in url)
    assert page.locator("#catalog-results").is_visible()

    page.goto("/")
    page.click("#home-profile")
    page.wait_for_selector("#oncall-shifts-card")
    assert page.locator("#oncall-shifts-link").get_attribute("href") == "/catalog/oncall/people/default/ines.moreau/"
    screenshot("catalog-user-shifts")
