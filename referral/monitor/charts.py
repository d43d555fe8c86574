"""Charts as inline SVG drawn on the server: bars, lines and a heat map. Each has a title and
a description for screen readers; the numbers stand in a table beside it. Hidden (small)
figures are drawn as an empty outline marked "•", never as their value.

Every chart is drawn at its own size in CSS pixels, never scaled down: its text stays 12 px
on a phone. Bars and lines fit a 320 px screen; the heat map, one column per organisation,
scrolls sideways in its own frame when the screen is narrower. No label is shortened: a long
one wraps (bars) or the drawing grows to hold it (heat map)."""

import math
import textwrap

from markupsafe import Markup, escape

from referral.monitor.suppression import SMALL, Cell

INK, BRAND, ACCENT, LINE = "#1b1b1b", "#154273", "#b35c00", "#cfcfcf"
FONT = 12  # px: the smallest text on any page
CHAR = 7.5  # px: a generous width of one character at FONT, to leave room for every label
NARROW = 280  # px: what a 320 px screen leaves for a chart


def _width(text):
    return math.ceil(len(str(text)) * CHAR)


def _text(x, y, words, *, anchor="start", colour=INK, extra=""):
    return (f'<text x="{x:.0f}" y="{y:.0f}" text-anchor="{anchor}" font-size="{FONT}" '
            f'fill="{colour}"{extra}>{escape(str(words))}</text>')


def _value(item):
    """The number to draw, or None where it is hidden or not a count."""
    if isinstance(item, Cell):
        return item.shown
    return item if isinstance(item, float) else None  # a mean score


def _svg(key, title, description, width, height, body):
    # Every text in the drawing went through escape(); the rest are numbers we computed.
    return Markup(  # noqa: S704  # nosec B704
        f'<svg class="chart" id="{key}-chart" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-labelledby="{key}-title {key}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{key}-title">{escape(title)}</title>'
        f'<desc id="{key}-desc">{escape(description)}</desc>{body}</svg>')


def bars(table, description):
    """One horizontal bar per row, for the first column, with its label above it (wrapped,
    never cut), so the chart fits a phone."""
    rows = [(label, cells[0]) for label, cells in table.rows]
    if not rows:
        return Markup("")
    top = max([_value(cell) or 0 for _label, cell in rows] + [1])
    width, bar_height = NARROW, 16
    room = width - 8 - _width("00000")  # the longest bar leaves room for its number
    parts, y = [], 0
    for label, cell in rows:
        for line in textwrap.wrap(str(label), int((width - 2) // CHAR)) or [""]:
            y += 16
            parts.append(_text(2, y, line))  # a glyph may reach a pixel left of its start
        y += 4
        value = _value(cell)
        if value is None:
            parts.append(f'<rect x="1" y="{y}" width="24" height="{bar_height}" fill="none" '
                         f'stroke="{INK}" stroke-dasharray="3 2"/>')
            parts.append(_text(32, y + 13, cell))
        else:
            length = max(1, round(room * value / top))
            parts.append(f'<rect x="0" y="{y}" width="{length}" height="{bar_height}" '
                         f'fill="{BRAND}"/>')
            parts.append(_text(length + 6, y + 13, value))
        y += bar_height + 10
    return _svg(table.key, table.title, description, width, y, "".join(parts))


def line(table, description):
    """One line per column over the rows (months); hidden points sit on the axis, open.
    Every sixth month is named under the axis; the legend stands below, one line each."""
    rows = table.rows
    if not rows:
        return Markup("")
    top = max([_value(c) or 0 for _label, cells in rows for c in cells] + [SMALL])
    label_half = _width(rows[0][0]) / 2
    left = max(_width(top) + 8, label_half + 2)
    width, plot, top_y = NARROW, 150, 10
    bottom = top_y + plot
    step = (width - left - label_half - 2) / max(1, len(rows) - 1)
    parts = [f'<line x1="{left}" y1="{bottom}" x2="{width - label_half:.0f}" y2="{bottom}" '
             f'stroke="{INK}"/>',
             _text(left - 6, top_y + 4, top, anchor="end"),
             _text(left - 6, bottom + 4, 0, anchor="end")]
    for index, (label, _cells) in enumerate(rows):
        if index % 6 == 0:
            parts.append(_text(left + index * step, bottom + 20, label, anchor="middle"))
    legend_y = bottom + 44
    for column, (name, colour, dash) in enumerate(zip(
            table.columns, (BRAND, ACCENT), ("", ' stroke-dasharray="6 3"'), strict=False)):
        points = []
        for index, (_label, cells) in enumerate(rows):
            x = left + index * step
            value = _value(cells[column])
            if value is None:
                parts.append(f'<circle cx="{x:.1f}" cy="{bottom}" r="3" fill="none" '
                             f'stroke="{colour}"/>')
                continue
            points.append(f"{x:.1f},{bottom - plot * value / top:.1f}")
        if points:
            parts.append(f'<polyline points="{" ".join(points)}" fill="none" '
                         f'stroke="{colour}" stroke-width="2"{dash}/>')
        y = legend_y + column * 20
        parts.append(f'<line x1="0" y1="{y - 4}" x2="24" y2="{y - 4}" stroke="{colour}" '
                     f'stroke-width="2"{dash}/>')
        parts.append(_text(30, y, name))
    height = legend_y + 20 * (len(table.columns) - 1) + 8
    return _svg(table.key, table.title, description, width, height, "".join(parts))


def heat(table, description):
    """A grid: darker where more referrals went; hidden cells blank with "•". The column
    headings slant upwards, whole; the drawing is as high and wide as they need."""
    if not table.rows or not table.columns:
        return Markup("")
    top = max([_value(c) or 0 for _label, cells in table.rows for c in cells] + [1])
    cell_w, cell_h = 56, 28
    label_width = max(_width(label) for label, _cells in table.rows) + 10
    longest = max(_width(name) for name in table.columns)
    slant = math.sqrt(0.5)  # 45 degrees
    head = math.ceil(longest * slant) + FONT + 8
    parts = []
    for column, name in enumerate(table.columns):
        x = label_width + column * cell_w + cell_w / 2
        parts.append(f'<text class="column" transform="translate({x:.0f},{head - 6}) '
                     f'rotate(-45)" font-size="{FONT}" fill="{INK}">{escape(str(name))}</text>')
    for row, (label, cells) in enumerate(table.rows):
        y = head + row * cell_h
        parts.append(_text(label_width - 6, y + 18, label, anchor="end"))
        for column, cell in enumerate(cells):
            x = label_width + column * cell_w
            value = _value(cell)
            # At most half strength, so the dark numbers stay readable on every shade.
            fill, opacity = ("#ffffff", 1) if value is None else (BRAND, 0.08 + 0.42 * value / top)
            parts.append(f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" '
                         f'fill="{fill}" fill-opacity="{opacity:.2f}" stroke="{LINE}"/>')
            parts.append(_text(x + cell_w / 2 - 1, y + 18, cell, anchor="middle"))
    last = label_width + (len(table.columns) - 0.5) * cell_w
    width = max(label_width + len(table.columns) * cell_w,
                last + math.ceil(longest * slant) + FONT) + 4
    height = head + len(table.rows) * cell_h + 6
    return _svg(table.key, table.title, description, width, height, "".join(parts))


CHARTS = {"bars": bars, "line": line, "heat": heat}
