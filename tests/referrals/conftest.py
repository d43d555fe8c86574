"""A small alliance with one family referred to two services: one with an inbox in the tool,
one by letter. Everyone who might look at it has an account."""

import uuid
from dataclasses import dataclass
from datetime import date

import pytest
from flask_babel import force_locale
from sqlmodel import func, select

from referral import db, policy
from referral.audit.models import AuditEvent
from referral.auth.models import User
from referral.cases.models import Child, Consent, Family, Signal
from referral.cases.operations import create_family, log_signal, record_consent
from referral.directory.models import Service
from referral.errors import Refused
from referral.feedback.models import FeedbackAttempt, FeedbackInvite, FeedbackResponse
from referral.mail import OutboxMessage
from referral.referrals.models import Handover, Referral, ReferralEvent
from referral.referrals.operations import assign_bridge, refer
from referral.referrals.queries import default_follow_up

SECRET_MESSAGE = "Moeder Zeynep vraagt een voedselpakket, bel 06-12345678"


@dataclass
class World:
    owner: object
    colleague: object
    stranger: object  # a professional of another organisation
    partner: object
    other_partner: object  # staff of an organisation the family was not referred to
    letter_partner: object  # staff of the organisation that only takes letters
    bridge: object
    coordinator: object
    privacy: object
    family_id: uuid.UUID
    signal_id: uuid.UUID
    inbox_service: uuid.UUID
    letter_service: uuid.UUID
    inbox_referral: uuid.UUID
    letter_referral: uuid.UUID


def refer_again(app, world, service_id, *, send=True, message=SECRET_MESSAGE):
    """Another referral of the world's family and signal, by the owner."""
    with app.app_context():
        session = db.session()
        [made] = refer(session.get(User, world.owner.id), session.get(Family, world.family_id),
                       session.get(Signal, world.signal_id), [session.get(Service, service_id)],
                       message=message, follow_up_on=default_follow_up(), send=send,
                       form_token=str(uuid.uuid4()))
        db.commit()
        return made.id


def load(app, referral_id):
    with app.app_context():
        return db.session().get(Referral, referral_id)


@pytest.fixture
def world(app, make_user, make_service):
    owner = make_user("professional", organisation="JGZ Noord")
    colleague = make_user("professional", organisation="JGZ Noord")
    stranger = make_user("professional", organisation="Basisschool Zuid")
    partner = make_user("partner", organisation="Voedselbank")
    other_partner = make_user("partner", organisation="Jeugdfonds")
    letter_partner = make_user("partner", organisation="Leergeld")
    bridge = make_user("bridge", organisation="Ervaringsdeskundigen")
    coordinator = make_user("coordinator", organisation="Alliantie")
    privacy = make_user("privacy_officer", organisation="Alliantie")
    inbox_service = make_service("Voedselpakket", organisation="Voedselbank",
                                 referral_route="inbox", email="aanmelden@voedselbank.example")
    letter_service = make_service("Schoolspullen", organisation="Leergeld",
                                  domains=("school_costs",), referral_route="letter",
                                  phone="010-5550102")
    make_service("Sportfonds", organisation="Jeugdfonds", domains=("sport_culture",),
                 referral_route="inbox")
    with app.app_context():
        session = db.session()
        nurse = session.get(User, owner.id)
        family = create_family(nurse, parent_names="Zeynep Yilmaz", phone="06-12345678",
                               children=[("Elif", date(2017, 3, 1))],
                               municipality_code="GM0363")
        signal = log_signal(nurse, family, domains=["food"], source="conversation",
                            observations="Elif heeft vaak honger op school.")
        for service_id in (inbox_service, letter_service):
            service = session.get(Service, service_id)
            record_consent(nurse, family, organisation_id=service.organisation_id,
                           given_by="Zeynep Yilmaz", scope="naam en telefoon", method="spoken",
                           given_on=date.today(), parent_agreed=True)
        made = refer(nurse, family, signal, [session.get(Service, inbox_service),
                                             session.get(Service, letter_service)],
                     message=SECRET_MESSAGE, follow_up_on=default_follow_up(), send=True,
                     form_token=str(uuid.uuid4()))
        db.commit()
        ids = (family.id, signal.id, made[0].id, made[1].id)
    return World(owner, colleague, stranger, partner, other_partner, letter_partner, bridge,
                 coordinator, privacy, ids[0], ids[1], inbox_service, letter_service,
                 ids[2], ids[3])


# --- calling operations directly, as each person of the world ------------------------------

# Everyone of the world, the bridge worker once asked to accompany the inbox referral, and
# the operator at the command line.
ACTORS = ("owner", "colleague", "stranger", "partner", "other_partner", "letter_partner",
          "bridge", "bridge_assigned", "coordinator", "privacy", "command_line")
TABLES = (Family, Child, Signal, Consent, Referral, ReferralEvent, Handover, OutboxMessage,
          FeedbackInvite, FeedbackResponse, FeedbackAttempt)


def acting(world, who):
    """The user object of this actor, in the current session."""
    if who == "command_line":
        return policy.COMMAND_LINE
    return db.session().get(User, getattr(world, who.removesuffix("_assigned")).id)


def actor_id(world, who):
    return None if who == "command_line" else getattr(world, who.removesuffix("_assigned")).id


def snapshot(app):
    """Every row an operation could write, and the state of every referral and consent;
    the access log apart from its denials."""
    with app.app_context():
        session = db.session()
        counts = {model.__tablename__: session.exec(
            select(func.count()).select_from(model)).one() for model in TABLES}
        counts["audit"] = session.exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.outcome != "denied")).one()
        referrals = session.exec(select(
            Referral.id, Referral.status, Referral.version, Referral.owner_id,
            Referral.bridge_id, Referral.last_activity_at).order_by(Referral.id)).all()
        consents = session.exec(select(Consent.id, Consent.withdrawn_at)
                                .order_by(Consent.id)).all()
        families = session.exec(select(Family.id, Family.parent_names_enc)
                                .order_by(Family.id)).all()
        return counts, [tuple(r) for r in referrals], [tuple(c) for c in consents], [
            tuple(f) for f in families]


def denials(app):
    with app.app_context():
        return db.session().exec(select(AuditEvent).where(AuditEvent.outcome == "denied")
                                 .order_by(AuditEvent.seq)).all()


def attempt(app, world, who, operation, context=None):
    """Call operation(user, world, context) as this actor, outside any request, and commit
    as a request does, refused or not. Returns the refusal (its message in English) or
    None."""
    with app.app_context():
        try:
            operation(acting(world, who), world, context)
        except Refused as refused:
            db.commit()  # a refused request is committed too: nothing may be pending
            with app.test_request_context(), force_locale("en"):
                refused.english = str(refused)
            return refused
        db.commit()
        return None


def accompany(app, world):
    """The owner asks the bridge worker to accompany the family on the inbox referral."""
    with app.app_context():
        session = db.session()
        assign_bridge(session.get(User, world.owner.id),
                      session.get(Referral, world.inbox_referral),
                      session.get(User, world.bridge.id), family_agreed=True)
        db.commit()
