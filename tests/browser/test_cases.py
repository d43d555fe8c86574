"""A nurse adds a family and logs a signal, in a real browser."""

from tests.browser.pages import SUBMIT, assert_accessible, log_in


def test_nurse_adds_a_family_and_logs_a_signal(page):
    log_in(page, "jgz@demo.example")
    page.click("main >> text=Gezin toevoegen")
    assert_accessible(page)
    page.fill("#parent_names", "Robin Testouder")
    page.fill("#postcode", "1234 AB")
    page.fill("#house_number", "7")
    page.fill("#children-0-first_name", "Mees")
    page.fill("#children-0-birth_date", "2015-06-01")
    with page.expect_navigation():
        page.click(SUBMIT)
    assert page.inner_text("h1") == "Robin Testouder"
    assert_accessible(page)
    page.click("text=Signaal vastleggen")
    with page.expect_navigation():
        page.click(SUBMIT)  # empty: errors, nothing saved
    assert "Beschrijf wat je zag of hoorde" in page.inner_text("[role=alert]")
    assert_accessible(page)
    page.check("label:has-text('Schoolkosten')")
    page.fill("#observations", "Geen geld voor de schoolreis.")
    page.fill("#child_wishes", "Mee op schoolreis.")
    with page.expect_navigation():
        page.click(SUBMIT)
    assert "Geen geld voor de schoolreis." in page.inner_text("main")
    assert_accessible(page)


def test_untrained_teacher_sees_why(page):
    log_in(page, "leerkracht@demo.example")
    assert "Vraag je coördinator" in page.inner_text("main")
    page.goto("/families/new")
    page.fill("#parent_names", "Kim Testouder")
    page.fill("#children-0-first_name", "Lot")
    page.fill("#children-0-birth_date", "2016-02-02")
    with page.expect_navigation():
        page.click(SUBMIT)
    assert "signaleringstraining is niet vastgelegd" in page.inner_text("main")
    page.goto(page.url + "/signals/new")
    assert page.inner_text("h1") == "Signaleringstraining nodig"
    assert_accessible(page)


def test_nurse_records_and_withdraws_consent(page):
    log_in(page, "jgz@demo.example")
    page.goto("/families/")
    with page.expect_navigation():
        page.click("main a >> text=Sanne de Vries (demo)")
    family = page.url
    page.click("text=Toestemming vastleggen")
    assert_accessible(page)
    page.select_option("#organisation", label="Jeugdfonds Sport & Cultuur (demo)")
    page.fill("#scope", "Naam en sportwens van Noor")
    page.select_option("#child", label="Noor (demo)")
    page.fill("#given_by", "Sanne de Vries")
    with page.expect_navigation():
        page.click(SUBMIT)
    assert "Een ouder of verzorger moet toestemming geven" in page.inner_text("[role=alert]")
    assert_accessible(page)
    page.check("#parent_agreed")
    with page.expect_navigation():
        page.click(SUBMIT)
    assert page.url == family and "Naam en sportwens van Noor" in page.inner_text("main")
    page.click("text=Toestemming intrekken")
    assert_accessible(page)
    page.check("#confirm")
    with page.expect_navigation():
        page.click(SUBMIT)
    assert "ingetrokken op" in page.inner_text("main")
    assert_accessible(page)
