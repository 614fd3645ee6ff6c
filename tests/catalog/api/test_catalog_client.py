"""Backstage's own @backstage/catalog-client (from npm) against a live Paved: it must work unchanged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from catalog.models import Entity, Location
from portal.services import apitoken_create
from tests.catalog.factories import ComponentDictFactory
from tests.portal.factories import UserFactory

SCRIPT = Path(__file__).with_name("client_check.mjs")
NODE = shutil.which("node")
CLIENT = Path(__file__).resolve().parents[3] / "node_modules" / "@backstage" / "catalog-client"

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


def test_backstage_catalog_client_works_unchanged(live_server, transactional_db, api_catalog, settings, tmp_path):
    assert CLIENT.is_dir(), "run `npm ci` first: @backstage/catalog-client is a devDependency"
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    registered = tmp_path / "catalog-info.yaml"
    registered.write_text(yaml.safe_dump(ComponentDictFactory(name="registered-by-client", owner="team-a")))
    token = apitoken_create(user=UserFactory(username="alice"), name="catalog-client check").raw
    env = {
        **os.environ,
        "PAVED_BASE_URL": live_server.url,
        "PAVED_TOKEN": token,
        "PAVED_LOCATION_TARGET": str(registered),
    }
    run = subprocess.run(
        [NODE, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120, cwd=CLIENT.parents[2], check=False
    )
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])

    assert summary["services"] == ["billing", "payments"]
    assert summary["apisOrUsers"] == ["alice", "billing-api", "bob"]
    assert summary["ordered"] == ["Petstore-Web", "payments", "billing"]
    assert summary["byRef"]["name"] == "billing"
    assert "ownedBy group:default/team-a" in summary["byRef"]["relations"]
    assert summary["missing"] is True
    total = Entity.objects.exclude(name="registered-by-client").count()
    assert summary["totalItems"] == total
    assert sorted(summary["queried"]) == sorted(
        Entity.objects.exclude(name="registered-by-client").values_list("name", flat=True)
    )
    assert summary["queried"] == sorted(summary["queried"], key=str.lower)
    assert summary["pages"] == (total + 1) // 2
    assert summary["fullText"] == ["Petstore-Web"]
    assert summary["byRefs"] == ["payments", None, "billing-api"]
    assert summary["facets"]["kind"] == [{"value": "Component", "count": 3}]
    assert sorted((f["value"], f["count"]) for f in summary["facets"]["spec.type"]) == [("service", 2), ("website", 1)]
    assert summary["validation"]["valid"] is False
    assert summary["validation"]["errors"] >= 1
    assert summary["dryRun"]["exists"] is False
    assert "registered-by-client" in summary["dryRun"]["entities"]
    assert summary["added"]["type"] == "file"
    assert summary["added"]["target"] == str(registered)
    assert summary["locationById"] == str(registered)
    assert summary["locations"] == 2
    assert summary["removed"] is True
    assert not Location.objects.filter(pk=summary["added"]["id"]).exists()
