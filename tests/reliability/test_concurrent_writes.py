"""Several worker processes writing at once: each write is saved, or its writer gets the
friendly "busy" page and nothing of it is saved; never "database is locked", never a 500;
and of two people changing the same referral, the second is told it changed."""

import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import select

from referral import create_app, db
from referral.referrals.models import EventKind, Referral, ReferralEvent
from tests.conftest import PG_URL, _config
from tests.reliability.conftest import Browser, backends
from tests.world import refer_again

BUSY = "De dienst is druk of niet bereikbaar"
SAVED = "De notitie is bewaard."
CHANGED = "Deze verwijzing is veranderd terwijl je ernaar keek."


def assert_no_internals(response):
    assert response.status in (200, 503), response.status
    assert "locked" not in response.text.lower() and "Traceback" not in response.text
    if response.status == 503:
        assert BUSY in response.text and "Er is niets opgeslagen" in response.text


def notes(app, referral_id):
    with app.app_context():
        return {e.text for e in db.session().exec(select(ReferralEvent).where(
            ReferralEvent.referral_id == referral_id, ReferralEvent.kind == EventKind.note))}


def test_many_writers_at_once_each_save_or_get_the_busy_page(app, app_config, world, gunicorn):
    server = gunicorn(app_config, workers=3)
    owner, partner = Browser(server.base), Browser(server.base)
    owner.login(world.owner)
    partner.login(world.partner)
    # The owner writes on both referrals, the partner on the one in its inbox.
    writers = [(owner, world.inbox_referral), (owner, world.letter_referral),
               (partner, world.inbox_referral)]
    tokens = {id(b): b.form(f"/referrals/{world.inbox_referral}")["csrf_token"]
              for b in (owner, partner)}

    def write(number):
        browser, referral_id = writers[number % len(writers)]
        text = f"Notitie {number}"
        return referral_id, text, browser.request(f"/referrals/{referral_id}/notes",
                                                  {"csrf_token": tokens[id(browser)],
                                                   "text": text})

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(write, range(30)))

    saved = {world.inbox_referral: set(), world.letter_referral: set()}
    for referral_id, text, response in results:
        assert_no_internals(response)
        # Redirected to the referral: the note was saved (a 503 there: only the page after
        # it was busy; its "saved" message may show on another page of the same person, whose
        # requests run side by side and share one session).
        if not response.url.endswith("/notes"):
            assert response.status in (200, 503)
            saved[referral_id].add(text)
        else:
            assert response.status == 503 or SAVED in response.text
    assert sum(len(texts) for texts in saved.values()) > len(results) // 2
    for referral_id, texts in saved.items():
        assert notes(app, referral_id) == texts


@pytest.fixture
def sqlite_config(new_database, tmp_path):
    """A fresh migrated SQLite database, also on the PostgreSQL pass."""
    if not PG_URL:
        return _config(*new_database("sqlite"))
    instance, _ = new_database("sqlite")
    config = _config(instance, f"sqlite:///{instance / 'referral.sqlite'}")
    app = create_app(config)
    with app.app_context():
        command.upgrade(db.alembic_config(), "head")
    app.extensions["referral.engine"].dispose()
    return config


def count(database, table):
    with closing(sqlite3.connect(database)) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608


def test_a_writer_waits_for_the_sqlite_lock_then_gets_the_busy_page(sqlite_config, gunicorn):
    server = gunicorn(sqlite_config, workers=2, env={"REFERRAL_SQLITE_BUSY_TIMEOUT_MS": "700"})
    database = sa.engine.make_url(sqlite_config["DATABASE_URL"]).database
    browser = Browser(server.base)
    attempt = {"csrf_token": browser.form("/login")["csrf_token"],
               "email": "iemand@example.org", "password": "een-verkeerd-wachtwoord"}
    before = count(database, "audit_event")
    # Another process (a backup, a long command) holds the write lock.
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        response = browser.request("/login", attempt)
        waited = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status == 503 and 0.7 <= waited < 9  # not the default 10 s
    assert_no_internals(response)
    assert count(database, "login_attempt") == 0 and count(database, "audit_event") == before
    # The lock is free again: the same attempt goes through (and is counted).
    again = browser.request("/login", attempt)
    assert again.status == 200 and "E-mailadres of wachtwoord klopt niet." in again.text
    assert count(database, "login_attempt") == 1


