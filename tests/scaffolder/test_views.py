from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, cast

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from scaffolder.models import Run
from scaffolder.runner import workspace_path
from tests.catalog.factories import ingest, new_location, org_docs
from tests.portal.factories import AdminFactory
from tests.scaffolder.factories import ApprovalFactory, EventFactory, RunFactory, StepFactory

pytestmark = pytest.mark.django_db

MENU = reverse("scaffolder:template_list")


def template_doc(name: str = "python-service", **metadata: Any) -> dict[str, Any]:
    """A small Template: a name and an owner on page one, memory on page two, a guard rail above 1024 MiB."""
    return {
        "apiVersion": "scaffolder.backstage.io/v1beta3",
        "kind": "Template",
        "metadata": {
            "name": name,
            "title": "Python service",
            "description": "A web service in Python.",
            "tags": ["python"],
            **metadata,
        },
        "spec": {
            "owner": "group:default/payments",
            "type": "service",
            "parameters": [
                {
                    "title": "About",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "title": "Name", "pattern": "^[a-z][a-z0-9-]*$"},
                        "owner": {"type": "string", "title": "Owner", "ui:field": "OwnerPicker"},
                    },
                },
                {
                    "title": "Resources",
                    "properties": {"memoryMiB": {"type": "integer", "title": "Memory (MiB)", "default": 512}},
                },
            ],
            "guardrails": [
                {"if": "${{ parameters.memoryMiB > 1024 }}", "approvers": "group:payments", "reason": "Big memory"}
            ],
            "steps": [{"id": "log", "name": "Say hello", "action": "debug:log", "input": {"message": "hi"}}],
        },
    }


@pytest.fixture
def catalog() -> None:
    result = ingest([*org_docs(), template_doc()], location=new_location(trusted=True))
    assert not result.errors, result.errors


def html(response) -> str:
    return str(response.content.decode())


def is_fragment(response, dom_id: str) -> bool:
    text = html(response).lstrip()
    first_tag = text[: text.index(">") + 1] if ">" in text else ""
    return f'id="{dom_id}"' in first_tag and "<html" not in text and "<nav" not in text


FORM = reverse("scaffolder:template_form", args=["default", "python-service"])
CHECK = reverse("scaffolder:template_check", args=["default", "python-service"])
REVIEW = reverse("scaffolder:template_review", args=["default", "python-service"])
CREATE = reverse("scaffolder:template_create", args=["default", "python-service"])


# --- the menu ------------------------------------------------------------------------------------------------


def test_template_list_shows_templates_with_owner_and_description(catalog, auth_client: Client) -> None:
    response = auth_client.get(MENU)
    assert response.status_code == 200
    assert "Python service" in html(response)
    assert "A web service in Python." in html(response)
    assert "group:default/payments" in html(response)
    assert 'aria-current="page"' in html(response)


def test_template_list_filters_by_text_tag_and_type(catalog, auth_client: Client) -> None:
    assert "Python service" in html(auth_client.get(MENU, {"q": "python web"}))
    assert "Python service" not in html(auth_client.get(MENU, {"q": "rust"}))
    assert "Python service" in html(auth_client.get(MENU, {"tag": "python", "type": "service"}))
    assert "Python service" not in html(auth_client.get(MENU, {"type": "website"}))


def test_template_list_fragment_is_the_results_only(catalog, htmx_client: Client) -> None:
    response = htmx_client.get(MENU, {"q": "python"})
    assert is_fragment(response, "template-results")


def test_template_list_empty_explains_how_to_add_templates(auth_client: Client) -> None:
    response = auth_client.get(MENU)
    assert "No templates yet" in html(response)
    assert "trusted" in html(response)


# --- the form --------------------------------------------------------------------------------------------------


def test_template_form_shows_the_first_page(catalog, auth_client: Client) -> None:
    response = auth_client.get(FORM)
    assert response.status_code == 200
    assert 'name="name"' in html(response)
    assert 'name="memoryMiB"' not in html(response)
    assert reverse("scaffolder:picker") in html(response)


