"""A run's template files: a folder as it is, or a git tree exported once, confined and free of links."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from scaffolder.sources import (
    TemplateSourceError,
    template_files,
    template_source,
    template_tag,
    template_version,
    version_of_tag,
)


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _tagged_repo(root: Path, files: dict[str, str], *, link: tuple[str, str] | None = None) -> Path:
    """A bare repository under `root` holding `files` (and optionally a symlink), tagged v1.0.0."""
    work = root / "work"
    work.mkdir(parents=True)
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    if link is not None:
        (work / link[0]).symlink_to(link[1])
    _git("init", "-q", "-b", "main", cwd=work)
    _git("add", "-A", cwd=work)
    _git("-c", "user.name=Paved", "-c", "user.email=paved@example.com", "commit", "-qm", "template", cwd=work)
    _git("tag", "v1.0.0", cwd=work)
    bare = root / "repos" / "templates" / "svc.git"
    bare.parent.mkdir(parents=True)
    _git("clone", "-q", "--bare", str(work), str(bare), cwd=root)
    return bare


def _template(location: str) -> dict:
    return {"metadata": {"annotations": {"backstage.io/managed-by-location": location}}}


def test_a_file_location_names_the_template_folder():
    assert template_source(_template("file:/srv/templates/svc/template.yaml")) == "/srv/templates/svc"
    assert template_source(_template("url:https://example.com/template.yaml")) == ""
    assert template_source({}) == ""


def test_a_git_location_names_the_tree_beside_the_template_at_its_ref():
    source = template_source(_template("git:/srv/repos/svc.git#v1.2.0:templates/svc/template.yaml"))
    assert source == "git:/srv/repos/svc.git#v1.2.0:templates/svc"
    assert (template_tag(source), template_version(source)) == ("v1.2.0", "1.2.0")
    assert (template_tag("git:/srv/repos/svc.git#main:"), template_version("git:/srv/repos/svc.git#main:")) == ("", "")
    assert (template_tag("/srv/templates/svc"), template_version("/srv/templates/svc")) == ("", "")


@pytest.mark.parametrize(
    ("ref", "tag", "version"),
    [
        ("v1.0.0", "v1.0.0", "1.0.0"),
        ("refs/tags/v2.3", "v2.3", "2.3"),
        ("1.4.0", "1.4.0", "1.4.0"),
        ("vnext", "", ""),
        ("v", "", ""),
        ("main", "", ""),
        ("", "", ""),
        ("release/v1.0.0", "", ""),
    ],
)
def test_the_version_is_the_tag_without_its_v(ref, tag, version):
    source = f"git:/srv/repos/svc.git#{ref}:templates/svc"
    assert (template_tag(source), template_version(source)) == (tag, version)


def test_version_of_tag_keeps_what_is_not_a_v_and_a_digit():
    assert [version_of_tag(tag) for tag in ("v1.0.0", "1.0.0", "vx", "")] == ["1.0.0", "1.0.0", "vx", ""]


def test_a_git_tree_is_exported_once_per_run(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    bare = _tagged_repo(tmp_path, {"template.yaml": "kind: Template\n", "skeleton/README.md": "${{ values.name }}\n"})
    run_dir = tmp_path / "scaffolder" / "runs" / "r1"
    folder = template_files(source=f"git:{bare}#v1.0.0:", run_dir=run_dir)
    assert folder == run_dir / "template"
    assert (folder / "skeleton" / "README.md").read_text() == "${{ values.name }}\n"
    (folder / "skeleton" / "README.md").write_text("changed")
    assert template_files(source=f"git:{bare}#v1.0.0:", run_dir=run_dir) == folder
    assert (folder / "skeleton" / "README.md").read_text() == "changed"  # not exported a second time


def test_a_git_tree_with_a_link_is_refused(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    bare = _tagged_repo(tmp_path, {"template.yaml": "kind: Template\n"}, link=("skeleton", "/etc"))
    with pytest.raises(TemplateSourceError, match="link"):
        template_files(source=f"git:{bare}#v1.0.0:", run_dir=tmp_path / "run")


def test_a_repository_outside_the_allowed_roots_is_refused(tmp_path, settings):
    settings.VAR_DIR = tmp_path / "var"
    settings.PAVED_CATALOG_FILE_ROOTS = []
    bare = _tagged_repo(tmp_path / "elsewhere", {"template.yaml": "kind: Template\n"})
    with pytest.raises(TemplateSourceError, match="outside the allowed repository roots"):
        template_files(source=f"git:{bare}#v1.0.0:", run_dir=tmp_path / "run")


def test_a_folder_source_is_used_as_it_is(tmp_path):
    assert template_files(source=str(tmp_path), run_dir=tmp_path / "run") == tmp_path
    assert template_files(source="", run_dir=tmp_path / "run") is None
