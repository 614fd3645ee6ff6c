"""Scorecards' pages under /scorecards/: the overview (levels, teams side by side, trend), one scorecard with its
services, a team's roll-up, a service's results (polled, so a fix shows by itself), exemptions asked for and decided,
campaigns; and the README badge under /badge/.

Views parse the request, call selectors or one service and render; a fragment request (htmx) gets only the partial
named after the DOM id it replaces.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from catalog import selectors as catalog_selectors
from catalog.descriptors.refs import EntityRef, RefError, parse_ref
from catalog.refs import ref_label, ref_url
from portal.exceptions import ApplicationError
from portal.http import HtmxHttpRequest, is_fragment_request, render_page
from portal.permissions import Action, is_member, may
from scorecards import forms, presentation, results, selectors, services
from scorecards.models import Exemption, Score
from scorecards.results import CheckView, EntityScore, ScorecardView

# The parts of a catalog name in a URL: what the catalog accepts, and nothing that could leave the path.
_NAME_PART: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
SECTION: Final = "scorecards"
# How often a service's results ask the server again, so a fix shows without a reload.
POLL_SECONDS: Final = 10
BADGE_MAX_AGE: Final = 300


def _part(label: str, value: str) -> str:
    if not _NAME_PART.match(value):
        raise Http404(f"{label} {value[:80]!r} is not a catalog {label} (letters, digits, '.', '_', '-').")
    return value.lower()


def _svg(markup: str) -> str:
    # presentation.py escapes every piece of text it puts into the SVG.
    return mark_safe(markup)  # noqa: S308


def _level_index(view: ScorecardView | None, level: str | None) -> int:
    if view is None or not level or level not in view.levels:
        return -1
    return view.levels.index(level)


# -- overview, scorecard, team ---------------------------------------------------------------------------------------


@require_GET
def overview(request: HtmxHttpRequest) -> HttpResponse:
    now = timezone.now()
    cards: list[dict[str, Any]] = []
    for view in results.scorecard_views():
        cards.append(
            {
                "view": view,
                "url": reverse("scorecards:scorecard_detail", args=_ref_args(view.ref)),
                "shares": _shares(view),
                "teams": _team_rows(view),
                "blockers": _blockers(view),
                "trend": _svg(
                    presentation.trend_svg(
                        points=selectors.level_trend(scorecard_ref=view.ref, levels=view.levels, now=now),
                        levels=view.levels,
                        title=f"{view.title}: levels per week",
                        chart_id=f"trend-{view.ref}",
                    )
                ),
            }
        )
    refs = [card["view"].owner_ref for card in cards]
    refs += [row["team"].owner_ref for card in cards for row in card["teams"]]
    titles = selectors.team_titles(refs=refs)
    for card in cards:
        _title_rows(card["teams"], titles)
        card["owner"] = _team_link(card["view"].owner_ref, titles, catalog=True)
    context = {
        "active_section": SECTION,
        "cards": cards,
        "queue_count": len(selectors.exemption_queue(actor=request.user)),
        "campaigns": [
            {"campaign": campaign, "scorecard": _scorecard_name(campaign.scorecard_ref, cards)}
            for campaign in selectors.campaign_list(filters={})[:5]
        ],
    }
    return render_page(request, "scorecards/overview.html", context)


def _scorecard_name(scorecard_ref: str, cards: Sequence[Mapping[str, Any]]) -> str:
    """A scorecard's title from the overview's cards, else its short ref."""
    titles = {card["view"].ref: card["view"].title for card in cards}
    return str(titles.get(scorecard_ref) or ref_label(scorecard_ref))


def _shares(view: ScorecardView) -> list[dict[str, Any]]:
    """The level distribution as segments of a bar: name, count, percentage, offset from the left and colour."""
    shares, offset = [], 0.0
    for share in view.distribution:
        percent = round(100.0 * share.count / view.total, 1) if view.total else 0.0
        shares.append(
            {
                "name": share.level or "No level",
                "count": share.count,
                "percent": percent,
                "offset": offset,
                "colour": presentation.level_colour(share.level_index),
                "css": _level_css(share.level_index),
            }
        )
        offset += percent
    return shares


def _level_css(index: int) -> str:
    return f"paved-level-{min(index, 5)}" if index >= 0 else "paved-level-none"


def _team_rows(view: ScorecardView) -> list[dict[str, Any]]:
    names = ["No level", *view.levels]
    rows = []
    for team in selectors.scorecard_team_rows(scorecard_ref=view.ref, levels=view.levels):
        cells = [
            {"name": names[index], "count": count, "share": team.shares[index]}
            for index, count in enumerate(team.counts)
        ]
        rows.append({"team": team, "cells": cells, "url": _team_url(team.owner_ref)})
    return rows


def _blockers(view: ScorecardView, limit: int = 4) -> list[dict[str, Any]]:
    """The checks holding most services back, with their titles."""
    titles = {check["id"]: check["title"] or check["id"] for check in view.checks}
    return [
        {"tally": tally, "title": titles.get(tally.check_id, tally.check_id)}
        for tally in selectors.scorecard_check_tallies(scorecard_ref=view.ref)[:limit]
        if tally.failing or tally.unconfirmed
    ]


def _team_link(owner_ref: str, titles: Mapping[str, str], *, catalog: bool = False) -> dict[str, Any] | None:
    """A team as the pages show it: its title (see selectors.team_titles) and a link to its scorecards roll-up, or
    with `catalog` to its catalog page; None for no team."""
    if not owner_ref:
        return None
    url = _catalog_url(owner_ref) if catalog else _team_url(owner_ref)
    return {"ref": owner_ref, "title": titles.get(owner_ref) or owner_ref, "url": url}


def _title_rows(rows: list[dict[str, Any]], titles: Mapping[str, str]) -> None:
    """Give each per-team row (`{"team": <row with owner_ref>, ...}`) its team's title."""
    for row in rows:
        row["title"] = titles.get(row["team"].owner_ref) or row["team"].owner_ref or "(no owner)"


