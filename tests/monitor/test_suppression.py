"""No count under 5 can be read from the monitor, not even by subtracting from a total."""

from hypothesis import given
from hypothesis import strategies as st

from referral.monitor.suppression import SMALL, protect, total

counts = st.dictionaries(st.text(min_size=1, max_size=4), st.integers(0, 40), min_size=1,
                         max_size=8)


@given(counts)
def test_nothing_small_is_shown_or_derivable(breakdown):
    cells = protect(breakdown)
    shown_total = total(breakdown).shown
    for label, cell in cells.items():
        if breakdown[label] < SMALL:
            assert cell.shown is None and str(cell) == "•"
    hidden = [label for label, cell in cells.items() if cell.hidden]
    if shown_total is not None and hidden:
        # total minus the shown parts is what the hidden parts hold together: never small,
        # so no single hidden part can be pinned down as a small number.
        rest = shown_total - sum(cells[label].shown for label in cells if not cells[label].hidden)
        assert rest >= SMALL


@given(counts)
def test_a_hidden_count_does_not_say_whether_it_is_small(breakdown):
    """ "< 5" beside "•" would tell which hidden parts are small, and so that the others
    are not."""
    for label, cell in protect(breakdown).items():
        assert str(cell) == ("•" if cell.hidden else str(breakdown[label]))


def test_examples():
    assert {k: str(v) for k, v in protect({"a": 0, "b": 10, "c": 12}).items()} == {
        "a": "•", "b": "•", "c": "12"}
    assert {k: str(v) for k, v in protect({"a": 7, "b": 8}).items()} == {"a": "7", "b": "8"}
    assert str(total({"a": 1, "b": 2})) == "•"
