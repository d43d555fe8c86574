"""The family forms in a real browser: a fourth child and a newborn (with and without
JavaScript), removing a child, an error summary that takes focus and leads to its fields,
fields of one size, the focus ring on a date, and long texts that are counted, not cut."""

import re
from datetime import date

from playwright.sync_api import expect

from tests.browser.pages import assert_accessible, log_in, path_of, submit

CHILDREN = [("Mees", "2015-06-01"), ("Fenna", "2017-02-03"), ("Jip", "2019-09-09"),
            ("Lies", "2021-12-12")]


def _fill_parent(page):
    page.get_by_label("Naam of namen van de ouder(s) of verzorger(s)").fill("Robin Testouder")


def _add_a_family_with_four_children(page, *, javascript=True):
    page.goto("/families/new")
    _fill_parent(page)
    for n, (name, born) in enumerate(CHILDREN):
        if n:
            if javascript:
                page.get_by_role("button", name="Kind toevoegen").click()
            else:
                with page.expect_navigation():
                    page.get_by_role("button", name="Kind toevoegen").click()
        page.fill(f"#children-{n}-first_name", name)
        page.fill(f"#children-{n}-birth_date", born)
    assert page.locator("[data-child-row]").count() == 4
    if javascript:
        submit(page)
    else:  # axe needs JavaScript
        with page.expect_navigation():
            page.get_by_role("button", name="Opslaan").click()
    assert page.inner_text("h1") == "Robin Testouder"


def test_a_fourth_child_a_newborn_and_a_removed_child(page):
    log_in(page, "jgz@demo.example")
    _add_a_family_with_four_children(page)
    family = page.url
    children = page.inner_text("main")
    for name, _born in CHILDREN:
        assert re.search(rf"{name}, \d+ jaar", children), name
    # A newborn, on the correction page: its empty row is there already.
    page.get_by_role("link", name="Kind toevoegen of verwijderen").click()
    assert_accessible(page)
    page.fill("#children-4-first_name", "Baby")
    page.fill("#children-4-birth_date", date.today().isoformat())
    submit(page)
    assert "Baby, 0 maanden" in page.inner_text("main")
    assert "heeft een kind toegevoegd" in page.inner_text("main")
    # Removing a child asks first.
    page.get_by_role("link", name="Kind toevoegen of verwijderen").click()
    page.get_by_role("link", name="Jip verwijderen").click()
    assert_accessible(page)
    submit(page, "main form button.danger")
    assert page.locator(".error-summary").count() == 1  # not ticked: nothing removed
    page.get_by_label("Ja, verwijder dit kind en zijn gegevens").check()
    submit(page, "main form button.danger")
    assert page.url == family
    main = page.inner_text("main")
    assert "Jip" not in main and "heeft een kind verwijderd" in main


def test_a_fourth_child_without_javascript(new_page):
    page = new_page(locale="nl-NL", java_script_enabled=False)
    log_in(page, "jgz@demo.example")
    _add_a_family_with_four_children(page, javascript=False)
    for name, _born in CHILDREN:
        assert name in page.inner_text("main")


def test_enter_in_a_field_saves_the_family(page):
    log_in(page, "jgz@demo.example")
    page.goto("/families/new")
    _fill_parent(page)
    page.fill("#children-0-first_name", "Mees")
    page.fill("#children-0-birth_date", "2015-06-01")
    with page.expect_navigation():
        page.press("#parent_names", "Enter")
    assert page.inner_text("h1") == "Robin Testouder"


def test_the_error_summary_takes_focus_and_leads_to_each_field(page):
    log_in(page, "jgz@demo.example")
    page.goto("/families/new")
    _fill_parent(page)
    page.fill("#children-0-first_name", "Later")
    page.fill("#children-0-birth_date", "2099-01-01")
    page.get_by_role("button", name="Kind toevoegen").click()
    page.fill("#children-1-first_name", "Zonder datum")
    submit(page)
    assert page.evaluate("document.activeElement.className") == "error-summary"
    summary = page.inner_text(".error-summary")
    assert "Een geboortedatum kan niet in de toekomst liggen." in summary
    assert "Vul de geboortedatum van het kind in." in summary
    assert "{" not in summary and "[" not in summary
    page.get_by_role("link", name="Vul de geboortedatum van het kind in.").click()
    assert page.evaluate("document.activeElement.id") == "children-1-birth_date"
    # A list of boxes: the link leads to the first box, not to the list around them.
    page.goto("/families/")
    page.get_by_role("link", name="Sanne de Vries (demo)").click()
    page.get_by_role("link", name="Signaal vastleggen").click()
    submit(page)
    assert page.evaluate("document.activeElement.className") == "error-summary"
    page.get_by_role("link", name=re.compile("Kies minstens één leefgebied")).click()
    assert page.evaluate("document.activeElement.id") == "domains-0"
    assert page.evaluate("document.activeElement.type") == "checkbox"


def test_fields_are_of_one_size_and_a_date_keeps_the_focus_ring(page):
    log_in(page, "jgz@demo.example")
    page.goto("/families/new")
    name = page.locator("#parent_names").bounding_box()
    phone = page.locator("#phone").bounding_box()
    first_name = page.locator("#children-0-first_name").bounding_box()
    born = page.locator("#children-0-birth_date").bounding_box()
    assert abs(phone["height"] - name["height"]) < 1 and abs(phone["width"] - name["width"]) < 1
    assert abs(born["height"] - first_name["height"]) < 1
    assert abs(born["width"] - first_name["width"]) < 2
    page.focus("#children-0-first_name")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "children-0-birth_date"
    ring = page.evaluate("[getComputedStyle(document.activeElement).outlineStyle, "
                         "getComputedStyle(document.activeElement).outlineWidth]")
    assert ring == ["solid", "3px"], ring
    left = page.evaluate("getComputedStyle(document.querySelector('#children-0-first_name'))"
                         ".outlineStyle")
    assert left == "none"  # the ring moved with the focus


def test_long_text_is_counted_and_not_cut(page):
    log_in(page, "jgz@demo.example")
    page.goto("/families/")
    page.get_by_role("link", name="Sanne de Vries (demo)").click()
    page.get_by_role("link", name="Signaal vastleggen").click()
    counter = page.locator("#strengths-count")
    expect(counter).to_have_text("0 van 2.000 tekens")  # once the page's script has counted
    page.fill("#strengths", "x" * 2010)  # as a paste does
    assert page.evaluate("document.querySelector('#strengths').value.length") == 2010
    assert counter.inner_text() == "10 tekens te veel: maak de tekst korter"
    assert_accessible(page)
    page.locator("#domains-0").check()
    page.fill("#observations", "Gezien.")
    submit(page)
    assert "Schrijf maximaal 2000 tekens; de tekst heeft er nu 2010." in page.inner_text(
        ".error-summary")
    assert path_of(page).endswith("/signals/new")
