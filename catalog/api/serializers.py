"""Input and output shapes of the Backstage-compatible catalog API (`/api/catalog/`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Final

from django.http import QueryDict
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from catalog import query
from catalog.models import Location
from catalog.query import MAX_FIELDS, MAX_KEY_LENGTH

MAX_REFS: Final = 1000  # what @backstage/catalog-client sends in one chunk
MAX_REF_LENGTH: Final = 1000
MAX_TARGET_LENGTH: Final = 2048


class StrictCharField(serializers.CharField):
    """A string that must be a JSON string: DRF's CharField would quietly turn numbers and booleans into text."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


# -- query parameters -----------------------------------------------------------------------------------------------


class QueryParameter(serializers.Field):  # type: ignore[type-arg]
    """A query parameter read by one of catalog.query's parsers, which bound it and word its errors.

    `many` reads every occurrence of a repeatable parameter (`?filter=a&filter=b`), otherwise the last one is read, as
    Django reads them. The parser's QueryError becomes this field's error, word for word.
    """

    def __init__(self, parse: Callable[[Any], Any], *, many: bool = False, **kwargs: Any) -> None:
        self.parse = parse
        self.many = many
        super().__init__(**kwargs)

    def get_value(self, dictionary: Mapping[Any, Any]) -> Any:
        name = self.field_name or ""
        if not self.many:
            return dictionary.get(name)
        if isinstance(dictionary, QueryDict):
            return dictionary.getlist(name)
        return list(dictionary.get(name) or [])

    def run_validation(self, data: Any = empty) -> Any:
        try:
            return self.parse(data)
        except query.QueryError as exc:
            raise serializers.ValidationError(exc.message, code="invalid") from None

    def to_representation(self, value: Any) -> Any:
        return value


def _after(raw: str | None) -> tuple[int | None, int | None]:
    return query.decode_after(raw) if raw else (None, None)


def _cursor(raw: str | None) -> query.QueryCursor | None:
    return query.decode_cursor(raw) if raw else None


# Parameters are declared in the order they are checked: the first invalid one is the one an answer names.


class EntitiesParameters(serializers.Serializer[Any]):
    """GET /entities. `after` (the `Link` header's token) replaces limit and offset."""

    filter = QueryParameter(query.parse_filter, many=True)
    fields = QueryParameter(query.parse_fields, many=True)  # type: ignore[assignment]
    order = QueryParameter(query.parse_order, many=True)
    limit = QueryParameter(
        partial(query.parse_limit, default=query.ENTITIES_MAX_LIMIT, maximum=query.ENTITIES_MAX_LIMIT)
    )
    offset = QueryParameter(query.parse_offset)
    after = QueryParameter(_after)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        after_limit, after_offset = attrs.pop("after")
        if after_limit is not None:
            attrs["limit"] = min(after_limit, query.ENTITIES_MAX_LIMIT)
        if after_offset is not None:
            attrs["offset"] = after_offset
        return attrs


class EntitiesByQueryParameters(serializers.Serializer[Any]):
    """GET /entities/by-query: what every page reads. A cursor carries the rest of the question."""

    fields = QueryParameter(query.parse_fields, many=True)  # type: ignore[assignment]
    limit = QueryParameter(
        partial(query.parse_limit, default=query.BY_QUERY_DEFAULT_LIMIT, maximum=query.BY_QUERY_MAX_LIMIT)
    )
    cursor = QueryParameter(_cursor)


class EntitiesQuestionParameters(serializers.Serializer[Any]):
    """GET /entities/by-query without a cursor: the question itself."""

    offset = QueryParameter(query.parse_offset)
    filter = QueryParameter(query.parse_filter, many=True)
    orderField = QueryParameter(query.parse_order_fields, many=True)
    fullTextFilterTerm = QueryParameter(query.parse_full_text_term)
    fullTextFilterFields = QueryParameter(query.parse_full_text_fields, many=True)


class FilterParameters(serializers.Serializer[Any]):
    """POST /entities/by-refs: the filter the found entities must match."""

    filter = QueryParameter(query.parse_filter, many=True)


class FacetsParameters(serializers.Serializer[Any]):
    """GET /entity-facets."""

    facet = QueryParameter(query.parse_facets, many=True)
    filter = QueryParameter(query.parse_filter, many=True)


# -- input ----------------------------------------------------------------------------------------------------------


class EntitiesByRefsInputSerializer(serializers.Serializer[Any]):
    entityRefs = serializers.ListField(
        child=StrictCharField(max_length=MAX_REF_LENGTH, allow_blank=True, trim_whitespace=False),
        max_length=MAX_REFS,
        allow_empty=True,
    )
    fields = serializers.ListField(  # type: ignore[assignment]
        child=StrictCharField(max_length=MAX_KEY_LENGTH), max_length=MAX_FIELDS, required=False, allow_null=True
    )