def _linkable(ref_text: str, *, default_kind: str) -> EntityRef | None:
    """The ref, when it parses and every part fits a page address; None otherwise (shown unlinked)."""
    try:
        ref = parse_ref(ref_text, default_kind=default_kind)
    except RefError:
        return None
    if not all(_NAME_PART.match(part) for part in (ref.kind, ref.namespace, ref.name)):
        return None
    return ref


def _catalog_url(ref_text: str) -> str | None:
    ref = _linkable(ref_text, default_kind="group")
    return ref_url(ref) if ref is not None else None


def _team_url(owner_ref: str) -> str | None:
    ref = _linkable(owner_ref, default_kind="group")
    if ref is None or ref.kind.lower() != "group":
        return None
    return reverse("scorecards:team", args=[ref.namespace, ref.name])


def _entity_url(entity_ref: str) -> str | None:
    ref = _linkable(entity_ref, default_kind="component")
    return reverse("scorecards:entity", args=[ref.namespace, ref.kind, ref.name]) if ref is not None else None


def _scorecard_view(namespace: str, name: str) -> ScorecardView:
    ref = f"scorecard:{_part('namespace', namespace)}/{_part('name', name)}"
    found = results.scorecard_views(ref=ref)
    if not found:
        raise Http404(f"No scorecard {ref} has been evaluated.")
    return found[0]


@require_GET
def scorecard_detail(request: HtmxHttpRequest, namespace: str, name: str) -> HttpResponse:
    view = _scorecard_view(namespace, name)
    filters = {key: request.GET.get(key, "") for key in ("team", "level") if request.GET.get(key)}
    status = 200
    errors: list[str] = []
    try:
        scores: Sequence[Score] = list(selectors.score_list(scorecard_ref=view.ref, filters=filters)[:500])
    except ValidationError as error:
        scores, status = [], 400
        errors = [message for messages_ in error.message_dict.values() for message in messages_]
    teams = _team_rows(view)
    titles = selectors.team_titles(
        refs=[view.owner_ref, *(row["team"].owner_ref for row in teams), *(score.owner_ref for score in scores)]
    )
    _title_rows(teams, titles)
    names = catalog_selectors.entity_titles(refs=[score.entity_ref for score in scores])
    context = {
        "active_section": SECTION,
        "view": view,
        "owner": _team_link(view.owner_ref, titles, catalog=True),
        "shares": _shares(view),
        "teams": teams,
        "blockers": _blockers(view, limit=10),
        "rows": [
            {
                "score": score,
                "url": _entity_url(score.entity_ref),
                "name": names.get(score.entity_ref) or ref_label(score.entity_ref),
                "team": _team_link(score.owner_ref, titles),
                "css": _level_css(score.level_index),
            }
            for score in scores
        ],
        "filters": filters,
        "filter_errors": errors,
        "level_choices": ["none", *view.levels],
        "may_campaign": may(
            request.user,
            Action.SCORECARD_CAMPAIGN_WRITE,
            selectors.ScorecardInfo(view.ref, view.title, view.owner_ref, tuple(view.levels), ()),
        ),
    }
    return render_page(
        request, "scorecards/scorecard_detail.html", context, partial="scorecard-services", status=status
    )


