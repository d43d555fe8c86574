"""Create families and log signals; each change and each read is in the access log."""

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_
from sqlmodel import select

from referral import audit, db
from referral.cases.models import (
    Child,
    Consent,
    Family,
    Signal,
    SignalDomain,
    age_band,
    age_on,
)
from referral.crypto import keyring
from referral.referrals.models import Referral

POSTCODE = re.compile(r"^\s*(\d{4})\s*([A-Za-z]{2})\s*$")


def normal_postcode(text):
    match = POSTCODE.match(text or "")
    return f"{match.group(1)}{match.group(2).upper()}" if match else None


def child_index(organisation_id, first_name, birth_date):
    return keyring().blind_index(f"child/{organisation_id}", f"{first_name}|{birth_date}")


def address_index(organisation_id, postcode, house_number):
    return keyring().blind_index(f"address/{organisation_id}",
                                 f"{normal_postcode(postcode)}|{house_number}")


def find_duplicates(user, *, children, postcode=None, house_number=None):
    """Families of the user's organisation with a same child or the same address."""
    session = db.session()
    org = user.organisation_id
    by_child = select(Child.family_id).where(Child.name_index.in_(
        [child_index(org, name, born) for name, born in children] or [""]))
    conditions = [Family.id.in_(by_child)]
    if postcode and house_number:
        conditions.append(Family.address_index == address_index(org, postcode, house_number))
    return session.exec(select(Family).where(Family.organisation_id == org,
                                             or_(*conditions))).all()


def create_family(user, *, parent_names, children, phone=None, email=None, street=None,
                  house_number=None, postcode=None, municipality_code=None, language="nl"):
    """Store a family and its children, encrypted; return the family."""
    session = db.session()
    family = Family(organisation_id=user.organisation_id, created_by=user.id,
                    municipality_code=municipality_code, language=language)
    family.parent_names = parent_names
    family.phone, family.email = phone, email
    if street or house_number:
        family.address = " ".join(filter(None, [street, house_number]))
    if postcode:
        family.postcode = normal_postcode(postcode)
        if house_number:
            family.address_index = address_index(user.organisation_id, postcode, house_number)
    session.add(family)
    session.flush()
    for first_name, birth_date in children:
        child = Child(family_id=family.id, age_band=age_band(birth_date),
                      name_index=child_index(user.organisation_id, first_name, birth_date))
        child.first_name, child.birth_date_text = first_name, birth_date.isoformat()
        session.add(child)
    session.flush()
    audit.record("create", object_type="family", object_id=family.id, family_id=family.id,
                 user=user, summary=f"family created with {len(children)} children")
    return family


def split_address(address):
    """(street, house number) from the stored "street number" (for the correction form)."""
    street, _space, number = (address or "").rpartition(" ")
    if street and number[:1].isdigit():
        return street, number
    return address or "", ""


def correct_family(user, family, children, *, parent_names, phone, email, street,
                   house_number, postcode, municipality_code, language, corrected_children):
    """Rectification: the new values replace the old ones, which were encrypted and are not
    kept anywhere; the access log names the fields that changed, not their values."""
    changed = set()

    def put(obj, name, value, label):
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.add(label)

    put(family, "parent_names", parent_names, "parent names")
    put(family, "phone", phone, "phone")
    put(family, "email", email, "email")
    put(family, "address", " ".join(filter(None, [street, house_number])) or None, "address")
    put(family, "postcode", normal_postcode(postcode) if postcode else None, "postcode")
    family.address_index = (address_index(family.organisation_id, postcode, house_number)
                            if postcode and house_number else None)
    put(family, "municipality_code", municipality_code, "municipality")
    put(family, "language", language, "language")
    for child, (first_name, birth_date) in zip(children, corrected_children, strict=True):
        if (child.first_name, child.birth_date) != (first_name, birth_date):
            child.first_name, child.birth_date_text = first_name, birth_date.isoformat()
            child.age_band = age_band(birth_date)
            child.name_index = child_index(family.organisation_id, first_name, birth_date)
            db.session().add(child)
            changed.add("child")
    db.session().add(family)
    audit.record("update", object_type="family", object_id=family.id, family_id=family.id,
                 user=user, summary="family data corrected: " + (", ".join(sorted(changed))
                                                                 or "nothing changed"))
    return changed


