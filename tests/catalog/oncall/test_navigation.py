"""On-call as people navigate it: policy pages, the section's lists of every schedule and policy, health warnings,
contacts, the override form as a page of its own, and on-call cards on API, System and Resource pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.oncall import selectors as sel
from catalog.oncall.loading import people_by_refs, user_ref_from_text
from catalog.oncall.models import OnCallOverride
from tests.catalog.factories import LocationFactory, ingest
from tests.catalog.oncall.factories import EscalationPolicyDictFactory, OnCallOverrideFactory, payments_org

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
HOSTILE_URL = "javascript:alert(1)"


def _docs():
    docs = payments_org(
        extra=[
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "API",
                "metadata": {"name": "payments-api"},
                "spec": {"type": "openapi", "lifecycle": "production", "owner": "group:payments", "definition": "{}"},
            },
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "System",
                "metadata": {"name": "commerce"},
                "spec": {"owner": "group:payments"},
            },
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "Resource",
                "metadata": {"name": "payments-db"},
                "spec": {"type": "database", "owner": "group:payments"},
            },
        ]
    )
    for doc in docs:
        name = doc["metadata"]["name"]
        if doc["kind"] == "User" and name == "alice":
            doc["metadata"]["annotations"] = {
                "paved.dev/phone": "+49 30 555 0101",
                "paved.dev/chat": "@alice<script>",
                "paved.dev/chat-url": HOSTILE_URL,
            }
            doc["spec"]["profile"]["displayName"] = "Alice Liddell"
        if doc["kind"] == "User" and name == "bob":
            doc["spec"]["profile"]["displayName"] = "Bob Stone"
        if doc["kind"] == "Group" and name == "payments":
            doc["metadata"]["annotations"]["paved.dev/chat-channel"] = "#payments-oncall"
            doc["metadata"]["annotations"]["paved.dev/chat-url"] = "https://chat.example.com/channels/payments"
    return docs


@pytest.fixture
def org():
    assert ingest(_docs(), location=LocationFactory.create()).errors == []


# -- selectors ---------------------------------------------------------------------------------------------------------


def test_policy_page_shows_levels_targets_people_now_and_next_and_health(org):
    # Wednesday 7 January: alice's week (the first of the weekly rotation), bob's next.
    page = sel.policy_page(ref="escalationpolicy:default/payments", at=datetime(2026, 1, 7, 12, tzinfo=UTC))
    assert page is not None
    assert [t.ref for t in page.teams] == ["group:default/payments"]
    assert page.teams[0].contacts.channel == "#payments-oncall"
    level_one, level_two = page.now.levels
    assert [(t.kind, t.schedule.ref if t.schedule else t.person.ref) for t in level_two.targets] == [
        ("schedule", "schedule:default/payments-secondary"),
        ("user", "user:default/frank"),
    ]
    assert [entry.person.name for entry in level_one.on_call] == ["Alice Liddell"]
    assert level_one.on_call[0].person.contacts.phone == "+49 30 555 0101"
    assert level_one.next
    assert level_one.next[0].person.ref == "user:default/bob"
    assert page.now.repeat == 1
    # payments-secondary is weekdays only: level 2 still has frank, so only level 1's weekly rotation counts.
    assert [w.code for w in page.now.health] == []


def test_policy_page_of_an_unknown_policy_is_none(org):
    assert sel.policy_page(ref="escalationpolicy:default/nope") is None
    assert sel.policy_page(ref="schedule:default/payments-primary") is None


def test_weak_policy_warns_of_a_single_level_and_a_rotation_of_one(org):
    page = sel.policy_page(ref="escalationpolicy:default/search", at=AT)
    assert page is not None
    codes = [w.code for w in page.now.health]
    assert codes == ["single-level", "rotation-of-one"]
    assert "Zoe" in page.now.health[1].message


def test_overview_lists_every_schedule_and_policy_with_coverage_and_next_gap(org, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        overview = sel.oncall_overview(at=AT)
    schedules = {row.loaded.ref: row for row in overview.schedules}
    assert list(schedules) == [
        "schedule:default/payments-primary",
        "schedule:default/payments-secondary",
        "schedule:default/search-primary",
    ]
    assert schedules["schedule:default/payments-primary"].coverage == 100.0
    assert schedules["schedule:default/payments-primary"].next_gap is None
    secondary = schedules["schedule:default/payments-secondary"]
    assert secondary.coverage is not None
    assert secondary.coverage < 100
    assert secondary.next_gap is not None
    assert secondary.next_gap[0] > AT
    assert secondary.team is not None
    assert secondary.team.title == "Payments"
    assert [w.code for w in schedules["schedule:default/search-primary"].health] == ["rotation-of-one"]
    policies = {row.now.policy.ref: row for row in overview.policies}
    assert policies["escalationpolicy:default/payments"].coverage == 100.0
    assert [t.title for t in policies["escalationpolicy:default/payments"].teams] == ["Payments"]
    assert policies["escalationpolicy:default/search"].now.health


def test_card_names_the_team_and_its_channel_for_a_service_an_api_and_the_team(org):
    for ref in ("component:default/checkout", "api:default/payments-api", "group:default/payments"):
        card = sel.oncall_card(ref=ref, viewer=None, at=AT)  # type: ignore[arg-type]
        assert card is not None, ref
        assert card.team is not None, ref
        assert (card.team.title, card.team.contacts.channel) == ("Payments", "#payments-oncall")
        assert card.oncall.now is not None


def test_schedule_page_carries_the_schedules_own_health(org):
    from django.contrib.auth.models import AnonymousUser

    page = sel.schedule_page(ref="schedule:default/payments-secondary", viewer=AnonymousUser(), start_day=None, at=AT)
    assert page is not None
    assert [w.code for w in page.health] == ["gap"]


def test_the_override_field_takes_the_display_names_it_suggests(org):
    people = list(people_by_refs(refs=["user:default/alice", "user:default/bob"]).values())
    assert user_ref_from_text(text="Bob Stone", people=people) == "user:default/bob"
    assert user_ref_from_text(text="  alice liddell ", people=people) == "user:default/alice"
    # Not in the offered list, but a User's display name in the catalog.
    assert user_ref_from_text(text="Bob Stone") == "user:default/bob"
    assert user_ref_from_text(text="bob") == "user:default/bob"
    assert user_ref_from_text(text="Nobody Here") is None
    assert user_ref_from_text(text="'; drop table catalog_entity; --") is None


# -- pages -------------------------------------------------------------------------------------------------------------


def test_policy_page_full_page(org, client_for):
    response = client_for("mallory").get(reverse("catalog:oncall_policy", args=["default", "payments"]))
    html = response.content.decode()
    assert response.status_code == 200
    for piece in (
        'id="policy-levels"',
        "Level 1",
        "Level 2",
        "escalates to level 2 after 15 min",
        "Payments primary",
        "Frank",
        'id="policy-repeat"',
        "walked 1 more time",
        "#payments-oncall",
        'id="policy-healthy"',
    ):
        assert piece in html, piece
    weak = client_for("mallory").get(reverse("catalog:oncall_policy", args=["default", "search"])).content.decode()
    assert 'id="policy-health"' in weak
    assert "a single level" in weak


@pytest.mark.parametrize("name", ["nope", "..%2F..", "<script>", "x" * 300])
def test_policy_page_of_an_unknown_or_hostile_name_is_404(org, client_for, name):
    assert client_for("alice").get(f"/catalog/oncall/policies/default/{name}/").status_code == 404


def test_contacts_show_escaped_with_tel_links_and_no_unsafe_chat_link(org, client_for):
    OnCallOverrideFactory(
        schedule_ref="schedule:default/payments-primary",
        user_ref="user:default/alice",
        start=timezone.now() - timedelta(hours=1),
        end=timezone.now() + timedelta(hours=3),
    )
    html = (
        client_for("bob", htmx=True)
        .get(reverse("catalog:oncall_card", args=["default", "component", "checkout"]))
        .content.decode()
    )
    assert 'href="tel:+49305550101"' in html
    assert 'data-paved-copy="+49 30 555 0101"' in html
    assert "@alice&lt;script&gt;" in html
    assert "@alice<script>" not in html
    assert HOSTILE_URL not in html
    assert 'href="https://chat.example.com/channels/payments"' in html
    assert "#payments-oncall" in html
    listing = client_for("bob").get(reverse("catalog:oncall_now")).content.decode()
    assert 'href="tel:+49305550101"' in listing
    assert "#payments-oncall" in listing
    person = client_for("bob").get(reverse("catalog:oncall_person", args=["default", "alice"])).content.decode()
    assert 'id="person-contacts"' in person
    assert 'href="tel:+49305550101"' in person
    profile = (
        client_for("bob").get(reverse("catalog:entity_detail", args=["default", "user", "alice"])).content.decode()
    )
    assert 'id="profile-contacts"' in profile
    assert 'href="tel:+49305550101"' in profile
    team = (
        client_for("bob").get(reverse("catalog:entity_detail", args=["default", "group", "payments"])).content.decode()
    )
    assert 'id="team-contacts"' in team
    assert "#payments-oncall" in team


def test_oncall_section_lists_all_schedules_and_policies_and_only_existing_levels(org, client_for):
    html = client_for("mallory").get(reverse("catalog:oncall_now")).content.decode()
    assert 'id="oncall-schedules"' in html
    assert 'id="oncall-policies"' in html
    assert html.count("data-schedule=") == 3
    assert html.count("data-policy=") == 2
    assert '<option value="2"' in html
    assert '<option value="3"' not in html
    assert ">Payments</a>" in html  # the team's title, not its ref
    fragment = client_for("mallory", htmx=True).get(reverse("catalog:oncall_now"), {"level": "2"}).content.decode()
    assert 'id="oncall-schedules"' not in fragment


def test_schedule_and_policy_catalog_pages_link_to_their_oncall_pages(org, client_for):
    alice = client_for("alice")
    schedule = alice.get(reverse("catalog:entity_detail", args=["default", "schedule", "payments-primary"])).content
    assert b'id="oncall-open-timeline"' in schedule
    assert reverse("catalog:oncall_schedule", args=["default", "payments-primary"]).encode() in schedule
    policy = alice.get(reverse("catalog:entity_detail", args=["default", "escalationpolicy", "payments"])).content
    assert reverse("catalog:oncall_policy", args=["default", "payments"]).encode() in policy


@pytest.mark.parametrize(
    ("kind", "name"), [("api", "payments-api"), ("system", "commerce"), ("resource", "payments-db")]
)
def test_api_system_and_resource_pages_load_the_owners_oncall_card(org, client_for, kind, name):
    page = client_for("alice").get(reverse("catalog:entity_detail", args=["default", kind, name])).content.decode()
    card_url = reverse("catalog:oncall_card", args=["default", kind, name])
    assert f'hx-get="{card_url}"' in page
    card = client_for("alice", htmx=True).get(card_url).content.decode()
    assert "Level 1" in card
    assert "Policy of the owner team" in card


# -- the override form as a page of its own -------------------------------------------------------------------------


def _local(hours):
    return (
        (timezone.now() + timedelta(hours=hours)).astimezone(timezone.get_fixed_timezone(60)).strftime("%Y-%m-%dT%H:%M")
    )


def _post(**changes):
    values = {
        "entity": "component:default/checkout",
        "schedule": "schedule:default/payments-primary",
        "user": "Bob Stone",
        "start": _local(1),
        "end": _local(5),
        "reason": "swap",
    }
    return {**values, **changes}


def test_override_form_opened_as_a_page_is_a_plain_form_with_a_real_cancel(org, client_for):
    html = (
        client_for("alice")
        .get(reverse("catalog:override_create"), {"entity": "component:default/checkout"})
        .content.decode()
    )
    form = html.split('id="oncall-override-form"')[1].split("</form>")[0]
    assert "hx-post" not in form
    assert "hx-target" not in form
    assert 'id="oncall-override-cancel"' in form
    assert 'href="/catalog/default/component/checkout/"' in form
    assert '<option value="Bob Stone">user:default/bob</option>' in form
    fragment = (
        client_for("alice", htmx=True)
        .get(reverse("catalog:override_create"), {"entity": "component:default/checkout"})
        .content.decode()
    )
    assert 'hx-target="#oncall-card"' in fragment
    assert "data-paved-remove" in fragment


def test_plain_post_saves_by_display_name_and_redirects_with_a_notice(org, client_for):
    alice = client_for("alice")
    response = alice.post(reverse("catalog:override_create"), _post())
    assert response.status_code == 302
    assert response["Location"] == "/catalog/default/component/checkout/"
    assert OnCallOverride.objects.get().user_ref == "user:default/bob"
    page = alice.get(response["Location"]).content.decode()
    assert "Override saved: Bob Stone is on call in Payments primary" in page


def test_htmx_post_returns_the_card_with_an_inline_notice(org, client_for):
    html = client_for("alice", htmx=True).post(reverse("catalog:override_create"), _post()).content.decode()
    assert 'id="oncall-saved"' in html
    assert "Override saved: Bob Stone" in html


def test_schedule_override_from_a_plain_page_returns_to_the_schedule(org, client_for):
    response = client_for("alice").post(reverse("catalog:override_create"), _post(entity=""))
    assert response.status_code == 302
    assert response["Location"] == reverse("catalog:oncall_schedule", args=["default", "payments-primary"])


def test_refused_override_shows_in_place_for_htmx_and_as_a_page_otherwise(org, client_for):
    fragment = client_for("mallory", htmx=True).get(
        reverse("catalog:override_create"), {"entity": "component:default/checkout"}
    )
    assert fragment.status_code == 403
    assert 'id="oncall-override-forbidden"' in fragment.content.decode()
    assert "<html" not in fragment.content.decode()
    page = client_for("mallory").get(reverse("catalog:override_create"), {"entity": "component:default/checkout"})
    assert page.status_code == 403
    bad = client_for("alice").post(reverse("catalog:override_create"), _post(user="<b>Nobody</b>"))
    assert bad.status_code == 400
    assert "&lt;b&gt;Nobody&lt;/b&gt;" in bad.content.decode()
    assert not OnCallOverride.objects.exists()


def test_a_level_with_a_gap_now_says_until_when_in_the_until_column(monkeypatch, client_for):
    weekdays_only = EscalationPolicyDictFactory(name="weekdays-only", levels=[["schedule:payments-secondary"]])
    assert ingest(payments_org(extra=[weekdays_only]), location=LocationFactory.create()).errors == []
    saturday = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)  # the secondary covers Monday 09:00 to Friday 17:00 only
    monkeypatch.setattr(timezone, "now", lambda: saturday)
    html = client_for("mallory").get(reverse("catalog:oncall_now"), {"q": "weekdays-only"}).content.decode()
    assert "nobody on call" in html
    # The gap's row says when it ends, where the Until of anyone on call would be, rather than leaving it blank.
    assert 'data-gap-until>gap until <time datetime="2026-03-09T' in html
    assert "Mon 9 Mar, 08:00 UTC" in html  # 09:00 in the schedule's zone (Europe/Berlin by default)


def test_schedule_page_names_its_team_by_its_title(org, client_for):
    html = client_for("mallory").get(reverse("catalog:oncall_schedule", args=["default", "payments-primary"]))
    assert "Team: Payments</a>" in html.content.decode()  # the title as written, not the lower-cased ref
