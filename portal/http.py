"""htmx-aware request type and the page-or-fragment render helper every view uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
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
