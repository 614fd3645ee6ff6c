"""Reads for on-call, one per page or endpoint: the card of a service or team, the company-wide list, a schedule's
page, timeline and coverage, a person's shifts, overrides, calendar feeds and readiness.

Each loads what it shows in bulk through `loading` (a fixed number of queries however many levels, schedules or
people there are) and lays it out with `presentation`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils import timezone

from catalog.models import Entity
from catalog.oncall import loading
from catalog.oncall.engine import (
    EscalationPolicy,
    HealthWarning,
    LevelStatus,
    Schedule,
    ScheduleStatus,
    Timeline,
    balance,
    coverage,
    coverage_of,
    covered_intervals,
    normalize_ref,
    paging_summary,
    policy_health,
    policy_now,
    readiness,
    render,
    schedule_health,
    timeline,
)
from catalog.oncall.engine import ical as oncall_ical
from catalog.oncall.loading import LoadedPolicy, LoadedSchedule, Person, PolicyLookup, Team
from catalog.oncall.models import CalendarFeed, OnCallOverride
from catalog.oncall.presentation import (
    CoverageView,
    TimelineView,
    coverage_view,
    day_start,
    timeline_refs,
    timeline_view,
)
from portal.permissions import Action, Actor, may

MAX_TIMELINE_DAYS: Final = 93
MAX_COVERAGE_DAYS: Final = 93


# -- who is on call: the card of a service or team, the home page, /api/oncall/now -----------------------------------

# Portal overrides that ended this long before the instant asked about still load: a shift that began when one of
# them ended shows when it really began.
OVERRIDES_LOOK_BACK: Final = timedelta(days=7)


@dataclass(frozen=True)
class OnCallView:
    person: Person
    start: datetime | None
    until: datetime | None
    schedule: LoadedSchedule | None

    @property
    def until_local(self) -> datetime | None:
        if self.until is None or self.schedule is None:
            return self.until
        return self.until.astimezone(self.schedule.zone)


@dataclass(frozen=True)
class NextView:
    person: Person
    start: datetime
    schedule: LoadedSchedule | None


@dataclass(frozen=True)
class TargetView:
    """A level's target as the policy names it: a schedule or a person."""

    kind: str
    schedule: LoadedSchedule | None = None
    person: Person | None = None


@dataclass(frozen=True)
class LevelView:
    """One level as the engine computed it (`status`), with people and schedules to show."""

    status: LevelStatus
    on_call: tuple[OnCallView, ...]
    next: tuple[NextView, ...]
    schedules: tuple[LoadedSchedule, ...]
    targets: tuple[TargetView, ...] = ()

    @property
    def level(self) -> int:
        return self.status.level

    @property
    def delay_minutes(self) -> int:
        return self.status.delay_minutes

    @property
    def gap(self) -> bool:
        return self.status.gap

    @property
    def notes(self) -> tuple[str, ...]:
        return self.status.notes


@dataclass(frozen=True)
class PolicyNow:
    """One policy's levels at one instant, ready to show."""

    policy: LoadedPolicy
    at: datetime
    levels: tuple[LevelView, ...]
    summary: str
    schedules: Mapping[str, LoadedSchedule]
    health: tuple[HealthWarning, ...] = ()

    @property
    def repeat(self) -> int:
        return self.policy.policy.repeat if self.policy.policy is not None else 0

    @property
    def first_level_gap(self) -> bool:
        return bool(self.levels) and self.levels[0].gap

    @property
    def problems(self) -> list[str]:
        return [s.problem for s in self.schedules.values() if s.problem]


def _user_refs(statuses: Iterable[LevelStatus]) -> set[str]:
    refs: set[str] = set()
    for status in statuses:
        refs.update(entry.user_ref for entry in status.on_call)
        refs.update(entry.user_ref for entry in status.next)
    return refs


def _level_view(
    status: LevelStatus,
    schedules: tuple[LoadedSchedule, ...],
    loaded: Mapping[str, LoadedSchedule],
    people: Mapping[str, Person],
    targets: tuple[TargetView, ...] = (),
) -> LevelView:
    return LevelView(
        status=status,
        on_call=tuple(
            OnCallView(people[e.user_ref], e.start, e.until, loaded.get(e.schedule_ref or "") or None)
            for e in status.on_call
        ),
        next=tuple(NextView(people[n.user_ref], n.start, loaded.get(n.schedule_ref)) for n in status.next),
        schedules=schedules,
        targets=targets,
    )


