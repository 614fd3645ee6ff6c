from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from scorecards.management.commands.scorecards import ProgressBar
from scorecards.models import Score
from tests.scorecards.orgs import OPS, ops_org

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("scorecards", "evaluate", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_evaluate_grades_every_entity_and_says_what_it_did(capsys):
    ops_org()

    out, _ = run()

    assert out.startswith("Evaluated 7 entities on 1 scorecards in ")
    assert "7 scores, 49 check results" in out
    assert Score.objects.filter(scorecard_ref=OPS).count() == 7
    # Every catalog entity is looked at (people, teams, schedules...); seven match the scorecard.
    assert "[##############################] 24/24 entities" in capsys.readouterr().err


def test_evaluate_one_entity_or_one_scorecard():
    ops_org()

    out, _ = run("--entity", "component:default/shop", "--no-progress")
    assert out.startswith("Evaluated 1 entities")
    assert list(Score.objects.values_list("entity_ref", flat=True)) == ["component:default/shop"]

    out, _ = run("--scorecard", "default/ops", "--no-progress")
    assert out.startswith("Evaluated 7 entities")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--entity", "shop"], "--entity 'shop'"),
        (["--entity", "a:b:c/d"], "expected kind:namespace/name"),
        (["--scorecard", "component:default/shop"], "a scorecard ref is scorecard:namespace/name"),
        (["--scorecard", "scorecard:default/nope"], "no Scorecard entity of that ref is in the catalog"),
    ],
)
def test_bad_refs_are_refused_saying_which_option(args, message):
    ops_org()

    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        run(*args)


def test_the_progress_bar_draws_the_last_line_on_a_stream_that_is_not_a_terminal():
    stream = io.StringIO()
    bar = ProgressBar(stream, width=10)

    bar(5, 10)
    bar(10, 10)

    assert stream.getvalue().startswith("[##########] 10/10 entities, ")
    assert stream.getvalue().count("\n") == 1
