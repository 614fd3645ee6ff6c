"""Shapes of /api/scorecards/: input serializers for what clients send, output serializers for exemptions, campaigns
with their progress, transitions and levels on a date. Field names are camelCase, as the rest of the API."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import serializers

from scorecards import results, selectors, services
from scorecards.models import Campaign, Exemption, Transition

# -- input ------------------------------------------------------------------------------------------------------------


class ExemptionInputSerializer(serializers.Serializer[Any]):
    entityRef = serializers.CharField(max_length=300, help_text="The service, e.g. component:default/checkout.")
    scorecardRef = serializers.CharField(
        max_length=300, help_text="The scorecard, e.g. scorecard:default/production-readiness."
    )
    checkId = serializers.CharField(max_length=200, help_text="The id of one of the scorecard's checks.")
    reason = serializers.CharField(max_length=services.MAX_REASON_LENGTH, help_text="Why the check cannot pass yet.")
    expiresAt = serializers.DateTimeField(
        help_text="When the exemption ends by itself: in the future, within PAVED_SCORECARDS_MAX_EXEMPTION_DAYS."
    )


class ExemptionDecisionInputSerializer(serializers.Serializer[Any]):
    comment = serializers.CharField(
        max_length=services.MAX_COMMENT_LENGTH, required=False, allow_blank=True, default=""
    )


class CampaignInputSerializer(serializers.Serializer[Any]):
    slug = serializers.SlugField(max_length=100, help_text="The campaign's name in URLs.")
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")
    scorecardRef = serializers.CharField(max_length=300, help_text="scorecard:default/production-readiness")
    targetLevel = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", help_text="A level of the scorecard…"
    )
    checkIds = serializers.ListField(
        child=serializers.CharField(max_length=200),
        max_length=services.MAX_CHECK_IDS,
        required=False,
        default=list,
        help_text="…or the checks to pass (exactly one of targetLevel and checkIds).",
    )
    filter = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text="The services, in Backstage filter syntax (`kind=component,spec.type=service`); empty: every "
        "service scored on the scorecard.",
    )
    dueDate = serializers.DateField(help_text="When every matching service should be done (today or later).")
    ownerRef = serializers.CharField(
        max_length=300,
        required=False,
        allow_blank=True,
        default="",
        help_text="Who drives it; default the scorecard's owner.",
    )


class CampaignPatchSerializer(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    targetLevel = serializers.CharField(max_length=200, required=False, allow_blank=True)
    checkIds = serializers.ListField(
        child=serializers.CharField(max_length=200), max_length=services.MAX_CHECK_IDS, required=False
    )
    filter = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    dueDate = serializers.DateField(required=False)
    ownerRef = serializers.CharField(max_length=300, required=False, allow_blank=True)


class LevelsAtParameters(serializers.Serializer[Any]):
    at = serializers.DateField()
    scorecardRef = serializers.CharField(max_length=300)
    entityRef = serializers.CharField(max_length=300, required=False, default="")
    ownerRef = serializers.CharField(max_length=300, required=False, default="")


# -- output -----------------------------------------------------------------------------------------------------------


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


class ExemptionOutputSerializer(serializers.ModelSerializer[Exemption]):
    entityRef = serializers.CharField(source="entity_ref")
    scorecardRef = serializers.CharField(source="scorecard_ref")
    checkId = serializers.CharField(source="check_id")
    expiresAt = serializers.DateTimeField(source="expires_at")
    approverRef = serializers.CharField(source="approver_ref", help_text="Members of it (and admins) may approve.")
    requestedBy = serializers.SerializerMethodField()
    requestedAt = serializers.DateTimeField(source="requested_at")
    decidedBy = serializers.SerializerMethodField()
    decidedAt = serializers.DateTimeField(source="decided_at", allow_null=True)
    active = serializers.SerializerMethodField(help_text="Approved and not expired: the check counts as passing.")

    class Meta:
        model = Exemption
        fields = [
            "id",
            "entityRef",
            "scorecardRef",
            "checkId",
            "reason",
            "expiresAt",
            "status",
            "approverRef",
            "requestedBy",
            "requestedAt",
            "decidedBy",
            "decidedAt",
            "comment",
            "active",
        ]

    def get_requestedBy(self, exemption: Exemption) -> str | None:
        return _username(exemption.requested_by)

    def get_decidedBy(self, exemption: Exemption) -> str | None:
        return _username(exemption.decided_by)

    def get_active(self, exemption: Exemption) -> bool:
        return exemption.status == Exemption.Status.APPROVED and exemption.expires_at > timezone.now()


class ForecastSerializer(serializers.Serializer[Any]):
    perWeek = serializers.FloatField(help_text="Services done per week, from the trend of the last weeks.")
    projectedFinish = serializers.DateField(allow_null=True, help_text="When the trend reaches every service.")
    delayed = serializers.BooleanField(help_text="Work is left and the trend misses the due date, or is flat.")


class TeamProgressSerializer(serializers.Serializer[Any]):
    ownerRef = serializers.CharField()
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    percent = serializers.FloatField()
    forecast = ForecastSerializer()


class CampaignProgressSerializer(serializers.Serializer[Any]):
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    percent = serializers.FloatField()
    forecast = ForecastSerializer()
    teams = TeamProgressSerializer(many=True)
    problem = serializers.CharField(help_text="Why nothing could be counted; empty when all is well.")


class CampaignOutputSerializer(serializers.ModelSerializer[Campaign]):
    scorecardRef = serializers.CharField(source="scorecard_ref")
    targetLevel = serializers.CharField(source="target_level")
    checkIds = serializers.ListField(source="check_ids", child=serializers.CharField())
    dueDate = serializers.DateField(source="due_date")
    ownerRef = serializers.CharField(source="owner_ref")
    createdBy = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Campaign
        fields = [
            "slug",
            "title",
            "description",
            "scorecardRef",
            "targetLevel",
            "checkIds",
            "filter",
            "dueDate",
            "ownerRef",
            "createdBy",
            "createdAt",
        ]

    def get_createdBy(self, campaign: Campaign) -> str | None:
        return _username(campaign.created_by)


class CampaignDetailSerializer(CampaignOutputSerializer):
    progress = CampaignProgressSerializer(help_text="As of now.")

    class Meta(CampaignOutputSerializer.Meta):
        fields = [*CampaignOutputSerializer.Meta.fields, "progress"]


def progress_json(progress: selectors.CampaignProgress) -> dict[str, Any]:
    def forecast(value: selectors.Forecast) -> dict[str, Any]:
        finish = value.projected_finish
        return {
            "perWeek": value.per_week,
            "projectedFinish": finish.isoformat() if finish is not None else None,
            "delayed": value.delayed,
        }

    return {
        "total": progress.total,
        "done": progress.done,
        "percent": progress.percent,
        "forecast": forecast(progress.forecast),
        "teams": [
            {
                "ownerRef": team.owner_ref,
                "total": team.total,
                "done": team.done,
                "percent": team.percent,
                "forecast": forecast(team.forecast),
            }
            for team in progress.teams
        ],
        "problem": progress.problem,
    }


class TransitionOutputSerializer(serializers.ModelSerializer[Transition]):
    entityRef = serializers.CharField(source="entity_ref")
    scorecardRef = serializers.CharField(source="scorecard_ref")
    checkId = serializers.CharField(source="check_id", help_text="Empty for a level transition.")
    fromValue = serializers.CharField(source="from_value")
    toValue = serializers.CharField(source="to_value")
    levelIndex = serializers.IntegerField(source="level_index", allow_null=True)
    ownerRef = serializers.CharField(source="owner_ref", help_text="The entity's owner at the time.")

    class Meta:
        model = Transition
        fields = [
            "id",
            "entityRef",
            "scorecardRef",
            "kind",
            "checkId",
            "fromValue",
            "toValue",
            "levelIndex",
            "percent",
            "ownerRef",
            "at",
        ]


class TransitionPageSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = TransitionOutputSerializer(many=True)


class LevelCountSerializer(serializers.Serializer[Any]):
    level = serializers.CharField(help_text="Empty: no level.")
    levelIndex = serializers.IntegerField(help_text="-1: no level.")
    count = serializers.IntegerField()


class LevelsAtSerializer(serializers.Serializer[Any]):
    """The level of one entity (with entityRef), or how many entities held each level (of a team with ownerRef),
    at the end of the day `at`."""

    at = serializers.DateField()
    scorecardRef = serializers.CharField()
    entityRef = serializers.CharField(allow_null=True)
    ownerRef = serializers.CharField(allow_null=True)
    level = serializers.CharField(allow_null=True, help_text="With entityRef: its level then; null if not scored yet.")
    levelIndex = serializers.IntegerField(allow_null=True)
    percent = serializers.FloatField(allow_null=True)
    since = serializers.DateTimeField(allow_null=True, help_text="With entityRef: when it reached that level.")
    total = serializers.IntegerField()
    levels = LevelCountSerializer(many=True)


# -- results and scorecards (the evaluation) -------------------------------------------------------------------------


class EvidenceSerializer(serializers.Serializer[Any]):
    value = serializers.JSONField(allow_null=True, help_text="What was seen (shortened).")
    source = serializers.CharField(  # type: ignore[assignment]  # a field named source, popped by the metaclass
        help_text="Where: catalog, git:<repo>#<ref>@<commit>:<path>, oncall:<policy>."
    )
    observed_at = serializers.CharField(allow_null=True, help_text="When the fact was collected (ISO 8601).")
    message = serializers.CharField()


class CheckResultSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    title = serializers.CharField()
    level = serializers.CharField()
    state = serializers.ChoiceField(choices=["pass", "fail", "not-applicable", "error", "stale"])
    exempt = serializers.BooleanField(help_text="An approved exemption covers the check: it counts as passing.")
    evidence = EvidenceSerializer()
    remediation = serializers.CharField(allow_blank=True)
    remediationUrl = serializers.CharField(allow_blank=True)


class EntityScorecardSerializer(serializers.Serializer[Any]):
    scorecardRef = serializers.CharField()
    title = serializers.CharField()
    level = serializers.CharField(allow_null=True, help_text="The highest level held; null for none.")
    nextLevel = serializers.CharField(allow_null=True, help_text="The level above it; null at the top.")
    percent = serializers.FloatField(allow_null=True, help_text="Weighted share of passing checks; null if none count.")
    evaluatedAt = serializers.DateTimeField()
    checks = CheckResultSerializer(many=True)


class EntityResultsSerializer(serializers.Serializer[Any]):
    entityRef = serializers.CharField()
    scorecards = EntityScorecardSerializer(many=True)


class LevelShareSerializer(serializers.Serializer[Any]):
    level = serializers.CharField(allow_null=True, help_text="null: entities holding no level.")
    levelIndex = serializers.IntegerField(help_text="-1 for no level, then 0 for the lowest.")
    count = serializers.IntegerField()


class ScorecardCheckSerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    title = serializers.CharField()
    level = serializers.CharField()


class ScorecardSummarySerializer(serializers.Serializer[Any]):
    scorecardRef = serializers.CharField()
    title = serializers.CharField()
    ownerRef = serializers.CharField(allow_blank=True)
    levels = serializers.ListField(child=serializers.CharField())
    checks = ScorecardCheckSerializer(many=True)
    evaluatedAt = serializers.DateTimeField(allow_null=True)
    total = serializers.IntegerField(help_text="Entities scored on it.")
    distribution = LevelShareSerializer(many=True)


class ScorecardListSerializer(serializers.Serializer[Any]):
    items = ScorecardSummarySerializer(many=True)


def entity_results_json(*, entity_ref: str, scores: list[results.EntityScore]) -> dict[str, Any]:
    return {
        "entityRef": entity_ref,
        "scorecards": [
            {
                "scorecardRef": score.scorecard_ref,
                "title": score.title,
                "level": score.level,
                "nextLevel": score.next_level,
                "percent": score.percent,
                "evaluatedAt": score.evaluated_at.isoformat().replace("+00:00", "Z"),
                "checks": [
                    {
                        "id": check.id,
                        "title": check.title,
                        "level": check.level,
                        "state": check.state,
                        "exempt": check.exempt,
                        "evidence": {
                            "value": check.evidence.get("value"),
                            "source": str(check.evidence.get("source") or ""),
                            "observed_at": check.evidence.get("observed_at"),
                            "message": str(check.evidence.get("message") or ""),
                        },
                        "remediation": check.remediation,
                        "remediationUrl": check.remediation_url,
                    }
                    for check in score.checks
                ],
            }
            for score in scores
        ],
    }


def scorecard_json(view: results.ScorecardView) -> dict[str, Any]:
    return {
        "scorecardRef": view.ref,
        "title": view.title,
        "ownerRef": view.owner_ref,
        "levels": view.levels,
        "checks": view.checks,
        "evaluatedAt": view.evaluated_at.isoformat().replace("+00:00", "Z") if view.evaluated_at else None,
        "total": view.total,
        "distribution": [
            {"level": share.level, "levelIndex": share.level_index, "count": share.count} for share in view.distribution
        ],
    }
