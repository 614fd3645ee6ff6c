"""/api/oncall/: who is on call for an entity, schedule timelines and coverage, overrides, a person's shifts.

Instants are ISO 8601 with an offset (`2026-03-04T12:00:00Z`); a naive time is rejected rather than guessed.
Errors use the portal's (Backstage's) error body.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import oncall_selectors, oncall_services, query
from catalog.api.serializers import StrictCharField
from catalog.models import Entity, OnCallOverride
from catalog.oncall.engine import normalize_ref
from catalog.oncall_selectors import LoadedSchedule, PolicyNow
from portal.api.schema import error_responses
from portal.exceptions import ApplicationError, NotFoundError

app_name = "oncall_api"

MAX_RANGE: Final = timedelta(days=oncall_selectors.MAX_TIMELINE_DAYS)
FIRST_YEAR: Final = 1900
LAST_YEAR: Final = 2199

# Refs in paths, with examples from the demo organisation.
_SCHEDULE_REF = OpenApiParameter(
    "ref", str, OpenApiParameter.PATH, examples=[OpenApiExample("schedule", value="schedule:default/payments-primary")]
)
_USER_REF = OpenApiParameter(
    "ref", str, OpenApiParameter.PATH, examples=[OpenApiExample("user", value="user:default/priya.raman")]
)


def _days_parameter(*, default: int, maximum: int) -> OpenApiParameter:
    return OpenApiParameter(
        "days",
        {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
        description=f"Window length in days, 1 to {maximum}; default {default}.",
    )


def _days(request: Request, *, default: int, maximum: int) -> int:
    raw = request.query_params.get("days", str(default))
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= maximum):
        raise ApplicationError(f"days must be a whole number from 1 to {maximum}.")
    return int(raw)


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


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


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


def levels_json(now: PolicyNow) -> list[dict[str, Any]]:
    return [
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
                    "scheduleRef": entry.schedule.ref if entry.schedule else None,
                }
                for entry in level.on_call
            ],
            "next": [
                {
                    "userRef": entry.person.ref,
                    "name": entry.person.name,
                    "from": iso(entry.start),
                    "scheduleRef": entry.schedule.ref if entry.schedule else None,
                }
                for entry in level.next
            ],
            "gap": level.gap,
            "notes": list(level.notes),
        }
        for level in now.levels
    ]


def _entity(value: str) -> Entity:
    try:
        ref = normalize_ref(value, default_kind="component")
    except ValueError as error:
        raise ApplicationError(
            f"entity must be an entity ref like component:default/checkout, got '{value}'."
        ) from error
    entity = Entity.objects.filter(ref=ref).first()
    if entity is None:
        raise NotFoundError(f"There is no entity {ref} in the catalog.")
    return entity


class OnCallNowApi(APIView):
    """Who is on call at every escalation level of an entity's policy, until when, and who is next."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "entity",
                str,
                required=True,
                description="Entity ref; the kind defaults to component.",
                examples=[OpenApiExample("component", value="component:default/payments-service")],
            ),
            OpenApiParameter("at", OpenApiTypes.DATETIME, description="ISO instant with offset; default now."),
        ],
        responses={200: NOW_OUTPUT, **error_responses(404)},
    )
    def get(self, request: Request) -> Response:
        raw_entity = request.query_params.get("entity", "")
        if not raw_entity:
            raise ApplicationError("The entity query parameter is required, e.g. ?entity=component:default/checkout.")
        entity = _entity(raw_entity)
        raw_at = request.query_params.get("at")
        at = parse_instant(raw_at, "at") if raw_at else timezone.now()
        card = oncall_selectors.oncall_for_entity(entity, at)
        if card.lookup.problem:
            raise ApplicationError(card.lookup.problem)
        body: dict[str, Any] = {"entityRef": entity.ref, "policyRef": card.policy_ref, "at": iso(at), "levels": []}
        if card.now is None:
            body["summary"] = f"{entity.ref} has no escalation policy."
        elif card.now.policy.policy is None:
            body["summary"] = card.now.policy.problem
        else:
            body["levels"] = levels_json(card.now)
            body["summary"] = card.now.summary
        return Response(body)


