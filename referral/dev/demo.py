"""Demo data: fictional people and organisations, every name marked "(demo)"."""

import uuid
from datetime import date, timedelta

import pyotp
from sqlmodel import select

from referral import db, policy
from referral.auth.operations import create_user
from referral.auth.queries import find_user
from referral.cases.models import Signal
from referral.cases.operations import create_family, log_signal, record_consent
from referral.cases.queries import families_of
from referral.dev import directory_data, history
from referral.dev.scale import settle
from referral.directory.models import Organisation, Service
from referral.directory.operations import create_organisation, create_service
from referral.referrals.models import Referral, ReferralEvent, ReferralSeen
from referral.referrals.operations import (
    add_note,
    assign_bridge,
    change_status,
    propose_handover,
    refer,
)
from referral.referrals.queries import default_follow_up

# Demo rows get ids derived from their names, so loading twice finds what is there.
DEMO_NAMESPACE = uuid.UUID("6f1d3c1e-2b7a-4c55-9d7e-0a1b2c3d4e5f")

# The demo accounts' password, printed by make run; never a real account's.
PASSWORD = "oefen-wachtwoord-2026"  # noqa: S105  # nosec B105

ORGANISATIONS = {  # name: description (HSDS wants one of every organisation)
    "JGZ Voorbeeldstad (demo)": "Jeugdgezondheidszorg: het consultatiebureau en de "
                                "jeugdarts en -verpleegkundige op school.",
    "Basisschool De Regenboog (demo)": "Openbare basisschool in Voorbeeldstad.",
    "Voedselbank Voorbeeldstad (demo)": "",  # in the directory, with its description
    "Stichting Ervaringsdeskundigen (demo)": "Ouders die armoede kennen en meedenken over "
                                             "de aanpak.",
    "Armoedealliantie Voorbeeldstad (demo)": "De samenwerking van gemeente, scholen, "
                                             "zorg en fondsen tegen kinderarmoede.",
}

PRIVACY_OFFICER = "privacy@demo.example"
USERS = [
    # email, name, role, organisation index, trained
    ("jgz@demo.example", "Anna Jansen (demo)", "professional", 0, True),
    ("jgz2@demo.example", "Eva Smit (demo)", "professional", 0, True),
    ("leerkracht@demo.example", "Sam de Boer (demo)", "professional", 1, False),
    ("partner@demo.example", "Fatima El Amrani (demo)", "partner", 2, False),
    ("brug@demo.example", "Kees Visser (demo)", "bridge", 3, False),
    ("coordinator@demo.example", "Mila Bakker (demo)", "coordinator", 4, False),
    ("privacy@demo.example", "Jeroen de Wit (demo)", "privacy_officer", 4, False),
]


def _organisation(name, **fields):
    """The organisation of this name, added through the directory's operation if missing (as
    the command line: the demo users belong to these organisations, so they come later)."""
    session = db.session()
    organisation = session.exec(select(Organisation).where(Organisation.name == name)).first()
    if organisation is None:
        organisation = create_organisation(policy.COMMAND_LINE, name=name,
                                           organisation_id=uuid.uuid5(DEMO_NAMESPACE, name),
                                           **fields)
    return organisation


def _place(org):
    """The organisation's visiting address in the demo, as a service's address (or None)."""
    if org not in directory_data.PLACES:
        return None
    street, postcode, _hours = directory_data.PLACES[org]
    return {"address_1": street, "postal_code": postcode, "city": directory_data.CITY,
            "state_province": directory_data.PROVINCE}


def load_directory():
    """Some forty services of a fictional municipality, across every need domain."""
    session = db.session()
    organisations = [_organisation(name, phone=phone, website=website, description=description)
                     for name, phone, website, description in directory_data.ORGANISATIONS]
    today = date.today()
    for (org, name, domains, description, (low, high), route, (capacity, weeks), income,
         applies, areas, checked_days_ago) in directory_data.SERVICES:
        organisation = organisations[org]
        service_id = uuid.uuid5(DEMO_NAMESPACE, f"{organisation.name}/{name}")
        if session.get(Service, service_id) is not None:
            continue
        create_service(
            policy.COMMAND_LINE, organisation, service_id=service_id, name=name,
            description=description, domains=domains, areas=list(areas), languages=["nl"],
            minimum_age=low, maximum_age=high, referral_route=route, capacity=capacity,
            waiting_weeks=weeks, income_limit_percent=income, professional_applies=applies,
            phone=organisation.phone, url=organisation.website,
            address=_place(org), opening_hours=directory_data.PLACES.get(org, ("", "", ""))[2],
            application_process=directory_data.APPLY[route],
            assured_date=today - timedelta(days=checked_days_ago),
            eligibility_description=(f"Inkomen tot {income}% van het sociaal minimum."
                                     if income else None))


