"""Repository rules: files in the entity's repository (facts ``repo.file:<path>``).

``repo.dependency`` reads the manifests at the repository root (or the ``manifests`` given) and judges the version the
manifest declares for the package:

- Python (``requirements.txt``, ``pyproject.toml`` ``[project] dependencies`` and ``optional-dependencies``): names
  compare as PEP 503 normalised; the declared version is the pin (``==1.2.3``, ``===1.2.3``, ``==1.2.*`` as 1.2) or
  else the highest lower bound (``>=``, ``~=``); a requirement with neither (``requests<3`` or bare ``requests``)
  has no version to judge and fails saying so. ``range`` is a PEP 440 specifier set (``>=4.2,<6``) checked with
  ``packaging``, pre-releases included.
- npm (``package.json`` ``dependencies``, ``devDependencies``, ``peerDependencies``, ``optionalDependencies``): the
  declared version is the first version in the declared range (``^1.2.3``, ``~1.2``, ``>=1.2.0 <2``, ``1.x`` give 1.2.3,
  1.2.0, 1.2.0, 1.0.0), provided the declared range allows it; tags, URLs and ``*`` have no version to judge.
  ``range`` is an npm range (``^1.2``, ``>=1.2.0 <2 || ^3``) checked with ``semantic_version.NpmSpec``.
- Go (``go.mod`` ``require`` lines and blocks; ``replace`` is not followed): the version without its ``v``;
  ``range`` uses the npm range syntax on it (pseudo-versions are pre-releases, so ``>=0.0.0`` does not match them
  unless the range names a pre-release of the same version, as npm does).

Only manifests whose ecosystem can read ``range`` are looked at: ``>=5.2,<6`` (PEP 440) is looked for in Python
manifests only, ``^1.2`` in package.json and go.mod only; a range no manifest's ecosystem reads is a parameter problem.
``ecosystem`` (python, npm, go) narrows the default manifests to one ecosystem. Every listed manifest is a fact the
rule needs, so one that could not be collected makes the result ``error``. Lock files are not read: the judged version
is what the manifest declares.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, Final

import semantic_version  # type: ignore[import-untyped]
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from scorecards.checks.base import NONEMPTY, pattern_problems, result, schema
from scorecards.checks.registry import Rule, register_rule
from scorecards.engine.model import Evidence, Facts, State

FILE_PREFIX: Final = "repo.file:"
DEFAULT_MANIFESTS: Final = ("requirements.txt", "pyproject.toml", "package.json", "go.mod")
ECOSYSTEMS: Final = {"requirements.txt": "python", "pyproject.toml": "python", "package.json": "npm", "go.mod": "go"}
NPM_SECTIONS: Final = ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies")
_PATH_SCHEMA: Final = {
    **NONEMPTY,
    "pattern": r"^(?!/)(?!.*(^|/)\.\.(/|$))[^\\\x00]+$",
    "description": "A path relative to the repository root, with / separators and no '..'.",
}


def file_key(path: str) -> str:
    return f"{FILE_PREFIX}{path}"


def _file_exists(
    params: Mapping[str, Any], entity: Mapping[str, Any], facts: Facts, now: datetime
) -> tuple[State, Evidence]:
    fact = facts[file_key(params["path"])]
    value = fact.value if isinstance(fact.value, Mapping) else {}
    if value.get("exists"):
        return result(State.PASS, fact, {"exists": True}, f"{params['path']} exists")
    return result(State.FAIL, fact, {"exists": False}, f"{params['path']} does not exist")


def _file_matches(
    params: Mapping[str, Any], entity: Mapping[str, Any], facts: Facts, now: datetime
) -> tuple[State, Evidence]:
    path, pattern = params["path"], params["pattern"]
    fact = facts[file_key(path)]
    value = fact.value if isinstance(fact.value, Mapping) else {}
    if not value.get("exists"):
        return result(State.FAIL, fact, {"exists": False}, f"{path} does not exist")
    text = value.get("text")
    if not isinstance(text, str):
        return result(State.FAIL, fact, {"exists": True, "text": None}, f"{path} is not a text file")
    match = re.compile(pattern, re.MULTILINE).search(text)
    if match:
        line = text.count("\n", 0, match.start()) + 1
        return result(
            State.PASS, fact, {"line": line, "match": match.group(0)[:200]}, f"{path}:{line} matches /{pattern}/"
        )
    if value.get("truncated"):
        return result(
            State.ERROR,
            fact,
            {"truncated": True, "chars": len(text)},
            f"/{pattern}/ is not in the first {len(text)} characters of {path}, and the rest was not collected",
        )
    return result(State.FAIL, fact, {"chars": len(text)}, f"{path} has no match for /{pattern}/")


# -- dependencies -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Declared:
    """A dependency as one manifest declares it: the text of its constraint and the version judged (None: none)."""

    manifest: str
    ecosystem: str
    constraint: str
    version: str | None
    why_no_version: str = ""


def _python_version(requirement: Requirement) -> tuple[str | None, str]:
    pins: list[Version] = []
    lower: list[Version] = []
    for spec in requirement.specifier:
        text = spec.version
        try:
            if spec.operator in ("==", "===") and not text.endswith(".*"):
                pins.append(Version(text))
            elif spec.operator == "==":
                pins.append(Version(text[:-2]))
            elif spec.operator in (">=", "~="):
                lower.append(Version(text))
        except (InvalidVersion, ValueError):  # ValueError: a component too long to be an int
            continue
    if pins:
        return str(pins[0]), ""
    if lower:
        return str(max(lower)), ""
    constraint = str(requirement.specifier) or "any version"
    return None, f"declared as {requirement.name}{constraint}, with no pin or lower bound to judge"


def _requirement_lines(text: str) -> Iterator[str]:
    pending = ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = (pending + line).strip(), ""
        if line and not line.startswith("-"):
            yield line


def _python_declared(manifest: str, requirements: list[str], name: str) -> Declared | None:
    wanted = canonicalize_name(name)
    for line in requirements:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(requirement.name) == wanted:
            version, why = _python_version(requirement)
            return Declared(manifest, "python", line, version, why)
    return None


def _pyproject_requirements(text: str) -> list[str]:
    data = tomllib.loads(text)
    project = data.get("project")
    if not isinstance(project, dict):
        return []
    found = [item for item in project.get("dependencies") or [] if isinstance(item, str)]
    optional = project.get("optional-dependencies")
    if isinstance(optional, dict):
        for items in optional.values():
            found.extend(item for item in items or [] if isinstance(item, str))
    return found


_NPM_FIRST_VERSION: Final = re.compile(
    r"^\s*(?:[\^~]|>=|=)?\s*v?(\d+)(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(-[0-9A-Za-z.-]+)?"
)


def _npm_version(declared: str) -> str | None:
    match = _NPM_FIRST_VERSION.match(declared)
    if not match:
        return None
    major, minor, patch, pre = match.groups()
    minor = minor if minor and minor.isdigit() else "0"
    patch = patch if patch and patch.isdigit() else "0"
    version = f"{major}.{minor}.{patch}{pre or ''}"
    try:
        allowed = semantic_version.NpmSpec(declared.strip()).match(semantic_version.Version(version))
    except ValueError:
        return None
    return version if allowed else None


def _npm_declared(manifest: str, text: str, name: str) -> Declared | None:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("the top level is not an object")
    for section in NPM_SECTIONS:
        entries = data.get(section)
        if isinstance(entries, dict) and isinstance(entries.get(name), str):
            constraint = entries[name]
            version = _npm_version(constraint)
            why = "" if version else f"declared as {constraint!r} in {section}, which names no version to judge"
            return Declared(manifest, "npm", constraint, version, why)
    return None


_GO_REQUIRE: Final = re.compile(r"^\s*(?:require\s+)?(\S+)\s+(v\S+)")


def _go_declared(manifest: str, text: str, name: str) -> Declared | None:
    in_block = False
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if in_block and line.startswith(")"):
            in_block = False
            continue
        if re.match(r"^require\s*\($", line):
            in_block = True
            continue
        if not (in_block or line.startswith("require ")):
            continue
        match = _GO_REQUIRE.match(line)
        if match and match.group(1) == name:
            raw_version = match.group(2)
            try:
                semantic_version.Version(raw_version[1:])
            except ValueError:
                return Declared(manifest, "go", raw_version, None, f"{raw_version} is not a semantic version")
            return Declared(manifest, "go", raw_version, raw_version[1:])
    return None


def _declared_in(manifest: str, text: str, name: str) -> Declared | None:
    base = PurePosixPath(manifest).name
    if base == "requirements.txt" or base.endswith(".txt"):
        return _python_declared(manifest, list(_requirement_lines(text)), name)
    if base == "pyproject.toml":
        return _python_declared(manifest, _pyproject_requirements(text), name)
    if base == "package.json":
        return _npm_declared(manifest, text, name)
    if base == "go.mod":
        return _go_declared(manifest, text, name)
    raise ValueError(
        f"{manifest} is not a manifest this rule reads (requirements*.txt, pyproject.toml, package.json, go.mod)"
    )


def _ecosystem_of(manifest: str) -> str:
    base = PurePosixPath(manifest).name
    return "python" if base.endswith(".txt") else ECOSYSTEMS.get(base, "")


def in_range(ecosystem: str, version: str, version_range: str) -> bool:
    """Whether ``version`` is within ``version_range`` by the ecosystem's rules. Raises ValueError for a bad range."""
    if ecosystem == "python":
        try:
            return SpecifierSet(version_range).contains(Version(version), prereleases=True)
        except (InvalidSpecifier, InvalidVersion) as error:
            raise ValueError(str(error)) from error
    return bool(semantic_version.NpmSpec(version_range).match(semantic_version.Version(version)))


