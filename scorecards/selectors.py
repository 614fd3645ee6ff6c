"""Reads of scorecards: definitions as the services need them, exemptions, the level of anything on any past date,
campaigns and their progress.

History is answered from Transition rows alone: the level of an entity at an instant is the `to_value` of its last
level transition at or before it, and an entity with none had not been scored yet. Campaign progress counts today from
the current scores and results, and the weeks before from the history, and fits a straight line through them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, QuerySet, Subquery

from catalog import query
from catalog import selectors as catalog_selectors
from catalog.descriptors.refs import RefError, parse_ref
from catalog.models import Entity
from catalog.oncall import loading as oncall_loading
from portal.permissions import Action, Actor, may
from scorecards.filters import CampaignFilterSet, ExemptionFilterSet, ScoreFilterSet, TransitionFilterSet
from scorecards.models import Campaign, Exemption, Result, Score, Scorecard, Transition
from scorecards.presentation import TrendPoint

# Campaign forecasts fit a line through the number of services done at the end of each of the last TREND_WEEKS
# weeks and today.
TREND_WEEKS: Final = 4
# A forecast further out than this is no forecast: the campaign, at its pace, does not finish.
MAX_FORECAST_WEEKS: Final = 52 * 100
# A check counts as passing for a campaign in these states of its history (an exempt check passes).
PASSING: Final = frozenset({Result.State.PASS.value, "exempt"})


# -- scorecard definitions ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScorecardInfo:
    """What the services need of a scorecard: its owner (who approves exemptions and runs its campaigns), its levels
    lowest first and its check ids. From the Scorecard row the evaluation keeps, else from the catalog entity."""

    ref: str
    title: str
    owner_ref: str
    levels: tuple[str, ...]
    check_ids: tuple[str, ...]

    def level_index(self, level: str) -> int | None:
        """The position of `level` (compared case-insensitively), None when the scorecard has no such level."""
        lowered = [name.lower() for name in self.levels]
        return lowered.index(level.lower()) if level.lower() in lowered else None


def _names(items: Any, key: str) -> tuple[str, ...]:
    if not isinstance(items, list):
        return ()
    return tuple(
        str(item[key]) for item in items if isinstance(item, Mapping) and isinstance(item.get(key), str) and item[key]
    )


def _owner(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return ""
    try:
        return str(parse_ref(value, default_kind="group"))
    except RefError:
        return ""


def scorecard_info_get(*, ref: str) -> ScorecardInfo | None:
    """The scorecard `ref` (a full, lower-cased ref): its evaluated definition, else its catalog entity; None when
    neither exists. At most two queries."""
    row = Scorecard.objects.filter(ref=ref).first()
    if row is not None:
        spec = row.definition if isinstance(row.definition, Mapping) else {}
        title, owner = row.title, row.owner_ref or _owner(spec.get("owner"))
    else:
        entity = catalog_selectors.entity_get_by_ref(ref=ref)
        if entity is None or entity.kind.lower() != "scorecard":
            return None
        spec = entity.data.get("spec") if isinstance(entity.data.get("spec"), Mapping) else {}
        title, owner = entity.title, entity.owner_ref or _owner(spec.get("owner"))
    return ScorecardInfo(
        ref=ref,
        title=title,
        owner_ref=owner.lower(),
        levels=_names(spec.get("levels"), "name"),
        check_ids=_names(spec.get("checks"), "id"),
    )


# -- exemptions ------------------------------------------------------------------------------------------------------


def _filtered(filterset: Any) -> QuerySet[Any]:
    """The FilterSet's rows; invalid parameters are a ValidationError whose messages name the parameter."""
    if not filterset.is_valid():
        raise ValidationError(
            {name: [f"{name}: {message}" for message in messages] for name, messages in filterset.errors.items()}
        )
    return filterset.qs  # type: ignore[no-any-return]