# -- schedules ------------------------------------------------------------------------------------------------------


def _schedule(ref: str, *, since: datetime | None = None) -> LoadedSchedule:
    try:
        normalized = normalize_ref(ref, default_kind="schedule")
    except ValueError as error:
        raise ApplicationError(f"'{ref}' is not a schedule ref like schedule:default/payments-primary.") from error
    loaded = oncall_selectors.load_schedule(normalized, overrides_since=since)
    if loaded is None:
        raise NotFoundError(f"There is no schedule {normalized} in the catalog.")
    if loaded.schedule is None:
        raise ApplicationError(loaded.problem)
    return loaded


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


def _segments(segments: Any) -> list[dict[str, Any]]:
    return [
        {"from": iso(s.start), "until": iso(s.end), "userRef": s.user, "sources": list(s.sources)} for s in segments
    ]


class ScheduleTimelineApi(APIView):
    """Each layer's contribution, the overrides and the final schedule over [from, to) (at most 93 days)."""

    @extend_schema(
        parameters=[
            _SCHEDULE_REF,
            OpenApiParameter("from", OpenApiTypes.DATETIME, description="Start (ISO instant); default now."),
            OpenApiParameter("to", OpenApiTypes.DATETIME, description="End (ISO instant); default from + 14 days."),
        ],
        responses=inline_serializer(
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
        ),
    )
    def get(self, request: Request, ref: str) -> Response:
        raw_from, raw_to = request.query_params.get("from"), request.query_params.get("to")
        start = parse_instant(raw_from, "from") if raw_from else timezone.now()
        end = parse_instant(raw_to, "to") if raw_to else start + timedelta(days=14)
        if end <= start:
            raise ApplicationError("to must be after from.")
        if end - start > MAX_RANGE:
            raise ApplicationError(f"A timeline covers at most {MAX_RANGE.days} days.")
        loaded = _schedule(ref, since=start)
        assert loaded.schedule is not None
        from catalog.oncall.engine import timeline

        drawn = timeline(loaded.schedule, start, end)
        return Response(
            {
                "scheduleRef": loaded.ref,
                "timezone": loaded.zone.key,
                "from": iso(start),
                "to": iso(end),
                "layers": [{"name": layer.name, "segments": _segments(layer.segments)} for layer in drawn.layers],
                "overrides": _segments(drawn.overrides),
                "final": _segments(drawn.final),
            }
        )


class ScheduleCoverageApi(APIView):
    """Coverage of the next `days` days (1 to 93): percent, gaps, the longest gap and hours per person."""

    @extend_schema(
        parameters=[_SCHEDULE_REF, _days_parameter(default=14, maximum=oncall_selectors.MAX_COVERAGE_DAYS)],
        responses=inline_serializer(
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
        ),
    )
    def get(self, request: Request, ref: str) -> Response:
        days = _days(request, default=14, maximum=oncall_selectors.MAX_COVERAGE_DAYS)
        now = timezone.now()
        loaded = _schedule(ref, since=now)
        view = oncall_selectors.schedule_coverage(loaded, days, now)
        return Response(
            {
                "scheduleRef": loaded.ref,
                "from": iso(view.start),
                "to": iso(view.end),
                "percent": view.percent,
                "gaps": [{"from": iso(s), "until": iso(e)} for s, e in view.gaps],
                "longestGapSeconds": int(view.longest_gap.total_seconds()),
                "balance": [{"userRef": person.ref, "hours": hours} for person, hours, _ in view.balance],
            }
        )


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


