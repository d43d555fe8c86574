import enum
import re
import uuid
from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from referral.crypto import keyring
from referral.db import encrypted_field, id_field, time_field
from referral.familykeys import FamilyData
from referral.i18n import lazy_gettext as _l


class Urgency(enum.StrEnum):
    normal = "normal"
    soon = "soon"
    urgent = "urgent"


class SignalSource(enum.StrEnum):
    conversation = "conversation"
    observation = "observation"
    family_asked = "family_asked"


URGENCY_LABELS = {Urgency.normal: _l("normal"), Urgency.soon: _l("soon"),
                  Urgency.urgent: _l("urgent")}
SOURCE_LABELS = {SignalSource.conversation: _l("a conversation"),
                 SignalSource.observation: _l("something I saw"),
                 SignalSource.family_asked: _l("the family asked for help")}
class HistoryKind(enum.StrEnum):
    """A change in the family's history (read from the access log)."""

    created = "created"
    corrected = "corrected"
    child_added = "child_added"
    child_changed = "child_changed"
    child_removed = "child_removed"


HISTORY_LABELS = {HistoryKind.created: _l("registered the family"),
                  HistoryKind.corrected: _l("corrected the family's data"),
                  HistoryKind.child_added: _l("added a child"),
                  HistoryKind.child_changed: _l("corrected a child's name or date of birth"),
                  HistoryKind.child_removed: _l("removed a child")}
# The fields a correction names in the access log (untranslated there), in words.
FIELD_LABELS = {"parent names": _l("names of the parents"), "phone": _l("phone"),
                "email": _l("email address"), "address": _l("address"),
                "postcode": _l("postcode"), "municipality": _l("municipality"),
                "language": _l("language")}

# A sanity bound on the rows of one family, not a rule about families.
MAX_CHILDREN = 20
LANGUAGES = {"nl": "Nederlands", "en": "English", "ar": "العربية", "tr": "Türkçe",
             "pl": "Polski", "uk": "Українська"}


def age_on(birth_date, day):
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def age_in_months(birth_date, day):
    return (day.year - birth_date.year) * 12 + day.month - birth_date.month - (
        day.day < birth_date.day)


def age_band(birth_date, today=None):
    """The plain age band kept beside an encrypted date of birth, for search and monitor."""
    age = age_on(birth_date, today or date.today())
    for upper, band in ((3, "0-3"), (11, "4-11"), (15, "12-15"), (17, "16-17")):
        if age <= upper:
            return band
    return "18+"


POSTCODE = re.compile(r"^\s*(\d{4})\s*([A-Za-z]{2})\s*$")


def normal_postcode(text):
    match = POSTCODE.match(text or "")
    return f"{match.group(1)}{match.group(2).upper()}" if match else None


# The keyed hashes beside encrypted values, for exact-match lookups within an organisation.

def child_index(organisation_id, first_name, birth_date):
    return keyring().blind_index(f"child/{organisation_id}", f"{first_name}|{birth_date}")


def address_index(organisation_id, postcode, house_number):
    return keyring().blind_index(f"address/{organisation_id}",
                                 f"{normal_postcode(postcode)}|{house_number}")


class Family(FamilyData, SQLModel, table=True):
    """A household; everything that identifies it is encrypted (with its own key)."""

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID | None = Field(default=None, foreign_key="organisation.id",
                                              index=True)
    created_by: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    created_at: datetime = time_field()
    municipality_code: str | None = Field(default=None, max_length=6, index=True)
    language: str = Field(default="nl", max_length=5)
    parent_names_enc: str = encrypted_field()
    phone_enc: str | None = encrypted_field(nullable=True)
    email_enc: str | None = encrypted_field(nullable=True)
    address_enc: str | None = encrypted_field(nullable=True)
    postcode_enc: str | None = encrypted_field(nullable=True)
    # Keyed hash of postcode and house number within the organisation, to warn of doubles.
    address_index: str | None = Field(default=None, max_length=64, index=True)

    def owning_family(self):
        return self.id


class Child(FamilyData, SQLModel, table=True):
    __table_args__ = (Index("ix_child_monitor", "family_id", "age_band"),)  # age bands, fast

    id: uuid.UUID = id_field()
    family_id: uuid.UUID = Field(foreign_key="family.id", index=True)
    first_name_enc: str = encrypted_field()
    birth_date_enc: str = encrypted_field(plain="birth_date_text")
    age_band: str = Field(max_length=5)
    # Keyed hash of first name and date of birth within the organisation.
    name_index: str = Field(max_length=64, index=True)

    @property
    def birth_date(self):
        return date.fromisoformat(self.birth_date_text)


class Signal(FamilyData, SQLModel, table=True):
    """What a professional noticed about a family, with what goes well and what they want."""

    # The monitor counts a year's signals from this index alone.
    __table_args__ = (Index("ix_signal_monitor", "created_at", "source", "family_id", "id"),)

    id: uuid.UUID = id_field()
    family_id: uuid.UUID = Field(foreign_key="family.id", index=True)
    created_by: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    created_at: datetime = time_field(index=True)
    urgency: str = Field(default=Urgency.normal, max_length=10)
    source: str = Field(max_length=20)
    observations_enc: str = encrypted_field()
    stress_factors_enc: str | None = encrypted_field(nullable=True)
    strengths_enc: str | None = encrypted_field(nullable=True)
    parent_wishes_enc: str | None = encrypted_field(nullable=True)
    child_wishes_enc: str | None = encrypted_field(nullable=True)


class SignalDomain(SQLModel, table=True):
    __tablename__ = "signal_domain"

    signal_id: uuid.UUID = Field(foreign_key="signal.id", primary_key=True)
    domain_code: str = Field(foreign_key="need_domain.code", primary_key=True, max_length=40)


class ConsentMethod(enum.StrEnum):
    spoken = "spoken"
    written = "written"
    digital = "digital"


METHOD_LABELS = {ConsentMethod.spoken: _l("spoken"), ConsentMethod.written: _l("written"),
                 ConsentMethod.digital: _l("digital")}


class Consent(FamilyData, SQLModel, table=True):
    """Who agreed to share what with which organisation; withdrawn stops sharing at once."""

    id: uuid.UUID = id_field()
    family_id: uuid.UUID = Field(foreign_key="family.id", index=True)
    child_id: uuid.UUID | None = Field(default=None, foreign_key="child.id")
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    recorded_by: uuid.UUID = Field(foreign_key="user_account.id")
    recorded_at: datetime = time_field()
    given_on: date
    method: str = Field(max_length=10)
    parent_agreed: bool = False
    child_agreed: bool = False
    given_by_enc: str = encrypted_field()  # the names of who agreed
    scope_enc: str = encrypted_field()  # what may be shared
    withdrawn_at: datetime | None = None
    withdrawn_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")

    @property
    def active(self):
        return self.withdrawn_at is None
