from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from catalog.oncall.presentation import PALETTE
from catalog.templatetags.catalog_ui import colour_class

pytestmark = pytest.mark.django_db

TEMPLATE_DIRS = [
    Path(settings.BASE_DIR) / app / "templates" for app in ("portal", "catalog", "scaffolder", "scorecards")
]
INLINE = {
    "inline script": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "style element": re.compile(r"<style\b", re.IGNORECASE),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=\s*[\"']", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def test_pages_carry_a_strict_enforced_policy(auth_client):
    for response in (auth_client.get(reverse("portal:home")), Client().get(reverse("portal:login"))):
        assert response.status_code == 200
        assert "Content-Security-Policy-Report-Only" not in response
        policy = directives(response)
        assert policy["default-src"] == ["'self'"]
        assert policy["script-src"] == ["'self'"]  # a nonce only on a page that uses one; none does
        assert policy["style-src"] == ["'self'"]
        assert policy["img-src"] == ["'self'", "data:"]
        assert policy["connect-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["base-uri"] == ["'self'"]
        assert policy["form-action"] == ["'self'"]
        assert "unsafe" not in response["Content-Security-Policy"]


def test_templates_have_no_inline_script_style_or_event_handlers():
    found = []
    for directory in TEMPLATE_DIRS:
        for template in sorted(directory.rglob("*.html")):
            text = template.read_text()
            for what, pattern in INLINE.items():
                found += [f"{template}: {what}: {match.group(0)!r}" for match in pattern.finditer(text)]
    assert found == []


def test_api_docs_page_loads_swagger_ui_and_its_start_up_script_as_files(auth_client):
    page = auth_client.get(reverse("api_docs"))
    assert page.status_code == 200
    html = page.content.decode()
    assert not INLINE["inline script"].search(html)
    assert not INLINE["style element"].search(html)
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert scripts[-1] == reverse("api_docs") + "?script="
    assert all(src.startswith("/") for src in scripts)  # our own static files, no third-party origin

    script = auth_client.get(scripts[-1])
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    body = script.content.decode()
    assert "SwaggerUIBundle(" in body
    assert '"validatorUrl": null' in body  # no badge image from a third-party validator


def test_every_person_colour_has_a_class_in_the_stylesheet():
    css = (Path(settings.BASE_DIR) / "portal/static/portal/paved.css").read_text()
    for index, colour in enumerate(PALETTE):
        assert colour_class(colour) == f"paved-colour-{index}"
        assert f".paved-colour-{index} {{ --paved-colour: {colour}; }}" in css
    assert colour_class("#123456") == ""
