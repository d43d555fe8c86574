"""Retention with a moved clock: families, lone signals, old log entries and attempts go when
their time has passed, and not a day earlier; the access log stays verifiable."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import delete, select

from referral import db, policy
from referral.audit.chain import verify
from referral.audit.models import AuditCheckpoint, AuditEvent
from referral.auth.models import LoginAttempt, User
from referral.cases.models import Family, Signal
from referral.cases.operations import create_family, log_signal
from referral.mail import OutboxMessage
from referral.privacy import operations
from referral.privacy.models import ErasureReceipt
from referral.referrals.models import Referral, Status

NOW = datetime.now(UTC)


def _days(n):
    return NOW + timedelta(days=n)


def _close_all(app, family_id, when=None):
    with app.app_context():
        for referral in db.session().exec(select(Referral).where(
                Referral.family_id == family_id)):
            referral.status, referral.closed_at = Status.completed, when or db.utcnow()
            db.session().add(referral)
        db.commit()


def _lone_family(app, user_id, name="Gezin Alleen Signaal"):
    """A family with one signal that led to no referral."""
    with app.app_context():
        nurse = db.session().get(User, user_id)
        family = create_family(nurse, parent_names=name, children=[])
        log_signal(nurse, family, domains=["food"], source="observation", observations="x")
        db.commit()
        return family.id


def _exists(app, model, ident):
    with app.app_context():
        return db.session().get(model, ident) is not None


def _purge(app, at, **options):
    with app.app_context():
        summary = operations.purge(policy.COMMAND_LINE, now=at, **options)
        db.commit()  # the operation flushes; its caller commits, as the command does
        return summary


def test_open_referrals_keep_a_family_however_long(app, world):
    _purge(app, _days(3650))
    assert _exists(app, Family, world.family_id)


def test_a_family_goes_two_years_after_its_last_referral_closed(app, world):
    _close_all(app, world.family_id)
    assert _purge(app, _days(729))["families"] == 0
    assert _exists(app, Family, world.family_id)
    summary = _purge(app, _days(731))
    assert summary["families"] == 1 and not _exists(app, Family, world.family_id)
    with app.app_context():
        receipt = db.session().exec(select(ErasureReceipt)).one()
        assert receipt.reason == "retention" and receipt.erased_by is None
        assert receipt.family_ref == world.family_id and '"referral": 2' in receipt.counts


def test_a_signal_without_a_referral_goes_after_a_year(app, world):
    lone = _lone_family(app, world.owner.id)
    with app.app_context():  # and one more signal of the referred family, never referred
        session = db.session()
        extra = log_signal(session.get(User, world.owner.id),
                           session.get(Family, world.family_id), domains=["housing"],
                           source="conversation", observations="y").id
        db.commit()
    early = _purge(app, _days(364))
    assert (early["families"], early["signals"]) == (0, 0) and _exists(app, Family, lone)
    summary = _purge(app, _days(366))
    assert summary["families"] == 1 and summary["signals"] == 1
    assert not _exists(app, Family, lone) and not _exists(app, Signal, extra)
    assert _exists(app, Family, world.family_id) and _exists(app, Signal, world.signal_id)


def test_dry_run_changes_nothing(app, world):
    lone = _lone_family(app, world.owner.id)
    _close_all(app, world.family_id)
    with app.app_context():
        entries = db.session().exec(select(func.count()).select_from(AuditEvent)).one()
    summary = _purge(app, _days(2000), dry_run=True)
    assert summary["families"] == 2 and summary["audit_entries"] == entries
    assert _exists(app, Family, lone) and _exists(app, Family, world.family_id)
    with app.app_context():
        assert db.session().exec(select(func.count()).select_from(AuditEvent)).one() == entries


def test_old_log_entries_go_with_a_checkpoint_and_the_chain_still_verifies(app, world):
    with app.app_context():
        first_seq = db.session().exec(select(func.max(AuditEvent.seq))).one()
    _purge(app, _days(5 * 366))
    with app.app_context():
        session = db.session()
        kept = session.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()
        assert kept[0].seq > first_seq  # everything from before is gone …
        assert kept[-1].object_type == "audit_log"  # … and the removal itself is logged
        assert verify(session, app.instance_path) is None
        # Entries after the checkpoint still cannot be removed, by the database itself.
        with pytest.raises(sa.exc.DatabaseError):
            session.exec(delete(AuditEvent).where(AuditEvent.seq == kept[-1].seq))
            session.flush()
        session.rollback()


def test_a_forged_checkpoint_is_found(app, world):
    _purge(app, _days(5 * 366))
    with app.app_context():
        session = db.session()
        checkpoint = session.exec(select(AuditCheckpoint)).one()
        session.add(AuditCheckpoint(seq=checkpoint.seq + 1, hash="f" * 64))
        db.commit()
        assert "checkpoint" in verify(session, app.instance_path)


def test_failed_logins_and_sent_mail_go_too(app, world):
    with app.app_context():
        session = db.session()
        session.add(LoginAttempt(email_index="x", address="127.0.0.1", succeeded=False))
        sent = OutboxMessage(subject="s", body="b", sent_at=db.utcnow())
        sent.recipient = "medewerker@example.org"
        session.add(sent)
        db.commit()
        waiting = session.exec(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.sent_at.is_(None))).one()
    assert _purge(app, _days(29))["login_attempts"] == 0
    month = _purge(app, _days(31))
    assert month["login_attempts"] == 1 and month["mail_sent"] == 0
    assert _purge(app, _days(91))["mail_sent"] == 1
    with app.app_context():
        session = db.session()
        assert session.exec(select(func.count()).select_from(LoginAttempt)).one() == 0
        # Mail that still waits to be sent is not purged.
        assert session.exec(select(func.count()).select_from(OutboxMessage)).one() == waiting


def test_the_command_shows_progress_and_a_summary(app, world, runner):
    _lone_family(app, world.owner.id)
    as_of = _days(400).date().isoformat()
    dry = runner.invoke(args=["retention", "purge", "--dry-run", "--as-of", as_of])
    assert dry.exit_code == 0, dry.output
    assert re.search(r"Would erase: 1 families, 0 signals", dry.output)
    done = runner.invoke(args=["retention", "purge", "--as-of", as_of])
    assert done.exit_code == 0, done.output
    assert "Erased: 1 families" in done.output
    again = runner.invoke(args=["retention", "purge", "--as-of", as_of])
    assert "Erased: 0 families, 0 signals" in again.output
    bad = runner.invoke(args=["retention", "purge", "--as-of", "gisteren"])
    assert bad.exit_code != 0 and "gisteren" in bad.output
