"""Sign-in throttling: the policy django-axes enforces, what a paused person is told, and the audit trail.

axes counts failed sign-ins per account and per address (`AXES_LOCKOUT_PARAMETERS`) and, once either count reaches
`PAVED_LOGIN_FAILURE_LIMIT`, refuses every sign-in for that account or from that address, the right password
included, without checking it. This module supplies what axes leaves to the project:

- `cooloff` (axes' `AXES_COOLOFF_TIME`) is both how long failures count and how long a pause lasts. Below the limit
  failures are remembered for `PAVED_LOGIN_COOLOFF_MAX_MINUTES`. The failure that reaches the limit pauses sign-in for
  `PAVED_LOGIN_COOLOFF_MINUTES`, and every further failure, refused attempts included, pauses it again for twice as
  long, up to that maximum. A successful sign-in forgets the account's failures.
- `SignInBackend`: axes' backend, marking the attempts it refuses.
- `lockout_response`: the sign-in page saying when to try again, with status 429 and `Retry-After`.
- `client_address`: the address that is counted; X-Forwarded-For is read only behind a proxy Paved was told about.
- receivers that audit every failed sign-in (`signin.failed`) and every pause (`signin.paused`), and forget an
  account's failures when it signs in.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any

from axes.backends import AxesStandaloneBackend  # type: ignore[import-untyped]
from axes.exceptions import AxesBackendPermissionDenied  # type: ignore[import-untyped]
from axes.handlers.proxy import AxesProxyHandler  # type: ignore[import-untyped]
from axes.helpers import get_client_parameters, get_client_username  # type: ignore[import-untyped]
from axes.models import AccessAttempt  # type: ignore[import-untyped]
from axes.signals import user_locked_out  # type: ignore[import-untyped]
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models import Q, Sum
from django.dispatch import receiver
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone

from portal import services

# 2 ** 20 first pauses is far beyond any maximum; the cap keeps the arithmetic small.
_MAX_DOUBLINGS = 20


@dataclass(frozen=True)
class Pause:
    """Sign-in is paused for an account or an address until `until`, after `failures` failed attempts.

    `refused` says that the attempt just made was turned away without its password being checked (it came during a
    pause); otherwise its password was checked and was wrong, and this failure started the pause.
    """

    until: datetime
    failures: int
    refused: bool

    @property
    def seconds(self) -> int:
        return max(0, math.ceil((self.until - timezone.now()).total_seconds()))

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.seconds / 60))


class SignInBackend(AxesStandaloneBackend):  # type: ignore[misc]
    """axes' standalone backend (first in `AUTHENTICATION_BACKENDS`), marking on the request that it refused the
    attempt: a refused attempt's password was never checked, which the page and the audit log say."""

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:
        try:
            super().authenticate(request, *args, **kwargs)
        except AxesBackendPermissionDenied:
            request.paved_signin_refused = True  # type: ignore[union-attr]
            raise


def pause_for(failures: int) -> timedelta:
    """How long failures count (below the limit) or sign-in stays paused (at and beyond it) after `failures`."""
    longest = timedelta(minutes=settings.PAVED_LOGIN_COOLOFF_MAX_MINUTES)
    beyond = failures - settings.AXES_FAILURE_LIMIT
    if beyond < 0:
        return longest
    first = timedelta(minutes=settings.PAVED_LOGIN_COOLOFF_MINUTES)
    return min(longest, first * (1 << min(beyond, _MAX_DOUBLINGS)))


def recorded_failures(request: HttpRequest, credentials: dict[str, Any] | None = None) -> int:
    """The failures axes holds for this request's account and for its address, whichever is more (two queries).

    Every failure record still alive counts, however old: its expiry, set by `cooloff` when it was written, says how
    long it matters. Counting without axes' own time window is what keeps `cooloff` from depending on itself.
    """
    AxesProxyHandler.update_request(request)
    username = get_client_username(request, credentials)
    alive = Q(expiration__isnull=True) | Q(expiration__expires_at__gt=timezone.now())
    counts = [
        AccessAttempt.objects.filter(alive, **lookup).aggregate(total=Sum("failures_since_start"))["total"] or 0
        for lookup in get_client_parameters(
            username,
            request.axes_ip_address,  # type: ignore[attr-defined]
            request.axes_user_agent,  # type: ignore[attr-defined]
            request,
            credentials,
        )
    ]
    return max(counts, default=0)


