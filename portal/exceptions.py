"""Application errors and the one API exception handler that maps them."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError, connection
from django.http import HttpRequest
from rest_framework import exceptions, status
from rest_framework.response import Response

# Backstage's error names where it has one; a client tells errors apart by `error.name`, never by the message.
ERROR_NAMES: dict[int, str] = {
    400: "InputError",
    401: "AuthenticationError",
    403: "NotAllowedError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    406: "NotAcceptableError",
    409: "ConflictError",
    413: "PayloadTooLargeError",
    415: "UnsupportedMediaTypeError",
    429: "TooManyRequests",
    500: "InternalServerError",
    503: "ServiceUnavailableError",
}

# How long a client should wait before trying again when the embedded database was busy.
BUSY_RETRY_SECONDS = 5
BUSY_MESSAGE = (
    "The embedded database is busy with another write (such as a large catalog refresh); nothing was changed. "
    f"Try again in {BUSY_RETRY_SECONDS} seconds. PostgreSQL, the production database, does not make writes wait "
    "like this."
)


def database_busy(exc: BaseException) -> bool:
    """The embedded SQLite database stayed locked by another process's write (a large catalog refresh) for longer
    than a write waits (`timeout` in settings): the request did nothing and may simply be sent again."""
    return isinstance(exc, OperationalError) and connection.vendor == "sqlite" and "database is locked" in str(exc)


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
    if database_busy(exc):
        busy = _error(503, ERROR_NAMES[503], BUSY_MESSAGE, request, None)
        busy["Retry-After"] = str(BUSY_RETRY_SECONDS)
        return busy
    if isinstance(exc, SuspiciousOperation):
        # Django refuses oversized or malformed bodies while DRF parses them; those are the client's mistake.
        code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE if isinstance(exc, RequestDataTooBig) else 400
        return _error(code, ERROR_NAMES[code], str(exc) or "Malformed request", request, None)
    response = exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        return _error(response.status_code, "InputError", _flatten(data), request, {"details": data}, response)
    message = str(data.get("detail", data)) if isinstance(data, dict) else str(data)
    name = ERROR_NAMES.get(response.status_code, type(exc).__name__)
    return _error(response.status_code, name, message, request, None, response)


def error_body(
    code: int, name: str, message: str, request: HttpRequest | Any, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Backstage's error body, for the API's handler and for Django's error views under /api/."""
    body: dict[str, Any] = {"error": {"name": name, "message": message, **(extra or {})}}
    if request is not None:
        body["request"] = {"method": request.method, "url": request.get_full_path()}
    body["response"] = {"statusCode": code}
    return body


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
    response = Response(error_body(code, name, message, request, extra), status=code)
    if original is not None:
        for header in ("WWW-Authenticate", "Retry-After", "Allow"):
            if header in original:
                response[header] = original[header]
    return response
