"""Check an HSDS source, write it to the directory, and export the directory as HSDS.

A table the tool uses has a mapping: HSDS field -> the tool's column, with how its text is
read and written. On export a field's kept text goes out unless the tool's value differs
from what that text reads as; then the tool's value goes out, written the HSDS way.
"""

import csv
import io
import json
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import null
from sqlmodel import select

from referral import audit, db
from referral.directory.hsds import spec
from referral.directory.hsds.source import HsdsError
from referral.directory.models import (
    Address,
    HsdsRecord,
    Location,
    NeedDomain,
    Organisation,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
    ServiceDomain,
    ServiceLanguage,
    ServiceTerm,
    TaxonomyTerm,
    refresh_search_text,
)

DOMAIN_TAXONOMY = "referral-need-domains"
AREA_EXTENT_TYPE = "cbs_municipality"
NAMESPACE = uuid.UUID("0b9f6f0e-8d43-4f3c-a6a2-2f7e1d9c5b10")
EXTENSION = spec.EXTENSION["name"]


# ---- how a field's text becomes the tool's value, and back ----------------------------

@dataclass(frozen=True)
class Kind:
    read: object  # text -> value (raises ValueError when the tool cannot hold it)
    write: object = str  # value -> text


def text(limit):
    def read(value):
        value = value.strip()
        if len(value) > limit:
            raise ValueError(f"longer than {limit} characters, the directory's limit")
        return value or None
    return Kind(read)


def _moment(value):
    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _write_moment(moment):
    moment = db.aware(moment).astimezone(UTC)
    millis = f".{moment.microsecond // 1000:03d}" if moment.microsecond else ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + millis + "Z"


def _years(value):
    """HSDS ages are numbers (0.5); the tool holds whole years."""
    years = float(value)
    if not 0 <= years <= 150:
        raise ValueError("not an age from 0 to 150")
    return int(years)


IDENT = Kind(uuid.UUID)
YEARS = Kind(_years)
DAY = Kind(date.fromisoformat, date.isoformat)
MOMENT = Kind(_moment, _write_moment)
INTEGER = Kind(int)
FLAG = Kind(lambda value: value == "true", lambda value: "true" if value else "false")


@dataclass(frozen=True)
class Mapping:
    model: type
    fields: dict  # HSDS field: (the tool's attribute, Kind)
    needs: tuple = ()  # fields without which the tool cannot use the row
    parents: dict = field(default_factory=dict)  # field: table the row must link to
    empty: dict = field(default_factory=dict)  # attribute: the tool's value for "not given"