def _health_names(people: Mapping[str, Person], schedules: Mapping[str, LoadedSchedule]) -> dict[str, str]:
    return {ref: p.name for ref, p in people.items()} | {ref: s.title for ref, s in schedules.items()}


def _policies_now(policies: Sequence[LoadedPolicy], at: datetime) -> tuple[list[PolicyNow], dict[str, Person]]:
    """Every usable policy's levels at `at`: schedules, overrides and people in one query each."""
    schedule_refs = {ref for p in policies if p.policy is not None for ref in p.policy.schedule_refs()}
    schedules = loading.schedules_by_refs(refs=schedule_refs, overrides_since=at - OVERRIDES_LOOK_BACK)
    engine_schedules = {ref: s.schedule for ref, s in schedules.items() if s.schedule is not None}
    cache: dict[str, ScheduleStatus] = {}
    statuses: dict[str, list[LevelStatus]] = {}
    for loaded in policies:
        if loaded.policy is not None:
            statuses[loaded.ref] = policy_now(loaded.policy, engine_schedules, at, cache=cache)
    # Everyone the health warnings may name (schedule members, people named at a level) loads in the same query.
    refs = {ref for levels in statuses.values() for ref in _user_refs(levels)}
    refs |= {member for s in engine_schedules.values() for member in s.members()}
    refs |= {
        t.ref
        for p in policies
        if p.policy is not None
        for level in p.policy.levels
        for t in level.targets
        if t.kind == "user"
    }
    directory = loading.people_by_refs(refs=refs)
    names = {ref: person.name for ref, person in directory.items()}
    health_names = _health_names(directory, schedules)
    out: list[PolicyNow] = []
    for loaded in policies:
        levels_status = statuses.get(loaded.ref, [])
        views = []
        own_schedules: dict[str, LoadedSchedule] = {}
        for status, level in zip(levels_status, loaded.policy.levels if loaded.policy else (), strict=False):
            level_schedules = tuple(schedules[t.ref] for t in level.targets if t.kind == "schedule")
            own_schedules.update({s.ref: s for s in level_schedules})
            targets = tuple(
                TargetView("schedule", schedule=schedules[t.ref])
                if t.kind == "schedule"
                else TargetView("user", person=directory[t.ref])
                for t in level.targets
            )
            views.append(_level_view(status, level_schedules, schedules, directory, targets))
        summary = paging_summary(levels_status, names=names) if loaded.policy is not None else loaded.problem
        health = (
            policy_health(loaded.policy, engine_schedules, at, names=health_names) if loaded.policy is not None else ()
        )
        out.append(PolicyNow(loaded, at, tuple(views), summary, own_schedules, health))
    return out, directory


@dataclass(frozen=True)
class EntityOnCall:
    """What the on-call card of a Component or Group shows."""

    entity: Entity
    lookup: PolicyLookup
    now: PolicyNow | None
    people: Mapping[str, Person] = field(default_factory=dict)

    @property
    def policy_ref(self) -> str | None:
        return self.lookup.ref


def entities_oncall(*, entities: Sequence[Entity], at: datetime | None = None) -> dict[str, EntityOnCall]:
    """Levels now and next, and the plain-language paging summary, of each entity's escalation policy, keyed by entity
    ref. Policies, schedules, overrides and people load once each for all of them (four queries for Groups, whose
    policy annotation is on the entity itself; a Component whose policy comes from its owner costs one more query)."""
    at = at or timezone.now()
    lookups = {entity.ref: loading.policy_lookup(entity=entity) for entity in entities}
    policies = loading.policies_by_refs(refs=(lookup.ref for lookup in lookups.values() if lookup.ref))
    computed, directory = _policies_now(list(policies.values()), at)
    by_policy = {now.policy.ref: now for now in computed}
    return {
        entity.ref: EntityOnCall(entity, lookups[entity.ref], by_policy.get(lookups[entity.ref].ref or ""), directory)
        for entity in entities
    }


def entity_oncall(*, ref: str, at: datetime | None = None) -> EntityOnCall | None:
    """Who is on call for the entity with this (full, lower-case) ref, or None when it is not in the catalog (at most
    six queries)."""
    entity = Entity.objects.filter(ref=ref).first()
    return entities_oncall(entities=[entity], at=at)[entity.ref] if entity is not None else None


