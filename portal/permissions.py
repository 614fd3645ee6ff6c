"""Who may do what in Paved. Every rule lives here, and the services ask it before they write, so a page, the API
and the command line always give the same answer; pages also ask `may()` to decide which buttons to show.

Who is asking (the *actor*):

- **anonymous** — not signed in. The pages send them to the sign-in page and the API answers 401 before any rule
  runs; the rules refuse them everything anyway.
- **member** — any active signed-in user, through a session or a personal API token (a token acts as its user).
- **owner** — a member whose catalog User is the owner of the thing, or a direct member of the owning Group. The
  catalog User of a Django user is the User entity named like the username, else the one whose
  `spec.profile.email` is the user's email (`catalog.selectors.user_entity_get`).
- **administrator** — an active user with `is_superuser`. That is the one meaning of administrator in Paved.
  `is_staff` alone only opens Django's admin site, where Django's model permissions apply.
- **system** — `SYSTEM`, passed explicitly by management commands and the demo loader, which run with the
  server's own authority. It may do everything except approve: approvals need a person. `None` is not the
  system: an actor that is neither a user nor `SYSTEM` is treated as anonymous.

The rules, one per `Action` (the README's "Who may do what" table says the same):

| action | allowed |
|---|---|
| `entity.delete` | administrators, owners of the entity |
| `location.register` | members; a trusted location: administrators only |
| `location.refresh` | members (it only asks the worker to read the location again) |
| `location.delete` | administrators, whoever registered the location |
| `location.trust` | administrators |
| `oncall.override.write` | administrators, owners of the schedule (a schedule gone from the catalog: administrators) |
| `oncall.feed.create` | members for a schedule feed; for a person's feed that person and administrators |
| `oncall.feed.revoke` | administrators, the feed's creator, the person of a person feed, owners of the schedule |
| `scaffolder.run.approve` | administrators and members of the approver group (or the approver); never the requester |
| `scorecards.exemption.approve` | the same as approving a scaffolder run |
| `scorecards.campaign.write` | administrators, members of the scorecard's owner (create, change, delete campaigns) |

Membership (two queries: the catalog User, its groups) is looked up at most once per user object and kept on it, as
Django keeps a user's permissions, so a page that asks about many schedules pays for it once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Protocol

from django.contrib.auth.models import AnonymousUser, User

from catalog import selectors as catalog_selectors
from portal.exceptions import ForbiddenError


class SystemActor:
    """Paved itself, acting for the command line or a loader; see the module docstring."""

    def __repr__(self) -> str:
        return "SYSTEM"


SYSTEM: Final = SystemActor()

Actor = User | AnonymousUser | SystemActor


class Action(StrEnum):
    ENTITY_DELETE = "entity.delete"
    LOCATION_REGISTER = "location.register"
    LOCATION_REFRESH = "location.refresh"
    LOCATION_DELETE = "location.delete"
    LOCATION_TRUST = "location.trust"
    ONCALL_OVERRIDE_WRITE = "oncall.override.write"
    ONCALL_FEED_CREATE = "oncall.feed.create"
    ONCALL_FEED_REVOKE = "oncall.feed.revoke"
    SCAFFOLDER_RUN_APPROVE = "scaffolder.run.approve"
    SCORECARD_EXEMPTION_APPROVE = "scorecards.exemption.approve"
    SCORECARD_CAMPAIGN_WRITE = "scorecards.campaign.write"


APPROVALS: Final = frozenset({Action.SCAFFOLDER_RUN_APPROVE, Action.SCORECARD_EXEMPTION_APPROVE})


class Owned(Protocol):
    """Anything with an owner ref: an Entity, a loaded on-call schedule."""

    @property
    def owner_ref(self) -> str: ...


class Registered(Protocol):
    """A Location: who registered it and whether it is trusted."""

    @property
    def created_by_id(self) -> int | None: ...
    @property
    def trusted(self) -> bool: ...


class Feed(Protocol):
    """A CalendarFeed, saved or about to be."""

    @property
    def kind(self) -> str: ...
    @property
    def ref(self) -> str: ...
    @property
    def created_by_id(self) -> int | None: ...


class ApprovalRequest(Protocol):
    """A scaffolder run or a scorecard exemption waiting for approval: who may approve it and who asked."""

    @property
    def approver_ref(self) -> str: ...
    @property
    def requested_by_id(self) -> int | None: ...


class NotPermitted(ForbiddenError):
    """`require` refused the action: the API answers 403 NotAllowedError, a page shows the 403 page."""

    def __init__(self, message: str, *, action: Action) -> None:
        super().__init__(message)
        self.action = action


@dataclass(frozen=True)
class Membership:
    """The catalog User standing for a Django user (None when there is none) and the Groups it is a member of."""

    user_ref: str | None
    group_refs: frozenset[str]

    def owns(self, owner_ref: str) -> bool:
        return bool(owner_ref) and (owner_ref == self.user_ref or owner_ref in self.group_refs)


_NOBODY: Final = Membership(None, frozenset())
_CACHE_ATTRIBUTE: Final = "_paved_membership"


def is_member(actor: Actor | None) -> bool:
    """An active signed-in user."""
    return isinstance(actor, User | AnonymousUser) and actor.is_authenticated and actor.is_active


def is_admin(actor: Actor | None) -> bool:
    """An active superuser: the one meaning of administrator in Paved."""
    return is_member(actor) and bool(getattr(actor, "is_superuser", False))


def membership(actor: Actor | None) -> Membership:
    """Who the actor is in the catalog; at most two queries, once per user object."""
    if not is_member(actor):
        return _NOBODY
    cached = getattr(actor, _CACHE_ATTRIBUTE, None)
    if isinstance(cached, Membership):
        return cached
    assert isinstance(actor, User)
    entity = catalog_selectors.user_entity_get(user=actor)
    found = (
        _NOBODY
        if entity is None
        else Membership(entity.ref, frozenset(catalog_selectors.user_group_refs(user_entity=entity)))
    )
    setattr(actor, _CACHE_ATTRIBUTE, found)
    return found


# -- the rules: called for members only (anonymous is refused and SYSTEM allowed before them) -------------------------


def _entity_delete(user: User, entity: Owned) -> bool:
    return is_admin(user) or membership(user).owns(entity.owner_ref)


def _location_register(user: User, location: Registered | None) -> bool:
    return location is None or not location.trusted or is_admin(user)


def _location_refresh(user: User, location: Any) -> bool:
    return True


def _location_delete(user: User, location: Registered) -> bool:
    return is_admin(user) or (location.created_by_id is not None and location.created_by_id == user.pk)


def _admin_only(user: User, obj: Any) -> bool:
    return is_admin(user)


def _override_write(user: User, schedule: Owned | None) -> bool:
    if is_admin(user):
        return True
    return schedule is not None and membership(user).owns(schedule.owner_ref)


def _feed_create(user: User, feed: Feed) -> bool:
    if feed.kind != "person":
        return True
    return is_admin(user) or membership(user).user_ref == feed.ref


def _feed_revoke(user: User, feed: Feed) -> bool:
    if is_admin(user) or (feed.created_by_id is not None and feed.created_by_id == user.pk):
        return True
    if feed.kind == "person":
        return membership(user).user_ref == feed.ref
    schedule = catalog_selectors.entity_get_by_ref(ref=feed.ref)
    return schedule is not None and membership(user).owns(schedule.owner_ref)


def _approve(user: User, request: ApprovalRequest) -> bool:
    if request.requested_by_id is not None and request.requested_by_id == user.pk:
        return False
    # A scaffolder guard rail may name several approvers (any one of them may approve): `approver_refs`.
    refs = getattr(request, "approver_refs", None) or (request.approver_ref,)
    mine = membership(user)
    return is_admin(user) or any(mine.owns(ref) for ref in refs)


def _campaign_write(user: User, scorecard: Owned) -> bool:
    # The scorecard (its row or its catalog entity): its owners drive campaigns towards it.
    return is_admin(user) or membership(user).owns(scorecard.owner_ref)


_RULES: Final[dict[Action, Callable[[User, Any], bool]]] = {
    Action.ENTITY_DELETE: _entity_delete,
    Action.LOCATION_REGISTER: _location_register,
    Action.LOCATION_REFRESH: _location_refresh,
    Action.LOCATION_DELETE: _location_delete,
    Action.LOCATION_TRUST: _admin_only,
    Action.ONCALL_OVERRIDE_WRITE: _override_write,
    Action.ONCALL_FEED_CREATE: _feed_create,
    Action.ONCALL_FEED_REVOKE: _feed_revoke,
    Action.SCAFFOLDER_RUN_APPROVE: _approve,
    Action.SCORECARD_EXEMPTION_APPROVE: _approve,
    Action.SCORECARD_CAMPAIGN_WRITE: _campaign_write,
}

# Objects the rule cannot decide without (None is meaningful for registering and for an on-call schedule that is gone).
_NEEDS_OBJECT: Final = frozenset(
    {
        Action.ENTITY_DELETE,
        Action.LOCATION_DELETE,
        Action.ONCALL_FEED_CREATE,
        Action.ONCALL_FEED_REVOKE,
        Action.SCORECARD_CAMPAIGN_WRITE,
        *APPROVALS,
    }
)


def may(actor: Actor | None, action: Action, obj: Any = None) -> bool:
    """Whether `actor` may do `action` (to `obj`, where the rule depends on it)."""
    if obj is None and action in _NEEDS_OBJECT:
        raise TypeError(f"{action} needs the object it applies to")
    if isinstance(actor, SystemActor):
        return action not in APPROVALS
    if not is_member(actor):
        return False
    assert isinstance(actor, User)
    return _RULES[action](actor, obj)


def require(actor: Actor | None, action: Action, obj: Any = None) -> None:
    """Raise NotPermitted, saying who may, unless `actor` may do `action`."""
    if not may(actor, action, obj):
        raise NotPermitted(_refusal(actor, action, obj), action=action)


def _refusal(actor: Actor | None, action: Action, obj: Any) -> str:
    if not is_member(actor) and not isinstance(actor, SystemActor):
        return "Sign in first: this needs a signed-in user."
    match action:
        case Action.ENTITY_DELETE:
            return (
                f"You may not delete {obj.ref}: only administrators and members of its owner "
                f"({obj.owner_ref or 'none'}) may."
            )
        case Action.LOCATION_REGISTER:
            return "Only administrators may register trusted locations."
        case Action.LOCATION_DELETE:
            return f"You may not unregister location {obj.key}: only administrators and whoever registered it may."
        case Action.LOCATION_TRUST:
            return "Only administrators may change whether a location is trusted."
        case Action.ONCALL_OVERRIDE_WRITE:
            if obj is None:
                return "The schedule of this override is gone; only administrators may change it."
            owner = obj.owner_ref or "nobody"
            return f"Only members of {owner}, which owns {obj.ref}, and administrators may change its overrides."
        case Action.ONCALL_FEED_CREATE:
            return "You may create a calendar feed of your own shifts only."
        case Action.ONCALL_FEED_REVOKE:
            return "Only the feed's creator, the schedule's team and administrators may revoke it."
        case Action.SCAFFOLDER_RUN_APPROVE | Action.SCORECARD_EXEMPTION_APPROVE:
            if isinstance(actor, SystemActor):
                return "Approvals need a person; the command line cannot approve."
            return f"Only administrators and members of {obj.approver_ref} may approve, and never whoever asked."
        case Action.SCORECARD_CAMPAIGN_WRITE:
            owner = obj.owner_ref or "nobody"
            return f"Only administrators and members of {owner}, which owns {obj.ref}, may change its campaigns."
    return f"You may not do {action}."
