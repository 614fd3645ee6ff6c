from __future__ import annotations

import copy
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
import yaml

from catalog.oncall.engine import (
    DailyWindow,
    EscalationLevel,
    SpecError,
    SpecIssue,
    Target,
    Turn,
    WeeklyWindow,
    policy_from_spec,
    schedule_from_spec,
    validate_policy_spec,
    validate_schedule_spec,
)
from tests.catalog.oncall.engine.builders import shift_at, u, utc

DESCRIPTORS = """
apiVersion: paved.dev/v1alpha1
kind: Schedule
metadata: {name: payments-primary}
spec:
  owner: group:payments
  timezone: Europe/Berlin
  layers:
    - name: weekly
      start: "2026-01-05T09:00"
      turn: 1w
      members: [user:alice, user:bob, user:carol]
    - name: weekday-days
      start: "2026-01-05T09:00"
      turn: 1d
      members: [user:dave, user:erin]
      restrictions:
        - {weekly: {from: "mon 09:00", to: "fri 17:00"}}
  overrides:
    - {user: user:erin, from: "2026-03-07T09:00", to: "2026-03-08T09:00"}
---
apiVersion: paved.dev/v1alpha1
kind: EscalationPolicy
metadata: {name: payments}
spec:
  owner: group:payments
  repeat: 1
  levels:
    - {delayMinutes: 15, targets: [schedule:payments-primary]}
    - {delayMinutes: 30, targets: [schedule:payments-secondary, user:frank]}
"""


def documents():
    return list(yaml.safe_load_all(DESCRIPTORS))


def schedule_spec():
    return copy.deepcopy(documents()[0]["spec"])


def policy_spec():
    return copy.deepcopy(documents()[1]["spec"])


def issues_of(spec) -> list[tuple[str, str]]:
    return [(issue.path, issue.message) for issue in validate_schedule_spec(spec)]


def policy_issues_of(spec) -> list[tuple[str, str]]:
    return [(issue.path, issue.message) for issue in validate_policy_spec(spec)]


# The documented example -------------------------------------------------------------------------


def test_documented_example_schedule_parses():
    s = schedule_from_spec("payments-primary", schedule_spec())
    assert s.ref == "schedule:default/payments-primary"
    assert s.timezone == ZoneInfo("Europe/Berlin")
    assert [layer.name for layer in s.layers] == ["weekly", "weekday-days"]
    assert s.layers[0].start == datetime(2026, 1, 5, 9)
    assert s.layers[0].turn == Turn(1, "w")
    assert s.layers[0].members == (u("alice"), u("bob"), u("carol"))
    assert s.layers[1].restrictions == (WeeklyWindow(0, time(9), 4, time(17)),)
    # 7 Mar 09:00 CET = 08:00Z.
    assert (s.overrides[0].user, s.overrides[0].start, s.overrides[0].end) == (
        u("erin"),
        utc(2026, 3, 7, 8),
        utc(2026, 3, 8, 8),
    )
    assert shift_at(s, utc(2026, 3, 7, 12)).user == u("erin")


def test_documented_example_policy_parses_with_normalised_targets():
    p = policy_from_spec("payments", policy_spec())
    assert p.ref == "escalationpolicy:default/payments"
    assert p.repeat == 1
    assert p.levels == (
        EscalationLevel(15, (Target("schedule", "schedule:default/payments-primary"),)),
        EscalationLevel(
            30, (Target("schedule", "schedule:default/payments-secondary"), Target("user", "user:default/frank"))
        ),
    )
    assert validate_policy_spec(policy_spec()) == []
    assert validate_schedule_spec(schedule_spec()) == []


def test_member_refs_are_normalised_in_every_accepted_form():
    spec = schedule_spec()
    spec["layers"][0]["members"] = ["alice", "user:Bob", "user:ops/Carol", "USER:default/dave"]
    s = schedule_from_spec("payments-primary", spec, default_namespace="payments")
    assert s.layers[0].members == ("user:payments/alice", "user:payments/bob", "user:ops/carol", "user:default/dave")
    assert s.ref == "schedule:payments/payments-primary"


def test_daily_restriction_and_24_00_end():
    spec = schedule_spec()
    spec["layers"][1]["restrictions"] = [{"daily": {"from": "17:00", "to": "24:00"}}]
    s = schedule_from_spec("x", spec)
    assert s.layers[1].restrictions == (DailyWindow(time(17), time(0)),)


