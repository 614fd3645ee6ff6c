"""Scorecards' writes: exemptions requested, approved, rejected, revoked and expired; campaigns created, changed and
deleted.

An exemption counts one failing check of one entity as passing until it expires. It is asked for with a reason and an
expiry (at most PAVED_SCORECARDS_MAX_EXEMPTION_DAYS ahead) and approved by an administrator or a member of the
scorecard's owner who is not whoever asked (`portal.permissions`, `scorecards.exemption.approve`). Every change is
audited and, once it commits, has the entity evaluated again (`scorecards.jobs`), so its results show the change.

Input errors are ValidationErrors keyed by the argument they are about (`entity_ref`, `expires_at`, …); a state that
forbids the change is a ConflictError; a refusal is NotPermitted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

import structlog
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog import query
from catalog import selectors as catalog_selectors
from catalog.descriptors.refs import RefError, parse_ref
from portal.exceptions import ConflictError, ForbiddenError
from portal.permissions import SYSTEM, Action, Actor, is_member, require
from portal.services import audit_record
from scorecards import jobs, selectors
from scorecards.models import Campaign, Exemption

log = structlog.get_logger(__name__)

MAX_REASON_LENGTH: Final = 4000
MAX_COMMENT_LENGTH: Final = 2000
MAX_CHECK_IDS: Final = 100
OPEN: Final = (Exemption.Status.PENDING, Exemption.Status.APPROVED)


class InputErrors:
    """Problems with a service's arguments, gathered so one answer names all of them."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def raise_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def _ref(errors: InputErrors, name: str, value: str, *, kind: str, example: str) -> str:
    text = (value or "").strip()
    if not text:
        errors.add(name, f"A {kind} ref is required, like {example}.")
        return ""
    if len(text) > 300 or "\x00" in text:
        errors.add(name, f"'{text[:80]}' is not a {kind} ref like {example}.")
        return ""
    try:
        return str(parse_ref(text, default_kind=kind))
    except RefError as error:
        errors.add(name, f"{error}; expected a {kind} ref like {example}.")
        return ""


