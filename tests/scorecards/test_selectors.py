"""Reads of scorecards: exemptions listed and active, the level of an entity and the distribution of levels on any
past date, transitions listed, and campaign progress with its forecast (numbers worked out by hand below)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.http import QueryDict
from hypothesis import given
from hypothesis import strategies as st

from scorecards import selectors
from scorecards.models import Exemption, Result, Transition
from tests.scorecards.factories import (
    CARD,
    CampaignFactory,
    ExemptionFactory,
    ResultFactory,
    ScorecardFactory,
    ScoreFactory,
    TransitionFactory,
    level_change,
    scorecards_org,
)

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2027, 3, 1, 12, 0, tzinfo=dt.UTC)  # a Monday
WEEK = dt.timedelta(weeks=1)
DAY = dt.timedelta(days=1)
CHECKOUT = "component:default/checkout"
BILLING = "component:default/billing"
WEB = "component:default/web"
INDEXER = "component:default/indexer"
PAYMENTS = "group:default/payments"
SEARCH = "group:default/search"
FOUR = "metadata.name=checkout,metadata.name=billing,metadata.name=web,metadata.name=indexer"


@pytest.fixture
def org(db):
    scorecards_org()


# -- exemptions --------------------------------------------------------------------------------------------------------


def test_exemption_list_filters_by_refs_read_like_the_catalog_and_by_status(db):
    wanted = ExemptionFactory(status=Exemption.Status.APPROVED)
    ExemptionFactory(status=Exemption.Status.PENDING, check_id="oncall")
    ExemptionFactory(entity_ref=WEB, status=Exemption.Status.APPROVED)
    rows = selectors.exemption_list(
        filters=QueryDict("entityRef=Checkout&scorecardRef=production-readiness&status=approved")
    )
    assert list(rows) == [wanted]
    assert selectors.exemption_list(filters=QueryDict("")).count() == 3
    assert selectors.exemption_list(filters=QueryDict("checkId=oncall")).get().check_id == "oncall"


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ("entityRef=a:b:c", "entityRef", 'entityRef: Entity reference "a:b:c" was not on the form'),
        ("scorecardRef=" + "x" * 301, "scorecardRef", "scorecardRef: Ensure this value has at most 300 characters"),
        ("status=granted", "status", "status: Select a valid choice. granted is not one of the available choices."),
    ],
)
def test_exemption_list_refuses_bad_parameters_naming_them(db, params, field, message):
    with pytest.raises(ValidationError) as raised:
        selectors.exemption_list(filters=QueryDict(params))
    assert raised.value.message_dict[field][0].startswith(message)


def test_exemption_list_is_one_query(db, django_assert_num_queries):
    for check in ("a", "b", "c"):
        ExemptionFactory(check_id=check)
    with django_assert_num_queries(1):
        assert [row.requested_by.username for row in selectors.exemption_list(filters=QueryDict(""))]


# -- history -----------------------------------------------------------------------------------------------------------


def test_level_at_follows_the_transitions(db):
    level_change(CHECKOUT, "Bronze", NOW - 3 * WEEK)
    level_change(CHECKOUT, "Silver", NOW - WEEK)
    level_change(CHECKOUT, "", NOW)
    TransitionFactory(kind=Transition.Kind.CHECK, check_id="oncall", to_value="pass", level_index=None, at=NOW - DAY)
    level_change(BILLING, "Gold", NOW - 2 * WEEK)

    def at(instant: dt.datetime) -> tuple[str, int, dt.datetime] | None:
        held = selectors.level_at(entity_ref=CHECKOUT, scorecard_ref=CARD, at=instant)
        return None if held is None else (held.level, held.level_index, held.since)

    assert at(NOW - 3 * WEEK - dt.timedelta(seconds=1)) is None
    assert at(NOW - 3 * WEEK) == ("Bronze", 0, NOW - 3 * WEEK)
    assert at(NOW - WEEK - dt.timedelta(seconds=1)) == ("Bronze", 0, NOW - 3 * WEEK)
    assert at(NOW - DAY) == ("Silver", 1, NOW - WEEK)
    assert at(NOW + 100 * WEEK) == ("", -1, NOW)
    assert selectors.level_at(entity_ref="Component:Default/Checkout", scorecard_ref=CARD.upper(), at=NOW) is not None


def test_level_at_orders_transitions_at_the_same_instant_by_their_order(db):
    level_change(CHECKOUT, "Bronze", NOW)
    level_change(CHECKOUT, "Gold", NOW)
    held = selectors.level_at(entity_ref=CHECKOUT, scorecard_ref=CARD, at=NOW)
    assert held is not None
    assert held.level == "Gold"


def test_levels_at_counts_each_entitys_last_level_for_a_scorecard_or_a_team(db):
    ScorecardFactory()
    level_change(CHECKOUT, "Bronze", NOW - 3 * WEEK)
    level_change(CHECKOUT, "Silver", NOW - WEEK)
    level_change(BILLING, "Silver", NOW - 2 * WEEK)
    level_change(WEB, "Gold", NOW - 2 * WEEK, owner_ref=SEARCH)
    level_change(WEB, "", NOW - DAY, owner_ref=SEARCH)
    level_change(INDEXER, "Bronze", NOW + DAY, owner_ref=SEARCH)

    def counts(at: dt.datetime, owner: str | None = None) -> tuple[int, list[tuple[str, int, int]]]:
        found = selectors.levels_at(scorecard_ref=CARD, at=at, owner_ref=owner)
        return found.total, [(row.level, row.level_index, row.count) for row in found.levels]

    assert counts(NOW - 4 * WEEK) == (0, [("", -1, 0), ("Bronze", 0, 0), ("Silver", 1, 0), ("Gold", 2, 0)])
    assert counts(NOW - 2 * WEEK) == (3, [("", -1, 0), ("Bronze", 0, 1), ("Silver", 1, 1), ("Gold", 2, 1)])
    assert counts(NOW) == (3, [("", -1, 1), ("Bronze", 0, 0), ("Silver", 1, 2), ("Gold", 2, 0)])
    assert counts(NOW, PAYMENTS) == (2, [("", -1, 0), ("Bronze", 0, 0), ("Silver", 1, 2), ("Gold", 2, 0)])
    assert counts(NOW - 2 * WEEK, SEARCH) == (1, [("", -1, 0), ("Bronze", 0, 0), ("Silver", 1, 0), ("Gold", 2, 1)])


def test_levels_at_is_three_queries_however_many_entities(db, django_assert_num_queries):
    ScorecardFactory()
    for n in range(20):
        level_change(f"component:default/s{n}", "Bronze", NOW - WEEK)
        level_change(f"component:default/s{n}", "Silver", NOW - DAY)
    with django_assert_num_queries(2):
        assert selectors.levels_at(scorecard_ref=CARD, at=NOW).total == 20


def test_transition_list_filters_by_dates_both_included(db):
    first = level_change(CHECKOUT, "Bronze", dt.datetime(2027, 2, 1, 0, 0, tzinfo=dt.UTC))
    second = level_change(CHECKOUT, "Silver", dt.datetime(2027, 2, 3, 23, 59, tzinfo=dt.UTC))
    level_change(CHECKOUT, "Gold", dt.datetime(2027, 2, 4, 0, 0, tzinfo=dt.UTC))
    rows = selectors.transition_list(filters=QueryDict("from=2027-02-01&to=2027-02-03&entityRef=checkout"))
    assert list(rows) == [first, second]
    assert selectors.transition_list(filters=QueryDict("kind=check")).count() == 0


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ("from=2027-02-31", "from", "from: Enter a valid date."),
        ("from=2027-02-03&to=2027-02-01", "to", "to: to (2027-02-01) is before from (2027-02-03)."),
        ("kind=weather", "kind", "kind: Select a valid choice."),
        ("ownerRef=a/b/c", "ownerRef", 'ownerRef: Entity reference "a/b/c" was not on the form'),
    ],
)
def test_transition_list_refuses_bad_parameters_naming_them(db, params, field, message):
    with pytest.raises(ValidationError) as raised:
        selectors.transition_list(filters=QueryDict(params))
    assert raised.value.message_dict[field][0].startswith(message)


# -- campaigns ---------------------------------------------------------------------------------------------------------


def _four_services_history() -> None:
    """Silver or better, at the end of each week before NOW and today:

    | week      | -4 | -3 | -2 | -1 | now |
    | checkout  | ✓  | ✓  | ✓  | ✓  | ✓   |  Silver five weeks ago
    | billing   |    |    | ✓  | ✓  | ✓   |  Bronze, then Silver 2 weeks and a day ago
    | web       |    | ✓  | ✓  |    |     |  Silver 3 weeks and a day ago, back to Bronze a week and a day ago
    | indexer   |    |    |    |    | ✓   |  no history; Gold now
    | done      | 1  | 2  | 3  | 2  | 3   |
    """
    level_change(CHECKOUT, "Silver", NOW - 5 * WEEK)
    level_change(BILLING, "Bronze", NOW - 5 * WEEK)
    level_change(BILLING, "Silver", NOW - 2 * WEEK - DAY)
    level_change(WEB, "Silver", NOW - 3 * WEEK - DAY, owner_ref=SEARCH)
    level_change(WEB, "Bronze", NOW - WEEK - DAY, owner_ref=SEARCH)
    for ref, level, index in (
        (CHECKOUT, "Silver", 1),
        (BILLING, "Silver", 1),
        (WEB, "Bronze", 0),
        (INDEXER, "Gold", 2),
    ):
        ScoreFactory(entity_ref=ref, level=level, level_index=index)


def test_campaign_progress_per_team_with_a_least_squares_forecast(org, django_assert_max_num_queries):
    _four_services_history()
    campaign = CampaignFactory(target_level="Silver", filter=FOUR, due_date=dt.date(2027, 3, 15))
    with django_assert_max_num_queries(selectors.TREND_WEEKS + 4):
        progress = selectors.campaign_progress(campaign=campaign, now=NOW)
    # Overall done per week 1, 2, 3, 2, 3: slope Σ(x-x̄)(y-ȳ)/Σ(x-x̄)² = 4/10 = 0.4 a week; 1 left → 2.5 weeks → 19 March.
    assert (progress.total, progress.done, progress.percent) == (4, 3, 75.0)
    assert progress.forecast == selectors.Forecast(per_week=0.4, projected_finish=dt.date(2027, 3, 19), delayed=True)
    assert progress.problem == ""
    payments, search = progress.teams
    # payments: 1, 1, 2, 2, 2 → 0.3 a week, nothing left: finished today.
    assert (payments.owner_ref, payments.total, payments.done, payments.percent) == (PAYMENTS, 2, 2, 100.0)
    assert payments.forecast == selectors.Forecast(per_week=0.3, projected_finish=NOW.date(), delayed=False)
    # search: 0, 1, 1, 0, 1 → 0.1 a week; 1 left → 10 weeks → 10 May.
    assert (search.owner_ref, search.total, search.done, search.percent) == (SEARCH, 2, 1, 50.0)
    assert search.forecast == selectors.Forecast(per_week=0.1, projected_finish=dt.date(2027, 5, 10), delayed=True)


def test_a_campaign_whose_forecast_meets_its_due_date_is_not_delayed(org):
    _four_services_history()
    campaign = CampaignFactory(target_level="Silver", filter=FOUR, due_date=dt.date(2027, 3, 19))
    assert selectors.campaign_progress(campaign=campaign, now=NOW).forecast.delayed is False


def test_a_campaign_without_progress_has_no_forecast_and_is_delayed(org):
    level_change(CHECKOUT, "Silver", NOW - 5 * WEEK)
    ScoreFactory(entity_ref=CHECKOUT, level="Silver", level_index=1)
    ScoreFactory(entity_ref=BILLING, level="Bronze", level_index=0)
    campaign = CampaignFactory(target_level="Silver", filter="metadata.name=checkout,metadata.name=billing")
    progress = selectors.campaign_progress(campaign=campaign, now=NOW)
    assert (progress.total, progress.done, progress.percent) == (2, 1, 50.0)
    assert progress.forecast == selectors.Forecast(per_week=0.0, projected_finish=None, delayed=True)


def test_a_campaign_without_a_filter_covers_the_services_scored_on_its_scorecard(org):
    ScoreFactory(entity_ref=CHECKOUT, level="Gold", level_index=2)
    ScoreFactory(entity_ref=WEB, level="", level_index=-1)
    ScoreFactory(entity_ref="component:default/gone-from-the-catalog", level="Gold", level_index=2)
    progress = selectors.campaign_progress(campaign=CampaignFactory(target_level="Gold"), now=NOW)
    assert (progress.total, progress.done) == (2, 1)
    assert [(team.owner_ref, team.total, team.done) for team in progress.teams] == [(PAYMENTS, 1, 1), (SEARCH, 1, 0)]


def test_a_checks_campaign_counts_passing_and_exempt_checks(org):
    """runbook and oncall, per week -4 … now: checkout passes runbook from 3 weeks ago and oncall (exempt now) from a
    week and a day ago; billing passes runbook only; done: 0, 0, 0, 1, 1."""
    check = Transition.Kind.CHECK
    TransitionFactory(kind=check, check_id="runbook", to_value="pass", level_index=None, at=NOW - 3 * WEEK)
    TransitionFactory(kind=check, check_id="oncall", to_value="fail", level_index=None, at=NOW - 5 * WEEK)
    TransitionFactory(kind=check, check_id="oncall", to_value="pass", level_index=None, at=NOW - WEEK - DAY)
    TransitionFactory(
        entity_ref=BILLING, kind=check, check_id="runbook", to_value="pass", level_index=None, at=NOW - 4 * WEEK
    )
    ResultFactory(check_id="runbook", state=Result.State.PASS)
    ResultFactory(check_id="oncall", state=Result.State.FAIL, exempt=True)
    ResultFactory(entity_ref=BILLING, check_id="runbook", state=Result.State.PASS)
    ResultFactory(entity_ref=BILLING, check_id="oncall", state=Result.State.ERROR)
    campaign = CampaignFactory(
        target_level="",
        check_ids=["runbook", "oncall"],
        filter="metadata.name=checkout,metadata.name=billing",
        due_date=dt.date(2027, 6, 1),
    )
    progress = selectors.campaign_progress(campaign=campaign, now=NOW)
    # 0, 0, 0, 1, 1: mean 0.4; Σ(x-x̄)(y-ȳ) = 0.8 + 0.4 + 0 + 0.6 + 1.2 = 3 → 0.3 a week; 1 left → 3⅓ weeks.
    assert (progress.total, progress.done, progress.percent) == (2, 1, 50.0)
    assert progress.forecast == selectors.Forecast(per_week=0.3, projected_finish=dt.date(2027, 3, 24), delayed=False)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"scorecard_ref": "scorecard:default/retired"}, "The scorecard scorecard:default/retired no longer exists."),
        ({"target_level": "Platinum"}, f"{CARD} no longer has the level 'Platinum'."),
        ({"filter": "=oops"}, "The campaign's filter does not parse: Invalid filter, '=oops' is not a valid statement"),
    ],
)
def test_campaign_progress_says_why_it_cannot_count(org, changes, problem):
    progress = selectors.campaign_progress(campaign=CampaignFactory(**changes), now=NOW)
    assert progress.problem.startswith(problem)
    assert (progress.total, progress.done, progress.forecast.projected_finish) == (0, 0, None)


@pytest.mark.parametrize(
    ("counts", "total", "expected"),
    [
        ([0, 1, 2, 3, 4], 8, (1.0, dt.date(2027, 3, 29), False)),
        ([4, 4, 4, 4, 4], 8, (0.0, None, True)),
        ([4, 3, 2, 1, 0], 8, (-1.0, None, True)),
        ([0, 0, 0, 0, 8], 8, (1.6, dt.date(2027, 3, 1), False)),
        ([0, 0, 0, 0, 0], 0, (0.0, dt.date(2027, 3, 1), False)),
    ],
)
def test_forecast_fits_a_line_and_projects_where_it_meets_the_total(counts, total, expected):
    found = selectors.forecast(counts=counts, total=total, now=NOW, due_date=dt.date(2027, 3, 29))
    assert (found.per_week, found.projected_finish, found.delayed) == expected


@given(
    start=st.integers(min_value=0, max_value=50),
    per_week=st.integers(min_value=0, max_value=20),
    left=st.integers(min_value=0, max_value=500),
)
def test_forecast_of_a_steady_pace_finishes_when_the_remaining_work_is_done(start, per_week, left):
    counts = [start + per_week * week for week in range(selectors.TREND_WEEKS + 1)]
    total = counts[-1] + left
    found = selectors.forecast(counts=counts, total=total, now=NOW, due_date=NOW.date())
    assert found.per_week == per_week
    if left == 0:
        assert (found.projected_finish, found.delayed) == (NOW.date(), False)
    elif per_week == 0:
        assert (found.projected_finish, found.delayed) == (None, True)
    else:
        assert found.projected_finish == (NOW + dt.timedelta(weeks=left / per_week)).date()
        assert found.delayed is (found.projected_finish > NOW.date())


@given(counts=st.lists(st.integers(min_value=0, max_value=1000), min_size=2, max_size=10))
def test_forecast_never_projects_into_the_past_and_is_delayed_without_a_finish(counts):
    total = max(counts) + 1
    found = selectors.forecast(counts=counts, total=total, now=NOW, due_date=dt.date(2027, 6, 1))
    assert found.projected_finish is None or found.projected_finish >= NOW.date()
    assert found.delayed is (found.projected_finish is None or found.projected_finish > dt.date(2027, 6, 1))
