"""Keep the directory: one function per change. Each asks the policy itself, checks the
entry, flushes and writes its audit entry; the caller commits.

The row builders `new_organisation`, `new_service` and `new_service_links` make those rows
the one way, without adding them: the operations use them, and so can the generator of
scaled demo data."""

import re
from datetime import date

from sqlalchemy import update
from sqlmodel import SQLModel, select

from referral import audit, db, policy
from referral.directory import hsds, queries
from referral.directory.models import (
    Address,
    AddressType,
    Capacity,
    Location,
    NeedDomain,
    Organisation,
    ReferralRoute,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
    ServiceDomain,
    ServiceLanguage,
    ServiceStatus,
    ServiceTerm,
    refresh_search_text,
)
from referral.errors import Refused
from referral.i18n import lazy_gettext as _l
from referral.monitor.models import Pledge, PledgeActivity

# The columns a person may set besides the name (and, for a service, the description).
ORGANISATION_FIELDS = {"alternate_name", "description", "email", "website", "phone"}
SERVICE_FIELDS = {"alternate_name", "url", "email", "phone", "status", "application_process",
                  "fees_description", "eligibility_description", "minimum_age", "maximum_age",
                  "assured_date", "income_limit_percent", "referral_route",
                  "professional_applies", "capacity", "waiting_weeks"}
CHOICES = {"status": set(ServiceStatus), "capacity": set(Capacity),
           "referral_route": set(ReferralRoute)}
AREA_CODE = re.compile(r"GM\d{4}")
ADDRESS_FIELDS = {"address_1": 200, "postal_code": 10, "city": 120, "state_province": 100}
OPENING_HOURS_LIMIT = 500
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")


def _only(fields, allowed):
    unknown = set(fields) - allowed
    if unknown:  # a programming error, not the user's
        raise TypeError(f"not a field one may set: {', '.join(sorted(unknown))}")


# ---- row builders ------------------------------------------------------------------------

def new_organisation(*, name, created_at=None, id=None, **fields):
    """An organisation of the directory, not yet added."""
    return Organisation(**db.given(id=id, created_at=created_at, last_modified=created_at),
                        name=name, **fields)


def new_service(organisation, *, name, description, id=None, **fields):
    """A service of the organisation with its search text filled in, not yet added."""
    service = Service(**db.given(id=id), organisation_id=organisation.id, name=name,
                      description=description, **fields)
    refresh_search_text(service, organisation)
    return service


def new_service_links(service_id, *, domains, areas, languages):
    """A service's need domains, areas (code, name) and language codes, not yet added."""
    return [*(ServiceDomain(service_id=service_id, domain_code=code)
              for code in sorted(set(domains))),
            *(ServiceArea(service_id=service_id, municipality_code=code,
                          municipality_name=area_name)
              for code, area_name in dict(areas).items()),
            *(ServiceLanguage(service_id=service_id, code=code)
              for code in sorted(set(languages)))]


# ---- organisations -----------------------------------------------------------------------

def _check_organisation(organisation_id, name):
    if not (name or "").strip():
        raise Refused(_l("Enter a name."), "name")
    taken = queries.organisation_named(name)
    if taken is not None and taken.id != organisation_id:
        raise Refused(_l("There is already an organisation with this name."), "name")


def _store_organisation(user, organisation, *, created):
    organisation.last_modified = db.utcnow()
    db.session().add(organisation)
    db.session().flush()
    for result in queries.services_of(organisation.id):  # the organisation's name is searchable
        refresh_search_text(result.service, organisation)
    audit.record("create" if created else "update", object_type="organisation",
                 object_id=organisation.id, user=user,
                 summary="organisation created" if created else "organisation changed")
    return organisation


def create_organisation(user, *, name, organisation_id=None, **fields):
    """Add an organisation to the directory (its id may be given: an HSDS or demo id)."""
    policy.require(user, "directory.manage", object_type="organisation")
    _only(fields, ORGANISATION_FIELDS)
    _check_organisation(None, name)
    organisation = new_organisation(name=name, id=organisation_id, **fields)
    return _store_organisation(user, organisation, created=True)


def edit_organisation(user, organisation, *, name, **fields):
    policy.require(user, "directory.manage", object_type="organisation",
                   object_id=organisation.id)
    _only(fields, ORGANISATION_FIELDS)
    _check_organisation(organisation.id, name)
    organisation.name = name
    for key, value in fields.items():
        setattr(organisation, key, value)
    return _store_organisation(user, organisation, created=False)


def deactivate_organisation(user, organisation):
    """Take an organisation and its services out of the search; nothing is deleted."""
    policy.require(user, "directory.manage", object_type="organisation",
                   object_id=organisation.id)
    organisation.active = False
    for result in queries.services_of(organisation.id):
        result.service.status = ServiceStatus.inactive
        db.session().add(result.service)
    _store_organisation(user, organisation, created=False)


