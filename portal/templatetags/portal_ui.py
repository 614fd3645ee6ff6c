"""Template filters every page may use (the layout's avatar among them)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def initials(text: str) -> str:
    """Up to two capitals for an avatar: "Margaret Hooper" → "MH", "payments-team" → "PT", "" → "?"."""
    words = [w for w in str(text).replace("-", " ").replace(".", " ").replace("_", " ").split() if w]
    return "".join(word[0] for word in words[:2]).upper() or "?"
