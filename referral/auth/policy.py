"""Who may do what: the one place every view and service asks."""

from datetime import date

from flask import abort, current_app
from flask_login import current_user

from referral import audit
from referral.auth.models import Role


def training_valid(user, *, today=None):
    """A professional's training counts for TRAINING_VALID_YEARS after the recorded date."""
    if user.trained_on is None:
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


def _edits_service(user, service):
    """Coordinators edit every entry; a partner only the services of their organisation."""
    if user.role == Role.coordinator:
        return True
    return (user.role == Role.partner and service is not None
            and user.organisation_id is not None
            and service.organisation_id == user.organisation_id)


def _works_on(user, family):
    """A professional works on the families they created (referrals and handovers follow)."""
    return (user.role == Role.professional and family is not None
            and family.created_by == user.id)


def _may_log_signal(user, family):
    if user.role != Role.professional or not training_valid(user):
        return False
    return family is None or _works_on(user, family)


RULES = {
    "account.manage": lambda user, _obj: True,
    "directory.search": lambda user, _obj: True,  # directory data holds no personal data
    "directory.manage": _role(Role.coordinator),
    "service.edit": _edits_service,
    "users.list": _role(Role.coordinator),
    "family.create": _role(Role.professional),
    "family.view": _works_on,
    "signal.create": _may_log_signal,
    "monitor.view": _role(Role.coordinator, Role.partner),
    "audit.read": _role(Role.privacy_officer),
}


def allowed(user, action, obj=None):
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return RULES[action](user, obj)


def require(action, obj=None, *, user=None, hide=False, object_type=None, object_id=None,
            family_id=None):
    """Abort with 403 (or 404 where even existence is private) and log the denial."""
    user = user or current_user
    if allowed(user, action, obj):
        return
    audit.record("read", outcome="denied", object_type=object_type, object_id=object_id,
                 family_id=family_id, summary=f"denied: {action}")
    abort(404 if hide else 403)