def merge_organisations(user, duplicate, *, into):
    """Move everything of the duplicate to `into` (services, accounts, families, consents,
    referrals, feedback, its pledge), then remove the duplicate."""
    policy.require(user, "directory.manage", object_type="organisation",
                   object_id=duplicate.id)
    if into.id == duplicate.id:
        raise Refused(_l("Choose another organisation to merge into."), "into")
    session = db.session()
    for result in queries.services_of(duplicate.id):
        result.service.organisation_id = into.id
        refresh_search_text(result.service, into)
        session.add(result.service)
    session.flush()
    theirs = session.exec(select(Pledge).where(Pledge.organisation_id == duplicate.id)).first()
    ours = session.exec(select(Pledge).where(Pledge.organisation_id == into.id)).first()
    if theirs and ours:  # one pledge per organisation: the activities join ours
        session.exec(update(PledgeActivity).where(PledgeActivity.pledge_id == theirs.id)
                     .values(pledge_id=ours.id))
        session.delete(theirs)
        session.flush()
    # Every other row that points at the duplicate now points at `into`.
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column.table.name == "organisation" for fk in column.foreign_keys):
                session.exec(update(table).where(column == duplicate.id)
                             .values({column.name: into.id}))
    session.flush()
    session.delete(duplicate)
    session.flush()
    audit.record("delete", object_type="organisation", object_id=duplicate.id, user=user,
                 summary=f"organisation merged into {into.id}")


# ---- services ----------------------------------------------------------------------------

def _check_service(name, description, domains, areas, languages, fields):
    if not (name or "").strip():
        raise Refused(_l("Enter a name."), "name")
    if not (description or "").strip():
        raise Refused(_l("Describe what the service offers."), "description")
    known = set(db.session().exec(select(NeedDomain.code)).all())
    if not domains or not set(domains) <= known:
        raise Refused(_l("Choose at least one need domain."), "domains")
    for key, allowed in CHOICES.items():
        if key in fields and fields[key] not in allowed:
            raise Refused(_l("Choose one of the listed options."), key)
    low, high = fields.get("minimum_age"), fields.get("maximum_age")
    if low is not None and high is not None and high < low:
        raise Refused(_l("The upper age is below the lower age."), "maximum_age")
    if any(not AREA_CODE.fullmatch(code or "") or not (area_name or "").strip()
           for code, area_name in areas):
        raise Refused(_l("Write each municipality as its CBS code and its name, like "
                         "GM0363 Amsterdam."), "areas")
    if any(not LANGUAGE_CODE.fullmatch(code) for code in languages):
        raise Refused(_l("Write language codes like nl, en, ar."), "languages")


def _check_place(address, opening_hours):
    """The visiting address (street and number, postcode, place: all or none) and the
    opening hours in words."""
    address = {key: (value or "").strip() for key, value in (address or {}).items()}
    if set(address) - set(ADDRESS_FIELDS):
        raise TypeError("not an address field")
    for key, limit in ADDRESS_FIELDS.items():
        if len(address.get(key, "")) > limit:
            raise Refused(_l("Write at most %(num)d characters.", num=limit), key)
    if any(address.values()) and not (address.get("address_1") and address.get("city")):
        raise Refused(_l("Write the street and number and the place, or leave the address "
                         "empty."), "address_1" if not address.get("address_1") else "city")
    if any(address.values()) and not address.get("state_province"):
        # HSDS requires it, so that the address means the same in another directory.
        raise Refused(_l("Write the province too."), "state_province")
    if len((opening_hours or "").strip()) > OPENING_HOURS_LIMIT:
        raise Refused(_l("Write at most %(num)d characters.", num=OPENING_HOURS_LIMIT),
                      "opening_hours")


def _store_place(service, organisation, *, address, opening_hours):
    """Keep the service's one place (an HSDS location with its physical address) and its
    opening hours (an HSDS schedule) as given; empty removes them."""
    session = db.session()
    address = {key: (value or "").strip() or None for key, value in (address or {}).items()}
    link = session.exec(select(ServiceAtLocation)
                        .where(ServiceAtLocation.service_id == service.id)).first()
    if address.get("address_1"):
        if link is None:
            location = Location(organisation_id=organisation.id)
            link = ServiceAtLocation(service_id=service.id, location_id=location.id)
            session.add(location)
            session.flush()
            session.add(link)
        place = queries.address_of(service.id) or Address(
            location_id=link.location_id, address_1="", city="",
            address_type=AddressType.physical)
        for key, value in address.items():
            setattr(place, key, value)
        session.add(place)
    elif link is not None:  # no longer at that place; the place goes when nothing else is
        session.delete(link)
        session.flush()
        if session.exec(select(ServiceAtLocation.id).where(
                ServiceAtLocation.location_id == link.location_id)).first() is None:
            for row in session.exec(select(Address).where(
                    Address.location_id == link.location_id)):
                session.delete(row)
            session.flush()
            session.delete(session.get(Location, link.location_id))
    schedule = session.exec(select(Schedule).where(Schedule.service_id == service.id)).first()
    hours = (opening_hours or "").strip()
    if hours:
        schedule = schedule or Schedule(service_id=service.id, description="")
        schedule.description = hours
        session.add(schedule)
    elif schedule is not None:
        session.delete(schedule)
    session.flush()


