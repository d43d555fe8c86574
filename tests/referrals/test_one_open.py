"""One open referral per family, signal and service: whatever the tabs, the Back button or
double clicks, a second attempt makes nothing and links the open one; held by the database
too (a partial unique index), also when two requests come at once."""

import re
import threading
import uuid
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import func, select

from referral import db
from referral.auth.models import User
from referral.cases.models import Family, Signal
from referral.directory.models import Service
from referral.errors import Refused
from referral.referrals.models import OPEN, Referral, Status
from referral.referrals.operations import AlreadyReferred, change_status, new_referral, refer
from referral.referrals.queries import default_follow_up
from tests.matrix import nothing_written


def _refer(world, services, *, token=None, send=True):
    session = db.session()
    return refer(session.get(User, world.owner.id), session.get(Family, world.family_id),
                 session.get(Signal, world.signal_id),
                 [session.get(Service, s) for s in services], message="Graag bellen.",
                 follow_up_on=default_follow_up(), send=send,
                 form_token=token or str(uuid.uuid4()))


def _open_to(world, service_id):
    return db.session().exec(select(func.count()).select_from(Referral).where(
        Referral.signal_id == world.signal_id, Referral.service_id == service_id,
        Referral.status.in_([s.value for s in OPEN]))).one()


# --- the operation -------------------------------------------------------------------------

def test_a_second_referral_to_an_open_service_is_refused_and_names_the_open_one(app, world):
    with app.app_context():
        with nothing_written(Refused) as raised:
            _refer(world, [world.inbox_service])
        refused = raised.value
        assert isinstance(refused, AlreadyReferred) and refused.field == "services"
        assert [r.id for r in refused.referrals] == [world.inbox_referral]
        assert _open_to(world, world.inbox_service) == 1


def test_one_open_service_among_new_ones_refuses_the_whole_form(app, world, make_service):
    extra = make_service("Zwemles", organisation="Jeugdfonds", referral_route="inbox")
    with app.app_context():
        with nothing_written(AlreadyReferred):
            _refer(world, [extra, world.letter_service])
        assert _open_to(world, extra) == 0


def test_a_draft_counts_as_open(app, world, make_service):
    extra = make_service("Zwemles", organisation="Jeugdfonds", referral_route="inbox")
    with app.app_context():
        [draft] = _refer(world, [extra], send=False)
        db.commit()
        with nothing_written(AlreadyReferred) as raised:
            _refer(world, [extra])
        assert [r.id for r in raised.value.referrals] == [draft.id]


def test_the_same_form_sent_again_gives_back_what_it_made(app, world, make_service):
    extra = make_service("Zwemles", organisation="Jeugdfonds", referral_route="inbox")
    token = str(uuid.uuid4())
    with app.app_context():
        first = _refer(world, [extra], token=token)
        db.commit()
        assert [r.id for r in _refer(world, [extra], token=token)] == [r.id for r in first]
        assert _open_to(world, extra) == 1


@pytest.mark.parametrize("closing", [Status.cancelled, Status.entered_in_error])
def test_once_closed_the_service_may_be_referred_to_again(app, world, closing):
    with app.app_context():
        owner = db.session().get(User, world.owner.id)
        change_status(owner, db.session().get(Referral, world.inbox_referral), closing,
                      reason="Verkeerd ingevuld.")
        [again] = _refer(world, [world.inbox_service])
        db.commit()
        assert again.status == Status.requested and _open_to(world, world.inbox_service) == 1


def test_reopening_is_refused_while_a_newer_referral_is_open(app, world):
    with app.app_context():
        session = db.session()
        owner, partner = session.get(User, world.owner.id), session.get(User, world.partner.id)
        old = session.get(Referral, world.inbox_referral)
        for target in (Status.accepted, Status.in_progress):
            change_status(partner, old, target)
        change_status(partner, old, Status.completed, outcome="partly_met")
        [new] = _refer(world, [world.inbox_service])
        db.commit()
        with nothing_written(AlreadyReferred) as raised:
            change_status(owner, session.get(Referral, world.inbox_referral), Status.requested,
                          reason="Toch nog nodig.")
        assert [r.id for r in raised.value.referrals] == [new.id]


