"""Each role's working day in the demo, from the home worklist through its links: at a phone's
320 px and at a desktop width, in Dutch and English, axe clean on every page."""

import threading

import pytest
from werkzeug.serving import make_server

from referral import db
from referral.mail import queue, send_pending
from tests.browser.pages import assert_accessible, log_in, no_sideways_scrolling, path_of, speak

PHONE, DESKTOP = {"width": 320, "height": 800}, {"width": 1280, "height": 900}
WORDS = {"nl": {"nothing": "Er wacht nu niets op je.", "welcome": "Welkom"},
         "en": {"nothing": "Nothing is waiting for you now.", "welcome": "Welcome"}}


def _start(new_page, email, size, language):
    page = new_page(locale="nl-NL", viewport=size)
    log_in(page, email)
    if language != "nl":
        speak(page, language)
    assert path_of(page) == "/"
    assert WORDS[language]["welcome"] in page.inner_text("h1")
    _check(page)
    return page


def _check(page):
    assert_accessible(page)
    assert no_sideways_scrolling(page), page.url


def _open(page, selector):
    """Follow the first link of a worklist section, as a person would."""
    with page.expect_navigation():
        page.click(f"{selector} a")
    _check(page)


def _home(page):
    page.goto("/")
    _check(page)
    return page


@pytest.mark.parametrize(("size", "language"), [(PHONE, "nl"), (DESKTOP, "en")])
def test_professional(new_page, size, language):
    page = _start(new_page, "jgz@demo.example", size, language)
    for key in ("handovers", "overdue", "drafts", "changed"):
        assert page.locator(f"#work-{key}").count() == 1, key
    _open(page, "#work-handovers")
    assert page.locator("form[action*='/referrals/handovers/']").count() >= 1  # decide here
    _open(_home(page), "#work-overdue")
    overdue = path_of(page)
    _home(page)
    # The overdue referral was also the changed one: opened now, it is no longer news.
    assert overdue not in [a.get_attribute("href") for a in page.locator("#work-changed a").all()]
    _open(page, "#work-drafts")
    assert "/referrals/" in path_of(page)


def test_partner(new_page):
    page = _start(new_page, "partner@demo.example", DESKTOP, "nl")
    new_before = page.locator("#work-new li").count()
    assert new_before >= 1 and page.locator("#work-changed").count() == 1
    _open(page, "#work-changed")
    with page.expect_navigation():
        page.click("form[action$='/status/accepted'] button[type=submit]")
    _check(page)
    _home(page)
    assert page.locator("#work-new li").count() == new_before - 1
    assert page.locator("#work-changed").count() == 0


def test_bridge_worker(new_page):
    page = _start(new_page, "brug@demo.example", PHONE, "en")
    assert page.locator("#work-requests li").count() == 1
    _open(page, "#work-requests")  # the request waits for a yes or no …
    with page.expect_navigation():
        page.click("form[action$='/bridge/answer'] [name=accept]")
    assert WORDS["en"]["nothing"] in _home(page).inner_text("main")  # … then nothing waits


def test_coordinator(new_page):
    page = _start(new_page, "coordinator@demo.example", PHONE, "nl")
    _open(page, "#work-stuck")
    assert path_of(page) == "/referrals/stuck"
    _home(page)
    with page.expect_navigation():
        page.click("main a[href='/outbox']")
    _check(page)
    assert page.locator("#outbox-summary").count() == 1


def test_privacy_officer(new_page):
    page = _start(new_page, "privacy@demo.example", DESKTOP, "en")
    assert WORDS["en"]["nothing"] in page.inner_text("main")
    with page.expect_navigation():
        page.click("main a[href='/privacy/log']")
    _check(page)


def test_the_development_mail_page(browser, make_app):
    app = make_app(ENV="development")
    with app.app_context():
        queue("medewerker@example.org", "password_changed", language="nl",
              link="http://127.0.0.1/login")
        db.commit()
        assert send_pending() == (1, 0)
        db.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for size in (PHONE, DESKTOP):
            context = browser.new_context(viewport=size, locale="nl-NL")
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{server.server_port}/dev/mail")
            assert "medewerker@example.org" in page.inner_text("main")
            _check(page)
            context.close()
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
