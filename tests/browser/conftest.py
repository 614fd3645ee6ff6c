"""Browser journeys: Playwright driving Debian's chromium against a live Paved server.

Without chromium the browser tests are skipped and the run says so; with PAVED_REQUIRE_BROWSER=1 (CI) a
missing chromium fails the run instead.

Every journey also proves the Content-Security-Policy: a page that comes without the enforced header, or anything
the browser refuses under it (it says so on the console), fails the test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls made by fixtures are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("PAVED_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        message = f"chromium not found at {CHROMIUM}: browser tests need Debian's chromium (apt-get install chromium)"
        if os.environ.get("PAVED_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


CSP_REFUSALS = ("Content Security Policy", "Content-Security-Policy", "Refused to")


@pytest.fixture
def page(browser, live_server) -> Iterator[object]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []

    def on_console(message) -> None:
        if any(marker in message.text for marker in CSP_REFUSALS):
            problems.append(f"{page.url}: {message.text}")

    def on_response(response) -> None:
        document = response.request.resource_type == "document" and response.url.startswith(live_server.url)
        if document and "content-security-policy" not in response.headers:
            problems.append(f"{response.url} was served without a Content-Security-Policy header")

    page.on("console", on_console)
    page.on("response", on_response)
    yield page
    context.close()
    if problems:
        pytest.fail("Content-Security-Policy:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def screenshot(page):
    """Save a full-page screenshot under tests/browser/screenshots/ for a person to look at."""
    SCREENSHOTS.mkdir(exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def login(page):
    def sign_in(username: str, password: str = "correct horse battery staple") -> None:
        page.goto("/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("#sign-in")
        page.wait_for_url(lambda url: "/login/" not in url)

    return sign_in
