"""The small alliance most tests share: one family referred to two services, one with an
inbox in the tool and one by letter, and everyone who might look at it has an account. The
`world` fixture (tests/conftest.py) builds it."""

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import force_locale, gettext
from markupsafe import escape

from referral import db
from referral.auth.models import User
from referral.cases.models import Family
from referral.cases.operations import create_family, log_signal, record_consent
from referral.directory.models import Service
from referral.referrals.models import Referral
from referral.referrals.operations import refer
from referral.referrals.queries import default_follow_up

SECRET_MESSAGE = "Moeder Zeynep vraagt een voedselpakket, bel 06-12345678"
# Everything about the family that only those who work on it may see.
PRIVATE = ("Zeynep", "Yilmaz", "Elif", "06-12345678", "honger", SECRET_MESSAGE)


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
    """Another referral of the world's family, by the owner, from a new signal: while one is
    open, a signal refers to a service once."""
    with app.app_context():
        session = db.session()
        owner, family = session.get(User, world.owner.id), session.get(Family, world.family_id)
        signal = log_signal(owner, family, domains=["food"], source="conversation",
                            observations="Weer gezien.")
        [made] = refer(owner, family, signal, [session.get(Service, service_id)],
                   message=message, follow_up_on=default_follow_up(), send=send,
                   form_token=str(uuid.uuid4()))
        db.commit()
        return made.id


def load(app, referral_id):
    with app.app_context():
        return db.session().get(Referral, referral_id)


def build_world(app, make_user, make_service):
    """Make the world's accounts, services, family, signal, consents and two referrals."""
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


def dutch(app, message, **values):
    """A message as the (Dutch-speaking) users see it on a page; values are msgids too."""
    with app.test_request_context(), force_locale("nl"):
        values = {name: gettext(value) for name, value in values.items()}
        return str(escape(gettext(message, **values)))


def age(app, referral_id, days):
    """Move a referral `days` into the past, as if it had been made then."""
    shift = timedelta(days=days)
    with app.app_context():
        referral = db.session().get(Referral, referral_id)
        referral.created_at -= shift
        referral.requested_at -= shift
        referral.last_activity_at -= shift
        referral.follow_up_on -= shift
        db.session().add(referral)
        db.commit()