def families_of(user):
    """The families this professional works on (created, or owns a referral of), newest
    first."""
    owned = select(Referral.family_id).where(Referral.owner_id == user.id)
    return db.session().exec(select(Family).where(or_(Family.created_by == user.id,
                                                      Family.id.in_(owned)))
                             .order_by(Family.created_at.desc())).all()


def children_of(family_ids):
    """Children per family id, in one query."""
    children = {}
    if family_ids:
        for child in db.session().exec(select(Child).where(Child.family_id.in_(family_ids))):
            children.setdefault(child.family_id, []).append(child)
    return children


def read_family(user, family):
    """The family page's content: children and signals (with their domains); audited."""
    session = db.session()
    signals = session.exec(select(Signal).where(Signal.family_id == family.id)
                           .order_by(Signal.created_at.desc())).all()
    domains = {}
    if signals:
        for link in session.exec(select(SignalDomain).where(
                SignalDomain.signal_id.in_([s.id for s in signals]))):
            domains.setdefault(link.signal_id, []).append(link.domain_code)
    audit.record("read", object_type="family", object_id=family.id, family_id=family.id,
                 user=user, summary="family page read")
    return children_of([family.id]).get(family.id, []), signals, domains


def log_signal(user, family, *, domains, observations, source, urgency="normal",
               stress_factors=None, strengths=None, parent_wishes=None, child_wishes=None):
    session = db.session()
    signal = Signal(family_id=family.id, created_by=user.id, source=source, urgency=urgency)
    signal.observations = observations
    signal.stress_factors, signal.strengths = stress_factors, strengths
    signal.parent_wishes, signal.child_wishes = parent_wishes, child_wishes
    session.add(signal)
    session.flush()
    session.add_all(SignalDomain(signal_id=signal.id, domain_code=code) for code in domains)
    session.flush()
    audit.record("create", object_type="signal", object_id=signal.id, family_id=family.id,
                 user=user, summary=f"signal logged ({len(domains)} need domains)")
    return signal


def consent_problem(child, *, parent_agreed, child_agreed, given_on):
    """Why this consent is not enough (DESIGN.md: under 12 a parent, 12 to 15 the child and a
    parent together, 16 or older the young person alone), or None."""
    age = age_on(child.birth_date, given_on) if child else None
    if age is None or age < 12:
        return None if parent_agreed else _l("A parent or guardian must agree.")
    if age < 16:
        return None if parent_agreed and child_agreed else _l(
            "For a child of 12 to 15, both the child and a parent must agree.")
    return None if child_agreed else _l("A young person of 16 or older agrees for themselves.")


def record_consent(user, family, *, organisation_id, given_by, scope, method, given_on,
                   child=None, parent_agreed=False, child_agreed=False):
    consent = Consent(family_id=family.id, child_id=child.id if child else None,
                      organisation_id=organisation_id, recorded_by=user.id, method=method,
                      given_on=given_on, parent_agreed=parent_agreed, child_agreed=child_agreed)
    consent.given_by, consent.scope = given_by, scope
    db.session().add(consent)
    db.session().flush()
    audit.record("create", object_type="consent", object_id=consent.id, family_id=family.id,
                 user=user, summary=f"consent recorded ({method})")
    return consent


def withdraw_consent(user, consent):
    """Stop sharing at once; what was shared under it is no longer shown."""
    consent.withdrawn_at, consent.withdrawn_by = db.utcnow(), user.id
    db.session().add(consent)
    audit.record("update", object_type="consent", object_id=consent.id,
                 family_id=consent.family_id, user=user, summary="consent withdrawn")


def consents_of(family):
    return db.session().exec(select(Consent).where(Consent.family_id == family.id)
                             .order_by(Consent.recorded_at.desc())).all()
