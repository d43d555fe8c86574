"""Finding things in the lists, in a real browser on a phone (320 px) and a desktop: the
nurse searches her families and filters her referrals, the partner filters the inbox and
clears an empty result, the privacy officer finds a family by name. Nothing typed lands
in the address, nothing scrolls sideways, axe finds nothing serious."""

from datetime import date
from urllib.parse import unquote

import pytest

from referral import db
from referral.auth.queries import find_user
from referral.cases.operations import create_family
from tests.browser.pages import (
    assert_accessible,
    log_in,
    no_sideways_scrolling,
    submit,
    words_broken,
)

SIZES = {"phone": {"width": 320, "height": 640}, "desktop": {"width": 1280, "height": 800}}


def more_families(app):
    with app.app_context():
        nurse = find_user("jgz@demo.example")
        for parents, child in (("Robin Testouder", "Mees"), ("Kim Bakker", "Lotte")):
            create_family(nurse, parent_names=parents, children=[(child, date(2017, 2, 3))],
                          postcode="9999 AA", house_number="2", street="Dorpsweg")
        db.commit()


def looks_right(page):
    assert no_sideways_scrolling(page), f"{page.url} scrolls sideways"
    assert not words_broken(page), f"{page.url}: words in the table broken mid-word"
    assert_accessible(page)


@pytest.mark.parametrize("size", list(SIZES))
def test_search_and_filter_the_lists(app, new_page, size):
    more_families(app)
    nurse = new_page(locale="nl-NL", viewport=SIZES[size])
    log_in(nurse, "jgz@demo.example")

    nurse.goto("/families/")
    looks_right(nurse)
    nurse.fill("#text", "noor")  # a child's first name
    submit(nurse, "main form button[name=search]")
    main = nurse.inner_text("main")
    assert "Sanne de Vries (demo)" in main and "Robin" not in main and "Kim" not in main
    assert "noor" not in unquote(nurse.url).casefold()
    looks_right(nurse)
    nurse.select_option("#sort", "name")  # sorting keeps the search
    submit(nurse, "main form[method=get] button")
    assert "sort=name" in nurse.url
    assert "Sanne de Vries (demo)" in nurse.inner_text("main")
    assert "Robin" not in nurse.inner_text("main")
    submit(nurse, "main form button[name=clear]")
    assert "Robin Testouder" in nurse.inner_text("main")

    nurse.goto("/referrals/")
    looks_right(nurse)
    follow_up = nurse.locator("main td[data-label='Opvolgen op']").first
    assert follow_up.is_visible()
    box = follow_up.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= SIZES[size]["width"]
    nurse.select_option("#status", "closed")
    submit(nurse, "main form.filters button[type=submit]")
    assert "status=closed" in nurse.url  # a view to bookmark
    assert "Niets past bij deze filters." in nurse.inner_text("main")
    looks_right(nurse)
    with nurse.expect_navigation():
        nurse.click("main a:has-text('Filters wissen')")
    assert "Voedselpakket" in nurse.inner_text("main table")

    partner = new_page(locale="nl-NL", viewport=SIZES[size])
    log_in(partner, "partner@demo.example")
    partner.goto("/referrals/")
    row = partner.inner_text("main table")
    for shown in ("Sanne de Vries (demo)", "Voorbeeldstad", "Anna Jansen (demo)",
                  "JGZ Voorbeeldstad (demo)", "0 dagen", "binnenkort"):
        assert shown in row, shown
    looks_right(partner)
    partner.select_option("#waiting", "7")
    submit(partner, "main form.filters button[type=submit]")
    assert "waiting=7" in partner.url
    # Only what waits longer than a week: the demo's accepted parcel, not Sanne's new one.
    assert "Sanne de Vries (demo)" not in partner.inner_text("main")
    looks_right(partner)

    officer = new_page(locale="nl-NL", viewport=SIZES[size])
    log_in(officer, "privacy@demo.example")
    officer.goto("/privacy/families")
    officer.fill("#name", "de vries")
    submit(officer)
    assert "Sanne de Vries (demo)" in officer.inner_text("main")
    assert "vries" not in unquote(officer.url).casefold()
    looks_right(officer)
