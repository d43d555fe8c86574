"""Write and verify the access log.

Each entry's hash covers the entry before it. Since the log key (keys.json's `log_key`, or
REFERRAL_LOG_KEY) it is an HMAC-SHA256 under that key, stored as ``m1:<base64url>``: someone
who can write the database but has no keys cannot make a chain that verifies. Entries from
before the log key keep their plain SHA-256 (64 hex digits) and still verify, but only
before the first keyed entry: a plain entry after a keyed one is a forgery.
"""

import base64
import hashlib
import hmac
import logging
import os
import syslog
from datetime import UTC
from itertools import islice
from pathlib import Path
from types import SimpleNamespace

from flask import current_app, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import bindparam, event
from sqlmodel import Session, delete, func, select

from referral import crypto, db
from referral.audit.models import GENESIS, AuditCheckpoint, AuditEvent, AuditHead, AuditOutcome

ACTIONS = {"read", "create", "update", "delete", "search", "export", "print", "login", "logout"}
OUTCOMES = set(AuditOutcome)
HEAD_FILE = "audit-head.log"
MAC = "m1:"  # the mark of a keyed entry hash: HMAC-SHA256 under the log key
log = logging.getLogger(__name__)
CHAINED = ("seq", "at", "user_id", "role", "on_behalf_of", "family_id", "action",
           "object_type", "object_id", "address", "outcome", "summary", "request_id")
ROW = (*CHAINED, "prev_hash", "hash")


def _canonical(value):
    if value is None:
        return ""
    if hasattr(value, "astimezone"):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds")
    return str(value)


def entry_hash(entry, key=None):
    """The entry's hash: keyed with the log key, else (entries from before it) plain."""
    fields = "\x1f".join(_canonical(getattr(entry, name)) for name in CHAINED)
    message = f"{entry.prev_hash}\x1e{fields}".encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    mac = hmac.new(key, message, hashlib.sha256).digest()
    return MAC + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def keyed(digest):
    return digest.startswith(MAC)


def log_key(app=None):
    """The log key of the app's key material, or None (keys from before the log key)."""
    ring = (app or current_app).extensions.get("referral.keyring")
    return ring.log_key if ring is not None else None


def sealed(session):
    """Whether the newest entry is sealed with the log key (or there is none yet)."""
    head = _head(session)
    return head is None or head.seq == 0 or keyed(head.hash)


# The head and the entries are read and written as rows, not as ORM objects: the log is
# written on every family read, and the ORM's unit of work cost that read a tenth of its
# time. Nothing holds an AuditHead object that these statements could leave stale; the
# session keeps the head it wrote, for the next entry of the same transaction only.
@db.prepared
def _head_statement(for_update):
    head = AuditHead.__table__
    statement = select(head.c.seq, head.c.hash).where(head.c.id == 1)
    return statement.with_for_update() if for_update else statement


@db.prepared
def _append_statements(together):
    """The entry's insert and the head's move; `together`, one statement (PostgreSQL runs
    the move as a part of the insert: a round trip less)."""
    head = AuditHead.__table__
    move = head.update().where(head.c.id == 1).values(seq=bindparam("new_seq"),
                                                      hash=bindparam("new_hash"))
    append = AuditEvent.__table__.insert()
    return (append.add_cte(move.cte("moved")),) if together else (append, move)


def _head(session, *, for_update=False):
    """The newest entry's number and hash (None before the log's first migration)."""
    return db.row(_head_statement(for_update), within=session)