def test_template_form_of_an_unknown_template_is_404(auth_client: Client) -> None:
    assert auth_client.get(reverse("scaffolder:template_form", args=["default", "nope"])).status_code == 404


def test_template_form_refuses_an_invalid_page_and_keeps_going_when_fixed(catalog, auth_client: Client) -> None:
    refused = auth_client.post(FORM, {"page": "1", "action": "next", "name": "Bad Name"})
    assert refused.status_code == 400
    assert 'id="field-errors-name"' in html(refused)
    moved = auth_client.post(FORM, {"page": "1", "action": "next", "name": "good-name"})
    assert moved.status_code == 302
    assert moved["Location"].endswith("?page=2")
    second = auth_client.get(moved["Location"])
    assert 'name="memoryMiB"' in html(second)
    back = auth_client.post(FORM, {"page": "2", "action": "back", "memoryMiB": "600"})
    assert back["Location"].endswith("?page=1")
    assert 'value="good-name"' in html(auth_client.get(back["Location"]))


def test_template_form_refuses_a_name_the_catalog_has(catalog, auth_client: Client) -> None:
    refused = auth_client.post(FORM, {"page": "1", "action": "next", "name": "checkout"})
    assert refused.status_code == 400
    assert "already exists" in html(refused)


def test_template_check_answers_field_errors_and_guard_rails_out_of_band(catalog, htmx_client: Client) -> None:
    response = htmx_client.post(CHECK, {"page": "1", "name": "checkout"})
    assert response.status_code == 200
    assert 'id="field-errors-name"' in html(response)
    assert "already exists" in html(response)
    assert 'hx-swap-oob="true"' in html(response)
    assert "<nav" not in html(response)
    rail = htmx_client.post(CHECK, {"page": "2", "memoryMiB": "2048"})
    assert "Needs approval" in html(rail)
    assert "Big memory" in html(rail)
    calm = htmx_client.post(CHECK, {"page": "2", "memoryMiB": "512"})
    assert "Needs approval" not in html(calm)


def test_the_guard_rail_notice_shows_while_other_required_fields_are_still_empty(htmx_client: Client) -> None:
    template = template_doc()
    template["spec"]["parameters"][1]["required"] = ["memoryMiB", "policy"]
    template["spec"]["parameters"][1]["properties"]["policy"] = {"type": "string", "title": "Escalation policy"}
    result = ingest([*org_docs(), template], location=new_location(trusted=True))
    assert not result.errors, result.errors

    rail = htmx_client.post(CHECK, {"page": "2", "memoryMiB": "2048", "policy": ""})

    assert "Needs approval" in html(rail)
    assert "Needs approval" not in html(htmx_client.post(CHECK, {"page": "2", "memoryMiB": "x", "policy": ""}))


def _answer(client: Client, memory: str = "512") -> None:
    assert client.post(FORM, {"page": "1", "action": "next", "name": "new-service"}).status_code == 302
    assert client.post(FORM, {"page": "2", "action": "next", "memoryMiB": memory}).status_code == 302


def test_review_lists_values_and_create_starts_a_run(catalog, auth_client: Client, user) -> None:
    _answer(auth_client)
    review = auth_client.get(REVIEW)
    assert "new-service" in html(review)
    assert "Memory (MiB)" in html(review)
    assert "Needs approval" not in html(review)
    created = auth_client.post(CREATE)
    run = Run.objects.get()
    assert created["Location"] == reverse("scaffolder:run_detail", args=[run.pk])
    assert run.parameters == {"name": "new-service", "memoryMiB": 512}
    assert run.template_ref == "template:default/python-service"
    assert run.created_by == user


