"""A family's rights in a real browser, in Dutch and English, with axe on every page: the
professional corrects the data, the privacy officer (with a code) reads the log, shows
everything stored and erases it."""

import re

import pytest

from tests.browser.pages import assert_accessible, log_in, no_sideways_scrolling, speak, submit

WORDS = {
    "nl": {"correct": "Gegevens van het gezin verbeteren", "everything": "Alles wat over",
           "erase": "Dit gezin verwijderen", "receipt": "Bewijs van verwijdering",
           "problem": "Er is een probleem"},
    "en": {"correct": "Correct the family's data", "everything": "Everything stored",
           "erase": "Erase this family", "receipt": "Erasure receipt",
           "problem": "There is a problem"},
}


@pytest.mark.parametrize("language", ["nl", "en"])
def test_correct_show_and_erase_a_family(new_page, language):
    words = WORDS[language]
    nurse = new_page(locale="nl-NL")
    log_in(nurse, "jgz@demo.example")
    speak(nurse, language)
    nurse.goto("/families/")
    # The demo nurse has more than one family now (referral/dev/demo.py): take Sanne's.
    nurse.click("main a[href^='/families/']:has-text('Sanne de Vries (demo)')")
    reference = re.search(r"[0-9a-f]{8}-[0-9a-f-]{27}", nurse.inner_text("main .hint >> nth=-1"))
    assert reference, "the family page shows its reference"
    nurse.click(f"text={words['correct']}")
    assert_accessible(nurse)
    nurse.fill("#parent_names", "")
    submit(nurse)
    assert words["problem"] in nurse.inner_text("[role=alert]")
    nurse.fill("#parent_names", "Sanne van Dijk (demo)")
    submit(nurse)
    assert "Sanne van Dijk (demo)" in nurse.inner_text("h1")

    officer = new_page(locale="nl-NL")
    log_in(officer, "privacy@demo.example")
    speak(officer, language)
    for path in ("/privacy/", "/privacy/register"):
        officer.goto(path)
        assert_accessible(officer)
    officer.goto("/privacy/log")
    officer.fill("#family", reference.group(0))
    submit(officer)  # posted: the reference stays out of the address
    assert reference.group(0) not in officer.url
    assert officer.locator("main tbody tr").count() >= 3
    with officer.expect_navigation():  # a row's reference filters on it, also posted
        officer.click("main tbody tr >> nth=0 >> form.inline button.link")
    assert reference.group(0) not in officer.url
    assert_accessible(officer)
    officer.set_viewport_size({"width": 320, "height": 800})  # the filtered log on a phone
    officer.reload()
    assert no_sideways_scrolling(officer) and officer.locator("main tbody tr").count() >= 1
    officer.set_viewport_size({"width": 1280, "height": 900})
    officer.goto("/privacy/families")
    officer.fill("#reference", reference.group(0))
    submit(officer)
    officer.click("main a:has-text('Sanne van Dijk (demo)')")
    assert words["everything"] in officer.inner_text("h1")
    assert "Noor (demo)" in officer.inner_text("main")
    assert_accessible(officer)
    officer.click(f"text={words['erase']}")
    assert_accessible(officer)
    submit(officer, "main form button.danger")  # without the tick: asked again
    assert words["problem"] in officer.inner_text("[role=alert]")
    officer.check("#confirm")
    submit(officer, "main form button.danger")
    assert words["receipt"] in officer.inner_text("h1")

    nurse.reload()
    assert nurse.title() and "Sanne van Dijk" not in nurse.inner_text("main")
