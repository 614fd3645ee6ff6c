"""Reads for on-call: catalog Schedules and EscalationPolicies turned into the engine's model, and the answers the
pages and the API show (who is on call now and next, timelines, coverage, a person's shifts, readiness).

Everything loads in bulk: schedules, portal overrides and the people involved each come in one query, however many
services or levels a page shows. A schedule or policy whose stored spec cannot be read becomes a visible "invalid"
state with the engine's messages, never an exception.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from django.core.paginator import Page, Paginator
from django.db.models import Q
from django.utils import timezone

from catalog.models import CalendarFeed, Entity, OnCallOverride, Relation, SearchEntry
from catalog.oncall.engine import (
    EscalationPolicy,
    LevelStatus,
    Override,
    Schedule,
    ScheduleStatus,
    SpecError,
    balance,
    coverage,
    display_name,
    normalize_ref,
    paging_summary,
    policy_from_spec,
    policy_now,
    readiness,
    render,
    schedule_from_spec,
    timeline,
)
from catalog.oncall.engine import ical as oncall_ical

POLICY_ANNOTATION: Final = "paved.dev/escalation-policy"
_POLICY_ANNOTATION_KEY: Final = f"metadata.annotations.{POLICY_ANNOTATION}"
MAX_TIMELINE_DAYS: Final = 93
MAX_COVERAGE_DAYS: Final = 93
FEED_PAST_DAYS: Final = 7
FEED_DAYS: Final = 90
ONCALL_PAGE_SIZE: Final = 20
# Person colours (see colour_for): distinct, readable with white text, colour-blind friendly enough in pairs.
PALETTE: Final = (
    "#206bc4",
    "#2f9e44",
    "#e8590c",
    "#ae3ec9",
    "#0c8599",
    "#d6336c",
    "#5f3dc4",
    "#74b816",
    "#1d6f5f",
    "#c92a2a",
    "#1098ad",
    "#a61e4d",
)


# -- people ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """A user ref with what the catalog knows about it; `exists` False means no User entity has that ref."""

    ref: str
    name: str
    email: str
    exists: bool

    @property
    def namespace(self) -> str:
        return self.ref.split(":", 1)[-1].split("/", 1)[0]

    @property
    def short_name(self) -> str:
        return self.ref.rsplit("/", 1)[-1]

    @property
    def colour(self) -> str:
        return colour_for(self.ref)

    @property
    def initials(self) -> str:
        words = [word for word in self.name.split() if word]
        return "".join(word[0] for word in words[:2]).upper() or self.short_name[:2].upper()


def _profile(data: Any) -> Mapping[str, Any]:
    spec = data.get("spec") if isinstance(data, Mapping) else None
    profile = spec.get("profile") if isinstance(spec, Mapping) else None
    return profile if isinstance(profile, Mapping) else {}


def people(refs: Iterable[str]) -> dict[str, Person]:
    """Every ref in `refs` as a Person, in one query; refs without a User entity get a guessed name."""
    wanted = {ref for ref in refs if ref}
    found: dict[str, Person] = {}
    if wanted:
        for entity in Entity.objects.filter(ref__in=wanted).only("ref", "title", "data"):
            profile = _profile(entity.data)
            name = str(profile.get("displayName") or entity.title or display_name(entity.ref))
            found[entity.ref] = Person(entity.ref, name, str(profile.get("email") or ""), True)
    return {ref: found.get(ref) or Person(ref, display_name(ref), "", False) for ref in wanted}


def colour_for(ref: str) -> str:
    """A person's colour wherever they are drawn (on-call cards, timelines, the home page): a hash of their lower-cased
    ref, so it survives page, week and member-order changes. Two people may share one of the 12 colours; timeline bars
    and avatars carry names or initials, so colour is never the only cue."""
    digest = hashlib.sha256(ref.lower().encode()).digest()
    return PALETTE[digest[0] % len(PALETTE)]


# -- schedules and policies -----------------------------------------------------------------------------------------


class _LoadedEntity:
    """What a loaded Schedule and a loaded EscalationPolicy both show: a title and an owner, entity or not."""

    ref: str
    entity: Entity | None

    @property
    def title(self) -> str:
        if self.entity is not None and self.entity.title:
            return self.entity.title
        return display_name(self.ref)

    @property
    def owner_ref(self) -> str:
        return self.entity.owner_ref if self.entity is not None else ""


@dataclass(frozen=True)
class LoadedSchedule(_LoadedEntity):
    """A catalog Schedule and its engine model. `schedule` is None when the entity is missing or unreadable;
    `problem` then says why, in a sentence."""

    ref: str
    entity: Entity | None
    schedule: Schedule | None
    problem: str = ""

    @property
    def zone(self) -> ZoneInfo:
        return self.schedule.timezone if self.schedule is not None else ZoneInfo("UTC")

    @property
    def namespace(self) -> str:
        return self.ref.split(":", 1)[-1].split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.ref.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class LoadedPolicy(_LoadedEntity):
    """A catalog EscalationPolicy and its engine model; `policy` is None (and `problem` says why) when unusable."""

    ref: str
    entity: Entity | None
    policy: EscalationPolicy | None
    problem: str = ""


def _spec(entity: Entity) -> Any:
    return entity.data.get("spec") if isinstance(entity.data, Mapping) else None


def _db_overrides(refs: Sequence[str], since: datetime | None) -> dict[str, list[Override]]:
    rows = OnCallOverride.objects.filter(schedule_ref__in=refs)
    if since is not None:
        rows = rows.filter(end__gt=since)
    out: dict[str, list[Override]] = {}
    # Oldest first: when portal overrides overlap, the engine lets the later one win, as people expect.
    for row in rows.order_by("created_at", "id"):
        out.setdefault(row.schedule_ref, []).append(Override(row.user_ref, row.start, row.end))
    return out


def load_schedules(refs: Iterable[str], *, overrides_since: datetime | None = None) -> dict[str, LoadedSchedule]:
    """The schedules named by `refs` (two queries), with the portal's overrides after the YAML's.

    `overrides_since` leaves out portal overrides that ended before it; pass the start of the range you render.
    """
    wanted = sorted({ref.lower() for ref in refs if ref})
    if not wanted:
        return {}
    entities = {e.ref: e for e in Entity.objects.filter(ref__in=wanted, kind__iexact="schedule")}
    extra = _db_overrides(list(entities), overrides_since)
    out: dict[str, LoadedSchedule] = {}
    for ref in wanted:
        entity = entities.get(ref)
        if entity is None:
            out[ref] = LoadedSchedule(ref, None, None, f"{ref} is not in the catalog.")
            continue
        try:
            parsed = schedule_from_spec(entity.name, _spec(entity), default_namespace=entity.namespace)
        except SpecError as error:
            out[ref] = LoadedSchedule(ref, entity, None, f"This schedule is invalid: {error}")
            continue
        merged = Schedule(parsed.ref, parsed.timezone, parsed.layers, (*parsed.overrides, *extra.get(ref, [])))
        out[ref] = LoadedSchedule(ref, entity, merged)
    return out


def load_schedule(ref: str, *, overrides_since: datetime | None = None) -> LoadedSchedule | None:
    """One schedule by ref, or None when there is no Schedule entity with that ref."""
    loaded = load_schedules([ref], overrides_since=overrides_since).get(ref.lower())
    return loaded if loaded is not None and loaded.entity is not None else None


def _policy_of(entity: Entity) -> LoadedPolicy:
    try:
        policy = policy_from_spec(entity.name, _spec(entity), default_namespace=entity.namespace)
    except SpecError as error:
        return LoadedPolicy(entity.ref, entity, None, f"This escalation policy is invalid: {error}")
    return LoadedPolicy(entity.ref, entity, policy)


def load_policies(refs: Iterable[str]) -> dict[str, LoadedPolicy]:
    wanted = sorted({ref.lower() for ref in refs if ref})
    if not wanted:
        return {}
    entities = {e.ref: e for e in Entity.objects.filter(ref__in=wanted, kind__iexact="escalationpolicy")}
    return {
        ref: _policy_of(entities[ref])
        if ref in entities
        else LoadedPolicy(ref, None, None, f"{ref} is not in the catalog.")
        for ref in wanted
    }


def _annotation(entity_data: Any) -> str:
    metadata = entity_data.get("metadata") if isinstance(entity_data, Mapping) else None
    annotations = metadata.get("annotations") if isinstance(metadata, Mapping) else None
    value = annotations.get(POLICY_ANNOTATION) if isinstance(annotations, Mapping) else None
    return value.strip() if isinstance(value, str) else ""


def _policy_ref(value: str, namespace: str) -> str | None:
    try:
        ref = normalize_ref(value, default_kind="escalationpolicy", default_namespace=namespace)
    except ValueError:
        return None
    return ref if ref.startswith("escalationpolicy:") else None


@dataclass(frozen=True)
class PolicyLookup:
    """Where an entity's escalation policy comes from: `via` is "entity", "owner" or "" (none found).
    `problem` is set when an annotation is present but is not a valid escalation policy ref."""

    ref: str | None
    via: str
    annotated_on: str
    problem: str = ""


def policy_for_entity(entity: Entity) -> PolicyLookup:
    """The annotation `paved.dev/escalation-policy` on the entity, else on its owner Group (at most one query)."""
    own = _annotation(entity.data)
    if own:
        ref = _policy_ref(own, entity.namespace)
        if ref is None:
            return PolicyLookup(
                None, "entity", entity.ref, f"{POLICY_ANNOTATION} is '{own}', not an escalation policy ref."
            )
        return PolicyLookup(ref, "entity", entity.ref)
    if entity.kind.lower() != "group" and entity.owner_ref.startswith("group:"):
        owner = Entity.objects.filter(ref=entity.owner_ref).only("ref", "namespace", "data").first()
        value = _annotation(owner.data) if owner is not None else ""
        if owner is not None and value:
            ref = _policy_ref(value, owner.namespace)
            if ref is None:
                return PolicyLookup(
                    None,
                    "owner",
                    owner.ref,
                    f"{POLICY_ANNOTATION} on {owner.ref} is '{value}', not an escalation policy ref.",
                )
            return PolicyLookup(ref, "owner", owner.ref)
    return PolicyLookup(None, "", "")


# -- who is on call -------------------------------------------------------------------------------------------------


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

    @property
    def start_local(self) -> datetime:
        return self.start if self.schedule is None else self.start.astimezone(self.schedule.zone)


@dataclass(frozen=True)
class LevelView:
    level: int
    delay_minutes: int
    on_call: tuple[OnCallView, ...]
    next: tuple[NextView, ...]
    gap: bool
    notes: tuple[str, ...]
    schedules: tuple[LoadedSchedule, ...]


@dataclass(frozen=True)
class PolicyNow:
    """One policy's levels at one instant, ready to show."""

    policy: LoadedPolicy
    at: datetime
    levels: tuple[LevelView, ...]
    summary: str
    status: tuple[LevelStatus, ...]
    schedules: Mapping[str, LoadedSchedule]

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