def test_another_signal_of_the_family_may_refer_to_the_same_service(app, world):
    from referral.cases.operations import log_signal

    with app.app_context():
        session = db.session()
        owner = session.get(User, world.owner.id)
        signal = log_signal(owner, session.get(Family, world.family_id), domains=["food"],
                            source="conversation", observations="Weer geen ontbijt.")
        [made] = refer(owner, session.get(Family, world.family_id), signal,
                       [session.get(Service, world.inbox_service)], message="Opnieuw.",
                       follow_up_on=default_follow_up(), send=True,
                       form_token=str(uuid.uuid4()))
        db.commit()
        assert made.status == Status.requested


# --- the database holds it too -------------------------------------------------------------

def _row(world, *, status=Status.requested):
    return new_referral(family_id=world.family_id,
                        signal=db.session().get(Signal, world.signal_id),
                        service_id=world.inbox_service,
                        organisation_id=db.session().get(
                            Service, world.inbox_service).organisation_id,
                        by_inbox=True, owner_id=world.owner.id, message="rauw",
                        follow_up_on=default_follow_up(), form_token=str(uuid.uuid4()),
                        status=status)


def test_the_database_refuses_a_second_open_row(app, world):
    with app.app_context():
        session = db.session()
        with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
            db.insert(_row(world))
        with session.begin_nested():  # a closed one is history, not a second open one
            db.insert(_row(world, status=Status.cancelled))


@pytest.mark.own_database
def test_two_requests_at_once_make_one_referral(app, world):
    """The first holds its transaction open; the second, started meanwhile, waits for it
    and is then refused, on SQLite (its write lock) and PostgreSQL (the signal's row lock)."""
    with app.app_context():
        owner = db.session().get(User, world.owner.id)
        change_status(owner, db.session().get(Referral, world.inbox_referral),
                      Status.cancelled, reason="Opnieuw, met een betere tekst.")
        db.commit()
    made, outcomes, first_flushed = [], [], threading.Event()

    def first():
        with app.app_context():
            made.extend(r.id for r in _refer(world, [world.inbox_service]))
            first_flushed.set()
            threading.Event().wait(0.5)  # the second request starts now
            db.commit()

    def second():
        first_flushed.wait(5)
        with app.app_context():
            try:
                _refer(world, [world.inbox_service])
                db.commit()
                outcomes.append("made")
            except AlreadyReferred as refused:
                outcomes.append([r.id for r in refused.referrals])

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert outcomes == [made]
    with app.app_context():
        assert _open_to(world, world.inbox_service) == 1


# --- the refer page ------------------------------------------------------------------------

def _page(client, world):
    return client.get(f"/referrals/new/{world.signal_id}")


def _tokens(page):
    return (re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1),
            re.search(r'name="form_token"[^>]*value="([^"]+)"', page.text).group(1))


def _send(client, world, page, services, **fields):
    csrf, token = _tokens(page)
    return client.post(f"/referrals/new/{world.signal_id}", data={
        "csrf_token": csrf, "form_token": token, "services": [str(s) for s in services],
        "message": "Graag contact opnemen.", "send": "1",
        "follow_up_on": (date.today() + timedelta(days=14)).isoformat(), **fields})


def _count(app, world):
    with app.app_context():
        return db.session().exec(select(func.count()).select_from(Referral).where(
            Referral.family_id == world.family_id)).one()


