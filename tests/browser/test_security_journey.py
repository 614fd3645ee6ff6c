"""Sign-in throttling and the Content-Security-Policy in the browser: the pause and when it ends, the API reference
rendering Swagger UI under the policy, and behaviour that used to be inline script."""

from __future__ import annotations

import io
import re

import pytest
from django.test import Client

from catalog import demo
from portal.models import AuditEvent
from tests.portal.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _sign_in(page, username: str, password: str):
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_response(lambda response: response.request.method == "POST") as answer:
        page.click("#sign-in")
    page.wait_for_load_state()
    return answer.value


def test_sixth_sign_in_after_five_wrong_passwords_is_paused_and_says_when(page, screenshot):
    UserFactory(username="dana")
    page.goto("/login/")
    for _ in range(4):
        assert _sign_in(page, "dana", "wrong").status == 200
        assert page.locator(".alert-danger").is_visible()
        assert page.locator("#signin-paused").count() == 0

    assert _sign_in(page, "dana", "wrong").status == 200
    assert page.locator(".alert-danger").is_visible()
    assert "Try again in 1 minute" in page.locator("#signin-paused").inner_text()

    refused = _sign_in(page, "dana", "correct horse battery staple")
    assert refused.status == 429
    assert "/login/" in page.url
    notice = page.locator("#signin-paused")
    assert re.search(r"Too many failed sign-ins\. Try again in 2 minutes \(at \d\d:\d\d", notice.inner_text())
    # paved.js shows the time in the viewer's zone (the server wrote it in its own).
    assert notice.locator("time[data-paved-done]").count() == 1
    assert page.locator("#id_username").input_value() == "dana"
    screenshot("signin-paused")
    assert AuditEvent.objects.filter(action="signin.paused", target_id="dana").count() == 2


def test_api_reference_renders_swagger_ui_under_the_policy(page, login, screenshot):
    UserFactory(username="dana")
    login("dana")
    with page.expect_response(re.compile(r"/api/docs/$")) as answer:
        page.goto("/api/docs/")
    policy = answer.value.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    page.locator(".swagger-ui .info .title", has_text="Paved API").wait_for()
    page.locator(".swagger-ui .opblock").first.wait_for()
    assert page.locator(".swagger-ui .opblock").count() > 10
    page.locator(".swagger-ui .opblock-summary", has_text="/api/me").first.click()
    page.locator(".swagger-ui .opblock.is-open").first.wait_for()
    screenshot("api-docs")


def test_cancel_removes_the_override_form_without_inline_script(page, login):
    demo.load(stdout=io.StringIO())
    UserFactory(username="priya.raman", first_name="Priya", last_name="Raman")
    login("priya.raman")
    page.goto("/catalog/default/component/payments-service/")
    page.click("#oncall-add-override")
    form = page.locator("#oncall-override-form")
    form.wait_for()
    form.locator("button", has_text="Cancel").click()
    form.wait_for(state="detached")


def test_administrator_sees_failed_sign_ins_and_pauses_in_the_audit_log(page, login, screenshot):
    AdminFactory(username="root")
    guesser = Client(REMOTE_ADDR="203.0.113.5")  # from elsewhere: the address it pauses is not the browser's
    for _ in range(5):
        guesser.post("/login/", {"username": "mallory", "password": "guess"})
    login("root")
    page.goto("/admin/portal/auditevent/?action=signin.paused")
    assert page.locator("#result_list tbody tr").count() == 1
    page.goto("/admin/portal/auditevent/?action=signin.failed")
    assert page.locator("#result_list tbody tr", has_text="mallory").count() == 5
    screenshot("admin-audit-signin")
    page.goto("/admin/axes/accessattempt/")
    assert page.locator("#result_list tbody tr", has_text="mallory").count() == 1
