"""Every page a demo user reaches, in a real browser: it works, and axe finds nothing serious."""

from urllib.parse import urldefrag, urlsplit

import pytest

from referral.dev.demo import USERS
from tests.browser.pages import (
    assert_accessible,
    log_in,
    no_sideways_scrolling,
    path_of,
    words_broken,
)

# Pages every logged-in role can open, besides the links on its home page.
ACCOUNT_PAGES = ["/account", "/account/password", "/login/enrol"]


def test_login_page_is_dutch_and_accessible(page):
    page.goto("/login")
    assert page.get_attribute("html", "lang") == "nl"
    assert page.inner_text("h1") == "Inloggen"
    assert page.locator("main form #email").count() == 1
    assert page.locator("main form #password").count() == 1
    assert_accessible(page)


def pages_of(page):
    """The paths a logged-in user reaches from home: its menu and links, and the account
    pages; each once."""
    links = [urldefrag(a.get_attribute("href")).url for a in page.query_selector_all(
        "header nav a[href^='/']:not([download]), main a[href^='/']:not([download])")]
    seen = {"/"}
    for path in links + ACCOUNT_PAGES:
        if path in seen or path.startswith("//"):  # "//host" would leave the site
            continue
        seen.add(path)
        yield path


@pytest.mark.parametrize("email", [user[0] for user in USERS])
def test_every_page_of_every_role(page, email):
    log_in(page, email)
    assert path_of(page) == "/"
    assert "Welkom" in page.inner_text("h1")
    assert_accessible(page)
    seen = {"/"}
    for path in pages_of(page):
        seen.add(path)
        response = page.goto(path)
        assert response.status == 200, path
        assert path_of(page) == urlsplit(path).path, f"{path} redirected to {page.url}"
        assert_accessible(page)
    if email.startswith("coordinator@"):
        assert "/users" in seen
    assert set(ACCOUNT_PAGES) <= seen


def test_wrong_password_shows_the_error_summary(page):
    log_in(page, "jgz@demo.example", "niet-het-goede-wachtwoord")
    assert path_of(page) == "/login"
    summary = page.locator("[role=alert]")
    assert "E-mailadres of wachtwoord klopt niet" in summary.inner_text()
    assert_accessible(page)


def test_empty_password_change_shows_errors(page):
    log_in(page, "partner@demo.example")
    page.goto("/account/password")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.locator("[role=alert]").count() == 1
    assert page.locator(".field-error").count() == 3
    for field in ("#current", "#new", "#confirm"):
        assert page.get_attribute(field, "aria-invalid") == "true", field
    assert_accessible(page)


def test_language_switch_is_remembered(page):
    page.goto("/login")
    page.select_option("#language-select", "en")
    with page.expect_navigation():
        page.click("header form.language button[type=submit]")
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("h1") == "Log in"
    log_in(page, "brug@demo.example")
    assert path_of(page) == "/"
    assert page.get_attribute("html", "lang") == "en"
    assert "Welcome" in page.inner_text("h1")


def test_error_page_is_accessible(page):
    response = page.goto("/does-not-exist")
    assert response.status == 404
    assert page.get_attribute("html", "lang") == "nl"
    assert page.inner_text("h1") == "Pagina niet gevonden"
    assert_accessible(page)


def test_works_without_javascript(new_page):
    page = new_page(java_script_enabled=False)
    log_in(page, "coordinator@demo.example")
    assert path_of(page) == "/"
    assert "Mila Bakker (demo)" in page.inner_text("h1")
    with page.expect_navigation():
        page.click("header nav form button[type=submit]")  # log out: a form, not a script
    assert path_of(page) == "/login"


def test_small_phone_screen_has_no_sideways_scrolling(new_page):
    page = new_page(viewport={"width": 320, "height": 640})
    page.goto("/login")
    assert no_sideways_scrolling(page)
    log_in(page, "privacy@demo.example")
    assert path_of(page) == "/"
    assert no_sideways_scrolling(page)
    for path in ACCOUNT_PAGES:
        page.goto(path)
        assert no_sideways_scrolling(page), path


