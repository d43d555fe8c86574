"""What every browser test does: log in through the real form, choose a language, submit a
form, and have axe look at the page."""

from urllib.parse import urlsplit

import pyotp
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Error as PlaywrightError

from referral.dev.demo import PASSWORD
from tests.browser.conftest import DEMO_KEYS

axe = Axe()


def assert_accessible(page):
    """Fail listing every serious or critical axe violation on the page as it is now.

    A click on a link returns before the next page has loaded: wait for it, and scan once
    more if the document was swapped while axe ran."""
    for attempt in range(3):
        page.wait_for_load_state()
        try:
            violations = axe.run(page).response["violations"]
            break
        except PlaywrightError:
            if attempt == 2:
                raise
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    report = "\n".join(f"- {v['id']} ({v['impact']}): {v['help']}; nodes: "
                       f"{[node['target'] for node in v['nodes']]}" for v in serious)
    assert not serious, f"axe on {page.url}:\n{report}"


def log_in(page, email, password=PASSWORD):
    """Log in through the real form, like a person would (with a code where one is set)."""
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    if path_of(page) == "/login/code":
        page.fill("#code", pyotp.TOTP(DEMO_KEYS[email]).now())
        with page.expect_navigation():
            page.click("main form button[type=submit]")


def path_of(page):
    return urlsplit(page.url).path


def no_sideways_scrolling(page):
    return page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


# Each word of a table's header or cell that is drawn on more than one line (a narrow column
# broken mid-word: "Opvolge/n op", "Voedselp/akket"). Headers hidden as a phone's list stacks
# its rows are left out, and so is text meant to break anywhere (an e-mail address, a path).
WORDS_BROKEN = """() => [...document.querySelectorAll("main th, main td")]
  .filter(cell => (cell.closest("thead") || cell).getBoundingClientRect().width > 2)
  .flatMap(cell => {
    const broken = [], walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode());) {
      if (node.parentElement.closest(".email, .anywhere")) continue;
      for (const word of node.data.matchAll(/[^\\s-]+/g)) {
        const range = document.createRange();
        range.setStart(node, word.index);
        range.setEnd(node, word.index + word[0].length);
        const lines = new Set([...range.getClientRects()].map(box => Math.round(box.top)));
        if (lines.size > 1) broken.push(word[0]);
      }
    }
    return broken;
  })"""


def words_broken(page):
    return page.evaluate(WORDS_BROKEN)


def speak(page, language):
    """Choose the language in the header, as a person would (it is kept for the account)."""
    page.select_option("#language-select", language)
    with page.expect_navigation():
        page.click("form.language button")


# A form may start with a hidden copy of its main button (the default for Enter) and have
# buttons that only change the form itself ("Add a child", formnovalidate).
SUBMIT = "main form button[type=submit]:visible:not([formnovalidate])"


def submit(page, selector=SUBMIT):
    with page.expect_navigation():
        page.click(selector)
    assert_accessible(page)
