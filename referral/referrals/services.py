"""Refer, change status, write notes, hand over, remind: each change is an event, an audit
entry and, where someone must know, a mail in the outbox, all in one transaction."""

from datetime import date, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_
from sqlmodel import select

from referral import audit, db, mail
from referral.auth.models import Role, User
from referral.cases.models import Consent, Family, Signal, SignalDomain
from referral.directory.models import Organisation, ReferralRoute, Service, ServiceStatus
from referral.directory.queries import Page
from referral.errors import Refused
from referral.referrals import lifecycle
from referral.referrals.lifecycle import PARTNER, REFERRER
from referral.referrals.models import (
    CLOSED,
    OPEN,
    REASON_LABELS,
    EventKind,
    Handover,
    Referral,
    ReferralEvent,
    Status,
)


def default_follow_up(today=None):
    return (today or date.today()) + timedelta(days=current_app.config["FOLLOW_UP_DAYS"])


# --- reading -----------------------------------------------------------------------------

def active_consent(family_id, organisation_id):
    return db.session().exec(select(Consent.id).where(
        Consent.family_id == family_id, Consent.organisation_id == organisation_id,
        Consent.withdrawn_at.is_(None))).first()


def owns_any(user_id, family_id):
    return db.session().exec(select(Referral.id).where(
        Referral.family_id == family_id, Referral.owner_id == user_id)).first() is not None


def pending_handover_to(user_id, referral_id):
    return db.session().exec(select(Handover).where(
        Handover.referral_id == referral_id, Handover.to_id == user_id,
        Handover.decided_at.is_(None))).first()


def lock(referral_id):
    """The referral, locked for a change (SQLite holds its write lock already), as it is in
    the database now, even if this request had read it before."""
    return db.session().exec(select(Referral).where(Referral.id == referral_id)
                             .with_for_update()
                             .execution_options(populate_existing=True)).first()


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


def accompanied_by(user):
    return db.session().exec(
        select(Referral, Service.name).join(Service, Service.id == Referral.service_id)
        .where(Referral.bridge_id == user.id).order_by(Referral.created_at.desc())).all()


def of_family(family_id):
    return db.session().exec(
        select(Referral, Service.name).join(Service, Service.id == Referral.service_id)
        .where(Referral.family_id == family_id).order_by(Referral.created_at.desc())).all()


def family_timeline(family_id):
    """Every event of the family's referrals, newest first, with the service name."""
    return db.session().exec(
        select(ReferralEvent, Service.name)
        .join(Referral, Referral.id == ReferralEvent.referral_id)
        .join(Service, Service.id == Referral.service_id)
        .where(Referral.family_id == family_id)
        .order_by(ReferralEvent.at.desc())).all()


def events_of(referral):
    return db.session().exec(select(ReferralEvent).where(
        ReferralEvent.referral_id == referral.id).order_by(ReferralEvent.at.desc())).all()


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


# --- notifications -----------------------------------------------------------------------

def _partner_address(referral):
    service = db.session().get(Service, referral.service_id)
    if service.email:
        return service.email
    return db.session().get(Organisation, referral.organisation_id).email


def _tell_partner(referral, template):
    address = _partner_address(referral)
    if address and referral.by_inbox:
        mail.queue(address, template, language="nl", family_id=referral.family_id,
                   link=mail.link("referrals.show", referral_id=referral.id))


def _tell_user(user_id, template, referral):
    user = db.session().get(User, user_id)
    if user and user.active:
        mail.queue(user.email, template, language=user.language, family_id=referral.family_id,
                   link=mail.link("referrals.show", referral_id=referral.id))


# --- changes -----------------------------------------------------------------------------

def _event(referral, user, kind, *, text=None, on_behalf=False, activity=True, **fields):
    event = ReferralEvent(referral_id=referral.id, actor_id=user.id if user else None,
                          kind=kind, on_behalf=on_behalf, **fields)
    event.text = text or None
    db.session().add(event)
    if activity:
        referral.last_activity_at = event.at
        db.session().add(referral)
    return event


