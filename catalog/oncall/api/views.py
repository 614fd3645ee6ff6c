"""/api/oncall/: who is on call for an entity, schedule timelines and coverage, overrides, a person's shifts.

Each endpoint parses its input, calls one selector or service of the on-call room and renders the result; errors use
the portal's (Backstage's) error body.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import query
from catalog.oncall import selectors, services
from catalog.oncall.api.serializers import (
    COVERAGE_OUTPUT,
    NOW_OUTPUT,
    PERSON_OUTPUT,
    TIMELINE_OUTPUT,
    OverrideInputSerializer,
    OverrideOutputSerializer,
    OverridePatchSerializer,
    coverage_json,
    now_json,
    parse_instant,
    person_json,
    timeline_json,
)
from catalog.oncall.engine import normalize_ref
from catalog.oncall.models import OnCallOverride
from portal.api.schema import error_responses
from portal.exceptions import ApplicationError, NotFoundError

MAX_RANGE: Final = timedelta(days=selectors.MAX_TIMELINE_DAYS)

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


def _instant(request: Request, name: str, default: datetime) -> datetime:
    raw = request.query_params.get(name)
    return parse_instant(raw, name) if raw else default


def _ref(value: str, kind: str, error: str) -> str:
    try:
        return normalize_ref(value, default_kind=kind)
    except ValueError as exc:
        raise ApplicationError(error) from exc


def _schedule_ref(value: str) -> str:
    return _ref(value, "schedule", f"'{value}' is not a schedule ref like schedule:default/payments-primary.")


def _no_schedule(ref: str) -> NotFoundError:
    return NotFoundError(f"There is no schedule {ref} in the catalog.")


# -- who is on call ---------------------------------------------------------------------------------------------------


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
        error = f"entity must be an entity ref like component:default/checkout, got '{raw_entity}'."
        ref = _ref(raw_entity, "component", error)
        at = _instant(request, "at", timezone.now())
        oncall = selectors.entity_oncall(ref=ref, at=at)
        if oncall is None:
            raise NotFoundError(f"There is no entity {ref} in the catalog.")
        if oncall.lookup.problem:
            raise ApplicationError(oncall.lookup.problem)
        return Response(now_json(oncall, at))


# -- schedules ------------------------------------------------------------------------------------------------------


class ScheduleTimelineApi(APIView):
    """Each layer's contribution, the overrides and the final schedule over [from, to) (at most 93 days)."""

    @extend_schema(
        parameters=[
            _SCHEDULE_REF,
            OpenApiParameter("from", OpenApiTypes.DATETIME, description="Start (ISO instant); default now."),
            OpenApiParameter("to", OpenApiTypes.DATETIME, description="End (ISO instant); default from + 14 days."),
        ],
        responses=TIMELINE_OUTPUT,
    )
    def get(self, request: Request, ref: str) -> Response:
        start = _instant(request, "from", timezone.now())
        end = _instant(request, "to", start + timedelta(days=14))
        if end <= start:
            raise ApplicationError("to must be after from.")
        if end - start > MAX_RANGE:
            raise ApplicationError(f"A timeline covers at most {MAX_RANGE.days} days.")
        schedule_ref = _schedule_ref(ref)
        found = selectors.schedule_timeline(ref=schedule_ref, start=start, end=end)
        if found is None:
            raise _no_schedule(schedule_ref)
        if found.timeline is None:
            raise ApplicationError(found.schedule.problem)
        return Response(timeline_json(found.schedule, found.timeline, start, end))


class ScheduleCoverageApi(APIView):
    """Coverage of the next `days` days (1 to 93): percent, gaps, the longest gap and hours per person."""

    @extend_schema(
        parameters=[_SCHEDULE_REF, _days_parameter(default=14, maximum=selectors.MAX_COVERAGE_DAYS)],
        responses=COVERAGE_OUTPUT,
    )
    def get(self, request: Request, ref: str) -> Response:
        days = _days(request, default=14, maximum=selectors.MAX_COVERAGE_DAYS)
        schedule_ref = _schedule_ref(ref)
        found = selectors.schedule_coverage(ref=schedule_ref, days=days)
        if found is None:
            raise _no_schedule(schedule_ref)
        if found.coverage is None:
            raise ApplicationError(found.schedule.problem)
        return Response(coverage_json(found.schedule, found.coverage))


# -- overrides --------------------------------------------------------------------------------------------------------


class OverridesApi(ListAPIView[OnCallOverride]):
    """Portal overrides, filtered by schedule and user; only current and future ones unless includePast=true.
    POST creates one (members of the schedule's owning team and admins)."""

    serializer_class = OverrideOutputSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[OnCallOverride]:
        params = self.request.query_params
        return selectors.override_list(
            schedule_ref=params.get("schedule", ""),
            user_ref=params.get("user", ""),
            include_past=query.parse_flag(params.get("includePast"), name="includePast"),
        )

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
        override = services.override_create(
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
        override = services.override_update(
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
        services.override_delete(actor=request.user, override_id=override_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- people -----------------------------------------------------------------------------------------------------------


class UserOnCallApi(APIView):
    """A person's shifts now and over the next `days` days (1 to 93, default 28), across every schedule."""

    @extend_schema(
        parameters=[_USER_REF, _days_parameter(default=28, maximum=selectors.MAX_TIMELINE_DAYS)],
        responses=PERSON_OUTPUT,
    )
    def get(self, request: Request, ref: str) -> Response:
        user_ref = _ref(ref, "user", f"'{ref}' is not a user ref like user:default/alice.")
        days = _days(request, default=28, maximum=selectors.MAX_TIMELINE_DAYS)
        person = selectors.user_oncall(user_ref=user_ref, days=days)
        if person is None:
            raise NotFoundError(f"There is no user {user_ref} in the catalog.")
        return Response(person_json(person))
