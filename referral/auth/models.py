import enum
import uuid
from datetime import date, datetime
from typing import ClassVar

from sqlalchemy import DateTime
from sqlmodel import Field, SQLModel

from referral.db import encrypted_field, id_field, time_field
from referral.i18n import lazy_gettext as _l


class Role(enum.StrEnum):
    professional = "professional"
    partner = "partner"
    bridge = "bridge"
    coordinator = "coordinator"
    privacy_officer = "privacy_officer"


ROLE_LABELS = {
    Role.professional: _l("professional"),
    Role.partner: _l("partner organisation"),
    Role.bridge: _l("bridge worker"),
    Role.coordinator: _l("coordinator"),
    Role.privacy_officer: _l("privacy officer"),
}


def role_label(role):
    return ROLE_LABELS.get(role, role)


class TrainingKind(enum.StrEnum):
    """How a professional followed the signal training; each counts the same number of
    years (TRAINING_VALID_YEARS)."""

    course = "course"
    refresher = "refresher"
    e_learning = "e_learning"


TRAINING_LABELS = {
    TrainingKind.course: _l("signal training (course)"),
    TrainingKind.refresher: _l("refresher course"),
    TrainingKind.e_learning: _l("e-learning"),
}


def training_label(kind):
    return TRAINING_LABELS.get(kind, kind or "")


class AccountStatus(enum.StrEnum):
    """Where an account stands, as the users page shows it."""

    active = "active"
    invited = "invited"  # no password set yet: the invitation was not used
    deactivated = "deactivated"


STATUS_LABELS = {
    AccountStatus.active: _l("active"),
    AccountStatus.invited: _l("invited"),
    AccountStatus.deactivated: _l("deactivated"),
}


class LinkPurpose(enum.StrEnum):
    invitation = "invitation"
    reset = "reset"


class User(SQLModel, table=True):
    """A person who logs in; name, email and two-factor secret are encrypted."""

    __tablename__ = "user_account"

    id: uuid.UUID = id_field()
    email_enc: str = encrypted_field()
    email_index: str = Field(max_length=64, unique=True)
    name_enc: str = encrypted_field()
    role: str = Field(max_length=20, index=True)
    organisation_id: uuid.UUID | None = Field(default=None, foreign_key="organisation.id")
    trained_on: date | None = None
    training_kind: str | None = Field(default=None, max_length=20)
    language: str = Field(default="nl", max_length=5)
    active: bool = True
    password_hash: str = Field(max_length=200)
    password_changed_at: datetime = time_field()
    # Part of the session cookie: raising it ends every session of this user at once.
    session_version: int = 1
    totp_secret_enc: str | None = encrypted_field(nullable=True)
    totp_last_step: int | None = None
    created_at: datetime = time_field()

    # Flask-Login's interface, written out: UserMixin's is_active would ignore `active`.
    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False

    @property
    def is_active(self):
        return self.active

    def get_id(self):
        return f"{self.id}.{self.session_version}"

    @property
    def status(self):
        if not self.active:
            return AccountStatus.deactivated
        return AccountStatus.active if self.password_hash else AccountStatus.invited


class LoginAttempt(SQLModel, table=True):
    """A login attempt, kept in the database so throttling holds across processes."""

    __tablename__ = "login_attempt"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = time_field(index=True)
    email_index: str = Field(max_length=64, index=True)
    address: str = Field(max_length=64, index=True)
    succeeded: bool = False
    # "login", or "reset" for a forgotten-password request: both throttled from this table.
    kind: str = Field(default="login", max_length=10,
                      sa_column_kwargs={"server_default": "login"})


class AccountLink(SQLModel, table=True):
    """A single-use, expiring link to set a password: an invitation or a reset. Only the
    token's hash is kept, so the table gives nobody a working link."""

    __tablename__ = "account_link"

    id: uuid.UUID = id_field()
    token_hash: str = Field(max_length=64, unique=True)
    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    purpose: str = Field(max_length=20)
    created_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = time_field()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class LinkState(enum.StrEnum):
    """Where an account link stands, as the person who opens it is told."""

    ok = "ok"
    unknown = "unknown"
    used = "used"
    expired = "expired"
