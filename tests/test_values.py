"""Rows read as values (db.values): a page's rows without the ORM's bookkeeping, but with
their encrypted values opening as the model's would, and nothing set on them saved."""

import uuid

from sqlalchemy import inspect
from sqlmodel import Session, select

from referral import db, familykeys
from referral.auth.models import User
from referral.auth.queries import by_id
from referral.cases.models import Consent, Family, Signal
from referral.cases.queries import caseload, consents_of, read_family


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