def exemption_list(*, filters: Mapping[str, Any]) -> QuerySet[Exemption]:
    """Exemptions, newest request first, filtered by ExemptionFilterSet's parameters. Who asked and who decided are
    joined in, so listing them is one query."""
    base = Exemption.objects.select_related("requested_by", "decided_by").order_by("-requested_at", "id")
    return _filtered(ExemptionFilterSet(filters, queryset=base))


def exemption_get(*, exemption_id: uuid.UUID) -> Exemption | None:
    return Exemption.objects.select_related("requested_by", "decided_by").filter(pk=exemption_id).first()


def exemptions_active(*, entity_ref: str, scorecard_ref: str, now: dt.datetime) -> set[str]:
    """Ids of the checks of `scorecard_ref` that `entity_ref` is exempt from at `now`: approved and not yet expired,
    whether or not the expiry job has run. One query."""
    return set(
        Exemption.objects.filter(
            entity_ref=entity_ref.lower(),
            scorecard_ref=scorecard_ref.lower(),
            status=Exemption.Status.APPROVED,
            expires_at__gt=now,
        ).values_list("check_id", flat=True)
    )


# -- history ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LevelAt:
    """An entity's level on a scorecard at an instant, and since when it held it."""

    level: str
    level_index: int
    percent: float | None
    since: dt.datetime


def _last_level_transitions(*, scorecard_ref: str, at: dt.datetime) -> QuerySet[Transition]:
    """Per entity, its last level transition on the scorecard at or before `at` (one query when evaluated)."""
    level_rows = Transition.objects.filter(scorecard_ref=scorecard_ref, kind=Transition.Kind.LEVEL, at__lte=at)
    latest = level_rows.filter(entity_ref=OuterRef("entity_ref")).order_by("-at", "-id").values("pk")[:1]
    return level_rows.filter(pk=Subquery(latest))


def level_at(*, entity_ref: str, scorecard_ref: str, at: dt.datetime) -> LevelAt | None:
    """The level `entity_ref` held on `scorecard_ref` at `at`; None when it had not been scored by then. One query."""
    last = (
        Transition.objects.filter(
            entity_ref=entity_ref.lower(), scorecard_ref=scorecard_ref.lower(), kind=Transition.Kind.LEVEL, at__lte=at
        )
        .order_by("-at", "-id")
        .first()
    )
    if last is None:
        return None
    index = last.level_index if last.level_index is not None else -1
    return LevelAt(level=last.to_value, level_index=index, percent=last.percent, since=last.at)


@dataclass(frozen=True)
class LevelCount:
    level: str  # empty: no level
    level_index: int  # -1: no level
    count: int


@dataclass(frozen=True)
class LevelDistribution:
    """How many entities held each level at an instant (every level of the scorecard, lowest first, after "none")."""

    total: int
    levels: list[LevelCount]


def levels_at(*, scorecard_ref: str, at: dt.datetime, owner_ref: str | None = None) -> LevelDistribution:
    """The distribution of levels on `scorecard_ref` at `at`, of every entity scored by then, or of those `owner_ref`
    owned at the time (the owner recorded on the transition). Three queries at most."""
    rows = _last_level_transitions(scorecard_ref=scorecard_ref.lower(), at=at)
    if owner_ref:
        rows = rows.filter(owner_ref=owner_ref.lower())
    counted = rows.values("to_value", "level_index").annotate(count=Count("id")).order_by()
    counts: dict[tuple[int, str], int] = defaultdict(int)
    for row in counted:
        index = row["level_index"] if row["level_index"] is not None else -1
        counts[(index, row["to_value"] if index >= 0 else "")] += row["count"]
    info = scorecard_info_get(ref=scorecard_ref.lower())
    for index, name in enumerate(info.levels if info is not None else ()):
        counts.setdefault((index, name), 0)
    counts.setdefault((-1, ""), 0)
    levels = [LevelCount(level=name, level_index=index, count=n) for (index, name), n in sorted(counts.items())]
    return LevelDistribution(total=sum(counts.values()), levels=levels)