def load():
    """Add what is missing; return (email, role) of every demo login."""
    # The directory first: it gives the organisations their phone and website, which the
    # services (and so the letters) show.
    load_directory()
    organisations = [_organisation(name, description=description)
                     for name, description in ORGANISATIONS.items()]
    for email, name, role, org, trained in USERS:
        if find_user(email) is None:
            # The trained demo professional took the training recently, so it never expires.
            trained_on = date.today() - timedelta(days=60) if trained else None
            create_user(policy.COMMAND_LINE, email=email, name=name, role=role,
                        password=PASSWORD, organisation_id=organisations[org].id,
                        trained_on=trained_on)
    load_family(find_user(USERS[0][0]))
    history.load()
    return [(email, role) for email, _name, role, _org, _trained in USERS]


def officer_key():
    """The demo privacy officer reads the access log only after a two-factor code: a key made
    on this machine (never in git), to add to an authenticator app."""
    officer = find_user(PRIVACY_OFFICER)
    if officer.totp_secret_enc is None:
        officer.totp_secret = pyotp.random_base32()
        db.session().add(officer)
    return officer.totp_secret


def load_family(nurse):
    """One fictional family with a signal, made by the trained demo professional."""
    if families_of(nurse):
        return
    family = create_family(nurse, parent_names="Sanne de Vries (demo)", phone="06-00000000",
                           street="Voorbeeldlaan", house_number="1", postcode="9999 ZZ",
                           municipality_code=directory_data.VOORBEELDSTAD[0],
                           children=[("Noor (demo)", date(2016, 4, 12)),
                                     ("Daan (demo)", date(2020, 9, 30))])
    log_signal(nurse, family, domains=["food", "sport_culture"], source="conversation",
               urgency="soon", observations="Noor komt vaak zonder ontbijt op school.",
               strengths="Moeder zoekt zelf hulp en is open over geldzorgen.",
               parent_wishes="Dat Noor weer op zwemles kan.",
               child_wishes="Noor wil graag op dansles.")
    _refer_demo(nurse, family)
    load_work(nurse, find_user(USERS[1][0]))


def _refer_demo(nurse, family):
    """Consent for the food bank and a referral in its inbox, for the demo partner."""
    session = db.session()
    signal = session.exec(select(Signal).where(Signal.family_id == family.id)).first()
    food_bank = session.exec(select(Organisation).where(
        Organisation.name == directory_data.ORGANISATIONS[0][0])).one()
    parcel = session.get(Service, uuid.uuid5(DEMO_NAMESPACE, f"{food_bank.name}/Voedselpakket"))
    record_consent(nurse, family, organisation_id=food_bank.id, given_by="Sanne de Vries (demo)",
                   scope="Naam, telefoonnummer en de vraag om een voedselpakket.",
                   method="spoken", given_on=date.today(), parent_agreed=True)
    refer(nurse, family, signal, [parcel], follow_up_on=default_follow_up(), send=True,
          form_token=str(uuid.uuid5(DEMO_NAMESPACE, "demo referral")),
          message="Moeder vraagt een voedselpakket. Bel haar op 06-00000000, liefst na 15 uur.")


# --- a working day: something of everything waits for someone -----------------------------

def _service(name):
    return db.session().exec(select(Service).where(Service.name == name)).first()


def _family(professional, parents, children, domains, observations):
    family = create_family(professional, parent_names=parents, phone="06-00000000",
                           municipality_code=directory_data.VOORBEELDSTAD[0],
                           children=children)
    signal = log_signal(professional, family, domains=domains, source="conversation",
                        urgency="normal", observations=observations)
    return family, signal


