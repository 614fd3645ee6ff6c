from __future__ import annotations

import time

import pytest

from catalog import services
from catalog.models import Location
from portal.permissions import SYSTEM
from scorecards import events, tasks
from scorecards.models import Result, Score, Transition
from tests.catalog.factories import LocationFactory, ingest, write_docs
from tests.catalog.oncall.factories import payments_org
from tests.scorecards.orgs import OPS, commit, make_repo, ops_org, ops_scorecard, service
from tests.worker import running_worker, wait_for, worker_log


def state(name: str, check_id: str) -> str | None:
    row = Result.objects.filter(entity_ref=f"component:default/{name}", scorecard_ref=OPS, check_id=check_id).first()
    return row.state if row is not None else None


def level(name: str) -> str | None:
    row = Score.objects.filter(entity_ref=f"component:default/{name}", scorecard_ref=OPS).first()
    return row.level if row is not None else None


def test_a_catalog_refresh_evaluates_what_it_changed_once_it_commits(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ops_org()

    assert level("shop") == "Gold"
    assert level("billing") == "Bronze"


def test_a_rolled_back_refresh_evaluates_nothing(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ops_org()

    assert callbacks  # the listener waits for the commit, which never comes here
    assert not Score.objects.exists()


def test_a_changed_team_re_scores_the_services_it_owns(db, django_capture_on_commit_callbacks):
    location = LocationFactory.create()
    with django_capture_on_commit_callbacks(execute=True):
        ops_org(location=location)
    assert state("billing", "owner") == "pass"
    docs = payments_org(extra=[ops_scorecard(), service("shop"), service("billing", runbook=False), service("gateway")])
    payments = next(doc for doc in docs if doc["kind"] == "Group" and doc["metadata"]["name"] == "payments")
    payments["spec"]["members"] = ["alice"]
    for doc in docs:
        if doc["kind"] == "User":
            doc["spec"]["memberOf"] = []

    with django_capture_on_commit_callbacks(execute=True):
        ingest(docs, location=location)

    # billing itself did not change: its owner did.
    assert state("billing", "owner") == "fail"
    assert state("gateway", "owner") == "fail"
    assert state("indexer", "owner") == "fail"  # search's single member, unchanged


def test_a_changed_schedule_re_scores_the_services_its_policy_pages_for(db, django_capture_on_commit_callbacks):
    location = LocationFactory.create()
    with django_capture_on_commit_callbacks(execute=True):
        ops_org(location=location)
    assert state("gateway", "rotation") == "pass"
    docs = payments_org(extra=[ops_scorecard(), service("shop"), service("billing", runbook=False), service("gateway")])
    primary = next(doc for doc in docs if doc["metadata"]["name"] == "payments-primary")
    primary["spec"]["layers"][0]["members"] = ["alice", "bob"]

    with django_capture_on_commit_callbacks(execute=True):
        ingest(docs, location=location)

    assert state("gateway", "rotation") == "fail"
    assert level("gateway") == "Silver"


def test_dependents_of_a_policy_are_the_entities_annotated_with_it_and_what_their_team_owns(db):
    ops_org()

    found = events.dependents(refs=["escalationpolicy:default/payments"])

    assert {"group:default/payments", "component:default/checkout", "component:default/shop"} <= found
    assert "component:default/indexer" not in found


def test_a_changed_scorecard_evaluates_every_entity_on_it(db, django_capture_on_commit_callbacks):
    location = LocationFactory.create()
    with django_capture_on_commit_callbacks(execute=True):
        ops_org(location=location)
    docs = payments_org(extra=[ops_scorecard(levels=["Bronze", "Silver", "Gold", "Platinum"])])
    docs += [
        service("shop"),
        service("billing", runbook=False),
        service("gateway"),
        service("beta", lifecycle="experimental"),
    ]

    with django_capture_on_commit_callbacks(execute=True):
        ingest(docs, location=location)

    assert Score.objects.get(entity_ref="component:default/indexer", scorecard_ref=OPS).evaluated_at is not None
    distribution = set(Score.objects.filter(scorecard_ref=OPS).values_list("entity_ref", flat=True))
    assert "component:default/checkout" in distribution


def test_a_file_added_to_a_repository_flips_the_check_through_the_poll(db):
    repository = make_repo("poll", {"src/app.py": "print()\n"})
    ops_org(extra=[service("docs", repo=repository)])
    tasks.evaluate_all.delay()
    assert state("docs", "readme") == "fail"
    before = Transition.objects.count()

    assert tasks.repositories_poll.delay().get() == 0  # nothing moved: nothing evaluated

    commit(repository, {"README.md": "# Docs\n"})
    moved = tasks.repositories_poll.delay().get()

    assert moved == 1
    assert state("docs", "readme") == "pass"
    assert level("docs") == "Gold"
    assert Transition.objects.filter(pk__gt=0).count() == before + 2  # the check and the level, once each
    assert tasks.repositories_poll.delay().get() == 0


def test_the_tasks_are_idempotent(db):
    ops_org()
    tasks.evaluate_all.delay()
    count = Transition.objects.count()

    tasks.evaluate_entity.delay(entity_ref="component:default/shop")
    tasks.evaluate_entities.delay(entity_refs=["component:default/shop", "component:default/billing"])
    tasks.evaluate_scorecard.delay(scorecard_ref=OPS)
    tasks.evaluate_all.delay()

    assert Transition.objects.count() == count


@pytest.mark.parametrize("ref", ["", "not a ref", "component:default/" + "x" * 500, "--upload-pack=x"])
def test_an_evaluation_of_a_ref_that_is_not_in_the_catalog_does_nothing(db, ref):
    tasks.evaluate_entity.delay(entity_ref=ref)
    tasks.evaluate_scorecard.delay(scorecard_ref=ref)

    assert not Score.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_shows_an_edited_entity_through_the_api_without_a_manual_run(
    tmp_path, settings, monkeypatch, client_for
):
    # The worker runs with portal.settings, so the file roots reach it through the environment.
    monkeypatch.setenv("PAVED_CATALOG_FILE_ROOTS", str(tmp_path))
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    org = tmp_path / "org.yaml"
    write_docs(org, payments_org(extra=[ops_scorecard(), service("shop", runbook=False)]))
    client = client_for("reader")
    url = "/api/scorecards/results/by-entity/component/default/shop"

    def runbook_state() -> str | None:
        response = client.get(url)
        if response.status_code != 200 or not response.json()["scorecards"]:
            return None
        checks = {check["id"]: check for check in response.json()["scorecards"][0]["checks"]}
        return str(checks["runbook"]["state"])

    with running_worker() as worker:
        location = services.location_create(type="file", target=str(org), trusted=True, actor=SYSTEM)
        assert wait_for(lambda: runbook_state() == "fail", timeout=60), worker_log(worker)

        write_docs(org, payments_org(extra=[ops_scorecard(), service("shop", runbook=True)]))
        started = time.monotonic()
        services.location_refresh(location=Location.objects.get(pk=location.pk))

        assert wait_for(lambda: runbook_state() == "pass", timeout=60), worker_log(worker)
        assert time.monotonic() - started < 60


def test_without_any_scorecard_a_catalog_change_enqueues_nothing(db, django_capture_on_commit_callbacks, monkeypatch):
    sent: list[str] = []
    monkeypatch.setattr(events, "_send", lambda name, **kwargs: sent.append(name))

    with django_capture_on_commit_callbacks(execute=True):
        ingest(payments_org(), location=LocationFactory.create())

    assert sent == []