def test_full_weekday_names_and_24_00_on_weekly_end():
    spec = schedule_spec()
    spec["layers"][1]["restrictions"] = [{"weekly": {"from": "Friday 18:00", "to": "sun 24:00"}}]
    s = schedule_from_spec("x", spec)
    assert s.layers[1].restrictions == (WeeklyWindow(4, time(18), 0, time(0)),)


def test_override_with_an_explicit_offset_is_taken_as_is():
    spec = schedule_spec()
    spec["overrides"] = [{"user": "erin", "from": "2026-03-07T09:00Z", "to": "2026-03-07T10:00+00:00"}]
    s = schedule_from_spec("x", spec)
    assert (s.overrides[0].start, s.overrides[0].end) == (utc(2026, 3, 7, 9), utc(2026, 3, 7, 10))


def test_yaml_timestamps_are_accepted_as_local_times():
    spec = yaml.safe_load('start: 2026-01-05 09:00:00\nfrom: 2026-03-07T09:00:00\nto: "2026-03-07T10:00"')
    full = schedule_spec()
    full["layers"][0]["start"] = spec["start"]
    full["overrides"][0]["from"] = spec["from"]
    full["overrides"][0]["to"] = spec["to"]
    s = schedule_from_spec("x", full)
    assert s.layers[0].start == datetime(2026, 1, 5, 9)
    assert s.overrides[0].start == utc(2026, 3, 7, 8)


def test_override_in_a_dst_gap_resolves_to_the_transition():
    spec = schedule_spec()
    spec["overrides"] = [{"user": "erin", "from": "2026-03-29T02:30", "to": "2026-03-29T05:00"}]
    s = schedule_from_spec("x", spec)
    assert s.overrides[0].start == utc(2026, 3, 29, 1)


def test_schedule_from_spec_raises_with_every_issue():
    spec = schedule_spec()
    spec["timezone"] = "Mars/Olympus"
    spec["layers"][0]["turn"] = "0d"
    with pytest.raises(SpecError) as caught:
        schedule_from_spec("x", spec)
    assert caught.value.issues == (
        SpecIssue("spec.timezone", "unknown time zone 'Mars/Olympus'"),
        SpecIssue("spec.layers[0].turn", "expected <n>h|d|w, found '0d'"),
    )
    assert "spec.timezone: unknown time zone 'Mars/Olympus'" in str(caught.value)


def test_own_ref_of_the_wrong_kind_is_refused():
    with pytest.raises(SpecError, match="expected a schedule ref"):
        schedule_from_spec("group:payments", schedule_spec())
    with pytest.raises(SpecError, match="not a valid entity ref"):
        policy_from_spec("no spaces allowed", policy_spec())


# Schedule validation messages -------------------------------------------------------------------


def test_unknown_time_zone_is_named():
    spec = schedule_spec()
    spec["timezone"] = "Europe/Berlinn"
    assert issues_of(spec) == [("spec.timezone", "unknown time zone 'Europe/Berlinn'")]


def test_missing_or_malformed_time_zone():
    spec = schedule_spec()
    del spec["timezone"]
    assert issues_of(spec) == [("spec.timezone", "a time zone is required, e.g. Europe/Berlin")]
    spec["timezone"] = "../../etc/passwd"
    assert issues_of(spec) == [("spec.timezone", "unknown time zone '../../etc/passwd'")]
    spec["timezone"] = 5
    assert issues_of(spec) == [("spec.timezone", "expected an IANA time zone name like Europe/Berlin, found 5")]


@pytest.mark.parametrize("value", ["0d", "0h", "0w", "-1d", "1m", "1", "d", "1.5d", 7, ""])
def test_turn_length_zero_or_malformed(value):
    spec = schedule_spec()
    spec["layers"][1]["turn"] = value
    shown = f"'{value}'" if isinstance(value, str) else str(value)
    assert issues_of(spec) == [("spec.layers[1].turn", f"expected <n>h|d|w, found {shown}")]


def test_missing_turn_and_start():
    spec = schedule_spec()
    del spec["layers"][0]["turn"]
    del spec["layers"][0]["start"]
    assert issues_of(spec) == [
        ("spec.layers[0].start", "'start' is required (the first handoff, local time, like 2026-01-05T09:00)"),
        ("spec.layers[0].turn", "'turn' is required, like 1w, 1d or 12h"),
    ]


def test_members_that_are_not_user_refs():
    spec = schedule_spec()
    spec["layers"][0]["members"] = ["user:alice", "group:payments", 42, "not a ref"]
    assert issues_of(spec) == [
        ("spec.layers[0].members[1]", "members must be user refs, found 'group:payments'"),
        ("spec.layers[0].members[2]", "expected a user ref like user:alice, found 42"),
        ("spec.layers[0].members[3]", "expected a user ref like user:alice, found 'not a ref'"),
    ]


