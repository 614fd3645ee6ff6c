"""Application errors and the one API exception handler that maps them."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response


class ApplicationError(Exception):
    """A failure a user can understand and act on; `status` says which HTTP status the API answers with."""

    status: int = status.HTTP_400_BAD_REQUEST
    name: str = "ApplicationError"

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class NotFoundError(ApplicationError):
    status = status.HTTP_404_NOT_FOUND
    name = "NotFoundError"


class ConflictError(ApplicationError):
    status = status.HTTP_409_CONFLICT
    name = "ConflictError"


class ForbiddenError(ApplicationError):
    status = status.HTTP_403_FORBIDDEN
    name = "NotAllowedError"


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map service errors to JSON responses; everything else goes through DRF's handler.

    The shape follows Backstage's error body (`{"error": {"name", "message"}, "request", "response"}`)
    so Backstage clients read our errors as they read Backstage's.
    """
    # Imported here: rest_framework.views loads DRF's settings, which import our authentication, which imports us.
    from rest_framework.views import exception_handler

    request = context.get("request")
    if isinstance(exc, ApplicationError):
        return _error(exc.status, exc.name, exc.message, request, exc.extra)
    if isinstance(exc, DjangoValidationError):
        details = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return _error(400, "InputError", "; ".join(exc.messages), request, {"details": details})
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        return _error(response.status_code, "InputError", _flatten(data), request, {"details": data}, response)
    message = str(data.get("detail", data)) if isinstance(data, dict) else str(data)
    name = {401: "AuthenticationError", 403: "NotAllowedError", 404: "NotFoundError", 429: "TooManyRequests"}.get(
        response.status_code, type(exc).__name__
    )
    return _error(response.status_code, name, message, request, None, response)


def _flatten(data: Any, prefix: str = "") -> str:
    if isinstance(data, dict):
        parts = [_flatten(value, f"{prefix}{key}.") for key, value in data.items()]
        return "; ".join(part for part in parts if part)
    if isinstance(data, list):
        return "; ".join(_flatten(item, prefix) for item in data)
    return f"{prefix.rstrip('.')}: {data}" if prefix else str(data)


def _error(
    code: int,
    name: str,
    message: str,
    request: Any,
    extra: dict[str, Any] | None,
    original: Response | None = None,
) -> Response:
    body: dict[str, Any] = {"error": {"name": name, "message": message, **(extra or {})}}
    if request is not None:
        body["request"] = {"method": request.method, "url": request.get_full_path()}
    body["response"] = {"statusCode": code}
    response = Response(body, status=code)
    if original is not None:
        for header in ("WWW-Authenticate", "Retry-After", "Allow"):
            if header in original:
                response[header] = original[header]
    return response