@require_GET
def team(request: HtmxHttpRequest, namespace: str, name: str) -> HttpResponse:
    owner_ref = f"group:{_part('namespace', namespace)}/{_part('name', name)}"
    group = catalog_selectors.entity_get_by_ref(ref=owner_ref)
    by_card = selectors.team_scores(owner_ref=owner_ref)
    if group is None and not by_card:
        raise Http404(f"No team {owner_ref} in the catalog, and no scores of its services.")
    now = timezone.now()
    team_title = selectors.team_titles(refs=[owner_ref]).get(owner_ref) or owner_ref
    names = catalog_selectors.entity_titles(refs=[score.entity_ref for scores in by_card.values() for score in scores])
    sections = []
    for view in results.scorecard_views():
        scores = by_card.get(view.ref, [])
        if not scores:
            continue
        sections.append(
            {
                "view": view,
                "url": reverse("scorecards:scorecard_detail", args=_ref_args(view.ref)),
                "rows": [
                    {
                        "score": score,
                        "url": _entity_url(score.entity_ref),
                        "name": names.get(score.entity_ref) or ref_label(score.entity_ref),
                        "css": _level_css(score.level_index),
                    }
                    for score in scores
                ],
                "trend": _svg(
                    presentation.trend_svg(
                        points=selectors.level_trend(
                            scorecard_ref=view.ref, levels=view.levels, now=now, owner_ref=owner_ref
                        ),
                        levels=view.levels,
                        title=f"{view.title}: levels of {team_title}'s services per week",
                        chart_id=f"trend-{view.ref}",
                    )
                ),
            }
        )
    context = {
        "active_section": SECTION,
        "owner_ref": owner_ref,
        "group": group,
        "team_title": team_title,
        "sections": sections,
    }
    return render_page(request, "scorecards/team.html", context)


# -- one service -----------------------------------------------------------------------------------------------------


def _entity_ref(namespace: str, kind: str, name: str) -> str:
    return f"{_part('kind', kind)}:{_part('namespace', namespace)}/{_part('name', name)}"


def _entity_scores(entity_ref: str) -> list[EntityScore]:
    scores = results.entity_scores(entity_ref=entity_ref)
    if scores is None:
        raise Http404(f"No entity {entity_ref} in the catalog, and no scores of it.")
    return scores


def _check_row(check: CheckView, exemption: Exemption | None, titles: Mapping[str, str]) -> dict[str, Any]:
    state = presentation.display_state(check.state, check.exempt)
    evidence = check.evidence
    return {
        "check": check,
        "state": state,
        "label": presentation.STATE_LABELS.get(state, state),
        "css": presentation.STATE_CLASSES.get(state, ""),
        "message": str(evidence.get("message") or ""),
        "value": evidence.get("value"),
        "source": str(evidence.get("source") or ""),
        "observed_at": _instant(evidence.get("observed_at") or evidence.get("observedAt")),
        "exemption": exemption,
        "approver": _team_link(exemption.approver_ref, titles, catalog=True) if exemption is not None else None,
        "may_exempt": check.state in ("fail", "error", "stale") and not check.exempt and exemption is None,
    }