@pytest.mark.parametrize("width", [320, 1280])
def test_two_factor_qr_code_is_shown_whole(new_page, width):
    """A cropped QR code cannot be scanned: its drawing must lie inside its box."""
    page = new_page(viewport={"width": width, "height": 800})
    log_in(page, "jgz@demo.example")
    page.goto("/login/enrol")
    box = page.locator(".qr svg").bounding_box()
    drawing = page.locator(".qr svg path").bounding_box()
    assert box["width"] >= 150, box  # big enough for a phone camera
    assert drawing["x"] >= box["x"] and drawing["y"] >= box["y"], (drawing, box)
    assert drawing["x"] + drawing["width"] <= box["x"] + box["width"] + 0.5, (drawing, box)
    assert drawing["y"] + drawing["height"] <= box["y"] + box["height"] + 0.5, (drawing, box)


# The account pages that no home page links to: for nobody logged in, and the coordinator's.
PUBLIC_ACCOUNT_PAGES = ["/login/forgot", "/login/forgot/sent", "/account/link",
                        "/account/link/" + "x" * 43]
COORDINATOR_PAGES = ["/users/new", "/users?role=professional&expired=y&sort=training&order=desc",
                     "/users?status=deactivated"]


@pytest.mark.parametrize("width", [320, 1280])
def test_the_account_pages_nobody_links_to(new_page, width):
    page = new_page(locale="nl-NL", viewport={"width": width, "height": 800})
    for path in PUBLIC_ACCOUNT_PAGES:
        page.goto(path)
        assert page.inner_text("h1"), path
        assert_accessible(page)
        assert no_sideways_scrolling(page), path
    log_in(page, "coordinator@demo.example")
    page.goto("/users")
    accounts = [a.get_attribute("href") for a in page.query_selector_all(
        ".users-table a[href^='/users/']:not([href$='/deactivate'])")]
    assert len(accounts) >= 7  # every demo account
    for path in COORDINATOR_PAGES + accounts:
        response = page.goto(path)
        assert response.status == 200, path
        assert_accessible(page)
        assert no_sideways_scrolling(page), path


# Each table's overflow beyond its own box or its scroll box (a wrapper that clips it).
CLIPPED_TABLES = """[...document.querySelectorAll('main table')].filter(table => {
  const box = table.parentElement;
  return table.scrollWidth > table.clientWidth + 1 || box.scrollWidth > box.clientWidth + 1;
}).map(table => (table.querySelector('caption') || table).textContent.trim().slice(0, 40))"""


@pytest.mark.parametrize("email", [user[0] for user in USERS])
def test_every_page_fits_a_phone_and_no_table_is_clipped_on_a_desktop(new_page, email):
    """At 320 px no page scrolls sideways (tables become stacked rows); at 1280 px no table is
    cut off in a scroll box; on neither is a word of a table broken mid-word. Every page of
    every role, from its home page."""
    phone = new_page(locale="nl-NL", viewport={"width": 320, "height": 640})
    desktop = new_page(locale="nl-NL", viewport={"width": 1280, "height": 800})
    log_in(phone, email)
    log_in(desktop, email)
    wide, clipped, broken = [], [], []
    for path in ["/", *pages_of(phone)]:
        phone.goto(path)
        width = phone.evaluate("document.documentElement.scrollWidth")
        if width > 320:
            wide.append(f"{path}: {width} px")
        desktop.goto(path)
        if tables := desktop.evaluate(CLIPPED_TABLES):
            clipped.append(f"{path}: {tables}")
        broken += [f"{path} ({size}): {words}" for size, page in (("phone", phone),
                                                                   ("desktop", desktop))
                   if (words := words_broken(page))]
    assert wide == [], "pages wider than a 320 px phone"
    assert clipped == [], "tables clipped at 1280 px"
    assert broken == [], "words in tables broken mid-word:\n" + "\n".join(broken)