def _policies_now(
    policies: Sequence[LoadedPolicy], at: datetime, *, extra_people: Iterable[str] = ()
) -> tuple[list[PolicyNow], dict[str, Person]]:
    """Every usable policy's levels at `at`: schedules, overrides and people in one query each."""
    schedule_refs = {ref for p in policies if p.policy is not None for ref in p.policy.schedule_refs()}
    schedules = load_schedules(schedule_refs, overrides_since=at - timedelta(days=FEED_PAST_DAYS))
    engine_schedules = {ref: s.schedule for ref, s in schedules.items() if s.schedule is not None}
    cache: dict[str, ScheduleStatus] = {}
    statuses: dict[str, list[LevelStatus]] = {}
    for loaded in policies:
        if loaded.policy is not None:
            statuses[loaded.ref] = policy_now(loaded.policy, engine_schedules, at, cache=cache)
    refs = {ref for levels in statuses.values() for ref in _user_refs(levels)} | set(extra_people)
    directory = people(refs)
    names = {ref: person.name for ref, person in directory.items()}
    out: list[PolicyNow] = []
    for loaded in policies:
        levels_status = statuses.get(loaded.ref, [])
        views = []
        own_schedules: dict[str, LoadedSchedule] = {}
        for status, level in zip(levels_status, loaded.policy.levels if loaded.policy else (), strict=False):
            level_schedules = tuple(schedules[t.ref] for t in level.targets if t.kind == "schedule")
            own_schedules.update({s.ref: s for s in level_schedules})
            views.append(
                LevelView(
                    level=status.level,
                    delay_minutes=status.delay_minutes,
                    on_call=tuple(
                        OnCallView(directory[e.user_ref], e.start, e.until, schedules.get(e.schedule_ref or "") or None)
                        for e in status.on_call
                    ),
                    next=tuple(
                        NextView(directory[n.user_ref], n.start, schedules.get(n.schedule_ref)) for n in status.next
                    ),
                    gap=status.gap,
                    notes=status.notes,
                    schedules=level_schedules,
                )
            )
        summary = paging_summary(levels_status, names=names) if loaded.policy is not None else loaded.problem
        out.append(PolicyNow(loaded, at, tuple(views), summary, tuple(levels_status), own_schedules))
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


