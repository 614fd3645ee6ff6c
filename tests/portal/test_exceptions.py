"""Every error under /api/ answers in Backstage's error body, including the ones Django raises before DRF sees the
request (no route, a refused body, a crash); pages keep the portal's HTML error pages."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.test import Client
from django.urls import reverse
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from portal.api import views as api_views
from portal.exceptions import api_exception_handler
from portal.views import error_400
from tests.portal.factories import ApiTokenFactory

pytestmark = pytest.mark.django_db

TOKEN = "pvd_exceptions-test-token"
BY_REFS = reverse("catalog_api:entities_by_refs")


@pytest.fixture
def token_client(user) -> Client:
    ApiTokenFactory.create(user=user, raw=TOKEN)
    return Client(headers={"Authorization": f"Bearer {TOKEN}"})


def assert_error_body(response, status, name, *, method, url):
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert body["error"]["name"] == name
    assert body["error"]["message"]
    assert body["request"] == {"method": method, "url": url}
    assert body["response"] == {"statusCode": status}
    return body


def test_an_oversized_json_body_is_413(token_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"entityRefs": ["' + "x" * 2000 + '"]}'
    response = token_client.post(BY_REFS, body, content_type="application/json")
    assert_error_body(response, 413, "PayloadTooLargeError", method="POST", url=BY_REFS)


def test_a_multipart_body_is_415_without_being_read(token_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = token_client.post(BY_REFS, {"entityRefs": ["x" * 2000] * 3})
    body = assert_error_body(response, 415, "UnsupportedMediaTypeError", method="POST", url=BY_REFS)
    assert "multipart/form-data" in body["error"]["message"]


def test_an_oversized_multipart_body_with_a_session_is_415_too(auth_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    auth_client.handler.enforce_csrf_checks = True
    auth_client.get(reverse("portal:home"))
    token = auth_client.cookies["csrftoken"].value
    response = auth_client.post(BY_REFS, {"entityRefs": "x" * 2000}, headers={"X-CSRFToken": token})
    assert_error_body(response, 415, "UnsupportedMediaTypeError", method="POST", url=BY_REFS)


@pytest.mark.parametrize(
    ("exception", "status", "name"),
    [
        (RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE."), 413, "PayloadTooLargeError"),
        (TooManyFieldsSent("The number of GET/POST parameters exceeded"), 400, "InputError"),
    ],
)
def test_bodies_django_refuses_are_json_errors_in_the_api_and_in_its_400_view(rf, exception, status, name):
    request = rf.post(BY_REFS)
    response = api_exception_handler(exception, {"request": Request(request)})
    assert response.status_code == status
    assert response.data["error"]["name"] == name
    assert_error_body(error_400(request, exception), status, name, method="POST", url=BY_REFS)


def test_django_400_under_the_api_is_json_and_pages_keep_djangos_page(token_client):
    # A Host not in ALLOWED_HOSTS is refused by Django itself, before any view.
    refused = token_client.get(reverse("api_me"), headers={"Host": "evil.example"})
    assert_error_body(refused, 400, "InputError", method="GET", url=reverse("api_me"))
    page = token_client.get(reverse("catalog:entity_list"), headers={"Host": "evil.example"})
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html")


def test_a_session_without_its_csrf_token_is_403(auth_client):
    auth_client.handler.enforce_csrf_checks = True
    response = auth_client.post(BY_REFS, {"entityRefs": []}, content_type="application/json")
    body = assert_error_body(response, 403, "NotAllowedError", method="POST", url=BY_REFS)
    assert "CSRF" in body["error"]["message"]


def test_malformed_json_is_400(token_client):
    response = token_client.post(BY_REFS, "{not json", content_type="application/json")
    assert_error_body(response, 400, "InputError", method="POST", url=BY_REFS)


# Paths that name no endpoint, so no URL name can build them.
@pytest.mark.parametrize("path", ["/api/nothing-here", "/api/catalog/entities/", "/api/oncall/overrides/abc"])
def test_an_unknown_api_path_is_a_json_404(token_client, path):
    body = assert_error_body(token_client.get(path), 404, "NotFoundError", method="GET", url=path)
    assert "/api/docs/" in body["error"]["message"]


def test_an_unknown_page_is_still_the_html_404(auth_client):
    response = auth_client.get("/nothing-here/")  # a path that names no page
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_an_undocumented_method_is_a_json_405(token_client):
    response = token_client.put(reverse("api_me"))
    assert_error_body(response, 405, "MethodNotAllowedError", method="PUT", url=reverse("api_me"))
    assert response["Allow"]


def test_throttling_is_a_json_429_with_retry_after(token_client, monkeypatch):
    cache.clear()
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "1/min", "anon": "1/min"})
    token_client.get(reverse("api_me"))
    response = token_client.get(reverse("api_me"))
    assert_error_body(response, 429, "TooManyRequests", method="GET", url=reverse("api_me"))
    assert int(response["Retry-After"]) > 0


def test_a_crash_under_the_api_is_a_json_500(token_client, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(api_views.MeApi, "get", crash)
    token_client.raise_request_exception = False
    response = token_client.get(reverse("api_me"))
    body = assert_error_body(response, 500, "InternalServerError", method="GET", url=reverse("api_me"))
    assert "boom" not in body["error"]["message"]


def test_a_nul_character_in_the_query_is_400_and_in_the_path_404(token_client):
    # The error body repeats the request path as sent, NUL byte included, so the literal path is what is checked.
    query = token_client.get(reverse("catalog_api:entity_facets") + "?facet=ki%00nd")
    body = assert_error_body(query, 400, "InputError", method="GET", url="/api/catalog/entity-facets?facet=ki%00nd")
    assert "'facet'" in body["error"]["message"]
    path = token_client.get("/api/catalog/entities/by-name/component/default/a%00b")
    assert_error_body(
        path, 404, "NotFoundError", method="GET", url="/api/catalog/entities/by-name/component/default/a%00b"
    )


def test_a_write_that_waited_out_the_embedded_databases_lock_answers_503_with_retry_after(monkeypatch):
    from django.db import OperationalError, connection
    from rest_framework.test import APIRequestFactory

    from portal.exceptions import BUSY_RETRY_SECONDS, api_exception_handler

    monkeypatch.setattr(connection, "vendor", "sqlite")
    request = APIRequestFactory().delete("/api/catalog/locations/x")
    response = api_exception_handler(OperationalError("database is locked"), {"request": request})
    assert response is not None
    assert response.status_code == 503
    assert response["Retry-After"] == str(BUSY_RETRY_SECONDS)
    assert response.data["error"]["name"] == "ServiceUnavailableError"
    assert "nothing was changed" in response.data["error"]["message"]
    # Any other database failure is not disguised as "busy".
    assert api_exception_handler(OperationalError("no such table: x"), {"request": request}) is None


@pytest.mark.parametrize("fragment", [False, True])
def test_a_form_that_waited_out_the_embedded_databases_lock_answers_503_with_retry_after(
    monkeypatch, auth_client, htmx_client, fragment
):
    from django.db import OperationalError, connection

    from portal import services
    from portal.exceptions import BUSY_RETRY_SECONDS

    def locked(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(services, "apitoken_create", locked)
    monkeypatch.setattr(connection, "vendor", "sqlite")
    client = htmx_client if fragment else auth_client
    response = client.post(reverse("portal:token_list"), {"name": "ci"})
    assert response.status_code == 503
    assert response["Retry-After"] == str(BUSY_RETRY_SECONDS)
    if fragment:  # a toast, nothing swapped
        assert response["HX-Reswap"] == "none"
        assert "nothing was changed" in response["HX-Trigger"]
    else:
        assert "Busy, try again" in response.content.decode()
        assert "nothing was changed" in response.content.decode()


def test_other_database_failures_in_a_form_are_not_called_busy(monkeypatch, auth_client):
    from django.db import OperationalError

    from portal import services

    def broken(**kwargs):
        raise OperationalError("no such table: x")

    monkeypatch.setattr(services, "apitoken_create", broken)
    auth_client.raise_request_exception = True
    with pytest.raises(OperationalError):
        auth_client.post(reverse("portal:token_list"), {"name": "ci"})
