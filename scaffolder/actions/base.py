"""The contract every scaffolder action follows; the run engine builds an `ActionContext` and calls `Action.run`.

Pure: no Django. An action writes only inside `ctx.workspace`, reads the template's own files from
`ctx.template_dir`, reports progress through `ctx.log` and returns the step's output, a JSON-serialisable mapping.
Anything that stops the step is an `ActionError` whose `code` callers match on and whose `message` is shown to
the requester.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from scaffolder.publishers import ScmIntegration

DEFAULT_MAX_BYTES: Final = 50 * 1024 * 1024
DEFAULT_MAX_FILES: Final = 5000


class ActionError(Exception):
    """A step that cannot go ahead. `code` is stable (`unknown`, `input`, `template`, `unsafe`, `size`, `publish`,
    …); `message` says what was refused and where."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class ActionSettings:
    """Host settings an action may need, read once by the engine from Django settings.

    `scm_integrations` are the GitHub and GitLab hosts of `PAVED_SCM_INTEGRATIONS` (tokens hidden from `repr`);
    `http_timeout` bounds each request to their APIs."""

    repos_root: Path
    max_bytes: int = DEFAULT_MAX_BYTES
    max_files: int = DEFAULT_MAX_FILES
    git_timeout: int = 60
    scm_integrations: tuple[ScmIntegration, ...] = ()
    http_timeout: int = 30

    def scm_integration(self, kind: str, host: str) -> ScmIntegration | None:
        for integration in self.scm_integrations:
            if integration.kind == kind and integration.host == host.lower():
                return integration
        return None


@dataclass(frozen=True)
class ActionContext:
    """What one step's action is given. `input` is already rendered; `template_dir` is read-only."""

    run_id: str
    step_id: str
    workspace: Path
    input: Mapping[str, Any]
    template_dir: Path | None
    user_ref: str | None
    user_name: str
    user_email: str
    dry_run: bool
    log: Callable[[str], None]
    settings: ActionSettings
    # Provenance of the template's files (`template_dir` may be a per-run copy): the git repository or folder they
    # were read from, the ref (a version tag) and the folder inside the repository.
    template_origin: str = ""
    template_origin_ref: str = ""
    template_origin_path: str = ""


class Action(Protocol):
    id: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]

    def run(self, ctx: ActionContext) -> dict[str, Any]: ...
