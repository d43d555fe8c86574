"""The directory in a real browser: search on a phone, a service page, and keeping it current."""

from tests.browser.pages import assert_accessible, log_in, no_sideways_scrolling, path_of


def test_nurse_searches_on_a_phone(new_page):
    page = new_page(viewport={"width": 360, "height": 740})
    log_in(page, "jgz@demo.example")
    page.click("text=Hulp zoeken in de sociale kaart")
    page.check("label:has-text('Voeding')")
    page.fill("#age", "8")
    page.fill("#q", "ontbijt")
    with page.expect_navigation():
        page.click("form.search button[type=submit]")
    assert "domains=food" in page.url and "age=8" in page.url  # a shareable address
    assert page.locator("article.service").count() == 1
    assert "Schoolontbijt" in page.inner_text("article.service")
    assert no_sideways_scrolling(page)
    assert_accessible(page)
    with page.expect_navigation():
        page.click("article.service h3 a")
    assert page.inner_text("h1") == "Schoolontbijt"
    assert no_sideways_scrolling(page)
    assert_accessible(page)


def test_search_with_bad_input_and_paging(page):
    log_in(page, "brug@demo.example")
    page.goto("/directory/?age=99")
    assert "Vul een leeftijd in van 0 tot 27" in page.inner_text("[role=alert]")
    assert_accessible(page)
    page.goto("/directory/")
    with page.expect_navigation():
        page.click("nav.pagination >> text=Volgende")
    assert "page=2" in page.url
    assert_accessible(page)


def test_partner_keeps_own_service_current(page):
    log_in(page, "partner@demo.example")
    page.click("text=Het aanbod van je organisatie")
    assert_accessible(page)
    with page.expect_navigation():
        page.click("article.service h3 a >> nth=0")
    with page.expect_navigation():
        page.click("text=Klopt nog")
    assert "vandaag als gecontroleerd" in page.inner_text("[role=status]")
    page.click("text=Bewerken")
    assert_accessible(page)
    page.fill("#name", "")
    page.fill("#minimum_age", "12")
    page.fill("#maximum_age", "4")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    summary = page.inner_text("[role=alert]")
    assert "Vul een naam in" in summary and "De hoogste leeftijd is lager" in summary
    assert_accessible(page)


def test_coordinator_pages(page):
    log_in(page, "coordinator@demo.example")
    page.click("text=Organisaties")
    with page.expect_navigation():
        page.click("main a >> text=Kledingbank De Kast (demo)")
    organisation = path_of(page)
    for suffix in ("/edit", "/deactivate", "/merge", "/services/new"):
        page.goto(organisation + suffix)
        assert_accessible(page)
    page.goto(organisation + "/deactivate")
    with page.expect_navigation():
        page.click("main form button[type=submit]")  # without ticking the box
    assert "Vink het vakje aan" in page.inner_text("[role=alert]")
    assert_accessible(page)
    page.goto("/directory/attention")
    assert_accessible(page)
    with page.expect_download() as download:
        page.goto("/")
        page.click("text=De sociale kaart downloaden (HSDS 3.0)")
    assert download.value.suggested_filename.endswith(".zip")
