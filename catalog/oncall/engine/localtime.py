"""Turning wall-clock times in a zone into instants, with on-call rules for DST edges.

The engine works on integer microseconds since the epoch (UTC) internally: comparisons and sums
on ints are exact and several times faster than on aware datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
US_PER_SECOND = 1_000_000
US_PER_HOUR = 3600 * US_PER_SECOND
US_PER_DAY = 24 * US_PER_HOUR
_NAIVE_EPOCH = datetime(1970, 1, 1)


def to_us(instant: datetime) -> int:
    """Microseconds since the epoch; refuses naive datetimes because their instant is unknown."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {instant!r}")
    return (instant - EPOCH) // _ONE_US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def local_wall(us: int, zone: ZoneInfo) -> datetime:
    """The naive wall-clock reading in ``zone`` at an instant."""
    return from_us(us).astimezone(zone).replace(tzinfo=None)


def _naive_utc_to_us(value: datetime) -> int:
    return (value - _NAIVE_EPOCH) // _ONE_US


@lru_cache(maxsize=1 << 17)
def resolve_us(wall: datetime, zone: ZoneInfo) -> int:
    """The instant at which ``zone``'s clocks read ``wall``.

    An ambiguous reading (clocks going back) resolves to its first occurrence. A reading that does
    not exist (clocks going forward) resolves to the next valid instant, which is the instant of
    the transition itself: a 02:30 handoff on a spring-forward night happens at 03:00 local.
    zoneinfo alone would give 03:30 there (fold=0 reuses the old offset), which is why the gap case
    is searched explicitly.
    """
    wall = wall.replace(tzinfo=None, fold=0)
    offset = wall.replace(tzinfo=zone).utcoffset()
    assert offset is not None  # ZoneInfo always has an offset
    utc_wall = wall - offset
    if utc_wall.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None) == wall:
        return _naive_utc_to_us(utc_wall)
    return _gap_transition_us(wall, zone)


def _gap_transition_us(wall: datetime, zone: ZoneInfo) -> int:
    candidates = []
    for fold in (0, 1):
        offset = wall.replace(tzinfo=zone, fold=fold).utcoffset()
        assert offset is not None
        candidates.append(_naive_utc_to_us(wall - offset) // US_PER_SECOND)
    # The wall clock is monotonic except at the one transition between the two candidates, so
    # the first second whose reading is at or past ``wall`` is the transition. Transitions fall on
    # whole seconds in the tz database.
    lo, hi = min(candidates), max(candidates)
    while lo < hi:
        mid = (lo + hi) // 2
        if local_wall(mid * US_PER_SECOND, zone) >= wall:
            hi = mid
        else:
            lo = mid + 1
    return lo * US_PER_SECOND


def resolve(wall: datetime, zone: ZoneInfo) -> datetime:
    """Aware (UTC) version of :func:`resolve_us`."""
    return from_us(resolve_us(wall, zone))
