"""The home page: the signed-in user's teams with what they own and who is on call, and the catalog at a glance."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.models import Location
from tests.catalog.factories import ComponentDictFactory, GroupDictFactory, LocationFactory, UserDictFactory, ingest
from tests.catalog.oncall.factories import OnCallOverrideFactory, payments_org
from tests.portal.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db


def _carol_on_call_now() -> None:
    now = timezone.now()
    OnCallOverrideFactory(
        schedule_ref="schedule:default/payments-primary",
        user_ref="user:default/carol",
        start=now - timedelta(hours=1),
        end=now + timedelta(hours=5),
    )


def test_home_shows_the_users_team_with_owned_counts_and_who_is_on_call(auth_client):
    ingest(payments_org(extra=[ComponentDictFactory(name="ledger", owner="payments")]), location=LocationFactory())
    _carol_on_call_now()

    page = auth_client.get(reverse("portal:home")).content.decode()

    teams = page[page.index('id="your-teams"') : page.index('id="catalog-glance"')]
    assert 'data-team="group:default/payments"' in teams
    assert 'href="' + reverse("catalog:entity_detail", args=["default", "group", "payments"]) + '"' in teams
    assert "2 Components" in teams
    assert "?owner=group%3Adefault/payments&amp;kind=Component" in teams
    oncall = teams[teams.index("paved-team-oncall") :]
    assert 'href="' + reverse("catalog:entity_detail", args=["default", "user", "carol"]) + '"' in oncall
    assert "Carol" in oncall
    assert 'data-team="group:default/search"' not in teams
    assert 'id="home-unlinked"' not in page
    assert 'href="' + reverse("catalog:oncall_person", args=["default", "alice"]) + '"' in page


def test_home_marks_a_team_without_an_escalation_policy_and_one_nobody_covers(db, client_for):
    ingest(
        [
            GroupDictFactory(name="quiet", members=["ivy"]),
            UserDictFactory(name="ivy", member_of=["quiet"]),
            ComponentDictFactory(name="tool", owner="quiet"),
        ],
        location=LocationFactory(),
    )
    page = client_for("ivy").get(reverse("portal:home")).content.decode()
    teams = page[page.index('id="your-teams"') : page.index('id="catalog-glance"')]
    assert 'data-team="group:default/quiet"' in teams
    assert "No escalation policy" in teams
    assert "1 Component<" in teams


def test_unlinked_user_sees_how_to_link_their_account(auth_client):
    ingest(
        [GroupDictFactory(name="payments"), UserDictFactory(name="bob", member_of=["payments"])],
        location=LocationFactory(),
    )

    page = auth_client.get(reverse("portal:home")).content.decode()

    assert 'id="home-unlinked"' in page
    assert "Your account is not linked to a catalog User: Paved matches your username or email to a User entity" in page
    assert "<code>alice</code>" in page
    assert 'id="home-shifts"' not in page
    assert "Automate with the API" in page


def test_user_is_linked_by_email_when_no_user_entity_has_their_name(db, client_for):
    ingest(
        [
            GroupDictFactory(name="payments"),
            UserDictFactory(name="a.smith", member_of=["payments"], email="Ann@Example.com"),
        ],
        location=LocationFactory(),
    )
    UserFactory(username="ann", email="ann@example.com")
    page = client_for("ann").get(reverse("portal:home")).content.decode()
    assert 'data-team="group:default/payments"' in page
    assert 'id="home-unlinked"' not in page


def test_linked_user_in_no_team_is_told_so(db, client_for):
    ingest([UserDictFactory(name="loner")], location=LocationFactory())
    page = client_for("loner").get(reverse("portal:home")).content.decode()
    assert 'id="home-no-teams"' in page


def test_catalog_at_a_glance_links_each_kind_to_the_filtered_list(auth_client):
    ingest(payments_org(), location=LocationFactory())
    page = auth_client.get(reverse("portal:home")).content.decode()
    glance = page[page.index('id="catalog-glance"') : page.index('id="api-card"')]
    assert 'href="' + reverse("catalog:entity_list") + '?kind=Component"' in glance
    assert 'href="' + reverse("catalog:entity_list") + '?kind=EscalationPolicy"' in glance
    assert "EscalationPolicies" in glance
    # Component comes before Group (the catalog's kind order), whatever the alphabet says.
    assert glance.index('data-kind="component"') < glance.index('data-kind="group"')
    assert 'id="catalog-health"' not in page


def test_staff_see_locations_with_errors_and_orphans(db, client_for):
    LocationFactory(state=Location.State.FAILED, errors=[{"message": "unreachable"}])
    LocationFactory(state=Location.State.OK, errors=[{"message": "bad entity"}])
    LocationFactory(state=Location.State.OK, errors=[])
    location = LocationFactory()
    ingest([ComponentDictFactory(name="kept"), ComponentDictFactory(name="gone")], location=location)
    ingest([ComponentDictFactory(name="kept")], location=location)  # "gone" disappears from a clean read: an orphan

    AdminFactory(username="root")
    page = client_for("root").get(reverse("portal:home")).content.decode()

    health = page[page.index('id="catalog-health"') :]
    assert "2 locations with errors" in health
    assert 'href="' + reverse("catalog:location_list") + '"' in health
    assert "1 orphan<" in health
    assert 'href="' + reverse("catalog:entity_list") + '?orphan=true"' in health


def test_home_keeps_section_cards_and_the_api_card(auth_client):
    page = auth_client.get(reverse("portal:home")).content.decode()
    assert 'data-section="catalog"' in page
    assert 'data-section="oncall"' in page
    assert 'id="api-card"' in page
    assert 'href="/account/tokens/"' in page or "Manage API tokens" in page


def test_home_query_count_does_not_grow_with_teams_entities_or_schedules(db, django_assert_max_num_queries, client_for):
    ingest(payments_org(), location=LocationFactory())
    counts = []
    for extra in (0, 30):
        docs = [GroupDictFactory(name=f"team-{n}", members=["alice"]) for n in range(extra)]
        docs += [ComponentDictFactory(name=f"svc-{n}", owner=f"team-{n % 5}") for n in range(extra)]
        if docs:
            ingest(docs, location=LocationFactory())
        AdminFactory(username="alice")
        client = client_for("alice")
        with django_assert_max_num_queries(14) as captured:
            assert client.get(reverse("portal:home")).status_code == 200
        counts.append(len(captured.captured_queries))
    assert counts[0] == counts[1], counts
