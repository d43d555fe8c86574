"""Reads of referrals: each role's list, a family's referrals and timeline, what is overdue
or stuck, and the row lock a change takes."""

from datetime import date, timedelta

from flask import current_app
from sqlalchemy import and_, case, func, or_
from sqlmodel import select

from referral import db, policy
from referral.auth.models import Role, User
from referral.cases.models import Family, Signal, SignalDomain
from referral.directory.models import Organisation, Service, ServiceStatus
from referral.directory.queries import Page
from referral.referrals import lifecycle
from referral.referrals.lifecycle import PARTNER, REFERRER
from referral.referrals.models import CLOSED, OPEN, Handover, Referral, ReferralEvent, Status

_LOCKED = "referral.locked"  # session.info: (the transaction, the ids it locked)


def default_follow_up(today=None):
    return (today or date.today()) + timedelta(days=current_app.config["FOLLOW_UP_DAYS"])


def lock(referral_id):
    """The referral, locked for a change (SQLite holds its write lock already), as it is in
    the database now, even if this request had read it before. A second call in the same
    transaction finds it locked already and asks the database nothing more."""
    session = db.session()
    transaction, held = session.info.get(_LOCKED, (None, set()))
    if transaction is not None and transaction is session.get_transaction() and (
            referral_id in held):
        referral = session.get(Referral, referral_id)
        if referral is not None:
            return referral
    referral = session.exec(select(Referral).where(Referral.id == referral_id)
                            .with_for_update()
                            .execution_options(populate_existing=True)).first()
    if referral is not None:
        if transaction is not session.get_transaction():
            held = set()
        held.add(referral_id)
        session.info[_LOCKED] = (session.get_transaction(), held)
    return referral


def lock_signal(signal_id):
    """The signal, locked while referrals are made from it, so two requests at once take
    turns (SQLite holds its write lock already)."""
    return db.session().exec(select(Signal).where(Signal.id == signal_id)
                             .with_for_update()).first()


def open_from(signal_id, service_ids, *, leaving_out=()):
    """The open referrals from this signal to these services (but those left out), with
    what is read from the database now, not what this session read before."""
    if not service_ids:
        return []
    return db.session().exec(
        select(Referral).where(Referral.signal_id == signal_id,
                               Referral.service_id.in_(list(service_ids)),
                               Referral.status.in_([s.value for s in OPEN]),
                               Referral.id.not_in(list(leaving_out)))
        .order_by(Referral.created_at)
        .execution_options(populate_existing=True)).all()


def open_of_family(family_id):
    """The family's open referrals per service: the refer page warns beside each."""
    found = {}
    for row in db.session().exec(
            select(Referral.id, Referral.service_id, Referral.signal_id, Referral.status,
                   Referral.owner_id)
            .where(Referral.family_id == family_id,
                   Referral.status.in_([s.value for s in OPEN]))
            .order_by(Referral.created_at)):
        found.setdefault(row.service_id, []).append(row)
    return found


def service_names(ids):
    """Names of these services (a draft's earlier ones), without a query when there are none."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(db.session().exec(select(Service.id, Service.name).where(
        Service.id.in_(list(ids)))).all())


def side_for(user, referral, target):
    """The side from which this user takes this step: the referrer's where the step is the
    referrer's and the user owns the referral, else the partner's where they act for the
    partner; None when it is not theirs to take."""
    if (lifecycle.find(referral.status, target, REFERRER)
            and policy.allowed(user, "referral.as_referrer", referral)):
        return REFERRER
    if policy.allowed(user, "referral.as_partner", referral):
        return PARTNER
    return None


def by_submission(form_token, services):
    """The referrals an earlier submission of this form made to these services (exact keys:
    a LIKE on the prefix would read every referral in the country)."""
    keys = [f"{form_token}:{service.id}" for service in services]
    return db.session().exec(select(Referral).where(Referral.submission_key.in_(keys))).all()


def overdue_clause(today=None, now=None, *, extra_days=0):
    """Open, and past the follow-up date or quiet for longer than the quiet period."""
    today, now = today or date.today(), now or db.utcnow()
    quiet = timedelta(days=current_app.config["QUIET_DAYS"] + extra_days)
    return and_(Referral.status.in_([s.value for s in OPEN]),
                or_(Referral.follow_up_on < today - timedelta(days=extra_days),
                    Referral.last_activity_at < now - quiet))


def is_overdue(referral, today=None, now=None):
    today, now = today or date.today(), now or db.utcnow()
    quiet = timedelta(days=current_app.config["QUIET_DAYS"])
    return referral.status in OPEN and (referral.follow_up_on < today
                                        or db.aware(referral.last_activity_at) < now - quiet)


def mine(user, today=None):
    """The owner's referrals, overdue first, then by follow-up date; with counts per status."""
    session = db.session()
    overdue = overdue_clause(today)
    rows = session.exec(
        select(Referral, Service.name, Family, overdue)
        .join(Service, Service.id == Referral.service_id)
        .join(Family, Family.id == Referral.family_id)
        .where(Referral.owner_id == user.id)
        .order_by(case((overdue, 0), else_=1), case((Referral.status.in_(
            [s.value for s in CLOSED]), 1), else_=0), Referral.follow_up_on,
            Referral.created_at)).all()
    counts = dict(session.exec(select(Referral.status, func.count()).where(
        Referral.owner_id == user.id).group_by(Referral.status)).all())
    return rows, counts


