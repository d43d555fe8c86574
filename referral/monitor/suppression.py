"""Small numbers stay hidden, also from subtraction.

A count under SMALL is shown as "< 5". When the parts of a breakdown add up to a figure that
is shown (its total), the hidden parts together could be worked out by subtraction; so more
parts are hidden, smallest first, until the hidden ones hold at least SMALL together. Such a
part may itself be large: it shows as "•", never as "< 5", so nothing shown is false.
A mean score from fewer than SMALL answers says "too few answers": "< 5" would read as a
score.
"""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

SMALL = 5
TOO_FEW = _l("too few answers")


@dataclass(frozen=True)
class Cell:
    value: int
    hidden: str | None = None  # None, "small", "complement" or "few" (a mean)

    @property
    def shown(self):
        return None if self.hidden else self.value

    def __str__(self):
        if self.hidden == "small":
            return f"< {SMALL}"
        if self.hidden == "complement":
            return "•"
        if self.hidden == "few":
            return str(TOO_FEW)
        return str(self.value)


def _cover(values, hidden):
    """Hide more parts, smallest first, until the hidden ones hold at least SMALL together
    (or every part is hidden: then the total is small and hidden too)."""
    hidden = set(hidden)
    while hidden and len(hidden) < len(values) and sum(values[k] for k in hidden) < SMALL:
        hidden.add(min((k for k in values if k not in hidden),
                       key=lambda k: (values[k], str(k))))
    return hidden


def protect(counts):
    """Cells for a breakdown {label: count} whose total is shown too (see `total`)."""
    small = {label for label, n in counts.items() if n < SMALL}
    hidden = _cover(counts, small)
    return {label: Cell(n, "small" if label in small else "complement" if label in hidden
                        else None) for label, n in counts.items()}


def cover(cells, hidden_total=False):
    """Re-protect the parts {key: Cell} of a shown figure after more of them were hidden for
    another reason; when the figure itself is hidden, at least one part is hidden too, so
    that adding the parts up cannot give it back."""
    values = {key: cell.value for key, cell in cells.items()}
    hidden = {key for key, cell in cells.items() if cell.hidden}
    if hidden_total and not hidden and values:
        hidden = {min(values, key=lambda k: (values[k], str(k)))}
    hidden = _cover(values, hidden)
    return {key: cell if cell.hidden or key not in hidden else Cell(cell.value, "complement")
            for key, cell in cells.items()}


def rest_is_small(part, whole):
    """True when `whole` minus `part`, both shown, would be a small number above zero."""
    return (isinstance(part, Cell) and isinstance(whole, Cell) and not part.hidden
            and not whole.hidden and 0 < whole.value - part.value < SMALL)


def total(counts):
    n = sum(counts.values())
    return Cell(n, "small" if n < SMALL else None)


def mean(total, answers):
    """A mean score, rounded to one decimal, only from SMALL answers or more."""
    return f"{total / answers:.1f}" if answers >= SMALL else Cell(answers, "few")


def single(n):
    """A figure on its own (no parts shown beside it)."""
    return Cell(n, "small" if n < SMALL else None)
