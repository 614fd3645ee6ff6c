"""The demo's sanctioned templates (portal/demo/templates/<name>/), loaded by `manage.py demo_setup` after the demo
organisation.

Templates live in git and are versioned by tags: each template folder becomes a bare repository
`$PAVED_VAR_DIR/repos/templates/<name>.git` on the embedded git host (one commit, tagged `v1.0.0`), registered as a
trusted `git` location `<repository>#v1.0.0:template.yaml` (the Template kind is accepted only from trusted locations)
and refreshed at once.

Idempotent: the repository is published once per template (a fixed idempotency key), an existing tag and an existing
registration are kept, and unchanged files write nothing.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Final, TextIO

from django.conf import settings

from catalog import services
from catalog.locations import reader_for
from catalog.models import Entity, Location
from portal.permissions import SYSTEM
from scaffolder.publishers.local import catalog_location_target, publish_local, repository_path

DEMO_TEMPLATES: Final = Path(settings.BASE_DIR) / "portal" / "demo" / "templates"
TEMPLATES_OWNER: Final = "templates"
TEMPLATE_VERSION: Final = "v1.0.0"


def load(*, stdout: TextIO) -> list[Location]:
    return templates_load(stdout=stdout)


def templates_load(*, stdout: TextIO, source: Path = DEMO_TEMPLATES) -> list[Location]:
    """Publish each template folder under `source` to the embedded git host, tag it and register it as trusted."""
    repos_root = Path(settings.VAR_DIR) / "repos"
    locations: list[Location] = []
    folders = sorted(path for path in source.iterdir() if (path / "template.yaml").is_file()) if source.is_dir() else []
    for folder in folders:
        published = publish_local(
            repos_root=repos_root,
            owner=TEMPLATES_OWNER,
            repo=folder.name,
            workspace=folder,
            author_name="Paved",
            author_email="paved@localhost.localdomain",
            message=f"{folder.name} {TEMPLATE_VERSION}",
            # One key per template: a second demo_setup finds the repository it published.
            idempotency_key=f"paved-demo-template:{folder.name}",
        )
        repository = repository_path(repos_root, TEMPLATES_OWNER, folder.name)
        _tag(repository, TEMPLATE_VERSION, published.commit_hash)
        target = catalog_location_target(
            repos_root, TEMPLATES_OWNER, folder.name, "template.yaml", ref=TEMPLATE_VERSION
        )
        location = Location.objects.filter(type=Location.Type.GIT, target=reader_for("git").normalise(target)).first()
        if location is None:
            location = services.location_create(type="git", target=target, trusted=True, actor=SYSTEM)
            stdout.write(f"Registered the demo template {folder.name} {TEMPLATE_VERSION}: {location.key}\n")
        result = services.location_refresh(location=location)
        for error in result.applied.errors:
            stdout.write(f"  error: {error['message']}\n")
        locations.append(location)
    count = Entity.objects.filter(location__in=locations, kind="Template").count()
    stdout.write(f"Demo templates: {count} templates from {len(folders)} repositories.\n")
    return locations


def _tag(repository: Path, tag: str, commit: str) -> None:
    """Create the lightweight tag `tag` at `commit` unless it exists; git with hooks off and no user config."""
    with tempfile.TemporaryDirectory(prefix="paved-git-home-") as home:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
        }
        base = ["git", "-c", "core.hooksPath=/dev/null", f"--git-dir={repository}"]
        exists = subprocess.run(
            [*base, "rev-parse", "--verify", "--quiet", "--end-of-options", f"refs/tags/{tag}"],
            env=env,
            capture_output=True,
            check=False,
            timeout=60,
        )
        if exists.returncode == 0:
            return
        subprocess.run(
            [*base, "update-ref", "--end-of-options", f"refs/tags/{tag}", commit, ""],
            env=env,
            capture_output=True,
            check=True,
            timeout=60,
        )
