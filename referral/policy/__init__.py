"""Who may do what: the one place every operation, view and template asks."""

from datetime import date

from flask import current_app, has_request_context, request

from referral import audit
from referral.auth.models import Role
from referral.errors import Denied
from referral.policy.queries import active_consent, owns_any, pending_handover_to
from referral.referrals.models import Status


class CommandLine:
    """The operator at the server's command line (cron, `flask --app referral …`): may run
    the administrative operations, never read or change a case."""

    id = None
    role = None  # the access log records the command line as no user and no role
    organisation_id = None
    is_authenticated = True
    is_active = True


COMMAND_LINE = CommandLine()


def training_valid(user, *, today=None):
    """A professional's training counts for TRAINING_VALID_YEARS after the recorded date."""
    if getattr(user, "trained_on", None) is None:
        return False
    today = today or date.today()
    years = current_app.config["TRAINING_VALID_YEARS"]
    try:
        expires = user.trained_on.replace(year=user.trained_on.year + years)
    except ValueError:  # 29 February
        expires = user.trained_on.replace(year=user.trained_on.year + years, day=28)
    return today < expires


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
    """Staff of the organisation the referral was sent to through the tool (never drafts)."""
    return (user.role == Role.partner and referral is not None
            and user.organisation_id is not None
            and referral.organisation_id == user.organisation_id
            and referral.by_inbox and referral.status != Status.draft)


def _accompanies(user, referral):
    return (user.role == Role.bridge and referral is not None
            and referral.bridge_id == user.id)


def _is_handed(user, referral):
    """The colleague a handover is proposed to may look before answering."""
    return (user.role == Role.professional and referral is not None
            and pending_handover_to(user.id, referral.id) is not None)


def _sees_referral(user, referral):
    return (_owns(user, referral) or _partner_of(user, referral)
            or _accompanies(user, referral) or _is_handed(user, referral))


def _sees_content(user, referral):
    """The shared message and the notes: the owner always; others only while the family's
    consent for that organisation stands."""
    if _owns(user, referral) or _is_handed(user, referral):
        return True
    return ((_partner_of(user, referral) or _accompanies(user, referral))
            and referral.status != Status.entered_in_error
            and active_consent(referral.family_id, referral.organisation_id) is not None)


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
    "referral.handover": _owns,
    "referral.bridge": _owns,
    "handover.decide": _decides_handover,
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


def allowed(user, action, obj=None):
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
