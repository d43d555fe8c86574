"""Reads for the home page's worklist: what needs this user today, per role. Each section is
a count and the first few rows, and a role's sections are read in one statement, however
large the caseload or inbox grows; the full lists are a link away."""

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import (
    Date,
    DateTime,
    Uuid,
    and_,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    or_,
    union_all,
)
from sqlmodel import select

from referral import db, familykeys
from referral.cases.models import Family
from referral.directory.models import Service
from referral.familykeys import FamilyKey
from referral.referrals.models import (
    OPEN,
    URGENCY_RANK,
    EventKind,
    Handover,
    Referral,
    ReferralEvent,
    ReferralSeen,
    Status,
)
from referral.referrals.queries import (
    SENT_ONCE,
    overdue_clause,
    overdue_cutoffs,
    overdue_where,
)

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


def _columns(order, at, family):
    """The columns every section reads, so that a role's sections are one statement: the
    referral, its service and status, the day (a follow-up) or moment that orders it, its
    place in the section, the section's count and, in the owner's sections, the family.
    From the referral alone: the service's name and the family's (as stored, opened with
    the family's key, see _read) are joined to the sections' few rows, not to every
    matching referral before the limit (_together)."""
    day = at if isinstance(at.type, Date) else cast(null(), Date)
    moment = cast(null(), DateTime(timezone=True)) if day is at else at
    family_id = Referral.family_id if family else cast(null(), Uuid())
    return [Referral.id.label("id"), Referral.service_id.label("service_id"),
            Referral.status.label("status"), day.label("day"), moment.label("moment"),
            func.row_number().over(order_by=order).label("place"), TOTAL,
            family_id.label("family_id")]


def _section(where, *, order, at, family=False, joins=()):
    """The statement of a section: the referrals matching `where`, the first SHOWN of them
    and their count as a window over all matching rows (taken before the limit)."""
    query = select(*_columns(order, at, family)).select_from(Referral)
    for join in joins:
        query = query.join(*join)
    return query.where(*where).order_by(*order).limit(SHOWN)


# When this user last opened the referral (joined to it), and the events that are news to
# them: what others did, of the kinds in NEWS.
SEEN = and_(ReferralSeen.referral_id == Referral.id, ReferralSeen.user_id == USER)
NEWS_BY_OTHERS = (db.one_of(ReferralEvent.kind, [k.value for k in NEWS]),
                  or_(ReferralEvent.actor_id.is_(None), ReferralEvent.actor_id != USER))


def _changed(visible):
    """The statement of the referrals others changed after this user last opened them,
    newest change first, for a partner or bridge worker: a referral never opened is new
    work, shown in its own section, not a change (for the owner, see _changed_of_mine)."""
    latest = func.max(ReferralEvent.at)
    order = (latest.desc(), Referral.id)
    # One row per referral (grouped), so the window counts the referrals.
    return (select(*_columns(order, latest, family=False))
            .select_from(Referral)
            .join(ReferralEvent, ReferralEvent.referral_id == Referral.id)
            .outerjoin(ReferralSeen, SEEN)
            .where(*visible, *NEWS_BY_OTHERS, ReferralEvent.at > ReferralSeen.seen_at)
            .group_by(Referral.id, Referral.service_id, Referral.status)
            .order_by(*order).limit(SHOWN))


def _changed_of_mine():
    """The owner's referrals others changed since the owner last opened them (or ever, if
    never opened: they know it from its start), newest change first. The newest change of
    each of the owner's referrals is looked up on its own (the events' index by referral):
    joined, PostgreSQL's one plan for every owner (a prepared statement is planned once, see
    db.make_engine) read all the alliance's events while they are few, 0.8 ms of every home
    page at the demo's 1,700 and more as they grow, where the owner has a handful."""
    latest = (select(func.max(ReferralEvent.at))
              .where(ReferralEvent.referral_id == Referral.id, *NEWS_BY_OTHERS,
                     or_(ReferralSeen.seen_at.is_(None), ReferralEvent.at > ReferralSeen.seen_at))
              .correlate(Referral, ReferralSeen).scalar_subquery())
    changed = (select(Referral.id.label("id"), Referral.service_id.label("service_id"),
                      Referral.status.label("status"), latest.label("at"))
               .select_from(Referral).outerjoin(ReferralSeen, SEEN)
               .where(Referral.owner_id == USER)
               .offset(0).subquery())  # looked up once per referral, not again for its order
    order = (changed.c.at.desc(), changed.c.id)
    return (select(changed.c.id, changed.c.service_id, changed.c.status,
                   cast(null(), Date).label("day"), changed.c.at.label("moment"),
                   func.row_number().over(order_by=order).label("place"), TOTAL,
                   cast(null(), Uuid()).label("family_id"))
            .where(changed.c.at.is_not(None)).order_by(*order).limit(SHOWN))


