"""On-call pages: full pages and htmx fragments, permissions, forms and calendar feeds."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog.models import Entity
from catalog.oncall.models import CalendarFeed, OnCallOverride
from tests.catalog.oncall.factories import CalendarFeedFactory, OnCallOverrideFactory, ingest_payments_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    assert ingest_payments_org().errors == []


def _card_url(component):
    return reverse("catalog:oncall_card", args=["default", "component", component])


CARD = _card_url("checkout")


def test_entity_page_loads_the_oncall_card_lazily(org, client_for):
    html = client_for("alice").get(reverse("catalog:entity_detail", args=["default", "component", "checkout"])).content
    assert f'hx-get="{CARD}"'.encode() in html


def test_card_fragment_shows_levels_people_contacts_and_next(org, client_for):
    response = client_for("alice", htmx=True).get(CARD)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="oncall-card"' in html
    assert "Level 1" in html
    assert "Level 2" in html
    assert "escalates after 15 min" in html
    assert "mailto:" in html
    assert "paved-oncall-next" in html
    assert "Europe/Berlin" in html
    assert "data-paved-local" in html
    assert 'id="oncall-add-override"' in html


def test_card_full_page_without_htmx_and_no_button_for_non_members(org, client_for):
    response = client_for("zoe").get(CARD)
    html = response.content.decode()
    assert "<html" in html
    assert 'id="oncall-card"' in html
    assert 'id="oncall-add-override"' not in html


def test_card_of_an_entity_without_policy_explains_how_to_add_one(org, client_for):
    html = client_for("alice", htmx=True).get(_card_url("orphan-service")).content.decode()
    assert "No escalation policy" in html
    assert "paved.dev/escalation-policy" in html


def test_card_of_an_unknown_entity_is_404(org, client_for):
    assert client_for("alice").get(_card_url("nope")).status_code == 404


def test_oncall_page_full_and_fragment_with_filters(org, client_for):
    full = client_for("alice").get(reverse("catalog:oncall_now"))
    assert full.status_code == 200
    assert 'id="oncall-filters"' in full.content.decode()
    fragment = client_for("alice", htmx=True).get(reverse("catalog:oncall_now"), {"team": "group:default/search"})
    html = fragment.content.decode()
    assert "<html" not in html
    assert 'id="oncall-table"' in html
    assert "Zoe" in html
    assert "Carol" not in html
    empty = (
        client_for("alice", htmx=True).get(reverse("catalog:oncall_now"), {"q": "nobody-matches-this"}).content.decode()
    )
    assert "Nothing matches these filters" in empty


@pytest.mark.parametrize(
    "params", [{"level": "abc"}, {"page": "-3"}, {"page": "999"}, {"level": "0"}, {"team": "x" * 5000}]
)
def test_oncall_page_survives_hostile_query_strings(org, params, client_for):
    assert client_for("alice").get(reverse("catalog:oncall_now"), params).status_code == 200


def test_oncall_page_escapes_the_search_text(org, client_for):
    html = client_for("alice").get(reverse("catalog:oncall_now"), {"q": "<script>alert(1)</script>"}).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_schedule_page_full_and_timeline_fragment(org, client_for):
    url = reverse("catalog:oncall_schedule", args=["default", "payments-secondary"])
    html = client_for("alice").get(url).content.decode()
    for piece in (
        'id="schedule-timeline"',
        "Final schedule",
        "paved-tl-gap",
        'id="schedule-coverage"',
        "Hours on call, next 14 days",
        'id="schedule-health"',
        "On call Monday 09:00 to Friday 17:00 (Europe/Berlin)",
    ):
        assert piece in html
    fragment = client_for("alice", htmx=True).get(url, {"start": "2026-03-02"}).content.decode()
    assert "<html" not in fragment
    assert fragment.strip().startswith('<div class="card mb-3" id="schedule-timeline">')
    assert re.search(r'<tspan class="paved-tl-weekday"[^>]*>Mon</tspan><tspan[^>]*>2 Mar</tspan>', fragment)
    # Drawn without style attributes, which the Content-Security-Policy refuses.
    assert "style=" not in fragment
    assert client_for("alice").get(url, {"start": "garbage"}).status_code == 200


def test_schedule_page_of_an_unknown_or_unreadable_schedule(org, client_for):
    assert client_for("alice").get(reverse("catalog:oncall_schedule", args=["default", "nope"])).status_code == 404
    entity = Entity.objects.get(ref="schedule:default/payments-primary")
    Entity.objects.filter(pk=entity.pk).update(data={**entity.data, "spec": {"timezone": "Bad/Zone"}})
    response = client_for("alice").get(reverse("catalog:oncall_schedule", args=["default", "payments-primary"]))
    assert response.status_code == 200
    assert "This schedule cannot be shown" in response.content.decode()


def _form(start_hours=1, length=4, **changes):
    start = (timezone.now() + timedelta(hours=start_hours)).astimezone(timezone.get_fixed_timezone(60))
    values = {
        "schedule": "schedule:default/payments-primary",
        "user": "user:default/bob",
        "start": start.strftime("%Y-%m-%dT%H:%M"),
        "end": (start + timedelta(hours=length)).strftime("%Y-%m-%dT%H:%M"),
        "reason": "swap",
        "entity": "component:default/checkout",
    }
    return {**values, **changes}


def test_member_gets_the_override_form_and_saving_returns_the_refreshed_card(org, client_for):
    alice = client_for("alice", htmx=True)
    form = alice.get(reverse("catalog:override_create"), {"entity": "component:default/checkout"}).content.decode()
    assert 'id="oncall-override-form"' in form
    assert "Payments primary" in form
    assert ">user:default/dave</option>" in form
    response = alice.post(reverse("catalog:override_create"), _form(start_hours=-1))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.strip().startswith('<div class="card paved-oncall-card" id="oncall-card">')
    override = OnCallOverride.objects.get()
    assert override.user_ref == "user:default/bob"
    assert override.created_by.username == "alice"
    assert "Bob" in html.split('data-level="1"')[1].split('data-level="2"')[0]


def test_override_form_times_are_read_in_the_schedules_zone(org, client_for):
    client_for("alice", htmx=True).post(
        reverse("catalog:override_create"), _form(start="2030-07-01T09:00", end="2030-07-01T17:00")
    )
    override = OnCallOverride.objects.get()
    assert override.start.isoformat() == "2030-07-01T07:00:00+00:00"  # 09:00 in Berlin in summer


def test_override_form_errors_replace_only_the_form(org, client_for):
    response = client_for("alice", htmx=True).post(reverse("catalog:override_create"), _form(user="ghost"))
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#oncall-override-form"
    assert response["HX-Reswap"] == "outerHTML"
    assert "user:default/ghost is not a user in the catalog" in response.content.decode()
    backwards = client_for("alice").post(reverse("catalog:override_create"), _form(length=-2))
    assert backwards.status_code == 400
    assert "must end after it starts" in backwards.content.decode()
    assert not OnCallOverride.objects.exists()


def test_non_members_get_no_form_and_a_forged_post_is_403(org, client_for):
    zoe = client_for("zoe")
    assert zoe.get(reverse("catalog:override_create"), {"entity": "component:default/checkout"}).status_code == 403
    assert zoe.post(reverse("catalog:override_create"), _form()).status_code == 403
    forged = _form()
    del forged["entity"]
    assert zoe.post(reverse("catalog:override_create"), forged).status_code == 403
    assert not OnCallOverride.objects.exists()


def test_schedule_page_lists_overrides_and_members_delete_them(org, client_for):
    override = OnCallOverrideFactory(start=timezone.now(), end=timezone.now() + timedelta(hours=3))
    url = reverse("catalog:oncall_schedule", args=["default", "payments-primary"])
    assert "Delete" in client_for("alice").get(url).content.decode()
    assert (
        "Delete"
        not in client_for("zoe").get(url).content.decode().split('id="schedule-overrides"')[1].split("Layers")[0]
    )
    assert client_for("zoe").post(reverse("catalog:override_delete", args=[override.pk])).status_code == 403
    response = client_for("alice", htmx=True).post(reverse("catalog:override_delete", args=[override.pk]))
    assert response.status_code == 200
    assert response["HX-Redirect"] == url
    assert not OnCallOverride.objects.exists()
    assert client_for("alice").post(reverse("catalog:override_delete", args=[override.pk])).status_code == 404


def test_calendar_feed_token_is_shown_once_and_the_feed_serves_icalendar(org, client_for):
    response = client_for("alice", htmx=True).post(
        reverse("catalog:feed_create"), {"kind": "schedule", "ref": "schedule:default/payments-primary"}
    )
    html = response.content.decode()
    url = html.split('id="new-feed-url">')[1].split("<")[0]
    assert url.startswith("http://testserver/ical/schedules/pcal_")
    assert url.endswith(".ics")
    path = url.removeprefix("http://testserver")
    feed = Client().get(path)  # no login: the token is the credential
    assert feed.status_code == 200
    assert feed["Content-Type"].startswith("text/calendar")
    assert b"BEGIN:VCALENDAR" in feed.content
    again = client_for("alice").get(reverse("catalog:oncall_schedule", args=["default", "payments-primary"])).content
    assert path.split("/")[-1].removesuffix(".ics").encode() not in again
    CalendarFeed.objects.update(revoked_at=timezone.now())
    assert Client().get(path).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        reverse("oncall_ical:schedule", args=["nope"]),
        reverse("oncall_ical:person", args=["nope"]),
        reverse("oncall_ical:schedule", args=["a" * 300]),
    ],
)
def test_unknown_feed_tokens_are_404(org, path):
    assert Client().get(path).status_code == 404


def test_a_schedule_token_does_not_open_a_person_feed(org):
    import hashlib

    CalendarFeedFactory(token_hash=hashlib.sha256(b"pcal_secret").hexdigest())
    assert Client().get(reverse("oncall_ical:schedule", args=["pcal_secret"])).status_code == 200
    assert Client().get(reverse("oncall_ical:person", args=["pcal_secret"])).status_code == 404


def test_person_page_shows_upcoming_shifts_and_own_feed_form(org, client_for):
    html = client_for("carol").get(reverse("catalog:oncall_person", args=["default", "carol"])).content.decode()
    assert "Payments primary" in html
    assert 'id="oncall-feeds"' in html
    other = client_for("alice").get(reverse("catalog:oncall_person", args=["default", "carol"])).content.decode()
    assert 'id="oncall-feeds"' not in other
    assert client_for("alice").get(reverse("catalog:oncall_person", args=["default", "ghost"])).status_code == 404


def test_pages_require_login(org):
    response = Client().get(reverse("catalog:oncall_now"))
    assert response.status_code == 302
    assert reverse("portal:login") in response["Location"]


def test_user_page_shows_their_current_and_next_shift_and_links_to_their_on_call_page(
    org, django_assert_max_num_queries, client_for
):
    client = client_for("alice")
    with django_assert_max_num_queries(14):
        html = client.get(reverse("catalog:entity_detail", args=["default", "user", "carol"])).content.decode()
    card = html[html.index('id="oncall-shifts-card"') :]
    assert f'href="{reverse("catalog:oncall_person", args=["default", "carol"])}"' in card
    assert f'href="{reverse("catalog:oncall_schedule", args=["default", "payments-primary"])}"' in card
    assert "Payments primary" in card
    assert 'id="oncall-shift-now"' in card or 'id="oncall-shift-next"' in card


def test_user_page_of_someone_in_no_schedule_says_so(org, client_for):
    html = client_for("alice").get(reverse("catalog:entity_detail", args=["default", "user", "frank"])).content.decode()
    assert 'id="oncall-shifts-card"' in html
    assert "Not in any on-call schedule." in html
    assert f'href="{reverse("catalog:oncall_person", args=["default", "frank"])}"' in html
    # frank is named at level 2 of the payments policy: the card says so rather than suggesting he is never on call.
    direct = html[html.index('id="oncall-direct-policies"') :]
    assert 'href="' + reverse("catalog:entity_detail", args=["default", "escalationpolicy", "payments"]) + '"' in direct


def test_component_and_group_pages_have_no_shifts_card(org, client_for):
    client = client_for("alice")
    for kind, name in (("component", "checkout"), ("group", "payments")):
        url = reverse("catalog:entity_detail", args=["default", kind, name])
        assert 'id="oncall-shifts-card"' not in client.get(url).content.decode()