def transition_list(*, filters: Mapping[str, Any]) -> QuerySet[Transition]:
    """Transitions in time order, filtered by TransitionFilterSet's parameters."""
    return _filtered(TransitionFilterSet(filters, queryset=Transition.objects.order_by("at", "id")))


# -- campaigns -------------------------------------------------------------------------------------------------------


def campaign_list(*, filters: Mapping[str, Any]) -> QuerySet[Campaign]:
    """Campaigns, soonest due first, filtered by CampaignFilterSet's parameters."""
    base = Campaign.objects.select_related("created_by").order_by("due_date", "title", "slug")
    return _filtered(CampaignFilterSet(filters, queryset=base))


def campaign_get(*, slug: str) -> Campaign | None:
    return Campaign.objects.select_related("created_by").filter(slug=slug).first()


@dataclass(frozen=True)
class Forecast:
    """A straight line through the number done per week: its slope (services a week), and where it meets the total.
    `delayed`: work is left and the line does not reach the total by the due date (or never does)."""

    per_week: float
    projected_finish: dt.date | None
    delayed: bool


@dataclass(frozen=True)
class TeamProgress:
    owner_ref: str  # the entity's owner in the catalog now; empty for entities without one
    total: int
    done: int
    percent: float
    forecast: Forecast


@dataclass(frozen=True)
class CampaignProgress:
    total: int
    done: int
    percent: float
    forecast: Forecast
    teams: list[TeamProgress] = field(default_factory=list)
    problem: str = ""  # why nothing could be counted (the scorecard or its target level is gone), else empty


def _percent(done: int, total: int) -> float:
    return round(100.0 * done / total, 1) if total else 0.0


def forecast(*, counts: Sequence[int], total: int, now: dt.datetime, due_date: dt.date) -> Forecast:
    """Fit done = a + b·week through `counts` (one per week, the last one today) by least squares, and project when
    it reaches `total`. No progress (a slope of zero or less) projects no finish."""
    remaining = total - counts[-1]
    n = len(counts)
    weeks = range(-(n - 1), 1)
    mean_week = sum(weeks) / n
    mean_done = sum(counts) / n
    spread = sum((week - mean_week) ** 2 for week in weeks)
    slope = sum((week - mean_week) * (done - mean_done) for week, done in zip(weeks, counts, strict=True)) / spread
    slope = round(slope, 6)
    if remaining <= 0:
        return Forecast(per_week=slope, projected_finish=now.date(), delayed=False)
    if slope <= 0 or remaining / slope > MAX_FORECAST_WEEKS:
        return Forecast(per_week=slope, projected_finish=None, delayed=True)
    finish = (now + dt.timedelta(weeks=remaining / slope)).date()
    return Forecast(per_week=slope, projected_finish=finish, delayed=finish > due_date)


def _done_by_level_now(*, scorecard_ref: str, target_index: int) -> set[str]:
    return set(
        Score.objects.filter(scorecard_ref=scorecard_ref, level_index__gte=target_index).values_list(
            "entity_ref", flat=True
        )
    )


def _done_by_level_at(*, scorecard_ref: str, target_index: int, at: dt.datetime) -> set[str]:
    rows = _last_level_transitions(scorecard_ref=scorecard_ref, at=at).filter(level_index__gte=target_index)
    return set(rows.values_list("entity_ref", flat=True))


def _all_checks(pairs: Iterable[tuple[str, str]], check_ids: Sequence[str]) -> set[str]:
    passed: dict[str, set[str]] = defaultdict(set)
    for entity_ref, check_id in pairs:
        passed[entity_ref].add(check_id)
    wanted = set(check_ids)
    return {entity_ref for entity_ref, checks in passed.items() if wanted <= checks}


def _done_by_checks_now(*, scorecard_ref: str, check_ids: Sequence[str]) -> set[str]:
    results = Result.objects.filter(scorecard_ref=scorecard_ref, check_id__in=check_ids)
    passing = results.filter(state=Result.State.PASS) | results.filter(exempt=True)
    return _all_checks(passing.values_list("entity_ref", "check_id"), check_ids)