def _instant(value: object) -> dt.datetime | None:
    """An evidence's ISO time as a datetime for the page (None when absent or not a time)."""
    if not isinstance(value, str):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def _entity_context(request: HtmxHttpRequest, entity_ref: str) -> dict[str, Any]:
    scores = _entity_scores(entity_ref)
    exemptions = selectors.entity_exemptions(entity_ref=entity_ref)
    found = catalog_selectors.entity_get_by_ref(ref=entity_ref)
    owner_ref = (found.owner_ref or "") if found is not None else ""
    titles = selectors.team_titles(refs=[owner_ref, *(exemption.approver_ref for exemption in exemptions.values())])
    views = {view.ref: view for view in results.scorecard_views()}
    now = timezone.now()
    cards = []
    for score in scores:
        view = views.get(score.scorecard_ref)
        rows = [_check_row(check, exemptions.get((score.scorecard_ref, check.id)), titles) for check in score.checks]
        index = _level_index(view, score.level)
        levels = view.levels if view is not None else []
        # What the next level needs: its checks and the lower ones that do not pass (an exempt check counts).
        needs = []
        if score.next_level is not None and score.next_level in levels:
            wanted = set(levels[: levels.index(score.next_level) + 1])
            needs = [row for row in rows if row["check"].level in wanted and row["state"] not in ("pass", "exempt")]
        cards.append(
            {
                "score": score,
                "css": _level_css(index),
                "rows": [row for row in rows if row["state"] != "exempt"],
                "exempt_rows": [row for row in rows if row["state"] == "exempt"],
                "needs": needs,
                "scorecard_url": reverse("scorecards:scorecard_detail", args=_ref_args(score.scorecard_ref)),
                "trend": _svg(
                    presentation.trend_svg(
                        points=selectors.entity_level_trend(
                            entity_ref=entity_ref, scorecard_ref=score.scorecard_ref, levels=levels, now=now
                        ),
                        levels=levels,
                        title=f"{score.title}: level of {entity_ref} per week",
                        chart_id=f"trend-{score.scorecard_ref}",
                    )
                ),
            }
        )
    kind, _, rest = entity_ref.partition(":")
    namespace, _, name = rest.partition("/")
    return {
        "active_section": SECTION,
        "entity_ref": entity_ref,
        "entity": found,
        "entity_title": (found.title or found.name) if found is not None else entity_ref,
        "owner": _team_link(owner_ref, titles),
        "url_parts": [namespace, kind, name],
        "cards": cards,
        "poll_seconds": POLL_SECONDS,
        "may_request": is_member(request.user),
    }


def _ref_args(scorecard_ref: str) -> list[str]:
    ref = parse_ref(scorecard_ref, default_kind="scorecard")
    return [ref.namespace, ref.name]


@require_GET
def entity(request: HtmxHttpRequest, namespace: str, kind: str, name: str) -> HttpResponse:
    context = _entity_context(request, _entity_ref(namespace, kind, name))
    return render_page(request, "scorecards/entity.html", context, partial="entity-results")


@require_http_methods(["GET", "POST"])
def exemption_request(request: HtmxHttpRequest, namespace: str, kind: str, name: str) -> HttpResponse:
    """GET: the form for one check (`?scorecard=…&check=…`); POST: ask for the exemption. Errors are shown in the
    form (422 to htmx, 400 to a plain post); success goes back to the service's page."""
    entity_ref = _entity_ref(namespace, kind, name)
    _entity_scores(entity_ref)
    page_url = reverse("scorecards:entity", args=[namespace.lower(), kind.lower(), name.lower()])
    if request.method == "GET":
        form = forms.ExemptionRequestForm(
            initial={"scorecard": request.GET.get("scorecard", "")[:300], "check": request.GET.get("check", "")[:200]}
        )
        return _exemption_form(request, form, entity_ref, page_url)
    form = forms.ExemptionRequestForm(request.POST)
    if form.is_valid():
        try:
            exemption = services.exemption_request(
                actor=request.user,
                entity_ref=entity_ref,
                scorecard_ref=form.cleaned_data["scorecard"],
                check_id=form.cleaned_data["check"],
                reason=form.cleaned_data["reason"],
                expires_at=form.expires_at(),
            )
        except ValidationError as error:
            forms.add_service_errors(form, error.message_dict)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                f"Exemption from {exemption.check_id} asked for; a member of {exemption.approver_ref} approves it.",
            )
            return HttpResponseClientRedirect(page_url) if request.htmx else redirect(page_url)
    status = 422 if is_fragment_request(request) else 400
    return _exemption_form(request, form, entity_ref, page_url, status=status)


def _exemption_form(
    request: HtmxHttpRequest,
    form: forms.ExemptionRequestForm,
    entity_ref: str,
    page_url: str,
    *,
    status: int = 200,
) -> HttpResponse:
    scorecard = str(form["scorecard"].value() or "")
    check = str(form["check"].value() or "")
    context = {
        "active_section": SECTION,
        "form": form,
        "entity_ref": entity_ref,
        "page_url": page_url,
        "scorecard": scorecard,
        "check": check,
        "action": request.path,
    }
    return render_page(request, "scorecards/exemption_form.html", context, partial="exemption-form", status=status)


# -- exemptions waiting ----------------------------------------------------------------------------------------------


