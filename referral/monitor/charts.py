"""Charts as inline SVG drawn on the server: bars, lines and a heat map. Each has a title and
a description for screen readers; the numbers stand in a table beside it. Hidden (small)
figures are drawn as an empty outline marked "< 5", never as their value."""

from markupsafe import Markup, escape

from referral.monitor.suppression import SMALL, Cell

INK, BRAND, ACCENT, LINE = "#1b1b1b", "#154273", "#b35c00", "#cfcfcf"


def _value(item):
    """The number to draw, or None where it is hidden or not a count."""
    if isinstance(item, Cell):
        return item.shown
    return item if isinstance(item, float) else None  # a mean score


def _svg(key, title, description, width, height, body):
    # Every text in the drawing went through escape(); the rest are numbers we computed.
    return Markup(  # noqa: S704  # nosec B704
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{key}-title {key}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{key}-title">{escape(title)}</title>'
        f'<desc id="{key}-desc">{escape(description)}</desc>{body}</svg>')


def bars(table, description):
    """One horizontal bar per row, for the first column."""
    rows = [(label, cells[0]) for label, cells in table.rows]
    if not rows:
        return Markup("")
    top = max([_value(cell) or 0 for _label, cell in rows] + [1])
    label_width, bar_width, step = 190, 300, 26
    parts = []
    for index, (label, cell) in enumerate(rows):
        y = index * step + 4
        text = escape(str(label))[:30]
        parts.append(f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end" '
                     f'font-size="12" fill="{INK}">{text}</text>')
        value = _value(cell)
        if value is None:
            parts.append(f'<rect x="{label_width}" y="{y}" width="24" height="18" fill="none" '
                         f'stroke="{INK}" stroke-dasharray="3 2"/>'
                         f'<text x="{label_width + 30}" y="{y + 14}" font-size="12" '
                         f'fill="{INK}">{escape(str(cell))}</text>')
        else:
            width = max(1, round(bar_width * value / top))
            parts.append(f'<rect x="{label_width}" y="{y}" width="{width}" height="18" '
                         f'fill="{BRAND}"/><text x="{label_width + width + 6}" y="{y + 14}" '
                         f'font-size="12" fill="{INK}">{value}</text>')
    height = len(rows) * step + 8
    return _svg(table.key, table.title, description, label_width + bar_width + 60, height,
                "".join(parts))


def line(table, description):
    """One line per column over the rows (months); hidden points sit on the axis, open."""
    rows = table.rows
    if not rows:
        return Markup("")
    width, height, left, bottom = 640, 240, 40, 200
    top = max([_value(c) or 0 for _label, cells in rows for c in cells] + [SMALL])
    step = (width - left - 20) / max(1, len(rows) - 1)
    parts = [f'<line x1="{left}" y1="{bottom}" x2="{width - 10}" y2="{bottom}" '
             f'stroke="{INK}"/>',
             f'<text x="{left - 6}" y="{bottom - 170}" text-anchor="end" font-size="11" '
             f'fill="{INK}">{top}</text>',
             f'<text x="{left - 6}" y="{bottom + 4}" text-anchor="end" font-size="11" '
             f'fill="{INK}">0</text>']
    for index, (label, _cells) in enumerate(rows):
        if index % 3 == 0:
            x = left + index * step
            parts.append(f'<text x="{x:.0f}" y="{bottom + 18}" text-anchor="middle" '
                         f'font-size="10" fill="{INK}">{escape(str(label))}</text>')
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
            points.append(f"{x:.1f},{bottom - 170 * value / top:.1f}")
        if points:
            parts.append(f'<polyline points="{" ".join(points)}" fill="none" '
                         f'stroke="{colour}" stroke-width="2"{dash}/>')
        parts.append(f'<text x="{left + 10 + 160 * column}" y="{height - 6}" font-size="12" '
                     f'fill="{colour}">— {escape(str(name))}</text>')
    return _svg(table.key, table.title, description, width, height, "".join(parts))


def heat(table, description):
    """A grid: darker where more referrals went; hidden cells blank with "< 5"."""
    if not table.rows or not table.columns:
        return Markup("")
    top = max([_value(c) or 0 for _label, cells in table.rows for c in cells] + [1])
    label_width, cell_w, cell_h, head = 170, 56, 26, 90
    parts = []
    for column, name in enumerate(table.columns):
        x = label_width + column * cell_w + cell_w / 2
        parts.append(f'<text transform="translate({x:.0f},{head - 6}) rotate(-40)" '
                     f'font-size="10" fill="{INK}">{escape(str(name))[:24]}</text>')
    for row, (label, cells) in enumerate(table.rows):
        y = head + row * cell_h
        parts.append(f'<text x="{label_width - 6}" y="{y + 17}" text-anchor="end" '
                     f'font-size="11" fill="{INK}">{escape(str(label))[:28]}</text>')
        for column, cell in enumerate(cells):
            x = label_width + column * cell_w
            value = _value(cell)
            # At most half strength, so the dark numbers stay readable on every shade.
            fill, opacity = ("#ffffff", 1) if value is None else (BRAND, 0.08 + 0.42 * value / top)
            parts.append(f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" '
                         f'fill="{fill}" fill-opacity="{opacity:.2f}" stroke="{LINE}"/>'
                         f'<text x="{x + cell_w / 2 - 1:.0f}" y="{y + 17}" text-anchor="middle" '
                         f'font-size="11" fill="{INK}">{escape(str(cell))}</text>')
    width = label_width + len(table.columns) * cell_w + 10
    height = head + len(table.rows) * cell_h + 6
    return _svg(table.key, table.title, description, width, height, "".join(parts))


CHARTS = {"bars": bars, "line": line, "heat": heat}
