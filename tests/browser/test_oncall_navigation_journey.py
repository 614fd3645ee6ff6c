"""On-call navigated end to end on the demo organisation: the On-call section's lists of every schedule and policy,
policy pages with their levels and health warnings, a schedule's catalog page leading to its timeline, contacts with
one-click copy, on-call cards on API, System and Resource pages, and the override form used as a page of its own."""

from __future__ import annotations

import io
import re

import pytest

from catalog import demo
from catalog.oncall.models import OnCallOverride
from tests.portal.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo_org():
    demo.load(stdout=io.StringIO())
    UserFactory(username="priya.raman", first_name="Priya", last_name="Raman")


def test_oncall_section_lists_schedules_and_policies_and_leads_to_policy_pages(page, login, screenshot, demo_org):
    login("priya.raman")
    page.goto("/catalog/oncall/")
    page.locator("#oncall-schedules").wait_for()
    assert page.locator("#oncall-schedules tr[data-schedule]").count() >= 9
    assert page.locator("#oncall-policies tr[data-policy]").count() >= 9
    # Only levels that exist, and teams by their titles.
    levels = page.locator("#oncall-level option").all_inner_texts()
    assert levels[0] == "All levels"
    assert "Level 1" in levels
    assert len(levels) <= 4
    assert page.locator("#oncall-team option", has_text="Catalog & Search").count() == 1
    assert page.locator("#oncall-table a", has_text="group:").count() == 0
    screenshot("oncall-nav-section")

    # The Data team's policy has a single level: a health warning says so.
    data_row = page.locator('#oncall-policies tr[data-policy="escalationpolicy:default/data"]')
    assert "warning" in data_row.inner_text()
    data_row.locator("a").first.click()
    page.wait_for_url(re.compile(r"/catalog/oncall/policies/default/data/$"))
    health = page.locator("#policy-health")
    assert "a single level" in health.inner_text()
    screenshot("oncall-nav-policy-weak")

    page.goto("/catalog/oncall/policies/default/payments/")
    levels_card = page.locator("#policy-levels")
    levels_card.locator('[data-level="2"]').wait_for()
    text = levels_card.inner_text()
    assert "escalates to level 2 after" in text
    assert "On call now" in text
    assert "Next" in text
    assert levels_card.locator('[data-level="1"] a', has_text="Payments primary").count() == 1
    assert page.locator("#policy-repeat").is_visible()
    # Paved says who is on call; it pages nobody, so no page says anyone "is paged".
    assert "paged" not in page.locator("main").inner_text()
    screenshot("oncall-nav-policy")

    # The other weaknesses, each on its policy: one person on two levels, and a gap in the next 7 days.
    page.goto("/catalog/oncall/policies/default/checkout/")
    two_levels = page.locator('#policy-health li[data-health="person-on-two-levels"]')
    assert "levels 1 and 2" in two_levels.first.inner_text()
    screenshot("oncall-nav-policy-two-levels")
    page.goto("/catalog/oncall/policies/default/catalog-search/")
    assert "in the next 7 days" in page.locator('#policy-health li[data-health="gap"]').first.inner_text()

    # A schedule's catalog page leads to its timeline; restriction windows read as people say them.
    page.goto("/catalog/default/schedule/catalog-search-primary/")
    page.click("#oncall-open-timeline")
    page.wait_for_url(re.compile(r"/catalog/oncall/schedules/default/catalog-search-primary/$"))
    page.locator("#schedule-timeline .paved-tl-final").wait_for()
    assert "On call weekdays 09:00\u201318:00 (Europe/London)" in page.locator(".paved-restriction").first.inner_text()
    assert page.locator(".page-header a", has_text="Team: Catalog & Search").count() == 1
    # Distinct colours for distinct people within the schedule, in the legend and on the bars.
    swatches = page.locator("#timeline-legend .paved-tl-swatch:not(.paved-tl-gap)")
    colours = [swatches.nth(i).evaluate("el => getComputedStyle(el).backgroundColor") for i in range(swatches.count())]
    assert len(colours) == 4
    assert len(set(colours)) == len(colours), colours
    assert "Hours on call, next 14 days" in page.locator("#schedule-balance").inner_text()
    assert page.locator("#timeline-legend").inner_text().count(" h") == 0  # one hour total per person, not two
    assert "gap" in page.locator("#schedule-health").inner_text()
    screenshot("oncall-nav-schedule")


