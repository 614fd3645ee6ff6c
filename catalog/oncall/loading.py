"""Catalog entities turned into the engine's objects: Schedules (with the portal's overrides after the YAML's),
EscalationPolicies, where an entity's policy comes from, and the people behind user refs.

Everything loads in bulk: schedules, portal overrides and people each come in one query, however many services or
levels a page shows. A schedule or policy whose stored spec cannot be read becomes a visible "invalid" state with the
engine's messages, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo

from django.db.models import Q

from catalog.models import Entity, Relation, SearchEntry
from catalog.oncall.contacts import Contacts, contacts_from
from catalog.oncall.engine import (
    EscalationPolicy,
    Override,
    Schedule,
    SpecError,
    display_name,
    normalize_ref,
    policy_from_spec,
    schedule_from_spec,
)
from catalog.oncall.models import OnCallOverride
from catalog.oncall.presentation import colour_for

POLICY_ANNOTATION: Final = "paved.dev/escalation-policy"
_POLICY_ANNOTATION_KEY: Final = f"metadata.annotations.{POLICY_ANNOTATION}"

_Model = TypeVar("_Model", Schedule, EscalationPolicy)


# -- people ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """A user ref with what the catalog knows about it; `exists` False means no User entity has that ref."""

    ref: str
    name: str
    email: str
    exists: bool
    contacts: Contacts = field(default_factory=Contacts)

    @property
    def colour(self) -> str:
        return colour_for(self.ref)

    @property
    def initials(self) -> str:
        words = [word for word in self.name.split() if word]
        return "".join(word[0] for word in words[:2]).upper() or self.ref.rsplit("/", 1)[-1][:2].upper()


def _profile(data: Any) -> Mapping[str, Any]:
    spec = data.get("spec") if isinstance(data, Mapping) else None
    profile = spec.get("profile") if isinstance(spec, Mapping) else None
    return profile if isinstance(profile, Mapping) else {}


def people_by_refs(*, refs: Iterable[str]) -> dict[str, Person]:
    """Every ref in `refs` as a Person, in one query; refs without a User entity get a guessed name."""
    wanted = {ref for ref in refs if ref}
    found: dict[str, Person] = {}
    if wanted:
        for entity in Entity.objects.filter(ref__in=wanted).only("ref", "title", "data"):
            profile = _profile(entity.data)
            name = str(profile.get("displayName") or entity.title or display_name(entity.ref))
            email = str(profile.get("email") or "")
            found[entity.ref] = Person(entity.ref, name, email, True, contacts_from(entity.data))
    return {ref: found.get(ref) or Person(ref, display_name(ref), "", False) for ref in wanted}


def user_ref_from_text(*, text: str, people: Iterable[Person] = ()) -> str | None:
    """A person as typed into a form: first the name of one of `people` (the names the form suggests, e.g. a
    profile's display name `Bob Stone`), then a ref or user name (`bob`, `user:default/bob`), else a User's title
    or display name (one query). None when it is none of these."""
    text = text.strip()
    named = [person.ref for person in people if person.name.strip().lower() == text.lower()]
    if len(set(named)) == 1:
        return named[0]
    try:
        return normalize_ref(text, default_kind="user")
    except ValueError:
        pass
    if not text or len(text) > 300:
        return None
    match = (
        Entity.objects.filter(kind__iexact="user")
        .filter(Q(title__iexact=text) | Q(data__spec__profile__displayName__iexact=text))
        .order_by("namespace", "name")
        .only("ref")
        .first()
    )
    return match.ref if match is not None else None


# -- teams ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Team:
    """A Group as on-call pages show it: its title and its contacts (its chat channel)."""

    ref: str
    title: str
    exists: bool
    contacts: Contacts = field(default_factory=Contacts)


def teams_by_refs(*, refs: Iterable[str]) -> dict[str, Team]:
    """Every group ref in `refs` as a Team with its title (one query); refs not in the catalog get a guessed title."""
    wanted = {ref.lower() for ref in refs if ref}
    found: dict[str, Team] = {}
    if wanted:
        for entity in Entity.objects.filter(ref__in=wanted).only("ref", "name", "title", "data"):
            profile = _profile(entity.data)
            title = str(entity.title or profile.get("displayName") or entity.name)
            found[entity.ref] = Team(entity.ref, title, True, contacts_from(entity.data))
    return {ref: found.get(ref) or Team(ref, display_name(ref), False) for ref in wanted}


def group_member_refs(*, group_refs: Iterable[str]) -> set[str]:
    """Users who are direct members of any of the groups (whichever side declared it), in one query."""
    wanted = [ref for ref in group_refs if ref]
    if not wanted:
        return set()
    rows = Relation.objects.filter(
        Q(source_ref__in=wanted, type="hasMember") | Q(target_ref__in=wanted, type="memberOf")
    ).values_list("source_ref", "target_ref", "type")
    return {target if kind == "hasMember" else source for source, target, kind in rows}


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

    def with_overrides(self, rows: Iterable[OnCallOverride]) -> LoadedSchedule:
        """The schedule with portal overrides after the YAML's (pass them oldest first: the later one wins)."""
        if self.schedule is None:
            return self
        extra = tuple(Override(row.user_ref, row.start, row.end) for row in rows)
        return replace(self, schedule=replace(self.schedule, overrides=(*self.schedule.overrides, *extra)))


@dataclass(frozen=True)
class LoadedPolicy(_LoadedEntity):
    """A catalog EscalationPolicy and its engine model; `policy` is None (and `problem` says why) when unusable."""

    ref: str
    entity: Entity | None
    policy: EscalationPolicy | None
    problem: str = ""


def _read(entity: Entity, read: Callable[..., _Model], what: str) -> tuple[_Model | None, str]:
    """The entity's spec read by the engine, or None and a sentence saying why it cannot be."""
    spec = entity.data.get("spec") if isinstance(entity.data, Mapping) else None
    try:
        return read(entity.name, spec, default_namespace=entity.namespace), ""
    except SpecError as error:
        return None, f"This {what} is invalid: {error}"


def schedule_from_entity(*, entity: Entity) -> LoadedSchedule:
    """A Schedule entity read into the engine's model, with the overrides of its YAML only."""
    return LoadedSchedule(entity.ref, entity, *_read(entity, schedule_from_spec, "schedule"))


def override_rows(*, schedule_refs: Sequence[str], since: datetime | None) -> list[OnCallOverride]:
    """Portal overrides of the schedules that end after `since` (all of them for None), oldest first: when they
    overlap, the engine lets the later one win, as people expect."""
    rows = OnCallOverride.objects.filter(schedule_ref__in=schedule_refs)
    if since is not None:
        rows = rows.filter(end__gt=since)
    return list(rows.order_by("created_at", "id"))


def schedules_by_refs(*, refs: Iterable[str], overrides_since: datetime | None = None) -> dict[str, LoadedSchedule]:
    """The schedules named by `refs` (two queries), with the portal's overrides after the YAML's.

    `overrides_since` leaves out portal overrides that ended before it; pass the start of the range you render.
    """
    wanted = sorted({ref.lower() for ref in refs if ref})
    if not wanted:
        return {}
    entities = {e.ref: e for e in Entity.objects.filter(ref__in=wanted, kind__iexact="schedule")}
    extra: dict[str, list[OnCallOverride]] = {}
    for row in override_rows(schedule_refs=list(entities), since=overrides_since):
        extra.setdefault(row.schedule_ref, []).append(row)
    return {
        ref: schedule_from_entity(entity=entities[ref]).with_overrides(extra.get(ref, []))
        if ref in entities
        else LoadedSchedule(ref, None, None, f"{ref} is not in the catalog.")
        for ref in wanted
    }


def schedule_by_ref(*, ref: str, overrides_since: datetime | None = None) -> LoadedSchedule | None:
    """One schedule by ref, or None when there is no Schedule entity with that ref."""
    loaded = schedules_by_refs(refs=[ref], overrides_since=overrides_since).get(ref.lower())
    return loaded if loaded is not None and loaded.entity is not None else None


def schedule_member_refs(*, schedules: Iterable[LoadedSchedule]) -> set[str]:
    return {member for s in schedules if s.schedule is not None for member in s.schedule.members()}


def policy_from_entity(*, entity: Entity) -> LoadedPolicy:
    """An EscalationPolicy entity read into the engine's model."""
    return LoadedPolicy(entity.ref, entity, *_read(entity, policy_from_spec, "escalation policy"))


def policies_by_refs(*, refs: Iterable[str]) -> dict[str, LoadedPolicy]:
    """The escalation policies named by `refs`, in one query; refs not in the catalog say so."""
    wanted = sorted({ref.lower() for ref in refs if ref})
    if not wanted:
        return {}
    entities = {e.ref: e for e in Entity.objects.filter(ref__in=wanted, kind__iexact="escalationpolicy")}
    return {
        ref: policy_from_entity(entity=entities[ref])
        if ref in entities
        else LoadedPolicy(ref, None, None, f"{ref} is not in the catalog.")
        for ref in wanted
    }


def of_kind(kind: str, *, prefix: str = "") -> Q:
    """Entities of `kind` by the start of their ref (refs are stored lower-cased as `kind:namespace/name`): the
    ref's index answers it, where `kind__iexact` compares UPPER(kind) row by row."""
    return Q(**{f"{prefix}ref__startswith": f"{kind.lower()}:"})


def policy_entities() -> list[Entity]:
    """Every EscalationPolicy entity, with only what the company-wide page needs (one query)."""
    return list(
        Entity.objects.filter(of_kind("escalationpolicy")).only(
            "ref", "name", "namespace", "title", "owner_ref", "data"
        )
    )


# -- which policy pages for an entity -------------------------------------------------------------------------------


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


def _annotated_policy(entity: Entity, value: str, via: str) -> PolicyLookup:
    ref = _policy_ref(value, entity.namespace)
    if ref is not None:
        return PolicyLookup(ref, via, entity.ref)
    where = "" if via == "entity" else f" on {entity.ref}"
    return PolicyLookup(
        None, via, entity.ref, f"{POLICY_ANNOTATION}{where} is '{value}', not an escalation policy ref."
    )


def policy_lookup(*, entity: Entity) -> PolicyLookup:
    """The annotation `paved.dev/escalation-policy` on the entity, else on its owner Group (at most one query)."""
    own = _annotation(entity.data)
    if own:
        return _annotated_policy(entity, own, "entity")
    if entity.kind.lower() != "group" and entity.owner_ref.startswith("group:"):
        owner = Entity.objects.filter(ref=entity.owner_ref).only("ref", "namespace", "data").first()
        value = _annotation(owner.data) if owner is not None else ""
        if owner is not None and value:
            return _annotated_policy(owner, value, "owner")
    return PolicyLookup(None, "", "")


def policy_teams(*, policies: Sequence[Entity]) -> dict[str, set[str]]:
    """policy ref -> the teams that point at it with the annotation, or own it (one query)."""
    out: dict[str, set[str]] = {e.ref: {e.owner_ref} if e.owner_ref.startswith("group:") else set() for e in policies}
    annotated = SearchEntry.objects.filter(of_kind("group", prefix="entity__"), key=_POLICY_ANNOTATION_KEY).values_list(
        "entity__ref", "entity__namespace", "value"
    )
    for group_ref, namespace, value in annotated:
        ref = _policy_ref(value or "", namespace)
        if ref in out:
            out[ref].add(group_ref)
    return out


# -- where a schedule or a person is named --------------------------------------------------------------------------


def _ref_forms(ref: str) -> list[str]:
    """How a descriptor may write `ref` (`alice`, `user:alice`, `default/alice`, `user:default/alice`), lower-cased;
    callers confirm with the engine's normalised refs since the short forms are ambiguous across namespaces."""
    kind, _, rest = ref.lower().partition(":")
    namespace, _, name = rest.partition("/")
    forms = {ref.lower(), f"{namespace}/{name}", f"{kind}:{name}", name}
    return sorted(forms)


def policies_paging(*, ref: str) -> list[Entity]:
    """Escalation policies with a level that targets `ref`, a schedule or a person (one query on the search table)."""
    ids = SearchEntry.objects.filter(key="spec.levels.targets", value__in=_ref_forms(ref)).values("entity_id")
    return list(Entity.objects.filter(pk__in=ids, kind__iexact="escalationpolicy").order_by("name"))


def schedules_of_user(*, user_ref: str, since: datetime) -> dict[str, LoadedSchedule]:
    """Schedules where the user is in a layer or has an override (YAML or portal): three queries."""
    ids = SearchEntry.objects.filter(
        key__in=("spec.layers.members", "spec.overrides.user"), value__in=_ref_forms(user_ref)
    ).values("entity_id")
    refs = set(Entity.objects.filter(pk__in=ids, kind__iexact="schedule").values_list("ref", flat=True))
    refs |= set(
        OnCallOverride.objects.filter(user_ref=user_ref.lower(), end__gt=since).values_list("schedule_ref", flat=True)
    )
    loaded = schedules_by_refs(refs=refs, overrides_since=since)
    return {
        ref: s
        for ref, s in loaded.items()
        if s.schedule is not None
        and (user_ref in s.schedule.members() or any(o.user == user_ref for o in s.schedule.overrides))
    }
