"""Who may do what: the one place every operation, view and template asks."""

from datetime import date

from flask import current_app, has_request_context, request
from sqlalchemy import and_
from werkzeug.local import LocalProxy

from referral import audit
from referral.auth.models import Role
from referral.errors import Denied
from referral.i18n import lazy_gettext as _l
from referral.policy.queries import (
    active_consent,
    consent_stands,
    owns_any,
    pending_handover_to,
)
from referral.referrals.models import Referral, Status


class CommandLine:
    """The operator at the server's command line (cron, `flask --app referral …`): may run
    the administrative operations, never read or change a case."""

    id = None
    role = None  # the access log records the command line as no user and no role
    organisation_id = None
    is_authenticated = True
    is_active = True


COMMAND_LINE = CommandLine()


def training_expires(user):
    """The day a professional's training stops counting: TRAINING_VALID_YEARS after the
    recorded date, whatever its kind; None without one."""
    trained_on = getattr(user, "trained_on", None)
    if trained_on is None:
        return None
    years = current_app.config["TRAINING_VALID_YEARS"]
    try:
        return trained_on.replace(year=trained_on.year + years)
    except ValueError:  # 29 February
        return trained_on.replace(year=trained_on.year + years, day=28)


def training_valid(user, *, today=None):
    """A professional's training counts for TRAINING_VALID_YEARS after the recorded date."""
    expires = training_expires(user)
    return expires is not None and (today or date.today()) < expires


def two_factor_required(user):
    """Two-factor login is required everywhere in production, and for the privacy officer,
    who reads the access log only after a code."""
    return bool(current_app.config["REQUIRE_2FA"]) or user.role == Role.privacy_officer


def _role(*roles):
    return lambda user, _obj: user.role in roles


def _command_line_or(*roles):
    return lambda user, _obj: user is COMMAND_LINE or user.role in roles


def _own_account(user, account):
    """A person manages their own account, never another's; the command line has none."""
    return user is not COMMAND_LINE and (account is None or account.id == user.id)


def _edits_service(user, service):
    """The command line (an import, the demo) and coordinators edit every entry; a partner
    only the services of their organisation."""
    if user is COMMAND_LINE or user.role == Role.coordinator:
        return True
    return (user.role == Role.partner and service is not None
            and user.organisation_id is not None
            and service.organisation_id == user.organisation_id)


def _works_on(user, family):
    """A professional works on the families they created or own a referral of (an accepted
    handover makes the colleague the owner)."""
    return (user.role == Role.professional and family is not None
            and (family.created_by == user.id or owns_any(user.id, family.id)))


def _owns(user, referral):
    return (user.role == Role.professional and referral is not None
            and referral.owner_id == user.id)


def _partner_of(user, referral):
    """Staff of the organisation the referral was sent to through the tool: once it was sent
    (requested_at stays set; a draft cancelled before it was sent never reached them)."""
    return (user.role == Role.partner and referral is not None
            and user.organisation_id is not None
            and referral.organisation_id == user.organisation_id
            and referral.by_inbox and referral.requested_at is not None)


def _accompanies(user, referral):
    """The bridge worker who agreed to accompany the family on this referral."""
    return (user.role == Role.bridge and referral is not None
            and referral.bridge_id == user.id and referral.bridge_accepted_at is not None)


def _asked_to_accompany(user, referral):
    """The bridge worker asked to accompany, who has not answered yet: may look first."""
    return (user.role == Role.bridge and referral is not None
            and referral.bridge_id == user.id and referral.bridge_accepted_at is None)


def _is_handed(user, referral):
    """The colleague a handover is proposed to may look before answering."""
    return (user.role == Role.professional and referral is not None
            and pending_handover_to(user.id, referral.id) is not None)


def _sees_referral(user, referral):
    return (_owns(user, referral) or _partner_of(user, referral)
            or _accompanies(user, referral) or _asked_to_accompany(user, referral)
            or _is_handed(user, referral))


