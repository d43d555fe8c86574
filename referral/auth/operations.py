"""Accounts: create, invite, change, train, deactivate and reactivate them; log in with a
password and a code, set up two-factor login, change, reset or set the password by a mailed
link, log out, and choose the language.

The row builder `new_user` makes an account the one way, without adding it: the operation
uses it, and so can the generator of scaled demo data."""

import re
import secrets
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import update as sa_update

from referral import audit, db, mail, policy
from referral.auth.credentials import (
    dummy_hash,
    hash_password,
    matching_step,
    password_problem,
    verify_password,
)
from referral.auth.models import (
    AccountLink,
    LinkPurpose,
    LinkState,
    LoginAttempt,
    Role,
    TrainingKind,
    User,
)
from referral.auth.queries import (
    email_index,
    find_user,
    is_throttled,
    link_state,
    open_links,
    reset_throttled,
    token_hash,
)
from referral.directory.models import Organisation
from referral.errors import Refused
from referral.i18n import lazy_gettext as _l
from referral.referrals.queries import open_referrals_owned_by


class Throttled(Refused):
    """Too many failed attempts: wait before trying again."""


def _throttled():
    return Throttled(_l("Too many failed attempts. Wait %(n)d minutes and try again.",
                        n=current_app.config["LOGIN_THROTTLE_MINUTES"]))


# --- row builders --------------------------------------------------------------------------

def new_user(*, email, name, role, password_hash, organisation_id=None, trained_on=None,
             language="nl", created_at=None, id=None):
    """An account with its email and name sealed and the email's keyed hash, not yet added."""
    user = User(**db.given(id=id, created_at=created_at, password_changed_at=created_at),
                email_index=email_index(email), role=role, organisation_id=organisation_id,
                trained_on=trained_on, language=language, password_hash=password_hash)
    user.email, user.name = email, name
    return user


# --- operations ----------------------------------------------------------------------------

