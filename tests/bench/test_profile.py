"""scripts/wsgi_profile.py (the gunicorn hooks that measure a request) and scripts/profile_report.py (their report),
around a small WSGI application in this process."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from django.db import connection

from scripts import profile_report, wsgi_profile


@pytest.fixture
def profile_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PAVED_PROFILE_DIR", str(tmp_path))
    monkeypatch.delenv("PAVED_PROFILE_CPROFILE", raising=False)
    monkeypatch.setattr(wsgi_profile, "_timers", defaultdict(lambda: defaultdict(list)))
    monkeypatch.setattr(wsgi_profile, "_profiles", {})
    monkeypatch.setattr(wsgi_profile, "_seen_sql", set())
    monkeypatch.setattr(wsgi_profile, "_missing", [])
    return tmp_path


def _app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"one", b"two"]


def _call(application, shape=None):
    environ = {"PATH_INFO": "/"}
    if shape is not None:
        environ[wsgi_profile.SHAPE_HEADER] = shape
    statuses = []
    body = b"".join(application(environ, lambda status, headers: statuses.append(status)))
    return statuses, body


def test_requests_are_timed_per_shape_and_answered_unchanged(profile_dir):
    application = wsgi_profile.profiled(_app)

    assert _call(application, "by-name") == (["200 OK"], b"onetwo")
    _call(application, "by-name")
    _call(application)
    wsgi_profile.dump()

    [timers_file] = profile_dir.glob("timers-*.json")
    shapes = json.loads(timers_file.read_text())["shapes"]
    assert sorted(shapes) == ["by-name", "other"]
    assert len(shapes["by-name"]["wsgi"]) == 2
    assert all(seconds >= 0 for seconds in shapes["by-name"]["wsgi_cpu"])


@pytest.mark.parametrize("shape", ["../../etc/passwd", "x" * 500, "a b/c\\d\x00e", ""])
def test_a_hostile_shape_header_is_cut_and_never_names_a_path(profile_dir, monkeypatch, shape):
    monkeypatch.setenv("PAVED_PROFILE_CPROFILE", "1")
    application = wsgi_profile.profiled(_app)

    _call(application, shape)
    wsgi_profile.dump()

    written = [path for path in profile_dir.rglob("*") if path.is_file()]
    assert all(path.parent == profile_dir for path in written)
    assert all(len(path.name) < 120 for path in written)
    recorded = json.loads(next(profile_dir.glob("timers-*.json")).read_text())["shapes"]
    assert all(len(name) <= wsgi_profile.MAX_SHAPE_LENGTH for name in recorded)
    assert len(list(profile_dir.glob("cprofile-*.prof"))) == 1


@pytest.mark.django_db
def test_statements_are_counted_and_recorded_once_per_shape(profile_dir):
    def querying(environ, start_response):
        with connection.cursor() as cursor:
            cursor.execute("SELECT %s", [7])
            cursor.execute("SELECT %s", [7])
        return _app(environ, start_response)

    application = wsgi_profile.profiled(querying)
    _call(application, "query")
    wsgi_profile.dump()

    shapes = json.loads(next(profile_dir.glob("timers-*.json")).read_text())["shapes"]
    assert shapes["query"]["db_queries"] == [2.0]
    lines = [json.loads(line) for path in profile_dir.glob("sql-*.jsonl") for line in path.read_text().splitlines()]
    assert [line["shape"] for line in lines] == ["query"]
    assert lines[0]["sql"].startswith("SELECT")


def test_a_stage_counts_its_outermost_call_once_and_only_inside_a_request(profile_dir):
    calls = []

    def recursive(depth):
        calls.append(depth)
        return recursive_timed(depth - 1) if depth else 0

    recursive_timed = wsgi_profile._timed("stage", recursive)
    assert recursive_timed(3) == 0  # outside a request: passed through, nothing recorded

    def app(environ, start_response):
        recursive_timed(2)
        return _app(environ, start_response)

    _call(wsgi_profile.profiled(app), "nested")
    assert len(wsgi_profile._timers["nested"]["stage"]) == 1
    assert "stage" not in wsgi_profile._timers.get("other", {})


def test_a_stage_whose_code_moved_is_named_not_fatal(profile_dir):
    wsgi_profile._patch("gone", "catalog.no_such_module:function")
    wsgi_profile._patch("gone too", "portal.services:NoSuchClass.method")

    assert wsgi_profile._missing == [
        "gone: catalog.no_such_module:function",
        "gone too: portal.services:NoSuchClass.method",
    ]


def test_without_a_folder_the_hooks_say_what_is_missing(monkeypatch):
    monkeypatch.delenv("PAVED_PROFILE_DIR", raising=False)

    with pytest.raises(RuntimeError, match="PAVED_PROFILE_DIR"):
        wsgi_profile.post_worker_init(object())


def test_the_report_gives_each_stage_per_request(tmp_path):
    timers = {
        "missing": ["gone: x:y"],
        "shapes": {
            "by-name": {
                "requests": [1.0, 1.0],
                "wsgi": [0.010, 0.020],
                "drf_view": [0.008, 0.016],
                "token_auth": [0.004],
                "db_queries": [3.0, 3.0],
            }
        },
    }
    (tmp_path / "timers-1.json").write_text(json.dumps(timers))

    text = profile_report.timers_markdown(tmp_path)

    assert "#### by-name (2 requests, 15.00 ms mean inside the web process)" in text
    assert "| wsgi | 15.00 | 15.00 | 100% |" in text
    assert "| token_auth | 2.00 | 4.00 | 13% |" in text
    assert "| queries per request | 3.00 | | |" in text
    assert "| outside the DRF view and renderer (middleware, routing, WSGI) | 3.00 | | 20% |" in text
    assert "Stages not measured (their code moved): gone: x:y" in text


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("timers-1.json", "not json", "not a timers file"),
        ("timers-1.json", "[1, 2]", "not a timers file"),
        ("timers-1.json", '{"shapes": 5}', "not a timers file"),
        ("timers-1.json", '{"shapes": {"a": {"wsgi": 1}}}', "not a timers file"),
        ("timers-1.json", '{"shapes": {"a": {"wsgi": ["x"]}}}', "holds something other than seconds"),
    ],
)
def test_a_damaged_timers_file_is_named(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)

    with pytest.raises(profile_report.ProfileError, match=message) as refused:
        profile_report.timers_markdown(tmp_path)
    assert name in str(refused.value)


def test_a_damaged_statement_record_is_named_with_its_line(tmp_path):
    (tmp_path / "sql-1.jsonl").write_text('{"shape": "a", "sql": "SELECT 1"}\n{"shape": "a"}\n')

    with pytest.raises(profile_report.ProfileError, match=r"sql-1.jsonl:2: not a statement record"):
        profile_report._statements(tmp_path)


def test_the_report_command_refuses_an_empty_folder_and_a_missing_one(tmp_path, capsys):
    assert profile_report.main([str(tmp_path)]) == 1
    assert "holds no timers-*.json" in capsys.readouterr().err

    with pytest.raises(SystemExit) as stopped:
        profile_report.main([str(tmp_path / "missing")])
    assert stopped.value.code == 2
    assert "is not a folder" in capsys.readouterr().err
