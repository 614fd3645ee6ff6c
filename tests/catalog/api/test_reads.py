"""The lean by-name/by-uid read path answers exactly what the DRF views answer, checks the token on every request,
and leaves every other case (errors, other methods, other media types) to DRF."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

from catalog import reads
from catalog.models import Entity
from portal import throttling
from portal.models import ApiToken
from tests.catalog.factories import ApiDictFactory, ComponentDictFactory, GroupDictFactory, ingest
from tests.portal.factories import ApiTokenFactory

BASE = "/api/catalog"
TOKEN = "pvd_lean-read-token-0001"
WITHOUT_LEAN = [m for m in settings.MIDDLEWARE if m != "catalog.reads.LeanReadMiddleware"]
COMPARED_HEADERS = ("Content-Type", "Content-Length", "Allow", "Vary", "X-Frame-Options", "X-Content-Type-Options")


@pytest.fixture
def token(user) -> ApiToken:
    token: ApiToken = ApiTokenFactory.create(user=user, raw=TOKEN)
    return token


@pytest.fixture
def client_token(token) -> Client:
    return Client(headers={"Authorization": f"Bearer {TOKEN}"})


@pytest.fixture
def catalog(api_catalog) -> list[Entity]:
    """The API catalog plus entities with unicode, no relations, many relations, processing errors and orphans."""
    docs: list[dict[str, Any]] = [GroupDictFactory(name="equipe")]
    for n in range(30):
        doc = ComponentDictFactory(
            name=f"svc-{n:02d}",
            owner="equipe" if n % 3 else "team-a",
            dependsOn=[f"component:svc-{(n + k) % 30:02d}" for k in range(1, n % 5)],
            providesApis=[f"api-{n:02d}"] if n % 2 else [],
        )
        doc["metadata"]["description"] = f'Über-Dienst №{n} — 日本語 \u2028 line\tsep "quoted" <b>&amp;</b> 😀'
        doc["metadata"]["title"] = f"Dienst für Zahlungen {n} ✓"
        doc["metadata"]["annotations"] = {"paved.dev/float": "1.0", "paved.dev/empty": ""}
        doc["metadata"]["tags"] = [] if n % 4 else ["python", "go"]
        docs.append(doc)
        if n % 2:
            docs.append(ApiDictFactory(name=f"api-{n:02d}"))
    ingest(docs)
    Entity.objects.filter(ref="component:default/svc-03").update(errors=[{"message": "spec.type: must be a string"}])
    Entity.objects.filter(ref="component:default/svc-04").update(orphan=True)
    Entity.objects.filter(ref="component:default/svc-05").update(
        orphan=True, errors=[{"message": "first"}, {"message": "second ✓"}]
    )
    return list(Entity.objects.all())


class _Statements:
    """Every statement run inside the block (CaptureQueriesContext loses them: each request resets the log)."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.sql.append(sql)
        return execute(sql, params, many, context)

    def __enter__(self) -> _Statements:
        self._wrapper = connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._wrapper.__exit__(*exc)

    def __len__(self) -> int:
        return len(self.sql)


def _urls(entity: Entity) -> list[str]:
    return [
        f"{BASE}/entities/by-name/{entity.kind}/{entity.namespace}/{entity.name}",
        f"{BASE}/entities/by-uid/{entity.uid}",
    ]


def _drf(client: Client, url: str, **headers: str) -> Any:
    with override_settings(MIDDLEWARE=WITHOUT_LEAN):
        return client.get(url, headers=headers)


@pytest.mark.django_db
def test_by_name_and_by_uid_are_byte_for_byte_what_drf_answers(client_token, catalog):
    assert len(catalog) > 40
    kinds = set()
    for entity in catalog:
        for url in (
            f"{BASE}/entities/by-name/{entity.kind}/{entity.namespace}/{entity.name}",
            f"{BASE}/entities/by-uid/{entity.uid}",
        ):
            with _Statements() as lean_queries:
                lean = client_token.get(url)
            expected = _drf(client_token, url)
            assert lean.status_code == expected.status_code == 200, url
            assert lean.content == expected.content, url
            for header in COMPARED_HEADERS:
                assert lean.get(header) == expected.get(header), (url, header)
            # token, entity and relations at once (and the token's last use, once a minute)
            assert len([sql for sql in lean_queries.sql if sql.startswith("SELECT")]) == 1, lean_queries.sql
            assert len(lean_queries) <= 2, lean_queries.sql
        kinds.add(entity.kind)
    assert {"Component", "API", "Group", "User"} <= kinds
    # The cases the comparison had to cover: relations (none, several), status, orphan, unicode.
    by_ref = {e.ref: json.loads(client_token.get(f"{BASE}/entities/by-uid/{e.uid}").content) for e in catalog}
    assert any(body["relations"] == [] for body in by_ref.values())
    assert any(len(body["relations"]) >= 4 for body in by_ref.values())
    assert by_ref["component:default/svc-03"]["status"]["items"][0]["message"] == "spec.type: must be a string"
    assert by_ref["component:default/svc-05"]["metadata"]["annotations"]["backstage.io/orphan"] == "true"
    assert "😀" in client_token.get(f"{BASE}/entities/by-name/component/default/svc-07").content.decode()


