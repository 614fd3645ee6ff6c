"""Backstage's catalog API under /api/catalog/: same paths, parameters, response shapes, headers and error body,
so `@backstage/catalog-client` works unchanged. Views parse input, call one selector or service, render output."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import query, selectors, services
from catalog.api import serializers as s
from catalog.descriptors import RefError, kind_json_schema, parse_ref, registered_kinds, validate_entity
from catalog.models import Entity, Location
from portal.api.schema import error_responses
from portal.exceptions import NotFoundError

_FILTER = OpenApiParameter(
    "filter",
    {"type": "array", "items": {"type": "string"}, "maxItems": query.MAX_FILTER_PARAMS},
    description="`key=value` or `key` conditions, comma = AND; repeat the parameter for OR. Case-insensitive; "
    "dot paths reach into arrays and annotations; `relations.<type>=<ref>` matches relations.",
    examples=[OpenApiExample("services", value=["kind=component,spec.type=service"])],
)
_FIELDS = OpenApiParameter(
    "fields",
    {"type": "array", "items": {"type": "string"}},
    description=f"Comma-separated dot paths to keep (at most {query.MAX_FIELDS}), e.g. kind,metadata",
)
_OFFSET = OpenApiParameter("offset", {"type": "integer", "minimum": 0, "maximum": query.MAX_OFFSET})
# Path parts of an entity name, as Backstage bounds them; the examples are from the demo organisation.
_NAME_PARTS = [
    OpenApiParameter(part, {"type": "string", "maxLength": 253}, OpenApiParameter.PATH, examples=[example])
    for part, example in (
        ("kind", OpenApiExample("kind", value="component")),
        ("namespace", OpenApiExample("namespace", value="default")),
        ("name", OpenApiExample("name", value="payments-service")),
    )
]


def _limit_parameter(*, maximum: int, default: int) -> OpenApiParameter:
    schema = {"type": "integer", "minimum": 0, "maximum": maximum, "default": default}
    return OpenApiParameter("limit", schema)


_UID = OpenApiParameter("uid", OpenApiTypes.UUID, OpenApiParameter.PATH)
_LOCATION_ID = OpenApiParameter("location_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


def _parameters(serializer_class: type[serializers.Serializer[Any]], request: Request) -> dict[str, Any]:
    """The query parameters as `serializer_class` reads them; the first invalid one answers 400 in its own words."""
    parameters = serializer_class(data=request.query_params)
    if not parameters.is_valid():
        errors = next(iter(parameters.errors.values()))
        raise query.QueryError(str(errors[0]))
    return dict(parameters.validated_data)


def _uuid(value: str, *, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise query.QueryError(f"Invalid {what} '{value[:80]}': expected a UUID") from None


def _check_name_parts(kind: str, namespace: str, name: str) -> None:
    for label, value in (("kind", kind), ("namespace", namespace), ("name", name)):
        if not value or len(value) > 253:
            raise query.QueryError(f"Invalid entity {label} '{value[:80]}': expected 1 to 253 characters")


def _not_found_by_name(kind: str, namespace: str, name: str) -> NotFoundError:
    message = f"No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'"
    known = {spec.kind.lower() for spec in registered_kinds()}
    if kind.lower() not in known:
        message += f"; '{kind}' is not a kind this catalog knows ({', '.join(sorted(known))})"
    return NotFoundError(message)


class EntitiesApi(APIView):
    """GET /entities: every entity matching the filter (bounded; a `Link` header leads to the next page)."""

    @extend_schema(
        operation_id="GetEntities",
        parameters=[
            _FILTER,
            _FIELDS,
            _limit_parameter(maximum=query.ENTITIES_MAX_LIMIT, default=query.ENTITIES_MAX_LIMIT),
            _OFFSET,
            OpenApiParameter("after", str, description="The `after` token of the previous page's Link header"),
            OpenApiParameter(
                "order",
                {"type": "array", "items": {"type": "string"}, "maxItems": query.MAX_ORDER_FIELDS},
                description="`asc:<field>` or `desc:<field>`, repeatable",
            ),
        ],
        responses={200: s.EntityOutputSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        params = _parameters(s.EntitiesParameters, request)
        limit, offset = params["limit"], params["offset"]
        queryset = query.order_entities(query.entity_queryset(params["filter"]), params["order"])
        rows = list(queryset[offset : offset + limit + 1])
        response = Response(selectors.entity_list_json(entities=rows[:limit], fields=params["fields"]))
        if len(rows) > limit:
            following: QueryDict = request.query_params.copy()
            following.pop("offset", None)
            following["after"] = query.encode_after(limit=limit, offset=offset + limit)
            response["Link"] = f'<{request.path}?{following.urlencode()}>; rel="next"'
        return response


class EntitiesByQueryApi(APIView):
    """GET /entities/by-query: cursor-paginated search with totalItems, as catalog-client's queryEntities uses."""

    @extend_schema(
        operation_id="GetEntitiesByQuery",
        parameters=[
            _FILTER,
            _FIELDS,
            _limit_parameter(maximum=query.BY_QUERY_MAX_LIMIT, default=query.BY_QUERY_DEFAULT_LIMIT),
            _OFFSET,
            OpenApiParameter(
                "orderField",
                {"type": "array", "items": {"type": "string"}, "maxItems": query.MAX_ORDER_FIELDS},
                description="`<field>,<asc|desc>`; the first one is used",
            ),
            OpenApiParameter("cursor", str, description="pageInfo.nextCursor or prevCursor of a previous answer"),
            OpenApiParameter("fullTextFilterTerm", {"type": "string", "maxLength": query.MAX_FULL_TEXT_LENGTH}),
            OpenApiParameter(
                "fullTextFilterFields",
                {"type": "array", "items": {"type": "string"}},
                description="Comma-separated keys to search",
            ),
        ],
        responses={200: s.EntitiesQueryOutputSerializer},
    )
    def get(self, request: Request) -> Response:
        params = _parameters(s.EntitiesByQueryParameters, request)
        fields, limit, cursor, offset = params["fields"], params["limit"], params["cursor"], 0
        if cursor is None:
            # As in Backstage, a cursor carries the whole question: filter, order and full-text parameters are ignored.
            question = _parameters(s.EntitiesQuestionParameters, request)
            offset = question["offset"]
            cursor = query.QueryCursor(
                entity_filter=question["filter"],
                order=question["orderField"],
                full_text=query.FullText(question["fullTextFilterTerm"], question["fullTextFilterFields"]),
            )
        page = query.query_page(cursor=cursor, limit=limit, offset=offset)
        page_info: dict[str, str] = {}
        if page.next_cursor:
            page_info["nextCursor"] = page.next_cursor
        if page.prev_cursor:
            page_info["prevCursor"] = page.prev_cursor
        return Response(
            {
                "items": selectors.entity_list_json(entities=page.entities, fields=fields),
                "totalItems": page.total,
                "pageInfo": page_info,
            }
        )


