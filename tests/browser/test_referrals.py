"""The whole path in a real browser, in Dutch and in English: a nurse adds a family, logs a
signal, records consent and refers to two services (one with an inbox, one by letter); the
partner accepts and completes; the nurse sees it; a reminder and a stuck notice follow."""

import uuid
from datetime import date, timedelta

import pytest

from referral import db
from referral.policy import COMMAND_LINE
from referral.referrals.models import Referral
from referral.referrals.operations import send_reminders
from tests.browser.pages import assert_accessible, log_in, speak, submit

WORDS = {
    "nl": {"requested": "aangevraagd", "completed": "afgerond", "need_met": "hulpvraag beantwoord",
           "reminder": "herinnering gestuurd", "letter": "Verwijzing naar Sociale supermarkt",
           "sent": "Verwijzingen verstuurd: 2", "stuck": "Vastgelopen verwijzingen"},
    "en": {"requested": "requested", "completed": "completed", "need_met": "need met",
           "reminder": "reminder sent", "letter": "Referral to Sociale supermarkt",
           "sent": "Referrals sent: 2", "stuck": "Stuck referrals"},
}


def age(app, referral_path, *, days):
    """Let time pass for one referral: its follow-up date and last activity move back."""
    with app.app_context():
        referral = db.session().get(Referral, uuid.UUID(referral_path.rsplit("/", 1)[1]))
        referral.follow_up_on = date.today() + timedelta(days=14 - days)
        referral.last_activity_at = db.utcnow() - timedelta(days=days)
        db.commit()


@pytest.mark.parametrize("language", ["nl", "en"])
def test_refer_follow_and_close_the_loop(app, new_page, language):
    words = WORDS[language]
    nurse = new_page(locale="nl-NL")
    log_in(nurse, "jgz@demo.example")
    speak(nurse, language)

    nurse.goto("/families/new")
    nurse.fill("#parent_names", "Robin Testouder")
    nurse.fill("#phone", "06-11112222")
    nurse.fill("#children-0-first_name", "Mees")
    nurse.fill("#children-0-birth_date", "2015-06-01")
    nurse.select_option("#municipality", label="Voorbeeldstad (demo)")
    submit(nurse)
    family = nurse.url

    nurse.click("main a[href$='/signals/new']")
    nurse.check("input[name=domains][value=food]")
    nurse.fill("#observations", "Mees heeft vaak geen lunch bij zich.")
    submit(nurse)

    nurse.click("main a[href$='/consents/new']")
    nurse.select_option("#organisation", label="Voedselbank Voorbeeldstad (demo)")
    nurse.fill("#scope", "Naam, telefoon en de vraag om eten")
    nurse.fill("#given_by", "Robin Testouder")
    nurse.check("#parent_agreed")
    submit(nurse)

    nurse.click("main a[href^='/referrals/new/']")
    assert_accessible(nurse)
    nurse.check("label:has-text('Voedselpakket')")
    nurse.check("label:has-text('Sociale supermarkt')")
    nurse.fill("#message", "Robin vraagt hulp met boodschappen. Bel 06-11112222.")
    submit(nurse, "main form button[name=send]")
    assert nurse.url == family and words["sent"] in nurse.inner_text("main")
    links = {a.inner_text(): a.get_attribute("href")
             for a in nurse.query_selector_all("main a[href^='/referrals/']")
             if "/new/" not in a.get_attribute("href")}
    inbox_referral, letter_referral = links["Voedselpakket"], links["Sociale supermarkt"]

    nurse.goto(letter_referral)
    assert_accessible(nurse)
    nurse.click("main a[href$='/letter']")
    assert words["letter"] in nurse.inner_text("h1")
    assert "Robin Testouder" in nurse.inner_text("main")
    assert_accessible(nurse)

    partner = new_page(locale="nl-NL")
    log_in(partner, "partner@demo.example")
    speak(partner, language)
    partner.goto("/referrals/")
    assert_accessible(partner)
    partner.goto(inbox_referral)
    assert "Bel 06-11112222" in partner.inner_text("main")
    assert "Robin Testouder" not in partner.inner_text("main")  # only the shared message
    assert_accessible(partner)
    submit(partner, "form[action$='/status/accepted'] button")
    submit(partner, "form[action$='/status/in-progress'] button")
    partner.select_option("#completed-outcome", "need_met")
    partner.fill("#completed-reason", "Pakket opgehaald.")
    submit(partner, "form[action$='/status/completed'] button")
    assert words["completed"] in partner.inner_text("main")

    nurse.goto("/referrals/")
    assert_accessible(nurse)
    rows = nurse.inner_text("main table")
    assert "Voedselpakket" in rows and words["completed"] in rows
    nurse.goto(inbox_referral)
    assert words["need_met"] in nurse.inner_text("main")
    assert "Pakket opgehaald." in nurse.inner_text("main")

    age(app, letter_referral, days=15)  # two weeks and a day later, the daily cron job
    with app.app_context():
        # The demo's own overdue and stuck referrals get theirs too (referral/dev/demo.py).
        assert send_reminders(COMMAND_LINE)[0] >= 1
        db.commit()
    nurse.goto(letter_referral)
    assert words["reminder"] in nurse.inner_text("main")

    nurse.click("main a[href$='/handover']")  # going on leave: a colleague takes over
    assert_accessible(nurse)
    nurse.select_option("#colleague", label="Eva Smit (demo)")
    nurse.fill("#note", "Ik ben drie weken met verlof.")
    submit(nurse)
    colleague = new_page(locale="nl-NL")
    log_in(colleague, "jgz2@demo.example")
    speak(colleague, language)
    colleague.goto("/referrals/")
    assert_accessible(colleague)
    colleague.click("main a[href='" + letter_referral + "']")
    assert "Ik ben drie weken met verlof." in colleague.inner_text("main")
    assert_accessible(colleague)
    submit(colleague, "main form[action*='/handovers/'] input[name=accept]")
    colleague.goto("/referrals/")
    assert "Robin Testouder" in colleague.inner_text("main table")  # hers now

    age(app, letter_referral, days=30)  # still overdue two weeks after that
    with app.app_context():
        # The coordinators heard of the demo's stuck referral today already: once a day.
        assert send_reminders(COMMAND_LINE)[1] == 0
        db.commit()
    coordinator = new_page(locale="nl-NL")
    log_in(coordinator, "coordinator@demo.example")
    speak(coordinator, language)
    coordinator.goto("/referrals/stuck")
    assert words["stuck"] in coordinator.inner_text("h1")
    assert "Sociale supermarkt" in coordinator.inner_text("main")
    assert "Robin" not in coordinator.inner_text("main")
    assert_accessible(coordinator)
