from __future__ import annotations

import pytest

from catalog.oncall.contacts import MAX_LENGTH, Contacts, contacts_from


def _user(annotations=None, profile=None):
    return {"metadata": {"name": "alice", "annotations": annotations or {}}, "spec": {"profile": profile or {}}}


def test_annotations_give_phone_chat_and_channel_with_links():
    found = contacts_from(
        _user(
            {
                "paved.dev/phone": "+49 30 1234-5678",
                "paved.dev/chat": "@alice",
                "paved.dev/chat-url": "https://chat.example.com/@alice",
                "paved.dev/chat-channel": "#payments",
            }
        )
    )
    assert found == Contacts("+49 30 1234-5678", "@alice", "https://chat.example.com/@alice", "#payments")
    assert found.tel_href == "tel:+493012345678"
    assert found.chat_href == "https://chat.example.com/@alice"
    assert found


def test_profile_fields_are_used_when_no_annotation_says_otherwise():
    found = contacts_from(
        _user({"paved.dev/chat": "@ali"}, {"phone": "0301234", "chat": "@alice", "chatChannel": "#x"})
    )
    assert (found.phone, found.chat, found.channel) == ("0301234", "@ali", "#x")
    assert found.tel_href == "tel:0301234"


def test_nothing_declared_is_empty_and_falsy():
    assert not contacts_from(_user())
    assert not contacts_from(None)
    assert not contacts_from("not a descriptor")
    assert not contacts_from({"metadata": ["odd"], "spec": "odd"})


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "data:text/html,<b>x</b>", "//evil.example.com", "ftp://x", "https://", "https:// x"]
)
def test_chat_links_are_http_only(url):
    found = contacts_from(_user({"paved.dev/chat": "@alice", "paved.dev/chat-url": url}))
    assert found.chat_href == ""
    assert found.chat == "@alice"


@pytest.mark.parametrize("phone", ["javascript:alert(1)", "call me", "12", "+"])
def test_a_phone_without_enough_digits_gets_no_tel_link(phone):
    found = contacts_from(_user({"paved.dev/phone": phone}))
    assert found.phone == phone
    assert found.tel_href == ""


def test_hostile_values_are_cleaned_cut_or_ignored():
    found = contacts_from(
        _user(
            {
                "paved.dev/phone": "+1 555\r\n0101\x00",
                "paved.dev/chat": ["@a", "@b"],
                "paved.dev/chat-channel": "#" + "x" * 5000,
                "paved.dev/chat-url": True,
            }
        )
    )
    assert found.phone == "+1 5550101"
    assert found.tel_href == "tel:+15550101"
    assert found.chat == ""
    assert len(found.channel) == MAX_LENGTH
    assert found.chat_url == ""
