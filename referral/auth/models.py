import enum
import uuid
from datetime import date, datetime
from typing import ClassVar

from flask_babel import lazy_gettext as _l
from sqlmodel import Field, SQLModel

from referral.db import encrypted_field, id_field, time_field


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


class LoginAttempt(SQLModel, table=True):
    """A login attempt, kept in the database so throttling holds across processes."""

    __tablename__ = "login_attempt"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = time_field(index=True)
    email_index: str = Field(max_length=64, index=True)
    address: str = Field(max_length=64, index=True)
    succeeded: bool = False
