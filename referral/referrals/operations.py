"""Refer, change status, write notes, hand over, ask a bridge worker, remind: each change
asks the policy, keeps the lifecycle, and writes its event, audit entry and, where someone
must know, a mail in the outbox, all in the caller's transaction (flushed, never committed).

The row builders `new_referral` and `new_event` make those rows the one way, as values not
yet written (db.new_value, db.insert): the operations use them, and so can the generator of
scaled demo data."""

from datetime import date, timedelta

from flask import current_app
from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import select

from referral import audit, db, mail, policy
from referral.auth import queries as auth_queries
from referral.auth.models import Role, User
from referral.cases.models import Family
from referral.directory.models import Organisation, ReferralRoute, Service, ServiceStatus
from referral.errors import Refused
from referral.i18n import lazy_gettext as _l
from referral.policy.queries import active_consent, active_consent_read
from referral.referrals import lifecycle
from referral.referrals.lifecycle import PARTNER, REFERRER
from referral.referrals.models import (
    CLOSED,
    OPEN,
    REASON_LABELS,
    URGENCY_RANK,
    Change,
    EventKind,
    Handover,
    HandoverAnswer,
    Referral,
    ReferralEvent,
    ReferralSeen,
    Status,
    status_label,
)
from referral.referrals.queries import (
    by_submission,
    lock,
    lock_signal,
    open_from,
    overdue_clause,
    refer_reads,
    side_for,
)

MAX_SERVICES = 5  # services referred to at once, from one signal
MAX_MESSAGE = 4000  # characters of the message for the partner
STALE = _l("This referral changed while you were looking at it. Look at it again, then retry.")
# The version a caller without a form passes (the command line, the demo): not compared.
# A form's version that is missing (None) is compared, and refused like a stale one.
UNCHECKED = object()


class AlreadyReferred(Refused):
    """The family has an open referral from this signal to a chosen service already: a
    second one is not made. `referrals` are the open ones, for a link to each."""

    def __init__(self, referrals, names):
        super().__init__(_l("This family already has an open referral from this signal to "
                            "%(services)s. Nothing new was made: open it below, or choose "
                            "another service.", services=", ".join(sorted(names))),
                         field="services")
        self.referrals = referrals


def _refuse_if_open(signal_id, services, *, leaving_out=()):
    """Refuse when a referral from this signal to one of these services is open (read
    after the signal's lock, so a request that came first is seen)."""
    names = {service.id: service.name for service in services}
    found = open_from(signal_id, list(names), leaving_out=leaving_out)
    if found:
        raise AlreadyReferred(found, {names[r.service_id] for r in found})


# --- row builders --------------------------------------------------------------------------

def new_referral(*, family_id, signal, service_id, organisation_id, by_inbox, owner_id,
                 message, follow_up_on, form_token, status=None, created_at=None, id=None):
    """A referral of the signal as a value (db.new_value), its message sealed, owned by who
    made it, not yet written (db.insert)."""
    referral = db.new_value(Referral, **db.given(id=id, status=status, created_at=created_at,
                                               last_activity_at=created_at),
                            family_id=family_id, signal_id=signal.id, service_id=service_id,
                            organisation_id=organisation_id, owner_id=owner_id,
                            created_by=owner_id, follow_up_on=follow_up_on, by_inbox=by_inbox,
                            urgency_rank=URGENCY_RANK.get(signal.urgency, 2),
                            submission_key=f"{form_token}:{service_id}")
    referral.message = message
    return referral


def new_event(referral_id, actor_id, kind, *, text=None, from_status=None, to_status=None,
              outcome=None, on_behalf=False, follow_up_on=None, from_service_id=None, at=None,
              id=None):
    """An event of a referral's timeline as a value (db.new_value), its reason or note
    sealed, not yet written (db.insert)."""
    event = db.new_value(ReferralEvent, **db.given(id=id, at=at), referral_id=referral_id,
                         actor_id=actor_id, kind=kind, from_status=from_status,
                         to_status=to_status, outcome=outcome, on_behalf=on_behalf,
                         follow_up_on=follow_up_on, from_service_id=from_service_id)
    event.text = text or None
    return event


# --- notifications -----------------------------------------------------------------------

def _partner_address(referral):
    """Where the partner reads about its referrals: the service's own address, else its
    organisation's; both in one statement, read once per transaction (directory data,
    which a change of a referral does not change)."""
    return _address_of(referral.service_id, referral.organisation_id)


def _address_of(service_id, organisation_id):
    known = db.memo("partner_addresses")
    if (service_id, organisation_id) not in known:
        service, organisation = db.rows(*partner_address_read(service_id, organisation_id))[0]
        known[service_id, organisation_id] = service or organisation
    return known[service_id, organisation_id]


