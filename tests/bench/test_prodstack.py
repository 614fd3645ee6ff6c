"""scripts/prodstack.py, the production processes the smoke test and the HTTP benchmarks start: its checks of what
it is given, its environment, stopping processes, its logs and the browser-like form walk (against recorded pages,
never a running Paved)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
import requests
import responses

from scripts.prodstack import (
    BehindProxy,
    ProductionStack,
    StackError,
    database_name,
    form_fields,
    process_group_rss_kib,
    production_environment,
    template_form_submit,
    wait_for,
)

BASE = "http://127.0.0.1:8123"
FORM = "/create/templates/default/svc/"
DB = "postgresql://postgres@127.0.0.1:5432/paved_test_stack"


def page(fields: str, number: int = 1) -> str:
    return (
        '<html><body><form id="search"><input name="q" value="outside"></form>'
        f'<form id="template-form" method="post" action="{FORM}">'
        '<input type="hidden" name="csrfmiddlewaretoken" value="tok">'
        f'<input type="hidden" name="page" value="{number}">{fields}'
        '<button type="submit" name="action" value="next">Next</button></form></body></html>'
    )


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def stack():
    made = ProductionStack(database_url=DB, broker_url="redis://127.0.0.1:6379/15", drop_database=False)
    yield made
    made.stop()
    made.__exit__(None, None, None)


def test_database_name_is_read_from_a_postgresql_url():
    assert database_name("postgresql://postgres@127.0.0.1:5432/paved_bench_12") == "paved_bench_12"
    assert database_name("postgres://u@h/paved") == "paved"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:5432/",
        'postgresql://postgres@127.0.0.1:5432/x"; DROP DATABASE postgres; --',
        "postgresql://postgres@127.0.0.1:5432/Paved",
        "postgresql://postgres@127.0.0.1:5432/a/b",
        "postgresql://postgres@127.0.0.1:5432/" + "a" * 64,
        "postgresql://postgres@127.0.0.1:5432/postgres",
        "postgresql://postgres@127.0.0.1:5432/template1",
        "sqlite:///paved.db",
        "mysql://root@127.0.0.1/paved",
        "",
    ],
)
def test_a_database_url_that_names_no_plain_postgresql_database_is_refused(url):
    with pytest.raises(StackError, match="database"):
        database_name(url)


def test_a_stack_on_a_refused_database_url_makes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))

    with pytest.raises(StackError, match="lower-case letters"):
        ProductionStack(database_url="postgresql://h/Paved-Prod", broker_url="redis://127.0.0.1:6379/15")

    assert list(tmp_path.iterdir()) == []


def test_production_environment_sets_what_the_readme_exports(tmp_path, monkeypatch):
    monkeypatch.setenv("PAVED_TASKS_EAGER", "true")

    env = production_environment(
        port=8123, database_url=DB, broker_url="redis://r/1", var_dir=tmp_path / "var", static_root=tmp_path / "s"
    )

    readme = "DEBUG SECRET_KEY ALLOWED_HOSTS CSRF_TRUSTED_ORIGINS DATABASE_URL CELERY_BROKER_URL PAVED_BEHIND_PROXY"
    assert all(env[name] for name in readme.split())
    assert env["DEBUG"] == "false"
    assert env["CSRF_TRUSTED_ORIGINS"] == "https://127.0.0.1:8123"
    assert env["PORT"] == "8123"
    assert env["PAVED_VAR_DIR"] == str(tmp_path / "var")
    assert len(env["SECRET_KEY"]) == 64
    assert "PAVED_TASKS_EAGER" not in env
    assert "PAVED_CELERY_QUEUE" not in env
    with_queue = production_environment(
        port=1, database_url=DB, broker_url="redis://r/1", var_dir=tmp_path, static_root=tmp_path, queue="q-1"
    )
    assert with_queue["PAVED_CELERY_QUEUE"] == "q-1"
    assert with_queue["SECRET_KEY"] != env["SECRET_KEY"]


def test_a_failing_command_names_itself_its_exit_code_and_its_log(stack):
    with pytest.raises(StackError) as raised:
        stack.run("boom", ["sh", "-c", "echo 'it broke here'; exit 3"])

    message = str(raised.value)
    assert "exited with 3" in message
    assert str(stack.logs / "boom.log") in message
    assert "it broke here" in message


def test_a_command_runs_with_the_stack_environment(stack):
    printed = stack.run("env", ["sh", "-c", 'echo "$DEBUG $PAVED_VAR_DIR"'])

    assert printed.strip() == f"false {stack.var_dir}"


def test_stop_ends_every_started_process_group_even_one_that_ignores_term(stack):
    polite = subprocess.Popen(["sleep", "60"], start_new_session=True)
    stubborn = subprocess.Popen(
        ["sh", "-c", "trap '' TERM; sleep 60 & wait"], start_new_session=True, stdout=subprocess.DEVNULL
    )
    stack.started = {"serve": polite, "worker": stubborn}
    stack.stop_seconds = 1
    time.sleep(0.2)

    stack.stop()

    assert polite.poll() is not None
    assert stubborn.poll() == -9
    # The orphaned `sleep` of the stubborn group was killed with it; its new parent reaps it.
    assert wait_for(lambda: not group_alive(stubborn.pid), seconds=5, interval=0.05)
    assert stack.started == {}


def test_exited_names_the_processes_that_ended_on_their_own(stack):
    stack.started = {"serve": subprocess.Popen(["sleep", "60"], start_new_session=True)}
    stack.started["beat"] = subprocess.Popen(["true"], start_new_session=True)
    stack.started["beat"].wait()

    assert stack.exited() == ["beat"]


def test_tracebacks_names_the_logs_that_have_one(stack):
    (stack.logs / "worker.log").write_text("ok\nTraceback (most recent call last):\n  boom\n")
    (stack.logs / "serve.log").write_text("all fine\n")

    assert stack.tracebacks() == [stack.logs / "worker.log"]


def test_leaving_a_failed_stack_keeps_and_prints_its_logs(capsys):
    made = ProductionStack(database_url=DB, broker_url="redis://127.0.0.1:6379/15", drop_database=False)
    (made.logs / "serve.log").write_text("line 1\nthe last words\n")

    made.__exit__(RuntimeError, RuntimeError("x"), None)

    printed = capsys.readouterr().err
    assert f"Logs kept in {made.logs}" in printed
    assert "the last words" in printed
    assert (made.logs / "serve.log").exists()


def test_leaving_a_stack_that_went_well_removes_its_files():
    made = ProductionStack(database_url=DB, broker_url="redis://127.0.0.1:6379/15", drop_database=False)

    made.__exit__(None, None, None)

    assert not made.tmp.exists()


def test_peak_rss_of_a_process_group_is_read_from_proc():
    sizes = process_group_rss_kib(os.getpgrp())

    assert sizes
    assert all(size > 0 for size in sizes)
    assert process_group_rss_kib(2**22 + 7) == []


def test_wait_for_counts_connection_errors_as_not_yet():
    calls = []

    def ready():
        calls.append(1)
        if len(calls) < 3:
            raise requests.ConnectionError("refused")
        return True

    assert wait_for(ready, seconds=5, interval=0.01)
    assert len(calls) == 3


def test_wait_for_gives_up_after_its_time():
    started = time.monotonic()

    assert not wait_for(lambda: False, seconds=0.1, interval=0.02)
    assert time.monotonic() - started < 2


@responses.activate
def test_behind_proxy_sends_https_forwarding_and_its_secure_cookies_over_http():
    responses.get(f"{BASE}/", body="ok")
    session = BehindProxy("https://127.0.0.1:8123")
    session.cookies.set("sessionid", "abc", secure=True)

    session.get(f"{BASE}/")

    sent = responses.calls[0].request
    assert sent.headers["X-Forwarded-Proto"] == "https"
    assert sent.headers["Cookie"] == "sessionid=abc"
    assert session.form_headers("/login/") == {
        "Origin": "https://127.0.0.1:8123",
        "Referer": "https://127.0.0.1:8123/login/",
    }


def test_form_fields_are_what_a_browser_posts_untouched():
    html = page(
        '<input name="name" required><input name="memory" value="512">'
        '<select name="lifecycle"><option value="">---</option><option value="production" selected>P</option></select>'
        '<select name="tier"><option value="bronze">B</option><option value="gold">G</option></select>'
        '<input type="radio" name="size" value="s"><input type="radio" name="size" value="m" checked>'
        '<input type="checkbox" name="tags" value="a"><textarea name="notes">some\ntext</textarea>'
        '<input type="submit" name="go" value="x">'
    )

    fields = form_fields(html, "template-form")

    assert fields.values == {
        "csrfmiddlewaretoken": "tok",
        "page": "1",
        "name": "",
        "memory": "512",
        "lifecycle": "production",
        "tier": "bronze",
        "size": "m",
        "notes": "some\ntext",
    }
    assert fields.required == {"name"}
    assert fields.action == FORM


@pytest.mark.parametrize("html", ["", "<html><form id='other'><input name='a'></form>", "<<<>>>", "\x00" * 10])
def test_a_page_without_the_form_is_refused(html):
    with pytest.raises(StackError, match="no form with id 'template-form'"):
        form_fields(html, "template-form")


def two_pages() -> None:
    responses.get(f"{BASE}{FORM}", body=page('<input name="name" required><input name="memory" value="512">'))
    responses.get(
        f"{BASE}{FORM}?page=2",
        body=page(
            '<select name="repoUrl_host"><option value="local">local</option></select>'
            '<input name="repoUrl_owner"><input name="repoUrl_repo">',
            number=2,
        ),
    )


@responses.activate
def test_a_template_form_is_filled_in_page_by_page_with_the_answers_and_the_defaults():
    two_pages()
    responses.post(
        f"{BASE}{FORM}",
        status=302,
        headers={"Location": f"{FORM}?page=2"},
        match=[
            responses.matchers.urlencoded_params_matcher(
                {"csrfmiddlewaretoken": "tok", "page": "1", "name": "svc-a", "memory": "512", "action": "next"}
            )
        ],
    )
    responses.post(
        f"{BASE}{FORM}",
        status=302,
        headers={"Location": f"https://127.0.0.1:8123{FORM}review/"},
        match=[
            responses.matchers.urlencoded_params_matcher(
                {
                    "csrfmiddlewaretoken": "tok",
                    "page": "2",
                    "repoUrl_host": "local",
                    "repoUrl_owner": "team",
                    "repoUrl_repo": "svc-a",
                    "action": "next",
                }
            )
        ],
    )
    session = BehindProxy("https://127.0.0.1:8123")

    review, pages = template_form_submit(
        session, BASE, "default/svc", {"name": "svc-a", "repoUrl_owner": "team", "repoUrl_repo": "svc-a"}
    )

    assert (review, pages) == (f"{FORM}review/", 2)
    assert responses.calls[1].request.headers["Origin"] == "https://127.0.0.1:8123"


@responses.activate
def test_a_required_field_without_an_answer_is_named_before_anything_is_posted():
    two_pages()

    with pytest.raises(StackError, match=r"page 1 of .*: no answer for the required name"):
        template_form_submit(BehindProxy(), BASE, "default/svc", {"memory": "1"})

    assert [call.request.method for call in responses.calls] == ["GET"]


@responses.activate
def test_a_refused_page_reports_the_forms_messages():
    two_pages()
    responses.post(
        f"{BASE}{FORM}",
        status=400,
        body='<div class="invalid-feedback d-block">Name: must match\n  ^[a-z]+$</div>',
    )

    with pytest.raises(StackError, match=r"page 1 of .* answered 400: Name: must match \^\[a-z\]\+\$"):
        template_form_submit(BehindProxy(), BASE, "default/svc", {"name": "BAD NAME"})


@responses.activate
def test_an_answer_for_a_field_no_page_has_is_refused():
    two_pages()
    responses.post(f"{BASE}{FORM}", status=302, headers={"Location": f"{FORM}?page=2"})
    responses.post(f"{BASE}{FORM}", status=302, headers={"Location": f"{FORM}review/"})

    with pytest.raises(StackError, match="has no field repoUrl_0"):
        template_form_submit(BehindProxy(), BASE, "default/svc", {"name": "svc", "repoUrl_0": "local"})


@responses.activate
def test_a_form_that_never_reaches_its_review_is_given_up():
    responses.get(f"{BASE}{FORM}", body=page('<input name="name">'))
    responses.post(f"{BASE}{FORM}", status=302, headers={"Location": FORM})

    with pytest.raises(StackError, match="did not reach its review within 20 pages"):
        template_form_submit(BehindProxy(), BASE, "default/svc", {})


@responses.activate
def test_a_missing_template_page_is_reported_with_its_status():
    responses.get(f"{BASE}{FORM}", status=404, body="Not found")

    with pytest.raises(StackError, match=f"{FORM} answered 404"):
        template_form_submit(BehindProxy(), BASE, "default/svc", {})


@pytest.mark.parametrize("template", ["svc", "default/", "/svc", "default/a/b", ""])
def test_a_template_not_given_as_namespace_and_name_is_refused(template):
    with pytest.raises(StackError, match="namespace/name"):
        template_form_submit(BehindProxy(), BASE, template, {})


def test_a_stack_listens_on_a_free_loopback_port_of_its_own():
    # The port comes from the kernel, never a fixed one that another stack may hold.
    made = ProductionStack(database_url=DB, broker_url="redis://127.0.0.1:6379/15", drop_database=False)
    try:
        assert 1024 <= made.port <= 65535
        assert made.base_url == f"http://127.0.0.1:{made.port}"
        assert made.env["ALLOWED_HOSTS"] == "127.0.0.1"
    finally:
        made.__exit__(None, None, None)
