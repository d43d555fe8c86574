"""Exchange the directory as Open Referral HSDS 3.0: the tabular package and the JSON forms.

Import reads everything first and checks it; only then does it write, so a malformed file
saves nothing. Ids are HSDS ids, so importing twice changes nothing. The import and the
export are the directory's operations and queries; this module reads, checks and writes
the format.
"""

import csv
import io
import json
import re
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from sqlmodel import select

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
    ServiceTerm,
    TaxonomyTerm,
    refresh_search_text,
)
from referral.errors import Refused

DOMAIN_TAXONOMY = "referral-need-domains"
AREA_EXTENT_TYPE = "cbs_municipality"
NAMESPACE = uuid.UUID("0b9f6f0e-8d43-4f3c-a6a2-2f7e1d9c5b10")

COLUMNS = {
    "organizations.csv": ["id", "name", "alternate_name", "description", "email", "website"],
    "services.csv": ["id", "organization_id", "name", "alternate_name", "description", "url",
                     "email", "status", "application_process", "fees_description",
                     "eligibility_description", "minimum_age", "maximum_age", "assured_date",
                     "last_modified", "x_income_limit_percent", "x_referral_route",
                     "x_professional_applies", "x_capacity", "x_waiting_weeks"],
    "service_areas.csv": ["id", "service_id", "name", "description", "extent", "extent_type"],
    "languages.csv": ["id", "service_id", "name", "code"],
    "phones.csv": ["id", "service_id", "organization_id", "number"],
    "taxonomy_terms.csv": ["id", "code", "name", "description", "taxonomy"],
    "attributes.csv": ["id", "link_id", "taxonomy_term_id", "link_type", "link_entity", "value"],
}
REQUIRED = {
    "organizations.csv": ["id", "name"],
    "services.csv": ["id", "organization_id", "name", "status"],
    "service_areas.csv": ["id", "service_id"],
    "languages.csv": ["id", "service_id"],
    "phones.csv": ["id", "number"],
    "taxonomy_terms.csv": ["id", "name"],
    "attributes.csv": ["id", "link_id", "taxonomy_term_id"],
}


class HsdsError(Refused):
    """A file that cannot be imported; names the file, the line and the column (for the
    operator at the command line, in English like the format's own names)."""

    def __init__(self, file, problem, *, line=None, column=None):
        where = ", ".join(filter(None, [file, line and f"line {line}",
                                        column and f"column {column}"]))
        super().__init__(f"{where}: {problem}")


@dataclass
class Report:
    read: Counter = field(default_factory=Counter)
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)
    skipped: list = field(default_factory=list)

    def lines(self):
        yield "read: " + ", ".join(f"{n} {name}" for name, n in sorted(self.read.items()))
        for label, counts in (("created", self.created), ("updated", self.updated),
                              ("unchanged", self.unchanged)):
            yield f"{label}: " + (", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
                                  or "nothing")
        for file, line, reason in self.skipped:
            yield f"skipped {file} line {line}: {reason}"


# ---- reading ---------------------------------------------------------------------------

def read_source(path):
    """The tables of an HSDS source: a folder or zip with CSVs, or a JSON file."""
    path = Path(path)
    if path.is_dir():
        return _read_csvs({p.name: p.read_bytes() for p in path.iterdir() if p.is_file()})
    if path.suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                return _read_csvs({Path(n).name: archive.read(n) for n in archive.namelist()
                                   if not n.endswith("/")})
        except zipfile.BadZipFile as exc:
            raise HsdsError(path.name, "not a valid zip file") from exc
    if path.suffix == ".json":
        return _read_json(path.name, path.read_bytes())
    raise HsdsError(path.name, "expected a folder, a .zip or a .json file")


def _decode(name, data):
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise HsdsError(name, "not valid UTF-8", line=line) from exc