def test_empty_or_missing_members():
    spec = schedule_spec()
    spec["layers"][0]["members"] = []
    del spec["layers"][1]["members"]
    assert issues_of(spec) == [
        ("spec.layers[0].members", "a layer needs at least one member"),
        ("spec.layers[1].members", "a layer needs at least one member"),
    ]
    spec["layers"][0]["members"] = "user:alice"
    assert issues_of(spec)[0] == ("spec.layers[0].members", "expected a list of user refs, found 'user:alice'")


def test_empty_restriction_window():
    spec = schedule_spec()
    spec["layers"][1]["restrictions"] = [{"daily": {"from": "09:00", "to": "09:00"}}]
    assert issues_of(spec) == [("spec.layers[1].restrictions[0]", "empty window: from and to are both 09:00")]
    spec["layers"][1]["restrictions"] = [{"weekly": {"from": "mon 09:00", "to": "Mon 09:00"}}]
    assert issues_of(spec) == [("spec.layers[1].restrictions[0]", "empty window: from and to are both mon 09:00")]


def test_whole_day_or_week_window_says_to_drop_the_restriction():
    spec = schedule_spec()
    spec["layers"][1]["restrictions"] = [{"daily": {"from": "00:00", "to": "24:00"}}]
    assert issues_of(spec) == [
        (
            "spec.layers[1].restrictions[0]",
            "a window from 00:00 to 24:00 covers the whole day; drop the restriction instead",
        )
    ]
    spec["layers"][1]["restrictions"] = [{"weekly": {"from": "mon 00:00", "to": "sun 24:00"}}]
    assert issues_of(spec) == [
        ("spec.layers[1].restrictions[0]", "this window covers the whole week; drop the restriction instead")
    ]


def test_override_order_is_checked_even_when_the_zone_is_unknown():
    spec = schedule_spec()
    spec["timezone"] = "Nowhere/Land"
    spec["overrides"] = [{"user": "erin", "from": "2026-03-08T09:00", "to": "2026-03-07T09:00"}]
    assert [path for path, _ in issues_of(spec)] == ["spec.timezone", "spec.overrides[0].to"]


def test_overlapping_restriction_windows():
    spec = schedule_spec()
    spec["layers"][1]["restrictions"] = [
        {"daily": {"from": "09:00", "to": "17:00"}},
        {"weekly": {"from": "sat 20:00", "to": "sun 10:00"}},
    ]
    assert issues_of(spec) == [
        (
            "spec.layers[1].restrictions[1]",
            "restriction windows overlap: restrictions[0] (daily 09:00-17:00) and "
            "restrictions[1] (weekly sat 20:00-sun 10:00)",
        )
    ]


def test_overlap_across_midnight_and_week_end_is_detected():
    spec = schedule_spec()
    spec["layers"][1]["restrictions"] = [
        {"daily": {"from": "22:00", "to": "06:00"}},
        {"weekly": {"from": "mon 05:00", "to": "mon 07:00"}},
    ]
    assert [path for path, _ in issues_of(spec)] == ["spec.layers[1].restrictions[1]"]
    spec["layers"][1]["restrictions"] = [
        {"weekly": {"from": "fri 18:00", "to": "mon 08:00"}},
        {"weekly": {"from": "mon 07:00", "to": "mon 09:00"}},
    ]
    assert [path for path, _ in issues_of(spec)] == ["spec.layers[1].restrictions[1]"]


def test_touching_restriction_windows_do_not_overlap():
    spec = schedule_spec()
    spec["layers"][1]["restrictions"] = [
        {"daily": {"from": "08:00", "to": "12:00"}},
        {"daily": {"from": "12:00", "to": "17:00"}},
        {"weekly": {"from": "sun 17:00", "to": "mon 08:00"}},
    ]
    assert issues_of(spec) == []


