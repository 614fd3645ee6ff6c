"""catalog:register puts a published catalog-info.yaml into the catalog within the step; catalog:write writes one."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.contrib.auth import get_user_model

from catalog.models import Entity, Location
from scaffolder.actions import ActionContext, ActionError, ActionSettings, action_get, validate_input
from scaffolder.publishers.local import publish_local

CATALOG_INFO = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: checkout
  description: Takes the money
spec:
  type: service
  lifecycle: experimental
  owner: group:default/payments
"""


def make_ctx(tmp_path: Path, action_input: dict, *, dry_run: bool = False, user_name: str = "ada") -> ActionContext:
    workspace = tmp_path / "workspace"
    workspace.mkdir(exist_ok=True)
    return ActionContext(
        run_id="run-1",
        step_id="register",
        workspace=workspace,
        input=action_input,
        template_dir=None,
        user_ref="user:default/ada",
        user_name=user_name,
        user_email="ada@example.com",
        dry_run=dry_run,
        log=lambda line: None,
        settings=ActionSettings(repos_root=tmp_path / "repos"),
    )


@pytest.fixture
def published(tmp_path: Path, settings) -> str:
    settings.VAR_DIR = tmp_path
    source = tmp_path / "source"
    source.mkdir()
    (source / "catalog-info.yaml").write_text(CATALOG_INFO)
    (source / "README.md").write_text("# checkout\n")
    result = publish_local(
        repos_root=tmp_path / "repos",
        owner="payments",
        repo="checkout",
        workspace=source,
        author_name="Ada",
        author_email="ada@example.com",
        message="Create checkout",
        idempotency_key="run-1:publish",
    )
    return result.repo_contents_url


@pytest.mark.django_db
def test_catalog_register_registers_and_reads_the_published_file_as_the_requester(tmp_path, published):
    user = get_user_model().objects.create_user(username="ada", email="ada@example.com")
    action = action_get("catalog:register")
    action_input = {"repoContentsUrl": published, "catalogInfoPath": "/catalog-info.yaml"}
    validate_input(action, action_input)

    output = action.run(make_ctx(tmp_path, action_input, user_name="Ada Lovelace"))

    assert output["entityRef"] == "component:default/checkout"
    assert output["catalogInfoUrl"] == f"{published}catalog-info.yaml"
    location = Location.objects.get(pk=output["locationId"])
    assert location.type == "git"
    assert not location.trusted
    assert location.created_by == user
    entity = Entity.objects.get(ref="component:default/checkout")
    assert entity.description == "Takes the money"
    assert entity.location == location


@pytest.mark.django_db
def test_catalog_register_acts_as_the_system_without_a_matching_user(tmp_path, published):
    get_user_model().objects.create_user(username="mallory", email="mallory@example.com")
    output = action_get("catalog:register").run(make_ctx(tmp_path, {"repoContentsUrl": published}, user_name="mallory"))

    assert Location.objects.get(pk=output["locationId"]).created_by is None


@pytest.mark.django_db
def test_catalog_register_again_reuses_the_location(tmp_path, published):
    action = action_get("catalog:register")
    first = action.run(make_ctx(tmp_path, {"repoContentsUrl": published}, user_name="nobody-here"))
    second = action.run(make_ctx(tmp_path, {"catalogInfoUrl": first["catalogInfoUrl"]}, user_name="nobody-here"))

    assert second == first
    assert Location.objects.filter(type="git").count() == 1
    assert Entity.objects.filter(ref="component:default/checkout").count() == 1


@pytest.mark.django_db
def test_catalog_register_dry_run_reads_and_registers_nothing(tmp_path, published):
    output = action_get("catalog:register").run(make_ctx(tmp_path, {"repoContentsUrl": published}, dry_run=True))

    assert output["catalogInfoUrl"] == f"{published}catalog-info.yaml"
    assert output["entityRef"]
    assert output["locationId"]
    assert not Location.objects.filter(type="git").exists()
    assert not Entity.objects.filter(kind="Component").exists()


@pytest.mark.django_db
def test_catalog_register_refuses_a_target_outside_the_repositories(tmp_path, published):
    with pytest.raises(ActionError) as refused:
        action_get("catalog:register").run(make_ctx(tmp_path, {"catalogInfoUrl": "/etc#main:passwd"}))
    assert refused.value.code in {"input", "catalog"}
    assert not Location.objects.filter(type="git").exists()


def test_catalog_register_input_needs_a_url():
    with pytest.raises(ActionError):
        validate_input(action_get("catalog:register"), {"catalogInfoPath": "/catalog-info.yaml"})


def test_catalog_write_writes_the_entity_as_yaml(tmp_path):
    entity = {"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "checkout"}}
    action = action_get("catalog:write")
    validate_input(action, {"entity": entity})

    assert action.run(make_ctx(tmp_path, {"entity": entity})) == {}
    assert yaml.safe_load((tmp_path / "workspace" / "catalog-info.yaml").read_text()) == entity

    action.run(make_ctx(tmp_path, {"entity": entity, "filePath": "deploy/entity.yaml"}))
    assert yaml.safe_load((tmp_path / "workspace" / "deploy" / "entity.yaml").read_text()) == entity


@pytest.mark.parametrize("file_path", ["../outside.yaml", "/etc/entity.yaml", "a/../../b.yaml"])
def test_catalog_write_stays_in_the_workspace(tmp_path, file_path):
    with pytest.raises(ActionError):
        action_get("catalog:write").run(make_ctx(tmp_path, {"entity": {"kind": "Component"}, "filePath": file_path}))
    assert not (tmp_path / "outside.yaml").exists()


def test_catalog_write_refuses_a_symlink(tmp_path):
    ctx = make_ctx(tmp_path, {"entity": {"kind": "Component"}, "filePath": "link/catalog-info.yaml"})
    (tmp_path / "elsewhere").mkdir()
    (ctx.workspace / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ActionError):
        action_get("catalog:write").run(ctx)
    assert not (tmp_path / "elsewhere" / "catalog-info.yaml").exists()
