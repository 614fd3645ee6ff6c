"""Portal-wide writes: API tokens, the audit log, worker heartbeats."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from django.contrib.auth.models import AnonymousUser, User
from django.db import models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from portal.exceptions import ApplicationError, NotFoundError
from portal.models import ApiToken, AuditEvent, Heartbeat, hash_token
from portal.permissions import is_admin

if TYPE_CHECKING:
    from portal.permissions import SystemActor

log = structlog.get_logger(__name__)

TOKEN_PREFIX = "pvd_"  # noqa: S105 - a public prefix, not a secret
TOKEN_LAST_USED_RESOLUTION_SECONDS = 60


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    raw: str  # shown once to the user, never stored or logged


def audit_record(
    *,
    actor: User | AnonymousUser | SystemActor | None,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    target_repr: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event. Call it inside the transaction of the write it records."""
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
        target_repr = target_repr or str(target)[:500]
    user = actor if isinstance(actor, User) else None
    context = structlog.contextvars.get_contextvars()
    event = AuditEvent.objects.create(
        actor=user,
        actor_name=_actor_name(actor),
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr,
        before=before,
        after=after,
        request_id=str(context.get("request_id") or context.get("run_id") or ""),
    )
    log.info("audit.recorded", action=action, target_type=target_type, target_id=target_id)
    return event


def _actor_name(actor: object) -> str:
    if isinstance(actor, User):
        return actor.get_username()
    return "anonymous" if isinstance(actor, AnonymousUser) else "system"


@transaction.atomic
def signin_failure_record(*, username: str, address: str | None, path: str, failures: int, refused: bool) -> AuditEvent:
    """Audit one failed sign-in: the account tried, from where, and whether it was refused during a pause.

    Only the username is recorded, never what was typed as the password.
    """
    return audit_record(
        actor=AnonymousUser(),
        action="signin.failed",
        target_type="auth.user",
        target_id=username[:255],
        target_repr=username[:500],
        after={"address": address, "path": path, "failures": failures, "refused": refused},
    )


@transaction.atomic
def signin_pause_record(*, username: str, address: str | None, path: str, failures: int, until: datetime) -> AuditEvent:
    """Audit that sign-in is paused for an account or an address until `until`."""
    return audit_record(
        actor=AnonymousUser(),
        action="signin.paused",
        target_type="auth.user",
        target_id=username[:255],
        target_repr=username[:500],
        after={"address": address, "path": path, "failures": failures, "until": until.isoformat()},
    )


@transaction.atomic
def apitoken_create(*, user: User, name: str) -> NewToken:
    name = name.strip()
    if not name:
        raise ApplicationError("A token needs a name that says what it is for.")
    if len(name) > 100:
        raise ApplicationError("A token name has at most 100 characters.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[:10], key_hash=hash_token(raw))
    audit_record(actor=user, action="apitoken.create", target=token, after={"name": name, "prefix": token.prefix})
    return NewToken(token=token, raw=raw)


@transaction.atomic
def apitoken_revoke(*, user: User, token_id: int) -> ApiToken:
    token = ApiToken.objects.select_for_update().filter(pk=token_id, user=user).first()
    if token is None:
        raise NotFoundError(f"You have no token with id {token_id}.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=user, action="apitoken.revoke", target=token, before={"active": True}, after={"active": False}
        )
    return token


@transaction.atomic
def apitoken_delete(*, user: User, token_id: int) -> ApiToken:
    """Delete a token, active or revoked, for good; its owner or an administrator may. Returns the deleted row.

    Someone else's token answers as missing, as revoking does, so ids do not tell whose tokens exist.
    """
    token = ApiToken.objects.select_for_update().filter(pk=token_id).first()
    if token is None or (token.user_id != user.pk and not is_admin(user)):
        raise NotFoundError(f"You have no token with id {token_id}.")
    audit_record(
        actor=user,
        action="apitoken.delete",
        target=token,
        before={"name": token.name, "prefix": token.prefix, "active": token.is_active, "owner": token.user.username},
    )
    token.delete()
    return token


def apitoken_authenticate(*, raw: str) -> ApiToken | None:
    """The active token with this clear text, or None. Records when it was last used (at most once a minute)."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    # key_hash is unique: no ORDER BY (`.first()` would sort by the model's ordering for nothing).
    tokens = ApiToken.objects.select_related("user").filter(
        key_hash=hash_token(raw), revoked_at__isnull=True, user__is_active=True
    )
    token = next(iter(tokens.order_by()[:1]), None)
    if token is None:
        return None
    token.last_used_at = apitoken_used(token_id=token.pk, last_used_at=token.last_used_at)
    return token


def apitoken_used(*, token_id: int, last_used_at: datetime | str | None) -> datetime | None:
    """Record that a token was just used, at most once a minute; the token's last use as now stored.

    `last_used_at` is the stored value, as the ORM or a raw cursor returns it (a datetime, or text on SQLite).
    """
    if isinstance(last_used_at, str):
        last_used_at = parse_datetime(last_used_at)
    if last_used_at is not None and timezone.is_naive(last_used_at):
        last_used_at = timezone.make_aware(last_used_at, UTC)  # SQLite stores UTC without an offset
    now = timezone.now()
    if last_used_at is None or (now - last_used_at).total_seconds() > TOKEN_LAST_USED_RESOLUTION_SECONDS:
        ApiToken.objects.filter(pk=token_id).update(last_used_at=now)
        return now
    return last_used_at


def heartbeat_record(*, name: str, worker: str = "") -> Heartbeat:
    heartbeat, _ = Heartbeat.objects.update_or_create(
        name=name, defaults={"beat_at": timezone.now(), "worker": worker[:255]}
    )
    return heartbeat
