"""Scorecards as people use them: from the overview to a team and to a service with a failing check (its evidence and
how to fix it); the fix pushed to the service's repository shows on the open page by itself once the scheduler's poll
has run. And an exemption: asked for by a team member on the service's page, not approvable by them, approved by a
member of the scorecard's owner in the queue, then shown as exempt apart from the passes. Screenshots of every page."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.core.management import call_command
from django.utils import timezone

from catalog.models import Entity
from scorecards import tasks
from scorecards.evaluation import scorecard_evaluate_all
from scorecards.models import Exemption
from tests.catalog.factories import LocationFactory, ingest
from tests.catalog.oncall.factories import payments_org
from tests.portal.factories import UserFactory
from tests.scorecards.factories import CampaignFactory
from tests.scorecards.orgs import OPS_CHECKS, commit, make_repo, ops_scorecard, service

pytestmark = pytest.mark.django_db(transaction=True)

README_REMEDIATION = "Add a README.md that says what the service does and how to run it."


@pytest.fixture
def org():
    """payments_org with the scorecard ops (owned by payments) and services; docs' repository has no README yet."""
    checks = [
        {**check, "remediation": README_REMEDIATION} if check["id"] == "readme" else check for check in OPS_CHECKS
    ]
    docs_repo = make_repo("docs", {"src/app.py": "print('docs')\n"})
    shop_repo = make_repo("shop", {"README.md": "# Shop\n"})
    documents = payments_org(
        extra=[
            ops_scorecard(checks=checks),
            service("docs", repo=docs_repo),
            service("shop", repo=shop_repo),
            service("billing", runbook=False),
            service("gateway"),
        ]
    )
    result = ingest(documents, location=LocationFactory.create())
    assert result.errors == [], result.errors
    assert Entity.objects.filter(kind="Scorecard").exists()
    scorecard_evaluate_all()
    for name in ("alice", "bob"):
        UserFactory(username=name)
    return {"docs": docs_repo}


def test_a_failing_check_is_found_from_the_overview_and_its_fix_shows_by_itself(page, login, screenshot, org):
    login("alice")
    page.click("nav >> text=Scorecards")
    page.wait_for_selector("[data-scorecard='scorecard:default/ops']")
    page.wait_for_selector("svg.paved-trend title", state="attached")
    screenshot("scorecards-overview")

    page.click("[data-scorecard='scorecard:default/ops'] [data-team='group:default/payments'] a")
    page.wait_for_url(re.compile(r"/scorecards/teams/default/payments/$"))
    page.wait_for_selector("[data-entity='component:default/docs']")
    screenshot("scorecards-team")

    page.click("[data-entity='component:default/docs'] a")
    page.wait_for_url(re.compile(r"/scorecards/entities/default/component/docs/$"))
    readme = page.locator("[data-check='readme']")
    assert readme.get_attribute("data-state") == "fail"
    assert readme.locator(".paved-state").inner_text() == "Fail"
    assert "README.md" in readme.locator(".paved-evidence").inner_text()  # what was seen, and where
    assert README_REMEDIATION in readme.locator(".paved-remediation").inner_text()
    assert "Has a README" in page.locator(".paved-next-level").inner_text()
    screenshot("scorecards-service-failing")

    # The fix lands in the repository; the beat job that polls repositories runs as the scheduler would run it.
    commit(org["docs"], {"README.md": "# Docs\n"})
    assert tasks.repositories_poll.delay().get() == 1

    # No reload and no button: the results poll the server and show the pass within the polling interval.
    page.wait_for_selector("[data-check='readme'][data-state='pass']", timeout=30_000)
    assert page.locator("[data-check='readme'] .paved-state").inner_text() == "Pass"
    screenshot("scorecards-service-fixed")


