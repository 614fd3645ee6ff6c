"""tests/bench/stack.py, what the HTTP benchmarks share: percentiles, timed rows and their table, the checks of
answers and the polling (against recorded answers, never a running Paved)."""

from __future__ import annotations

import math

import pytest
import requests
import responses

from scripts.prodstack import StackError
from tests.bench.stack import BenchError, Row, bench_stack, expect, percentile, poll, table


def test_percentiles_are_nearest_rank():
    values = [float(n) for n in range(10, 0, -1)]

    assert percentile(values, 50) == 5.0
    assert percentile(values, 95) == 10.0
    assert percentile(values, 90) == 9.0
    assert percentile(values, 100) == 10.0
    assert percentile([0.25], 95) == 0.25


@pytest.mark.parametrize("q", [0, -5, 100.5, math.nan, math.inf])
def test_a_percentile_outside_0_to_100_is_refused(q):
    with pytest.raises(ValueError, match="above 0 and at most 100"):
        percentile([1.0, 2.0], q)


def test_a_percentile_of_nothing_is_refused():
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_a_timed_row_times_each_call_and_their_throughput():
    seen = []

    row = Row.timed("GET /x", 4, seen.append)

    assert seen == [0, 1, 2, 3]
    assert len(row.seconds) == 4
    assert all(seconds >= 0 for seconds in row.seconds)
    assert row.wall is not None
    assert row.wall >= sum(row.seconds)
    assert row.throughput == pytest.approx(4 / row.wall)


@pytest.mark.parametrize("count", [0, -1])
def test_a_timed_row_needs_a_request(count):
    with pytest.raises(ValueError, match="GET /x: at least one request"):
        Row.timed("GET /x", count, lambda index: None)


def test_the_table_prints_percentiles_in_the_unit_asked_for():
    rows = [
        Row("by-name", [0.010, 0.020, 0.030, 0.040], wall=0.5, peak_rss_mib=210.4),
        Row("step fetch", [1.5, 2.5]),
    ]

    printed = table(rows, unit="ms", first_column="what").splitlines()

    assert printed[0].split() == ["what", "n", "p50", "ms", "p95", "ms", "max", "ms", "per", "s", "peak", "RSS", "MiB"]
    assert printed[1].split() == ["by-name", "4", "20.0", "40.0", "40.0", "8.0", "210"]
    assert printed[2].split() == ["step", "fetch", "2", "1500.0", "2500.0", "2500.0", "-", "-"]
    assert table(rows[1:], unit="s").splitlines()[1].split() == ["step", "fetch", "2", "1.50", "2.50", "2.50", "-", "-"]
    assert len({len(line) for line in printed}) == 1


@pytest.mark.parametrize("unit", ["", "us", "MS", "s; rm -rf /"])
def test_the_table_refuses_an_unknown_unit(unit):
    with pytest.raises(ValueError, match="unit is ms or s"):
        table([Row("x", [1.0])], unit=unit)


@responses.activate
def test_expect_names_the_request_and_what_came_back():
    responses.post("http://paved.test/api/scaffolder/v2/tasks", status=400, json={"error": {"message": "bad values"}})
    answer = requests.post("http://paved.test/api/scaffolder/v2/tasks", json={}, timeout=5)

    with pytest.raises(BenchError) as raised:
        expect(answer, 201, "create a run")

    message = str(raised.value)
    assert message.startswith("create a run: POST /api/scaffolder/v2/tasks answered 400, expected 201")
    assert "bad values" in message


@responses.activate
def test_expect_returns_an_answer_with_the_status():
    responses.get("http://paved.test/readyz", body="ok")
    answer = requests.get("http://paved.test/readyz", timeout=5)

    assert expect(answer, 200, "ready") is answer


def test_poll_returns_the_first_answer():
    answers = iter([None, None, {"status": "completed"}])

    assert poll(lambda: next(answers), seconds=5, interval=0.001, what="run") == {"status": "completed"}


def test_poll_gives_up_naming_what_it_waited_for():
    with pytest.raises(BenchError, match=r"component bench-1 in the catalog: nothing after 0.05 s"):
        poll(lambda: None, seconds=0.05, interval=0.01, what="component bench-1 in the catalog")


def test_a_bench_stack_has_its_own_database_and_queue(monkeypatch):
    monkeypatch.delenv("PAVED_BENCH_DATABASE_URL", raising=False)
    monkeypatch.setenv("PAVED_BENCH_BROKER_URL", "redis://127.0.0.1:6379/9")

    stack = bench_stack()
    try:
        assert stack.database_url.rsplit("/", 1)[1].startswith("paved_bench_")
        assert stack.drop_database
        assert stack.env["CELERY_BROKER_URL"] == "redis://127.0.0.1:6379/9"
        assert stack.env["PAVED_CELERY_QUEUE"].startswith("paved-bench-")
    finally:
        stack.__exit__(None, None, None)


@pytest.mark.parametrize(
    "url", ["postgresql://h/postgres", "postgresql://h/paved;drop", "postgresql://h/", "sqlite:///x.db"]
)
def test_a_bench_database_url_that_could_name_another_database_is_refused(monkeypatch, url):
    monkeypatch.setenv("PAVED_BENCH_DATABASE_URL", url)

    with pytest.raises(StackError):
        bench_stack()
