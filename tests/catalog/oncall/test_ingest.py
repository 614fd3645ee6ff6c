"""Schedules and escalation policies go through catalog ingestion with the engine's deep checks attached."""

from __future__ import annotations

import pytest

from catalog.models import Entity, Relation
from tests.catalog.factories import ingest
from tests.catalog.oncall.factories import EscalationPolicyDictFactory, ScheduleDictFactory

pytestmark = pytest.mark.django_db


def _messages(result, ref):
    """(path, what is wrong) of every recorded error of `ref`; the message also names the file and document."""
    out = set()
    for error in result.errors:
        if error["entityRef"] == ref:
            assert error["message"].startswith("/srv/catalog/")
            assert f"({ref})" in error["message"]
            out.add((error["path"], error["message"].split(f"{error['path']}: ", 1)[1]))
    return out


def test_bad_schedule_yaml_is_rejected_with_every_problem_named():
    bad = ScheduleDictFactory(
        name="broken",
        timezone="Mars/Olympus_Mons",
        layers=[
            {"name": "a", "start": "2026-01-05T09:00", "turn": "0h", "members": ["user:alice", "group:payments"]},
            {
                "name": "b",
                "start": "2026-01-05T09:00",
                "turn": "1d",
                "members": ["bob"],
                "restrictions": [
                    {"daily": {"from": "09:00", "to": "17:00"}},
                    {"daily": {"from": "12:00", "to": "18:00"}},
                    {"daily": {"from": "08:00", "to": "08:00"}},
                ],
            },
        ],
    )
    result = ingest([bad])
    messages = _messages(result, "schedule:default/broken")
    assert ("spec.timezone", "unknown time zone 'Mars/Olympus_Mons'") in messages
    assert ("spec.layers[0].turn", "expected <n>h|d|w, found '0h'") in messages
    assert ("spec.layers[0].members[1]", "members must be user refs, found 'group:payments'") in messages
    assert any(path == "spec.layers[1].restrictions[1]" and "overlap" in m for path, m in messages)
    assert ("spec.layers[1].restrictions[2]", "empty window: from and to are both 08:00") in messages
    assert not Entity.objects.filter(ref="schedule:default/broken").exists()


def test_bad_policy_yaml_is_rejected_with_the_path_of_the_target():
    result = ingest([EscalationPolicyDictFactory(name="payments", levels=[["group:payments"]])])
    messages = _messages(result, "escalationpolicy:default/payments")
    assert ("spec.levels[0].targets[0]", "targets must be schedule: or user: refs, found 'group:payments'") in messages


def test_an_invalid_change_keeps_the_last_good_schedule_with_the_errors_attached():
    from tests.catalog.factories import LocationFactory

    location = LocationFactory()
    ingest([ScheduleDictFactory(name="primary")], location=location)
    ingest([ScheduleDictFactory(name="primary", timezone="Nowhere/Land")], location=location)
    entity = Entity.objects.get(ref="schedule:default/primary")
    assert entity.data["spec"]["timezone"] == "Europe/Berlin"
    assert any("unknown time zone 'Nowhere/Land'" in error["message"] for error in entity.errors)


def test_schedules_and_policies_relate_to_their_owner_team():
    ingest(
        [
            ScheduleDictFactory(name="primary"),
            EscalationPolicyDictFactory(name="payments", levels=[["schedule:primary"]]),
        ]
    )
    assert Relation.objects.filter(source_ref="group:default/payments", type="ownerOf").count() == 2
    assert Entity.objects.get(ref="schedule:default/primary").owner_ref == "group:default/payments"
