"""/api/scorecards/: exemptions (requested, listed, approved, rejected, revoked), campaigns with their progress, and the
history of results and levels (transitions, or the level of anything on a past date).

Each endpoint parses its input, calls one selector or service and renders the result; errors use the portal's
(Backstage's) error body, and an input error names the parameter or field it is about.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any, Final

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.descriptors.refs import RefError, parse_ref
from portal.api.pagination import PortalPagination
from portal.api.schema import error_responses
from portal.exceptions import ApplicationError, NotFoundError
from scorecards import results, selectors, services
from scorecards.api.serializers import (
    CampaignDetailSerializer,
    CampaignInputSerializer,
    CampaignOutputSerializer,
    CampaignPatchSerializer,
    EntityResultsSerializer,
    ExemptionDecisionInputSerializer,
    ExemptionInputSerializer,
    ExemptionOutputSerializer,
    LevelsAtParameters,
    LevelsAtSerializer,
    ScorecardListSerializer,
    ScorecardSummarySerializer,
    TransitionOutputSerializer,
    TransitionPageSerializer,
    entity_results_json,
    progress_json,
    scorecard_json,
)
from scorecards.filters import day_end
from scorecards.models import Campaign, Exemption, Transition

# Service arguments -> the API's field names, for input errors.
_FIELD_NAMES: Final = {
    "entity_ref": "entityRef",
    "scorecard_ref": "scorecardRef",
    "check_id": "checkId",
    "expires_at": "expiresAt",
    "target_level": "targetLevel",
    "check_ids": "checkIds",
    "due_date": "dueDate",
    "owner_ref": "ownerRef",
    "__all__": "body",
}


class InputError(ApplicationError):
    """Input that is well-formed but wrong (an unknown ref, an expiry too far out): 400, named as Backstage names it."""

    name = "InputError"


def _input_error(error: ValidationError) -> ApplicationError:
    """A service's ValidationError as an InputError whose message names each field as the API names it."""
    details: dict[str, list[str]] = {}
    if hasattr(error, "error_dict"):
        for name, messages in error.message_dict.items():
            details[_FIELD_NAMES.get(name, name)] = list(messages)
    else:
        details["body"] = list(error.messages)
    message = "; ".join(f"{name}: {text}" for name, messages in details.items() for text in messages)
    return InputError(message, extra={"details": details})


def _ref_parameter(name: str, example: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        {"type": "string", "maxLength": 300},
        description=description,
        examples=[OpenApiExample(name, value=example)],
    )


