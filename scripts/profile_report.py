"""What scripts/wsgi_profile.py measured in Paved's web processes, as Markdown: per request shape, the wall-clock
milliseconds of each stage (mean and p50 over the requests), the top frames of the cProfile when one was taken, and
the plans of the SQL each shape ran (EXPLAIN ANALYZE, read while the database exists: `explain()`).

    python scripts/profile_report.py DIR [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import io
import json
import pstats
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import psycopg

# Stages in the order a request meets them; derived rows are computed from these.
STAGE_ORDER = (
    "wsgi",
    "wsgi_cpu",
    "drf_view",
    "drf_initial",
    "token_auth",
    "session_auth",
    "throttle",
    "by_name_lookup",
    "query_page",
    "count",
    "entity_json",
    "facets",
    "render_json",
    "render_template",
    "db",
    "db_queries",
    "db_connect",
)
EXPLAIN_TIMEOUT_MS = 30_000
TOP_FRAMES = 25
VACUUMED_TABLES = ("catalog_entity", "catalog_searchentry", "catalog_relation", "portal_apitoken")


class ProfileError(Exception):
    """The profile folder holds nothing to report, or a file in it cannot be read; the message says which."""


def _load_timers(directory: Path) -> tuple[dict[str, dict[str, list[float]]], list[str]]:
    merged: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    missing: set[str] = set()
    files = sorted(directory.glob("timers-*.json"))
    if not files:
        raise ProfileError(
            f"{directory} holds no timers-*.json: did the web processes run with scripts/wsgi_profile.py"
        )
    for path in files:
        try:
            data = json.loads(path.read_text())
            shapes = data["shapes"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ProfileError(f"{path}: not a timers file ({exc})") from None
        if not isinstance(shapes, dict) or not all(
            isinstance(stages, dict) and all(isinstance(values, list) for values in stages.values())
            for stages in shapes.values()
        ):
            raise ProfileError(f"{path}: not a timers file (shapes must map each shape to lists of seconds)")
        missing.update(str(item) for item in data.get("missing", []))
        for shape, stages in shapes.items():
            for stage, values in stages.items():
                try:
                    merged[shape][stage].extend(float(value) for value in values)
                except (TypeError, ValueError):
                    raise ProfileError(f"{path}: {shape} {stage} holds something other than seconds") from None
    return merged, sorted(missing)


def _ms(values: list[float], count: int) -> tuple[float, float]:
    """Mean over all requests (a stage absent from a request counts 0) and the median of the requests that had it."""
    return sum(values) / count * 1000, statistics.median(values) * 1000


def timers_markdown(directory: Path) -> str:
    shapes, missing = _load_timers(directory)
    lines: list[str] = []
    for shape in sorted(shapes):
        stages = shapes[shape]
        count = len(stages.get("requests", []))
        if not count:
            continue
        wsgi_mean = sum(stages["wsgi"]) / count * 1000
        lines += [
            f"#### {shape} ({count} requests, {wsgi_mean:.2f} ms mean inside the web process)",
            "",
            "| stage | mean ms | p50 ms | share |",
            "|---|---:|---:|---:|",
        ]
        for stage in STAGE_ORDER:
            values = stages.get(stage)
            if not values:
                continue
            if stage == "db_queries":
                lines.append(f"| queries per request | {sum(values) / count:.2f} | | |")
                continue
            mean, p50 = _ms(values, count)
            lines.append(f"| {stage} | {mean:.2f} | {p50:.2f} | {mean / wsgi_mean:.0%} |")
        if stages.get("drf_view"):
            inside = sum(stages["drf_view"]) + sum(stages.get("render_json", []))
            label = "outside the DRF view and renderer (middleware, routing, WSGI)"
        else:
            inside = sum(stages.get("render_template", []))
            label = "outside template rendering (middleware, view code, queries)"
        rest = (sum(stages["wsgi"]) - inside) / count * 1000
        lines.append(f"| {label} | {rest:.2f} | | {rest / wsgi_mean:.0%} |")
        lines.append("")
    if missing:
        lines.append("Stages not measured (their code moved): " + "; ".join(missing))
    return "\n".join(lines)


def cprofile_markdown(directory: Path, *, top: int = TOP_FRAMES) -> str:
    by_shape: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(directory.glob("cprofile-*.prof")):
        shape = path.stem.removeprefix("cprofile-").rsplit("-", 1)[0]
        by_shape[shape].append(path)
    parts: list[str] = []
    for shape, paths in sorted(by_shape.items()):
        out = io.StringIO()
        stats = pstats.Stats(str(paths[0]), stream=out)
        for path in paths[1:]:
            stats.add(str(path))
        stats.strip_dirs()
        stats.sort_stats("cumulative").print_stats(top)
        cumulative = out.getvalue()
        out.truncate(0)
        out.seek(0)
        stats.sort_stats("tottime").print_stats(top // 2)
        own = out.getvalue()
        parts += [
            f"#### cProfile: {shape}",
            "",
            "```",
            _stats_table(cumulative),
            "```",
            "",
            "Own time:",
            "",
            "```",
            _stats_table(own),
            "```",
            "",
        ]
    return "\n".join(parts)


def _stats_table(text: str) -> str:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return "\n".join(line.rstrip() for line in lines[start:] if line.strip())


def _statements(directory: Path) -> dict[str, list[dict[str, Any]]]:
    seen: set[tuple[str, str]] = set()
    by_shape: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(directory.glob("sql-*.jsonl")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            try:
                row = json.loads(line)
                key = (str(row["shape"]), str(row["sql"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise ProfileError(f"{path}:{number}: not a statement record ({exc})") from None
            if key not in seen:
                seen.add(key)
                by_shape[key[0]].append(row)
    return by_shape


def _explain_pass(
    connection: psycopg.Connection[Any], statements: dict[str, list[dict[str, Any]]]
) -> dict[tuple[str, str], tuple[float | None, str]]:
    """Each SELECT's execution milliseconds (None when it could not be explained) and plan, run once first so that
    the plan is of a warm cache, as in the benchmark."""
    plans: dict[tuple[str, str], tuple[float | None, str]] = {}
    for shape, rows in statements.items():
        for row in rows:
            sql = row["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            try:
                connection.execute(sql).fetchall()
                lines = [str(line[0]) for line in connection.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}").fetchall()]
            except psycopg.Error as exc:
                plans[(shape, sql)] = (None, f"could not explain: {exc}")
                continue
            found = [line for line in lines if line.startswith("Execution Time:")]
            milliseconds = float(found[0].split()[2]) if found else None
            plans[(shape, sql)] = (milliseconds, "\n".join(lines))
    return plans


def explain(
    directory: Path, database_url: str, *, pg_options: str = "-c random_page_cost=1.1", vacuum: bool = True
) -> Path:
    """EXPLAIN (ANALYZE, BUFFERS) of every SELECT the web processes ran, per shape, into DIR/explain.md: the plans
    as the database was found, and with `vacuum`, each statement's time again after VACUUM ANALYZE of the catalog
    tables (whether fresh statistics and visibility maps alone change the plans), in DIR/explain-vacuumed.md."""
    statements = dict(sorted(_statements(directory).items()))
    with psycopg.connect(database_url, options=pg_options, autocommit=True) as connection:
        connection.execute(f"SET statement_timeout = {EXPLAIN_TIMEOUT_MS}")
        found = _explain_pass(connection, statements)
        after: dict[tuple[str, str], tuple[float | None, str]] = {}
        if vacuum:
            for table in VACUUMED_TABLES:
                connection.execute(f"VACUUM ANALYZE {table}")
            after = _explain_pass(connection, statements)
    parts: list[str] = []
    for shape, rows in statements.items():
        parts += [f"#### SQL: {shape}", ""]
        for row in rows:
            sql = row["sql"]
            if (shape, sql) not in found:
                parts += [f"- not a SELECT, not explained: `{sql[:200]}`", ""]
                continue
            parts += ["```sql", sql, "```", "", "```", found[(shape, sql)][1], "```", ""]
    path = directory / "explain.md"
    path.write_text("\n".join(parts))
    if vacuum:
        lines = [
            "| shape | statement | ms as found | ms after VACUUM ANALYZE |",
            "|---|---|---:|---:|",
        ]
        for (shape, sql), (before_ms, _plan) in found.items():
            after_ms = after.get((shape, sql), (None, ""))[0]
            lines.append(f"| {shape} | `{_head(sql)}` | {_number(before_ms)} | {_number(after_ms)} |")
        plans = [
            f"#### after VACUUM ANALYZE: {shape}\n\n```sql\n{sql}\n```\n\n```\n{plan}\n```\n"
            for (shape, sql), (_ms_after, plan) in after.items()
        ]
        (directory / "explain-vacuumed.md").write_text("\n".join(lines) + "\n\n" + "\n".join(plans))
    return path


def _head(sql: str, length: int = 90) -> str:
    text = " ".join(sql.split()).replace("|", "\\|").replace("`", "'")
    return text if len(text) <= length else text[: length - 1] + "…"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def report(directory: Path) -> str:
    sections = ["### Stages (wall clock inside the web process)", "", timers_markdown(directory)]
    profile = cprofile_markdown(directory)
    if profile:
        sections += ["### Top frames", "", profile]
    vacuumed = directory / "explain-vacuumed.md"
    if vacuumed.exists():
        comparison = vacuumed.read_text().split("\n\n", 1)[0]
        sections += ["### Statement times as found and after VACUUM ANALYZE", "", comparison, ""]
    plans = directory / "explain.md"
    if plans.exists():
        sections += ["### Queries and plans", "", plans.read_text()]
    return "\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--database-url", help="explain the recorded SQL on this database first")
    args = parser.parse_args(argv)
    if not args.directory.is_dir():
        parser.error(f"{args.directory} is not a folder")
    try:
        if args.database_url:
            explain(args.directory, args.database_url)
        print(report(args.directory))
    except (ProfileError, psycopg.Error) as exc:
        print(f"profile_report: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