def _sees_content(user, referral):
    """The shared message and the notes: the owner always; others only while the family's
    consent for that organisation stands."""
    if _owns(user, referral) or _is_handed(user, referral):
        return True
    return ((_partner_of(user, referral) or _accompanies(user, referral)
             or _asked_to_accompany(user, referral))
            and referral.status != Status.entered_in_error
            and active_consent(referral.family_id, referral.organisation_id) is not None)


def content_shared():
    """_sees_content for a partner or bridge worker as a SQL condition on Referral rows, for
    the lists that show a page of them at once: the family (name, municipality) is shown
    only where the family's consent for the referral's organisation stands. Whether the
    user is the partner or the bridge worker is the list's own query (inbox, accompanied)."""
    return and_(Referral.status != Status.entered_in_error,
                consent_stands(Referral.family_id, Referral.organisation_id))


def _prints_letter(user, referral):
    """The letter carries the family's name and contact: only the owner, only while the
    family's consent for that organisation stands, never for a draft or a mistake."""
    return (_owns(user, referral)
            and referral.status not in (Status.draft, Status.entered_in_error)
            and active_consent(referral.family_id, referral.organisation_id) is not None)


def _acts_as_partner(user, referral):
    """The partner, or the owner on the partner's behalf when it has no inbox in the tool."""
    return _partner_of(user, referral) or (_owns(user, referral) and not referral.by_inbox)


def _writes_notes(user, referral):
    return _owns(user, referral) or _partner_of(user, referral) or _accompanies(user, referral)


def _may_log_signal(user, family):
    if user.role != Role.professional or not training_valid(user):
        return False
    return family is None or _works_on(user, family)


def _decides_handover(user, handover):
    return (user.role == Role.professional and handover is not None
            and handover.to_id == user.id and handover.decided_at is None)


def _partner_with_organisation(user, _obj):
    return user.role == Role.partner and bool(user.organisation_id)


RULES = {
    "account.manage": _own_account,
    "directory.search": lambda user, _obj: True,  # directory data holds no personal data
    "directory.manage": _command_line_or(Role.coordinator),
    "service.edit": _edits_service,
    "users.create": _command_line_or(),
    "users.list": _command_line_or(Role.coordinator),
    "users.deactivate": _command_line_or(Role.coordinator),
    "users.invite": _command_line_or(Role.coordinator),
    "users.manage": _command_line_or(Role.coordinator),  # role, organisation, reactivate, reset
    "users.train": _command_line_or(Role.coordinator),
    # The privacy officer reads the access log and every family's data: only the server's
    # operator gives or takes that role, never a coordinator.
    "users.privacy_role": _command_line_or(),
    "family.create": _role(Role.professional),
    "family.view": _works_on,
    "family.edit": _works_on,  # rectification
    "signal.create": _may_log_signal,
    "consent.record": _works_on,
    "referral.create": _works_on,
    "referral.view": _sees_referral,
    "referral.content": _sees_content,
    "referral.as_referrer": _owns,
    "referral.as_partner": _acts_as_partner,
    "referral.letter": _prints_letter,
    "referral.note": _writes_notes,
    "referral.follow_up": _owns,  # the owner's own planning
    "referral.edit": _owns,  # a draft, before it is sent (the operation checks the status)
    "referral.handover": _owns,
    "referral.bridge": _owns,
    "handover.decide": _decides_handover,
    "bridge.decide": _asked_to_accompany,
    "referrals.mine": _role(Role.professional),
    "referrals.inbox": _partner_with_organisation,
    "referrals.accompany": _role(Role.bridge),
    "referrals.stuck": _role(Role.coordinator),
    "referrals.remind": _command_line_or(),
    "mail.outbox": _role(Role.coordinator),  # its state, never who or what a message says
    "pledge.edit": _partner_with_organisation,
    "pledge.list": _role(Role.coordinator),
    "feedback.invite": _works_on,
    "feedback.own": _role(Role.professional),
    "feedback.scores": _partner_with_organisation,
    "monitor.view": _role(Role.coordinator, Role.partner),
    "monitor.export": _command_line_or(Role.coordinator, Role.partner),
    "audit.read": _role(Role.privacy_officer),
    "privacy.request": _role(Role.privacy_officer),  # access requests and erasure
    "privacy.retention": _command_line_or(Role.privacy_officer),
    "privacy.register": _role(*Role),
    "keys.rotate": _command_line_or(),
}

