"""The refer page as a nurse uses it: two tabs and the Back button make one referral, and
the second attempt links the open one; the picker shows what is needed to choose, each box
beside its label; a draft and a follow-up date are changed after the referral is made."""

from datetime import date, timedelta

import pytest
from sqlmodel import func, select

from referral import db, policy
from referral.auth.queries import find_user
from referral.cases.models import Family, Signal
from referral.dev.directory_data import VOORBEELDSTAD
from referral.directory.models import Organisation, Service
from referral.directory.operations import create_organisation, create_service
from referral.referrals.models import Referral
from tests.browser.pages import assert_accessible, log_in, no_sideways_scrolling, submit

NURSE = "jgz@demo.example"
CHOSEN = "Sociale supermarkt"  # the demo family has no referral to it yet


def _demo_signal(app):
    """The first signal of the demo nurse's first family."""
    with app.app_context():
        session = db.session()
        nurse = find_user("jgz@demo.example")
        return session.exec(select(Signal.id).join(Family, Family.id == Signal.family_id)
                            .where(Family.created_by == nurse.id)
                            .order_by(Signal.created_at)).first()


def _referrals_to(app, signal_id, name):
    with app.app_context():
        return db.session().exec(select(func.count()).select_from(Referral)
                                 .join(Service, Service.id == Referral.service_id)
                                 .where(Referral.signal_id == signal_id,
                                        Service.name == name)).one()


def _unreachable_service(app):
    """A service in Voorbeeldstad for food without phone, email or website."""
    with app.app_context():
        session = db.session()
        organisation = session.exec(select(Organisation).where(
            Organisation.name == "Buurthuis Zonder Nummer")).first() or create_organisation(
            policy.COMMAND_LINE, name="Buurthuis Zonder Nummer")
        create_service(policy.COMMAND_LINE, organisation, name="Soepmiddag",
                       description="Soep op woensdag.", domains=["food"],
                       areas=[VOORBEELDSTAD], languages=["nl"], assured_date=date.today(),
                       referral_route="phone")
        db.commit()


def _fill_and_send(page, name):
    page.check(f"main label:has-text('{name}')")
    page.fill("#message", "Moeder vraagt hulp met boodschappen.")
    with page.expect_navigation():
        page.click("main form button[name=send]")


def test_two_tabs_and_back_make_one_referral(app, new_page):
    signal = _demo_signal(app)
    url = f"/referrals/new/{signal}"
    first = new_page(locale="nl-NL")
    log_in(first, NURSE)
    second = first.context.new_page()
    first.goto(url)
    second.goto(url)
    assert _referrals_to(app, signal, CHOSEN) == 0

    _fill_and_send(first, CHOSEN)
    assert "/families/" in first.url
    _fill_and_send(second, CHOSEN)  # the second tab, opened before the first was sent
    assert second.url.endswith(url)
    summary = second.inner_text("[role=alert]")
    assert "al een open verwijzing" in summary and CHOSEN in summary
    assert_accessible(second)
    with second.expect_navigation():
        second.click(f"main a:has-text('Open de verwijzing naar {CHOSEN}')")
    assert f"Verwijzing naar {CHOSEN}" in second.inner_text("h1")

    first.go_back()  # back to the refer page: the service now says it is referred already
    item = first.locator("ul.picker > li", has=first.locator(f"label:has-text('{CHOSEN}')"))
    assert "Al verwezen" in item.inner_text()
    _fill_and_send(first, CHOSEN)
    assert "al een open verwijzing" in first.inner_text("[role=alert]")
    assert _referrals_to(app, signal, CHOSEN) == 1


@pytest.mark.parametrize("width", [320, 1280])
def test_the_picker_shows_what_is_needed_and_each_box_beside_its_label(app, new_page, width):
    _unreachable_service(app)
    page = new_page(locale="nl-NL", viewport={"width": width, "height": 900})
    log_in(page, NURSE)
    page.goto(f"/referrals/new/{_demo_signal(app)}")
    assert no_sideways_scrolling(page)
    assert_accessible(page)
    items = page.locator("ul.picker > li")
    assert items.count() >= 2
    for n in range(items.count()):
        box = items.nth(n).locator("input").bounding_box()
        label = items.nth(n).locator("label").bounding_box()
        assert box["x"] + box["width"] <= label["x"], "the box is left of its label"
        assert label["y"] - 4 <= box["y"] <= label["y"] + label["height"], "on its line"
    supermarket = page.locator("ul.picker > li", has=page.locator(
        f"label:has-text('{CHOSEN}')")).inner_text()
    assert "Plek: wachtlijst" in supermarket and "wachttijd ongeveer 3 weken" in supermarket
    assert "Leeftijd:" in supermarket
    soup = page.locator("ul.picker > li", has=page.locator("label:has-text('Soepmiddag')"))
    assert "Let op: van deze dienst is geen telefoonnummer" in soup.inner_text()


def test_a_draft_and_a_follow_up_date_are_changed_after_referring(app, new_page):
    signal = _demo_signal(app)
    page = new_page(locale="nl-NL")
    log_in(page, NURSE)
    page.goto(f"/referrals/new/{signal}")
    page.check(f"main label:has-text('{CHOSEN}')")
    page.fill("#message", "Eerste versie.")
    submit(page, "main form button[name=draft]")
    page.click(f"main a:has-text('{CHOSEN}')")
    referral = page.url

    page.click("main a:has-text('Concept veranderen')")
    assert_accessible(page)
    page.fill("#message", "Tweede versie, met het telefoonnummer.")
    submit(page, "main form[method=post] button[type=submit]")  # not the search's button
    assert page.url == referral
    main = page.inner_text("main")
    assert "Het concept is bewaard." in main and "veranderde het bericht van het concept" in main

    page.click("main a[href$='/follow-up']")
    assert_accessible(page)
    later = date.today() + timedelta(days=40)
    page.fill("#follow_up_on", later.isoformat())
    submit(page)
    assert "De opvolgdatum is nu" in page.inner_text("main")
    assert "zette de opvolgdatum op" in page.inner_text("main")
    with app.app_context():
        assert db.session().get(Referral, _id(referral)).follow_up_on == later


def _id(url):
    import uuid

    return uuid.UUID(url.rstrip("/").rsplit("/", 1)[1])