def _text(errors: InputErrors, name: str, value: str, *, limit: int, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        errors.add(name, f"A {name.replace('_', ' ')} is required.")
    elif len(text) > limit:
        errors.add(name, f"At most {limit} characters, got {len(text)}.")
    elif "\x00" in text:
        errors.add(name, "NUL characters are not allowed.")
    return text


def _person(actor: Actor | None, what: str) -> User:
    if not is_member(actor):
        raise ForbiddenError(f"Sign in first: {what} needs a signed-in user.")
    assert isinstance(actor, User)
    return actor


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _exemption_state(exemption: Exemption) -> dict[str, Any]:
    return {
        "status": exemption.status,
        "expires_at": _iso(exemption.expires_at),
        "comment": exemption.comment,
        "decided_by": exemption.decided_by.get_username() if exemption.decided_by else None,
    }


# -- exemptions ------------------------------------------------------------------------------------------------------


@transaction.atomic
def exemption_request(
    *,
    actor: Actor | None,
    entity_ref: str,
    scorecard_ref: str,
    check_id: str,
    reason: str,
    expires_at: dt.datetime,
    now: dt.datetime | None = None,
) -> Exemption:
    """Ask for `entity_ref` to be exempt from check `check_id` of `scorecard_ref` until `expires_at`, because of
    `reason`. The entity must be in the catalog, the scorecard known (evaluated, or a catalog entity) and have that
    check; the expiry in the future and within PAVED_SCORECARDS_MAX_EXEMPTION_DAYS; and the check must not already
    have a pending or approved exemption. The scorecard's owner approves it."""
    requester = _person(actor, "asking for an exemption")
    now = now or timezone.now()
    errors = InputErrors()
    entity = _ref(errors, "entity_ref", entity_ref, kind="component", example="component:default/checkout")
    card = _ref(errors, "scorecard_ref", scorecard_ref, kind="scorecard", example="scorecard:default/production")
    check = _text(errors, "check_id", check_id, limit=200, required=True)
    reason = _text(errors, "reason", reason, limit=MAX_REASON_LENGTH, required=True)
    if entity and catalog_selectors.entity_get_by_ref(ref=entity) is None:
        errors.add("entity_ref", f"There is no entity {entity} in the catalog.")
    info = selectors.scorecard_info_get(ref=card) if card else None
    if card and info is None:
        errors.add("scorecard_ref", f"There is no scorecard {card}: neither evaluated nor in the catalog.")
    if info is not None and check and check not in info.check_ids:
        known = ", ".join(info.check_ids[:20]) or "none"
        errors.add("check_id", f"{info.ref} has no check '{check[:80]}'; its checks are: {known}.")
    max_days = settings.PAVED_SCORECARDS_MAX_EXEMPTION_DAYS
    if timezone.is_naive(expires_at):
        errors.add("expires_at", "The expiry needs a time zone (an ISO instant with an offset, or Z).")
    elif expires_at <= now:
        errors.add("expires_at", f"The expiry must be in the future; {expires_at.isoformat()} has passed.")
    elif expires_at > now + dt.timedelta(days=max_days):
        latest = (now + dt.timedelta(days=max_days)).isoformat()
        errors.add(
            "expires_at",
            f"An exemption lasts at most {max_days} days (PAVED_SCORECARDS_MAX_EXEMPTION_DAYS): "
            f"the expiry must be no later than {latest}, got {expires_at.isoformat()}.",
        )
    errors.raise_any()
    assert info is not None
    _expire(Exemption.objects.filter(entity_ref=entity, scorecard_ref=card, check_id=check), now=now)
    existing = Exemption.objects.filter(entity_ref=entity, scorecard_ref=card, check_id=check, status__in=OPEN).first()
    if existing is not None:
        raise ConflictError(
            f"{entity} already has a {existing.status} exemption from {card}#{check} ({existing.pk}); "
            "revoke it before asking again."
        )
    exemption = Exemption(
        entity_ref=entity,
        scorecard_ref=card,
        check_id=check,
        reason=reason,
        expires_at=expires_at,
        approver_ref=info.owner_ref,
        requested_by=requester,
    )
    try:
        with transaction.atomic():
            exemption.save()
    except IntegrityError:
        raise ConflictError(f"{entity} already has a pending or approved exemption from {card}#{check}.") from None
    audit_record(
        actor=requester,
        action="scorecards.exemption.request",
        target=exemption,
        after={**_exemption_state(exemption), "reason": reason, "approver_ref": exemption.approver_ref},
    )
    jobs.entity_evaluate_enqueue(entity_ref=entity)
    return exemption


def _locked(exemption: Exemption) -> Exemption:
    # Only the exemption's row is locked: PostgreSQL cannot lock the nullable side of the joins to its users.
    rows = Exemption.objects.select_for_update(of=("self",)).select_related("requested_by", "decided_by")
    return rows.get(pk=exemption.pk)


def _decide(
    *, exemption: Exemption, actor: Actor | None, status: str, comment: str, action: str, now: dt.datetime
) -> Exemption:
    errors = InputErrors()
    comment = _text(errors, "comment", comment, limit=MAX_COMMENT_LENGTH, required=False)
    errors.raise_any()
    exemption = _locked(exemption)
    require(actor, Action.SCORECARD_EXEMPTION_APPROVE, exemption)
    assert isinstance(actor, User)
    if exemption.status != Exemption.Status.PENDING:
        raise ConflictError(f"Exemption {exemption.pk} is {exemption.status}; only a pending exemption can be decided.")
    if status == Exemption.Status.APPROVED and exemption.expires_at <= now:
        raise ConflictError(f"Exemption {exemption.pk} expired at {exemption.expires_at.isoformat()}, before approval.")
    before = _exemption_state(exemption)
    exemption.status = status
    exemption.decided_by = actor
    exemption.decided_at = now
    exemption.comment = comment
    exemption.save(update_fields=["status", "decided_by", "decided_at", "comment"])
    audit_record(actor=actor, action=action, target=exemption, before=before, after=_exemption_state(exemption))
    jobs.entity_evaluate_enqueue(entity_ref=exemption.entity_ref)
    return exemption


@transaction.atomic
def exemption_approve(
    *, exemption: Exemption, actor: Actor | None, comment: str = "", now: dt.datetime | None = None
) -> Exemption:
    """Approve a pending exemption (administrators and members of the scorecard's owner, never the requester): the
    check counts as passing until the exemption expires."""
    return _decide(
        exemption=exemption,
        actor=actor,
        status=Exemption.Status.APPROVED,
        comment=comment,
        action="scorecards.exemption.approve",
        now=now or timezone.now(),
    )


@transaction.atomic
def exemption_reject(
    *, exemption: Exemption, actor: Actor | None, comment: str = "", now: dt.datetime | None = None
) -> Exemption:
    """Reject a pending exemption (whoever may approve it)."""
    return _decide(
        exemption=exemption,
        actor=actor,
        status=Exemption.Status.REJECTED,
        comment=comment,
        action="scorecards.exemption.reject",
        now=now or timezone.now(),
    )


@transaction.atomic
def exemption_revoke(
    *, exemption: Exemption, actor: Actor | None, comment: str = "", now: dt.datetime | None = None
) -> Exemption:
    """End a pending or approved exemption before its expiry: its requester withdraws it, or whoever may approve it
    takes it back. The check counts as it is again."""
    errors = InputErrors()
    comment = _text(errors, "comment", comment, limit=MAX_COMMENT_LENGTH, required=False)
    errors.raise_any()
    exemption = _locked(exemption)
    person = _person(actor, "revoking an exemption")
    if exemption.requested_by_id is None or exemption.requested_by_id != person.pk:
        require(person, Action.SCORECARD_EXEMPTION_APPROVE, exemption)
    if exemption.status not in OPEN:
        raise ConflictError(f"Exemption {exemption.pk} is {exemption.status} already; there is nothing to revoke.")
    before = _exemption_state(exemption)
    exemption.status = Exemption.Status.REVOKED
    exemption.decided_by = person
    exemption.decided_at = now or timezone.now()
    exemption.comment = comment
    exemption.save(update_fields=["status", "decided_by", "decided_at", "comment"])
    audit_record(
        actor=person,
        action="scorecards.exemption.revoke",
        target=exemption,
        before=before,
        after=_exemption_state(exemption),
    )
    jobs.entity_evaluate_enqueue(entity_ref=exemption.entity_ref)
    return exemption


def _expire(exemptions: Any, *, now: dt.datetime) -> list[Exemption]:
    due = list(
        exemptions.select_for_update(skip_locked=True).filter(status=Exemption.Status.APPROVED, expires_at__lte=now)
    )
    for exemption in due:
        exemption.status = Exemption.Status.EXPIRED
        exemption.save(update_fields=["status"])
        audit_record(
            actor=SYSTEM,
            action="scorecards.exemption.expire",
            target=exemption,
            before={"status": Exemption.Status.APPROVED},
            after={"status": Exemption.Status.EXPIRED, "expires_at": _iso(exemption.expires_at)},
        )
    for entity_ref in sorted({exemption.entity_ref for exemption in due}):
        jobs.entity_evaluate_enqueue(entity_ref=entity_ref)
    return due


@transaction.atomic
def exemptions_expire(*, now: dt.datetime | None = None) -> int:
    """End every approved exemption whose expiry has passed, and have each of their entities evaluated again. Returns
    how many ended; running it again ends none (rows another worker holds are left to it)."""
    ended = _expire(Exemption.objects.all(), now=now or timezone.now())
    if ended:
        log.info("scorecards.exemptions.expired", count=len(ended))
    return len(ended)


# -- campaigns -------------------------------------------------------------------------------------------------------


def _scorecard(errors: InputErrors, scorecard_ref: str) -> selectors.ScorecardInfo | None:
    card = _ref(errors, "scorecard_ref", scorecard_ref, kind="scorecard", example="scorecard:default/production")
    info = selectors.scorecard_info_get(ref=card) if card else None
    if card and info is None:
        errors.add("scorecard_ref", f"There is no scorecard {card}: neither evaluated nor in the catalog.")
    return info


def _target(
    errors: InputErrors, info: selectors.ScorecardInfo | None, target_level: str, check_ids: Sequence[str]
) -> tuple[str, list[str]]:
    """A target level of the scorecard, or a list of its checks: exactly one of them."""
    level = _text(errors, "target_level", target_level, limit=200, required=False)
    checks = [str(check).strip() for check in check_ids]
    if bool(level) == bool(checks):
        errors.add("target_level", "Give a target level or a list of check ids (check_ids), not both or neither.")
        return level, checks
    if len(checks) > MAX_CHECK_IDS:
        errors.add("check_ids", f"At most {MAX_CHECK_IDS} check ids, got {len(checks)}.")
    elif len(set(checks)) != len(checks):
        errors.add("check_ids", "Each check id may appear once.")
    if info is None:
        return level, checks
    if level:
        index = info.level_index(level)
        if index is None:
            known = ", ".join(info.levels) or "none"
            errors.add("target_level", f"{info.ref} has no level '{level[:80]}'; its levels are: {known}.")
        else:
            level = info.levels[index]
    unknown = [check for check in checks if check not in info.check_ids]
    if unknown:
        errors.add("check_ids", f"{info.ref} has no check {', '.join(repr(c[:80]) for c in unknown[:5])}.")
    return level, checks


def _filter(errors: InputErrors, value: str) -> str:
    text = _text(errors, "filter", value, limit=2000, required=False)
    if text:
        try:
            query.parse_filter([text])
        except query.QueryError as error:
            errors.add("filter", error.message)
    return text


def _campaign_state(campaign: Campaign) -> dict[str, Any]:
    return {
        "title": campaign.title,
        "scorecard_ref": campaign.scorecard_ref,
        "target_level": campaign.target_level,
        "check_ids": list(campaign.check_ids),
        "filter": campaign.filter,
        "due_date": _iso(campaign.due_date),
        "owner_ref": campaign.owner_ref,
    }


def _validated(campaign: Campaign, errors: InputErrors) -> None:
    errors.raise_any()
    campaign.full_clean(exclude=["created_by"], validate_unique=False)


def _card_of(campaign: Campaign) -> selectors.ScorecardInfo:
    """The campaign's scorecard for the permission rule; one gone from Paved has no owner left (administrators)."""
    info = selectors.scorecard_info_get(ref=campaign.scorecard_ref)
    return info or selectors.ScorecardInfo(ref=campaign.scorecard_ref, title="", owner_ref="", levels=(), check_ids=())


@transaction.atomic
def campaign_create(
    *,
    actor: Actor | None,
    slug: str,
    title: str,
    scorecard_ref: str,
    due_date: dt.date,
    target_level: str = "",
    check_ids: Sequence[str] = (),
    filter: str = "",  # the Backstage filter, named as the model names it
    description: str = "",
    owner_ref: str = "",
    today: dt.date | None = None,
) -> Campaign:
    """Start a campaign: services matching `filter` (all scored on the scorecard without one) reach `target_level`,
    or pass `check_ids`, on `scorecard_ref` by `due_date`. Administrators and members of the scorecard's owner."""
    errors = InputErrors()
    info = _scorecard(errors, scorecard_ref)
    if info is not None:
        require(actor, Action.SCORECARD_CAMPAIGN_WRITE, info)
    elif not is_member(actor) and actor is not SYSTEM:
        raise ForbiddenError("Sign in first: starting a campaign needs a signed-in user.")
    level, checks = _target(errors, info, target_level, check_ids)
    text = _filter(errors, filter)
    owner = _ref(errors, "owner_ref", owner_ref, kind="group", example="group:default/payments") if owner_ref else ""
    if due_date < (today or timezone.localdate()):
        errors.add("due_date", f"The due date {due_date.isoformat()} has passed.")
    campaign = Campaign(
        slug=(slug or "").strip(),
        title=_text(errors, "title", title, limit=200, required=True),
        description=_text(errors, "description", description, limit=10_000, required=False),
        scorecard_ref=info.ref if info is not None else "",
        target_level=level,
        check_ids=checks,
        filter=text,
        due_date=due_date,
        owner_ref=owner or (info.owner_ref if info is not None else ""),
        created_by=actor if isinstance(actor, User) else None,
    )
    _validated(campaign, errors)
    if Campaign.objects.filter(slug=campaign.slug).exists():
        raise ConflictError(f"There is a campaign {campaign.slug} already; choose another slug.")
    try:
        with transaction.atomic():
            campaign.save()
    except IntegrityError:
        raise ConflictError(f"There is a campaign {campaign.slug} already; choose another slug.") from None
    audit_record(actor=actor, action="scorecards.campaign.create", target=campaign, after=_campaign_state(campaign))
    return campaign


@transaction.atomic
def campaign_update(
    *,
    campaign: Campaign,
    actor: Actor | None,
    title: str | None = None,
    description: str | None = None,
    target_level: str | None = None,
    check_ids: Sequence[str] | None = None,
    filter: str | None = None,  # the Backstage filter, named as the model names it
    due_date: dt.date | None = None,
    owner_ref: str | None = None,
) -> Campaign:
    """Change a campaign (None leaves a field as it is). Setting a target level drops the list of checks and the
    other way round. Administrators and members of the scorecard's owner."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    errors = InputErrors()
    info = _card_of(campaign)
    require(actor, Action.SCORECARD_CAMPAIGN_WRITE, info)
    before = _campaign_state(campaign)
    if target_level is not None or check_ids is not None:
        level = target_level if target_level is not None else ("" if check_ids else campaign.target_level)
        checks = check_ids if check_ids is not None else ([] if target_level else campaign.check_ids)
        campaign.target_level, campaign.check_ids = _target(errors, info, level, checks)
    if title is not None:
        campaign.title = _text(errors, "title", title, limit=200, required=True)
    if description is not None:
        campaign.description = _text(errors, "description", description, limit=10_000, required=False)
    if filter is not None:
        campaign.filter = _filter(errors, filter)
    if due_date is not None:
        campaign.due_date = due_date
    if owner_ref is not None:
        campaign.owner_ref = (
            _ref(errors, "owner_ref", owner_ref, kind="group", example="group:default/payments") if owner_ref else ""
        )
    _validated(campaign, errors)
    campaign.save()
    audit_record(
        actor=actor,
        action="scorecards.campaign.update",
        target=campaign,
        before=before,
        after=_campaign_state(campaign),
    )
    return campaign


@transaction.atomic
def campaign_delete(*, campaign: Campaign, actor: Actor | None) -> None:
    """Delete a campaign (administrators and members of the scorecard's owner); scores and history stay."""
    require(actor, Action.SCORECARD_CAMPAIGN_WRITE, _card_of(campaign))
    audit_record(actor=actor, action="scorecards.campaign.delete", target=campaign, before=_campaign_state(campaign))
    campaign.delete()
