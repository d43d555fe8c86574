"""Reading accounts: names, a user by email, the list of users, and the recent failed logins
that throttle the next."""

from datetime import timedelta

from flask import current_app
from sqlmodel import func, select

from referral import db
from referral.auth.models import LoginAttempt, User
from referral.crypto import keyring


def names(user_ids):
    """Display names of users by id, in one query."""
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    return {u.id: u.name for u in db.session().exec(select(User).where(User.id.in_(ids)))}


def email_index(email):
    return keyring().blind_index("user.email", email)


def find_user(email):
    return db.session().exec(select(User).where(User.email_index == email_index(email))).first()


def all_users():
    return db.session().exec(select(User).order_by(User.role, User.created_at)).all()


def _recent_failures(column, value, since):
    query = select(func.count()).select_from(LoginAttempt).where(
        column == value, LoginAttempt.at >= since, LoginAttempt.succeeded.is_(False))
    return db.session().exec(query).one()


def is_throttled(email, address, *, index=None):
    """Too many failed attempts lately, for this account or from this address."""
    config = current_app.config
    since = db.utcnow() - timedelta(minutes=config["LOGIN_THROTTLE_MINUTES"])
    return (
        _recent_failures(LoginAttempt.email_index, index or email_index(email), since)
        >= config["LOGIN_MAX_FAILURES_ACCOUNT"]
        or _recent_failures(LoginAttempt.address, address, since)
        >= config["LOGIN_MAX_FAILURES_ADDRESS"]
    )
