from __future__ import annotations

import pytest
from django.db import connection
from django.db.utils import OperationalError
from django.test import Client
from django.urls import reverse

from portal.celery import app as celery_app
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_page_redirects_anonymous_user_to_login():
    response = Client().get(reverse("portal:home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login"))


def test_api_answers_anonymous_request_with_401_json():
    response = Client().get(reverse("api_me"))
    assert response.status_code == 401
    body = response.json()
    assert body["error"]["name"] == "AuthenticationError"
    assert "credentials" in body["error"]["message"].lower()
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_login_page_signs_user_in_and_shows_home(user):
    client = Client()
    page = client.get(reverse("portal:login"))
    assert page.status_code == 200
    assert b"Sign in to Paved" in page.content
    response = client.post(
        reverse("portal:login"), {"username": "alice", "password": "correct horse battery staple"}, follow=True
    )
    assert response.status_code == 200
    assert b"Welcome back" in response.content
    assert b"Catalog" in response.content or b"Automate with the API" in response.content


def test_login_with_wrong_password_says_so(user):
    response = Client().post(reverse("portal:login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_logout_requires_post_and_ends_session(auth_client):
    response = auth_client.post(reverse("portal:logout"))
    assert response.status_code == 302
    assert auth_client.get(reverse("portal:home")).status_code == 302


# Load balancers, orchestrators and Prometheus probe /healthz, /readyz and /metrics by these literal paths: the
# path itself is under test in the tests below.
def test_healthz_is_public_and_says_ok():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_when_database_and_broker_are_reachable():
    response = Client().get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True


def test_readyz_is_503_with_reason_when_broker_is_down(monkeypatch):
    monkeypatch.setitem(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(celery_app.conf, "broker_write_url", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(celery_app.conf, "broker_transport_options", {})
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert "Error" in body["checks"]["broker"]["detail"]


def test_readyz_is_503_with_reason_when_database_is_down(monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "detail": "OperationalError: connection refused"}


def test_metrics_are_public_prometheus_text():
    response = Client().get("/metrics")
    assert response.status_code == 200
    assert b"django_http_requests_total" in response.content or b"python_info" in response.content


def test_every_response_carries_a_request_id_and_honours_a_sane_incoming_one():
    response = Client().get("/healthz", headers={"X-Request-ID": "abc12345-trace"})
    assert response["X-Request-ID"] == "abc12345-trace"
    hostile = Client().get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert hostile["X-Request-ID"] != "<script>alert(1)</script>"
    assert len(hostile["X-Request-ID"]) == 32


def test_unknown_page_renders_styled_404(auth_client):
    response = auth_client.get("/no/such/page/")  # a path that names no page
    assert response.status_code == 404
    assert b"Page not found" in response.content
    assert b"Back to the home page" in response.content


def test_api_schema_and_docs_are_served_without_a_cdn(auth_client):
    schema = auth_client.get(reverse("api_schema"))
    assert schema.status_code == 200
    docs = auth_client.get(reverse("api_docs"))
    assert docs.status_code == 200
    assert b"cdn.jsdelivr" not in docs.content
    assert b"/static/vendor/swagger-ui" in docs.content


def test_home_page_lists_no_cdn_assets(auth_client):
    response = auth_client.get(reverse("portal:home"))
    assert response.status_code == 200
    for needle in (b"/static/vendor/htmx/htmx.min.js", b"/static/vendor/tabler/tabler.min.css"):
        assert needle in response.content
    assert b"https://cdn" not in response.content
    assert b'hx-headers=\'{"X-CSRFToken"' in response.content


def test_token_page_creates_token_once_and_audits_it(auth_client, user):
    response = auth_client.post(reverse("portal:token_list"), {"name": "CI pipeline"})
    assert response.status_code == 200
    raw = response.context["new_token"].raw
    assert raw.encode() in response.content
    assert AuditEvent.objects.filter(action="apitoken.create", actor=user).count() == 1
    again = auth_client.get(reverse("portal:token_list"))
    assert raw.encode() not in again.content
    assert b"CI pipeline" in again.content


def test_token_page_fragment_request_returns_only_the_token_table(htmx_client):
    response = htmx_client.post(reverse("portal:token_list"), {"name": "deploy bot"})
    assert response.status_code == 200
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="tokens"')
    assert "<html" not in content


def test_token_page_rejects_empty_name_with_message(auth_client):
    response = auth_client.post(reverse("portal:token_list"), {"name": "   "})
    assert response.status_code == 400
    assert b"needs a name" in response.content


def test_token_authenticates_api_with_token_and_bearer_and_stops_after_revoke(auth_client, user):
    raw = auth_client.post(reverse("portal:token_list"), {"name": "script"}).context["new_token"].raw
    anonymous = Client()
    for scheme in ("Token", "Bearer"):
        response = anonymous.get(reverse("api_me"), headers={"Authorization": f"{scheme} {raw}"})
        assert response.status_code == 200
        assert response.json()["username"] == "alice"
    token_id = user.api_tokens.get().pk
    auth_client.post(reverse("portal:token_revoke", args=[token_id]))
    response = anonymous.get(reverse("api_me"), headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid or revoked token."


def test_user_cannot_revoke_someone_elses_token(auth_client):
    from tests.portal.factories import ApiTokenFactory

    other = ApiTokenFactory()
    response = auth_client.post(reverse("portal:token_revoke", args=[other.pk]))
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None


def _toasts(response):
    import json

    return json.loads(response["HX-Trigger"])["showMessage"]["messages"]


def test_token_page_refused_name_is_swapped_into_the_form_with_its_message(htmx_client):
    response = htmx_client.post(reverse("portal:token_list"), {"name": "x" * 101})
    assert response.status_code == 400
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="tokens"')
    assert "at most 100 characters" in content
    assert 'aria-invalid="true"' in content
    assert "<html" not in content


def test_token_page_created_token_says_so_in_a_toast(htmx_client):
    response = htmx_client.post(reverse("portal:token_list"), {"name": "deploy bot"})
    assert _toasts(response) == [{"message": "Token “deploy bot” created.", "level": "success"}]


def test_token_page_empty_state_reads_as_help(auth_client):
    content = auth_client.get(reverse("portal:token_list")).content.decode()
    assert "No tokens yet" in content
    assert "Create one with the form beside this list" in content


def test_token_revoke_over_htmx_answers_the_table_and_a_toast(htmx_client, user):
    from tests.portal.factories import ApiTokenFactory

    token = ApiTokenFactory(user=user, name="ci")
    response = htmx_client.post(reverse("portal:token_revoke", args=[token.pk]))
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<div id="tokens"')
    assert _toasts(response) == [{"message": "Token “ci” revoked.", "level": "success"}]


@pytest.mark.parametrize("revoked", [False, True])
def test_token_delete_removes_an_active_or_revoked_token_and_audits_it(auth_client, user, revoked):
    from django.utils import timezone

    from portal.models import ApiToken
    from tests.portal.factories import ApiTokenFactory

    token = ApiTokenFactory(user=user, name="old ci", revoked_at=timezone.now() if revoked else None)
    response = auth_client.post(reverse("portal:token_delete", args=[token.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:token_list")
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    event = AuditEvent.objects.get(action="apitoken.delete")
    assert event.actor == user
    assert event.target_id == str(token.pk)
    assert event.before == {"name": "old ci", "prefix": token.prefix, "active": not revoked, "owner": "alice"}
    page = auth_client.get(response["Location"]).content.decode()
    assert "Token “old ci” deleted." in page
    assert "No tokens yet" in page


def test_token_delete_over_htmx_answers_the_table_and_a_toast(htmx_client, user):
    from tests.portal.factories import ApiTokenFactory

    keep = ApiTokenFactory(user=user, name="keep me")
    gone = ApiTokenFactory(user=user, name="drop me")
    response = htmx_client.post(reverse("portal:token_delete", args=[gone.pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "keep me" in content
    assert "drop me" not in content
    assert f'data-token="{keep.pk}"' in content
    assert _toasts(response) == [{"message": "Token “drop me” deleted.", "level": "success"}]


def test_token_delete_of_someone_elses_token_is_refused_as_missing(client_for):
    from portal.models import ApiToken
    from tests.portal.factories import ApiTokenFactory

    other = ApiTokenFactory()
    page = client_for("mallory").post(reverse("portal:token_delete", args=[other.pk]))
    assert page.status_code == 404
    assert f"no token with id {other.pk}".encode() in page.content
    fragment = client_for("mallory", htmx=True).post(reverse("portal:token_delete", args=[other.pk]))
    assert fragment.status_code == 404
    assert fragment["HX-Reswap"] == "none"
    assert _toasts(fragment)[0]["level"] == "error"
    assert ApiToken.objects.filter(pk=other.pk).exists()
    assert not AuditEvent.objects.filter(action="apitoken.delete").exists()


def test_token_delete_by_an_administrator_of_someone_elses_token(client_for):
    from portal.models import ApiToken
    from tests.portal.factories import AdminFactory, ApiTokenFactory

    AdminFactory(username="root")
    other = ApiTokenFactory(name="leaked")
    response = client_for("root").post(reverse("portal:token_delete", args=[other.pk]))
    assert response.status_code == 302
    assert not ApiToken.objects.filter(pk=other.pk).exists()
    assert AuditEvent.objects.get(action="apitoken.delete").actor_name == "root"


def test_token_delete_by_an_inactive_administrator_is_refused(client_for):
    from portal.exceptions import NotFoundError
    from portal.models import ApiToken
    from portal.services import apitoken_delete
    from tests.portal.factories import AdminFactory, ApiTokenFactory

    other = ApiTokenFactory()
    with pytest.raises(NotFoundError):
        apitoken_delete(user=AdminFactory(username="gone", is_active=False), token_id=other.pk)
    assert ApiToken.objects.filter(pk=other.pk).exists()


@pytest.mark.parametrize("path", ["0", "-1", "99999999999999999999", "1%00", "abc", "1;drop", "%2e%2e"])
def test_token_delete_hostile_ids_are_not_found(auth_client, path):
    response = auth_client.post(f"/settings/tokens/{path}/delete/")
    assert response.status_code == 404


def test_token_delete_needs_post_and_csrf(user):
    from tests.portal.factories import ApiTokenFactory

    token = ApiTokenFactory(user=user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(reverse("portal:token_delete", args=[token.pk])).status_code == 405
    assert client.post(reverse("portal:token_delete", args=[token.pk])).status_code == 403
    assert Client().post(reverse("portal:token_delete", args=[token.pk])).status_code == 302  # to sign-in
    token.refresh_from_db()


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer a b", "Bearer not-a-paved-token", "Token pvd_" + "x" * 300, "Bearer \u00e9\u00e9"],
)
def test_malformed_authorization_headers_get_401_not_500(header):
    response = Client().get(reverse("api_me"), headers={"Authorization": header.encode("utf-8").decode("latin-1")})
    assert response.status_code == 401
