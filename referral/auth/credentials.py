"""Passwords and two-factor codes: hashing, what makes a password good enough, the time
steps of a code, and the QR code to set one up. Nothing here reads or writes the database."""

import io
import re
import time
from functools import cache
from importlib.resources import files

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from referral.i18n import lazy_gettext as _l

PASSWORD_MIN, PASSWORD_MAX = 12, 128
hasher = PasswordHasher()


@cache
def dummy_hash():
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


def new_totp_secret():
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


def matching_step(secret, code, at=None):
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