@dataclass(frozen=True)
class OnCallCard:
    """The card on a Component or Group page; `editable` are the schedules the viewer may add overrides to."""

    oncall: EntityOnCall
    editable: tuple[LoadedSchedule, ...]
    team: Team | None = None


def _policy_of(entity: Entity) -> EscalationPolicy | None:
    """The entity's escalation policy when it has a readable one (two queries at most)."""
    lookup = loading.policy_lookup(entity=entity)
    return loading.policies_by_refs(refs=[lookup.ref])[lookup.ref].policy if lookup.ref else None


def _editable(viewer: Actor, schedules: Iterable[LoadedSchedule]) -> tuple[LoadedSchedule, ...]:
    return tuple(s for s in schedules if s.schedule is not None and may(viewer, Action.ONCALL_OVERRIDE_WRITE, s))


def oncall_card(*, ref: str, viewer: Actor, at: datetime | None = None) -> OnCallCard | None:
    """The on-call card of the entity with this ref for `viewer`, or None when the entity is not in the catalog."""
    found = entity_oncall(ref=ref, at=at)
    if found is None:
        return None
    editable = _editable(viewer, found.now.schedules.values()) if found.now is not None else ()
    return OnCallCard(found, editable, _team_of(found))


def _team_of(found: EntityOnCall) -> Team | None:
    """The team whose channel the card shows: the group itself, the group the policy came from, or the owner (one
    query)."""
    entity = found.entity
    if entity.kind.lower() == "group":
        ref = entity.ref
    elif found.lookup.via == "owner":
        ref = found.lookup.annotated_on
    else:
        ref = entity.owner_ref if entity.owner_ref.startswith("group:") else ""
    return loading.teams_by_refs(refs=[ref])[ref] if ref else None


# -- the override form ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OverrideChoices:
    """What the override form offers: the schedules the viewer may change (those of `entity`'s policy, or the one
    schedule asked for) and the people to pick from (their members and their teams' members)."""

    entity: Entity | None
    schedules: tuple[LoadedSchedule, ...]
    people: tuple[Person, ...]


def override_choices(*, viewer: Actor, entity_ref: str, schedule_ref: str) -> OverrideChoices:
    """The choices of the override form for an entity's policy (`entity_ref`) or for one schedule (`schedule_ref`)."""
    entity = Entity.objects.filter(ref=entity_ref.lower()).first() if entity_ref else None
    if entity is not None:
        policy = _policy_of(entity)
        refs = list(policy.schedule_refs()) if policy is not None else []
    else:
        refs = [schedule_ref]
    schedules = _editable(viewer, loading.schedules_by_refs(refs=refs).values())
    if not schedules:
        return OverrideChoices(entity, (), ())
    refs_of_people = loading.schedule_member_refs(schedules=schedules)
    refs_of_people |= loading.group_member_refs(group_refs=(s.owner_ref for s in schedules))
    people = sorted(loading.people_by_refs(refs=refs_of_people).values(), key=lambda p: p.name.lower())
    return OverrideChoices(entity, schedules, tuple(people))


# -- the company-wide page ------------------------------------------------------------------------------------------

ONCALL_PAGE_SIZE: Final = 20


@dataclass(frozen=True)
class OnCallFilters:
    team: str = ""
    service: str = ""
    level: int | None = None
    q: str = ""
    page: int = 1


@dataclass(frozen=True)
class OnCallRow:
    now: PolicyNow
    teams: tuple[Team, ...]
    level: LevelView
    first: bool
    span: int


@dataclass(frozen=True)
class OnCallList:
    rows: list[OnCallRow]
    page: Page[Any]
    teams: list[tuple[str, str]]
    total_policies: int
    service_problem: str = ""
    level_numbers: tuple[int, ...] = ()


def _level_count(entity: Entity) -> int:
    """How many levels a policy entity declares, without reading the whole spec."""
    spec = entity.data.get("spec") if isinstance(entity.data, Mapping) else None
    levels = spec.get("levels") if isinstance(spec, Mapping) else None
    return len(levels) if isinstance(levels, list) else 0


def _matches(q: str, now: PolicyNow, teams: Iterable[str]) -> bool:
    words = [
        now.policy.ref,
        now.policy.title,
        *teams,
        *(s.ref for s in now.schedules.values()),
        *(s.title for s in now.schedules.values()),
    ]
    for level in now.levels:
        words.extend(entry.person.name for entry in level.on_call)
        words.extend(entry.person.ref for entry in level.on_call)
    return any(q in word.lower() for word in words)


