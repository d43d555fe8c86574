"""One municipality's monitor set beside the monitor of all municipalities: subtracting the
two never leaves a small number, in the figures and on the pages."""

import re

from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from referral import db
from referral.directory.models import Service
from referral.monitor import queries
from referral.monitor.suppression import SMALL
from tests.monitor.conftest import PLAN, YEAR, build, table_of

LABELS = {code: code.upper() for code in "abcdef"}
counts = st.dictionaries(st.sampled_from(sorted(LABELS)), st.integers(0, 30), min_size=1)


def _shown(cell):
    return getattr(cell, "shown", None)


@given(counts, counts)
def test_no_small_rest_between_a_municipality_and_all(here, elsewhere):
    whole = {code: here.get(code, 0) + elsewhere.get(code, 0) for code in LABELS}
    mine = queries._breakdown("k", "t", here, LABELS, "n")
    wide = queries._breakdown("k", "t", whole, LABELS, "n")
    queries._guard([mine], [wide])
    pairs = [(_shown(cells[0]), _shown(other[0]))
             for (_label, cells), (_same, other) in zip(mine.rows, wide.rows, strict=True)]
    pairs.append((_shown(mine.total), _shown(wide.total)))
    for part, all_of_them in pairs:
        if part is not None and all_of_them is not None:
            assert all_of_them - part == 0 or all_of_them - part >= SMALL
    # Within the municipality's own page, the hidden parts still hold SMALL together.
    hidden = [cells[0].value for _label, cells in mine.rows if cells[0].hidden]
    if hidden:
        assert sum(hidden) >= SMALL or mine.total.hidden
    assert not any(isinstance(cells[0].shown, int) and cells[0].shown < SMALL
                   and cells[0].shown != 0 for _label, cells in mine.rows)


SMALL_TOWN = ([("conversation", ["food"], "Voedselpakket", "requested")] * 2
              + [("observation", ["housing"], "Sportfonds", "accepted")]
              + [("family_asked", ["food"], None, None)])


def test_the_pages_of_a_municipality_and_of_all_differ_by_none_or_many(app, client, login,
                                                                       alliance):
    partners = {"Voedselpakket": alliance["food"].id, "Sportfonds": alliance["sport"].id}
    with app.app_context():
        services_by_name = {s.name: s.id for s in db.session().exec(select(Service)).all()}
    build(app, alliance["owner"].id, partners, services_by_name, SMALL_TOWN,
           municipality="GM0344")
    login(alliance["coordinator"])
    everywhere = client.get(f"/monitor/?year={YEAR}").text
    compared = 0
    for code in ("GM0363", "GM0344"):
        here = client.get(f"/monitor/?year={YEAR}&municipality={code}").text
        for key in re.findall(r'aria-labelledby="([a-z_]+)-heading"', here):
            theirs, mine = table_of(everywhere, key), table_of(here, key)
            for label, cells in mine.items():
                for cell, other in zip(cells, theirs.get(label, []), strict=False):
                    if cell.isdigit() and other.isdigit():
                        compared += 1
                        assert int(other) - int(cell) in (0,) or \
                            int(other) - int(cell) >= SMALL, (code, key, label, cell, other)
    assert compared > 20  # the pages were really compared, not two empty pages
    # Utrecht holds all but four of the signals: its total cannot be shown beside 25.
    utrecht = table_of(client.get(f"/monitor/?year={YEAR}&municipality=GM0363").text,
                     "signals_source")
    assert utrecht["Totaal"] == ["•"]
    assert len(PLAN) == 21
