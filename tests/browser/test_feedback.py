"""From a completed referral to feedback from a parent and a child, in Dutch and Arabic, in
fresh browsers without an account; then what the owner and the partner see."""

import re

import pytest

from tests.browser.pages import assert_accessible, log_in

WORDS = {"nl": {"question": "Werd er goed naar u geluisterd?", "child": "Luisterden de grote mensen",
                "thanks": "Dank u wel!",
                "elsewhere": "Deze link is op een andere telefoon of computer geopend"},
         "ar": {"question": "هل شعرت بأن أحدًا استمع إليك؟", "child": "هل استمع إليك الكبار؟",
                "thanks": "شكرًا لك!", "elsewhere": "تم فتح هذا الرابط على هاتف أو حاسوب آخر"}}


def submit(page, selector="main form button[type=submit]"):
    with page.expect_navigation():
        page.click(selector)
    assert_accessible(page)


def complete_the_demo_referral(new_page):
    """The demo partner accepts, starts and completes the demo family's referral."""
    partner = new_page(locale="nl-NL")
    log_in(partner, "partner@demo.example")
    partner.goto("/referrals/")
    partner.click("main tr:has-text('Sanne de Vries') a[href^='/referrals/']")
    referral = partner.url
    submit(partner, "form[action$='/status/accepted'] button")
    submit(partner, "form[action$='/status/in-progress'] button")
    partner.select_option("#completed-outcome", "need_met")
    submit(partner, "form[action$='/status/completed'] button")
    return partner, referral


@pytest.mark.parametrize("language", ["nl", "ar"])
def test_feedback_from_parent_and_child(new_page, language):
    words = WORDS[language]
    partner, referral = complete_the_demo_referral(new_page)

    nurse = new_page(locale="nl-NL")
    log_in(nurse, "jgz@demo.example")
    nurse.goto(referral)
    nurse.click("main .notice a[href*='/feedback/invite/']")  # offered once it completed
    assert_accessible(nurse)
    nurse.check("input[name=whom][value=parent]")
    nurse.check("label:has-text('Noor (demo)')")  # ten years old: the children's form
    nurse.select_option("#language", language)
    submit(nurse)
    assert nurse.locator(".feedback-card svg").count() == 2
    links = list(dict.fromkeys(re.findall(r"https?://[^\s<\"]+/f/[A-Za-z0-9_-]+",
                                          nurse.content())))
    parent_link, child_link = links

    for link, question, answers in ((parent_link, words["question"], "5"),
                                    (child_link, words["child"], "4")):
        family = new_page(locale="nl-NL")  # a fresh browser, no account
        family.goto(link)
        assert family.url.endswith("/f/") and link.rsplit("/", 1)[1] not in family.url
        assert_accessible(family)
        # Another browser with the same link, on the smallest phone: no form.
        other = new_page(locale="nl-NL", viewport={"width": 320, "height": 640})
        other.goto(link)
        assert words["elsewhere"] in other.inner_text("h1")
        assert other.locator("main form").count() == 0
        assert other.evaluate("document.documentElement.scrollWidth") <= 320
        assert_accessible(other)
        other.close()
        submit(family, f"main form button[value={language}]")
        assert family.get_attribute("html", "lang") == language
        assert family.get_attribute("html", "dir") == ("rtl" if language == "ar" else "ltr")
        assert question in family.inner_text("main")
        family.check(f"input[name=heard][value='{answers}']")
        family.fill("textarea >> nth=0", "Fijn dat er naar ons werd geluisterd.")
        with family.expect_navigation():
            family.click("main form button[type=submit]")
        assert words["thanks"] in family.inner_text("h1")
        assert_accessible(family)
        family.set_viewport_size({"width": 320, "height": 640})  # the smallest phone
        family.goto(link)
        assert family.evaluate("document.documentElement.scrollWidth") <= 320
        assert_accessible(family)

    nurse.goto("/feedback/")
    assert "Fijn dat er naar ons werd geluisterd." in nurse.inner_text("main")
    assert_accessible(nurse)
    partner.goto("/feedback/")
    assert "Voedselpakket" in partner.inner_text("main")
    # The demo's history and these two answers: a mean only where enough people answered.
    assert "te weinig antwoorden" in partner.inner_text("main table")
    assert "Fijn dat" not in partner.inner_text("main")
    assert_accessible(partner)


def test_the_form_passes_axe_in_every_language_and_works_without_javascript(new_page):
    from referral.feedback import LANGUAGES

    nurse = new_page(locale="nl-NL")
    log_in(nurse, "jgz@demo.example")
    nurse.goto("/families/")
    nurse.click("main a >> text=Sanne de Vries (demo)")
    nurse.click("main a[href*='/feedback/invite/']")
    invite = nurse.url
    nurse.check("input[name=whom][value=parent]")
    submit(nurse)
    [link] = list(dict.fromkeys(re.findall(r"https?://[^\s<\"]+/f/[A-Za-z0-9_-]+",
                                           nurse.content())))
    family = new_page(viewport={"width": 320, "height": 640})  # the smallest phone
    family.goto(link)
    for language in LANGUAGES:
        family.goto("/f/")
        submit(family, f"main form button[value={language}]")  # axe runs on each form
        assert family.get_attribute("html", "lang") == language
        assert family.evaluate("document.documentElement.scrollWidth") <= 320, language

    # A link works in the browser that opened it first: the other browser gets a new one.
    nurse.goto(invite)
    nurse.check("input[name=whom][value=parent]")
    submit(nurse)
    [new_link] = list(dict.fromkeys(re.findall(r"https?://[^\s<\"]+/f/[A-Za-z0-9_-]+",
                                               nurse.content())))
    assert new_link != link
    plain = new_page(java_script_enabled=False)  # no script anywhere: the form still works
    plain.goto(new_link)
    with plain.expect_navigation():
        plain.click("main form button[value=pl]")
    plain.check("input[name=heard][value='5']")
    with plain.expect_navigation():
        plain.click("main form button[type=submit]")
    assert plain.inner_text("h1") == "Dziękujemy!"
