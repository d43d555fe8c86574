"""Families, signals and consent: each change asks the policy, keeps the rules and writes its
audit entry in the caller's transaction (flushed, never committed).

The row builders (`new_family`, `new_child`, ...) make a row the one way, sealed values and
keyed hashes included, without adding it: the operations use them, and so can the
generator of scaled demo data."""

from datetime import date

from sqlmodel import select

from referral import audit, db, policy
from referral.cases.models import (
    LANGUAGES,
    MAX_CHILDREN,
    Child,
    Consent,
    ConsentMethod,
    Family,
    Signal,
    SignalDomain,
    SignalSource,
    Urgency,
    address_index,
    age_band,
    age_on,
    child_index,
    normal_postcode,
)
from referral.directory.models import Organisation
from referral.directory.queries import need_domains
from referral.errors import Refused
from referral.feedback.models import FeedbackInvite
from referral.i18n import lazy_gettext as _l
from referral.referrals import operations as referrals

NOT_THIS_FAMILY = _l("This does not belong to this family.")
NOT_OFFERED = _l("Choose one of the options offered.")


# --- row builders --------------------------------------------------------------------------

def _address(organisation_id, street, house_number, postcode):
    """The stored address, postcode and address hash, from the form's parts."""
    return (" ".join(filter(None, [street, house_number])) or None,
            normal_postcode(postcode) if postcode else None,
            address_index(organisation_id, postcode, house_number)
            if postcode and house_number else None)


def new_family(organisation_id, created_by, *, parent_names, phone=None, email=None,
               street=None, house_number=None, postcode=None, municipality_code=None,
               language="nl", created_at=None, id=None):
    """A family with its identifying data sealed and its address hash, not yet added."""
    family = Family(**db.given(id=id, created_at=created_at), organisation_id=organisation_id,
                    created_by=created_by, municipality_code=municipality_code,
                    language=language)
    family.parent_names = parent_names
    family.phone, family.email = phone, email
    family.address, family.postcode, family.address_index = _address(
        organisation_id, street, house_number, postcode)
    return family


def _child_fields(child, organisation_id, first_name, birth_date, today=None):
    child.first_name, child.birth_date_text = first_name, birth_date.isoformat()
    child.age_band = age_band(birth_date, today)
    child.name_index = child_index(organisation_id, first_name, birth_date)


def new_child(family_id, organisation_id, *, first_name, birth_date, today=None, id=None):
    """A child with name and date of birth sealed, its age band on `today` and its hash."""
    child = Child(**db.given(id=id), family_id=family_id, age_band="", name_index="")
    _child_fields(child, organisation_id, first_name, birth_date, today)
    return child


def new_signal(family_id, created_by, *, source, observations, urgency=Urgency.normal,
               stress_factors=None, strengths=None, parent_wishes=None, child_wishes=None,
               created_at=None, id=None):
    """A signal as a value (db.new_value), its texts sealed, not yet written (db.insert)."""
    signal = db.new_value(Signal, **db.given(id=id, created_at=created_at),
                          family_id=family_id, created_by=created_by, source=source,
                          urgency=urgency)
    signal.observations = observations
    signal.stress_factors, signal.strengths = stress_factors, strengths
    signal.parent_wishes, signal.child_wishes = parent_wishes, child_wishes
    return signal


def new_signal_domains(signal_id, codes):
    return [db.new_value(SignalDomain, signal_id=signal_id, domain_code=code)
            for code in codes]


def new_consent(family_id, organisation_id, recorded_by, *, given_by, scope, method, given_on,
                child_id=None, parent_agreed=False, child_agreed=False, recorded_at=None,
                id=None):
    consent = Consent(**db.given(id=id, recorded_at=recorded_at), family_id=family_id,
                      child_id=child_id, organisation_id=organisation_id,
                      recorded_by=recorded_by, method=method, given_on=given_on,
                      parent_agreed=parent_agreed, child_agreed=child_agreed)
    consent.given_by, consent.scope = given_by, scope
    return consent


# --- the rules -----------------------------------------------------------------------------

def consent_problem(child, *, parent_agreed, child_agreed, given_on):
    """Why this consent is not enough (docs/design.md: under 12 a parent, 12 to 15 the child and a
    parent together, 16 or older the young person alone), or None."""
    age = age_on(child.birth_date, given_on) if child else None
    if age is None or age < 12:
        return None if parent_agreed else _l("A parent or guardian must agree.")
    if age < 16:
        return None if parent_agreed and child_agreed else _l(
            "For a child of 12 to 15, both the child and a parent must agree.")
    return None if child_agreed else _l("A young person of 16 or older agrees for themselves.")