def _account_fields(email, name, role):
    """The email address and name as stored, after the rules every new account meets."""
    email, name = email.strip(), " ".join(name.split())
    if not re.fullmatch(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+", email) or len(email) > 254:
        raise Refused(_l("Enter a valid email address."), "email")
    if not 1 <= len(name) <= 120:
        raise Refused(_l("Enter a name of at most 120 characters."), "name")
    if role not in Role.__members__:
        raise Refused(_l("Unknown role."), "role")
    if find_user(email) is not None:
        raise Refused(_l("There is already an account with this email address."), "email")
    return email, name


def create_user(actor, *, email, name, role, password, organisation_id=None, trained_on=None,
                language="nl"):
    """Create an account with a password (the command line only); returns it."""
    policy.require(actor, "users.create", object_type="user")
    email, name = _account_fields(email, name, role)
    problem = password_problem(password, email=email, name=name)
    if problem:
        raise Refused(problem)
    user = new_user(email=email, name=name, role=role, password_hash=hash_password(password),
                    organisation_id=organisation_id, trained_on=trained_on, language=language)
    db.session().add(user)
    db.session().flush()
    audit.record("create", object_type="user", object_id=user.id, user=actor,
                 summary=f"account created with role {role}")
    return user


def deactivate(actor, user):
    """End an account and its sessions; refused while it owns open referrals (they are
    handed over first)."""
    policy.require(actor, "users.deactivate", user, object_type="user", object_id=user.id)
    open_referrals = open_referrals_owned_by(user.id)
    if open_referrals:
        raise Refused(_l(
            "This account still owns %(num)d open referrals. Hand each over to a colleague "
            "first: %(ids)s.", num=len(open_referrals),
            ids=", ".join(str(r.id) for r in open_referrals)))
    user.active = False
    _end_sessions(user)
    _void_links(user)
    audit.record("update", object_type="user", object_id=user.id, user=actor,
                 summary="account deactivated")


def _organisation(organisation_id):
    """The active organisation of this id, or None for none; refused when there is none."""
    if not organisation_id:
        return None
    organisation = db.session().get(Organisation, organisation_id)
    if organisation is None or not organisation.active:
        raise Refused(_l("Choose an organisation from the list."), "organisation")
    return organisation


def _check_role(actor, role, organisation, *, object_id=None):
    if role not in Role.__members__:
        raise Refused(_l("Unknown role."), "role")
    if role == Role.privacy_officer:
        policy.require(actor, "users.privacy_role", object_type="user", object_id=object_id)
    if role == Role.partner and organisation is None:
        raise Refused(_l("A partner needs an organisation: choose one."), "organisation")


def invite(actor, *, email, name, role, organisation_id=None, language="nl"):
    """Create an account without a password and mail its owner a single-use link to set one
    (and to set up two-factor login where that is required); returns (account, token)."""
    policy.require(actor, "users.invite", object_type="user")
    if role == Role.privacy_officer:
        policy.require(actor, "users.privacy_role", object_type="user")
    email, name = _account_fields(email, name, role)
    organisation = _organisation(organisation_id)
    _check_role(actor, role, organisation)
    if language not in current_app.config["LANGUAGES"]:
        raise Refused(_l("Choose one of the languages offered."), "language")
    # No password until the owner chooses one: an empty hash never matches.
    user = new_user(email=email, name=name, role=role, password_hash="",  # nosec B106 (no password chosen yet, not a secret)
                    organisation_id=organisation.id if organisation else None, language=language)
    db.session().add(user)
    db.session().flush()
    token = _new_link(actor, user, LinkPurpose.invitation)
    audit.record("create", object_type="user", object_id=user.id, user=actor,
                 summary=f"account invited with role {role}")
    return user, token


def _new_link(actor, user, purpose):
    """A fresh link for this account (older open ones stop working) and its mail; returns the
    token, which is kept nowhere but in the mail."""
    _void_links(user)
    config = current_app.config
    lifetime = (timedelta(days=config["INVITATION_VALID_DAYS"])
                if purpose == LinkPurpose.invitation
                else timedelta(minutes=config["RESET_VALID_MINUTES"]))
    token = secrets.token_urlsafe(32)  # 256 random bits
    expires_at = db.utcnow() + lifetime
    db.session().add(AccountLink(token_hash=token_hash(token), user_id=user.id, purpose=purpose,
                                 created_by=getattr(actor, "id", None), expires_at=expires_at))
    template = "invitation" if purpose == LinkPurpose.invitation else "password_reset"
    mail.queue(user.email, template, language=user.language,
               link=mail.link("auth.open_link", token=token),
               days=config["INVITATION_VALID_DAYS"], minutes=config["RESET_VALID_MINUTES"])
    db.session().flush()
    return token


def _void_links(user):
    """Every open link of this account stops working."""
    now = db.utcnow()
    for link in open_links(user.id):
        link.used_at = now
        db.session().add(link)


def start_reset(actor, user):
    """Mail the owner of an active account a link to choose a new password (an invitation
    again if they never chose one); the current password works until then."""
    policy.require(actor, "users.manage", user, object_type="user", object_id=user.id)
    if not user.active:
        raise Refused(_l("This account is deactivated. Reactivate it first."))
    invited = not user.password_hash
    token = _new_link(actor, user, LinkPurpose.invitation if invited else LinkPurpose.reset)
    audit.record("update", object_type="user", object_id=user.id, user=actor,
                 summary="invitation sent again" if invited else "password reset started")
    return token


def request_reset(*, email, address):
    """A forgotten password: mail a link if an active account has this address. Nobody acts
    and the answer is the same for an unknown address; every request counts against the
    address and the network address, so the mail cannot be used to flood anyone."""
    if reset_throttled(email, address):
        audit.record("update", outcome="denied", summary="password reset throttled")
        raise _throttled()
    db.session().add(LoginAttempt(email_index=email_index(email), address=address or "-",
                                  kind="reset"))
    user = find_user(email)
    if user is None or not user.active:
        audit.record("update", outcome="failure",
                     summary="password reset asked for an unknown or deactivated account")
        db.session().flush()
        return None
    purpose = LinkPurpose.reset if user.password_hash else LinkPurpose.invitation
    token = _new_link(None, user, purpose)
    audit.record("update", object_type="user", object_id=user.id, user=None,
                 summary="password reset asked by mail")
    return token


def set_password_by_link(link, *, password):
    """Set the password of a link's account, once: the link is the proof, nobody is logged
    in. Ends every session of the account; returns the account."""
    user = db.session().get(User, link.user_id)
    state = link_state(link)
    if state != LinkState.ok or user is None or not user.active:
        raise Refused(_l("This link does not work any more. Ask for a new one."))
    problem = password_problem(password, email=user.email, name=user.name)
    if problem:
        raise Refused(problem, "new")
    # Taken at most once, also by two requests at the same moment.
    taken = db.session().execute(
        sa_update(AccountLink).where(AccountLink.id == link.id, AccountLink.used_at.is_(None))
        .values(used_at=db.utcnow()))
    if taken.rowcount != 1:
        raise Refused(_l("This link does not work any more. Ask for a new one."))
    db.session().refresh(link)
    user.password_hash = hash_password(password)
    user.password_changed_at = db.utcnow()
    _end_sessions(user)
    _void_links(user)
    if link.purpose == LinkPurpose.reset:
        mail.queue(user.email, "password_changed", language=user.language,
                   link=mail.link("auth.login"))
    audit.record("update", object_type="user", object_id=user.id, user=user,
                 summary=("password chosen after invitation"
                          if link.purpose == LinkPurpose.invitation else "password reset by link"))
    db.session().flush()
    return user


def change_role(actor, user, *, role, organisation_id):
    """Give an account another role or organisation. Refused on one's own account, and for a
    role that would leave open referrals without an owner who can act on them."""
    policy.require(actor, "users.manage", user, object_type="user", object_id=user.id)
    if user.id == getattr(actor, "id", None):
        raise Refused(_l("You cannot change the role of your own account. Ask another "
                         "coordinator."), "role")
    organisation = _organisation(organisation_id)
    if user.role == Role.privacy_officer and role != user.role:
        policy.require(actor, "users.privacy_role", object_type="user", object_id=user.id)
    _check_role(actor, role, organisation, object_id=user.id)
    if user.role == Role.professional and role != Role.professional:
        owned = open_referrals_owned_by(user.id)
        if owned:
            raise Refused(_l(
                "This account still owns %(num)d open referrals. Hand each over to a colleague "
                "first: %(ids)s.", num=len(owned), ids=", ".join(str(r.id) for r in owned)),
                "role")
    new_organisation = organisation.id if organisation else None
    if role == user.role and new_organisation == user.organisation_id:
        raise Refused(_l("Nothing changed: choose another role or organisation."), "role")
    changes = []
    if role != user.role:
        changes.append(f"role {user.role} -> {role}")
    if new_organisation != user.organisation_id:
        changes.append(f"organisation {user.organisation_id or '-'} -> {new_organisation or '-'}")
    user.role, user.organisation_id = role, new_organisation
    db.session().add(user)
    audit.record("update", object_type="user", object_id=user.id, user=actor,
                 summary="account changed: " + ", ".join(changes))
    db.session().flush()


def record_training(actor, user, *, trained_on, kind, today=None):
    """Record a professional's signal training; it counts for TRAINING_VALID_YEARS from the
    date, whatever the kind."""
    policy.require(actor, "users.train", user, object_type="user", object_id=user.id)
    if user.role != Role.professional:
        raise Refused(_l("Only professionals log signals, so only their training is recorded."))
    if kind not in TrainingKind.__members__:
        raise Refused(_l("Choose the kind of training."), "kind")
    today = today or date.today()
    if trained_on is None or trained_on > today:
        raise Refused(_l("Enter the date of the training: today or earlier."), "trained_on")
    if trained_on < date(today.year - 50, 1, 1):
        raise Refused(_l("Enter the date of the training: today or earlier."), "trained_on")
    user.trained_on, user.training_kind = trained_on, kind
    db.session().add(user)
    audit.record("update", object_type="user", object_id=user.id, user=actor,
                 summary=f"training recorded ({kind}, {trained_on.isoformat()})")
    db.session().flush()


def reactivate(actor, user):
    """Let a deactivated account log in again (with its old password, or after a reset)."""
    policy.require(actor, "users.manage", user, object_type="user", object_id=user.id)
    if user.active:
        raise Refused(_l("This account is active already."))
    user.active = True
    db.session().add(user)
    audit.record("update", object_type="user", object_id=user.id, user=actor,
                 summary="account reactivated")
    db.session().flush()


def authenticate(*, email, password, address):
    """The first step of a login: the active account with this email and password.

    Nobody acts yet: the credentials are the check. Every attempt is recorded, also a
    refused one, so the caller commits after a refusal too (a request does)."""
    if is_throttled(email, address):
        audit.record("login", outcome="denied", summary="login throttled")
        raise _throttled()
    user = find_user(email)
    # An invited account has no password yet: verify the dummy, so it takes the same time.
    ok = verify_password(user.password_hash if user and user.password_hash else dummy_hash(),
                         password)
    ok = ok and user is not None and bool(user.password_hash)
    ok = ok and user is not None and user.active
    db.session().add(LoginAttempt(email_index=email_index(email), address=address or "-",
                                  succeeded=ok))
    if ok:
        audit.record("login", object_type="user", object_id=user.id, user=user,
                     summary="password accepted")
        return user
    # The person trying is not known: the account tried is the object, not the actor.
    audit.record("login", outcome="failure", object_type="user" if user else None,
                 object_id=user.id if user else None, summary="wrong password or unknown account")
    raise Refused(_l("Email address or password is not correct."))


def second_step(user, *, code, address):
    """The code of a login whose password was right. A wrong code counts as a failed attempt
    of the account, so guessing codes meets the same limit as guessing passwords; like the
    password, it is recorded also when refused."""
    if is_throttled(None, address, index=user.email_index):
        audit.record("login", outcome="denied", object_type="user", object_id=user.id,
                     summary="two-factor code throttled")
        raise _throttled()
    if _accept_code(user, code):
        return
    db.session().add(LoginAttempt(email_index=user.email_index, address=address or "-",
                                  succeeded=False))
    raise Refused(_l("This code is not correct or was used already. Wait for the next code."),
                  "code")


def _accept_code(user, code, *, secret=None):
    """Accept a code once: a code already used (or an older one) is refused."""
    step = matching_step(secret or user.totp_secret, code)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        audit.record("login", outcome="failure", object_type="user", object_id=user.id, user=user,
                     summary="two-factor code refused")
        return False
    user.totp_last_step = step
    db.session().add(user)
    audit.record("login", object_type="user", object_id=user.id, user=user,
                 summary="two-factor code accepted")
    return True


def _manage(actor, user):
    policy.require(actor, "account.manage", user, object_type="user", object_id=user.id)


def enrol_two_factor(actor, user, *, secret, code):
    """Turn on two-factor login with a new secret, once a code of it is right; ends the
    account's other sessions. A wrong code is in the access log, like one at login."""
    _manage(actor, user)
    if not _accept_code(user, code, secret=secret):
        raise Refused(_l("This code is not correct. Scan the code again and enter the newest "
                         "six digits."), "code")
    user.totp_secret = secret
    _end_sessions(user)
    audit.record("update", object_type="user", object_id=user.id, user=actor,
                 summary="two-factor enrolled")


def _end_sessions(user):
    """End every session of this user, also copied cookies."""
    user.session_version += 1
    db.session().add(user)


def log_out(actor, user):
    """End every session of the account, also a copied cookie."""
    _manage(actor, user)
    _end_sessions(user)
    audit.record("logout", object_type="user", object_id=user.id, user=actor,
                 summary="logged out")


def change_password(actor, user, *, current, new):
    """Set a new password after the current one; ends every session and tells the owner."""
    _manage(actor, user)
    if not verify_password(user.password_hash, current):
        raise Refused(_l("Your current password is not correct."), "current")
    problem = password_problem(new, email=user.email, name=user.name)
    if problem:
        raise Refused(problem, "new")
    user.password_hash = hash_password(new)
    user.password_changed_at = db.utcnow()
    _end_sessions(user)
    # Tell the owner of the account, in case it was not them.
    mail.queue(user.email, "password_changed", language=user.language,
               link=mail.link("auth.login"))
    audit.record("update", object_type="user", object_id=user.id, user=actor,
                 summary="password changed")


def set_language(actor, user, *, language):
    """The language the account's pages and mail are in."""
    _manage(actor, user)
    if language not in current_app.config["LANGUAGES"]:
        raise Refused(_l("Choose one of the languages offered."))
    user.language = language
    db.session().add(user)
