"""On-call pages: the card on service and team pages, the company-wide "who is on call" page, schedule pages with
their timeline, a person's shifts, override and calendar-feed forms, and the token-authenticated iCalendar feeds.

Each view parses the request, calls one selector or service of the on-call room and renders the result."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from catalog.oncall import selectors, services
from catalog.oncall.engine import display_name
from catalog.oncall.forms import OverrideForm
from catalog.oncall.loading import POLICY_ANNOTATION
from catalog.oncall.models import CalendarFeed
from catalog.oncall.selectors import OnCallCard, OnCallFilters, OverrideChoices
from portal.exceptions import ForbiddenError
from portal.http import HtmxHttpRequest, is_fragment_request, render_page

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 1, 1)


def _schedule_url(ref: str) -> str:
    namespace, _, name = ref.split(":", 1)[-1].partition("/")
    return reverse("catalog:oncall_schedule", args=[namespace, name])


def _redirect(request: HtmxHttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if is_fragment_request(request) else HttpResponseRedirect(url)


# -- the on-call card -------------------------------------------------------------------------------------------------


def _card_context(card: OnCallCard | None) -> dict[str, Any]:
    if card is None:
        raise Http404("There is no such entity in the catalog.")
    return {
        "entity": card.oncall.entity,
        "card": card.oncall,
        "now": card.oncall.now,
        "editable_schedules": card.editable,
        "annotation": POLICY_ANNOTATION,
        "team": card.team,
    }


@require_GET
def oncall_card(request: HtmxHttpRequest, namespace: str, kind: str, name: str) -> HttpResponse:
    """The card the entity page loads with htmx; without htmx it is a small page of its own."""
    card = selectors.oncall_card(ref=f"{kind}:{namespace}/{name}".lower(), viewer=request.user)
    if card is None:
        raise Http404(f"There is no {kind} {namespace}/{name} in the catalog.")
    context = _card_context(card)
    if is_fragment_request(request):
        return render_page(request, "catalog/oncall/_card.html", context)
    return render_page(request, "catalog/oncall/card_page.html", {**context, "active_section": "oncall"})


# -- overrides --------------------------------------------------------------------------------------------------------


OVERRIDE_FORBIDDEN = "Only members of the team that owns a schedule, and administrators, may add overrides."


def _override_return_url(offer: OverrideChoices, schedule_ref: str) -> str:
    """Where the form goes back to (Cancel) and where a plain post lands: the entity page, else the schedule's page."""
    if offer.entity is not None:
        entity = offer.entity
        return reverse("catalog:entity_detail", args=[entity.namespace, entity.kind.lower(), entity.name])
    if schedule_ref:
        return _schedule_url(schedule_ref)
    return reverse("catalog:oncall_now")


def _saved_text(form: OverrideForm, offer: OverrideChoices) -> str:
    data = form.cleaned_data
    names = {person.ref: person.name for person in offer.people}
    who = names.get(data["user"]) or display_name(data["user"])
    loaded = form.schedules[data["schedule"]]
    start, end = data["start"].astimezone(loaded.zone), data["end"].astimezone(loaded.zone)
    span = f"from {start:%a %d %b %H:%M} to {end:%a %d %b %H:%M} ({loaded.zone.key})"
    return f"Override saved: {who} is on call in {loaded.title} {span}."


