"""On-call engine benchmarks; run with ``python tests/bench/bench_oncall.py`` (not collected by pytest).

Targets: now + next for every level of 1,000 services (3-level policies over 2 schedules each)
well under 1 s, and rendering 90 days of a 3-layer schedule with restrictions in at most 50 ms.
"""

from __future__ import annotations

import random
import statistics
import sys
import time as clock
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

# Run as a plain script from anywhere, the repository root is not on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from catalog.oncall.engine import (
    DailyWindow,
    EscalationLevel,
    EscalationPolicy,
    Layer,
    Override,
    Schedule,
    Target,
    Turn,
    WeeklyWindow,
    policy_now,
    render,
)
from catalog.oncall.engine.localtime import resolve_us

ZONES = ("Europe/Berlin", "America/New_York", "Australia/Sydney", "UTC", "Asia/Kolkata")
NOW = datetime(2026, 3, 27, 14, 37, tzinfo=UTC)  # close to the EU spring-forward weekend


def people(rng: random.Random, count: int) -> tuple[str, ...]:
    return tuple(f"user:default/person-{rng.randrange(5000)}" for _ in range(count))


def primary(rng: random.Random, ref: str) -> Schedule:
    """Three layers: weekly follow-the-sun base, a weekday daily layer and a nights layer."""
    start = datetime(2025, 1, 6, 9, 0) + timedelta(days=rng.randrange(400), minutes=30 * rng.randrange(4))
    layers = [
        Layer("weekly", start, Turn(1, "w"), people(rng, rng.randint(3, 8))),
        Layer(
            "weekdays",
            start,
            Turn(1, "d"),
            people(rng, rng.randint(2, 5)),
            (WeeklyWindow(0, time(9), 4, time(17)),),
        ),
        Layer("nights", start, Turn(12, "h"), people(rng, rng.randint(2, 4)), (DailyWindow(time(22), time(6)),)),
    ]
    overrides = [
        Override(people(rng, 1)[0], NOW + timedelta(hours=h), NOW + timedelta(hours=h + rng.randint(2, 30)))
        for h in rng.sample(range(-48, 240), 2)
    ]
    return Schedule(ref, rng.choice(ZONES), layers, overrides)


def secondary(rng: random.Random, ref: str) -> Schedule:
    start = datetime(2025, 6, 2, 10, 0) + timedelta(days=rng.randrange(300))
    return Schedule(ref, rng.choice(ZONES), [Layer("weekly", start, Turn(1, "w"), people(rng, rng.randint(2, 6)))])


def services(count: int) -> list[tuple[EscalationPolicy, dict[str, Schedule]]]:
    rng = random.Random(20260327)
    out = []
    for i in range(count):
        first, second = f"schedule:default/svc-{i}-primary", f"schedule:default/svc-{i}-secondary"
        schedules = {first: primary(rng, first), second: secondary(rng, second)}
        policy = EscalationPolicy(
            f"escalationpolicy:default/svc-{i}",
            (
                EscalationLevel(15, (Target("schedule", first),)),
                EscalationLevel(30, (Target("schedule", second),)),
                EscalationLevel(30, (Target("user", f"user:default/manager-{i}"),)),
            ),
            repeat=1,
        )
        out.append((policy, schedules))
    return out


def bench_now_and_next() -> None:
    fleet = services(1000)
    for label in ("cold", "warm"):
        if label == "cold":
            resolve_us.cache_clear()
        started = clock.perf_counter()
        for policy, schedules in fleet:
            policy_now(policy, schedules, NOW)
        elapsed = clock.perf_counter() - started
        print(f"now+next, 1,000 services x 3 levels over 2 schedules ({label} cache): {elapsed * 1000:.0f} ms")


def bench_render() -> None:
    rng = random.Random(7)
    samples = []
    for i in range(200):
        schedule = primary(rng, f"schedule:default/render-{i}")
        start = NOW + timedelta(hours=rng.randrange(24 * 60))
        resolve_us.cache_clear()
        started = clock.perf_counter()
        segments = render(schedule, start, start + timedelta(days=90))
        samples.append(clock.perf_counter() - started)
        assert segments
    samples.sort()
    p50 = statistics.median(samples) * 1000
    p95 = samples[int(len(samples) * 0.95) - 1] * 1000
    print(f"render 90 days of a 3-layer schedule with restrictions (cold cache): p50 {p50:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    bench_now_and_next()
    bench_render()
