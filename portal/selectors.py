"""Portal-wide reads: readiness of the database and the broker, a user's tokens, the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import QuerySet

from portal.models import ApiToken, AuditEvent


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
    from portal.celery import app

    try:
        with app.connection_for_write() as conn:
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
