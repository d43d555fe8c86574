"""Keyboard alone, from a new signal to a sent referral: Tab, Enter, Space and typing, no
mouse. Fields and buttons are found by their labels and roles only (the refer page changes)."""

import re

from tests.browser.pages import assert_accessible, log_in, path_of

# What has the focus, as a person hears it: its role and its name (label or text).
FOCUSED = """(() => {
  const el = document.activeElement;
  const label = el.labels && el.labels.length ? el.labels[0].innerText : '';
  const role = el.tagName === 'A' ? 'link' : el.tagName === 'BUTTON' ? 'button'
    : el.type === 'checkbox' ? 'checkbox' : el.tagName === 'TEXTAREA' ? 'textbox' : el.tagName;
  return [role, (label || el.getAttribute('aria-label') || el.textContent || '').trim()];
})()"""


def tab_to(page, role, name, *, limit=250):
    """Press Tab until the element with this role and a name matching `name` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused_role, focused_name = page.evaluate(FOCUSED)
        if focused_role == role and re.search(name, focused_name):
            return focused_name
    raise AssertionError(f"no {role} {name!r} within {limit} presses of Tab")


def press_and_wait(page, key):
    with page.expect_navigation():
        page.keyboard.press(key)


def test_from_a_new_signal_to_a_referral_by_keyboard_alone(page):
    log_in(page, "jgz@demo.example")
    page.goto("/families/")
    tab_to(page, "link", r"^Sanne de Vries \(demo\)$")
    press_and_wait(page, "Enter")
    family = page.url

    tab_to(page, "link", r"^Signaal vastleggen$")
    press_and_wait(page, "Enter")
    tab_to(page, "checkbox", r"^Voeding$")
    page.keyboard.press("Space")
    tab_to(page, "textbox", r"^Wat zag of hoorde je\?$")
    page.keyboard.type("Komt zonder ontbijt; vraagt om een boterham.")
    tab_to(page, "button", r"^Opslaan$")
    press_and_wait(page, "Enter")
    assert page.url == family
    assert "Komt zonder ontbijt" in page.inner_text("main")

    # The newest signal is the first: its refer link names its time and need domain.
    name = tab_to(page, "link", r"^Verwijzen")
    assert "Voeding" in name
    press_and_wait(page, "Enter")
    assert path_of(page).startswith("/referrals/new/")
    assert_accessible(page)
    tab_to(page, "checkbox", r"Voedselpakket")
    page.keyboard.press("Space")
    tab_to(page, "textbox", r"^Wat de partner moet weten")
    page.keyboard.type("Graag contact met moeder over een voedselpakket.")
    tab_to(page, "button", r"^Verwijzing versturen$")
    press_and_wait(page, "Enter")
    # Back on the family page (or on the referral): the referral is there.
    assert page.url == family or re.fullmatch(r"/referrals/[0-9a-f-]{36}", path_of(page))
    assert "Voedselpakket" in page.inner_text("main")
    assert_accessible(page)
