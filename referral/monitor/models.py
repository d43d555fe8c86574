import enum
import uuid
from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from referral.db import id_field, time_field
from referral.i18n import lazy_gettext as _l

MAX_ACTIVITIES = 8  # a pledge fits on one page


class Progress(enum.StrEnum):
    done = "done"
    partly = "partly"
    not_done = "not"


PROGRESS_LABELS = {Progress.done: _l("done"), Progress.partly: _l("partly done"),
                   Progress.not_done: _l("not done")}


class Pledge(SQLModel, table=True):
    """What a partner organisation promised the alliance, on one page (organisational data,
    not personal: plain)."""

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", unique=True)
    new_partner: str | None = Field(default=None, max_length=200)
    updated_at: datetime = time_field()


class PledgeActivity(SQLModel, table=True):
    __tablename__ = "pledge_activity"

    id: uuid.UUID = id_field()
    pledge_id: uuid.UUID = Field(foreign_key="pledge.id", index=True)
    position: int = 0
    what: str = Field(max_length=300)
    for_whom: str = Field(default="", max_length=200)
    target: str = Field(default="", max_length=200)
    due: date | None = None


class PledgeReport(SQLModel, table=True):
    """A year's progress on one activity."""

    __tablename__ = "pledge_report"
    __table_args__ = (UniqueConstraint("activity_id", "year"),)

    id: uuid.UUID = id_field()
    activity_id: uuid.UUID = Field(foreign_key="pledge_activity.id", index=True)
    year: int = Field(index=True)
    progress: str = Field(max_length=10)
    text: str = Field(default="", max_length=500)
    reported_at: datetime = time_field()
    reported_by: uuid.UUID = Field(foreign_key="user_account.id")


class MonitorCache(SQLModel, table=True):
    """The monitor's tables as last shown, so that counting a whole country's referrals
    happens once every few minutes rather than on every view. Holds only what the page
    shows: counts after the small-number protection, never a row about a person."""

    __tablename__ = "monitor_cache"

    key: str = Field(primary_key=True, max_length=200)  # year/municipality/organisation/lang
    computed_at: datetime = time_field()
    tables: str  # JSON (see queries.cached_figures)