def _find_service(value: str) -> Entity | None:
    text = value.strip().lower()
    if ":" in text or "/" in text:
        try:
            ref = normalize_ref(text, default_kind="component")
        except ValueError:
            return None
        return Entity.objects.filter(ref=ref).first()
    return Entity.objects.filter(loading.of_kind("component"), name__iexact=text).order_by("namespace").first()


def oncall_list_page(
    *, filters: OnCallFilters, at: datetime | None = None, per_page: int = ONCALL_PAGE_SIZE
) -> OnCallList:
    """Every escalation policy's levels now, one row per level, filtered and paginated by policy.

    Queries are bounded: all policy rows (refs, owners and specs only), the annotations that point at them, and then
    schedules, overrides and people once each. Searching by person computes every filtered policy (the engine
    answers a status in well under a millisecond); without a search only the shown page is computed.
    """
    at = at or timezone.now()
    policy_entities = loading.policy_entities()
    users_of = loading.policy_teams(policies=policy_entities)
    team_refs = sorted({team for teams in users_of.values() for team in teams})
    candidates = policy_entities
    service_problem = ""
    if filters.team:
        candidates = [e for e in candidates if filters.team.lower() in users_of.get(e.ref, set())]
    if filters.service:
        service = _find_service(filters.service)
        if service is None:
            service_problem = f"No component called '{filters.service}' is in the catalog."
            candidates = []
        else:
            lookup = loading.policy_lookup(entity=service)
            candidates = [e for e in candidates if e.ref == lookup.ref]
            if lookup.ref is None:
                service_problem = f"{service.ref} has no escalation policy."
    candidates.sort(key=lambda e: (e.title or e.name).lower())
    loaded = [loading.policy_from_entity(entity=e) for e in candidates]
    q = filters.q.strip().lower()
    if q:
        computed, _ = _policies_now(loaded, at)
        computed = [now for now in computed if _matches(q, now, users_of.get(now.policy.ref, ()))]
        paginator: Paginator[Any] = Paginator(computed, per_page)
        page = paginator.get_page(filters.page)
        page_now: list[PolicyNow] = list(page.object_list)
    else:
        paginator = Paginator(loaded, per_page)
        page = paginator.get_page(filters.page)
        page_now, _ = _policies_now(list(page.object_list), at)
    directory = loading.teams_by_refs(refs=team_refs)
    rows: list[OnCallRow] = []
    for now in page_now:
        levels = [lv for lv in now.levels if filters.level is None or lv.level == filters.level]
        teams = tuple(
            sorted((directory[ref] for ref in users_of.get(now.policy.ref, ())), key=lambda t: t.title.lower())
        )
        for index, level in enumerate(levels):
            rows.append(OnCallRow(now, teams, level, index == 0, len(levels)))
    most = max((_level_count(entity) for entity in policy_entities), default=0)
    return OnCallList(
        rows=rows,
        page=page,
        teams=sorted(((ref, directory[ref].title) for ref in team_refs), key=lambda pair: pair[1].lower()),
        total_policies=paginator.count,
        service_problem=service_problem,
        level_numbers=tuple(range(1, min(most, 99) + 1)),
    )


# -- an escalation policy's page, and every schedule and policy of the on-call section ------------------------------

OVERVIEW_DAYS: Final = 7


@dataclass(frozen=True)
class PolicyPage:
    """An escalation policy's page: its levels now (targets, delays, who is on call and next), its health and the
    teams that use it."""

    entity: Entity
    now: PolicyNow
    teams: tuple[Team, ...]


def _by_title(teams: Iterable[Team]) -> tuple[Team, ...]:
    return tuple(sorted(teams, key=lambda team: team.title.lower()))


def policy_page(*, ref: str, at: datetime | None = None) -> PolicyPage | None:
    """The page of the EscalationPolicy with this ref, or None when there is none (seven queries)."""
    entity = Entity.objects.filter(ref=ref.lower(), kind__iexact="escalationpolicy").first()
    if entity is None:
        return None
    computed, _ = _policies_now([loading.policy_from_entity(entity=entity)], at or timezone.now())
    team_refs = loading.policy_teams(policies=[entity]).get(entity.ref, set())
    return PolicyPage(entity, computed[0], _by_title(loading.teams_by_refs(refs=team_refs).values()))


