from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from catalog.oncall.engine import resolve
from catalog.oncall.engine.localtime import from_us, local_wall, to_us
from tests.catalog.oncall.engine.builders import utc


@pytest.mark.parametrize(
    ("zone", "wall", "expected"),
    [
        # Non-existent local times move to the transition instant, not 30 minutes past it.
        ("Europe/Berlin", datetime(2026, 3, 29, 2, 30), utc(2026, 3, 29, 1)),
        ("Europe/Berlin", datetime(2026, 3, 29, 2, 0), utc(2026, 3, 29, 1)),
        ("America/New_York", datetime(2026, 3, 8, 2, 59), utc(2026, 3, 8, 7)),
        ("Australia/Sydney", datetime(2026, 10, 4, 2, 15), utc(2026, 10, 3, 16)),
        # Ambiguous local times take their first occurrence.
        ("Europe/Berlin", datetime(2026, 10, 25, 2, 30), utc(2026, 10, 25, 0, 30)),
        ("America/New_York", datetime(2026, 11, 1, 1, 30), utc(2026, 11, 1, 5, 30)),
        ("Australia/Sydney", datetime(2026, 4, 5, 2, 30), utc(2026, 4, 4, 15, 30)),
        # Ordinary times and zones without DST.
        ("Europe/Berlin", datetime(2026, 3, 29, 3, 0), utc(2026, 3, 29, 1)),
        ("Asia/Kolkata", datetime(2026, 3, 29, 2, 30), utc(2026, 3, 28, 21)),
        ("UTC", datetime(2026, 3, 29, 2, 30), utc(2026, 3, 29, 2, 30)),
    ],
)
def test_resolve_local_wall_clock(zone, wall, expected):
    assert resolve(wall, ZoneInfo(zone)) == expected


def test_resolve_ignores_fold_of_the_input():
    zone = ZoneInfo("Europe/Berlin")
    assert resolve(datetime(2026, 10, 25, 2, 30, fold=1), zone) == utc(2026, 10, 25, 0, 30)


def test_microsecond_round_trip_and_naive_refusal():
    instant = utc(2026, 1, 1).replace(microsecond=123456)
    assert from_us(to_us(instant)) == instant
    assert local_wall(to_us(instant), ZoneInfo("Asia/Kolkata")) == datetime(2026, 1, 1, 5, 30, 0, 123456)
    with pytest.raises(ValueError, match="timezone-aware"):
        to_us(datetime(2026, 1, 1))
