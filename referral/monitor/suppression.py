"""Small numbers stay hidden, also from subtraction.

A count under SMALL is shown as "< 5". When the parts of a breakdown add up to a figure that
is shown (its total), the hidden parts together could be worked out by subtraction; so more
parts are hidden, smallest first, until the hidden ones hold at least SMALL together. Such a
part may itself be large: it shows as "•", never as "< 5", so nothing shown is false.
"""

from dataclasses import dataclass

SMALL = 5


@dataclass(frozen=True)
class Cell:
    value: int
    hidden: str | None = None  # None, "small" or "complement"

    @property
    def shown(self):
        return None if self.hidden else self.value

    def __str__(self):
        if self.hidden == "small":
            return f"< {SMALL}"
        if self.hidden == "complement":
            return "•"
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


def total(counts):
    n = sum(counts.values())
    return Cell(n, "small" if n < SMALL else None)


def single(n):
    """A figure on its own (no parts shown beside it)."""
    return Cell(n, "small" if n < SMALL else None)
