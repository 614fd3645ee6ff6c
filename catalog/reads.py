"""The lean read path for the two hottest catalog calls: an entity by name and by uid, with a personal token.

`@backstage/catalog-client` scripts call `GET /api/catalog/entities/by-name/...` thousands of times a minute. Through
DRF each call cost four database round trips (the token, Django's connection health check, the entity, its
relations) and ~7 ms of CPU, most of it building ORM querysets. Here one SQL statement checks the token (not
revoked, user active) and reads the entity's stored JSON and its relations, and the answer is rendered once by
DRF's own JSON renderer, so the bytes are those the DRF view would send.

Only the plain case is served here: GET, no query string, a well-formed `Token`/`Bearer` key, an `Accept` that DRF
would answer with JSON, a known token and an existing entity. Anything else (a missing or revoked token, a 404, a
400, a throttled user, HEAD, `?format=`, the browsable API) goes on to the DRF view unchanged, so errors keep their
exact bodies. Nothing is cached: every request reads the token and the entity afresh, so a revoked token or a
refreshed entity is seen by the very next request in every process.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Final

from django.contrib.auth.models import User
from django.db import connection
from django.http import HttpRequest, HttpResponse
from rest_framework.renderers import JSONRenderer

from catalog.models import Entity, Relation
from catalog.selectors import entity_json, relation_json
from portal import services, throttling
from portal.models import ApiToken, hash_token

BY_NAME: Final = re.compile(r"^/api/catalog/entities/by-name/([^/]+)/([^/]+)/([^/]+)$")
BY_UID: Final = re.compile(r"^/api/catalog/entities/by-uid/([^/]+)$")
_KEYWORDS: Final = ("token", "bearer")
# What DRF's content negotiation answers with its JSON renderer, with no media type parameters (`indent=`).
_JSON_ACCEPTS: Final = frozenset(("", "*/*", "application/json", "application/*"))
_RENDERER: Final = JSONRenderer()
# Headers DRF's APIView adds to a GET answer (`Allow`, `Vary`); the outer middleware adds the security ones.
_ALLOW: Final = {
    "by-name": "GET, HEAD, OPTIONS",
    "by-uid": "GET, DELETE, HEAD, OPTIONS",
}


def _statement(entity_condition: str, relation_source: str) -> str:
    """One round trip: the token row (part 0), the entity (part 1), its distinct relations in API order (part 2).

    Portable SQL (PostgreSQL and SQLite): every column is cast to text where the parts' types differ.
    """
    token, user = ApiToken._meta.db_table, User._meta.db_table
    entity, relation = Entity._meta.db_table, Relation._meta.db_table
    # Table names from the models' metadata; every value is a parameter.
    sql = (
        f"SELECT 0, t.id, t.last_used_at, NULL, NULL, NULL, t.user_id FROM {token} t "  # noqa: S608
        f"INNER JOIN {user} u ON u.id = t.user_id "
        "WHERE t.key_hash = %s AND t.revoked_at IS NULL AND u.is_active "
        "UNION ALL "
        f"SELECT 1, e.id, NULL, CAST(e.data AS TEXT), CASE WHEN e.orphan THEN 'orphan' ELSE '' END, "
        f"CAST(e.errors AS TEXT), NULL FROM {entity} e WHERE {entity_condition} "
        "UNION ALL "
        "SELECT 2, NULL, NULL, r.type, r.target_ref, NULL, NULL "
        f"FROM (SELECT DISTINCT type, target_ref FROM {relation} WHERE source_ref = {relation_source}) r "
        "ORDER BY 1, 4, 5"
    )
    return sql


_BY_REF_SQL: Final = _statement("e.ref = %s", "%s")
_REF_OF_UID: Final = "(SELECT ref FROM " + Entity._meta.db_table + " WHERE uid = %s)"  # noqa: S608
_BY_UID_SQL: Final = _statement("e.uid = %s", _REF_OF_UID)


def _token_key(request: HttpRequest) -> str | None:
    """The clear-text key of a well-formed `Token`/`Bearer` header; None sends the request on to DRF."""
    header = str(request.META.get("HTTP_AUTHORIZATION", ""))
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() not in _KEYWORDS:
        return None
    key = parts[1]
    if not key.isascii() or not key.startswith(services.TOKEN_PREFIX) or len(key) > 200:
        return None
    return key


def entity_json_bytes(
    *, key: str, ref: str | None = None, uid: uuid.UUID | None = None
) -> tuple[int | None, bytes | None]:
    """(the token's user id or None, the entity's JSON bytes or None) in one statement.

    The user id is None when the token is unknown, revoked or its user inactive; the bytes are None when there is
    no such entity (or the token failed: nothing is read for a caller who may not read).
    """
    if uid is not None:
        db_uid = Entity._meta.get_field("uid").get_db_prep_value(uid, connection)
        sql, params = _BY_UID_SQL, [hash_token(key), db_uid, db_uid]
    else:
        sql, params = _BY_REF_SQL, [hash_token(key), ref, ref]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows or rows[0][0] != 0:
        return None, None
    _, token_id, last_used_at, _, _, _, user_id = rows[0]
    services.apitoken_used(token_id=token_id, last_used_at=last_used_at)
    if len(rows) < 2 or rows[1][0] != 1:
        return user_id, None
    _, _, _, data_text, orphan, errors_text, _ = rows[1]
    relations = [relation_json(relation_type, target_ref) for _, _, _, relation_type, target_ref, _, _ in rows[2:]]
    data = entity_json(
        json.loads(data_text),
        orphan=bool(orphan),
        relations=relations,
        errors=json.loads(errors_text) if errors_text else None,
    )
    return user_id, _RENDERER.render(data)


def _lean_answer(request: HttpRequest) -> HttpResponse | None:
    """The answer of the lean path, or None to let the DRF view answer."""
    if request.method != "GET" or request.META.get("QUERY_STRING"):
        return None
    path = request.path_info
    if not path.startswith("/api/catalog/entities/by-"):
        return None
    if request.META.get("HTTP_ACCEPT", "").strip() not in _JSON_ACCEPTS:
        return None
    key = _token_key(request)
    if key is None:
        return None
    request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware would check it: DisallowedHost answers 400
    if match := BY_NAME.match(path):
        kind, namespace, name = match.groups()
        if not all(0 < len(part) <= 253 for part in (kind, namespace, name)):
            return None
        user_id, body = entity_json_bytes(key=key, ref=f"{kind}:{namespace}/{name}".lower())
        shape = "by-name"
    elif match := BY_UID.match(path):
        try:
            uid = uuid.UUID(match.group(1))
        except ValueError:
            return None
        user_id, body = entity_json_bytes(key=key, uid=uid)
        shape = "by-uid"
    else:
        return None
    if user_id is None or body is None or not throttling.user_request_allowed(user_id):
        return None
    response = HttpResponse(body, content_type="application/json")
    response["Allow"] = _ALLOW[shape]
    response["Vary"] = "Accept"
    response["X-Frame-Options"] = "DENY"
    response["Content-Length"] = str(len(body))
    return response


class LeanReadMiddleware:
    """Answers by-name and by-uid entity reads with a token before sessions, CSRF, messages and DRF run."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return _lean_answer(request) or self.get_response(request)