def oncall_for_entity(entity: Entity, at: datetime | None = None) -> EntityOnCall:
    """Levels now and next, and the plain-language paging summary, for a Component or Group (at most 5 queries)."""
    at = at or timezone.now()
    lookup = policy_for_entity(entity)
    if lookup.ref is None:
        return EntityOnCall(entity, lookup, None)
    loaded = load_policies([lookup.ref])[lookup.ref]
    (now,), directory = _policies_now([loaded], at)
    return EntityOnCall(entity, lookup, now, directory)


def oncall_for_entities(entities: Sequence[Entity], at: datetime | None = None) -> dict[str, EntityOnCall]:
    """`oncall_for_entity` for many entities at once, keyed by entity ref: policies, schedules, overrides and people
    load once each for all of them (four queries for Groups, whose policy annotation is on the entity itself; a
    Component whose policy comes from its owner costs one more query)."""
    at = at or timezone.now()
    lookups = {entity.ref: policy_for_entity(entity) for entity in entities}
    policies = load_policies(lookup.ref for lookup in lookups.values() if lookup.ref)
    computed, directory = _policies_now(list(policies.values()), at)
    by_policy = {now.policy.ref: now for now in computed}
    return {
        entity.ref: EntityOnCall(
            entity,
            lookups[entity.ref],
            by_policy.get(lookups[entity.ref].ref or ""),
            directory,
        )
        for entity in entities
    }


