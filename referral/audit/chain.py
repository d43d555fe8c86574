"""Write and verify the access log."""

import hashlib
import os
from datetime import UTC
from pathlib import Path

from flask import current_app, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import event
from sqlmodel import Session, delete, func, select

from referral import db
from referral.audit.models import GENESIS, AuditCheckpoint, AuditEvent, AuditHead, AuditOutcome

ACTIONS = {"read", "create", "update", "delete", "search", "export", "print", "login", "logout"}
OUTCOMES = set(AuditOutcome)
HEAD_FILE = "audit-head.log"
CHAINED = ("seq", "at", "user_id", "role", "on_behalf_of", "family_id", "action",
           "object_type", "object_id", "address", "outcome", "summary", "request_id")


def _canonical(value):
    if value is None:
        return ""
    if hasattr(value, "astimezone"):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds")
    return str(value)


def entry_hash(entry):
    fields = "\x1f".join(_canonical(getattr(entry, name)) for name in CHAINED)
    return hashlib.sha256(f"{entry.prev_hash}\x1e{fields}".encode()).hexdigest()


def record(action, *, outcome="success", object_type=None, object_id=None, family_id=None,
           summary="", user=None, on_behalf_of=None):
    """Append an entry in the current transaction; it commits with the change it records."""
    if action not in ACTIONS or outcome not in OUTCOMES:  # a programming error: fail loudly
        raise ValueError(f"unknown audit action or outcome: {action}, {outcome}")
    if user is None and has_request_context() and current_user.is_authenticated:
        user = current_user
    session = db.session()
    # Take our turn at the head: a row lock on PostgreSQL; SQLite holds its write lock already.
    head = session.exec(select(AuditHead).where(AuditHead.id == 1).with_for_update()).one()
    entry = AuditEvent(
        seq=head.seq + 1,
        user_id=user.id if user else None,
        role=user.role if user else None,
        on_behalf_of=on_behalf_of,
        family_id=family_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        address=request.remote_addr if has_request_context() else None,
        outcome=outcome,
        summary=summary[:200],
        request_id=g.get("request_id") if has_request_context() else None,
        prev_hash=head.hash,
    )
    entry.hash = entry_hash(entry)
    head.seq, head.hash = entry.seq, entry.hash
    session.add(entry)
    session.add(head)
    session.flush()
    session.info["audit_head"] = (entry.seq, entry.hash, current_app.instance_path)
    return entry


@event.listens_for(Session, "after_commit")
def _write_head_file(session):
    """Keep the newest hash outside the database too, so a cut-off tail shows."""
    head = session.info.pop("audit_head", None)
    if head is None:
        return
    seq, digest, instance_path = head
    fd = os.open(Path(instance_path) / HEAD_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{seq} {digest}\n".encode())
    finally:
        os.close(fd)


@event.listens_for(Session, "after_rollback")
def _forget_head(session):
    session.info.pop("audit_head", None)


def checkpoint(session):
    """The newest retention checkpoint, or None."""
    return session.exec(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc())).first()


def remove_before(session, before, progress=None):
    """Remove the entries older than `before` (retention); a checkpoint keeps the last removed
    entry's hash, and the removal itself is a new entry of the chain. Returns the number
    removed."""
    last = session.exec(select(AuditEvent).where(AuditEvent.at < before)
                        .order_by(AuditEvent.seq.desc())).first()
    if last is None:
        return 0
    previous = checkpoint(session)
    removed = last.seq - (previous.seq if previous else 0)
    session.add(AuditCheckpoint(seq=last.seq, hash=last.hash, removed=removed))
    session.flush()
    for start in range(previous.seq + 1 if previous else 1, last.seq + 1, 1000):
        session.exec(delete(AuditEvent).where(AuditEvent.seq >= start,
                                              AuditEvent.seq < min(start + 1000, last.seq + 1)))
        if progress:
            progress(min(1000, last.seq + 1 - start))
    record("delete", object_type="audit_log", object_id=last.seq,
           summary=f"entries up to {last.seq} removed after retention; last hash {last.hash}")
    return removed


def verify(session, instance_path, progress=None):
    """Return None for an intact log, or a sentence naming the first broken entry."""
    prev_hash, expected = GENESIS, 1
    kept_from = checkpoint(session)
    if kept_from is not None:
        # The removal was itself logged in the chain: a checkpoint nobody logged is forged.
        logged = session.exec(select(AuditEvent).where(
            AuditEvent.object_type == "audit_log",
            AuditEvent.object_id == str(kept_from.seq))).first()
        if logged is None or kept_from.hash not in logged.summary:
            return f"the checkpoint at entry {kept_from.seq} is not in the log"
        prev_hash, expected = kept_from.hash, kept_from.seq + 1
    rows = session.exec(select(AuditEvent).order_by(AuditEvent.seq).execution_options(
        yield_per=1000))
    try:
        for entry in rows:
            if entry.seq != expected:
                return f"entry {expected} is missing (the next entry is {entry.seq})"
            if entry.prev_hash != prev_hash:
                return (f"entry {entry.seq} does not follow entry {expected - 1} "
                        "(removed or reordered)")
            if entry_hash(entry) != entry.hash:
                return f"entry {entry.seq} was changed"
            if progress:
                progress(1)
            prev_hash, expected = entry.hash, expected + 1
    finally:
        rows.close()
    last = expected - 1
    head = session.get(AuditHead, 1)
    if head is None or (head.seq, head.hash) != (last, prev_hash):
        return f"the log ends at entry {last}, but its head says entry {head.seq if head else '?'}"
    outside = _last_head_in_file(Path(instance_path) / HEAD_FILE)
    if outside is not None:
        seq, digest = outside
        if seq > last:
            return f"entries after {last} were removed (entry {seq} was recorded)"
        stored = session.get(AuditEvent, seq)
        if stored is None or stored.hash != digest:
            return f"entry {seq} differs from the hash recorded outside the database"
    return None


def _last_head_in_file(path):
    if not path.exists():
        return None
    newest = None
    with path.open() as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 2 and parts[0].isdigit():
                candidate = (int(parts[0]), parts[1])
                if newest is None or candidate[0] > newest[0]:
                    newest = candidate
    return newest


def count(session):
    head = session.get(AuditHead, 1)
    return head.seq if head else 0


def denied_since(session, since):
    """How many accesses were refused since then (the privacy officer's home page)."""
    return session.exec(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.at >= since, AuditEvent.outcome == AuditOutcome.denied)).one()