def test_dry_run_from_the_review_keeps_the_answers(catalog, auth_client: Client) -> None:
    _answer(auth_client)
    created = auth_client.post(CREATE, {"dry_run": "true"})
    run = Run.objects.get()
    assert run.dry_run
    assert created["Location"] == reverse("scaffolder:run_detail", args=[run.pk])
    assert "new-service" in html(auth_client.get(REVIEW))


def test_review_warns_of_guard_rails_and_the_run_waits(catalog, auth_client: Client) -> None:
    _answer(auth_client, memory="2048")
    assert "Needs approval" in html(auth_client.get(REVIEW))
    auth_client.post(CREATE)
    assert Run.objects.get().status == Run.Status.AWAITING_APPROVAL


def test_create_without_answers_shows_the_errors(catalog, auth_client: Client) -> None:
    response = auth_client.post(CREATE)
    assert response.status_code == 400
    assert not Run.objects.exists()


# --- runs -------------------------------------------------------------------------------------------------------


def test_run_detail_shows_steps_log_and_polls_while_running(auth_client: Client, user) -> None:
    run = RunFactory(created_by=user, status=Run.Status.PROCESSING)
    StepFactory(run=run, step_id="fetch", name="Fetch skeleton")
    EventFactory(run=run, body="fetching the skeleton")
    response = auth_client.get(reverse("scaffolder:run_detail", args=[run.pk]))
    assert response.status_code == 200
    assert "Fetch skeleton" in html(response)
    assert "fetching the skeleton" in html(response)
    assert 'hx-trigger="every 1s"' in html(response)


def test_run_detail_fragment_polls_then_stops_with_286_when_finished(auth_client: Client, htmx_client: Client, user):
    run = RunFactory(created_by=user, status=Run.Status.PROCESSING)
    url = reverse("scaffolder:run_detail", args=[run.pk])
    running = htmx_client.get(url)
    assert running.status_code == 200
    assert is_fragment(running, "run-live")
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.COMPLETED, output={"links": [{"title": "Repository", "url": "https://git.example/x"}]}
    )
    Run.objects.filter(pk=run.pk).update(finished_at=run.created_at)
    done = htmx_client.get(url)
    assert done.status_code == 286
    assert is_fragment(done, "run-live")
    assert "every 1s" not in html(done)
    assert "https://git.example/x" in html(done)


def test_run_detail_of_a_finished_dry_run_shows_the_rendered_files(auth_client: Client, user, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    run = RunFactory(created_by=user, dry_run=True, status=Run.Status.PROCESSING)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.COMPLETED, finished_at=run.created_at)
    workspace = workspace_path(run_id=str(run.pk))
    (workspace / "src").mkdir(parents=True)
    (workspace / "README.md").write_text("# new-service\n")
    (workspace / "src" / "app.py").write_text("print('hi')\n")
    (workspace / "link").symlink_to(workspace / "README.md")
    page = html(auth_client.get(reverse("scaffolder:run_detail", args=[run.pk])))
    assert 'data-file="README.md"' in page
    assert 'data-file="src/app.py"' in page
    assert "# new-service" in page
    assert 'data-file="link"' not in page


def _registered(user: User, *, entity_ref: str = "component:default/new-service", **fields: Any) -> Run:
    """A completed run whose catalog:register step registered `entity_ref`."""
    run = RunFactory(created_by=user, status=Run.Status.COMPLETED, finished_at=timezone.now(), **fields)
    StepFactory(run=run, position=0, step_id="publish", action="publish:git", status="completed", output={})
    StepFactory(
        run=run,
        position=1,
        step_id="register",
        action="catalog:register",
        status="completed",
        output={"entityRef": entity_ref, "catalogInfoUrl": "/r.git#main:catalog-info.yaml"},
    )
    return cast(Run, run)


def _hrefs(page: str, text: str) -> list[str]:
    return re.findall(r'<a [^>]*href="([^"]*)"[^>]*>' + re.escape(text) + "</a>", page)