def schedule_member_refs(loaded: Iterable[LoadedSchedule]) -> set[str]:
    return {member for s in loaded if s.schedule is not None for member in s.schedule.members()}


def group_member_refs(group_refs: Iterable[str]) -> set[str]:
    """Users who are direct members of any of the groups (whichever side declared it), in one query."""
    wanted = [ref for ref in group_refs if ref]
    if not wanted:
        return set()
    rows = Relation.objects.filter(
        Q(source_ref__in=wanted, type="hasMember") | Q(target_ref__in=wanted, type="memberOf")
    ).values_list("source_ref", "target_ref", "type")
    return {target if kind == "hasMember" else source for source, target, kind in rows}


# -- company-wide on-call page --------------------------------------------------------------------------------------


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
    teams: tuple[str, ...]
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


def _policy_users(policy_entities: Sequence[Entity]) -> dict[str, set[str]]:
    """policy ref -> the teams that point at it with the annotation, or own it (one query)."""
    out: dict[str, set[str]] = {
        e.ref: {e.owner_ref} if e.owner_ref.startswith("group:") else set() for e in policy_entities
    }
    annotated = SearchEntry.objects.filter(key=_POLICY_ANNOTATION_KEY, entity__kind__iexact="group").values_list(
        "entity__ref", "entity__namespace", "value"
    )
    for group_ref, namespace, value in annotated:
        ref = _policy_ref(value or "", namespace)
        if ref in out:
            out[ref].add(group_ref)
    return out


def _matches(q: str, now: PolicyNow, teams: Iterable[str], directory: Mapping[str, Person]) -> bool:
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