def inbox(user):
    """What was sent to the partner's organisation through the tool (never drafts)."""
    return db.session().exec(
        select(Referral, Service.name, Signal.urgency)
        .join(Service, Service.id == Referral.service_id)
        .join(Signal, Signal.id == Referral.signal_id)
        .where(Referral.organisation_id == user.organisation_id, Referral.by_inbox,
               Referral.status != Status.draft)
        .order_by(Referral.created_at.desc())).all()


INBOX_GROUPS = ("new", "active", "waiting", "closed")


def _inbox_group(status):
    if status == Status.requested:
        return "new"
    if status in (Status.accepted, Status.in_progress):
        return "active"
    return "waiting" if status == Status.on_hold else "closed"


def inbox_groups(user):
    """The partner's inbox in the order of work: new, in progress, waiting, closed."""
    groups = {key: [] for key in INBOX_GROUPS}
    for row in inbox(user):
        groups[_inbox_group(row[0].status)].append(row)
    return groups


def accompanied_by(user):
    return db.session().exec(
        select(Referral, Service.name).join(Service, Service.id == Referral.service_id)
        .where(Referral.bridge_id == user.id).order_by(Referral.created_at.desc())).all()


def of_family(family_id):
    return db.session().exec(
        select(Referral, Service.name).join(Service, Service.id == Referral.service_id)
        .where(Referral.family_id == family_id).order_by(Referral.created_at.desc())).all()


def family_timeline(family_id):
    """Every event of the family's referrals, oldest first (numbered in the order it
    happened), with the service name."""
    return db.session().exec(
        select(ReferralEvent, Service.name)
        .join(Referral, Referral.id == ReferralEvent.referral_id)
        .join(Service, Service.id == Referral.service_id)
        .where(Referral.family_id == family_id)
        .order_by(ReferralEvent.at, ReferralEvent.id)).all()


def events_of(referral):
    """The referral's timeline, oldest first: step 1 is its creation."""
    return db.session().exec(select(ReferralEvent).where(
        ReferralEvent.referral_id == referral.id).order_by(ReferralEvent.at,
                                                           ReferralEvent.id)).all()


STUCK_PAGE_SIZE = 100


def stuck(today=None, *, page=1):
    """Referrals overdue beyond the escalation period, per partner organisation: which and
    whose, never what they are about. One page of them: a country has thousands."""
    session, size = db.session(), STUCK_PAGE_SIZE
    overdue = overdue_clause(today, extra_days=current_app.config["ESCALATION_DAYS"])
    total = session.exec(select(func.count()).select_from(Referral).where(overdue)).one()
    page = min(max(1, page), max(1, -(-total // size)))
    rows = session.exec(
        select(Referral.id, Referral.status, Referral.follow_up_on, Referral.owner_id,
               Organisation.name.label("organisation"), Service.name.label("service"))
        .join(Organisation, Organisation.id == Referral.organisation_id)
        .join(Service, Service.id == Referral.service_id)
        .where(overdue)
        .order_by(Organisation.name, Referral.follow_up_on, Referral.id)
        .offset((page - 1) * size).limit(size)).all()
    return Page(rows, total, page, size)


def by_organisation(rows):
    """Stuck rows per partner organisation, in the order they came."""
    groups = {}
    for row in rows:
        groups.setdefault(row.organisation, []).append(row)
    return groups


def colleagues(user):
    """Active professionals of the user's organisation who could take a referral over."""
    if user.organisation_id is None:
        return []
    return db.session().exec(select(User).where(
        User.organisation_id == user.organisation_id, User.role == Role.professional,
        User.active, User.id != user.id)).all()


def bridge_workers():
    return db.session().exec(select(User).where(User.role == Role.bridge, User.active)).all()


def open_referrals_owned_by(user_id):
    return db.session().exec(select(Referral).where(
        Referral.owner_id == user_id, Referral.status.in_([s.value for s in OPEN]))).all()


def handovers_for(user):
    return db.session().exec(
        select(Handover, Referral, Service.name)
        .join(Referral, Referral.id == Handover.referral_id)
        .join(Service, Service.id == Referral.service_id)
        .where(Handover.to_id == user.id, Handover.decided_at.is_(None))).all()


def signal_domains(signal_id):
    return list(db.session().exec(select(SignalDomain.domain_code).where(
        SignalDomain.signal_id == signal_id)).all())


def active_services(ids):
    """The services among these ids that take referrals now, in one query."""
    if not ids:
        return []
    return db.session().exec(select(Service).where(
        Service.id.in_(ids), Service.status == ServiceStatus.active)).all()