MAPPINGS = {
    "organization": Mapping(Organisation, {
        "id": ("id", IDENT), "name": ("name", text(200)),
        "alternate_name": ("alternate_name", text(200)),
        "description": ("description", text(4000)), "email": ("email", text(254)),
        "website": ("website", text(500))}, needs=("name",)),
    "taxonomy_term": Mapping(TaxonomyTerm, {
        "id": ("id", IDENT), "code": ("code", text(100)), "name": ("name", text(200)),
        "description": ("description", text(2000)), "taxonomy": ("taxonomy", text(200))},
        needs=("name",)),
    "service": Mapping(Service, {
        "id": ("id", IDENT), "organization_id": ("organisation_id", IDENT),
        "name": ("name", text(200)), "alternate_name": ("alternate_name", text(200)),
        "description": ("description", text(4000)), "url": ("url", text(500)),
        "email": ("email", text(254)), "status": ("status", text(20)),
        "application_process": ("application_process", text(2000)),
        "fees_description": ("fees_description", text(1000)),
        "eligibility_description": ("eligibility_description", text(2000)),
        "minimum_age": ("minimum_age", YEARS), "maximum_age": ("maximum_age", YEARS),
        "assured_date": ("assured_date", DAY), "last_modified": ("last_modified", MOMENT)},
        needs=("name", "status", "organization_id"),
        parents={"organization_id": "organization"}, empty={"description": ""}),
    "location": Mapping(Location, {
        "id": ("id", IDENT), "organization_id": ("organisation_id", IDENT),
        "name": ("name", text(200))},
        needs=("organization_id",), parents={"organization_id": "organization"}),
    "service_at_location": Mapping(ServiceAtLocation, {
        "id": ("id", IDENT), "service_id": ("service_id", IDENT),
        "location_id": ("location_id", IDENT)},
        needs=("service_id", "location_id"),
        parents={"service_id": "service", "location_id": "location"}),
    "address": Mapping(Address, {
        "id": ("id", IDENT), "location_id": ("location_id", IDENT),
        "address_1": ("address_1", text(200)), "city": ("city", text(120)),
        "postal_code": ("postal_code", text(10)),
        "state_province": ("state_province", text(100)), "country": ("country", text(2)),
        "address_type": ("address_type", text(10))},
        needs=("location_id", "address_1", "city", "country", "address_type"),
        parents={"location_id": "location"}),
    "schedule": Mapping(Schedule, {
        "id": ("id", IDENT), "service_id": ("service_id", IDENT),
        "description": ("description", text(500))},
        needs=("service_id", "description"), parents={"service_id": "service"}),
    "service_area": Mapping(ServiceArea, {
        "id": ("id", IDENT), "service_id": ("service_id", IDENT),
        "name": ("municipality_name", text(500))},
        needs=("service_id", "name"), parents={"service_id": "service"}),
    "language": Mapping(ServiceLanguage, {
        "id": ("id", IDENT), "service_id": ("service_id", IDENT),
        "code": ("code", text(10)), "name": ("name", text(80))},
        needs=("service_id", "code"), parents={"service_id": "service"}),
    EXTENSION: Mapping(Service, {
        "service_id": ("id", IDENT),
        "income_limit_percent": ("income_limit_percent", INTEGER),
        "referral_route": ("referral_route", text(10)),
        "professional_applies": ("professional_applies", FLAG),
        "capacity": ("capacity", text(20)), "waiting_weeks": ("waiting_weeks", INTEGER)},
        needs=("service_id",), parents={"service_id": "service"}),
}
# Rows the tool holds once: a municipality per service, a place per service.
ONCE = {"service_area": ("service_id", "municipality_code"),
        "service_at_location": ("service_id", "location_id")}
ORDER = ["organization", "taxonomy_term", "service", EXTENSION, "location",
         "service_at_location", "address", "schedule", "service_area", "language"]
PER_SERVICE = {"service_area": ServiceArea, "language": ServiceLanguage}


# ---- the report ------------------------------------------------------------------------

@dataclass
class Report:
    read: Counter = field(default_factory=Counter)
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)
    notes: list = field(default_factory=list)

    def lines(self):
        yield "read: " + ", ".join(f"{n} {name}" for name, n in sorted(self.read.items()))
        for label, counts in (("created", self.created), ("updated", self.updated),
                              ("unchanged", self.unchanged)):
            yield f"{label}: " + (", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
                                  or "nothing")
        for note in self.notes:
            yield f"note: {note}"


# ---- checking --------------------------------------------------------------------------

@dataclass
class Plan:
    provided: set  # the tables the source holds
    kept: dict  # (table, id): (values, used by the tool)
    records: dict  # table: {id: the tool's values}
    phones: dict  # Service or Organisation id: the number the tool shows
    domains: dict  # service id: need domain codes
    terms: dict  # service id: taxonomy term ids


def _key(table):
    return "service_id" if table == EXTENSION else "id"


