"""The referral page guides, in a real browser at a phone's width and at a desktop's: the next
steps as labelled groups, the usual one first, the step that ends a referral last and behind
a box to tick; the bridge worker answers a request; the letter and the service page say
where, when and how to apply. By keyboard where a person would use one; axe on every page."""

import uuid

import pytest
from sqlmodel import select

from referral import db
from referral.auth.queries import find_user
from referral.dev.demo import DEMO_NAMESPACE
from referral.dev.directory_data import ORGANISATIONS
from referral.referrals.models import Referral, Status
from tests.browser.pages import assert_accessible, log_in, no_sideways_scrolling, submit

WIDTHS = {"phone": {"width": 320, "height": 640}, "desktop": {"width": 1280, "height": 800}}
FOOD_PARCEL = uuid.uuid5(DEMO_NAMESPACE, f"{ORGANISATIONS[0][0]}/Voedselpakket")


def demo_referral(app):
    """The demo family's referral to the food parcel, waiting in the partner's inbox."""
    with app.app_context():
        nurse = find_user("jgz@demo.example")
        return db.session().exec(select(Referral.id).where(
            Referral.service_id == FOOD_PARCEL, Referral.status == Status.requested,
            Referral.owner_id == nurse.id)).one()


def legends(page):
    return [text.strip() for text in page.locator("section.steps legend").all_inner_texts()]


@pytest.mark.parametrize("size", list(WIDTHS))
def test_the_partner_is_guided_and_a_rejection_asks_for_confirmation(app, new_page, size):
    referral = demo_referral(app)
    page = new_page(locale="nl-NL", viewport=WIDTHS[size])
    log_in(page, "partner@demo.example")
    page.goto(f"/referrals/{referral}")
    assert legends(page) == ["Aannemen", "Afwijzen", "Verwijzing intrekken"]
    assert page.get_by_role("heading", name="Als het niet doorgaat").is_visible()
    assert no_sideways_scrolling(page)
    assert_accessible(page)

    # The reason field belongs to its step by its own question; the box is not ticked.
    page.get_by_label("Waarom kan het aanbod niet helpen?").fill("Buiten ons werkgebied.")
    page.select_option("#rejected-reason_code", "not_eligible")
    submit(page, "form[action$='/status/rejected'] button")
    assert "Vink het vakje aan om te bevestigen." in page.inner_text("main")
    assert page.locator(".error-summary a[href='#rejected-confirm']").count() == 1
    assert "aangevraagd" in page.inner_text("main dl")  # nothing changed
    assert no_sideways_scrolling(page)

    # By keyboard: follow the summary's link to the box, tick it, then press the button.
    page.locator(".error-summary a[href='#rejected-confirm']").click()
    page.keyboard.press("Space")
    assert page.is_checked("#rejected-confirm")
    assert page.input_value("#rejected-reason") == "Buiten ons werkgebied."  # kept
    page.locator("form[action$='/status/rejected'] button").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "afgewezen" in page.inner_text("main dl")
    assert legends(page) == []  # final: no more steps
    timeline = page.locator("ol.timeline li").all_inner_texts()
    assert "maakte de verwijzing aan" in timeline[0]
    assert "afgewezen" in timeline[-1]  # numbered oldest first
    assert_accessible(page)


@pytest.mark.parametrize("size", list(WIDTHS))
def test_the_bridge_worker_answers_a_request(app, new_page, size):
    referral = demo_referral(app)
    nurse = new_page(locale="nl-NL", viewport=WIDTHS[size])
    log_in(nurse, "jgz@demo.example")
    nurse.goto(f"/referrals/{referral}/bridge")
    nurse.select_option("#bridge", label="Kees Visser (demo)")
    nurse.check("#family_agreed")
    submit(nurse)
    assert "gevraagd, nog geen antwoord" in nurse.inner_text("main dl")

    bridge = new_page(locale="nl-NL", viewport=WIDTHS[size])
    log_in(bridge, "brug@demo.example")
    bridge.goto(f"/referrals/{referral}")
    assert "Je wordt gevraagd dit gezin te begeleiden" in bridge.inner_text("main")
    assert "Moeder vraagt een voedselpakket" in bridge.inner_text("main")
    assert bridge.locator("form[action$='/notes']").count() == 0  # not before answering
    assert no_sideways_scrolling(bridge)
    assert_accessible(bridge)
    submit(bridge, "form[action$='/bridge/answer'] input[name=accept]")
    assert "Je begeleidt het gezin nu." in bridge.inner_text("main")
    assert bridge.locator("form[action$='/notes']").count() == 1
    assert no_sideways_scrolling(bridge)

    nurse.goto(f"/referrals/{referral}")
    assert "zei ja op het begeleiden van het gezin" in nurse.inner_text("ol.timeline")
    assert "nog geen antwoord" not in nurse.inner_text("main dl")
    assert_accessible(nurse)


@pytest.mark.parametrize("size", list(WIDTHS))
def test_the_letter_and_the_service_page_say_where_when_and_how(app, new_page, size):
    referral = demo_referral(app)
    page = new_page(locale="nl-NL", viewport=WIDTHS[size])
    log_in(page, "jgz@demo.example")
    page.goto(f"/referrals/{referral}/letter")
    letter = page.inner_text("main")
    for shown in ("010-5550101", "Havenstraat 12", "9901 AB Voorbeeldstad",
                  "Dinsdag en vrijdag 13:00 tot 16:00", "Verwijs in deze tool"):
        assert shown in letter, letter
    assert no_sideways_scrolling(page)
    assert_accessible(page)
    page.goto(f"/directory/services/{FOOD_PARCEL}")
    service = page.inner_text("main")
    for shown in ("Waar en wanneer", "Havenstraat 12", "Dinsdag en vrijdag 13:00 tot 16:00"):
        assert shown in service, shown
    assert no_sideways_scrolling(page)
    assert_accessible(page)
