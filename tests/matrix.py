"""Calling operations directly, as each person of the world or as the command line, and
checking that a refusal leaves nothing behind but its denial in the access log."""

from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from sqlmodel import SQLModel, func, select

from referral import db, policy
from referral.audit.models import AuditEvent
from referral.auth.models import User
from referral.cases.models import Child, Consent, Family, Signal
from referral.errors import Denied, Refused
from referral.feedback.models import FeedbackAttempt, FeedbackInvite, FeedbackResponse
from referral.mail import OutboxMessage
from referral.referrals.models import Handover, Referral, ReferralEvent
from referral.referrals.operations import assign_bridge, decide_bridge

# --- the world's people -------------------------------------------------------------------

# Everyone of the world, the bridge worker once asked to accompany the inbox referral, and
# the operator at the command line.
WORLD_ACTORS = ("owner", "colleague", "stranger", "partner", "other_partner", "letter_partner",
          "bridge", "bridge_assigned", "coordinator", "privacy", "command_line")
TABLES = (Family, Child, Signal, Consent, Referral, ReferralEvent, Handover, OutboxMessage,
          FeedbackInvite, FeedbackResponse, FeedbackAttempt)


def acting(world, who):
    """The user object of this actor, in the current session."""
    if who == "command_line":
        return policy.COMMAND_LINE
    return db.session().get(User, getattr(world, who.removesuffix("_assigned")).id)


def actor_id(world, who):
    return None if who == "command_line" else getattr(world, who.removesuffix("_assigned")).id


def snapshot(app):
    """Every row an operation could write, and the state of every referral and consent;
    the access log apart from its denials."""
    with app.app_context():
        session = db.session()
        counts = {model.__tablename__: session.exec(
            select(func.count()).select_from(model)).one() for model in TABLES}
        counts["audit"] = session.exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.outcome != "denied")).one()
        referrals = session.exec(select(
            Referral.id, Referral.status, Referral.version, Referral.owner_id,
            Referral.bridge_id, Referral.last_activity_at).order_by(Referral.id)).all()
        consents = session.exec(select(Consent.id, Consent.withdrawn_at)
                                .order_by(Consent.id)).all()
        families = session.exec(select(Family.id, Family.parent_names_enc)
                                .order_by(Family.id)).all()
        return counts, [tuple(r) for r in referrals], [tuple(c) for c in consents], [
            tuple(f) for f in families]


def denials(app):
    with app.app_context():
        return db.session().exec(select(AuditEvent).where(AuditEvent.outcome == "denied")
                                 .order_by(AuditEvent.seq)).all()


def attempt(app, world, who, operation, context=None):
    """Call operation(user, world, context) as this actor, outside any request, and commit
    as a request does, refused or not. Returns the refusal (its message in English) or
    None."""
    with app.app_context():
        try:
            operation(acting(world, who), world, context)
        except Refused as refused:
            db.commit()  # a refused request is committed too: nothing may be pending
            with app.test_request_context(), force_locale("en"):
                refused.english = str(refused)
            return refused
        db.commit()
        return None


def check_as(app, world, who, call, *, may, rule, context=None, not_theirs=()):
    """Call operation `call` as `who` and check the outcome: those in `may` change something
    and are not denied; anyone else changes nothing and is refused: `not_theirs` with
    "This step is not yours to take." and no denial, the rest with a logged denial of `rule`."""
    before, denied = snapshot(app), len(denials(app))
    refused = attempt(app, world, who, call, context)
    new_denials = denials(app)[denied:]
    if who in may:
        assert refused is None, refused.english
        assert snapshot(app) != before
        assert new_denials == []
        return
    assert refused is not None, f"{who} may not do this"
    assert snapshot(app) == before  # nothing written
    if who in not_theirs:
        assert not isinstance(refused, Denied) and refused.english == NOT_YOURS
        assert new_denials == []
    else:
        assert isinstance(refused, Denied), f"{who} may not do this"
        [entry] = new_denials
        assert entry.summary == f"denied: {rule}" and entry.user_id == actor_id(world, who)


NOT_YOURS = "This step is not yours to take."


def accompany(app, world, *, answer=True):
    """The owner asks the bridge worker to accompany the family on the inbox referral, and
    the bridge worker accepts (answer=False: the request waits for an answer)."""
    with app.app_context():
        session = db.session()
        referral = session.get(Referral, world.inbox_referral)
        assign_bridge(session.get(User, world.owner.id), referral,
                      session.get(User, world.bridge.id), family_agreed=True)
        if answer:
            decide_bridge(session.get(User, world.bridge.id), referral, accept=True)
        db.commit()

# --- one account of each role ---------------------------------------------------------------

# The people of the world by role, accounts that are no longer active, and the operator at the
# command line (the `actors` fixture gives each).
ROLE_ACTORS = ["owner", "partner", "bridge", "coordinator", "privacy", "inactive_coordinator",
               "inactive_officer", "command_line"]
ROLE_PEOPLE = {"owner", "partner", "bridge", "coordinator", "privacy"}  # active, with an account

# Someone of every role beside the directory's two partners (the `staff` fixture).
STAFF_ACTORS = ["professional", "partner", "other_partner", "bridge", "coordinator", "privacy",
                "command_line"]


# --- what a refusal leaves behind ----------------------------------------------------------

def stored():
    """Every row of every table, but the access log's denials and its head: the policy logs
    a refusal on purpose."""
    session = db.session()
    rows = {}
    for table in SQLModel.metadata.sorted_tables:
        if table.name == "audit_head":
            continue
        query = sa.select(table)
        if table.name == "audit_event":
            query = query.where(table.c.outcome != "denied")
        rows[table.name] = {tuple(row) for row in session.execute(query)}
    return rows


def denial_count():
    table = SQLModel.metadata.tables["audit_event"]
    return db.session().execute(sa.select(sa.func.count()).select_from(table)
                                .where(table.c.outcome == "denied")).scalar_one()


@contextmanager
def nothing_written(error):
    """`with nothing_written(Denied):` the block raises that error and changes nothing; a
    denial, and only a denial, is in the access log."""
    before, denied = stored(), denial_count()
    with pytest.raises(error) as raised:
        yield raised
    denial = issubclass(error, Denied)
    assert isinstance(raised.value, Denied) is denial  # a rule's refusal is no denial
    assert stored() == before
    assert denial_count() == denied + denial


def last_entry():
    return db.session().exec(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