def check(source, report):
    """Check every row under the HSDS rules and the tool's limits; HsdsError on the first
    that breaks one. Returns the plan of what to write."""
    report.notes += source.notes
    kept, where = {}, {}
    for table, rows in source.rows.items():
        report.read[table] = len(rows)
        for row in rows:
            for name in spec.required(table, nested=row.nested) if table in spec.FIELDS \
                    else ["service_id"]:
                if not row.values.get(name):
                    raise HsdsError(row.where, "empty, but HSDS requires it", field=name)
            for name, value in row.values.items():
                problem = spec.problem(table, name, value)
                if problem:
                    raise HsdsError(row.where, problem, field=name)
            key = (table, uuid.UUID(row.values[_key(table)]))
            if key in kept:
                conflicts = [n for n, v in row.values.items() if kept[key].get(n, v) != v]
                if conflicts:
                    report.notes.append(f"{row.where}: the same id as {where[key]} with other "
                                        f"values ({', '.join(conflicts)}); the first is kept")
                kept[key] = {**row.values, **kept[key]}
            else:
                kept[key], where[key] = dict(row.values), row.where
    plan = Plan(set(source.rows), {key: (values, False) for key, values in kept.items()},
                {}, {}, {}, {})
    session = db.session()
    domain_codes = set(session.exec(select(NeedDomain.code)).all())
    domain_terms, held = {}, {}  # held: what the tool holds once, by its key
    for table in ORDER:
        mapping = MAPPINGS[table]
        known = {parent: set(plan.records.get(parent, ())) | set(session.exec(select(
            MAPPINGS[parent].model.id)).all()) for parent in set(mapping.parents.values())}
        records = plan.records.setdefault(table, {})
        for (kind, ident), values in kept.items():
            if kind != table:
                continue
            if table == "taxonomy_term" and values.get("taxonomy") == DOMAIN_TAXONOMY:
                if values.get("code") not in domain_codes:
                    raise HsdsError(where[kind, ident], f"unknown need domain "
                                    f"{values.get('code')!r}", field="code")
                domain_terms[ident] = values["code"]
                plan.kept[kind, ident] = (values, True)
                continue
            reasons = [f"no {name}" for name in mapping.needs if not values.get(name)]
            reasons += [f"{name} not in the directory" for name, parent
                        in mapping.parents.items()
                        if values.get(name) and uuid.UUID(values[name]) not in known[parent]]
            record = None if reasons else _read(mapping, values, reasons)
            key = (table, *(record.get(n) for n in ONCE[table])) \
                if record is not None and table in ONCE else (None,)
            if None not in key:
                twin = held.setdefault(key, ident)
                if twin != ident:
                    reasons.append(f"the same as {where[table, twin]}")
            if reasons:
                report.notes.append(f"{where[kind, ident]}: kept, not used by the directory ("
                                    + "; ".join(reasons) + ")")
                continue
            records[ident] = record
            plan.kept[kind, ident] = (values, True)
    _check_names(plan.records["organization"], where)
    _check_links(plan, kept, where, domain_terms, report)
    return plan


def _read(mapping, values, reasons):
    """The tool's values of a row; a value the tool cannot hold goes into the reasons."""
    record = {}
    for name, (attribute, kind) in mapping.fields.items():
        if name not in values:
            continue
        try:
            record[attribute] = kind.read(values[name])
        except ValueError as exc:
            reasons.append(f"{name} {exc}")
    reasons += [f"no {name} (only spaces)" for name in mapping.needs
                if name in mapping.fields and record.get(mapping.fields[name][0]) is None
                and not any(r.startswith(f"{name} ") for r in reasons)]
    for attribute, value in mapping.empty.items():
        if record.get(attribute) is None:
            record[attribute] = value
    if mapping.model is ServiceArea:
        extent = values.get("extent") if values.get("extent_type") == AREA_EXTENT_TYPE else None
        if extent and not re.fullmatch(r"GM\d{4}", extent):
            reasons.append(f"extent {extent[:20]!r} is not a CBS municipality code")
        record["municipality_code"] = extent
    return None if reasons else record


def _check_names(organisations, where):
    session = db.session()
    seen = {}
    names = {o.name: o.id for o in session.exec(select(Organisation).where(
        Organisation.name.in_([v["name"] for v in organisations.values()])))}
    for ident, values in organisations.items():
        other = seen.get(values["name"]) or names.get(values["name"])
        if other and other != ident:
            raise HsdsError(where["organization", ident], f"another organization "
                            f"({other}) has the name {values['name']!r}", field="name")
        seen[values["name"]] = ident


