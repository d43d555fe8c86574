import enum
import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from referral.db import id_field, time_field
from referral.i18n import lazy_gettext as _l


class ErasureReason(enum.StrEnum):
    request = "request"  # the family asked
    retention = "retention"  # its retention period passed
    restore = "restore"  # erased before, again after a restore from an older backup


ERASURE_REASON_LABELS = {
    ErasureReason.request: _l("at the family's request"),
    ErasureReason.retention: _l("retention period passed"),
    ErasureReason.restore: _l("again, after a restore from an older backup"),
}


class ErasureReceipt(SQLModel, table=True):
    """What was erased of one family, when and why; the family's random id stays so that
    the access log about it can still be shown (it names nobody once the family is gone)."""

    __tablename__ = "erasure_receipt"

    id: uuid.UUID = id_field()
    erased_at: datetime = time_field(index=True)
    erased_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    family_ref: uuid.UUID = Field(index=True)
    reason: str = Field(max_length=20)  # an ErasureReason
    counts: str = Field(default="{}", max_length=2000)  # rows removed per table, as JSON