class EntityByNameApi(APIView):
    @extend_schema(operation_id="GetEntityByName", parameters=_NAME_PARTS, responses=s.EntityOutputSerializer)
    def get(self, request: Request, kind: str, namespace: str, name: str) -> Response:
        _check_name_parts(kind, namespace, name)
        entity = selectors.entity_get_by_name(kind=kind, namespace=namespace, name=name)
        if entity is None:
            raise _not_found_by_name(kind, namespace, name)
        return Response(selectors.entity_list_json(entities=[entity])[0])


def _entity_by_uid(uid: str) -> Entity:
    entity = selectors.entity_get_by_uid(uid=_uuid(uid, what="uid"))
    if entity is None:
        raise NotFoundError(f"No entity with uid {uid}")
    return entity


def _location(location_id: str) -> Location:
    location = selectors.location_get(location_id=_uuid(location_id, what="location id"))
    if location is None:
        raise NotFoundError(f"Found no location with ID {location_id}")
    return location


class EntityByUidApi(APIView):
    @extend_schema(operation_id="GetEntityByUid", parameters=[_UID], responses=s.EntityOutputSerializer)
    def get(self, request: Request, uid: str) -> Response:
        entity = _entity_by_uid(uid)
        return Response(selectors.entity_list_json(entities=[entity])[0])

    @extend_schema(operation_id="DeleteEntityByUid", parameters=[_UID], responses={204: None})
    def delete(self, request: Request, uid: str) -> Response:
        entity = _entity_by_uid(uid)
        services.entity_delete(entity=entity, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EntitiesByRefsApi(APIView):
    @extend_schema(
        operation_id="GetEntitiesByRefs",
        parameters=[_FILTER],
        request=s.EntitiesByRefsInputSerializer,
        responses=s.EntitiesBatchOutputSerializer,
        examples=[
            OpenApiExample(
                "one found, one missing",
                value={"entityRefs": ["component:default/payments-service", "component:default/nowhere"]},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise ParseError("The body must be a JSON object: {entityRefs: [...], fields?: [...]}")
        body = s.EntitiesByRefsInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = query.parse_fields(
            [",".join(body.validated_data.get("fields") or []), *request.query_params.getlist("fields")]
        )
        entity_filter = _parameters(s.FilterParameters, request)["filter"]
        found = selectors.entities_by_refs(refs=body.validated_data["entityRefs"], entity_filter=entity_filter)
        rendered = iter(
            selectors.entity_list_json(entities=[entity for entity in found if entity is not None], fields=fields)
        )
        return Response({"items": [next(rendered) if entity is not None else None for entity in found]})


class EntityFacetsApi(APIView):
    @extend_schema(
        operation_id="GetEntityFacets",
        parameters=[
            OpenApiParameter(
                "facet",
                {
                    "type": "array",
                    "items": {"type": "string", "maxLength": query.MAX_KEY_LENGTH},
                    "minItems": 1,
                    "maxItems": query.MAX_FACETS,
                },
                required=True,
                examples=[OpenApiExample("kinds and types", value=["kind", "spec.type"])],
            ),
            _FILTER,
        ],
        responses=s.FacetsOutputSerializer,
    )
    def get(self, request: Request) -> Response:
        params = _parameters(s.FacetsParameters, request)
        return Response({"facets": selectors.entity_facets(facets=params["facet"], entity_filter=params["filter"])})


class LocationsApi(APIView):
    @extend_schema(operation_id="GetLocations", responses={200: s.LocationListItemSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response([{"data": s.location_json(location)} for location in selectors.location_list()])

    @extend_schema(
        operation_id="CreateLocation",
        parameters=[OpenApiParameter("dryRun", bool, description="true to read the target without registering it")],
        request=s.LocationInputSerializer,
        responses={201: s.LocationCreateOutputSerializer, **error_responses(409)},
    )
    def post(self, request: Request) -> Response:
        dry_run = query.parse_flag(request.query_params.get("dryRun"), name="dryRun")
        if not isinstance(request.data, dict):
            raise ParseError("The body must be a JSON object: {type, target}")
        body = s.LocationInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        type_, target = body.validated_data["type"], body.validated_data["target"]
        if dry_run:
            preview = services.location_create(type=type_, target=target, actor=request.user, dry_run=True)
            output: dict[str, Any] = {
                "location": s.location_json(preview.location),
                "entities": preview.entities,
                "exists": preview.exists,
            }
            if preview.errors:
                output["errors"] = preview.errors
            return Response(output, status=status.HTTP_201_CREATED)
        location = services.location_create(type=type_, target=target, actor=request.user)
        # The first refresh runs in the background (Backstage answers with no entities for a new location, too).
        return Response({"location": s.location_json(location), "entities": []}, status=status.HTTP_201_CREATED)


def _location_output(location: Location) -> dict[str, str]:
    # A dry run of an unregistered target has no row: Backstage answers with a generated id as well.
    return {
        "id": str(location.pk) if location.pk else str(uuid.uuid4()),
        "type": location.type,
        "target": location.target,
    }


class LocationApi(APIView):
    @extend_schema(operation_id="GetLocation", parameters=[_LOCATION_ID], responses=s.LocationOutputSerializer)
    def get(self, request: Request, location_id: str) -> Response:
        location = _location(location_id)
        return Response(s.location_json(location))

    @extend_schema(operation_id="DeleteLocation", parameters=[_LOCATION_ID], responses={204: None})
    def delete(self, request: Request, location_id: str) -> Response:
        location = _location(location_id)
        services.location_delete(location=location, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LocationByEntityApi(APIView):
    @extend_schema(operation_id="getLocationByEntity", parameters=_NAME_PARTS, responses=s.LocationOutputSerializer)
    def get(self, request: Request, kind: str, namespace: str, name: str) -> Response:
        _check_name_parts(kind, namespace, name)
        location = selectors.location_for_entity(kind=kind, namespace=namespace, name=name)
        if location is None:
            raise NotFoundError(f"Found no location for {kind}:{namespace}/{name}")
        return Response(s.location_json(location))


class RefreshApi(APIView):
    @extend_schema(
        operation_id="RefreshEntity",
        request=s.RefreshInputSerializer,
        responses={200: None, **error_responses(404)},
        examples=[
            OpenApiExample("component", value={"entityRef": "component:default/payments-service"}, request_only=True)
        ],
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise ParseError("The body must be a JSON object: {entityRef}")
        body = s.RefreshInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ref = body.validated_data["entityRef"]
        try:
            parse_ref(ref)
        except RefError as exc:
            raise query.QueryError(str(exc)) from None
        entity = selectors.entity_get_by_ref(ref=ref)
        if entity is None:
            raise NotFoundError(f"No entity {ref}")
        location = selectors.location_get(location_id=entity.location_id) if entity.location_id else None
        if location is None:
            raise NotFoundError(f"{entity.ref} is not managed by a registered location, so it cannot be refreshed")
        # Refreshing reads remote sources: it runs in the worker, never inside this request. As Backstage's, it is the
        # entity's refresh: its own source is read again, the rest of its location only where it changed.
        services.location_refresh_request(location=location, actor=request.user, entity=entity)
        return Response(status=status.HTTP_200_OK)


class ValidateEntityApi(APIView):
    """POST /validate-entity: 200 when valid, else 400 `{errors: [{name, message}]}` (Backstage's own shape)."""

    @extend_schema(
        operation_id="ValidateEntity",
        request=s.ValidateEntityInputSerializer,
        responses={200: None, 400: s.ValidationErrorsSerializer},
        examples=[
            OpenApiExample(
                "a component",
                value={
                    "entity": {
                        "apiVersion": "backstage.io/v1alpha1",
                        "kind": "Component",
                        "metadata": {"name": "invoice-service"},
                        "spec": {"type": "service", "lifecycle": "production", "owner": "group:payments"},
                    },
                    "location": "url:https://git.example.com/acme/invoice-service/blob/main/catalog-info.yaml",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        try:
            data = request.data
        except ParseError as exc:
            return _invalid([("InputError", f"Malformed request body: {exc.detail}")])
        if not isinstance(data, dict):
            return _invalid([("InputError", "The body must be a JSON object: {entity, location}")])
        location = data.get("location")
        if not isinstance(location, str) or ":" not in location:
            return _invalid([("InputError", "location must be a location ref string such as url:https://host/path")])
        location_type, _, target = location.partition(":")
        if location_type not in Location.Type.values or not target:
            return _invalid(
                [
                    (
                        "InputError",
                        f"Invalid location ref {location[:200]}; expected <{'|'.join(Location.Type.values)}>:<target>",
                    )
                ]
            )
        if "entity" not in data:
            return _invalid([("InputError", "entity is required")])
        issues = validate_entity(data["entity"], file=location[:500], document=None)
        if issues:
            return _invalid([("InputError", issue.message) for issue in issues])
        return Response(status=status.HTTP_200_OK)


def _invalid(errors: list[tuple[str, str]]) -> Response:
    return Response(
        {"errors": [{"name": name, "message": message} for name, message in errors]},
        status=status.HTTP_400_BAD_REQUEST,
    )


class KindsApi(APIView):
    """Paved extra: the kinds this catalog accepts, with how many entities each has."""

    @extend_schema(operation_id="GetKinds", responses={200: s.KindOutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(selectors.kind_list())


class KindSchemaApi(APIView):
    """Paved extra: the JSON Schema (draft-07) of a whole entity of one kind."""

    @extend_schema(
        operation_id="GetKindSchema",
        parameters=[
            OpenApiParameter("kind", str, OpenApiParameter.PATH, examples=[OpenApiExample("kind", value="Component")])
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, kind: str) -> Response:
        known = {spec.kind.lower(): spec.kind for spec in registered_kinds()}
        if kind.lower() not in known:
            names = ", ".join(sorted(known.values()))
            raise NotFoundError(f"Unknown kind '{kind[:80]}'; known kinds are {names}")
        return Response(kind_json_schema(known[kind.lower()]))
