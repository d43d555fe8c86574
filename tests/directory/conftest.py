import uuid
from datetime import date, timedelta

import pytest

from referral import db
from referral.directory.models import Organisation, Service
from referral.directory.services import save_organisation, save_service

AMSTERDAM, UTRECHT = ("GM0363", "Amsterdam"), ("GM0344", "Utrecht")


@pytest.fixture
def make_service(app):
    """Create a service (and its organisation) through the service layer; return its id."""

    def make(name, *, organisation="Stichting Voorbeeld", domains=("food",), areas=(AMSTERDAM,),
             description="Hulp voor gezinnen.", checked=None, **fields):
        with app.app_context():
            from sqlmodel import select

            session = db.session()
            org = session.exec(select(Organisation).where(Organisation.name == organisation)
                               ).first()
            if org is None:
                org = save_organisation(Organisation(name=organisation), user=None, created=True)
            service = Service(name=name, description=description, organisation_id=org.id,
                              assured_date=checked or date.today(), **fields)
            save_service(service, org, domains=list(domains), areas=list(areas),
                         languages=["nl"], user=None, created=True)
            db.commit()
            return service.id

    return make


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
