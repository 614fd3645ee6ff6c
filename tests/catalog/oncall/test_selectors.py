"""Reads for on-call: cards, the company-wide list, timelines, coverage, a person's shifts, feeds."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from catalog.models import Entity
from catalog.oncall import loading
from catalog.oncall import selectors as sel
from catalog.oncall.presentation import colour_for
from tests.catalog.factories import LocationFactory, ingest
from tests.catalog.oncall.factories import (
    AT,
    CalendarFeedFactory,
    EscalationPolicyDictFactory,
    OnCallOverrideFactory,
    ScheduleDictFactory,
    ingest_payments_org,
)
from tests.portal.factories import UserFactory

pytestmark = pytest.mark.django_db

SATURDAY = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def org():
    result = ingest_payments_org()
    assert result.errors == []


def _entity(ref):
    return Entity.objects.get(ref=ref)


def _page(ref, **options):
    return sel.schedule_page(ref=ref, viewer=AnonymousUser(), start_day=None, at=AT, **options)


def test_card_of_a_component_uses_its_owner_teams_policy_and_names_who_is_on_call_and_next(org):
    card = sel.entity_oncall(ref="component:default/checkout", at=AT)
    assert card.lookup.via == "owner"
    assert card.policy_ref == "escalationpolicy:default/payments"
    first, second = card.now.levels
    assert [(e.person.name, e.until) for e in first.on_call] == [("Carol", datetime(2026, 3, 9, 8, 0, tzinfo=UTC))]
    assert first.on_call[0].person.email == "carol@example.com"
    assert first.on_call[0].until_local.isoformat() == "2026-03-09T09:00:00+01:00"
    assert [(n.person.name, n.start) for n in first.next] == [("Alice", datetime(2026, 3, 9, 8, 0, tzinfo=UTC))]
    assert [e.person.name for e in second.on_call] == ["Dave", "Frank"]
    assert card.now.summary == "Level 1: Carol is on call."


def test_card_says_plainly_when_level_one_has_a_gap(org):
    primary = _entity("schedule:default/payments-primary")
    spec = primary.data["spec"]
    spec["layers"][0]["restrictions"] = [{"weekly": {"from": "mon 09:00", "to": "fri 17:00"}}]
    Entity.objects.filter(pk=primary.pk).update(data={**primary.data, "spec": spec})
    OnCallOverrideFactory(
        schedule_ref="schedule:default/payments-secondary",
        user_ref="user:default/erin",
        start=SATURDAY,
        end=SATURDAY + timedelta(hours=3),
    )
    card = sel.entity_oncall(ref="group:default/payments", at=SATURDAY + timedelta(hours=1))
    assert card.lookup.via == "entity"
    assert card.now.first_level_gap
    assert card.now.summary == "Level 1 has a gap right now, so level 2 (Erin and Frank) is first in line."


def test_portal_overrides_are_merged_after_the_yaml_ones(org):
    OnCallOverrideFactory(user_ref="user:default/bob", start=AT - timedelta(hours=1), end=AT + timedelta(hours=2))
    card = sel.entity_oncall(ref="component:default/checkout", at=AT)
    entry = card.now.levels[0].on_call[0]
    assert entry.person.name == "Bob"
    assert entry.until == AT + timedelta(hours=2)
    assert [n.person.name for n in card.now.levels[0].next] == ["Carol"]


def test_an_unreadable_stored_schedule_is_a_visible_problem_not_an_error(org):
    primary = _entity("schedule:default/payments-primary")
    Entity.objects.filter(pk=primary.pk).update(data={**primary.data, "spec": {"timezone": "Nope/Nope", "layers": []}})
    card = sel.entity_oncall(ref="component:default/checkout", at=AT)
    assert card.now.levels[0].gap
    assert any("This schedule is invalid" in problem for problem in card.now.problems)
    assert loading.schedule_by_ref(ref="schedule:default/payments-primary").schedule is None


def test_entities_without_a_policy_or_with_a_malformed_annotation(org):
    assert sel.entity_oncall(ref="component:default/orphan-service", at=AT).now is None
    ingest(
        [
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "Component",
                "metadata": {"name": "weird", "annotations": {"paved.dev/escalation-policy": "group:payments"}},
                "spec": {"type": "service", "lifecycle": "production", "owner": "payments"},
            }
        ],
        location=LocationFactory(),
    )
    card = sel.entity_oncall(ref="component:default/weird", at=AT)
    assert card.now is None
    assert "not an escalation policy ref" in card.lookup.problem


def test_a_policy_naming_a_schedule_that_is_not_in_the_catalog_shows_a_gap_with_a_note(org):
    ingest([EscalationPolicyDictFactory(name="ghost", levels=[["schedule:nowhere"]])], location=LocationFactory())
    (now,), _ = sel._policies_now(
        [loading.policies_by_refs(refs=["escalationpolicy:default/ghost"])["escalationpolicy:default/ghost"]], AT
    )
    assert now.levels[0].gap
    assert now.levels[0].notes == ("schedule:default/nowhere is not in the catalog, so nobody from it is on call.",)


def test_card_query_count_is_bounded(org, django_assert_max_num_queries):
    entity = _entity("component:default/checkout")
    with django_assert_max_num_queries(6):
        sel.entity_oncall(ref=entity.ref, at=AT)


def test_oncall_list_shows_every_policy_level_and_filters(org):
    listing = sel.oncall_list_page(filters=sel.OnCallFilters(), at=AT)
    assert [(row.now.policy.ref, row.level.level) for row in listing.rows] == [
        ("escalationpolicy:default/payments", 1),
        ("escalationpolicy:default/payments", 2),
        ("escalationpolicy:default/search", 1),
    ]
    assert [(team.ref, team.title) for team in listing.rows[0].teams] == [("group:default/payments", "Payments")]
    assert ("group:default/search", "search") in listing.teams
    # The level filter offers the levels that exist: the payments policy has two.
    assert listing.level_numbers == (1, 2)
    only_search = sel.oncall_list_page(filters=sel.OnCallFilters(team="group:default/search"), at=AT)
    assert {row.now.policy.ref for row in only_search.rows} == {"escalationpolicy:default/search"}
    by_service = sel.oncall_list_page(filters=sel.OnCallFilters(service="checkout"), at=AT)
    assert {row.now.policy.ref for row in by_service.rows} == {"escalationpolicy:default/payments"}
    level_two = sel.oncall_list_page(filters=sel.OnCallFilters(level=2), at=AT)
    assert [row.level.level for row in level_two.rows] == [2]
    by_person = sel.oncall_list_page(filters=sel.OnCallFilters(q="zoe"), at=AT)
    assert {row.now.policy.ref for row in by_person.rows} == {"escalationpolicy:default/search"}
    unknown = sel.oncall_list_page(filters=sel.OnCallFilters(service="no-such-thing"), at=AT)
    assert unknown.rows == []
    assert "No component called 'no-such-thing'" in unknown.service_problem


def test_oncall_list_query_count_does_not_grow_with_the_number_of_policies(org, django_assert_max_num_queries):
    docs = []
    for n in range(30):
        docs += [
            ScheduleDictFactory(name=f"team{n}-primary", owner=f"group:team{n}"),
            EscalationPolicyDictFactory(name=f"team{n}", owner=f"group:team{n}"),
        ]
    ingest(docs, location=LocationFactory())
    with django_assert_max_num_queries(7):
        listing = sel.oncall_list_page(filters=sel.OnCallFilters(), at=AT, per_page=20)
    assert listing.page.paginator.num_pages == 2
    assert len({row.now.policy.ref for row in listing.rows}) == 20
    with django_assert_max_num_queries(7):
        sel.oncall_list_page(filters=sel.OnCallFilters(q="alice"), at=AT, per_page=50)


def test_schedule_timeline_draws_layers_overrides_and_gaps_from_local_midnight(org):
    OnCallOverrideFactory(schedule_ref="schedule:default/payments-secondary", user_ref="user:default/bob")
    view = _page("schedule:default/payments-secondary").timeline
    assert view.start.isoformat() == "2026-03-03T23:00:00+00:00"  # midnight in Berlin
    assert [row.kind for row in view.rows] == ["layer", "overrides", "final"]
    assert len(view.marks) == 14
    assert (view.marks[0].weekday, view.marks[0].label) == ("Wed", "4 Mar")
    final = view.rows[-1].bars
    assert any(bar.person is None for bar in final)  # weekends are gaps
    assert abs(sum(bar.width for bar in final) - 100) < 0.01
    assert view.rows[1].bars[0].person.name == "Bob"
    assert {person.name for person, _, _ in view.legend} >= {"Dave", "Erin", "Bob"}


def test_schedule_coverage_reports_gaps_and_balance(org):
    view = sel.schedule_coverage(ref="schedule:default/payments-secondary", days=7, at=AT).coverage
    assert 0 < view.percent < 100
    assert view.gaps
    assert view.longest_gap >= timedelta(hours=60)
    assert [person.name for person, _, _ in view.balance] == ["Dave", "Erin"]


def test_user_oncall_lists_shifts_across_schedules_including_overrides(org):
    OnCallOverrideFactory(schedule_ref="schedule:default/search-primary", user_ref="user:default/carol")
    person = sel.user_oncall(user_ref="user:default/carol", at=AT, days=28)
    assert person.current
    assert person.current[0].schedule.ref in {
        "schedule:default/payments-primary",
        "schedule:default/search-primary",
    }
    assert {s.schedule.ref for s in person.shifts} == {
        "schedule:default/payments-primary",
        "schedule:default/search-primary",
    }
    frank = sel.user_oncall(user_ref="user:default/frank", at=AT)
    assert frank.shifts == ()
    assert [p.ref for p in frank.direct_policies] == ["escalationpolicy:default/payments"]


def test_readiness_of_an_entity(org):
    facts = sel.entity_readiness(entity=_entity("component:default/checkout"), days=14, at=AT)
    assert facts["has_policy"] is True
    assert facts["level_count"] == 2
    assert facts["coverage_percent"] == 100.0
    assert facts["rotation_size"] == 3
    orphan = sel.entity_readiness(entity=_entity("component:default/orphan-service"), days=14, at=AT)
    assert orphan["has_policy"] is False


def _token(value):
    return hashlib.sha256(value.encode()).hexdigest()


def test_calendar_feeds_render_from_a_fixed_anchor(org):
    CalendarFeedFactory(token_hash=_token("pcal_schedule"))
    body = sel.calendar_feed_body(kind="schedule", token="pcal_schedule", now=AT).decode()
    assert body.startswith("BEGIN:VCALENDAR")
    assert "On call: Carol" in body
    assert sel.calendar_feed_start(now=AT) == datetime(2026, 2, 25, 0, 0, tzinfo=UTC)
    CalendarFeedFactory(kind="person", ref="user:default/carol", token_hash=_token("pcal_person"))
    person = sel.calendar_feed_body(kind="person", token="pcal_person", now=AT).decode()
    assert "On call: Carol (Payments primary)" in person


def test_user_shift_summary_gives_the_current_shift_and_the_next_one(org, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        carol = sel.user_shift_summary(user_ref="user:default/carol", at=AT)
    assert carol.current is not None
    assert carol.current.schedule.ref == "schedule:default/payments-primary"
    assert carol.current.end.isoformat() == "2026-03-09T08:00:00+00:00"  # Monday 09:00 in Berlin
    assert carol.next is not None
    assert carol.next.start.isoformat() == "2026-03-23T08:00:00+00:00"  # her turn again, after alice and bob
    alice = sel.user_shift_summary(user_ref="user:default/alice", at=AT)
    assert alice.current is None
    assert alice.next is not None
    assert alice.next.start.isoformat() == "2026-03-09T08:00:00+00:00"
    assert carol.direct_policies == ()
    frank = sel.user_shift_summary(user_ref="user:default/frank", at=AT)
    assert (frank.current, frank.next, frank.schedule_count) == (None, None, 0)
    assert [p.ref for p in frank.direct_policies] == ["escalationpolicy:default/payments"]


def test_oncall_for_entities_answers_like_the_card_for_many_groups_in_four_queries(org, django_assert_max_num_queries):
    groups = list(Entity.objects.filter(kind__iexact="group").order_by("name"))
    with django_assert_max_num_queries(4):
        cards = sel.entities_oncall(entities=groups, at=AT)
    assert set(cards) == {"group:default/payments", "group:default/search"}
    for group in groups:
        single = sel.entity_oncall(ref=group.ref, at=AT)
        bulk = cards[group.ref]
        assert bulk.policy_ref == single.policy_ref
        assert bulk.now is not None
        assert single.now is not None
        assert [[e.person.ref for e in lv.on_call] for lv in bulk.now.levels] == [
            [e.person.ref for e in lv.on_call] for lv in single.now.levels
        ]
    assert sel.entities_oncall(entities=[], at=AT) == {}


def test_a_person_has_one_colour_on_cards_timelines_and_everywhere(org):
    timeline = _page("schedule:default/payments-primary").timeline
    card = sel.entity_oncall(ref="group:default/payments", at=AT)
    assert card.now is not None
    on_card = card.now.levels[0].on_call[0].person
    assert timeline.colours[on_card.ref] == on_card.colour == colour_for(on_card.ref)
    for person, colour, _ in timeline.legend:
        assert colour == person.colour == colour_for(person.ref)
    for row in timeline.rows:
        for bar in row.bars:
            if bar.person is not None:
                assert bar.colour == bar.person.colour
    # Case does not change a colour: refs are compared lower-cased everywhere.
    assert colour_for("user:default/Alice") == colour_for("user:default/alice")


def test_schedule_page_loads_the_schedule_and_its_overrides_once(org, django_assert_max_num_queries):
    now = timezone.now()
    OnCallOverrideFactory(start=now - timedelta(hours=1), end=now + timedelta(hours=2))
    with django_assert_max_num_queries(6) as captured:
        page = sel.schedule_page(ref="schedule:default/payments-primary", viewer=AnonymousUser(), start_day=None)
    sql = [query["sql"] for query in captured.captured_queries]
    assert sum("catalog_oncalloverride" in text for text in sql) == 1
    assert page.timeline is not None
    assert page.coverage is not None
    assert [o.user_ref for o in page.overrides] == ["user:default/carol"]
    assert [p.ref for p in page.policies] == ["escalationpolicy:default/payments"]
    assert page.team is not None
    assert page.team.title == "Payments"
    assert not page.may_write
    with django_assert_max_num_queries(3):
        fragment = sel.schedule_page(
            ref="schedule:default/payments-primary", viewer=AnonymousUser(), start_day=None, timeline_only=True
        )
    assert fragment.timeline is not None
    assert fragment.coverage is None


def test_schedule_page_of_a_later_week_still_lists_the_overrides_running_now(org):
    now = timezone.now()
    running = OnCallOverrideFactory(start=now - timedelta(hours=1), end=now + timedelta(hours=1))
    later = (now + timedelta(days=30)).date()
    page = sel.schedule_page(ref="schedule:default/payments-primary", viewer=AnonymousUser(), start_day=later)
    assert list(page.overrides) == [running]
    assert page.loaded.schedule.overrides == ()  # over before the weeks shown, so not drawn
    assert page.timeline.first_day == later


def test_schedule_page_of_an_unknown_schedule_is_none(org):
    assert sel.schedule_page(ref="schedule:default/nope", viewer=AnonymousUser(), start_day=None) is None


def test_override_choices_offer_only_the_schedules_the_viewer_may_change(org):
    alice = UserFactory(username="alice")
    offer = sel.override_choices(viewer=alice, entity_ref="component:default/checkout", schedule_ref="")
    assert offer.entity.ref == "component:default/checkout"
    assert [s.ref for s in offer.schedules] == [
        "schedule:default/payments-primary",
        "schedule:default/payments-secondary",
    ]
    assert {"user:default/alice", "user:default/dave"} <= {person.ref for person in offer.people}
    zoe = UserFactory(username="zoe")
    assert sel.override_choices(viewer=zoe, entity_ref="component:default/checkout", schedule_ref="").schedules == ()
    search = sel.override_choices(viewer=alice, entity_ref="", schedule_ref="schedule:default/search-primary")
    assert search.schedules == ()


def test_person_page_shows_feeds_to_the_person_only(org):
    carol = UserFactory(username="carol")
    page = sel.person_page(ref="user:default/carol", viewer=carol, at=AT)
    assert page.may_create_feed
    assert page.oncall.person.name == "Carol"
    assert not sel.person_page(ref="user:default/carol", viewer=UserFactory(username="alice"), at=AT).may_create_feed
    assert sel.person_page(ref="user:default/ghost", viewer=carol) is None


def test_user_oncall_is_none_for_refs_that_are_not_users(org):
    assert sel.user_oncall(user_ref="schedule:default/payments-primary") is None
    assert sel.user_oncall(user_ref="user:default/ghost") is None
