"""Checks of the production smoke test (`scripts/smoke-production`), run against a Paved it started.

    smoke_production.py reset-database <postgresql url>
    smoke_production.py check <base url> <username> <password> <worker log>

`check` talks to gunicorn the way a TLS-terminating proxy and a browser behind it would: every request carries
`X-Forwarded-Proto: https` (the README's `PAVED_BEHIND_PROXY=true`), so Paved's production cookie and CSRF rules
(Secure cookies, Origin checks) apply unchanged. It prints PASS or FAIL per check and exits 1 on any failure.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import psycopg
import requests
from psycopg import sql

TIMEOUT = 30
ONE_YEAR = 365 * 24 * 3600
HASHED_NAME = re.compile(r"\.[0-9a-f]{12}\.\w+$")
# Pages of the demo organisation (portal/demo/org/) that a signed-in user opens, with a text each must show.
PAGES = [
    ("home", "/", "Paved"),
    ("catalog list", "/catalog/?kind=Component&q=payments", "payments-service"),
    ("entity page", "/catalog/default/component/payments-service/", "payments-service"),
    ("group page", "/catalog/default/group/payments/", "Payments"),
    ("on-call page", "/catalog/oncall/", "Payments"),
    ("schedule page", "/catalog/oncall/schedules/default/payments-primary/", "Payments primary"),
    ("API docs page", "/api/docs/", "swagger-ui"),
    ("API schema", "/api/schema/", "openapi"),
]
DEMO_ENTITY = "component:default/payments-service"
REFRESH_SUCCEEDED = re.compile(r"Task catalog\.location_refresh\[[^\]]+\] succeeded")


class Report:
    """Prints one PASS/FAIL line per check and counts them."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        print(f"{'PASS' if ok else 'FAIL'}  {name}{f'  ({detail})' if detail else ''}", flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok


class AssetLinks(HTMLParser):
    """Collects the stylesheets, scripts and icon a page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "link" and values.get("rel") in {"stylesheet", "icon"} and values.get("href"):
            self.urls.append(str(values["href"]))
        elif tag == "script" and values.get("src"):
            self.urls.append(str(values["src"]))


def asset_urls(html: str) -> list[str]:
    parser = AssetLinks()
    parser.feed(html)
    return parser.urls


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    return match.group(1) if match else ""


def max_age(response: requests.Response) -> int:
    match = re.search(r"max-age=(\d+)", response.headers.get("Cache-Control", ""))
    return int(match.group(1)) if match else 0


def wait_for(what: Callable[[], bool], *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if what():
                return True
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)


class BehindProxy(requests.Session):
    """A browser on the far side of the TLS-terminating proxy that `PAVED_BEHIND_PROXY=true` stands for: every request
    says it came in over https, and Paved's Secure cookies travel over the proxy's plain-http hop to gunicorn."""

    def __init__(self) -> None:
        super().__init__()
        self.headers["X-Forwarded-Proto"] = "https"

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        prepared = super().prepare_request(request)
        if self.cookies:
            # One host only, so every cookie is this site's; requests itself keeps Secure cookies to https URLs.
            prepared.headers["Cookie"] = "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.cookies)
        return prepared


def check_static(session: requests.Session, report: Report, page: str, url: str, *, hashed: bool) -> None:
    response = session.get(url, timeout=TIMEOUT)
    ok = response.status_code == 200
    detail = f"{response.status_code}, {len(response.content)} bytes"
    if hashed:
        # Our own and the vendored files go through the manifest: hashed names, cached for a year.
        ok = ok and HASHED_NAME.search(urlsplit(url).path) is not None and max_age(response) >= ONE_YEAR
        detail += f", Cache-Control: {response.headers.get('Cache-Control')}"
    if len(response.content) > 10_000:
        # whitenoise keeps a compressed copy only where compressing pays, which it always does for large text files.
        ok = ok and response.headers.get("Content-Encoding") == "gzip"
        detail += f", Content-Encoding: {response.headers.get('Content-Encoding')}"
    report.check(f"{page} asset {urlsplit(url).path}", ok, detail)


def check(base_url: str, username: str, password: str, worker_log: Path) -> int:
    report = Report()
    session = BehindProxy()
    origin = "https://" + urlsplit(base_url).netloc

    ready = wait_for(lambda: session.get(f"{base_url}/readyz", timeout=TIMEOUT).status_code == 200, seconds=60)
    detail = ""
    if not ready:
        try:
            detail = session.get(f"{base_url}/readyz", timeout=TIMEOUT).text[:300]
        except requests.RequestException as exc:
            detail = str(exc)
    if not report.check("/readyz answers 200", ready, detail):
        return 1

    login = session.get(f"{base_url}/login/", timeout=TIMEOUT)
    report.check("login page", login.status_code == 200, str(login.status_code))
    assets = asset_urls(login.text)
    report.check(
        "login page loads CSS and JS",
        any(u.endswith(".css") for u in assets) and any(u.endswith(".js") for u in assets),
        ", ".join(assets),
    )
    for url in assets:
        check_static(session, report, "login page", urljoin(base_url + "/", url), hashed=True)

    signed_in = session.post(
        f"{base_url}/login/",
        data={"csrfmiddlewaretoken": csrf_token(login.text), "username": username, "password": password, "next": ""},
        headers={"Origin": origin, "Referer": f"{origin}/login/"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    if not report.check(
        "sign in", signed_in.status_code == 302 and "sessionid" in session.cookies, str(signed_in.status_code)
    ):
        return 1
    insecure = [cookie.name for cookie in session.cookies if not cookie.secure]
    report.check("session and CSRF cookies are Secure", not insecure, ", ".join(insecure))

    def catalog_loaded() -> bool:
        answer = session.get(
            f"{base_url}/api/catalog/entities/by-name/component/default/payments-service", timeout=TIMEOUT
        )
        return answer.status_code == 200

    report.check("demo organisation in the catalog", wait_for(catalog_loaded, seconds=60), DEMO_ENTITY)

    for name, path, text in PAGES:
        page = session.get(f"{base_url}{path}", timeout=TIMEOUT)
        ok = page.status_code == 200 and text in page.text
        report.check(f"{name} {path}", ok, f"{page.status_code}{'' if text in page.text else f', no {text!r}'}")
        if path == "/api/docs/":
            for url in asset_urls(page.text):
                # drf-spectacular names Swagger UI's files without hashes; whitenoise serves those copies too.
                check_static(session, report, "API docs", urljoin(base_url + "/", url), hashed=False)

    missing = session.get(f"{base_url}/catalog/default/component/no-such-component/", timeout=TIMEOUT)
    report.check(
        "unknown entity answers the 404 page",
        missing.status_code == 404 and "Page not found" in missing.text,
        str(missing.status_code),
    )

    # The worker: a refresh asked for through the API runs as a Celery task, never inside the request.
    def refreshes() -> int:
        return len(REFRESH_SUCCEEDED.findall(worker_log.read_text()))

    before = refreshes()
    refresh = session.post(
        f"{base_url}/api/catalog/refresh",
        json={"entityRef": DEMO_ENTITY},
        headers={"Origin": origin, "X-CSRFToken": session.cookies.get("csrftoken", "")},
        timeout=TIMEOUT,
    )
    report.check("refresh requested through the API", refresh.status_code == 200, str(refresh.status_code))
    ran = wait_for(lambda: refreshes() > before, seconds=60)
    report.check("worker ran the refresh task", ran, str(worker_log))

    print(
        f"{'FAIL' if report.failed else 'PASS'}  HTTP checks: {report.passed} passed, {report.failed} failed",
        flush=True,
    )
    return 1 if report.failed else 0


def reset_database(url: str) -> int:
    """Drop and create the database `url` names, connected to the server's `postgres` database."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    print(f"PASS  fresh database {name}", flush=True)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "reset-database":
        return reset_database(argv[2])
    if len(argv) == 6 and argv[1] == "check":
        return check(argv[2].rstrip("/"), argv[3], argv[4], Path(argv[5]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