@dataclass(frozen=True)
class ScheduleRow:
    """A schedule in the on-call section: its coverage over the window, its next gap and its warnings; coverage is
    None when the schedule cannot be read."""

    loaded: LoadedSchedule
    team: Team | None
    coverage: float | None
    next_gap: tuple[datetime, datetime] | None
    health: tuple[HealthWarning, ...]


@dataclass(frozen=True)
class PolicyRow:
    """A policy in the on-call section: level 1's coverage over the window (all its targets together) and next gap."""

    now: PolicyNow
    teams: tuple[Team, ...]
    coverage: float | None
    next_gap: tuple[datetime, datetime] | None


@dataclass(frozen=True)
class OnCallOverview:
    schedules: tuple[ScheduleRow, ...]
    policies: tuple[PolicyRow, ...]
    days: int


def _first_level_coverage(
    policy: EscalationPolicy, schedules: Mapping[str, Schedule], start: datetime, end: datetime
) -> tuple[float, tuple[datetime, datetime] | None]:
    covered: list[tuple[datetime, datetime]] = []
    for target in policy.levels[0].targets if policy.levels else ():
        if target.kind == "user":
            covered.append((start, end))
        elif target.ref in schedules:
            covered.extend(covered_intervals(schedules[target.ref], start, end))
    result = coverage_of(covered, start, end)
    return round(result.percent, 1), (result.gaps[0] if result.gaps else None)


def oncall_overview(*, at: datetime | None = None, days: int = OVERVIEW_DAYS) -> OnCallOverview:
    """Every schedule and every escalation policy with coverage and the next gap over the next `days` days, and their
    health warnings, by title. A fixed number of queries however many there are (about ten)."""
    now = at or timezone.now()
    end = now + timedelta(days=days)
    schedule_refs = Entity.objects.filter(loading.of_kind("schedule")).values_list("ref", flat=True)
    schedules = loading.schedules_by_refs(refs=schedule_refs, overrides_since=now)
    policy_entities = loading.policy_entities()
    computed, directory = _policies_now([loading.policy_from_entity(entity=e) for e in policy_entities], now)
    users_of = loading.policy_teams(policies=policy_entities)
    owners = {s.owner_ref for s in schedules.values() if s.owner_ref.startswith("group:")}
    teams = loading.teams_by_refs(refs=owners | {ref for refs in users_of.values() for ref in refs})
    members = {m for s in schedules.values() if s.schedule is not None for m in s.schedule.members()}
    people = {**directory, **loading.people_by_refs(refs=members - set(directory))}
    names = _health_names(people, schedules)
    schedule_rows = []
    for loaded in sorted(schedules.values(), key=lambda s: s.title.lower()):
        team = teams.get(loaded.owner_ref)
        if loaded.schedule is None:
            schedule_rows.append(ScheduleRow(loaded, team, None, None, ()))
            continue
        result = coverage(loaded.schedule, now, end)
        health = schedule_health(loaded.schedule, now, days=days, names=names)
        gap = result.gaps[0] if result.gaps else None
        schedule_rows.append(ScheduleRow(loaded, team, round(result.percent, 1), gap, health))
    engine_schedules = {ref: s.schedule for ref, s in schedules.items() if s.schedule is not None}
    policy_rows = []
    for policy_now_ in sorted(computed, key=lambda p: p.policy.title.lower()):
        policy_teams = _by_title(teams[ref] for ref in users_of.get(policy_now_.policy.ref, ()))
        if policy_now_.policy.policy is None:
            policy_rows.append(PolicyRow(policy_now_, policy_teams, None, None))
            continue
        percent, gap = _first_level_coverage(policy_now_.policy.policy, engine_schedules, now, end)
        policy_rows.append(PolicyRow(policy_now_, policy_teams, percent, gap))
    return OnCallOverview(tuple(schedule_rows), tuple(policy_rows), days)


# -- a schedule: its page, and its timeline and coverage in the API --------------------------------------------------

SCHEDULE_PAGE_DAYS: Final = 14


@dataclass(frozen=True)
class SchedulePage:
    """Everything a schedule's page shows. `timeline` and `coverage` are None for an unreadable schedule;
    `coverage`, `overrides`, `policies` and `feeds` are left empty when only the timeline was asked for."""

    loaded: LoadedSchedule
    today: date
    may_write: bool
    timeline: TimelineView | None = None
    coverage: CoverageView | None = None
    overrides: tuple[OnCallOverride, ...] = ()
    people: Mapping[str, Person] = field(default_factory=dict)
    policies: tuple[Entity, ...] = ()
    feeds: tuple[CalendarFeed, ...] = ()
    health: tuple[HealthWarning, ...] = ()
    team: Team | None = None


