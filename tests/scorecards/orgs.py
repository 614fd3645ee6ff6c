"""Scorecard evaluation test data: git repositories on the embedded host, the scorecard `ops` and a small organisation
of services built on payments_org, each with a known expected level and percentage."""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings

from catalog.models import Location
from tests.catalog.factories import ComponentDictFactory, LocationFactory, ingest
from tests.catalog.oncall.factories import payments_org
from tests.scorecards.factories import ScorecardDictFactory

OPS = "scorecard:default/ops"


def _check(check_id: str, level: str, title: str, **rule: Any) -> dict[str, Any]:
    return {"id": check_id, "level": level, "title": title, "rule": rule}


OPS_CHECKS: list[dict[str, Any]] = [
    _check("owner", "Bronze", "Owned by a team", type="catalog.owner-is-group", minMembers=2),
    _check("lifecycle", "Bronze", "Lifecycle set", type="catalog.field-present", path="spec.lifecycle"),
    _check("policy", "Silver", "Has an escalation policy", type="oncall.has-policy"),
    {
        **_check("runbook", "Silver", "Runbook linked", type="catalog.link-present", linkType="runbook"),
        "remediation": "Add a link of type runbook.",
        "remediationUrl": "https://docs.example.com/runbooks",
    },
    _check("rotation", "Gold", "Three people in rotation", type="oncall.rotation-size", min=3),
    _check("readme", "Gold", "Has a README", type="repo.file-exists", path="README.md"),
    {
        **_check(
            "service-type", "Gold", "Typed as a service", type="catalog.field-equals", path="spec.type", value="service"
        ),
        "filter": "spec.lifecycle=production",
    },
]


def ops_scorecard(**spec: Any) -> dict[str, Any]:
    card = ScorecardDictFactory(name="ops")
    card["metadata"]["title"] = "Operations"
    card["spec"] = {
        "owner": "group:payments",
        "filter": "kind=component",
        "levels": ["Bronze", "Silver", "Gold"],
        "checks": OPS_CHECKS,
        **spec,
    }
    return card


# -- git repositories on the embedded host ---------------------------------------------------------------------------


def _git(*args: str, git_dir: Path, work: Path | None = None) -> str:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(git_dir.parent),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    command = ["git", f"--git-dir={git_dir}"] + ([f"--work-tree={work}"] if work else []) + list(args)
    return subprocess.run(command, env=env, check=True, capture_output=True).stdout.decode()


def repos_root() -> Path:
    root = Path(settings.VAR_DIR) / "repos"
    root.mkdir(parents=True, exist_ok=True)
    return root


def make_repo(name: str, files: dict[str, str | bytes]) -> Path:
    """A new bare repository `$PAVED_VAR_DIR/repos/<name>-<random>.git` whose default branch holds `files`."""
    git_dir = repos_root() / f"{name}-{uuid.uuid4().hex[:8]}.git"  # the var directory outlives one test
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(git_dir)], check=True)
    commit(git_dir, files)
    return git_dir


def commit(git_dir: Path, files: dict[str, str | bytes], *, replace: bool = False) -> str:
    """A new commit on main with `files` written (added to the previous tree unless `replace`); returns its hash."""
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        has_head = (
            subprocess.run(
                ["git", f"--git-dir={git_dir}", "rev-parse", "--verify", "--quiet", "main"], capture_output=True
            ).returncode
            == 0
        )
        if has_head and not replace:
            _git("checkout", "main", "--", ".", git_dir=git_dir, work=work)
        for path, content in files.items():
            target = work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        _git("add", "--all", ".", git_dir=git_dir, work=work)
        _git("commit", "--quiet", "--allow-empty", "-m", "change", git_dir=git_dir, work=work)
    return _git("rev-parse", "main", git_dir=git_dir).strip()


def tag(git_dir: Path, name: str) -> None:
    _git("tag", name, "main", git_dir=git_dir)


def service(
    name: str, *, owner: str = "payments", runbook: bool = True, repo: Path | None = None, **spec: Any
) -> dict[str, Any]:
    doc = ComponentDictFactory(name=name, owner=owner, **spec)
    if runbook:
        doc["metadata"]["links"] = [{"url": f"https://runbooks.example.com/{name}", "type": "runbook"}]
    if repo is not None:
        doc["metadata"]["annotations"] = {"backstage.io/source-location": f"url:{repo}"}
    return doc


def ops_org(*, extra: list[dict[str, Any]] | None = None, location: Location | None = None) -> dict[str, Path]:
    """payments_org plus the scorecard ops and these services (expected on ops):

    - shop: everything in place, README in its repository — Gold, 100 %;
    - billing: no runbook, no repository — Bronze (Silver fails on the runbook), 5 of 6 counted checks: 83.3 %;
    - gateway: runbook but no repository — Silver, Gold unconfirmed (readme error), 6 of 6 counted: 100 %;
    - beta: experimental, no repository, readme exempted (see the tests) — service-type not applicable;
    - indexer (search, one member, one person on call): no level, 3 of 6: 50 %.
    """
    shop_repo = make_repo("shop", {"README.md": "# Shop\n", "src/app.py": "print('hi')\n"})
    docs = payments_org(
        extra=[
            ops_scorecard(),
            service("shop", repo=shop_repo),
            service("billing", runbook=False),
            service("gateway"),
            service("beta", lifecycle="experimental"),
            *(extra or []),
        ]
    )
    result = ingest(docs, location=location or LocationFactory.create())
    assert result.errors == [], result.errors
    return {"shop": shop_repo}
