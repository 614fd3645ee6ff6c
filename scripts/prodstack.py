"""Paved's production processes on this machine, started the way README.md's "Running in production" says, for the
production smoke test (scripts/smoke_production.py) and the HTTP benchmarks (tests/bench/).

    with ProductionStack(database_url=..., broker_url=...) as stack:
        stack.prepare()                      # fresh database, empty queue, migrate, collectstatic
        stack.manage("demo_setup")           # anything else the caller needs in the database
        stack.start()                        # make serve, make worker, make beat; waits for /readyz
        session = stack.browser()            # a requests.Session behind the README's TLS-terminating proxy

On leaving the block every process is stopped (one TERM to each `make`, which passes it on; the group is killed
after a grace period), the database is dropped when `drop_database` is set, and, when the block raised, the tail of
every log is printed. `tracebacks()` names the logs that contain a Python traceback.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from typing import Final, TextIO
from urllib.parse import urlsplit

import psycopg
import requests
from psycopg import sql

ROOT: Final = Path(__file__).resolve().parents[1]
PYTHON: Final = ROOT / ".venv" / "bin" / "python"
CELERY: Final = ROOT / ".venv" / "bin" / "celery"
PROCESSES: Final = ("serve", "worker", "beat")
TIMEOUT: Final = 30
READY_SECONDS: Final = 60
STOP_SECONDS: Final = 10
LOG_TAIL: Final = 40
# A database name we create and drop: letters, digits and underscores, as PostgreSQL takes it unquoted.
DATABASE_NAME: Final = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
SERVER_DATABASES: Final = frozenset({"postgres", "template0", "template1"})


class StackError(Exception):
    """A step of starting the production processes failed; the message says which, and where its log is."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database_name(url: str) -> str:
    """The database a postgresql:// URL names; refuses anything else, so that only a database we name is dropped."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise StackError(f"the database URL must be postgresql://…, found {parts.scheme or 'no'} scheme in {url!r}")
    name = parts.path.lstrip("/")
    if not DATABASE_NAME.match(name):
        raise StackError(
            f"the database name in {url!r} must be lower-case letters, digits and underscores, found {name!r}"
        )
    if name in SERVER_DATABASES:
        raise StackError(f"{name} is one of the server's own databases; name a database the stack may drop")
    return name


def _server_url(url: str) -> str:
    return urlsplit(url)._replace(path="/postgres").geturl()


def database_reset(url: str) -> None:
    """Drop and create the database `url` names, connected to the server's `postgres` database."""
    name = database_name(url)
    with psycopg.connect(_server_url(url), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_drop(url: str) -> None:
    name = database_name(url)
    with psycopg.connect(_server_url(url), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def production_environment(
    *, port: int, database_url: str, broker_url: str, var_dir: Path, static_root: Path, queue: str | None = None
) -> dict[str, str]:
    """The variables README.md's production section exports, plus where this stack keeps its files."""
    env = {key: value for key, value in os.environ.items() if key != "PAVED_TASKS_EAGER"}
    env.update(
        {
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_hex(32),
            "ALLOWED_HOSTS": "127.0.0.1",
            "CSRF_TRUSTED_ORIGINS": f"https://127.0.0.1:{port}",
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker_url,
            "PAVED_BEHIND_PROXY": "true",
            "PAVED_HSTS_SECONDS": "31536000",
            "PAVED_VAR_DIR": str(var_dir),
            "PAVED_STATIC_ROOT": str(static_root),
            "HOST": "127.0.0.1",
            "PORT": str(port),
        }
    )
    if queue is not None:
        env["PAVED_CELERY_QUEUE"] = queue
    if broker_url.startswith("redis://"):
        env["PAVED_CACHE_URL"] = broker_url  # the shared cache the README suggests, on the broker's Redis
    return env


class BehindProxy(requests.Session):
    """A browser on the far side of the TLS-terminating proxy that `PAVED_BEHIND_PROXY=true` stands for: every request
    says it came in over https, and Paved's Secure cookies travel over the proxy's plain-http hop to the web server."""

    def __init__(self, origin: str = "") -> None:
        super().__init__()
        self.origin = origin
        self.headers["X-Forwarded-Proto"] = "https"

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        prepared = super().prepare_request(request)
        if self.cookies:
            # One host only, so every cookie is this site's; requests itself keeps Secure cookies to https URLs.
            prepared.headers["Cookie"] = "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.cookies)
        return prepared

    def form_headers(self, referer_path: str) -> dict[str, str]:
        """What a browser sends with a form post: Origin and Referer of this site (Django's CSRF checks both)."""
        return {"Origin": self.origin, "Referer": f"{self.origin}{referer_path}"}

    def api_headers(self) -> dict[str, str]:
        """What the portal's own scripts send with an API write on a session: Origin and the CSRF token."""
        return {"Origin": self.origin, "X-CSRFToken": self.cookies.get("csrftoken", "") or ""}


def wait_for(what: Callable[[], bool], *, seconds: float, interval: float = 0.5) -> bool:
    """Ask `what` until it answers True (connection errors count as not yet) or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if what():
                return True
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    return match.group(1) if match else ""


def process_group_rss_kib(group: int, *, field_name: str = "VmHWM") -> list[int]:
    """`field_name` (VmHWM: peak resident set; VmRSS: now) in KiB of every process in process group `group`."""
    sizes: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # Fields after the command name, which is in parentheses and may hold spaces: state ppid pgrp …
            if int(stat.rsplit(")", 1)[1].split()[2]) != group:
                continue
            status = (entry / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue
        match = re.search(rf"^{field_name}:\s+(\d+) kB", status, re.MULTILINE)
        if match:
            sizes.append(int(match.group(1)))
    return sizes


@dataclass
class ProductionStack:
    """Paved's web, worker and beat processes with production settings, on a free port and a fresh var directory."""

    database_url: str
    broker_url: str
    drop_database: bool = True
    queue: str | None = None
    processes: Sequence[str] = PROCESSES
    stop_seconds: float = STOP_SECONDS
    out: TextIO = sys.stdout
    port: int = field(default_factory=free_port)
    tmp: Path = field(init=False)
    env: dict[str, str] = field(init=False)
    started: dict[str, subprocess.Popen[bytes]] = field(init=False, default_factory=dict)
    _failed: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        database_name(self.database_url)
        self.tmp = Path(tempfile.mkdtemp(prefix="paved-stack-"))
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = production_environment(
            port=self.port,
            database_url=self.database_url,
            broker_url=self.broker_url,
            var_dir=self.var_dir,
            static_root=self.tmp / "static",
            queue=self.queue,
        )

    @property
    def logs(self) -> Path:
        return self.tmp / "logs"

    @property
    def var_dir(self) -> Path:
        return self.tmp / "var"

    @property
    def repos_root(self) -> Path:
        return self.var_dir / "repos"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def __enter__(self) -> ProductionStack:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
        if self.drop_database:
            try:
                database_drop(self.database_url)
            except psycopg.Error as exc:
                print(f"could not drop {database_name(self.database_url)}: {exc}", file=sys.stderr)
        if kind is not None or self._failed:
            self.print_logs()
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def fail(self) -> None:
        """Keep the logs and print their tails when the stack is left, as when the block raises."""
        self._failed = True

    def run(self, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> str:
        """Run a command to its end with the stack's environment; its output goes to logs/<name>.log and is returned."""
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            done = subprocess.run(
                list(argv), cwd=ROOT, env={**self.env, **(env or {})}, stdout=out, stderr=subprocess.STDOUT, check=False
            )
        text = log.read_text(errors="replace")
        if done.returncode != 0:
            raise StackError(f"{' '.join(argv)} exited with {done.returncode}; its output is in {log}:\n{text[-4000:]}")
        return text

    def manage(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        return self.run(f"manage-{args[0]}", [str(PYTHON), "manage.py", *args], env=env)

    def prepare(self) -> None:
        """A fresh database and an empty queue, then the README's migrate and collectstatic."""
        database_reset(self.database_url)
        self.run("purge", [str(CELERY), "-A", "portal", "purge", "-f"])
        self.run("migrate", [str(PYTHON), "manage.py", "migrate", "--noinput"])
        collected = self.run("collectstatic", [str(PYTHON), "manage.py", "collectstatic", "--noinput"])
        doubles = [line for line in collected.splitlines() if "Found another file" in line]
        if doubles:
            raise StackError("collectstatic found two files for one destination:\n" + "\n".join(doubles))

    def start(self) -> None:
        """`make serve`, `make worker` and `make beat`, each in a process group of its own; waits for /readyz."""
        for name in self.processes:
            with (self.logs / f"{name}.log").open("wb") as out:
                self.started[name] = subprocess.Popen(
                    ["make", name], cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
        session = requests.Session()
        ready = wait_for(
            lambda: (
                session.get(
                    f"{self.base_url}/readyz", headers={"X-Forwarded-Proto": "https"}, timeout=TIMEOUT
                ).status_code
                == 200
            ),
            seconds=READY_SECONDS,
        )
        if not ready:
            raise StackError(f"{self.base_url}/readyz did not answer 200 within {READY_SECONDS} s; see {self.logs}")

    def exited(self) -> list[str]:
        """The processes that have ended on their own."""
        return [name for name, process in self.started.items() if process.poll() is not None]

    def stop(self) -> None:
        """As a supervisor stops a service: one TERM to each `make`, which passes it on to the web server or Celery (a
        TERM to the whole group would reach them twice, and Celery beat does not take a second one quietly)."""
        for process in self.started.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_seconds
        # poll() reaps a `make` that has ended, so that its group is gone rather than held by a zombie.
        while time.monotonic() < deadline and any(
            p.poll() is None or self._group_alive(p.pid) for p in self.started.values()
        ):
            time.sleep(0.25)
        for process in self.started.values():
            if self._group_alive(process.pid):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self.started.clear()

    @staticmethod
    def _group_alive(group: int) -> bool:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def peak_rss_mib(self, name: str) -> float:
        """The peak resident memory of a process's group (e.g. the web server's main process and workers), summed, in
        MiB."""
        process = self.started.get(name)
        return sum(process_group_rss_kib(process.pid)) / 1024 if process is not None else 0.0

    def tracebacks(self) -> list[Path]:
        return sorted(log for log in self.logs.glob("*.log") if "Traceback" in log.read_text(errors="replace"))

    def print_logs(self) -> None:
        print(f"Logs kept in {self.logs}", file=sys.stderr)
        for log in sorted(self.logs.glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-LOG_TAIL:]
            print(f"\n--- {log} (last {LOG_TAIL} lines)", file=sys.stderr)
            print("\n".join(lines), file=sys.stderr)

    def browser(self) -> BehindProxy:
        return BehindProxy(self.origin)

    def sign_in(self, username: str, password: str) -> BehindProxy:
        """A browser session signed in through the login form; StackError when the form refuses."""
        session = self.browser()
        login = session.get(f"{self.base_url}/login/", timeout=TIMEOUT)
        answer = login_post(session, self.base_url, login.text, username, password)
        if answer.status_code != 302 or "sessionid" not in session.cookies:
            raise StackError(f"signing in as {username} answered {answer.status_code}, no session")
        return session

    def superuser_create(self, username: str) -> str:
        """An administrator made with `manage.py createsuperuser`, as an operator would; returns its random password."""
        password = secrets.token_urlsafe(18)
        self.manage(
            "createsuperuser",
            "--noinput",
            "--username",
            username,
            "--email",
            f"{username}@example.com",
            env={"DJANGO_SUPERUSER_PASSWORD": password},
        )
        return password

    def api_token(self, username: str) -> str:
        """A personal API token for `username`, made with `manage.py apitoken` as an operator would."""
        token = self.manage("apitoken", username, "--name", "benchmark").strip().splitlines()
        if not token:
            raise StackError(f"manage.py apitoken {username} printed no token")
        return token[-1]


def login_post(session: BehindProxy, base_url: str, login_html: str, username: str, password: str) -> requests.Response:
    """Post the login form of the page `login_html` as a browser would; the answer is not followed."""
    return session.post(
        f"{base_url}/login/",
        data={"csrfmiddlewaretoken": csrf_token(login_html), "username": username, "password": password, "next": ""},
        headers=session.form_headers("/login/"),
        allow_redirects=False,
        timeout=TIMEOUT,
    )


class FormFields(HTMLParser):
    """The fields of one `<form id=…>` as a browser would post them untouched: text and hidden inputs with their
    values, checked radios and boxes, each select's selected (or first) option, textareas' text."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.action = ""
        self.values: dict[str, str] = {}
        self.required: set[str] = set()
        self._select: str | None = None
        self._select_first: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.inside = values.get("id") == self.form_id
            if self.inside:
                self.action = values.get("action", "")
            return
        if not self.inside:
            return
        name = values.get("name", "")
        if tag == "input" and name:
            kind = values.get("type", "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in values:
                    self.values[name] = values.get("value", "on")
            else:
                self.values[name] = values.get("value", "")
            if "required" in values:
                self.required.add(name)
        elif tag == "select" and name:
            self._select, self._select_first = name, None
            if "required" in values:
                self.required.add(name)
        elif tag == "option" and self._select is not None:
            value = values.get("value", "")
            if self._select_first is None:
                self._select_first = value
                self.values[self._select] = value
            if "selected" in values:
                self.values[self._select] = value
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.values[self._textarea] += data


def form_fields(html: str, form_id: str) -> FormFields:
    """The fields of the form `form_id` in `html`; StackError when the page has no such form."""
    parser = FormFields(form_id)
    parser.feed(html)
    parser.close()
    if not parser.action and not parser.values:
        raise StackError(f"the page has no form with id {form_id!r}")
    return parser


MAX_FORM_PAGES: Final = 20
_FIELD_ERROR: Final = re.compile(r'class="invalid-feedback[^"]*"[^>]*>(.*?)</', re.DOTALL)


def template_form_submit(
    session: BehindProxy, base_url: str, template: str, answers: Mapping[str, str]
) -> tuple[str, int]:
    """Fill in a template's form under /create/ page by page as a browser does, and return the review page's path
    and the number of pages.

    `template` is `namespace/name`. Each page's fields keep what the page shows (defaults, the selected option) unless
    `answers` names them. StackError when a page does not answer 200, a required field is left empty, the form
    refuses a page (with its messages), or an answer names a field that no page has.
    """
    namespace, _, name = template.partition("/")
    if not namespace or not name or "/" in name:
        raise StackError(f"a template is given as namespace/name, found {template!r}")
    path = f"/create/templates/{namespace}/{name}/"
    url, seen = path, set[str]()
    for number in range(1, MAX_FORM_PAGES + 1):
        page = session.get(f"{base_url}{url}", timeout=TIMEOUT)
        if page.status_code != 200:
            raise StackError(f"{url} answered {page.status_code}")
        fields = form_fields(page.text, "template-form")
        data = {key: answers.get(key, value) for key, value in fields.values.items()}
        seen.update(fields.values)
        empty = sorted(key for key in fields.required if not data.get(key))
        if empty:
            raise StackError(f"page {number} of {path}: no answer for the required {', '.join(empty)}")
        data["action"] = "next"
        sent = session.post(
            f"{base_url}{path}", data=data, headers=session.form_headers(url), allow_redirects=False, timeout=TIMEOUT
        )
        if sent.status_code != 302:
            problems = "; ".join(" ".join(m.split()) for m in _FIELD_ERROR.findall(sent.text)) or sent.text[:300]
            raise StackError(f"page {number} of {path} answered {sent.status_code}: {problems}")
        url = urlsplit(sent.headers["Location"])._replace(scheme="", netloc="").geturl()
        if urlsplit(url).path.endswith("/review/"):
            unknown = sorted(set(answers) - seen)
            if unknown:
                raise StackError(f"{path} has no field {', '.join(unknown)}")
            return url, number
    raise StackError(f"{path} did not reach its review within {MAX_FORM_PAGES} pages")
