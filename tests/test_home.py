"""The home page is a worklist: what needs each role today, each a link, with counts; what
others changed since the user last opened a referral; and the same few statements however
much data there is."""

import re
import uuid
from datetime import date

import pytest
from sqlmodel import select

from referral import db
from referral.auth.models import User
from referral.cases.models import Family, Signal
from referral.cases.operations import create_family, log_signal, record_consent
from referral.dates import format_date
from referral.directory.models import Service
from referral.referrals.models import Referral
from referral.referrals.operations import (
    add_note,
    assign_bridge,
    change_status,
    decide_bridge,
    propose_handover,
    refer,
)
from referral.referrals.queries import default_follow_up
from tests.conftest import browser, counted_queries
from tests.world import age

NOTHING = "Er wacht nu niets op je."


def _home(app, person):
    return browser(app, person).get("/").text


def _section(page, key):
    """The text of one worklist section (empty when the page does not show it)."""
    match = re.search(rf'<section[^>]*id="work-{key}".*?</section>', page, re.S)
    return match.group(0) if match else ""


def _as(app, person, do):
    with app.app_context():
        session = db.session()
        result = do(session, session.get(User, person.id))
        db.commit()
        return result


def test_a_new_professional_has_nothing_waiting(app, make_user):
    page = _home(app, make_user("professional", organisation="JGZ Noord"))
    assert NOTHING in page
    assert 'id="work-overdue"' not in page


@pytest.mark.parametrize("who", ["partner", "bridge", "coordinator", "privacy"])
def test_every_role_says_plainly_when_nothing_waits(app, make_user, who):
    role = {"privacy": "privacy_officer"}.get(who, who)
    page = _home(app, make_user(role, organisation="Voedselbank"))
    assert NOTHING in page


def test_owner_sees_what_others_changed_until_they_open_it(app, world):
    link = f'href="/referrals/{world.inbox_referral}"'
    owner = browser(app, world.owner)
    assert link not in _section(owner.get("/").text, "changed")  # nothing happened yet
    _as(app, world.partner, lambda s, partner: change_status(
        partner, s.get(Referral, world.inbox_referral), "accepted"))
    changed = _section(owner.get("/").text, "changed")
    assert link in changed and "Voedselpakket" in changed and "aangenomen" in changed
    assert owner.get(f"/referrals/{world.inbox_referral}").status_code == 200
    assert link not in _section(owner.get("/").text, "changed")  # seen now
    _as(app, world.owner, lambda s, me: add_note(me, s.get(Referral, world.inbox_referral),
                                                 "Zelf gebeld."))
    assert link not in _section(owner.get("/").text, "changed")  # their own note is no news
    _as(app, world.partner, lambda s, partner: add_note(
        partner, s.get(Referral, world.inbox_referral), "Pakket staat klaar."))
    assert link in _section(owner.get("/").text, "changed")  # a new note after the visit


def test_what_one_user_opened_stays_new_for_another(app, world):
    """The record is per user and referral: the partner opening it does not make it seen
    for the owner."""
    _as(app, world.partner, lambda s, partner: add_note(
        partner, s.get(Referral, world.inbox_referral), "Gebeld."))
    assert browser(app, world.partner).get(
        f"/referrals/{world.inbox_referral}").status_code == 200
    assert f"/referrals/{world.inbox_referral}" in _section(_home(app, world.owner), "changed")


def test_overdue_follow_ups_are_counted_and_linked(app, world):
    age(app, world.inbox_referral, 20)
    overdue = _section(_home(app, world.owner), "overdue")
    assert f'href="/referrals/{world.inbox_referral}"' in overdue
    assert "Zeynep Yilmaz" in overdue  # the owner works with the family
    assert re.search(r"Te laat met opvolgen.*?\(1\)", overdue, re.S)


def test_a_row_says_after_its_status_when_in_the_readers_words(app, world):
    """After its status a row says when: the owner the day to follow it up, the partner how
    long it has waited (written by the view, web._work_rows)."""
    age(app, world.inbox_referral, 20)
    with app.test_request_context():
        day = format_date(db.session().get(Referral, world.inbox_referral).follow_up_on)
    overdue = _section(_home(app, world.owner), "overdue")
    assert f'<span class="hint">aangevraagd ·\n      opvolgen op {day}</span>' in overdue
    assert '<span class="hint">aangevraagd ·\n      wacht 20 dagen</span>' in _section(
        _home(app, world.partner), "new")