def _store_service(user, service, organisation, *, domains, areas, languages, created,
                   address=None, opening_hours=None):
    """Store a service with its domains, areas (code, name), language codes and, where given,
    its place and opening hours."""
    session = db.session()
    service.organisation_id = organisation.id
    service.last_modified = db.utcnow()
    refresh_search_text(service, organisation)
    session.add(service)
    session.flush()
    for model in (ServiceDomain, ServiceArea, ServiceLanguage):
        for row in session.exec(select(model).where(model.service_id == service.id)):
            session.delete(row)
    session.flush()
    session.add_all(new_service_links(service.id, domains=domains, areas=areas,
                                      languages=languages))
    session.flush()
    if address is not None or opening_hours is not None:
        _store_place(service, organisation, address=address, opening_hours=opening_hours)
    audit.record("create" if created else "update", object_type="service",
                 object_id=service.id, user=user,
                 summary="service created" if created else "service changed")
    return service


def create_service(user, organisation, *, name, description, domains, areas=(), languages=(),
                   service_id=None, address=None, opening_hours=None, **fields):
    """Add a service to an organisation: coordinators to any, a partner to their own. The
    address is a dict of ADDRESS_FIELDS; the opening hours are words."""
    policy.require(user, "service.edit", Service(organisation_id=organisation.id, name=""),
                   object_type="organisation", object_id=organisation.id)
    _only(fields, SERVICE_FIELDS)
    _check_service(name, description, domains, areas, languages, fields)
    _check_place(address, opening_hours)
    service = new_service(organisation, name=name, description=description, id=service_id,
                          **fields)
    return _store_service(user, service, organisation, domains=domains, areas=areas,
                          languages=languages, created=True, address=address,
                          opening_hours=opening_hours)


def edit_service(user, service, *, name, description, domains, areas=(), languages=(),
                 address=None, opening_hours=None, **fields):
    """Change a service's entry, its need domains, areas and languages, and (when given) its
    address and opening hours."""
    policy.require(user, "service.edit", service, object_type="service", object_id=service.id)
    _only(fields, SERVICE_FIELDS)
    _check_service(name, description, domains, areas, languages, fields)
    _check_place(address, opening_hours)
    service.name, service.description = name, description
    for key, value in fields.items():
        setattr(service, key, value)
    organisation = db.session().get(Organisation, service.organisation_id)
    return _store_service(user, service, organisation, domains=domains, areas=areas,
                          languages=languages, created=False, address=address,
                          opening_hours=opening_hours)


def assure_service(user, service):
    """Confirm that the entry is still correct: it counts as checked today."""
    policy.require(user, "service.edit", service, object_type="service", object_id=service.id)
    service.assured_date = date.today()
    db.session().add(service)
    db.session().flush()
    audit.record("update", object_type="service", object_id=service.id, user=user,
                 summary="service confirmed still correct")


# ---- the HSDS exchange -------------------------------------------------------------------

def import_hsds(user, path, *, progress=None):
    """Import an HSDS 3.0 source (a folder or zip of CSVs, a JSON form, or an HSDS API's
    address), upserting by HSDS id; raises HsdsError (a Refused) and writes nothing when it
    is malformed."""
    policy.require(user, "directory.manage", object_type="directory")
    report = hsds.Report()
    hsds.apply(hsds.check(hsds.read_source(path, progress=progress), report), report,
               user=user)
    return report


def map_term(user, term, *, domain):
    """Treat an imported taxonomy term as a need domain: its services get that domain."""
    policy.require(user, "directory.manage", object_type="taxonomy_term", object_id=term.id)
    session = db.session()
    if session.get(NeedDomain, domain) is None:
        raise Refused(_l("Choose one of the listed options."), "domain")
    term.need_domain_code = domain
    session.add(term)
    linked = session.exec(select(ServiceTerm.service_id).where(ServiceTerm.term_id == term.id))
    for service_id in linked.all():
        if session.get(ServiceDomain, (service_id, domain)) is None:
            session.add(ServiceDomain(service_id=service_id, domain_code=domain))
    session.flush()
    audit.record("update", object_type="taxonomy_term", object_id=term.id, user=user,
                 summary=f"taxonomy term mapped to need domain {domain}")
