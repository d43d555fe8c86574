import enum
import uuid
from datetime import datetime

from sqlalchemy import DateTime
from sqlmodel import Field, SQLModel

from referral.db import encrypted_field, id_field, time_field
from referral.familykeys import FamilyData, family_of, track_parents
from referral.i18n import lazy_gettext as _l


class FeedbackForm(enum.StrEnum):
    parent = "parent"
    child_young = "child_8_11"
    child_older = "child_12_17"


FORM_LABELS = {FeedbackForm.parent: _l("a parent"),
               FeedbackForm.child_young: _l("a child of 8 to 11"),
               FeedbackForm.child_older: _l("a child of 12 to 17")}


class LinkState(enum.StrEnum):
    """Where a feedback link stands, as the family is told."""

    ok = "ok"
    unknown = "unknown"
    expired = "expired"
    used = "used"
    throttled = "throttled"  # too many wrong links from this address
    session = "session"  # the browser's short-lived hold on the link ran out
    elsewhere = "elsewhere"  # another browser opened the link first: it is bound to that one
    replaced = "replaced"  # the professional made a new link for the same person


class FeedbackInvite(SQLModel, table=True):
    """A one-time link for a parent or a child. Only the token's hash is kept. The first
    browser that opens it holds it (the hash of that browser's cookie): for every other
    browser the link is dead from then on."""

    __tablename__ = "feedback_invite"

    id: uuid.UUID = id_field()
    token_hash: str = Field(max_length=64, unique=True)
    family_id: uuid.UUID = Field(foreign_key="family.id", index=True)
    referral_id: uuid.UUID | None = Field(default=None, foreign_key="referral.id", index=True)
    child_id: uuid.UUID | None = Field(default=None, foreign_key="child.id")
    created_by: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    created_at: datetime = time_field()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    opened_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    holder_hash: str | None = Field(default=None, max_length=64)
    replaced_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    form: str = Field(max_length=20)
    language: str = Field(max_length=5)


track_parents(FeedbackInvite)


class FeedbackResponse(FamilyData, SQLModel, table=True):
    """The answers: scores plain (1 to 5, for counting in SQL), free text encrypted. The
    service and organisation are copied from the referral so the monitor needs no join
    through case data; nothing here says who answered."""

    __tablename__ = "feedback_response"

    id: uuid.UUID = id_field()
    invite_id: uuid.UUID = Field(foreign_key="feedback_invite.id", unique=True)
    service_id: uuid.UUID | None = Field(default=None, foreign_key="service.id", index=True)
    organisation_id: uuid.UUID | None = Field(default=None, foreign_key="organisation.id",
                                              index=True)
    municipality_code: str | None = Field(default=None, max_length=6, index=True)
    submitted_at: datetime = time_field(index=True)
    form: str = Field(max_length=20, index=True)
    language: str = Field(max_length=5)
    heard: int | None = None  # felt heard / listened to
    useful: int | None = None  # the help was useful (parent)
    easy: int | None = None  # the help was easy to get (parent)
    better: int | None = None  # things changed / got better
    went_well_enc: str | None = encrypted_field(nullable=True)
    do_better_enc: str | None = encrypted_field(nullable=True)
    to_grown_ups_enc: str | None = encrypted_field(nullable=True)

    def owning_family(self):  # the invitation's family: nothing here says who answered
        return family_of(FeedbackInvite, self.invite_id)


class FeedbackAttempt(SQLModel, table=True):
    """A link that did not work, per address: guessing is limited across app processes."""

    __tablename__ = "feedback_attempt"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = time_field(index=True)
    address: str = Field(max_length=64, index=True)
