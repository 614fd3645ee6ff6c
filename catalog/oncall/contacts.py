"""How to reach a person or a team, from their catalog entities: a phone, a chat handle and a team's channel.

Read from annotations first, then from `spec.profile` (a person's `phone` and `chat`, a team's `chatChannel`):

    metadata:
      annotations:
        paved.dev/phone: "+49 30 1234 5678"          # User: shown with a tel: link
        paved.dev/chat: "@alice"                      # User: the chat handle
        paved.dev/chat-url: https://chat.example.com/alice   # User or Group: where the handle or channel opens
        paved.dev/chat-channel: "#payments-oncall"   # Group: the team's channel

Everything is text from a repository, so links are built only from what is safe: a `tel:` link from the digits of the
phone (and a leading +), a chat link only for an http(s) URL. No Django here: the entity's `data` goes in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

PHONE_ANNOTATION: Final = "paved.dev/phone"
CHAT_ANNOTATION: Final = "paved.dev/chat"
CHAT_URL_ANNOTATION: Final = "paved.dev/chat-url"
CHANNEL_ANNOTATION: Final = "paved.dev/chat-channel"

MAX_LENGTH: Final = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)


@dataclass(frozen=True)
class Contacts:
    """A person's or team's contacts as written in the catalog (cleaned of control characters and cut to a sane
    length); the `*_href` properties are empty when no safe link can be made."""

    phone: str = ""
    chat: str = ""
    chat_url: str = ""
    channel: str = ""

    @property
    def tel_href(self) -> str:
        digits = re.sub(r"\D", "", self.phone)
        if len(digits) < 3:
            return ""
        return f"tel:{'+' if self.phone.lstrip().startswith('+') else ''}{digits}"

    @property
    def chat_href(self) -> str:
        return self.chat_url if _URL.match(self.chat_url) else ""

    def __bool__(self) -> bool:
        return bool(self.phone or self.chat or self.channel or self.chat_href)


def _text(value: Any) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        return ""
    return _CONTROL.sub("", str(value)).strip()[:MAX_LENGTH]


def _mapping(data: Any, *path: str) -> Mapping[str, Any]:
    for key in path:
        data = data.get(key) if isinstance(data, Mapping) else None
    return data if isinstance(data, Mapping) else {}


def contacts_from(data: Any) -> Contacts:
    """The contacts in an entity's descriptor (`Entity.data`); empty for anything that is not a descriptor."""
    annotations = _mapping(data, "metadata", "annotations")
    profile = _mapping(data, "spec", "profile")

    def pick(annotation: str, profile_key: str) -> str:
        return _text(annotations.get(annotation)) or _text(profile.get(profile_key))

    return Contacts(
        phone=pick(PHONE_ANNOTATION, "phone"),
        chat=pick(CHAT_ANNOTATION, "chat"),
        chat_url=pick(CHAT_URL_ANNOTATION, "chatUrl"),
        channel=pick(CHANNEL_ANNOTATION, "chatChannel"),
    )