def test_open_in_catalog_goes_to_the_registered_entity_page(auth_client: Client, htmx_client: Client, user) -> None:
    run = _registered(user)
    url = reverse("scaffolder:run_detail", args=[run.pk])
    entity_page = reverse("catalog:entity_detail", args=["default", "component", "new-service"])
    assert _hrefs(html(auth_client.get(url)), "Open in catalog") == [entity_page]
    fragment = htmx_client.get(url)
    assert is_fragment(fragment, "run-live")
    assert _hrefs(html(fragment), "Open in catalog") == [entity_page]
    assert "catalog/search" not in html(fragment)


def test_an_output_link_to_the_entity_opens_its_page_once(auth_client: Client, user) -> None:
    output = {
        "links": [
            {"title": "Repository", "url": "https://git.example/new-service"},
            {"title": "Open in catalog", "icon": "catalog", "entityRef": "component:default/new-service"},
        ]
    }
    run = _registered(user, output=output)
    page = html(auth_client.get(reverse("scaffolder:run_detail", args=[run.pk])))
    entity_page = reverse("catalog:entity_detail", args=["default", "component", "new-service"])
    assert _hrefs(page, "Open in catalog") == [entity_page]
    assert _hrefs(page, "Repository") == ["https://git.example/new-service"]


def test_open_in_catalog_before_the_entity_is_ingested_still_links_its_page_which_is_404(
    auth_client: Client, user
) -> None:
    run = _registered(user, entity_ref="component:default/not-yet-there")
    page = html(auth_client.get(reverse("scaffolder:run_detail", args=[run.pk])))
    [href] = _hrefs(page, "Open in catalog")
    assert href == reverse("catalog:entity_detail", args=["default", "component", "not-yet-there"])
    assert auth_client.get(href).status_code == 404


def test_a_dry_run_or_an_unfinished_register_step_has_no_catalog_link(auth_client: Client, user) -> None:
    dry = _registered(user, entity_ref="component:default/dry-run", dry_run=True)
    failed = cast(Run, RunFactory(created_by=user, status=Run.Status.FAILED, finished_at=timezone.now()))
    StepFactory(run=failed, action="catalog:register", status="failed", output={"entityRef": "component:default/x"})
    for run in (dry, failed):
        page = html(auth_client.get(reverse("scaffolder:run_detail", args=[run.pk])))
        assert "Open in catalog" not in page


@pytest.mark.parametrize(
    "link",
    [
        {"title": "Evil", "url": "javascript:alert(1)"},
        {"title": "Evil", "url": " JavaScript:alert(1)"},
        {"title": "Evil", "url": "data:text/html,<script>alert(1)</script>"},
        {"title": "Evil", "entityRef": "not a ref"},
        {"title": "Evil"},
        "javascript:alert(1)",
    ],
)
def test_output_links_that_are_not_web_addresses_are_left_out(auth_client: Client, user, link: Any) -> None:
    run = _registered(user, entity_ref="", output={"links": [link, {"title": "Fine", "url": "/catalog/"}]})
    page = html(auth_client.get(reverse("scaffolder:run_detail", args=[run.pk])))
    assert _hrefs(page, "Fine") == ["/catalog/"]
    assert "Evil" not in page
    assert "javascript:" not in page.lower()
    assert "Open in catalog" not in page


def test_run_detail_names_every_group_that_may_approve_and_a_member_of_any_sees_the_buttons(
    catalog, client_for: Callable[..., Client]
) -> None:
    run = ApprovalFactory(approver_ref="group:default/frontend", other_approver_refs=["group:default/payments"]).run
    url = reverse("scaffolder:run_detail", args=[run.pk])
    page = html(client_for("bob").get(url))  # bob is in payments, the second group named
    assert "group:default/frontend or group:default/payments" in page
    assert ">Approve</button>" in page
    assert ">Approve</button>" not in html(client_for("dave").get(url))
    assert str(run.pk) in html(client_for("carol").get(reverse("scaffolder:approval_queue")))