@require_GET
def exemption_queue(request: HtmxHttpRequest) -> HttpResponse:
    queue = list(selectors.exemption_queue(actor=request.user))
    mine = list(selectors.exemptions_requested_by(user_id=request.user.pk))
    titles = selectors.team_titles(refs=[row.approver_ref for row in (*queue, *mine)])
    names = catalog_selectors.entity_titles(
        refs=[ref for row in [*queue, *mine] for ref in (row.entity_ref, row.scorecard_ref)]
    )
    context = {
        "active_section": SECTION,
        "queue": [
            {
                "exemption": row,
                "entity_url": _entity_url(row.entity_ref),
                "entity_name": names.get(row.entity_ref) or ref_label(row.entity_ref),
                "scorecard_name": names.get(row.scorecard_ref) or ref_label(row.scorecard_ref),
                "approver": _team_link(row.approver_ref, titles, catalog=True),
            }
            for row in queue
        ],
        "mine": [
            {
                "exemption": row,
                "entity_url": _entity_url(row.entity_ref),
                "entity_name": names.get(row.entity_ref) or ref_label(row.entity_ref),
                "approver": _team_link(row.approver_ref, titles, catalog=True),
            }
            for row in mine
        ],
    }
    return render_page(request, "scorecards/exemption_queue.html", context, partial="exemption-queue")


def _exemption(exemption_id: uuid.UUID) -> Exemption:
    found = selectors.exemption_get(exemption_id=exemption_id)
    if found is None:
        raise Http404(f"No exemption {exemption_id}.")
    return found


def _decide(request: HtmxHttpRequest, exemption_id: uuid.UUID, *, approve: bool) -> HttpResponse:
    exemption = _exemption(exemption_id)
    form = forms.DecisionForm(request.POST)
    target = reverse("scorecards:exemption_queue")
    if not form.is_valid():
        messages.error(
            request, "; ".join(f"{name}: {' '.join(str(e) for e in errs)}" for name, errs in form.errors.items())
        )
        return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    decide = services.exemption_approve if approve else services.exemption_reject
    try:
        decide(exemption=exemption, actor=request.user, comment=form.cleaned_data["comment"])
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        verb = "Approved" if approve else "Rejected"
        messages.success(request, f"{verb} the exemption of {exemption.entity_ref} from {exemption.check_id}.")
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@require_POST
def exemption_approve(request: HtmxHttpRequest, exemption_id: uuid.UUID) -> HttpResponse:
    return _decide(request, exemption_id, approve=True)


@require_POST
def exemption_reject(request: HtmxHttpRequest, exemption_id: uuid.UUID) -> HttpResponse:
    return _decide(request, exemption_id, approve=False)


# -- campaigns -------------------------------------------------------------------------------------------------------


@require_GET
def campaign_list(request: HtmxHttpRequest) -> HttpResponse:
    now = timezone.now()
    campaigns = list(selectors.campaign_list(filters={})[:100])
    names = catalog_selectors.entity_titles(refs=[campaign.scorecard_ref for campaign in campaigns])
    rows = [
        {
            "campaign": campaign,
            "scorecard": names.get(campaign.scorecard_ref) or ref_label(campaign.scorecard_ref),
            "progress": selectors.campaign_progress(campaign=campaign, now=now),
        }
        for campaign in campaigns
    ]
    context = {"active_section": SECTION, "rows": rows, "may_create": bool(_writable_cards(request))}
    return render_page(request, "scorecards/campaign_list.html", context)


