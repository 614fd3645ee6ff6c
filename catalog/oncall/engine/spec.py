"""Reading ``Schedule`` and ``EscalationPolicy`` specs (``paved.dev/v1alpha1``) into the model.

Validation reports every problem at once, each with a path into the descriptor
(``spec.layers[1].turn``) and a message a person can act on. Unknown fields are errors: a typo
such as ``restriction:`` would otherwise silently put someone on call around the clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from itertools import combinations
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .localtime import resolve
from .model import (
    WEEKDAYS,
    DailyWindow,
    EscalationLevel,
    EscalationPolicy,
    Layer,
    Override,
    Restriction,
    Schedule,
    Target,
    Turn,
    TurnUnit,
    WeeklyWindow,
)
from .refs import normalize_ref, ref_kind

SCHEDULE_SPEC_FIELDS = ("owner", "description", "timezone", "layers", "overrides")
LAYER_FIELDS = ("name", "start", "turn", "members", "restrictions")
OVERRIDE_FIELDS = ("user", "from", "to")
WINDOW_FIELDS = ("from", "to")
POLICY_SPEC_FIELDS = ("owner", "description", "repeat", "levels")
LEVEL_FIELDS = ("delayMinutes", "targets")

_TURN = re.compile(r"^(\d+)([hdw])$")
_LOCAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?$")
_OFFSET_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:\d{2})$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_WEEKLY = re.compile(r"^([A-Za-z]+)\s+(\S+)$")
_FULL_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True, slots=True)
class SpecIssue:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class SpecError(ValueError):
    """A spec that cannot be turned into a model; ``issues`` lists every problem found."""

    def __init__(self, issues: Sequence[SpecIssue]) -> None:
        self.issues: tuple[SpecIssue, ...] = tuple(issues)
        super().__init__("; ".join(str(issue) for issue in self.issues))


def _shown(value: object) -> str:
    return f"'{value}'" if isinstance(value, str) else repr(value)


def _type_name(value: object) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return _shown(value)


class _Reader:
    """Collects issues while reading; each ``_read_*`` returns None when its value is unusable."""

    def __init__(self, default_namespace: str) -> None:
        self.issues: list[SpecIssue] = []
        self.default_namespace = default_namespace

    def issue(self, path: str, message: str) -> None:
        self.issues.append(SpecIssue(path, message))

    def mapping(self, value: object, path: str, fields: Sequence[str]) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.issue(path, f"expected a mapping, found {_type_name(value)}")
            return None
        for key in value:
            if key not in fields:
                self.issue(f"{path}.{key}", f"unknown field '{key}' (expected one of: {', '.join(fields)})")
        return value

    def sequence(self, value: object, path: str, what: str) -> Sequence[Any] | None:
        if not isinstance(value, list | tuple):
            self.issue(path, f"expected a list of {what}, found {_type_name(value)}")
            return None
        return value

    def user_ref(self, value: object, path: str, role: str) -> str | None:
        if not isinstance(value, str):
            self.issue(path, f"expected a user ref like user:alice, found {_shown(value)}")
            return None
        try:
            ref = normalize_ref(value, default_kind="user", default_namespace=self.default_namespace)
        except ValueError:
            self.issue(path, f"expected a user ref like user:alice, found {_shown(value)}")
            return None
        if ref_kind(ref) != "user":
            self.issue(path, f"{role} must be user refs, found {_shown(value)}")
            return None
        return ref

    def timezone(self, value: object, path: str) -> ZoneInfo | None:
        if value is None:
            self.issue(path, "a time zone is required, e.g. Europe/Berlin")
            return None
        if not isinstance(value, str) or not value:
            self.issue(path, f"expected an IANA time zone name like Europe/Berlin, found {_shown(value)}")
            return None
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            self.issue(path, f"unknown time zone '{value}'")
            return None

    def local_datetime(self, value: object, path: str, *, allow_offset: bool) -> datetime | None:
        """A naive local date-time, or (when ``allow_offset``) an aware one if an offset was given."""
        example = "2026-01-05T09:00"
        if isinstance(value, datetime):
            if value.tzinfo is None or allow_offset:
                return value
            self.issue(path, f"expected a local date-time without offset like {example}, found '{value.isoformat()}'")
            return None
        if isinstance(value, str):
            if _LOCAL_DATETIME.match(value) or (allow_offset and _OFFSET_DATETIME.match(value)):
                try:
                    return datetime.fromisoformat(value)
                except ValueError:
                    pass
            elif _OFFSET_DATETIME.match(value):
                self.issue(path, f"expected a local date-time without offset like {example}, found '{value}'")
                return None
        self.issue(path, f"expected a local date-time like {example}, found {_shown(value)}")
        return None

    def time_of_day(self, value: object, path: str, *, is_end: bool) -> time | None:
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML 1.1 reads an unquoted 17:00 as the base-60 number 1020.
            self.issue(path, f'expected a quoted time like "17:00", found the number {value} (quote the time)')
            return None
        parsed = _parse_time(value, is_end=is_end) if isinstance(value, str) else None
        if parsed is None:
            self.issue(path, f"expected HH:MM, found {_shown(value)}")
        return parsed

    def weekly_moment(self, value: object, path: str, *, is_end: bool) -> tuple[int, time] | None:
        match = _WEEKLY.match(value.strip()) if isinstance(value, str) else None
        if match is None:
            self.issue(path, f"expected '<weekday> HH:MM' like 'mon 09:00', found {_shown(value)}")
            return None
        day_name, clock = match[1].lower(), match[2]
        if day_name in WEEKDAYS:
            day = WEEKDAYS.index(day_name)
        elif day_name in _FULL_WEEKDAYS:
            day = _FULL_WEEKDAYS.index(day_name)
        else:
            self.issue(path, f"unknown weekday '{match[1]}' (expected one of {', '.join(WEEKDAYS)})")
            return None
        parsed = _parse_time(clock, is_end=is_end)
        if parsed is None:
            self.issue(path, f"expected '<weekday> HH:MM' like 'mon 09:00', found {_shown(value)}")
            return None
        if clock.startswith("24"):
            day = (day + 1) % 7
        return day, parsed


def _parse_time(value: str, *, is_end: bool) -> time | None:
    match = _TIME.match(value.strip())
    if match is None:
        return None
    hour, minute = int(match[1]), int(match[2])
    # "to: 24:00" is the natural way to write "until the end of the day".
    if is_end and hour == 24 and minute == 0:
        return time(0, 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _parse_turn(reader: _Reader, value: object, path: str) -> Turn | None:
    match = _TURN.match(value.strip()) if isinstance(value, str) else None
    if match is None or int(match[1]) < 1:
        reader.issue(path, f"expected <n>h|d|w, found {_shown(value)}")
        return None
    unit: TurnUnit = "h" if match[2] == "h" else "d" if match[2] == "d" else "w"
    return Turn(int(match[1]), unit)


def _parse_restriction(reader: _Reader, value: object, path: str) -> Restriction | None:
    window = reader.mapping(value, path, ("daily", "weekly"))
    if window is None:
        return None
    kinds = [key for key in ("daily", "weekly") if key in window]
    if len(kinds) != 1:
        if not kinds and not set(window) - {"daily", "weekly"}:
            reader.issue(path, "expected exactly one of daily or weekly, found an empty mapping")
        elif len(kinds) > 1:
            reader.issue(path, "expected exactly one of daily or weekly, found both")
        return None
    kind = kinds[0]
    inner_path = f"{path}.{kind}"
    inner = reader.mapping(window[kind], inner_path, WINDOW_FIELDS)
    if inner is None:
        return None
    for key in WINDOW_FIELDS:
        if key not in inner:
            reader.issue(f"{inner_path}.{key}", f"'{key}' is required")
    if any(key not in inner for key in WINDOW_FIELDS):
        return None
    if kind == "daily":
        start = reader.time_of_day(inner["from"], f"{inner_path}.from", is_end=False)
        end = reader.time_of_day(inner["to"], f"{inner_path}.to", is_end=True)
        if start is None or end is None:
            return None
        if start != end:
            return DailyWindow(start, end)
        whole = "a window from 00:00 to 24:00 covers the whole day"
        _empty_window(reader, path, inner["to"], whole, f"{start:%H:%M}")
        return None
    begin = reader.weekly_moment(inner["from"], f"{inner_path}.from", is_end=False)
    finish = reader.weekly_moment(inner["to"], f"{inner_path}.to", is_end=True)
    if begin is None or finish is None:
        return None
    if begin == finish:
        moment = f"{WEEKDAYS[begin[0]]} {begin[1]:%H:%M}"
        _empty_window(reader, path, inner["to"], "this window covers the whole week", moment)
        return None
    return WeeklyWindow(begin[0], begin[1], finish[0], finish[1])


def _empty_window(reader: _Reader, path: str, to: object, whole: str, moment: str) -> None:
    """Report a window whose ends meet: all the time when it ends at 24:00, else none of it."""
    if _is_end_of_day(to):
        reader.issue(path, f"{whole}; drop the restriction instead")
    else:
        reader.issue(path, f"empty window: from and to are both {moment}")


def _is_end_of_day(value: object) -> bool:
    return isinstance(value, str) and value.strip().endswith("24:00")


def _windows_overlap(first: Restriction, second: Restriction) -> bool:
    return any(
        a_start < b_end and b_start < a_end
        for a_start, a_end in first.week_minutes()
        for b_start, b_end in second.week_minutes()
    )


def _parse_layer(reader: _Reader, value: object, path: str, index: int) -> Layer | None:
    layer = reader.mapping(value, path, LAYER_FIELDS)
    if layer is None:
        return None
    name = layer.get("name", f"layer-{index + 1}")
    if not isinstance(name, str) or not name.strip():
        reader.issue(f"{path}.name", f"expected a non-empty name, found {_shown(name)}")
        name = None
    start = None
    if "start" not in layer:
        reader.issue(f"{path}.start", "'start' is required (the first handoff, local time, like 2026-01-05T09:00)")
    else:
        start = reader.local_datetime(layer["start"], f"{path}.start", allow_offset=False)
    turn = None
    if "turn" not in layer:
        reader.issue(f"{path}.turn", "'turn' is required, like 1w, 1d or 12h")
    else:
        turn = _parse_turn(reader, layer["turn"], f"{path}.turn")

    members: list[str] = []
    members_ok = True
    raw_members = reader.sequence(layer.get("members", []), f"{path}.members", "user refs")
    if raw_members is None:
        members_ok = False
    elif not raw_members:
        reader.issue(f"{path}.members", "a layer needs at least one member")
        members_ok = False
    else:
        for j, member in enumerate(raw_members):
            ref = reader.user_ref(member, f"{path}.members[{j}]", "members")
            if ref is None:
                members_ok = False
            else:
                members.append(ref)

    restrictions: list[Restriction] = []
    restrictions_ok = True
    raw_restrictions = reader.sequence(layer.get("restrictions", []), f"{path}.restrictions", "restriction windows")
    if raw_restrictions is None:
        restrictions_ok = False
    else:
        parsed: list[tuple[int, Restriction]] = []
        for j, item in enumerate(raw_restrictions):
            window = _parse_restriction(reader, item, f"{path}.restrictions[{j}]")
            if window is None:
                restrictions_ok = False
            else:
                parsed.append((j, window))
        for (i, first), (j, second) in combinations(parsed, 2):
            if _windows_overlap(first, second):
                reader.issue(
                    f"{path}.restrictions[{j}]",
                    f"restriction windows overlap: restrictions[{i}] ({first}) and restrictions[{j}] ({second})",
                )
                restrictions_ok = False
        restrictions = [window for _, window in parsed]

    if name is None or start is None or turn is None or not members_ok or not restrictions_ok:
        return None
    assert isinstance(start, datetime)
    return Layer(name.strip(), start, turn, tuple(members), tuple(restrictions))


def _to_instant(value: datetime, zone: ZoneInfo | None) -> datetime | None:
    if value.tzinfo is not None:
        return value
    return None if zone is None else resolve(value, zone)


def _parse_override(reader: _Reader, value: object, path: str, zone: ZoneInfo | None) -> Override | None:
    override = reader.mapping(value, path, OVERRIDE_FIELDS)
    if override is None:
        return None
    values: dict[str, object] = {}
    for key in OVERRIDE_FIELDS:
        if key not in override:
            reader.issue(f"{path}.{key}", f"'{key}' is required")
    user = reader.user_ref(override["user"], f"{path}.user", "override users") if "user" in override else None
    for key in ("from", "to"):
        if key in override:
            values[key] = reader.local_datetime(override[key], f"{path}.{key}", allow_offset=True)
    start, end = values.get("from"), values.get("to")
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        return None
    start_at, end_at = _to_instant(start, zone), _to_instant(end, zone)
    if start_at is None or end_at is None:
        # Without a usable zone, two local times can still be compared with each other.
        if start.tzinfo is None and end.tzinfo is None and end <= start:
            reader.issue(
                f"{path}.to",
                f"override end must be after its start (from {start.isoformat()}, to {end.isoformat()})",
            )
        return None
    if end_at <= start_at:
        reader.issue(
            f"{path}.to",
            f"override end must be after its start (from {start.isoformat()}, to {end.isoformat()})",
        )
        return None
    if user is None:
        return None
    return Override(user, start_at, end_at)


def _read_schedule(ref: str, spec: object, default_namespace: str) -> tuple[Schedule | None, list[SpecIssue]]:
    reader = _Reader(default_namespace)
    body = reader.mapping(spec, "spec", SCHEDULE_SPEC_FIELDS)
    if body is None:
        return None, reader.issues
    zone = reader.timezone(body.get("timezone"), "spec.timezone")

    layers: list[Layer] = []
    raw_layers = reader.sequence(body.get("layers", []), "spec.layers", "layers")
    if raw_layers is not None and not raw_layers:
        reader.issue("spec.layers", "at least one layer is required")
    seen_names: dict[str, int] = {}
    for i, item in enumerate(raw_layers or []):
        layer = _parse_layer(reader, item, f"spec.layers[{i}]", i)
        if layer is None:
            continue
        if layer.name in seen_names:
            reader.issue(
                f"spec.layers[{i}].name",
                f"duplicate layer name '{layer.name}' (also spec.layers[{seen_names[layer.name]}])",
            )
            continue
        seen_names[layer.name] = i
        layers.append(layer)

    overrides: list[Override] = []
    raw_overrides = reader.sequence(body.get("overrides", []), "spec.overrides", "overrides")
    for i, item in enumerate(raw_overrides or []):
        override = _parse_override(reader, item, f"spec.overrides[{i}]", zone)
        if override is not None:
            overrides.append(override)

    if reader.issues or zone is None:
        return None, reader.issues
    return Schedule(ref, zone, tuple(layers), tuple(overrides)), reader.issues


def _normalized_own_ref(ref: str, kind: str, default_namespace: str) -> str:
    try:
        normalized = normalize_ref(ref, default_kind=kind, default_namespace=default_namespace)
    except ValueError as error:
        raise SpecError([SpecIssue("metadata.name", str(error))]) from error
    if ref_kind(normalized) != kind:
        raise SpecError([SpecIssue("metadata.name", f"expected a {kind} ref, found '{ref}'")])
    return normalized


def validate_schedule_spec(spec: object, *, default_namespace: str = "default") -> list[SpecIssue]:
    """Every problem in a Schedule ``spec``; empty when it is valid."""
    return _read_schedule("schedule:default/validation", spec, default_namespace)[1]


def schedule_from_spec(ref: str, spec: object, *, default_namespace: str = "default") -> Schedule:
    """The schedule described by ``spec``; raises SpecError listing every issue when it is invalid.

    ``ref`` may be shorthand (``payments-primary``); it is normalised to
    ``schedule:<namespace>/<name>``, the key policies use for their targets.
    """
    normalized = _normalized_own_ref(ref, "schedule", default_namespace)
    schedule, issues = _read_schedule(normalized, spec, default_namespace)
    if schedule is None:
        raise SpecError(issues)
    return schedule


def _read_policy(ref: str, spec: object, default_namespace: str) -> tuple[EscalationPolicy | None, list[SpecIssue]]:
    reader = _Reader(default_namespace)
    body = reader.mapping(spec, "spec", POLICY_SPEC_FIELDS)
    if body is None:
        return None, reader.issues

    repeat = body.get("repeat", 0)
    if isinstance(repeat, bool) or not isinstance(repeat, int):
        reader.issue("spec.repeat", f"expected a whole number, found {_shown(repeat)}")
    elif repeat < 0:
        reader.issue("spec.repeat", f"repeat must not be negative, found {repeat}")

    levels: list[EscalationLevel] = []
    raw_levels = reader.sequence(body.get("levels", []), "spec.levels", "levels")
    if raw_levels is not None and not raw_levels:
        reader.issue("spec.levels", "at least one level is required")
    for i, item in enumerate(raw_levels or []):
        path = f"spec.levels[{i}]"
        level = reader.mapping(item, path, LEVEL_FIELDS)
        if level is None:
            continue
        delay = level.get("delayMinutes")
        delay_ok = False
        if "delayMinutes" not in level:
            reader.issue(f"{path}.delayMinutes", "'delayMinutes' is required")
        elif isinstance(delay, bool) or not isinstance(delay, int):
            reader.issue(f"{path}.delayMinutes", f"expected a whole number of minutes, found {_shown(delay)}")
        elif delay < 0:
            reader.issue(f"{path}.delayMinutes", f"delayMinutes must not be negative, found {delay}")
        else:
            delay_ok = True
        targets: list[Target] = []
        targets_ok = True
        raw_targets = reader.sequence(level.get("targets", []), f"{path}.targets", "schedule: or user: refs")
        if raw_targets is not None and not raw_targets:
            reader.issue(f"{path}.targets", "a level needs at least one target")
        for j, raw in enumerate(raw_targets or []):
            target = _parse_target(reader, raw, f"{path}.targets[{j}]")
            if target is None:
                targets_ok = False
            else:
                targets.append(target)
        if delay_ok and targets_ok and targets:
            assert isinstance(delay, int)
            levels.append(EscalationLevel(delay, tuple(targets)))

    if reader.issues:
        return None, reader.issues
    assert isinstance(repeat, int)
    return EscalationPolicy(ref, tuple(levels), repeat), reader.issues


def _parse_target(reader: _Reader, value: object, path: str) -> Target | None:
    message = f"targets must be schedule: or user: refs, found {_shown(value)}"
    if not isinstance(value, str):
        reader.issue(path, message)
        return None
    try:
        ref = normalize_ref(value, default_kind=None, default_namespace=reader.default_namespace)
    except ValueError:
        reader.issue(path, message)
        return None
    kind = ref_kind(ref)
    if kind == "schedule":
        return Target("schedule", ref)
    if kind == "user":
        return Target("user", ref)
    reader.issue(path, message)
    return None


def validate_policy_spec(spec: object, *, default_namespace: str = "default") -> list[SpecIssue]:
    """Every problem in an EscalationPolicy ``spec``; empty when it is valid."""
    return _read_policy("escalationpolicy:default/validation", spec, default_namespace)[1]


def policy_from_spec(ref: str, spec: object, *, default_namespace: str = "default") -> EscalationPolicy:
    """The policy described by ``spec``; raises SpecError listing every issue when it is invalid.

    Targets are normalised (``schedule:payments-primary`` -> ``schedule:default/payments-primary``)
    so they match the refs of schedules built by :func:`schedule_from_spec`.
    """
    normalized = _normalized_own_ref(ref, "escalationpolicy", default_namespace)
    policy, issues = _read_policy(normalized, spec, default_namespace)
    if policy is None:
        raise SpecError(issues)
    return policy