def refer(user, family, signal, services, *, message, follow_up_on, send, form_token):
    """One referral per service. Sent where the family consented, else kept as a draft.
    A form submitted twice finds the referrals of its first submission."""
    session = db.session()
    existing = {r.service_id: r for r in by_submission(form_token, services)}
    made = []
    for service in services:
        if service.id in existing:
            made.append(existing[service.id])
            continue
        referral = Referral(family_id=family.id, signal_id=signal.id, service_id=service.id,
                            organisation_id=service.organisation_id, owner_id=user.id,
                            created_by=user.id, follow_up_on=follow_up_on,
                            by_inbox=service.referral_route == ReferralRoute.inbox,
                            submission_key=f"{form_token}:{service.id}")
        referral.message = message
        session.add(referral)
        session.flush()
        _event(referral, user, EventKind.created, to_status=Status.draft)
        audit.record("create", object_type="referral", object_id=referral.id,
                     family_id=family.id, user=user, summary="referral created")
        if send and active_consent(family.id, referral.organisation_id):
            change_status(user, referral, Status.requested, side=REFERRER)
        made.append(referral)
    session.flush()
    return made


def change_status(user, referral, target, *, side, reason=None, outcome=None, version=None,
                  reason_code=None):
    """Move the referral along the lifecycle, or raise Refused with a message."""
    if version is not None and version != referral.version:
        raise Refused(_l("This referral changed while you were looking at it. "
                         "Look at it again, then retry."))
    has_consent = bool(active_consent(referral.family_id, referral.organisation_id))
    lifecycle.check(referral.status, target, side, reason=reason, outcome=outcome,
                    has_consent=has_consent)
    source, now = referral.status, db.utcnow()
    referral.status = target
    referral.version += 1
    if target == Status.requested:
        referral.requested_at, referral.closed_at, referral.outcome = now, None, None
    elif target == Status.accepted:
        referral.accepted_at = now
    if target in CLOSED:
        referral.closed_at = now
        referral.outcome = outcome if target == Status.completed else None
    referral.reason_code = ((reason_code if reason_code in REASON_LABELS else "other")
                            if target in lifecycle.COUNTED_REASONS else None)
    on_behalf = side == PARTNER and user.id == referral.owner_id
    _event(referral, user, EventKind.status, from_status=source, to_status=target,
           outcome=referral.outcome, text=reason, on_behalf=on_behalf)
    audit.record("update", object_type="referral", object_id=referral.id,
                 family_id=referral.family_id, user=user,
                 summary=f"referral {source} -> {target}")
    if target == Status.requested and source == Status.draft:
        _tell_partner(referral, "referral_new")
    elif side == PARTNER and not on_behalf:
        _tell_user(referral.owner_id, "referral_changed", referral)
    elif source != Status.draft:
        _tell_partner(referral, "referral_changed")


def add_note(user, referral, text):
    event = _event(referral, user, EventKind.note, text=text)
    audit.record("create", object_type="note", object_id=event.id,
                 family_id=referral.family_id, user=user, summary="note on a referral")
    if user.id != referral.owner_id:
        _tell_user(referral.owner_id, "referral_changed", referral)
    elif referral.status != Status.draft:
        _tell_partner(referral, "referral_changed")
    return event


def propose_handover(user, referral, colleague, note):
    if db.session().exec(select(Handover.id).where(
            Handover.referral_id == referral.id, Handover.decided_at.is_(None))).first():
        raise Refused(_l("A handover of this referral is already waiting for an answer."))
    if (colleague is None or colleague.role != Role.professional or not colleague.active
            or colleague.organisation_id != user.organisation_id or colleague.id == user.id):
        raise Refused(_l("Choose an active colleague of your own organisation."))
    handover = Handover(referral_id=referral.id, from_id=user.id, to_id=colleague.id)
    handover.note = note or None
    db.session().add(handover)
    _event(referral, user, EventKind.handover, text=note)
    audit.record("update", object_type="referral", object_id=referral.id,
                 family_id=referral.family_id, user=user, summary="handover proposed")
    _tell_user(colleague.id, "handover_request", referral)
    return handover


