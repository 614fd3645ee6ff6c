"""htmx-aware request type, the page-or-fragment render helper and the outcome helpers (errors, toasts) of views."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

from django.contrib import messages
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django_htmx.http import HttpResponseClientRedirect, reswap, trigger_client_event
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware and the login-required middleware."""

    htmx: HtmxDetails
    user: User  # login is required on every page view


def is_fragment_request(request: HtmxHttpRequest) -> bool:
    """An htmx request that wants a piece of the page (boosted navigation wants the whole page)."""
    return bool(request.htmx) and not request.htmx.boosted


def render_page(
    request: HtmxHttpRequest,
    template: str,
    context: Mapping[str, Any],
    *,
    partial: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render `template`, or only its `partial` (named after the DOM id it replaces) for an htmx fragment request."""
    name = f"{template}#{partial}" if partial and is_fragment_request(request) else template
    return render(request, name, dict(context), status=status)


# --- outcomes: every htmx form shows its errors in place and says when it saved ---------------------------------
#
# One way for every app (see the README's development section):
# - a refused form answers 422 (or the status the refusal carries: 400, 403, 409) with its partial re-rendered around
#   the message; base.html's htmx `responseHandling` swaps exactly those statuses into the form's target;
# - anything else that goes wrong answers an htmx request with an error toast and swaps nothing (`refusal`), and a
#   5xx or an unreachable server shows the generic error toast (portal/static/portal/paved.js);
# - a success answers an htmx request with its fragment plus a toast (`notify`), and a full-page post with a Django
#   message and a redirect (`saved`), which base.html shows as the same toast.

MESSAGE_EVENT: Final = "showMessage"
FORM_INVALID_STATUSES: Final = frozenset({400, 403, 409, 422})

Level = Literal["success", "info", "warning", "error"]
_LEVELS: Final[dict[str, int]] = {
    "success": messages.SUCCESS,
    "info": messages.INFO,
    "warning": messages.WARNING,
    "error": messages.ERROR,
}


def notify(response: HttpResponse, message: str, *, level: Level = "success") -> HttpResponse:
    """Add a toast to an htmx response (the `showMessage` event of `HX-Trigger`); several calls add several toasts.

    The header's JSON is ASCII-escaped, so any text survives the header's latin-1 encoding.
    """
    if level not in _LEVELS:
        raise ValueError(f"notify: level must be one of {', '.join(_LEVELS)}, not {level!r}.")
    existing: list[dict[str, str]] = []
    if "HX-Trigger" in response:
        try:
            current = json.loads(response["HX-Trigger"])
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"notify: the response's HX-Trigger header is not JSON: {response['HX-Trigger']!r}"
            ) from exc
        previous = current.get(MESSAGE_EVENT) if isinstance(current, dict) else None
        if isinstance(previous, dict) and isinstance(previous.get("messages"), list):
            existing = list(previous["messages"])
    existing.append({"message": message, "level": level})
    return trigger_client_event(response, MESSAGE_EVENT, {"messages": existing})


def form_invalid(
    request: HtmxHttpRequest,
    template: str,
    context: Mapping[str, Any],
    *,
    partial: str,
    status: int = 422,
) -> HttpResponse:
    """A form refused: the page again (or, for htmx, the form's partial) with its errors and a 4xx htmx swaps in place.

    `status` is one of 400, 403, 409 and 422, the statuses base.html tells htmx to swap; any other would be dropped.
    """
    if status not in FORM_INVALID_STATUSES:
        raise ValueError(f"form_invalid: status must be one of {sorted(FORM_INVALID_STATUSES)}, not {status}.")
    return render_page(request, template, context, partial=partial, status=status)


def saved(
    request: HtmxHttpRequest,
    message: str,
    *,
    redirect_to: str,
    fragment: Callable[[], HttpResponse] | None = None,
    level: Level = "success",
) -> HttpResponse:
    """A write succeeded: say so and show where it went.

    An htmx request with a `fragment` gets that fragment and a toast; one without is sent to `redirect_to` (the toast
    follows as a Django message). A full-page post is redirected to `redirect_to` with the message (post/redirect/get).
    """
    if request.htmx and fragment is not None:
        return notify(fragment(), message, level=level)
    messages.add_message(request, _LEVELS[level], message)
    if request.htmx:
        return HttpResponseClientRedirect(redirect_to)
    return redirect(redirect_to)


def refusal(request: HtmxHttpRequest | HttpRequest, message: str, *, status: int) -> HttpResponse:
    """An htmx request that cannot be answered with its fragment: an error toast with the message, and nothing swapped.

    For errors that are not about a form's fields (not allowed, gone, a crash); the plain-page path renders the
    portal's error page instead.
    """
    response = HttpResponse(status=status)
    reswap(response, "none")
    return notify(response, message, level="error")