def _done_by_checks_at(*, scorecard_ref: str, check_ids: Sequence[str], at: dt.datetime) -> set[str]:
    rows = Transition.objects.filter(
        scorecard_ref=scorecard_ref, kind=Transition.Kind.CHECK, check_id__in=check_ids, at__lte=at
    )
    latest = (
        rows.filter(entity_ref=OuterRef("entity_ref"), check_id=OuterRef("check_id"))
        .order_by("-at", "-id")
        .values("pk")
    )
    last = rows.filter(pk=Subquery(latest[:1]), to_value__in=PASSING)
    return _all_checks(last.values_list("entity_ref", "check_id"), check_ids)


def campaign_entities(*, campaign: Campaign) -> dict[str, str]:
    """The entities a campaign is about, ref → owner: the catalog entities matching its filter, or without a filter
    those scored on its scorecard. Raises catalog.query.QueryError for a filter that does not parse."""
    if campaign.filter.strip():
        entities = query.entity_queryset(query.parse_filter([campaign.filter]))
    else:
        scored = Score.objects.filter(scorecard_ref=campaign.scorecard_ref).values("entity_ref")
        entities = Entity.objects.filter(ref__in=scored)
    return dict(entities.values_list("ref", "owner_ref"))


def campaign_progress(*, campaign: Campaign, now: dt.datetime) -> CampaignProgress:
    """Services done (at the target level or above, or passing every listed check, exempt checks included), overall
    and per owning team, with a forecast from the last TREND_WEEKS weeks of history. TREND_WEEKS + 4 queries."""
    info = scorecard_info_get(ref=campaign.scorecard_ref)
    none = Forecast(per_week=0.0, projected_finish=None, delayed=False)
    if info is None:
        return CampaignProgress(0, 0, 0.0, none, problem=f"The scorecard {campaign.scorecard_ref} no longer exists.")
    target_index = info.level_index(campaign.target_level) if campaign.target_level else None
    if campaign.target_level and target_index is None:
        return CampaignProgress(
            0, 0, 0.0, none, problem=f"{info.ref} no longer has the level {campaign.target_level!r}."
        )
    try:
        owners = campaign_entities(campaign=campaign)
    except query.QueryError as error:
        return CampaignProgress(0, 0, 0.0, none, problem=f"The campaign's filter does not parse: {error.message}")
    instants = [now - dt.timedelta(weeks=weeks) for weeks in range(TREND_WEEKS, 0, -1)]
    samples: list[set[str]] = []
    if target_index is not None:
        samples = [_done_by_level_at(scorecard_ref=info.ref, target_index=target_index, at=at) for at in instants] + [
            _done_by_level_now(scorecard_ref=info.ref, target_index=target_index)
        ]
    else:
        check_ids = [str(check) for check in campaign.check_ids]
        samples = [_done_by_checks_at(scorecard_ref=info.ref, check_ids=check_ids, at=at) for at in instants] + [
            _done_by_checks_now(scorecard_ref=info.ref, check_ids=check_ids)
        ]
    teams: dict[str, list[str]] = defaultdict(list)
    for ref, owner in owners.items():
        teams[owner].append(ref)

    def counted(refs: Iterable[str]) -> list[int]:
        members = set(refs)
        return [len(members & sample) for sample in samples]

    team_rows = []
    for owner in sorted(teams):
        counts = counted(teams[owner])
        total = len(teams[owner])
        team_rows.append(
            TeamProgress(
                owner_ref=owner,
                total=total,
                done=counts[-1],
                percent=_percent(counts[-1], total),
                forecast=forecast(counts=counts, total=total, now=now, due_date=campaign.due_date),
            )
        )
    counts = counted(owners)
    return CampaignProgress(
        total=len(owners),
        done=counts[-1],
        percent=_percent(counts[-1], len(owners)),
        forecast=forecast(counts=counts, total=len(owners), now=now, due_date=campaign.due_date),
        teams=team_rows,
    )


