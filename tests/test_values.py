"""Rows read as values (db.values): a page's rows without the ORM's bookkeeping, but with
their encrypted values opening as the model's would, and nothing set on them saved."""

from sqlmodel import select

from referral import db, familykeys
from referral.auth.models import User
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



def test_my_families_page_reads_values_that_open(app, world):
    with app.test_request_context():
        page, children = caseload(db.session().get(User, world.owner.id))
        [family] = page.results
        assert not isinstance(family, Family)
        assert family.parent_names == db.session().get(Family, world.family_id).parent_names
        assert [child.first_name for child in children[family.id]] == ["Elif"]
