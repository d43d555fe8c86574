"""A family's rights and the retention of its data: finding a family for its request,
showing everything stored about it (an access request), erasure everywhere, reading the
access log, and the daily purge of what is kept too long."""

import json

from sqlalchemy import func
from sqlmodel import delete, select

from referral import audit, db, familykeys, policy
from referral.audit.models import AuditEvent
from referral.auth.models import AccountLink, LoginAttempt
from referral.auth.queries import find_user
from referral.cases.models import Signal, SignalDomain
from referral.feedback.models import FeedbackAttempt
from referral.mail import OutboxMessage
from referral.monitor import operations as monitor
from referral.privacy import erasure_list, queries
from referral.privacy.models import ErasureReason, ErasureReceipt


def _officer(actor, family=None, **about):
    """Only a privacy officer: for anyone else even the family's existence is private."""
    if family is not None:
        about.update(object_type="family", object_id=family.id, family_id=family.id)
    policy.require(actor, "privacy.request", family, hide=True, **about)


def find_families(actor, *, name=None, reference=None, postcode=None, house_number=None):
    """Families by name, reference or address, for a family's request; every look-up is
    logged (how it was searched and how many were found, never what was typed)."""
    _officer(actor)
    families = queries.find_families(name=name, reference=reference, postcode=postcode,
                                     house_number=house_number)
    how = "name" if name else "reference" if reference else "address"
    audit.record("search", object_type="family", user=actor,
                 summary=f"privacy: family looked up by {how} ({len(families)} found)")
    return families


def export_family(actor, family):
    """Everything stored about a family, decrypted, with who accessed it: the answer to an
    access request. Logged as an export."""
    _officer(actor, family)
    record = queries.family_record(family.id)
    audit.record("export", object_type="family", object_id=family.id, family_id=family.id,
                 user=actor, summary="access request: everything stored, decrypted")
    return record


def erase(actor, family):
    """Erase a family at its request (a privacy officer only); returns the receipt."""
    _officer(actor, family, attempted="delete")
    receipt = _erase(family.id, user=actor, reason=ErasureReason.request)
    familykeys.after_erasure()
    return receipt


def _erase(family_id, *, user, reason):
    """Delete a family's data everywhere (children, signals, consents, referrals and their
    events, handovers, feedback, queued mail); the access log keeps its entries under the
    family's random id, which names nobody once the family is gone.

    The family's key goes first: every copy of its values left anywhere (free pages, WAL,
    backups) no longer decrypts. The blind indexes go with the family's and children's
    rows. The caller then calls familykeys.after_erasure (once for many erasures)."""
    session = db.session()
    familykeys.forget(session, family_id)
    counts = {}
    for model, conditions, _order in queries.family_rows(family_id):
        result = session.exec(delete(model).where(*conditions))
        if result.rowcount:
            counts[model.__tablename__] = result.rowcount
    monitor.forget_figures()
    receipt = ErasureReceipt(erased_by=user.id, family_ref=family_id, reason=reason,
                             counts=json.dumps(counts, sort_keys=True))
    session.add(receipt)
    audit.record("delete", object_type="family", object_id=family_id, family_id=family_id,
                 user=user, summary=f"family erased ({reason})")
    erasure_list.remember(family_id)  # outside every backup, so a restore erases it again
    session.flush()
    return receipt


def _erase_signal(signal_id, family_id, *, user):
    session = db.session()
    session.exec(delete(SignalDomain).where(SignalDomain.signal_id == signal_id))
    session.exec(delete(Signal).where(Signal.id == signal_id))
    audit.record("delete", object_type="signal", object_id=signal_id, family_id=family_id,
                 user=user, summary="signal without a referral erased (retention)")


def read_access_log(actor, *, family_id=None, employee_email=None, action=None, start=None,
                    end=None, page=1):
    """One page of the access log, filtered, and whether there are older entries. Reading
    the log is itself in the log, with the family and the employee it was about."""
    policy.require(actor, "audit.read", hide=True, object_type="audit_log")
    employee = find_user(employee_email) if employee_email else None
    events, more = queries.log_entries(
        family_id=family_id, by_user=bool(employee_email),
        user_id=employee.id if employee else None, action=action, start=start, end=end,
        page=page)
    audit.record("read", object_type="audit_log", object_id=employee.id if employee else None,
                 family_id=family_id, user=actor,
                 summary=f"access log read ({len(events)} entries)")
    return events, more


def _old(model, column, before, *conditions):
    return select(func.count()).select_from(model).where(column < before, *conditions)


def purge(actor, *, now=None, dry_run=False, progress=None, commit=None):
    """Erase what is kept too long (a privacy officer or the command line); with dry_run,
    only count it. Returns {what: count}.

    `commit`: called between batches by a caller that wants each batch to hold on its own
    (the daily command: a long purge then never holds the access log's head for long, and
    an interrupted one keeps what it did). Without it everything is in the caller's
    transaction."""
    policy.require(actor, "privacy.retention")
    now = now or db.utcnow()
    cut = queries.cutoffs(now)
    session = db.session()
    families, signals = queries.due(now)
    sent_long_ago = [OutboxMessage.sent_at.is_not(None)]
    small = {
        "login_attempts": (LoginAttempt, LoginAttempt.at, cut["attempt"], []),
        "feedback_attempts": (FeedbackAttempt, FeedbackAttempt.at, cut["attempt"], []),
        # Links to choose a password, a month after they stopped working.
        "account_links": (AccountLink, AccountLink.expires_at, cut["attempt"], []),
        "mail_sent": (OutboxMessage, OutboxMessage.created_at, cut["mail"], sent_long_ago),
    }
    summary = {"families": len(families), "signals": len(signals),
               "audit_entries": session.exec(_old(AuditEvent, AuditEvent.at,
                                                  cut["audit"])).one()}
    summary.update({name: session.exec(_old(*spec[:3], *spec[3])).one()
                    for name, spec in small.items()})
    if dry_run:
        return summary
    commit = commit or session.flush
    for n, family_id in enumerate(families, 1):
        _erase(family_id, user=actor, reason=ErasureReason.retention)
        if n % 100 == 0:
            commit()
        if progress:
            progress(1)
    if families:
        familykeys.after_erasure()
    for signal_id, family_id in signals:
        _erase_signal(signal_id, family_id, user=actor)
        if progress:
            progress(1)
    for model, column, before, conditions in small.values():
        session.exec(delete(model).where(column < before, *conditions))
    commit()
    audit.remove_before(session, cut["audit"])
    session.flush()
    return summary