# -- pages -----------------------------------------------------------------------------------------------------------
# Reads of the HTML pages: the teams of a scorecard side by side, its services filtered, a team's services on every
# scorecard, the weekly trend of levels, and the exemptions waiting for someone.


@dataclass(frozen=True)
class TeamRow:
    """One team's services on one scorecard: how many hold each level (`counts[0]` none, then lowest to highest),
    the same as shares of the team's services (so teams of different sizes compare), and their mean percentage."""

    owner_ref: str
    total: int
    counts: tuple[int, ...]
    shares: tuple[float, ...]
    mean_percent: float | None


def scorecard_team_rows(*, scorecard_ref: str, levels: Sequence[str]) -> list[TeamRow]:
    """Every team (owner) scored on `scorecard_ref`, most services first. The mean percentage leaves out services
    none of whose checks could be counted (all not applicable or unconfirmed); None when that is all of them. One
    query."""
    grouped: dict[str, list[int]] = defaultdict(lambda: [0] * (len(levels) + 1))
    percents: dict[str, list[float]] = defaultdict(list)
    rows = Score.objects.filter(scorecard_ref=scorecard_ref.lower()).values_list(
        "owner_ref", "level_index", "percent", "counts"
    )
    for owner, level_index, percent, counts in rows:
        grouped[owner][level_index + 1 if 0 <= level_index < len(levels) else 0] += 1
        counted = counts.get("counted") if isinstance(counts, Mapping) else None
        if counted != 0:
            percents[owner].append(percent)
    teams = []
    for owner, counts_ in grouped.items():
        total = sum(counts_)
        scored = percents.get(owner, [])
        teams.append(
            TeamRow(
                owner_ref=owner,
                total=total,
                counts=tuple(counts_),
                shares=tuple(_percent(count, total) for count in counts_),
                mean_percent=round(sum(scored) / len(scored), 1) if scored else None,
            )
        )
    return sorted(teams, key=lambda team: (-team.total, team.owner_ref))


@dataclass(frozen=True)
class CheckTally:
    """How many services one check of a scorecard fails, could not confirm (error or stale) and exempts."""

    check_id: str
    failing: int
    unconfirmed: int
    exempt: int


