"""Portal-wide reads: the home page, readiness of the database and the broker, a user's tokens, the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from catalog import selectors as catalog_selectors
from catalog.models import Entity
from catalog.oncall import selectors as oncall_selectors
from catalog.oncall.selectors import EntityOnCall, LevelView
from catalog.selectors import CatalogOverview, KindCount
from portal import permissions
from portal.celery import app as celery_app
from portal.models import ApiToken, AuditEvent

HOME_MAX_TEAMS: Final = 12


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def readiness_checks() -> list[Check]:
    """Can this process reach the database and the broker? Each failure says why."""
    return [_check_database(), _check_broker()]


def _check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"; the reason is reported, not raised
        return Check("database", False, f"{type(exc).__name__}: {exc}".strip()[:300])
    return Check("database", True, connection.vendor)


def _check_broker() -> Check:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
    except Exception as exc:  # kombu raises many types; any means "not ready"
        return Check("broker", False, f"{type(exc).__name__}: {exc}".strip()[:300])
    return Check("broker", True, str(transport))


def apitoken_list(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("revoked_at", "-created_at")


def audit_list(*, target_type: str | None = None, target_id: str | None = None) -> QuerySet[AuditEvent]:
    qs = AuditEvent.objects.select_related("actor")
    if target_type:
        qs = qs.filter(target_type=target_type)
    if target_id:
        qs = qs.filter(target_id=target_id)
    return qs


# -- the home page --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamCard:
    """One of the user's Groups as the home page shows it: what it owns per kind, and its on-call state now."""

    group: Entity
    owned: list[KindCount]
    oncall: EntityOnCall

    @property
    def title(self) -> str:
        spec = self.group.data.get("spec") if isinstance(self.group.data, dict) else None
        profile = spec.get("profile") if isinstance(spec, dict) else None
        display = profile.get("displayName") if isinstance(profile, dict) else None
        return str(display or self.group.title or self.group.name)

    @property
    def owned_total(self) -> int:
        return sum(item.count for item in self.owned)

    @property
    def first_level(self) -> LevelView | None:
        now = self.oncall.now
        return now.levels[0] if now is not None and now.levels else None


@dataclass(frozen=True)
class HomePage:
    """`user_entity` None means the Django user is not linked to a catalog User (the page then explains how)."""

    user_entity: Entity | None
    teams: list[TeamCard]
    more_teams: int
    overview: CatalogOverview
    show_admin: bool  # the catalog's health (failing locations, orphans): administrators
    may_register: bool


def home_page(*, user: User, at: datetime | None = None) -> HomePage:
    """What the signed-in user sees first: their teams (at most HOME_MAX_TEAMS, with owned counts and who is on
    call at level 1) and the catalog at a glance (with failing locations and orphans for administrators).

    Bounded: at most eleven queries however many teams, entities or schedules there are (catalog user by name and
    by email, group refs, groups, owned counts, policies, schedules, overrides, people, kind counts, locations).
    """
    at = at or timezone.now()
    user_entity = catalog_selectors.user_entity_get(user=user)
    teams: list[TeamCard] = []
    more = 0
    if user_entity is not None:
        refs = sorted(catalog_selectors.user_group_refs(user_entity=user_entity))
        groups = catalog_selectors.entities_of_kind_by_refs(refs=refs, kind="group", limit=HOME_MAX_TEAMS)
        more = max(len(refs) - HOME_MAX_TEAMS, 0)
        owned = catalog_selectors.owned_counts_by_kind(owner_refs=[group.ref for group in groups])
        oncall = oncall_selectors.entities_oncall(entities=groups, at=at) if groups else {}
        teams = [TeamCard(group, owned.get(group.ref, []), oncall[group.ref]) for group in groups]
    return HomePage(
        user_entity=user_entity,
        teams=teams,
        more_teams=more,
        overview=catalog_selectors.catalog_overview(),
        show_admin=permissions.is_admin(user),
        may_register=permissions.may(user, permissions.Action.LOCATION_REGISTER),
    )
