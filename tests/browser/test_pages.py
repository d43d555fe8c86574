"""Every page a demo user reaches, in a real browser: it works, and axe finds nothing serious."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from referral.demo import PASSWORD, USERS

axe = Axe()


def assert_accessible(page):
    results = axe.run(page)
    serious = [v for v in results.response["violations"]
               if v["impact"] in ("serious", "critical")]
    report = "\n".join(f"{v['id']} ({v['impact']}): {v['help']} — "
                       f"{[node['target'] for node in v['nodes']]}" for v in serious)
    assert not serious, f"{page.url}\n{report}"


def log_in(page, email, password=PASSWORD):
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("main button[type=submit]")


def test_login_page_is_dutch_and_accessible(page):
    page.goto("/login")
    assert page.get_attribute("html", "lang") == "nl"
    assert page.inner_text("h1") == "Inloggen"
    assert_accessible(page)


@pytest.mark.parametrize("email", [user[0] for user in USERS])
def test_every_page_of_every_role(page, email):
    log_in(page, email)
    page.wait_for_url("**/")
    assert "Welkom" in page.inner_text("h1")
    seen = set()
    to_visit = ["/", "/account", "/account/password", "/login/enrol"]
    to_visit += [a.get_attribute("href")
                 for a in page.query_selector_all("header a[href^='/'], main a[href^='/']")]
    for path in to_visit:
        if path in seen:
            continue
        seen.add(path)
        response = page.goto(path)
        assert response.status == 200, path
        assert_accessible(page)
    if email.startswith("coordinator"):
        assert "/users" in seen


def test_wrong_password_shows_the_error_summary(page):
    log_in(page, "jgz@demo.example", "niet-het-goede-wachtwoord")
    summary = page.locator("[role=alert]")
    assert "E-mailadres of wachtwoord klopt niet" in summary.inner_text()
    assert_accessible(page)


def test_empty_password_change_shows_errors(page):
    log_in(page, "partner@demo.example")
    page.wait_for_url("**/")
    page.goto("/account/password")
    page.click("main button[type=submit]")
    assert page.locator(".field-error").count() == 3
    assert page.get_attribute("#current", "aria-invalid") == "true"
    assert_accessible(page)


def test_language_switch_is_remembered(page):
    page.goto("/login")
    page.select_option("#language-select", "en")
    with page.expect_navigation():
        page.click("form.language button")
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("h1") == "Log in"
    log_in(page, "brug@demo.example")
    page.wait_for_url("**/")
    assert page.get_attribute("html", "lang") == "en"
    assert "Welcome" in page.inner_text("h1")


def test_error_page_is_accessible(page):
    response = page.goto("/does-not-exist")
    assert response.status == 404
    assert page.inner_text("h1") == "Pagina niet gevonden"
    assert_accessible(page)


def test_works_without_javascript(browser, live_server):
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    page = context.new_page()
    log_in(page, "coordinator@demo.example")
    page.wait_for_url("**/")
    assert "Mila Bakker (demo)" in page.inner_text("h1")
    page.click("text=Uitloggen")
    page.wait_for_url("**/login")
    context.close()


def test_small_phone_screen_has_no_sideways_scrolling(browser, live_server):
    context = browser.new_context(base_url=live_server, viewport={"width": 320, "height": 640})
    page = context.new_page()
    for path in ("/login",):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 320
    log_in(page, "privacy@demo.example")
    page.wait_for_url("**/")
    for path in ("/", "/account", "/account/password", "/login/enrol"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 320, path
    context.close()