def _schedule_entity(ref: str) -> Entity | None:
    return Entity.objects.filter(ref=ref.lower(), kind__iexact="schedule").first()


def _coverage(schedule: Schedule, start: datetime, days: int) -> tuple[Any, dict[str, timedelta]]:
    end = start + timedelta(days=days)
    return coverage(schedule, start, end), balance(schedule, start, end)


def schedule_page(
    *, ref: str, viewer: Actor, start_day: date | None, timeline_only: bool = False, at: datetime | None = None
) -> SchedulePage | None:
    """A schedule's page from `start_day` (today in the schedule's zone when None), or None when the schedule is not
    in the catalog. The schedule and its overrides load once: six queries for the whole page (schedule, overrides,
    people, policies using it, calendar feeds, its team), three for the timeline alone."""
    now = at or timezone.now()
    entity = _schedule_entity(ref)
    if entity is None:
        return None
    base = loading.schedule_from_entity(entity=entity)
    today = now.astimezone(base.zone).date()
    first_day = start_day or today
    begin, finish = (
        day_start(first_day, base.zone),
        day_start(first_day + timedelta(days=SCHEDULE_PAGE_DAYS), base.zone),
    )
    # One query serves the timeline (overrides that end after its start) and the list (those that have not ended).
    rows = loading.override_rows(schedule_refs=[entity.ref], since=min(begin, now))
    loaded = base.with_overrides(row for row in rows if row.end > begin)
    may_write = may(viewer, Action.ONCALL_OVERRIDE_WRITE, loaded)
    if loaded.schedule is None:
        return SchedulePage(loaded, today, may_write)
    drawn = timeline(loaded.schedule, begin, finish)
    refs = timeline_refs(drawn) | set(loaded.schedule.members())
    if timeline_only:
        people = loading.people_by_refs(refs=refs)
        return SchedulePage(
            loaded, today, may_write, _timeline_view(loaded, drawn, first_day, people, now), people=people
        )
    overrides = tuple(sorted((row for row in rows if row.end > now), key=lambda row: (row.start, row.id)))
    result, totals = _coverage(loaded.schedule, now, SCHEDULE_PAGE_DAYS)
    people = loading.people_by_refs(refs=refs | set(totals) | {row.user_ref for row in overrides})
    return SchedulePage(
        loaded,
        today,
        may_write,
        _timeline_view(loaded, drawn, first_day, people, now),
        coverage_view(result=result, totals=totals, start=now, days=SCHEDULE_PAGE_DAYS, people=people),
        overrides,
        people,
        tuple(loading.policies_paging(ref=entity.ref)),
        tuple(calendar_feed_list(kind=CalendarFeed.Kind.SCHEDULE, ref=entity.ref)),
        schedule_health(loaded.schedule, now, names=_health_names(people, {loaded.ref: loaded})),
        loading.teams_by_refs(refs=[loaded.owner_ref]).get(loaded.owner_ref.lower()) if loaded.owner_ref else None,
    )


def _timeline_view(
    loaded: LoadedSchedule, drawn: Timeline, first_day: date, people: Mapping[str, Person], now: datetime
) -> TimelineView:
    return timeline_view(
        loaded=loaded, drawn=drawn, first_day=first_day, days=SCHEDULE_PAGE_DAYS, people=people, now=now
    )


@dataclass(frozen=True)
class ScheduleTimeline:
    """A schedule and its timeline over a range; `timeline` is None when the schedule cannot be read."""

    schedule: LoadedSchedule
    timeline: Timeline | None


def schedule_timeline(*, ref: str, start: datetime, end: datetime) -> ScheduleTimeline | None:
    """Each layer's contribution, the overrides and the final schedule over [start, end); None for an unknown ref."""
    loaded = loading.schedule_by_ref(ref=ref, overrides_since=start)
    if loaded is None:
        return None
    return ScheduleTimeline(loaded, timeline(loaded.schedule, start, end) if loaded.schedule is not None else None)


@dataclass(frozen=True)
class ScheduleCoverage:
    """A schedule and its coverage from now; `coverage` is None when the schedule cannot be read."""

    schedule: LoadedSchedule
    coverage: CoverageView | None