def test_two_tabs_make_one_referral_and_the_second_links_the_first(app, client, login, world,
                                                                  make_service):
    extra = make_service("Zwemles", organisation="Jeugdfonds", referral_route="inbox")
    login(world.owner)
    tab1, tab2 = _page(client, world), _page(client, world)
    assert _send(client, world, tab1, [extra]).status_code == 303
    second = _send(client, world, tab2, [extra])
    assert second.status_code == 200
    with app.app_context():
        [first] = db.session().exec(select(Referral).where(Referral.service_id == extra)).all()
    assert "al een open verwijzing" in second.text
    assert f'href="/referrals/{first.id}"' in second.text
    # The summary's link lands on the first box of the list of services, which takes focus.
    target = re.search(r'class="error-summary".*?href="#(services[-\w]*)"', second.text, re.S)
    assert target and f'id="{target.group(1)}"' in second.text
    assert _count(app, world) == 3


def test_back_and_send_again_makes_nothing_new(app, client, login, world, make_service):
    extra = make_service("Zwemles", organisation="Jeugdfonds", referral_route="inbox")
    login(world.owner)
    assert _send(client, world, _page(client, world), [extra]).status_code == 303
    again = _send(client, world, _page(client, world), [extra])  # Back reloads: a new token
    assert again.status_code == 200 and "Er is een probleem" in again.text
    assert _count(app, world) == 3


def test_the_refer_page_warns_beside_a_service_the_family_is_referred_to(client, login, world):
    login(world.owner)
    page = _page(client, world).text
    item = page.split(f'id="service-{world.inbox_service}"')[1].split("</div></li>")[0]
    assert "Al verwezen" in item and f'href="/referrals/{world.inbox_referral}"' in item


@pytest.mark.own_database
def test_the_upgrade_names_open_duplicates_made_before_the_guard(app, world, runner):
    with app.app_context():  # built (its message sealed) while the family's key is there
        extra = _row(world)
    # Just below the guard's migration: the row's columns but the urgency the referral keeps
    # since a later one.
    columns = [sa.column(column.name, column.type) for column in Referral.__table__.columns
               if column.name != "urgency_rank"]
    row = {column.name: getattr(extra, column.name) for column in columns}
    assert runner.invoke(args=["db", "downgrade", "e06f5f65b70d"]).exit_code == 0
    with app.app_context():  # a second open referral, as the code before the guard made
        db.session().execute(sa.insert(sa.table("referral", *columns)), row)
        db.commit()
        extra_id = extra.id
    stopped = runner.invoke(args=["db", "upgrade"])
    assert stopped.exit_code != 0
    message = str(stopped.exception)
    assert "1 signals have more than one open referral" in message
    assert str(world.signal_id) in message
    with app.app_context():  # the coordinator closes the extra one, then upgrades again
        db.session().execute(sa.update(Referral).where(Referral.id == extra_id)
                             .values(status=Status.entered_in_error))
        db.commit()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["db", "check"]).exit_code == 0


def _item(page, service_id):
    return page.split(f'id="service-{service_id}"')[1].split("</div></li>")[0]


def test_the_picker_shows_what_is_needed_to_choose(client, login, world, make_service):
    full = make_service("Zwemles", organisation="Jeugdfonds", capacity="waiting_list",
                        waiting_weeks=6, minimum_age=5, maximum_age=12,
                        eligibility_description="Kinderen uit gezinnen met een laag inkomen",
                        income_limit_percent=120, phone="010-5550103")
    nowhere = make_service("Soepmiddag", organisation="Buurthuis Zonder Nummer")
    login(world.owner)
    page = _page(client, world).text
    zwemles = re.sub(r"\s+", " ", _item(page, full))
    for shown in ("Plek: wachtlijst", "wachttijd ongeveer 6 weken", "Leeftijd: 5 tot en met 12",
                  "Voor wie: Kinderen uit gezinnen met een laag inkomen",
                  "Inkomensgrens: tot 120%"):
        assert shown in zwemles, shown
    assert "Let op:" not in zwemles
    soup = _item(page, nowhere)
    assert "<strong>Let op:</strong> van deze dienst is geen telefoonnummer" in soup
    # The box and its label are one row: the box first, then its label beside it.
    assert re.search(rf'<li><input type="checkbox" name="services" id="service-{nowhere}"'
                     rf'[^>]*>\s*<div>\s*<label for="service-{nowhere}">', page)
