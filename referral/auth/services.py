"""People, passwords, two-factor codes and login throttling."""

import io
import re
import time
from datetime import timedelta
from functools import cache
from importlib.resources import files

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from sqlmodel import func, select

from referral import audit, db, mail
from referral.auth.models import LoginAttempt, Role, User
from referral.crypto import keyring
from referral.errors import Refused
from referral.referrals.queries import open_referrals_owned_by

PASSWORD_MIN, PASSWORD_MAX = 12, 128
hasher = PasswordHasher()


@cache
def _dummy_hash():
    # Verified against when the email is unknown, so both paths take the same time.
    return hasher.hash("not a real password, only for timing")


@cache
def _common_passwords():
    text = files("referral.auth").joinpath("common-passwords.txt").read_text()
    return frozenset(line for line in text.split() if line and not line.startswith("#"))


def password_problem(password, *, email="", name=""):
    """Why this password is not good enough, or None."""
    if len(password) < PASSWORD_MIN:
        return _l("Use at least %(n)d characters.", n=PASSWORD_MIN)
    if len(password) > PASSWORD_MAX:
        return _l("Use at most %(n)d characters.", n=PASSWORD_MAX)
    plain = password.casefold()
    core = re.sub(r"^[\W\d_]+|[\W\d_]+$", "", plain)
    common = _common_passwords()
    if plain in common or core in common or len(set(plain)) < 4:
        return _l("This password is too common. Try a sentence of a few words.")
    for part in [email.split("@")[0].casefold(), *name.casefold().split()]:
        if len(part) >= 4 and part in plain:
            return _l("Do not use your name or email address in your password.")
    return None


def hash_password(password):
    return hasher.hash(password)


def verify_password(stored_hash, password):
    try:
        return hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def email_index(email):
    return keyring().blind_index("user.email", email)


def find_user(email):
    return db.session().exec(select(User).where(User.email_index == email_index(email))).first()


def create_user(*, email, name, role, password, organisation_id=None, trained_on=None,
                language="nl", actor=None):
    """Create an account; raises Refused with a message for the person."""
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
    user = User(email_index=email_index(email), role=role, organisation_id=organisation_id,
                trained_on=trained_on, language=language, password_hash=hash_password(password))
    user.email, user.name = email, name
    db.session().add(user)
    db.session().flush()
    audit.record("create", object_type="user", object_id=user.id, user=actor,
                 summary=f"account created with role {role}")
    return user


def _recent_failures(column, value, since):
    query = select(func.count()).select_from(LoginAttempt).where(
        column == value, LoginAttempt.at >= since, LoginAttempt.succeeded.is_(False))
    return db.session().exec(query).one()


def is_throttled(email, address, *, index=None):
    config = current_app.config
    since = db.utcnow() - timedelta(minutes=config["LOGIN_THROTTLE_MINUTES"])
    return (
        _recent_failures(LoginAttempt.email_index, index or email_index(email), since)
        >= config["LOGIN_MAX_FAILURES_ACCOUNT"]
        or _recent_failures(LoginAttempt.address, address, since)
        >= config["LOGIN_MAX_FAILURES_ADDRESS"]
    )


class Throttled(Refused):
    """Too many failed attempts: wait before trying again."""


def authenticate(email, password, address):
    """The active user with this email and password, or None; every attempt is logged."""
    if is_throttled(email, address):
        audit.record("login", outcome="denied", summary="login throttled")
        raise Throttled(_l("Too many failed attempts. Wait %(n)d minutes and try again.",
                           n=current_app.config["LOGIN_THROTTLE_MINUTES"]))
    user = find_user(email)
    ok = verify_password(user.password_hash if user else _dummy_hash(), password)
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
    return None


def start_totp_enrolment():
    return pyotp.random_base32()


def totp_uri(secret, email):
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="Verwijstool")


def qr_svg(data):
    out = io.BytesIO()
    # omitsize: a viewBox instead of a fixed size, so CSS can scale the code without cropping.
    segno.make(data, error="m").save(out, kind="svg", scale=5, xmldecl=False, svgns=True,
                                     omitsize=True,
                                     title="QR", svgclass="qr", lineclass=None)
    return out.getvalue().decode()


def _matching_step(secret, code, at=None):
    """The time step whose code this is (one step of clock drift either way), or None."""
    code = re.sub(r"\s", "", code or "")
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp, now = pyotp.TOTP(secret), at or time.time()
    for offset in (0, -1, 1):
        step = int(now // totp.interval) + offset
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def check_totp(user, code, *, secret=None):
    """Accept a code once: a code already used (or an older one) is refused."""
    secret = secret or user.totp_secret
    step = _matching_step(secret, code)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        audit.record("login", outcome="failure", object_type="user", object_id=user.id, user=user,
                     summary="two-factor code refused")
        return False
    user.totp_last_step = step
    db.session().add(user)
    audit.record("login", object_type="user", object_id=user.id, user=user,
                 summary="two-factor code accepted")
    return True


def second_step(user, code, address):
    """The code of a login whose password was right. A wrong code counts as a failed attempt
    of the account, so guessing codes meets the same limit as guessing passwords."""
    if is_throttled(None, address, index=user.email_index):
        audit.record("login", outcome="denied", object_type="user", object_id=user.id,
                     summary="two-factor code throttled")
        raise Throttled(_l("Too many failed attempts. Wait %(n)d minutes and try again.",
                           n=current_app.config["LOGIN_THROTTLE_MINUTES"]))
    if check_totp(user, code):
        return True
    db.session().add(LoginAttempt(email_index=user.email_index, address=address or "-",
                                  succeeded=False))
    return False


def enrol_totp(user, secret, code):
    if not check_totp(user, code, secret=secret):
        return False
    user.totp_secret = secret
    end_sessions(user)
    audit.record("update", object_type="user", object_id=user.id, user=user,
                 summary="two-factor enrolled")
    return True


def end_sessions(user):
    """End every session of this user, also copied cookies."""
    user.session_version += 1
    db.session().add(user)


def logout(user):
    end_sessions(user)
    audit.record("logout", object_type="user", object_id=user.id, user=user, summary="logged out")


def change_password(user, current, new):
    if not verify_password(user.password_hash, current):
        raise Refused(_l("Your current password is not correct."), "current")
    problem = password_problem(new, email=user.email, name=user.name)
    if problem:
        raise Refused(problem)
    user.password_hash = hash_password(new)
    user.password_changed_at = db.utcnow()
    end_sessions(user)
    # Tell the owner of the account, in case it was not them.
    mail.queue(user.email, "password_changed", language=user.language,
               link=url_for("auth.login", _external=True))
    audit.record("update", object_type="user", object_id=user.id, user=user,
                 summary="password changed")


def deactivate(user, *, actor=None):
    """End an account; refused while it owns open referrals (they are handed over first)."""
    open_referrals = open_referrals_owned_by(user.id)
    if open_referrals:
        raise Refused(_l(
            "This account still owns %(num)d open referrals. Hand each over to a colleague "
            "first: %(ids)s.", num=len(open_referrals),
            ids=", ".join(str(r.id) for r in open_referrals)))
    user.active = False
    end_sessions(user)
    audit.record("update", object_type="user", object_id=user.id, user=actor,
                 summary="account deactivated")


def set_language(user, language):
    if language in current_app.config["LANGUAGES"]:
        user.language = language
        db.session().add(user)


def all_users():
    return db.session().exec(select(User).order_by(User.role, User.created_at)).all()

