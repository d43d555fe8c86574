"""The monitor and the pledges in a real browser, in Dutch and English, with axe."""

import pytest

from tests.browser.pages import assert_accessible, log_in, speak, submit


@pytest.mark.parametrize("language", ["nl", "en"])
def test_pledge_report_and_monitor(new_page, language):
    partner = new_page(locale="nl-NL")
    log_in(partner, "partner@demo.example")
    speak(partner, language)
    partner.goto("/monitor/pledge/edit")
    assert_accessible(partner)
    partner.fill("#activities-0-what", "Voedselpakketten voor gezinnen met jonge kinderen")
    partner.fill("#activities-0-target", "200 gezinnen")
    partner.fill("#new_partner", "Bakkerij De Korenbloem")
    submit(partner)
    assert "Bakkerij De Korenbloem" in partner.inner_text("main")
    partner.click("main a[href*='/monitor/pledge/report']")
    assert_accessible(partner)
    partner.select_option("#entries-0-progress", "partly")
    submit(partner)
    partner.goto("/monitor/")
    assert_accessible(partner)
    assert partner.locator("svg.chart").count() >= 3

    coordinator = new_page(locale="nl-NL")
    log_in(coordinator, "coordinator@demo.example")
    speak(coordinator, language)
    coordinator.goto("/monitor/pledges")
    assert_accessible(coordinator)
    assert "Voedselbank Voorbeeldstad (demo)" in coordinator.inner_text("main table")
    submit(coordinator, "main form button[type=submit]")  # remind those who have not
    coordinator.goto("/monitor/report")
    heading = {"nl": "Monitorrapport", "en": "Monitor report"}[language]
    assert heading in coordinator.inner_text("h1")
    assert_accessible(coordinator)