def test_each_user_reads_their_own_worklist(app, world):
    """The worklist's statements are built once per process: the user's values go with
    each execution, never into the statement."""
    age(app, world.inbox_referral, 20)
    link = f'href="/referrals/{world.inbox_referral}"'
    assert link in _section(_home(app, world.owner), "overdue")
    assert _section(_home(app, world.colleague), "overdue") == ""
    assert link in _section(_home(app, world.owner), "overdue")


@pytest.mark.parametrize("role", ["owner", "partner", "bridge"])
def test_each_section_picks_its_rows_from_the_referral_before_naming_them(app, world, role):
    """A section's first rows and count are chosen on the referral (and what its condition
    needs: a handover, events) alone; the service and the family are joined to the few rows
    shown, not to every matching referral before the limit."""
    browser_of = browser(app, getattr(world, role))
    browser_of.get("/")
    with counted_queries(app) as statements:
        assert browser_of.get("/").status_code == 200
    [together] = [s for s in statements if "UNION ALL" in s]
    arms, outside = together.rsplit(") AS anon_1", 1)
    assert "JOIN service" not in arms and "JOIN family" not in arms
    assert "JOIN service" in outside and "JOIN family_key" in outside


def test_a_handover_waits_for_the_colleague(app, world):
    _as(app, world.owner, lambda s, me: propose_handover(
        me, s.get(Referral, world.inbox_referral), s.get(User, world.colleague.id)))
    section = _section(_home(app, world.colleague), "handovers")
    assert f'href="/referrals/{world.inbox_referral}"' in section
    assert "Zeynep" not in section  # not theirs until they accept
    assert _section(_home(app, world.owner), "handovers") == ""


def test_a_draft_waits_to_be_sent(app, world):
    draft = _as(app, world.owner, lambda s, me: refer(
        me, s.get(Family, world.family_id), s.get(Signal, world.signal_id),
        [s.exec(select(Service).where(Service.name == "Sportfonds")).one()],
        message="graag", follow_up_on=default_follow_up(), send=True,
        form_token=str(uuid.uuid4()))[0].id)  # no consent for Jeugdfonds: a draft
    assert f'href="/referrals/{draft}"' in _section(_home(app, world.owner), "drafts")


def test_partner_sees_new_referrals_without_the_family(app, world):
    new = _section(_home(app, world.partner), "new")
    assert f'href="/referrals/{world.inbox_referral}"' in new
    assert f"/referrals/{world.letter_referral}" not in new  # not in their inbox
    assert "Zeynep" not in _home(app, world.partner)
    assert NOTHING in _home(app, world.other_partner)
    _as(app, world.partner, lambda s, partner: change_status(
        partner, s.get(Referral, world.inbox_referral), "accepted"))
    assert _section(_home(app, world.partner), "new") == ""


def test_partner_sees_the_owners_note_after_their_visit(app, world):
    partner = browser(app, world.partner)
    partner.get(f"/referrals/{world.inbox_referral}")
    _as(app, world.owner, lambda s, me: add_note(me, s.get(Referral, world.inbox_referral),
                                                 "Moeder is ziek, bel morgen."))
    changed = _section(partner.get("/").text, "changed")
    assert f'href="/referrals/{world.inbox_referral}"' in changed
    assert "Moeder is ziek" not in changed  # the note itself is on the referral's page


def test_bridge_request_waits_until_answered_then_changes_show(app, world):
    _as(app, world.owner, lambda s, me: assign_bridge(
        me, s.get(Referral, world.inbox_referral), s.get(User, world.bridge.id),
        family_agreed=True))
    bridge = browser(app, world.bridge)
    link = f'href="/referrals/{world.inbox_referral}"'
    assert link in _section(bridge.get("/").text, "requests")
    assert link not in _section(bridge.get("/").text, "changed")
    bridge.get(f"/referrals/{world.inbox_referral}")  # looked at, not answered: still waits
    assert link in _section(bridge.get("/").text, "requests")
    _as(app, world.bridge, lambda s, me: decide_bridge(
        me, s.get(Referral, world.inbox_referral), accept=True))
    assert _section(bridge.get("/").text, "requests") == ""
    _as(app, world.partner, lambda s, partner: change_status(
        partner, s.get(Referral, world.inbox_referral), "accepted"))
    assert link in _section(bridge.get("/").text, "changed")


