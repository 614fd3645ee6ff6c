"""README badges: /badge/<entity ref>/<scorecard>.svg with the level and its colour, escaped text, cache headers;
sign-in unless PAVED_SCORECARDS_PUBLIC_BADGES; hostile refs are 404."""

from __future__ import annotations

import pytest

from scorecards import presentation
from scorecards.evaluation import scorecard_evaluate_all
from tests.scorecards.orgs import ops_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def evaluated():
    ops_org()
    scorecard_evaluate_all()


def test_a_badge_shows_the_level_percentage_and_colour_of_the_level(evaluated, client_for):
    response = client_for("reader").get("/badge/component:default/billing/ops.svg")

    svg = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    assert "Operations: Bronze · 83%" in svg
    assert presentation.level_colour(0) in svg
    assert response["Cache-Control"] == "private, max-age=300"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "ref", ["billing", "default/billing", "component:default/billing", "COMPONENT:Default/Billing"]
)
def test_a_badge_reads_the_ref_as_the_catalog_does(evaluated, client_for, ref):
    assert client_for("reader").get(f"/badge/{ref}/ops.svg").status_code == 200


def test_a_service_without_a_level_has_a_grey_badge(evaluated, client_for):
    svg = client_for("reader").get("/badge/indexer/ops.svg").content.decode()

    assert "no level" in svg
    assert presentation.NO_LEVEL_COLOUR in svg


def test_without_a_session_a_badge_is_401_unless_badges_are_public(evaluated, client, settings):
    refused = client.get("/badge/billing/ops.svg")
    settings.PAVED_SCORECARDS_PUBLIC_BADGES = True
    public = client.get("/badge/billing/ops.svg")

    assert refused.status_code == 401
    assert "PAVED_SCORECARDS_PUBLIC_BADGES" in refused.content.decode()
    assert public.status_code == 200
    assert public["Cache-Control"] == "public, max-age=300"


@pytest.mark.parametrize(
    "url",
    [
        "/badge/missing/ops.svg",
        "/badge/billing/missing.svg",
        "/badge/billing/group:ops.svg",
        "/badge/a:b:c/d/ops.svg",
        "/badge/..%2F..%2Fetc%2Fpasswd/ops.svg",
        "/badge/%3Cscript%3E/ops.svg",
        "/badge/" + "x" * 400 + "/ops.svg",
        "/badge/billing/ops.png",
        "/badge/billing%00/ops.svg",
    ],
)
def test_hostile_or_unknown_badges_are_404(evaluated, client_for, url):
    assert client_for("reader").get(url).status_code == 404


def test_badge_text_is_escaped():
    svg = presentation.badge_svg(label='<script>"x"</script>', message="a & b", colour="#fff")

    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "a &amp; b" in svg


def test_a_trend_chart_escapes_labels_and_says_what_it_shows():
    import datetime as dt

    points = [presentation.TrendPoint(day=dt.date(2026, 11, 23), counts=(1, 2, 0))]
    svg = presentation.trend_svg(points=points, levels=["<b>", "Gold"], title="T & <i>", chart_id="c")

    assert "<b>" not in svg
    assert "&lt;b&gt;" in svg
    assert '<title id="c-title">T &amp; &lt;i&gt;</title>' in svg
    assert "2026-11-23: 1 No level, 2 &lt;b&gt;" in svg


def test_an_empty_trend_says_there_is_no_history():
    svg = presentation.trend_svg(points=[], levels=["Bronze"], title="t", chart_id="c")

    assert "No history yet" in svg
