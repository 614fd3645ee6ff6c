from __future__ import annotations

import json
from datetime import timedelta

import pytest

from scorecards.checks import rule_get
from scorecards.checks.repo import in_range
from scorecards.engine.model import State
from tests.scorecards.builders import component, fact, facts, run

ENTITY = component()
SOURCE = "git:https://git.example.com/payments-api@0a1b2c:"


def _file(path, text=None, *, exists=True, truncated=False, **kwargs):
    value = {"exists": exists, "text": text if exists else None, "truncated": truncated}
    return fact(f"repo.file:{path}", value, source=f"{SOURCE}{path}", **kwargs)


def _absent(*paths):
    return [_file(path, exists=False) for path in paths]


def test_file_exists_pass_and_fail():
    ok = run("repo.file-exists", ENTITY, facts(_file("Dockerfile", "FROM python")), path="Dockerfile")
    assert (ok.state, ok.evidence.message, ok.evidence.source) == (
        State.PASS,
        "Dockerfile exists",
        f"{SOURCE}Dockerfile",
    )
    missing = run("repo.file-exists", ENTITY, facts(*_absent("Dockerfile")), path="Dockerfile")
    assert (missing.state, missing.evidence.message) == (State.FAIL, "Dockerfile does not exist")


def test_file_exists_counts_binary_files():
    assert run("repo.file-exists", ENTITY, facts(_file("logo.png", None)), path="logo.png").state is State.PASS


def test_no_known_repository_is_an_error_not_a_fail():
    broken = fact("repo.file:README.md", None, error="no repository known: backstage.io/source-location is missing")
    result = run("repo.file-exists", ENTITY, facts(broken), path="README.md")
    assert result.state is State.ERROR
    assert result.evidence.message == (
        "repo.file:README.md could not be collected: no repository known: backstage.io/source-location is missing"
    )


def test_file_rules_go_stale():
    old = facts(_file("README.md", "# hi", age=timedelta(hours=30)))
    assert (
        run("repo.file-exists", ENTITY, old, path="README.md", max_age={"repo.": timedelta(days=1)}).state
        is State.STALE
    )
    assert (
        run("repo.file-exists", ENTITY, old, path="README.md", max_age={"oncall.": timedelta(hours=1)}).state
        is State.PASS
    )


def test_file_matches_reports_the_line():
    text = "# Payments\n\n## Runbook\nsee below\n"
    ok = run("repo.file-matches", ENTITY, facts(_file("README.md", text)), path="README.md", pattern="^## Runbook$")
    assert ok.state is State.PASS
    assert ok.evidence.value == {"line": 3, "match": "## Runbook"}
    assert ok.evidence.message == "README.md:3 matches /^## Runbook$/"
    no = run("repo.file-matches", ENTITY, facts(_file("README.md", text)), path="README.md", pattern="SLO")
    assert (no.state, no.evidence.message) == (State.FAIL, "README.md has no match for /SLO/")


def test_file_matches_fails_for_missing_and_binary_files():
    missing = run("repo.file-matches", ENTITY, facts(*_absent("README.md")), path="README.md", pattern="x")
    assert (missing.state, missing.evidence.message) == (State.FAIL, "README.md does not exist")
    binary = run("repo.file-matches", ENTITY, facts(_file("a.bin", None)), path="a.bin", pattern="x")
    assert (binary.state, binary.evidence.message) == (State.FAIL, "a.bin is not a text file")


def test_file_matches_in_a_truncated_file_is_unknown_without_a_match_and_pass_with_one():
    partial = facts(_file("big.log", "a" * 100, truncated=True))
    unknown = run("repo.file-matches", ENTITY, partial, path="big.log", pattern="zzz")
    assert unknown.state is State.ERROR
    assert (
        unknown.evidence.message
        == "/zzz/ is not in the first 100 characters of big.log, and the rest was not collected"
    )
    assert run("repo.file-matches", ENTITY, partial, path="big.log", pattern="a+").state is State.PASS


@pytest.mark.parametrize("path", ["/etc/passwd", "../secrets", "a/../../b", "a\\b", "", "x/..", "a\x00b"])
def test_file_paths_must_stay_inside_the_repository(path):
    problems = rule_get("repo.file-exists").params_problems({"path": path})
    assert problems
    assert problems[0][0] == "path"


def test_file_matches_refuses_a_pattern_that_does_not_compile():
    assert rule_get("repo.file-matches").params_problems({"path": "a", "pattern": "[a-"}) == [
        ("pattern", "'[a-' is not a valid regular expression: unterminated character set at position 0")
    ]


# -- dependencies ---------------------------------------------------------------------------------------------------

REQUIREMENTS = """\
# pinned for production
Django==5.2.19  # the framework
requests>=2.30,<3
celery[redis] ~= 5.7
some_Package==1.0.*
unbounded<2
-r other.txt
--index-url https://pypi.example.com/simple
gunicorn \\
    ==23.0.0
"""