def test_malformed_restriction_windows():
    spec = schedule_spec()
    spec["layers"][1]["restrictions"] = [
        {"daily": {"from": "9am", "to": "17:00"}},
        {"hourly": {"from": "09:00", "to": "17:00"}},
        {"daily": {"from": "09:00"}},
        {},
        {"daily": {"from": "09:00", "to": "17:00"}, "weekly": {"from": "mon 09:00", "to": "fri 17:00"}},
        "weekdays",
        {"daily": {"from": "25:00", "to": "24:30"}},
    ]
    assert issues_of(spec) == [
        ("spec.layers[1].restrictions[0].daily.from", "expected HH:MM, found '9am'"),
        ("spec.layers[1].restrictions[1].hourly", "unknown field 'hourly' (expected one of: daily, weekly)"),
        ("spec.layers[1].restrictions[2].daily.to", "'to' is required"),
        ("spec.layers[1].restrictions[3]", "expected exactly one of daily or weekly, found an empty mapping"),
        ("spec.layers[1].restrictions[4]", "expected exactly one of daily or weekly, found both"),
        ("spec.layers[1].restrictions[5]", "expected a mapping, found 'weekdays'"),
        ("spec.layers[1].restrictions[6].daily.from", "expected HH:MM, found '25:00'"),
        ("spec.layers[1].restrictions[6].daily.to", "expected HH:MM, found '24:30'"),
    ]


def test_unquoted_time_read_by_yaml_as_a_number():
    spec = schedule_spec()
    spec["layers"][1]["restrictions"] = yaml.safe_load("- {daily: {from: '09:00', to: 17:00}}")
    assert issues_of(spec) == [
        (
            "spec.layers[1].restrictions[0].daily.to",
            'expected a quoted time like "17:00", found the number 1020 (quote the time)',
        )
    ]


def test_unknown_weekday():
    spec = schedule_spec()
    spec["layers"][1]["restrictions"] = [{"weekly": {"from": "fry 09:00", "to": "fri 17:00"}}]
    assert issues_of(spec) == [
        (
            "spec.layers[1].restrictions[0].weekly.from",
            "unknown weekday 'fry' (expected one of mon, tue, wed, thu, fri, sat, sun)",
        )
    ]


def test_malformed_weekly_moment():
    spec = schedule_spec()
    spec["layers"][1]["restrictions"] = [{"weekly": {"from": "mon", "to": "fri 17h"}}]
    assert issues_of(spec) == [
        ("spec.layers[1].restrictions[0].weekly.from", "expected '<weekday> HH:MM' like 'mon 09:00', found 'mon'"),
        ("spec.layers[1].restrictions[0].weekly.to", "expected '<weekday> HH:MM' like 'mon 09:00', found 'fri 17h'"),
    ]


@pytest.mark.parametrize("value", ["2026-01-05", "2026-13-05T09:00", "05/01/2026 09:00", "2026-01-05T9:00", 20260105])
def test_bad_local_date_time_formats(value):
    spec = schedule_spec()
    spec["layers"][0]["start"] = value
    shown = f"'{value}'" if isinstance(value, str) else str(value)
    assert issues_of(spec) == [
        ("spec.layers[0].start", f"expected a local date-time like 2026-01-05T09:00, found {shown}")
    ]


def test_layer_start_with_an_offset_is_refused():
    spec = schedule_spec()
    spec["layers"][0]["start"] = "2026-01-05T09:00+01:00"
    assert issues_of(spec) == [
        (
            "spec.layers[0].start",
            "expected a local date-time without offset like 2026-01-05T09:00, found '2026-01-05T09:00+01:00'",
        )
    ]


def test_override_end_not_after_start():
    spec = schedule_spec()
    spec["overrides"] = [
        {"user": "user:erin", "from": "2026-03-08T09:00", "to": "2026-03-07T09:00"},
        {"user": "user:erin", "from": "2026-03-08T09:00", "to": "2026-03-08T09:00"},
        # Both ends fall in the spring-forward gap and resolve to the same instant.
        {"user": "user:erin", "from": "2026-03-29T02:10", "to": "2026-03-29T02:50"},
    ]
    assert issues_of(spec) == [
        (
            "spec.overrides[0].to",
            "override end must be after its start (from 2026-03-08T09:00:00, to 2026-03-07T09:00:00)",
        ),
        (
            "spec.overrides[1].to",
            "override end must be after its start (from 2026-03-08T09:00:00, to 2026-03-08T09:00:00)",
        ),
        (
            "spec.overrides[2].to",
            "override end must be after its start (from 2026-03-29T02:10:00, to 2026-03-29T02:50:00)",
        ),
    ]


def test_override_fields_required_and_user_must_be_a_user():
    spec = schedule_spec()
    spec["overrides"] = [{"from": "2026-03-08T09:00"}, {"user": "group:ops", "from": "x", "to": "2026-03-08T09:00"}]
    assert issues_of(spec) == [
        ("spec.overrides[0].user", "'user' is required"),
        ("spec.overrides[0].to", "'to' is required"),
        ("spec.overrides[1].user", "override users must be user refs, found 'group:ops'"),
        ("spec.overrides[1].from", "expected a local date-time like 2026-01-05T09:00, found 'x'"),
    ]