@pytest.mark.django_db
def test_lean_path_is_case_insensitive_like_drf(client_token, catalog):
    url = f"{BASE}/entities/by-name/COMPONENT/Default/SVC-07"
    assert client_token.get(url).content == _drf(client_token, url).content
    assert json.loads(client_token.get(url).content)["metadata"]["name"] == "svc-07"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/entities/by-name/component/default/nope", 404),
        ("/entities/by-name/spaceship/default/enterprise", 404),
        (f"/entities/by-name/component/default/{'x' * 300}", 400),
        ("/entities/by-uid/not-a-uuid", 400),
        ("/entities/by-uid/00000000-0000-0000-0000-000000000000", 404),
    ],
)
def test_errors_are_drfs_own(client_token, catalog, path, status):
    lean = client_token.get(BASE + path)
    expected = _drf(client_token, BASE + path)
    assert lean.status_code == expected.status_code == status
    assert lean.content == expected.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [
        {},  # no token
        {"Authorization": "Bearer pvd_unknown-token"},
        {"Authorization": "Bearer not-a-paved-token"},
        {"Authorization": "Bearer"},
        {"Authorization": "Token a b"},
        {"Authorization": "Bearer pvd_ünïcode"},
    ],
)
def test_refused_tokens_get_drfs_401(catalog, headers):
    url = f"{BASE}/entities/by-name/component/default/svc-01"
    lean = Client().get(url, headers=headers)
    expected = _drf(Client(), url, **headers)
    assert lean.status_code == expected.status_code == 401
    assert lean.content == expected.content
    assert lean["WWW-Authenticate"] == expected["WWW-Authenticate"]


@pytest.mark.django_db
def test_revoked_token_and_deactivated_user_are_refused_on_the_very_next_request(client_token, token, catalog):
    entity = catalog[0]
    urls = [
        f"{BASE}/entities/by-name/{entity.kind}/{entity.namespace}/{entity.name}",
        f"{BASE}/entities/by-uid/{entity.uid}",
    ]
    for url in urls:
        assert client_token.get(url).status_code == 200
    token.revoked_at = timezone.now()
    token.save()
    for url in urls:
        assert client_token.get(url).status_code == 401
    token.revoked_at = None
    token.save()
    for url in urls:
        assert client_token.get(url).status_code == 200
    token.user.is_active = False
    token.user.save()
    for url in urls:
        assert client_token.get(url).status_code == 401
    token.user.is_active = True
    token.user.save()
    token.delete()
    for url in urls:
        assert client_token.get(url).status_code == 401


@pytest.mark.django_db
def test_a_refreshed_entity_is_read_afresh(client_token, catalog):
    url = f"{BASE}/entities/by-name/component/default/svc-08"
    assert json.loads(client_token.get(url).content)["metadata"]["description"].startswith("Über")
    entity = Entity.objects.get(ref="component:default/svc-08")
    entity.data = {**entity.data, "metadata": {**entity.data["metadata"], "description": "changed"}}
    entity.save()
    assert json.loads(client_token.get(url).content)["metadata"]["description"] == "changed"


@pytest.mark.django_db
def test_other_requests_go_to_drf(client_token, catalog):
    """HEAD, a query string, another media type and a session go through DRF (which answers them as before)."""
    url = f"{BASE}/entities/by-name/component/default/svc-01"
    for response in (
        client_token.get(url, {"format": "json"}),
        client_token.get(url, headers={"Accept": "application/json; indent=4"}),
        client_token.head(url),
    ):
        assert response.status_code == 200
    assert b"\n    " in client_token.get(url, headers={"Accept": "application/json; indent=4"}).content
    assert client_token.get(url, headers={"Accept": "text/html"}).status_code == 200  # the browsable API
    with _Statements() as queries:
        client_token.get(url, headers={"Accept": "application/json; indent=4"})
    assert len(queries) > 1  # not the lean path


@pytest.mark.django_db
def test_last_used_is_recorded_at_most_once_a_minute(client_token, token, catalog):
    url = f"{BASE}/entities/by-name/component/default/svc-01"
    client_token.get(url)
    token.refresh_from_db()
    assert token.last_used_at is not None
    first = token.last_used_at
    with _Statements() as queries:
        client_token.get(url)
    assert len(queries) == 1
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - timezone.timedelta(minutes=5))
    client_token.get(url)
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert token.last_used_at > first


@pytest.mark.django_db
def test_the_user_throttle_counts_lean_reads(client_token, catalog, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    throttling.reset()
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "3/min"})
    url = f"{BASE}/entities/by-name/component/default/svc-01"
    statuses = [client_token.get(url).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert int(client_token.get(url)["Retry-After"]) > 0
    throttling.reset()


def test_sliding_window_counter():
    throttling.reset()
    allowed = [throttling.allow(scope="t", key="k", num_requests=10, duration=60, now=120.0 + i) for i in range(12)]
    assert allowed[:10] == [None] * 10
    assert allowed[10] is not None
    assert allowed[11] is not None
    # Half-way into the next window, half of the previous window's 10 still count: 5 more are allowed.
    later = [throttling.allow(scope="t", key="k", num_requests=10, duration=60, now=210.0) for _ in range(6)]
    assert later[:5] == [None] * 5
    assert later[5] is not None
    # Two windows later nothing of the past counts.
    assert throttling.allow(scope="t", key="k", num_requests=10, duration=60, now=400.0) is None
    assert throttling.allow(scope="t", key="other", num_requests=10, duration=60, now=130.0) is None
    throttling.reset()


def test_statements_read_the_three_parts_in_one_round_trip():
    assert reads._BY_REF_SQL.count("UNION ALL") == 2
    assert "ORDER BY 1, 4, 5" in reads._BY_UID_SQL


@pytest.mark.django_db
def test_a_host_not_allowed_is_refused_as_before(client_token, catalog):
    url = f"{BASE}/entities/by-name/component/default/svc-01"
    lean = client_token.get(url, headers={"Host": "evil.example.com"})
    expected = _drf(client_token, url, Host="evil.example.com")
    assert lean.status_code == expected.status_code == 400
    assert lean.content == expected.content
    assert b"metadata" not in lean.content
