"""Writes for on-call: portal overrides of schedules and secret calendar feeds. Every write asks `portal.permissions`
(the schedule's owning team, the person, administrators) and is recorded in the audit log."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from catalog.models import Entity
from catalog.oncall.engine import normalize_ref
from catalog.oncall.models import CalendarFeed, OnCallOverride
from portal import permissions
from portal.exceptions import NotFoundError
from portal.permissions import Action, require
from portal.services import audit_record

MAX_OVERRIDE_DAYS: Final = 90
MAX_REASON_LENGTH: Final = 500
FEED_TOKEN_PREFIX: Final = "pcal_"  # noqa: S105 - a public prefix, not a secret

Actor = permissions.Actor


def _ref(value: str, kind: str, field: str) -> str:
    try:
        ref = normalize_ref(str(value), default_kind=kind)
    except ValueError as error:
        raise ValidationError({field: f"'{value}' is not a {kind} ref like {kind}:default/name."}) from error
    if not ref.startswith(f"{kind}:"):
        raise ValidationError({field: f"'{value}' is not a {kind} ref like {kind}:default/name."})
    return ref


def _schedule(schedule_ref: str) -> Entity:
    ref = _ref(schedule_ref, "schedule", "scheduleRef")
    entity = Entity.objects.filter(ref=ref, kind__iexact="schedule").first()
    if entity is None:
        raise NotFoundError(f"There is no schedule {ref} in the catalog.")
    return entity


def _check_user(user_ref: str) -> str:
    ref = _ref(user_ref, "user", "userRef")
    if not Entity.objects.filter(ref=ref, kind__iexact="user").exists():
        raise ValidationError({"userRef": f"{ref} is not a user in the catalog."})
    return ref


def _check_window(start: datetime, end: datetime, *, now: datetime) -> None:
    for name, value in (("start", start), ("end", end)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValidationError({name: f"The {name} needs a time zone (an ISO instant with an offset or Z)."})
    if end <= start:
        raise ValidationError({"end": "An override must end after it starts."})
    if end - start > timedelta(days=MAX_OVERRIDE_DAYS):
        raise ValidationError({"end": f"An override may last at most {MAX_OVERRIDE_DAYS} days."})
    if end <= now:
        raise ValidationError({"end": "This override would end in the past; it would change nothing."})


def _check_reason(reason: str) -> str:
    reason = reason.strip()
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationError({"reason": f"A reason has at most {MAX_REASON_LENGTH} characters."})
    return reason


def _snapshot(override: OnCallOverride) -> dict[str, Any]:
    return {
        "scheduleRef": override.schedule_ref,
        "userRef": override.user_ref,
        "start": override.start.isoformat(),
        "end": override.end.isoformat(),
        "reason": override.reason,
    }


@transaction.atomic
def override_create(
    *, actor: Actor, schedule_ref: str, user_ref: str, start: datetime, end: datetime, reason: str = ""
) -> OnCallOverride:
    """Put `user_ref` on call for the schedule from `start` to `end`, above every layer.

    Raises NotFoundError for an unknown schedule, ForbiddenError when the actor is not in the owning team (nor an
    admin), ValidationError for an unknown user, a backwards, over-long or past window, or an over-long reason.
    """
    schedule = _schedule(schedule_ref)
    require(actor, Action.ONCALL_OVERRIDE_WRITE, schedule)
    user = _check_user(user_ref)
    _check_window(start, end, now=timezone.now())
    override = OnCallOverride(
        schedule_ref=schedule.ref,
        user_ref=user,
        start=start,
        end=end,
        reason=_check_reason(reason),
        created_by=actor if isinstance(actor, User) else None,
    )
    override.full_clean()
    override.save()
    audit_record(actor=actor, action="oncall.override.create", target=override, after=_snapshot(override))
    return override


def _locked(override_id: int) -> OnCallOverride:
    override = OnCallOverride.objects.select_for_update().filter(pk=override_id).first()
    if override is None:
        raise NotFoundError(f"There is no override with id {override_id}.")
    return override


@transaction.atomic
def override_update(
    *,
    actor: Actor,
    override_id: int,
    user_ref: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    reason: str | None = None,
) -> OnCallOverride:
    """Change an override's person, window or reason (fields left None stay); same rules as creating one."""
    override = _locked(override_id)
    schedule = Entity.objects.filter(ref=override.schedule_ref).first()
    if schedule is None:
        raise NotFoundError(f"The schedule {override.schedule_ref} of this override is no longer in the catalog.")
    require(actor, Action.ONCALL_OVERRIDE_WRITE, schedule)
    before = _snapshot(override)
    if user_ref is not None:
        override.user_ref = _check_user(user_ref)
    override.start = start or override.start
    override.end = end or override.end
    _check_window(override.start, override.end, now=timezone.now())
    if reason is not None:
        override.reason = _check_reason(reason)
    override.full_clean()
    override.save()
    audit_record(
        actor=actor,
        action="oncall.override.update",
        target=override,
        before=before,
        after=_snapshot(override),
    )
    return override


@transaction.atomic
def override_delete(*, actor: Actor, override_id: int) -> OnCallOverride:
    """Delete an override (same rules as changing one); the deleted row is returned, its `schedule_ref` intact."""
    override = _locked(override_id)
    # A schedule gone from the catalog has no team left: only administrators may clear its overrides.
    require(actor, Action.ONCALL_OVERRIDE_WRITE, Entity.objects.filter(ref=override.schedule_ref).first())
    before = _snapshot(override)
    audit_record(actor=actor, action="oncall.override.delete", target=override, before=before)
    override.delete()
    return override


# -- calendar feeds -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewFeed:
    feed: CalendarFeed
    token: str  # shown once, never stored or logged


@transaction.atomic
def calendar_feed_create(*, actor: Actor, kind: str, ref: str) -> NewFeed:
    """A secret feed URL for a schedule or a person (who may: `Action.ONCALL_FEED_CREATE`)."""
    if kind not in CalendarFeed.Kind.values:
        raise ValidationError({"kind": "A feed is for a schedule or a person."})
    target = _schedule(ref).ref if kind == CalendarFeed.Kind.SCHEDULE else _check_user(ref)
    require(actor, Action.ONCALL_FEED_CREATE, CalendarFeed(kind=kind, ref=target))
    token = FEED_TOKEN_PREFIX + secrets.token_urlsafe(32)
    feed = CalendarFeed.objects.create(
        kind=kind,
        ref=target,
        token_hash=hashlib.sha256(token.encode()).hexdigest(),
        prefix=token[:12],
        created_by=actor if isinstance(actor, User) else None,
    )
    audit_record(actor=actor, action="oncall.feed.create", target=feed, after={"kind": kind, "ref": target})
    return NewFeed(feed, token)


@transaction.atomic
def calendar_feed_revoke(*, actor: Actor, feed_id: int) -> CalendarFeed:
    """Stop a feed URL working (who may: `Action.ONCALL_FEED_REVOKE`)."""
    feed = CalendarFeed.objects.select_for_update().filter(pk=feed_id).first()
    if feed is None:
        raise NotFoundError(f"There is no calendar feed with id {feed_id}.")
    require(actor, Action.ONCALL_FEED_REVOKE, feed)
    if feed.revoked_at is None:
        feed.revoked_at = timezone.now()
        feed.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor, action="oncall.feed.revoke", target=feed, before={"active": True}, after={"active": False}
        )
    return feed
