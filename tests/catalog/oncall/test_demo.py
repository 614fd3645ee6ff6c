"""The demo organisation's on-call files: they ingest cleanly and every team has someone on call."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from catalog import demo
from catalog.models import Entity
from catalog.oncall.selectors import entity_oncall

pytestmark = pytest.mark.django_db

# A Saturday night in Europe: the catalog-search primary (office hours only) has a gap.
SATURDAY_NIGHT = datetime(2026, 3, 7, 23, 0, tzinfo=UTC)


@pytest.fixture
def demo_org():
    location = demo.load(stdout=io.StringIO())
    location.refresh_from_db()
    return location


def test_demo_oncall_files_ingest_without_errors(demo_org):
    assert [e for e in demo_org.errors if "oncall" in str(e.get("file"))] == []
    assert Entity.objects.filter(kind="Schedule").count() == 17
    assert Entity.objects.filter(kind="EscalationPolicy").count() == 9


def test_every_demo_team_and_its_services_have_a_policy_with_someone_on_call(demo_org):
    teams = Entity.objects.filter(kind="Group", spec_type="team")
    assert teams.count() == 9
    for team in teams:
        card = entity_oncall(ref=team.ref, at=SATURDAY_NIGHT)
        assert card.now is not None, team.ref
        assert card.now.policy.policy is not None, (team.ref, card.now.policy.problem)
        assert any(level.on_call for level in card.now.levels), team.ref
    for component in Entity.objects.filter(kind="Component", owner_ref__in=[t.ref for t in teams])[:20]:
        assert entity_oncall(ref=component.ref, at=SATURDAY_NIGHT).lookup.via == "owner"


def test_demo_has_the_deliberate_weak_spots(demo_org):
    search = entity_oncall(ref="group:default/catalog-search", at=SATURDAY_NIGHT)
    assert search.now is not None
    assert search.now.first_level_gap
    assert search.now.summary.startswith("Level 1 has a gap right now, so level 2 (")
    data = entity_oncall(ref="group:default/data", at=SATURDAY_NIGHT)
    assert data.now is not None
    assert len(data.now.levels) == 1
    fulfilment = entity_oncall(ref="group:default/fulfilment", at=SATURDAY_NIGHT)
    assert fulfilment.now is not None
    assert [e.person.ref for e in fulfilment.now.levels[1].on_call] == ["user:default/hannah.meyer"]
