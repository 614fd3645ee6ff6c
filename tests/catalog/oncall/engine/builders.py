"""Small constructors that keep the on-call tests readable."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from catalog.oncall.engine import DailyWindow, Layer, Override, Schedule, Shift, Turn, WeeklyWindow, on_call_at
from catalog.oncall.engine.model import WEEKDAYS, TurnUnit

ZONES = ("Europe/Berlin", "America/New_York", "Australia/Sydney", "UTC", "Asia/Kolkata")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def at(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0) -> datetime:
    """An aware instant from a wall-clock reading in ``zone`` (plain zoneinfo semantics)."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone), fold=fold)


def turn(text: str) -> Turn:
    units: dict[str, TurnUnit] = {"h": "h", "d": "d", "w": "w"}
    return Turn(int(text[:-1]), units[text[-1]])


def layer(
    name: str,
    start: str,
    every: str,
    members: list[str],
    restrictions: tuple[DailyWindow | WeeklyWindow, ...] = (),
) -> Layer:
    return Layer(
        name, datetime.fromisoformat(start), turn(every), tuple(f"user:default/{m}" for m in members), restrictions
    )


def daily(start: str, end: str) -> DailyWindow:
    return DailyWindow(time.fromisoformat(start), time.fromisoformat(end))


def weekly(start: str, end: str) -> WeeklyWindow:
    start_day, start_time = start.split()
    end_day, end_time = end.split()
    return WeeklyWindow(
        WEEKDAYS.index(start_day), time.fromisoformat(start_time), WEEKDAYS.index(end_day), time.fromisoformat(end_time)
    )


def override(user: str, start: datetime, end: datetime) -> Override:
    return Override(f"user:default/{user}", start, end)


def schedule(
    zone: str, *layers: Layer, overrides: tuple[Override, ...] = (), ref: str = "schedule:default/s"
) -> Schedule:
    return Schedule(ref, zone, layers, overrides)


def u(name: str) -> str:
    return f"user:default/{name}"


def shift_at(schedule: Schedule, t: datetime) -> Shift:
    """``on_call_at`` for instants where the test expects somebody on call."""
    shift = on_call_at(schedule, t)
    assert shift is not None, f"nobody on call at {t}"
    return shift
