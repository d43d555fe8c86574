import enum
import uuid
from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from referral.db import time_field

GENESIS = "0" * 64


class AuditOutcome(enum.StrEnum):
    success = "success"
    denied = "denied"
    failure = "failure"  # a wrong password or code


class AuditEvent(SQLModel, table=True):
    """One entry of the access log (NEN 7513); append-only and hash-chained."""

    __tablename__ = "audit_event"
    # A family's entries by what was done: its history (created, corrected, children added
    # and changed) is a few entries among every read of it, which the log gains each time
    # the family is opened; the reads are skipped in the index, not read and left out.
    __table_args__ = (Index("ix_audit_event_family_action", "family_id", "action"),)

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = time_field(index=True)
    user_id: uuid.UUID | None = Field(default=None, index=True)
    role: str | None = Field(default=None, max_length=20)
    on_behalf_of: uuid.UUID | None = None
    family_id: uuid.UUID | None = None  # indexed with the action, above
    action: str = Field(max_length=20, index=True)
    object_type: str | None = Field(default=None, max_length=40)
    object_id: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=64)
    outcome: str = Field(max_length=20)  # an AuditOutcome
    summary: str = Field(default="", max_length=200)
    request_id: str | None = Field(default=None, max_length=32)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """The newest entry of the chain; its row lock makes writers take turns."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(default=GENESIS, max_length=64)


class AuditCheckpoint(SQLModel, table=True):
    """Entries up to `seq` were removed after their retention period; `hash` was the last
    one's, so the chain stays verifiable from the first entry that is kept."""

    __tablename__ = "audit_checkpoint"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = time_field()
    seq: int = Field(index=True)
    hash: str = Field(max_length=64)
    removed: int = 0
