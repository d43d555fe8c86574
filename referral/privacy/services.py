"""A family's rights and the retention of its data: everything stored about it (an access
request), erasure everywhere, and the daily purge of what is kept too long."""

import json
import uuid
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import exists, func, or_
from sqlmodel import delete, select

from referral import audit, db
from referral.audit.models import AuditEvent
from referral.auth.models import LoginAttempt
from referral.auth.queries import names as names_of
from referral.cases.models import Child, Consent, Family, Signal, SignalDomain
from referral.cases.services import address_index
from referral.crypto import context, keyring
from referral.feedback.models import FeedbackAttempt, FeedbackInvite, FeedbackResponse
from referral.mail import OutboxMessage
from referral.monitor import operations as monitor
from referral.privacy.models import ErasureReceipt
from referral.referrals.models import OPEN, Handover, Referral, ReferralEvent

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
            if value is not None:
                value = keyring().open(value, context(row, name))
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


def family_record(user, family):
    """Everything stored about a family, decrypted, with who accessed it: for an access
    request. Audited as an export."""
    record = {}
    for model, conditions, order in reversed(family_rows(family.id)):
        rows = [dump(row) for row in _rows(model, *conditions, order=order)]
        if model is OutboxMessage:  # the messages went to staff: their addresses are theirs
            for row in rows:
                row.pop("recipient", None)
        record[model.__tablename__] = rows
    record["accesses"] = accesses(family.id)
    audit.record("export", object_type="family", object_id=family.id, family_id=family.id,
                 user=user, summary="access request: everything stored, decrypted")
    return record


def accesses(family_id):
    """Who accessed a family's data when, oldest first (NEN 7513)."""
    events = _rows(AuditEvent, AuditEvent.family_id == family_id, order=AuditEvent.seq)
    names = names_of(event.user_id for event in events)
    return [{"at": _value(event.at), "user": names.get(event.user_id, ""),
             "role": event.role or "", "action": event.action,
             "object": event.object_type or "", "outcome": event.outcome}
            for event in events]


def find_families(*, reference=None, postcode=None, house_number=None):
    """Families by their reference (the id on the family page) or by postcode and house
    number, across every organisation (the keyed hash is per organisation)."""
    session = db.session()
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


def erase(family_id, *, user=None, reason="request"):
    """Delete a family's data everywhere (children, signals, consents, referrals and their
    events, handovers, feedback, queued mail); the access log keeps its entries under the
    family's random id, which names nobody once the family is gone. Returns a receipt."""
    session = db.session()
    counts = {}
    for model, conditions, _order in family_rows(family_id):
        result = session.exec(delete(model).where(*conditions))
        if result.rowcount:
            counts[model.__tablename__] = result.rowcount
    monitor.forget_figures()
    receipt = ErasureReceipt(erased_by=user.id if user else None, family_ref=family_id,
                             reason=reason, counts=json.dumps(counts, sort_keys=True))
    session.add(receipt)
    audit.record("delete", object_type="family", object_id=family_id, family_id=family_id,
                 user=user, summary=f"family erased ({reason})")
    session.flush()
    return receipt


def _erase_signal(signal_id, family_id):
    session = db.session()
    session.exec(delete(SignalDomain).where(SignalDomain.signal_id == signal_id))
    session.exec(delete(Signal).where(Signal.id == signal_id))
    audit.record("delete", object_type="signal", object_id=signal_id, family_id=family_id,
                 summary="signal without a referral erased (retention)")


# --- retention ---------------------------------------------------------------------------

def cutoffs(now):
    config = current_app.config
    return {name: now - timedelta(days=config[f"RETENTION_{name.upper()}_DAYS"])
            for name in ("closed", "signal", "audit", "mail", "attempt")}


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


def _old(model, column, before, *conditions):
    return select(func.count()).select_from(model).where(column < before, *conditions)


def purge(now=None, *, dry_run=False, progress=None):
    """Erase what is kept too long; with dry_run, only count it. Returns {what: count}."""
    now = now or db.utcnow()
    cut = cutoffs(now)
    session = db.session()
    families, signals = due(now)
    sent_long_ago = [OutboxMessage.sent_at.is_not(None)]
    small = {
        "login_attempts": (LoginAttempt, LoginAttempt.at, cut["attempt"], []),
        "feedback_attempts": (FeedbackAttempt, FeedbackAttempt.at, cut["attempt"], []),
        "mail_sent": (OutboxMessage, OutboxMessage.created_at, cut["mail"], sent_long_ago),
    }
    summary = {"families": len(families), "signals": len(signals),
               "audit_entries": session.exec(_old(AuditEvent, AuditEvent.at,
                                                  cut["audit"])).one()}
    summary.update({name: session.exec(_old(*spec[:3], *spec[3])).one()
                    for name, spec in small.items()})
    if dry_run:
        return summary
    for n, family_id in enumerate(families, 1):
        erase(family_id, reason="retention")
        if n % 100 == 0:
            db.commit()
        if progress:
            progress(1)
    for signal_id, family_id in signals:
        _erase_signal(signal_id, family_id)
        if progress:
            progress(1)
    for model, column, before, conditions in small.values():
        session.exec(delete(model).where(column < before, *conditions))
    db.commit()
    audit.remove_before(session, cut["audit"])
    db.commit()
    return summary
