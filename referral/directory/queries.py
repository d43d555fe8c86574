"""Read the directory: the search, a service or organisation with its details, the entries
that need attention, the HSDS export."""

import functools
import json
import math
from collections import namedtuple
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import bindparam, case, func, literal, literal_column, null, or_, union_all
from sqlmodel import select

from referral import audit, db, policy
from referral.directory import hsds
from referral.directory.hsds.documents import Directory
from referral.directory.models import (
    Address,
    AddressType,
    Capacity,
    DirectoryVersion,
    HsdsRecord,
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
    fold,
)

PAGE_SIZE = 20
STALE_AFTER = timedelta(days=365)
MAX_WORDS = 8


def _like(word):
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def is_stale(service, today=None):
    today = today or date.today()
    return service.assured_date is None or service.assured_date < today - STALE_AFTER


@dataclass(frozen=True)
class NeedDomainLabels:
    code: str
    label_nl: str
    label_en: str


def need_domains():
    """The need domains, in their order: reference data, the same for everyone and changed
    only by a migration (a deploy, which restarts the workers), so read once per worker
    process rather than on every page that shows them."""
    kept = current_app.extensions.get("referral.need_domains")
    if kept is None:
        kept = current_app.extensions["referral.need_domains"] = tuple(
            NeedDomainLabels(d.code, d.label_nl, d.label_en) for d in db.session().exec(
                select(NeedDomain).order_by(NeedDomain.position)))
    return kept


IDS = bindparam("ids", expanding=True)


@db.prepared
def _municipalities():
    return (select(ServiceArea.municipality_code, ServiceArea.municipality_name)
            .where(ServiceArea.municipality_code.is_not(None)).distinct()
            .order_by(ServiceArea.municipality_name))


def municipalities():
    """Every municipality some service is offered in: (code, name), by name."""
    return [(code, name) for code, name in db.session().exec(_municipalities())]


@db.prepared
def _municipality_names():
    return (select(ServiceArea.municipality_code, ServiceArea.municipality_name)
            .where(ServiceArea.municipality_code.in_(IDS)).distinct())


def municipality_name_of(code):
    """A column: the name of the municipality with the code a row holds (None where no
    service area names it), read with the row: a page of rows needs no statement of its
    own for the few names it shows."""
    return (select(ServiceArea.municipality_name)
            .where(ServiceArea.municipality_code == code).limit(1).scalar_subquery())


def municipality_names(codes):
    """{code: name} of these municipalities only (a page of rows names a few; the country
    has hundreds)."""
    codes = {code for code in codes if code}
    if not codes:
        return {}
    return dict(db.rows(_municipality_names(), {"ids": list(codes)}))


@dataclass
class Result:
    service: Service
    organisation: Organisation
    areas: list
    domains: list
    languages: list
    # Read for one service only (its page, the letter): where to go and when; for its page,
    # what its HSDS source says besides ({table: [rows]}: phone, cost_option, …).
    address: Address | None = None
    opening_hours: str | None = None
    source: dict = field(default_factory=dict)

    @property
    def stale(self):
        return is_stale(self.service)


@dataclass
class Page:
    """One page of a long list: its rows, how many there are in all, which page."""

    results: list
    total: int
    page: int
    size: int = PAGE_SIZE

    @property
    def pages(self):
        return max(1, math.ceil(self.total / self.size))


