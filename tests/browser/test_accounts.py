"""Accounts without the command line, in a real browser through a real SMTP server: the
coordinator invites a colleague who chooses a password from the mail; someone who forgot
their password gets a link; at 320 px and at a desktop width, with axe on every page."""

import re
from email import message_from_string
from email.policy import default as email_policy
from urllib.parse import urlsplit

import pytest

from referral import db
from referral.mail import send_pending
from tests.browser.pages import assert_accessible, log_in, no_sideways_scrolling, path_of

NEW_PASSWORD = "fiets-langs-de-gracht-2026"
WIDTHS = [320, 1280]


@pytest.fixture
def app(make_app, smtp):
    """The live server's app, mailing through the test's SMTP server."""
    return make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, RESET_ANSWER_SECONDS=0)


def _link_mailed_to(app, smtp, address):
    """Send what waits in the outbox; the account link in the newest mail to this address."""
    with app.app_context():
        send_pending()
        db.commit()
    bodies = [message_from_string(content, policy=email_policy).get_content()
              for recipients, content in smtp.messages if recipients == [address]]
    assert bodies, f"no mail to {address}"
    [link] = re.findall(r"https?://\S+/account/link/\S+", bodies[-1])
    return urlsplit(link).path


def _check(page):
    assert_accessible(page)
    assert no_sideways_scrolling(page), page.url


def _choose_password(page, path):
    page.goto(path)
    assert path_of(page) == "/account/link"  # the token left the address
    _check(page)
    page.fill("#new", "kort")
    page.fill("#confirm", "kort")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "Gebruik minstens 12 tekens." in page.inner_text("[role=alert]")
    _check(page)
    page.fill("#new", NEW_PASSWORD)
    page.fill("#confirm", NEW_PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert path_of(page) == "/login"
    _check(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_an_invitation_from_the_users_page(app, smtp, new_page, width):
    coordinator = new_page(locale="nl-NL", viewport={"width": width, "height": 800})
    log_in(coordinator, "coordinator@demo.example")
    coordinator.click("main a[href='/users']")
    _check(coordinator)
    # Nothing clipped in a scroll box: on a phone the rows stack, at a desktop width the
    # whole table shows, Status and Deactivate too.
    assert coordinator.locator(".table-wrap").evaluate("e => e.scrollWidth <= e.clientWidth")
    if width == 1280:
        for cell in ("th:has-text('Status')", "td a:has-text('Deactiveren') >> nth=0"):
            box = coordinator.locator(f".users-table {cell}").bounding_box()
            assert box and box["x"] + box["width"] <= width, cell
    coordinator.click("main a:has-text('Nieuw account')")
    _check(coordinator)
    with coordinator.expect_navigation():
        coordinator.click("main form button[type=submit]")  # empty: errors, nothing made
    assert "Vul de naam van de persoon in." in coordinator.inner_text("[role=alert]")
    _check(coordinator)
    coordinator.fill("#name", "Lotte Nieuwkomer (demo)")
    coordinator.fill("#email", "lotte@demo.example")
    coordinator.select_option("#role", "professional")
    coordinator.select_option("#organisation", label="JGZ Voorbeeldstad (demo)")
    with coordinator.expect_navigation():
        coordinator.click("main form button[type=submit]")
    assert "Account van Lotte Nieuwkomer (demo)" in coordinator.inner_text("h1")
    assert "uitgenodigd" in coordinator.inner_text("main")
    _check(coordinator)
    coordinator.fill("#training-trained_on", "2026-11-02")
    with coordinator.expect_navigation():
        coordinator.click("main form:has(#training-trained_on) button[type=submit]")
    assert "geldig tot" in coordinator.inner_text("main")
    _check(coordinator)

    newcomer = new_page(locale="nl-NL", viewport={"width": width, "height": 800})
    _choose_password(newcomer, _link_mailed_to(app, smtp, "lotte@demo.example"))
    log_in(newcomer, "lotte@demo.example", NEW_PASSWORD)
    assert path_of(newcomer) == "/" and "Lotte Nieuwkomer" in newcomer.inner_text("h1")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_forgotten_password(app, smtp, new_page, width):
    page = new_page(locale="nl-NL", viewport={"width": width, "height": 800})
    page.goto("/login")
    page.click("main a:has-text('Wachtwoord vergeten?')")
    _check(page)
    page.fill("#email", "geen-adres")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "Vul een e-mailadres in zoals" in page.inner_text("[role=alert]")
    _check(page)
    page.fill("#email", "brug@demo.example")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.inner_text("h1") == "Kijk in je mail"
    _check(page)
    path = _link_mailed_to(app, smtp, "brug@demo.example")
    _choose_password(page, path)
    page.goto(path)  # the link works once
    assert page.inner_text("h1") == "Deze link is al gebruikt"
    _check(page)
    log_in(page, "brug@demo.example", NEW_PASSWORD)
    assert path_of(page) == "/"
