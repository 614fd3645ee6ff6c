"""Paved's scorecard engine: parse Scorecard entities and grade one entity against one, without Django.

Modules (import from them directly; this package re-exports nothing, so that ``scorecards.checks`` can use the
vocabulary in ``model`` while the engine uses the check registry, without an import cycle):

- ``scorecards.engine.model``: the dataclasses — ``State``, ``Level``, ``CheckDef``, ``ScorecardDef``, ``Fact``,
  ``Facts``, ``Evidence``, ``CheckResult``, ``ScorecardResult``, ``Problem``.
- ``scorecards.engine.scorecard``: ``parse_scorecard``, ``validate_scorecard_spec`` and ``entity_problems`` (for the
  catalog's entity checks at ingestion).
- ``scorecards.engine.evaluate``: ``evaluate``, ``evaluate_check``, ``facts_needed`` and the level rule.
- ``scorecards.engine.filters``: Backstage filter syntax matched against one entity document.

The check types themselves (their parameters, the facts they need, how they judge) live in ``scorecards.checks``.
"""
