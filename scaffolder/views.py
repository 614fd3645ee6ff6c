"""The scaffolder's pages under /create/: the template menu, a template's form page by page with live checks and a
review, a run with its live log, the user's runs, the approval queue and the catalog picker behind Owner/EntityPicker.

The answers given so far live in the session (one entry per template), so Next and Back work without JavaScript.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from catalog.models import Entity
from catalog.refs import ref_url
from portal.exceptions import ApplicationError
from portal.http import HtmxHttpRequest, is_fragment_request, render_page
from portal.permissions import Action, may
from scaffolder import forms, selectors, services
from scaffolder.models import Run, Step

RUN_PAGE_SIZE: Final = 25
SESSION_PREFIX: Final = "scaffolder.answers:"
_CONTROL_KEYS: Final = frozenset({"csrfmiddlewaretoken", "action", "page"})
_PICKER_KINDS: Final = {"owner": ("group", "user")}
_LINK_SCHEMES: Final = frozenset({"http", "https", ""})


def _template(namespace: str, name: str) -> Entity:
    template = selectors.template_get(namespace=namespace, name=name)
    if template is None:
        raise Http404(f"No template template:{namespace}/{name} in the catalog.")
    return template


def _pages(template: Entity) -> list[forms.FormPage]:
    try:
        return forms.template_pages((template.data.get("spec") or {}).get("parameters"))
    except forms.TemplateSchemaError as error:
        raise ApplicationError(f"The template's parameters cannot be shown as a form: {error}") from None


def _guardrails(template: Entity) -> list[Mapping[str, Any]]:
    rails = (template.data.get("spec") or {}).get("guardrails") or []
    return [rail for rail in rails if isinstance(rail, Mapping)] if isinstance(rails, list) else []


def _answers(request: HtmxHttpRequest, template: Entity) -> QueryDict:
    stored = request.session.get(SESSION_PREFIX + template.ref) or {}
    answers = QueryDict(mutable=True)
    for key, values in stored.items():
        answers.setlist(key, [str(value) for value in values])
    return answers


def _remember(request: HtmxHttpRequest, template: Entity, page: forms.FormPage) -> None:
    """Keep what was posted for the fields of `page` (an unticked box sends nothing, so the page's keys go first)."""
    stored = dict(request.session.get(SESSION_PREFIX + template.ref) or {})
    names = list(page.properties)
    for key in list(stored):
        if any(key == name or key.startswith(f"{name}_") for name in names):
            del stored[key]
    for key in request.POST:
        if key not in _CONTROL_KEYS:
            stored[key] = request.POST.getlist(key)[:100]
    request.session[SESSION_PREFIX + template.ref] = stored


def _name_free(value: Any) -> None:
    if isinstance(value, str) and value and selectors.component_name_taken(name=value):
        raise ValidationError("A component with this name already exists in the catalog.", code="taken")


def _validators() -> dict[str, list[forms.FieldValidator]]:
    return {"name": [_name_free]}


def _page_number(raw: Any, count: int) -> int:
    try:
        number = int(raw)
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), max(count, 1))


@require_GET
def template_list(request: HtmxHttpRequest) -> HttpResponse:
    text = request.GET.get("q", "")[:200]
    tag = request.GET.get("tag", "")[:200]
    spec_type = request.GET.get("type", "")[:200]
    menu = selectors.template_menu(text=text, tag=tag, type=spec_type)
    context = {
        "active_section": "create",
        "menu": menu,
        "q": text,
        "tag": tag,
        "type": spec_type,
        "filtered": bool(text or tag or spec_type),
    }
    return render_page(request, "scaffolder/template_list.html", context, partial="template-results")


def _form_context(
    request: HtmxHttpRequest, template: Entity, pages: list[forms.FormPage], number: int, form: forms.ParametersForm
) -> dict[str, Any]:
    answers = _answers(request, template)
    values = forms.clean_parameters(pages, answers).values if answers else {}
    return {
        "active_section": "create",
        "template": template,
        "pages": pages,
        "page": pages[number - 1] if pages else None,
        "number": number,
        "is_last": number >= len(pages),
        "form": form,
        "guardrails": forms.guardrails_triggered(_guardrails(template), values),
    }