def partner_address_read(service_id, organisation_id):
    """The statement and values of _partner_address (for db.ahead)."""
    return _partner_addresses(), {"service": service_id, "organisation": organisation_id}


@db.prepared
def _partner_addresses():  # for every referral sent, every note and step the owner makes
    return (select(Service.email, Organisation.email)
            .join(Organisation, Organisation.id == bindparam("organisation"))
            .where(Service.id == bindparam("service")))


def _tell_partner(referral, template):
    if not referral.by_inbox:  # a letter or a phone call: the partner is not in the tool
        return
    address = _partner_address(referral)
    if address:
        mail.queue(address, template, language="nl", family_id=referral.family_id,
                   link=mail.link("referrals.show", referral_id=referral.id))


def _tell_user(user_id, template, referral):
    recipient = _recipient(user_id)
    if recipient is not None:
        address, language = recipient
        mail.queue(address, template, language=language, family_id=referral.family_id,
                   link=mail.link("referrals.show", referral_id=referral.id))


def _recipient(user_id):
    """Where a user is told about their referrals: their address and language, None for an
    account no longer active; read once per transaction (a step's owner is read before the
    step's writes: change_status)."""
    known = db.memo("recipients")
    if user_id not in known:
        user = auth_queries.by_id(user_id)
        known[user_id] = (user.email, user.language) if user and user.active else None
    return known[user_id]


# --- changes -----------------------------------------------------------------------------

def _event(referral, user, kind, *, activity=True, write=True, **fields):
    """An event of the referral, written unless `write` is false (then the caller writes
    it: db.insert); `activity`: the referral's last activity is now."""
    event = new_event(referral.id, user.id if user else None, kind, **fields)
    if activity:
        db.update(referral, last_activity_at=event.at)
    return db.insert(event) if write else event


def _require_referral(user, action, referral):
    policy.require(user, action, referral, hide=True, object_type="referral",
                   object_id=referral.id if referral else None,
                   family_id=referral.family_id if referral else None)


def _locked(referral):
    """The referral locked for this change; gone meanwhile: the form was stale."""
    current = lock(referral.id) if referral is not None else None
    if referral is not None and current is None:
        raise Refused(STALE)
    return current


def _check_message(message):
    if not (message or "").strip():
        raise Refused(_l("Write what the partner needs to know."), field="message")
    if len(message) > MAX_MESSAGE:
        raise Refused(_l("Write at most %(num)d characters.", num=MAX_MESSAGE), field="message")


def _check_follow_up(follow_up_on):
    if follow_up_on is None or not (
            date.today() <= follow_up_on <= date.today() + timedelta(days=366)):
        raise Refused(_l("Choose a follow-up date within the coming year."),
                      field="follow_up_on")


def refer(user, family, signal, services, *, message, follow_up_on, send, form_token):
    """One referral per service. Sent where the family consented, else kept as a draft.
    A form submitted twice finds the referrals of its first submission."""
    policy.require(user, "referral.create", family, hide=True, object_type="signal",
                   object_id=signal.id if signal else None,
                   family_id=family.id if family else None)
    if signal is None or signal.family_id != family.id:
        raise Refused(_l("This does not belong to this family."))
    if not services or any(s.status != ServiceStatus.active for s in services):
        raise Refused(_l("Choose at least one service."), field="services")
    if len(services) > MAX_SERVICES:
        raise Refused(_l("Choose at most %(num)d services at once.", num=MAX_SERVICES),
                      field="services")
    _check_message(message)
    _check_follow_up(follow_up_on)
    lock_signal(signal.id)
    # Its checks at once, and where the partners read about what is sent, which the first
    # write would drop unread (db.wrote): one round trip on PostgreSQL.
    db.ahead(*refer_reads(signal.id, family.id, services, form_token, send),
             *[partner_address_read(s.id, s.organisation_id) for s in services
               if send and s.referral_route == ReferralRoute.inbox])
    existing = {r.service_id: r for r in by_submission(form_token, services)}
    # The same form sent again finds what it made; another form (a second tab, the Back
    # button) meets the open referral and makes nothing.
    _refuse_if_open(signal.id, [s for s in services if s.id not in existing])
    consented = {service.id: send and bool(active_consent(family.id, service.organisation_id))
                 for service in services if service.id not in existing}
    for service in services:  # read before the first write (above)
        if consented.get(service.id) and service.referral_route == ReferralRoute.inbox:
            _address_of(service.id, service.organisation_id)
    made = []
    for service in services:
        if service.id in existing:
            made.append(existing[service.id])
            continue
        referral = new_referral(family_id=family.id, signal=signal,
                                service_id=service.id, organisation_id=service.organisation_id,
                                by_inbox=service.referral_route == ReferralRoute.inbox,
                                owner_id=user.id, message=message, follow_up_on=follow_up_on,
                                form_token=form_token)
        events = [_event(referral, user, EventKind.created, to_status=Status.draft,
                         write=False)]
        if consented[service.id]:
            # Made in this transaction by its owner: nobody else can hold it, and the
            # consent was just read. Sent before it is written: inserted once, with its
            # final status.
            events.append(_change(user, referral, Status.requested, REFERRER,
                                  has_consent=True, write=False))
        db.insert(referral, *events)
        audit.record("create", object_type="referral", object_id=referral.id,
                     family_id=family.id, user=user, summary="referral created")
        if consented[service.id]:
            _record_change(user, referral, Status.draft, Status.requested, REFERRER)
        made.append(db.stored(referral))
    return made


