"""Repository facts `repo.file:<path>`: files of the entity's repository at the head of its default branch (or the
ref its `backstage.io/source-location` names), read as git blobs on Paved's git host or through the host's API on a
GitHub or GitLab host of `PAVED_SCM_INTEGRATIONS` (`scorecards.facts.git`). Shapes: `scorecards.checks`.

A file is read again only when the repository's head has moved from the commit its fact records (the source
`git:<repo>#<ref>@<commit>:<path>`): an unchanged head only refreshes `collected_at`. When the repository cannot be
read now, a value collected before is kept as it is (it turns `stale` once older than its freshness limit) and a
fact never collected records the error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Final

from catalog.locations.git import GitTarget
from scorecards.engine.model import Fact
from scorecards.facts import git
from scorecards.facts.hosts import HostedRepository
from scorecards.facts.view import CatalogView

PREFIX: Final = "repo.file:"


class _Heads:
    """Each repository opened and its head read once per batch; once a GitHub or GitLab host fails as a whole (no
    answer in time, no connection, a rate limit, a gateway error), its other repositories are not asked in the batch,
    so a sweep does not wait out one timeout per repository."""

    def __init__(self) -> None:
        self.heads: dict[str, tuple[git.AnyRepository, str] | git.RepositoryError] = {}
        self.files: dict[tuple[str, str, str], dict[str, object]] = {}
        self.down: dict[str, git.RepositoryError] = {}

    def head(self, target: GitTarget | HostedRepository) -> tuple[git.AnyRepository, str]:
        key = f"{target.repo}#{target.ref}"
        if key not in self.heads:
            try:
                repository = git.open_repository(target)
                self.check_host(repository)
                self.heads[key] = (repository, git.head_commit(repository))
            except git.RepositoryError as error:
                self.failed(error)
                self.heads[key] = error
        found = self.heads[key]
        if isinstance(found, git.RepositoryError):
            raise found
        return found

    def check_host(self, repository: git.AnyRepository) -> None:
        if isinstance(repository, HostedRepository) and repository.host in self.down:
            raise git.RepositoryError(
                f"{repository.repo}: not asked, as {repository.host} failed earlier in this evaluation: "
                f"{self.down[repository.host]}"
            )

    def failed(self, error: git.RepositoryError) -> None:
        if error.host:
            self.down.setdefault(error.host, error)


def _kept_or_error(key: str, stored: Fact | None, source: str, now: datetime, error: str) -> Fact:
    if stored is not None and stored.error is None:
        return stored
    return Fact(key, None, source, now, error)


def collect(
    view: CatalogView,
    wanted: Mapping[str, set[str]],
    now: datetime,
    stored: Mapping[str, Mapping[str, Fact]],
    heads: _Heads | None = None,
) -> dict[str, list[Fact]]:
    heads = heads or _Heads()
    out: dict[str, list[Fact]] = {}
    for ref, keys in wanted.items():
        previous = stored.get(ref, {})
        facts = out.setdefault(ref, [])
        row = view.entities.get(ref)
        if row is None:
            facts.extend(Fact(key, None, "git", now, f"{ref} is not in the catalog") for key in sorted(keys))
            continue
        try:
            target = git.repository_target(row.data)
            repository, commit = heads.head(target)
        except git.RepositoryError as error:
            facts.extend(_kept_or_error(key, previous.get(key), "git", now, str(error)) for key in sorted(keys))
            continue
        to_read: dict[str, str] = {}
        for key in sorted(keys):
            path = git.safe_path(key[len(PREFIX) :])
            if path is None:
                facts.append(Fact(key, None, "git", now, f"{key[len(PREFIX) :]!r} is not a path inside a repository"))
                continue
            old = previous.get(key)
            parts = git.parse_source(old.source) if old is not None else None
            if (
                old is not None
                and old.error is None
                and parts is not None
                and (parts.key, parts.commit)
                == (
                    repository.key,
                    commit,
                )
            ):
                facts.append(replace(old, collected_at=now))
                continue
            to_read[key] = path
        if not to_read:
            continue
        missing = [p for p in to_read.values() if (repository.repo, commit, p) not in heads.files]
        try:
            if missing:
                heads.check_host(repository)
            for path, value in git.read_files(repository, commit, sorted(set(missing))).items():
                heads.files[(repository.repo, commit, path)] = value
        except git.RepositoryError as error:
            heads.failed(error)
            facts.extend(
                _kept_or_error(key, previous.get(key), repository.source(commit, path), now, str(error))
                for key, path in to_read.items()
            )
            continue
        facts.extend(
            Fact(key, dict(heads.files[(repository.repo, commit, path)]), repository.source(commit, path), now)
            for key, path in to_read.items()
        )
    return out


Heads = _Heads
