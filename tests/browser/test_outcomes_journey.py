"""Every outcome is visible: refused forms show their message in place, successes a toast, errors an error toast,
and a form opened as a page of its own saves and cancels as a plain form."""

from __future__ import annotations

import re

import pytest

from catalog.models import Location
from portal.models import ApiToken
from tests.catalog.factories import ComponentDictFactory, seed_org, write_docs
from tests.portal.factories import AdminFactory, ApiTokenFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_refused_registration_shows_its_message_on_the_page(page, login, screenshot, tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path / "catalog")]
    AdminFactory(username="dana")
    login("dana")
    page.goto("/catalog/locations/")
    assert page.locator("#locations-empty", has_text="Register one with the form beside this list").is_visible()
    screenshot("outcomes-locations-empty")

    # Outside the file roots: the 400 is swapped into the form with the reason.
    page.select_option("#location-type", "file")
    page.fill("#location-target", "/etc/hostname")
    page.click("#register-button")
    errors = page.locator("#preview-errors")
    errors.wait_for()
    assert "Cannot register this location" in errors.inner_text()
    assert str(tmp_path / "catalog") in errors.inner_text()
    assert errors.get_attribute("role") == "alert"
    assert page.url.endswith("/catalog/locations/")
    assert Location.objects.count() == 0
    screenshot("outcomes-register-refused")

    # A host that is not allowed, previewed.
    page.select_option("#location-type", "url")
    page.fill("#location-target", "http://169.254.169.254/latest/meta-data")
    page.click("#preview-button")
    page.wait_for_function("() => document.querySelector('#preview-errors')?.textContent.includes('169.254.169.254')")
    screenshot("outcomes-preview-host-refused")

    # A file that is not there: the preview says so rather than counting entities.
    page.select_option("#location-type", "file")
    page.fill("#location-target", str(tmp_path / "catalog" / "missing.yaml"))
    page.click("#preview-button")
    unreadable = page.locator("#preview-unreadable")
    unreadable.wait_for()
    assert "file not found" in unreadable.inner_text()
    assert page.locator("#location-preview", has_text="would be created").count() == 0
    screenshot("outcomes-preview-file-not-found")


def test_a_successful_save_shows_a_toast_and_an_error_shows_an_error_toast(page, login, screenshot, tmp_path, settings):
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    AdminFactory(username="dana")
    login("dana")

    # Registering: htmx sends the browser to the new location, whose page shows the message as a toast.
    path = write_docs(tmp_path / "catalog-info.yaml", [ComponentDictFactory(name="billing", owner="payments")])
    page.goto("/catalog/locations/")
    page.fill("#location-target", str(path))
    page.click("#preview-button")
    page.locator("#preview-entities li[data-outcome='create']", has_text="billing").wait_for()
    screenshot("outcomes-preview-would-create")
    page.click("#register-button")
    page.wait_for_url(re.compile(r"/catalog/locations/[0-9a-f-]{36}/$"))
    toast = page.locator("#toasts .toast", has_text="Registered file:")
    toast.wait_for()
    assert toast.get_attribute("role") == "status"
    screenshot("outcomes-registered-toast")

    # Already registered: the preview says so.
    page.goto("/catalog/locations/")
    page.fill("#location-target", str(path))
    page.click("#preview-button")
    page.locator("#preview-exists", has_text="Already registered").wait_for()
    screenshot("outcomes-preview-already-registered")

    # API tokens: a refused name under its field, then created, revoked and deleted, each with a toast.
    page.goto("/settings/tokens/")
    assert page.locator(".empty-title", has_text="No tokens yet").is_visible()
    page.fill("#token-name", "   ")
    page.click("text=Create token")
    page.locator("#token-error", has_text="needs a name").wait_for()
    screenshot("outcomes-token-refused")
    page.fill("#token-name", "CI pipeline")
    page.click("text=Create token")
    page.locator("#toasts .toast", has_text="Token “CI pipeline” created.").wait_for()
    assert page.locator("#new-token").inner_text().startswith("pvd_")
    screenshot("outcomes-token-created-toast")

    page.on("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Revoke')")
    page.locator("#toasts .toast", has_text="Token “CI pipeline” revoked.").wait_for()
    page.locator("#tokens .badge", has_text="revoked").wait_for()
    page.click("button:has-text('Delete')")
    page.locator("#toasts .toast", has_text="Token “CI pipeline” deleted.").wait_for()
    page.locator("#tokens .empty-title", has_text="No tokens yet").wait_for()
    assert not ApiToken.objects.exists()
    screenshot("outcomes-token-deleted-toast")

    # A server error swaps nothing and says so; the form stays as it was.
    page.fill("#token-name", "will fail")
    page.route("**/settings/tokens/", lambda route: route.fulfill(status=500, body="boom"))
    page.click("text=Create token")
    error = page.locator("#toasts .toast[data-level='error']", has_text="unexpected error")
    error.wait_for()
    assert error.get_attribute("role") == "alert"
    assert page.input_value("#token-name") == "will fail"
    screenshot("outcomes-server-error-toast")
    page.unroute("**/settings/tokens/")
    error.locator(".btn-close").click()
    assert page.locator("#toasts .toast[data-level='error']").count() == 0


def test_someone_elses_token_refused_over_htmx_is_an_error_toast(page, login, screenshot):
    UserFactory(username="dana")
    other = ApiTokenFactory(name="not yours")
    login("dana")
    mine = ApiTokenFactory(user__username="dana", name="mine")
    page.goto("/settings/tokens/")
    # A delete form pointed at someone else's token: refused as missing, in an error toast, the table left as it was.
    page.evaluate(
        "([mine, other]) => { const form = document.querySelector(`form[hx-post$='/${mine}/delete/']`);"
        " form.setAttribute('hx-post', `/settings/tokens/${other}/delete/`); htmx.process(form); }",
        [mine.pk, other.pk],
    )
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Delete')")
    page.locator("#toasts .toast[data-level='error']", has_text=f"You have no token with id {other.pk}").wait_for()
    assert page.locator("#tokens", has_text="mine").is_visible()
    assert ApiToken.objects.filter(pk=other.pk).exists()
    screenshot("outcomes-refused-toast")


def test_a_form_opened_as_a_page_of_its_own_saves_and_its_cancel_goes_back(page, login, screenshot):
    AdminFactory(username="dana")
    location = seed_org()
    login("dana")

    # The unregister confirmation opened straight from a link: Cancel goes back to the location.
    page.goto(f"/catalog/locations/{location.pk}/delete/")
    screenshot("outcomes-unregister-page")
    page.click("text=Cancel")
    page.wait_for_url(re.compile(rf"/catalog/locations/{location.pk}/$"))
    assert page.locator("#location-status").is_visible()

    # Opened again, it saves as a plain form and says so on the page it lands on.
    page.goto(f"/catalog/locations/{location.pk}/delete/")
    page.click("#confirm-unregister")
    page.wait_for_url(re.compile(r"/catalog/locations/$"))
    page.locator("#toasts .toast", has_text=f"Unregistered {location.key}.").wait_for()
    assert not Location.objects.filter(pk=location.pk).exists()
    screenshot("outcomes-unregistered-toast")

    # An htmx form whose target is not on the page (a form opened on its own) posts as a plain form, not nothing.
    page.goto("/settings/tokens/")
    page.evaluate("document.querySelector('#token-form').setAttribute('hx-target', '#not-on-this-page')")
    page.fill("#token-name", "plain post")
    page.click("text=Create token")
    page.locator("#new-token").wait_for()
    assert ApiToken.objects.filter(name="plain post").exists()
    screenshot("outcomes-plain-post-fallback")