def _check_family_data(*, parent_names, postcode, language, children):
    if not (parent_names or "").strip():
        raise Refused(_l("Enter at least one name."), field="parent_names")
    if postcode and normal_postcode(postcode) is None:
        raise Refused(_l("Enter a postcode like 1234 AB."), field="postcode")
    if language not in LANGUAGES:
        raise Refused(NOT_OFFERED, field="language")
    if len(children) > MAX_CHILDREN:
        raise Refused(_l("Enter at most %(number)d children.", number=MAX_CHILDREN),
                      field="children")
    today = date.today()
    for first_name, birth_date in children:
        if not (first_name or "").strip() or birth_date is None:
            raise Refused(_l("Give every child's first name and date of birth."),
                          field="children")
        if birth_date > today:
            raise Refused(_l("A date of birth cannot be in the future."), field="children")
        if birth_date < date(today.year - 27, 1, 1):
            raise Refused(_l("Enter a date of birth in the past 27 years."), field="children")


def _require_family(user, action, family):
    policy.require(user, action, family, hide=True, object_type="family",
                   object_id=family.id if family else None,
                   family_id=family.id if family else None)


# --- operations ----------------------------------------------------------------------------

def create_family(user, *, parent_names, children, phone=None, email=None, street=None,
                  house_number=None, postcode=None, municipality_code=None, language="nl"):
    """Store a family and its children, encrypted; return the family."""
    policy.require(user, "family.create")
    _check_family_data(parent_names=parent_names, postcode=postcode, language=language,
                       children=children)
    session = db.session()
    family = new_family(user.organisation_id, user.id, parent_names=parent_names, phone=phone,
                        email=email, street=street, house_number=house_number,
                        postcode=postcode, municipality_code=municipality_code,
                        language=language)
    session.add(family)
    session.flush()
    session.add_all(new_child(family.id, user.organisation_id, first_name=first_name,
                              birth_date=birth_date) for first_name, birth_date in children)
    session.flush()
    audit.record("create", object_type="family", object_id=family.id, family_id=family.id,
                 user=user, summary=f"family created with {len(children)} children")
    return family


def correct_family(user, family, *, parent_names, phone, email, street, house_number,
                   postcode, municipality_code, language, children):
    """Rectification: the new values replace the old ones, which were encrypted and are not
    kept anywhere; the access log names the fields that changed, not their values.
    `children`: (child id, first name, date of birth) for every child of the family, and
    (None, first name, date of birth) for each child to add. Removing a child is
    `remove_child`, behind its own confirmation."""
    _require_family(user, "family.edit", family)
    session = db.session()
    current = {child.id: child for child in session.exec(
        select(Child).where(Child.family_id == family.id))}
    given = [child_id for child_id, _name, _born in children if child_id is not None]
    if sorted(given) != sorted(current):
        raise Refused(_l("Give every child's first name and date of birth."), field="children")
    _check_family_data(parent_names=parent_names, postcode=postcode, language=language,
                       children=[(name, born) for _id, name, born in children])
    changed = set()

    def put(obj, name, value, label):
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.add(label)

    put(family, "parent_names", parent_names, "parent names")
    put(family, "phone", phone, "phone")
    put(family, "email", email, "email")
    address, normal, family.address_index = _address(family.organisation_id, street,
                                                     house_number, postcode)
    put(family, "address", address, "address")
    put(family, "postcode", normal, "postcode")
    put(family, "municipality_code", municipality_code, "municipality")
    put(family, "language", language, "language")
    session.add(family)
    if changed:
        audit.record("update", object_type="family", object_id=family.id, family_id=family.id,
                     user=user, summary="family data corrected: " + (
                         ", ".join(sorted(changed)) or "nothing changed"))
    # Each child's change is an entry of its own: the family's history shows them apart.
    for child_id, first_name, birth_date in children:
        if child_id is None:
            child = new_child(family.id, family.organisation_id, first_name=first_name.strip(),
                              birth_date=birth_date)
            session.add(child)
            session.flush()
            audit.record("create", object_type="child", object_id=child.id,
                         family_id=family.id, user=user, summary="child added")
            changed.add("child added")
            continue
        child = current[child_id]
        if (child.first_name, child.birth_date) != (first_name, birth_date):
            _child_fields(child, family.organisation_id, first_name, birth_date)
            session.add(child)
            audit.record("update", object_type="child", object_id=child.id,
                         family_id=family.id, user=user, summary="child data corrected")
            changed.add("child")
    if not changed:
        audit.record("update", object_type="family", object_id=family.id, family_id=family.id,
                     user=user, summary="family data corrected: nothing changed")
    session.flush()
    return changed


