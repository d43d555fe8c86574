"""The family's copy of their data on a small phone and on paper: readable, axe clean, no
sideways scrolling; printed, only the copy remains (no menus, forms or links to click)."""

import pytest
from sqlmodel import select

from referral import db
from referral.cases.models import Family
from tests.browser.pages import assert_accessible, log_in, no_sideways_scrolling, speak


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_copy_on_a_phone_and_on_paper(new_page, app, live_server, language):
    with app.app_context():
        family_id = db.session().exec(select(Family.id)).first()
    officer = new_page(locale="nl-NL", viewport={"width": 320, "height": 800})
    log_in(officer, "privacy@demo.example")
    speak(officer, language)
    officer.goto(f"/privacy/families/{family_id}")
    copy = officer.locator("article.family-copy")
    assert copy.get_attribute("lang") == "nl"  # the demo families speak Dutch
    assert "Wat wij over u bewaren" in copy.inner_text()
    assert no_sideways_scrolling(officer)
    assert_accessible(officer)
    officer.select_option("#language", "en")
    with officer.expect_navigation():
        officer.click("main form.filters button")
    assert "What we store about you" in officer.locator("article.family-copy").inner_text()
    assert_accessible(officer)
    officer.emulate_media(media="print")
    for hidden in ("header.site-header nav", "main form.filters", "main h1",
                   "main a[download]"):
        assert not officer.locator(hidden).first.is_visible(), hidden
    assert officer.locator("article.family-copy").is_visible()
