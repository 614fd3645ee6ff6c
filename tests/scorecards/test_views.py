"""Scorecards' pages: the overview, a scorecard with its services filtered, a team's roll-up, a service's results,
exemptions asked for and decided, campaigns; empty states, permissions, htmx fragments and hostile input."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from catalog.models import Entity
from scorecards.evaluation import scorecard_evaluate_all
from scorecards.models import Exemption, Result
from tests.portal.factories import AdminFactory
from tests.scorecards.factories import CampaignFactory, ExemptionFactory, level_change
from tests.scorecards.orgs import OPS, ops_org

pytestmark = pytest.mark.django_db

BILLING = "/scorecards/entities/default/component/billing/"


@pytest.fixture
def evaluated():
    ops_org()
    scorecard_evaluate_all()


# -- overview ---------------------------------------------------------------------------------------------------------


def test_the_overview_shows_each_scorecard_with_levels_teams_and_a_trend(evaluated, client_for):
    level_change("component:default/billing", "Bronze", timezone.now() - dt.timedelta(weeks=3))

    response = client_for("reader").get("/scorecards/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-scorecard="scorecard:default/ops"' in html
    assert "Operations" in html
    assert 'data-team="group:default/payments"' in html
    assert 'href="/scorecards/teams/default/payments/"' in html
    assert "<title id=" in html
    assert "levels per week" in html
    assert 'href="/scorecards/default/ops/"' in html


def test_the_overview_without_any_scorecard_says_how_to_add_one(client_for):
    response = client_for("reader").get("/scorecards/")

    assert response.status_code == 200
    assert "No scorecard has been evaluated yet" in response.content.decode()


def test_the_pages_need_a_sign_in(client, evaluated):
    for url in ("/scorecards/", BILLING, "/scorecards/teams/default/payments/", "/scorecards/exemptions/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login/" in response["Location"], url


def test_the_nav_has_a_scorecards_section(client_for):
    html = client_for("reader").get("/scorecards/").content.decode()

    assert 'href="/scorecards/"' in html
    assert 'aria-current="page"' in html


# -- scorecard detail --------------------------------------------------------------------------------------------------


def test_a_scorecard_lists_its_checks_and_services_and_filters_by_team_and_level(evaluated, client_for):
    client = client_for("reader")

    everything = client.get("/scorecards/default/ops/").content.decode()
    payments = client.get("/scorecards/default/ops/?team=payments").content.decode()
    bronze = client.get("/scorecards/default/ops/?level=bronze").content.decode()
    none = client.get("/scorecards/default/ops/?level=none").content.decode()

    assert "Has an escalation policy" in everything
    assert 'data-entity="component:default/indexer"' in everything
    assert 'data-entity="component:default/billing"' in payments
    assert 'data-entity="component:default/indexer"' not in payments
    assert 'data-entity="component:default/billing"' in bronze
    assert 'data-entity="component:default/shop"' not in bronze
    assert 'data-entity="component:default/indexer"' in none
    assert 'data-entity="component:default/billing"' not in none


def test_a_scorecard_filter_fragment_is_the_services_table_only(evaluated, client_for):
    response = client_for("reader", htmx=True).get("/scorecards/default/ops/?level=gold")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="scorecard-services">')
    assert "<html" not in html
    assert 'data-entity="component:default/shop"' in html


@pytest.mark.parametrize("team", ["a:b:c/d", "group:x/y/z", "a" * 400])
def test_a_scorecard_refuses_a_team_that_is_not_a_ref_and_says_so(evaluated, client_for, team):
    response = client_for("reader").get("/scorecards/default/ops/", {"team": team})

    assert response.status_code == 400
    assert "team:" in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/scorecards/default/missing/",
        "/scorecards/default/..%2F..%2Fetc/",
        "/scorecards/default/%3Cscript%3E/",
        "/scorecards/-x/ops/",
    ],
)
def test_unknown_or_hostile_scorecards_are_404(evaluated, client_for, url):
    assert client_for("reader").get(url).status_code == 404


# -- team -------------------------------------------------------------------------------------------------------------


def test_a_team_page_rolls_up_its_services_on_every_scorecard(evaluated, client_for):
    response = client_for("reader").get("/scorecards/teams/default/payments/")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-entity="component:default/billing"' in html
    assert 'data-entity="component:default/shop"' in html
    assert 'data-entity="component:default/indexer"' not in html  # search's
    assert "levels of Payments&#x27;s services" in html


def test_a_team_without_scored_services_has_an_empty_state(evaluated, client_for):
    response = client_for("reader").get("/scorecards/teams/default/search/")

    assert response.status_code == 200
    assert 'data-entity="component:default/indexer"' in response.content.decode()


@pytest.mark.parametrize("url", ["/scorecards/teams/default/no-such-team/", "/scorecards/teams/default/%00x/"])
def test_an_unknown_team_is_404(evaluated, client_for, url):
    assert client_for("reader").get(url).status_code == 404


# -- one service -------------------------------------------------------------------------------------------------------


def test_a_service_shows_its_level_next_level_checks_evidence_and_remediation(evaluated, client_for):
    response = client_for("reader").get(BILLING)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Bronze" in html
    assert "Silver needs:" in html
    assert "Runbook linked" in html
    assert 'data-check="runbook" data-state="fail"' in html
    assert "no link of type runbook" in html  # the evidence
    assert "Add a link of type runbook." in html
    assert "https://docs.example.com/runbooks" in html
    assert 'hx-trigger="every 10s"' in html  # a fix shows by itself


def test_an_error_is_shown_as_could_not_be_checked_never_as_a_fail(evaluated, client_for):
    html = client_for("reader").get("/scorecards/entities/default/component/gateway/").content.decode()

    assert 'data-check="readme" data-state="error"' in html
    assert "Could not be checked" in html
    assert 'data-check="readme" data-state="fail"' not in html


def test_an_exempt_check_is_listed_apart_from_the_passes(client_for):
    ops_org()
    ExemptionFactory(entity_ref="component:default/beta", scorecard_ref=OPS, check_id="readme", status="approved")
    scorecard_evaluate_all()

    html = client_for("reader").get("/scorecards/entities/default/component/beta/").content.decode()

    exempt_part = html.split("paved-exempt-list", 1)[1]
    assert 'data-check="readme" data-state="exempt"' in exempt_part
    assert 'data-state="pass"' not in exempt_part
    assert "Exempt until" in exempt_part


def test_the_results_fragment_is_the_polled_part_only(evaluated, client_for):
    response = client_for("reader", htmx=True).get(BILLING)

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="entity-results"')
    assert "<html" not in html
    assert 'data-check="runbook"' in html


def test_an_entity_on_no_scorecard_has_an_empty_state(evaluated, client_for):
    response = client_for("reader").get("/scorecards/entities/default/group/payments/")

    assert response.status_code == 200
    assert "Not on any scorecard" in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/scorecards/entities/default/component/missing/",
        "/scorecards/entities/default/component/..%2Fbilling/",
        "/scorecards/entities/default/comp%3Conent/billing/",
        "/scorecards/entities/default/component/" + "x" * 300 + "/",
    ],
)
def test_unknown_or_hostile_entities_are_404(evaluated, client_for, url):
    assert client_for("reader").get(url).status_code == 404


def test_the_catalog_page_of_a_component_has_a_scorecards_tab(evaluated, client_for):
    html = client_for("reader").get("/catalog/default/component/billing/").content.decode()

    assert 'data-entity-tab="Scorecards"' in html
    assert f'href="{BILLING}"' in html


def test_the_catalog_page_of_a_group_links_its_roll_up(evaluated, client_for):
    html = client_for("reader").get("/catalog/default/group/payments/").content.decode()

    assert 'href="/scorecards/teams/default/payments/"' in html


# -- exemptions --------------------------------------------------------------------------------------------------------


def _request(client, **data):
    form = {"scorecard": OPS, "check": "runbook", "reason": "Runbook being written.", "expires_on": ""}
    form["expires_on"] = (timezone.localdate() + dt.timedelta(days=10)).isoformat()
    form.update(data)
    return client.post(BILLING + "exemptions/new/", form)


def test_the_exemption_form_opens_for_one_check_as_a_page_and_as_a_fragment(evaluated, client_for):
    url = BILLING + f"exemptions/new/?scorecard={OPS}&check=runbook"

    page = client_for("alice").get(url)
    fragment = client_for("alice", htmx=True).get(url)

    assert page.status_code == 200
    assert "<html" in page.content.decode()
    assert fragment.content.decode().lstrip().startswith('<div id="exemption-form"')
    assert 'value="runbook"' in fragment.content.decode()


def test_a_member_asks_for_an_exemption_and_is_sent_back_to_the_service(evaluated, client_for):
    response = _request(client_for("alice"))

    assert response.status_code == 302
    assert response["Location"] == BILLING
    exemption = Exemption.objects.get()
    assert (exemption.entity_ref, exemption.check_id, exemption.status) == (
        "component:default/billing",
        "runbook",
        "pending",
    )
    assert exemption.requested_by.username == "alice"


def test_an_exemption_asked_for_through_htmx_redirects_the_page(evaluated, client_for):
    response = _request(client_for("alice", htmx=True))

    assert response.status_code == 200
    assert response["HX-Redirect"] == BILLING


@pytest.mark.parametrize(
    ("data", "field_text"),
    [
        ({"reason": ""}, "This field is required"),
        ({"expires_on": "2001-01-01"}, "has passed"),
        ({"expires_on": "9999-12-31"}, "at most 90 days"),
        ({"expires_on": "not a date"}, "Enter a valid date"),
        ({"check": "no-such-check"}, "has no check"),
        ({"scorecard": "scorecard:default/<script>"}, "scorecard"),
        ({"reason": "nul\x00byte"}, "ull characters are not allowed"),
    ],
)
def test_a_refused_exemption_shows_its_errors_in_the_form(evaluated, client_for, data, field_text):
    page = _request(client_for("alice"), **data)
    fragment = _request(client_for("alice", htmx=True), **data)

    assert page.status_code == 400
    assert field_text in page.content.decode()
    assert fragment.status_code == 422
    assert fragment.content.decode().lstrip().startswith('<div id="exemption-form"')
    assert field_text in fragment.content.decode()
    assert "&lt;script&gt;" in page.content.decode() or "<script>" not in page.content.decode()
    assert not Exemption.objects.exists()


def test_a_second_request_for_the_same_check_is_a_conflict_shown_in_the_form(evaluated, client_for):
    _request(client_for("alice"))

    response = _request(client_for("bob"))

    assert response.status_code == 400
    assert "already has a pending exemption" in response.content.decode()


def test_the_queue_shows_an_approver_what_waits_and_the_requester_only_their_request(evaluated, client_for):
    ExemptionFactory(entity_ref="component:default/billing", scorecard_ref=OPS, check_id="runbook")
    exemption = Exemption.objects.get()
    requester = client_for(exemption.requested_by.username)

    mine = requester.get("/scorecards/exemptions/").content.decode()
    approver = client_for("bob").get("/scorecards/exemptions/").content.decode()
    outsider = client_for("zoe").get("/scorecards/exemptions/").content.decode()

    assert f'data-approve="{exemption.pk}"' not in mine
    assert f'data-mine="{exemption.pk}"' in mine
    assert f'data-approve="{exemption.pk}"' in approver
    assert f'data-approve="{exemption.pk}"' not in outsider
    assert "Nothing waits for your decision" in outsider


def test_the_requester_cannot_approve_their_own_exemption(evaluated, client_for):
    _request(client_for("alice"))
    exemption = Exemption.objects.get()

    response = client_for("alice").post(f"/scorecards/exemptions/{exemption.pk}/approve/", {"comment": ""})

    assert response.status_code == 403
    exemption.refresh_from_db()
    assert exemption.status == "pending"


def test_an_approver_approves_and_the_check_shows_as_exempt(evaluated, client_for, django_capture_on_commit_callbacks):
    _request(client_for("alice"))
    exemption = Exemption.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for("bob").post(f"/scorecards/exemptions/{exemption.pk}/approve/", {"comment": "fine"})

    assert response.status_code == 302
    assert response["Location"] == "/scorecards/exemptions/"
    exemption.refresh_from_db()
    assert (exemption.status, exemption.comment, exemption.decided_by.username) == ("approved", "fine", "bob")
    html = client_for("alice").get(BILLING).content.decode()
    assert 'data-check="runbook" data-state="exempt"' in html


def test_an_approver_rejects_with_a_comment(evaluated, client_for):
    ExemptionFactory(entity_ref="component:default/billing", scorecard_ref=OPS, check_id="runbook")
    exemption = Exemption.objects.get()

    client_for("bob").post(f"/scorecards/exemptions/{exemption.pk}/reject/", {"comment": "Write it first."})

    exemption.refresh_from_db()
    assert (exemption.status, exemption.comment) == ("rejected", "Write it first.")


def test_deciding_an_unknown_exemption_is_404_and_a_get_is_refused(evaluated, client_for):
    client = client_for("bob")

    assert client.post("/scorecards/exemptions/00000000-0000-0000-0000-000000000000/approve/").status_code == 404
    assert client.get("/scorecards/exemptions/00000000-0000-0000-0000-000000000000/approve/").status_code == 405
    assert client.post("/scorecards/exemptions/not-a-uuid/approve/").status_code == 404


def test_a_comment_that_is_too_long_is_refused_and_says_so(evaluated, client_for):
    ExemptionFactory(entity_ref="component:default/billing", scorecard_ref=OPS, check_id="runbook")
    exemption = Exemption.objects.get()

    response = client_for("bob").post(
        f"/scorecards/exemptions/{exemption.pk}/approve/", {"comment": "x" * 3000}, follow=True
    )

    assert "comment" in response.content.decode()
    assert "2000" in response.content.decode()
    exemption.refresh_from_db()
    assert exemption.status == "pending"


# -- campaigns ---------------------------------------------------------------------------------------------------------


def test_the_campaign_list_and_page_show_progress_per_team_and_the_forecast(evaluated, client_for):
    CampaignFactory(slug="silver", title="Silver everywhere", scorecard_ref=OPS, target_level="Silver")

    listing = client_for("reader").get("/scorecards/campaigns/").content.decode()
    page = client_for("reader").get("/scorecards/campaigns/silver/")

    html = page.content.decode()
    assert 'data-campaign="silver"' in listing
    assert page.status_code == 200
    assert 'data-team="group:default/payments"' in html
    assert 'data-team="group:default/search"' in html
    assert "Projected finish" in html
    assert "delayed" in html or "on track" in html


def test_the_campaign_list_is_empty_at_first(client_for):
    response = client_for("reader").get("/scorecards/campaigns/")

    assert response.status_code == 200
    assert "No campaign yet" in response.content.decode()


@pytest.mark.parametrize("slug", ["missing", "%3Cscript%3E", "x" * 200])
def test_an_unknown_campaign_is_404(evaluated, client_for, slug):
    assert client_for("reader").get(f"/scorecards/campaigns/{slug}/").status_code == 404


def test_a_member_of_the_scorecards_owner_starts_a_campaign(evaluated, client_for):
    due = (timezone.localdate() + dt.timedelta(weeks=6)).isoformat()
    data = {"title": "Gold", "slug": "gold", "scorecard": OPS, "target_level": "gold", "due_date": due}

    response = client_for("alice").post("/scorecards/campaigns/new/", data)

    assert response.status_code == 302
    assert response["Location"] == "/scorecards/campaigns/gold/"


def test_someone_outside_the_owner_cannot_start_a_campaign(evaluated, client_for):
    due = (timezone.localdate() + dt.timedelta(weeks=6)).isoformat()
    client = client_for("zoe")

    page = client.get("/scorecards/campaigns/new/").content.decode()
    response = client.post(
        "/scorecards/campaigns/new/",
        {"title": "Gold", "slug": "gold", "scorecard": OPS, "target_level": "Gold", "due_date": due},
    )

    assert "You cannot start a campaign" in page
    assert response.status_code == 400  # the scorecard is not among the choices offered to zoe


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"target_level": "Platinum"}, "has no level"),
        ({"due_date": "2001-01-01"}, "has passed"),
        ({"slug": "not a slug"}, "Enter a valid"),
        ({"filter": "=x"}, "Invalid filter"),
    ],
)
def test_a_refused_campaign_shows_its_errors_in_the_form(evaluated, client_for, data, text):
    AdminFactory(username="root")
    due = (timezone.localdate() + dt.timedelta(weeks=6)).isoformat()
    form = {"title": "Gold", "slug": "gold", "scorecard": OPS, "target_level": "Gold", "due_date": due, **data}

    page = client_for("root").post("/scorecards/campaigns/new/", form)
    fragment = client_for("root", htmx=True).post("/scorecards/campaigns/new/", form)

    assert page.status_code == 400
    assert text in page.content.decode()
    assert fragment.status_code == 422
    assert fragment.content.decode().lstrip().startswith('<div id="campaign-form"')


def test_the_queue_fragment_is_the_queue_only(evaluated, client_for):
    ExemptionFactory(entity_ref="component:default/billing", scorecard_ref=OPS, check_id="runbook")

    html = client_for("bob", htmx=True).get("/scorecards/exemptions/").content.decode()

    assert html.lstrip().startswith('<div id="exemption-queue">')
    assert "<html" not in html


def test_a_service_page_costs_a_bounded_number_of_queries(evaluated, client_for, django_assert_max_num_queries):
    client = client_for("reader")
    client.get(BILLING)  # the user's session and membership

    with django_assert_max_num_queries(12):
        response = client.get(BILLING)

    assert response.status_code == 200


def test_the_overview_costs_a_bounded_number_of_queries(evaluated, client_for, django_assert_max_num_queries):
    client = client_for("reader")
    client.get("/scorecards/")

    # One scorecard: its views, teams, campaigns, the queue and one query per week of the trend.
    with django_assert_max_num_queries(17):
        response = client.get("/scorecards/")

    assert response.status_code == 200


def test_a_failing_entity_tab_is_left_out_and_the_catalog_page_still_opens(evaluated, client_for):
    from catalog import extensions

    def broken(entity):
        raise RuntimeError("boom")

    extensions.register_entity_tab("Broken", broken)
    try:
        response = client_for("reader").get("/catalog/default/component/billing/")
    finally:
        extensions.unregister_entity_tab("Broken")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-entity-tab="Broken"' not in html
    assert 'data-entity-tab="Scorecards"' in html


def test_kinds_without_scorecards_have_no_tab(evaluated, client_for):
    html = client_for("reader").get("/catalog/default/user/alice/").content.decode()

    assert 'data-entity-tab="Scorecards"' not in html


def test_a_scorecard_names_the_checks_holding_services_back_errors_apart_from_fails(evaluated, client_for):
    failing = Result.objects.filter(scorecard_ref=OPS, check_id="runbook", state="fail", exempt=False).count()

    html = client_for("reader").get("/scorecards/default/ops/").content.decode()

    runbook = html.split('data-blocker="runbook"', 1)[1].split("</li>", 1)[0]
    readme = html.split('data-blocker="readme"', 1)[1].split("</li>", 1)[0]
    assert f"{failing} failing" in runbook
    assert "could not be checked" in readme  # services without a repository
    assert "failing" not in readme


# -- teams by their titles ---------------------------------------------------------------------------------------


TEAM_TITLE = "Payments & <Billing>"
TEAM_HTML = "Payments &amp; &lt;Billing&gt;"


@pytest.fixture
def titled(evaluated):
    Entity.objects.filter(ref="group:default/payments").update(title=TEAM_TITLE)


def _team_cell(html: str, marker: str) -> str:
    start = html.index(marker)
    return html[start : html.index("</tr>", start)]


def test_every_scorecards_page_names_a_team_by_its_title_linking_to_the_team(titled, client_for):
    CampaignFactory(slug="silver", scorecard_ref=OPS, target_level="Silver")
    ExemptionFactory(entity_ref="component:default/billing", scorecard_ref=OPS, check_id="runbook")
    client = client_for("bob")
    team_link = f'<a href="/scorecards/teams/default/payments/" title="group:default/payments">{TEAM_HTML}</a>'
    catalog_link = f'<a href="/catalog/default/group/payments/" title="group:default/payments">{TEAM_HTML}</a>'

    overview = client.get("/scorecards/").content.decode()
    scorecard = client.get("/scorecards/default/ops/").content.decode()
    team = client.get("/scorecards/teams/default/payments/").content.decode()
    service = client.get(BILLING).content.decode()
    campaign = client.get("/scorecards/campaigns/silver/").content.decode()
    queue = client.get("/scorecards/exemptions/").content.decode()

    assert team_link in _team_cell(overview, 'data-team="group:default/payments"')
    assert f"owned by {catalog_link}" in overview
    assert team_link in _team_cell(scorecard, 'data-team="group:default/payments"')
    assert f'<option value="group:default/payments">{TEAM_HTML}</option>' in scorecard
    row = _team_cell(scorecard, 'data-entity="component:default/billing"')
    assert f'class="text-reset" title="group:default/payments">{TEAM_HTML}</a>' in row
    assert f"<title>{TEAM_HTML} · Scorecards · Paved</title>" in team
    assert f"levels of {TEAM_HTML}&#x27;s services" in team
    assert f'class="text-reset" title="group:default/payments">{TEAM_HTML}</a>' in service.split("page-pretitle")[1]
    assert team_link in _team_cell(campaign, 'data-team="group:default/payments"')
    assert f"waiting for {catalog_link}" in service
    assert f"{catalog_link} decides." in queue
    team = team.replace('<div class="paved-muted-ref mb-3">group:default/payments</div>', "", 1)  # under the title
    for html in (overview, scorecard, team, service, campaign, queue):
        assert TEAM_TITLE not in html  # never unescaped
        assert ">group:default/payments<" not in html


def test_a_team_missing_from_the_catalog_goes_by_a_name_made_from_its_ref(evaluated, client_for):
    Entity.objects.filter(ref="group:default/payments").delete()

    html = client_for("reader").get("/scorecards/").content.decode()

    cell = _team_cell(html, 'data-team="group:default/payments"')
    assert ">group:default/payments<" not in cell
    assert 'title="group:default/payments"' in cell


def test_services_and_scorecards_are_named_by_their_titles_with_the_ref_beside(evaluated, client_for):
    Entity.objects.filter(ref="component:default/billing").update(title="Billing & <Invoices>")
    ExemptionFactory(entity_ref="component:default/billing", scorecard_ref=OPS, check_id="runbook")
    client = client_for("bob")
    billing = (
        '<a href="/scorecards/entities/default/component/billing/" title="component:default/billing">'
        "Billing &amp; &lt;Invoices&gt;</a>"
    )

    scorecard = client.get("/scorecards/default/ops/").content.decode()
    team = client.get("/scorecards/teams/default/payments/").content.decode()
    queue = client.get("/scorecards/exemptions/").content.decode()

    assert billing in _team_cell(scorecard, 'data-entity="component:default/billing"')
    assert billing in _team_cell(team, 'data-entity="component:default/billing"')
    shop = '<a href="/scorecards/entities/default/component/shop/" title="component:default/shop">shop</a>'
    assert shop in team  # no title: its name
    assert billing in queue
    assert '<span class="text-secondary fw-normal" title="scorecard:default/ops">of Operations</span>' in queue


def test_campaigns_name_their_scorecard_by_its_title(evaluated, client_for):
    CampaignFactory(slug="silver", title="Silver everywhere", scorecard_ref=OPS, target_level="Silver")
    client = client_for("reader")

    overview = client.get("/scorecards/").content.decode()
    listing = client.get("/scorecards/campaigns/").content.decode()
    detail = client.get("/scorecards/campaigns/silver/").content.decode()

    assert "— Silver on Operations by" in overview
    assert '<span class="text-secondary small" title="scorecard:default/ops">on Operations</span>' in listing
    assert '<a class="small" href="/scorecards/default/ops/" title="scorecard:default/ops">Operations</a>' in detail