@require_http_methods(["GET", "POST"])
def override_create(request: HtmxHttpRequest) -> HttpResponse:
    """GET: the override form for the schedules of an entity's policy (or one schedule) that the viewer may change.
    POST: create the override. From the card (htmx) the card is rendered again with a notice; from the schedule page
    or a plain page (a new tab, a shared link, no JavaScript) the browser goes back to where the form came from."""
    source = request.POST if request.method == "POST" else request.GET
    offer = selectors.override_choices(
        viewer=request.user, entity_ref=source.get("entity", ""), schedule_ref=source.get("schedule", "")
    )
    if not offer.schedules:
        if is_fragment_request(request):
            return render_page(
                request,
                "catalog/oncall/override_form.html",
                {"forbidden": OVERRIDE_FORBIDDEN},
                partial="oncall-override-form",
                status=403,
            )
        raise ForbiddenError(OVERRIDE_FORBIDDEN)
    return_url = _override_return_url(offer, source.get("schedule", "") if offer.entity is None else "")
    if request.method == "GET":
        start = timezone.now().astimezone(offer.schedules[0].zone).replace(second=0, microsecond=0, tzinfo=None)
        initial = {
            "schedule": source.get("schedule") or offer.schedules[0].ref,
            "entity": source.get("entity", ""),
            "start": start,
            "end": start + timedelta(hours=8),
        }
        form = OverrideForm(schedules=offer.schedules, people=offer.people, initial=initial)
        return _override_form_response(request, form, offer, return_url)
    form = OverrideForm(request.POST, schedules=offer.schedules, people=offer.people)
    if form.is_valid():
        try:
            services.override_create(actor=request.user, **form.override())
        except ValidationError as error:
            form.add_service_errors(error)
    if form.errors:
        return _override_form_response(
            request, form, offer, return_url, status=200 if is_fragment_request(request) else 400
        )
    notice = _saved_text(form, offer)
    if offer.entity is not None and is_fragment_request(request):
        card = selectors.oncall_card(ref=offer.entity.ref, viewer=request.user)
        return render_page(request, "catalog/oncall/_card.html", {**_card_context(card), "saved_notice": notice})
    messages.success(request, notice)
    if offer.entity is None:
        return _redirect(request, _schedule_url(form.cleaned_data["schedule"]))
    return _redirect(request, return_url)


def _override_form_response(
    request: HtmxHttpRequest, form: OverrideForm, offer: OverrideChoices, return_url: str, *, status: int = 200
) -> HttpResponse:
    fragment = is_fragment_request(request)
    context = {
        "form": form,
        "people": offer.people,
        "schedules": offer.schedules,
        "active_section": "oncall",
        # Loaded into a card or a schedule page, the form posts with htmx and Cancel removes it; opened as a page of
        # its own it is a plain form whose Cancel goes back.
        "fragment": fragment,
        "return_url": return_url,
    }
    template = "catalog/oncall/override_form.html"
    response = render_page(request, template, context, partial="oncall-override-form", status=status)
    if request.method == "POST" and fragment:
        # The form posts at the whole card to replace it on success; a form with errors replaces only itself.
        response = reswap(retarget(response, "#oncall-override-form"), "outerHTML")
    return response


@require_POST
def override_delete(request: HtmxHttpRequest, override_id: int) -> HttpResponse:
    override = services.override_delete(actor=request.user, override_id=override_id)
    return _redirect(request, _schedule_url(override.schedule_ref))


# -- the company-wide page --------------------------------------------------------------------------------------------


def _filters(request: HtmxHttpRequest) -> OnCallFilters:
    params = request.GET
    level = params.get("level", "")
    page = params.get("page", "1")
    return OnCallFilters(
        team=params.get("team", "")[:300],
        service=params.get("service", "")[:300],
        level=int(level) if level.isdigit() and 0 < int(level) < 100 else None,
        q=params.get("q", "")[:200],
        page=int(page) if page.isdigit() else 1,
    )


@require_GET
def oncall_now(request: HtmxHttpRequest) -> HttpResponse:
    filters = _filters(request)
    listing = selectors.oncall_list_page(filters=filters)
    query = {k: v for k, v in request.GET.items() if k != "page" and v}
    context: dict[str, Any] = {
        "active_section": "oncall",
        "listing": listing,
        "filters": filters,
        "query": urlencode(query),
        "filtered": bool(query),
        "levels": listing.level_numbers,
        "now": timezone.now(),
    }
    if not is_fragment_request(request):
        # Every schedule and policy, with coverage and the next gap, below the filtered table (not refreshed by it).
        context["overview"] = selectors.oncall_overview()
    return render_page(request, "catalog/oncall/now.html", context, partial="oncall-table")


# -- an escalation policy ---------------------------------------------------------------------------------------------


@require_GET
def oncall_policy(request: HtmxHttpRequest, namespace: str, name: str) -> HttpResponse:
    page = selectors.policy_page(ref=f"escalationpolicy:{namespace}/{name}")
    if page is None:
        raise Http404(f"There is no escalation policy {namespace}/{name} in the catalog.")
    context = {"active_section": "oncall", "page": page, "now": page.now, "entity": page.entity}
    return render_page(request, "catalog/oncall/policy.html", context)