def windowed_page(query, page, size, *, params=None, key=None, keys=None, total=None):
    """One page of a query's rows, the count read with them (a window over every matching
    row, taken before the limit): one statement; past the last page, the last page. The
    rows are the query's columns, without the count. With `params`, the query is a prepared
    one (db.prepared) and so is its windowed form; without, both are built for this call.

    With `key` (a column that is unique per row, such as the first table's id), the page is
    chosen first on that column alone, and the query's other columns are read for the
    page's rows only: for lists of wide rows (whole models, encrypted values, a subquery per
    row), whose every match the database would otherwise build and sort before the limit.
    With `keys` as well (a select of the same rows in the same order, joining only the
    tables its conditions and order name), the page is chosen on that: PostgreSQL plans a
    statement of fewer tables in a fraction of the time (a list of seven tables took 4.5 ms
    to plan at national scale, each time it ran).

    With `total` (a prepared statement of one count), the count is that statement, read once
    as a subquery, instead of a window over the matches: for a list the database can page
    through an index, whose rows it then reads up to the page's end only, not every one."""
    page = max(1, page)
    windowed = (_windowed(query, key, keys, total) if params is not None
                else _window(query, key, keys, total))
    values = {**(params or {}), "page_offset": (page - 1) * size, "page_size": size}
    if params is not None and not _selects_models(query):  # columns: without the ORM
        rows = db.rows(windowed, values)
    else:
        rows = db.session().execute(windowed, values).all()  # rows, not scalars
    if not rows and page > 1:
        counted = total if total is not None else select(func.count()).select_from(
            (query if keys is None else keys).order_by(None).subquery())
        matches = db.session().exec(counted, params=params or {}).one()
        return windowed_page(query, -(-matches // size), size, params=params, key=key,
                             keys=keys, total=total)
    return Page([tuple(row[:-1]) for row in rows], rows[0][-1] if rows else 0, page, size)


def _window(query, key=None, keys=None, total=None):
    counted = func.count().over() if total is None else total.scalar_subquery()
    if key is None:
        return (query.add_columns(counted)
                .offset(bindparam("page_offset")).limit(bindparam("page_size")))
    keys = query if keys is None else keys
    if total is None:  # counted apart: a window makes SQLite keep and sort every match twice
        counted = select(func.count()).select_from(
            keys.with_only_columns(key).order_by(None).subquery()).scalar_subquery()
    chosen = (keys.with_only_columns(key.label("key"), counted.label("total"))
              .offset(bindparam("page_offset")).limit(bindparam("page_size")).subquery())
    # The same order as the query's (it keeps its ORDER BY), over the page's rows alone.
    return query.add_columns(chosen.c.total).join(chosen, chosen.c.key == key)


_windowed = db.prepared(_window)  # one per prepared query: a finite number


@functools.cache  # per prepared query, as _windowed
def _selects_models(query):
    """Whether a query reads whole models, which the ORM loads, rather than columns (read
    through the connection, as db.rows: a list page's statement costs half)."""
    return any(isinstance(column["expr"], type) for column in query.column_descriptions)


def search(*, domains=(), municipality=None, age=None, text="", everything=False, page=1):
    """Services that fit, most relevant first; the same number of queries for any page size."""
    words = fold(text).split()[:MAX_WORDS]
    params = {"domains": list(domains), "municipality": municipality, "age": age,
              **{f"word{number}": _like(word) for number, word in enumerate(words)}}
    statement = _search(bool(domains), bool(municipality), age is not None, len(words),
                        bool(everything))
    found = windowed_page(statement, page, PAGE_SIZE, params=params)
    results = _with_details(found.results)
    log_search(found.total)
    return Page(results, found.total, found.page)


def log_search(total):
    """The access-log entry of a search: how many results, never the words."""
    db.write_apart()  # the directory holds no personal data: the reads need no lock
    audit.record("search", object_type="directory", summary=f"directory search, {total} results")


def version():
    """The directory's current token (see DirectoryVersion); None if its row is missing."""
    return db.scalar(_version())


@db.prepared
def _version():
    return select(DirectoryVersion.token).where(DirectoryVersion.id == 1)


@db.prepared
def _search(domains, municipality, age, words, everything):
    """The search's statement for the filters given and the number of words (at most 144
    combinations, each built once): the values are bind parameters."""
    conditions = []
    if not everything:
        conditions += [Service.status == ServiceStatus.active,
                       or_(Service.capacity.is_(None), Service.capacity != Capacity.closed),
                       Organisation.active]
    codes = bindparam("domains", expanding=True)
    if domains:
        conditions.append(Service.id.in_(select(ServiceDomain.service_id).where(
            ServiceDomain.domain_code.in_(codes))))
    if municipality:
        conditions.append(Service.id.in_(select(ServiceArea.service_id).where(
            ServiceArea.municipality_code == bindparam("municipality"))))
    if age:
        years = bindparam("age")
        conditions += [or_(Service.minimum_age.is_(None), Service.minimum_age <= years),
                       or_(Service.maximum_age.is_(None), Service.maximum_age >= years)]
    score = literal(0)
    for number in range(words):
        pattern = bindparam(f"word{number}")
        conditions.append(Service.search_text.like(pattern, escape="\\"))
        score = score + case((Service.search_name.like(pattern, escape="\\"), 3), else_=1)
    if domains:
        matched = (select(func.count()).select_from(ServiceDomain)
                   .where(ServiceDomain.service_id == Service.id,
                          ServiceDomain.domain_code.in_(codes))
                   .correlate(Service).scalar_subquery())
        score = score + matched
    open_first = case((Service.capacity == Capacity.open, 0), else_=1)
    return (select(Service, Organisation).join(Organisation).where(*conditions)
            .order_by(score.desc(), open_first, Service.name, Service.id))


Area = namedtuple("Area", "municipality_code municipality_name")
Language = namedtuple("Language", "code")


@db.prepared
def _details():
    """The areas, need domains and languages of services, in one statement: rows of (kind,
    service, code, name), each kind in its order (areas by name, the others by code). Rows
    of the columns shown, not ORM objects (which cost twice as much to load)."""
    def part(kind, service_id, code, name, order):
        return select(literal_column(f"'{kind}'").label("kind"), service_id.label("service"),
                      code.label("code"), name.label("name"), order.label("ord")) \
            .where(service_id.in_(IDS))

    return union_all(
        part("area", ServiceArea.service_id, ServiceArea.municipality_code,
             ServiceArea.municipality_name, ServiceArea.municipality_name),
        part("domain", ServiceDomain.service_id, ServiceDomain.domain_code,
             null(), ServiceDomain.domain_code),
        part("language", ServiceLanguage.service_id, ServiceLanguage.code, null(),
             ServiceLanguage.code),
    ).order_by(literal_column("kind"), literal_column("ord"))


def _with_details(rows):
    """Attach areas (municipality_code, municipality_name), domains (codes) and languages
    (code) to (service, organisation) rows: one statement."""
    ids = [service.id for service, _ in rows]
    found = {"area": {}, "domain": {}, "language": {}}
    if ids:
        for kind, service_id, code, name, _order in db.session().execute(_details(),
                                                                          {"ids": ids}):
            value = (Area(code, name) if kind == "area" else
                     Language(code) if kind == "language" else code)
            found[kind].setdefault(service_id, []).append(value)
    return [Result(service, organisation, found["area"].get(service.id, []),
                   found["domain"].get(service.id, []), found["language"].get(service.id, []))
            for service, organisation in rows]


SERVICE = bindparam("service")


@db.prepared
def _service():
    return (select(Service, Organisation).join(Organisation).where(Service.id == SERVICE),
            select(Schedule.description).where(Schedule.service_id == SERVICE))


def get_service(service_id):
    """The service with its details, its address and opening hours, or None."""
    of_service, of_schedule = _service()
    row = db.session().exec(of_service, params={"service": service_id}).first()
    if row is None:
        return None
    result = _with_details([row])[0]
    result.address = address_of(service_id)
    result.opening_hours = db.session().exec(of_schedule, params={"service": service_id}
                                             ).first()
    return result


SOURCE_TABLES = ("phone", "cost_option", "required_document", "contact")


def source_details(service_id):
    """What an imported service's HSDS source says that the tool keeps but does not model:
    every phone, cost options, documents to bring, contacts; {table: [rows]}."""
    details = {}
    for record in db.session().exec(_source_records(), params={"service": service_id}):
        details.setdefault(record.table_name, []).append(json.loads(record.fields))
    return details


@db.prepared
def _source_records():
    return (select(HsdsRecord)
            .where(HsdsRecord.service_id == SERVICE, HsdsRecord.table_name.in_(SOURCE_TABLES))
            .order_by(HsdsRecord.table_name, HsdsRecord.id))


def address_of(service_id):
    """The visiting address of the service's place (HSDS: service_at_location → location →
    address), or None."""
    return db.session().exec(_address(), params={"service": service_id}).first()


@db.prepared
def _address():
    return (select(Address)
            .join(ServiceAtLocation, ServiceAtLocation.location_id == Address.location_id)
            .where(ServiceAtLocation.service_id == SERVICE,
                   Address.address_type == AddressType.physical)
            .order_by(Address.id))


def get_organisation(organisation_id):
    return db.session().get(Organisation, organisation_id)


@db.prepared
def _service_and_organisation():
    return select(Service.name, Service.referral_route, Organisation.name).join(
        Organisation, Organisation.id == bindparam("organisation_id")).where(
        Service.id == bindparam("service_id"))


@dataclass
class Named:
    """What a referral's page shows of its service or its organisation."""
    name: str
    referral_route: str | None = None


def service_and_organisation(service_id, organisation_id):
    """The name and route of a service and the name of an organisation (a referral's), in
    one statement, as values."""
    row = db.rows(*service_and_organisation_read(service_id, organisation_id))
    if not row:  # either is gone
        service, organisation = (db.session().get(Service, service_id),
                                 get_organisation(organisation_id))
        return (service and Named(service.name, service.referral_route),
                organisation and Named(organisation.name))
    service, route, organisation = row[0]
    return Named(service, route), Named(organisation)


def service_and_organisation_read(service_id, organisation_id):
    """The statement and values of service_and_organisation (for db.ahead)."""
    return _service_and_organisation(), {"service_id": service_id,
                                         "organisation_id": organisation_id}


def organisation_named(name):
    return db.session().exec(select(Organisation).where(Organisation.name == name)).first()


def organisations():
    return db.session().exec(select(Organisation).order_by(Organisation.name)).all()


def organisation_names(ids):
    """{id: name} of these organisations only (a country has thousands)."""
    return dict(db.rows(_organisation_names(), {"ids": list(set(ids))}))


@db.prepared
def _organisation_names():
    return select(Organisation.id, Organisation.name).where(Organisation.id.in_(IDS))


def services_of(organisation_id):
    rows = db.session().exec(select(Service, Organisation).join(Organisation)
                             .where(Service.organisation_id == organisation_id)
                             .order_by(Service.name)).all()
    return _with_details(rows)


def needing_attention(today=None):
    """Active services that are stale, have no area, or no way to reach them."""
    today = today or date.today()
    no_area = ~Service.id.in_(select(ServiceArea.service_id))
    no_contact = or_(Service.referral_route.is_(None),
                     Service.referral_route != ReferralRoute.inbox) & Service.phone.is_(None) \
        & Service.email.is_(None) & Service.url.is_(None)
    stale = Service.assured_date.is_(None) | (Service.assured_date < today - STALE_AFTER)
    rows = db.session().exec(
        select(Service, Organisation, stale, no_area, no_contact).join(Organisation)
        .where(Service.status != ServiceStatus.defunct, stale | no_area | no_contact)
        .order_by(Organisation.name, Service.name)).all()
    return [(service, organisation, {"stale": bool(s), "no_area": bool(a),
                                     "no_contact": bool(c)})
            for service, organisation, s, a, c in rows]


def hsds_export(user):
    """The directory as the files of an HSDS 3.0 tabular package ({name: bytes}), for those
    who manage it; the export is in the access log."""
    policy.require(user, "directory.manage")
    files = hsds.package_files(hsds.export_tables())
    audit.record("export", object_type="directory", user=user, summary="HSDS export")
    return files


def hsds_public():
    """The directory as HSDS objects for the public API: the active services of active
    organisations and what they link to; no contacts and no change notes (those may name
    a person). Returns (Directory, {service id: folded search text})."""
    session = db.session()
    shown = {str(service_id): text for service_id, text in session.exec(
        select(Service.id, Service.search_text).join(Organisation).where(
            Service.status == ServiceStatus.active, Organisation.active))}
    active = {str(org_id) for org_id in session.exec(
        select(Organisation.id).where(Organisation.active))}
    directory = Directory(hsds.export_tables())
    directory.rows["service"] = {k: v for k, v in directory.rows["service"].items()
                                 if k in shown}
    directory.rows["organization"] = {k: v for k, v in directory.rows["organization"].items()
                                      if k in active}
    directory.rows["service_at_location"] = {
        k: v for k, v in directory.rows["service_at_location"].items()
        if (v.get("service_id") or "").lower() in shown}
    for table in ("contact", "metadata"):
        directory.rows[table] = {}
    directory.index()
    return directory, shown