PYPROJECT = """\
[project]
name = "svc"
dependencies = ["fastapi>=0.110", "pydantic==2.7.1"]
[project.optional-dependencies]
dev = ["pytest==8.2.0"]
"""

PACKAGE_JSON = json.dumps(
    {
        "dependencies": {"react": "^18.2.0", "lodash": "~4.17", "left-pad": "latest", "express": ">=4.18.0 <5"},
        "devDependencies": {"typescript": "5.x"},
        "peerDependencies": {"git-thing": "github:user/repo"},
    }
)

GO_MOD = """\
module example.com/payments

go 1.22

require github.com/single/dep v1.4.0

require (
\tgithub.com/spf13/cobra v1.8.0
\tgolang.org/x/net v0.0.0-20240101000000-abcdefabcdef // indirect
\tgithub.com/old/lib v2.0.0+incompatible
)
"""


def _manifests(requirements=None, pyproject=None, package=None, gomod=None):
    out = []
    for path, text in (
        ("requirements.txt", requirements),
        ("pyproject.toml", pyproject),
        ("package.json", package),
        ("go.mod", gomod),
    ):
        out.append(_file(path, text) if text is not None else _file(path, exists=False))
    return facts(*out)


@pytest.mark.parametrize(
    ("name", "version_range", "state", "version"),
    [
        ("django", ">=5.2,<6", State.PASS, "5.2.19"),
        ("Django", ">=6", State.FAIL, "5.2.19"),
        ("requests", ">=2.28", State.PASS, "2.30"),
        ("celery", ">=5.7", State.PASS, "5.7"),
        ("some-package", "==1.0.*", State.PASS, "1.0"),
        ("gunicorn", ">=23", State.PASS, "23.0.0"),
        ("unbounded", ">=1", State.FAIL, None),
    ],
)
def test_python_requirements(name, version_range, state, version):
    result = run("repo.dependency", ENTITY, _manifests(requirements=REQUIREMENTS), name=name, range=version_range)
    assert result.state is state, result.evidence.message
    assert result.evidence.value["version"] == version
    assert result.evidence.value["manifest"] == "requirements.txt"


def test_python_requirement_without_a_bound_says_why():
    result = run("repo.dependency", ENTITY, _manifests(requirements=REQUIREMENTS), name="unbounded", range=">=1")
    assert result.evidence.message == (
        "unbounded in requirements.txt is declared as unbounded<2, with no pin or lower bound to judge"
    )


def test_pyproject_dependencies_and_optional_dependencies():
    found = _manifests(pyproject=PYPROJECT)
    assert run("repo.dependency", ENTITY, found, name="pydantic", range=">=2,<3").state is State.PASS
    assert run("repo.dependency", ENTITY, found, name="pytest", range="<8").state is State.FAIL
    assert run("repo.dependency", ENTITY, found, name="fastapi").state is State.PASS


@pytest.mark.parametrize(
    ("name", "version_range", "state", "version"),
    [
        ("react", "^18", State.PASS, "18.2.0"),
        ("react", ">=19", State.FAIL, "18.2.0"),
        ("lodash", "~4.17.0", State.PASS, "4.17.0"),
        ("express", "^4.18", State.PASS, "4.18.0"),
        ("typescript", ">=5.0.0", State.PASS, "5.0.0"),
        ("left-pad", "*", State.FAIL, None),
        ("git-thing", "*", State.FAIL, None),
    ],
)
def test_npm_dependencies(name, version_range, state, version):
    result = run("repo.dependency", ENTITY, _manifests(package=PACKAGE_JSON), name=name, range=version_range)
    assert result.state is state, result.evidence.message
    assert result.evidence.value["version"] == version


@pytest.mark.parametrize(
    ("name", "version_range", "state"),
    [
        ("github.com/single/dep", "^1.2", State.PASS),
        ("github.com/spf13/cobra", ">=1.8.0 <2", State.PASS),
        ("github.com/spf13/cobra", "^2", State.FAIL),
        ("golang.org/x/net", ">=0.0.0", State.FAIL),  # a pseudo-version is a pre-release
        ("github.com/old/lib", "^2", State.PASS),
    ],
)
def test_go_modules(name, version_range, state):
    result = run("repo.dependency", ENTITY, _manifests(gomod=GO_MOD), name=name, range=version_range)
    assert result.state is state, result.evidence.message


def test_dependency_absent_everywhere_fails_naming_the_manifests():
    result = run("repo.dependency", ENTITY, _manifests(requirements="flask==3.0\n"), name="django", range=">=5")
    assert result.state is State.FAIL
    assert result.evidence.message == "django is not declared in requirements.txt, pyproject.toml, package.json, go.mod"


def test_first_manifest_that_declares_the_package_decides():
    both = _manifests(requirements="shared==1.0\n", package=json.dumps({"dependencies": {"shared": "^2.0.0"}}))
    result = run("repo.dependency", ENTITY, both, name="shared", range=">=1")
    assert result.evidence.value["manifest"] == "requirements.txt"