# -- schedule page ----------------------------------------------------------------------------------------------------


def _start_day(value: str) -> date | None:
    """The `start` parameter; None (today) when it is missing, not a date, or out of any schedule's reach."""
    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        return None
    return day if day is not None and FIRST_DAY <= day <= LAST_DAY else None


@require_GET
def oncall_schedule(request: HtmxHttpRequest, namespace: str, name: str) -> HttpResponse:
    page = selectors.schedule_page(
        ref=f"schedule:{namespace}/{name}",
        viewer=request.user,
        start_day=_start_day(request.GET.get("start", "")),
        timeline_only=is_fragment_request(request),
    )
    if page is None:
        raise Http404(f"There is no schedule {namespace}/{name} in the catalog.")
    context: dict[str, Any] = {
        "active_section": "oncall",
        "loaded": page.loaded,
        "may_write": page.may_write,
        "schedule_url": _schedule_url(page.loaded.ref),
        "coverage": page.coverage,
        "overrides": page.overrides,
        "override_people": page.people,
        "members": page.people,
        "policies": page.policies,
        "feeds": page.feeds,
        "health": page.health,
        "team": page.team,
    }
    if page.timeline is not None:
        first = page.timeline.first_day
        context.update(
            timeline=page.timeline,
            previous_start=(first - timedelta(days=7)).isoformat(),
            next_start=(first + timedelta(days=7)).isoformat(),
            today=page.today.isoformat(),
        )
    return render_page(request, "catalog/oncall/schedule.html", context, partial="schedule-timeline")


# -- calendar feeds ---------------------------------------------------------------------------------------------------


def _feeds_response(
    request: HtmxHttpRequest, *, kind: str, ref: str, new_feed: services.NewFeed | None = None
) -> HttpResponse:
    context: dict[str, Any] = {
        "feeds": selectors.calendar_feed_list(kind=kind, ref=ref),
        "feed_kind": kind,
        "feed_ref": ref,
        "active_section": "oncall",
    }
    if new_feed is not None:
        name = "oncall_ical:schedule" if kind == CalendarFeed.Kind.SCHEDULE else "oncall_ical:person"
        context.update(new_feed=new_feed, new_feed_url=request.build_absolute_uri(reverse(name, args=[new_feed.token])))
    return render_page(request, "catalog/oncall/feeds.html", context, partial="oncall-feeds")


@require_POST
def feed_create(request: HtmxHttpRequest) -> HttpResponse:
    kind = request.POST.get("kind", "")
    new = services.calendar_feed_create(actor=request.user, kind=kind, ref=request.POST.get("ref", ""))
    return _feeds_response(request, kind=kind, ref=new.feed.ref, new_feed=new)


@require_POST
def feed_revoke(request: HtmxHttpRequest, feed_id: int) -> HttpResponse:
    feed = services.calendar_feed_revoke(actor=request.user, feed_id=feed_id)
    return _feeds_response(request, kind=feed.kind, ref=feed.ref)


def _calendar(kind: str, token: str) -> HttpResponse:
    body = selectors.calendar_feed_body(kind=kind, token=token)
    if body is None:
        raise Http404("Unknown or revoked calendar feed.")
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


def ical_schedule(request: HtmxHttpRequest, token: str) -> HttpResponse:
    return _calendar(CalendarFeed.Kind.SCHEDULE, token)


def ical_person(request: HtmxHttpRequest, token: str) -> HttpResponse:
    return _calendar(CalendarFeed.Kind.PERSON, token)


# -- a person ---------------------------------------------------------------------------------------------------------


@require_GET
def oncall_person(request: HtmxHttpRequest, namespace: str, name: str) -> HttpResponse:
    page = selectors.person_page(ref=f"user:{namespace}/{name}", viewer=request.user)
    if page is None:
        raise Http404(f"There is no user {namespace}/{name} in the catalog.")
    context = {
        "active_section": "oncall",
        "entity": page.entity,
        "person": page.oncall,
        "is_self": page.may_create_feed,
        "feeds": page.feeds,
        "feed_kind": "person",
        "feed_ref": page.entity.ref,
    }
    return render_page(request, "catalog/oncall/person.html", context)