def test_contacts_show_on_cards_lists_and_people_with_one_click_copy(page, login, screenshot, demo_org):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    login("priya.raman")
    page.goto("/catalog/default/component/payments-service/")
    card = page.locator("#oncall-card")
    card.locator('[data-level="1"]').wait_for()
    assert "#team-payments" in card.locator("#oncall-team").inner_text()
    phone = card.locator('[data-level="1"] [data-contact="phone"]').first
    assert phone.locator('a[href^="tel:+1555"]').count() == 1
    chat = card.locator('[data-level="1"] [data-contact="chat"] a').first
    assert chat.get_attribute("href").startswith("https://chat.acme-retail.example.com/@")
    copy = phone.locator("[data-paved-copy]")
    copy.click()
    page.wait_for_function(
        "() => document.querySelector('#oncall-card [data-level=\"1\"] .paved-copy.is-copied') !== null"
    )
    number = copy.get_attribute("data-paved-copy")
    assert page.evaluate("navigator.clipboard.readText()") == number
    screenshot("oncall-nav-card-contacts")

    page.goto("/catalog/oncall/")
    assert page.locator("#oncall-table [data-contact='phone']").count() >= 9
    assert "paged" not in page.locator("main").inner_text()
    assert page.locator("#oncall-table [data-contact='channel']").count() >= 9

    page.goto("/catalog/oncall/people/default/kwame.mensah/")
    assert page.locator("#person-contacts a[href^='tel:']").count() == 1
    screenshot("oncall-nav-person")

    page.goto("/catalog/default/group/payments/")
    assert "#team-payments" in page.locator("#team-contacts").inner_text()
    page.locator("#oncall-card [data-level='1']").wait_for()
    screenshot("oncall-nav-team")


def test_weak_team_and_owners_cards_on_api_system_and_resource_pages(page, login, screenshot, demo_org):
    login("priya.raman")
    page.goto("/catalog/default/group/fulfilment/")
    page.locator("#oncall-card-health").wait_for()
    assert "rotates through one person" in page.locator("#oncall-card-health").inner_text()
    screenshot("oncall-nav-team-health")
    # The same warning on the card of a service the team owns.
    page.goto("/catalog/default/component/shipping-service/")
    page.locator("#oncall-card-health").wait_for()
    assert "rotates through one person" in page.locator("#oncall-card-health").inner_text()
    assert "paged" not in page.locator("#oncall-card").inner_text()
    screenshot("oncall-nav-service-health")
    for kind, name in (("api", "payments-api"), ("system", "payments"), ("resource", "payments-db")):
        page.goto(f"/catalog/default/{kind}/{name}/")
        page.locator("#oncall-card [data-level='1']").wait_for()
        assert "Policy of the owner team" in page.locator("#oncall-card").inner_text()
    screenshot("oncall-nav-resource-card")


def test_override_form_works_as_a_page_of_its_own_and_takes_display_names(page, login, screenshot, demo_org):
    login("priya.raman")
    form_url = "/catalog/oncall/overrides/new/?entity=component:default/payments-service"
    page.goto(form_url)
    page.locator("#oncall-override-form").wait_for()
    screenshot("oncall-nav-override-page")
    # Cancel goes back to the service instead of blanking the page.
    page.click("#oncall-override-cancel")
    page.wait_for_url(re.compile(r"/catalog/default/component/payments-service/$"))
    page.locator("#oncall-card [data-level='1']").wait_for()

    # Opened in a new tab or from a shared link, the form saves: with a name it suggests, not a ref.
    page.goto(form_url)
    page.fill("#id_user", "Kwame Mensah")
    page.fill("#id_reason", "holiday cover")
    page.click("#oncall-override-save")
    page.wait_for_url(re.compile(r"/catalog/default/component/payments-service/$"))
    assert "Override saved: Kwame Mensah is on call" in page.content()
    assert OnCallOverride.objects.filter(user_ref="user:default/kwame.mensah").count() == 1
    page.locator("#oncall-card [data-level='1']").wait_for()
    screenshot("oncall-nav-override-saved")

    # From the card (htmx): errors in place, then an inline notice on success.
    page.click("#oncall-add-override")
    page.locator("#oncall-override-form").wait_for()
    page.fill("#id_user", "Nobody By This Name")
    page.click("#oncall-override-save")
    page.locator("#oncall-override-form .invalid-feedback").wait_for()
    assert "Nobody By This Name" in page.locator("#oncall-override-form .invalid-feedback").inner_text()
    screenshot("oncall-nav-override-error")
    page.fill("#id_user", "Kwame Mensah")
    page.click("#oncall-override-save")
    page.locator("#oncall-saved").wait_for()
    assert "Override saved: Kwame Mensah" in page.locator("#oncall-saved").inner_text()
    screenshot("oncall-nav-override-notice")