def test_run_detail_of_someone_elses_run_is_404(auth_client: Client) -> None:
    run = RunFactory()
    assert auth_client.get(reverse("scaffolder:run_detail", args=[run.pk])).status_code == 404


def test_run_cancel_by_the_requester(auth_client: Client, user) -> None:
    run = RunFactory(created_by=user, status=Run.Status.OPEN)
    response = auth_client.post(reverse("scaffolder:run_cancel", args=[run.pk]))
    assert response.status_code == 302
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED


def test_run_list_shows_own_runs_and_admins_see_all(client_for: Callable[..., Client], user) -> None:
    mine = RunFactory(created_by=user)
    other = RunFactory()
    page = html(client_for("alice").get(reverse("scaffolder:run_list")))
    assert str(mine.pk) in page
    assert str(other.pk) not in page
    AdminFactory(username="root")
    everything = html(client_for("root").get(reverse("scaffolder:run_list")))
    assert str(mine.pk) in everything
    assert str(other.pk) in everything


def test_run_list_fragment(htmx_client: Client) -> None:
    assert is_fragment(htmx_client.get(reverse("scaffolder:run_list")), "run-table")


# --- approvals --------------------------------------------------------------------------------------------------


def test_approval_queue_lists_runs_the_user_may_approve(catalog, client_for: Callable[..., Client]) -> None:
    bob = client_for("bob")
    carol = client_for("carol")
    run = ApprovalFactory(approver_ref="group:default/payments").run
    assert str(run.pk) in html(bob.get(reverse("scaffolder:approval_queue")))
    assert str(run.pk) not in html(carol.get(reverse("scaffolder:approval_queue")))


def test_approver_approves_from_the_queue(catalog, client_for: Callable[..., Client]) -> None:
    bob = client_for("bob")
    run = ApprovalFactory(approver_ref="group:default/payments").run
    response = bob.post(reverse("scaffolder:run_approve", args=[run.pk]), {"comment": "fine", "next": "approvals"})
    assert response["Location"] == reverse("scaffolder:approval_queue")
    run.refresh_from_db()
    assert run.status == Run.Status.OPEN
    assert run.approvals.get().comment == "fine"


def test_non_approver_may_not_approve(catalog, client_for: Callable[..., Client]) -> None:
    carol = client_for("carol")
    run = ApprovalFactory(approver_ref="group:default/payments").run
    assert carol.post(reverse("scaffolder:run_approve", args=[run.pk])).status_code in (403, 404)
    run.refresh_from_db()
    assert run.status == Run.Status.AWAITING_APPROVAL


def test_requester_may_not_approve_their_own_run(catalog, client_for: Callable[..., Client]) -> None:
    bob = client_for("bob")
    run = ApprovalFactory(approver_ref="group:default/payments", run__created_by=User.objects.get(username="bob")).run
    page = bob.get(reverse("scaffolder:run_detail", args=[run.pk]))
    assert "Approve" not in html(page)
    assert bob.post(reverse("scaffolder:run_approve", args=[run.pk])).status_code == 403
    run.refresh_from_db()
    assert run.status == Run.Status.AWAITING_APPROVAL


def test_approver_rejects_with_a_comment(catalog, client_for: Callable[..., Client]) -> None:
    bob = client_for("bob")
    run = ApprovalFactory(approver_ref="group:default/payments").run
    bob.post(reverse("scaffolder:run_reject", args=[run.pk]), {"comment": "too big"})
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED


# --- picker -----------------------------------------------------------------------------------------------------


def test_picker_suggests_at_most_ten_of_the_asked_kinds(catalog, auth_client: Client) -> None:
    response = auth_client.get(reverse("scaffolder:picker"), {"field": "owner", "picker": "owner", "owner": "pay"})
    assert response.status_code == 200
    assert 'value="group:default/payments"' in html(response)
    assert "component:" not in html(response)
    assert html(response).count("<option") <= 10
