"""Static files as production serves them: collectstatic into the manifest storage, pages linking the hashed names,
whitenoise serving them with far-future cache headers. The rest of the suite uses the plain storage, which would
not notice a missing manifest entry."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

ONE_YEAR = 365 * 24 * 3600
PRODUCTION_STORAGES = {
    **django_settings.STORAGES,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """collectstatic run once into a fresh STATIC_ROOT with the production storage: the folder and its output."""
    root = tmp_path_factory.mktemp("static")
    output = io.StringIO()
    with override_settings(STATIC_ROOT=root, STORAGES=PRODUCTION_STORAGES):
        call_command("collectstatic", interactive=False, verbosity=1, stdout=output, stderr=output)
    return root, output.getvalue()


@pytest.fixture
def production_static(collected: tuple[Path, str], settings) -> Path:
    root, _ = collected
    settings.STATIC_ROOT = root
    settings.STORAGES = PRODUCTION_STORAGES
    return root


def _static_urls(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def _max_age(response) -> int:
    match = re.search(r"max-age=(\d+)", response.headers.get("Cache-Control", ""))
    return int(match.group(1)) if match else 0


def test_collectstatic_with_production_storage_collects_each_file_once(collected):
    root, output = collected
    assert "Found another file" not in output
    assert "post-processed" in output
    assert (root / "staticfiles.json").exists()
    # The vendored libraries come with the source maps they name, which the manifest rewrites to hashed names.
    assert list((root / "vendor" / "tabler").glob("tabler.min.css.*.map"))
    assert list((root / "vendor" / "swagger-ui").glob("swagger-ui.css.*.map"))


def test_login_page_links_hashed_static_files_cached_for_a_year(client, production_static):
    page = client.get(reverse("portal:login"))
    assert page.status_code == 200
    urls = _static_urls(page.content.decode())
    assert any(url.endswith(".css") for url in urls)
    assert any(url.endswith(".js") for url in urls)
    for url in urls:
        assert re.search(r"\.[0-9a-f]{12}\.\w+$", url), url
        response = client.get(url)
        assert response.status_code == 200, url
        assert _max_age(response) >= ONE_YEAR, (url, response.headers.get("Cache-Control"))


def test_signed_in_pages_render_with_the_manifest(client_for, production_static):
    client = client_for("alice")
    for name in ("portal:home", "catalog:entity_list", "catalog:oncall_now"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert "/static/portal/paved." in response.content.decode()


def test_api_docs_page_loads_swagger_ui_from_collected_files(client_for, production_static):
    client = client_for("alice")
    page = client.get(reverse("api_docs"))
    assert page.status_code == 200
    urls = _static_urls(page.content.decode())
    assert any("swagger-ui-bundle" in url for url in urls)
    for url in urls:
        assert client.get(url).status_code == 200, url