@require_http_methods(["GET", "POST"])
def template_form(request: HtmxHttpRequest, namespace: str, name: str) -> HttpResponse:
    """Page N of the template's form. POST with `action` next or back keeps the page's answers and moves on."""
    template = _template(namespace, name)
    pages = _pages(template)
    picker_url = reverse("scaffolder:picker")
    source = request.POST if request.method == "POST" else request.GET
    number = _page_number(source.get("page"), len(pages))
    if not pages:
        return redirect(reverse("scaffolder:template_review", args=[template.namespace, template.name]))
    page = pages[number - 1]
    if request.method == "GET":
        answers = _answers(request, template)
        seen = any(key == n or key.startswith(f"{n}_") for key in answers for n in page.properties)
        form = forms.page_form(page, data=answers if seen else None, picker_url=picker_url)
        return render_page(
            request, "scaffolder/template_form.html", _form_context(request, template, pages, number, form)
        )
    _remember(request, template, page)
    if request.POST.get("action") == "back":
        target = reverse("scaffolder:template_form", args=[template.namespace, template.name])
        return redirect(f"{target}?page={max(number - 1, 1)}")
    form = forms.page_form(page, data=request.POST, field_validators=_validators(), picker_url=picker_url)
    if not form.is_valid():
        context = _form_context(request, template, pages, number, form)
        return render_page(request, "scaffolder/template_form.html", context, status=400)
    if number < len(pages):
        target = reverse("scaffolder:template_form", args=[template.namespace, template.name])
        return redirect(f"{target}?page={number + 1}")
    return redirect(reverse("scaffolder:template_review", args=[template.namespace, template.name]))


@require_POST
def template_check(request: HtmxHttpRequest, namespace: str, name: str) -> HttpResponse:
    """Live checks as fields change: each filled-in field's messages, and the guard rails the answers cross."""
    template = _template(namespace, name)
    pages = _pages(template)
    page = pages[_page_number(request.POST.get("page"), len(pages)) - 1] if pages else None
    errors: dict[str, list[str]] = {}
    if page is not None:
        for field_name in page.properties:
            value = forms.field_value(page, field_name, request.POST)
            if value in (None, "", [], ["", "", ""]):
                errors[field_name] = []
                continue
            extra = _name_free if field_name == "name" else None
            errors[field_name] = forms.field_errors(page, field_name, value, extra_validator=extra)
    answers = _answers(request, template)
    for key in request.POST:
        if key not in _CONTROL_KEYS:
            answers.setlist(key, request.POST.getlist(key))
    values = forms.answered_values(pages, answers)
    context = {
        "template": template,
        "errors": errors,
        "guardrails": forms.guardrails_triggered(_guardrails(template), values),
    }
    return render_page(request, "scaffolder/template_form.html", context, partial="form-feedback")


def _review_context(request: HtmxHttpRequest, template: Entity) -> dict[str, Any]:
    pages = _pages(template)
    cleaned = forms.clean_parameters(pages, _answers(request, template))
    labels = {field_name: page.label(field_name) for page in pages for field_name in page.properties}
    return {
        "active_section": "create",
        "template": template,
        "pages": pages,
        "cleaned": cleaned,
        "rows": [(labels.get(key, key), value) for key, value in cleaned.values.items()],
        "guardrails": forms.guardrails_triggered(_guardrails(template), cleaned.values),
    }


@require_GET
def template_review(request: HtmxHttpRequest, namespace: str, name: str) -> HttpResponse:
    template = _template(namespace, name)
    return render_page(request, "scaffolder/template_review.html", _review_context(request, template))


@require_POST
def template_create(request: HtmxHttpRequest, namespace: str, name: str) -> HttpResponse:
    """Create the run from the answers kept so far; back to the review, with the messages, when they do not pass."""
    template = _template(namespace, name)
    context = _review_context(request, template)
    cleaned: forms.CleanedParameters = context["cleaned"]
    if cleaned.errors:
        return render_page(request, "scaffolder/template_review.html", context, status=400)
    dry_run = request.POST.get("dry_run") == "true"
    run = services.run_create(template=template.data, parameters=cleaned.values, actor=request.user, dry_run=dry_run)
    if dry_run:
        messages.info(request, "A dry run: the template is rendered and nothing is published.")
        return redirect(reverse("scaffolder:run_detail", args=[run.pk]))
    request.session.pop(SESSION_PREFIX + template.ref, None)
    if run.status == Run.Status.AWAITING_APPROVAL:
        messages.info(request, "The run waits for approval: its answers are beyond the template's guard rails.")
    else:
        messages.success(request, "The run has started.")
    return redirect(reverse("scaffolder:run_detail", args=[run.pk]))


def _run(request: HtmxHttpRequest, run_id: uuid.UUID) -> Run:
    run = selectors.run_get_for(run_id=str(run_id), user=request.user)
    if run is None:
        raise Http404(f"No run {run_id}.")
    return run


def _registered_ref(run: Run, steps: list[Step]) -> str:
    """The entity the run's last completed catalog:register step registered ("" for a dry run: nothing was)."""
    if run.dry_run:
        return ""
    for step in reversed(steps):
        output = step.output if isinstance(step.output, Mapping) else {}
        if step.action == "catalog:register" and step.status == Step.Status.COMPLETED and output.get("entityRef"):
            return str(output["entityRef"])
    return ""


