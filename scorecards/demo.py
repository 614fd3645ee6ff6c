"""The demo's scorecards (portal/demo/org/scorecards.yaml, part of the demo organisation): evaluated once by
`manage.py demo_setup`, after the organisation and the templates are loaded. Idempotent: a second run writes no
transition for what did not change."""

from __future__ import annotations

from typing import TextIO

from scorecards.evaluation import EvaluationSummary, scorecard_evaluate_all
from scorecards.results import scorecard_views


def load(*, stdout: TextIO) -> EvaluationSummary:
    summary = scorecard_evaluate_all()
    for view in scorecard_views():
        shares = ", ".join(f"{share.count} {share.level or 'no level'}" for share in view.distribution)
        stdout.write(f"Scorecard {view.title}: {view.total} services ({shares}).\n")
    return summary
