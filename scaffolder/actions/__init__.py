"""Scaffolder actions: the registry and one module per action family. Importing the package registers them all."""

from __future__ import annotations

from .base import Action, ActionContext, ActionError, ActionSettings
from .catalog import CatalogRegister, CatalogWrite
from .fetch import DebugLog, FetchPlain, FetchTemplate
from .publish import PublishGit, PublishGitHub, PublishGitLab
from .registry import action_get, action_list, register, validate_input

for _action in (
    FetchTemplate(),
    FetchPlain(),
    DebugLog(),
    PublishGit(),
    PublishGitHub(),
    PublishGitLab(),
    CatalogRegister(),
    CatalogWrite(),
):
    register(_action)

__all__ = [
    "Action",
    "ActionContext",
    "ActionError",
    "ActionSettings",
    "action_get",
    "action_list",
    "register",
    "validate_input",
]
