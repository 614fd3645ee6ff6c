from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import Entity
from scorecards.evaluation import entity_evaluate, scorecard_evaluate, scorecard_evaluate_all
from scorecards.models import Fact, Result, Score, Scorecard, Transition
from tests.catalog.factories import LocationFactory, ingest
from tests.catalog.oncall.factories import payments_org
from tests.scorecards.factories import ExemptionFactory
from tests.scorecards.orgs import OPS, ops_org, ops_scorecard, service

pytestmark = pytest.mark.django_db


def score(name: str) -> Score:
    return Score.objects.get(entity_ref=f"component:default/{name}", scorecard_ref=OPS)


def states(name: str) -> dict[str, str]:
    rows = Result.objects.filter(entity_ref=f"component:default/{name}", scorecard_ref=OPS)
    return {row.check_id: row.state for row in rows}


def test_each_service_gets_the_level_and_percentage_its_checks_give():
    ops_org()

    summary = scorecard_evaluate_all()

    assert summary.scorecards == 1
    assert (score("shop").level, score("shop").level_index, score("shop").percent) == ("Gold", 2, 100.0)
    assert (score("billing").level, round(score("billing").percent, 1)) == ("Bronze", 83.3)
    assert (score("gateway").level, score("gateway").percent) == ("Silver", 100.0)
    assert (score("indexer").level, score("indexer").level_index, score("indexer").percent) == ("", -1, 50.0)
    assert states("indexer") == {
        "owner": "fail",
        "lifecycle": "pass",
        "policy": "pass",
        "runbook": "fail",
        "rotation": "fail",
        "readme": "error",
        "service-type": "pass",
    }
    assert score("billing").counts == {"pass": 5, "fail": 1, "error": 1, "counted": 6}
    assert score("shop").owner_ref == "group:default/payments"


def test_a_source_that_fails_gives_error_and_leaves_the_level_unconfirmed_not_failed():
    ops_org()

    scorecard_evaluate_all()

    readme = Result.objects.get(entity_ref="component:default/gateway", check_id="readme")
    assert readme.state == "error"
    assert "no repository is known for this entity" in readme.evidence["message"]
    assert readme.evidence["source"] == "git"
    # Gold could not be confirmed, so the service holds Silver: error is neither pass nor fail.
    assert score("gateway").level == "Silver"


def test_an_exempt_check_counts_as_passing_and_a_filtered_out_check_is_not_applicable():
    ops_org()
    ExemptionFactory(entity_ref="component:default/beta", scorecard_ref=OPS, check_id="readme", status="approved")

    scorecard_evaluate_all()

    readme = Result.objects.get(entity_ref="component:default/beta", check_id="readme")
    assert (readme.state, readme.exempt) == ("error", True)
    assert states("beta")["service-type"] == "not-applicable"
    assert (score("beta").level, score("beta").percent) == ("Gold", 100.0)
    assert score("beta").counts["exempt"] == 1