def change_status(user, referral, target, *, reason=None, outcome=None, version=UNCHECKED,
                  reason_code=None):
    """Move the referral along the lifecycle from the side that is the user's, or raise
    Refused with a message."""
    referral = _locked(referral)
    _require_referral(user, "referral.view", referral)
    side = side_for(user, referral, target)
    if side is None:
        raise Refused(_l("This step is not yours to take."))
    if version is not UNCHECKED and version != referral.version:
        raise Refused(STALE)  # also a form posted without its version
    if (target in OPEN and referral.status in CLOSED
            and lifecycle.find(referral.status, target, side)):  # reopening: no newer one open
        lock_signal(referral.signal_id)
        _refuse_if_open(referral.signal_id, [db.session().get(Service, referral.service_id)],
                        leaving_out=[referral.id])
    # The owner told of the step by mail (_record_change) is read with the consent, before
    # the step's writes: on PostgreSQL one round trip for both, not one each.
    owner_told = _owner_told(user, referral, referral.status, target, side)
    reads = [active_consent_read(referral.family_id, referral.organisation_id)]
    if owner_told:
        reads.append(auth_queries.user_read(referral.owner_id))
    db.ahead(*reads)
    has_consent = bool(active_consent(referral.family_id, referral.organisation_id))
    if owner_told:
        _recipient(referral.owner_id)  # its answer taken and kept for the step's mail
    _move(user, referral, target, side, reason=reason, outcome=outcome,
          reason_code=reason_code, has_consent=has_consent)
    return referral


def _move(user, referral, target, side, *, reason=None, outcome=None, reason_code=None,
          has_consent):
    source = referral.status
    _change(user, referral, target, side, reason=reason, outcome=outcome,
            reason_code=reason_code, has_consent=has_consent)
    _record_change(user, referral, source, target, side)


def _change(user, referral, target, side, *, reason=None, outcome=None, reason_code=None,
            has_consent, write=True):
    """The step itself: the referral's status and dates, and its event (written unless
    `write` is false, as `_event`)."""
    lifecycle.check(referral.status, target, side, reason=reason, outcome=outcome,
                    has_consent=has_consent)
    source, now = referral.status, db.utcnow()
    changes = {"status": target, "version": referral.version + 1, "last_activity_at": now,
               "reason_code": ((reason_code if reason_code in REASON_LABELS else "other")
                               if target in lifecycle.COUNTED_REASONS else None)}
    if target == Status.requested:
        changes.update(requested_at=now, closed_at=None, outcome=None)
    elif target == Status.accepted:
        changes.update(accepted_at=now)
    if target in CLOSED:
        changes.update(closed_at=now, outcome=outcome if target == Status.completed else None)
    db.update(referral, **changes)
    return _event(referral, user, EventKind.status, activity=False, at=now, write=write,
                  from_status=source, to_status=target, outcome=referral.outcome,
                  text=reason, on_behalf=_on_behalf(user, referral, side))


def _on_behalf(user, referral, side):
    return side == PARTNER and user.id == referral.owner_id


def _record_change(user, referral, source, target, side):
    """The step's access-log entry, and who is told of it by mail."""
    audit.record("update", object_type="referral", object_id=referral.id,
                 family_id=referral.family_id, user=user,
                 summary=f"referral {source} -> {target}")
    if target == Status.requested and source == Status.draft:
        _tell_partner(referral, "referral_new")
    elif _owner_told(user, referral, source, target, side):
        _tell_user(referral.owner_id, "referral_changed", referral)
    elif source != Status.draft:
        _tell_partner(referral, "referral_changed")


