"""`fetch:template`, `fetch:plain` and `debug:log`: the actions that put files into a run's workspace.

`fetch:template` renders a Backstage skeleton through Copier, so that the created repository carries Copier's
answers file and can be upgraded later. The skeleton is copied into a temporary Copier template whose generated
`copier.yml` sets Backstage's delimiters (`${{ values.x }}`, `{% if values.x %}`) and a private template suffix:
the files to be templated get that suffix in the copy, copyWithoutTemplating files and, with
templateFileExtension, the files without the extension do not, so Copier renders the contents of the first and
copies the others verbatim; it renders every file and directory name, as Backstage does. The values are the single
answer `values`: Copier renders each file once with them as data, so a value that looks like a template stays
literal. The template's own Copier settings are never honoured: a skeleton whose `copier.yml` declares tasks,
migrations or Jinja extensions is refused (any other `copier.yml` is an ordinary file of the output), as are symbolic
links, names rendering outside targetPath and output beyond the size limits. Rendering goes to a staging directory
that is checked before anything reaches the workspace. The host's Copier user settings are never read.

Copier writes `.copier-answers.yml` at the root of targetPath; since it rendered a temporary copy, `_src_path` is
then set to the template's directory and `_commit` to its git version (`git describe --tags`, so a tag when the
template's checkout sits on one) when that directory is a git checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import traceback
from pathlib import Path
from typing import Any, Final

import jinja2
import yaml
from copier import Settings, run_copy
from copier import _main as copier_main
from copier import _template as copier_template
from copier.errors import CopierError, ForbiddenPathError

from ._files import glob_regex, merge_tree, scan_tree, string_input, target_dir, template_source
from .base import ActionContext, ActionError

ANSWERS_FILE: Final = ".copier-answers.yml"
_SUFFIX: Final = ".paved-render"
_FORBIDDEN_COPIER_KEYS: Final = ("_tasks", "_migrations", "_jinja_extensions")
_COPIER_CONFIG: Final = {
    "_envops": {
        "variable_start_string": "${{",
        "variable_end_string": "}}",
        "block_start_string": "{%",
        "block_end_string": "%}",
        "comment_start_string": "{#",
        "comment_end_string": "#}",
        "keep_trailing_newline": True,
        # Nunjucks, which Backstage renders skeletons with, prints an undefined value (an optional parameter left
        # empty) as nothing and treats it as false in `{% if %}`; Copier's default would fail the run instead.
        "undefined": "jinja2.Undefined",
    },
    "_templates_suffix": _SUFFIX,
    "_subdirectory": "template",
    "_exclude": [],
    "_answers_file": ANSWERS_FILE,
    "values": {"type": "yaml", "default": {}},
}
_ANSWERS_TEMPLATE: Final = "${{ _copier_answers|to_nice_yaml }}"
_TARGET_PATH: Final = {"type": "string", "description": "Where in the workspace to put the files (relative)."}
_URL: Final = {"type": "string", "description": "The skeleton directory, relative to the template (./skeleton)."}
_REPLACE: Final = {"type": "boolean", "description": "Overwrite files already in the workspace (default: keep)."}


class FetchTemplate:
    id = "fetch:template"
    description = "Renders a Backstage skeleton (${{ values.x }} in names and contents) into the workspace with Copier."
    input_schema: dict[str, Any] = {
        "type": "object",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {
            "url": _URL,
            "targetPath": _TARGET_PATH,
            "values": {"type": "object", "description": "The values the skeleton sees as ${{ values.x }}."},
            "copyWithoutTemplating": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Globs of files copied without rendering their contents (their names are rendered).",
            },
            "templateFileExtension": {
                "type": ["boolean", "string"],
                "description": "Only files with this extension (true: .njk) are rendered; the extension is removed.",
            },
            "replace": _REPLACE,
        },
    }
    output_schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "targetPath": {"type": "string"},
            "files": {"type": "array", "items": {"type": "string"}},
            "answersFile": {"type": "string"},
            "answers": {"type": "object"},
        },
    }

    def run(self, ctx: ActionContext) -> dict[str, Any]:
        url = string_input(ctx.input, "url", "./")
        source = template_source(ctx, url)
        target_path = string_input(ctx.input, "targetPath", "./")
        target = target_dir(ctx, target_path)
        values = ctx.input.get("values") or {}
        verbatim = [glob_regex(pattern) for pattern in ctx.input.get("copyWithoutTemplating") or []]
        extension = _extension(ctx.input.get("templateFileExtension", False))
        directories, files, _ = scan_tree(
            source, max_bytes=ctx.settings.max_bytes, max_files=ctx.settings.max_files, what=f"the skeleton {url}"
        )
        _check_copier_config(source, files, url)
        with tempfile.TemporaryDirectory(prefix="paved-fetch-template-") as scratch:
            template = Path(scratch) / "template"
            skeleton = template / "template"
            skeleton.mkdir(parents=True)
            for relative in directories:
                (skeleton / relative).mkdir()
            for relative in files:
                if relative.endswith(_SUFFIX):
                    raise ActionError("template", f"the skeleton {url}: {relative}: the suffix {_SUFFIX} is reserved")
                name = _staged_name(relative, verbatim, extension)
                shutil.copyfile(source / relative, skeleton / name, follow_symlinks=False)
                shutil.copymode(source / relative, skeleton / name, follow_symlinks=False)
            (skeleton / ("${{ _copier_conf.answers_file }}" + _SUFFIX)).write_text(_ANSWERS_TEMPLATE)
            (template / "copier.yml").write_text(yaml.safe_dump(_COPIER_CONFIG, sort_keys=False))
            staging = Path(scratch) / "out"
            _render(template, staging, values, url)
            answers = _provenance(staging / ANSWERS_FILE, ctx, source)
            written = merge_tree(ctx, staging, target, replace=bool(ctx.input.get("replace", False)))
        workspace = Path(os.path.realpath(ctx.workspace))
        answers_file = (target / ANSWERS_FILE).relative_to(workspace).as_posix()
        ctx.log(f"fetch:template rendered {url} into {target_path}: {len(written)} files")
        return {
            "targetPath": target.relative_to(workspace).as_posix() or ".",
            "files": written,
            "answersFile": answers_file,
            "answers": answers,
        }


class FetchPlain:
    id = "fetch:plain"
    description = "Copies a directory of the template into the workspace as it is, without templating."
    input_schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"url": _URL, "targetPath": _TARGET_PATH, "replace": _REPLACE},
    }
    output_schema: dict[str, Any] = {
        "type": "object",
        "properties": {"targetPath": {"type": "string"}, "files": {"type": "array", "items": {"type": "string"}}},
    }

    def run(self, ctx: ActionContext) -> dict[str, Any]:
        url = string_input(ctx.input, "url", "./")
        source = template_source(ctx, url)
        target_path = string_input(ctx.input, "targetPath", "./")
        target = target_dir(ctx, target_path)
        scan_tree(source, max_bytes=ctx.settings.max_bytes, max_files=ctx.settings.max_files, what=f"the files {url}")
        with tempfile.TemporaryDirectory(prefix="paved-fetch-plain-") as scratch:
            staging = Path(scratch) / "out"
            shutil.copytree(source, staging, symlinks=True, ignore=shutil.ignore_patterns(".git"))
            written = merge_tree(ctx, staging, target, replace=bool(ctx.input.get("replace", False)))
        workspace = Path(os.path.realpath(ctx.workspace))
        ctx.log(f"fetch:plain copied {url} into {target_path}: {len(written)} files")
        return {"targetPath": target.relative_to(workspace).as_posix() or ".", "files": written}


class DebugLog:
    id = "debug:log"
    description = "Writes a message to the run's log and optionally lists the workspace."
    input_schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "message": {"type": "string", "description": "The line to log."},
            "listWorkspace": {"type": "boolean", "description": "Also log every file in the workspace."},
        },
    }
    output_schema: dict[str, Any] = {"type": "object", "properties": {}}

    def run(self, ctx: ActionContext) -> dict[str, Any]:
        message = ctx.input.get("message")
        if isinstance(message, str):
            ctx.log(message)
        if ctx.input.get("listWorkspace"):
            _, files, _ = scan_tree(
                Path(os.path.realpath(ctx.workspace)),
                max_bytes=ctx.settings.max_bytes,
                max_files=ctx.settings.max_files,
                what="the workspace",
            )
            ctx.log(f"the workspace has {len(files)} files")
            for relative in files:
                ctx.log(f"  {relative}")
        return {}


def _extension(value: object) -> str | None:
    if value is True:
        return ".njk"
    if isinstance(value, str) and value:
        extension = value if value.startswith(".") else f".{value}"
        if "/" in extension or extension == ".":
            raise ActionError("input", f"templateFileExtension {value!r} is not a file extension")
        return extension
    return None


def _staged_name(relative: str, verbatim: list[Any], extension: str | None) -> str:
    if any(pattern.fullmatch(relative) for pattern in verbatim):
        return relative
    if extension is None:
        return relative + _SUFFIX
    if relative.endswith(extension) and len(Path(relative).name) > len(extension):
        return relative.removesuffix(extension) + _SUFFIX
    return relative


def _check_copier_config(source: Path, files: list[str], url: str) -> None:
    for name in ("copier.yml", "copier.yaml"):
        if name not in files:
            continue
        try:
            config = yaml.safe_load((source / name).read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            raise ActionError("template", f"the skeleton {url}: {name} is not valid YAML: {error}") from None
        found = [key for key in _FORBIDDEN_COPIER_KEYS if isinstance(config, dict) and key in config]
        if found:
            raise ActionError(
                "unsafe",
                f"the skeleton {url}: {name} declares {', '.join(found)}; Paved does not run a template's own Copier"
                " tasks, migrations or Jinja extensions",
            )


def _no_git() -> bool:
    return False


# Copier's git integration is off in every process that renders skeletons (set once, at import, so no thread ever
# sees it switch). Paved renders from a plain temporary copy into a staging folder that is never a repository, yet
# Copier would start a `git config` process per rendered file (half the time of a 50-file render), and git would look
# for a repository in the folders above the staging folder — Paved's own checkout, when `PAVED_VAR_DIR` lies inside
# one — and could rewrite that repository's index. The version of Copier is pinned; its tests here catch a rename.
setattr(copier_main, "is_git_available", _no_git)  # noqa: B010 (not re-exported by Copier)
setattr(copier_template, "is_git_available", _no_git)  # noqa: B010


def _render(template: Path, staging: Path, values: object, url: str) -> None:
    try:
        _run_copy(template, staging, values)
    except ForbiddenPathError as error:
        raise ActionError("unsafe", f"the skeleton {url}: a file name renders outside targetPath: {error}") from None
    except jinja2.TemplateSyntaxError as error:
        where = _skeleton_path(error.filename, template)
        raise ActionError("template", f"the skeleton {url}: {where}, line {error.lineno}: {error.message}") from None
    except jinja2.TemplateError as error:
        where = _failing_template(error, template)
        raise ActionError("template", f"the skeleton {url}: {where}: {error}") from None
    except (CopierError, ValueError) as error:
        raise ActionError("template", f"the skeleton {url} cannot be rendered: {error}") from None


def _run_copy(template: Path, staging: Path, values: object) -> None:
    run_copy(
        str(template),
        staging,
        data={"values": values},
        settings=Settings(),
        defaults=True,
        unsafe=False,
        skip_tasks=True,
        quiet=True,
        overwrite=False,
        cleanup_on_error=True,
    )


def _failing_template(error: BaseException, template: Path) -> str:
    """The skeleton file and line a rendering error happened in, from the frames Jinja maps to the template."""
    inside = str(template / "template") + os.sep
    where = "a file name"
    for frame, line in traceback.walk_tb(error.__traceback__):
        filename = frame.f_code.co_filename
        if filename.startswith(inside):
            where = f"{_skeleton_path(filename, template)}, line {line}"
    return where


def _skeleton_path(filename: str | None, template: Path) -> str:
    if not filename:
        return "a file name"
    shown = filename.removeprefix(str(template / "template")).lstrip("/")
    return shown.removesuffix(_SUFFIX)


def _provenance(answers_path: Path, ctx: ActionContext, source: Path) -> dict[str, Any]:
    """Copier's answers with `_src_path` naming the real template source, not the temporary copy: the template's git
    repository with `_commit` the ref the run read (its version tag), or, for a folder, that folder and its git
    version when it is a checkout."""
    answers = yaml.safe_load(answers_path.read_text()) or {}
    if not isinstance(answers, dict):
        raise ActionError("template", "Copier wrote an answers file that is not a mapping")
    answers.pop("_commit", None)
    if ctx.template_origin and ctx.template_origin_ref:
        answers["_src_path"] = ctx.template_origin
        answers["_commit"] = ctx.template_origin_ref
        if ctx.template_origin_path:
            answers["_src_subdirectory"] = ctx.template_origin_path
    else:
        root = Path(os.path.realpath(ctx.template_dir)) if ctx.template_dir is not None else source
        answers["_src_path"] = str(root)
        commit = _git_version(root)
        if commit:
            answers["_commit"] = commit
    ordered = {key: answers[key] for key in sorted(answers)}
    answers_path.write_text(
        "# Changes here will be overwritten by Copier; NEVER EDIT MANUALLY\n"
        + yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, default_flow_style=False)
    )
    return ordered


def _git_version(root: Path) -> str | None:
    if not (root / ".git").exists():
        return None
    with tempfile.TemporaryDirectory(prefix="paved-git-home-") as home:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
        }
        try:
            done = subprocess.run(
                ["git", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-C", str(root),
                 "describe", "--tags", "--always", "--abbrev=40"],
                capture_output=True, env=env, timeout=30, check=False, text=True,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return None
    version = done.stdout.strip()
    return version if done.returncode == 0 and version else None


__all__ = ["ANSWERS_FILE", "DebugLog", "FetchPlain", "FetchTemplate"]
