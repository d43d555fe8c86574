"""A live server on loopback with the demo data, and Debian's Chromium driven by Playwright.

One browser for the whole session; a fresh database, server, context and page for every test.
"""

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from referral import db
from referral.dev.demo import PRIVACY_OFFICER, load, officer_key

HERE = Path(__file__).parent
DEMO_KEYS = {}  # email: two-factor key of the demo accounts that have one (this test's)
CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]


def pytest_collection_modifyitems(items):
    # This hook sees every collected test, not only this folder's: mark only ours.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)
            # The live server answers from several threads, each with its own connection.
            item.add_marker(pytest.mark.own_database)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        message = f"Chromium not found at {CHROMIUM}: apt-get install -y chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=LAUNCH_ARGS)
        yield browser
        browser.close()



@pytest.fixture
def live_server(browser, app):
    """The app with its demo data, served on a free loopback port; its base URL."""
    # `browser` first, so a missing Chromium skips before a database is built.
    with app.app_context():
        load()
        DEMO_KEYS[PRIVACY_OFFICER] = officer_key()  # as make run does
        db.commit()
    server = make_server("127.0.0.1", 0, _buffered(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    server.server_close()


def _buffered(app):
    """The app with each response read whole and closed before it is sent.

    When a browser drops a connection (a page left while its icon loads), werkzeug's
    server reads the dead socket before it closes the response, fails there, and leaves
    a static file open for the garbage collector to warn about in some later test."""

    def wsgi(environ, start_response):
        response = app(environ, start_response)
        try:
            return [b"".join(response)]
        finally:
            if hasattr(response, "close"):
                response.close()

    return wsgi


@pytest.fixture
def new_page(browser, live_server):
    """Open a page in a new browser context (options as for Browser.new_context)."""
    contexts = []

    def make(**options):
        context = browser.new_context(base_url=live_server, **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    """A page in a Dutch-speaking browser, like most of the people who use the tool."""
    return new_page(locale="nl-NL")