def scorecard_check_tallies(*, scorecard_ref: str) -> list[CheckTally]:
    """The checks of `scorecard_ref` that hold services back, most failing first. One query."""
    tallies: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    rows = (
        Result.objects.filter(scorecard_ref=scorecard_ref.lower())
        .exclude(state__in=(Result.State.PASS, Result.State.NOT_APPLICABLE))
        .values("check_id", "state", "exempt")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        slot = 2 if row["exempt"] else (0 if row["state"] == Result.State.FAIL else 1)
        tallies[row["check_id"]][slot] += row["n"]
    found = [CheckTally(check_id, *counts) for check_id, counts in tallies.items()]
    return sorted(found, key=lambda tally: (-tally.failing, -tally.unconfirmed, tally.check_id))


def score_list(*, scorecard_ref: str, filters: Mapping[str, Any]) -> QuerySet[Score]:
    """The services scored on `scorecard_ref`, highest level first, filtered by ScoreFilterSet (`team`, `level`)."""
    base = Score.objects.filter(scorecard_ref=scorecard_ref.lower()).order_by("-level_index", "-percent", "entity_ref")
    return _filtered(ScoreFilterSet(filters, queryset=base))


def team_scores(*, owner_ref: str) -> dict[str, list[Score]]:
    """The scores of the services `owner_ref` owns, by scorecard ref, highest level first. One query."""
    found: dict[str, list[Score]] = defaultdict(list)
    rows = Score.objects.filter(owner_ref=owner_ref.lower()).order_by("-level_index", "-percent", "entity_ref")
    for score in rows:
        found[score.scorecard_ref].append(score)
    return dict(found)


def _week_ends(*, now: dt.datetime, weeks: int) -> list[dt.datetime]:
    return [now - dt.timedelta(weeks=back) for back in range(weeks - 1, -1, -1)]


def level_trend(
    *, scorecard_ref: str, levels: Sequence[str], now: dt.datetime, owner_ref: str | None = None, weeks: int = 8
) -> list[TrendPoint]:
    """How many entities (of `owner_ref`, as recorded on the transitions) held each level at the end of each of the
    last `weeks` weeks, today last. One query per week."""
    points = []
    for at in _week_ends(now=now, weeks=weeks):
        rows = _last_level_transitions(scorecard_ref=scorecard_ref.lower(), at=at)
        if owner_ref:
            rows = rows.filter(owner_ref=owner_ref.lower())
        counts = [0] * (len(levels) + 1)
        for row in rows.values("level_index").annotate(n=Count("id")).order_by():
            index = row["level_index"]
            counts[index + 1 if index is not None and 0 <= index < len(levels) else 0] += row["n"]
        points.append(TrendPoint(day=at.date(), counts=tuple(counts)))
    return points


def entity_level_trend(
    *, entity_ref: str, scorecard_ref: str, levels: Sequence[str], now: dt.datetime, weeks: int = 8
) -> list[TrendPoint]:
    """The level one entity held at the end of each of the last `weeks` weeks (a count of one in its level's slot,
    nothing before it was scored). One query."""
    history = list(
        Transition.objects.filter(
            entity_ref=entity_ref.lower(), scorecard_ref=scorecard_ref.lower(), kind=Transition.Kind.LEVEL, at__lte=now
        )
        .order_by("at", "id")
        .values_list("at", "level_index")
    )
    points = []
    for at in _week_ends(now=now, weeks=weeks):
        held = [index for when, index in history if when <= at]
        counts = [0] * (len(levels) + 1)
        if held:
            index = held[-1]
            counts[index + 1 if index is not None and 0 <= index < len(levels) else 0] = 1
        points.append(TrendPoint(day=at.date(), counts=tuple(counts)))
    return points


def entity_exemptions(*, entity_ref: str) -> dict[tuple[str, str], Exemption]:
    """The entity's pending and approved exemptions by (scorecard ref, check id). One query."""
    rows = Exemption.objects.select_related("requested_by").filter(
        entity_ref=entity_ref.lower(), status__in=(Exemption.Status.PENDING, Exemption.Status.APPROVED)
    )
    return {(row.scorecard_ref, row.check_id): row for row in rows}


def exemption_queue(*, actor: Actor) -> list[Exemption]:
    """Pending exemptions `actor` may decide (never their own requests), oldest first. Two queries plus the
    actor's membership once."""
    pending = Exemption.objects.select_related("requested_by").filter(status=Exemption.Status.PENDING)
    return [
        row for row in pending.order_by("requested_at", "id") if may(actor, Action.SCORECARD_EXEMPTION_APPROVE, row)
    ]


def exemptions_requested_by(*, user_id: int) -> QuerySet[Exemption]:
    """The exemptions `user_id` asked for that are still pending, newest first."""
    return Exemption.objects.select_related("requested_by").filter(
        requested_by_id=user_id, status=Exemption.Status.PENDING
    )


def score_get(*, entity_ref: str, scorecard_ref: str) -> Score | None:
    return Score.objects.filter(entity_ref=entity_ref.lower(), scorecard_ref=scorecard_ref.lower()).first()


def team_titles(*, refs: Iterable[str]) -> dict[str, str]:
    """The title of each team ref as the catalog's and on-call's pages show it (its title, else its profile's
    displayName, else its name; a ref not in the catalog gets one made from its name), in one query, keyed by the ref
    as given. Empty refs are left out."""
    given = {ref for ref in refs if ref}
    teams = oncall_loading.teams_by_refs(refs=given)
    return {ref: teams[ref.lower()].title for ref in given}