def oncall_now_list(
    filters: OnCallFilters, at: datetime | None = None, *, per_page: int = ONCALL_PAGE_SIZE
) -> OnCallList:
    """Every escalation policy's levels now, one row per level, filtered and paginated by policy.

    Queries are bounded: all policy rows (refs, owners and specs only), the annotations that point at them, and then
    schedules, overrides and people once each. Searching by person computes every filtered policy (the engine
    answers a status in well under a millisecond); without a search only the shown page is computed.
    """
    at = at or timezone.now()
    policy_entities = list(
        Entity.objects.filter(kind__iexact="escalationpolicy").only(
            "ref", "name", "namespace", "title", "owner_ref", "data"
        )
    )
    users_of = _policy_users(policy_entities)
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
            lookup = policy_for_entity(service)
            candidates = [e for e in candidates if e.ref == lookup.ref]
            if lookup.ref is None:
                service_problem = f"{service.ref} has no escalation policy."
    candidates.sort(key=lambda e: (e.title or e.name).lower())
    loaded = [_policy_of(e) for e in candidates]
    q = filters.q.strip().lower()
    if q:
        computed, directory = _policies_now(loaded, at)
        computed = [now for now in computed if _matches(q, now, users_of.get(now.policy.ref, ()), directory)]
        paginator: Paginator[Any] = Paginator(computed, per_page)
        page = paginator.get_page(filters.page)
        page_now: list[PolicyNow] = list(page.object_list)
    else:
        paginator = Paginator(loaded, per_page)
        page = paginator.get_page(filters.page)
        page_now, _ = _policies_now(list(page.object_list), at)
    rows: list[OnCallRow] = []
    for now in page_now:
        levels = [lv for lv in now.levels if filters.level is None or lv.level == filters.level]
        teams = tuple(sorted(users_of.get(now.policy.ref, ())))
        for index, level in enumerate(levels):
            rows.append(OnCallRow(now, teams, level, index == 0, len(levels)))
    titles = {e.ref: (e.title or e.name) for e in Entity.objects.filter(ref__in=team_refs).only("ref", "title", "name")}
    return OnCallList(
        rows=rows,
        page=page,
        teams=[(ref, titles.get(ref, display_name(ref))) for ref in team_refs],
        total_policies=paginator.count,
        service_problem=service_problem,
    )


def _find_service(value: str) -> Entity | None:
    text = value.strip().lower()
    if ":" in text or "/" in text:
        try:
            ref = normalize_ref(text, default_kind="component")
        except ValueError:
            return None
        return Entity.objects.filter(ref=ref).first()
    return Entity.objects.filter(kind__iexact="component", name__iexact=text).order_by("namespace").first()


# -- schedule page --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One span on a timeline row, positioned in percent of the row."""

    start: datetime
    end: datetime
    person: Person | None
    left: float
    width: float
    colour: str
    source: str = ""


@dataclass(frozen=True)
class TimelineRow:
    label: str
    kind: str  # "layer", "overrides" or "final"
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class DayMark:
    left: float
    weekday: str
    label: str
    weekend: bool


@dataclass(frozen=True)
class TimelineView:
    schedule: LoadedSchedule
    start: datetime
    end: datetime
    days: int
    rows: tuple[TimelineRow, ...]
    marks: tuple[DayMark, ...]
    legend: tuple[tuple[Person, str, float], ...]
    gaps: tuple[tuple[datetime, datetime], ...]
    now_left: float | None
    people: Mapping[str, Person]
    colours: Mapping[str, str] = field(default_factory=dict)


def local_midnight(day: datetime, zone: ZoneInfo) -> datetime:
    """Midnight at the start of `day`'s date in `zone` (the next valid instant when midnight does not exist)."""
    from catalog.oncall.engine import resolve

    return resolve(datetime.combine(day.astimezone(zone).date(), time(0, 0)), zone)


