"""Every case operation (families, rectification, signals, consent) called directly, without
HTTP, as every person of the world and as the command line: who may is let through;
everyone else is refused, the refusal writes nothing, and where the policy said no the
access log has the denial. Then the rules the one who may still meets."""

import uuid
from datetime import date, timedelta

import pytest
from sqlmodel import select

from referral import db
from referral.auth.models import User
from referral.cases.models import Child, Consent, Family
from referral.cases.operations import (
    correct_family,
    create_family,
    log_signal,
    record_consent,
    withdraw_consent,
)
from referral.directory.models import Organisation, Service
from referral.errors import Denied
from referral.mail import OutboxMessage
from referral.referrals.models import ReferralEvent
from tests.matrix import WORLD_ACTORS as ACTORS
from tests.matrix import accompany, attempt, check_as, denials, snapshot


def _born(years_ago):
    today = date.today()
    return today.replace(year=today.year - years_ago) - timedelta(days=1)


def _family(world):
    return db.session().get(Family, world.family_id)


def _organisation(name):
    return db.session().exec(select(Organisation).where(Organisation.name == name)).one()


def _children(family_id):
    return sorted(db.session().exec(select(Child).where(Child.family_id == family_id)),
                  key=lambda child: child.first_name)


def _consent_for(world, service_id):
    organisation_id = db.session().get(Service, service_id).organisation_id
    return db.session().exec(select(Consent).where(
        Consent.family_id == world.family_id,
        Consent.organisation_id == organisation_id)).one()


# --- the operations, each as one call ------------------------------------------------------

FAMILY = dict(parent_names="Anna de Vries", phone="06-11112222", street="Dorpsstraat",
              house_number="5", postcode="1234 ab", municipality_code="GM0363",
              language="nl", children=[("Noor", date(2016, 5, 1))])
CORRECTED = dict(parent_names="Zeynep Yılmaz", phone="06-12345679", email=None,
                 street="Kade", house_number="7", postcode="1011 AB",
                 municipality_code="GM0363", language="tr")


def _create(user, world, _context, **changes):
    create_family(user, **{**FAMILY, **changes})


def _correct(user, world, _context, children=None, **changes):
    family = _family(world)
    if children is None:
        children = [(child.id, child.first_name, child.birth_date)
                    for child in _children(family.id)]
    correct_family(user, family, children=children, **{**CORRECTED, **changes})


def _signal(user, world, _context, **changes):
    fields = dict(domains=["money"], observations="Rekeningen stapelen zich op.",
                  source="conversation", urgency="soon", strengths="Vader werkt.")
    log_signal(user, _family(world), **{**fields, **changes})


def _consent(user, world, _context, family=None, **changes):
    fields = dict(organisation_id=_organisation("Jeugdfonds").id, given_by="Zeynep Yilmaz",
                  scope="naam en sportwens", method="spoken", given_on=date.today(),
                  parent_agreed=True)
    record_consent(user, family or _family(world), **{**fields, **changes})


def _withdraw(user, world, _context):
    withdraw_consent(user, _consent_for(world, world.inbox_service))


# name: (call, the policy rule that says no, who may)
OPERATIONS = {
    "create a family": (_create, "family.create", {"owner", "colleague", "stranger"}),
    "correct the family": (_correct, "family.edit", {"owner"}),
    "log a signal": (_signal, "signal.create", {"owner"}),
    "record consent": (_consent, "consent.record", {"owner"}),
    "withdraw consent": (_withdraw, "consent.record", {"owner"}),
}


@pytest.mark.parametrize("who", ACTORS)
@pytest.mark.parametrize("name", list(OPERATIONS))
def test_who_may_change_a_case(app, world, name, who):
    call, rule, may = OPERATIONS[name]
    if who == "bridge_assigned":
        accompany(app, world)
    check_as(app, world, who, call, may=may, rule=rule)


def test_withdrawing_consent_tells_the_referrals_at_once(app, world):
    """One operation: the consent stops, the referral under it gets the event, and its
    partner is mailed; the referral to the other organisation is untouched."""
    assert attempt(app, world, "owner", _withdraw) is None
    with app.app_context():
        consent = _consent_for(world, world.inbox_service)
        events = db.session().exec(select(ReferralEvent).where(
            ReferralEvent.kind == "consent")).all()
        mail = [m.recipient for m in db.session().exec(select(OutboxMessage))]
    assert not consent.active and consent.withdrawn_by == world.owner.id
    assert [(e.referral_id, e.outcome) for e in events] == [(world.inbox_referral, "withdrawn")]
    assert "aanmelden@voedselbank.example" in mail


# --- the rules the one who may still meets -------------------------------------------------

def _nothing(app, world):
    return None


