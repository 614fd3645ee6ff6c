"""Who may do what: one table of roles and actions, checked at the rule (`portal.permissions.may`), through every
page and API endpoint that exposes the action (the API once with a session and once with a personal token of each
role), and through the buttons the pages show.

The roles, in an organisation where team payments owns the component `checkout` and the schedule `payments-primary`:

- anonymous: nobody signed in;
- member: alice, in payments; she registered `own_location` and her catalog User is the person of the person feed;
- other_team: zoe, in team search;
- staff: sam, `is_staff` but not a superuser (staff only opens Django's admin site);
- superuser: root, the administrator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.management import call_command
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog import jobs, services
from catalog.models import CalendarFeed, Entity, Location, OnCallOverride
from portal.permissions import SYSTEM, Action, NotPermitted, may, require
from scorecards.models import Scorecard
from tests.catalog.factories import ComponentDictFactory, LocationFactory, ingest
from tests.catalog.oncall.factories import CalendarFeedFactory, OnCallOverrideFactory, payments_org
from tests.portal.factories import AdminFactory, ApiTokenFactory, UserFactory

pytestmark = pytest.mark.django_db

Response = Any  # the test client's response

ROLES = ("anonymous", "member", "other_team", "staff", "superuser")
SIGNED_IN = frozenset(ROLES) - {"anonymous"}
OWNERS = frozenset({"member", "superuser"})
ADMINS = frozenset({"superuser"})


@dataclass(frozen=True)
class PendingApproval:
    """What a scaffolder run or a scorecard exemption waiting for approval offers the rule."""

    approver_ref: str
    requested_by_id: int | None


@dataclass
class World:
    users: dict[str, Any]
    entity: Entity
    org_location: Location
    own_location: Location
    schedule: Entity
    override: OnCallOverride
    schedule_feed: CalendarFeed
    target: Path
    approval: PendingApproval
    scorecard: Scorecard
    queued: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Row:
    """One line of the table: an action on one object, and the roles allowed to do it."""

    name: str
    action: Action
    obj: Callable[[World], Any]
    allowed: frozenset[str]


TABLE = [
    Row("entity.delete", Action.ENTITY_DELETE, lambda w: w.entity, OWNERS),
    Row(
        "location.register", Action.LOCATION_REGISTER, lambda w: Location(type="file", target=str(w.target)), SIGNED_IN
    ),
    Row(
        "location.register-trusted",
        Action.LOCATION_REGISTER,
        lambda w: Location(type="file", target=str(w.target), trusted=True),
        ADMINS,
    ),
    Row("location.refresh", Action.LOCATION_REFRESH, lambda w: w.org_location, SIGNED_IN),
    Row("location.delete", Action.LOCATION_DELETE, lambda w: w.own_location, OWNERS),
    Row("location.trust", Action.LOCATION_TRUST, lambda w: w.org_location, ADMINS),
    Row("oncall.override.write", Action.ONCALL_OVERRIDE_WRITE, lambda w: w.schedule, OWNERS),
    Row("oncall.override.write-schedule-gone", Action.ONCALL_OVERRIDE_WRITE, lambda w: None, ADMINS),
    Row(
        "oncall.feed.create-person",
        Action.ONCALL_FEED_CREATE,
        lambda w: CalendarFeed(kind="person", ref="user:default/alice"),
        OWNERS,
    ),
    Row(
        "oncall.feed.create-schedule",
        Action.ONCALL_FEED_CREATE,
        lambda w: CalendarFeed(kind="schedule", ref=w.schedule.ref),
        SIGNED_IN,
    ),
    Row("oncall.feed.revoke", Action.ONCALL_FEED_REVOKE, lambda w: w.schedule_feed, OWNERS),
    Row("scaffolder.run.approve", Action.SCAFFOLDER_RUN_APPROVE, lambda w: w.approval, OWNERS),
    Row("scorecards.exemption.approve", Action.SCORECARD_EXEMPTION_APPROVE, lambda w: w.approval, OWNERS),
    Row("scorecards.campaign.write", Action.SCORECARD_CAMPAIGN_WRITE, lambda w: w.scorecard, OWNERS),
]
ROWS = {row.name: row for row in TABLE}


def test_the_table_names_every_action():
    assert {row.action for row in TABLE} == set(Action)


@pytest.fixture
def world(tmp_path, settings, monkeypatch) -> World:
    location = LocationFactory.create()
    assert ingest(payments_org(), location=location).errors == []
    Entity.objects.filter(ref="component:default/checkout").update(orphan=True)
    settings.PAVED_CATALOG_FILE_ROOTS = [str(tmp_path)]
    target = tmp_path / "catalog-info.yaml"
    target.write_text(yaml.safe_dump(ComponentDictFactory(name="newcomer", owner="payments")))
    alice = UserFactory(username="alice")
    start = timezone.now() + timedelta(days=2)
    world = World(
        users={
            "anonymous": AnonymousUser(),
            "member": alice,
            "other_team": UserFactory(username="zoe"),
            "staff": UserFactory(username="sam", is_staff=True),
            "superuser": AdminFactory(username="root"),
        },
        entity=Entity.objects.get(ref="component:default/checkout"),
        org_location=location,
        own_location=LocationFactory.create(created_by=alice, trusted=False),
        schedule=Entity.objects.get(ref="schedule:default/payments-primary"),
        override=OnCallOverrideFactory.create(start=start, end=start + timedelta(hours=8)),
        schedule_feed=CalendarFeedFactory.create(created_by=UserFactory(username="carol")),
        target=target,
        approval=PendingApproval("group:default/payments", UserFactory(username="bob").pk),
        scorecard=Scorecard(ref="scorecard:default/production-readiness", owner_ref="group:default/payments"),
    )
    monkeypatch.setattr(jobs, "location_refresh_enqueue", lambda *, location_id, **_: world.queued.append(location_id))
    return world


# -- the rule ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("row", TABLE, ids=lambda row: row.name)
def test_may_follows_the_table(world, row, role):
    assert may(world.users[role], row.action, row.obj(world)) is (role in row.allowed)


@pytest.mark.parametrize("row", [row for row in TABLE if "other_team" not in row.allowed], ids=lambda row: row.name)
def test_require_refuses_with_a_message_and_the_action(world, row):
    with pytest.raises(NotPermitted) as refused:
        require(world.users["other_team"], row.action, row.obj(world))
    assert refused.value.action is row.action
    assert refused.value.status == 403
    assert "may" in refused.value.message


# -- the doors: every page and API endpoint that does one of the actions -----------------------------------------------


def _later(hours: int) -> str:
    return (timezone.now() + timedelta(days=3, hours=hours)).strftime("%Y-%m-%dT%H:%M")


def _instant(hours: int) -> str:
    return (timezone.now() + timedelta(days=3, hours=hours)).isoformat()


@dataclass(frozen=True)
class Door:
    """One way in to an action: `call` makes the request, `ok` is its status when allowed, and `done` says whether the
    action happened (None: it writes nothing, like a dry run)."""

    row: str
    name: str
    call: Callable[[Client, World], Response]
    ok: int
    done: Callable[[World], bool] | None


UrlOf = Callable[[World], str]


def _url(name: str, *attributes: str, query: str = "") -> UrlOf:
    """The URL named `name`, its arguments read from the world (`"org_location.pk"`), once the world exists."""
    return lambda w: reverse(name, args=[attrgetter(attribute)(w) for attribute in attributes]) + query


def _json(method: str, path: UrlOf, body: dict[str, Any] | None = None) -> Callable[[Client, World], Response]:
    def call(client: Client, world: World) -> Response:
        return getattr(client, method)(path(world), body or {}, content_type="application/json")

    return call


def _form(path: UrlOf, body: Callable[[World], dict[str, str]] = lambda w: {}) -> Callable[[Client, World], Response]:
    def call(client: Client, world: World) -> Response:
        return client.post(path(world), body(world))

    return call


def _entity_gone(world: World) -> bool:
    return not Entity.objects.filter(pk=world.entity.pk).exists()


def _registered(world: World) -> bool:
    return Location.objects.filter(target=str(world.target)).exists()


def _unregistered(world: World) -> bool:
    return not Location.objects.filter(pk=world.own_location.pk).exists()


def _untrusted(world: World) -> bool:
    return not Location.objects.get(pk=world.org_location.pk).trusted


def _override_with(reason: str) -> Callable[[World], bool]:
    return lambda world: OnCallOverride.objects.filter(reason=reason).exists()


def _override_gone(world: World) -> bool:
    return not OnCallOverride.objects.filter(pk=world.override.pk).exists()


def _override_form(reason: str) -> Callable[[World], dict[str, str]]:
    return lambda world: {
        "schedule": world.schedule.ref,
        "user": "user:default/carol",
        "start": _later(0),
        "end": _later(8),
        "reason": reason,
    }


def _new_override(reason: str) -> dict[str, str]:
    return {
        "scheduleRef": "schedule:default/payments-primary",
        "userRef": "user:default/carol",
        "start": _instant(0),
        "end": _instant(8),
        "reason": reason,
    }


def _feeds(kind: str, count: int) -> Callable[[World], bool]:
    return lambda world: CalendarFeed.objects.filter(kind=kind).count() == count


def _feed_revoked(world: World) -> bool:
    return CalendarFeed.objects.get(pk=world.schedule_feed.pk).revoked_at is not None


CHECKOUT = ("default", "component", "checkout")
PAGE_DOORS = [
    Door(
        "entity.delete",
        "entity delete",
        _form(lambda w: reverse("catalog:entity_delete", args=CHECKOUT)),
        302,
        _entity_gone,
    ),
    Door(
        "location.register",
        "register",
        _form(_url("catalog:location_create"), lambda w: {"type": "file", "target": str(w.target)}),
        302,
        _registered,
    ),
    Door(
        "location.register",
        "preview",
        _form(_url("catalog:location_preview"), lambda w: {"type": "file", "target": str(w.target)}),
        200,
        None,
    ),
    Door("location.refresh", "refresh now", _form(_url("catalog:location_refresh", "org_location.pk")), 302, None),
    Door(
        "location.delete",
        "unregister confirmation",
        lambda client, w: client.get(reverse("catalog:location_delete", args=[w.own_location.pk])),
        200,
        None,
    ),
    Door(
        "location.delete", "unregister", _form(_url("catalog:location_delete", "own_location.pk")), 302, _unregistered
    ),
    Door(
        "location.trust",
        "toggle trust",
        _form(_url("catalog:location_trust", "org_location.pk"), lambda w: {"trusted": "false"}),
        302,
        _untrusted,
    ),
    Door(
        "oncall.override.write",
        "add override",
        _form(_url("catalog:override_create"), _override_form("from the page")),
        302,
        _override_with("from the page"),
    ),
    Door(
        "oncall.override.write",
        "delete override",
        _form(_url("catalog:override_delete", "override.pk")),
        302,
        _override_gone,
    ),
    Door(
        "oncall.feed.create-person",
        "person feed",
        _form(_url("catalog:feed_create"), lambda w: {"kind": "person", "ref": "user:default/alice"}),
        200,
        _feeds("person", 1),
    ),
    Door(
        "oncall.feed.create-schedule",
        "schedule feed",
        _form(_url("catalog:feed_create"), lambda w: {"kind": "schedule", "ref": w.schedule.ref}),
        200,
        _feeds("schedule", 2),
    ),
    Door(
        "oncall.feed.revoke",
        "revoke feed",
        _form(_url("catalog:feed_revoke", "schedule_feed.pk")),
        200,
        _feed_revoked,
    ),
]
API_DOORS = [
    Door(
        "entity.delete", "DELETE by-uid", _json("delete", _url("catalog_api:by_uid", "entity.uid")), 204, _entity_gone
    ),
    Door(
        "location.register",
        "POST locations",
        lambda client, w: _json("post", _url("catalog_api:locations"), {"type": "file", "target": str(w.target)})(
            client, w
        ),
        201,
        _registered,
    ),
    Door(
        "location.register",
        "POST locations?dryRun",
        lambda client, w: _json(
            "post", _url("catalog_api:locations", query="?dryRun=true"), {"type": "file", "target": str(w.target)}
        )(client, w),
        201,
        None,
    ),
    Door(
        "location.refresh",
        "POST refresh",
        _json("post", _url("catalog_api:refresh"), {"entityRef": "component:checkout"}),
        200,
        None,
    ),
    Door(
        "location.delete",
        "DELETE location",
        _json("delete", _url("catalog_api:location", "own_location.pk")),
        204,
        _unregistered,
    ),
    Door(
        "oncall.override.write",
        "POST overrides",
        _json("post", _url("oncall_api:overrides"), _new_override("from the API")),
        201,
        _override_with("from the API"),
    ),
    Door(
        "oncall.override.write",
        "PATCH override",
        _json("patch", _url("oncall_api:override", "override.pk"), {"reason": "patched"}),
        200,
        _override_with("patched"),
    ),
    Door(
        "oncall.override.write",
        "DELETE override",
        _json("delete", _url("oncall_api:override", "override.pk")),
        204,
        _override_gone,
    ),
]


@pytest.fixture
def session(world: World, client_for: Callable[..., Client]) -> Callable[[str], Client]:
    """A client signed in as the user holding `role`, or an anonymous one."""

    def for_role(role: str) -> Client:
        return Client() if role == "anonymous" else client_for(world.users[role].username)

    return for_role


def _token(world: World, role: str) -> Client:
    raw = f"pvd_table-{role}"
    ApiTokenFactory.create(user=world.users[role], raw=raw)
    return Client(headers={"Authorization": f"Bearer {raw}"})


def _check(door: Door, world: World, role: str, response: Response, *, api: bool) -> None:
    allowed = role in ROWS[door.row].allowed
    if allowed:
        assert response.status_code == door.ok, response.content[:500]
        if door.row == "location.refresh":
            assert world.queued == [str(world.org_location.pk)]
    elif role == "anonymous" and api:
        assert response.status_code == 401
        assert response.json()["error"]["name"] == "AuthenticationError"
    elif role == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith(resolve_url(settings.LOGIN_URL))
    else:
        assert response.status_code == 403, response.content[:500]
        if api:
            assert response.json()["error"]["name"] == "NotAllowedError"
    if door.done is not None:
        assert door.done(world) is allowed
    if not allowed:
        assert world.queued == []


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("door", PAGE_DOORS, ids=lambda door: f"{door.row}:{door.name}")
def test_pages_follow_the_table(world, door, role, session):
    _check(door, world, role, door.call(session(role), world), api=False)


API_CLIENTS = [("anonymous", "none")] + [(role, auth) for role in ROLES[1:] for auth in ("session", "token")]


@pytest.mark.parametrize(("role", "auth"), API_CLIENTS, ids=[f"{role}-{auth}" for role, auth in API_CLIENTS])
@pytest.mark.parametrize("door", API_DOORS, ids=lambda door: f"{door.row}:{door.name}")
def test_the_api_follows_the_table_with_a_session_or_a_token(world, door, role, auth, session):
    client = _token(world, role) if auth == "token" else session(role)
    _check(door, world, role, door.call(client, world), api=True)


# -- the buttons: pages offer an action to exactly those who may do it -------------------------------------------------


PRIMARY = ("default", "payments-primary")
ALICE = ("default", "alice")
BUTTONS = [
    ("entity.delete", lambda w: reverse("catalog:entity_detail", args=CHECKOUT), 'id="delete-orphan"'),
    ("location.register", _url("catalog:location_list"), 'id="register-form"'),
    ("location.refresh", _url("catalog:location_detail", "org_location.pk"), 'id="refresh-button"'),
    ("location.delete", _url("catalog:location_detail", "own_location.pk"), 'id="unregister-link"'),
    ("location.trust", _url("catalog:location_detail", "org_location.pk"), 'id="trust-button"'),
    ("oncall.override.write", lambda w: reverse("catalog:oncall_schedule", args=PRIMARY), 'id="schedule-add-override"'),
    ("oncall.feed.create-person", lambda w: reverse("catalog:oncall_person", args=ALICE), 'id="feed-create"'),
    ("oncall.feed.create-schedule", lambda w: reverse("catalog:oncall_schedule", args=PRIMARY), 'id="feed-create"'),
]


@pytest.mark.parametrize("role", ROLES[1:])
@pytest.mark.parametrize(("row", "path", "button"), BUTTONS, ids=[f"{row}:{button}" for row, _, button in BUTTONS])
def test_pages_show_a_button_to_those_who_may_use_it(world, row, path, button, role, session):
    response = session(role).get(path(world))
    assert response.status_code == 200
    assert (button in response.content.decode()) is (role in ROWS[row].allowed)


# -- the system, approvals, membership ---------------------------------------------------------------------------------


@pytest.mark.parametrize("row", TABLE, ids=lambda row: row.name)
def test_the_system_may_do_everything_but_approve(world, row):
    assert may(SYSTEM, row.action, row.obj(world)) is (
        row.action not in {Action.SCAFFOLDER_RUN_APPROVE, Action.SCORECARD_EXEMPTION_APPROVE}
    )


def test_the_command_line_registers_trusted_locations_as_the_system(world, capsys):
    call_command("catalog", "import", str(world.target), "--trusted")
    assert Location.objects.get(target=str(world.target)).trusted
    assert Entity.objects.filter(name="newcomer").exists()


def test_no_actor_is_not_the_system(world):
    assert not may(None, Action.LOCATION_REGISTER)
    with pytest.raises(NotPermitted):
        services.location_create(type="file", target=str(world.target), actor=None)  # type: ignore[arg-type]
    assert not Location.objects.filter(target=str(world.target)).exists()


def test_whoever_asked_never_approves_even_an_administrator(world):
    bob = User.objects.get(username="bob")  # in payments, the approver group
    assert not may(bob, Action.SCAFFOLDER_RUN_APPROVE, world.approval)
    root = world.users["superuser"]
    assert not may(root, Action.SCORECARD_EXEMPTION_APPROVE, PendingApproval("group:default/payments", root.pk))


def test_an_approver_may_be_a_user_rather_than_a_group(world):
    approval = PendingApproval("user:default/zoe", None)
    assert may(world.users["other_team"], Action.SCAFFOLDER_RUN_APPROVE, approval)
    assert not may(world.users["member"], Action.SCAFFOLDER_RUN_APPROVE, approval)


def test_an_inactive_superuser_is_not_an_administrator(world):
    root = world.users["superuser"]
    root.is_active = False
    assert not may(root, Action.LOCATION_TRUST, world.org_location)


def test_owners_are_found_by_profile_email_and_may_own_directly(world):
    ingest([ComponentDictFactory(name="personal", owner="user:alice")], location=world.org_location)
    by_email = UserFactory(username="a.lovelace", email="ALICE@example.com")
    assert may(by_email, Action.ENTITY_DELETE, world.entity)
    assert may(by_email, Action.ENTITY_DELETE, Entity.objects.get(name="personal"))
    assert not may(UserFactory(username="nobody", email=""), Action.ENTITY_DELETE, world.entity)


def test_membership_is_looked_up_once_per_user(world, django_assert_num_queries):
    alice = User.objects.get(username="alice")
    secondary = Entity.objects.get(ref="schedule:default/payments-secondary")
    search = Entity.objects.get(ref="schedule:default/search-primary")
    with django_assert_num_queries(2):
        assert may(alice, Action.ONCALL_OVERRIDE_WRITE, world.schedule)
        assert may(alice, Action.ONCALL_OVERRIDE_WRITE, secondary)
        assert not may(alice, Action.ONCALL_OVERRIDE_WRITE, search)
        assert may(alice, Action.ENTITY_DELETE, world.entity)


def test_a_rule_that_needs_an_object_says_so(world):
    with pytest.raises(TypeError, match=r"entity\.delete needs the object"):
        may(world.users["member"], Action.ENTITY_DELETE)


@pytest.mark.parametrize(("role", "expected"), [("member", False), ("staff", False), ("superuser", True)])
def test_me_says_whether_you_are_an_administrator(world, role, expected, session):
    assert session(role).get(reverse("api_me")).json()["isAdmin"] is expected