def schedule_coverage(*, ref: str, days: int, at: datetime | None = None) -> ScheduleCoverage | None:
    """Coverage, gaps and hours per person over the next `days` days (capped); None for an unknown ref."""
    start = at or timezone.now()
    loaded = loading.schedule_by_ref(ref=ref, overrides_since=start)
    if loaded is None:
        return None
    if loaded.schedule is None:
        return ScheduleCoverage(loaded, None)
    days = max(1, min(days, MAX_COVERAGE_DAYS))
    result, totals = _coverage(loaded.schedule, start, days)
    people = loading.people_by_refs(refs=totals)
    return ScheduleCoverage(loaded, coverage_view(result=result, totals=totals, start=start, days=days, people=people))


def override_list(
    *, schedule_ref: str = "", user_ref: str = "", include_past: bool = False
) -> QuerySet[OnCallOverride]:
    """Portal overrides, by schedule and by person, current and future ones unless `include_past`, soonest first."""
    rows = OnCallOverride.objects.select_related("created_by")
    if schedule_ref:
        rows = rows.filter(schedule_ref=schedule_ref.lower())
    if user_ref:
        rows = rows.filter(user_ref=user_ref.lower())
    if not include_past:
        rows = rows.filter(end__gt=timezone.now())
    return rows.order_by("start", "id")


# -- a person's shifts ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShiftView:
    schedule: LoadedSchedule
    start: datetime
    end: datetime
    now: bool


@dataclass(frozen=True)
class PersonOnCall:
    person: Person
    at: datetime
    until: datetime
    shifts: tuple[ShiftView, ...]
    schedules: tuple[LoadedSchedule, ...]
    direct_policies: tuple[Entity, ...]

    @property
    def current(self) -> list[ShiftView]:
        return [s for s in self.shifts if s.now]


def _shifts(schedules: Iterable[LoadedSchedule], user_ref: str, at: datetime, until: datetime) -> list[ShiftView]:
    shifts: list[ShiftView] = []
    for loaded in schedules:
        assert loaded.schedule is not None
        for segment in render(loaded.schedule, at, until):
            if segment.user == user_ref:
                shifts.append(ShiftView(loaded, segment.start, segment.end, segment.start <= at < segment.end))
    shifts.sort(key=lambda s: (s.start, s.schedule.ref))
    return shifts


@dataclass(frozen=True)
class ShiftSummary:
    """The on-call card of a User page: the shift they are on now, the next one over `days` days, and the policies
    that page them directly (managers are often named at a late level, in no schedule)."""

    user_ref: str
    current: ShiftView | None
    next: ShiftView | None
    schedule_count: int
    days: int
    direct_policies: tuple[Entity, ...] = ()


def _window(at: datetime | None, days: int) -> tuple[datetime, datetime, int]:
    """From `at` (now when None) over `days` days, at least one and at most MAX_TIMELINE_DAYS."""
    at = at or timezone.now()
    days = max(1, min(days, MAX_TIMELINE_DAYS))
    return at, at + timedelta(days=days), days


def user_shift_summary(*, user_ref: str, at: datetime | None = None, days: int = 28) -> ShiftSummary:
    """Current and next shift across every schedule the user is in, and the policies naming them (five queries)."""
    at, until, days = _window(at, days)
    user_ref = user_ref.lower()
    schedules = loading.schedules_of_user(user_ref=user_ref, since=at)
    shifts = _shifts(schedules.values(), user_ref, at, until)
    current = next((s for s in shifts if s.now), None)
    upcoming = next((s for s in shifts if not s.now and (current is None or s.start >= current.end)), None)
    direct = tuple(loading.policies_paging(ref=user_ref))
    return ShiftSummary(user_ref, current, upcoming, len(schedules), days, direct)


def user_oncall(*, user_ref: str, at: datetime | None = None, days: int = 28) -> PersonOnCall | None:
    """A person's shifts from `at` over `days` days across every schedule they are in, and the policies that page
    them directly; None when there is no such User in the catalog."""
    at, until, _ = _window(at, days)
    user_ref = user_ref.lower()
    person = loading.people_by_refs(refs=[user_ref])[user_ref]
    if not (person.exists and user_ref.startswith("user:")):
        return None
    schedules = loading.schedules_of_user(user_ref=user_ref, since=at)
    shifts = _shifts(schedules.values(), user_ref, at, until)
    direct = tuple(loading.policies_paging(ref=user_ref))
    ordered = tuple(sorted(schedules.values(), key=lambda s: s.title.lower()))
    return PersonOnCall(person, at, until, tuple(shifts), ordered, direct)


