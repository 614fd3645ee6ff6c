"""Two web processes never serve an entity older than its last answered refresh.

Two gunicorn servers (one process each, so the test knows which process answers) and a real Celery worker on the test
database. Each round warms both processes with the entity (by name, by uid, by query, by refs), edits its file,
asks one of them (alternately) to refresh it, and reads it from both, alternating, until the new version shows. From
then on — and at the latest once the worker's refresh has answered — both processes must serve the new version, by
every path: a process that kept anything of the entity in its own memory would serve the old one and fail here.
"""

from __future__ import annotations

import socket
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from catalog.models import Location
from tests.catalog.factories import ComponentDictFactory, write_docs
from tests.catalog.processes import process_env, running_web
from tests.portal.factories import AdminFactory, ApiTokenFactory
from tests.worker import running_workers, wait_for, worker_logs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

TOKEN = "pvd_staleness-test-token"
ROUNDS = 12
NAME = "fresh-service"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _write(path: Path, version: int) -> None:
    doc = ComponentDictFactory(name=NAME, owner="team-a", dependsOn=[f"component:dependency-{version}"])
    doc["metadata"]["description"] = f"version {version}"
    write_docs(path, [doc, ComponentDictFactory(name="neighbour", owner="team-a")])


def _versions(session: requests.Session, base: str, uid: str) -> dict[str, str]:
    """The version each read path of `base` serves: by name, by uid, by query, by refs, and by-name's relations."""
    api = f"{base}/api/catalog"
    by_name = session.get(f"{api}/entities/by-name/component/default/{NAME}", timeout=30)
    by_uid = session.get(f"{api}/entities/by-uid/{uid}", timeout=30)
    by_query = session.get(f"{api}/entities/by-query", params={"filter": f"metadata.name={NAME}"}, timeout=30)
    by_refs = session.post(f"{api}/entities/by-refs", json={"entityRefs": [f"component:default/{NAME}"]}, timeout=30)
    for response in (by_name, by_uid, by_query, by_refs):
        assert response.status_code == 200, response.text
    items = by_query.json()["items"]
    return {
        "by-name": _described(by_name.json()),
        "by-uid": _described(by_uid.json()),
        "by-query": _described(items[0]) if items else "none",
        "by-refs": _described(by_refs.json()["items"][0]),
        "relations of by-name": next(
            (r["targetRef"].rsplit("-", 1)[1] for r in by_name.json()["relations"] if r["type"] == "dependsOn"), "?"
        ),
    }


def _described(entity: dict[str, Any]) -> str:
    return str(entity["metadata"]["description"]).removeprefix("version ")


def _last_refresh(location_id: str) -> datetime | None:
    return Location.objects.get(pk=location_id).last_refresh_at


def test_two_web_processes_never_serve_an_entity_older_than_its_answered_refresh(tmp_path, settings, monkeypatch):
    root = tmp_path / "catalog"
    root.mkdir()
    settings.PAVED_CATALOG_FILE_ROOTS = [str(root)]
    monkeypatch.setenv("PAVED_CATALOG_FILE_ROOTS", str(root))
    monkeypatch.setenv("PAVED_CATALOG_TRUSTED_LOCATIONS", f"{root}/*")
    queue = f"paved-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("PAVED_CELERY_QUEUE", queue)
    monkeypatch.setenv("ALLOWED_HOSTS", "127.0.0.1")
    ApiTokenFactory(user=AdminFactory(), raw=TOKEN)
    path = root / "service.yaml"
    _write(path, 0)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    seen: list[tuple[int, str, dict[str, str]]] = []
    # Where the broker is Redis, the two processes share it as their cache too (PAVED_CACHE_URL, as production is
    # told to): cached counts must then stay right across processes; otherwise each keeps its own memory.
    broker = settings.CELERY_BROKER_URL
    shared = {"PAVED_CACHE_URL": broker} if broker.startswith("redis://") else {}

    with (
        running_workers(1, queue=queue) as workers,
        running_web(port=_free_port(), processes=1, env=process_env(**shared)) as first,
        running_web(port=_free_port(), processes=1, env=process_env(**shared)) as second,
    ):
        bases = [first, second]
        for base in bases:
            assert wait_for(lambda base=base: _answers(f"{base}/healthz"), timeout=60)
        created = session.post(f"{first}/api/catalog/locations", json={"type": "file", "target": str(path)}, timeout=60)
        assert created.status_code == 201, created.text
        location_id = created.json()["location"]["id"]
        by_name = f"/api/catalog/entities/by-name/component/default/{NAME}"
        assert wait_for(lambda: session.get(first + by_name, timeout=30).status_code == 200, timeout=120), worker_logs(
            workers
        )[-4000:]
        uid = session.get(first + by_name, timeout=30).json()["metadata"]["uid"]

        for version in range(1, ROUNDS + 1):
            old, new = str(version - 1), str(version)
            for base in bases:  # warm whatever either process might keep
                for _ in range(3):
                    assert set(_versions(session, base, uid).values()) == {old}
            before = _last_refresh(location_id)
            _write(path, version)
            asker = bases[version % 2]
            refreshed = session.post(
                f"{asker}/api/catalog/refresh", json={"entityRef": f"component:default/{NAME}"}, timeout=60
            )
            assert refreshed.status_code == 200, refreshed.text

            # Read from both processes, alternately, until the refresh has answered (the worker recorded it).
            shown_new = False
            finished = False
            for attempt in range(3000):
                if not finished:
                    finished = _last_refresh(location_id) != before
                base = bases[(attempt + version) % 2]
                versions = _versions(session, base, uid)
                seen.append((version, base, versions))
                if shown_new or finished:
                    # Once a process served the new version, or the refresh answered, nothing older may appear.
                    assert set(versions.values()) == {new}, (version, base, versions, seen[-6:])
                shown_new = shown_new or new in versions.values()
                if finished and attempt >= 3:
                    break
            assert finished, worker_logs(workers)[-4000:]
            for base in bases:
                assert set(_versions(session, base, uid).values()) == {new}, (version, base)
        log = worker_logs(workers)

    assert "Traceback" not in log, log[-4000:]
    assert len({base for _, base, _ in seen}) == 2