_ENTITY_REF = _ref_parameter("entityRef", "component:default/checkout", "Entity ref; the kind defaults to component.")
_SCORECARD_REF = _ref_parameter(
    "scorecardRef", "scorecard:default/production-readiness", "Scorecard ref; the kind defaults to scorecard."
)
_OWNER_REF = _ref_parameter("ownerRef", "group:default/payments", "Owner (team) ref; the kind defaults to group.")
_CHECK_ID = OpenApiParameter("checkId", {"type": "string", "maxLength": 200}, description="A check id.")
_EXEMPTION_ID = OpenApiParameter("exemption_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
_SLUG = OpenApiParameter("slug", {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"}, OpenApiParameter.PATH)


def _exemption(exemption_id: uuid.UUID) -> Exemption:
    exemption = selectors.exemption_get(exemption_id=exemption_id)
    if exemption is None:
        raise NotFoundError(f"There is no exemption {exemption_id}.")
    return exemption


def _campaign(slug: str) -> Campaign:
    campaign = selectors.campaign_get(slug=slug)
    if campaign is None:
        raise NotFoundError(f"There is no campaign {slug}.")
    return campaign


# -- exemptions -------------------------------------------------------------------------------------------------------


class ExemptionsApi(ListAPIView[Exemption]):
    """Exemptions from scorecard checks, newest first; POST asks for one (a signed-in user; someone else approves)."""

    serializer_class = ExemptionOutputSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Exemption]:
        return selectors.exemption_list(filters=self.request.query_params)

    @extend_schema(
        operation_id="scorecards_exemptions_list",
        parameters=[
            _ENTITY_REF,
            _SCORECARD_REF,
            _CHECK_ID,
            OpenApiParameter("status", {"type": "string", "enum": Exemption.Status.values}),
        ],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=ExemptionInputSerializer,
        responses={201: ExemptionOutputSerializer, **error_responses(409)},
        examples=[
            OpenApiExample(
                "a month without a runbook",
                value={
                    "entityRef": "component:default/payments-service",
                    "scorecardRef": "scorecard:default/production-readiness",
                    "checkId": "runbook",
                    "reason": "The runbook is being rewritten with the new on-call rotation.",
                    "expiresAt": "2099-01-31T00:00:00Z",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = ExemptionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            exemption = services.exemption_request(
                actor=request.user,
                entity_ref=values["entityRef"],
                scorecard_ref=values["scorecardRef"],
                check_id=values["checkId"],
                reason=values["reason"],
                expires_at=values["expiresAt"],
            )
        except ValidationError as error:
            raise _input_error(error) from None
        return Response(ExemptionOutputSerializer(exemption).data, status=status.HTTP_201_CREATED)


class ExemptionApi(APIView):
    """One exemption."""

    @extend_schema(parameters=[_EXEMPTION_ID], responses={200: ExemptionOutputSerializer, **error_responses(404)})
    def get(self, request: Request, exemption_id: uuid.UUID) -> Response:
        return Response(ExemptionOutputSerializer(_exemption(exemption_id)).data)


class _ExemptionDecisionApi(APIView):
    decide: Any  # the service

    def post(self, request: Request, exemption_id: uuid.UUID) -> Response:
        data = ExemptionDecisionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        exemption = _exemption(exemption_id)
        try:
            decided = type(self).decide(exemption=exemption, actor=request.user, comment=data.validated_data["comment"])
        except ValidationError as error:
            raise _input_error(error) from None
        return Response(ExemptionOutputSerializer(decided).data)


_DECISION_SCHEMA: Final[dict[str, Any]] = {
    "parameters": [_EXEMPTION_ID],
    "request": ExemptionDecisionInputSerializer,
    "responses": {200: ExemptionOutputSerializer, **error_responses(403, 404, 409)},
}


class ExemptionApproveApi(_ExemptionDecisionApi):
    """Approve a pending exemption: administrators and members of the scorecard's owner, never whoever asked."""

    decide = staticmethod(services.exemption_approve)

    @extend_schema(**_DECISION_SCHEMA)
    def post(self, request: Request, exemption_id: uuid.UUID) -> Response:
        return super().post(request, exemption_id)


class ExemptionRejectApi(_ExemptionDecisionApi):
    """Reject a pending exemption: whoever may approve it."""

    decide = staticmethod(services.exemption_reject)

    @extend_schema(**_DECISION_SCHEMA)
    def post(self, request: Request, exemption_id: uuid.UUID) -> Response:
        return super().post(request, exemption_id)


class ExemptionRevokeApi(_ExemptionDecisionApi):
    """End a pending or approved exemption now: whoever asked for it, or whoever may approve it."""

    decide = staticmethod(services.exemption_revoke)

    @extend_schema(**_DECISION_SCHEMA)
    def post(self, request: Request, exemption_id: uuid.UUID) -> Response:
        return super().post(request, exemption_id)


# -- campaigns --------------------------------------------------------------------------------------------------------


class CampaignsApi(ListAPIView[Campaign]):
    """Campaigns, soonest due first; POST starts one (administrators and members of the scorecard's owner)."""

    serializer_class = CampaignOutputSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Campaign]:
        return selectors.campaign_list(filters=self.request.query_params)

    @extend_schema(operation_id="scorecards_campaigns_list", parameters=[_SCORECARD_REF, _OWNER_REF])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=CampaignInputSerializer,
        responses={201: CampaignOutputSerializer, **error_responses(403, 409)},
        examples=[
            OpenApiExample(
                "services to silver",
                value={
                    "slug": "silver-by-spring",
                    "title": "Every service Silver by spring",
                    "scorecardRef": "scorecard:default/production-readiness",
                    "targetLevel": "Silver",
                    "filter": "kind=component,spec.type=service",
                    "dueDate": "2099-03-31",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = CampaignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            campaign = services.campaign_create(
                actor=request.user,
                slug=values["slug"],
                title=values["title"],
                description=values["description"],
                scorecard_ref=values["scorecardRef"],
                target_level=values["targetLevel"],
                check_ids=values["checkIds"],
                filter=values["filter"],
                due_date=values["dueDate"],
                owner_ref=values["ownerRef"],
            )
        except ValidationError as error:
            raise _input_error(error) from None
        return Response(CampaignOutputSerializer(campaign).data, status=status.HTTP_201_CREATED)


_PATCH_ARGUMENTS: Final = {
    "title": "title",
    "description": "description",
    "targetLevel": "target_level",
    "checkIds": "check_ids",
    "filter": "filter",
    "dueDate": "due_date",
    "ownerRef": "owner_ref",
}


class CampaignApi(APIView):
    """One campaign with its progress as of now; change or delete it (administrators and members of the
    scorecard's owner)."""

    @extend_schema(parameters=[_SLUG], responses={200: CampaignDetailSerializer, **error_responses(404)})
    def get(self, request: Request, slug: str) -> Response:
        campaign = _campaign(slug)
        body = dict(CampaignOutputSerializer(campaign).data)
        body["progress"] = progress_json(selectors.campaign_progress(campaign=campaign, now=timezone.now()))
        return Response(body)

    @extend_schema(
        parameters=[_SLUG],
        request=CampaignPatchSerializer,
        responses={200: CampaignOutputSerializer, **error_responses(403)},
    )
    def patch(self, request: Request, slug: str) -> Response:
        data = CampaignPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        changes = {_PATCH_ARGUMENTS[name]: value for name, value in data.validated_data.items()}
        try:
            campaign = services.campaign_update(campaign=_campaign(slug), actor=request.user, **changes)
        except ValidationError as error:
            raise _input_error(error) from None
        return Response(CampaignOutputSerializer(campaign).data)

    @extend_schema(parameters=[_SLUG], responses={204: None, **error_responses(403)})
    def delete(self, request: Request, slug: str) -> Response:
        services.campaign_delete(campaign=_campaign(slug), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- history ----------------------------------------------------------------------------------------------------------


def _ref(value: str, *, name: str, kind: str, example: str) -> str:
    try:
        return str(parse_ref(value, default_kind=kind))
    except RefError as error:
        raise InputError(f"{name}: {error}; expected a ref like {example}.") from None


class HistoryApi(APIView):
    """With `at` (a date): the level `entityRef` held on `scorecardRef` at the end of that day, or without
    `entityRef` how many entities (of `ownerRef`) held each level. Without `at`: the transitions of check states and
    levels in time order, filtered, `from` and `to` being dates (both included), paginated."""

    @extend_schema(
        operation_id="scorecards_history",
        parameters=[
            OpenApiParameter("at", OpenApiTypes.DATE, description="A date: answer with the levels at its end."),
            _ENTITY_REF,
            _SCORECARD_REF,
            _OWNER_REF,
            OpenApiParameter("kind", {"type": "string", "enum": Transition.Kind.values}),
            _CHECK_ID,
            OpenApiParameter("from", OpenApiTypes.DATE, description="Transitions from this date (included)."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Transitions up to this date (included)."),
            OpenApiParameter("limit", {"type": "integer", "minimum": 1, "maximum": PortalPagination.max_limit}),
            OpenApiParameter("offset", {"type": "integer", "minimum": 0, "maximum": 10**9}),
        ],
        responses={
            200: PolymorphicProxySerializer(
                component_name="ScorecardHistory",
                serializers=[TransitionPageSerializer, LevelsAtSerializer],
                resource_type_field_name=None,
            )
        },
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        if "at" in params:
            return Response(self._levels_at(params))
        paginator = PortalPagination()
        rows = paginator.paginate_queryset(selectors.transition_list(filters=params), request, view=self)
        return paginator.get_paginated_response(TransitionOutputSerializer(rows, many=True).data)

    @staticmethod
    def _levels_at(params: Mapping[str, Any]) -> dict[str, Any]:
        data = LevelsAtParameters(data={name: params.get(name) for name in params})
        if not data.is_valid():
            raise _input_error(ValidationError(data.errors))
        values = data.validated_data
        at = day_end(values["at"])
        scorecard = _ref(
            values["scorecardRef"], name="scorecardRef", kind="scorecard", example="scorecard:default/production"
        )
        body: dict[str, Any] = {
            "at": values["at"].isoformat(),
            "scorecardRef": scorecard,
            "entityRef": None,
            "ownerRef": None,
            "level": None,
            "levelIndex": None,
            "percent": None,
            "since": None,
        }
        if values["entityRef"]:
            entity = _ref(values["entityRef"], name="entityRef", kind="component", example="component:default/checkout")
            held = selectors.level_at(entity_ref=entity, scorecard_ref=scorecard, at=at)
            body["entityRef"] = entity
            if held is not None:
                body.update(level=held.level, levelIndex=held.level_index, percent=held.percent)
                body["since"] = held.since.isoformat().replace("+00:00", "Z")
            body["total"] = 1 if held is not None else 0
            body["levels"] = (
                [{"level": held.level, "levelIndex": held.level_index, "count": 1}] if held is not None else []
            )
            return body
        owner = (
            _ref(values["ownerRef"], name="ownerRef", kind="group", example="group:default/payments")
            if values["ownerRef"]
            else None
        )
        distribution = selectors.levels_at(scorecard_ref=scorecard, at=at, owner_ref=owner)
        body["ownerRef"] = owner
        body["total"] = distribution.total
        body["levels"] = [
            {"level": row.level, "levelIndex": row.level_index, "count": row.count} for row in distribution.levels
        ]
        return body


# -- results and scorecards (the evaluation) -------------------------------------------------------------------------

_NAME_PART: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"


def _entity_ref(kind: str, namespace: str, name: str) -> str:
    for label, value in (("kind", kind), ("namespace", namespace), ("name", name)):
        if not re.match(_NAME_PART, value):
            raise InputError(f"{label}: {value[:80]!r} is not a catalog {label} (letters, digits, '.', '_', '-').")
    return f"{kind}:{namespace}/{name}".lower()


class EntityResultsApi(APIView):
    """The results of one entity on every scorecard it is scored on: its level, the next level, the weighted
    percentage, and each check with its state (pass, fail, not-applicable, error, stale), exemption, evidence and
    remediation. An entity of the catalog on no scorecard has an empty list; one the catalog does not know is 404."""

    @extend_schema(
        operation_id="scorecards_results_by_entity",
        responses={200: EntityResultsSerializer, **error_responses(400, 404)},
    )
    def get(self, request: Request, kind: str, namespace: str, name: str) -> Response:
        ref = _entity_ref(kind, namespace, name)
        scores = results.entity_scores(entity_ref=ref)
        if scores is None:
            raise NotFoundError(f"No entity {ref} in the catalog, and no scores of it.")
        return Response(entity_results_json(entity_ref=ref, scores=scores))


class ScorecardsApi(APIView):
    """Every scorecard evaluated so far, with its levels, checks and how many entities hold each level."""

    @extend_schema(operation_id="scorecards_list", responses={200: ScorecardListSerializer})
    def get(self, request: Request) -> Response:
        return Response({"items": [scorecard_json(view) for view in results.scorecard_views()]})


class ScorecardApi(APIView):
    """One scorecard (`scorecard:<namespace>/<name>`) with its levels, checks and level distribution."""

    @extend_schema(
        operation_id="scorecards_retrieve", responses={200: ScorecardSummarySerializer, **error_responses(400, 404)}
    )
    def get(self, request: Request, namespace: str, name: str) -> Response:
        ref = _entity_ref("scorecard", namespace, name)
        found = results.scorecard_views(ref=ref)
        if not found:
            raise NotFoundError(f"No scorecard {ref} has been evaluated.")
        return Response(scorecard_json(found[0]))
