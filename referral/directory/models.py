import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from referral.db import id_field, time_field


class Organisation(SQLModel, table=True):
    """A partner organisation of the alliance (the directory issue adds the rest)."""

    id: uuid.UUID = id_field()
    name: str = Field(max_length=200, unique=True)
    created_at: datetime = time_field()