@dataclass(frozen=True)
class PersonPage:
    """A person's page: their shifts, and their calendar feeds when the viewer may create them (themselves and
    administrators)."""

    entity: Entity
    oncall: PersonOnCall
    may_create_feed: bool
    feeds: tuple[CalendarFeed, ...]


def person_page(*, ref: str, viewer: Actor, at: datetime | None = None) -> PersonPage | None:
    """The on-call page of the User with this ref, or None when there is none."""
    entity = Entity.objects.filter(ref=ref.lower()).first()
    oncall = user_oncall(user_ref=entity.ref, at=at) if entity is not None else None
    if entity is None or oncall is None:
        return None
    mine = may(viewer, Action.ONCALL_FEED_CREATE, CalendarFeed(kind=CalendarFeed.Kind.PERSON, ref=entity.ref))
    feeds = calendar_feed_list(kind=CalendarFeed.Kind.PERSON, ref=entity.ref) if mine else []
    return PersonPage(entity, oncall, mine, tuple(feeds))


# -- readiness and calendar feeds -----------------------------------------------------------------------------------

FEED_PAST_DAYS: Final = 7
FEED_DAYS: Final = 90


def entity_readiness(*, entity: Entity, days: int = 14, at: datetime | None = None) -> dict[str, object]:
    """The engine's Readiness facts for the entity's escalation policy (for scorecards)."""
    at = at or timezone.now()
    policy = _policy_of(entity)
    schedules: dict[str, Schedule] = {}
    if policy is not None:
        loaded = loading.schedules_by_refs(refs=policy.schedule_refs(), overrides_since=at)
        schedules = {ref: s.schedule for ref, s in loaded.items() if s.schedule is not None}
    return readiness(policy, schedules, at, days).to_dict()


def calendar_feed_list(*, kind: str, ref: str) -> list[CalendarFeed]:
    """The active feeds of a schedule or a person."""
    return list(CalendarFeed.objects.filter(kind=kind, ref=ref.lower(), revoked_at__isnull=True))


def calendar_feed_start(*, now: datetime | None = None) -> datetime:
    """Midnight UTC a week back: a fixed range start keeps shift UIDs stable between refreshes of a feed."""
    now = now or timezone.now()
    midnight = now.astimezone(ZoneInfo("UTC")).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(days=FEED_PAST_DAYS)


def _schedule_calendar(feed: CalendarFeed, start: datetime, now: datetime | None) -> bytes | None:
    loaded = loading.schedules_by_refs(refs=[feed.ref], overrides_since=start).get(feed.ref)
    if loaded is None or loaded.schedule is None:
        return None
    segments = render(loaded.schedule, start, start + timedelta(days=FEED_DAYS))
    directory = loading.people_by_refs(refs={s.user for s in segments if s.user})
    names = {ref: p.name for ref, p in directory.items()} | {loaded.ref: loaded.title}
    return oncall_ical.schedule_calendar(loaded.ref, segments, names=names, generated_at=now)


def _person_calendar(feed: CalendarFeed, start: datetime, now: datetime | None) -> bytes:
    schedules = loading.schedules_of_user(user_ref=feed.ref, since=start)
    end = start + timedelta(days=FEED_DAYS)
    segments = {ref: render(s.schedule, start, end) for ref, s in schedules.items() if s.schedule is not None}
    person = loading.people_by_refs(refs=[feed.ref])[feed.ref]
    names = {feed.ref: person.name} | {ref: s.title for ref, s in schedules.items()}
    return oncall_ical.person_calendar(feed.ref, segments, names=names, generated_at=now)


def calendar_feed_body(*, kind: str, token: str, now: datetime | None = None) -> bytes | None:
    """The iCalendar body of the active feed of `kind` with this clear-text token; None when the token is unknown,
    revoked or malformed, or the schedule is gone or unreadable."""
    if not token or len(token) > 200:
        return None
    digest = hashlib.sha256(token.encode()).hexdigest()
    feed = CalendarFeed.objects.filter(kind=kind, token_hash=digest, revoked_at__isnull=True).first()
    if feed is None:
        return None
    start = calendar_feed_start(now=now)
    if feed.kind == CalendarFeed.Kind.SCHEDULE:
        return _schedule_calendar(feed, start, now)
    return _person_calendar(feed, start, now)
