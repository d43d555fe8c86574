"""Demo data: fictional people and organisations, every name marked "(demo)"."""

from datetime import date, timedelta

from sqlmodel import select

from referral import db
from referral.auth.services import create_user, find_user
from referral.directory.models import Organisation

PASSWORD = "oefen-wachtwoord-2026"  # noqa: S105  (demo only, printed by make run)

ORGANISATIONS = [
    "JGZ Voorbeeldstad (demo)",
    "Basisschool De Regenboog (demo)",
    "Voedselbank Voorbeeldstad (demo)",
    "Stichting Ervaringsdeskundigen (demo)",
    "Armoedealliantie Voorbeeldstad (demo)",
]

USERS = [
    # email, name, role, organisation index, trained
    ("jgz@demo.example", "Anna Jansen (demo)", "professional", 0, True),
    ("leerkracht@demo.example", "Sam de Boer (demo)", "professional", 1, False),
    ("partner@demo.example", "Fatima El Amrani (demo)", "partner", 2, False),
    ("brug@demo.example", "Kees Visser (demo)", "bridge", 3, False),
    ("coordinator@demo.example", "Mila Bakker (demo)", "coordinator", 4, False),
    ("privacy@demo.example", "Jeroen de Wit (demo)", "privacy_officer", 4, False),
]


def load():
    """Add what is missing; return (email, role) of every demo login."""
    session = db.session()
    organisations = []
    for name in ORGANISATIONS:
        organisation = session.exec(select(Organisation).where(Organisation.name == name)).first()
        if organisation is None:
            organisation = Organisation(name=name)
            session.add(organisation)
            session.flush()
        organisations.append(organisation)
    for email, name, role, org, trained in USERS:
        if find_user(email) is None:
            # The trained demo professional took the training recently, so it never expires.
            trained_on = date.today() - timedelta(days=60) if trained else None
            create_user(email=email, name=name, role=role, password=PASSWORD,
                        organisation_id=organisations[org].id, trained_on=trained_on)
    return [(email, role) for email, _name, role, _org, _trained in USERS]
