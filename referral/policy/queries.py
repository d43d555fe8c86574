"""The few facts about a case the access rules need, each one small query."""

from sqlalchemy import bindparam, exists
from sqlmodel import select

from referral import db
from referral.cases.models import Consent
from referral.referrals.models import Handover, Referral


def active_consent(family_id, organisation_id):
    """The id of the family's standing consent for this organisation, or None. Read through
    the connection (the partner's referral page asks it of every view); a consent recorded
    or withdrawn in this transaction and not yet written is written first, as the ORM's
    own read would."""
    return db.scalar(_active_consent(), {"family": family_id, "organisation": organisation_id},
                     flushed=True)


def active_consent_read(family_id, organisation_id):
    """The statement and values of active_consent (for db.ahead)."""
    return _active_consent(), {"family": family_id, "organisation": organisation_id}


@db.prepared
def _active_consent():  # asked by every referral made and sent, and by the policy
    return select(Consent.id).where(Consent.family_id == bindparam("family"),
                                    Consent.organisation_id == bindparam("organisation"),
                                    Consent.withdrawn_at.is_(None))


def consent_stands(family_id, organisation_id):
    """The same fact as active_consent, as a SQL condition over a list's columns: one query
    for a page of rows instead of one per row."""
    return exists().where(Consent.family_id == family_id,
                          Consent.organisation_id == organisation_id,
                          Consent.withdrawn_at.is_(None))


USER, FAMILY, REFERRAL = bindparam("user"), bindparam("family"), bindparam("referral")


@db.prepared
def _owned():
    return select(Referral.id).where(Referral.family_id == FAMILY, Referral.owner_id == USER)


def owns_any(user_id, family_id):
    return db.session().exec(_owned(), params={"user": user_id, "family": family_id}
                             ).first() is not None


@db.prepared
def _pending_handover():
    return select(*Handover.__table__.columns).where(
        Handover.referral_id == REFERRAL, Handover.to_id == USER, Handover.decided_at.is_(None))


def pending_handover_to(user_id, referral_id):
    """The handover of the referral waiting for this user's answer, as a value (db.values);
    None if there is none."""
    found = db.values(Handover, *pending_handover_read(user_id, referral_id))
    return found[0] if found else None


def pending_handover_read(user_id, referral_id):
    """The statement and values of pending_handover_to (for db.ahead)."""
    return _pending_handover(), {"user": user_id, "referral": referral_id}
