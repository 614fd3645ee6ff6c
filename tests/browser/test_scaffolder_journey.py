from __future__ import annotations

import re

import pytest

from tests.catalog.factories import ingest, new_location, org_docs
from tests.portal.factories import UserFactory
from tests.scaffolder.test_views import template_doc

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def catalog() -> None:
    result = ingest([*org_docs(), template_doc()], location=new_location(trusted=True))
    assert not result.errors, result.errors


def _fill_first_page(page, screenshot) -> None:
    page.click("nav >> text=Create")
    page.wait_for_selector("[data-template='template:default/python-service']")
    screenshot("scaffolder-menu")
    page.click("[data-template='template:default/python-service'] >> text=Choose")
    page.wait_for_url(re.compile(r"/create/templates/default/python-service/$"))
    # A name the catalog has already: the live check says so as soon as the field changes.
    page.fill("#id_name", "checkout")
    page.press("#id_name", "Tab")
    page.wait_for_selector("#field-errors-name >> text=already exists")
    screenshot("scaffolder-form-live-error")
    page.fill("#id_name", "new-service")
    page.press("#id_name", "Tab")
    page.locator("#field-errors-name div").wait_for(state="detached")
    page.click("button[value='next']")
    page.wait_for_url(re.compile(r"\?page=2$"))


def test_user_creates_a_service_from_a_template_and_watches_the_run(page, login, screenshot, catalog):
    UserFactory(username="carol")
    login("carol")
    _fill_first_page(page, screenshot)
    page.fill("#id_memoryMiB", "512")
    page.click("button[value='next']")
    page.wait_for_url(re.compile(r"/review/$"))
    assert page.locator("#review-values", has_text="new-service").count() == 1
    screenshot("scaffolder-review")
    page.click("button:has-text('Create')")
    page.wait_for_url(re.compile(r"/create/runs/[0-9a-f-]+/$"))
    page.wait_for_selector("#run-live[data-status='completed']")
    assert page.locator("#run-steps", has_text="Say hello").count() == 1
    screenshot("scaffolder-run")


def test_run_beyond_a_guard_rail_waits_until_an_approver_approves(page, login, screenshot, catalog):
    UserFactory(username="carol")
    UserFactory(username="bob")
    login("carol")
    _fill_first_page(page, screenshot)
    page.fill("#id_memoryMiB", "2048")
    page.press("#id_memoryMiB", "Tab")
    page.wait_for_selector("#guardrail-notice >> text=Needs approval")
    screenshot("scaffolder-guardrail-notice")
    page.click("button[value='next']")
    page.wait_for_url(re.compile(r"/review/$"))
    page.click("button:has-text('Create')")
    page.wait_for_url(re.compile(r"/create/runs/[0-9a-f-]+/$"))
    run_url = page.url
    page.wait_for_selector("#run-live[data-status='awaiting-approval']")
    assert page.locator("#run-approvals button:has-text('Approve')").count() == 0
    screenshot("scaffolder-run-awaiting-approval")

    page.context.clear_cookies()
    login("bob")
    page.goto("/create/approvals/")
    page.fill("#approval-queue input[name='comment']", "Fine for a month")
    screenshot("scaffolder-approval-queue")
    page.click("#approval-queue button:has-text('Approve')")
    page.wait_for_url(re.compile(r"/create/approvals/$"))
    page.goto(run_url)
    page.wait_for_selector("#run-live[data-status='completed']")
    assert page.locator("#run-approvals", has_text="Fine for a month").count() == 1
    screenshot("scaffolder-run-approved")
