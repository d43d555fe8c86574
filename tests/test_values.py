"""Rows read as values (db.values): a page's rows without the ORM's bookkeeping, but with
their encrypted values opening as the model's would, and nothing set on them saved."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect
from sqlmodel import Session, select

from referral import db, familykeys
from referral.auth.models import User
from referral.auth.queries import by_id
from referral.cases.models import Consent, Family, Signal
from referral.cases.queries import caseload, consents_of, read_family
from referral.referrals.models import EventKind, Referral, ReferralEvent
from referral.referrals.operations import new_event
from tests.conftest import counted_queries

NOTE = "Moeder gebeld over de schoolspullen."


def test_values_open_as_the_models_do_and_save_nothing(app, world):
    with app.test_request_context():
        family = familykeys.get(Family, world.family_id)
        _children, signals, _domains = read_family(world.owner, family)
        model = db.session().get(Signal, world.signal_id)
        value = next(signal for signal in signals if signal.id == world.signal_id)
        assert value.observations == model.observations
        assert (value.strengths, value.urgency, value.created_at) == (
            model.strengths, model.urgency, model.created_at)
        assert not isinstance(value, Signal)  # not mapped: the session never holds it
        consent = consents_of(family)[0]
        stored = db.session().exec(select(Consent).where(Consent.id == consent.id)).one()
        assert (consent.scope, consent.given_by, consent.active) == (
            stored.scope, stored.given_by, stored.active)
        value.observations = "changed on a value"
        db.commit()
        db.session().expire_all()
        assert db.session().get(Signal, world.signal_id).observations == model.observations


def test_a_user_read_as_columns_is_the_sessions_loaded_user(app, world):
    """The session's user is read as a row of columns (db.loaded), yet it is the ORM's
    model: the same values as the ORM's load, the session's one object for that id, and a
    change to it saved."""
    with app.test_request_context():
        user = by_id(world.owner.id)
        assert isinstance(user, User) and inspect(user).persistent
        assert db.session().get(User, world.owner.id) is user  # no second object
        assert by_id(world.owner.id) is user
        assert by_id(uuid.uuid4()) is None
        with Session(db.session().connection()) as apart:  # the ORM's own load
            orm = apart.exec(select(User).where(User.id == world.owner.id)).one()
            assert user.model_dump() == orm.model_dump()
            assert (user.name, user.email) == (orm.name, orm.email)
        assert not db.session().dirty  # loaded as stored: nothing to save
        user.language = "en"
        db.commit()
    with app.test_request_context():
        stored = db.session().exec(select(User).where(User.id == world.owner.id)).one()
        assert stored.language == "en"


def test_my_families_page_reads_values_that_open(app, world):
    with app.test_request_context():
        page, children = caseload(db.session().get(User, world.owner.id))
        [family] = page.results
        assert not isinstance(family, Family)
        assert family.parent_names == db.session().get(Family, world.family_id).parent_names
        assert [child.first_name for child in children[family.id]] == ["Elif"]


def test_a_new_value_is_written_as_the_model_would_be(app, world):
    """A row written as a value (db.new_value, db.insert) — a referral's event, a mail in
    the outbox — is stored as the ORM would store the model: the model's defaults for what
    is not given, its sealed text opening as the model's, nothing left for the session to
    write; values of one model given together go in one statement."""
    with app.test_request_context(), counted_queries(app) as statements:
        note = new_event(world.inbox_referral, world.owner.id, EventKind.note, text=NOTE)
        other = new_event(world.inbox_referral, world.owner.id, EventKind.note, text="Twee.")
        assert not [s for s in statements if not s.startswith("SELECT")]  # not written
        statements.clear()
        db.insert(note, other)
        assert [s.split()[0] for s in statements] == ["INSERT"]
        assert not (db.session().new or db.session().dirty)
        db.commit()
    with app.test_request_context():
        stored = db.session().get(ReferralEvent, note.id)
        assert (stored.text, stored.kind, stored.on_behalf, stored.actor_id) == (
            NOTE, EventKind.note, False, world.owner.id)
        assert stored.text_enc != NOTE and db.aware(stored.at) == db.aware(note.at)
        assert db.session().get(ReferralEvent, other.id).text == "Twee."
    with app.test_request_context():
        with pytest.raises(TypeError, match="no column"):
            db.new_value(ReferralEvent, referral_id=world.inbox_referral,
                         kind=EventKind.note, colour="blue")
        with pytest.raises(TypeError, match="kind is required"):
            db.new_value(ReferralEvent, referral_id=world.inbox_referral)


def test_a_stored_object_updated_as_a_row_is_not_written_again(app, world):
    """db.update writes a stored object's columns at once and leaves the object as stored
    (the ORM has nothing to write); an object the ORM will write anyway — changed
    otherwise, or new — gets the values set, written with the rest in one statement."""
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with app.test_request_context(), counted_queries(app) as statements:
        referral = db.session().get(Referral, world.inbox_referral)
        statements.clear()
        db.update(referral, last_activity_at=moment, version=referral.version + 1)
        assert [s.split()[0] for s in statements] == ["UPDATE"]
        assert referral.last_activity_at == moment and not db.session().dirty
        referral.follow_up_on = referral.follow_up_on + timedelta(days=1)
        statements.clear()
        db.update(referral, last_activity_at=moment + timedelta(hours=1))
        assert statements == []  # set: the ORM writes it with the follow-up date
        db.commit()
        assert [s.split()[0] for s in statements] == ["UPDATE"]
    with app.test_request_context():
        stored = db.session().get(Referral, world.inbox_referral)
        assert db.aware(stored.last_activity_at) == moment + timedelta(hours=1)
        assert stored.version == referral.version