class LocationInputSerializer(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=Location.Type.values)
    target = StrictCharField(max_length=MAX_TARGET_LENGTH)

    def validate_target(self, value: str) -> str:
        if any(ord(char) < 32 or ord(char) == 127 for char in value):
            raise serializers.ValidationError("must not contain control characters")
        return value.strip()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        target: str = attrs["target"]
        scheme = target.split(":", 1)[0].lower() if ":" in target else ""
        if attrs["type"] == Location.Type.URL and scheme not in {"http", "https"}:
            raise serializers.ValidationError({"target": "a url location must be an http:// or https:// URL"})
        if attrs["type"] == Location.Type.FILE and scheme.isalpha() and len(scheme) > 1:
            # `file:///etc/passwd`, `javascript:…`: a file location is a path, never a URL.
            raise serializers.ValidationError({"target": "a file location is a path, not a URL"})
        return attrs


class RefreshInputSerializer(serializers.Serializer[Any]):
    entityRef = StrictCharField(max_length=MAX_REF_LENGTH)
    authorizationToken = StrictCharField(required=False, allow_blank=True, write_only=True)


class ValidateEntityInputSerializer(serializers.Serializer[Any]):
    """Documents the body of /validate-entity; the view reads it itself, to answer in Backstage's `{errors}` shape."""

    entity = serializers.DictField(help_text="The entity descriptor to validate")
    location = serializers.CharField(help_text="Where it comes from, as a location ref: url:https://host/path")


# -- output (documentation of the shapes the views build) -----------------------------------------------------------


class RelationTargetSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField(required=False)
    namespace = serializers.CharField(required=False)
    name = serializers.CharField(required=False)


class RelationOutputSerializer(serializers.Serializer[Any]):
    """Every property is present unless `fields` kept only some (`relations.type`)."""

    type = serializers.CharField(required=False)
    targetRef = serializers.CharField(required=False)
    target = RelationTargetSerializer(required=False)


class EntityOutputSerializer(serializers.Serializer[Any]):
    """A whole entity, unless `fields` kept only some paths: then only those are present."""

    apiVersion = serializers.CharField(required=False)
    kind = serializers.CharField(required=False)
    metadata = serializers.DictField(required=False)
    spec = serializers.DictField(required=False)
    relations = RelationOutputSerializer(many=True, required=False)
    status = serializers.DictField(required=False, help_text="Processing errors: {items: [{type, level, message}]}")


class PageInfoSerializer(serializers.Serializer[Any]):
    nextCursor = serializers.CharField(required=False)
    prevCursor = serializers.CharField(required=False)


class EntitiesQueryOutputSerializer(serializers.Serializer[Any]):
    items = EntityOutputSerializer(many=True)
    totalItems = serializers.IntegerField()
    pageInfo = PageInfoSerializer()


@extend_schema_field(
    {"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/EntityOutput"}], "nullable": True}}
)
class EntityOrNullListField(serializers.ListField):
    """Entities in request order, null where none matched (drf-spectacular cannot mark list items nullable)."""


class EntitiesBatchOutputSerializer(serializers.Serializer[Any]):
    items = EntityOrNullListField(child=EntityOutputSerializer(allow_null=True))


class FacetValueSerializer(serializers.Serializer[Any]):
    value = serializers.CharField()
    count = serializers.IntegerField()


class FacetsOutputSerializer(serializers.Serializer[Any]):
    facets = serializers.DictField(child=FacetValueSerializer(many=True))


class LocationOutputSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    type = serializers.CharField()
    target = serializers.CharField()


class LocationListItemSerializer(serializers.Serializer[Any]):
    data = LocationOutputSerializer()  # type: ignore[assignment]


class LocationCreateOutputSerializer(serializers.Serializer[Any]):
    location = LocationOutputSerializer()
    entities = EntityOutputSerializer(many=True)
    exists = serializers.BooleanField(required=False)


class ValidationErrorItemSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    message = serializers.CharField()


class ValidationErrorsSerializer(serializers.Serializer[Any]):
    errors = ValidationErrorItemSerializer(many=True)  # type: ignore[assignment]


class KindOutputSerializer(serializers.Serializer[Any]):
    kind = serializers.CharField()
    apiVersions = serializers.ListField(child=serializers.CharField())
    count = serializers.IntegerField()


def location_json(location: Location) -> dict[str, str]:
    return {"id": str(location.pk), "type": location.type, "target": location.target}
