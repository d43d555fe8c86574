"""The feedback operations called directly, without HTTP: inviting as every person of the
world and as the command line (only who works on the family may; a refusal writes nothing
but the denial), the rules of an invitation, and answering with nothing but the link."""

from datetime import date, timedelta

import pytest
from flask_babel import force_locale
from sqlmodel import func, select

from referral import db
from referral.auth.models import User
from referral.cases.models import Child, Family
from referral.cases.operations import create_family
from referral.errors import Denied, Refused
from referral.feedback.models import FeedbackAttempt, FeedbackInvite, FeedbackResponse
from referral.feedback.operations import invite, open_link, submit
from referral.referrals.models import Referral
from tests.matrix import WORLD_ACTORS as ACTORS
from tests.matrix import accompany, attempt, check_as, denials, snapshot


def _family(world):
    return db.session().get(Family, world.family_id)


def _elif(world):
    return db.session().exec(select(Child).where(Child.family_id == world.family_id)).one()


def _invite_a_parent(user, world, _context):
    invite(user, _family(world), referral=db.session().get(Referral, world.inbox_referral),
           language="ar")


def _invite_the_child(user, world, _context):
    invite(user, _family(world), child=_elif(world))


# name: (call, who may)
OPERATIONS = {
    "invite a parent": (_invite_a_parent, {"owner"}),
    "invite a child": (_invite_the_child, {"owner"}),
}


@pytest.mark.parametrize("who", ACTORS)
@pytest.mark.parametrize("name", list(OPERATIONS))
def test_only_who_works_on_the_family_invites(app, world, name, who):
    call, may = OPERATIONS[name]
    if who == "bridge_assigned":
        accompany(app, world)
    check_as(app, world, who, call, may=may, rule="feedback.invite")


def _another_family(app, world):
    """Another family of the owner, with a child of 3: too young for a form of their own."""
    with app.app_context():
        family = create_family(db.session().get(User, world.owner.id), parent_names="Fam. Smit",
                               children=[("Bo", date.today() - timedelta(days=3 * 366))])
        db.commit()
        return family.id


def _about_the_worlds_referral(user, world, family_id):
    invite(user, db.session().get(Family, family_id),
           referral=db.session().get(Referral, world.inbox_referral))


def _the_worlds_child(user, world, family_id):
    invite(user, db.session().get(Family, family_id), child=_elif(world))


def _a_child_of_three(user, world, family_id):
    family = db.session().get(Family, family_id)
    child = db.session().exec(select(Child).where(Child.family_id == family.id)).one()
    invite(user, family, child=child)


def _in_klingon(user, world, _family_id):
    invite(user, _family(world), language="tlh")


RULES = [
    ("a referral of another family", _about_the_worlds_referral,
     "This does not belong to this family."),
    ("a child of another family", _the_worlds_child, "This does not belong to this family."),
    ("a child too young for a form", _a_child_of_three,
     "Only children of 8 to 17 get a form of their own."),
    ("a language not offered", _in_klingon, "Choose one of the options offered."),
]


@pytest.mark.parametrize(("what", "call", "message"), RULES, ids=[rule[0] for rule in RULES])
def test_an_invitation_keeps_to_the_family(app, world, what, call, message):
    family_id = _another_family(app, world)
    before, denied = snapshot(app), len(denials(app))
    refused = attempt(app, world, "owner", call, family_id)
    assert refused is not None and not isinstance(refused, Denied), what
    assert refused.english == message
    assert snapshot(app) == before and len(denials(app)) == denied


# --- answering: the link is the credential -------------------------------------------------

def _invitation(app, world):
    with app.app_context():
        invitation, token = invite(db.session().get(User, world.owner.id), _family(world),
                                   referral=db.session().get(Referral, world.inbox_referral))
        db.commit()
        return invitation.id, token


def _answer(app, invitation_id, score):
    """Answer as the family does, with no account: the refusal's message in English, or
    None."""
    with app.app_context():
        try:
            submit(db.session().get(FeedbackInvite, invitation_id), language="pl",
                   scores={"heard": score, "useful": 9}, texts={"went_well": " Fijn. "})
        except Refused as refused:
            db.commit()
            with app.test_request_context(), force_locale("en"):
                return str(refused)
        db.commit()
        return None


def _responses(app):
    with app.app_context():
        return db.session().exec(select(FeedbackResponse)).all()


def test_a_link_answers_once(app, world):
    invitation_id, token = _invitation(app, world)
    with app.app_context():
        status, opened, secret = open_link(token, "192.0.2.1")
        assert (status, opened.id) == ("ok", invitation_id) and secret
    assert _answer(app, invitation_id, 4) is None
    [response] = _responses(app)
    with app.app_context():
        assert (response.heard, response.useful, response.language) == (4, None, "pl")
        assert response.went_well == "Fijn." and response.service_id == world.inbox_service
        assert db.session().get(FeedbackInvite, invitation_id).used_at is not None
    before = snapshot(app)
    assert _answer(app, invitation_id, 1) == "You already answered"
    assert snapshot(app) == before and len(_responses(app)) == 1


def test_an_expired_link_answers_nothing(app, world):
    invitation_id, _token = _invitation(app, world)
    with app.app_context():
        db.session().get(FeedbackInvite, invitation_id).expires_at = (
            db.utcnow() - timedelta(minutes=1))
        db.commit()
    before = snapshot(app)
    assert _answer(app, invitation_id, 5) == "This link has expired"
    assert snapshot(app) == before and _responses(app) == []


def test_a_wrong_link_counts_against_the_address(app, world):
    with app.app_context():
        assert open_link("no-such-token", "192.0.2.9") == ("unknown", None, None)
        db.commit()
        assert db.session().exec(select(func.count()).select_from(FeedbackAttempt).where(
            FeedbackAttempt.address == "192.0.2.9")).one() == 1