class OverridesApi(ListAPIView[OnCallOverride]):
    """Portal overrides, filtered by schedule and user; only current and future ones unless includePast=true.
    POST creates one (members of the schedule's owning team and admins)."""

    serializer_class = OverrideOutputSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> Any:
        params = self.request.query_params
        return oncall_selectors.override_list(
            schedule_ref=params.get("schedule", ""),
            user_ref=params.get("user", ""),
            include_past=query.parse_flag(params.get("includePast"), name="includePast"),
        ).select_related("created_by")

    @extend_schema(
        parameters=[
            OpenApiParameter("schedule", str, description="Full schedule ref."),
            OpenApiParameter("user", str, description="Full user ref."),
            OpenApiParameter("includePast", bool, description="Also overrides that have ended."),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=OverrideInputSerializer,
        responses={201: OverrideOutputSerializer, **error_responses(404)},
        examples=[
            OpenApiExample(
                "a day's cover",
                value={
                    "scheduleRef": "schedule:default/payments-primary",
                    "userRef": "user:default/chloe.martin",
                    "start": "2099-01-05T09:00:00Z",
                    "end": "2099-01-06T09:00:00Z",
                    "reason": "Covering for Priya",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = OverrideInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        override = oncall_services.override_create(
            actor=request.user,
            schedule_ref=values["scheduleRef"],
            user_ref=values["userRef"],
            start=values["start"],
            end=values["end"],
            reason=values["reason"],
        )
        return Response(OverrideOutputSerializer(override).data, status=status.HTTP_201_CREATED)


class OverrideApi(APIView):
    """Change or delete one override (members of the schedule's owning team and admins)."""

    @extend_schema(request=OverridePatchSerializer, responses=OverrideOutputSerializer)
    def patch(self, request: Request, override_id: int) -> Response:
        data = OverridePatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        override = oncall_services.override_update(
            actor=request.user,
            override_id=override_id,
            user_ref=values.get("userRef"),
            start=values.get("start"),
            end=values.get("end"),
            reason=values.get("reason"),
        )
        return Response(OverrideOutputSerializer(override).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, override_id: int) -> Response:
        oncall_services.override_delete(actor=request.user, override_id=override_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- people -----------------------------------------------------------------------------------------------------------


class UserOnCallApi(APIView):
    """A person's shifts now and over the next `days` days (1 to 93, default 28), across every schedule."""

    @extend_schema(
        parameters=[_USER_REF, _days_parameter(default=28, maximum=oncall_selectors.MAX_TIMELINE_DAYS)],
        responses=inline_serializer(
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
        ),
    )
    def get(self, request: Request, ref: str) -> Response:
        try:
            user_ref = normalize_ref(ref, default_kind="user")
        except ValueError as error:
            raise ApplicationError(f"'{ref}' is not a user ref like user:default/alice.") from error
        if not Entity.objects.filter(ref=user_ref, kind__iexact="user").exists():
            raise NotFoundError(f"There is no user {user_ref} in the catalog.")
        days = _days(request, default=28, maximum=oncall_selectors.MAX_TIMELINE_DAYS)
        person = oncall_selectors.user_oncall(user_ref, timezone.now(), days)
        return Response(
            {
                "userRef": person.person.ref,
                "name": person.person.name,
                "onCallNow": bool(person.current),
                "shifts": [
                    {"scheduleRef": s.schedule.ref, "from": iso(s.start), "until": iso(s.end), "now": s.now}
                    for s in person.shifts
                ],
                "policies": [policy.ref for policy in person.direct_policies],
            }
        )


urlpatterns = [
    path("now", OnCallNowApi.as_view(), name="now"),
    path("schedules/<path:ref>/timeline", ScheduleTimelineApi.as_view(), name="schedule_timeline"),
    path("schedules/<path:ref>/coverage", ScheduleCoverageApi.as_view(), name="schedule_coverage"),
    path("overrides", OverridesApi.as_view(), name="overrides"),
    path("overrides/<int:override_id>", OverrideApi.as_view(), name="override"),
    path("users/<path:ref>", UserOnCallApi.as_view(), name="user"),
]