def schedule_timeline(loaded: LoadedSchedule, start: datetime, days: int = 14) -> TimelineView:
    """The timeline drawn on the schedule page: a row per layer, one for overrides, the final schedule; from local
    midnight of `start` in the schedule's zone for `days` days. Needs `loaded.schedule` (a readable schedule)."""
    from catalog.oncall.engine import resolve

    assert loaded.schedule is not None
    zone = loaded.zone
    days = max(1, min(days, MAX_TIMELINE_DAYS))
    begin = local_midnight(start, zone)
    first_day = begin.astimezone(zone).date()
    finish = resolve(datetime.combine(first_day + timedelta(days=days), time(0, 0)), zone)
    drawn = timeline(loaded.schedule, begin, finish)
    span = (finish - begin).total_seconds()

    def pos(at: datetime) -> float:
        return round(100.0 * (at - begin).total_seconds() / span, 4)

    refs = {s.user for s in drawn.final if s.user} | {s.user for s in drawn.overrides if s.user}
    refs |= {s.user for layer in drawn.layers for s in layer.segments if s.user}
    directory = people(refs | set(loaded.schedule.members()))
    # The same colour as on every other page (on-call cards, the home page): one person, one colour.
    colours = {ref: colour_for(ref) for ref in refs | set(loaded.schedule.members())}

    def bars(segments: Iterable[Any], *, gaps: bool) -> tuple[Bar, ...]:
        out = []
        for segment in segments:
            if segment.user is None and not gaps:
                continue
            person = directory.get(segment.user) if segment.user else None
            out.append(
                Bar(
                    segment.start,
                    segment.end,
                    person,
                    pos(segment.start),
                    max(pos(segment.end) - pos(segment.start), 0.0),
                    colours.get(segment.user, "") if segment.user else "",
                    ", ".join(segment.sources),
                )
            )
        return tuple(out)

    rows = [TimelineRow(layer.name, "layer", bars(layer.segments, gaps=False)) for layer in drawn.layers]
    rows.append(TimelineRow("Overrides", "overrides", bars(drawn.overrides, gaps=False)))
    rows.append(TimelineRow("Final schedule", "final", bars(drawn.final, gaps=True)))
    marks = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        at = resolve(datetime.combine(day, time(0, 0)), zone)
        marks.append(DayMark(pos(at), day.strftime("%a"), f"{day.day} {day:%b}", day.weekday() >= 5))
    hours: dict[str, float] = {}
    for segment in drawn.final:
        if segment.user:
            hours[segment.user] = hours.get(segment.user, 0.0) + segment.duration.total_seconds() / 3600
    legend_refs = sorted(refs, key=lambda ref: directory[ref].name.lower())
    now = timezone.now()
    return TimelineView(
        schedule=loaded,
        start=begin,
        end=finish,
        days=days,
        rows=tuple(rows),
        marks=tuple(marks),
        legend=tuple((directory[ref], colours[ref], round(hours.get(ref, 0.0), 1)) for ref in legend_refs),
        gaps=tuple((s.start, s.end) for s in drawn.final if s.user is None),
        now_left=pos(now) if begin <= now < finish else None,
        people=directory,
        colours=colours,
    )


def human_duration(value: timedelta) -> str:
    """`2 d 15 h`, `3 h 20 min`, `45 min`: gap lengths as people say them."""
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{mins} min" if mins and not days else ""]
    return " ".join(part for part in parts if part) or "0 min"


@dataclass(frozen=True)
class CoverageView:
    start: datetime
    end: datetime
    days: int
    percent: float
    gaps: tuple[tuple[datetime, datetime], ...]
    longest_gap: timedelta
    balance: tuple[tuple[Person, float, float], ...]  # person, hours, share of covered time (0..100)

    @property
    def longest_gap_text(self) -> str:
        return human_duration(self.longest_gap)


def schedule_coverage(loaded: LoadedSchedule, days: int = 14, at: datetime | None = None) -> CoverageView:
    """Coverage, gaps and hours per person over the next `days` days (capped)."""
    assert loaded.schedule is not None
    days = max(1, min(days, MAX_COVERAGE_DAYS))
    start = at or timezone.now()
    end = start + timedelta(days=days)
    result = coverage(loaded.schedule, start, end)
    totals = balance(loaded.schedule, start, end)
    directory = people(totals)
    covered = sum((spent.total_seconds() for spent in totals.values()), 0.0) or 1.0
    rows = sorted(
        (
            (directory[ref], spent.total_seconds() / 3600, 100 * spent.total_seconds() / covered)
            for ref, spent in totals.items()
        ),
        key=lambda row: -row[1],
    )
    return CoverageView(
        start,
        end,
        days,
        round(result.percent, 2),
        result.gaps,
        result.longest_gap,
        tuple((p, round(h, 1), round(s, 1)) for p, h, s in rows),
    )


def schedule_overrides(schedule_ref: str, *, since: datetime | None = None) -> list[OnCallOverride]:
    """Portal overrides of a schedule that have not ended (or ended after `since`), oldest first."""
    since = since or timezone.now()
    return list(OnCallOverride.objects.filter(schedule_ref=schedule_ref.lower(), end__gt=since).order_by("start", "id"))


