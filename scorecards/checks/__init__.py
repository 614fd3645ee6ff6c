"""Check types (rules) and the facts they read. Importing this package registers every built-in rule.

Registry: ``register_rule``, ``rule_get``, ``rule_find``, ``rule_list``, ``unregister_rule`` and ``Rule``
(``scorecards.checks.registry``). One module per family: ``catalog``, ``repo``, ``template``, ``oncall``; the
values of the ``oncall.*`` facts are computed from the on-call engine by ``scorecards.checks.oncall_facts``.

Fact keys and value shapes
--------------------------
Collectors (Django side) produce exactly these, as ``scorecards.engine.model.Fact`` with a ``source`` and a
``collected_at``; a collector that cannot produce a fact stores it with ``error`` set (value None) instead of leaving
it out or inventing a value. Refs are lower-cased ``kind:namespace/name``.

``catalog.entity``
    The entity document as the catalog stores it (``apiVersion``, ``kind``, ``metadata``, ``spec``) plus
    ``relations``: ``[{"type": "ownedBy", "targetRef": "group:default/payments"}, ...]`` (both directions, as the
    Relation table has them). Source ``catalog``; collected on every entity change.
``catalog.owner``
    ``{"ref": "group:default/payments" | None, "kind": "Group" | "User" | None, "members": ["user:default/alice"]}``:
    the entity's ``spec.owner`` resolved in the catalog. ``kind`` None: the owner is not in the catalog (or the entity
    has no owner, then ``ref`` is None too). ``members``: the Group's direct members (its ``hasMember`` relations),
    empty for a User.
``repo.file:<path>``
    ``{"exists": bool, "text": str | None, "truncated": bool}`` for ``<path>`` relative to the root of the entity's
    repository at its default branch. ``text`` is the UTF-8 content (None when the file is absent or not text),
    cut to the collector's limit with ``truncated`` True. Source ``git:<repository>@<commit>:<path>``. No repository
    known for the entity (no ``backstage.io/source-location``) is a collection error, not a missing file.
``template.versions:<template ref>``
    ``{"exists": bool, "versions": ["v1.0.0", "v1.1.0", ...]}``: whether a Template of that ref is registered in the
    catalog (a *sanctioned* template: Templates only come from trusted locations), and its version tags (any order;
    tags that are not versions are ignored by the rule).
``oncall.policy``
    ``None`` when the entity has no escalation policy (neither ``paved.dev/escalation-policy`` on the entity nor on its
    owner Group), else ``{"ref": "escalationpolicy:default/payments", "problem": str | None, "levels": [{"targets":
    ["schedule:default/payments-primary", "user:default/frank"], "people": ["user:default/alice", ...],
    "unknown_schedules": [...]}]}``. ``people`` of a level: its user targets plus every member of every layer of its
    schedule targets (``catalog.oncall.engine.Schedule.members()``), sorted. ``problem``: the annotation names
    something that is not a readable policy (then ``levels`` is empty).
``oncall.coverage:<days>``
    ``None`` without a policy, else ``{"percent": float, "longest_gap_hours": float, "gaps": [["<iso start>",
    "<iso end>"], ...]}``: level 1 of the policy over ``[collected_at, collected_at + days)``, combined over its
    targets — ``coverage_of`` over the ``covered_intervals`` of level 1's schedules (a user target covers the whole
    window), as ``catalog.oncall.engine.policy.readiness`` computes it.
``oncall.rotation``
    ``None`` without a policy, else ``{"size": int, "schedules": {"schedule:default/x": int}}``: distinct people in
    level 1 (members of level 1's schedules plus its user targets), and the member count of each level-1 schedule.
``oncall.hours:<days>``
    ``None`` without a policy, else ``{"user:default/alice": 120.0, ...}``: hours on call per person at level 1 over
    ``[collected_at, collected_at + days)`` (``balance_of`` over the rendered level-1 schedules; a user target
    counts the whole window); people with no hours are absent.
"""

from __future__ import annotations

from scorecards.checks import catalog, oncall, repo, template
from scorecards.checks.registry import Rule, RuleError, register_rule, rule_find, rule_get, rule_list, unregister_rule

__all__ = [
    "Rule",
    "RuleError",
    "catalog",
    "oncall",
    "register_rule",
    "repo",
    "rule_find",
    "rule_get",
    "rule_list",
    "template",
    "unregister_rule",
]
