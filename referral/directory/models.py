"""The partner directory (sociale kaart), shaped after Open Referral HSDS 3.0.

Directory data describes organisations and their services, never families: it is plain.
"""

import enum
import unicodedata
import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from referral.db import id_field, time_field
from referral.i18n import lazy_gettext as _l


class ServiceStatus(enum.StrEnum):
    active = "active"
    inactive = "inactive"
    defunct = "defunct"
    temporarily_closed = "temporarily closed"


class Capacity(enum.StrEnum):
    open = "open"
    waiting_list = "waiting_list"
    closed = "closed"


class ReferralRoute(enum.StrEnum):
    """How a professional refers: in this tool (the partner's inbox) or outside it."""

    inbox = "inbox"
    phone = "phone"
    email = "email"
    letter = "letter"


STATUS_LABELS = {
    ServiceStatus.active: _l("active"),
    ServiceStatus.inactive: _l("inactive"),
    ServiceStatus.defunct: _l("stopped for good"),
    ServiceStatus.temporarily_closed: _l("temporarily closed"),
}
CAPACITY_LABELS = {
    Capacity.open: _l("open"),
    Capacity.waiting_list: _l("waiting list"),
    Capacity.closed: _l("closed for new referrals"),
}
NOT_KNOWN = _l("not known: ask the organisation")
ROUTE_LABELS = {
    ReferralRoute.inbox: _l("in this tool"),
    ReferralRoute.phone: _l("by phone"),
    ReferralRoute.email: _l("by email"),
    ReferralRoute.letter: _l("by letter"),
}


def fold(text):
    """Lower case without accents, control characters or extra spaces: "Café  Noël" ->
    "cafe noel". (PostgreSQL refuses a NUL byte in a query's text.)"""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(" " if unicodedata.category(c) == "Cc" else c for c in decomposed
                    if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


def refresh_search_text(service, organisation):
    """Fill the service's folded search columns from its texts and its organisation's names."""
    service.search_name = fold(f"{service.name} {service.alternate_name or ''}")[:500]
    service.search_text = fold(" ".join(filter(None, [
        service.name, service.alternate_name, service.description,
        service.eligibility_description, organisation.name, organisation.alternate_name,
    ])))[:9000]


class DirectoryVersion(SQLModel, table=True):
    """One row: a token that every write to a directory table replaces, by a trigger in the
    database itself (see the migration "directory version"), whatever wrote it. A page of
    directory data drawn once is kept under the token it was drawn at (directory.views)."""

    __tablename__ = "directory_version"

    id: int = Field(default=1, primary_key=True)
    token: int = Field(default=0, sa_type=BigInteger)


# The tables whose writes replace the directory's token: everything a search or a service
# page shows (and the HSDS rows beside them).
VERSIONED = ("need_domain", "organisation", "service", "service_area", "hsds_record",
             "service_language", "service_domain", "taxonomy_term", "service_term",
             "location", "address", "service_at_location", "schedule")


class NeedDomain(SQLModel, table=True):
    """A leefgebied: the taxonomy of needs, with stable codes."""

    __tablename__ = "need_domain"

    code: str = Field(primary_key=True, max_length=40)
    label_nl: str = Field(max_length=80)
    label_en: str = Field(max_length=80)
    position: int = 0


class Organisation(SQLModel, table=True):
    """A partner organisation of the alliance; its id is its HSDS organization id."""

    id: uuid.UUID = id_field()
    name: str = Field(max_length=200, unique=True)
    alternate_name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    email: str | None = Field(default=None, max_length=254)
    website: str | None = Field(default=None, max_length=500)
    phone: str | None = Field(default=None, max_length=100)
    active: bool = True
    created_at: datetime = time_field()
    last_modified: datetime = time_field()


class Service(SQLModel, table=True):
    """What an organisation offers; its id is its HSDS service id."""

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=200)
    alternate_name: str | None = Field(default=None, max_length=200)
    description: str = Field(default="", max_length=4000)
    url: str | None = Field(default=None, max_length=500)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=100)
    status: str = Field(default=ServiceStatus.active, max_length=20, index=True)
    application_process: str | None = Field(default=None, max_length=2000)
    fees_description: str | None = Field(default=None, max_length=1000)
    eligibility_description: str | None = Field(default=None, max_length=2000)
    minimum_age: int | None = None
    maximum_age: int | None = None
    assured_date: date | None = None
    last_modified: datetime = time_field()
    # Dutch additions that HSDS lacks.
    income_limit_percent: int | None = None  # of the social minimum (sociaal minimum)
    # None: not known (a service from another directory that did not say).
    referral_route: str | None = Field(default=ReferralRoute.phone, max_length=10)
    professional_applies: bool = False
    capacity: str | None = Field(default=Capacity.open, max_length=20, index=True)
    waiting_weeks: int | None = None
    # Folded to lower case without accents, so "cafe" finds "café" with a plain LIKE on
    # SQLite and PostgreSQL alike: the names (for relevance) and everything searchable.
    search_name: str = Field(default="", max_length=500)
    search_text: str = Field(default="", max_length=9000)


