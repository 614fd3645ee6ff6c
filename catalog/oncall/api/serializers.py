"""Shapes of /api/oncall/: instants, the overrides' input and output serializers, and the documented bodies of the
read endpoints with the functions that build them from the selectors' results.

Instants are ISO 8601 with an offset (`2026-03-04T12:00:00Z`); a naive time is rejected rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from catalog.api.serializers import StrictCharField
from catalog.oncall.engine import Segment, Timeline
from catalog.oncall.loading import LoadedSchedule
from catalog.oncall.models import OnCallOverride
from catalog.oncall.presentation import CoverageView
from catalog.oncall.selectors import EntityOnCall, PersonOnCall
from portal.exceptions import ApplicationError

FIRST_YEAR: Final = 1900
LAST_YEAR: Final = 2199


def parse_instant(value: str, name: str) -> datetime:
    """An aware datetime from ISO 8601 text (Z or an offset required)."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError as error:
        raise ApplicationError(
            f"{name} must be an ISO 8601 instant like 2026-03-04T12:00:00Z, got '{value}'."
        ) from error
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ApplicationError(f"{name} needs a time zone offset or Z (got '{value}').")
    # Far-off years overflow once shifted to UTC or a window is added; no schedule reaches them.
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise ApplicationError(f"{name} must lie in the years {FIRST_YEAR} to {LAST_YEAR} (got '{value}').")
    return parsed


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@extend_schema_field(OpenApiTypes.DATETIME)
class InstantField(serializers.Field[datetime, datetime, str, Any]):
    """An ISO instant that must carry an offset; written back in UTC."""

    default_error_messages = {"invalid": "Expected an ISO 8601 instant with an offset or Z, like 2026-03-04T12:00Z."}

    def to_internal_value(self, data: Any) -> datetime:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return parse_instant(data, self.field_name or "value")
        except ApplicationError:
            self.fail("invalid")

    def to_representation(self, value: datetime) -> str:
        return iso(value) or ""


# -- who is on call ---------------------------------------------------------------------------------------------------


_ON_CALL = inline_serializer(
    "OnCallEntry",
    {
        "userRef": serializers.CharField(),
        "name": serializers.CharField(),
        "email": serializers.CharField(allow_blank=True),
        "from": serializers.CharField(
            allow_null=True, help_text="Shift start; null for a user target or past 90 days."
        ),
        "until": serializers.CharField(allow_null=True, help_text="Shift end; null for a user target or past 90 days."),
        "scheduleRef": serializers.CharField(allow_null=True),
    },
    many=True,
)
_NEXT = inline_serializer(
    "OnCallNext",
    {
        "userRef": serializers.CharField(),
        "name": serializers.CharField(),
        "from": serializers.CharField(),
        "scheduleRef": serializers.CharField(),
    },
    many=True,
)
NOW_OUTPUT = inline_serializer(
    "OnCallNow",
    {
        "entityRef": serializers.CharField(),
        "policyRef": serializers.CharField(allow_null=True),
        "at": serializers.CharField(),
        "levels": inline_serializer(
            "OnCallLevel",
            {
                "level": serializers.IntegerField(),
                "delayMinutes": serializers.IntegerField(),
                "onCall": _ON_CALL,
                "next": _NEXT,
                "gap": serializers.BooleanField(),
                "notes": serializers.ListField(child=serializers.CharField()),
            },
            many=True,
        ),
        "summary": serializers.CharField(),
    },
)


def _ref(schedule: LoadedSchedule | None) -> str | None:
    return schedule.ref if schedule else None


def now_json(oncall: EntityOnCall, at: datetime) -> dict[str, Any]:
    """The body of /api/oncall/now: every level of the entity's policy at `at`, or why there is none."""
    body: dict[str, Any] = {"entityRef": oncall.entity.ref, "policyRef": oncall.policy_ref, "at": iso(at), "levels": []}
    now = oncall.now
    if now is None:
        body["summary"] = f"{oncall.entity.ref} has no escalation policy."
        return body
    if now.policy.policy is None:
        body["summary"] = now.policy.problem
        return body
    body["levels"] = [
        {
            "level": level.level,
            "delayMinutes": level.delay_minutes,
            "onCall": [
                {
                    "userRef": entry.person.ref,
                    "name": entry.person.name,
                    "email": entry.person.email,
                    "from": iso(entry.start),
                    "until": iso(entry.until),
                    "scheduleRef": _ref(entry.schedule),
                }
                for entry in level.on_call
            ],
            "next": [
                {"userRef": e.person.ref, "name": e.person.name, "from": iso(e.start), "scheduleRef": _ref(e.schedule)}
                for e in level.next
            ],
            "gap": level.gap,
            "notes": list(level.notes),
        }
        for level in now.levels
    ]
    body["summary"] = now.summary
    return body


# -- schedules --------------------------------------------------------------------------------------------------------