@require_GET
def campaign_detail(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    campaign = selectors.campaign_get(slug=slug[:100])
    if campaign is None:
        raise Http404(f"No campaign {slug[:100]!r}.")
    progress = selectors.campaign_progress(campaign=campaign, now=timezone.now())
    context = {
        "active_section": SECTION,
        "campaign": campaign,
        "progress": progress,
        "teams": _campaign_teams(progress.teams),
        "scorecard_name": catalog_selectors.entity_titles(refs=[campaign.scorecard_ref]).get(campaign.scorecard_ref)
        or ref_label(campaign.scorecard_ref),
        "scorecard_url": reverse("scorecards:scorecard_detail", args=_ref_args(campaign.scorecard_ref)),
    }
    return render_page(request, "scorecards/campaign_detail.html", context)


def _campaign_teams(teams: Sequence[Any]) -> list[dict[str, Any]]:
    rows = [{"team": row, "url": _team_url(row.owner_ref)} for row in teams]
    _title_rows(rows, selectors.team_titles(refs=[row.owner_ref for row in teams]))
    return rows


def _writable_cards(request: HtmxHttpRequest) -> list[tuple[str, str]]:
    cards = []
    for view in results.scorecard_views():
        info = selectors.ScorecardInfo(view.ref, view.title, view.owner_ref, tuple(view.levels), ())
        if may(request.user, Action.SCORECARD_CAMPAIGN_WRITE, info):
            cards.append((view.ref, f"{view.title} ({', '.join(view.levels)})"))
    return cards


@require_http_methods(["GET", "POST"])
def campaign_create(request: HtmxHttpRequest) -> HttpResponse:
    """Start a campaign on a scorecard the user's team owns (administrators: any)."""
    cards = _writable_cards(request)
    if request.method == "GET":
        form = forms.CampaignForm(scorecards=cards)
        return _campaign_form(request, form, cards)
    form = forms.CampaignForm(request.POST, scorecards=cards)
    if form.is_valid():
        data = form.cleaned_data
        try:
            campaign = services.campaign_create(
                actor=request.user,
                slug=data["slug"],
                title=data["title"],
                scorecard_ref=data["scorecard"],
                due_date=data["due_date"],
                target_level=data["target_level"],
                filter=data["filter"],
                description=data["description"],
            )
        except ValidationError as error:
            forms.add_service_errors(form, error.message_dict)
        except ApplicationError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, f"Campaign {campaign.title} started.")
            target = reverse("scorecards:campaign_detail", args=[campaign.slug])
            return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
    return _campaign_form(request, form, cards, status=422 if is_fragment_request(request) else 400)


def _campaign_form(
    request: HtmxHttpRequest, form: forms.CampaignForm, cards: list[tuple[str, str]], *, status: int = 200
) -> HttpResponse:
    context = {"active_section": SECTION, "form": form, "cards": cards}
    return render_page(request, "scorecards/campaign_form.html", context, partial="campaign-form", status=status)


# -- badge -----------------------------------------------------------------------------------------------------------


def _badge_refs(ref: str, scorecard: str) -> tuple[str, str]:
    if len(ref) > 300 or len(scorecard) > 300 or "\x00" in ref + scorecard:
        raise Http404("No such badge.")
    try:
        entity = parse_ref(ref, default_kind="component")
        card = parse_ref(scorecard, default_kind="scorecard")
    except RefError:
        raise Http404("No such badge: the entity or the scorecard is not a ref.") from None
    if card.kind != "scorecard":
        raise Http404("No such badge: the second part names a scorecard.")
    return str(entity).lower(), str(card).lower()


@login_not_required
@require_GET
def badge(request: HtmxHttpRequest, ref: str, scorecard: str) -> HttpResponse:
    """`/badge/<entity ref>/<scorecard name>.svg`: the entity's level on the scorecard as a README badge. Without a
    session only when PAVED_SCORECARDS_PUBLIC_BADGES is on (a level is then readable by anyone who knows the ref)."""
    public = bool(settings.PAVED_SCORECARDS_PUBLIC_BADGES)
    if not public and not request.user.is_authenticated:
        response = HttpResponse(
            "Sign in to see this badge, or set PAVED_SCORECARDS_PUBLIC_BADGES=true to serve badges to anyone.\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Session realm="Paved"'
        return response
    entity_ref, scorecard_ref = _badge_refs(ref, scorecard)
    score = selectors.score_get(entity_ref=entity_ref, scorecard_ref=scorecard_ref)
    found = results.scorecard_views(ref=scorecard_ref)
    if score is None or not found:
        raise Http404(f"{entity_ref} is not scored on {scorecard_ref}.")
    view = found[0]
    index = _level_index(view, score.level)
    message = score.level or "no level"
    counted = score.counts.get("counted") if isinstance(score.counts, Mapping) else None
    if counted != 0:
        message = f"{message} · {round(score.percent)}%"
    markup = presentation.badge_svg(label=view.title, message=message, colour=presentation.level_colour(index))
    response = HttpResponse(markup, content_type="image/svg+xml; charset=utf-8")
    response["Cache-Control"] = f"{'public' if public else 'private'}, max-age={BADGE_MAX_AGE}"
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response["X-Content-Type-Options"] = "nosniff"
    if not public:
        response["Vary"] = "Cookie"
    return response
