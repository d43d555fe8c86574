"""Reading what is stored about a family, the access log, and what is due for erasure."""

import uuid
from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from flask_babel import get_locale
from sqlalchemy import exists, func, or_
from sqlmodel import select

from referral import db, familykeys, policy
from referral.audit.models import AuditEvent
from referral.auth.models import ROLE_LABELS
from referral.auth.queries import names as names_of
from referral.cases.models import (
    METHOD_LABELS,
    Child,
    Consent,
    Family,
    Signal,
    SignalDomain,
    address_index,
)
from referral.crypto import context_of
from referral.directory.models import NeedDomain, Organisation, Service, fold
from referral.feedback.models import FORM_LABELS, FeedbackInvite, FeedbackResponse
from referral.mail import OutboxMessage
from referral.privacy.models import ERASURE_REASON_LABELS, ErasureReceipt
from referral.referrals.models import OPEN, STATUS_LABELS, Handover, Referral, ReferralEvent

LOG_PAGE_SIZE = 50
RETENTION = ("closed", "signal", "audit", "mail", "attempt")

# Never part of an export: keyed hashes and tokens say nothing to the family and would help
# an attacker.
HIDDEN_COLUMNS = {"address_index", "name_index", "token_hash", "submission_key"}


def _value(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def dump(row):
    """One row as {column: value}, encrypted columns decrypted (under their plain name)."""
    out = {}
    for column in row.__table__.columns:
        name, value = column.name, getattr(row, column.name)
        if name in HIDDEN_COLUMNS:
            continue
        if column.info.get("encrypted"):
            plain = column.info["plain"] or name.removesuffix("_enc")
            value = None if value is None else getattr(row, plain)  # the family's key, or the ring
            name = name.removesuffix("_enc")
        out[name] = _value(value)
    return out


def _rows(model, *conditions, order=None):
    query = select(model).where(*conditions)
    if order is not None:
        query = query.order_by(order)
    return db.session().exec(query).all()


def family_rows(family_id):
    """Every row that belongs to one family, per table, in the order they can be deleted."""
    referral_ids = select(Referral.id).where(Referral.family_id == family_id)
    signal_ids = select(Signal.id).where(Signal.family_id == family_id)
    invite_ids = select(FeedbackInvite.id).where(FeedbackInvite.family_id == family_id)
    return [
        (FeedbackResponse, [FeedbackResponse.invite_id.in_(invite_ids)],
         FeedbackResponse.submitted_at),
        (FeedbackInvite, [FeedbackInvite.family_id == family_id], FeedbackInvite.created_at),
        (Handover, [Handover.referral_id.in_(referral_ids)], Handover.created_at),
        (ReferralEvent, [ReferralEvent.referral_id.in_(referral_ids)], ReferralEvent.at),
        (Referral, [Referral.family_id == family_id], Referral.created_at),
        (Consent, [Consent.family_id == family_id], Consent.recorded_at),
        (SignalDomain, [SignalDomain.signal_id.in_(signal_ids)], None),
        (Signal, [Signal.family_id == family_id], Signal.created_at),
        (Child, [Child.family_id == family_id], None),
        (OutboxMessage, [OutboxMessage.family_id == family_id], OutboxMessage.created_at),
        (Family, [Family.id == family_id], None),
    ]


def family_counts(family_id):
    """How many rows of each table belong to the family: what an erasure would delete."""
    session = db.session()
    counts = {model.__tablename__: session.exec(
        select(func.count()).select_from(model).where(*conditions)).one()
        for model, conditions, _order in family_rows(family_id)}
    return {table: n for table, n in counts.items() if n}


def family_record(family_id):
    """Everything stored about a family, decrypted, with who accessed it."""
    record = {}
    for model, conditions, order in reversed(family_rows(family_id)):
        rows = [dump(row) for row in _rows(model, *conditions, order=order)]
        if model is OutboxMessage:  # the messages went to staff: their addresses are theirs
            for row in rows:
                row.pop("recipient", None)
        record[model.__tablename__] = rows
    record["accesses"] = accesses(family_id)
    return record


def accesses(family_id):
    """Who accessed a family's data when, oldest first (NEN 7513)."""
    events = _rows(AuditEvent, AuditEvent.family_id == family_id, order=AuditEvent.seq)
    names = names_of(event.user_id for event in events)
    return [{"at": _value(event.at), "user": names.get(event.user_id, ""),
             "role": event.role or "", "action": event.action,
             "object": event.object_type or "", "outcome": event.outcome,
             "summary": event.summary}
            for event in events]


def log_codes():
    """The words for the codes that access log summaries hold, in the reader's language:
    statuses, rules, roles, consent methods, feedback forms, erasure reasons, need domains."""
    dutch = str(get_locale()) == "nl"
    domains = {code: label_nl if dutch else label_en for code, label_nl, label_en in
               db.session().exec(select(NeedDomain.code, NeedDomain.label_nl,
                                        NeedDomain.label_en))}
    return (STATUS_LABELS | policy.RULE_LABELS | ROLE_LABELS | METHOD_LABELS | FORM_LABELS
            | ERASURE_REASON_LABELS | domains)


def record_names(record):
    """Readable names for the ids in a record: organisations, services and staff."""
    session = db.session()
    names = {str(k): v for k, v in session.exec(select(Organisation.id, Organisation.name))}
    names.update({str(k): v for k, v in session.exec(select(Service.id, Service.name))})
    staff = {row.get(column) for rows in record.values() for row in rows
             for column in ("created_by", "owner_id", "actor_id", "recorded_by", "from_id",
                            "to_id", "bridge_id", "withdrawn_by") if row.get(column)}
    names.update({str(k): v for k, v in names_of(
        uuid.UUID(s) for s in staff).items()})
    return names


MAX_FOUND = 50  # families shown for a search by name; one more tells there are more


def families_named(text):
    """Families with every word of the text in a parent's name or a child's first name,
    across every organisation, by name; at most MAX_FOUND + 1.

    The names are encrypted at rest and stay so: every family's and child's name is
    decrypted here and matched in Python, in the same three statements whatever the number
    of families. A privacy officer searches a few times a month; AES-GCM opens a short name
    in a few microseconds, so a country's 100,000 families and their children take seconds,
    not minutes. A keyed hash per name word would be quicker, but would show which families
    share a name and would have to be kept beside every name that changes."""
    words = fold(text).split()
    if not words:
        return []
    session = db.session()
    familykeys.load_all(session)  # every family's key, in one statement
    names = {}
    for family_id, sealed in session.exec(select(Family.id, Family.parent_names_enc)):
        names[family_id] = [familykeys.parent_names(sealed, family_id)]
    for child_id, family_id, sealed in session.exec(
            select(Child.id, Child.family_id, Child.first_name_enc)):
        if family_id in names:
            names[family_id].append(familykeys.open_stored(
                sealed, context_of("child", "first_name_enc", child_id), family_id))
    found = [family_id for family_id, said in names.items()
             if all(word in fold(" ".join(said)) for word in words)]
    if not found:
        return []
    families = session.exec(select(Family).where(Family.id.in_(found[:MAX_FOUND + 1]))).all()
    return sorted(families, key=lambda family: fold(family.parent_names))


def find_families(*, name=None, reference=None, postcode=None, house_number=None):
    """Families by name (above), by their reference (the id on the family page) or by
    postcode and house number, across every organisation (the keyed hash is per
    organisation)."""
    session = db.session()
    if name:
        return families_named(name)
    if reference:
        try:
            family = session.get(Family, uuid.UUID(reference.strip()))
        except ValueError:
            return []
        return [family] if family else []
    if postcode and house_number:
        organisations = session.exec(select(Family.organisation_id).distinct()).all()
        hashes = [address_index(org, postcode, house_number.strip()) for org in organisations]
        return session.exec(select(Family).where(Family.address_index.in_(hashes))).all()
    return []


def log_entries(*, family_id=None, by_user=False, user_id=None, action=None, start=None,
                end=None, page=1):
    """One page of the access log, newest first, and whether there are older entries.
    `by_user`: only the entries of `user_id` (None: those of no account)."""
    query = select(AuditEvent)
    if family_id:
        query = query.where(AuditEvent.family_id == family_id)
    if by_user:
        query = query.where(AuditEvent.user_id == user_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if start:
        query = query.where(AuditEvent.at >= datetime.combine(start, time(), UTC))
    if end:
        query = query.where(AuditEvent.at < datetime.combine(end + timedelta(days=1), time(),
                                                             UTC))
    events = db.session().exec(query.order_by(AuditEvent.seq.desc())
                               .offset((page - 1) * LOG_PAGE_SIZE)
                               .limit(LOG_PAGE_SIZE + 1)).all()
    return events[:LOG_PAGE_SIZE], len(events) > LOG_PAGE_SIZE


def recent_receipts(limit=20):
    return db.session().exec(select(ErasureReceipt).order_by(
        ErasureReceipt.erased_at.desc()).limit(limit)).all()


# --- retention ---------------------------------------------------------------------------

def retention_days():
    """How long each kind of data is kept, in days, as configured."""
    return {name: current_app.config[f"RETENTION_{name.upper()}_DAYS"] for name in RETENTION}


def cutoffs(now):
    return {name: now - timedelta(days=days) for name, days in retention_days().items()}


def due(now):
    """(family ids, (signal id, family id) pairs) whose retention period has passed.
    A family goes when nothing of it is recent: no open referral, none closed within the
    closed-case period, no signal within the signal period. A signal that never led to a
    referral goes after the (shorter) signal period."""
    cut = cutoffs(now)
    session = db.session()
    recent_referral = exists().where(
        Referral.family_id == Family.id,
        or_(Referral.status.in_(list(OPEN)),
            func.coalesce(Referral.closed_at, Referral.last_activity_at) >= cut["closed"]))
    recent_signal = exists().where(Signal.family_id == Family.id,
                                   Signal.created_at >= cut["signal"])
    families = session.exec(select(Family.id).where(
        Family.created_at < cut["signal"], ~recent_referral, ~recent_signal)).all()
    gone = set(families)
    lone = session.exec(select(Signal.id, Signal.family_id).where(
        Signal.created_at < cut["signal"],
        ~exists().where(Referral.signal_id == Signal.id))).all()
    return families, [(s, f) for s, f in lone if f not in gone]