_SEGMENT = inline_serializer(
    "OnCallSegment",
    {
        "from": serializers.CharField(),
        "until": serializers.CharField(),
        "userRef": serializers.CharField(allow_null=True),
        "sources": serializers.ListField(child=serializers.CharField()),
    },
)


def _segment_list() -> serializers.BaseSerializer[Any]:
    # A field instance per use, of the one component class.
    return type(_SEGMENT)(many=True)


TIMELINE_OUTPUT = inline_serializer(
    "OnCallTimeline",
    {
        "scheduleRef": serializers.CharField(),
        "timezone": serializers.CharField(),
        "from": serializers.CharField(),
        "to": serializers.CharField(),
        "layers": inline_serializer(
            "OnCallTimelineLayer", {"name": serializers.CharField(), "segments": _segment_list()}, many=True
        ),
        "overrides": _segment_list(),
        "final": _segment_list(),
    },
)


def _segments(segments: Iterable[Segment]) -> list[dict[str, Any]]:
    return [
        {"from": iso(s.start), "until": iso(s.end), "userRef": s.user, "sources": list(s.sources)} for s in segments
    ]


def timeline_json(schedule: LoadedSchedule, drawn: Timeline, start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "scheduleRef": schedule.ref,
        "timezone": schedule.zone.key,
        "from": iso(start),
        "to": iso(end),
        "layers": [{"name": layer.name, "segments": _segments(layer.segments)} for layer in drawn.layers],
        "overrides": _segments(drawn.overrides),
        "final": _segments(drawn.final),
    }


COVERAGE_OUTPUT = inline_serializer(
    "OnCallCoverage",
    {
        "scheduleRef": serializers.CharField(),
        "from": serializers.CharField(),
        "to": serializers.CharField(),
        "percent": serializers.FloatField(),
        "gaps": inline_serializer(
            "OnCallGap", {"from": serializers.CharField(), "until": serializers.CharField()}, many=True
        ),
        "longestGapSeconds": serializers.IntegerField(),
        "balance": inline_serializer(
            "OnCallBalance",
            {"userRef": serializers.CharField(), "hours": serializers.FloatField()},
            many=True,
        ),
    },
)


def coverage_json(schedule: LoadedSchedule, view: CoverageView) -> dict[str, Any]:
    return {
        "scheduleRef": schedule.ref,
        "from": iso(view.start),
        "to": iso(view.end),
        "percent": view.percent,
        "gaps": [{"from": iso(s), "until": iso(e)} for s, e in view.gaps],
        "longestGapSeconds": int(view.longest_gap.total_seconds()),
        "balance": [{"userRef": person.ref, "hours": hours} for person, hours, _ in view.balance],
    }


# -- overrides --------------------------------------------------------------------------------------------------------


class OverrideOutputSerializer(serializers.ModelSerializer[OnCallOverride]):
    scheduleRef = serializers.CharField(source="schedule_ref")
    userRef = serializers.CharField(source="user_ref")
    start = InstantField()
    end = InstantField()
    createdBy = serializers.SerializerMethodField()
    createdAt = InstantField(source="created_at")

    class Meta:
        model = OnCallOverride
        fields = ["id", "scheduleRef", "userRef", "start", "end", "reason", "createdBy", "createdAt"]

    def get_createdBy(self, override: OnCallOverride) -> str | None:
        return override.created_by.get_username() if override.created_by is not None else None


class OverrideInputSerializer(serializers.Serializer[Any]):
    scheduleRef = StrictCharField(max_length=300)
    userRef = StrictCharField(max_length=300)
    start = InstantField()
    end = InstantField()
    reason = StrictCharField(max_length=500, required=False, allow_blank=True, default="")


class OverridePatchSerializer(serializers.Serializer[Any]):
    userRef = StrictCharField(max_length=300, required=False)
    start = InstantField(required=False)
    end = InstantField(required=False)
    reason = StrictCharField(max_length=500, required=False, allow_blank=True)


# -- people -----------------------------------------------------------------------------------------------------------


PERSON_OUTPUT = inline_serializer(
    "OnCallPerson",
    {
        "userRef": serializers.CharField(),
        "name": serializers.CharField(),
        "onCallNow": serializers.BooleanField(),
        "shifts": inline_serializer(
            "OnCallShift",
            {
                "scheduleRef": serializers.CharField(),
                "from": serializers.CharField(),
                "until": serializers.CharField(),
                "now": serializers.BooleanField(),
            },
            many=True,
        ),
        "policies": serializers.ListField(child=serializers.CharField()),
    },
)


def person_json(person: PersonOnCall) -> dict[str, Any]:
    return {
        "userRef": person.person.ref,
        "name": person.person.name,
        "onCallNow": bool(person.current),
        "shifts": [
            {"scheduleRef": s.schedule.ref, "from": iso(s.start), "until": iso(s.end), "now": s.now}
            for s in person.shifts
        ],
        "policies": [policy.ref for policy in person.direct_policies],
    }
