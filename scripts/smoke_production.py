"""The production smoke test (`scripts/smoke-production`, after its README check and `make setup`).

    python -m scripts.smoke_production

Starts Paved with scripts/prodstack.py exactly as README.md's production section says (PostgreSQL, Redis, migrate,
collectstatic, `make serve`, `make worker`, `make beat`), loads the demo organisation and a user, then talks to
the web server the way a TLS-terminating proxy and a browser behind it would: every request carries
`X-Forwarded-Proto: https` (the README's `PAVED_BEHIND_PROXY=true`), so Paved's production cookie and CSRF rules
(Secure cookies, Origin checks) apply unchanged. It opens the main pages, has the worker refresh a location, walks
the scaffolder from the template menu to a created service in the catalog, and fails on any traceback in the
processes' logs. It prints PASS or FAIL per check and exits 1 on any failure.

Overrides: PAVED_SMOKE_DATABASE_URL (dropped and created afresh; default postgresql://postgres@127.0.0.1:5432/
paved_smoke), PAVED_SMOKE_BROKER_URL (default redis://127.0.0.1:6379/5; its Paved queue is purged).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from scripts.prodstack import (
    TIMEOUT,
    BehindProxy,
    ProductionStack,
    StackError,
    csrf_token,
    login_post,
    template_form_submit,
    wait_for,
)

DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/paved_smoke"
BROKER_URL = "redis://127.0.0.1:6379/5"
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
    ("scorecards overview", "/scorecards/", "On-call readiness"),
    ("scorecards overview's teams", "/scorecards/", '<a href="/scorecards/teams/default/payments/"'),
    ("scorecards team", "/scorecards/teams/default/payments/", 'title="component:default/payments-service">'),
    ("scorecards service tab", "/scorecards/entities/default/component/payments-service/", "On-call readiness"),
    # A demo service whose repository demo_setup published to the git host: its README is read and passes.
    (
        "scorecards service tab with a repository",
        "/scorecards/entities/default/component/fraud-scoring/",
        'data-check="readme" data-state="pass"',
    ),
    ("API docs page", "/api/docs/", "swagger-ui"),
    ("API schema", "/api/schema/", "openapi"),
]
DEMO_ENTITY = "component:default/payments-service"
REFRESH_SUCCEEDED = re.compile(r"Task catalog\.location_refresh\[[^\]]+\] succeeded")
USERNAME = "smoke"
# The scaffolder journey: the demo's python-service template, answered as a member of the fulfilment team would.
SCAFFOLDER_TEMPLATE = "default/python-service"
SCAFFOLDER_ANSWERS = {
    "description": "Created by the production smoke test.",
    "owner": "group:default/fulfilment",
    "system": "system:default/fulfilment",
    "escalationPolicy": "escalationpolicy:default/fulfilment",
    "repoUrl_host": "local",
    "repoUrl_owner": "fulfilment",
}
RUN_PATH = re.compile(r"^/create/runs/[0-9a-f-]{36}/$")
RUN_STATUS = re.compile(r'id="run-live"[^>]*data-status="([a-z_]+)"')


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


def max_age(response: requests.Response) -> int:
    match = re.search(r"max-age=(\d+)", response.headers.get("Cache-Control", ""))
    return int(match.group(1)) if match else 0


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


def check_pages(session: BehindProxy, base_url: str, report: Report, worker_log: Path) -> None:
    """The login page and its assets are checked by the caller; here the pages, the API and the worker."""
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
        headers=session.api_headers(),
        timeout=TIMEOUT,
    )
    report.check("refresh requested through the API", refresh.status_code == 200, str(refresh.status_code))
    ran = wait_for(lambda: refreshes() > before, seconds=60)
    report.check("worker ran the refresh task", ran, str(worker_log))


def check_login(session: BehindProxy, base_url: str, report: Report, username: str, password: str) -> bool:
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
    signed_in = login_post(session, base_url, login.text, username, password)
    return report.check(
        "sign in", signed_in.status_code == 302 and "sessionid" in session.cookies, str(signed_in.status_code)
    )


def git_refs(repository: Path) -> list[str]:
    """The refs of a repository on the embedded git host, read with git as the portal calls it (no user config)."""
    with tempfile.TemporaryDirectory(prefix="paved-smoke-git-") as home:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "GIT_CONFIG_NOSYSTEM": "1"}
        listed = subprocess.run(
            ["git", "-c", "core.hooksPath=/dev/null", "ls-remote", "--", str(repository)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=TIMEOUT,
        )
    if listed.returncode != 0:
        return []
    return [line.split("\t", 1)[1] for line in listed.stdout.splitlines() if "\t" in line]


def check_scaffolder(session: BehindProxy, base_url: str, report: Report, repos_root: Path) -> None:
    """The scaffolder journey: the menu, python-service's form page by page, review, create, the run page until the
    run ends, the repository on the embedded git host and the new component's catalog page."""
    name = f"smoke-{secrets.token_hex(4)}"
    menu = session.get(f"{base_url}/create/", timeout=TIMEOUT)
    report.check(
        "template menu /create/",
        menu.status_code == 200 and f"/create/templates/{SCAFFOLDER_TEMPLATE}/" in menu.text,
        f"{menu.status_code}, {'a' if SCAFFOLDER_TEMPLATE in menu.text else 'no'} link to {SCAFFOLDER_TEMPLATE}",
    )
    answers = {**SCAFFOLDER_ANSWERS, "name": name, "repoUrl_repo": name}
    try:
        review_path, pages = template_form_submit(session, base_url, SCAFFOLDER_TEMPLATE, answers)
    except (StackError, requests.RequestException) as error:
        report.check(f"{SCAFFOLDER_TEMPLATE} form filled in", False, str(error))
        return
    report.check(f"{SCAFFOLDER_TEMPLATE} form filled in", True, f"{pages} pages, {len(answers)} answers")
    review = session.get(f"{base_url}{review_path}", timeout=TIMEOUT)
    report.check("review page lists the answers", review.status_code == 200 and name in review.text, review_path)
    create_path = review_path.replace("/review/", "/create/")
    created = session.post(
        f"{base_url}{create_path}",
        data={"csrfmiddlewaretoken": csrf_token(review.text)},
        headers=session.form_headers(review_path),
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    run_path = urlsplit(created.headers.get("Location", "")).path
    if not report.check(
        "create starts a run", created.status_code == 302 and RUN_PATH.match(run_path) is not None, run_path
    ):
        return

    def run_ended() -> bool:
        # The run page's live part, as htmx polls it: 286 tells the browser to stop polling once the run ends.
        return session.get(f"{base_url}{run_path}", headers={"HX-Request": "true"}, timeout=TIMEOUT).status_code == 286

    ended = wait_for(run_ended, seconds=120)
    page = session.get(f"{base_url}{run_path}", timeout=TIMEOUT)
    status = RUN_STATUS.search(page.text)
    report.check(
        "run page shows the run completed",
        ended and page.status_code == 200 and status is not None and status.group(1) == "completed",
        f"{page.status_code}, status {status.group(1) if status else 'not shown'}",
    )
    owner = answers["repoUrl_owner"]
    repository = repos_root / owner / f"{name}.git"
    refs = git_refs(repository)
    report.check(
        "repository on the embedded git host",
        any(ref.startswith("refs/heads/") for ref in refs) and f"{owner}/{name}.git" in page.text,
        f"{repository}: {', '.join(refs) or 'no refs'}",
    )
    entity = session.get(f"{base_url}/catalog/default/component/{name}/", timeout=TIMEOUT)
    report.check(
        "new service's catalog page",
        entity.status_code == 200 and name in entity.text,
        f"/catalog/default/component/{name}/ {entity.status_code}",
    )


def smoke(database_url: str, broker_url: str) -> int:
    started = time.monotonic()
    report = Report()
    with ProductionStack(database_url=database_url, broker_url=broker_url, drop_database=False) as stack:
        try:
            stack.prepare()
            report.check("fresh database, empty queue, migrate", True, database_url)
            collected = (stack.logs / "collectstatic.log").read_text().strip().splitlines()
            report.check("collectstatic", True, collected[-1] if collected else "")
            # The demo organisation and a user whose password the checks know: the operator's data, not a README step.
            stack.manage("demo_setup")
            password = stack.superuser_create(USERNAME)
            report.check("demo organisation and user loaded", True)
            stack.start()
            report.check("make serve, make worker and make beat started", True, f"{stack.base_url}/")
        except (StackError, OSError) as error:
            report.check("production processes started", False, str(error))
            stack.fail()
            return 1
        session = stack.browser()
        ready = session.get(f"{stack.base_url}/readyz", timeout=TIMEOUT)
        report.check("/readyz answers 200", ready.status_code == 200, str(ready.status_code))
        try:
            if check_login(session, stack.base_url, report, USERNAME, password):
                check_pages(session, stack.base_url, report, stack.logs / "worker.log")
                check_scaffolder(session, stack.base_url, report, stack.repos_root)
        except requests.RequestException as error:
            report.check("Paved answers over HTTP", False, str(error))
        exited = stack.exited()
        report.check("no process exited early", not exited, ", ".join(exited))
        stack.stop()
        tracebacks = stack.tracebacks()
        for log in tracebacks:
            text = log.read_text(errors="replace")
            at = text.index("Traceback")
            print(f"--- {log}\n{text[max(0, at - 300) : at + 3000]}", file=sys.stderr)
        report.check(
            "no traceback in the logs of migrate, collectstatic, web, worker and beat",
            not tracebacks,
            ", ".join(log.name for log in tracebacks),
        )
        if report.failed:
            stack.fail()
    seconds = time.monotonic() - started
    print(
        f"{'FAIL' if report.failed else 'PASS'}  production smoke test in {seconds:.0f} s: "
        f"{report.passed} checks passed, {report.failed} failed",
        flush=True,
    )
    return 1 if report.failed else 0


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    return smoke(
        os.environ.get("PAVED_SMOKE_DATABASE_URL") or DATABASE_URL,
        os.environ.get("PAVED_SMOKE_BROKER_URL") or BROKER_URL,
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv))
