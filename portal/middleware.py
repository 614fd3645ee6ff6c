"""Request-wide middleware: request ids for logs, and login required everywhere but a few paths."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render

from portal.exceptions import (
    BUSY_MESSAGE,
    BUSY_RETRY_SECONDS,
    ERROR_NAMES,
    ApplicationError,
    database_busy,
    error_body,
)
from portal.http import is_fragment_request, refusal

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")

# The API answers 401 JSON itself (DRF), health/metrics are for probes, and calendar feeds authenticate by token.
PUBLIC_PATH_PREFIXES = ("/api/", "/healthz", "/readyz", "/metrics", "/static/", "/ical/")


class RequestIdMiddleware:
    """Give every request an id (the caller's `X-Request-ID` if it is sane) and bind it to the logs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            response = self.get_response(request)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
        response[REQUEST_ID_HEADER] = request_id
        return response


class ApiNulCharacterMiddleware:
    """Under /api/, refuse a NUL character in the path (404: nothing is named so) or the query string (400).

    PostgreSQL text cannot hold NUL, so such a value would otherwise fail deep inside a query; bodies are covered
    by DRF's string fields, which refuse NUL themselves.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith("/api/"):
            if "\x00" in request.path_info:
                return _api_error(request, 404, "Nothing under /api/ has a NUL character in its path.")
            for key, values in request.GET.lists():
                if "\x00" in key or any("\x00" in value for value in values):
                    message = f"Invalid {key.replace(chr(0), '')[:80]!r}: the query contains a NUL character."
                    return _api_error(request, 400, message)
        return self.get_response(request)


def _api_error(request: HttpRequest, code: int, message: str) -> HttpResponse:
    return JsonResponse(error_body(code, ERROR_NAMES[code], message, request), status=code)


class PortalLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Django's login-required middleware, leaving the API, probes and token-authenticated feeds alone."""

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        if request.path_info.startswith(PUBLIC_PATH_PREFIXES):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class ApplicationErrorMiddleware:
    """Turn a service's ApplicationError raised in an HTML view into the portal's error page with its message.

    The API maps the same errors in `portal.exceptions.api_exception_handler`.
    """

    TITLES = {
        400: "That did not work",
        403: "Not allowed",
        404: "Not found",
        409: "Conflict",
        503: "Busy, try again",
    }

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if database_busy(exception):
            # A form sent while the embedded database's only write lock was held by a long refresh: nothing was
            # changed, and sending it again in a moment works (the API answers the same 503).
            response = self._page(request, 503, BUSY_MESSAGE)
            response["Retry-After"] = str(BUSY_RETRY_SECONDS)
            return response
        if not isinstance(exception, ApplicationError):
            return None
        return self._page(request, exception.status, exception.message)

    def _page(self, request: HttpRequest, code: int, message: str) -> HttpResponse:
        if is_fragment_request(request):  # type: ignore[arg-type]  # HtmxMiddleware runs before this one
            # An error page swapped into a form's target would nest a whole page in it: the message goes to a toast.
            return refusal(request, message, status=code)
        context = {"code": code, "title": self.TITLES.get(code, "That did not work"), "message": message}
        return render(request, "portal/error.html", context, status=code)
