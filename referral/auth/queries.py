"""Reading accounts: names, a user by email, the list of users, and the recent failed logins
that throttle the next."""

import hashlib
import math
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app, session
from sqlalchemy import bindparam
from sqlmodel import case, func, or_, select

from referral import crypto, db
from referral.auth.models import AccountLink, AccountStatus, LinkState, LoginAttempt, Role, User
from referral.crypto import keyring

PENDING_SECONDS = 300  # a password accepted waits this long for its two-factor code


def load_user(user_id):
    """The user of a session cookie, if the cookie's session version is still current."""
    try:
        raw_id, version = user_id.split(".")
        found = uuid.UUID(raw_id)
    except (ValueError, AttributeError):  # not a cookie this app wrote
        return None
    user = by_id(found)
    if user is None or not user.active or str(user.session_version) != version:
        return None
    return user


def by_id(user_id):
    """An account by its id: the session's own, if it holds it (as the ORM would give it);
    else read with a statement built once, as columns made the session's loaded User
    (db.loaded: every request's first statement, its user, 45-85 µs less than the ORM's
    load)."""
    return db.loaded(User, _user(), {"id": user_id})


def user_read(user_id):
    """The statement and values of by_id's read (for db.ahead)."""
    return _user(), {"id": user_id}


def pending_user():
    """The user of this browser who gave a right password and still owes a two-factor
    code; None if nobody does."""
    if time.time() - session.get("pending_at", 0) > PENDING_SECONDS:
        return None
    return load_user(session.get("pending_user", ""))


def names(user_ids):
    """Display names of users by id, in one query."""
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    return opened_names(db.rows(_user_names(), {"ids": list(ids)}))


def opened_names(pairs):
    """Display names by id from (user id, stored `name_enc`) pairs read with a page's rows
    (an outer join on the account: a statement less); each name opened once."""
    ring, found = keyring(), {}
    for user_id, sealed in pairs:
        if sealed is not None and user_id not in found:
            found[user_id] = ring.open(sealed, crypto.context_of("user_account", "name_enc",
                                                                 user_id))
    return found


@db.prepared
def _user():  # every request's first statement, read as columns (load_user)
    return select(*User.__table__.columns).where(User.id == bindparam("id"))


@db.prepared
def _user_names():  # columns, not User objects: a page names a handful of people
    return select(User.id, User.name_enc).where(User.id.in_(bindparam("ids", expanding=True)))


def email_index(email):
    return keyring().blind_index("user.email", email)


def find_user(email):
    return db.session().exec(select(User).where(User.email_index == email_index(email))).first()


def all_users():
    return db.session().exec(select(User).order_by(User.role, User.created_at)).all()


def _recent_failures(column, value, since):
    query = select(func.count()).select_from(LoginAttempt).where(
        column == value, LoginAttempt.at >= since, LoginAttempt.succeeded.is_(False),
        LoginAttempt.kind == "login")
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


def _recent_requests(column, value, since):
    query = select(func.count()).select_from(LoginAttempt).where(
        column == value, LoginAttempt.at >= since, LoginAttempt.kind == "reset")
    return db.session().exec(query).one()


def reset_throttled(email, address):
    """Too many forgotten-password requests lately, for this address or from this network
    address; counted alike for known and unknown addresses, so the limit tells nothing."""
    config = current_app.config
    since = db.utcnow() - timedelta(minutes=config["RESET_THROTTLE_MINUTES"])
    return (_recent_requests(LoginAttempt.email_index, email_index(email), since)
            >= config["RESET_MAX_ACCOUNT"]
            or _recent_requests(LoginAttempt.address, address, since)
            >= config["RESET_MAX_ADDRESS"])


# --- account links ------------------------------------------------------------------------

def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def link_by_token(token):
    return db.session().exec(select(AccountLink).where(
        AccountLink.token_hash == token_hash(token[:200]))).first()


def link_state(link):
    if link is None:
        return LinkState.unknown
    if link.used_at is not None:
        return LinkState.used
    return LinkState.expired if db.aware(link.expires_at) <= db.utcnow() else LinkState.ok


def open_links(user_id):
    return db.session().exec(select(AccountLink).where(
        AccountLink.user_id == user_id, AccountLink.used_at.is_(None))).all()


# --- the users page -------------------------------------------------------------------------

USERS_PAGE_SIZE = 50
SORTS = ("name", "role", "training", "status", "created")


@dataclass
class UserPage:
    """One page of the users list: its rows, how many match in all, which page."""

    results: list
    total: int
    page: int
    size: int = USERS_PAGE_SIZE

    @property
    def pages(self):
        return max(1, math.ceil(self.total / self.size))


def training_cutoff(today=None):
    """Trainings on or before this date have expired (policy.training_valid's rule)."""
    today = today or date.today()
    years = current_app.config["TRAINING_VALID_YEARS"]
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def users(*, role=None, status=None, organisation_id=None, expired=False, text="",
          sort="name", descending=False, page=1, today=None):
    """One page of accounts that match: filters in SQL; names and email addresses are
    encrypted, so a search or a sort by name reads the matching accounts and decides here
    (a country has some ten thousand accounts: milliseconds)."""
    conditions = []
    if role:
        conditions.append(User.role == role)
    if status == AccountStatus.deactivated:
        conditions.append(User.active.is_(False))
    elif status == AccountStatus.invited:
        conditions += [User.active.is_(True), User.password_hash == ""]  # nosec B105 (no password chosen yet, not a secret)
    elif status == AccountStatus.active:
        conditions += [User.active.is_(True), User.password_hash != ""]  # nosec B105 (no password chosen yet, not a secret)
    if organisation_id:
        conditions.append(User.organisation_id == organisation_id)
    if expired:
        conditions += [User.role == Role.professional,
                       or_(User.trained_on.is_(None), User.trained_on <= training_cutoff(today))]
    session = db.session()
    text = " ".join(text.casefold().split())
    if text or sort == "name":
        rows = session.exec(select(User).where(*conditions)).all()
        if text:
            rows = [u for u in rows if text in u.name.casefold() or text in u.email.casefold()]
        rows.sort(key=lambda u: (u.name.casefold(), str(u.id)), reverse=descending)
        total = len(rows)
        page = min(max(1, page), max(1, math.ceil(total / USERS_PAGE_SIZE)))
        start = (page - 1) * USERS_PAGE_SIZE
        return UserPage(rows[start:start + USERS_PAGE_SIZE], total, page, USERS_PAGE_SIZE)
    total = session.exec(select(func.count()).select_from(User).where(*conditions)).one()
    page = min(max(1, page), max(1, math.ceil(total / USERS_PAGE_SIZE)))
    status_order = case((User.active.is_(False), 2), (User.password_hash == "", 1), else_=0)  # nosec B105 (no password chosen yet, not a secret)
    key = {"role": User.role, "training": User.trained_on, "status": status_order,
           "created": User.created_at}[sort]
    # Never-trained accounts first, on SQLite and PostgreSQL alike.
    order = [key.desc().nulls_last() if descending else key.asc().nulls_first()]
    rows = session.exec(select(User).where(*conditions).order_by(*order, User.id)
                        .offset((page - 1) * USERS_PAGE_SIZE).limit(USERS_PAGE_SIZE)).all()
    return UserPage(rows, total, page, USERS_PAGE_SIZE)