def test_coordinator_sees_stuck_referrals_and_failing_mail(app, world):
    page = _home(app, world.coordinator)
    assert 'id="work-stuck"' not in page
    age(app, world.inbox_referral, 40)
    with app.app_context():
        from referral.mail import OutboxMessage
        for message in db.session().exec(select(OutboxMessage)).all():
            message.attempts, message.last_error = 3, "ConnectionRefusedError"
            db.session().add(message)
        db.commit()
    page = _home(app, world.coordinator)
    assert re.search(r"Vastgelopen verwijzingen.*?\(1\)", _section(page, "stuck"), re.S)
    assert 'href="/referrals/stuck"' in _section(page, "stuck")
    assert 'href="/outbox"' in _section(page, "mail")


def _grow(app, world, n):
    """n more families of the owner, each referred to the inbox service, accepted and noted
    by the partner, and overdue."""
    with app.app_context():
        session = db.session()
        nurse, partner = session.get(User, world.owner.id), session.get(User, world.partner.id)
        service = session.get(Service, world.inbox_service)
        for k in range(n):
            family = create_family(nurse, parent_names=f"Ouder {k}", municipality_code="GM0363",
                                   children=[(f"Kind {k}", date(2018, 1, 1))])
            signal = log_signal(nurse, family, domains=["food"], source="conversation",
                                observations="gezien")
            record_consent(nurse, family, organisation_id=service.organisation_id,
                           given_by="ouder", scope="alles", method="spoken",
                           given_on=date.today(), parent_agreed=True)
            [made] = refer(nurse, family, signal, [service], message="graag",
                           follow_up_on=default_follow_up(), send=True,
                           form_token=str(uuid.uuid4()))
            change_status(partner, made, "accepted")
            add_note(partner, made, "Gebeld.")
            made.follow_up_on = date(2020, 1, 1)
            session.add(made)
        db.commit()


@pytest.mark.parametrize("who", ["owner", "partner"])
def test_home_asks_the_same_statements_as_data_grows(app, world, who):
    client = browser(app, getattr(world, who))
    _grow(app, world, 1)
    with counted_queries(app) as few:
        assert client.get("/").status_code == 200
    _grow(app, world, 8)
    with counted_queries(app) as many:
        page = client.get("/").text
    assert len(many) == len(few), (few, many)
    assert page.count('href="/referrals/') <= 3 * 5 + 5  # a few rows per section, not all


def test_each_section_shows_its_first_rows_in_its_order_and_counts_them_all(app, world):
    """A role's sections are read in one statement: each keeps its own rows, order and
    count, and the owner's rows their own family."""
    _grow(app, world, 7)
    with app.app_context():
        session = db.session()
        grown = session.exec(select(Referral).join(Family, Family.id == Referral.family_id)
                             .where(Referral.follow_up_on == date(2020, 1, 1))).all()
        numbers = {}
        for referral in grown:  # Ouder 6 is the longest overdue, Ouder 0 the least
            number = int(session.get(Family, referral.family_id).parent_names.split()[-1])
            numbers[str(referral.id)] = number
            referral.follow_up_on = date(2020, 1, 10 - number)
            session.add(referral)
        db.commit()
    page = _home(app, world.owner)
    overdue = _section(page, "overdue")
    assert re.findall(r"Ouder \d", overdue) == ["Ouder 6", "Ouder 5", "Ouder 4", "Ouder 3",
                                                "Ouder 2"]
    assert re.search(r"Te laat met opvolgen.*?\(7\)", overdue, re.S)
    assert "opvolgen op 4 jan 2020" in re.sub(r"\s+", " ", overdue)
    changed = _section(page, "changed")  # the partner's notes: a section of its own
    shown = re.findall(r'href="/referrals/([0-9a-f-]{36})"', changed)
    assert [numbers[referral] for referral in shown] == [6, 5, 4, 3, 2]  # newest note first
    assert re.search(r"Door anderen veranderd.*?\((\d+)\)", changed, re.S).group(1) == "7"
