"""Drawing helpers: durations as people say them, local midnights, one colour per person."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from catalog.oncall.presentation import GAP_RED, PALETTE, colour_for, day_start, human_duration


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


def _weekly(start_day, start, end_day, end):
    from datetime import time

    from catalog.oncall.engine import WeeklyWindow

    return WeeklyWindow(start_day, time.fromisoformat(start), end_day, time.fromisoformat(end))


def _daily(start, end):
    from datetime import time

    from catalog.oncall.engine import DailyWindow

    return DailyWindow(time.fromisoformat(start), time.fromisoformat(end))


@pytest.mark.parametrize(
    ("windows", "text"),
    [
        ([_weekly(d, "09:00", d, "18:00") for d in range(5)], "weekdays 09:00\u201318:00"),
        ([_weekly(d, "10:00", d, "16:00") for d in (5, 6)], "weekends 10:00\u201316:00"),
        ([_weekly(d, "08:00", d, "20:00") for d in range(7)], "every day 08:00\u201320:00"),
        ([_weekly(d, "09:00", d, "17:00") for d in (0, 1, 2)], "Monday to Wednesday 09:00\u201317:00"),
        ([_weekly(d, "09:00", d, "17:00") for d in (0, 2)], "Mondays and Wednesdays 09:00\u201317:00"),
        ([_weekly(0, "09:00", 4, "17:00")], "Monday 09:00 to Friday 17:00"),
        ([_daily("22:00", "06:00")], "every day 22:00\u201306:00"),
        (
            [_daily("09:00", "12:00"), _daily("13:00", "17:00")],
            "every day 09:00\u201312:00 and every day 13:00\u201317:00",
        ),
        ([], ""),
    ],
)
def test_restriction_text_reads_as_people_speak(windows, text):
    from catalog.oncall.presentation import restriction_text

    assert restriction_text(windows) == text


def test_distinct_colours_gives_everyone_in_a_schedule_their_own_colour():
    from catalog.oncall.presentation import distinct_colours

    refs = [f"user:default/person-{n}" for n in range(len(PALETTE))]
    colours = distinct_colours(refs)
    assert len(set(colours.values())) == len(PALETTE)
    # Stable: the same people get the same colours in any order, and one person alone keeps their usual colour.
    assert distinct_colours(reversed(refs)) == colours
    assert distinct_colours(["user:default/alice"]) == {"user:default/alice": colour_for("user:default/alice")}
    # More people than colours: every colour is used and nobody is left without one.
    many = distinct_colours([f"user:default/p{n}" for n in range(30)])
    assert len(many) == 30
    assert set(many.values()) == set(PALETTE)


def test_no_person_is_drawn_in_the_red_of_a_gap():
    import colorsys

    def hue(colour: str) -> float:
        red, green, blue = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
        return colorsys.rgb_to_hsv(red, green, blue)[0] * 360

    for colour in PALETTE:
        distance = abs(hue(colour) - hue(GAP_RED)) % 360
        assert min(distance, 360 - distance) >= 15, colour