def test_an_expired_or_pending_exemption_does_not_count():
    ops_org()
    ExemptionFactory(
        entity_ref="component:default/beta",
        scorecard_ref=OPS,
        check_id="readme",
        status="approved",
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    ExemptionFactory(entity_ref="component:default/billing", scorecard_ref=OPS, check_id="runbook", status="pending")

    scorecard_evaluate_all()

    assert score("beta").level == "Silver"
    assert score("billing").level == "Bronze"


def test_a_repository_fact_that_cannot_be_confirmed_for_too_long_turns_stale():
    repos = ops_org()
    scorecard_evaluate_all()
    assert states("shop")["readme"] == "pass"
    shutil.rmtree(repos["shop"])
    Fact.objects.filter(entity_ref="component:default/shop", key="repo.file:README.md").update(
        collected_at=timezone.now() - timedelta(days=2)
    )

    entity_evaluate(entity_ref="component:default/shop")

    readme = Result.objects.get(entity_ref="component:default/shop", check_id="readme")
    assert readme.state == "stale"
    assert "was collected 2d ago, more than the 1d allowed" in readme.evidence["message"]
    assert (score("shop").level, score("shop").percent) == ("Silver", 100.0)


def test_a_repository_that_cannot_be_read_keeps_its_last_value_while_it_is_fresh():
    repos = ops_org()
    scorecard_evaluate_all()
    shutil.rmtree(repos["shop"])

    entity_evaluate(entity_ref="component:default/shop")

    assert states("shop")["readme"] == "pass"
    assert score("shop").level == "Gold"


def test_evaluating_again_writes_no_transition_and_keeps_changed_at():
    ops_org()
    scorecard_evaluate_all()
    first = Transition.objects.count()
    changed = dict(Result.objects.values_list("id", "changed_at"))
    changed_by_check = {(r.entity_ref, r.check_id): r.changed_at for r in Result.objects.all()}

    summary = scorecard_evaluate_all()
    entity_evaluate(entity_ref="component:default/shop")

    assert summary.transitions == 0
    assert Transition.objects.count() == first
    assert {(r.entity_ref, r.check_id): r.changed_at for r in Result.objects.all()} == changed_by_check
    assert len(changed) == Result.objects.count()


def test_the_first_evaluation_records_each_check_state_and_level_once():
    ops_org()

    scorecard_evaluate_all()

    levels = Transition.objects.filter(entity_ref="component:default/shop", kind="level")
    assert [(t.from_value, t.to_value, t.level_index, t.percent) for t in levels] == [("", "Gold", 2, 100.0)]
    checks = Transition.objects.filter(entity_ref="component:default/shop", kind="check")
    assert sorted(t.check_id for t in checks) == sorted(states("shop"))
    assert {t.to_value for t in checks} == {"pass"}


def test_a_change_writes_one_transition_per_changed_check_and_one_for_the_level():
    location = LocationFactory.create()
    ops_org(location=location)
    scorecard_evaluate_all()
    before = Transition.objects.count()
    billing_changed_at = Result.objects.get(entity_ref="component:default/billing", check_id="owner").changed_at
    docs = payments_org(
        extra=[
            ops_scorecard(),
            service("shop", runbook=True),
            service("billing"),
            service("gateway"),
            service("beta", lifecycle="experimental"),
        ]
    )
    ingest(docs, location=location)

    entity_evaluate(entity_ref="component:default/billing")

    new = Transition.objects.order_by("id")[before:]
    assert [(t.kind, t.check_id, t.from_value, t.to_value) for t in new] == [
        ("check", "runbook", "fail", "pass"),
        ("level", "", "Bronze", "Silver"),
    ]
    assert new[1].owner_ref == "group:default/payments"
    runbook = Result.objects.get(entity_ref="component:default/billing", check_id="runbook")
    assert runbook.changed_at > billing_changed_at
    owner = Result.objects.get(entity_ref="component:default/billing", check_id="owner")
    assert owner.changed_at == billing_changed_at


def test_an_entity_gone_from_the_catalog_loses_its_results_with_a_transition_to_no_level():
    ops_org()
    scorecard_evaluate_all()
    Entity.objects.filter(ref="component:default/billing").delete()

    entity_evaluate(entity_ref="component:default/billing")

    assert not Score.objects.filter(entity_ref="component:default/billing").exists()
    assert not Result.objects.filter(entity_ref="component:default/billing").exists()
    assert not Fact.objects.filter(entity_ref="component:default/billing").exists()
    last = Transition.objects.filter(entity_ref="component:default/billing", kind="level").last()
    assert last is not None
    assert (last.from_value, last.to_value, last.level_index) == ("Bronze", "", -1)
    assert Score.objects.filter(entity_ref="component:default/shop").exists()


def test_an_entity_that_no_longer_matches_the_filter_loses_its_results():
    location = LocationFactory.create()
    ops_org(location=location)
    scorecard_evaluate_all()
    ingest(payments_org(extra=[ops_scorecard(filter="kind=component,spec.lifecycle=production")]), location=location)

    scorecard_evaluate(scorecard_ref=OPS)

    assert not Score.objects.filter(entity_ref="component:default/beta").exists()
    assert Score.objects.filter(entity_ref="component:default/checkout").exists()


def test_a_scorecard_gone_from_the_catalog_is_forgotten_by_the_sweep():
    ops_org()
    scorecard_evaluate_all()
    Entity.objects.filter(ref=OPS).delete()
    to_none = Transition.objects.filter(scorecard_ref=OPS, kind="level", to_value="")
    before = to_none.count()

    summary = scorecard_evaluate_all()

    assert not Score.objects.filter(scorecard_ref=OPS).exists()
    assert not Result.objects.filter(scorecard_ref=OPS).exists()
    assert not Scorecard.objects.filter(ref=OPS).exists()
    assert summary.removed == to_none.count() - before == 7


def test_the_definition_that_produced_the_results_is_kept():
    ops_org()

    scorecard_evaluate_all()

    row = Scorecard.objects.get(ref=OPS)
    assert row.title == "Operations"
    assert row.owner_ref == "group:default/payments"
    assert row.definition["levels"] == [{"name": "Bronze"}, {"name": "Silver"}, {"name": "Gold"}]
    assert [check["id"] for check in row.definition["checks"]][:2] == ["owner", "lifecycle"]
    assert len(row.definition_hash) == 64
    assert row.evaluated_at is not None


def test_facts_are_stored_with_their_source_and_time():
    ops_org()

    scorecard_evaluate_all()

    facts = {f.key: f for f in Fact.objects.filter(entity_ref="component:default/shop")}
    assert set(facts) == {"catalog.entity", "catalog.owner", "oncall.policy", "oncall.rotation", "repo.file:README.md"}
    readme = facts["repo.file:README.md"]
    assert readme.value == {"exists": True, "text": "# Shop\n", "truncated": False}
    assert readme.source.startswith("git:")
    assert readme.source.endswith(":README.md")
    assert "#HEAD@" in readme.source
    assert facts["oncall.policy"].source == "oncall:escalationpolicy:default/payments"
    assert facts["catalog.owner"].value["members"][0] == "user:default/alice"


def test_the_sweep_costs_the_same_number_of_queries_for_many_services(django_assert_max_num_queries):
    ops_org(extra=[service(f"svc-{n}", runbook=n % 2 == 0) for n in range(60)])

    with django_assert_max_num_queries(40):
        summary = scorecard_evaluate_all()

    assert summary.entities == 67  # 60 + shop, billing, gateway, beta, checkout, indexer, orphan-service
    assert Result.objects.count() == 67 * 7


def test_one_entity_costs_a_few_queries(django_assert_max_num_queries):
    ops_org()
    scorecard_evaluate_all()

    with django_assert_max_num_queries(30):
        entity_evaluate(entity_ref="component:default/billing")


def test_a_ref_in_another_case_is_evaluated_as_the_same_entity():
    ops_org()

    entity_evaluate(entity_ref="  Component:Default/Shop ")

    assert score("shop").level == "Gold"


def test_a_scorecard_with_an_unknown_rule_type_is_refused_at_registration():
    card = ops_scorecard(checks=[{"id": "x", "level": "Bronze", "title": "X", "rule": {"type": "repo.nope"}}])

    result = ingest(payments_org(extra=[card]), location=LocationFactory.create())

    messages = [error["message"] for error in result.errors]
    assert len(messages) == 1
    assert "spec.checks[0].rule.type" in messages[0]
    assert "unknown rule type 'repo.nope'" in messages[0]
    assert not Entity.objects.filter(ref=OPS).exists()


def test_the_demo_scorecards_give_a_spread_of_levels_over_the_demo_services(var_dir):
    import io

    from catalog import demo as catalog_demo
    from scaffolder import demo as scaffolder_demo
    from scorecards import demo

    catalog_demo.load(stdout=io.StringIO())
    scaffolder_demo.load(stdout=io.StringIO())
    out = io.StringIO()

    demo.load(stdout=out)

    readiness = Score.objects.filter(scorecard_ref="scorecard:default/oncall-readiness")
    assert readiness.get(entity_ref="component:default/shipping-service").level == "Gold"
    paved = {
        score.entity_ref.rpartition("/")[2]: score.level
        for score in Score.objects.filter(scorecard_ref="scorecard:default/paved-path")
    }
    # portal/demo/repositories.yaml: the services created from a template, as their teams left them.
    assert {name: level for name, level in paved.items() if level} == {
        "fraud-scoring": "Gold",
        "warehouse-loader": "Gold",
        "shipping-service": "Gold",
        "tracking-service": "Gold",
        "accounts-service": "Silver",
        "reconciliation-job": "Silver",
        "data-quality-checks": "Silver",
        "auth-service": "Bronze",
        "returns-service": "Bronze",
        "search-indexer": "Bronze",
        "recommendations": "Bronze",
    }
    results = Result.objects.filter(scorecard_ref="scorecard:default/paved-path")
    readme = {row.entity_ref.rpartition("/")[2]: row.state for row in results.filter(check_id="readme")}
    assert readme["push-notifications"] == "fail"
    # Services with no repository on Paved's git host: their file checks could not be checked, never failed.
    assert readme["payments-service"] == "error"
    behind = results.get(entity_ref="component:default/accounts-service", check_id="template-current")
    assert (behind.state, behind.evidence["value"]["behind"]) == ("fail", 1)
    # The demo templates are tagged v0.8.0, v0.9.0 and v1.0.0: a service created from 0.8.0 is two versions behind.
    oldest = results.get(entity_ref="component:default/recommendations", check_id="template-current")
    assert (oldest.state, oldest.evidence["value"]["behind"], oldest.evidence["value"]["latest"]) == (
        "fail",
        2,
        "1.0.0",
    )
    text = out.getvalue()
    assert "Demo repositories: 12 services' repositories on Paved's git host (12 created now)." in text
    assert "Scorecard On-call readiness: 38 services (7 no level, 5 Bronze, 23 Silver, 3 Gold)." in text
    assert "Scorecard Paved path: 33 services (22 no level, 4 Bronze, 3 Silver, 4 Gold)." in text
    transitions = Transition.objects.count()
    again = io.StringIO()
    demo.load(stdout=again)
    assert Transition.objects.count() == transitions
    assert "(0 created now)" in again.getvalue()


def test_an_approved_exemption_that_expires_reverts_its_check_by_itself(django_capture_on_commit_callbacks):
    from scorecards import tasks

    ops_org()
    exemption = ExemptionFactory(
        entity_ref="component:default/billing", scorecard_ref=OPS, check_id="runbook", status="approved"
    )
    scorecard_evaluate_all()
    runbook = Result.objects.get(entity_ref="component:default/billing", check_id="runbook")
    assert (runbook.state, runbook.exempt) == ("fail", True)
    # Exempt, the runbook counts as passing: Silver, and Gold waits on the README nobody could check.
    assert (score("billing").level, score("billing").percent) == ("Silver", 100.0)

    exemption.expires_at = timezone.now() - timedelta(seconds=1)
    exemption.save(update_fields=["expires_at"])
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.exemptions_expire.apply().get() == 1  # what beat runs every five minutes

    exemption.refresh_from_db()
    runbook = Result.objects.get(entity_ref="component:default/billing", check_id="runbook")
    assert exemption.status == "expired"
    assert (runbook.state, runbook.exempt) == ("fail", False)
    assert (score("billing").level, round(score("billing").percent, 1)) == ("Bronze", 83.3)
    assert Transition.objects.filter(
        entity_ref="component:default/billing", kind="level", from_value="Silver", to_value="Bronze"
    ).exists()