def override_get(override_id: int) -> OnCallOverride | None:
    return OnCallOverride.objects.filter(pk=override_id).first()


def override_list(*, schedule_ref: str = "", user_ref: str = "", include_past: bool = False) -> Any:
    rows = OnCallOverride.objects.all()
    if schedule_ref:
        rows = rows.filter(schedule_ref=schedule_ref.lower())
    if user_ref:
        rows = rows.filter(user_ref=user_ref.lower())
    if not include_past:
        rows = rows.filter(end__gt=timezone.now())
    return rows.order_by("start", "id")


def schedules_using(schedule_ref: str) -> list[Entity]:
    """Escalation policies that page this schedule (one query on the search table)."""
    forms = _ref_forms(schedule_ref)
    ids = SearchEntry.objects.filter(key="spec.levels.targets", value__in=forms).values("entity_id")
    return list(Entity.objects.filter(pk__in=ids, kind__iexact="escalationpolicy").order_by("name"))


def calendar_feeds(*, kind: str, ref: str) -> list[CalendarFeed]:
    return list(CalendarFeed.objects.filter(kind=kind, ref=ref.lower(), revoked_at__isnull=True))


# -- a person's shifts ----------------------------------------------------------------------------------------------


def _ref_forms(ref: str) -> list[str]:
    """How a descriptor may write `ref` (`alice`, `user:alice`, `default/alice`, `user:default/alice`), lower-cased;
    callers confirm with the engine's normalised refs since the short forms are ambiguous across namespaces."""
    kind, _, rest = ref.lower().partition(":")
    namespace, _, name = rest.partition("/")
    forms = {ref.lower(), f"{namespace}/{name}", f"{kind}:{name}", name}
    return sorted(forms)


@dataclass(frozen=True)
class ShiftView:
    schedule: LoadedSchedule
    start: datetime
    end: datetime
    now: bool

    @property
    def start_local(self) -> datetime:
        return self.start.astimezone(self.schedule.zone)

    @property
    def end_local(self) -> datetime:
        return self.end.astimezone(self.schedule.zone)


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


def schedules_for_user(user_ref: str, *, since: datetime) -> dict[str, LoadedSchedule]:
    """Schedules where the user is in a layer or has an override (YAML or portal): three queries."""
    forms = _ref_forms(user_ref)
    ids = SearchEntry.objects.filter(key__in=("spec.layers.members", "spec.overrides.user"), value__in=forms).values(
        "entity_id"
    )
    refs = set(Entity.objects.filter(pk__in=ids, kind__iexact="schedule").values_list("ref", flat=True))
    refs |= set(
        OnCallOverride.objects.filter(user_ref=user_ref.lower(), end__gt=since).values_list("schedule_ref", flat=True)
    )
    loaded = load_schedules(refs, overrides_since=since)
    return {
        ref: s
        for ref, s in loaded.items()
        if s.schedule is not None
        and (user_ref in s.schedule.members() or any(o.user == user_ref for o in s.schedule.overrides))
    }


def _shifts(schedules: Iterable[LoadedSchedule], user_ref: str, at: datetime, until: datetime) -> list[ShiftView]:
    shifts: list[ShiftView] = []
    for loaded in schedules:
        assert loaded.schedule is not None
        for segment in render(loaded.schedule, at, until):
            if segment.user == user_ref:
                shifts.append(ShiftView(loaded, segment.start, segment.end, segment.start <= at < segment.end))
    shifts.sort(key=lambda s: (s.start, s.schedule.ref))
    return shifts


def _direct_policies(user_ref: str) -> tuple[Entity, ...]:
    """Escalation policies that name the user as a target of a level (one query)."""
    ids = SearchEntry.objects.filter(key="spec.levels.targets", value__in=_ref_forms(user_ref)).values("entity_id")
    return tuple(Entity.objects.filter(pk__in=ids, kind__iexact="escalationpolicy").order_by("name"))


@dataclass(frozen=True)
class ShiftSummary:
    """The on-call card of a User page: the shift they are on now, the next one over `days` days, and the policies
    that page them directly (managers are often paged by name at a late level, in no schedule)."""

    user_ref: str
    current: ShiftView | None
    next: ShiftView | None
    schedule_count: int
    days: int
    direct_policies: tuple[Entity, ...] = ()