# --- two people change the same referral -------------------------------------------------

def step(browser, referral_id, target, fields, **values):
    """Press a step's button with the form as it was shown (its version included)."""
    data = {f"{target}-csrf_token": fields["csrf_token"],
            f"{target}-version": fields[f"{target}-version"],
            f"{target}-confirm": "y",  # the box the steps that end a referral ask for
            **{f"{target}-{k}": v for k, v in values.items()}}
    return browser.request(f"/referrals/{referral_id}/status/{target}", data)


def status_changes(app, referral_id):
    with app.app_context():
        session = db.session()
        referral = session.get(Referral, referral_id)
        events = session.exec(select(ReferralEvent.to_status).where(
            ReferralEvent.referral_id == referral_id, ReferralEvent.kind == EventKind.status)
            .order_by(ReferralEvent.at)).all()
        return referral.status, referral.version, events


def test_of_two_people_changing_a_referral_the_second_is_told(app, app_config, world,
                                                               gunicorn):
    server = gunicorn(app_config, workers=2)
    owner, partner = Browser(server.base), Browser(server.base)
    owner.login(world.owner)
    partner.login(world.partner)

    # One after the other, each from the page as it was when they opened it.
    page = f"/referrals/{world.inbox_referral}"
    seen_by_owner, seen_by_partner = owner.form(page), partner.form(page)
    _, version, _ = status_changes(app, world.inbox_referral)
    assert seen_by_owner["cancelled-version"] == seen_by_partner["accepted-version"] == str(
        version)
    accepted = step(partner, world.inbox_referral, "accepted", seen_by_partner)
    assert accepted.status == 200 and "De verwijzing is nu: " in accepted.text
    cancelled = step(owner, world.inbox_referral, "cancelled", seen_by_owner,
                     reason="Gezin verhuisd")
    assert cancelled.status == 200 and CHANGED in cancelled.text
    assert status_changes(app, world.inbox_referral) == (
        "accepted", version + 1, ["requested", "accepted"])

    # At the same moment: the test holds the referral (on SQLite: the whole database), so
    # both changes arrive and wait for it; then it lets go and they race.
    engine = app.extensions["referral.engine"]
    for _ in range(2):
        referral_id = refer_again(app, world, world.inbox_service)
        page = f"/referrals/{referral_id}"
        seen_by_owner, seen_by_partner = owner.form(page), partner.form(page)
        _, version, _ = status_changes(app, referral_id)
        with ThreadPoolExecutor(2) as pool:
            with engine.begin() as conn:
                conn.execute(select(Referral.id).where(Referral.id == referral_id)
                             .with_for_update())
                answers = [pool.submit(step, partner, referral_id, "accepted", seen_by_partner),
                           pool.submit(step, owner, referral_id, "cancelled", seen_by_owner,
                                       reason="Gezin verhuisd")]
                wait_until_both_wait(app_config)
            accepted, cancelled = (answer.result() for answer in answers)
        for response in (accepted, cancelled):
            assert_no_internals(response)
            assert response.status == 200
        status, new_version, events = status_changes(app, referral_id)
        # Exactly one of them went through; the other was told, and changed nothing.
        assert [CHANGED in accepted.text, CHANGED in cancelled.text] == [
            status == "cancelled", status == "accepted"]
        assert new_version == version + 1 and events == ["requested", status]


def wait_until_both_wait(app_config):
    """Until both requests wait for the lock the test holds."""
    if not app_config["DATABASE_URL"].startswith("postgresql"):
        time.sleep(1)  # SQLite shows no one waiting: give them time to arrive
        return
    deadline = time.monotonic() + 10
    while len(backends(app_config["DATABASE_URL"], wait_event_type="Lock")) < 2:
        assert time.monotonic() < deadline, "the two changes did not both arrive"
        time.sleep(0.05)
