"""The outcome helpers every view uses: refused forms swapped in place, toasts through HX-Trigger, redirects."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpResponse
from django.test import RequestFactory
from django_htmx.middleware import HtmxDetails

from portal.http import FORM_INVALID_STATUSES, form_invalid, notify, refusal, saved
from tests.portal.factories import UserFactory


def _request(*, htmx: bool = False, boosted: bool = False, method: str = "post"):
    headers = {}
    if htmx:
        headers["HX-Request"] = "true"
    if boosted:
        headers["HX-Boosted"] = "true"
    request = getattr(RequestFactory(), method)("/somewhere/", headers=headers)
    request.htmx = HtmxDetails(request)
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def _toasts(response: HttpResponse) -> list[dict[str, str]]:
    toasts: list[dict[str, str]] = json.loads(response["HX-Trigger"])["showMessage"]["messages"]
    return toasts


def test_notify_adds_a_show_message_event():
    response = notify(HttpResponse(), "Saved “x”.")
    assert _toasts(response) == [{"message": "Saved “x”.", "level": "success"}]


def test_notify_keeps_the_header_ascii_so_any_text_survives():
    response = notify(HttpResponse(), "naïve ✓ \u2028 <script>\r\nX-Evil: 1", level="info")
    header = response["HX-Trigger"]
    assert header.isascii()
    assert "\n" not in header
    assert "\r" not in header
    assert _toasts(response)[0]["message"] == "naïve ✓ \u2028 <script>\r\nX-Evil: 1"


def test_notify_twice_shows_both_messages_and_keeps_other_events():
    response = HttpResponse()
    response["HX-Trigger"] = json.dumps({"refreshCard": {}})
    notify(response, "first")
    notify(response, "second", level="warning")
    data = json.loads(response["HX-Trigger"])
    assert data["refreshCard"] == {}
    assert [m["level"] for m in data["showMessage"]["messages"]] == ["success", "warning"]


def test_notify_refuses_an_unknown_level():
    with pytest.raises(ValueError, match="level must be one of"):
        notify(HttpResponse(), "x", level="shout")  # type: ignore[arg-type]


def test_notify_refuses_a_header_that_is_not_json():
    response = HttpResponse()
    response["HX-Trigger"] = "someEvent"
    with pytest.raises(ValueError, match="HX-Trigger header is not JSON"):
        notify(response, "x")


@pytest.mark.django_db
def test_form_invalid_renders_the_partial_for_htmx_and_the_page_otherwise():
    user = UserFactory(username="http-alice")
    context = {"tokens": [], "error": "A token needs a name."}
    fragment_request = _request(htmx=True)
    fragment_request.user = user
    fragment = form_invalid(fragment_request, "portal/tokens.html", context, partial="tokens")
    assert fragment.status_code == 422
    body = fragment.content.decode()
    assert "A token needs a name." in body
    assert "<html" not in body
    page_request = _request()
    page_request.user = user
    page = form_invalid(page_request, "portal/tokens.html", context, partial="tokens", status=400)
    assert page.status_code == 400
    assert "<html" in page.content.decode()
    assert "A token needs a name." in page.content.decode()


@pytest.mark.parametrize("status", [200, 302, 404, 500])
def test_form_invalid_refuses_a_status_htmx_would_not_swap(status):
    with pytest.raises(ValueError, match="status must be one of"):
        form_invalid(_request(htmx=True), "portal/tokens.html", {}, partial="tokens", status=status)


def test_the_statuses_swapped_in_place_are_those_base_html_configures():
    from django.template.loader import get_template

    source = get_template("base.html").template.source
    config = json.loads(re.search(r"name=\"htmx-config\" content='([^']+)'", source).group(1))
    swapped = {
        status
        for status in range(100, 600)
        if next(rule for rule in config["responseHandling"] if re.search(rule["code"], str(status)))["swap"]
    }
    assert swapped >= FORM_INVALID_STATUSES
    assert not any(status >= 500 for status in swapped)
    assert 404 not in swapped
    error_rule = next(rule for rule in config["responseHandling"] if re.search(rule["code"], "422"))
    assert error_rule.get("error") is False


def test_saved_with_a_fragment_answers_htmx_with_the_fragment_and_a_toast():
    request = _request(htmx=True)
    response = saved(
        request, "Token deleted.", redirect_to="/tokens/", fragment=lambda: HttpResponse("<div>table</div>")
    )
    assert response.status_code == 200
    assert response.content == b"<div>table</div>"
    assert _toasts(response) == [{"message": "Token deleted.", "level": "success"}]
    assert list(get_messages(request)) == []


def test_saved_without_a_fragment_sends_htmx_to_the_page_with_the_message_queued():
    request = _request(htmx=True)
    response = saved(request, "Registered.", redirect_to="/catalog/locations/1/")
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/catalog/locations/1/"
    assert [str(m) for m in get_messages(request)] == ["Registered."]


def test_saved_redirects_a_full_page_post_and_does_not_render_the_fragment():
    request = _request()
    rendered = []
    response = saved(
        request, "Deleted.", redirect_to="/tokens/", fragment=lambda: rendered.append(1) or HttpResponse(), level="info"
    )
    assert response.status_code == 302
    assert response["Location"] == "/tokens/"
    assert rendered == []
    assert [(m.level_tag, str(m)) for m in get_messages(request)] == [("info", "Deleted.")]


def test_refusal_swaps_nothing_and_shows_an_error_toast():
    response = refusal(_request(htmx=True), "You may not delete this.", status=403)
    assert response.status_code == 403
    assert response["HX-Reswap"] == "none"
    assert response.content == b""
    assert _toasts(response) == [{"message": "You may not delete this.", "level": "error"}]


# --- the toast region on full pages, and errors of htmx requests ---------------------------------------------------


def test_django_messages_render_as_toasts_on_the_next_full_page(client_for):
    client = client_for("http-bob")
    response = client.post("/settings/tokens/", {"name": "ci"}, follow=False)
    assert response.status_code == 200
    client.post(f"/settings/tokens/{response.context['tokens'][0].pk}/revoke/")
    page = client.get("/settings/tokens/").content.decode()
    toast = re.search(r'<div class="toast show paved-toast paved-toast-success"[^>]*role="status"[^>]*>', page)
    assert toast is not None
    assert "Token “ci” revoked." in page
    assert 'id="toast-template"' in page
    assert 'aria-live="polite"' in page


def test_an_application_error_in_an_htmx_request_is_a_toast_not_an_error_page(client_for):
    from tests.portal.factories import ApiTokenFactory

    other = ApiTokenFactory(user=UserFactory(username="http-owner"))
    response = client_for("http-carol", htmx=True).post(f"/settings/tokens/{other.pk}/revoke/")
    assert response.status_code == 404
    assert response["HX-Reswap"] == "none"
    assert "<html" not in response.content.decode()
    assert "no token" in _toasts(response)[0]["message"].lower()


def test_an_unknown_address_in_an_htmx_request_is_a_toast_without_the_url_patterns(client_for):
    response = client_for("http-dave", htmx=True).get("/no/such/page/")
    assert response.status_code == 404
    assert response["HX-Reswap"] == "none"
    message = _toasts(response)[0]["message"]
    assert message.startswith("Not found")
    assert "tried" not in message
    assert "catalog/" not in message


def test_an_unknown_address_as_a_full_page_is_the_error_page(client_for):
    response = client_for("http-erin").get("/no/such/page/")
    assert response.status_code == 404
    assert "<html" in response.content.decode()
    assert "HX-Trigger" not in response
