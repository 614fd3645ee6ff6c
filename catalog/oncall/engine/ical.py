"""iCalendar feeds of final-schedule shifts, per schedule and per person.

Pure: callers render the segments (``engine.render``) and get bytes back. Each shift's UID is
derived from the schedule, the person and the shift start, so a calendar client that refreshes
the feed updates an existing event (for example when an override shortens it) instead of adding a
copy. Render feed ranges from a fixed anchor (such as midnight UTC a week back) rather than from
"now": a shift clipped at a moving range start would get a new start, and with it a new UID.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from icalendar import Calendar, Event

from .model import Segment
from .refs import display_name

PRODID = "-//Paved//On-call//EN"


def shift_uid(schedule_ref: str, user: str, start: datetime) -> str:
    """A UID that stays the same for a shift as long as its schedule, person and start do."""
    key = f"{schedule_ref}|{user}|{start.astimezone(UTC).isoformat()}"
    return f"{hashlib.sha256(key.encode()).hexdigest()[:32]}@oncall.paved.dev"


def _calendar(title: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", title)
    return calendar


def _event(schedule_ref: str, segment: Segment, summary: str, stamp: datetime) -> Event:
    assert segment.user is not None
    event = Event()
    event.add("uid", shift_uid(schedule_ref, segment.user, segment.start))
    event.add("dtstamp", stamp)
    event.add("dtstart", segment.start.astimezone(UTC))
    event.add("dtend", segment.end.astimezone(UTC))
    event.add("summary", summary)
    lines = [f"Schedule: {schedule_ref}", f"On call: {segment.user}"]
    if segment.sources:
        lines.append(f"Source: {', '.join(segment.sources)}")
    event.add("description", "\n".join(lines))
    event.add("transp", "TRANSPARENT")
    return event


def _label(ref: str, names: Mapping[str, str] | None) -> str:
    return (names or {}).get(ref) or display_name(ref)


def schedule_calendar(
    schedule_ref: str,
    segments: Iterable[Segment],
    *,
    title: str | None = None,
    names: Mapping[str, str] | None = None,
    generated_at: datetime | None = None,
) -> bytes:
    """A VCALENDAR with one VEVENT per shift (gaps are left out), summarised "On call: <user>".

    ``names`` maps refs to display names; ``generated_at`` (default: now) becomes DTSTAMP.
    """
    stamp = (generated_at or datetime.now(UTC)).astimezone(UTC)
    calendar = _calendar(title or f"On call: {_label(schedule_ref, names)}")
    for segment in segments:
        if segment.user is not None:
            calendar.add_component(_event(schedule_ref, segment, f"On call: {_label(segment.user, names)}", stamp))
    return bytes(calendar.to_ical())


def person_calendar(
    user_ref: str,
    segments_by_schedule: Mapping[str, Iterable[Segment]],
    *,
    title: str | None = None,
    names: Mapping[str, str] | None = None,
    generated_at: datetime | None = None,
) -> bytes:
    """A VCALENDAR of ``user_ref``'s shifts across several schedules' final segments.

    Summaries name the schedule too ("On call: Alice (Payments Primary)") because one person's
    calendar mixes schedules.
    """
    stamp = (generated_at or datetime.now(UTC)).astimezone(UTC)
    calendar = _calendar(title or f"On call: {_label(user_ref, names)}")
    shifts: list[tuple[datetime, str, Segment]] = []
    for schedule_ref, segments in segments_by_schedule.items():
        shifts.extend((s.start, schedule_ref, s) for s in segments if s.user == user_ref)
    shifts.sort(key=lambda item: (item[0], item[1]))
    for _, schedule_ref, segment in shifts:
        summary = f"On call: {_label(user_ref, names)} ({_label(schedule_ref, names)})"
        calendar.add_component(_event(schedule_ref, segment, summary, stamp))
    return bytes(calendar.to_ical())