def record(action, *, outcome="success", object_type=None, object_id=None, family_id=None,
           summary="", user=None, on_behalf_of=None):
    """Append an entry in the current transaction; it commits with the change it records."""
    if action not in ACTIONS or outcome not in OUTCOMES:  # a programming error: fail loudly
        raise ValueError(f"unknown audit action or outcome: {action}, {outcome}")
    if user is None and has_request_context() and current_user.is_authenticated:
        user = current_user._get_current_object()
    session = db.session()
    session.flush()  # the change it records goes first, as with the ORM's own writes
    # Take our turn at the head: a row lock on PostgreSQL; SQLite holds its write lock already.
    # A transaction that wrote an entry holds the head since: that entry is the head.
    written = session.info.get("audit_head")
    if written is not None and written[4] is session.get_transaction():
        head = SimpleNamespace(seq=written[0], hash=written[1])
    else:
        head = _head(session, for_update=True)
    key = log_key()
    if key is None and keyed(head.hash):
        # Never a plain entry after a keyed one: that is what a forger would write.
        raise crypto.CryptoError("the access log is keyed, but there is no log key: "
                                 f"restore {crypto.KEY_FILE} or set REFERRAL_LOG_KEY")
    # The row's values as plain attributes: a model object cost 50 µs to build, for a row
    # that is inserted as a row.
    entry = SimpleNamespace(
        seq=head.seq + 1,
        at=db.utcnow(),
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
    entry.hash = entry_hash(entry, key)
    row = {name: getattr(entry, name) for name in ROW}
    moved = {"new_seq": entry.seq, "new_hash": entry.hash}
    if db.engine().dialect.name == "postgresql":
        db.write(*_append_statements(True), {**row, **moved})
    else:
        append, move_head = _append_statements(False)
        db.write(append, row)
        db.write(move_head, moved)
    session.info["audit_head"] = (entry.seq, entry.hash, current_app.instance_path,
                                  current_app.config.get("AUDIT_HEAD_SINK"),
                                  session.get_transaction())


def _append(path, line):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@event.listens_for(Session, "after_commit")
def _write_head_file(session):
    """Keep the newest hash outside the database too, so a cut-off tail or a rewritten
    entry shows: in the instance folder, and in the sink outside the instance if one is
    set (AUDIT_HEAD_SINK: a file on another mount, or "syslog")."""
    head = session.info.pop("audit_head", None)
    if head is None:
        return
    seq, digest, instance_path, sink, _transaction = head
    line = f"{seq} {digest}\n"
    _append(Path(instance_path) / HEAD_FILE, line)
    if not sink:
        return
    try:  # the change is committed: a sink that is away must not turn it into an error
        if sink == "syslog":
            syslog.syslog(syslog.LOG_NOTICE, f"referral audit head {line.strip()}")
        else:
            _append(sink, line)
    except OSError as exc:
        log.error("the access log's head did not reach %s: %s", sink, exc)


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


def verify(session, instance_path, progress=None, *, key=None, sink=None):
    """Return None for an intact log, or a sentence naming the first broken entry.

    `key`: the log key (default: the app's); `sink`: the head's copy outside the instance
    (default: AUDIT_HEAD_SINK when it is a file). Every line of the head file and of the
    sink must be an entry of the chain as it is now."""
    if key is None:
        key = log_key()
    if sink is None:
        sink = current_app.config.get("AUDIT_HEAD_SINK")
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
    was_keyed = keyed(prev_hash)
    rows = session.exec(select(AuditEvent).order_by(AuditEvent.seq).execution_options(
        yield_per=1000))
    try:
        for entry in rows:
            if entry.seq != expected:
                return f"entry {expected} is missing (the next entry is {entry.seq})"
            if entry.prev_hash != prev_hash:
                return (f"entry {entry.seq} does not follow entry {expected - 1} "
                        "(removed or reordered)")
            if keyed(entry.hash):
                if key is None:
                    return (f"entry {entry.seq} is sealed with a log key, and this instance "
                            "has none (keys.json without log_key?)")
                was_keyed = True
                right = hmac.compare_digest(entry_hash(entry, key), entry.hash)
            elif was_keyed:
                return (f"entry {entry.seq} was changed (a plain hash after entries sealed "
                        "with the log key)")
            else:
                right = entry_hash(entry) == entry.hash
            if not right:
                return f"entry {entry.seq} was changed"
            if progress:
                progress(1)
            prev_hash, expected = entry.hash, expected + 1
    finally:
        rows.close()
    last = expected - 1
    head = _head(session)
    if head is None or (head.seq, head.hash) != (last, prev_hash):
        return f"the log ends at entry {last}, but its head says entry {head.seq if head else '?'}"
    if key is not None and last > 0 and not keyed(prev_hash):
        # Every entry since the log key is keyed (init writes one when it adds the key).
        return f"entry {last} was changed (not sealed with the log key)"
    places = [(Path(instance_path) / HEAD_FILE, HEAD_FILE)]
    if sink and sink != "syslog":
        places.append((Path(sink), sink))
    for path, where in places:
        problem = _check_outside(session, path, where, last, kept_from)
        if problem:
            return problem
    return None


def _head_lines(path):
    """(line number, seq, hash) of every well-formed line of a head file."""
    with path.open() as fh:
        for number, line in enumerate(fh, 1):
            parts = line.split()
            if len(parts) == 2 and parts[0].isdigit():
                yield number, int(parts[0]), parts[1]


def _check_outside(session, path, where, last, kept_from, chunk=5000):
    """Every line of a head file against the verified chain: a line beyond the newest entry
    means a cut-off tail; a line that differs, a rewritten log."""
    if not path.exists():
        return None
    newest = max((seq for _n, seq, _h in _head_lines(path)), default=0)
    if newest > last:
        return f"entries after {last} were removed (entry {newest} was recorded, in {where})"
    removed_up_to = kept_from.seq if kept_from else 0
    lines = _head_lines(path)
    while batch := list(islice(lines, chunk)):
        wanted = [seq for _n, seq, _h in batch if seq > removed_up_to]
        stored = {}
        if wanted:
            stored = dict(session.exec(select(AuditEvent.seq, AuditEvent.hash).where(
                AuditEvent.seq >= min(wanted), AuditEvent.seq <= max(wanted))).all())
        for number, seq, digest in batch:
            if seq > removed_up_to:
                right = stored.get(seq) == digest
            elif seq == removed_up_to:
                right = kept_from.hash == digest
            else:
                continue  # removed after its retention period: nothing left to compare
            if not right:
                return (f"entry {seq} differs from the hash recorded outside the database "
                        f"({where}, line {number}): the log was rewritten")
    return None


def count(session):
    head = _head(session)
    return head.seq if head else 0


def denied_since(session, since):
    """How many accesses were refused since then (the privacy officer's home page)."""
    return session.exec(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.at >= since, AuditEvent.outcome == AuditOutcome.denied)).one()
