"""On-call pages: the card on service and team pages, the company-wide "who is on call" page, schedule pages with
their timeline, a person's shifts, override and calendar-feed forms, and the token-authenticated iCalendar feeds."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from catalog import oncall_selectors, oncall_services
from catalog.models import CalendarFeed, Entity
from catalog.oncall.engine import normalize_ref, resolve
from catalog.oncall_selectors import LoadedSchedule, OnCallFilters
from portal.exceptions import ForbiddenError
from portal.http import HtmxHttpRequest, is_fragment_request, render_page
from portal.permissions import Action, may

# -- helpers ----------------------------------------------------------------------------------------------------------


def _entity(namespace: str, kind: str, name: str) -> Entity:
    entity = Entity.objects.filter(ref=f"{kind}:{namespace}/{name}".lower()).first()
    if entity is None:
        raise Http404(f"There is no {kind} {namespace}/{name} in the catalog.")
    return entity


def _schedule(namespace: str, name: str, *, since: datetime | None = None) -> LoadedSchedule:
    loaded = oncall_selectors.load_schedule(f"schedule:{namespace}/{name}".lower(), overrides_since=since)
    if loaded is None:
        raise Http404(f"There is no schedule {namespace}/{name} in the catalog.")
    return loaded


def _schedule_url(ref: str) -> str:
    namespace, _, name = ref.split(":", 1)[-1].partition("/")
    return reverse("catalog:oncall_schedule", args=[namespace, name])


def _zone_label(zone: ZoneInfo) -> str:
    return zone.key


# -- the on-call card -------------------------------------------------------------------------------------------------


def _card_context(request: HtmxHttpRequest, entity: Entity, *, form: OverrideForm | None = None) -> dict[str, Any]:
    card = oncall_selectors.oncall_for_entity(entity)
    editable: list[LoadedSchedule] = []
    if card.now is not None:
        editable = [s for s in card.now.schedules.values() if s.schedule is not None and _may_write(request, s)]
    return {
        "entity": entity,
        "card": card,
        "now": card.now,
        "editable_schedules": editable,
        "form": form,
        "annotation": oncall_selectors.POLICY_ANNOTATION,
        "card_url": reverse("catalog:oncall_card", args=[entity.namespace, entity.kind.lower(), entity.name]),
    }


@require_GET
def oncall_card(request: HtmxHttpRequest, namespace: str, kind: str, name: str) -> HttpResponse:
    """The card the entity page loads with htmx; without htmx it is a small page of its own."""
    entity = _entity(namespace, kind, name)
    context = _card_context(request, entity)
    if is_fragment_request(request):
        return render_page(request, "catalog/oncall/_card.html", context)
    return render_page(request, "catalog/oncall/card_page.html", {**context, "active_section": "oncall"})


# -- overrides --------------------------------------------------------------------------------------------------------


class OverrideForm(forms.Form):
    """An override as people type it: local wall-clock times in the schedule's zone (datetime-local inputs)."""

    schedule = forms.ChoiceField(label="Schedule")
    user = forms.CharField(label="Who", max_length=300, help_text="A team member, or any user's name or ref.")
    start = forms.DateTimeField(
        label="From",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    end = forms.DateTimeField(
        label="To",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    reason = forms.CharField(label="Reason", max_length=500, required=False)
    entity = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, schedules: list[LoadedSchedule], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schedules = {s.ref: s for s in schedules}
        choices = [(s.ref, f"{s.title} ({_zone_label(s.zone)})") for s in schedules]
        self.fields["schedule"].choices = choices  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        loaded = self.schedules.get(data.get("schedule", ""))
        # The form's datetimes are wall-clock times in the schedule's zone, whatever the server's zone is.
        for name in ("start", "end"):
            value = data.get(name)
            if isinstance(value, datetime) and loaded is not None:
                data[name] = resolve(value.replace(tzinfo=None), loaded.zone)
        return data


def _may_write(request: HtmxHttpRequest, schedule: LoadedSchedule) -> bool:
    return may(request.user, Action.ONCALL_OVERRIDE_WRITE, schedule)


def _override_schedules(request: HtmxHttpRequest, refs: list[str]) -> list[LoadedSchedule]:
    loaded = oncall_selectors.load_schedules(refs)
    return [s for s in loaded.values() if s.schedule is not None and _may_write(request, s)]


def _people_choices(schedules: list[LoadedSchedule]) -> list[oncall_selectors.Person]:
    refs = oncall_selectors.schedule_member_refs(schedules)
    refs |= oncall_selectors.group_member_refs(s.owner_ref for s in schedules)
    return sorted(oncall_selectors.people(refs).values(), key=lambda p: p.name.lower())


def _user_ref(value: str) -> str:
    """A person as typed: a ref, a user name, or a display name picked from the list."""
    text = value.strip()
    try:
        return normalize_ref(text, default_kind="user")
    except ValueError:
        match = Entity.objects.filter(kind__iexact="user", title__iexact=text).first()
        if match is None:
            raise ValidationError({"user": f"'{value}' is not a user ref or name."}) from None
        return match.ref


@require_http_methods(["GET", "POST"])
def override_create(request: HtmxHttpRequest) -> HttpResponse:
    """GET: the override form for the schedules of an entity's policy (or one schedule) that the viewer may change.
    POST: create the override; then the card (or the schedule page's overrides) is rendered again."""
    source = request.POST if request.method == "POST" else request.GET
    entity_ref = source.get("entity", "")
    entity = Entity.objects.filter(ref=entity_ref.lower()).first() if entity_ref else None
    if entity is not None:
        card = oncall_selectors.oncall_for_entity(entity)
        refs = list(card.now.schedules) if card.now is not None else []
    else:
        refs = [source.get("schedule", "")]
    schedules = _override_schedules(request, [ref for ref in refs if ref])
    if not schedules:
        raise ForbiddenError("Only members of the team that owns a schedule, and administrators, may add overrides.")
    if request.method == "GET":
        initial_start = timezone.now().astimezone(schedules[0].zone).replace(second=0, microsecond=0)
        form = OverrideForm(
            schedules=schedules,
            initial={
                "schedule": source.get("schedule") or schedules[0].ref,
                "entity": entity_ref,
                "start": initial_start.replace(tzinfo=None),
                "end": (initial_start + timedelta(hours=8)).replace(tzinfo=None),
            },
        )
        return _override_form_response(request, form, schedules, status=200)
    form = OverrideForm(request.POST, schedules=schedules)
    if form.is_valid():
        data = form.cleaned_data
        try:
            oncall_services.override_create(
                actor=request.user,
                schedule_ref=data["schedule"],
                user_ref=_user_ref(data["user"]),
                start=data["start"],
                end=data["end"],
                reason=data["reason"],
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                target = {"userRef": "user", "scheduleRef": "schedule"}.get(field, field)
                for message in messages:
                    form.add_error(target if target in form.fields else None, message)
    if form.errors:
        return _override_form_response(request, form, schedules, status=200 if is_fragment_request(request) else 400)
    if entity is not None:
        if is_fragment_request(request):
            return render_page(request, "catalog/oncall/_card.html", _card_context(request, entity))
        return HttpResponseRedirect(
            reverse("catalog:entity_detail", args=[entity.namespace, entity.kind.lower(), entity.name])
        )
    target = _schedule_url(form.cleaned_data["schedule"])
    if is_fragment_request(request):
        return HttpResponseClientRedirect(target)
    return HttpResponseRedirect(target)


def _override_form_response(
    request: HtmxHttpRequest, form: OverrideForm, schedules: list[LoadedSchedule], *, status: int
) -> HttpResponse:
    context = {
        "form": form,
        "people": _people_choices(schedules),
        "schedules": schedules,
        "active_section": "oncall",
    }
    template = "catalog/oncall/override_form.html"
    response = render_page(request, template, context, partial="oncall-override-form", status=status)
    if request.method == "POST" and is_fragment_request(request):
        # The form posts at the whole card to replace it on success; a form with errors replaces only itself.
        response = reswap(retarget(response, "#oncall-override-form"), "outerHTML")
    return response


@require_POST
def override_delete(request: HtmxHttpRequest, override_id: int) -> HttpResponse:
    override = oncall_selectors.override_get(override_id)
    if override is None:
        raise Http404("There is no such override.")
    oncall_services.override_delete(actor=request.user, override_id=override_id)
    target = _schedule_url(override.schedule_ref)
    if is_fragment_request(request):
        return HttpResponseClientRedirect(target)
    return HttpResponseRedirect(target)


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
    listing = oncall_selectors.oncall_now_list(filters)
    query = {k: v for k, v in request.GET.items() if k != "page" and v}
    context = {
        "active_section": "oncall",
        "listing": listing,
        "filters": filters,
        "query": urlencode(query),
        "filtered": bool(query),
        "levels": range(1, 6),
        "now": timezone.now(),
    }
    return render_page(request, "catalog/oncall/now.html", context, partial="oncall-table")


# -- schedule page ----------------------------------------------------------------------------------------------------


def _start_date(value: str, zone: ZoneInfo) -> datetime:
    try:
        day = date.fromisoformat(value) if value else None
    except ValueError:
        day = None
    if day is None or not date(2000, 1, 1) <= day <= date(2100, 1, 1):
        day = timezone.now().astimezone(zone).date()
    return resolve(datetime.combine(day, time(0, 0)), zone)


@require_GET
def oncall_schedule(request: HtmxHttpRequest, namespace: str, name: str) -> HttpResponse:
    probe = _schedule(namespace, name)
    start = _start_date(request.GET.get("start", ""), probe.zone)
    loaded = _schedule(namespace, name, since=start)
    context: dict[str, Any] = {
        "active_section": "oncall",
        "loaded": loaded,
        "may_write": _may_write(request, loaded),
        "schedule_url": _schedule_url(loaded.ref),
    }
    if loaded.schedule is not None:
        view = oncall_selectors.schedule_timeline(loaded, start, 14)
        first = view.start.astimezone(loaded.zone).date()
        context.update(
            timeline=view,
            previous_start=(first - timedelta(days=7)).isoformat(),
            next_start=(first + timedelta(days=7)).isoformat(),
            today=timezone.now().astimezone(loaded.zone).date().isoformat(),
        )
        if not is_fragment_request(request):
            context.update(
                coverage=oncall_selectors.schedule_coverage(loaded, 14),
                overrides=oncall_selectors.schedule_overrides(loaded.ref),
                override_people=oncall_selectors.people(
                    o.user_ref for o in oncall_selectors.schedule_overrides(loaded.ref)
                ),
                policies=oncall_selectors.schedules_using(loaded.ref),
                feeds=oncall_selectors.calendar_feeds(kind="schedule", ref=loaded.ref),
                members=oncall_selectors.people(loaded.schedule.members()),
            )
    return render_page(request, "catalog/oncall/schedule.html", context, partial="schedule-timeline")


# -- calendar feeds ---------------------------------------------------------------------------------------------------


def _feed_url(request: HtmxHttpRequest, kind: str, token: str) -> str:
    name = "oncall_ical:schedule" if kind == CalendarFeed.Kind.SCHEDULE else "oncall_ical:person"
    return request.build_absolute_uri(reverse(name, args=[token]))


@require_POST
def feed_create(request: HtmxHttpRequest) -> HttpResponse:
    kind, ref = request.POST.get("kind", ""), request.POST.get("ref", "")
    new = oncall_services.calendar_feed_create(actor=request.user, kind=kind, ref=ref)
    context = {
        "new_feed": new,
        "new_feed_url": _feed_url(request, kind, new.token),
        "feeds": oncall_selectors.calendar_feeds(kind=kind, ref=new.feed.ref),
        "feed_kind": kind,
        "feed_ref": new.feed.ref,
        "active_section": "oncall",
    }
    return render_page(request, "catalog/oncall/feeds.html", context, partial="oncall-feeds")


@require_POST
def feed_revoke(request: HtmxHttpRequest, feed_id: int) -> HttpResponse:
    feed = oncall_services.calendar_feed_revoke(actor=request.user, feed_id=feed_id)
    context = {
        "feeds": oncall_selectors.calendar_feeds(kind=feed.kind, ref=feed.ref),
        "feed_kind": feed.kind,
        "feed_ref": feed.ref,
        "active_section": "oncall",
    }
    return render_page(request, "catalog/oncall/feeds.html", context, partial="oncall-feeds")


def ical_schedule(request: HtmxHttpRequest, token: str) -> HttpResponse:
    feed = oncall_selectors.calendar_feed_for_token(kind=CalendarFeed.Kind.SCHEDULE, token=token)
    body = oncall_selectors.schedule_calendar(feed) if feed is not None else None
    if body is None:
        raise Http404("Unknown or revoked calendar feed.")
    return _calendar_response(body)


def ical_person(request: HtmxHttpRequest, token: str) -> HttpResponse:
    feed = oncall_selectors.calendar_feed_for_token(kind=CalendarFeed.Kind.PERSON, token=token)
    if feed is None:
        raise Http404("Unknown or revoked calendar feed.")
    return _calendar_response(oncall_selectors.person_calendar(feed))


def _calendar_response(body: bytes) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


# -- a person ---------------------------------------------------------------------------------------------------------


@require_GET
def oncall_person(request: HtmxHttpRequest, namespace: str, name: str) -> HttpResponse:
    ref = f"user:{namespace}/{name}".lower()
    entity = get_object_or_404(Entity, ref=ref)
    person = oncall_selectors.user_oncall(entity.ref)
    # Whoever may create this person's feed (the person, administrators) sees the feeds section.
    is_self = may(request.user, Action.ONCALL_FEED_CREATE, CalendarFeed(kind=CalendarFeed.Kind.PERSON, ref=entity.ref))
    context = {
        "active_section": "oncall",
        "entity": entity,
        "person": person,
        "is_self": is_self,
        "feeds": oncall_selectors.calendar_feeds(kind="person", ref=entity.ref) if is_self else [],
        "feed_kind": "person",
        "feed_ref": entity.ref,
    }
    return render_page(request, "catalog/oncall/person.html", context)