def _read_csvs(files):
    if "datapackage.json" not in files:
        raise HsdsError("datapackage.json", "missing: an HSDS tabular package describes itself")
    try:
        json.loads(_decode("datapackage.json", files["datapackage.json"]))
    except ValueError as exc:
        raise HsdsError("datapackage.json", f"not valid JSON ({exc})") from exc
    tables = {}
    for name in COLUMNS:
        if name not in files:
            continue  # not provided: what the database has of it stays
        reader = csv.DictReader(io.StringIO(_decode(name, files[name]), newline=""))
        missing = [c for c in REQUIRED[name] if c not in (reader.fieldnames or [])]
        if missing:
            raise HsdsError(name, "required column missing", column=", ".join(missing))
        tables[name] = [(reader.line_num, {k: _uncell((v or "").strip())
                                           for k, v in row.items() if k})
                        for row in reader]
    return tables


def _read_json(name, data):
    """The JSON forms: one service (with its organization), one organization (with its
    services), or a page of services."""
    try:
        document = json.loads(_decode(name, data))
    except ValueError as exc:
        raise HsdsError(name, f"not valid JSON ({exc})") from exc
    tables = {"organizations.csv": [], "services.csv": []}
    if not isinstance(document, dict):
        raise HsdsError(name, "expected a JSON object")
    if "contents" in document:
        services, organization = document["contents"], None
    elif "services" in document:
        services, organization = document["services"], document
    else:
        services, organization = [document], document.get("organization")
    organizations = [organization] if organization else []
    organizations += [s["organization"] for s in services
                      if isinstance(s, dict) and isinstance(s.get("organization"), dict)]
    seen = set()
    for org in organizations:
        if org.get("id") in seen:
            continue
        seen.add(org.get("id"))
        tables["organizations.csv"].append((f"organization {org.get('id')}", _flat(org)))
        for phone in org.get("phones") or []:
            tables.setdefault("phones.csv", []).append((f"phone {phone.get('id')}",
                                         {**_flat(phone), "organization_id": org.get("id")}))
    for service in services:
        if not isinstance(service, dict):
            raise HsdsError(name, "a service is not a JSON object")
        where = f"service {service.get('id')}"
        org_id = (service.get("organization") or {}).get("id") or service.get("organization_id") \
            or (organization or {}).get("id")
        tables["services.csv"].append((where, {**_flat(service), "organization_id": org_id}))
        for table, key in (("service_areas.csv", "service_areas"), ("languages.csv", "languages"),
                           ("phones.csv", "phones")):
            if key in service:
                tables.setdefault(table, [])
            for item in service.get(key) or []:
                tables[table].append((where, {**_flat(item), "service_id": service.get("id")}))
        if "attributes" in service:
            tables.setdefault("taxonomy_terms.csv", [])
            tables.setdefault("attributes.csv", [])
        for attribute in service.get("attributes") or []:
            term = attribute.get("taxonomy_term") or {}
            if term:
                tables["taxonomy_terms.csv"].append((where, _flat(term)))
            tables["attributes.csv"].append((where, {
                **_flat(attribute), "link_id": service.get("id"), "link_entity": "service",
                "taxonomy_term_id": attribute.get("taxonomy_term_id") or term.get("id")}))
    return tables


def _flat(item):
    """The plain values of a JSON object, as the CSV form would hold them."""
    return {k: "" if v is None else str(v).strip() for k, v in item.items()
            if not isinstance(v, (dict, list))}


# ---- checking --------------------------------------------------------------------------

class _Row:
    """Typed access to one row, with errors that name file, line and column."""

    def __init__(self, file, line, values):
        self.file, self.line, self.values = file, line, values

    def error(self, column, problem):
        return HsdsError(self.file, problem, line=self.line, column=column)

    def text(self, column, limit, *, required=False):
        value = self.values.get(column, "")
        if required and not value:
            raise self.error(column, "empty, but required")
        if len(value) > limit:
            raise self.error(column, f"longer than {limit} characters")
        return value or None

    def id(self, column, *, required=True):
        value = self.values.get(column, "")
        if not value and not required:
            return None
        try:
            return uuid.UUID(value)
        except ValueError as exc:
            raise self.error(column, f"not an id (UUID): {value[:40]!r}") from exc

    def integer(self, column, low, high):
        value = self.values.get(column, "")
        if not value:
            return None
        if not re.fullmatch(r"-?\d+", value) or not low <= int(value) <= high:
            raise self.error(column, f"not a whole number from {low} to {high}: {value[:20]!r}")
        return int(value)

    def choice(self, column, allowed, default=None):
        value = self.values.get(column, "") or default
        if value not in allowed:
            raise self.error(column, f"{value!r} is not one of {', '.join(sorted(allowed))}")
        return value

    def day(self, column):
        value = self.values.get(column, "")
        try:
            return date.fromisoformat(value) if value else None
        except ValueError as exc:
            raise self.error(column, f"not a date (YYYY-MM-DD): {value[:20]!r}") from exc

    def moment(self, column):
        value = self.values.get(column, "")
        try:
            moment = datetime.fromisoformat(value) if value else None
        except ValueError as exc:
            raise self.error(column, f"not a date and time: {value[:30]!r}") from exc
        if moment and moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment

    def flag(self, column):
        return self.values.get(column, "").lower() in ("true", "1", "yes")


