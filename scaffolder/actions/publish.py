"""`publish:git`, `publish:github` and `publish:gitlab`: the workspace (or a sub-directory of it) becomes the initial
commit of a new repository, authored by the requester, on the embedded git host or on a GitHub or GitLab host of
`PAVED_SCM_INTEGRATIONS`. Retrying a step finds the repository its run already published."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from scaffolder.expressions import FilterError, parse_repo_url
from scaffolder.publishers import PublishError, PublishResult
from scaffolder.publishers.github import publish_github
from scaffolder.publishers.gitlab import publish_gitlab
from scaffolder.publishers.local import DEFAULT_BRANCH, parse_local_repo_url, publish_local

from ._files import string_input, target_dir
from .base import ActionContext, ActionError

DRY_RUN_COMMIT: Final = "0" * 40


class PublishGit:
    id = "publish:git"
    description = "Publishes the workspace as a new repository on Paved's embedded git host."
    input_schema: dict[str, Any] = {
        "type": "object",
        "required": ["repoUrl"],
        "additionalProperties": False,
        "properties": {
            "repoUrl": {
                "type": "string",
                "description": "The repository, as RepoUrlPicker gives it: local?owner=…&repo=…",
            },
            "description": {"type": "string", "description": "The repository's description."},
            "defaultBranch": {"type": "string", "description": "The branch of the initial commit (default main)."},
            "gitCommitMessage": {"type": "string", "description": "The initial commit's message."},
            "sourcePath": {"type": "string", "description": "The workspace sub-directory to publish (default: all)."},
        },
    }
    output_schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "remoteUrl": {"type": "string"},
            "repoContentsUrl": {"type": "string"},
            "commitHash": {"type": "string"},
        },
    }

    def run(self, ctx: ActionContext) -> dict[str, Any]:
        branch = string_input(ctx.input, "defaultBranch", DEFAULT_BRANCH) or DEFAULT_BRANCH
        source = target_dir(ctx, string_input(ctx.input, "sourcePath", "./"))
        try:
            repo = parse_local_repo_url(string_input(ctx.input, "repoUrl", ""))
            if ctx.dry_run:
                ctx.log(f"publish:git (dry run) would create {repo.repo_url} on branch {branch}")
                remote = f"{ctx.settings.repos_root}/{repo.owner}/{repo.repo}.git"
                return {"remoteUrl": remote, "repoContentsUrl": f"{remote}#{branch}:", "commitHash": DRY_RUN_COMMIT}
            result = publish_local(
                repos_root=ctx.settings.repos_root,
                owner=repo.owner,
                repo=repo.repo,
                workspace=source,
                author_name=ctx.user_name,
                author_email=ctx.user_email,
                message=string_input(ctx.input, "gitCommitMessage", "") or "Initial commit",
                # One key per run and step: a retry finds its repository, a second publish:git step of the same run
                # aiming at it is refused as `exists` instead of silently returning the first step's commit.
                idempotency_key=f"{ctx.run_id}:{ctx.step_id}",
                default_branch=branch,
                timeout=ctx.settings.git_timeout,
                max_bytes=ctx.settings.max_bytes,
                max_files=ctx.settings.max_files,
            )
        except PublishError as error:
            raise ActionError(f"publish_{error.code}", f"publish:git: {error.message}") from None
        ctx.log(
            f"publish:git {'created' if result.created else 'found the already published'} {repo.repo_url}"
            f" at {result.commit_hash}"
        )
        return {
            "remoteUrl": result.remote_url,
            "repoContentsUrl": result.repo_contents_url,
            "commitHash": result.commit_hash,
        }


class _PublishHosted:
    """What publish:github and publish:gitlab share: the host comes from the repoUrl and must be a configured
    integration of this kind with a token; the token itself never reaches the input, the log or the output."""

    id: str
    kind: str
    system: str
    description: str
    # Between a repository's page and the branch in a link to its files: GitHub `/blob/`, GitLab `/-/blob/`.
    contents_infix: str
    publisher: Callable[..., PublishResult]
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "remoteUrl": {"type": "string", "description": "The clone URL."},
            "repoContentsUrl": {"type": "string", "description": "The branch's files on the host's web pages."},
            "commitHash": {"type": "string", "description": "The initial commit."},
            "repoHtmlUrl": {"type": "string", "description": "The repository's page."},
        },
    }

    @staticmethod
    def schema(system: str, example: str) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["repoUrl"],
            "additionalProperties": False,
            "properties": {
                "repoUrl": {
                    "type": "string",
                    "description": f"The repository, as RepoUrlPicker gives it: {example}",
                },
                "description": {"type": "string", "description": "The repository's description."},
                "defaultBranch": {"type": "string", "description": "The branch of the initial commit (default main)."},
                "gitCommitMessage": {"type": "string", "description": "The initial commit's message."},
                "sourcePath": {
                    "type": "string",
                    "description": "The workspace sub-directory to publish (default: all).",
                },
                "repoVisibility": {
                    "type": "string",
                    "enum": ["private", "internal", "public"],
                    "description": f"Who may see the new {system} repository (default private).",
                },
            },
        }

    def run(self, ctx: ActionContext) -> dict[str, Any]:
        branch = string_input(ctx.input, "defaultBranch", DEFAULT_BRANCH) or DEFAULT_BRANCH
        visibility = string_input(ctx.input, "repoVisibility", "private") or "private"
        source = target_dir(ctx, string_input(ctx.input, "sourcePath", "./"))
        repo_url = string_input(ctx.input, "repoUrl", "")
        try:
            spec = parse_repo_url(repo_url)
        except FilterError as error:
            raise ActionError("publish_invalid", f"{self.id}: {error}") from None
        if not spec.owner or not spec.repo:
            raise ActionError("publish_invalid", f"{self.id}: {repo_url!r} needs both owner and repo")
        integration = ctx.settings.scm_integration(self.kind, spec.host)
        if integration is None:
            known = [i.host for i in ctx.settings.scm_integrations if i.kind == self.kind and i.token]
            raise ActionError(
                "publish_unconfigured",
                f"{self.id}: {spec.host!r} is not a configured {self.system} host"
                f" (configured: {', '.join(known) or 'none'})",
            )
        target = f"{spec.host}/{spec.owner}/{spec.repo}"
        try:
            if ctx.dry_run:
                if not integration.token:
                    # A dry run shows what a real run would do, including that it would fail.
                    raise PublishError("unconfigured", f"{integration.host} has no token configured")
                ctx.log(f"{self.id} (dry run) would create the {visibility} repository {target} on branch {branch}")
                return {
                    "remoteUrl": f"https://{spec.host}/{spec.owner}/{spec.repo}.git",
                    "repoContentsUrl": f"https://{target}{self.contents_infix}{branch}",
                    "commitHash": DRY_RUN_COMMIT,
                    "repoHtmlUrl": f"https://{target}",
                }
            result = self.publisher(
                integration=integration,
                owner=spec.owner,
                repo=spec.repo,
                workspace=source,
                author_name=ctx.user_name,
                author_email=ctx.user_email,
                message=string_input(ctx.input, "gitCommitMessage", "") or "Initial commit",
                idempotency_key=f"{ctx.run_id}:{ctx.step_id}",
                description=string_input(ctx.input, "description", ""),
                visibility=visibility,
                default_branch=branch,
                timeout=ctx.settings.http_timeout,
                max_bytes=ctx.settings.max_bytes,
                max_files=ctx.settings.max_files,
            )
        except PublishError as error:
            raise ActionError(f"publish_{error.code}", f"{self.id}: {error.message}") from None
        ctx.log(
            f"{self.id} {'created' if result.created else 'found the already published'} {target}"
            f" at {result.commit_hash}"
        )
        return {
            "remoteUrl": result.remote_url,
            "repoContentsUrl": result.repo_contents_url,
            "commitHash": result.commit_hash,
            "repoHtmlUrl": result.web_url or "",
        }


class PublishGitHub(_PublishHosted):
    id = "publish:github"
    kind = "github"
    system = "GitHub"
    description = "Publishes the workspace as a new GitHub repository through GitHub's REST API."
    publisher = staticmethod(publish_github)
    input_schema = _PublishHosted.schema("GitHub", "github.com?owner=…&repo=…")
    contents_infix = "/blob/"


class PublishGitLab(_PublishHosted):
    id = "publish:gitlab"
    kind = "gitlab"
    system = "GitLab"
    description = "Publishes the workspace as a new GitLab project through GitLab's REST API."
    publisher = staticmethod(publish_gitlab)
    input_schema = _PublishHosted.schema("GitLab", "gitlab.com?owner=<group path>&repo=…")
    contents_infix = "/-/blob/"
