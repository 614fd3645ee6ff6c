"""On-call in the browser: the card on a service page, adding an override as a team member, the company-wide page
and a schedule's timeline; a non-member sees no button and a forged POST is refused."""

from __future__ import annotations

import io
import re

import pytest

from catalog import demo
from catalog.models import OnCallOverride
from tests.portal.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo_org():
    demo.load(stdout=io.StringIO())
    UserFactory(username="priya.raman", first_name="Priya", last_name="Raman")
    UserFactory(username="sofia.rossi", first_name="Sofia", last_name="Rossi")


def _level_one_people(page) -> str:
    return str(page.locator('#oncall-card [data-level="1"]').inner_text())


def test_team_member_sees_levels_adds_an_override_and_the_card_changes(page, login, screenshot, demo_org):
    login("priya.raman")
    page.goto("/catalog/default/component/payments-service/")
    card = page.locator("#oncall-card")
    card.locator('[data-level="2"]').wait_for()
    assert card.locator('[data-level="1"] .badge').first.is_visible()
    assert card.locator(".paved-oncall-next").count() >= 2  # who is next at levels 1 and 2
    assert "until" in _level_one_people(page)
    assert "Europe/Berlin" in _level_one_people(page)
    screenshot("oncall-card")

    page.click("#oncall-add-override")
    page.locator("#oncall-override-form").wait_for()
    page.fill("#id_user", "user:default/kwame.mensah")
    screenshot("oncall-override-form")
    # The default window starts now, so Kwame takes over level 1 at once.
    page.click("#oncall-override-save")
    page.locator("#oncall-override-form").wait_for(state="detached")
    page.locator('#oncall-card [data-level="1"] >> text=Kwame Mensah').first.wait_for()
    assert OnCallOverride.objects.filter(user_ref="user:default/kwame.mensah").count() == 1

    page.goto("/catalog/oncall/schedules/default/payments-primary/")
    page.locator("#schedule-timeline .paved-tl-overrides .paved-tl-bar").first.wait_for()
    assert page.locator("#schedule-overrides td", has_text="Kwame Mensah").count() == 1
    page.click("#timeline-next")
    page.wait_for_url(re.compile(r"\?start=\d{4}-\d{2}-\d{2}$"))
    page.click("#timeline-previous")
    page.wait_for_load_state("networkidle")
    page.reload()  # a settled page for the screenshot: htmx dims a region while it swaps
    page.locator("#schedule-timeline .paved-tl-final").wait_for()
    screenshot("oncall-schedule")

    page.goto("/catalog/oncall/schedules/default/catalog-search-primary/")
    assert page.locator("#schedule-timeline .paved-tl-gap").count() > 0
    screenshot("oncall-schedule-gaps")


def test_company_page_filters_with_shareable_urls(page, login, screenshot, demo_org):
    login("sofia.rossi")
    page.click("text=On-call")
    page.wait_for_url("**/catalog/oncall/")
    assert page.locator("#oncall-table tbody tr").count() >= 9
    screenshot("oncall-now")
    page.select_option("#oncall-team", "group:default/data")
    page.wait_for_url(re.compile(r"team=group%3Adefault%2Fdata"))
    page.locator("#oncall-table >> text=Data escalation").wait_for()
    assert page.locator("#oncall-table tbody tr").count() == 1  # data has a single level
    page.fill("#oncall-q", "nothing-like-this")
    page.locator("#oncall-empty").wait_for()
    # An empty result reads as help: what happened and the way back, not an error.
    assert "Nothing matches these filters" in page.locator("#oncall-empty .empty-title").inner_text()
    page.locator("#oncall-empty a", has_text="clear the filters").wait_for()
    screenshot("oncall-now-empty")
    page.click("#oncall-empty a")
    page.wait_for_url("**/catalog/oncall/")
    assert page.locator("#oncall-table tbody tr").count() >= 9


def test_non_member_sees_no_override_button_and_a_forged_post_is_refused(page, login, demo_org):
    login("sofia.rossi")
    page.goto("/catalog/default/component/payments-service/")
    page.locator('#oncall-card [data-level="1"]').wait_for()
    assert page.locator("#oncall-add-override").count() == 0
    status = page.evaluate(
        """async () => {
            const token = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken'];
            const body = new URLSearchParams({
                schedule: 'schedule:default/payments-primary', user: 'user:default/sofia.rossi',
                start: '2030-01-01T09:00', end: '2030-01-01T17:00', entity: 'component:default/payments-service',
            });
            const headers = {'X-CSRFToken': token};
            const response = await fetch('/catalog/oncall/overrides/new/', {method: 'POST', body, headers});
            return response.status;
        }"""
    )
    assert status == 403
    assert not OnCallOverride.objects.exists()