def _refer(professional, family, signal, service_name, message, *, consent=True):
    service = _service(service_name)
    if consent:
        record_consent(professional, family, organisation_id=service.organisation_id,
                       given_by=family.parent_names, scope="Naam, telefoonnummer en de vraag.",
                       method="spoken", given_on=date.today(), parent_agreed=True)
    [referral] = refer(professional, family, signal, [service], message=message,
                       follow_up_on=default_follow_up(), send=True,
                       form_token=str(uuid.uuid5(DEMO_NAMESPACE, f"{family.id}/{service_name}")))
    return referral


def _happened(referral, days_ago, follow_up_days_ago):
    """Move a referral's history into the past, as if its steps were taken on these days
    (days before today, one per event in order), with its follow-up date as given; the
    referral's dates are read off its events, as the scale generator does."""
    session, now = db.session(), db.utcnow()
    session.flush()
    events = session.exec(select(ReferralEvent).where(ReferralEvent.referral_id == referral.id)
                          .order_by(ReferralEvent.at)).all()
    for position, (event, days) in enumerate(zip(events, days_ago, strict=False)):
        # A minute apart, so steps of one day keep their order on the timeline.
        event.at = now - timedelta(days=days, hours=1) + timedelta(minutes=position)
        session.add(event)
    referral.created_at = events[0].at
    referral.accepted_at = None
    settle(referral, events)
    referral.follow_up_on = date.today() - timedelta(days=follow_up_days_ago)
    session.add(referral)


def load_work(nurse, colleague):
    """What the demo shows on each home page: an overdue referral the partner just wrote a
    note on, a draft without consent, a stuck referral, a handover and a bridge request
    waiting, and a referral the partner opened before the owner added a note."""
    partner, bridge = find_user(USERS[3][0]), find_user(USERS[4][0])
    # Overdue: the food bank accepted three weeks ago, the follow-up date has passed, and
    # the partner wrote a note since (the nurse has not opened it: it shows as changed).
    family, signal = _family(nurse, "Mehmet Kaya (demo)", [("Elif (demo)", date(2015, 6, 3))],
                             ["food", "sport_culture"],
                             "Elif heeft geen gymkleding en eet weinig tussen de middag.")
    overdue = _refer(nurse, family, signal, "Voedselpakket",
                     "Vader vraagt een voedselpakket; bel hem na 17 uur.")
    change_status(partner, overdue, "accepted")
    add_note(partner, overdue, "Vader gebeld; het eerste pakket staat vrijdag klaar.")
    _happened(overdue, [25, 25, 21, 3], follow_up_days_ago=4)
    # A draft: no consent for the sports fund yet.
    _refer(nurse, family, signal, "Sportfonds", "Elif wil op turnen.", consent=False)
    # The bridge worker is asked to accompany the family (and has not looked yet).
    assign_bridge(nurse, overdue, bridge, family_agreed=True)
    # The partner opened the family's parcel referral two days ago; the nurse wrote since.
    sent = db.session().exec(select(Referral).where(
        Referral.owner_id == nurse.id, Referral.status == "requested")).first()
    if sent is not None:
        db.session().add(ReferralSeen(user_id=partner.id, referral_id=sent.id,
                                      seen_at=db.utcnow() - timedelta(days=2)))
        add_note(nurse, sent, "Moeder vraagt of het pakket ook bezorgd kan worden.")
    # Stuck: sent seven weeks ago to Leergeld, nothing happened since (the colleague's).
    family, signal = _family(colleague, "Petra Bos (demo)", [("Sem (demo)", date(2013, 1, 20))],
                             ["school_costs"], "Sem heeft geen laptop voor zijn huiswerk.")
    stuck = _refer(colleague, family, signal, "Schoolspullen en laptop",
                   "Moeder vraagt hulp bij een laptop voor school.")
    _happened(stuck, [50, 50], follow_up_days_ago=36)
    # A handover: the colleague asks the nurse to take a referral over.
    family, signal = _family(colleague, "Linda Mulder (demo)",
                             [("Fenna (demo)", date(2019, 11, 2))], ["clothing"],
                             "Fenna heeft geen winterjas.")
    handed = _refer(colleague, family, signal, "Winterjassenactie",
                    "Moeder vraagt een winterjas voor Fenna (maat 128).")
    propose_handover(colleague, handed, nurse,
                     "Ik ga met verlof; wil jij dit gezin overnemen?")