class ServiceArea(SQLModel, table=True):
    """A municipality where a service is offered, by CBS code (GM0363) and name."""

    __tablename__ = "service_area"
    __table_args__ = (UniqueConstraint("service_id", "municipality_code"),
                      # The search form's list of municipalities, read from the index alone.
                      Index("ix_service_area_municipalities", "municipality_name",
                            "municipality_code"))

    id: uuid.UUID = id_field()
    service_id: uuid.UUID = Field(foreign_key="service.id", index=True)
    municipality_code: str | None = Field(default=None, max_length=6, index=True)
    municipality_name: str = Field(max_length=500)


class HsdsRecord(SQLModel, table=True):
    """One row of an imported HSDS table, every field as the source wrote it (text, as in
    the tabular form), so that an export gives back what came in. `used`: the tool made a
    record of its own from it, whose values an export writes over these."""

    __tablename__ = "hsds_record"

    table_name: str = Field(primary_key=True, max_length=40)
    id: uuid.UUID = Field(primary_key=True)
    fields: str = Field(sa_type=Text)  # a JSON object: field -> text
    used: bool = False
    # The service the row belongs to (its service_id), so its page finds it in one step.
    service_id: uuid.UUID | None = Field(default=None, index=True)


class ServiceLanguage(SQLModel, table=True):
    __tablename__ = "service_language"

    id: uuid.UUID = id_field()
    service_id: uuid.UUID = Field(foreign_key="service.id", index=True)
    code: str = Field(max_length=10)  # ISO 639 code, as HSDS has it
    name: str | None = Field(default=None, max_length=80)


class ServiceDomain(SQLModel, table=True):
    """Which need domains a service helps with."""

    __tablename__ = "service_domain"

    service_id: uuid.UUID = Field(foreign_key="service.id", primary_key=True)
    domain_code: str = Field(foreign_key="need_domain.code", primary_key=True, max_length=40)


class TaxonomyTerm(SQLModel, table=True):
    """An HSDS taxonomy term from an import, kept as it came, and mapped to a need domain."""

    __tablename__ = "taxonomy_term"

    id: uuid.UUID = id_field()
    code: str | None = Field(default=None, max_length=100)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    taxonomy: str | None = Field(default=None, max_length=200)
    need_domain_code: str | None = Field(default=None, foreign_key="need_domain.code",
                                         max_length=40)


class ServiceTerm(SQLModel, table=True):
    """An HSDS attribute linking a service to a taxonomy term."""

    __tablename__ = "service_term"

    service_id: uuid.UUID = Field(foreign_key="service.id", primary_key=True)
    term_id: uuid.UUID = Field(foreign_key="taxonomy_term.id", primary_key=True)


# Where and when: HSDS 3.0's location, address, service_at_location and schedule, in the
# subset the directory needs today (one visiting address and opening hours per service). A
# location belongs to an organisation and may serve several services, as in HSDS.

class Location(SQLModel, table=True):
    """An HSDS location: a place where an organisation offers its services."""

    id: uuid.UUID = id_field()
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    name: str | None = Field(default=None, max_length=200)


class AddressType(enum.StrEnum):
    physical = "physical"
    postal = "postal"


class Address(SQLModel, table=True):
    """An HSDS address of a location: where to go (physical) or where to write (postal)."""

    id: uuid.UUID = id_field()
    location_id: uuid.UUID = Field(foreign_key="location.id", index=True)
    address_1: str = Field(max_length=200)  # street and number
    city: str = Field(max_length=120)
    postal_code: str | None = Field(default=None, max_length=10)
    state_province: str | None = Field(default=None, max_length=100)  # HSDS requires it
    country: str = Field(default="NL", max_length=2)  # ISO 3166-1 alpha-2, as HSDS has it
    address_type: str = Field(default=AddressType.physical, max_length=10)


class ServiceAtLocation(SQLModel, table=True):
    """An HSDS service_at_location: this service is offered at this location."""

    __tablename__ = "service_at_location"
    __table_args__ = (UniqueConstraint("service_id", "location_id"),)

    id: uuid.UUID = id_field()
    service_id: uuid.UUID = Field(foreign_key="service.id", index=True)
    location_id: uuid.UUID = Field(foreign_key="location.id", index=True)


class Schedule(SQLModel, table=True):
    """An HSDS schedule of a service (or of a location): for now only its description in
    words ("Monday to Friday 9:00 to 17:00"); HSDS's recurrence fields can follow."""

    id: uuid.UUID = id_field()
    service_id: uuid.UUID | None = Field(default=None, foreign_key="service.id", index=True)
    location_id: uuid.UUID | None = Field(default=None, foreign_key="location.id", index=True)
    description: str = Field(max_length=500)
