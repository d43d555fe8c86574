"""Reads for the home page's worklist: what needs this user today, per role. Each section is
a count and the first few rows, so the page asks the same few statements however large the
caseload or inbox grows; the full lists are a link away."""

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import and_, func, or_
from sqlmodel import select

from referral import db
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
from referral.referrals.queries import overdue_clause

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


def _open():
    return Referral.status.in_([s.value for s in OPEN])


def _section(where, *, order, at, family=False, joins=()):
    """Count the referrals matching `where` and read the first SHOWN of them: one statement,
    the count as a window over all matching rows (taken before the limit)."""
    session = db.session()
    columns = [Referral.id, Service.name, Referral.status, at, TOTAL]
    if family:
        columns.append(Family)
    query = select(*columns).select_from(Referral).join(
        Service, Service.id == Referral.service_id)
    for join in joins:
        query = query.join(*join)
    if family:
        query = query.join(Family, Family.id == Referral.family_id)
    rows = session.exec(query.where(*where).order_by(*order).limit(SHOWN)).all()
    if not rows:
        return Section()
    return Section(rows[0][4], [Row(r[0], r[1], r[2], r[3],
                                    r[5].parent_names if family else None) for r in rows])


def _changed(visible, user, *, unseen_counts):
    """Referrals others changed after this user last opened them, newest change first.
    `unseen_counts`: a referral the user never opened counts too (the owner's own referrals:
    they know it from its start); for a partner or bridge worker an unopened one is new
    work, shown in its own section, not a change."""
    session = db.session()
    seen = and_(ReferralSeen.referral_id == Referral.id, ReferralSeen.user_id == user.id)
    after = (or_(ReferralSeen.seen_at.is_(None), ReferralEvent.at > ReferralSeen.seen_at)
             if unseen_counts else ReferralEvent.at > ReferralSeen.seen_at)
    where = (*visible, ReferralEvent.kind.in_([k.value for k in NEWS]),
             or_(ReferralEvent.actor_id.is_(None), ReferralEvent.actor_id != user.id), after)

    def base(*columns):
        return (select(*columns).select_from(Referral)
                .join(ReferralEvent, ReferralEvent.referral_id == Referral.id)
                .outerjoin(ReferralSeen, seen).where(*where))

    latest = func.max(ReferralEvent.at).label("latest")
    # One row per referral (grouped), so the window counts the referrals.
    rows = session.exec(
        base(Referral.id, Service.name, Referral.status, latest, TOTAL)
        .join(Service, Service.id == Referral.service_id)
        .group_by(Referral.id, Service.name, Referral.status)
        .order_by(latest.desc(), Referral.id).limit(SHOWN)).all()
    if not rows:
        return Section()
    return Section(rows[0][4], [Row(*row[:4]) for row in rows])


def for_owner(user, today=None):
    """A professional's day: overdue follow-ups, drafts waiting to be sent, handovers
    waiting for their answer, and their referrals that others changed."""
    mine = Referral.owner_id == user.id
    session = db.session()
    handovers = session.exec(
        select(Handover.id, Referral.id, Service.name, Referral.status, Handover.created_at)
        .join(Referral, Referral.id == Handover.referral_id)
        .join(Service, Service.id == Referral.service_id)
        .where(Handover.to_id == user.id, Handover.decided_at.is_(None))
        .order_by(Handover.created_at).limit(SHOWN + 1)).all()
    return {
        "overdue": _section((mine, overdue_clause(today)), family=True,
                            order=(Referral.follow_up_on, Referral.id),
                            at=Referral.follow_up_on),
        "drafts": _section((mine, Referral.status == Status.draft), family=True,
                           order=(Referral.created_at, Referral.id), at=Referral.created_at),
        "handovers": Section(len(handovers), [Row(r[1], r[2], r[3], r[4])
                                              for r in handovers[:SHOWN]]),
        "changed": _changed((mine,), user, unseen_counts=True),
    }


def for_partner(user):
    """A partner's day: new referrals waiting for a decision (longest waiting first, urgent
    ones before), and referrals in the inbox that others changed."""
    inbox = (Referral.organisation_id == user.organisation_id, Referral.by_inbox,
             Referral.status != Status.draft)
    urgent = Signal.urgency != "urgent"  # False sorts first: urgent ones on top
    return {
        "new": _section((*inbox, Referral.status == Status.requested),
                        joins=((Signal, Signal.id == Referral.signal_id),),
                        order=(urgent, Referral.requested_at, Referral.id),
                        at=Referral.requested_at),
        "changed": _changed(inbox, user, unseen_counts=False),
    }


def for_bridge(user):
    """A bridge worker's day: requests to accompany a family that wait for their yes or no,
    and their referrals that others changed."""
    accompanied = Referral.bridge_id == user.id
    return {
        "requests": _section((accompanied, _open(), Referral.bridge_accepted_at.is_(None)),
                             order=(Referral.requested_at, Referral.id),
                             at=Referral.requested_at),
        "changed": _changed((accompanied,), user, unseen_counts=False),
    }


def stuck_count(today=None):
    """How many referrals are overdue beyond the escalation period (the coordinator's)."""
    return db.session().exec(select(func.count()).select_from(Referral).where(overdue_clause(
        today, extra_days=current_app.config["ESCALATION_DAYS"]))).one()
