"""Template filters of the on-call room for catalog pages that are not its own (a User's or a Group's page)."""

from __future__ import annotations

from typing import Any

from django import template

from catalog.oncall import presentation
from catalog.oncall.contacts import Contacts, contacts_from

register = template.Library()


@register.filter
def contacts(entity: Any) -> Contacts:
    """The phone, chat handle and channel an entity's descriptor declares (see catalog.oncall.contacts)."""
    return contacts_from(getattr(entity, "data", None))


@register.filter
def restriction_text(restrictions: Any) -> str:
    """A layer's restriction windows as people say them (`weekdays 09:00 to 18:00`, with an en dash)."""
    return presentation.restriction_text(restrictions or ())
