from __future__ import annotations

from icalendar import Calendar

from catalog.oncall.engine import Segment, render
from catalog.oncall.engine.ical import person_calendar, schedule_calendar, shift_uid
from tests.catalog.oncall.engine.builders import layer, override, schedule, u, utc

STAMP = utc(2026, 1, 1)


def weekly_with_override():
    # alice until Mon 12 Jan 08:00Z, carol's override 11 Jan 17:00Z -> 12 Jan 11:00Z, then bob.
    return schedule(
        "Europe/Berlin",
        layer("weekly", "2026-01-05T09:00", "1w", ["alice", "bob"]),
        overrides=(override("carol", utc(2026, 1, 11, 17), utc(2026, 1, 12, 11)),),
        ref="schedule:default/payments-primary",
    )


def events(feed: bytes):
    return list(Calendar.from_ical(feed).walk("VEVENT"))


def test_schedule_feed_has_one_event_per_shift_in_utc():
    s = weekly_with_override()
    feed = schedule_calendar(s.ref, render(s, utc(2026, 1, 11), utc(2026, 1, 13)), generated_at=STAMP)
    assert feed.startswith(b"BEGIN:VCALENDAR\r\n")
    assert [(str(event["SUMMARY"]), event.decoded("DTSTART"), event.decoded("DTEND")) for event in events(feed)] == [
        ("On call: Alice", utc(2026, 1, 11), utc(2026, 1, 11, 17)),
        ("On call: Carol", utc(2026, 1, 11, 17), utc(2026, 1, 12, 11)),
        ("On call: Bob", utc(2026, 1, 12, 11), utc(2026, 1, 13)),
    ]
    assert b"DTSTART:20260111T170000Z" in feed
    assert b"X-WR-CALNAME:On call: Payments Primary" in feed


def test_feed_leaves_gaps_out_and_uses_display_names():
    segments = [
        Segment(utc(2026, 1, 1), utc(2026, 1, 2), u("alice"), ("layer:a",)),
        Segment(utc(2026, 1, 2), utc(2026, 1, 3), None),
    ]
    feed = schedule_calendar("schedule:default/x", segments, names={u("alice"): "Alice A."}, generated_at=STAMP)
    assert [str(event["SUMMARY"]) for event in events(feed)] == ["On call: Alice A."]


def test_uids_are_stable_across_renders_and_change_per_shift():
    s = weekly_with_override()
    first = events(schedule_calendar(s.ref, render(s, utc(2026, 1, 11), utc(2026, 1, 13)), generated_at=STAMP))
    # A later feed over a longer range (bob's shift now runs to 19 Jan, then alice) keeps the UIDs.
    later = events(
        schedule_calendar(s.ref, render(s, utc(2026, 1, 11), utc(2026, 1, 20)), generated_at=utc(2026, 1, 2))
    )
    assert [str(e["UID"]) for e in first] == [str(e["UID"]) for e in later[:3]]
    assert len(later) == 4
    assert len({str(e["UID"]) for e in first}) == 3
    assert str(first[1]["UID"]) == shift_uid(s.ref, u("carol"), utc(2026, 1, 11, 17))


def test_person_feed_collects_one_persons_shifts_across_schedules():
    s = weekly_with_override()
    other = schedule("UTC", layer("d", "2026-01-12T00:00", "1d", ["carol", "dave"]), ref="schedule:default/db")
    window = (utc(2026, 1, 11), utc(2026, 1, 14))
    feed = person_calendar(
        u("carol"), {s.ref: render(s, *window), other.ref: render(other, *window)}, generated_at=STAMP
    )
    assert [(str(e["SUMMARY"]), e.decoded("DTSTART")) for e in events(feed)] == [
        ("On call: Carol (Payments Primary)", utc(2026, 1, 11, 17)),
        ("On call: Carol (Db)", utc(2026, 1, 12)),
    ]
    assert b"X-WR-CALNAME:On call: Carol" in feed


def test_empty_feed_is_still_a_calendar():
    feed = schedule_calendar("schedule:default/x", [], generated_at=STAMP)
    calendar = Calendar.from_ical(feed)
    assert calendar["VERSION"] == "2.0"
    assert events(feed) == []
