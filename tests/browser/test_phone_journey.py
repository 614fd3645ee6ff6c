"""Paved on a phone (390 x 844, an iPhone 12-16's viewport): someone paged about a service searches for it, opens its
page, finds the on-call card first and calls or messages the person on call. Nothing on the main on-call pages is
wider than the screen: the on-call list keeps Until and Next in view, the schedule's timeline stays legible, and the
header's badges wrap instead of being clipped."""

from __future__ import annotations

import io
import itertools
import re

import pytest

from catalog import demo
from tests.browser.conftest import SCREENSHOTS
from tests.portal.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
SERVICE = "/catalog/default/component/payments-service/"


@pytest.fixture
def demo_org() -> None:
    demo.load(stdout=io.StringIO())
    UserFactory(username="sofia.rossi", first_name="Sofia", last_name="Rossi")


@pytest.fixture
def phone(page, demo_org) -> object:
    """The conftest's page (with its Content-Security-Policy check) at a phone's size, signed in."""
    page.set_viewport_size(PHONE)
    page.goto("/login/")
    page.fill("#id_username", "sofia.rossi")
    page.fill("#id_password", "correct horse battery staple")
    page.click("#sign-in")
    page.wait_for_url(lambda url: "/login/" not in url)
    return page


def shot(page, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def overflowing(page) -> list[str]:
    """Elements whose right edge is past the screen's (ignoring those inside a scrolling box, which are reachable)."""
    found: list[str] = page.evaluate(
        """() => {
            const width = document.documentElement.clientWidth;
            const found = [];
            for (const el of document.querySelectorAll('body *')) {
                const box = el.getBoundingClientRect();
                if (box.width === 0 || box.right <= width + 1) continue;
                let scroller = el.parentElement, inside = false;
                while (scroller && scroller !== document.body) {
                    const style = getComputedStyle(scroller);
                    if (/(auto|scroll|hidden)/.test(style.overflowX)) { inside = true; break; }
                    scroller = scroller.parentElement;
                }
                const classes = [...el.classList].map(c => '.' + c).join('');
                const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + classes;
                if (!inside) found.push(`${name} ends at ${Math.round(box.right)}px of ${width}px`);
            }
            return found.slice(0, 20);
        }"""
    )
    return found


def on_screen(page, selector: str) -> bool:
    """The element's box lies within the viewport's width (it can be read without scrolling sideways)."""
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not displayed"
    return bool(box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1)


def test_search_to_the_service_then_call_or_message_whoever_is_on_call(phone):
    page = phone
    page.fill("#global-search", "payments serv")
    suggestion = page.locator("#search-results a[href='" + SERVICE + "']").first
    suggestion.wait_for()
    shot(page, "phone-search", full_page=False)
    suggestion.click()
    page.wait_for_url(re.compile(re.escape(SERVICE) + "$"))
    card = page.locator("#oncall-card.paved-oncall-card")
    card.locator('[data-level="1"]').wait_for()

    # The on-call card is the first card of the page on a phone, before About and Relations.
    card_top = card.bounding_box()["y"]
    about_top = page.locator("#about-card").bounding_box()["y"]
    assert card_top < about_top, f"on-call card at y={card_top}, About at y={about_top}"
    assert on_screen(page, "#oncall-card")
    assert not overflowing(page), overflowing(page)
    shot(page, "phone-service")

    # Reach the person on call at level 1: their phone (a tel: link) or their chat.
    level_one = card.locator('[data-level="1"]')
    tel = level_one.locator("[data-contact='phone'] a[href^='tel:']").first
    chat = level_one.locator("[data-contact='chat'] a, [data-contact='channel'] a").first
    tel.wait_for()
    assert re.fullmatch(r"tel:\+?[0-9]+", tel.get_attribute("href") or ""), tel.get_attribute("href")
    assert on_screen(page, "#oncall-card [data-level='1'] [data-contact='phone'] a")
    tel.scroll_into_view_if_needed()
    assert chat.count() == 1
    assert (chat.get_attribute("href") or "").startswith(("https://", "slack:", "msteams:"))
    card.scroll_into_view_if_needed()
    shot(page, "phone-oncall-card", full_page=False)


def test_oncall_list_keeps_until_and_next_in_view(phone):
    page = phone
    page.goto("/catalog/oncall/")
    table = page.locator("#oncall-table")
    table.locator("tbody tr").first.wait_for()
    headers = [text.strip() for text in table.locator("thead th").all_text_contents()]
    assert headers[-2:] == ["Until", "Next"], headers  # the phone layout labels the row's last two cells so
    # Every level of every policy shows its Until and Next, labelled, within the screen's width.
    rows = table.locator("tbody tr")
    for index in range(rows.count()):
        for nth, label in ((2, "Until"), (1, "Next")):
            cell = rows.nth(index).locator(f"td:nth-last-child({nth})")
            box = cell.bounding_box()
            assert box is not None, f"row {index + 1} shows no {label}"
            assert box["x"] >= 0, f"row {index + 1}: {label} starts left of the screen"
            assert box["x"] + box["width"] <= PHONE["width"] + 1, (
                f"row {index + 1}: {label} ends at {box['x'] + box['width']}"
            )
            shown = cell.evaluate("td => getComputedStyle(td, '::before').content")
            assert shown == f'"{label}"', f"row {index + 1}: the {label} cell is labelled {shown}"
            assert cell.inner_text().strip(), f"row {index + 1}: the {label} cell is blank"
    assert "UTC" in rows.first.locator("td:nth-last-child(2)").inner_text()
    assert not overflowing(page), overflowing(page)
    shot(page, "phone-oncall-now-full")
    rows.first.evaluate("row => window.scrollTo(0, row.getBoundingClientRect().top + window.scrollY - 8)")
    shot(page, "phone-oncall-now", full_page=False)


def test_schedule_timeline_stays_legible(phone):
    page = phone
    page.goto("/catalog/oncall/schedules/default/payments-primary/")
    timeline = page.locator("#schedule-timeline")
    timeline.locator(".paved-tl-final").wait_for()
    assert on_screen(page, "#schedule-timeline")
    # Day labels and names on bars are drawn at a size a phone can read (at least 10 px on screen).
    sizes = page.evaluate(
        """() => [...document.querySelectorAll('#schedule-timeline svg text')]
            .map(t => t.getBoundingClientRect().height).filter(h => h > 0)"""
    )
    assert sizes, "the timeline draws no text"
    assert min(sizes) >= 10, f"timeline text as small as {min(sizes):.1f}px on a phone"
    # Day labels stand apart, a fortnight in a box that scrolls sideways rather than squeezed into the screen.
    days = page.evaluate(
        """() => [...document.querySelectorAll('#schedule-timeline .paved-tl-day')].map(t => {
            const box = t.getBoundingClientRect(); return [box.left, box.right]; })"""
    )
    assert len(days) >= 7, days
    for (_, right), (left, _) in itertools.pairwise(days):
        assert right <= left, f"day labels overlap: one ends at {right:.0f}px, the next starts at {left:.0f}px"
    scrolls = page.locator("#schedule-timeline .paved-tl").evaluate("tl => tl.scrollWidth > tl.clientWidth")
    assert scrolls, "the timeline should scroll sideways on a phone"
    assert not overflowing(page), overflowing(page)
    shot(page, "phone-schedule-full")
    timeline.evaluate("box => window.scrollTo(0, box.getBoundingClientRect().top + window.scrollY - 8)")
    shot(page, "phone-schedule", full_page=False)


def test_header_badges_wrap_instead_of_being_clipped(phone):
    page = phone
    page.goto(SERVICE)
    title = page.locator(".page-title")
    badges = title.locator(".badge").all()
    assert len(badges) >= 2, "payments-service shows its type and lifecycle beside its name"
    actions = page.locator("#dependencies-link").bounding_box()
    assert actions is not None
    for badge in badges:
        text = badge.inner_text()
        box = badge.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= PHONE["width"], f"badge {text!r} ends at {box['x'] + box['width']}"
        assert badge.evaluate("b => b.scrollWidth <= b.clientWidth"), f"badge {text!r} is cut off"
        overlaps = box["x"] < actions["x"] + actions["width"] and actions["x"] < box["x"] + box["width"]
        overlaps = overlaps and box["y"] < actions["y"] + actions["height"] and actions["y"] < box["y"] + box["height"]
        assert not overlaps, f"badge {text!r} lies under the Dependencies button"
    assert on_screen(page, "#dependencies-link")
    shot(page, "phone-service-header", full_page=False)