def _owner_told(user, referral, source, target, side):
    """Whether the owner is told of a step by mail: the partner's, not on the owner's behalf
    (a referral's sending tells the partner)."""
    return (side == PARTNER and not _on_behalf(user, referral, side)
            and not (target == Status.requested and source == Status.draft))


def add_note(user, referral, text):
    """A note on the timeline, from the owner, the partner or the bridge worker."""
    referral = _locked(referral)
    _require_referral(user, "referral.note", referral)
    if not (text or "").strip():
        raise Refused(_l("Write the note."), field="text")
    event = _event(referral, user, EventKind.note, text=text)
    audit.record("create", object_type="note", object_id=event.id,
                 family_id=referral.family_id, user=user, summary="note on a referral")
    if user.id != referral.owner_id:
        _tell_user(referral.owner_id, "referral_changed", referral)
    elif referral.status != Status.draft:
        _tell_partner(referral, "referral_changed")
    return event


def change_follow_up(user, referral, *, follow_up_on):
    """The owner moves the follow-up date of an open referral. Their own planning: it is no
    activity on the referral, and nobody is told. Returns the event, or None if the date
    was that already."""
    referral = _locked(referral)
    _require_referral(user, "referral.follow_up", referral)
    if referral.status in CLOSED:
        raise Refused(_l("This referral is closed: it has no follow-up date any more."))
    _check_follow_up(follow_up_on)
    before = referral.follow_up_on
    if follow_up_on == before:
        return None
    referral.follow_up_on = follow_up_on
    event = _event(referral, user, EventKind.follow_up, activity=False,
                   follow_up_on=follow_up_on)
    db.session().add(referral)
    audit.record("update", object_type="referral", object_id=referral.id,
                 family_id=referral.family_id, user=user,
                 summary=f"follow-up date {before.isoformat()} -> {follow_up_on.isoformat()}")
    return event


def edit_draft(user, referral, *, message, service, follow_up_on, version=UNCHECKED):
    """The owner changes a draft before it is sent: its message, its service (not one the
    family has an open referral to from this signal) and its follow-up date. Each change is
    an event. Returns what changed (Change and EventKind.follow_up values)."""
    referral = _locked(referral)
    _require_referral(user, "referral.edit", referral)
    if referral.status != Status.draft:
        raise Refused(_l("Only a draft can be changed; this referral is %(status)s.",
                         status=status_label(referral.status)))
    if version is not UNCHECKED and version != referral.version:
        raise Refused(STALE)  # also a form posted without its version
    if service is None or service.status != ServiceStatus.active:
        raise Refused(_l("Choose a service that takes referrals."), field="service")
    _check_message(message)
    _check_follow_up(follow_up_on)
    changed = []
    if service.id != referral.service_id:
        lock_signal(referral.signal_id)
        _refuse_if_open(referral.signal_id, [service], leaving_out=[referral.id])
        _event(referral, user, EventKind.edited, outcome=Change.service,
               from_service_id=referral.service_id)
        referral.service_id, referral.organisation_id = service.id, service.organisation_id
        referral.by_inbox = service.referral_route == ReferralRoute.inbox
        changed.append(Change.service)
    if message != referral.message:
        referral.message = message
        _event(referral, user, EventKind.edited, outcome=Change.message)
        changed.append(Change.message)
    if follow_up_on != referral.follow_up_on:
        referral.follow_up_on = follow_up_on
        _event(referral, user, EventKind.follow_up, follow_up_on=follow_up_on)
        changed.append(EventKind.follow_up)
    if changed:
        referral.version += 1
        db.session().add(referral)
        audit.record("update", object_type="referral", object_id=referral.id,
                     family_id=referral.family_id, user=user,
                     summary="draft changed: " + ", ".join(changed))
    return changed


def propose_handover(user, referral, colleague, note=None):
    """Ask a colleague to take the referral over; the owner stays accountable until then."""
    referral = _locked(referral)
    _require_referral(user, "referral.handover", referral)
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


def decide_handover(user, handover, *, accept):
    """The colleague answers; only an accepted handover moves accountability. Returns the
    referral."""
    about = db.session().get(Referral, handover.referral_id) if handover else None
    policy.require(user, "handover.decide", handover, hide=True, object_type="handover",
                   object_id=handover.id if handover else None,
                   family_id=about.family_id if about else None)
    referral = _locked(about)
    handover.decided_at, handover.accepted = db.utcnow(), accept
    db.session().add(handover)
    if accept:
        referral.owner_id = user.id
        referral.version += 1
    _event(referral, user, EventKind.handover, outcome=HandoverAnswer.accepted if accept else HandoverAnswer.declined)
    audit.record("update", object_type="referral", object_id=referral.id,
                 family_id=referral.family_id, user=user,
                 summary="handover accepted" if accept else "handover declined")
    _tell_user(handover.from_id, "referral_changed", referral)
    return referral


