"""`publish:git`: the workspace (or a sub-directory of it) becomes the initial commit of a repository on the embedded
git host, authored by the requester. Retrying a step finds the repository its run already published."""

from __future__ import annotations

from typing import Any, Final

from scaffolder.publishers import PublishError
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