def decide_handover(user, handover, referral, *, accept):
    """The colleague answers; only an accepted handover moves accountability."""
    handover.decided_at, handover.accepted = db.utcnow(), accept
    db.session().add(handover)
    if accept:
        referral.owner_id = user.id
        referral.version += 1
    _event(referral, user, EventKind.handover, outcome="accepted" if accept else "declined")
    audit.record("update", object_type="referral", object_id=referral.id,
                 family_id=referral.family_id, user=user,
                 summary="handover accepted" if accept else "handover declined")
    _tell_user(handover.from_id, "referral_changed", referral)


def assign_bridge(user, referral, bridge, *, family_agreed):
    if not family_agreed:
        raise Refused(_l("A bridge worker can only join with the family's consent."))
    if bridge is None or bridge.role != Role.bridge or not bridge.active:
        raise Refused(_l("Choose an active bridge worker."))
    referral.bridge_id = bridge.id
    _event(referral, user, EventKind.bridge, activity=False)
    audit.record("update", object_type="referral", object_id=referral.id,
                 family_id=referral.family_id, user=user, summary="bridge worker assigned")
    _tell_user(bridge.id, "bridge_request", referral)


def consent_withdrawn(user, consent):
    """Sharing stops at once: the partner and the owner of each referral it covered are told."""
    referrals = db.session().exec(select(Referral).where(
        Referral.family_id == consent.family_id,
        Referral.organisation_id == consent.organisation_id)).all()
    for referral in referrals:
        _event(referral, user, EventKind.consent, outcome="withdrawn", activity=False)
        if referral.status != Status.draft:
            _tell_partner(referral, "consent_withdrawn")
        if referral.owner_id != user.id:
            _tell_user(referral.owner_id, "consent_withdrawn", referral)


def send_reminders(today=None, now=None):
    """Mail each owner about their overdue referrals, and the coordinators about referrals
    still overdue after the escalation period. Once a day: a second run sends nothing.
    Returns (reminders, escalations) queued."""
    today, now = today or date.today(), now or db.utcnow()
    session = db.session()
    overdue = session.exec(select(Referral).where(overdue_clause(today, now))
                           .order_by(Referral.owner_id)).all()
    per_owner = {}
    for referral in overdue:
        per_owner.setdefault(referral.owner_id, []).append(referral)
    owners = {u.id: u for u in session.exec(select(User).where(User.id.in_(list(per_owner))))}
    reminders = 0
    for owner_id, referrals in per_owner.items():
        owner = owners[owner_id]
        if not owner.active:
            continue
        if mail.queue(owner.email, "reminder", language=owner.language,
                      dedupe_key=f"reminder:{owner_id}:{today.isoformat()}",
                      count=len(referrals), link=mail.link("referrals.index")):
            reminders += 1
            for referral in referrals:
                _event(referral, None, EventKind.reminder, activity=False, at=now)
    stuck_ones = session.exec(select(Referral).where(overdue_clause(
        today, now, extra_days=current_app.config["ESCALATION_DAYS"]))).all()
    escalations = 0
    if stuck_ones:
        coordinators = session.exec(select(User).where(User.role == Role.coordinator,
                                                       User.active)).all()
        for coordinator in coordinators:
            if mail.queue(coordinator.email, "escalation", language=coordinator.language,
                          dedupe_key=f"escalation:{coordinator.id}:{today.isoformat()}",
                          count=len(stuck_ones), link=mail.link("referrals.stuck_list")):
                escalations += 1
        if escalations:
            for referral in stuck_ones:
                _event(referral, None, EventKind.escalation, activity=False, at=now)
    audit.record("update", object_type="referral",
                 summary=f"reminders: {reminders} owners, {escalations} coordinators")
    return reminders, escalations


def signal_domains(signal_id):
    return list(db.session().exec(select(SignalDomain.domain_code).where(
        SignalDomain.signal_id == signal_id)).all())


def active_services(ids):
    """The services among these ids that take referrals now, in one query."""
    if not ids:
        return []
    return db.session().exec(select(Service).where(
        Service.id.in_(ids), Service.status == ServiceStatus.active)).all()
