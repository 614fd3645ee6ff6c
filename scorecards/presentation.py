"""How scorecards look: the words and colours of result states and levels, the trend chart of levels per week and the
README badge, as server-rendered SVG.

Pure: no Django. Every piece of text that reaches an SVG goes through `escape`, so a scorecard titled
`<script>` is shown as text. Charts carry a <title> and <desc> (and role="img"), so a screen reader says what they
show.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape as _escape
from typing import Final

# The five states of a result. An error or a stale fact is not a fail: it has its own colour and words.
STATE_LABELS: Final = {
    "pass": "Pass",
    "fail": "Fail",
    "not-applicable": "Not applicable",
    "error": "Could not be checked",
    "stale": "Out of date",
    "exempt": "Exempt",
}
STATE_CLASSES: Final = {
    "pass": "paved-state-pass",
    "fail": "paved-state-fail",
    "not-applicable": "paved-state-na",
    "error": "paved-state-error",
    "stale": "paved-state-stale",
    "exempt": "paved-state-exempt",
}

# Levels lowest first: "none" grey, then bronze, silver, gold; a scorecard with more levels cycles the last colours.
NO_LEVEL_COLOUR: Final = "#c8ced6"
LEVEL_COLOURS: Final = ("#b0713a", "#6f8aa8", "#d4a017", "#2fb344", "#206bc4", "#ae3ec9")


def escape(text: object) -> str:
    return _escape(str(text), quote=True)


def level_colour(index: int) -> str:
    """The colour of the level at `index` (lowest first); -1 is no level."""
    if index < 0:
        return NO_LEVEL_COLOUR
    return LEVEL_COLOURS[index] if index < len(LEVEL_COLOURS) else LEVEL_COLOURS[-1]


def display_state(state: str, exempt: bool) -> str:
    """What a result shows as: an exempt failing check is "exempt", apart from the passes."""
    return "exempt" if exempt else state


# -- trend chart -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendPoint:
    """How many entities held each level at the end of one week: `counts[0]` no level, then lowest to highest."""

    day: dt.date
    counts: tuple[int, ...]


_ID_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_-]")
WIDTH: Final = 480
HEIGHT: Final = 190
_LEFT: Final = 34
_BOTTOM: Final = 22
_TOP: Final = 8
_LEGEND: Final = 18


def trend_svg(*, points: Sequence[TrendPoint], levels: Sequence[str], title: str, chart_id: str) -> str:
    """A stacked bar per week: how many entities held no level and each level, lowest at the bottom. An empty series
    is a chart that says there is no history yet."""
    chart_id = _ID_UNSAFE.sub("-", chart_id)
    names = ["No level", *levels]
    plot_height = HEIGHT - _BOTTOM - _TOP - _LEGEND
    top = max((sum(point.counts) for point in points), default=0)
    summary = "; ".join(
        f"{point.day.isoformat()}: "
        + ", ".join(f"{count} {names[i] if i < len(names) else '?'}" for i, count in enumerate(point.counts) if count)
        for point in points
        if sum(point.counts)
    )
    desc = summary or "No history yet."
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="paved-trend" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>',
    ]
    # Legend along the top.
    x = _LEFT
    for index, name in enumerate(names):
        parts.append(f'<rect x="{x}" y="2" width="10" height="10" rx="2" fill="{level_colour(index - 1)}"/>')
        parts.append(f'<text x="{x + 14}" y="11" class="paved-trend-label">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    base_y = HEIGHT - _BOTTOM
    parts.append(f'<line x1="{_LEFT}" y1="{base_y}" x2="{WIDTH - 4}" y2="{base_y}" stroke="#d0d5dd" stroke-width="1"/>')
    if top == 0:
        parts.append(
            f'<text x="{WIDTH // 2}" y="{_TOP + _LEGEND + plot_height // 2}" text-anchor="middle" '
            f'class="paved-trend-empty">No history yet</text>'
        )
        parts.append("</svg>")
        return "".join(parts)
    parts.append(
        f'<text x="{_LEFT - 6}" y="{_TOP + _LEGEND + 8}" text-anchor="end" class="paved-trend-label">{top}</text>'
    )
    parts.append(f'<text x="{_LEFT - 6}" y="{base_y}" text-anchor="end" class="paved-trend-label">0</text>')
    slot = (WIDTH - 4 - _LEFT) / max(len(points), 1)
    bar = max(slot * 0.6, 2.0)
    for column, point in enumerate(points):
        left = _LEFT + column * slot + (slot - bar) / 2
        y = float(base_y)
        for index, count in enumerate(point.counts):
            if not count:
                continue
            height = plot_height * count / top
            y -= height
            name = names[index] if index < len(names) else "?"
            parts.append(
                f'<rect x="{left:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                f'fill="{level_colour(index - 1)}"><title>{escape(point.day.isoformat())}: {count} '
                f"{escape(name)}</title></rect>"
            )
        parts.append(
            f'<text x="{left + bar / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" class="paved-trend-label">'
            f"{escape(point.day.strftime('%d %b'))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


# -- badge -------------------------------------------------------------------------------------------------------------

_CHAR_WIDTH: Final = 6.5
_PADDING: Final = 10


def _text_width(text: str) -> int:
    return int(len(text) * _CHAR_WIDTH + _PADDING)


def badge_svg(*, label: str, message: str, colour: str) -> str:
    """A shields-style badge: `label` on grey, `message` on `colour`. Text is escaped and cut to 60 characters."""
    label, message = label[:60], message[:60]
    left, right = _text_width(label), _text_width(message)
    total = left + right
    text = f"{label}: {message}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{escape(text)}"><title>{escape(text)}</title>'
        f'<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        f'<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{escape(colour)}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        f'<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2:.1f}" y="14">{escape(label)}</text>'
        f'<text x="{left + right / 2:.1f}" y="14">{escape(message)}</text></g></svg>'
    )