def cooloff(request: HttpRequest | None) -> timedelta:
    """axes' `AXES_COOLOFF_TIME`: axes calls it for the sign-in it is checking or recording."""
    if request is None:
        return pause_for(0)
    return pause_for(recorded_failures(request))


def signin_pause(request: HttpRequest) -> Pause | None:
    """The pause the sign-in attempt in `request` ran into or started; None when it did neither."""
    if not getattr(request, "axes_locked_out", False):
        return None
    failures = recorded_failures(request, getattr(request, "axes_credentials", None))
    return Pause(
        until=request.axes_attempt_time + pause_for(failures),  # type: ignore[attr-defined]
        failures=failures,
        refused=refused(request),
    )


def refused(request: HttpRequest) -> bool:
    """Whether `SignInBackend` turned the sign-in attempt in `request` away during a pause."""
    return bool(getattr(request, "paved_signin_refused", False))


def lockout_response(
    request: HttpRequest, original_response: object = None, credentials: dict[str, Any] | None = None
) -> HttpResponseBase:
    """axes' `AXES_LOCKOUT_CALLABLE`, for the portal's sign-in page and the admin's alike.

    A failure that starts a pause keeps the page the view rendered: the password was checked, so the form's error
    stands (the portal's page adds when to try again). A refused attempt gets the sign-in page saying when.
    """
    if not isinstance(original_response, HttpResponseBase):
        original_response = None  # axes' asynchronous path passes the credentials in its place
    pause = signin_pause(request)
    if original_response is not None and (pause is None or not pause.refused):
        return original_response
    if pause is None:
        pause = Pause(until=timezone.now() + cooloff(request), failures=recorded_failures(request), refused=True)
    username = get_client_username(request, credentials) or ""
    context = {
        "form": AuthenticationForm(request, initial={"username": username}),
        "pause": pause,
        "next": request.POST.get("next", ""),
    }
    response = render(request, "registration/login.html", context, status=HTTPStatus.TOO_MANY_REQUESTS)
    response["Retry-After"] = str(pause.seconds)
    return response


def client_address(request: HttpRequest) -> str | None:
    """axes' `AXES_CLIENT_IP_CALLABLE`: the address a sign-in comes from.

    Each of the `PAVED_PROXY_HOPS` proxies in front of Paved appends the address it was reached from to
    X-Forwarded-For, so the client is that many entries from the right; anything further left was sent by the client
    and may be forged. Without `PAVED_BEHIND_PROXY` the header is ignored, since anybody could send one.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    if not settings.PAVED_BEHIND_PROXY:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if len(hops) < settings.PAVED_PROXY_HOPS:
        return remote
    try:
        return str(ipaddress.ip_address(hops[-settings.PAVED_PROXY_HOPS]))
    except ValueError:
        return remote


@receiver(user_login_failed, dispatch_uid="portal.signin.audit_failure")
def audit_failure(
    sender: object, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Runs after axes' own receiver (axes comes before portal in INSTALLED_APPS), so the failure is already counted.
    if request is None:
        return
    services.signin_failure_record(
        username=get_client_username(request, credentials) or "",
        address=request.axes_ip_address,  # type: ignore[attr-defined]
        path=request.path,
        failures=recorded_failures(request, credentials),
        refused=refused(request),
    )


@receiver(user_locked_out, dispatch_uid="portal.signin.audit_pause")
def audit_pause(
    sender: object, request: HttpRequest, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    pause = signin_pause(request)
    if pause is None:
        return
    services.signin_pause_record(
        username=username or "", address=ip_address, path=request.path, failures=pause.failures, until=pause.until
    )


@receiver(user_logged_in, dispatch_uid="portal.signin.forget_failures")
def forget_failures(sender: object, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any) -> None:
    AxesProxyHandler.reset_attempts(username=user.get_username())
