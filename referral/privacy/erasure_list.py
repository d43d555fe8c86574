"""The list of erased families, outside the database and outside every backup.

One line per erasure: the family's random id and the day (no personal data). A restore from
a backup made before an erasure reads it and erases those families again, so a restore never
brings a family back. The line is appended only once the erasure has committed (like the
access log's head file), and synced to disk before the request answers."""

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import event
from sqlmodel import Session, select

from referral import db, policy
from referral.cases.models import Family

DEFAULT = "erased-families.log"
_PENDING = "erasure_list"
_KNOWN = "erasure_list_known"  # ids a restore re-erases: listed already


def path(app=None):
    """Where the list is: ERASURE_LIST, or erased-families.log in the instance folder."""
    app = app or current_app
    return Path(app.config.get("ERASURE_LIST") or Path(app.instance_path) / DEFAULT)


def remember(family_id):
    """List the family once the current transaction commits."""
    session = db.session()
    if family_id not in session.info.get(_KNOWN, ()):
        session.info.setdefault(_PENDING, {})[family_id] = path()


def read(app=None):
    """The listed family ids with the day of their (first) erasure; ValueError for a line
    that is not one."""
    listed, where = {}, path(app)
    if not where.exists():
        return listed
    for number, line in enumerate(where.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            family_id, day = line.split()
            listed.setdefault(uuid.UUID(family_id), datetime.fromisoformat(day).date())
        except ValueError as exc:
            raise ValueError(f"{where}, line {number}: not a family id and a date") from exc
    return listed


@event.listens_for(Session, "after_commit")
def _append(session):
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    day = datetime.now(UTC).date().isoformat()
    for where in set(pending.values()):
        lines = "".join(f"{family_id} {day}\n" for family_id, target in pending.items()
                        if target == where)
        fd = os.open(where, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, lines.encode())
            os.fsync(fd)
        finally:
            os.close(fd)


@event.listens_for(Session, "after_rollback")
def _forget(session):
    session.info.pop(_PENDING, None)


def reapply(actor, listed, *, batch=100, commit=None):
    """Erase again every listed family the database holds (after a restore from a backup
    made before their erasure), as the same erasure with the reason "restore"; returns how
    many. `commit`: called after each batch."""
    from referral.privacy.models import ErasureReason
    from referral.privacy.operations import _erase  # it lists erasures here: import late

    policy.require(actor, "privacy.retention")
    session = db.session()
    present = [family_id for (family_id,) in session.execute(select(Family.id))
               if family_id in listed]
    session.info[_KNOWN] = set(present)  # listed already: no second line
    try:
        for n, family_id in enumerate(present, 1):
            _erase(family_id, user=actor, reason=ErasureReason.restore)
            if n % batch == 0:
                (commit or session.flush)()
        (commit or session.flush)()
    finally:
        session.info.pop(_KNOWN, None)
    return len(present)