def test_an_exemption_is_asked_for_by_a_member_and_approved_by_someone_else(page, login, screenshot, org):
    login("alice")
    page.goto("/catalog/default/component/billing/")
    page.click("[data-entity-tab='Scorecards']")
    page.wait_for_url(re.compile(r"/scorecards/entities/default/component/billing/$"))
    assert page.locator("[data-check='runbook']").get_attribute("data-state") == "fail"

    page.click("[data-exempt='runbook']")
    page.wait_for_selector("#exemption-form textarea[name='reason']")
    page.click("#request-exemption")  # no reason: the form says so in place
    page.wait_for_selector("#exemption-form .invalid-feedback")
    screenshot("scorecards-exemption-form-error")
    page.fill("#exemption-form textarea[name='reason']", "The runbook moves to the new wiki this sprint.")
    page.click("#request-exemption")
    page.wait_for_selector("[data-check='runbook'] .paved-exemption-note >> text=waiting for Payments")
    exemption = Exemption.objects.get()
    assert exemption.status == "pending"

    # The requester sees their request in the queue, without a way to approve it.
    page.goto("/scorecards/exemptions/")
    page.wait_for_selector(f"[data-mine='{exemption.pk}']")
    assert page.locator(f"[data-approve='{exemption.pk}']").count() == 0
    screenshot("scorecards-exemption-requester")

    page.context.clear_cookies()
    login("bob")
    page.goto("/scorecards/exemptions/")
    page.wait_for_selector(f"[data-approve='{exemption.pk}']")
    screenshot("scorecards-exemption-queue")
    page.fill(f"[data-exemption='{exemption.pk}'] input[name='comment']", "Fine until the move is done.")
    page.click(f"[data-approve='{exemption.pk}']")
    page.wait_for_selector("text=Nothing waits for your decision")
    exemption.refresh_from_db()
    assert (exemption.status, exemption.decided_by.username) == ("approved", "bob")

    page.goto("/scorecards/entities/default/component/billing/")
    exempt = page.locator(".paved-exempt-list [data-check='runbook']")
    assert exempt.get_attribute("data-state") == "exempt"
    assert exempt.locator(".paved-state").inner_text() == "Exempt"
    assert page.locator(".paved-checks:not(.paved-exempt-list) [data-check='runbook']").count() == 0
    screenshot("scorecards-service-exempt")


def test_a_campaign_is_started_by_the_scorecards_owner_and_shows_progress_per_team(page, login, screenshot, org):
    CampaignFactory(slug="silver", title="Every service Silver", scorecard_ref="scorecard:default/ops")
    login("alice")
    page.goto("/scorecards/campaigns/")
    page.click("#new-campaign")
    page.fill("#id_title", "Gold for payments")
    page.fill("#id_slug", "gold-payments")
    page.fill("#id_target_level", "Platinum")
    page.fill("#id_due_date", (timezone.localdate() + dt.timedelta(weeks=10)).isoformat())
    page.click("#create-campaign")
    page.wait_for_selector("#campaign-form .invalid-feedback >> text=has no level")
    screenshot("scorecards-campaign-form-error")
    page.fill("#id_target_level", "Gold")
    page.click("#create-campaign")
    page.wait_for_url(re.compile(r"/scorecards/campaigns/gold-payments/$"))
    page.wait_for_selector("#campaign-done")

    page.goto("/scorecards/campaigns/")
    page.click("[data-campaign='silver'] a")
    page.wait_for_selector("[data-team='group:default/payments']")
    assert "of" in page.locator("#campaign-done").inner_text()
    screenshot("scorecards-campaign")
    page.goto("/scorecards/default/ops/?level=none")
    page.wait_for_selector("#scorecard-services")
    screenshot("scorecards-scorecard")


def test_the_demo_organisations_scorecards_read_well(page, login, screenshot):
    """The demo (portal/demo/org/): both scorecards on the overview, and a service whose repository Paved cannot
    read shows those checks as could-not-be-checked, never as failing."""
    call_command("demo_setup", stdout=io.StringIO())
    UserFactory(username="demo-viewer")
    login("demo-viewer")
    page.goto("/scorecards/")
    page.wait_for_selector("[data-scorecard='scorecard:default/paved-path']")
    page.wait_for_selector("[data-scorecard='scorecard:default/oncall-readiness']")
    screenshot("scorecards-demo-overview")

    page.goto("/scorecards/entities/default/component/payments-service/")
    page.wait_for_selector("[data-scorecard='scorecard:default/oncall-readiness']")
    readme = page.locator("[data-scorecard='scorecard:default/paved-path'] [data-check='readme']")
    assert readme.get_attribute("data-state") in {"pass", "fail", "error", "stale"}
    if readme.get_attribute("data-state") in {"error", "stale"}:
        assert readme.locator(".paved-state").inner_text() in {"Could not be checked", "Out of date"}
    screenshot("scorecards-demo-service")
