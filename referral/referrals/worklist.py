"""Reads for the home page's worklist: what needs this user today, per role. Each section is
a count and the first few rows, so the page asks the same few statements however large the
caseload or inbox grows; the full lists are a link away."""

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import and_, bindparam, func, or_
from sqlmodel import select

from referral import crypto, db, familykeys
from referral.cases.models import Family, Signal
from referral.directory.models import Service
from referral.referrals.models import (
    OPEN,
    EventKind,
    Handover,
    Referral,
    ReferralEvent,
    ReferralSeen,
    Status,
)
from referral.referrals.queries import overdue_clause, overdue_cutoffs, overdue_where

SHOWN = 5  # rows per section; the count says how many there are
# How many rows match in all, read with the first SHOWN of them (a window is computed
# before the LIMIT): a section is one statement, not a count and a read.
TOTAL = func.count().over().label("total")

# What others do to a referral that its people want to know about (reminders and
# escalations are the tool's own, and a creation is not news to anyone yet).
NEWS = (EventKind.status, EventKind.note, EventKind.handover, EventKind.bridge,
        EventKind.consent)


@dataclass
class Section:
    """One kind of work: how many, and the first rows (Row)."""

    count: int = 0
    rows: list = field(default_factory=list)


@dataclass(frozen=True)
class Row:
    referral_id: object
    service: str
    status: str
    at: object  # the date that orders the section: follow-up, request or change
    family: str | None = None  # only on the owner's rows: they work with the family


# The values of the prepared statements below: whose work, and the overdue cutoffs.
USER, ORGANISATION = bindparam("user"), bindparam("organisation")


def _params(user, today=None):
    return {"user": user.id, "organisation": user.organisation_id,
            **overdue_cutoffs(today)}


def _section(where, *, order, at, family=False, joins=()):
    """The statement of a section: the referrals matching `where`, the first SHOWN of them
    and their count as a window over all matching rows (taken before the limit)."""
    columns = [Referral.id, Service.name, Referral.status, at, TOTAL]
    if family:  # the name as stored: opened with the family's key (see _read)
        columns += [Family.id, Family.parent_names_enc]
    query = select(*columns).select_from(Referral).join(
        Service, Service.id == Referral.service_id)
    for join in joins:
        query = query.join(*join)
    if family:
        query = query.join(Family, Family.id == Referral.family_id)
    return query.where(*where).order_by(*order).limit(SHOWN)


def _changed(visible, *, unseen_counts):
    """The statement of the referrals others changed after this user last opened them,
    newest change first. `unseen_counts`: a referral the user never opened counts too (the
    owner's own referrals: they know it from its start); for a partner or bridge worker an
    unopened one is new work, shown in its own section, not a change."""
    seen = and_(ReferralSeen.referral_id == Referral.id, ReferralSeen.user_id == USER)
    after = (or_(ReferralSeen.seen_at.is_(None), ReferralEvent.at > ReferralSeen.seen_at)
             if unseen_counts else ReferralEvent.at > ReferralSeen.seen_at)
    latest = func.max(ReferralEvent.at).label("latest")
    # One row per referral (grouped), so the window counts the referrals.
    return (select(Referral.id, Service.name, Referral.status, latest, TOTAL)
            .select_from(Referral)
            .join(ReferralEvent, ReferralEvent.referral_id == Referral.id)
            .outerjoin(ReferralSeen, seen)
            .join(Service, Service.id == Referral.service_id)
            .where(*visible, ReferralEvent.kind.in_([k.value for k in NEWS]),
                   or_(ReferralEvent.actor_id.is_(None), ReferralEvent.actor_id != USER),
                   after)
            .group_by(Referral.id, Service.name, Referral.status)
            .order_by(latest.desc(), Referral.id).limit(SHOWN))


def _read(statement, params):
    """A section's count and rows; a sixth and seventh column are the family and its name as
    stored (the owner's sections), opened with the families' keys read in one statement."""
    rows = db.rows(statement, params)
    if not rows:
        return Section()
    if len(rows[0]) == 5:
        return Section(rows[0][4], [Row(*r[:4]) for r in rows])
    familykeys.preload(r[5] for r in rows)
    return Section(rows[0][4], [Row(*r[:4], family=familykeys.open_stored(
        r[6], crypto.context_of("family", "parent_names_enc", r[5]), r[5])) for r in rows])


@db.prepared
def _owner_statements():
    mine = Referral.owner_id == USER
    overdue = overdue_where(bindparam("follow_up_before"), bindparam("quiet_since"))
    return {
        "overdue": _section((mine, overdue), family=True,
                            order=(Referral.follow_up_on, Referral.id), at=Referral.follow_up_on),
        "drafts": _section((mine, Referral.status == Status.draft), family=True,
                           order=(Referral.created_at, Referral.id), at=Referral.created_at),
        # A handover is the user's to answer, whoever owns the referral now.
        "handovers": _section((Handover.to_id == USER, Handover.decided_at.is_(None)),
                              joins=((Handover, Handover.referral_id == Referral.id),),
                              order=(Handover.created_at, Handover.id),
                              at=Handover.created_at),
        "changed": _changed((mine,), unseen_counts=True),
    }


def for_owner(user, today=None):
    """A professional's day: overdue follow-ups, drafts waiting to be sent, handovers
    waiting for their answer, and their referrals that others changed."""
    params = _params(user, today)
    return {name: _read(statement, params) for name, statement in _owner_statements().items()}


@db.prepared
def _partner_statements():
    inbox = (Referral.organisation_id == ORGANISATION, Referral.by_inbox,
             Referral.status != Status.draft)
    urgent = Signal.urgency != "urgent"  # False sorts first: urgent ones on top
    return {
        "new": _section((*inbox, Referral.status == Status.requested),
                        joins=((Signal, Signal.id == Referral.signal_id),),
                        order=(urgent, Referral.requested_at, Referral.id),
                        at=Referral.requested_at),
        "changed": _changed(inbox, unseen_counts=False),
    }


def for_partner(user):
    """A partner's day: new referrals waiting for a decision (longest waiting first, urgent
    ones before), and referrals in the inbox that others changed."""
    params = _params(user)
    return {name: _read(statement, params)
            for name, statement in _partner_statements().items()}


@db.prepared
def _bridge_statements():
    accompanied = Referral.bridge_id == USER
    return {
        "requests": _section((accompanied, Referral.status.in_([s.value for s in OPEN]),
                              Referral.bridge_accepted_at.is_(None)),
                             order=(Referral.requested_at, Referral.id),
                             at=Referral.requested_at),
        "changed": _changed((accompanied,), unseen_counts=False),
    }


def for_bridge(user):
    """A bridge worker's day: requests to accompany a family that wait for their yes or no,
    and their referrals that others changed."""
    params = _params(user)
    return {name: _read(statement, params) for name, statement in _bridge_statements().items()}


def stuck_count(today=None):
    """How many referrals are overdue beyond the escalation period (the coordinator's)."""
    return db.session().exec(select(func.count()).select_from(Referral).where(overdue_clause(
        today, extra_days=current_app.config["ESCALATION_DAYS"]))).one()
