"""Search and keep the directory: services flush and audit; the request commits."""

import math
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import case, func, literal, or_, update
from sqlmodel import SQLModel, select

from referral import audit, db
from referral.directory.models import (
    Capacity,
    NeedDomain,
    Organisation,
    ReferralRoute,
    Service,
    ServiceArea,
    ServiceDomain,
    ServiceLanguage,
    ServiceStatus,
)
from referral.monitor.models import Pledge, PledgeActivity

PAGE_SIZE = 20
STALE_AFTER = timedelta(days=365)
MAX_WORDS = 8


def fold(text):
    """Lower case without accents, control characters or extra spaces: "Café  Noël" ->
    "cafe noel". (PostgreSQL refuses a NUL byte in a query's text.)"""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(" " if unicodedata.category(c) == "Cc" else c for c in decomposed
                    if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


def _like(word):
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def refresh_search_text(service, organisation):
    service.search_name = fold(f"{service.name} {service.alternate_name or ''}")[:500]
    service.search_text = fold(" ".join(filter(None, [
        service.name, service.alternate_name, service.description,
        service.eligibility_description, organisation.name, organisation.alternate_name,
    ])))[:9000]


def is_stale(service, today=None):
    today = today or date.today()
    return service.assured_date is None or service.assured_date < today - STALE_AFTER


def need_domains():
    return db.session().exec(select(NeedDomain).order_by(NeedDomain.position)).all()


def municipalities():
    """Every municipality some service is offered in: (code, name), by name."""
    rows = db.session().exec(
        select(ServiceArea.municipality_code, ServiceArea.municipality_name)
        .where(ServiceArea.municipality_code.is_not(None)).distinct()
        .order_by(ServiceArea.municipality_name)).all()
    return [(code, name) for code, name in rows]


@dataclass
class Result:
    service: Service
    organisation: Organisation
    areas: list
    domains: list
    languages: list

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


def search(*, domains=(), municipality=None, age=None, text="", everything=False, page=1):
    """Services that fit, most relevant first; the same number of queries for any page size."""
    session = db.session()
    conditions = []
    if not everything:
        conditions += [Service.status == ServiceStatus.active,
                       Service.capacity != Capacity.closed, Organisation.active]
    if domains:
        conditions.append(Service.id.in_(select(ServiceDomain.service_id).where(
            ServiceDomain.domain_code.in_(list(domains)))))
    if municipality:
        conditions.append(Service.id.in_(select(ServiceArea.service_id).where(
            ServiceArea.municipality_code == municipality)))
    if age is not None:
        conditions += [or_(Service.minimum_age.is_(None), Service.minimum_age <= age),
                       or_(Service.maximum_age.is_(None), Service.maximum_age >= age)]
    score = literal(0)
    for word in fold(text).split()[:MAX_WORDS]:
        conditions.append(Service.search_text.like(_like(word), escape="\\"))
        score = score + case((Service.search_name.like(_like(word), escape="\\"), 3), else_=1)
    if domains:
        matched = (select(func.count()).select_from(ServiceDomain)
                   .where(ServiceDomain.service_id == Service.id,
                          ServiceDomain.domain_code.in_(list(domains)))
                   .correlate(Service).scalar_subquery())
        score = score + matched
    base = select(Service.id).join(Organisation).where(*conditions)
    total = session.exec(select(func.count()).select_from(base.subquery())).one()
    page = min(max(1, page), max(1, math.ceil(total / PAGE_SIZE)))
    open_first = case((Service.capacity == Capacity.open, 0), else_=1)
    rows = session.exec(
        select(Service, Organisation).join(Organisation).where(*conditions)
        .order_by(score.desc(), open_first, Service.name, Service.id)
        .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    audit.record("search", object_type="directory",
                 summary=f"directory search, {total} results")
    return Page(_with_details(rows), total, page)


def _with_details(rows):
    """Attach areas, domains and languages to (service, organisation) rows: three queries."""
    ids = [service.id for service, _ in rows]
    session = db.session()
    areas, domains, languages = {}, {}, {}
    if ids:
        for area in session.exec(select(ServiceArea).where(ServiceArea.service_id.in_(ids))
                                 .order_by(ServiceArea.municipality_name)):
            areas.setdefault(area.service_id, []).append(area)
        for link in session.exec(select(ServiceDomain).where(ServiceDomain.service_id.in_(ids))
                                 .order_by(ServiceDomain.domain_code)):
            domains.setdefault(link.service_id, []).append(link.domain_code)
        for language in session.exec(select(ServiceLanguage)
                                     .where(ServiceLanguage.service_id.in_(ids))
                                     .order_by(ServiceLanguage.code)):
            languages.setdefault(language.service_id, []).append(language)
    return [Result(service, organisation, areas.get(service.id, []),
                   domains.get(service.id, []), languages.get(service.id, []))
            for service, organisation in rows]


def get_service(service_id):
    """The service with its details, or None."""
    row = db.session().exec(select(Service, Organisation).join(Organisation)
                            .where(Service.id == service_id)).first()
    return _with_details([row])[0] if row else None


def get_organisation(organisation_id):
    return db.session().get(Organisation, organisation_id)


def organisation_named(name):
    return db.session().exec(select(Organisation).where(Organisation.name == name)).first()


def organisations():
    return db.session().exec(select(Organisation).order_by(Organisation.name)).all()


def organisation_names(ids):
    """{id: name} of these organisations only (a country has thousands)."""
    return dict(db.session().exec(select(Organisation.id, Organisation.name).where(
        Organisation.id.in_(set(ids)))).all())


def services_of(organisation_id):
    rows = db.session().exec(select(Service, Organisation).join(Organisation)
                             .where(Service.organisation_id == organisation_id)
                             .order_by(Service.name)).all()
    return _with_details(rows)


def assure(service, *, user):
    """The partner confirms the entry is still correct."""
    service.assured_date = date.today()
    db.session().add(service)
    audit.record("update", object_type="service", object_id=service.id, user=user,
                 summary="service confirmed still correct")


def save_service(service, organisation, *, domains, areas, languages, user, created=False):
    """Store a service with its domains, areas (code, name) and language codes."""
    session = db.session()
    service.organisation_id = organisation.id
    service.last_modified = db.utcnow()
    refresh_search_text(service, organisation)
    session.add(service)
    session.flush()
    _replace_links(service.id, domains, areas, languages)
    audit.record("create" if created else "update", object_type="service",
                 object_id=service.id, user=user,
                 summary="service created" if created else "service changed")
    return service


def _replace_links(service_id, domains, areas, languages):
    session = db.session()
    for model in (ServiceDomain, ServiceArea, ServiceLanguage):
        for row in session.exec(select(model).where(model.service_id == service_id)):
            session.delete(row)
    session.flush()
    session.add_all(ServiceDomain(service_id=service_id, domain_code=code) for code in domains)
    session.add_all(ServiceArea(service_id=service_id, municipality_code=code,
                                municipality_name=name) for code, name in areas)
    session.add_all(ServiceLanguage(service_id=service_id, code=code) for code in languages)
    session.flush()


def save_organisation(organisation, *, user, created=False):
    organisation.last_modified = db.utcnow()
    db.session().add(organisation)
    db.session().flush()
    for result in services_of(organisation.id):  # the organisation's name is searchable
        refresh_search_text(result.service, organisation)
    audit.record("create" if created else "update", object_type="organisation",
                 object_id=organisation.id, user=user,
                 summary="organisation created" if created else "organisation changed")
    return organisation


def deactivate_organisation(organisation, *, user):
    """Take an organisation and its services out of the search; nothing is deleted."""
    organisation.active = False
    for result in services_of(organisation.id):
        result.service.status = ServiceStatus.inactive
        db.session().add(result.service)
    save_organisation(organisation, user=user)


def merge_organisations(duplicate, into, *, user):
    """Move everything of the duplicate to `into` (services, accounts, families, consents,
    referrals, feedback, its pledge), then remove the duplicate."""
    session = db.session()
    for result in services_of(duplicate.id):
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


def needing_attention(today=None):
    """Active services that are stale, have no area, or no way to reach them."""
    today = today or date.today()
    no_area = ~Service.id.in_(select(ServiceArea.service_id))
    no_contact = (Service.referral_route != ReferralRoute.inbox) & Service.phone.is_(None) \
        & Service.email.is_(None) & Service.url.is_(None)
    stale = Service.assured_date.is_(None) | (Service.assured_date < today - STALE_AFTER)
    rows = db.session().exec(
        select(Service, Organisation, stale, no_area, no_contact).join(Organisation)
        .where(Service.status != ServiceStatus.defunct, stale | no_area | no_contact)
        .order_by(Organisation.name, Service.name)).all()
    return [(service, organisation, {"stale": bool(s), "no_area": bool(a),
                                     "no_contact": bool(c)})
            for service, organisation, s, a, c in rows]