def _rows(tables, name):
    return [_Row(name, line, values) for line, values in tables.get(name, [])]


@dataclass
class Plan:
    provided: set  # the tables the source holds; the others are left as they are
    organisations: dict
    services: dict
    areas: dict
    languages: dict
    domains: dict
    terms: dict
    service_terms: dict


def check(tables, report):
    """Turn the tables into records, or raise HsdsError on the first malformed value."""
    session = db.session()
    domain_codes = set(session.exec(select(NeedDomain.code)).all())
    organisations, org_phones = {}, {}
    for row in _rows(tables, "organizations.csv"):
        org_id = row.id("id")
        organisations[org_id] = dict(
            id=org_id, name=row.text("name", 200, required=True),
            alternate_name=row.text("alternate_name", 200),
            description=row.text("description", 4000), email=row.text("email", 254),
            website=row.text("website", 500))
    known_orgs = set(organisations) | set(session.exec(select(Organisation.id)).all())
    services = {}
    for row in _rows(tables, "services.csv"):
        service_id, org_id = row.id("id"), row.id("organization_id")
        if org_id not in known_orgs:
            raise row.error("organization_id", f"unknown organization {org_id}")
        services[service_id] = dict(
            id=service_id, organisation_id=org_id, name=row.text("name", 200, required=True),
            alternate_name=row.text("alternate_name", 200),
            description=row.text("description", 4000) or "", url=row.text("url", 500),
            email=row.text("email", 254),
            status=row.choice("status", {s.value for s in ServiceStatus}),
            application_process=row.text("application_process", 2000),
            fees_description=row.text("fees_description", 1000),
            eligibility_description=row.text("eligibility_description", 2000),
            minimum_age=row.integer("minimum_age", 0, 150),
            maximum_age=row.integer("maximum_age", 0, 150),
            assured_date=row.day("assured_date"),
            last_modified=row.moment("last_modified"),
            income_limit_percent=row.integer("x_income_limit_percent", 0, 1000),
            referral_route=row.choice("x_referral_route", {r.value for r in ReferralRoute},
                                      ReferralRoute.phone.value),
            professional_applies=row.flag("x_professional_applies"),
            capacity=row.choice("x_capacity", {c.value for c in Capacity}, Capacity.open.value),
            waiting_weeks=row.integer("x_waiting_weeks", 0, 520), phone=None)
    known_services = set(services) | set(session.exec(select(Service.id)).all())

    def linked(row, column, targets, what):
        target = row.id(column, required=False)
        if target is None or target not in targets:
            report.skipped.append((row.file, row.line, f"{what} {target or '(none)'} not known"))
            return None
        return target

    areas, languages = {}, {}
    for row in _rows(tables, "service_areas.csv"):
        service_id = linked(row, "service_id", known_services, "service")
        if service_id:
            code = None
            if row.values.get("extent_type") == AREA_EXTENT_TYPE:
                code = row.values.get("extent", "")
                if not re.fullmatch(r"GM\d{4}", code):
                    raise row.error("extent", f"not a CBS municipality code: {code[:20]!r}")
            name = (row.values.get("name") or code or "")[:120]
            areas.setdefault(service_id, {})[row.id("id")] = (code, name)
    for row in _rows(tables, "languages.csv"):
        service_id = linked(row, "service_id", known_services, "service")
        if service_id:
            languages.setdefault(service_id, {})[row.id("id")] = (
                row.text("code", 10) or "", row.text("name", 80))
    for row in _rows(tables, "phones.csv"):
        number = row.text("number", 60, required=True).strip('"').strip()[:40]
        service_id = row.id("service_id", required=False)
        if service_id in services:
            services[service_id]["phone"] = services[service_id]["phone"] or number
        elif row.id("organization_id", required=False) in organisations and not service_id:
            org_phones.setdefault(row.id("organization_id"), number)
        else:
            report.skipped.append((row.file, row.line, "phone of something not imported"))
    for org_id, number in org_phones.items():
        organisations[org_id]["phone"] = number
    terms, term_domains = {}, {}
    for row in _rows(tables, "taxonomy_terms.csv"):
        term_id, code = row.id("id"), row.text("code", 100)
        if row.values.get("taxonomy") == DOMAIN_TAXONOMY:
            if code not in domain_codes:
                raise row.error("code", f"unknown need domain {code!r}")
            term_domains[term_id] = code
            continue
        terms[term_id] = dict(id=term_id, code=code, name=row.text("name", 200, required=True),
                              description=row.text("description", 2000),
                              taxonomy=row.text("taxonomy", 200))
    known_terms = set(terms) | set(session.exec(select(TaxonomyTerm.id)).all())
    domains, service_terms = {}, {}
    for row in _rows(tables, "attributes.csv"):
        service_id = linked(row, "link_id", known_services, "service")
        term_id = row.id("taxonomy_term_id")
        if not service_id:
            continue
        if term_id in term_domains:
            domains.setdefault(service_id, set()).add(term_domains[term_id])
        elif term_id in known_terms:
            service_terms.setdefault(service_id, set()).add(term_id)
        else:
            report.skipped.append((row.file, row.line, f"taxonomy term {term_id} not known"))
    for name in tables:
        report.read[name.removesuffix(".csv")] = len(tables[name])
    return Plan(set(tables), organisations, services, areas, languages, domains, terms,
                service_terms)


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
    for values in plan.organisations.values():
        _upsert(Organisation, values, report, "organisations")
    for values in plan.terms.values():
        _upsert(TaxonomyTerm, values, report, "taxonomy terms")
    session.flush()
    for service_id, values in plan.services.items():
        values = {**values, "last_modified": values["last_modified"] or db.utcnow()}
        service = _upsert(Service, values, report, "services")
        organisation = session.get(Organisation, service.organisation_id)
        refresh_search_text(service, organisation)
        session.flush()
        wanted = {
            ServiceArea: ("service_areas.csv", [dict(id=i, service_id=service_id, municipality_code=c,
                                municipality_name=n)
                           for i, (c, n) in plan.areas.get(service_id, {}).items()], "areas"),
            ServiceLanguage: ("languages.csv", [dict(id=i, service_id=service_id, code=c, name=n)
                               for i, (c, n) in plan.languages.get(service_id, {}).items()],
                              "languages"),
            ServiceDomain: ("attributes.csv", [dict(service_id=service_id, domain_code=code)
                             for code in sorted(plan.domains.get(service_id, ()))],
                            "need domains"),
            ServiceTerm: ("attributes.csv", [dict(service_id=service_id, term_id=term)
                           for term in sorted(plan.service_terms.get(service_id, ()))],
                          "taxonomy links"),
        }
        for model, (table, items, kind) in wanted.items():
            if table in plan.provided:
                _replace(service_id, model, items, report, kind)
    session.flush()
    audit.record("create", object_type="directory", user=user,
                 summary=f"HSDS import: {sum(report.created.values())} created, "
                         f"{sum(report.updated.values())} updated")