def _a_family_with(*ages):
    """Another family of the owner, with children of these ages; their ids by age."""
    def setup(app, world):
        with app.app_context():
            owner = db.session().get(User, world.owner.id)
            family = create_family(owner, parent_names="Fam. Bakker",
                                   children=[(f"Kind {age}", _born(age)) for age in ages])
            db.commit()
            return {"family": family.id, **{
                age: child.id for age, child in zip(ages, sorted(
                    _children(family.id), key=lambda c: int(c.first_name.split()[1])),
                    strict=True)}}
    return setup


def _consent_about(age, **agreed):
    def call(user, world, context):
        family = db.session().get(Family, context["family"])
        child = db.session().get(Child, context[age])
        _consent(user, world, None, family=family, child=child, **agreed)
    return call


def _consent_about_a_child_elsewhere(user, world, context):
    _consent(user, world, None, child=db.session().get(Child, context[10]))


def _inactive(name):
    def setup(app, world):
        with app.app_context():
            _organisation(name).active = False
            db.commit()
    return setup


def _withdrawn(app, world):
    with app.app_context():
        owner = db.session().get(User, world.owner.id)
        withdraw_consent(owner, _consent_for(world, world.inbox_service))
        db.commit()


def _untrained(app, world):
    with app.app_context():
        db.session().get(User, world.owner.id).trained_on = None
        db.commit()


def _correct_leaving_out_a_child(user, world, context):
    _correct(user, world, context, children=[])


def _correct_with_a_child_elsewhere(user, world, context):
    child = db.session().get(Child, context[10])
    _correct(user, world, context,
             children=[(child.id, "Elif", date(2017, 3, 1))])


def _call(function, **changes):
    return lambda user, world, context: function(user, world, context, **changes)


# (what is tried, setup, call, the message in English, or Denied and its rule)
RULES = [
    ("a child of 13 without the child", _a_family_with(13), _consent_about(13),
     "For a child of 12 to 15, both the child and a parent must agree."),
    ("a young person of 17 without them", _a_family_with(17), _consent_about(17),
     "A young person of 16 or older agrees for themselves."),
    ("a child of 5 without a parent", _a_family_with(5),
     _consent_about(5, parent_agreed=False, child_agreed=True),
     "A parent or guardian must agree."),
    ("a child of another family", _a_family_with(10), _consent_about_a_child_elsewhere,
     "This does not belong to this family."),
    ("an organisation no longer active", _inactive("Jeugdfonds"), _consent,
     "Choose an active organisation."),
    ("an organisation that does not exist", _nothing,
     _call(_consent, organisation_id=uuid.uuid4()), "Choose an active organisation."),
    ("consent given tomorrow", _nothing,
     _call(_consent, given_on=date.today() + timedelta(days=1)),
     "The date cannot be in the future."),
    ("consent by telepathy", _nothing, _call(_consent, method="telepathy"),
     "Choose one of the options offered."),
    ("consent without a scope", _nothing, _call(_consent, scope=" "),
     "Write what may be shared."),
    ("a consent withdrawn before", _withdrawn, _withdraw,
     "This consent is already withdrawn."),
    ("a family without a name", _nothing, _call(_create, parent_names=" "),
     "Enter at least one name."),
    ("a family with a postcode that is none", _nothing, _call(_create, postcode="12345"),
     "Enter a postcode like 1234 AB."),
    ("a child born in 1980", _nothing,
     _call(_create, children=[("Oud", date(1980, 1, 1))]),
     "Enter a date of birth in the past 27 years."),
    ("a language not offered", _nothing, _call(_create, language="xx"),
     "Choose one of the options offered."),
    ("a correction that leaves a child out", _nothing, _correct_leaving_out_a_child,
     "Give every child's first name and date of birth."),
    ("a correction of another family's child", _a_family_with(10),
     _correct_with_a_child_elsewhere, "Give every child's first name and date of birth."),
    ("a signal without need domains", _nothing, _call(_signal, domains=[]),
     "Choose at least one need domain."),
    ("a need domain that does not exist", _nothing, _call(_signal, domains=["luck"]),
     "Choose at least one need domain."),
    ("a signal without observations", _nothing, _call(_signal, observations=""),
     "Describe what you noticed."),
    ("a signal by a professional without training", _untrained, _signal,
     (Denied, "signal.create")),
]


@pytest.mark.parametrize(("what", "setup", "call", "expected"), RULES,
                         ids=[rule[0] for rule in RULES])
def test_the_rules_hold_for_the_owner(app, world, what, setup, call, expected):
    context = setup(app, world)
    before, denied = snapshot(app), len(denials(app))
    refused = attempt(app, world, "owner", call, context)
    assert refused is not None, what
    assert snapshot(app) == before
    if isinstance(expected, tuple):
        [entry] = denials(app)[denied:]
        assert isinstance(refused, Denied) and entry.summary == f"denied: {expected[1]}"
    else:
        assert not isinstance(refused, Denied) and refused.english == expected
        assert len(denials(app)) == denied
