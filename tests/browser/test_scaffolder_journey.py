"""The scaffolder as people use it, on the demo organisation and its sanctioned templates (loaded by demo_setup from
tagged repositories on the embedded git host): choose a template, fill its form, review, create, watch the run, open
the new service in the catalog; and the guard rail that makes a run wait for an approver."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command

from catalog.models import Entity
from tests.portal.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

REQUESTER = "hannah.meyer"  # fulfilment
APPROVER = "maria.gonzalez"  # platform, the approver group of the demo templates' memory guard rail


@pytest.fixture
def demo() -> None:
    call_command("demo_setup", stdout=io.StringIO())
    assert Entity.objects.filter(kind="Template", name="python-service").exists()


def _git(repository: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", f"--git-dir={repository}", *args], capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout


def _pick(page, field: str, typed: str, value: str) -> None:
    """A picker is a text input whose suggestions come from the server as people type; the value is the ref."""
    page.fill(f"#id_{field}", typed)
    page.wait_for_selector(f"datalist >> option[value='{value}']", state="attached")
    page.fill(f"#id_{field}", value)


def _first_page(page, screenshot, *, name: str) -> None:
    page.click("nav >> text=Create")
    page.wait_for_selector("[data-template='template:default/python-service']")
    screenshot("scaffolder-menu")
    page.click("[data-template='template:default/python-service'] >> text=Choose")
    page.wait_for_url(re.compile(r"/create/templates/default/python-service/$"))
    # A name the catalog has already: the live check says so as soon as the field changes.
    page.fill("#id_name", "search-service")
    page.press("#id_name", "Tab")
    page.wait_for_selector("#field-errors-name >> text=already exists")
    screenshot("scaffolder-form-live-error")
    page.fill("#id_name", name)
    page.press("#id_name", "Tab")
    page.locator("#field-errors-name div").wait_for(state="detached")
    page.fill("#id_description", "Tracks parcels from the warehouse to the door.")
    _pick(page, "owner", "fulfil", "group:default/fulfilment")
    _pick(page, "system", "fulfil", "system:default/fulfilment")
    page.click("button[value='next']")
    page.wait_for_url(re.compile(r"\?page=2$"))


def _second_and_third_pages(page, *, memory: str, name: str, screenshot=None) -> None:
    page.fill("#id_memoryMiB", memory)
    page.press("#id_memoryMiB", "Tab")
    if screenshot is not None:
        page.wait_for_selector("#guardrail-notice >> text=Needs approval")
        screenshot("scaffolder-guardrail-notice")
    _pick(page, "escalationPolicy", "fulfil", "escalationpolicy:default/fulfilment")
    page.click("button[value='next']")
    page.wait_for_url(re.compile(r"\?page=3$"))
    page.fill("input[aria-label='Owner']", "fulfilment")
    page.fill("input[aria-label='Repository']", name)
    page.click("button[value='next']")
    page.wait_for_url(re.compile(r"/review/$"))


def test_a_developer_creates_a_service_from_a_sanctioned_template_and_opens_it_in_the_catalog(
    page, login, screenshot, demo
):
    UserFactory(username=REQUESTER, email=f"{REQUESTER}@acme-retail.example.com")
    login(REQUESTER)
    _first_page(page, screenshot, name="parcel-tracker")
    _second_and_third_pages(page, memory="512", name="parcel-tracker")
    assert page.locator("#review-values", has_text="parcel-tracker").count() == 1
    screenshot("scaffolder-review")

    page.click("button:has-text('Create')")
    page.wait_for_url(re.compile(r"/create/runs/[0-9a-f-]+/$"))
    page.wait_for_selector("#run-live[data-status='completed']", timeout=60_000)
    for step in ("Render the skeleton", "Publish the repository", "Register in the catalog"):
        assert page.locator("#run-steps", has_text=step).count() == 1
    screenshot("scaffolder-run")

    page.click("a:has-text('Open in catalog')")
    page.wait_for_url(re.compile(r"/catalog/default/component/parcel-tracker/$"))
    assert page.locator("h1, h2", has_text="parcel-tracker").count() >= 1
    screenshot("scaffolder-new-service-in-catalog")

    repository = Path(settings.VAR_DIR) / "repos" / "fulfilment" / "parcel-tracker.git"
    files = set(_git(repository, "ls-tree", "-r", "--name-only", "main").split())
    assert {"README.md", "CODEOWNERS", "Dockerfile", ".github/workflows/ci.yml", "catalog-info.yaml"} <= files
    assert {"src/app/main.py", "src/app/logging_setup.py", ".copier-answers.yml"} <= files
    answers = yaml.safe_load(_git(repository, "show", "main:.copier-answers.yml"))
    # Copier's answers: the template source at its tag, and the values the run gave it.
    assert answers["_src_path"] == str(Path(settings.VAR_DIR) / "repos" / "templates" / "python-service.git")
    assert answers["_commit"] == "v1.0.0"
    assert answers["values"]["name"] == "parcel-tracker"
    assert answers["values"]["templateVersion"] == "1.0.0"
    catalog_info = yaml.safe_load(_git(repository, "show", "main:catalog-info.yaml"))
    annotations = catalog_info["metadata"]["annotations"]
    assert annotations["backstage.io/source-template"] == "template:default/python-service"
    assert annotations["paved.dev/escalation-policy"] == "escalationpolicy:default/fulfilment"
    assert catalog_info["spec"]["owner"] == "group:default/fulfilment"
    author = _git(repository, "log", "-1", "--format=%an <%ae>", "main").strip()
    assert author.endswith(f"<{REQUESTER}@acme-retail.example.com>")


def test_more_memory_than_the_guard_rail_allows_waits_for_an_approver_who_is_not_the_requester(
    page, login, screenshot, demo
):
    UserFactory(username=REQUESTER, email=f"{REQUESTER}@acme-retail.example.com")
    UserFactory(username=APPROVER, email=f"{APPROVER}@acme-retail.example.com")
    login(REQUESTER)
    _first_page(page, screenshot, name="label-printer")
    _second_and_third_pages(page, memory="2048", name="label-printer", screenshot=screenshot)
    assert page.locator("#review-guardrails", has_text="More than 1 GiB").count() == 1
    page.click("button:has-text('Create')")
    page.wait_for_url(re.compile(r"/create/runs/[0-9a-f-]+/$"))
    run_url = page.url
    page.wait_for_selector("#run-live[data-status='awaiting-approval']")
    # The requester sees the wait and its reason, and no way to approve their own run.
    assert page.locator("#run-approvals", has_text="More than 1 GiB").count() == 1
    assert page.locator("#run-approvals button:has-text('Approve')").count() == 0
    screenshot("scaffolder-run-awaiting-approval")
    answer = page.request.post(
        run_url + "approve/", form={"comment": "mine"}, headers={"X-CSRFToken": _csrf(page)}, fail_on_status_code=False
    )
    assert answer.status == 403

    page.context.clear_cookies()
    login(APPROVER)
    page.goto("/create/approvals/")
    page.fill("#approval-queue input[name='comment']", "Fine for the launch month")
    screenshot("scaffolder-approval-queue")
    page.click("#approval-queue button:has-text('Approve')")
    page.wait_for_url(re.compile(r"/create/approvals/$"))
    page.goto(run_url)
    page.wait_for_selector("#run-live[data-status='completed']", timeout=60_000)
    assert page.locator("#run-approvals", has_text="Fine for the launch month").count() == 1
    screenshot("scaffolder-run-approved")
    assert Entity.objects.filter(ref="component:default/label-printer").exists()


def _csrf(page) -> str:
    for cookie in page.context.cookies():
        if cookie["name"] == "csrftoken":
            return str(cookie["value"])
    raise AssertionError("no CSRF cookie")