def _phone(number):
    return number.strip().strip('"').strip()


def _check_links(plan, kept, where, domain_terms, report):
    """Phones the tool shows (a service's first, an organisation's own) and the services'
    need domains and taxonomy terms, from the attributes."""
    session = db.session()
    services = set(plan.records["service"]) | set(session.exec(select(Service.id)).all())
    organisations = set(plan.records["organization"])
    terms = set(plan.records["taxonomy_term"]) | set(session.exec(select(TaxonomyTerm.id)).all())
    for (table, ident), values in sorted(kept.items(), key=lambda item: where[item[0]]):
        if table == "phone":
            owner = _phone_owner(values)
            if owner and (owner in services or owner in organisations) \
                    and owner not in plan.phones:
                number = _phone(values["number"])
                if len(number) > 100:
                    report.notes.append(f"{where[table, ident]}: kept, not used by the "
                                        f"directory (number longer than 100 characters)")
                    continue
                plan.phones[owner] = number
                plan.kept[table, ident] = (values, True)
        elif table == "attribute" and values.get("link_entity", "service") == "service":
            service = uuid.UUID(values["link_id"]) if values.get("link_id") else None
            term = uuid.UUID(values["taxonomy_term_id"]) \
                if values.get("taxonomy_term_id") else None
            if service is None or term is None:
                report.notes.append(f"{where[table, ident]}: kept, not used (no "
                                    f"{'link_id' if service is None else 'taxonomy_term_id'})")
            elif service not in services:
                report.notes.append(f"{where[table, ident]}: kept, not used (links to no "
                                    f"service in the directory)")
            elif term in domain_terms:
                plan.domains.setdefault(service, set()).add(domain_terms[term])
                plan.kept[table, ident] = (values, True)
            elif term in terms:
                plan.terms.setdefault(service, set()).add(term)
                plan.kept[table, ident] = (values, True)
            else:
                report.notes.append(f"{where[table, ident]}: kept, not used (taxonomy term "
                                    f"{term} not known)")


def _phone_owner(values):
    """The service, or else the organisation (a phone of its own), the phone belongs to."""
    if values.get("service_id"):
        return uuid.UUID(values["service_id"])
    if values.get("organization_id") and not any(values.get(f) for f in (
            "location_id", "contact_id", "service_at_location_id")):
        return uuid.UUID(values["organization_id"])
    return None


# ---- writing ---------------------------------------------------------------------------

def _upsert(model, values, report, kind):
    session = db.session()
    record = session.get(model, values["id"])
    if record is None:
        record = model(**values)
        report.created[kind] += 1
    elif any(getattr(record, k) != v for k, v in values.items() if k != "last_modified"):
        for key, value in values.items():
            setattr(record, key, value)
        report.updated[kind] += 1
    else:
        report.unchanged[kind] += 1
        return record
    session.add(record)
    return record


def _replace(service_id, model, wanted, report, kind):
    """Make the service's rows of `model` exactly the wanted ones (dicts of column values)."""
    session = db.session()
    columns = [column.name for column in model.__table__.columns]
    current = session.exec(select(model).where(model.service_id == service_id)).all()
    if ({tuple(item.get(c) for c in columns) for item in wanted}
            == {tuple(getattr(row, c) for c in columns) for row in current}):
        return
    for row in current:
        session.delete(row)
    session.flush()
    session.add_all(model(**item) for item in wanted)
    (report.updated if current else report.created)[kind] += 1