def test_unknown_fields_are_reported_with_the_known_ones():
    spec = schedule_spec()
    spec["layer"] = []
    spec["layers"][1]["restriction"] = [{"daily": {"from": "09:00", "to": "17:00"}}]
    assert issues_of(spec) == [
        ("spec.layer", "unknown field 'layer' (expected one of: owner, description, timezone, layers, overrides)"),
        (
            "spec.layers[1].restriction",
            "unknown field 'restriction' (expected one of: name, start, turn, members, restrictions)",
        ),
    ]


def test_no_layers_and_spec_not_a_mapping():
    spec = schedule_spec()
    spec["layers"] = []
    assert issues_of(spec) == [("spec.layers", "at least one layer is required")]
    del spec["layers"]
    assert issues_of(spec) == [("spec.layers", "at least one layer is required")]
    assert issues_of(["nope"]) == [("spec", "expected a mapping, found a list")]


def test_layer_names_default_and_must_be_unique():
    spec = schedule_spec()
    del spec["layers"][0]["name"]
    assert [layer.name for layer in schedule_from_spec("x", spec).layers] == ["layer-1", "weekday-days"]
    spec["layers"][0]["name"] = "weekday-days"
    assert issues_of(spec) == [("spec.layers[1].name", "duplicate layer name 'weekday-days' (also spec.layers[0])")]
    spec["layers"][0]["name"] = "  "
    assert issues_of(spec) == [("spec.layers[0].name", "expected a non-empty name, found '  '")]


# Policy validation messages ---------------------------------------------------------------------


def test_levels_empty():
    spec = policy_spec()
    spec["levels"] = []
    assert policy_issues_of(spec) == [("spec.levels", "at least one level is required")]
    del spec["levels"]
    assert policy_issues_of(spec) == [("spec.levels", "at least one level is required")]


def test_delay_minutes_negative_missing_or_not_a_number():
    spec = policy_spec()
    spec["levels"][0]["delayMinutes"] = -5
    del spec["levels"][1]["delayMinutes"]
    assert policy_issues_of(spec) == [
        ("spec.levels[0].delayMinutes", "delayMinutes must not be negative, found -5"),
        ("spec.levels[1].delayMinutes", "'delayMinutes' is required"),
    ]
    spec["levels"][1]["delayMinutes"] = "15"
    spec["levels"][0]["delayMinutes"] = True
    assert policy_issues_of(spec) == [
        ("spec.levels[0].delayMinutes", "expected a whole number of minutes, found True"),
        ("spec.levels[1].delayMinutes", "expected a whole number of minutes, found '15'"),
    ]


def test_delay_minutes_zero_is_allowed():
    spec = policy_spec()
    spec["levels"][0]["delayMinutes"] = 0
    assert policy_issues_of(spec) == []


def test_targets_that_are_neither_schedules_nor_users():
    spec = policy_spec()
    spec["levels"][0]["targets"] = ["schedule:ok", "group:payments", "alice", 3]
    assert policy_issues_of(spec) == [
        ("spec.levels[0].targets[1]", "targets must be schedule: or user: refs, found 'group:payments'"),
        ("spec.levels[0].targets[2]", "targets must be schedule: or user: refs, found 'alice'"),
        ("spec.levels[0].targets[3]", "targets must be schedule: or user: refs, found 3"),
    ]


def test_empty_targets():
    spec = policy_spec()
    spec["levels"][1]["targets"] = []
    assert policy_issues_of(spec) == [("spec.levels[1].targets", "a level needs at least one target")]


def test_repeat_negative_or_not_a_number():
    spec = policy_spec()
    spec["repeat"] = -1
    assert policy_issues_of(spec) == [("spec.repeat", "repeat must not be negative, found -1")]
    spec["repeat"] = "twice"
    assert policy_issues_of(spec) == [("spec.repeat", "expected a whole number, found 'twice'")]
    del spec["repeat"]
    assert policy_from_spec("p", spec).repeat == 0


def test_policy_unknown_fields_and_bad_levels():
    spec = policy_spec()
    spec["levels"][0]["delay"] = 5
    spec["levels"].append("schedule:x")
    assert policy_issues_of(spec) == [
        ("spec.levels[0].delay", "unknown field 'delay' (expected one of: delayMinutes, targets)"),
        ("spec.levels[2]", "expected a mapping, found 'schedule:x'"),
    ]
    with pytest.raises(SpecError):
        policy_from_spec("p", spec)