def _output_links(output: Mapping[str, Any]) -> list[dict[str, str]]:
    """The template's output links as title and href: a link to an entity (`entityRef`) goes to its catalog page."""
    links: list[dict[str, str]] = []
    for link in output.get("links") or []:
        if not isinstance(link, Mapping):
            continue
        url = str(link.get("url") or "") or ref_url(str(link.get("entityRef") or ""))
        # Output can carry parameters: only web addresses and paths become links, never `javascript:` or `data:`.
        if url and urlsplit(url).scheme.lower() in _LINK_SCHEMES:
            links.append({"title": str(link.get("title") or url), "url": url})
    return links


def _run_context(request: HtmxHttpRequest, run: Run) -> dict[str, Any]:
    output = run.output if isinstance(run.output, Mapping) else {}
    steps = list(run.steps.all())
    links = _output_links(output)
    # "Open in catalog" goes to the new entity's page, whether the catalog shows it yet or not.
    entity_ref = str(output.get("entityRef") or "") or _registered_ref(run, steps)
    entity_url = ref_url(entity_ref) if entity_ref else ""
    if entity_url and any(link["url"] == entity_url for link in links):
        entity_url = ""
    mine = run.created_by_id == request.user.pk
    return {
        "active_section": "create",
        "run": run,
        "steps": steps,
        "approvals": list(run.approvals.all()),
        "events": selectors.event_list(run=run),
        "files": selectors.run_workspace_files(run=run),
        "links": links,
        "entity_ref": entity_ref,
        "entity_url": entity_url,
        "may_cancel": not run.is_finished and (mine or request.user.is_superuser),
        "may_retry": run.status in (Run.Status.FAILED, Run.Status.CANCELLED) and (mine or request.user.is_superuser),
        "may_approve": run.status == Run.Status.AWAITING_APPROVAL
        and bool(run.approver_ref)
        and may(request.user, Action.SCAFFOLDER_RUN_APPROVE, run),
    }


@require_GET
def run_detail(request: HtmxHttpRequest, run_id: uuid.UUID) -> HttpResponse:
    run = _run(request, run_id)
    context = _run_context(request, run)
    response = render_page(request, "scaffolder/run_detail.html", context, partial="run-live")
    if is_fragment_request(request) and run.is_finished:
        stop = HttpResponseStopPolling(response.content)
        return stop
    return response


def _run_action_done(request: HtmxHttpRequest, run: Run, message: str, target: str | None = None) -> HttpResponse:
    messages.success(request, message)
    return redirect(target or reverse("scaffolder:run_detail", args=[run.pk]))


@require_POST
def run_cancel(request: HtmxHttpRequest, run_id: uuid.UUID) -> HttpResponse:
    run = services.run_cancel(run=_run(request, run_id), actor=request.user)
    return _run_action_done(request, run, "Cancel requested." if not run.is_finished else "The run is cancelled.")


@require_POST
def run_retry(request: HtmxHttpRequest, run_id: uuid.UUID) -> HttpResponse:
    run = services.run_retry(run=_run(request, run_id), actor=request.user)
    return _run_action_done(request, run, "The run is retried from its failed step.")


def _after_decision(request: HtmxHttpRequest) -> str | None:
    return reverse("scaffolder:approval_queue") if request.POST.get("next") == "approvals" else None


@require_POST
def run_approve(request: HtmxHttpRequest, run_id: uuid.UUID) -> HttpResponse:
    comment = request.POST.get("comment", "")[:2000]
    run = services.run_approve(run=_run(request, run_id), actor=request.user, comment=comment)
    return _run_action_done(request, run, "Approved.", _after_decision(request))


@require_POST
def run_reject(request: HtmxHttpRequest, run_id: uuid.UUID) -> HttpResponse:
    comment = request.POST.get("comment", "")[:2000]
    run = services.run_reject(run=_run(request, run_id), actor=request.user, comment=comment)
    return _run_action_done(request, run, "Rejected.", _after_decision(request))


@require_GET
def run_list(request: HtmxHttpRequest) -> HttpResponse:
    runs = Paginator(selectors.run_list_for(user=request.user), RUN_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"active_section": "create", "runs": runs, "everyone": request.user.is_superuser}
    return render_page(request, "scaffolder/run_list.html", context, partial="run-table")


@require_GET
def approval_queue(request: HtmxHttpRequest) -> HttpResponse:
    context = {"active_section": "create", "runs": selectors.approval_queue(user=request.user)}
    return render_page(request, "scaffolder/approval_queue.html", context)


@require_GET
def picker(request: HtmxHttpRequest) -> HttpResponse:
    """Suggestions for an Owner/EntityPicker: `<option>`s for what was typed into the field named by `field`."""
    field_name = request.GET.get("field", "")[:200]
    text = request.GET.get(field_name, "") if field_name else request.GET.get("q", "")
    kinds = request.GET.getlist("kind") or list(_PICKER_KINDS.get(request.GET.get("picker", ""), ()))
    results = selectors.picker_suggestions(text=text[:200], kinds=kinds[:20])
    return render_page(request, "scaffolder/picker.html", {"results": results})
