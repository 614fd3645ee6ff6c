"""Portal pages: home, login/logout, API tokens, health probes and error pages."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal import selectors, services, signin
from portal.exceptions import ERROR_NAMES, ApplicationError, error_body
from portal.http import HtmxHttpRequest, form_invalid, notify, refusal, render_page, saved


@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    return render_page(request, "portal/home.html", {"home": selectors.home_page(user=request.user)})


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        # A failure that starts a pause says so at once rather than on the next attempt. Attempts refused during a
        # pause are answered by portal.signin.lockout_response instead.
        context = self.get_context_data(form=form, pause=signin.signin_pause(self.request))
        return self.render_to_response(context)


login = login_not_required(LoginView.as_view())
logout = auth_views.LogoutView.as_view()


def _tokens_fragment(request: HtmxHttpRequest, **extra: object) -> HttpResponse:
    context = {"tokens": selectors.apitoken_list(user=request.user), **extra}
    return render(request, "portal/tokens.html#tokens", context)


@require_http_methods(["GET", "POST"])
def token_list(request: HtmxHttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render_page(request, "portal/tokens.html", {"tokens": selectors.apitoken_list(user=request.user)})
    name = request.POST.get("name", "")
    try:
        new_token = services.apitoken_create(user=request.user, name=name)
    except ApplicationError as exc:
        context: dict[str, Any] = {
            "tokens": selectors.apitoken_list(user=request.user),
            "error": exc.message,
            "form_name": name[:100],
        }
        return form_invalid(request, "portal/tokens.html", context, partial="tokens", status=400)
    # The clear text is shown once, on this answer: no redirect, for the full page as for htmx.
    context = {"tokens": selectors.apitoken_list(user=request.user), "new_token": new_token, "form_name": ""}
    response = render_page(request, "portal/tokens.html", context, partial="tokens")
    return notify(response, f"Token “{new_token.token.name}” created.") if request.htmx else response


@require_POST
def token_revoke(request: HtmxHttpRequest, token_id: int) -> HttpResponse:
    token = services.apitoken_revoke(user=request.user, token_id=token_id)
    return saved(
        request,
        f"Token “{token.name}” revoked.",
        redirect_to=reverse("portal:token_list"),
        fragment=lambda: _tokens_fragment(request),
    )


@require_POST
def token_delete(request: HtmxHttpRequest, token_id: int) -> HttpResponse:
    token = services.apitoken_delete(user=request.user, token_id=token_id)
    return saved(
        request,
        f"Token “{token.name}” deleted.",
        redirect_to=reverse("portal:token_list"),
        fragment=lambda: _tokens_fragment(request),
    )


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Says nothing about its dependencies (that is /readyz)."""
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: the database and the broker are reachable; 503 with the reason when one is not."""
    checks = selectors.readiness_checks()
    ready = all(check.ok for check in checks)
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in checks},
    }
    return JsonResponse(body, status=200 if ready else 503)


def _htmx_refusal(request: HttpRequest, code: int, message: str) -> HttpResponse | None:
    """An htmx request that failed gets the message as an error toast, not an error page swapped into its target."""
    details = getattr(request, "htmx", None)
    if not details or details.boosted:
        return None
    return refusal(request, message, status=code)


def _api_error(request: HttpRequest, code: int, message: str) -> JsonResponse | None:
    """Under /api/, Django's own errors (no route, a refused body, a crash) answer in the API's error body too."""
    if not request.path_info.startswith("/api/"):
        return None
    return JsonResponse(error_body(code, ERROR_NAMES[code], message, request), status=code)


def error_400(request: HttpRequest, exception: Exception) -> HttpResponse:
    # Pages keep Django's plain 400: it may answer a request whose host was refused, where nothing else is safe.
    code = 413 if isinstance(exception, RequestDataTooBig) else 400
    return _api_error(request, code, str(exception) or "Malformed request") or defaults.bad_request(request, exception)


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    api = _api_error(request, 404, f"No API endpoint at {request.path_info}; see /api/docs/.")
    if api is not None:
        return api
    # Only a view's own Http404 speaks: a Resolver404's text lists the URL patterns it tried.
    message = str(exception) if type(exception) is Http404 and str(exception) else "Nothing is at this address."
    refused = _htmx_refusal(request, 404, f"Not found: {message} It may have been moved or deleted.")
    if refused is not None:
        return refused
    return render(
        request,
        "portal/error.html",
        {
            "code": 404,
            "title": "Page not found",
            "message": "There is nothing at this address. It may have been moved or deleted.",
        },
        status=404,
    )


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception) if exception and str(exception) else "You are not allowed to do this."
    context = {"code": 403, "title": "Not allowed", "message": message}
    return (
        _api_error(request, 403, message)
        or _htmx_refusal(request, 403, message)
        or render(request, "portal/error.html", context, status=403)
    )


def error_500(request: HttpRequest) -> HttpResponse:
    api = _api_error(request, 500, "Paved hit an unexpected error. It has been logged; please try again.")
    if api is not None:
        return api
    refused = _htmx_refusal(request, 500, "Paved hit an unexpected error. It has been logged; please try again.")
    if refused is not None:
        return refused
    return render(
        request,
        "portal/error.html",
        {
            "code": 500,
            "title": "Something went wrong",
            "message": "Paved hit an unexpected error. It has been logged; please try again.",
        },
        status=500,
    )