def range_problem(ecosystem: str, version_range: str) -> str | None:
    """Why a range does not parse for an ecosystem, or None."""
    try:
        if ecosystem == "python":
            SpecifierSet(version_range)
        else:
            semantic_version.NpmSpec(version_range)
    except (InvalidSpecifier, ValueError) as error:
        return f"{version_range!r} is not a valid {ecosystem} version range: {error}"
    return None


def _manifests(params: Mapping[str, Any]) -> tuple[str, ...]:
    manifests = tuple(params.get("manifests") or DEFAULT_MANIFESTS)
    if "ecosystem" in params and "manifests" not in params:
        return tuple(m for m in manifests if _ecosystem_of(m) == params["ecosystem"])
    return manifests


def _readable_range(params: Mapping[str, Any], manifest: str) -> bool:
    """Whether this manifest's ecosystem reads the range (a PEP 440 range is not looked for in package.json)."""
    return "range" not in params or range_problem(_ecosystem_of(manifest), params["range"]) is None


def _dependency_params(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    manifests = _manifests(params)
    for index, manifest in enumerate(manifests):
        ecosystem = _ecosystem_of(manifest)
        if not ecosystem:
            message = f"{manifest} is not requirements*.txt, pyproject.toml, package.json or go.mod"
            problems.append((f"manifests.{index}", message))
        elif "ecosystem" in params and ecosystem != params["ecosystem"]:
            problems.append((f"manifests.{index}", f"{manifest} is not a {params['ecosystem']} manifest"))
    ecosystems = sorted({_ecosystem_of(m) for m in manifests} - {""})
    if "range" in params and ecosystems:
        messages = [range_problem(ecosystem, params["range"]) for ecosystem in ecosystems]
        if all(messages):
            problems.append(("range", "; ".join(str(message) for message in messages)))
    return problems


def _dependency(
    params: Mapping[str, Any], entity: Mapping[str, Any], facts: Facts, now: datetime
) -> tuple[State, Evidence]:
    name, version_range = params["name"], params.get("range")
    manifests = [manifest for manifest in _manifests(params) if _readable_range(params, manifest)]
    unreadable: list[str] = []
    for manifest in manifests:
        fact = facts[file_key(manifest)]
        value = fact.value if isinstance(fact.value, Mapping) else {}
        text = value.get("text")
        if not value.get("exists") or not isinstance(text, str):
            continue
        try:
            declared = _declared_in(manifest, text, name)
        except (ValueError, RecursionError, tomllib.TOMLDecodeError) as error:
            unreadable.append(f"{manifest}: {str(error)[:200]}")
            continue
        if declared is None:
            if value.get("truncated"):
                unreadable.append(f"{manifest} was only partly collected")
            continue
        seen = {"manifest": manifest, "declared": declared.constraint, "version": declared.version}
        if version_range is None:
            return result(State.PASS, fact, seen, f"{name} is declared in {manifest} ({declared.constraint})")
        if declared.version is None:
            return result(State.FAIL, fact, seen, f"{name} in {manifest} is {declared.why_no_version}")
        if in_range(declared.ecosystem, declared.version, version_range):
            return result(State.PASS, fact, seen, f"{name} {declared.version} in {manifest} is within {version_range}")
        return result(State.FAIL, fact, seen, f"{name} {declared.version} in {manifest} is not within {version_range}")
    first = facts[file_key(manifests[0])]
    if unreadable:
        message = f"{name} was not found, and some manifests could not be read: {'; '.join(unreadable)}"
        return result(State.ERROR, first, unreadable, message)
    return result(State.FAIL, first, None, f"{name} is not declared in {', '.join(manifests)}")


FILE_EXISTS = register_rule(
    Rule(
        "repo.file-exists",
        "Repository file exists",
        schema({"path": _PATH_SCHEMA}, ["path"]),
        lambda params, entity: {file_key(params["path"])},
        _file_exists,
    )
)
FILE_MATCHES = register_rule(
    Rule(
        "repo.file-matches",
        "Repository file content matches",
        schema({"path": _PATH_SCHEMA, "pattern": {**NONEMPTY, "maxLength": 1000}}, ["path", "pattern"]),
        lambda params, entity: {file_key(params["path"])},
        _file_matches,
        pattern_problems,
        description="Python regular expression searched in the file (MULTILINE: ^ and $ match at line ends). A file "
        "collected only in part gives error, not fail, when the part has no match.",
    )
)
DEPENDENCY = register_rule(
    Rule(
        "repo.dependency",
        "Package dependency within a version range",
        schema(
            {
                "name": NONEMPTY,
                "range": {**NONEMPTY, "description": "PEP 440 specifiers for Python, npm range syntax otherwise."},
                "manifests": {"type": "array", "items": _PATH_SCHEMA, "minItems": 1, "maxItems": 20},
                "ecosystem": {"enum": ["python", "npm", "go"]},
            },
            ["name"],
        ),
        lambda params, entity: {file_key(m) for m in _manifests(params) if _readable_range(params, m)},
        _dependency,
        _dependency_params,
        description="The first manifest (in order) that declares the package decides; without range, declaring it "
        "passes. Only manifests whose ecosystem reads the range are looked at (a PEP 440 range is not looked for in "
        "package.json); ecosystem narrows the default manifests to one ecosystem.",
    )
)
