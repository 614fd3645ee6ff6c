"""tests/bench/bench_catalog_http.py without a running Paved: the catalog it writes, the edits it makes, its
options, and its table of figures beside targets."""

from __future__ import annotations

import io
import random

import pytest
import yaml

from tests.bench import bench_catalog_http as bench
from tests.bench.catalog_data import component_name, generated
from tests.bench.stack import Row


def test_the_catalog_is_written_as_files_of_per_file_documents(tmp_path):
    docs = bench.write_catalog(tmp_path / "catalog", 1000, 300)

    files = sorted((tmp_path / "catalog").glob("*.yaml"))
    assert [f.name for f in files] == [f"entities-{n:05d}.yaml" for n in range(4)]
    read = [doc for f in files for doc in yaml.safe_load_all(f.read_text())]
    assert read == docs == generated(1000, random.Random(bench.SEED))
    assert len(list(yaml.safe_load_all(files[-1].read_text()))) == 100


@pytest.mark.parametrize(("count", "per_file"), [(0, 100), (199, 100), (200_001, 100), (-5, 100), (1000, 0)])
def test_a_catalog_outside_the_bounds_is_refused(tmp_path, count, per_file):
    with pytest.raises(ValueError, match=r"--entities|--per-file"):
        bench.write_catalog(tmp_path, count, per_file)
    assert not list(tmp_path.glob("*.yaml"))


def test_an_edit_rewrites_only_the_file_of_its_entity(tmp_path):
    folder = tmp_path / "catalog"
    docs = bench.write_catalog(folder, 1000, 100)
    before = {f.name: f.read_text() for f in folder.glob("*.yaml")}
    name = component_name(3, 1000)

    bench.rewrite_description(folder, docs, name, 100, "edited: a 'quoted' description")

    after = {f.name: f.read_text() for f in folder.glob("*.yaml")}
    changed = [n for n in before if before[n] != after[n]]
    assert len(changed) == 1
    entity = next(d for d in yaml.safe_load_all(after[changed[0]]) if d["metadata"]["name"] == name)
    assert entity["metadata"]["description"] == "edited: a 'quoted' description"


@pytest.mark.parametrize(
    "argv",
    [
        ["--entities", "10"],
        ["--entities", "1000000"],
        ["--entities", "ten"],
        ["--requests", "0"],
        ["--connections", "0"],
        ["--per-file", "-1"],
        ["--seconds", "0"],
        ["--scheduled-wait", "-1"],
        ["--cprofile"],
    ],
)
def test_options_out_of_bounds_stop_before_any_process_starts(argv, monkeypatch, capsys):
    monkeypatch.setattr(bench, "bench_stack", lambda: pytest.fail("the stack must not start"))

    with pytest.raises(SystemExit) as stopped:
        bench.main(argv)

    assert stopped.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_a_latency_line_is_met_only_when_both_percentiles_are():
    fast = Row("by-name", [0.001] * 19 + [0.003])
    slow_tail = Row("by-name", [0.001] * 18 + [0.004, 0.004])

    assert bench.latency_line(fast, bench.Target(1.5, 3.5)).met is True
    line = bench.latency_line(slow_tail, bench.Target(1.5, 3.5))
    assert line.met is False
    assert line.verdict == "MISSED"
    assert line.figure == "p50 1.0 / p95 4.0 ms"
    assert line.target == "p50 ≤ 1.5 / p95 ≤ 3.5 ms"


def test_a_journey_that_never_happened_is_missed_with_its_note():
    line = bench.seconds_line("edit → visible", [], bench.Target(at_most=60), missed_note="not within 90 s")

    assert (line.figure, line.met, line.n) == ("not within 90 s", False, "0")
    assert bench.seconds_line("register", [4.2], bench.Target(at_most=5)).met is True
    assert bench.seconds_line("refresh", [0.3, 0.6], bench.Target(at_most=0.5)).met is False


def test_the_table_aligns_every_column_and_says_met_or_missed():
    out = io.StringIO()
    lines = [
        bench.Line("by-name", "300", "p50 1.0 / p95 2.0 ms", "p50 ≤ 1.5 / p95 ≤ 3.5 ms", True),
        bench.Line("a much longer request shape", "1", "9.00 s", "≤ 5 s", False),
        bench.Line("under load", "10", "p50 1 ms", "-", None),
    ]

    bench.print_table(lines, out)

    rows = out.getvalue().splitlines()
    assert rows[0].startswith("request shape")
    assert len({row.index("  ", len("a much longer request shape")) for row in rows[2:]}) == 1
    assert [row.split()[-1] for row in rows[2:]] == ["met", "MISSED", "-"]


def test_targets_follow_the_size_of_the_catalog():
    assert bench.TARGETS["by-name"][0] == bench.Target(1.5, 3.5)
    assert bench.TARGETS["by-name"][1] == bench.Target(2, 5)
    assert bench.TARGETS["throughput"][0].text("req/s") == "≥ 1,500 req/s"
    assert bench.Target().text("ms") == "-"


def _fake_wrk(tmp_path, output: str, code: int = 0) -> str:
    program = tmp_path / "wrk"
    program.write_text(f"#!/bin/sh\nprintf '%b' '{output}'\nexit {code}\n")
    program.chmod(0o755)
    return str(program)


def test_wrk_figures_are_read_from_the_scripts_summary_line(tmp_path):
    wrk = _fake_wrk(tmp_path, "Running 5s test\\nPAVED-WRK 1000 3 2 1250 3400\\n")
    result = bench.wrk_throughput(wrk, 1, "pvd_token", ["a", "b"], 1, 5.0, tmp_path)
    assert result == bench.WrkResult(rate=199.0, requests=1000, refused=5, p50_ms=1.25, p95_ms=3.4)
    script = (tmp_path / "by-name.lua").read_text()
    assert '"a","b"' in script
    assert oct((tmp_path / "by-name.lua").stat().st_mode & 0o777) == "0o600"  # it holds the token


def test_wrk_that_fails_or_says_nothing_stops_the_benchmark(tmp_path):
    with pytest.raises(bench.BenchError, match="wrk failed"):
        bench.wrk_throughput(_fake_wrk(tmp_path, "unable to connect", 1), 1, "t", ["a"], 1, 1.0, tmp_path)
    with pytest.raises(bench.BenchError, match="wrk failed"):
        bench.wrk_throughput(_fake_wrk(tmp_path, "no summary"), 1, "t", ["a"], 1, 1.0, tmp_path)
