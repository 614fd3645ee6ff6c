"""The demo's scorecards (portal/demo/org/scorecards.yaml, part of the demo organisation): evaluated once by
`manage.py demo_setup`, after the organisation and the templates are loaded.

Before that, the demo services created from a sanctioned template get their repositories on Paved's git host
(portal/demo/repositories.yaml says which, and what their teams changed since): each is rendered from its template's
skeleton at the version it was created from (`paved.dev/template-version`, a version of the template's history in
portal/demo/template-history.yaml) by the scaffolder's own `fetch:template` and published by its `publish:git` code to
`$PAVED_VAR_DIR/repos/<team>/<service>.git`, where the component's `backstage.io/source-location`
(`url:local?owner=<team>&repo=<service>`) points. A fresh clone needs nothing beside it.

Idempotent: a repository is published once (a fixed idempotency key per service; a second run finds it and
renders nothing), and a second evaluation writes no transition for what did not change.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

import yaml
from django.conf import settings

from catalog.models import Entity
from scaffolder.actions.base import ActionContext, ActionError, ActionSettings
from scaffolder.actions.fetch import FetchTemplate
from scaffolder.demo import DEMO_HISTORY, DEMO_TEMPLATES, DemoTemplateError, template_history, template_snapshot
from scaffolder.publishers import PublishError
from scaffolder.publishers.local import parse_local_repo_url, publish_local, repository_path
from scorecards.evaluation import EvaluationSummary, scorecard_evaluate_all
from scorecards.facts.git import SOURCE_LOCATION
from scorecards.results import scorecard_views

DEMO_REPOSITORIES: Final = Path(settings.BASE_DIR) / "portal" / "demo" / "repositories.yaml"
SOURCE_TEMPLATE: Final = "backstage.io/source-template"
TEMPLATE_VERSION: Final = "paved.dev/template-version"
ESCALATION_POLICY: Final = "paved.dev/escalation-policy"
AUTHOR: Final = ("Acme Retail", "engineering@acme-retail.example")


class DemoRepositoryError(Exception):
    """A demo repository entry that cannot be published; the message names the service and why."""


@dataclass(frozen=True, slots=True)
class Published:
    service: str
    path: Path
    created: bool


def load(*, stdout: TextIO) -> EvaluationSummary:
    repositories_load(stdout=stdout)
    summary = scorecard_evaluate_all()
    for view in scorecard_views():
        shares = ", ".join(f"{share.count} {share.level or 'no level'}" for share in view.distribution)
        stdout.write(f"Scorecard {view.title}: {view.total} services ({shares}).\n")
    return summary


def repositories_load(
    *, stdout: TextIO, source: Path = DEMO_REPOSITORIES, templates: Path = DEMO_TEMPLATES
) -> list[Published]:
    """Publish the repository of every service `source` lists; a service that is not in the catalog, or whose
    entry cannot be applied, is reported and skipped."""
    entries = _entries(source)
    repos_root = Path(settings.VAR_DIR) / "repos"
    published: list[Published] = []
    for service, changes in entries.items():
        try:
            published.append(_publish(service, changes, repos_root, templates))
        except DemoRepositoryError as error:
            stdout.write(f"  error: {error}\n")
    created = sum(1 for item in published if item.created)
    stdout.write(
        f"Demo repositories: {len(published)} services' repositories on Paved's git host ({created} created now).\n"
    )
    return published


def _entries(source: Path) -> dict[str, Mapping[str, Any]]:
    if not source.is_file():
        return {}
    data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    if not isinstance(data, Mapping):
        raise DemoRepositoryError(f"{source}: expected a mapping of service names to their changes")
    entries: dict[str, Mapping[str, Any]] = {}
    for service, changes in data.items():
        if not isinstance(service, str) or not isinstance(changes, Mapping | None):
            raise DemoRepositoryError(f"{source}: {service!r} must map a service name to its changes")
        entries[service] = changes or {}
    return entries


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _annotations(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return _mapping(_mapping(data.get("metadata")).get("annotations"))


def _publish(service: str, changes: Mapping[str, Any], repos_root: Path, templates: Path) -> Published:
    entity = Entity.objects.filter(kind__iexact="component", namespace="default", name=service).first()
    if entity is None:
        raise DemoRepositoryError(f"{service}: no such component in the demo organisation")
    annotations = _annotations(entity.data)
    location = str(annotations.get(SOURCE_LOCATION) or "")
    if not location.startswith("url:local?"):
        raise DemoRepositoryError(
            f"{service}: its {SOURCE_LOCATION} ({location or 'none'}) does not name a repository on Paved's git host "
            "(url:local?owner=<team>&repo=<service>)"
        )
    try:
        repo = parse_local_repo_url(location.removeprefix("url:"))
    except PublishError as error:
        raise DemoRepositoryError(f"{service}: {SOURCE_LOCATION} {location!r}: {error.message}") from None
    path = repository_path(repos_root, repo.owner, repo.repo)
    key = f"paved-demo-service:{repo.owner}/{repo.repo}"
    if (path / "HEAD").is_file() and (path / "refs" / "heads" / "main").is_file():
        # Published by an earlier run: publish_local finds its own commit without looking at the workspace.
        with tempfile.TemporaryDirectory(prefix="paved-demo-repo-") as empty:
            result = _publish_local(repos_root, repo.owner, repo.repo, Path(empty), service, key)
        return Published(service, path, result)
    template_name = str(annotations.get(SOURCE_TEMPLATE) or "").rpartition("/")[2]
    template_dir = templates / template_name
    if not template_name or not (template_dir / "template.yaml").is_file():
        raise DemoRepositoryError(f"{service}: {SOURCE_TEMPLATE} names no demo template ({template_name!r})")
    with tempfile.TemporaryDirectory(prefix="paved-demo-repo-") as scratch:
        workspace = Path(scratch) / "workspace"
        workspace.mkdir()
        version_dir = _template_at(service, annotations, template_dir, Path(scratch) / "template")
        _render(entity, annotations, version_dir, workspace, repos_root)
        _apply(service, changes, workspace)
        created = _publish_local(repos_root, repo.owner, repo.repo, workspace, service, key)
    return Published(service, path, created)


def _template_at(service: str, annotations: Mapping[str, Any], template_dir: Path, scratch: Path) -> Path:
    """The template as it was at the version the service was created from (`paved.dev/template-version`, one of
    the versions of the template's history)."""
    version = str(annotations.get(TEMPLATE_VERSION) or "").strip()
    try:
        history = template_history(template_dir.name, source=template_dir.parent.parent / DEMO_HISTORY.name)
        tags = [item.tag for item in history]
        tag = version if version.startswith("v") else f"v{version}"
        if tag not in tags:
            raise DemoRepositoryError(
                f"{service}: {TEMPLATE_VERSION} {version!r} is not a version of {template_dir.name} ({', '.join(tags)})"
            )
        if tag == tags[-1]:
            return template_dir
        return template_snapshot(template_dir, history, tag, scratch)
    except DemoTemplateError as error:
        raise DemoRepositoryError(f"{service}: {error}") from None


def _publish_local(repos_root: Path, owner: str, repo: str, workspace: Path, service: str, key: str) -> bool:
    try:
        result = publish_local(
            repos_root=repos_root,
            owner=owner,
            repo=repo,
            workspace=workspace,
            author_name=AUTHOR[0],
            author_email=AUTHOR[1],
            message=f"{service}: created from its template",
            idempotency_key=key,
        )
    except PublishError as error:
        raise DemoRepositoryError(f"{service}: {error.message}") from None
    return result.created


def _render(
    entity: Entity, annotations: Mapping[str, Any], template_dir: Path, workspace: Path, repos_root: Path
) -> None:
    spec = _mapping(entity.data.get("spec"))
    owner_ref = entity.owner_ref or ""
    owner = Entity.objects.filter(ref=owner_ref).only("data").first() if owner_ref else None
    policy = annotations.get(ESCALATION_POLICY) or (_annotations(owner.data).get(ESCALATION_POLICY) if owner else "")
    metadata = _mapping(entity.data.get("metadata"))
    values = {
        "name": entity.name,
        "description": str(metadata.get("description") or entity.name),
        "owner": owner_ref,
        "system": f"system:default/{spec.get('system')}" if spec.get("system") else "",
        "lifecycle": str(spec.get("lifecycle") or "experimental"),
        "memoryMiB": 512,
        "cpu": 0.5,
        "escalationPolicy": str(policy or ""),
        "templateRef": str(annotations.get(SOURCE_TEMPLATE) or ""),
        "templateVersion": str(annotations.get(TEMPLATE_VERSION) or ""),
    }
    context = ActionContext(
        run_id="demo",
        step_id="fetch",
        workspace=workspace,
        input={"url": "./skeleton", "values": values},
        template_dir=template_dir,
        user_ref=None,
        user_name=AUTHOR[0],
        user_email=AUTHOR[1],
        dry_run=False,
        log=lambda _message: None,
        settings=ActionSettings(repos_root=repos_root),
    )
    try:
        FetchTemplate().run(context)
    except ActionError as error:
        raise DemoRepositoryError(f"{entity.name}: {error.message}") from None


def _inside(workspace: Path, service: str, relative: object) -> Path:
    if not isinstance(relative, str) or not relative or relative.startswith("/") or ".." in relative.split("/"):
        raise DemoRepositoryError(f"{service}: {relative!r} is not a path inside the repository")
    return workspace / relative


def _apply(service: str, changes: Mapping[str, Any], workspace: Path) -> None:
    """What the team changed since the service was created: `remove` files, `replace` text in a file."""
    unknown = set(changes) - {"remove", "replace"}
    if unknown:
        raise DemoRepositoryError(f"{service}: unknown changes {sorted(unknown)} (remove, replace)")
    for relative in changes.get("remove") or []:
        path = _inside(workspace, service, relative)
        if not path.is_file():
            raise DemoRepositoryError(f"{service}: cannot remove {relative}: the template has no such file")
        path.unlink()
    for edit in changes.get("replace") or []:
        if not isinstance(edit, Mapping) or not all(isinstance(edit.get(k), str) for k in ("path", "old", "new")):
            raise DemoRepositoryError(f"{service}: a replacement needs path, old and new text")
        path = _inside(workspace, service, edit["path"])
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        if edit["old"] not in text:
            raise DemoRepositoryError(f"{service}: {edit['path']} does not contain {edit['old']!r}")
        path.write_text(text.replace(edit["old"], edit["new"], 1), encoding="utf-8")
