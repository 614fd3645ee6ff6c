"""The OpenAPI description of Paved's API: token authentication (registered by PortalConfig.ready), the error body
every /api/ error answers with, and the error responses every operation documents.

The schema is a contract (tests/portal/test_api_contract.py fuzzes it): an operation documents every status code it
can answer with. The ones that follow from how the API works are added here, so no view can forget them:

- 401 where a token or session is required; 429 everywhere (throttling);
- 403 on unsafe methods (a session without its CSRF token; the views add it for their own permission checks);
- 400 where there is input to get wrong (parameters or a body), 413 and 415 where there is a body;
- 404 where the path names a resource.

String query parameters also say that they may not contain NUL, which PostgreSQL text cannot hold.

Views document the rest themselves: 409, a 403 or 404 their service raises, and each success response.
"""

from __future__ import annotations

from typing import Any, Final

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
NO_NUL_PATTERN: Final = "^[^\\x00]*$"

ERROR_DESCRIPTIONS: Final[dict[int, str]] = {
    400: "Malformed input (InputError): the message names the parameter and what was expected.",
    401: "No valid token or session (AuthenticationError).",
    403: "Not allowed (NotAllowedError).",
    404: "Not found (NotFoundError).",
    409: "Conflicts with what exists (ConflictError).",
    413: "The body is larger than the server accepts (PayloadTooLargeError).",
    415: "The body is not JSON (UnsupportedMediaTypeError).",
    429: "Too many requests (TooManyRequests); `Retry-After` says when to try again.",
}


class ErrorDetailSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(help_text="InputError, AuthenticationError, NotAllowedError, NotFoundError, …")
    message = serializers.CharField()


class ErrorRequestSerializer(serializers.Serializer[Any]):
    method = serializers.CharField()
    url = serializers.CharField()


class ErrorStatusSerializer(serializers.Serializer[Any]):
    statusCode = serializers.IntegerField()


class ErrorSerializer(serializers.Serializer[Any]):
    """Backstage's error body. `error` may carry more, e.g. `details` with the problems per input field."""

    error = ErrorDetailSerializer()
    request = ErrorRequestSerializer(required=False)
    response = ErrorStatusSerializer()


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """`responses` entries for `@extend_schema`: the error body under each of `codes`."""
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]) for code in codes}


class PortalAutoSchema(AutoSchema):
    """drf-spectacular's schema, plus the error responses that follow from authentication, throttling and input."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        parameters = operation.get("parameters", [])
        for parameter in parameters:
            if parameter["in"] == "query":
                _refuse_nul(parameter["schema"])
        codes = {429}
        security = operation.get("security", [])
        if security and {} not in security:
            codes.add(401)
        if self.method not in SAFE_METHODS:
            codes.add(403)
        if parameters or "requestBody" in operation:
            codes.add(400)
        if "requestBody" in operation:
            codes |= {413, 415}
        if any(parameter["in"] == "path" for parameter in parameters):
            codes.add(404)
        responses: dict[str, Any] = operation["responses"]
        for code in sorted(codes):
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(  # type: ignore[no-untyped-call]
                    OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]), str(code)
                )
        operation["responses"] = dict(sorted(responses.items()))
        return operation


def _refuse_nul(schema: dict[str, Any]) -> None:
    """Query strings may not carry NUL (portal.middleware.ApiNulCharacterMiddleware): say so in their schema."""
    if schema.get("type") == "array":
        _refuse_nul(schema.get("items", {}))
    elif schema.get("type") == "string" and not {"pattern", "format", "enum"} & schema.keys():
        schema["pattern"] = NO_NUL_PATTERN


class ApiTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "portal.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (create one under your menu → API tokens). "
            "`Authorization: Token <key>` is accepted too.",
        }
