"""Accounts: create and deactivate them, log in with a password and a code, set up
two-factor login, change the password, log out, and choose the language.

The row builder `new_user` makes an account the one way, without adding it: the operation
uses it, and so can the generator of scaled demo data."""

import re

from flask import current_app
from flask_babel import lazy_gettext as _l

from referral import audit, db, mail, policy
from referral.auth.credentials import (
    dummy_hash,
    hash_password,
    matching_step,
    password_problem,
    verify_password,
)
from referral.auth.models import LoginAttempt, Role, User
from referral.auth.queries import email_index, find_user, is_throttled
from referral.errors import Refused
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

def create_user(actor, *, email, name, role, password, organisation_id=None, trained_on=None,
                language="nl"):
    """Create an account (the command line only); returns it."""
    policy.require(actor, "users.create", object_type="user")
    email, name = email.strip(), " ".join(name.split())
    if not re.fullmatch(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+", email) or len(email) > 254:
        raise Refused(_l("Enter a valid email address."))
    if not 1 <= len(name) <= 120:
        raise Refused(_l("Enter a name of at most 120 characters."))
    if role not in Role.__members__:
        raise Refused(_l("Unknown role."))
    if find_user(email) is not None:
        raise Refused(_l("There is already an account with this email address."))
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
    audit.record("update", object_type="user", object_id=user.id, user=actor,
                 summary="account deactivated")


def authenticate(*, email, password, address):
    """The first step of a login: the active account with this email and password.

    Nobody acts yet: the credentials are the check. Every attempt is recorded, also a
    refused one, so the caller commits after a refusal too (a request does)."""
    if is_throttled(email, address):
        audit.record("login", outcome="denied", summary="login throttled")
        raise _throttled()
    user = find_user(email)
    ok = verify_password(user.password_hash if user else dummy_hash(), password)
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
