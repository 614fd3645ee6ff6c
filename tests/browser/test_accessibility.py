"""Accessibility of the main pages, checked with axe-core (an npm dev dependency, node_modules/axe-core/axe.min.js) on
the demo organisation: a serious or critical violation on any page fails the test and is listed with its rule, its
help text and the elements it found.

axe is injected by the test only, never served: its script tag needs a browser context that bypasses the
Content-Security-Policy, so these pages run in a context of their own and the `page` fixture's CSP check stays as
strict as it is for every other journey.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from catalog import demo
from tests.browser.conftest import SCREENSHOTS
from tests.portal.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
PASSWORD = "correct horse battery staple"

PAGES = {
    "home": "/",
    "catalog-list": "/catalog/",
    "entity": "/catalog/default/component/payments-service/",
    "group": "/catalog/default/group/payments/",
    "user": "/catalog/default/user/priya.raman/",
    "oncall": "/catalog/oncall/",
    "schedule": "/catalog/oncall/schedules/default/payments-primary/",
    "policy": "/catalog/oncall/policies/default/payments/",
    "policy-entity": "/catalog/default/escalationpolicy/payments/",
    "locations": "/catalog/locations/",
}


@pytest.fixture
def demo_org() -> None:
    demo.load(stdout=io.StringIO())
    UserFactory(username="priya.raman", first_name="Priya", last_name="Raman")


@pytest.fixture
def axe_page(browser, live_server, demo_org) -> Iterator[object]:
    """A signed-in page in a context that lets the test inject axe; the pages' own CSP header is still sent."""
    assert AXE.exists(), f"axe-core is missing at {AXE}: `make setup` installs it with npm ci"
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900}, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/login/")
    page.fill("#id_username", "priya.raman")
    page.fill("#id_password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(lambda url: "/login/" not in url)
    yield page
    context.close()


def blocking_violations(page) -> list[str]:
    """Run axe on the page as it is and describe every serious or critical violation: the rule, its help, then each
    element it found (an indented line: the element's selector and why it fails)."""
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    found = []
    for violation in results["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        found.append(f"{page.url}: {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            checks = node["any"] or node["all"] or node["none"]
            why = f" — {checks[0]['message']}" if checks else ""
            found.append(f"    {' '.join(node['target'])}{why}")
    return found


def _settled(page, path: str) -> None:
    response = page.goto(path)
    assert response is not None, f"{path} gave no response"
    assert response.status == 200, f"{path} answered {response.status}"
    page.wait_for_load_state("networkidle")
    # The on-call card loads after the page: check it as people see it, not its loading placeholder.
    if page.locator("#oncall-card").count():
        page.locator("#oncall-card.paved-oncall-card").wait_for()


def test_main_pages_have_no_serious_or_critical_accessibility_violations(axe_page):
    page = axe_page
    problems: list[str] = []
    SCREENSHOTS.mkdir(exist_ok=True)
    for name, path in PAGES.items():
        _settled(page, path)
        page.screenshot(path=str(SCREENSHOTS / f"a11y-{name}.png"), full_page=True)
        problems.extend(blocking_violations(page))
    assert not problems, "axe-core found serious or critical violations:\n" + "\n".join(problems)


def test_the_check_finds_a_violation_it_is_meant_to_find(axe_page):
    """The check is not blind: an unlabelled form field and a nameless image link on a real page are reported."""
    page = axe_page
    _settled(page, "/catalog/")
    page.evaluate(
        """() => {
            const main = document.querySelector('main') || document.body;
            main.insertAdjacentHTML('beforeend',
                '<input type="text" id="axe-probe-input"><a href="/" id="axe-probe-link"><img src="data:,"></a>');
        }"""
    )
    problems = blocking_violations(page)
    # The axe that ran is the npm package pinned in package.json (not a copy from elsewhere, nor a CDN).
    pinned = json.loads((Path(settings.BASE_DIR) / "package.json").read_text())["devDependencies"]["axe-core"]
    installed = json.loads((AXE.parent / "package.json").read_text())["version"]
    assert page.evaluate("() => axe.version") == installed == pinned
    assert page.evaluate("() => [...document.scripts].some(s => /cdn|unpkg|jsdelivr/.test(s.src))") is False
    assert any(line.endswith("label (critical): Form elements must have labels") for line in problems), problems
    assert any("#axe-probe-input" in line for line in problems), problems
    assert any("#axe-probe-link" in line for line in problems), problems