def _together(sections):
    """A role's sections as one statement: each section's rows (its first SHOWN, in its
    order), told apart by the section's number. (name, statement) for _read."""
    arms = []
    for number, statement in enumerate(sections.values()):
        part = statement.subquery()
        arms.append(select(literal_column(str(number)).label("section"), *part.c))
    every = union_all(*arms).subquery()
    # The shown rows' services and families, and the key of each row's family for its
    # names (one statement less).
    return list(sections), (
        select(every.c.section, every.c.id, Service.name.label("service"), every.c.status,
               every.c.day, every.c.moment, every.c.total, every.c.family_id,
               Family.parent_names_enc.label("names"), FamilyKey.wrapped)
        .join(Service, Service.id == every.c.service_id)
        .outerjoin(Family, Family.id == every.c.family_id)
        .outerjoin(FamilyKey, FamilyKey.family_id == every.c.family_id)
        .order_by(every.c.section, every.c.place))


def _read(together, params):
    """Each section's count and rows, by name; the owner's rows name the family, opened
    with the families' keys read with them."""
    names, statement = together
    rows = db.rows(statement, params)
    familykeys.take({r.family_id: r.wrapped for r in rows if r.family_id is not None})
    sections = {name: Section() for name in names}
    for r in rows:
        section = sections[names[int(r.section)]]
        section.count = r.total
        section.rows.append(Row(r.id, r.service, r.status, r.day or r.moment, family=None
                                if r.family_id is None else familykeys.parent_names(
                                    r.names, r.family_id)))
    return sections


@db.prepared
def _owner_statements():
    mine = Referral.owner_id == USER
    overdue = overdue_where(bindparam("follow_up_before"), bindparam("quiet_since"))
    return _together({
        "overdue": _section((mine, overdue), family=True,
                            order=(Referral.follow_up_on, Referral.id), at=Referral.follow_up_on),
        "drafts": _section((mine, Referral.status == Status.draft), family=True,
                           order=(Referral.created_at, Referral.id), at=Referral.created_at),
        # A handover is the user's to answer, whoever owns the referral now.
        "handovers": _section((Handover.to_id == USER, Handover.decided_at.is_(None)),
                              joins=((Handover, Handover.referral_id == Referral.id),),
                              order=(Handover.created_at, Handover.id),
                              at=Handover.created_at),
        "changed": _changed_of_mine(),
    })


def for_owner(user, today=None):
    """A professional's day: overdue follow-ups, drafts waiting to be sent, handovers
    waiting for their answer, and their referrals that others changed."""
    return _read(_owner_statements(), _params(user, today))


@db.prepared
def _partner_statements():
    inbox = (Referral.organisation_id == ORGANISATION, Referral.by_inbox, SENT_ONCE)
    # False sorts first: urgent ones on top (the signal's urgency kept on the referral).
    urgent = Referral.urgency_rank != URGENCY_RANK["urgent"]
    return _together({
        "new": _section((*inbox, Referral.status == Status.requested),
                        order=(urgent, Referral.requested_at, Referral.id),
                        at=Referral.requested_at),
        "changed": _changed(inbox),
    })


def for_partner(user):
    """A partner's day: new referrals waiting for a decision (longest waiting first, urgent
    ones before), and referrals in the inbox that others changed."""
    return _read(_partner_statements(), _params(user))


@db.prepared
def _bridge_statements():
    accompanied = Referral.bridge_id == USER
    return _together({
        "requests": _section((accompanied, db.one_of(Referral.status, [s.value for s in OPEN]),
                              Referral.bridge_accepted_at.is_(None)),
                             order=(Referral.requested_at, Referral.id),
                             at=Referral.requested_at),
        "changed": _changed((accompanied,)),
    })


def for_bridge(user):
    """A bridge worker's day: requests to accompany a family that wait for their yes or no,
    and their referrals that others changed."""
    return _read(_bridge_statements(), _params(user))


def stuck_count(today=None):
    """How many referrals are overdue beyond the escalation period (the coordinator's)."""
    return db.session().exec(select(func.count()).select_from(Referral).where(overdue_clause(
        today, extra_days=current_app.config["ESCALATION_DAYS"]))).one()
