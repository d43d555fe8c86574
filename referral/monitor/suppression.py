"""Small numbers stay hidden, also from subtraction.

A count under SMALL is hidden. When the parts of a breakdown add up to a figure that is
shown (its total), the hidden parts together could be worked out by subtraction; so more
parts are hidden, smallest first, until the hidden ones hold at least SMALL together. Every
hidden count shows as "•", small or not: "< 5" would tell a reader (and an attacker's
solver) that it is under five, and a hidden part that is large would then stand out.
So whoever adds and subtracts everything shown can tell of a hidden part only that it lies
between 0 and the sum hidden beside it, at least SMALL. A mean score from fewer than SMALL
answers says "too few answers".
"""

from dataclasses import dataclass

from referral.i18n import lazy_gettext as _l

SMALL = 5
HIDDEN = "•"
TOO_FEW = _l("too few answers")


@dataclass(frozen=True)
class Cell:
    value: int
    hidden: str | None = None  # None, "small", "complement" or "few" (a mean)

    @property
    def shown(self):
        return None if self.hidden else self.value

    def __str__(self):
        if self.hidden == "few":
            return str(TOO_FEW)
        return HIDDEN if self.hidden else str(self.value)


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


def mean(total, answers):
    """A mean score, rounded to one decimal, only from SMALL answers or more."""
    return f"{total / answers:.1f}" if answers >= SMALL else Cell(answers, "few")


def single(n):
    """A figure on its own (no parts shown beside it)."""
    return Cell(n, "small" if n < SMALL else None)
