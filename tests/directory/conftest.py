import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel, select

from referral import db
from referral.audit.models import AuditEvent
from referral.auth.models import User
from referral.policy import COMMAND_LINE

UTRECHT = ("GM0344", "Utrecht")


@pytest.fixture
def directory(make_service):
    """A small directory with one service of each kind the search must tell apart."""
    return {
        "breakfast": make_service("Schoolontbijt", domains=["food", "school_costs"],
                                  minimum_age=4, maximum_age=12, phone="010-1"),
        "cafe": make_service("Kookcafé", description="Samen koken in het café.",
                             organisation="Buurthuis Noël", phone="010-2"),
        "sport": make_service("Sportfonds", domains=["sport_culture"], areas=[UTRECHT],
                              minimum_age=4, maximum_age=18, organisation="Jeugdfonds",
                              referral_route="inbox"),
        "closed": make_service("Zomerkamp", domains=["sport_culture"], capacity="closed",
                               organisation="Jeugdfonds", referral_route="inbox"),
        "inactive": make_service("Oude voedselhulp", status="inactive", phone="010-3"),
        "stale": make_service("Kledingbank", domains=["clothing"], areas=[],
                              checked=date.today() - timedelta(days=400)),
    }


def service_ids(page_text):
    import re

    return {uuid.UUID(m) for m in re.findall(r'id="service-([0-9a-f-]{36})"', page_text)}


@dataclass
class Actors:
    """Someone of every role, and one service of each of the two partners' organisations."""

    professional: object
    partner: object  # staff of Voedselbank, whose service it is
    other_partner: object  # staff of Jeugdfonds, another organisation
    bridge: object
    coordinator: object
    privacy: object
    service: uuid.UUID  # Voedselbank's
    other_service: uuid.UUID  # Jeugdfonds's

    def user(self, name):
        """The acting user by name, loaded in this session; "command_line" for the CLI."""
        if name == "command_line":
            return COMMAND_LINE
        return db.session().get(User, getattr(self, name).id)


ACTORS = ["professional", "partner", "other_partner", "bridge", "coordinator", "privacy",
          "command_line"]


@pytest.fixture
def actors(make_user, make_service):
    return Actors(
        professional=make_user("professional", organisation="JGZ Noord"),
        partner=make_user("partner", organisation="Voedselbank"),
        other_partner=make_user("partner", organisation="Jeugdfonds"),
        bridge=make_user("bridge", organisation="Ervaringsdeskundigen"),
        coordinator=make_user("coordinator", organisation="Alliantie"),
        privacy=make_user("privacy_officer", organisation="Alliantie"),
        service=make_service("Voedselpakket", organisation="Voedselbank",
                             referral_route="inbox"),
        other_service=make_service("Sportfonds", organisation="Jeugdfonds",
                                   domains=("sport_culture",), referral_route="inbox"))


def stored_rows():
    """Every row outside the access log, to show that a refused operation wrote nothing."""
    session = db.session()
    return {table.name: sorted(map(repr, session.execute(sa.select(table)).all()))
            for table in SQLModel.metadata.sorted_tables if not table.name.startswith("audit")}


def last_entry():
    return db.session().exec(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