def remove_child(user, family, child):
    """Remove a child registered by mistake or no longer in the family, with its data; a
    child that a consent or feedback invitation names stays (erasure is the privacy
    officer's)."""
    _require_family(user, "family.edit", family)
    if child is None or child.family_id != family.id:
        raise Refused(NOT_THIS_FAMILY)
    session = db.session()
    siblings = session.exec(select(Child.id).where(Child.family_id == family.id)).all()
    if len(siblings) < 2:
        raise Refused(_l("A family keeps at least one child. Correct the child's details "
                         "instead."))
    named = session.exec(select(Consent.id).where(Consent.child_id == child.id).limit(1)
                         ).first() or session.exec(select(FeedbackInvite.id).where(
                             FeedbackInvite.child_id == child.id).limit(1)).first()
    if named:
        raise Refused(_l("A consent or a feedback invitation names this child, so it cannot "
                         "be removed. Ask the privacy officer if the family wants it erased."))
    session.delete(child)
    session.flush()
    audit.record("delete", object_type="child", object_id=child.id, family_id=family.id,
                 user=user, summary="child removed")


def log_signal(user, family, *, domains, observations, source, urgency=Urgency.normal,
               stress_factors=None, strengths=None, parent_wishes=None, child_wishes=None):
    """What a trained professional noticed about a family they work on, with its need
    domains."""
    _require_family(user, "signal.create", family)
    codes = list(dict.fromkeys(domains or []))
    # Reference data, read once per process (see need_domains): no statement in the lock.
    if not codes or not set(codes) <= {domain.code for domain in need_domains()}:
        raise Refused(_l("Choose at least one need domain."), field="domains")
    if not (observations or "").strip():
        raise Refused(_l("Describe what you noticed."), field="observations")
    if source not in set(SignalSource):
        raise Refused(NOT_OFFERED, field="source")
    if urgency not in set(Urgency):
        raise Refused(NOT_OFFERED, field="urgency")
    signal = new_signal(family.id, user.id, source=source, urgency=urgency,
                        observations=observations, stress_factors=stress_factors,
                        strengths=strengths, parent_wishes=parent_wishes,
                        child_wishes=child_wishes)
    db.insert(signal, *new_signal_domains(signal.id, codes))
    audit.record("create", object_type="signal", object_id=signal.id, family_id=family.id,
                 user=user, summary=f"signal logged ({len(codes)} need domains)")
    return signal


def record_consent(user, family, *, organisation_id, given_by, scope, method, given_on,
                   child=None, parent_agreed=False, child_agreed=False):
    """Who agreed to share what with which organisation, if they were the ones to agree."""
    _require_family(user, "consent.record", family)
    if child is not None and child.family_id != family.id:
        raise Refused(NOT_THIS_FAMILY, field="child")
    organisation = db.session().get(Organisation, organisation_id)
    if organisation is None or not organisation.active:
        raise Refused(_l("Choose an active organisation."), field="organisation")
    if method not in set(ConsentMethod):
        raise Refused(NOT_OFFERED, field="method")
    if given_on is None or given_on > date.today():
        raise Refused(_l("The date cannot be in the future."), field="given_on")
    if not (given_by or "").strip():
        raise Refused(_l("Write who agreed."), field="given_by")
    if not (scope or "").strip():
        raise Refused(_l("Write what may be shared."), field="scope")
    problem = consent_problem(child, parent_agreed=parent_agreed, child_agreed=child_agreed,
                              given_on=given_on)
    if problem:
        raise Refused(problem)
    consent = new_consent(family.id, organisation.id, user.id, given_by=given_by, scope=scope,
                          method=method, given_on=given_on,
                          child_id=child.id if child else None, parent_agreed=parent_agreed,
                          child_agreed=child_agreed)
    db.session().add(consent)
    db.session().flush()
    audit.record("create", object_type="consent", object_id=consent.id, family_id=family.id,
                 user=user, summary=f"consent recorded ({method})")
    return consent


def withdraw_consent(user, consent):
    """Stop sharing at once: what was shared under it is no longer shown, and the partners
    and owners of the referrals it covered are told."""
    family = db.session().get(Family, consent.family_id)
    policy.require(user, "consent.record", family, hide=True, object_type="consent",
                   object_id=consent.id, family_id=consent.family_id)
    if not consent.active:
        raise Refused(_l("This consent is already withdrawn."))
    consent.withdrawn_at, consent.withdrawn_by = db.utcnow(), user.id
    db.session().add(consent)
    db.session().flush()
    audit.record("update", object_type="consent", object_id=consent.id,
                 family_id=consent.family_id, user=user, summary="consent withdrawn")
    referrals.consent_withdrawn(user, consent)