def assign_bridge(user, referral, bridge, *, family_agreed):
    """Ask a bridge worker to accompany the family, with the family's consent."""
    referral = _locked(referral)
    _require_referral(user, "referral.bridge", referral)
    if not family_agreed:
        raise Refused(_l("A bridge worker can only join with the family's consent."))
    if bridge is None or bridge.role != Role.bridge or not bridge.active:
        raise Refused(_l("Choose an active bridge worker."))
    if referral.bridge_id is not None and referral.bridge_accepted_at is None:
        raise Refused(_l("A bridge worker is already asked and has not answered yet."))
    if referral.bridge_id == bridge.id:
        raise Refused(_l("This bridge worker already accompanies the family."))
    # Asked, not yet accompanying: the bridge worker accepts or declines (decide_bridge).
    referral.bridge_id, referral.bridge_accepted_at = bridge.id, None
    _event(referral, user, EventKind.bridge, activity=False)
    audit.record("update", object_type="referral", object_id=referral.id,
                 family_id=referral.family_id, user=user, summary="bridge worker asked")
    _tell_user(bridge.id, "bridge_request", referral)


def decide_bridge(user, referral, *, accept, reason=None):
    """The bridge worker asked answers: accepting makes them accompany the family;
    declining (with a reason for the owner, if they give one) withdraws the request. The
    owner is told either way."""
    _require_referral(user, "bridge.decide", referral)
    referral = _locked(referral)
    if not policy.allowed(user, "bridge.decide", referral):  # answered meanwhile
        raise Refused(STALE)
    if accept:
        referral.bridge_accepted_at = db.utcnow()
    else:
        referral.bridge_id = None
    db.session().add(referral)
    _event(referral, user, EventKind.bridge, activity=False, text=None if accept else reason,
           outcome=HandoverAnswer.accepted if accept else HandoverAnswer.declined)
    audit.record("update", object_type="referral", object_id=referral.id,
                 family_id=referral.family_id, user=user,
                 summary="bridge request accepted" if accept else "bridge request declined")
    _tell_user(referral.owner_id, "referral_changed", referral)
    return referral


def consent_withdrawn(user, consent):
    """The referrals' side of a withdrawn consent (cases.operations.withdraw_consent): each
    referral it covered gets an event, and its partner and owner are told."""
    family = db.session().get(Family, consent.family_id)
    policy.require(user, "consent.record", family, hide=True, object_type="consent",
                   object_id=consent.id, family_id=consent.family_id)
    if consent.active:
        raise Refused(_l("Withdraw the consent first."))
    referrals = db.session().exec(select(Referral).where(
        Referral.family_id == consent.family_id,
        Referral.organisation_id == consent.organisation_id)).all()
    for referral in referrals:
        _event(referral, user, EventKind.consent, outcome="withdrawn", activity=False)
        if referral.status != Status.draft:
            _tell_partner(referral, "consent_withdrawn")
        if referral.owner_id != user.id:
            _tell_user(referral.owner_id, "consent_withdrawn", referral)


def send_reminders(user, *, today=None, now=None):
    """Mail each owner about their overdue referrals, and the coordinators about referrals
    still overdue after the escalation period. Once a day: a second run sends nothing.
    Returns (reminders, escalations) queued. For the command line (cron)."""
    policy.require(user, "referrals.remind")
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
    audit.record("update", object_type="referral", user=user,
                 summary=f"reminders: {reminders} owners, {escalations} coordinators")
    return reminders, escalations


def mark_seen(user, referral):
    """Note that the user opened the referral now: the home page's "changed since" counts
    from here. Not a change of the case, so no event and no audit entry of its own (the
    page that calls this logs the read). One statement, an upsert: two tabs opening the
    same referral at once cannot collide."""
    _require_referral(user, "referral.view", referral)
    db.write(_seen(db.engine().dialect.name), {
        "user": user.id, "referral": referral.id, "now": db.utcnow()})


@db.prepared
def _seen(dialect):
    insert = (postgresql if dialect == "postgresql" else sqlite).insert
    column = ReferralSeen.__table__.c
    now = bindparam("now", type_=column.seen_at.type)
    return insert(ReferralSeen).values(
        user_id=bindparam("user", type_=column.user_id.type),
        referral_id=bindparam("referral", type_=column.referral_id.type), seen_at=now
    ).on_conflict_do_update(index_elements=["user_id", "referral_id"], set_={"seen_at": now})