# What each rule allows, in words: the access log says what was refused.
RULE_LABELS = {
    "account.manage": _l("manage an account"),
    "directory.search": _l("search the directory"),
    "directory.manage": _l("manage the directory"),
    "service.edit": _l("edit a service"),
    "users.create": _l("create an account"),
    "users.list": _l("see the accounts"),
    "users.deactivate": _l("deactivate an account"),
    "users.invite": _l("invite someone to an account"),
    "users.manage": _l("change an account's role, organisation or password"),
    "users.train": _l("record a training"),
    "users.privacy_role": _l("give or take the privacy officer role"),
    "family.create": _l("register a family"),
    "family.view": _l("look at a family"),
    "family.edit": _l("correct a family's data"),
    "signal.create": _l("log a signal"),
    "consent.record": _l("record consent"),
    "referral.create": _l("make a referral"),
    "referral.view": _l("look at a referral"),
    "referral.content": _l("read a referral's message and notes"),
    "referral.as_referrer": _l("act as the referrer"),
    "referral.as_partner": _l("act as the partner"),
    "referral.letter": _l("print a referral letter"),
    "referral.note": _l("write a note on a referral"),
    "referral.handover": _l("hand a referral over"),
    "referral.bridge": _l("assign a bridge worker"),
    "referral.follow_up": _l("move a referral's follow-up date"),
    "referral.edit": _l("change a draft referral"),
    "bridge.decide": _l("answer a request to accompany a family"),
    "handover.decide": _l("answer a handover"),
    "referrals.mine": _l("see my referrals"),
    "referrals.inbox": _l("see the partner inbox"),
    "referrals.accompany": _l("see the families I accompany"),
    "referrals.stuck": _l("see referrals that are stuck"),
    "referrals.remind": _l("send reminders"),
    "pledge.edit": _l("edit a pledge"),
    "pledge.list": _l("see the pledges"),
    "feedback.invite": _l("invite feedback"),
    "feedback.own": _l("read feedback on my invitations"),
    "feedback.scores": _l("see feedback scores"),
    "monitor.view": _l("look at the monitor"),
    "monitor.export": _l("export the monitor"),
    "audit.read": _l("read the access log"),
    "privacy.request": _l("handle a family's privacy request"),
    "privacy.retention": _l("erase data after its retention period"),
    "privacy.register": _l("read the processing register"),
    "keys.rotate": _l("rotate the encryption keys"),
    "mail.outbox": _l("see the outgoing mail"),
}


def allowed(user, action, obj=None):
    if isinstance(user, LocalProxy):  # current_user: each look through it costs a look-up
        user = user._get_current_object()
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return RULES[action](user, obj)


def require(user, action, obj=None, *, hide=False, object_type=None, object_id=None,
            family_id=None, attempted=None):
    """Raise Denied unless the user may, and log the denial as the kind of access that was
    attempted: a read for GET, an update for a posted change or an operation outside a
    request, unless the caller names it. `hide`: even the object's existence is private."""
    if allowed(user, action, obj):
        return
    if attempted is None:
        safe = has_request_context() and request.method in ("GET", "HEAD")
        attempted = "read" if safe else "update"
    audit.record(attempted, outcome="denied", object_type=object_type, object_id=object_id,
                 family_id=family_id, user=user if user and user.is_authenticated else None,
                 summary=f"denied: {action}")
    raise Denied(f"denied: {action}", hidden=hide)
