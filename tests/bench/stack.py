"""What the HTTP benchmarks share: Paved's production processes on a throwaway database (scripts/prodstack.py), an
API client with a personal token, timing of many requests over one keep-alive connection, and the printed table.

A benchmark measures what a user sees: requests over HTTP to the web tier (`make serve`), work done by the Celery worker
(`make worker`) through Redis, PostgreSQL underneath, DEBUG off. Figures are printed, never asserted.

Overrides: PAVED_BENCH_DATABASE_URL (created afresh and dropped at the end; default
postgresql://postgres@127.0.0.1:5432/paved_bench_<pid>), PAVED_BENCH_BROKER_URL (default redis://127.0.0.1:6379/6;
the stack uses a queue of its own there).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.prodstack import TIMEOUT, BehindProxy, ProductionStack, StackError


class BenchError(Exception):
    """A request of a benchmark did not answer as it must; the message says which request and what came back."""


def bench_stack() -> ProductionStack:
    """A production stack on its own database, dropped at the end, and its own queue on the broker."""
    pid = os.getpid()
    return ProductionStack(
        database_url=os.environ.get("PAVED_BENCH_DATABASE_URL")
        or f"postgresql://postgres@127.0.0.1:5432/paved_bench_{pid}",
        broker_url=os.environ.get("PAVED_BENCH_BROKER_URL") or "redis://127.0.0.1:6379/6",
        queue=f"paved-bench-{pid}",
        drop_database=True,
    )


def api_client(stack: ProductionStack, username: str = "bench") -> BehindProxy:
    """A keep-alive session with a personal API token of a new administrator `username`."""
    stack.superuser_create(username)
    session = stack.browser()
    session.headers["Authorization"] = f"Token {stack.api_token(username)}"
    return session


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile `q` (0 < q ≤ 100) of `values`."""
    if not values:
        raise ValueError("a percentile of no values")
    if not 0 < q <= 100 or math.isnan(q):
        raise ValueError(f"a percentile is above 0 and at most 100, found {q}")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def expect(response: requests.Response, status: int, what: str) -> requests.Response:
    """`response` when it has `status`; BenchError naming the request and the answer otherwise."""
    if response.status_code != status:
        request = response.request
        raise BenchError(
            f"{what}: {request.method} {request.path_url} answered {response.status_code}, expected {status}: "
            f"{response.text[:500]}"
        )
    return response


def poll(ask: Callable[[], Any | None], *, seconds: float, interval: float, what: str) -> Any:
    """Call `ask` every `interval` seconds until it returns something other than None; BenchError after `seconds`."""
    deadline = time.perf_counter() + seconds
    while True:
        answer = ask()
        if answer is not None:
            return answer
        if time.perf_counter() > deadline:
            raise BenchError(f"{what}: nothing after {seconds:g} s")
        time.sleep(interval)


@dataclass
class Row:
    """One line of the table: a request shape, each request's seconds, and the wall-clock seconds they took together
    (None where a throughput means nothing, as for the parts of a run)."""

    shape: str
    seconds: list[float]
    wall: float | None = None
    peak_rss_mib: float | None = None

    @classmethod
    def timed(cls, shape: str, count: int, one: Callable[[int], object]) -> Row:
        """Call `one(i)` for i in 0..count-1, one after the other, timing each."""
        if count < 1:
            raise ValueError(f"{shape}: at least one request, found {count}")
        seconds: list[float] = []
        started = time.perf_counter()
        for index in range(count):
            before = time.perf_counter()
            one(index)
            seconds.append(time.perf_counter() - before)
        return cls(shape, seconds, time.perf_counter() - started)

    @property
    def throughput(self) -> float | None:
        return len(self.seconds) / self.wall if self.wall else None


def table(rows: Sequence[Row], *, unit: str = "ms", first_column: str = "request shape") -> str:
    """The rows as a fixed-width table: shape, n, p50, p95, max (in `unit`, ms or s), per second, peak RSS."""
    scale = {"ms": 1000.0, "s": 1.0}.get(unit)
    if scale is None:
        raise ValueError(f"unit is ms or s, found {unit!r}")
    width = max([len(first_column), *(len(row.shape) for row in rows)])
    lines = [
        f"{first_column:<{width}}  {'n':>5}  {'p50 ' + unit:>9}  {'p95 ' + unit:>9}  {'max ' + unit:>9}  "
        f"{'per s':>7}  {'peak RSS MiB':>12}"
    ]
    digits = 1 if unit == "ms" else 2
    for row in rows:
        rss = f"{row.peak_rss_mib:.0f}" if row.peak_rss_mib is not None else "-"
        rate = f"{row.throughput:.1f}" if row.throughput is not None else "-"
        p50, p95, top = (
            value * scale for value in (percentile(row.seconds, 50), percentile(row.seconds, 95), max(row.seconds))
        )
        lines.append(
            f"{row.shape:<{width}}  {len(row.seconds):>5}  {p50:>9.{digits}f}  {p95:>9.{digits}f}  {top:>9.{digits}f}  "
            f"{rate:>7}  {rss:>12}"
        )
    return "\n".join(lines)


__all__ = [
    "TIMEOUT",
    "BehindProxy",
    "BenchError",
    "ProductionStack",
    "Row",
    "StackError",
    "api_client",
    "bench_stack",
    "expect",
    "percentile",
    "poll",
    "table",
]