def apply(plan, report, *, user):
    """Write a checked plan (for operations.import_hsds, which asks the policy first)."""
    session = db.session()
    for (table, ident), (values, used) in plan.kept.items():
        _keep(table, ident, values, used)
    for table in ORDER:
        records = plan.records.get(table, {})
        if table in PER_SERVICE:
            continue
        for ident, values in records.items():
            if table == EXTENSION:
                service = session.get(Service, ident)
                for attribute, value in values.items():
                    setattr(service, attribute, value)
                continue
            if table in ("organization", "service") and ident in plan.phones:
                values = {**values, "phone": plan.phones[ident]}
            unsaid = table == "service" and ident not in plan.records[EXTENSION] \
                and session.get(Service, ident) is None
            if table == "service":
                values = {**values, "last_modified": values.get("last_modified")
                          or db.utcnow()}
            record = _upsert(MAPPINGS[table].model, {**values, "id": ident}, report,
                             _LABELS[table])
            if unsaid:  # another directory that does not say how to refer: not known (NULL,
                # as None would let the columns' defaults in)
                record.referral_route = record.capacity = null()
            if table == "service":
                refresh_search_text(record, session.get(Organisation, record.organisation_id))
        session.flush()
    for service_id in plan.records["service"]:
        for table, model in PER_SERVICE.items():
            if table in plan.provided:
                items = [{**values, "id": ident} for ident, values in plan.records[table].items()
                         if values["service_id"] == service_id]
                _replace(service_id, model, items, report, _LABELS[table])
        if "attribute" in plan.provided:
            _replace(service_id, ServiceDomain, [
                dict(service_id=service_id, domain_code=code)
                for code in sorted(plan.domains.get(service_id, ()))], report, "need domains")
            _replace(service_id, ServiceTerm, [
                dict(service_id=service_id, term_id=term)
                for term in sorted(plan.terms.get(service_id, ()))], report, "taxonomy links")
    session.flush()
    audit.record("create", object_type="directory", user=user,
                 summary=f"HSDS import: {sum(report.created.values())} created, "
                         f"{sum(report.updated.values())} updated")


_LABELS = {"organization": "organisations", "taxonomy_term": "taxonomy terms",
           "service": "services", "location": "places", "service_at_location": "service places",
           "address": "addresses", "schedule": "opening hours", "service_area": "areas",
           "language": "languages"}


def _keep(table, ident, values, used):
    session = db.session()
    fields = json.dumps(values, ensure_ascii=False, sort_keys=True)
    service_id = uuid.UUID(values["service_id"]) if values.get("service_id") else None
    record = session.get(HsdsRecord, (table, ident))
    if record is None:
        session.add(HsdsRecord(table_name=table, id=ident, fields=fields, used=used,
                               service_id=service_id))
    elif (record.fields, record.used) != (fields, used):
        record.fields, record.used, record.service_id = fields, used, service_id
        session.add(record)
    session.flush()


# ---- exporting -------------------------------------------------------------------------

def _written(mapping, record, kept):
    """A record of the tool as HSDS text, over the kept row: unchanged values as they came."""
    row = dict(kept)
    for name, (attribute, kind) in mapping.fields.items():
        value = getattr(record, attribute)
        if name in kept:
            try:
                if kind.read(kept[name]) == (db.aware(value) if kind is MOMENT else value):
                    continue
            except ValueError:
                pass
        if value is None or value == "":
            row.pop(name, None)
        else:
            row[name] = kind.write(value)
    return row


def export_tables():
    """The directory as HSDS tables: {table: [rows as {field: text}]}, in a stable order."""
    session = db.session()
    kept = {}
    for record in session.exec(select(HsdsRecord)):
        kept.setdefault(record.table_name, {})[record.id] = (json.loads(record.fields),
                                                             record.used)
    tables = {name: [] for name in [*spec.FIELDS, EXTENSION]}
    for table, mapping in MAPPINGS.items():
        own = kept.get(table, {})
        for record in session.exec(select(mapping.model).order_by(mapping.model.id)):
            if table == "schedule" and record.service_id is None:
                continue
            if table == EXTENSION and record.id not in own and not _says_anything(record):
                continue
            values = _written(mapping, record, own.get(record.id, ({}, True))[0])
            if table == "location":  # the tool's places are places to go to
                values.setdefault("location_type", "physical")
            if table == "service_area" and record.municipality_code:
                values.update(extent=record.municipality_code, extent_type=AREA_EXTENT_TYPE)
            tables[table].append(values)
    _export_phones(tables, kept.get("phone", {}))
    _export_terms(tables, kept)
    for table, rows in kept.items():
        if table not in ("phone", "attribute"):
            tables[table] += [values for values, used in rows.values() if not used]
    for table, rows in tables.items():
        # Once each: the tool's own rows came first (a kept copy of a row the export makes,
        # such as the need domains' taxonomy, stays out).
        once = {row[_key(table)]: row for row in reversed(rows)}
        tables[table] = [once[key] for key in sorted(once)]
    return tables


