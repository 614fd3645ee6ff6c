"""Drawing helpers: durations as people say them, local midnights, one colour per person."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from catalog.oncall.presentation import PALETTE, colour_for, day_start, human_duration


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0 min"),
        (timedelta(minutes=45), "45 min"),
        (timedelta(hours=3, minutes=20), "3 h 20 min"),
        (timedelta(days=2, hours=15, minutes=10), "2 d 15 h"),
        (timedelta(days=1), "1 d"),
    ],
)
def test_human_duration_reads_like_people_speak(value, text):
    assert human_duration(value) == text


def test_day_start_is_local_midnight_and_the_next_instant_when_midnight_does_not_exist():
    assert day_start(date(2026, 3, 4), ZoneInfo("Europe/Berlin")).isoformat() == "2026-03-03T23:00:00+00:00"
    # Santiago springs forward at midnight: the day starts at 01:00.
    santiago = day_start(date(2026, 9, 6), ZoneInfo("America/Santiago"))
    assert santiago.astimezone(ZoneInfo("America/Santiago")).hour == 1


def test_colour_for_is_a_palette_colour_that_ignores_case():
    assert colour_for("user:default/alice") in PALETTE
    assert colour_for("user:default/Alice") == colour_for("user:default/alice")