def user_shift_summary(user_ref: str, at: datetime | None = None, days: int = 28) -> ShiftSummary:
    """Current and next shift across every schedule the user is in, and the policies naming them (five queries)."""
    at = at or timezone.now()
    days = max(1, min(days, MAX_TIMELINE_DAYS))
    user_ref = user_ref.lower()
    schedules = schedules_for_user(user_ref, since=at)
    shifts = _shifts(schedules.values(), user_ref, at, at + timedelta(days=days))
    current = next((s for s in shifts if s.now), None)
    upcoming = next((s for s in shifts if not s.now and (current is None or s.start >= current.end)), None)
    return ShiftSummary(user_ref, current, upcoming, len(schedules), days, _direct_policies(user_ref))


def user_oncall(user_ref: str, at: datetime | None = None, days: int = 28) -> PersonOnCall:
    """A person's shifts from `at` over `days` days across every schedule they are in, and the policies that page
    them directly."""
    at = at or timezone.now()
    days = max(1, min(days, MAX_TIMELINE_DAYS))
    until = at + timedelta(days=days)
    user_ref = user_ref.lower()
    schedules = schedules_for_user(user_ref, since=at)
    shifts = _shifts(schedules.values(), user_ref, at, until)
    direct = _direct_policies(user_ref)
    person = people([user_ref])[user_ref]
    ordered = tuple(sorted(schedules.values(), key=lambda s: s.title.lower()))
    return PersonOnCall(person, at, until, tuple(shifts), ordered, direct)


# -- readiness and calendar feeds -----------------------------------------------------------------------------------


def oncall_readiness(entity: Entity, days: int = 14, at: datetime | None = None) -> dict[str, object]:
    """The engine's Readiness facts for the entity's escalation policy (for scorecards)."""
    at = at or timezone.now()
    lookup = policy_for_entity(entity)
    policy = load_policies([lookup.ref])[lookup.ref].policy if lookup.ref else None
    schedules: dict[str, Schedule] = {}
    if policy is not None:
        loaded = load_schedules(policy.schedule_refs(), overrides_since=at)
        schedules = {ref: s.schedule for ref, s in loaded.items() if s.schedule is not None}
    return readiness(policy, schedules, at, days).to_dict()


def feed_anchor(now: datetime | None = None) -> datetime:
    """Midnight UTC a week back: a fixed range start keeps shift UIDs stable between refreshes of a feed."""
    now = now or timezone.now()
    midnight = now.astimezone(ZoneInfo("UTC")).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(days=FEED_PAST_DAYS)


def calendar_feed_for_token(*, kind: str, token: str) -> CalendarFeed | None:
    """The active feed with this clear-text token, or None (unknown, revoked or malformed)."""
    if not token or len(token) > 200:
        return None
    digest = hashlib.sha256(token.encode()).hexdigest()
    return CalendarFeed.objects.filter(kind=kind, token_hash=digest, revoked_at__isnull=True).first()


def schedule_calendar(feed: CalendarFeed, now: datetime | None = None) -> bytes | None:
    """The iCalendar body of a schedule feed, or None when the schedule is gone or unreadable."""
    start = feed_anchor(now)
    end = start + timedelta(days=FEED_DAYS)
    loaded = load_schedules([feed.ref], overrides_since=start).get(feed.ref)
    if loaded is None or loaded.schedule is None:
        return None
    segments = render(loaded.schedule, start, end)
    directory = people({s.user for s in segments if s.user})
    names = {ref: p.name for ref, p in directory.items()} | {loaded.ref: loaded.title}
    return oncall_ical.schedule_calendar(loaded.ref, segments, names=names, generated_at=now)


def person_calendar(feed: CalendarFeed, now: datetime | None = None) -> bytes:
    start = feed_anchor(now)
    end = start + timedelta(days=FEED_DAYS)
    schedules = schedules_for_user(feed.ref, since=start)
    segments = {ref: render(s.schedule, start, end) for ref, s in schedules.items() if s.schedule is not None}
    person = people([feed.ref])[feed.ref]
    names = {feed.ref: person.name} | {ref: s.title for ref, s in schedules.items()}
    return oncall_ical.person_calendar(feed.ref, segments, names=names, generated_at=now)