def _says_anything(service):
    """Whether the tool knows any Dutch addition of the service (else it has no row)."""
    return service.professional_applies or any(getattr(service, name) is not None for name in (
        "income_limit_percent", "referral_route", "capacity", "waiting_weeks"))


def _export_phones(tables, kept):
    session = db.session()
    shown = {o.id: o.phone for o in session.exec(select(Organisation))}
    services = {s.id: s.phone for s in session.exec(select(Service))}
    shown |= services
    written = set()
    for values, used in kept.values():
        owner = _phone_owner(values)
        if not used:
            tables["phone"].append(values)
        elif shown.get(owner):
            number = shown[owner]
            tables["phone"].append(values if _phone(values["number"]) == number
                                   else {**values, "number": number})
            written.add(owner)
    for owner, number in shown.items():
        if number and owner not in written:
            link = "service_id" if owner in services else "organization_id"
            tables["phone"].append({"id": str(uuid.uuid5(NAMESPACE, f"phone/{owner}")),
                                    link: str(owner), "number": number})


def _export_terms(tables, kept):
    """The need domains as a taxonomy of their own, and every service's links as
    attributes (the kept attribute of a link that still holds keeps its id)."""
    session = db.session()
    taxonomy = str(uuid.uuid5(NAMESPACE, "taxonomy/" + DOMAIN_TAXONOMY))
    tables["taxonomy"].append({"id": taxonomy, "name": DOMAIN_TAXONOMY,
                               "description": "Leefgebieden: the need domains of the "
                                              "referral tool"})
    for domain in session.exec(select(NeedDomain).order_by(NeedDomain.position)):
        tables["taxonomy_term"].append({
            "id": str(uuid.uuid5(NAMESPACE, f"domain/{domain.code}")), "code": domain.code,
            "name": domain.label_en, "description": domain.label_nl,
            "taxonomy": DOMAIN_TAXONOMY, "taxonomy_id": taxonomy})
    links = {(link.service_id, uuid.uuid5(NAMESPACE, f"domain/{link.domain_code}"))
             for link in session.exec(select(ServiceDomain))}
    links |= {(link.service_id, link.term_id) for link in session.exec(select(ServiceTerm))}
    for values, used in kept.get("attribute", {}).values():
        if not used:
            tables["attribute"].append(values)
            continue
        link = (uuid.UUID(values["link_id"]), uuid.UUID(values["taxonomy_term_id"]))
        if link in links:
            tables["attribute"].append(values)
            links.discard(link)
    for service_id, term_id in sorted(links):
        tables["attribute"].append({
            "id": str(uuid.uuid5(NAMESPACE, f"attribute/{service_id}/{term_id}")),
            "link_id": str(service_id), "taxonomy_term_id": str(term_id),
            "link_entity": "service"})


def package_files(tables):
    """The files of the tabular package, {name: bytes}: every official table in the
    official column order, the Dutch additions in their own resource, and the official
    descriptor with that resource added."""
    files = {}
    for table, rows in tables.items():
        columns = spec.FIELDS.get(table) or spec.EXTENSION_FIELDS
        out = io.StringIO(newline="")
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({c: row.get(c, "") for c in columns} for row in rows)
        files[spec.PATHS.get(table) or spec.EXTENSION["path"]] = out.getvalue().encode()
    descriptor = {**spec.DESCRIPTOR,
                  "resources": [*spec.DESCRIPTOR["resources"], spec.EXTENSION]}
    files["datapackage.json"] = json.dumps(descriptor, indent=2, ensure_ascii=False).encode()
    return files