def test_custom_manifest_paths():
    found = facts(_file("backend/requirements.txt", "django==4.2\n"))
    result = run("repo.dependency", ENTITY, found, name="django", range="<5", manifests=["backend/requirements.txt"])
    assert result.state is State.PASS


def test_unreadable_manifest_without_the_package_is_an_error():
    result = run("repo.dependency", ENTITY, _manifests(package="{not json", pyproject="= broken"), name="react")
    assert result.state is State.ERROR
    assert result.evidence.message.startswith(
        "react was not found, and some manifests could not be read: pyproject.toml:"
    )
    assert "package.json:" in result.evidence.message


def test_a_manifest_that_failed_to_collect_makes_the_dependency_unknown():
    found = dict(_manifests(requirements="django==5.2\n"))
    found["repo.file:pyproject.toml"] = fact("repo.file:pyproject.toml", None, error="git host timed out")
    assert run("repo.dependency", ENTITY, found, name="django", range=">=5").state is State.ERROR
    # go.mod cannot read a PEP 440 range, so it is not needed and its failure does not matter.
    found = dict(_manifests(requirements="django==5.2\n"))
    found["repo.file:go.mod"] = fact("repo.file:go.mod", None, error="git host timed out")
    assert run("repo.dependency", ENTITY, found, name="django", range=">=5,<6").state is State.PASS
    # ">=5" reads in every ecosystem, so every manifest is needed.
    assert run("repo.dependency", ENTITY, found, name="django", range=">=5").state is State.ERROR
    assert rule_get("repo.dependency").facts({"name": "django", "range": ">=5,<6"}, ENTITY) == {
        "repo.file:requirements.txt",
        "repo.file:pyproject.toml",
    }
    assert rule_get("repo.dependency").facts({"name": "react", "ecosystem": "npm"}, ENTITY) == {
        "repo.file:package.json"
    }


def test_ecosystem_narrows_the_manifests():
    both = _manifests(requirements="shared==1.0\n", package=json.dumps({"dependencies": {"shared": "^2.0.0"}}))
    result = run("repo.dependency", ENTITY, both, name="shared", ecosystem="npm")
    assert result.evidence.value["manifest"] == "package.json"


@pytest.mark.parametrize(
    ("params", "where", "fragment"),
    [
        ({}, "", "'name' is a required property"),
        ({"name": "django", "range": "not a range"}, "range", "is not a valid go version range"),
        ({"name": "django", "range": "^1", "ecosystem": "python"}, "range", "is not a valid python version range"),
        ({"name": "x", "manifests": ["go.mod"], "ecosystem": "npm"}, "manifests.0", "go.mod is not a npm manifest"),
        ({"name": "x", "ecosystem": "ruby"}, "ecosystem", "is not one of"),
        (
            {"name": "react", "range": ">=>1", "manifests": ["package.json"]},
            "range",
            "is not a valid npm version range",
        ),
        ({"name": "x", "manifests": ["setup.py"]}, "manifests.0", "setup.py is not requirements*.txt"),
        ({"name": "x", "manifests": ["../requirements.txt"]}, "manifests.0", "does not match"),
        ({"name": "x", "manifests": []}, "manifests", "should be non-empty"),
    ],
)
def test_dependency_bad_parameters(params, where, fragment):
    problems = rule_get("repo.dependency").params_problems(params)
    assert problems
    assert problems[0][0] == where
    assert fragment in problems[0][1]


def test_range_semantics_per_ecosystem():
    assert in_range("python", "1.0rc1", ">=1.0rc1")
    assert not in_range("python", "2.0", "~=1.4")
    assert in_range("npm", "1.4.2", "1.2.x || >=1.4.0 <1.5.0")
    assert not in_range("npm", "2.0.0-beta.1", "^1.0.0")
    assert in_range("go", "1.2.3", "1.2.3")


def test_hostile_manifests_never_raise():
    hostile = [
        "\x00\x01\x02",
        "[" * 5000,
        json.dumps([1, 2, 3]),
        json.dumps({"dependencies": {"x": 5}}),
        "require (\n\tx\n",
        "x" * 200_000,
        "x==" + "1" * 5000,
        json.dumps({"dependencies": {"x": "^" + "1" * 5000}}),
        "require x v" + "1" * 5000,
    ]
    for text in hostile:
        for path in ("requirements.txt", "pyproject.toml", "package.json", "go.mod"):
            found = {
                f"repo.file:{p}": _file(p, exists=False)
                for p in ("requirements.txt", "pyproject.toml", "package.json", "go.mod")
            }
            found[f"repo.file:{path}"] = _file(path, text)
            result = run("repo.dependency", ENTITY, found, name="x", range=">=1")
            assert result.state in (State.FAIL, State.ERROR)