# ---- exporting -------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text):
    """A spreadsheet runs a cell that starts like a formula: such a value gets a leading
    apostrophe in the CSV files, which the import takes off again."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _uncell(text):
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_START) else text


def _text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(value)


def export_tables():
    """The directory as HSDS tables: {file name: list of rows (dicts)}, in a stable order."""
    session = db.session()
    tables = {name: [] for name in COLUMNS}
    for org in session.exec(select(Organisation).order_by(Organisation.id)):
        tables["organizations.csv"].append(dict(
            id=org.id, name=org.name, alternate_name=org.alternate_name,
            description=org.description, email=org.email, website=org.website))
        if org.phone:
            tables["phones.csv"].append(dict(id=uuid.uuid5(NAMESPACE, f"phone/{org.id}"),
                                             organization_id=org.id, number=org.phone))
    for s in session.exec(select(Service).order_by(Service.id)):
        tables["services.csv"].append(dict(
            id=s.id, organization_id=s.organisation_id, name=s.name,
            alternate_name=s.alternate_name, description=s.description, url=s.url,
            email=s.email, status=s.status, application_process=s.application_process,
            fees_description=s.fees_description, eligibility_description=s.eligibility_description,
            minimum_age=s.minimum_age, maximum_age=s.maximum_age, assured_date=s.assured_date,
            last_modified=s.last_modified, x_income_limit_percent=s.income_limit_percent,
            x_referral_route=s.referral_route, x_professional_applies=s.professional_applies,
            x_capacity=s.capacity, x_waiting_weeks=s.waiting_weeks))
        if s.phone:
            tables["phones.csv"].append(dict(id=uuid.uuid5(NAMESPACE, f"phone/{s.id}"),
                                             service_id=s.id, number=s.phone))
    for area in session.exec(select(ServiceArea).order_by(ServiceArea.id)):
        tables["service_areas.csv"].append(dict(
            id=area.id, service_id=area.service_id, name=area.municipality_name,
            extent=area.municipality_code,
            extent_type=AREA_EXTENT_TYPE if area.municipality_code else None))
    for language in session.exec(select(ServiceLanguage).order_by(ServiceLanguage.id)):
        tables["languages.csv"].append(dict(id=language.id, service_id=language.service_id,
                                            name=language.name, code=language.code))
    for domain in session.exec(select(NeedDomain).order_by(NeedDomain.position)):
        tables["taxonomy_terms.csv"].append(dict(
            id=uuid.uuid5(NAMESPACE, f"domain/{domain.code}"), code=domain.code,
            name=domain.label_en, description=domain.label_nl, taxonomy=DOMAIN_TAXONOMY))
    for term in session.exec(select(TaxonomyTerm).order_by(TaxonomyTerm.id)):
        tables["taxonomy_terms.csv"].append(dict(
            id=term.id, code=term.code, name=term.name, description=term.description,
            taxonomy=term.taxonomy))
    links = [(link.service_id, uuid.uuid5(NAMESPACE, f"domain/{link.domain_code}"))
             for link in session.exec(select(ServiceDomain))]
    links += [(link.service_id, link.term_id) for link in session.exec(select(ServiceTerm))]
    for service_id, term_id in sorted(links):
        tables["attributes.csv"].append(dict(
            id=uuid.uuid5(NAMESPACE, f"attribute/{service_id}/{term_id}"), link_id=service_id,
            taxonomy_term_id=term_id, link_type="service", link_entity="service", value=""))
    return tables


def package_files(tables):
    """The files of the tabular package: {name: bytes}."""
    files = {}
    resources = []
    for name, columns in COLUMNS.items():
        out = io.StringIO(newline="")
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in tables[name]:
            writer.writerow({c: _cell(_text(row.get(c))) for c in columns})
        files[name] = out.getvalue().encode()
        resources.append({"name": name.removesuffix(".csv"), "path": name,
                          "profile": "tabular-data-resource",
                          "schema": {"fields": [{"name": c, "type": "string"}
                                                for c in columns]}})
    files["datapackage.json"] = json.dumps({
        "name": "human_services_data", "profile": "tabular-data-package",
        "version": "3.0.0", "resources": resources}, indent=2).encode()
    return files


def write_package(path, files):
    """Write the package's files to a folder, or to a zip file when the path ends in .zip."""
    path = Path(path)
    if path.suffix == ".zip":
        path.write_bytes(zip_bytes(files))
    else:
        path.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (path / name).write_bytes(data)
    return files


def zip_bytes(files):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            # A fixed timestamp: the same directory always gives the same zip.
            archive.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), files[name])
    return out.getvalue()
